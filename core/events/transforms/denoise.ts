/**
 * Background-activity denoise (DV `BackgroundActivityNoiseFilter`, tonic `Denoise`): an event passes when one of
 * its 8 neighbours (3×3 neighbourhood, the pixel itself excluded) had an event less than `filterTimeUs` before
 * it. Isolated noise has no such support. Every event — passed or not — then stamps its own pixel.
 * `connectivity: 4` looks only left/right/up/down, as tonic's `denoise_numpy` does (tonic also starts every
 * pixel at t = filter_time, which passes everything in the first filter_time µs; we start from −∞).
 * O(n) with a per-pixel last-timestamp map; the map has a one-pixel border that never fires, so the 8 reads
 * need no edge tests. State is explicit: packet-by-packet filtering equals filtering the whole stream.
 * Events outside the geometry are dropped (see ./index.ts).
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { checkFinite, checkGeometry, outputPacket, type StatefulEventTransform } from './types.ts';

export interface DenoiseState {
  readonly geometry: Readonly<SensorGeometry>;
  /** Row stride of `lastTime` (width + 2). */
  readonly stride: number;
  /** Last event time per pixel, (height + 2) × (width + 2) with a −∞ border; pixel (x, y) is at (y+1)·stride + x+1. */
  readonly lastTime: Float64Array;
}

export function createDenoiseState(geometry: SensorGeometry): DenoiseState {
  checkGeometry(geometry);
  const stride = geometry.width + 2;
  return {
    geometry: Object.freeze({ width: geometry.width, height: geometry.height }),
    stride,
    lastTime: new Float64Array(stride * (geometry.height + 2)).fill(-Infinity),
  };
}

/** Kernel: the supported events of `pk`, into `out` (may be `pk`) or a new packet; updates `state`. */
export function denoiseFilter(
  pk: EventPacket, filterTimeUs: number, state: DenoiseState, out?: EventPacket, connectivity: 4 | 8 = 8,
): EventPacket {
  const o = outputPacket(pk, out);
  const W = state.geometry.width, H = state.geometry.height;
  const S = state.stride;
  const m = state.lastTime;
  const { x, y, t, p } = pk;
  const ox = o.x, oy = o.y, ot = o.t, op = o.p;
  const n = pk.length;
  const eight = connectivity === 8;
  if (connectivity !== 4 && connectivity !== 8) throw new RangeError(`connectivity must be 4 or 8, got ${String(connectivity)}`);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i], yi = y[i];
    if (xi >= W || yi >= H) continue;
    const c = (yi + 1) * S + xi + 1;
    const ti = t[i];
    // Most recent neighbour time; it supports the event when it is within filterTimeUs.
    let newest = Math.max(m[c - S], m[c - 1], m[c + 1], m[c + S]);
    if (eight) newest = Math.max(newest, m[c - S - 1], m[c - S + 1], m[c + S - 1], m[c + S + 1]);
    m[c] = ti;
    if (!(ti - newest < filterTimeUs)) continue;
    ox[k] = xi;
    oy[k] = yi;
    ot[k] = ti;
    op[k] = p[i];
    k++;
  }
  o.length = k;
  return o;
}

export class DenoiseFilter implements StatefulEventTransform<DenoiseState> {
  readonly name = 'DenoiseFilter';
  readonly filterTimeUs: number;
  readonly connectivity: 4 | 8;
  constructor(opts: { filterTimeUs: number; connectivity?: 4 | 8 }) {
    checkFinite(opts.filterTimeUs, 'filterTimeUs', 0);
    const c = opts.connectivity ?? 8;
    if (c !== 4 && c !== 8) throw new RangeError(`connectivity must be 4 or 8, got ${String(c)}`);
    this.filterTimeUs = opts.filterTimeUs;
    this.connectivity = c;
    Object.freeze(this);
  }
  createState(geometry: SensorGeometry): DenoiseState {
    return createDenoiseState(geometry);
  }
  apply(pk: EventPacket, state: DenoiseState, out?: EventPacket): EventPacket {
    return denoiseFilter(pk, this.filterTimeUs, state, out, this.connectivity);
  }
}
