import { describe, expect, it } from 'vitest';
import type { EventPacket } from '../../../../core/events/packet.ts';
import {
  WindowBinner, checkEventFrames, densify, gesturePreprocessing, inputSizeOf, sortedByTime, stepsOf, windowsForLabels,
} from '../../../../core/train/datasets/preprocess.ts';
import type { EventFramesPreprocessing } from '../../../../core/train/datasets/preprocess.ts';
import { Rng } from '../../../../core/util/rng.ts';

function packet(ev: [t: number, x: number, y: number, p: number][]): EventPacket {
  return {
    t: Float64Array.from(ev, (e) => e[0]),
    x: Uint16Array.from(ev, (e) => e[1]),
    y: Uint16Array.from(ev, (e) => e[2]),
    p: Uint8Array.from(ev, (e) => e[3]),
    length: ev.length,
  };
}

function prep(o: Partial<Omit<EventFramesPreprocessing, 'kind' | 'layout'>>): EventFramesPreprocessing {
  return gesturePreprocessing({ sensor: { width: 8, height: 8 }, frame: { width: 4, height: 4 }, binUs: 10_000, windowUs: 50_000, normalisation: { divideBy: 1, clip: null }, ...o });
}

describe('windowsForLabels', () => {
  const W = 100_000;
  it('cuts complete, non-overlapping windows inside each row and drops the incomplete tail', () => {
    const w = windowsForLabels([{ classIndex: 2, startUs: 1_000, endUs: 1_000 + 3.5 * W }], W);
    expect(w.map((x) => x.startUs)).toEqual([1_000, 1_000 + W, 1_000 + 2 * W]);
    expect(w.every((x) => x.label === 2 && x.row === 0)).toBe(true);
  });
  it('keeps a window that ends exactly at the row end, and none for a row shorter than a window', () => {
    expect(windowsForLabels([{ classIndex: 5, startUs: 500, endUs: 500 + W }], W).map((x) => x.startUs)).toEqual([500]);
    expect(windowsForLabels([{ classIndex: 1, startUs: 100, endUs: 100 + W - 1 }], W)).toEqual([]);
  });
  it('treats rows independently: unsorted, overlapping and repeated rows each give their own windows', () => {
    const rows = [
      { classIndex: 4, startUs: 5 * W, endUs: 7 * W },
      { classIndex: 3, startUs: 0, endUs: 2.5 * W }, // overlaps the next row by 0.5 window
      { classIndex: 9, startUs: 2 * W, endUs: 3 * W },
      { classIndex: 4, startUs: 10 * W, endUs: 11 * W }, // class 4 repeated
    ];
    const w = windowsForLabels(rows, W);
    expect(w.map((x) => [x.startUs, x.label, x.row])).toEqual([
      [5 * W, 4, 0], [6 * W, 4, 0],
      [0, 3, 1], [W, 3, 1],
      [2 * W, 9, 2],
      [10 * W, 4, 3],
    ]);
  });
});

