import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  FrameBinner, ToFrame, mergePolarityFrames, sliceByTime, toFrame, type FrameStack,
} from '../../../../core/events/transforms/index.ts';
import { allocPacket, viewPacket, type EventPacket } from '../../../../core/events/packet.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';
import { packet, randomPacket, randomSplits } from './make-packet.ts';

/** A zero array of `size` with the given flat indices set. */
function sparse(size: number, entries: Record<number, number>): number[] {
  const a = new Array<number>(size).fill(0);
  for (const [i, v] of Object.entries(entries)) a[Number(i)] = v;
  return a;
}
const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);

// Sensor 3 wide × 2 high (W ≠ H, so a (W, H) / (H, W) mix-up moves values to other flat indices).
const g = { width: 3, height: 2 };
const events = packet([
  [2, 0, 0, 1], // bin 0, ON,  row 0, col 0 → flat ((0·2+1)·2+0)·3+0 = 6
  [9, 2, 1, 0], // bin 0, OFF, row 1, col 2 → flat ((0·2+0)·2+1)·3+2 = 5
  [10, 1, 0, 1], // exactly on the edge 10 → bin 1, ON, row 0, col 1 → ((1·2+1)·2+0)·3+1 = 19
  [10, 1, 0, 1], // same pixel again → 2
  [35, 2, 0, 0], // bin 3, OFF, row 0, col 2 → ((3·2+0)·2+0)·3+2 = 38; bin 2 stays empty
]);

describe('ToFrame by time', () => {
  it('(T, P, H, W) layout, OFF = channel 0, edge event in the later bin, empty bins kept', () => {
    const f = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 40 });
    expect([f.frames, f.channels, f.height, f.width]).toEqual([4, 2, 2, 3]);
    expect(Array.from(f.data)).toEqual(sparse(48, { 6: 1, 5: 1, 19: 2, 38: 1 }));
    expect(Array.from(f.binStart)).toEqual([0, 10, 20, 30]);
    expect(Array.from(f.binEnd)).toEqual([10, 20, 30, 40]);
  });

  it('explicit start before the first event: leading empty bins; incomplete last bin dropped unless asked', () => {
    // Default end = last t + 1 = 36: bins [-20,-10) … [20,30) are complete; [30,40) is not.
    const f = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: -20 });
    expect(f.frames).toBe(5);
    expect(Array.from(f.data)).toEqual(sparse(60, { [24 + 6]: 1, [24 + 5]: 1, [36 + 7]: 2 }));
    const inc = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: -20, includeIncomplete: true });
    expect(inc.frames).toBe(6);
    expect(inc.data[60 + 2]).toBe(1); // bin 5 = [30, 36): OFF row 0 col 2
    expect(inc.binEnd[5]).toBe(36);
  });

  it('events before startTime or at/after endTime are ignored', () => {
    const f = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: 5, endTime: 15 });
    expect(f.frames).toBe(1); // [5, 15)
    expect(Array.from(f.data)).toEqual(sparse(12, { 5: 1, 7: 2 }));
  });

  it('event order does not matter without overlap', () => {
    const shuffled = packet([[35, 2, 0, 0], [10, 1, 0, 1], [2, 0, 0, 1], [10, 1, 0, 1], [9, 2, 1, 0]]);
    const a = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 40 });
    const b = toFrame(shuffled, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 40 });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  it('overlapping windows count an event in every window that holds it', () => {
    const f = toFrame(events, { by: 'time', geometry: g, windowUs: 10, overlapUs: 5, startTime: 0, endTime: 40 });
    expect(f.frames).toBe(7); // [0,10) [5,15) [10,20) [15,25) [20,30) [25,35) [30,40)
    const perBin = Array.from({ length: 7 }, (_, k) => sum(f.data.subarray(k * 12, (k + 1) * 12)));
    expect(perBin).toEqual([2, 3, 2, 0, 0, 0, 1]);
  });

  it('polarity merged while binning: sum and ON − OFF, P = 1', () => {
    const s = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 20, polarity: 'sum' });
    expect(s.channels).toBe(1);
    expect(Array.from(s.data)).toEqual([1, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0]);
    const d = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 20, polarity: 'on-minus-off' });
    expect(Array.from(d.data)).toEqual([1, 0, 0, 0, 0, -1, 0, 2, 0, 0, 0, 0]);
    const split = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 20 });
    expect(Array.from(mergePolarityFrames(split, 'on-minus-off').data)).toEqual(Array.from(d.data));
    expect(Array.from(mergePolarityFrames(split, 'sum').data)).toEqual(Array.from(s.data));
    expect(Array.from(mergePolarityFrames(split, 'mean').data)).toEqual([0.5, 0, 0, 0, 0, 0.5, 0, 1, 0, 0, 0, 0]);
  });

  it('drops events outside the geometry instead of wrapping into the next row', () => {
    const bad = packet([[1, 3, 0, 1], [1, 0, 2, 1], [1, 2, 1, 1]]);
    const f = toFrame(bad, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 10, polarity: 'sum' });
    expect(Array.from(f.data)).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it('any non-zero polarity byte counts as ON (channel 1, +1 in ON − OFF)', () => {
    const odd = packet([[1, 0, 0, 2], [2, 1, 0, 255], [3, 2, 0, 0]]);
    const f = toFrame(odd, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 10 });
    expect(Array.from(f.data)).toEqual([0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0]);
    const d = toFrame(odd, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 10, polarity: 'on-minus-off' });
    expect(Array.from(d.data)).toEqual([1, 1, -1, 0, 0, 0]);
  });

  it('reuses a caller buffer (zeroed first)', () => {
    const buf = new Float32Array(100).fill(7);
    const f = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 40 }, buf);
    expect(f.data.buffer).toBe(buf.buffer);
    expect(Array.from(f.data)).toEqual(sparse(48, { 6: 1, 5: 1, 19: 2, 38: 1 }));
  });

  it('empty input with an explicit end gives empty frames; without one, none', () => {
    const empty = allocPacket(0);
    expect(toFrame(empty, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 30 }).frames).toBe(3);
    expect(toFrame(empty, { by: 'time', geometry: g, windowUs: 10, startTime: 0 }).frames).toBe(0);
  });

  it('validates options', () => {
    expect(() => new ToFrame({ by: 'time', geometry: { width: 0, height: 2 }, windowUs: 10, startTime: 0 })).toThrow(RangeError);
    expect(() => new ToFrame({ by: 'time', geometry: g, windowUs: -1, startTime: 0 })).toThrow(RangeError);
    expect(() => new ToFrame({ by: 'time', geometry: g, windowUs: 10, startTime: NaN })).toThrow(RangeError);
    expect(() => new ToFrame({ by: 'bins', geometry: g, bins: 0, startTime: 0 })).toThrow(RangeError);
    expect(() => new ToFrame({ by: 'count', geometry: g, count: 2, polarity: 'both' as 'sum' })).toThrow(RangeError);
    expect(() => toFrame(packet([[5, 0, 0, 1], [4, 0, 0, 1]]), { by: 'time', geometry: g, windowUs: 10, overlapUs: 2, startTime: 0 })).toThrow(
      /non-decreasing/,
    );
  });
});

