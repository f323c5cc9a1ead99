/**
 * LZ4 frame codec (TypeScript reference), written from the public LZ4 frame and block format descriptions.
 *
 * AEDAT 4.0 compresses every packet body as one complete LZ4 *frame*. DV writes linked-block frames (a block may
 * copy from the previous 64 KiB of output), so the decoder keeps the whole frame's output contiguous: back
 * references into earlier blocks are then ordinary copies inside one buffer.
 *
 * Safety: every length is checked against the bytes remaining in the input and against a caller-given maximum
 * output size before anything is allocated or copied; malformed input throws `EventFormatError` naming the byte
 * offset (relative to `baseOffset`, so callers can report file positions). The decoder never loops without
 * consuming input, so garbage cannot hang it.
 *
 * The encoder is a greedy hash compressor (hash chains for the "high" level). It always obeys the block format's
 * end-of-block rules (last 5 bytes literal, last match starting ≥ 12 bytes before the end), stores a block raw when
 * compression would not shrink it, and can write every optional frame feature so the decoder can be tested on them.
 * The native addon (core/events/native/events_native.cc) implements the same algorithm byte for byte.
 */
import { EventFormatError } from '../errors.ts';

export const LZ4_FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/** Options for frame decoding. */
export interface Lz4DecodeOptions {
  /** Largest decompressed size accepted; larger content is an error, found before allocating. */
  maxOutput: number;
  /** Format id for errors (default 'lz4'). */
  format?: string;
  /** Added to in-frame offsets in error messages (e.g. the packet's file position). */
  baseOffset?: number;
  /** Reusable output buffer; used when large enough (the result is then a view of it). */
  scratch?: Uint8Array;
  /** Verify block and content checksums when present (default true). */
  verifyChecksums?: boolean;
}

/** What the frame header says, plus where the blocks start. */
export interface Lz4FrameHeader {
  /** FLG bit 5: blocks are independent (no references into previous blocks). */
  independent: boolean;
  blockChecksum: boolean;
  contentChecksum: boolean;
  /** Content size from the header, or -1 when absent. */
  contentSize: number;
  /** Maximum decompressed block size (64 KiB … 4 MiB). */
  blockMaxSize: number;
  /** Offset of the first block header. */
  dataStart: number;
}

const BLOCK_MAX_SIZES = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

function fail(opts: { format?: string; baseOffset?: number } | undefined, at: number, reason: string): never {
  throw new EventFormatError(opts?.format ?? 'lz4', (opts?.baseOffset ?? 0) + at, `LZ4 frame: ${reason}`);
}

function u32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

// ---------------------------------------------------------------------------------------------- xxHash32

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function xxRound(acc: number, input: number): number {
  return Math.imul(rotl((acc + Math.imul(input, P2)) | 0, 13), P1);
}

