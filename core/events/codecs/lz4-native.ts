/**
 * LZ4 frame codec with the native fast path: the `events_native` addon when it loads, the TypeScript reference
 * (lz4.ts) otherwise. Both produce identical bytes; `lz4Backend` says which one is active.
 *
 * Error reporting stays in TypeScript: the frame is first walked by the TS header/bound scan (cheap, per block),
 * and when the native decoder reports a failure the TS decoder is run on the same bytes to throw the detailed
 * `EventFormatError`.
 */
import { loadNative } from '../../native/load.ts';
import { EventFormatError } from '../errors.ts';
import type { Lz4DecodeOptions, Lz4EncodeOptions } from './lz4.ts';
import { Lz4Encoder, lz4DecompressFrame, lz4FrameBound, lz4FrameEncodeBound, lz4ReadFrameHeader } from './lz4.ts';

/** The functions the addon exports (see core/events/native/events_native.cc). */
export interface EventsNativeAddon {
  lz4FrameDecode(src: Uint8Array, out: Uint8Array, verify: boolean): number;
  lz4FrameEncode(src: Uint8Array, out: Uint8Array, flags: number, blockCode: number): number;
  unpackEvents(body: Uint8Array, start: number, count: number, x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array): number;
  /**
   * One LZ4-compressed AEDAT 4 event packet in one call: decodes the frame src[srcStart, srcEnd) into `scratch`, finds the
   * EVTS FlatBuffer's event vector, unpacks up to `maxEvents` events into the columns at `outOffset`. Returns the
   * number written (state[0] = the packet's event count, state[1] = the vector's byte position in `scratch`), or a
   * negative code: AEDAT4_NEED_SCRATCH (state[2] = bytes needed), AEDAT4_UNSUPPORTED, or a refusal (the caller
   * re-runs the TypeScript path for the error). Absent in builds older than this member.
   */
  aedat4Lz4Packet?(src: Uint8Array, srcStart: number, srcEnd: number, maxOutput: number, scratch: Uint8Array, state: Float64Array,
    x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, outOffset: number, maxEvents: number): number;
  abi: number;
}

const loaded = loadNative<EventsNativeAddon>('events_native');
const addon: EventsNativeAddon | null = loaded.addon && typeof loaded.addon.lz4FrameDecode === 'function' ? loaded.addon : null;

/** aedat4Lz4Packet: the scratch buffer is smaller than the frame's decompressed-size bound (state[2]). */
export const AEDAT4_NEED_SCRATCH = -7;
/** aedat4Lz4Packet: a frame shape the fused call leaves to the generic path (skippable frame first). */
export const AEDAT4_UNSUPPORTED = -9;

/** The addon when loaded (for other hot paths of the event layer), else null. */
export const eventsNative: EventsNativeAddon | null = addon;

/** Which LZ4 implementation is active, and why the native one is not (when it is not). */
export const lz4Backend: { kind: 'native' | 'typescript'; reason: string | null } = addon
  ? { kind: 'native', reason: null }
  : { kind: 'typescript', reason: loaded.reason ?? 'events_native has no lz4FrameDecode (stale build?)' };

const SKIPPABLE = 0x184d2a50;

/**
 * Decompresses one LZ4 frame, natively when possible. Same contract as `lz4DecompressFrame` (lz4.ts).
 * `forceTs` selects the reference implementation (tests compare the two).
 */
export function lz4Decompress(src: Uint8Array, opts: Lz4DecodeOptions, forceTs = false): Uint8Array {
  if (!addon || forceTs || src.length < 4 || ((src[0] | (src[1] << 8) | (src[2] << 16) | (src[3] << 24)) & 0xfffffff0) === (SKIPPABLE | 0)) {
    return lz4DecompressFrame(src, opts);
  }
  const hdr = lz4ReadFrameHeader(src, opts);
  const cap = lz4FrameBound(src, opts, hdr);
  const out = opts.scratch && opts.scratch.length >= cap ? opts.scratch : new Uint8Array(cap);
  const n = addon.lz4FrameDecode(src, out.length === cap ? out : out.subarray(0, cap), opts.verifyChecksums !== false);
  if (n >= 0) return out.subarray(0, n);
  // Let the reference decoder name the problem; it must fail too.
  lz4DecompressFrame(src, opts);
  throw new EventFormatError(opts.format ?? 'lz4', opts.baseOffset ?? 0, `LZ4 frame: native decoder failed (code ${n}) where the reference did not`);
}

let tsEncoder: Lz4Encoder | null = null;
const BLOCK_CODES: Record<number, number> = { [64 << 10]: 4, [256 << 10]: 5, [1 << 20]: 6, [4 << 20]: 7 };

/**
 * Compresses `src` into one LZ4 frame, natively when possible (byte-identical to the TS encoder). The result is
 * a view of a buffer sized for the worst case; copy it if it is kept for long.
 */
export function lz4Compress(src: Uint8Array, opts: Lz4EncodeOptions = {}, forceTs = false): Uint8Array {
  const out = new Uint8Array(lz4FrameEncodeBound(src.length, opts.blockMaxSize ?? 64 << 10));
  return out.subarray(0, lz4CompressInto(src, out, opts, forceTs));
}

/** Compresses `src` into `out` (≥ lz4FrameEncodeBound bytes, e.g. a reused buffer); returns the frame length. */
export function lz4CompressInto(src: Uint8Array, out: Uint8Array, opts: Lz4EncodeOptions = {}, forceTs = false): number {
  const bms = opts.blockMaxSize ?? 64 << 10;
  const code = BLOCK_CODES[bms];
  if (code === undefined) throw new RangeError(`LZ4 block size must be 64 KiB, 256 KiB, 1 MiB or 4 MiB, got ${bms}`);
  if (out.length < lz4FrameEncodeBound(src.length, bms)) throw new RangeError('LZ4 output buffer too small');
  let n: number;
  if (addon && !forceTs) {
    const flags = (opts.high ? 1 : 0) | (opts.linked ? 2 : 0) | (opts.contentSize ? 4 : 0) | (opts.blockChecksum ? 8 : 0) |
      (opts.contentChecksum ? 16 : 0);
    n = addon.lz4FrameEncode(src, out, flags, code);
    if (n < 0) throw new Error(`native LZ4 encoder failed with code ${n}`);
  } else {
    tsEncoder ??= new Lz4Encoder();
    n = tsEncoder.encodeFrameInto(src, out, opts);
  }
  return n;
}
