/**
 * ToFrame: per-pixel event counts in bins of time, of event count, or a fixed number of bins, as (T, P, H, W)
 * Float32 frames (layout in ./index.ts). Bins start at an explicit `startTime`, not at the first event
 * (tonic#264), and an event exactly on a bin edge belongs to the later bin (bins are half-open).
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { sliceByCount, sliceByTime, windowCount, type SliceRanges } from './slice.ts';
import { checkFinite, checkGeometry, checkInt, defaultEndTime, type FrameStack } from './types.ts';
import { checkKernel, eventsKernels } from '../codecs/events-native.ts';

/** 'split': P = 2 (0 = OFF, 1 = ON); 'sum': P = 1, every event +1; 'on-minus-off': P = 1, ON +1, OFF −1. */
export type PolarityMode = 'split' | 'sum' | 'on-minus-off';

interface FrameCommon {
  geometry: SensorGeometry;
  /** Default 'split'. */
  polarity?: PolarityMode;
  /**
   * Refuse outputs larger than this many bytes (default 2 GiB): a corrupt timestamp far in the future must
   * give a clear error, not an out-of-memory crash.
   */
  maxBytes?: number;
}

export const DEFAULT_MAX_FRAME_BYTES = 2 ** 31;

/** Bins [startTime + k·step, … + windowUs), step = windowUs − overlapUs; events outside [startTime, endTime) are ignored. */
export interface ByTime extends FrameCommon {
  by: 'time';
  windowUs: number;
  startTime: number;
  /** Exclusive end of the span; default last event's t + 1 µs. */
  endTime?: number;
  /** Default 0. With overlap > 0, timestamps must be non-decreasing (checked). */
  overlapUs?: number;
  /** Keep a last bin that reaches past endTime (it holds the events up to endTime). Default false, like tonic. */
  includeIncomplete?: boolean;
}

/** Bins of `count` consecutive events (optionally only those in [startTime, endTime)). */
export interface ByCount extends FrameCommon {
  by: 'count';
  count: number;
  overlap?: number;
  includeIncomplete?: boolean;
  startTime?: number;
  endTime?: number;
}

/** `bins` equal bins covering [startTime, endTime) exactly; endTime default last event's t + 1 µs. */
export interface ByBins extends FrameCommon {
  by: 'bins';
  bins: number;
  startTime: number;
  endTime?: number;
}

export type ToFrameOptions = ByTime | ByCount | ByBins;

/**
 * How a polarity byte becomes (channel offset, value added), computed branch-free in the hot loops — polarity is
 * random, so a branch on it would mispredict half the time. With on = −p >> 31 (0 for OFF, −1 i.e. all bits
 * set for any p ≠ 0): offset = on & onOffset, value = offValue + (on & onDelta).
 */
export interface PolarityCoding {
  channels: number;
  /** Added to the index of ON events: H·W in 'split' (channel 1), else 0. */
  onOffset: number;
  /** Value an OFF event adds: 1, or −1 in 'on-minus-off'. */
  offValue: number;
  /** ON value − OFF value: 0, or 2 in 'on-minus-off'. */
  onDelta: number;
}

export function polarityCoding(mode: PolarityMode, planeSize: number): PolarityCoding {
  if (mode === 'split') return { channels: 2, onOffset: planeSize, offValue: 1, onDelta: 0 };
  if (mode === 'sum') return { channels: 1, onOffset: 0, offValue: 1, onDelta: 0 };
  if (mode === 'on-minus-off') return { channels: 1, onOffset: 0, offValue: -1, onDelta: 2 };
  throw new RangeError(`polarity must be 'split' | 'sum' | 'on-minus-off', got ${String(mode)}`);
}

