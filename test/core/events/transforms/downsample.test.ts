import { describe, expect, it } from 'vitest';
import { Downsample, downsampleEvents, downsampleMaps } from '../../../../core/events/transforms/index.ts';
import { packet, tuples } from './make-packet.ts';

describe('spatial downsample', () => {
  const g = { width: 5, height: 3 };
  const input = packet([
    [1, 0, 0, 1],
    [2, 1, 1, 0],
    [3, 4, 2, 1],
    [4, 3, 0, 0],
    [5, 7, 0, 0], // outside the 5×3 input: dropped
  ]);

  it('integer factor: x/f rounded down, output ⌈W/f⌉ × ⌈H/f⌉, every valid event kept', () => {
    const m = downsampleMaps(g, { factor: 2 });
    expect(m.output).toEqual({ width: 3, height: 2 });
    expect(tuples(downsampleEvents(input, m))).toEqual([[1, 0, 0, 1], [2, 0, 0, 0], [3, 2, 1, 1], [4, 1, 0, 0]]);
  });

  it('per-axis factors', () => {
    const m = downsampleMaps(g, { factor: { x: 5, y: 1 } });
    expect(m.output).toEqual({ width: 1, height: 3 });
    expect(tuples(downsampleEvents(input, m)).map((e) => [e[1], e[2]])).toEqual([[0, 0], [0, 1], [0, 2], [0, 0]]);
  });

  it('target size: x·W′/W rounded down (128 → 64 is a factor of 2; 346 × 260 → 64 × 48)', () => {
    const d = new Downsample({ geometry: { width: 346, height: 260 }, target: { width: 64, height: 48 } });
    expect(d.outputGeometry({ width: 346, height: 260 })).toEqual({ width: 64, height: 48 });
    const out = d.apply(packet([[0, 0, 0, 1], [1, 345, 259, 0], [2, 173, 130, 1], [3, 6, 5, 1]]));
    expect(tuples(out)).toEqual([[0, 0, 0, 1], [1, 63, 47, 0], [2, 32, 24, 1], [3, 1, 0, 1]]);
    const half = downsampleMaps({ width: 128, height: 128 }, { target: { width: 64, height: 64 } });
    const byFactor = downsampleMaps({ width: 128, height: 128 }, { factor: 2 });
    expect(Array.from(half.xMap)).toEqual(Array.from(byFactor.xMap));
  });

  it('rejects bad specs', () => {
    expect(() => downsampleMaps(g, { factor: 0 })).toThrow(RangeError);
    expect(() => downsampleMaps(g, { factor: 1.5 })).toThrow(RangeError);
    expect(() => downsampleMaps(g, { target: { width: 6, height: 1 } })).toThrow(/larger than the input/);
  });
});