describe('ToFrame by event count and by number of bins', () => {
  it('count: consecutive groups, incomplete tail optional, bin times = first/last event', () => {
    const f = toFrame(events, { by: 'count', geometry: g, count: 2 });
    expect(f.frames).toBe(2);
    expect(Array.from(f.data)).toEqual(sparse(24, { 6: 1, 5: 1, [12 + 7]: 2 }));
    expect(Array.from(f.binStart)).toEqual([2, 10]);
    expect(Array.from(f.binEnd)).toEqual([9, 10]);
    const inc = toFrame(events, { by: 'count', geometry: g, count: 2, includeIncomplete: true });
    expect(inc.frames).toBe(3);
    expect(inc.data[24 + 2]).toBe(1);
  });

  it('bins: n equal bins over [startTime, endTime); 4 bins over [0, 40) equal 10 µs windows', () => {
    const byBins = toFrame(events, { by: 'bins', geometry: g, bins: 4, startTime: 0, endTime: 40 });
    const byTime = toFrame(events, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 40 });
    expect(Array.from(byBins.data)).toEqual(Array.from(byTime.data));
    // 3 bins over [0, 36) (default end = last + 1): edges 0, 12, 24, 36.
    const three = toFrame(events, { by: 'bins', geometry: g, bins: 3, startTime: 0 });
    expect(Array.from(three.binStart)).toEqual([0, 12, 24]);
    expect(Array.from(three.binEnd)).toEqual([12, 24, 36]);
    const perBin = [0, 1, 2].map((k) => sum(three.data.subarray(k * 12, (k + 1) * 12)));
    expect(perBin).toEqual([4, 0, 1]);
  });
});

