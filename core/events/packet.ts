/**
 * The event model shared by every reader, writer, transform and the live path.
 *
 * Struct of arrays, never an object per event:
 *   x, y  Uint16Array   pixel column / row, origin TOP-LEFT (readers flip bottom-left formats)
 *   t     Float64Array  time in microseconds, exact (integers up to 2^53 µs ≈ 285 years are exact in a double)
 *   p     Uint8Array    polarity, 1 = ON (brightness increase), 0 = OFF
 * `length` is the number of valid events; the arrays may be longer (capacity).
 */

export interface EventPacket {
  x: Uint16Array;
  y: Uint16Array;
  t: Float64Array;
  p: Uint8Array;
  length: number;
}

/** Sensor size in pixels. Frames are laid out (P, H, W) with H = height rows and W = width columns. */
export interface SensorGeometry {
  width: number;
  height: number;
}

/** Default packet capacity: bounded so that memory never grows with file size (≈ 850 KiB per packet). */
export const DEFAULT_PACKET_CAPACITY = 65_536;

export function allocPacket(capacity: number): EventPacket {
  return {
    x: new Uint16Array(capacity),
    y: new Uint16Array(capacity),
    t: new Float64Array(capacity),
    p: new Uint8Array(capacity),
    length: 0,
  };
}

/** A packet viewing events [start, end) of `src` without copying. */
export function viewPacket(src: EventPacket, start: number, end: number): EventPacket {
  return {
    x: src.x.subarray(start, end),
    y: src.y.subarray(start, end),
    t: src.t.subarray(start, end),
    p: src.p.subarray(start, end),
    length: end - start,
  };
}

/** A packet holding a copy of events [start, end) of `src`, with exact-length arrays. */
export function copyPacket(src: EventPacket, start = 0, end = src.length): EventPacket {
  return {
    x: src.x.slice(start, end),
    y: src.y.slice(start, end),
    t: src.t.slice(start, end),
    p: src.p.slice(start, end),
    length: end - start,
  };
}

/**
 * Events per decode block of the fast readers. Their hot loops write a module-level scratch block and copy it
 * into the consumer's packet with `appendBlock` (a memcpy per array). Why: V8 (Node 20) reloads a typed
 * array's data pointer and length around every store when the array is a parameter, but folds them when the
 * array is a module-level constant; the decode loop then runs 2–3× faster, and the copy costs far less.
 * 2048 events × 13 bytes keeps the block in L1/L2.
 */
export const DECODE_BLOCK = 2048;

/** Scratch arrays of one decode block (allocate once per module, at module level). */
export function allocBlock(): EventPacket {
  return allocPacket(DECODE_BLOCK);
}

/** Appends events [0, n) of the scratch arrays to `out` (n ≤ room in out). */
export function appendBlock(out: EventPacket, x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, n: number): void {
  if (n === 0) return;
  const k = out.length;
  if (n === x.length) {
    out.x.set(x, k);
    out.y.set(y, k);
    out.t.set(t, k);
    out.p.set(p, k);
  } else {
    out.x.set(x.subarray(0, n), k);
    out.y.set(y.subarray(0, n), k);
    out.t.set(t.subarray(0, n), k);
    out.p.set(p.subarray(0, n), k);
  }
  out.length = k + n;
}

/** Concatenates packets into one exact-length packet. */
export function concatPackets(packets: readonly EventPacket[]): EventPacket {
  let n = 0;
  for (const pk of packets) n += pk.length;
  const out = allocPacket(n);
  let o = 0;
  for (const pk of packets) {
    const k = pk.length;
    out.x.set(pk.x.subarray(0, k), o);
    out.y.set(pk.y.subarray(0, k), o);
    out.t.set(pk.t.subarray(0, k), o);
    out.p.set(pk.p.subarray(0, k), o);
    o += k;
  }
  out.length = n;
  return out;
}

/** Builds packets of at most `capacity` events; decoders push into the current packet and flush when full. */
export class PacketBuilder {
  readonly capacity: number;
  current: EventPacket;

  constructor(capacity = DEFAULT_PACKET_CAPACITY) {
    if (!(capacity > 0)) throw new RangeError(`packet capacity must be > 0, got ${capacity}`);
    this.capacity = capacity;
    this.current = allocPacket(capacity);
  }

  /** Room left in the current packet. */
  get room(): number {
    return this.capacity - this.current.length;
  }

  /** Appends one event (convenience for slow paths; hot loops write the arrays directly). */
  push(x: number, y: number, t: number, p: number): void {
    const c = this.current;
    const i = c.length;
    c.x[i] = x;
    c.y[i] = y;
    c.t[i] = t;
    c.p[i] = p;
    c.length = i + 1;
  }

  get full(): boolean {
    return this.current.length >= this.capacity;
  }

  /** Returns the current packet (trimmed to its length) and starts a new one; null when empty. */
  take(): EventPacket | null {
    const c = this.current;
    if (c.length === 0) return null;
    this.current = allocPacket(this.capacity);
    return c.length === this.capacity ? c : viewPacket(c, 0, c.length);
  }
}

/** Summary statistics used by `egru info` and tests. Sums are exact below 2^53. */
export interface EventStats {
  count: number;
  on: number;
  tFirst: number;
  tLast: number;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  sumX: number;
  sumY: number;
  /** Σ (t_i − t_0), t_0 the first event's time. */
  sumTMinusT0: number;
  /** True when timestamps never decrease. */
  monotonic: boolean;
}

export function emptyStats(): EventStats {
  return {
    count: 0, on: 0, tFirst: NaN, tLast: NaN, xMin: Infinity, xMax: -Infinity, yMin: Infinity, yMax: -Infinity,
    sumX: 0, sumY: 0, sumTMinusT0: 0, monotonic: true,
  };
}

/** Folds a packet into running statistics (streaming: call once per packet). */
export function accumulateStats(s: EventStats, pk: EventPacket): EventStats {
  const n = pk.length;
  if (n === 0) return s;
  const { x, y, t, p } = pk;
  if (s.count === 0) s.tFirst = t[0];
  const t0 = s.tFirst;
  let prev = s.count === 0 ? t[0] : s.tLast;
  let on = 0, sx = 0, sy = 0, st = 0;
  let xMin = s.xMin, xMax = s.xMax, yMin = s.yMin, yMax = s.yMax;
  let mono = s.monotonic;
  for (let i = 0; i < n; i++) {
    const xi = x[i], yi = y[i], ti = t[i];
    on += p[i];
    sx += xi;
    sy += yi;
    st += ti - t0;
    if (xi < xMin) xMin = xi;
    if (xi > xMax) xMax = xi;
    if (yi < yMin) yMin = yi;
    if (yi > yMax) yMax = yi;
    if (ti < prev) mono = false;
    prev = ti;
  }
  s.count += n;
  s.on += on;
  s.sumX += sx;
  s.sumY += sy;
  s.sumTMinusT0 += st;
  s.tLast = t[n - 1];
  s.xMin = xMin; s.xMax = xMax; s.yMin = yMin; s.yMax = yMax;
  s.monotonic = mono;
  return s;
}