/** xxHash32 of data[start, end), as used by LZ4 frame checksums. Returns an unsigned 32-bit value. */
export function xxh32(data: Uint8Array, seed = 0, start = 0, end = data.length): number {
  let p = start;
  const len = end - start;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    const limit = end - 16;
    while (p <= limit) {
      v1 = xxRound(v1, u32(data, p));
      v2 = xxRound(v2, u32(data, p + 4));
      v3 = xxRound(v3, u32(data, p + 8));
      v4 = xxRound(v4, u32(data, p + 12));
      p += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + len) | 0;
  while (p + 4 <= end) {
    h = Math.imul(rotl((h + Math.imul(u32(data, p), P3)) | 0, 17), P4);
    p += 4;
  }
  while (p < end) {
    h = Math.imul(rotl((h + Math.imul(data[p], P5)) | 0, 11), P1);
    p++;
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------- decoding

/** Parses and validates the frame header (magic, FLG, BD, optional content size, header checksum). */
export function lz4ReadFrameHeader(src: Uint8Array, opts?: Lz4DecodeOptions): Lz4FrameHeader {
  if (src.length < 7) fail(opts, 0, `${src.length} bytes is shorter than a frame header`);
  const magic = u32(src, 0);
  if (magic !== LZ4_FRAME_MAGIC) fail(opts, 0, `bad magic 0x${magic.toString(16)} (expected 0x184d2204)`);
  const flg = src[4];
  const bd = src[5];
  if (flg >>> 6 !== 1) fail(opts, 4, `unsupported frame version ${flg >>> 6}`);
  if (flg & 0x02) fail(opts, 4, 'reserved FLG bit 1 is set');
  if (flg & 0x01) fail(opts, 4, 'dictionary ID frames are not supported');
  if (bd & 0x8f) fail(opts, 5, `reserved BD bits set (0x${bd.toString(16)})`);
  const blockMaxSize = BLOCK_MAX_SIZES[(bd >>> 4) & 7];
  if (blockMaxSize === 0) fail(opts, 5, `invalid block maximum size code ${(bd >>> 4) & 7}`);
  let p = 6;
  let contentSize = -1;
  if (flg & 0x08) {
    if (src.length < 15) fail(opts, p, 'frame header truncated in content size');
    const lo = u32(src, p);
    const hi = u32(src, p + 4);
    if (hi >= 0x200000) fail(opts, p, 'content size exceeds 2^53');
    contentSize = hi * 4294967296 + lo;
    p += 8;
  }
  // Header checksum: second byte of xxh32 over the descriptor (FLG … end of optional fields).
  const hc = (xxh32(src, 0, 4, p) >>> 8) & 0xff;
  if (src[p] !== hc && opts?.verifyChecksums !== false) fail(opts, p, `header checksum 0x${src[p].toString(16)} != 0x${hc.toString(16)}`);
  p += 1;
  return {
    independent: (flg & 0x20) !== 0,
    blockChecksum: (flg & 0x10) !== 0,
    contentChecksum: (flg & 0x04) !== 0,
    contentSize,
    blockMaxSize,
    dataStart: p,
  };
}

/**
 * Walks the block headers (cheap: one read per block) and returns an upper bound of the decompressed size, after
 * checking every block length against the input. Throws when the bound exceeds `maxOutput` and the frame declares
 * its content size; otherwise the bound is clipped to `maxOutput` (the decoder then fails if output overflows).
 */
export function lz4FrameBound(src: Uint8Array, opts: Lz4DecodeOptions, hdr = lz4ReadFrameHeader(src, opts)): number {
  if (hdr.contentSize >= 0) {
    if (hdr.contentSize > opts.maxOutput) fail(opts, 6, `content size ${hdr.contentSize} exceeds the limit ${opts.maxOutput}`);
    return hdr.contentSize;
  }
  let p = hdr.dataStart;
  let bound = 0;
  const csum = hdr.blockChecksum ? 4 : 0;
  while (true) {
    if (p + 4 > src.length) fail(opts, p, 'truncated before end mark');
    const word = u32(src, p);
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > hdr.blockMaxSize) fail(opts, p, `block size ${size} exceeds the frame's maximum ${hdr.blockMaxSize}`);
    if (size > src.length - p - 4 - csum) fail(opts, p, `block size ${size} exceeds the ${src.length - p - 4} bytes remaining`);
    // A compressed block expands at most ~255x (each extra 255 output bytes of a match cost one input byte).
    bound += word & 0x80000000 ? size : Math.min(hdr.blockMaxSize, size * 255 + 16);
    if (bound >= opts.maxOutput) return opts.maxOutput;
    p += 4 + size + csum;
  }
  return bound;
}

/**
 * Decodes one LZ4 block src[ip, iend) into out at op (not beyond oend). `windowStart` is the lowest output
 * position a match may reference (0 for linked blocks, the block start for independent ones). Returns the new
 * output position. Errors are thrown with in-frame offsets.
 */
export function lz4DecodeBlock(
  src: Uint8Array, ip: number, iend: number, out: Uint8Array, op: number, oend: number, windowStart: number,
  opts?: Lz4DecodeOptions,
): number {
  if (ip === iend) fail(opts, ip, 'empty compressed block');
  while (true) {
    const token = src[ip++];
    // Literals.
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= iend) fail(opts, ip, 'literal length runs past the block');
        b = src[ip++];
        lit += b;
      } while (b === 255);
    }
    if (lit > iend - ip) fail(opts, ip, `literal run of ${lit} bytes exceeds the ${iend - ip} bytes left in the block`);
    if (lit > oend - op) fail(opts, ip, `output exceeds the limit of ${oend} bytes`);
    if (lit < 16) {
      for (let k = 0; k < lit; k++) out[op + k] = src[ip + k];
    } else {
      out.set(src.subarray(ip, ip + lit), op);
    }
    ip += lit;
    op += lit;
    if (ip === iend) return op; // last sequence: literals only
    // Match.
    if (iend - ip < 2) fail(opts, ip, 'block ends inside a match offset');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0) fail(opts, ip - 2, 'match offset 0');
    if (offset > op - windowStart) fail(opts, ip - 2, `match offset ${offset} reaches before the start of the window`);
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (ip >= iend) fail(opts, ip, 'match length runs past the block');
        b = src[ip++];
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (len > oend - op) fail(opts, ip, `output exceeds the limit of ${oend} bytes`);
    let m = op - offset;
    if (offset >= len && len > 32) {
      out.copyWithin(op, m, m + len);
      op += len;
    } else {
      // Overlapping copy (offset < len) repeats the pattern: must go byte by byte, forwards.
      const end = op + len;
      while (op < end) out[op++] = out[m++];
    }
    if (ip >= iend) fail(opts, ip, 'block ends after a match (the last sequence must be literals)');
  }
}