describe('FrameBinner (streaming) == batch ToFrame', () => {
  const geo = { width: 7, height: 5 };
  const all = randomPacket(30_000, geo.width, geo.height, 2, 21); // t from ~1000 to ~61000
  const lastT = all.t[all.length - 1];

  function stream(includeIncomplete: boolean, handOut: boolean, polarity: 'split' | 'on-minus-off'): { frames: Float32Array[]; bounds: number[][] } {
    const b = new FrameBinner({ geometry: geo, windowUs: 1000, startTime: 500, handOut, polarity });
    const frames: Float32Array[] = [];
    const bounds: number[][] = [];
    const sink = (f: Float32Array, k: number, a: number, z: number) => {
      expect(k).toBe(frames.length);
      frames.push(handOut ? f : f.slice());
      bounds.push([a, z]);
    };
    const cuts = randomSplits(all.length, 9);
    for (let i = 1; i < cuts.length; i++) b.push(viewPacket(all, cuts[i - 1], cuts[i]), sink);
    b.finish(sink, lastT + 1, includeIncomplete);
    return { frames, bounds };
  }

  for (const includeIncomplete of [false, true]) {
    for (const polarity of ['split', 'on-minus-off'] as const) {
      it(`same frames and bounds (includeIncomplete=${includeIncomplete}, ${polarity})`, () => {
        const batch: FrameStack = toFrame(all, { by: 'time', geometry: geo, windowUs: 1000, startTime: 500, includeIncomplete, polarity });
        const { frames, bounds } = stream(includeIncomplete, false, polarity);
        expect(frames.length).toBe(batch.frames);
        const plane = batch.channels * geo.width * geo.height;
        for (let k = 0; k < batch.frames; k++) {
          expect(Array.from(frames[k])).toEqual(Array.from(batch.data.subarray(k * plane, (k + 1) * plane)));
          expect(bounds[k]).toEqual([batch.binStart[k], batch.binEnd[k]]);
        }
      });
    }
  }

  it('handOut gives independent buffers; reuse mode hands the same one', () => {
    const { frames } = stream(false, true, 'split');
    expect(new Set(frames.map((f) => f.buffer)).size).toBe(frames.length);
    const seen = new Set<ArrayBufferLike>();
    const b = new FrameBinner({ geometry: geo, windowUs: 1000, startTime: 500 });
    b.push(all, (f) => seen.add(f.buffer));
    expect(seen.size).toBe(1);
  });

  it('advanceTo emits empty frames for silent time; late events are counted, not binned', () => {
    const b = new FrameBinner({ geometry: geo, windowUs: 100, startTime: 0, polarity: 'sum' });
    const got: Array<[number, number]> = [];
    const sink = (f: Float32Array, k: number) => got.push([k, sum(f)]);
    b.push(packet([[10, 1, 1, 1], [20, 1, 1, 0]]), sink);
    b.advanceTo(350, sink);
    expect(got).toEqual([[0, 2], [1, 0], [2, 0]]);
    b.push(packet([[50, 0, 0, 1], [360, 0, 0, 1], [-5, 0, 0, 1]]), sink); // 50: late; −5: before start (ignored)
    expect(b.lateEvents).toBe(1);
    b.finish(sink, 400);
    expect(got).toEqual([[0, 2], [1, 0], [2, 0], [3, 1]]);
    expect(() => b.push(packet([]), sink)).toThrow(/after finish/);
  });
});

/** N-MNIST .bin (5-byte records, spec §12), decoded here so this test does not depend on the format reader. */
function decodeNmnist(bytes: Uint8Array): EventPacket {
  const n = Math.floor(bytes.length / 5);
  const pk = allocPacket(n);
  for (let i = 0; i < n; i++) {
    const b = i * 5;
    pk.x[i] = bytes[b];
    pk.y[i] = bytes[b + 1];
    pk.p[i] = bytes[b + 2] >> 7;
    pk.t[i] = ((bytes[b + 2] & 0x7f) << 16) | (bytes[b + 3] << 8) | bytes[b + 4];
  }
  pk.length = n;
  return pk;
}

/** Prophesee DAT (spec §11): '%' header lines, type and size bytes, then 8-byte records. */
function decodeDat(bytes: Uint8Array): EventPacket {
  let o = 0;
  while (bytes[o] === 0x25) o = bytes.indexOf(0x0a, o) + 1;
  o += 2;
  const n = Math.floor((bytes.length - o) / 8);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + o);
  const pk = allocPacket(n);
  for (let i = 0; i < n; i++) {
    const w = dv.getUint32(i * 8 + 4, true);
    pk.t[i] = dv.getUint32(i * 8, true);
    pk.x[i] = w & 0x3fff;
    pk.y[i] = (w >>> 14) & 0x3fff;
    pk.p[i] = (w >>> 28) & 1;
  }
  pk.length = n;
  return pk;
}