/** Validates options and returns the number of output bins T for this packet. */
function binCount(pk: EventPacket, o: ToFrameOptions): number {
  checkGeometry(o.geometry);
  polarityCoding(o.polarity ?? 'split', 0); // validates the mode
  if (o.by === 'time') {
    checkFinite(o.windowUs, 'windowUs');
    if (!(o.windowUs > 0)) throw new RangeError(`windowUs must be > 0, got ${o.windowUs}`);
    checkFinite(o.startTime, 'startTime');
    const overlap = o.overlapUs ?? 0;
    checkFinite(overlap, 'overlapUs', 0);
    if (overlap >= o.windowUs) throw new RangeError(`overlapUs (${overlap}) must be < windowUs (${o.windowUs})`);
    if (o.endTime !== undefined) checkFinite(o.endTime, 'endTime');
    const end = o.endTime ?? defaultEndTime(pk.t, pk.length);
    return windowCount(end - o.startTime, o.windowUs, o.windowUs - overlap, o.includeIncomplete ?? false);
  }
  if (o.by === 'bins') {
    checkInt(o.bins, 'bins', 1);
    checkFinite(o.startTime, 'startTime');
    if (o.endTime !== undefined) checkFinite(o.endTime, 'endTime');
    return o.bins;
  }
  if (o.by === 'count') {
    checkInt(o.count, 'count', 1);
    const overlap = o.overlap ?? 0;
    checkInt(overlap, 'overlap', 0);
    if (overlap >= o.count) throw new RangeError(`overlap (${overlap}) must be < count (${o.count})`);
    return -1; // known after slicing
  }
  throw new RangeError(`ToFrame 'by' must be 'time' | 'count' | 'bins', got ${String((o as { by: unknown }).by)}`);
}

/**
 * Bins one packet into frames. `out` (optional) is reused when large enough; it is zeroed first.
 * Memory: T·P·H·W floats — a 1.7 s slice at 25 ms of 128×128×2 is 68 × 128 KiB.
 */
export function toFrame(pk: EventPacket, o: ToFrameOptions, out?: Float32Array): FrameStack {
  let T = binCount(pk, o);
  const W = o.geometry.width, H = o.geometry.height;
  const coding = polarityCoding(o.polarity ?? 'split', W * H);
  const P = coding.channels;
  let slices: SliceRanges | null = null;
  if (o.by === 'count') {
    slices = sliceByCount(pk.t, pk.length, o);
    T = slices.count;
  } else if (o.by === 'time' && (o.overlapUs ?? 0) > 0) {
    slices = sliceByTime(pk.t, pk.length, o);
  }
  const size = T * P * H * W;
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (size * 4 > maxBytes) {
    throw new RangeError(
      `ToFrame: ${T} frames of ${P}×${H}×${W} need ${(size * 4 / 2 ** 20).toFixed(0)} MiB, over maxBytes ` +
        `(${(maxBytes / 2 ** 20).toFixed(0)} MiB); give an endTime, slice the recording first, or raise maxBytes`,
    );
  }
  let data: Float32Array;
  if (out && out.length >= size) {
    data = out.subarray(0, size);
    data.fill(0);
  } else {
    data = new Float32Array(size);
  }
  const stack: FrameStack = {
    data, frames: T, channels: P, height: H, width: W,
    binStart: new Float64Array(T), binEnd: new Float64Array(T),
  };
  if (T === 0) return stack;
  if (slices) {
    stack.binStart.set(slices.tStart.subarray(0, T));
    stack.binEnd.set(slices.tEnd.subarray(0, T));
    for (let k = 0; k < T; k++) accumulateRange(pk, slices.starts[k], slices.ends[k], data, k * P * H * W, W, H, coding);
    return stack;
  }
  // Time bins without overlap: one fused pass, any event order.
  const start = o.startTime as number;
  const spanEnd = o.endTime ?? defaultEndTime(pk.t, pk.length);
  if (!(spanEnd > start)) {
    // Empty span (no events and no endTime, or endTime ≤ startTime): n empty bins at startTime.
    stack.binStart.fill(start);
    stack.binEnd.fill(start);
    return stack;
  }
  const width = o.by === 'time' ? o.windowUs : (spanEnd - start) / T;
  // The last bin of n bins ends exactly at endTime (start + T·width may round below it).
  const last = o.by === 'bins' ? spanEnd : Math.min(start + T * width, spanEnd);
  for (let k = 0; k < T; k++) {
    stack.binStart[k] = start + k * width;
    stack.binEnd[k] = k === T - 1 ? last : Math.min(start + (k + 1) * width, last);
  }
  const k = eventsKernels();
  if (k && columnsHold(pk)) {
    checkKernel(k.binByTime(pk.x, pk.y, pk.t, pk.p, pk.length, data, start, width, T, last, W, H, P, coding.onOffset,
      coding.offValue, coding.onDelta), 'binByTime');
  } else {
    binByTime(pk, start, width, T, last, data, W, H, P, coding);
  }
  return stack;
}