/**
 * Decompresses one complete LZ4 frame (skippable frames before it are skipped). Returns the output (a view of
 * `opts.scratch` when it was large enough). Trailing bytes after the end mark (and content checksum) are ignored.
 */
export function lz4DecompressFrame(src: Uint8Array, opts: Lz4DecodeOptions): Uint8Array {
  let base = 0;
  // Skippable frames (magic 0x184D2A5?) may precede the real one.
  while (src.length - base >= 8 && (u32(src, base) & SKIPPABLE_MASK) === SKIPPABLE_MAGIC) {
    const n = u32(src, base + 4);
    if (n > src.length - base - 8) fail(opts, base + 4, `skippable frame of ${n} bytes exceeds the input`);
    base += 8 + n;
  }
  const frame = base === 0 ? src : src.subarray(base);
  const o = base === 0 ? opts : { ...opts, baseOffset: (opts.baseOffset ?? 0) + base };
  const hdr = lz4ReadFrameHeader(frame, o);
  const cap = lz4FrameBound(frame, o, hdr);
  const out = opts.scratch && opts.scratch.length >= cap ? opts.scratch : new Uint8Array(cap);
  const n = decodeBlocks(frame, hdr, out, cap, o);
  return out.subarray(0, n);
}

/** Decodes the blocks of a frame whose header was read; returns the output length. */
function decodeBlocks(src: Uint8Array, hdr: Lz4FrameHeader, out: Uint8Array, cap: number, opts: Lz4DecodeOptions): number {
  const verify = opts.verifyChecksums !== false;
  const csum = hdr.blockChecksum ? 4 : 0;
  let p = hdr.dataStart;
  let op = 0;
  while (true) {
    if (p + 4 > src.length) fail(opts, p, 'truncated before end mark');
    const word = u32(src, p);
    p += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > hdr.blockMaxSize) fail(opts, p - 4, `block size ${size} exceeds the frame's maximum ${hdr.blockMaxSize}`);
    if (size > src.length - p - csum) fail(opts, p - 4, `block size ${size} exceeds the ${src.length - p} bytes remaining`);
    if (csum && verify) {
      const want = u32(src, p + size);
      const got = xxh32(src, 0, p, p + size);
      if (want !== got) fail(opts, p + size, `block checksum mismatch (0x${want.toString(16)} != 0x${got.toString(16)})`);
    }
    const blockStart = op;
    if (word & 0x80000000) {
      if (size > cap - op) fail(opts, p, `output exceeds the limit of ${cap} bytes`);
      out.set(src.subarray(p, p + size), op);
      op += size;
    } else {
      const limit = Math.min(cap, op + hdr.blockMaxSize);
      op = lz4DecodeBlock(src, p, p + size, out, op, limit, hdr.independent ? blockStart : 0, opts);
    }
    p += size + csum;
  }
  if (hdr.contentChecksum) {
    if (p + 4 > src.length) fail(opts, p, 'truncated in content checksum');
    if (verify) {
      const want = u32(src, p);
      const got = xxh32(out, 0, 0, op);
      if (want !== got) fail(opts, p, `content checksum mismatch (0x${want.toString(16)} != 0x${got.toString(16)})`);
    }
  }
  if (hdr.contentSize >= 0 && op !== hdr.contentSize) fail(opts, p, `decoded ${op} bytes but the header declares ${hdr.contentSize}`);
  return op;
}