describe('ToFrame on real samples', () => {
  it('N-MNIST (34×34): frame counts sum to the events in range, ON channel to the ON count', () => {
    const file = sharedFile('tonic-nmnist-bin/sample_nmnist.bin');
    if (!file) return;
    const pk = decodeNmnist(readFileSync(file));
    expect(pk.length).toBe(4325); // reference values, shared/data/README.md §4
    let on = 0;
    for (let i = 0; i < pk.length; i++) on += pk.p[i];
    expect(on).toBe(2145);
    const f = toFrame(pk, { by: 'time', geometry: { width: 34, height: 34 }, windowUs: 10_000, startTime: 0, endTime: 320_000 });
    expect(f.frames).toBe(32);
    const plane = 34 * 34;
    let onSum = 0;
    for (let k = 0; k < 32; k++) onSum += sum(f.data.subarray((2 * k + 1) * plane, (2 * k + 2) * plane));
    expect(sum(f.data)).toBe(4325);
    expect(onSum).toBe(2145);
    // Per bin: the frame total equals the number of events the slicer puts in that window.
    const r = sliceByTime(pk.t, pk.length, { windowUs: 10_000, startTime: 0, endTime: 320_000 });
    for (let k = 0; k < 32; k++) expect(sum(f.data.subarray(k * 2 * plane, (k + 1) * 2 * plane))).toBe(r.ends[k] - r.starts[k]);
    // A window that starts mid-recording only counts events in range.
    const mid = toFrame(pk, { by: 'time', geometry: { width: 34, height: 34 }, windowUs: 25_000, startTime: 100_000, endTime: 200_000 });
    const inRange = pk.t.subarray(0, pk.length).filter((t) => t >= 100_000 && t < 200_000).length;
    expect(sum(mid.data)).toBe(inRange);
  });

  it('N-CARS DAT (120×100, W ≠ H): column and row marginals of the frames match the events', () => {
    const file = sharedFile('tonic-ncars-dat/sample_ncars.dat');
    if (!file) return;
    const pk = decodeDat(readFileSync(file));
    expect(pk.length).toBe(2009); // shared/data/README.md §3
    const W = 120, H = 100;
    const f = toFrame(pk, { by: 'time', geometry: { width: W, height: H }, windowUs: 25_000, startTime: 0, endTime: 100_000 });
    expect(f.frames).toBe(4);
    const col = new Array<number>(W).fill(0), row = new Array<number>(H).fill(0);
    let onSum = 0;
    for (let k = 0; k < f.frames; k++) {
      for (let c = 0; c < 2; c++) {
        for (let yy = 0; yy < H; yy++) {
          for (let xx = 0; xx < W; xx++) {
            const v = f.data[((k * 2 + c) * H + yy) * W + xx];
            col[xx] += v;
            row[yy] += v;
            if (c === 1) onSum += v;
          }
        }
      }
    }
    const col2 = new Array<number>(W).fill(0), row2 = new Array<number>(H).fill(0);
    for (let i = 0; i < pk.length; i++) {
      col2[pk.x[i]]++;
      row2[pk.y[i]]++;
    }
    expect(col).toEqual(col2);
    expect(row).toEqual(row2);
    expect(onSum).toBe(1350);
  });
});

describe('hostile timestamps', () => {
  it('a far-future timestamp gives a clear RangeError, not a huge allocation or an endless loop', () => {
    const bad = packet([[1, 0, 0, 1], [2 ** 52, 0, 0, 1]]);
    expect(() => toFrame(bad, { by: 'time', geometry: g, windowUs: 10, startTime: 0 })).toThrow(/maxBytes/);
    expect(() => sliceByTime(bad.t, 2, { windowUs: 10, startTime: 0 })).toThrow(RangeError);
    const b = new FrameBinner({ geometry: g, windowUs: 10, startTime: 0 });
    expect(() => b.push(bad, () => {})).toThrow(/maxFramesPerStep/);
  });

  it('NaN and +Infinity timestamps are dropped', () => {
    const bad = packet([[NaN, 0, 0, 1], [5, 1, 0, 1], [Infinity, 2, 0, 1]]);
    const f = toFrame(bad, { by: 'time', geometry: g, windowUs: 10, startTime: 0, endTime: 10, polarity: 'sum' });
    expect(Array.from(f.data)).toEqual([0, 1, 0, 0, 0, 0]);
    const frames: number[][] = [];
    const b = new FrameBinner({ geometry: g, windowUs: 10, startTime: 0, polarity: 'sum' });
    b.push(bad, (fr) => frames.push(Array.from(fr)));
    b.finish((fr) => frames.push(Array.from(fr)), 10);
    expect(frames).toEqual([[0, 1, 0, 0, 0, 0]]);
  });
});
