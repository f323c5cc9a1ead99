import { describe, expect, it } from 'vitest';
import { Crop, centerCropBox, cropEvents } from '../../../../core/events/transforms/index.ts';
import { allocPacket } from '../../../../core/events/packet.ts';
import { packet, tuples } from './make-packet.ts';

describe('crop', () => {
  const input = packet([
    [10, 0, 0, 1], // outside (left/top)
    [11, 2, 1, 0], // inside → (0, 0)
    [12, 4, 2, 1], // inside → (2, 1)
    [13, 5, 2, 1], // x = 5 is the box's exclusive right edge → out
    [14, 3, 3, 0], // y = 3 is the exclusive bottom edge → out
    [15, 3, 2, 0], // inside → (1, 1)
  ]);
  const box = { x: 2, y: 1, width: 3, height: 2 };

  it('keeps events inside the box, shifted to box coordinates', () => {
    const out = cropEvents(input, box);
    expect(tuples(out)).toEqual([
      [11, 0, 0, 0],
      [12, 2, 1, 1],
      [15, 1, 1, 0],
    ]);
    expect(input.x[1]).toBe(2); // input untouched
  });

  it('writes into a provided packet, or in place when out === input', () => {
    const out = allocPacket(10);
    expect(tuples(cropEvents(input, box, out))).toHaveLength(3);
    expect(out.length).toBe(3);
    const copy = packet(tuples(input));
    cropEvents(copy, box, copy);
    expect(tuples(copy)).toEqual([
      [11, 0, 0, 0],
      [12, 2, 1, 1],
      [15, 1, 1, 0],
    ]);
    expect(() => cropEvents(input, box, allocPacket(2))).toThrow(/capacity 2 < input length 6/);
  });

  it('wrapper: geometry is the box size; a box larger than the sensor is refused', () => {
    const c = new Crop(box);
    expect(c.outputGeometry({ width: 8, height: 4 })).toEqual({ width: 3, height: 2 });
    expect(() => c.outputGeometry({ width: 4, height: 4 })).toThrow(RangeError);
    expect(() => new Crop({ x: -1, y: 0, width: 2, height: 2 })).toThrow(RangeError);
    expect(Object.isFrozen(c.box)).toBe(true);
    expect(tuples(c.apply(input))).toHaveLength(3);
  });

  it('centerCropBox rounds offsets down, W ≠ H', () => {
    expect(centerCropBox({ width: 346, height: 260 }, { width: 128, height: 128 })).toEqual({ x: 109, y: 66, width: 128, height: 128 });
    expect(centerCropBox({ width: 5, height: 4 }, { width: 2, height: 3 })).toEqual({ x: 1, y: 0, width: 2, height: 3 });
    expect(() => centerCropBox({ width: 5, height: 4 }, { width: 6, height: 1 })).toThrow(RangeError);
  });
});
