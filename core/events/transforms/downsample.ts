/**
 * Spatial downsampling: coordinates scaled to a smaller grid, every event kept (several input pixels map to one
 * output pixel; counting them is ToFrame's job). Either an integer factor per axis (x' = ⌊x / f⌋, output
 * ⌈W / f⌉ wide) or a target size (x' = ⌊x · W' / W⌋, exact integer arithmetic). Events outside the input
 * geometry are dropped (see ./index.ts).
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { checkGeometry, checkInt, outputPacket, type EventTransform } from './types.ts';

export type DownsampleSpec =
  | { factor: number | { x: number; y: number } }
  | { target: SensorGeometry };

/** Per-axis lookup tables old coordinate → new coordinate: the hot loop does two loads, no division. */
export interface DownsampleMaps {
  input: SensorGeometry;
  output: SensorGeometry;
  xMap: Uint16Array;
  yMap: Uint16Array;
}

export function downsampleMaps(input: SensorGeometry, spec: DownsampleSpec): DownsampleMaps {
  checkGeometry(input);
  const W = input.width, H = input.height;
  let xMap: Uint16Array, yMap: Uint16Array, output: SensorGeometry;
  if ('factor' in spec) {
    const fx = typeof spec.factor === 'number' ? spec.factor : spec.factor.x;
    const fy = typeof spec.factor === 'number' ? spec.factor : spec.factor.y;
    checkInt(fx, 'downsample factor x', 1);
    checkInt(fy, 'downsample factor y', 1);
    output = { width: Math.ceil(W / fx), height: Math.ceil(H / fy) };
    xMap = Uint16Array.from({ length: W }, (_, i) => Math.floor(i / fx));
    yMap = Uint16Array.from({ length: H }, (_, i) => Math.floor(i / fy));
  } else {
    checkGeometry(spec.target, 'downsample target');
    const w2 = spec.target.width, h2 = spec.target.height;
    if (w2 > W || h2 > H) throw new RangeError(`downsample target ${w2}×${h2} is larger than the input ${W}×${H}`);
    output = { width: w2, height: h2 };
    xMap = Uint16Array.from({ length: W }, (_, i) => Math.floor((i * w2) / W));
    yMap = Uint16Array.from({ length: H }, (_, i) => Math.floor((i * h2) / H));
  }
  return { input: { width: W, height: H }, output, xMap, yMap };
}

/** Kernel: maps coordinates through the tables (into `out`, which may be `pk`). */
export function downsampleEvents(pk: EventPacket, maps: DownsampleMaps, out?: EventPacket): EventPacket {
  const o = outputPacket(pk, out);
  const { xMap, yMap } = maps;
  const W = maps.input.width, H = maps.input.height;
  const { x, y, t, p } = pk;
  const ox = o.x, oy = o.y, ot = o.t, op = o.p;
  const n = pk.length;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i], yi = y[i];
    if (xi >= W || yi >= H) continue;
    ox[k] = xMap[xi];
    oy[k] = yMap[yi];
    ot[k] = t[i];
    op[k] = p[i];
    k++;
  }
  o.length = k;
  return o;
}

export class Downsample implements EventTransform {
  readonly name = 'Downsample';
  readonly maps: Readonly<DownsampleMaps>;
  constructor(opts: { geometry: SensorGeometry } & DownsampleSpec) {
    this.maps = Object.freeze(downsampleMaps(opts.geometry, opts));
    Object.freeze(this);
  }
  outputGeometry(_input: SensorGeometry): SensorGeometry {
    return { ...this.maps.output };
  }
  apply(pk: EventPacket, out?: EventPacket): EventPacket {
    return downsampleEvents(pk, this.maps, out);
  }
}
