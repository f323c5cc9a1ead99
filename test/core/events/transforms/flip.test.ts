import { describe, expect, it } from 'vitest';
import { Flip, flipEvents } from '../../../../core/events/transforms/index.ts';
import { packet, tuples } from './make-packet.ts';

describe('flip', () => {
  const g = { width: 5, height: 3 };
  const input = packet([
    [1, 0, 0, 1],
    [2, 4, 1, 0],
    [3, 1, 2, 1],
    [4, 5, 0, 1], // x = 5 outside a 5-wide sensor: dropped, not mirrored to −1
  ]);

  it('mirrors x, y, or both', () => {
    expect(tuples(flipEvents(input, g, { x: true }))).toEqual([[1, 4, 0, 1], [2, 0, 1, 0], [3, 3, 2, 1]]);
    expect(tuples(flipEvents(input, g, { y: true }))).toEqual([[1, 0, 2, 1], [2, 4, 1, 0], [3, 1, 0, 1]]);
    expect(tuples(flipEvents(input, g, { x: true, y: true }))).toEqual([[1, 4, 2, 1], [2, 0, 1, 0], [3, 3, 0, 1]]);
    expect(tuples(flipEvents(input, g, {}))).toEqual([[1, 0, 0, 1], [2, 4, 1, 0], [3, 1, 2, 1]]);
  });

  it('is its own inverse and leaves the input alone', () => {
    const f = new Flip({ geometry: g, x: true, y: true });
    const once = f.apply(input);
    expect(tuples(f.apply(once))).toEqual(tuples(input).slice(0, 3));
    expect(input.x[1]).toBe(4);
    expect(f.outputGeometry(g)).toEqual(g);
  });

  it('bottom-left source → top-left convention is a y flip', () => {
    // A DVS128 event at BL row 0 (bottom row) is TL row 127.
    const bl = packet([[0, 10, 0, 1], [1, 10, 127, 0]]);
    expect(tuples(flipEvents(bl, { width: 128, height: 128 }, { y: true }))).toEqual([[0, 10, 127, 1], [1, 10, 0, 0]]);
  });
});
