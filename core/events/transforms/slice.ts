/**
 * Time slicing: cut a packet into windows by time or by event count. Returns index ranges into the packet
 * (view them with `viewPacket(pk, starts[i], ends[i])`), never copies.
 */
import type { EventPacket } from '../packet.ts';
import { checkFinite, checkInt, checkSorted, defaultEndTime, lowerBound } from './types.ts';

/** Most windows one call returns (a corrupt far-future timestamp must not allocate gigabytes of ranges). */
const MAX_WINDOWS = 2 ** 26;

/** Half-open index ranges [starts[i], ends[i]) plus the time window each came from. */
export interface SliceRanges {
  count: number;
  starts: Uint32Array;
  ends: Uint32Array;
  /** Window bounds in µs, [tStart, tEnd). By-count slices: t of the first and last event (inclusive). */
  tStart: Float64Array;
  tEnd: Float64Array;
}

export interface TimeSliceOptions {
  /** Window length in µs (> 0). */
  windowUs: number;
  /** Start of the first window, µs. Explicit on purpose: windows anchored at the first event drift (tonic#264). */
  startTime: number;
  /** End of the span, µs, exclusive; default: last event's t + 1 µs. */
  endTime?: number;
  /** Overlap of consecutive windows in µs, 0 ≤ overlap < window (default 0). */
  overlapUs?: number;
  /** Keep windows that reach past `endTime` (cut at endTime). Default false. */
  includeIncomplete?: boolean;
}

/**
 * Window k is [startTime + k·step, startTime + k·step + windowUs) with step = windowUs − overlapUs.
 * Complete windows end ≤ endTime; with `includeIncomplete`, windows that start before endTime are added too.
 * Needs non-decreasing timestamps (binary search; checked, RangeError otherwise).
 */
export function sliceByTime(t: Float64Array, n: number, opts: TimeSliceOptions): SliceRanges {
  const { windowUs, startTime } = opts;
  const overlap = opts.overlapUs ?? 0;
  checkFinite(windowUs, 'windowUs');
  if (!(windowUs > 0)) throw new RangeError(`windowUs must be > 0, got ${windowUs}`);
  checkFinite(startTime, 'startTime');
  checkFinite(overlap, 'overlapUs', 0);
  if (overlap >= windowUs) throw new RangeError(`overlapUs (${overlap}) must be < windowUs (${windowUs})`);
  const end = opts.endTime ?? defaultEndTime(t, n);
  if (opts.endTime !== undefined) checkFinite(end, 'endTime');
  checkSorted(t, n, 'sliceByTime');
  const count = windowCount(end - startTime, windowUs, windowUs - overlap, opts.includeIncomplete ?? false);
  if (count > MAX_WINDOWS) throw new RangeError(`sliceByTime: ${count} windows over [${startTime}, ${end}) µs is more than ${MAX_WINDOWS}`);
  const out = allocRanges(count);
  const step = windowUs - overlap;
  for (let k = 0; k < count; k++) {
    const a = startTime + k * step;
    const b = Math.min(a + windowUs, end);
    out.starts[k] = lowerBound(t, n, a);
    out.ends[k] = lowerBound(t, n, b);
    out.tStart[k] = a;
    out.tEnd[k] = b;
  }
  return out;
}

/**
 * Number of windows of length `window`, advancing by `step`, over a span of `span` µs: complete ones, plus
 * the ones that start inside the span but reach past it when `includeIncomplete`.
 */
export function windowCount(span: number, window: number, step: number, includeIncomplete: boolean): number {
  if (!(span > 0)) return 0;
  // Windows starting before the span's end (a superset of the complete ones).
  if (includeIncomplete) return Math.ceil(span / step);
  return span >= window ? Math.floor((span - window) / step) + 1 : 0;
}

export interface CountSliceOptions {
  /** Events per slice (≥ 1). */
  count: number;
  /** Events shared by consecutive slices, 0 ≤ overlap < count (default 0). */
  overlap?: number;
  /** Keep a last slice with fewer than `count` events. Default false. */
  includeIncomplete?: boolean;
  /** Only events with startTime ≤ t < endTime are sliced (needs non-decreasing t; checked). */
  startTime?: number;
  endTime?: number;
}

/** Slices of `count` consecutive events, advancing by count − overlap. */
export function sliceByCount(t: Float64Array, n: number, opts: CountSliceOptions): SliceRanges {
  const { count } = opts;
  const overlap = opts.overlap ?? 0;
  checkInt(count, 'count', 1);
  checkInt(overlap, 'overlap', 0);
  if (overlap >= count) throw new RangeError(`overlap (${overlap}) must be < count (${count})`);
  let i0 = 0, i1 = n;
  if (opts.startTime !== undefined || opts.endTime !== undefined) {
    checkSorted(t, n, 'sliceByCount with a time range');
    if (opts.startTime !== undefined) i0 = lowerBound(t, n, opts.startTime);
    if (opts.endTime !== undefined) i1 = Math.max(i0, lowerBound(t, n, opts.endTime));
  }
  const m = i1 - i0;
  const step = count - overlap;
  const k = windowCount(m, count, step, opts.includeIncomplete ?? false);
  const out = allocRanges(k);
  for (let j = 0; j < k; j++) {
    const a = i0 + j * step;
    const b = Math.min(a + count, i1);
    out.starts[j] = a;
    out.ends[j] = b;
    out.tStart[j] = t[a];
    out.tEnd[j] = t[b - 1];
  }
  return out;
}

function allocRanges(count: number): SliceRanges {
  return {
    count,
    starts: new Uint32Array(count),
    ends: new Uint32Array(count),
    tStart: new Float64Array(count),
    tEnd: new Float64Array(count),
  };
}

/** Frozen-config wrapper: slices a packet by time. */
export class SliceByTime {
  readonly name = 'SliceByTime';
  readonly config: Readonly<TimeSliceOptions>;
  constructor(opts: TimeSliceOptions) {
    this.config = Object.freeze({ ...opts });
    sliceByTime(new Float64Array(0), 0, this.config); // validates now, not at first use
    Object.freeze(this);
  }
  apply(pk: EventPacket): SliceRanges {
    return sliceByTime(pk.t, pk.length, this.config);
  }
}

/** Frozen-config wrapper: slices a packet by event count. */
export class SliceByCount {
  readonly name = 'SliceByCount';
  readonly config: Readonly<CountSliceOptions>;
  constructor(opts: CountSliceOptions) {
    this.config = Object.freeze({ ...opts });
    sliceByCount(new Float64Array(0), 0, this.config);
    Object.freeze(this);
  }
  apply(pk: EventPacket): SliceRanges {
    return sliceByCount(pk.t, pk.length, this.config);
  }
}
