/**
 * The shared fuzz harness for event readers (TEST-ONLY).
 *
 * `fuzzReader` mutates real or synthetic sample files (truncations, byte flips, extreme 32-bit values at random
 * and at size-field-like offsets, wrong magic, empty input), opens each case, iterates every packet and checks
 * the reader contract:
 *   - it succeeds, or fails with an `EventFormatError` (any other error — RangeError, TypeError, … — fails);
 *   - every packet has 0 ≤ length ≤ capacity, four arrays of one capacity, p ∈ {0,1} and finite t;
 *   - no packet's arrays sit on a buffer larger than the packet capacity warrants;
 *   - no single typed-array / ArrayBuffer allocation made while the case runs exceeds `maxAllocBytes`
 *     (see `trackAllocations`);
 *   - no case takes longer than `caseTimeMs` (a hang guard, checked per packet, not a speed assertion).
 * Failures throw an Error naming the format, the sample, the mutation and the seed, so a case can be replayed.
 */
import { EventFormatError } from '../../core/events/errors.ts';
import { openEvents } from '../../core/events/formats/index.ts';
import { DEFAULT_PACKET_CAPACITY, type EventPacket } from '../../core/events/packet.ts';
import type { EventReader } from '../../core/events/reader.ts';
import { Rng } from '../../core/util/rng.ts';

export interface FuzzOptions {
  /** Format id the unmutated samples must open as (checked first: a fuzz run on the wrong reader proves nothing). */
  format: string;
  /** Valid sample files of that format (keep them small: every case decodes a whole mutated copy). */
  samples: Uint8Array[];
  /** Random mutations in total, spread over the samples (default 2000). Truncations etc. come on top. */
  mutations?: number;
  seed?: number;
  /**
   * How a case is opened (default `openEvents(bytes, { packetCapacity })`, i.e. detection by content, with small
   * packets so that packet flushing is exercised too).
   */
  open?: (bytes: Uint8Array) => Promise<EventReader>;
  /** Hang guard per case in ms (default 2000). */
  caseTimeMs?: number;
  /**
   * Packet capacity the reader is opened with; bounds every packet's buffers. Default 1024 with the default
   * `open`, DEFAULT_PACKET_CAPACITY with a custom `open` (pass it when your `open` sets another capacity).
   */
  packetCapacity?: number;
  /**
   * Largest single allocation allowed while a case runs, as a function of the case's input length
   * (default: max(8 MiB, 64 × input)). Compressed formats may need more; say why where you raise it.
   */
  maxAllocBytes?: (inputLength: number) => number;
}

export interface FuzzResult {
  /** Cases that decoded to the end without error. */
  ok: number;
  /** Cases rejected with an EventFormatError (at open or while iterating). */
  typedErrors: number;
  cases: number;
}

/** Default packet capacity for fuzz cases: small, so that multi-packet paths run on small samples. */
export const DEFAULT_FUZZ_CAPACITY = 1024;

const EXTREMES = [0, 0x7fffffff, 0xffffffff, 0x80000000];

interface FuzzCase {
  what: string;
  bytes: Uint8Array;
}

/** Runs the fuzz campaign described in the module comment; throws on the first contract violation. */
export async function fuzzReader(opts: FuzzOptions): Promise<FuzzResult> {
  const seed = opts.seed ?? 1;
  const rng = new Rng(seed);
  // A custom `open` chooses its own capacity: then the bound is the library default unless told otherwise.
  const capacity = opts.packetCapacity ?? (opts.open ? DEFAULT_PACKET_CAPACITY : DEFAULT_FUZZ_CAPACITY);
  const open = opts.open ?? ((b: Uint8Array) => openEvents(b, { packetCapacity: capacity }));
  const caseTimeMs = opts.caseTimeMs ?? 2000;
  const maxAlloc = opts.maxAllocBytes ?? ((n: number) => Math.max(8 << 20, 64 * n));
  const mutations = opts.mutations ?? 2000;
  if (opts.samples.length === 0) throw new Error('fuzzReader: no samples');
  // Plain Uint8Array copies: Buffer.prototype.slice is a view, so mutating Buffer "copies" would corrupt the sample.
  const samples = opts.samples.map((s) => new Uint8Array(s));

  // Baseline: every unmutated sample must open as the format under test and decode cleanly.
  for (let i = 0; i < samples.length; i++) {
    const r = await open(samples[i]);
    try {
      if (r.info.format !== opts.format) {
        throw new Error(`fuzzReader: sample ${i} opens as '${r.info.format}', not '${opts.format}'`);
      }
      for await (const pk of r.packets()) checkPacket(pk, capacity, `baseline sample ${i}`);
    } finally {
      await r.close();
    }
  }

  const result: FuzzResult = { ok: 0, typedErrors: 0, cases: 0 };
  const run = async (sampleIndex: number, c: FuzzCase) => {
    const label = `${opts.format} fuzz (seed ${seed}) sample ${sampleIndex} [${c.bytes.length} B]: ${c.what}`;
    const outcome = await runCase(c.bytes, open, caseTimeMs, capacity, maxAlloc(c.bytes.length), label);
    result.cases++;
    if (outcome === 'ok') result.ok++;
    else result.typedErrors++;
  };

  await run(0, { what: 'zero-length input', bytes: new Uint8Array(0) });
  for (let s = 0; s < samples.length; s++) {
    const sample = samples[s];
    for (let k = 0; k < 64; k++) {
      const n = Math.floor((sample.length * k) / 64);
      await run(s, { what: `truncated to ${n} bytes (${k}/64)`, bytes: sample.slice(0, n) });
    }
    for (const m of wrongMagics(sample)) await run(s, m);
  }

  const hot = samples.map(sizeFieldLikeOffsets);
  for (let m = 0; m < mutations; m++) {
    const s = m % samples.length;
    const sample = samples[s];
    if (sample.length === 0) continue;
    await run(s, mutate(sample, hot[s], rng));
  }
  return result;
}