// ---------------------------------------------------------------------------------------------- encoding

/** Options for frame encoding. */
export interface Lz4EncodeOptions {
  /** Hash-chain search (slower, smaller); default false = single-probe greedy. */
  high?: boolean;
  /** Block maximum size: 64 KiB (default), 256 KiB, 1 MiB or 4 MiB. */
  blockMaxSize?: number;
  /** Write linked blocks (matches may reach into the previous 64 KiB); default false = independent blocks. */
  linked?: boolean;
  /** Write the content size field (default false). */
  contentSize?: boolean;
  /** Write a checksum after every block (default false). */
  blockChecksum?: boolean;
  /** Write the xxh32 of the whole content after the end mark (default false). */
  contentChecksum?: boolean;
}

const HASH_LOG = 16;
const MIN_MATCH = 4;
const MF_LIMIT = 12; // no match may start in the last 12 bytes of a block
const LAST_LITERALS = 5; // the last 5 bytes of a block are always literals
const MAX_DISTANCE = 65535;
const HIGH_DEPTH = 32; // hash-chain candidates tried per position at the high level

/** Upper bound of the encoded frame size for `n` input bytes (header, worst-case raw blocks, checksums). */
export function lz4FrameEncodeBound(n: number, blockMaxSize = 64 << 10): number {
  const blocks = Math.max(1, Math.ceil(n / blockMaxSize));
  return 19 + n + blocks * 8 + 8;
}

function blockCode(blockMaxSize: number): number {
  const i = BLOCK_MAX_SIZES.indexOf(blockMaxSize);
  if (i < 4) throw new RangeError(`LZ4 block size must be 64 KiB, 256 KiB, 1 MiB or 4 MiB, got ${blockMaxSize}`);
  return i;
}

function put32(b: Uint8Array, i: number, v: number): void {
  b[i] = v & 0xff;
  b[i + 1] = (v >>> 8) & 0xff;
  b[i + 2] = (v >>> 16) & 0xff;
  b[i + 3] = (v >>> 24) & 0xff;
}

/** Reusable encoder state: the hash table and chain, so encoding many small packets allocates nothing per call. */
export class Lz4Encoder {
  // Hash table entries hold `position + base`; each frame gets a fresh base above every earlier entry, so stale
  // entries read as negative positions and are rejected without clearing 256 KiB per (often small) frame.
  private readonly table = new Int32Array(1 << HASH_LOG);
  private readonly chain = new Uint16Array(1 << 16);
  private base = 1;
  private nextBase = 1;

