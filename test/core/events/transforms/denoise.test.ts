import { describe, expect, it } from 'vitest';
import { DenoiseFilter, createDenoiseState, denoiseFilter } from '../../../../core/events/transforms/index.ts';
import { concatPackets, viewPacket, type EventPacket } from '../../../../core/events/packet.ts';
import { columns, packet, randomPacket, randomSplits, tuples } from './make-packet.ts';

describe('background-activity denoise', () => {
  const g = { width: 5, height: 4 };
  const input = packet([
    [0, 2, 2, 1], // no neighbour yet → drop
    [5, 3, 3, 0], // diagonal (2,2)@0, 5 µs → pass with 8 neighbours only
    [8, 2, 3, 1], // (2,2)@0 above, 8 µs → pass
    [20, 2, 2, 0], // own pixel's earlier event does not count; (2,3)@8 is 12 µs old → drop
    [25, 4, 3, 1], // bottom-right corner; (3,3)@5 is 20 µs old → drop
    [26, 4, 2, 1], // (4,3)@25 below, 1 µs → pass (border pixel, no wrap-around)
    [27, 0, 0, 1], // top-left corner, nothing near → drop
    [30, 2, 2, 1], // only its own pixel is recent → drop
    [31, 1, 1, 1], // diagonal (2,2)@30 → 8 neighbours only
    [40, 1, 0, 0], // (1,1)@31 below, 9 µs < 10 → pass
    [50, 0, 0, 1], // (1,0)@40 right, exactly 10 µs → not within → drop
    [51, 5, 0, 1], // outside the sensor → dropped
  ]);

  it('8-neighbour (3×3) support within filterTimeUs, strict', () => {
    const out = denoiseFilter(input, 10, createDenoiseState(g));
    expect(tuples(out).map((e) => e[0])).toEqual([5, 8, 26, 31, 40]);
  });

  it('4-neighbour variant (tonic)', () => {
    const out = denoiseFilter(input, 10, createDenoiseState(g), undefined, 4);
    expect(tuples(out).map((e) => e[0])).toEqual([8, 26, 40]);
  });

  it('filters in place when out === input', () => {
    const copy = packet(tuples(input));
    denoiseFilter(copy, 10, createDenoiseState(g), copy);
    expect(tuples(copy).map((e) => e[0])).toEqual([5, 8, 26, 31, 40]);
  });

  for (const connectivity of [4, 8] as const) {
    it(`streaming with one state == batch (${connectivity} neighbours)`, () => {
      const geo = { width: 20, height: 12 };
      const all = randomPacket(20_000, geo.width, geo.height, 2, 11);
      const f = new DenoiseFilter({ filterTimeUs: 300, connectivity });
      const batch = f.apply(all, f.createState(geo));
      const state = f.createState(geo);
      const parts: EventPacket[] = [];
      const cuts = randomSplits(all.length, 5);
      for (let i = 1; i < cuts.length; i++) parts.push(f.apply(viewPacket(all, cuts[i - 1], cuts[i]), state));
      expect(batch.length).toBeGreaterThan(1000);
      expect(batch.length).toBeLessThan(all.length);
      expect(columns(concatPackets(parts))).toEqual(columns(batch));
    });
  }

  it('rejects bad options', () => {
    expect(() => new DenoiseFilter({ filterTimeUs: NaN })).toThrow(RangeError);
    expect(() => new DenoiseFilter({ filterTimeUs: 10, connectivity: 6 as 8 })).toThrow(RangeError);
  });
});
