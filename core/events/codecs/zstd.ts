/**
 * Zstandard frames for AEDAT 4 (`ZSTD`, `ZSTD_HIGH` compression): the native `zstd-napi` bindings when they load,
 * with a pure-JS decode fallback (`fzstd`) so ZSTD recordings stay readable without a compiled addon. Writing
 * ZSTD needs zstd-napi.
 *
 * Allocation is bounded: a frame that declares a content size larger than `maxOutput` is rejected before
 * anything is allocated, and frames without a declared size are decompressed in chunks that stop at `maxOutput`.
 */
import { createRequire } from 'node:module';
import { Decompress as FzstdDecompress, decompress as fzstdDecompress } from 'fzstd';
import { EventFormatError } from '../errors.ts';

/** The part of zstd-napi's low-level binding used here. */
interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => {
    decompress(dst: Uint8Array, src: Uint8Array): number;
    decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
    reset(directive: number): void;
  };
  compressBound(n: number): number;
  ResetDirective: { sessionOnly: number; parameters: number; sessionAndParameters: number };
}

const require = createRequire(import.meta.url);
let binding: ZstdBinding | null = null;
let loadReason: string | null = null;
try {
  binding = require('zstd-napi/binding') as ZstdBinding;
} catch (e) {
  loadReason = `zstd-napi failed to load: ${(e as Error).message.split('\n')[0]}`;
}

/** Which implementation decodes ZSTD ('zstd-napi' or the pure-JS 'fzstd'), and why when it is the fallback. */
export const zstdBackend: { kind: 'zstd-napi' | 'fzstd'; reason: string | null } = binding
  ? { kind: 'zstd-napi', reason: null }
  : { kind: 'fzstd', reason: loadReason };

export interface ZstdDecodeOptions {
  /** Largest decompressed size accepted. */
  maxOutput: number;
  format?: string;
  baseOffset?: number;
}

/** Compression levels DV-style: ZSTD = the library default (3), ZSTD_HIGH = 19 (22 needs ~700 MiB windows). */
export const ZSTD_LEVEL = 3;
export const ZSTD_HIGH_LEVEL = 19;

const ZSTD_MAGIC = 0xfd2fb528;

function fail(o: ZstdDecodeOptions, at: number, reason: string): never {
  throw new EventFormatError(o.format ?? 'zstd', (o.baseOffset ?? 0) + at, `ZSTD frame: ${reason}`);
}

/**
 * Reads the frame header's Frame_Content_Size (RFC 8878 §3.1.1.1): the size, -1 when not stated, or throws on a
 * bad magic / truncated header. Parsed here so both backends can refuse absurd sizes before allocating.
 */
export function zstdContentSize(src: Uint8Array, o: ZstdDecodeOptions): number {
  if (src.length < 6) fail(o, 0, `${src.length} bytes is shorter than a frame header`);
  const magic = (src[0] | (src[1] << 8) | (src[2] << 16) | (src[3] << 24)) >>> 0;
  if (magic !== ZSTD_MAGIC) fail(o, 0, `bad magic 0x${magic.toString(16)} (expected 0xfd2fb528)`);
  const fhd = src[4];
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const didFlag = fhd & 3;
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  const p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][didFlag];
  if (fcsBytes === 0) return -1;
  if (p + fcsBytes > src.length) fail(o, p, 'frame header truncated in content size');
  let v = 0;
  for (let k = fcsBytes - 1; k >= 0; k--) v = v * 256 + src[p + k];
  if (fcsBytes === 2) v += 256;
  return v;
}

let dctx: InstanceType<ZstdBinding['DCtx']> | null = null;
let cctx: InstanceType<ZstdBinding['CCtx']> | null = null;

/** Decompresses one ZSTD frame with a bounded output size. Errors are `EventFormatError`s. */
export function zstdDecompress(src: Uint8Array, o: ZstdDecodeOptions, forceJs = false): Uint8Array {
  const declared = zstdContentSize(src, o);
  if (declared > o.maxOutput) fail(o, 5, `content size ${declared} exceeds the limit ${o.maxOutput}`);
  if (binding && !forceJs) {
    dctx ??= new binding.DCtx();
    try {
      if (declared >= 0) {
        const out = new Uint8Array(declared);
        const n = dctx.decompress(out, src);
        if (n !== declared) fail(o, 0, `decoded ${n} bytes but the header declares ${declared}`);
        return out;
      }
      return streamNative(dctx, src, o);
    } catch (e) {
      if (e instanceof EventFormatError) throw e;
      dctx.reset(binding.ResetDirective.sessionOnly);
      fail(o, 0, (e as Error).message);
    }
  }
  try {
    if (declared >= 0) {
      const out = fzstdDecompress(src, new Uint8Array(declared));
      if (out.length !== declared) fail(o, 0, `decoded ${out.length} bytes but the header declares ${declared}`);
      return out;
    }
    return streamJs(src, o);
  } catch (e) {
    if (e instanceof EventFormatError) throw e;
    fail(o, 0, (e as Error).message);
  }
}

/** Frame without a declared size: decompress in chunks, stopping at maxOutput. */
function streamNative(d: InstanceType<ZstdBinding['DCtx']>, src: Uint8Array, o: ZstdDecodeOptions): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let input = src;
  let guard = 0;
  while (input.length > 0) {
    const room = o.maxOutput - total;
    const chunk = new Uint8Array(Math.max(1, Math.min(room + 1, Math.max(128 << 10, input.length * 4))));
    const [left, produced, consumed] = d.decompressStream(chunk, input);
    total += produced;
    if (total > o.maxOutput) fail(o, 0, `decompressed size exceeds the limit ${o.maxOutput}`);
    chunks.push(chunk.subarray(0, produced));
    input = input.subarray(consumed);
    if (produced === 0 && consumed === 0 && ++guard > 2) fail(o, src.length - input.length, 'no progress (truncated frame?)');
    if (input.length === 0 && left !== 0) fail(o, src.length, 'frame truncated');
  }
  return concat(chunks, total);
}

function streamJs(src: Uint8Array, o: ZstdDecodeOptions): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const dec = new FzstdDecompress((data) => {
    total += data.length;
    if (total > o.maxOutput) fail(o, 0, `decompressed size exceeds the limit ${o.maxOutput}`);
    chunks.push(data);
  });
  dec.push(src, true);
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Compresses `src` as one ZSTD frame (content size included). Needs zstd-napi. */
export function zstdCompress(src: Uint8Array, level = ZSTD_LEVEL): Uint8Array {
  if (!binding) throw new Error(`cannot write ZSTD: ${loadReason}`);
  cctx ??= new binding.CCtx();
  const out = new Uint8Array(binding.compressBound(src.length));
  const n = cctx.compress(out, src, level);
  return out.subarray(0, n);
}
