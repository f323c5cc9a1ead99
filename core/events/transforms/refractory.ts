/**
 * Refractory filter: an event is dropped when its pixel's reference time is less than `periodUs` before it
 * (both polarities share the pixel). The reference time is, per `restartOn`:
 *   'passed' (default) — the last event that passed: a pixel fires at most once per period, like a neuron's
 *                        dead time; an event exactly `periodUs` later passes.
 *   'every'            — the last event of any kind, so a pixel firing faster than the period stays silent
 *                        (tonic's `refractory_period_numpy` snapshot does this, with a strict `>` and a first
 *                        reference at t = 0, so it even drops an event at t = 0; we start from −∞).
 * The state is explicit, so filtering a stream packet by packet equals filtering it in one go.
 * Events outside the geometry are dropped (see ./index.ts).
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { checkFinite, checkGeometry, outputPacket, type StatefulEventTransform } from './types.ts';

export interface RefractoryState {
  readonly geometry: Readonly<SensorGeometry>;
  /** Reference time per pixel (see `restartOn`), row-major (y·W + x); −∞ before any. */
  readonly lastTime: Float64Array;
}

export function createRefractoryState(geometry: SensorGeometry): RefractoryState {
  checkGeometry(geometry);
  return {
    geometry: Object.freeze({ width: geometry.width, height: geometry.height }),
    lastTime: new Float64Array(geometry.width * geometry.height).fill(-Infinity),
  };
}

export type RefractoryRestart = 'passed' | 'every';

/** Kernel: the events of `pk` that pass, into `out` (may be `pk`) or a new packet; updates `state`. */
export function refractoryFilter(
  pk: EventPacket, periodUs: number, state: RefractoryState, out?: EventPacket, restartOn: RefractoryRestart = 'passed',
): EventPacket {
  const o = outputPacket(pk, out);
  const W = state.geometry.width, H = state.geometry.height;
  const last = state.lastTime;
  const every = restartOn === 'every';
  const { x, y, t, p } = pk;
  const ox = o.x, oy = o.y, ot = o.t, op = o.p;
  const n = pk.length;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i], yi = y[i];
    if (xi >= W || yi >= H) continue;
    const idx = yi * W + xi;
    const ti = t[i];
    if (ti - last[idx] < periodUs) {
      if (every) last[idx] = ti;
      continue;
    }
    last[idx] = ti;
    ox[k] = xi;
    oy[k] = yi;
    ot[k] = ti;
    op[k] = p[i];
    k++;
  }
  o.length = k;
  return o;
}

export class RefractoryFilter implements StatefulEventTransform<RefractoryState> {
  readonly name = 'RefractoryFilter';
  readonly periodUs: number;
  readonly restartOn: RefractoryRestart;
  constructor(opts: { periodUs: number; restartOn?: RefractoryRestart }) {
    checkFinite(opts.periodUs, 'periodUs', 0);
    if (opts.restartOn !== undefined && opts.restartOn !== 'passed' && opts.restartOn !== 'every') {
      throw new RangeError(`restartOn must be 'passed' | 'every', got ${String(opts.restartOn)}`);
    }
    this.periodUs = opts.periodUs;
    this.restartOn = opts.restartOn ?? 'passed';
    Object.freeze(this);
  }
  createState(geometry: SensorGeometry): RefractoryState {
    return createRefractoryState(geometry);
  }
  apply(pk: EventPacket, state: RefractoryState, out?: EventPacket): EventPacket {
    return refractoryFilter(pk, this.periodUs, state, out, this.restartOn);
  }
}
