/**
 * Shared shapes and helpers of the transforms (conventions are documented once, in ./index.ts).
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { allocPacket } from '../packet.ts';

/** A stateless event → event transform: a frozen config plus a call into a pure kernel. */
export interface EventTransform {
  readonly name: string;
  /** Geometry of the output events, given the geometry of the input. */
  outputGeometry(input: SensorGeometry): SensorGeometry;
  /** Returns a new packet, or writes into `out` (capacity ≥ pk.length; `out === pk` filters in place). */
  apply(pk: EventPacket, out?: EventPacket): EventPacket;
}

/** A transform whose result depends on earlier packets; the state is explicit so batch == streaming. */
export interface StatefulEventTransform<S> {
  readonly name: string;
  createState(geometry: SensorGeometry): S;
  apply(pk: EventPacket, state: S, out?: EventPacket): EventPacket;
}

/** Binned frames, (T, P, H, W) in one Float32Array — layout and channel order in ./index.ts. */
export interface FrameStack {
  data: Float32Array;
  /** T: number of bins. */
  frames: number;
  /** P: 2 (channel 0 = OFF, 1 = ON) or 1 (polarities merged). */
  channels: number;
  /** H: sensor rows. */
  height: number;
  /** W: sensor columns. */
  width: number;
  /**
   * Per-bin time bounds in µs. Time modes: the half-open bin [binStart, binEnd).
   * Event-count mode: t of the bin's first and last event (both inclusive).
   */
  binStart: Float64Array;
  binEnd: Float64Array;
}

/** Largest geometry side we accept: coordinates are Uint16. */
const MAX_SIDE = 65_536;

/** Throws a RangeError unless `g` is a positive integer size that Uint16 coordinates can address. */
export function checkGeometry(g: SensorGeometry, what = 'geometry'): void {
  const ok = (v: number) => Number.isInteger(v) && v > 0 && v <= MAX_SIDE;
  if (!g || !ok(g.width) || !ok(g.height)) {
    throw new RangeError(`${what} must be {width, height} with integers in 1..${MAX_SIDE}, got ${JSON.stringify(g)}`);
  }
}

/** Output packet for a filter over `pk`: `out` after a capacity check, or a fresh one of pk.length capacity. */
export function outputPacket(pk: EventPacket, out: EventPacket | undefined): EventPacket {
  if (!out) return allocPacket(pk.length);
  const cap = Math.min(out.x.length, out.y.length, out.t.length, out.p.length);
  if (cap < pk.length) throw new RangeError(`output packet capacity ${cap} < input length ${pk.length}`);
  return out;
}

/** Throws a RangeError unless `v` is a finite number ≥ `min` (time parameters in µs). */
export function checkFinite(v: number, what: string, min = -Infinity): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new RangeError(`${what} must be a finite number ≥ ${min}, got ${v}`);
}

/** Throws a RangeError unless `v` is an integer ≥ `min`. */
export function checkInt(v: number, what: string, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${what} must be an integer ≥ ${min}, got ${v}`);
}

/** Index of the first element of sorted `t[0..n)` that is ≥ `v` (n when none). */
export function lowerBound(t: Float64Array, n: number, v: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Throws a RangeError naming the first decrease, for kernels that binary-search time. */
export function checkSorted(t: Float64Array, n: number, what: string): void {
  for (let i = 1; i < n; i++) {
    if (t[i] < t[i - 1]) throw new RangeError(`${what} needs non-decreasing timestamps: t[${i}] = ${t[i]} < t[${i - 1}] = ${t[i - 1]}`);
  }
}

/**
 * End of the time span when the caller gives none: just past the last event. Timestamps are whole
 * microseconds in every format we read, so last + 1 µs makes the half-open span include the last event.
 */
export function defaultEndTime(t: Float64Array, n: number): number {
  return n === 0 ? -Infinity : t[n - 1] + 1;
}
