import { describe, expect, it } from 'vitest';
import { SliceByCount, SliceByTime, sliceByCount, sliceByTime, type SliceRanges } from '../../../../core/events/transforms/index.ts';
import { packet } from './make-packet.ts';

const ranges = (r: SliceRanges) => Array.from(r.starts, (s, i) => [s, r.ends[i]]);
const times = (r: SliceRanges) => Array.from(r.tStart, (s, i) => [s, r.tEnd[i]]);

describe('time slicing (index ranges, no copies)', () => {
  const t = new Float64Array([0, 5, 10, 10, 15, 24, 25, 30]);
  const n = t.length;

  it('by time: half-open windows, edge events go to the later window, incomplete last window optional', () => {
    const r = sliceByTime(t, n, { windowUs: 10, startTime: 0 }); // span [0, 31)
    expect(ranges(r)).toEqual([[0, 2], [2, 5], [5, 7]]);
    expect(times(r)).toEqual([[0, 10], [10, 20], [20, 30]]);
    const inc = sliceByTime(t, n, { windowUs: 10, startTime: 0, includeIncomplete: true });
    expect(ranges(inc)).toEqual([[0, 2], [2, 5], [5, 7], [7, 8]]);
    expect(times(inc)[3]).toEqual([30, 31]);
  });

  it('by time with overlap', () => {
    const r = sliceByTime(t, n, { windowUs: 10, overlapUs: 5, startTime: 0 });
    expect(ranges(r)).toEqual([[0, 2], [1, 4], [2, 5], [4, 6], [5, 7]]);
    const inc = sliceByTime(t, n, { windowUs: 10, overlapUs: 5, startTime: 0, includeIncomplete: true });
    expect(ranges(inc)).toEqual([[0, 2], [1, 4], [2, 5], [4, 6], [5, 7], [6, 8], [7, 8]]);
  });

  it('explicit start before the first event gives leading empty windows; explicit end cuts', () => {
    const r = sliceByTime(t, n, { windowUs: 10, startTime: -20, endTime: 20 });
    expect(ranges(r)).toEqual([[0, 0], [0, 0], [0, 2], [2, 5]]);
    expect(times(r)[0]).toEqual([-20, -10]);
    expect(sliceByTime(t, n, { windowUs: 10, startTime: 100 }).count).toBe(0);
    expect(sliceByTime(new Float64Array(0), 0, { windowUs: 10, startTime: 0 }).count).toBe(0);
  });

  it('by count, with overlap and incomplete tail', () => {
    expect(ranges(sliceByCount(t, n, { count: 3 }))).toEqual([[0, 3], [3, 6]]);
    expect(ranges(sliceByCount(t, n, { count: 3, includeIncomplete: true }))).toEqual([[0, 3], [3, 6], [6, 8]]);
    expect(ranges(sliceByCount(t, n, { count: 3, overlap: 1 }))).toEqual([[0, 3], [2, 5], [4, 7]]);
    expect(ranges(sliceByCount(t, n, { count: 3, overlap: 1, includeIncomplete: true }))).toEqual([[0, 3], [2, 5], [4, 7], [6, 8]]);
    const r = sliceByCount(t, n, { count: 2, startTime: 10, endTime: 25 });
    expect(ranges(r)).toEqual([[2, 4], [4, 6]]);
    expect(times(r)).toEqual([[10, 10], [15, 24]]);
  });

  it('wrappers validate at construction and slice packets', () => {
    expect(() => new SliceByTime({ windowUs: 0, startTime: 0 })).toThrow(RangeError);
    expect(() => new SliceByTime({ windowUs: 10, overlapUs: 10, startTime: 0 })).toThrow(RangeError);
    expect(() => new SliceByCount({ count: 2, overlap: 2 })).toThrow(RangeError);
    const pk = packet([[0, 0, 0, 1], [12, 0, 0, 1], [13, 0, 0, 0]]);
    expect(ranges(new SliceByTime({ windowUs: 10, startTime: 0 }).apply(pk))).toEqual([[0, 1]]);
    expect(ranges(new SliceByCount({ count: 2 }).apply(pk))).toEqual([[0, 2]]);
  });

  it('refuses decreasing timestamps instead of returning wrong ranges', () => {
    expect(() => sliceByTime(new Float64Array([0, 5, 4]), 3, { windowUs: 10, startTime: 0 })).toThrow(/t\[2\] = 4 < t\[1\] = 5/);
  });
});