  /** Compresses `src` into one LZ4 frame. */
  encodeFrame(src: Uint8Array, opts: Lz4EncodeOptions = {}): Uint8Array {
    const bms = opts.blockMaxSize ?? 64 << 10;
    const out = new Uint8Array(lz4FrameEncodeBound(src.length, bms));
    const n = this.encodeFrameInto(src, out, opts);
    return out.slice(0, n);
  }

  /** Compresses `src` into `out` (at least lz4FrameEncodeBound bytes); returns the frame length. */
  encodeFrameInto(src: Uint8Array, out: Uint8Array, opts: Lz4EncodeOptions = {}): number {
    const bms = opts.blockMaxSize ?? 64 << 10;
    const code = blockCode(bms);
    if (out.length < lz4FrameEncodeBound(src.length, bms)) throw new RangeError('LZ4 output buffer too small');
    put32(out, 0, LZ4_FRAME_MAGIC);
    const flg = 0x40 | (opts.linked ? 0 : 0x20) | (opts.blockChecksum ? 0x10 : 0) | (opts.contentSize ? 0x08 : 0) |
      (opts.contentChecksum ? 0x04 : 0);
    out[4] = flg;
    out[5] = code << 4;
    let p = 6;
    if (opts.contentSize) {
      put32(out, p, src.length >>> 0);
      put32(out, p + 4, Math.floor(src.length / 4294967296));
      p += 8;
    }
    out[p] = (xxh32(out, 0, 4, p) >>> 8) & 0xff;
    p += 1;
    // Stale positions (earlier frames, and earlier blocks of independent frames) fail the window check.
    if (this.nextBase + src.length + 1 > 0x7fffffff) {
      this.table.fill(0);
      this.nextBase = 1;
    }
    this.base = this.nextBase;
    this.nextBase = this.base + src.length + 1;
    for (let start = 0; start < src.length; start += bms) {
      const end = Math.min(src.length, start + bms);
      const bodyAt = p + 4;
      // Compress straight into the frame; fall back to a raw block if it did not shrink.
      const windowStart = opts.linked ? 0 : start;
      const clen = this.compressBlock(src, start, end, windowStart, out, bodyAt, bodyAt + (end - start), opts.high === true);
      let size: number;
      if (clen < 0) {
        out.set(src.subarray(start, end), bodyAt);
        size = end - start;
        put32(out, p, (size | 0x80000000) >>> 0);
      } else {
        size = clen;
        put32(out, p, size);
      }
      p = bodyAt + size;
      if (opts.blockChecksum) {
        put32(out, p, xxh32(out, 0, bodyAt, p));
        p += 4;
      }
    }
    put32(out, p, 0);
    p += 4;
    if (opts.contentChecksum) {
      put32(out, p, xxh32(src));
      p += 4;
    }
    return p;
  }