/** The packet's columns are the contract's typed arrays and hold `length` events (what the native kernels need). */
export function columnsHold(pk: EventPacket): boolean {
  const n = pk.length;
  return pk.x instanceof Uint16Array && pk.y instanceof Uint16Array && pk.t instanceof Float64Array && pk.p instanceof Uint8Array &&
    n <= pk.x.length && n <= pk.y.length && n <= pk.t.length && n <= pk.p.length;
}

/**
 * The fused hot loop (TypeScript reference of the native `binByTime` in events_native.cc, which `toFrame` uses when
 * the addon is built; tests hold the two equal): bin k is [start + k·width, start + (k+1)·width) ∩ [start, last); T bins, the last one
 * ending at `last`.
 * The current bin's bounds are kept in registers, so sorted input costs two compares per event; an event
 * outside them (next bin, or out of order) recomputes its bin. Edges are always start + k·width, computed the
 * same way everywhere (FrameBinner too), so exact-edge events land identically in batch and streaming.
 */
export function binByTime(
  pk: EventPacket, start: number, width: number, T: number, last: number,
  data: Float32Array, W: number, H: number, P: number, coding: PolarityCoding,
): void {
  const { x, y, t, p } = pk;
  const n = pk.length;
  const plane = P * H * W;
  const onOffset = coding.onOffset, offValue = coding.offValue, onDelta = coding.onDelta;
  let lo = Infinity, hi = -Infinity, base = 0;
  for (let i = 0; i < n; i++) {
    const ti = t[i];
    if (!(ti >= lo && ti < hi)) {
      // Written so that NaN also lands here, and is then dropped by the range test.
      if (!(ti >= start && ti < last)) continue;
      let k = Math.floor((ti - start) / width);
      // Division may round across an edge; settle k against the edges themselves.
      if (k > T - 1) k = T - 1;
      while (k > 0 && ti < start + k * width) k--;
      while (k < T - 1 && ti >= start + (k + 1) * width) k++;
      lo = start + k * width;
      hi = k === T - 1 ? last : Math.min(start + (k + 1) * width, last);
      base = k * plane;
    }
    const xi = x[i], yi = y[i];
    if (xi >= W || yi >= H) continue; // outside the declared geometry: dropped (see index.ts)
    const on = -p[i] >> 31;
    data[base + (on & onOffset) + yi * W + xi] += offValue + (on & onDelta);
  }
}

/** Adds events [i0, i1) into the frame at `base` (any order). */
export function accumulateRange(
  pk: EventPacket, i0: number, i1: number, data: Float32Array, base: number, W: number, H: number, coding: PolarityCoding,
): void {
  const { x, y, p } = pk;
  const onOffset = coding.onOffset, offValue = coding.offValue, onDelta = coding.onDelta;
  for (let i = i0; i < i1; i++) {
    const xi = x[i], yi = y[i];
    if (xi >= W || yi >= H) continue;
    const on = -p[i] >> 31;
    data[base + (on & onOffset) + yi * W + xi] += offValue + (on & onDelta);
  }
}

/** Frozen-config wrapper around `toFrame`. */
export class ToFrame {
  readonly name = 'ToFrame';
  readonly config: Readonly<ToFrameOptions>;
  constructor(opts: ToFrameOptions) {
    this.config = Object.freeze({ ...opts, geometry: Object.freeze({ ...opts.geometry }) });
    binCount({ x: new Uint16Array(0), y: new Uint16Array(0), t: new Float64Array(0), p: new Uint8Array(0), length: 0 }, this.config);
    Object.freeze(this);
  }
  apply(pk: EventPacket, out?: Float32Array): FrameStack {
    return toFrame(pk, this.config, out);
  }
}
