import { describe, expect, it } from 'vitest';
import { TrialSimulator, planDataset, type SimDatasetOptions } from '../../../core/sim/dataset.ts';
import { CLOCKWISE_ON_SCREEN, GESTURE_CLASSES } from '../../../core/sim/gestures.ts';
import { concatPackets, copyPacket, type EventPacket } from '../../../core/events/packet.ts';
import type { GestureLabel } from '../../../core/events/labels.ts';

/** Runs one simulated trial fully in memory. */
function simulate(opts: SimDatasetOptions): { ev: EventPacket; labels: GestureLabel[]; durationUs: number } {
  const spec = planDataset(opts)[0];
  const sim = new TrialSimulator(spec, opts);
  const parts: EventPacket[] = [];
  for (let ev = sim.step(); ev; ev = sim.step()) if (ev.length) parts.push(copyPacket(ev));
  return { ev: concatPackets(parts), labels: sim.labels, durationUs: sim.durationUs };
}

function range(ev: EventPacket, from: number, to: number): [number, number] {
  let a = 0;
  while (a < ev.length && ev.t[a] < from) a++;
  let b = a;
  while (b < ev.length && ev.t[b] < to) b++;
  return [a, b];
}

/**
 * Rotation sense of the events of [a, b): the signed area swept by the event centroid (20 ms bins) around its
 * mean, x·dy − y·dx summed. With y down, positive = clockwise on screen.
 */
function rotation(ev: EventPacket, a: number, b: number, side: 'left' | 'right'): number {
  const bin = 20_000;
  const cx: number[] = [], cy: number[] = [];
  let i = a;
  while (i < b) {
    const t0 = ev.t[i];
    let sx = 0, sy = 0, n = 0;
    for (; i < b && ev.t[i] < t0 + bin; i++) {
      if ((side === 'left') !== (ev.x[i] < 64)) continue; // the moving arm's half of the image
      sx += ev.x[i]; sy += ev.y[i]; n++;
    }
    if (n > 20) { cx.push(sx / n); cy.push(sy / n); }
  }
  const mx = cx.reduce((s, v) => s + v, 0) / cx.length, my = cy.reduce((s, v) => s + v, 0) / cy.length;
  let area = 0;
  for (let k = 0; k + 1 < cx.length; k++) area += (cx[k] - mx) * (cy[k + 1] - cy[k]) - (cy[k] - my) * (cx[k + 1] - cx[k]);
  return area;
}

describe('simulated gestures', () => {
  it('has the 11 DVS128 Gesture classes in the dataset order', () => {
    expect(GESTURE_CLASSES.length).toBe(11);
    expect(GESTURE_CLASSES[1]).toBe('right_hand_wave');
    expect(GESTURE_CLASSES[10]).toBe('other_gestures');
  });

  // Subjects differ (size, position, clothing), so check two seeds.
  for (const seed of [21, 22]) {
    it(`right-hand wave fires on the image LEFT, left-hand wave on the RIGHT (seed ${seed})`, () => {
      const { ev, labels } = simulate({ seed, subjects: 1, classes: [1, 2], durationPerGestureS: 2.5 });
      expect(labels.map((l) => l.classIndex).sort()).toEqual([1, 2]);
      for (const l of labels) {
        const [a, b] = range(ev, l.startUs, l.endUs);
        let left = 0;
        for (let i = a; i < b; i++) if (ev.x[i] < 64) left++;
        const frac = left / (b - a);
        if (l.classIndex === 1) expect(frac).toBeGreaterThan(0.65);
        else expect(frac).toBeLessThan(0.35);
      }
    });
  }

  it('clockwise and counter-clockwise arm circles turn in opposite senses on screen', () => {
    const { ev, labels } = simulate({ seed: 5, subjects: 1, classes: [3, 4, 5, 6], durationPerGestureS: 2.5 });
    const sense = new Map<number, number>();
    for (const l of labels) {
      // Skip the ramps in and out of the gesture.
      const [a, b] = range(ev, l.startUs + 500_000, l.endUs - 500_000);
      sense.set(l.classIndex, rotation(ev, a, b, l.classIndex <= 4 ? 'left' : 'right'));
    }
    const cw = CLOCKWISE_ON_SCREEN;
    expect(Math.sign(sense.get(3)!)).toBe(cw); // right arm clockwise
    expect(Math.sign(sense.get(4)!)).toBe(-cw);
    expect(Math.sign(sense.get(5)!)).toBe(cw); // left arm clockwise
    expect(Math.sign(sense.get(6)!)).toBe(-cw);
  });

  it('event statistics are DVS128-Gesture-like: tens to hundreds of k ev/s in gestures, ON/OFF balanced, quiet rests', () => {
    const { ev, labels, durationUs } = simulate({ seed: 8, subjects: 1, classes: [0, 8], durationPerGestureS: 2 });
    let inside = 0, insideUs = 0, on = 0;
    for (const l of labels) {
      const [a, b] = range(ev, l.startUs, l.endUs);
      inside += b - a;
      insideUs += l.endUs - l.startUs;
      for (let i = a; i < b; i++) on += ev.p[i];
    }
    const rate = inside / (insideUs / 1e6);
    const restRate = (ev.length - inside) / ((durationUs - insideUs) / 1e6);
    expect(rate).toBeGreaterThan(15_000);
    expect(rate).toBeLessThan(500_000);
    expect(on / inside).toBeGreaterThan(0.4);
    expect(on / inside).toBeLessThan(0.6);
    expect(restRate).toBeLessThan(rate / 2);
    for (let i = 1; i < ev.length; i++) if (ev.t[i] < ev.t[i - 1]) throw new Error(`time order broken at ${i}`);
    expect(Math.max(...ev.x.subarray(0, 1000))).toBeLessThan(128);
  });
});