  /**
   * Greedy LZ4 block compression of src[start, end) into out[op, oLimit). Returns the compressed size, or -1 when
   * it would not be smaller than oLimit - op (the caller then stores the block raw).
   */
  private compressBlock(
    src: Uint8Array, start: number, end: number, windowStart: number, out: Uint8Array, op0: number, oLimit: number,
    high: boolean,
  ): number {
    const table = this.table;
    const chain = this.chain;
    const base = this.base;
    let op = op0;
    let anchor = start;
    let ip = start;
    let misses = 0;
    const mfLimit = end - MF_LIMIT;
    const matchLimit = end - LAST_LITERALS;
    while (ip < mfLimit) {
      const seq = (src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24)) | 0;
      const h = Math.imul(seq, 0x9e3779b1) >>> (32 - HASH_LOG);
      let ref = table[h] - base;
      table[h] = ip + base;
      let bestLen = 0;
      let bestRef = -1;
      if (high) {
        chain[ip & 0xffff] = ref >= 0 && ip - ref <= MAX_DISTANCE ? ip - ref : 0;
        let depth = HIGH_DEPTH;
        while (ref >= windowStart && ip - ref <= MAX_DISTANCE && depth-- > 0) {
          if (src[ref] === src[ip] && src[ref + 1] === src[ip + 1] && src[ref + 2] === src[ip + 2] && src[ref + 3] === src[ip + 3]) {
            let len = MIN_MATCH;
            while (ip + len < matchLimit && src[ref + len] === src[ip + len]) len++;
            if (len > bestLen) {
              bestLen = len;
              bestRef = ref;
            }
          }
          const d = chain[ref & 0xffff];
          if (d === 0) break;
          ref -= d;
        }
      } else if (ref >= windowStart && ip - ref <= MAX_DISTANCE &&
        src[ref] === src[ip] && src[ref + 1] === src[ip + 1] && src[ref + 2] === src[ip + 2] && src[ref + 3] === src[ip + 3]) {
        let len = MIN_MATCH;
        while (ip + len < matchLimit && src[ref + len] === src[ip + len]) len++;
        bestLen = len;
        bestRef = ref;
      }
      if (bestLen === 0) {
        // Skip faster through data that does not compress (fast level only): the step grows by one every 64 misses.
        ip += high ? 1 : 1 + (misses++ >> 6);
        continue;
      }
      // Emit sequence: token, literal length, literals, offset, match length.
      const lit = ip - anchor;
      const need = 1 + lit + ((lit + 240) / 255 | 0) + 2 + ((bestLen + 240) / 255 | 0);
      if (op + need > oLimit - LAST_LITERALS) return -1;
      const tokenAt = op++;
      let token: number;
      if (lit >= 15) {
        token = 0xf0;
        let r = lit - 15;
        for (; r >= 255; r -= 255) out[op++] = 255;
        out[op++] = r;
      } else {
        token = lit << 4;
      }
      for (let k = 0; k < lit; k++) out[op++] = src[anchor + k];
      const off = ip - bestRef;
      out[op++] = off & 0xff;
      out[op++] = off >>> 8;
      const ml = bestLen - MIN_MATCH;
      if (ml >= 15) {
        token |= 15;
        let r = ml - 15;
        for (; r >= 255; r -= 255) out[op++] = 255;
        out[op++] = r;
      } else {
        token |= ml;
      }
      out[tokenAt] = token;
      const next = ip + bestLen;
      if (high) {
        // Keep the chain complete over the matched bytes so later searches find them.
        for (let q = ip + 1; q < next && q < mfLimit; q++) {
          const s = (src[q] | (src[q + 1] << 8) | (src[q + 2] << 16) | (src[q + 3] << 24)) | 0;
          const hq = Math.imul(s, 0x9e3779b1) >>> (32 - HASH_LOG);
          const r = table[hq] - base;
          chain[q & 0xffff] = r >= 0 && q - r <= MAX_DISTANCE ? q - r : 0;
          table[hq] = q + base;
        }
      }
      ip = next;
      anchor = ip;
      misses = 0;
    }
    // Last literals.
    const lit = end - anchor;
    const need = 1 + lit + ((lit + 240) / 255 | 0);
    if (op + need >= oLimit) return -1;
    if (lit >= 15) {
      out[op++] = 0xf0;
      let r = lit - 15;
      for (; r >= 255; r -= 255) out[op++] = 255;
      out[op++] = r;
    } else {
      out[op++] = lit << 4;
    }
    out.set(src.subarray(anchor, end), op);
    op += lit;
    return op - op0;
  }
}

let shared: Lz4Encoder | null = null;

/** Compresses `src` into one LZ4 frame (TypeScript reference encoder). */
export function lz4CompressFrame(src: Uint8Array, opts: Lz4EncodeOptions = {}): Uint8Array {
  shared ??= new Lz4Encoder();
  return shared.encodeFrame(src, opts);
}