describe('WindowBinner', () => {
  it('bins [start, start + window) with bins anchored at the window start, edges half-open', () => {
    const S = 1_000_000;
    const b = new WindowBinner(prep({ normalisation: { divideBy: 2, clip: null } }));
    expect([b.T, b.C]).toEqual([5, 2 * 16]);
    const pk = packet([
      [S - 1, 0, 0, 1], // before the window
      [S, 0, 0, 1], // bin 0, ON, cell (0,0)
      [S + 9_999, 1, 1, 0], // bin 0, OFF, cell (0,0)
      [S + 10_000, 7, 6, 1], // bin 1, ON, cell (3,3)
      [S + 10_000, 6, 7, 1], // same cell (downsampled)
      [S + 49_999, 2, 0, 0], // bin 4, OFF, cell (1,0)
      [S + 50_000, 3, 3, 1], // after the window
    ]);
    const d = densify(b.bin(pk, S));
    const expected = new Float32Array(5 * 32);
    expected[0 * 32 + 16 + 0] = 0.5; // ON channel is 1: c = 1·16 + y·4 + x
    expected[0 * 32 + 0] = 0.5;
    expected[1 * 32 + 16 + 15] = 1;
    expected[4 * 32 + 1] = 0.5;
    expect(Array.from(d)).toEqual(Array.from(expected));
  });

  it('applies the crop box before downsampling, in sensor coordinates', () => {
    const b = new WindowBinner(prep({ crop: { x: 2, y: 2, width: 4, height: 4 }, frame: { width: 2, height: 2 }, polarity: 'merge-sum' }));
    const s = b.bin(packet([[0, 1, 1, 1], [1, 2, 2, 1], [2, 5, 5, 0], [3, 6, 6, 1]]), 0);
    expect(Array.from(densify(s).subarray(0, 4))).toEqual([1, 0, 0, 1]); // (1,1) and (6,6) are outside the box
  });

  it('handles each polarity mode and the clip', () => {
    const ev = packet([[0, 0, 0, 1], [1, 0, 0, 1], [2, 0, 0, 0], [3, 2, 0, 0]]);
    const run = (polarity: EventFramesPreprocessing['polarity'], clip: number | null = null) =>
      Array.from(densify(new WindowBinner(prep({ polarity, normalisation: { divideBy: 1, clip } })).bin(ev, 0)).subarray(0, 2));
    expect(run('merge-sum')).toEqual([3, 1]);
    expect(run('merge-mean')).toEqual([1.5, 0.5]);
    expect(run('on-only')).toEqual([2, 0]);
    expect(run('off-only')).toEqual([1, 1]);
    expect(run('merge-sum', 2)).toEqual([2, 1]);
  });

  it('matches a naive per-event computation on random events (several windows of one recording)', () => {
    const rng = new Rng(3);
    const n = 20_000;
    const ev: [number, number, number, number][] = [];
    for (let i = 0; i < n; i++) ev.push([Math.floor(rng.next() * 400_000), rng.int(128), rng.int(128), rng.int(2)]);
    ev.sort((a, b) => a[0] - b[0]);
    const pk = packet(ev);
    const p = gesturePreprocessing({ crop: { x: 16, y: 0, width: 96, height: 128 }, frame: { width: 24, height: 32 }, binUs: 7_000, windowUs: 70_000, normalisation: { divideBy: 3, clip: null } });
    const b = new WindowBinner(p);
    for (const S of [0, 70_000, 123_456]) {
      const want = new Float32Array(b.T * b.C);
      for (const [t, x, y, pol] of ev) {
        if (t < S || t >= S + 70_000 || x < 16 || x >= 112) continue;
        const k = Math.floor((t - S) / 7_000);
        const cx = Math.floor((x - 16) / 4);
        const cy = Math.floor(y / 4);
        want[k * b.C + (pol * 32 + cy) * 24 + cx] += 1 / 3;
      }
      const got = densify(b.bin(pk, S));
      let maxDiff = 0;
      let total = 0;
      for (let i = 0; i < want.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        total += want[i];
      }
      expect(total).toBeGreaterThan(100); // the window holds events
      expect(maxDiff).toBeLessThan(1e-5);
    }
  });

  it('returns sparse entries sorted by step with no explicit zeros', () => {
    const b = new WindowBinner(prep({}));
    const s = b.bin(packet([[5, 1, 1, 1], [20_000, 3, 3, 0], [20_001, 3, 3, 1]]), 0);
    expect(Array.from(s.t)).toEqual([0, 2, 2]);
    expect(Array.from(s.v).every((v) => v !== 0)).toBe(true);
  });
});

describe('preprocessing object', () => {
  it('derives T and C and rejects inconsistent settings with the field named', () => {
    const p = gesturePreprocessing();
    expect(stepsOf(p)).toBe(68);
    expect(inputSizeOf(p)).toBe(2 * 32 * 32);
    expect(() => gesturePreprocessing({ windowUs: 1_000_001 })).toThrow(/windowUs must be a multiple of binUs/);
    expect(() => gesturePreprocessing({ frame: { width: 30, height: 32 } })).toThrow(/integer factor/);
    expect(() => gesturePreprocessing({ crop: { x: 100, y: 0, width: 64, height: 64 } })).toThrow(/inside the sensor/);
    expect(() => checkEventFrames({ kind: 'sequence', description: '', steps: 1, inputSize: 1 })).toThrow(/event-frames/);
  });
  it('sortedByTime returns the same packet when sorted and a stable sorted copy otherwise', () => {
    const a = packet([[1, 0, 0, 0], [2, 1, 0, 0]]);
    expect(sortedByTime(a)).toBe(a);
    const s = sortedByTime(packet([[5, 0, 0, 0], [1, 1, 0, 0], [5, 2, 0, 1]]));
    expect(Array.from(s.t)).toEqual([1, 5, 5]);
    expect(Array.from(s.x)).toEqual([1, 0, 2]);
  });
});