function wrongMagics(sample: Uint8Array): FuzzCase[] {
  const out: FuzzCase[] = [];
  if (sample.length === 0) return out;
  const a = sample.slice();
  a[0] ^= 0xff;
  out.push({ what: 'first byte inverted', bytes: a });
  const b = sample.slice();
  b.fill(0, 0, Math.min(16, b.length));
  out.push({ what: 'first 16 bytes zeroed', bytes: b });
  const c = sample.slice();
  for (let i = 0; i < Math.min(16, c.length); i++) if (c[i] >= 0x30 && c[i] <= 0x39) c[i] = 0x39 - (c[i] - 0x30);
  out.push({ what: 'digits in the first 16 bytes mirrored (version number changed)', bytes: c });
  return out;
}

/**
 * Offsets worth hitting with extreme values: the first 64 bytes, the 64 bytes after the last LF of an ASCII
 * prefix (where binary data usually starts), and positions whose 32-bit LE or BE value is in [8, length] —
 * what a size, count or offset field looks like. Bounded to 512 offsets.
 */
export function sizeFieldLikeOffsets(sample: Uint8Array): number[] {
  const set = new Set<number>();
  const n = sample.length;
  for (let i = 0; i < Math.min(64, n); i++) set.add(i);
  const scan = Math.min(n, 64 * 1024);
  let lastLf = -1;
  for (let i = 0; i < scan; i++) {
    const c = sample[i];
    if (c === 0x0a) lastLf = i;
    else if (c < 0x09 || (c > 0x0d && c < 0x20)) break; // first control byte: binary from here on
  }
  if (lastLf >= 0) for (let i = lastLf + 1; i < Math.min(n, lastLf + 65); i++) set.add(i);
  const dv = new DataView(sample.buffer, sample.byteOffset, sample.byteLength);
  const sizeLike: number[] = [];
  for (let i = 0; i + 4 <= scan; i++) {
    const le = dv.getUint32(i, true);
    const be = dv.getUint32(i, false);
    if ((le >= 8 && le <= n) || (be >= 8 && be <= n)) sizeLike.push(i);
  }
  const step = Math.max(1, Math.floor(sizeLike.length / 256));
  for (let i = 0; i < sizeLike.length; i += step) set.add(sizeLike[i]);
  return [...set].slice(0, 512);
}

function mutate(sample: Uint8Array, hot: number[], rng: Rng): FuzzCase {
  const bytes = sample.slice();
  const n = bytes.length;
  const kind = rng.int(3);
  if (kind === 0) {
    const k = 1 + rng.int(8);
    const where: number[] = [];
    for (let i = 0; i < k; i++) {
      const o = rng.int(n);
      bytes[o] ^= 1 + rng.int(255); // never a no-op
      where.push(o);
    }
    return { what: `${k} byte(s) flipped at ${where.join(',')}`, bytes };
  }
  const value = EXTREMES[rng.int(EXTREMES.length)];
  const le = rng.int(2) === 0;
  const o = kind === 1 ? rng.int(Math.max(1, n - 3)) : hot[rng.int(hot.length)];
  const dv = new DataView(bytes.buffer);
  if (o + 4 <= n) dv.setUint32(o, value, le);
  else for (let i = o; i < n; i++) bytes[i] = value & 0xff;
  return { what: `u32 ${le ? 'LE' : 'BE'} 0x${value.toString(16)} written at ${kind === 1 ? 'random' : 'size-like'} offset ${o}`, bytes };
}

