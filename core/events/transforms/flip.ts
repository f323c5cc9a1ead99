/**
 * Mirror events horizontally and/or vertically inside the sensor. Also the way to bring a bottom-left-origin
 * source to our top-left convention (flip y). Events outside the geometry are dropped (see ./index.ts).
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { checkGeometry, outputPacket, type EventTransform } from './types.ts';

export interface FlipAxes {
  /** x → width − 1 − x (left ↔ right). */
  x?: boolean;
  /** y → height − 1 − y (top ↔ bottom). */
  y?: boolean;
}

/** Kernel: mirrored copy of `pk` (into `out`, which may be `pk`). */
export function flipEvents(pk: EventPacket, geometry: SensorGeometry, axes: FlipAxes, out?: EventPacket): EventPacket {
  const o = outputPacket(pk, out);
  const W = geometry.width, H = geometry.height;
  // x' = ax + sx·x: (W−1) − x when flipping, 0 + x otherwise; no per-event branch on the options.
  const ax = axes.x ? W - 1 : 0, sx = axes.x ? -1 : 1;
  const ay = axes.y ? H - 1 : 0, sy = axes.y ? -1 : 1;
  const { x, y, t, p } = pk;
  const ox = o.x, oy = o.y, ot = o.t, op = o.p;
  const n = pk.length;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i], yi = y[i];
    if (xi >= W || yi >= H) continue;
    ox[k] = ax + sx * xi;
    oy[k] = ay + sy * yi;
    ot[k] = t[i];
    op[k] = p[i];
    k++;
  }
  o.length = k;
  return o;
}

export class Flip implements EventTransform {
  readonly name = 'Flip';
  readonly config: Readonly<{ geometry: Readonly<SensorGeometry>; x: boolean; y: boolean }>;
  constructor(opts: { geometry: SensorGeometry } & FlipAxes) {
    checkGeometry(opts.geometry);
    this.config = Object.freeze({
      geometry: Object.freeze({ width: opts.geometry.width, height: opts.geometry.height }),
      x: opts.x ?? false,
      y: opts.y ?? false,
    });
    Object.freeze(this);
  }
  /** Unchanged: the configured sensor (the one the mirror axis is taken from). */
  outputGeometry(_input: SensorGeometry): SensorGeometry {
    return { width: this.config.geometry.width, height: this.config.geometry.height };
  }
  apply(pk: EventPacket, out?: EventPacket): EventPacket {
    return flipEvents(pk, this.config.geometry, this.config, out);
  }
}
