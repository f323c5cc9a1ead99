import { describe, expect, it } from 'vitest';
import { RefractoryFilter, createRefractoryState, refractoryFilter } from '../../../../core/events/transforms/index.ts';
import { concatPackets, viewPacket, type EventPacket } from '../../../../core/events/packet.ts';
import { columns, packet, randomPacket, randomSplits, tuples } from './make-packet.ts';

describe('refractory filter', () => {
  const g = { width: 4, height: 3 };
  // Pixel A = (1,1), pixel B = (2,1); period 10 µs.
  const input = packet([
    [0, 1, 1, 1],
    [3, 2, 1, 0],
    [5, 1, 1, 0],
    [10, 1, 1, 1],
    [14, 2, 1, 1],
    [21, 1, 1, 1],
    [25, 1, 1, 0],
    [26, 9, 1, 0], // outside the sensor: dropped
  ]);

  it("'passed': at most one event per pixel per period; exactly one period later passes", () => {
    const out = refractoryFilter(input, 10, createRefractoryState(g));
    expect(tuples(out).map((e) => e[0])).toEqual([0, 3, 10, 14, 21]);
  });

  it("'every': any event restarts the period (tonic's snapshot behaviour, minus its t = 0 quirk)", () => {
    const out = refractoryFilter(input, 10, createRefractoryState(g), undefined, 'every');
    expect(tuples(out).map((e) => e[0])).toEqual([0, 3, 14, 21]);
  });

  it('period 0 passes every in-sensor event; input is not mutated', () => {
    const before = tuples(input);
    expect(refractoryFilter(input, 0, createRefractoryState(g)).length).toBe(7);
    expect(tuples(input)).toEqual(before);
  });

  for (const restartOn of ['passed', 'every'] as const) {
    it(`streaming with one state == batch (${restartOn})`, () => {
      const geo = { width: 16, height: 8 };
      const all = randomPacket(20_000, geo.width, geo.height, 3, 7);
      const f = new RefractoryFilter({ periodUs: 200, restartOn });
      const batch = f.apply(all, f.createState(geo));
      const state = f.createState(geo);
      const parts: EventPacket[] = [];
      const cuts = randomSplits(all.length, 3);
      for (let i = 1; i < cuts.length; i++) parts.push(f.apply(viewPacket(all, cuts[i - 1], cuts[i]), state));
      const streamed = concatPackets(parts);
      expect(batch.length).toBeGreaterThan(1000);
      expect(batch.length).toBeLessThan(all.length);
      expect(columns(streamed)).toEqual(columns(batch));
    });
  }

  it('rejects a negative period', () => {
    expect(() => new RefractoryFilter({ periodUs: -1 })).toThrow(RangeError);
  });
});