async function runCase(
  bytes: Uint8Array,
  open: (b: Uint8Array) => Promise<EventReader>,
  caseTimeMs: number,
  capacity: number,
  maxAllocBytes: number,
  label: string,
): Promise<'ok' | 'typed'> {
  const t0 = performance.now();
  const elapsed = () => {
    const ms = performance.now() - t0;
    if (ms > caseTimeMs) throw new Error(`${label}: took ${ms.toFixed(0)} ms (> ${caseTimeMs} ms): hang or runaway loop`);
  };
  const { result, error, maxBytes } = await trackAllocations(async () => {
    const reader = await open(bytes);
    try {
      const fileSize = reader.info.fileSize;
      if (fileSize !== bytes.length) throw new Error(`info.fileSize ${fileSize} != input length ${bytes.length}`);
      const off = reader.info.dataOffset;
      if (!(off >= 0 && off <= fileSize)) throw new Error(`info.dataOffset ${off} outside [0, ${fileSize}]`);
      for await (const pk of reader.packets()) {
        checkPacket(pk, capacity, label);
        elapsed();
      }
    } finally {
      await reader.close();
    }
  });
  void result;
  elapsed();
  if (maxBytes > maxAllocBytes) {
    throw new Error(`${label}: allocated ${maxBytes} bytes in one piece (> ${maxAllocBytes} warranted by the input)`);
  }
  if (error === undefined) return 'ok';
  if (error instanceof EventFormatError) return 'typed';
  const e = error as Error;
  throw new Error(`${label}: threw ${e?.name ?? typeof e} instead of EventFormatError: ${e?.message ?? String(e)}`, { cause: e });
}

/** Asserts the packet shape contract (see module comment). */
export function checkPacket(pk: EventPacket, capacity: number, label: string): void {
  const n = pk.length;
  const cap = pk.x.length;
  if (!Number.isInteger(n) || n < 0 || n > cap) throw new Error(`${label}: packet length ${n} outside [0, ${cap}]`);
  if (pk.y.length !== cap || pk.t.length !== cap || pk.p.length !== cap) {
    throw new Error(`${label}: incoherent packet arrays x ${pk.x.length} y ${pk.y.length} t ${pk.t.length} p ${pk.p.length}`);
  }
  if (cap > capacity) throw new Error(`${label}: packet capacity ${cap} > requested ${capacity}`);
  if (pk.t.buffer.byteLength > capacity * 8 || pk.x.buffer.byteLength > capacity * 2 || pk.p.buffer.byteLength > capacity) {
    throw new Error(`${label}: packet arrays view a buffer larger than the packet capacity ${capacity}`);
  }
  const { t, p } = pk;
  for (let i = 0; i < n; i++) {
    if (p[i] > 1) throw new Error(`${label}: polarity ${p[i]} at event ${i} (must be 0 or 1)`);
    if (!Number.isFinite(t[i])) throw new Error(`${label}: non-finite timestamp at event ${i}`);
  }
}

const TRACKED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Uint16Array', 'Int16Array',
  'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
] as const;

/**
 * Runs `fn` while the global ArrayBuffer and typed-array constructors are wrapped to record the largest
 * single allocation made through them (`new X(n)`, `new X(arrayLike)`, `X.from`, `slice` via species is NOT
 * seen). This catches the classic bug — sizing a buffer from an unvalidated header field — which stays
 * invisible to RSS because untouched zero pages are never committed. Allocations inside Node internals or
 * native addons are not seen. Constructors are restored afterwards; errors from `fn` are returned, not thrown.
 */
export async function trackAllocations<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; maxBytes: number }> {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = new Map<string, unknown>();
  let maxBytes = 0;
  for (const name of TRACKED) {
    const Ctor = g[name] as (abstract new (...a: unknown[]) => unknown) & { BYTES_PER_ELEMENT?: number };
    if (typeof Ctor !== 'function') continue;
    saved.set(name, Ctor);
    const per = Ctor.BYTES_PER_ELEMENT ?? 1;
    g[name] = new Proxy(Ctor, {
      construct(target, args, newTarget) {
        const a0 = args[0];
        let bytes = 0;
        if (typeof a0 === 'number') bytes = a0 * per;
        else if (a0 !== null && typeof a0 === 'object' && !(a0 instanceof (saved.get('ArrayBuffer') as typeof ArrayBuffer))) {
          const len = (a0 as { length?: unknown }).length;
          if (typeof len === 'number') bytes = len * per;
        }
        if (bytes > maxBytes) maxBytes = bytes;
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  try {
    const result = await fn();
    return { result, maxBytes };
  } catch (error) {
    return { error, maxBytes };
  } finally {
    for (const [name, Ctor] of saved) g[name] = Ctor;
  }
}
