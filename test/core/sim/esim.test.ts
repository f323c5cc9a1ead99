import { describe, expect, it } from 'vitest';
import { EsimState, linLog, type EsimConfig } from '../../../core/sim/esim.ts';
import { copyPacket, concatPackets, type EventPacket } from '../../../core/events/packet.ts';

/** An ideal pixel array: no mismatch, noise, leak, low-pass or random start. */
function ideal(over: Partial<EsimConfig> = {}, width = 1, height = 1): EsimState {
  return new EsimState({
    width, height, thresholdOn: 0.2, thresholdOff: 0.2, thresholdSigma: 0, refractoryUs: 0, leakHz: 0, shotNoiseHz: 0,
    cutoffHz: 0, randomizeInitialReference: false, ...over,
  }, 7);
}

function frame(n: number, dn: number): Float32Array {
  return new Float32Array(n).fill(dn);
}

describe('EsimState (ESIM / v2e-style event generation)', () => {
  it('emits one event per crossed threshold, timestamped by linear interpolation', () => {
    const es = ideal();
    expect(es.feed(frame(1, 100), 0).length).toBe(0); // first frame only initialises
    const ev = copyPacket(es.feed(frame(1, 100 * Math.exp(3.5 * 0.2)), 1000));
    expect(ev.length).toBe(3);
    expect(Array.from(ev.p)).toEqual([1, 1, 1]);
    // Crossings at 1/3.5, 2/3.5, 3/3.5 of the frame interval (285.7, 571.4, 857.1 µs), rounded to integer µs.
    expect(Array.from(ev.t)).toEqual([286, 571, 857]);
    // The remaining 0.5 threshold is memorised: falling back by 2.5 thresholds (to the 1.0 level) gives 2 OFF events.
    const down = copyPacket(es.feed(frame(1, 100 * Math.exp(1.0 * 0.2)), 2000));
    expect(down.length).toBe(2);
    expect(Array.from(down.p)).toEqual([0, 0]);
    // From 3.5θ down to 1θ over 1000 µs, memorised level 3θ: crossings of 2θ and 1θ at 0.6 and 1.0.
    expect(Array.from(down.t)).toEqual([1600, 2000]);
  });

  it('refractory period suppresses events closer than it to the previous one', () => {
    const es = ideal({ refractoryUs: 500 });
    es.feed(frame(1, 100), 0);
    const ev = copyPacket(es.feed(frame(1, 100 * Math.exp(3.5 * 0.2)), 1000));
    expect(Array.from(ev.t)).toEqual([286, 857]); // 571 is 286 µs after 286
  });

  it('per-pixel threshold mismatch follows the configured σ and changes which pixels fire', () => {
    const n = 128 * 128;
    const es = ideal({ thresholdSigma: 0.05 }, 128, 128);
    let m = 0, s2 = 0;
    for (let i = 0; i < n; i++) m += es.thrOn[i];
    m /= n;
    for (let i = 0; i < n; i++) s2 += (es.thrOn[i] - m) ** 2;
    const sd = Math.sqrt(s2 / (n - 1));
    expect(m).toBeCloseTo(0.2, 2);
    expect(sd).toBeGreaterThan(0.05 * 0.95);
    expect(sd).toBeLessThan(0.05 * 1.05);
    // A uniform step of 1.02 mean thresholds: with σ = 0 every pixel fires; with σ = 0.05 about Φ(0.08) ≈ 53 %.
    const step = (e: EsimState) => {
      e.feed(frame(n, 100), 0);
      return e.feed(frame(n, 100 * Math.exp(1.02 * 0.2)), 1000).length / n;
    };
    expect(step(ideal({}, 128, 128))).toBe(1);
    const frac = step(es);
    expect(frac).toBeGreaterThan(0.45);
    expect(frac).toBeLessThan(0.61);
  });

  it('shot noise rate matches the configured Hz and is balanced ON/OFF', () => {
    const w = 64, h = 64, n = w * h, hz = 2, seconds = 10;
    const es = ideal({ shotNoiseHz: hz }, w, h);
    const f = frame(n, 120);
    let count = 0, on = 0;
    for (let k = 0; k <= seconds * 100; k++) {
      const ev = es.feed(f, k * 10_000);
      count += ev.length;
      for (let i = 0; i < ev.length; i++) on += ev.p[i];
    }
    const expected = hz * n * seconds; // 81,920; Poisson σ ≈ 286
    expect(Math.abs(count - expected)).toBeLessThan(0.03 * expected);
    expect(Math.abs(on / count - 0.5)).toBeLessThan(0.01);
  });

  it('leak produces ON events at the configured rate in a static scene', () => {
    const w = 32, h = 32, n = w * h, hz = 1, seconds = 20;
    const es = new EsimState({ width: w, height: h, thresholdSigma: 0.03, leakHz: hz, leakSigma: 0, shotNoiseHz: 0, refractoryUs: 0, cutoffHz: 0 }, 3);
    const f = frame(n, 80);
    let count = 0, off = 0;
    for (let k = 0; k <= seconds * 50; k++) {
      const ev = es.feed(f, k * 20_000);
      count += ev.length;
      for (let i = 0; i < ev.length; i++) off += 1 - ev.p[i];
    }
    expect(off).toBe(0);
    // Each pixel fires hz·T events, ± 1 from where its memorised level started in the dead band.
    expect(Math.abs(count / (n * seconds) - hz)).toBeLessThan(0.06 * hz);
  });

  it('hot pixels fire far above the background', () => {
    const es = ideal({ hotPixelFraction: 0.01, hotPixelHz: [50, 100] }, 32, 32);
    const counts = new Uint32Array(1024);
    const f = frame(1024, 100);
    for (let k = 0; k <= 200; k++) {
      const ev = es.feed(f, k * 5000);
      for (let i = 0; i < ev.length; i++) counts[ev.y[i] * 32 + ev.x[i]]++;
    }
    const hot = Array.from(counts).filter((c) => c > 20).length;
    expect(hot).toBeGreaterThanOrEqual(8); // ≈ 10 hot pixels (a few may coincide), each ≈ 75 events in 1 s
    expect(hot).toBeLessThanOrEqual(11);
  });

  it('output is time-sorted integer µs inside (previous frame, this frame], coordinates top-left', () => {
    const w = 16, h = 8;
    const es = ideal({ shotNoiseHz: 5 }, w, h);
    es.feed(frame(w * h, 50), 0);
    const f = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) f[y * w + x] = 50 * Math.exp(0.1 * x + 0.3 * y);
    const ev = copyPacket(es.feed(f, 3000));
    expect(ev.length).toBeGreaterThan(100);
    for (let i = 0; i < ev.length; i++) {
      expect(Number.isInteger(ev.t[i])).toBe(true);
      if (i > 0) expect(ev.t[i]).toBeGreaterThanOrEqual(ev.t[i - 1]);
      expect(ev.t[i]).toBeGreaterThanOrEqual(0);
      expect(ev.t[i]).toBeLessThanOrEqual(3000);
    }
    // The largest change is bottom-right (x = 15, y = 7: 18 thresholds): the most events fire there.
    let best = 0, bx = -1, by = -1;
    const c = new Uint32Array(w * h);
    for (let i = 0; i < ev.length; i++) {
      const k = ++c[ev.y[i] * w + ev.x[i]];
      if (k > best) { best = k; bx = ev.x[i]; by = ev.y[i]; }
    }
    expect([bx, by]).toEqual([15, 7]);
  });

  it('low-pass photoreceptor spreads a step over several frames, slower in the dark', () => {
    const run = (dn: number) => {
      const es = ideal({ cutoffHz: 100 });
      es.feed(frame(1, dn), 0);
      const times: number[] = [];
      for (let k = 1; k <= 100; k++) {
        const ev = es.feed(frame(1, dn * Math.exp(1.1)), k * 1000);
        for (let i = 0; i < ev.length; i++) times.push(ev.t[i]);
      }
      return times;
    };
    const bright = run(250), dark = run(22); // the cutoff follows the (new) intensity: 750 vs 66 DN
    expect(bright.length).toBe(5);
    expect(dark.length).toBe(5);
    expect(bright[4]).toBeGreaterThan(2000); // not all in the first frame
    expect(dark[4]).toBeGreaterThan(2.5 * bright[4]);
  });

  it('the same seed and frames give identical events; another seed differs', () => {
    const run = (seed: number): EventPacket => {
      const es = new EsimState({ width: 32, height: 32, shotNoiseHz: 1, hotPixelFraction: 0.002 }, seed);
      const out: EventPacket[] = [];
      for (let k = 0; k < 50; k++) {
        const f = new Float32Array(1024);
        for (let i = 0; i < 1024; i++) f[i] = 60 + 40 * Math.sin(0.3 * (i % 32) + 0.05 * k);
        out.push(copyPacket(es.feed(f, k * 1000)));
      }
      return concatPackets(out);
    };
    const a = run(11), b = run(11), c = run(12);
    expect(a.length).toBeGreaterThan(500);
    expect(Array.from(b.t)).toEqual(Array.from(a.t));
    expect(Array.from(b.x)).toEqual(Array.from(a.x));
    expect(Array.from(b.p)).toEqual(Array.from(a.p));
    expect(c.length === a.length && Array.from(c.x).every((v, i) => v === a.x[i])).toBe(false);
  });

  it('rejects frames of the wrong size and non-increasing times', () => {
    const es = ideal({}, 4, 4);
    expect(() => es.feed(new Float32Array(3), 0)).toThrow(RangeError);
    es.feed(frame(16, 10), 5);
    expect(() => es.feed(frame(16, 10), 5)).toThrow(/increase/);
  });

  it('lin-log is continuous at the knee and linear through 0 below it', () => {
    expect(linLog(20, 20)).toBeCloseTo(Math.log(20), 12);
    expect(linLog(19.999999, 20)).toBeCloseTo(Math.log(20), 5);
    expect(linLog(0, 20)).toBe(0);
    expect(linLog(10, 20)).toBeCloseTo(Math.log(20) / 2, 12);
  });
});
