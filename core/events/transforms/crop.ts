/**
 * Crop to a box: keeps events inside it and moves them to box coordinates, so the output geometry is the
 * box's size (conventions in ./index.ts).
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { checkGeometry, checkInt, outputPacket, type EventTransform } from './types.ts';

/** A box in input pixel coordinates: columns [x, x + width), rows [y, y + height). */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Kernel: keeps events in `box`, shifted to box coordinates. Writes into `out` (may be `pk`) or a new packet. */
export function cropEvents(pk: EventPacket, box: CropBox, out?: EventPacket): EventPacket {
  const o = outputPacket(pk, out);
  const { x, y, t, p } = pk;
  const ox = o.x, oy = o.y, ot = o.t, op = o.p;
  const x0 = box.x, y0 = box.y, w = box.width, h = box.height;
  const n = pk.length;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - x0, dy = y[i] - y0;
    if (dx < 0 || dx >= w || dy < 0 || dy >= h) continue;
    // k ≤ i, so writing into the input itself (out === pk) never overwrites an unread event.
    ox[k] = dx;
    oy[k] = dy;
    ot[k] = t[i];
    op[k] = p[i];
    k++;
  }
  o.length = k;
  return o;
}

/** The centred box of `size` inside `geometry` (tonic's CenterCrop): offsets rounded down. */
export function centerCropBox(geometry: SensorGeometry, size: SensorGeometry): CropBox {
  checkGeometry(geometry);
  checkGeometry(size, 'crop size');
  if (size.width > geometry.width || size.height > geometry.height) {
    throw new RangeError(`crop ${size.width}×${size.height} is larger than the sensor ${geometry.width}×${geometry.height}`);
  }
  return {
    x: Math.floor((geometry.width - size.width) / 2),
    y: Math.floor((geometry.height - size.height) / 2),
    width: size.width,
    height: size.height,
  };
}

export class Crop implements EventTransform {
  readonly name = 'Crop';
  readonly box: Readonly<CropBox>;
  constructor(box: CropBox) {
    checkInt(box.x, 'crop x', 0);
    checkInt(box.y, 'crop y', 0);
    checkGeometry({ width: box.width, height: box.height }, 'crop size');
    this.box = Object.freeze({ x: box.x, y: box.y, width: box.width, height: box.height });
    Object.freeze(this);
  }
  /** The box's size; throws when the box does not fit the input sensor. */
  outputGeometry(input: SensorGeometry): SensorGeometry {
    checkGeometry(input);
    const b = this.box;
    if (b.x + b.width > input.width || b.y + b.height > input.height) {
      throw new RangeError(`crop box ${JSON.stringify(b)} does not fit the sensor ${input.width}×${input.height}`);
    }
    return { width: b.width, height: b.height };
  }
  apply(pk: EventPacket, out?: EventPacket): EventPacket {
    return cropEvents(pk, this.box, out);
  }
}
