/**
 * safetensors reader/writer (Hugging Face's tensor container, the interchange format for EvNN/PyTorch weights).
 *
 * Layout: u64 little-endian header length n, then n bytes of UTF-8 JSON
 *   { "__metadata__"?: {string: string}, NAME: { "dtype", "shape": [..], "data_offsets": [begin, end] }, ... }
 * then the data buffer; offsets are relative to the first byte after the header, tensors are C-order, little-endian.
 *
 * The reader treats the file as hostile: every number is validated against the bytes present (header length,
 * offsets, dtype size × shape, no overlap/holes) BEFORE anything is allocated, and every failure is a
 * `SafetensorsError` naming the tensor and the reason.
 */
import { readFile, writeFile } from 'node:fs/promises';

export type SafeDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'U16'
  | 'I16'
  | 'F16'
  | 'BF16'
  | 'U32'
  | 'I32'
  | 'F32'
  | 'U64'
  | 'I64'
  | 'F64'
  | 'F8_E5M2'
  | 'F8_E4M3';

const DTYPE_SIZE: Record<SafeDtype, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
  F8_E5M2: 1,
  F8_E4M3: 1,
};

/**
 * In-memory element arrays. F16 and BF16 are widened to Float32Array on read; BOOL and F8 stay raw bytes
 * (Uint8Array); 64-bit integers are BigInt64Array / BigUint64Array.
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  /** The `__metadata__` string map, or null when absent. */
  metadata: Record<string, string> | null;
}

/** A malformed or hostile safetensors file (or a bad tensor handed to the writer). */
export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  constructor(
    /** The tensor concerned, or null for file-level problems. */
    readonly tensor: string | null,
    readonly reason: string,
    readonly source?: string,
  ) {
    super(`${source ? source + ': ' : ''}safetensors${tensor !== null ? ` tensor '${tensor}'` : ''}: ${reason}`);
  }
}

/** Largest header accepted (the reference implementation uses the same bound). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isSafeDtype(s: unknown): s is SafeDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Copies `bytes` into a fresh, aligned buffer in host byte order and wraps it in the dtype's array. */
function decode(dtype: SafeDtype, bytes: Uint8Array, count: number): TensorData {
  const size = DTYPE_SIZE[dtype];
  const copy = new Uint8Array(bytes); // aligned copy (file offsets need not be aligned)
  if (!LITTLE_ENDIAN_HOST && size > 1) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  const buf = copy.buffer;
  switch (dtype) {
    case 'BOOL':
    case 'U8':
    case 'F8_E5M2':
    case 'F8_E4M3':
      return copy;
    case 'I8':
      return new Int8Array(buf);
    case 'U16':
      return new Uint16Array(buf);
    case 'I16':
      return new Int16Array(buf);
    case 'U32':
      return new Uint32Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'F32':
      return new Float32Array(buf);
    case 'U64':
      return new BigUint64Array(buf);
    case 'I64':
      return new BigInt64Array(buf);
    case 'F64':
      return new Float64Array(buf);
    case 'F16': {
      const h = new Uint16Array(buf);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = f16ToF32(h[i]);
      return out;
    }
    case 'BF16': {
      const h = new Uint16Array(buf);
      const out = new Float32Array(count);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = h[i] << 16;
      return out;
    }
  }
}

/** Parses a whole safetensors file held in memory. Throws `SafetensorsError` on any inconsistency. */
export function parseSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  const fail = (tensor: string | null, reason: string): never => {
    throw new SafetensorsError(tensor, reason, source);
  };
  if (bytes.length < 8) fail(null, `file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen > MAX_HEADER_BYTES) fail(null, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLen > bytes.length - 8) fail(null, `header length ${headerLen} exceeds the ${bytes.length - 8} bytes after it`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail(null, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(null, "header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(null, `header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return fail(null, 'header is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> | null = null;
  const entries: { name: string; dtype: SafeDtype; shape: number[]; begin: number; end: number; count: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(null, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(null, `__metadata__ value for '${k}' is not a string`);
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(name, 'entry is not an object');
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isSafeDtype(info.dtype)) fail(name, `unknown dtype ${JSON.stringify(info.dtype)}`);
    const dtype = info.dtype as SafeDtype;
    if (!Array.isArray(info.shape)) fail(name, 'shape is not an array');
    const shape = info.shape as unknown[];
    for (const d of shape) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail(name, `bad dimension ${JSON.stringify(d)} in shape`);
    }
    let count = shape.includes(0) ? 0 : 1;
    for (const d of shape) {
      if (count === 0) break;
      count *= d as number;
      // Stop multiplying once the tensor could not fit in the data buffer (no overflow, no huge numbers).
      if (count * DTYPE_SIZE[dtype] > dataLen) fail(name, `shape [${shape.join(',')}] of ${dtype} needs more than the ${dataLen} data bytes`);
    }
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) {
      fail(name, `data_offsets ${JSON.stringify(off)} is not a pair of non-negative integers`);
    }
    const [begin, end] = off as [number, number];
    if (begin > end) fail(name, `data_offsets [${begin}, ${end}] run backwards`);
    if (end > dataLen) fail(name, `data_offsets end ${end} is past the ${dataLen}-byte data buffer`);
    const need = count * DTYPE_SIZE[dtype];
    if (end - begin !== need) fail(name, `data_offsets span ${end - begin} bytes but ${dtype}[${shape.join(',')}] needs ${need}`);
    entries.push({ name, dtype, shape: shape as number[], begin, end, count });
  }
  // The format requires the data buffer to be covered exactly: no overlaps, no holes, nothing trailing.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of byOffset) {
    if (e.begin < pos) fail(e.name, `data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${pos})`);
    if (e.begin > pos) fail(e.name, `hole in the data buffer: bytes [${pos}, ${e.begin}) belong to no tensor`);
    pos = e.end;
  }
  if (pos !== dataLen) fail(null, `data buffer has ${dataLen - pos} trailing bytes that belong to no tensor`);

  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const data = decode(e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end), e.count);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape.slice(), data });
  }
  return { tensors, metadata };
}

/** Reads and parses a safetensors file (the whole file is read; EGRU weights are small). */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const buf = await readFile(path);
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

/** What the writer accepts: dtype inferred from the array type when omitted. */
export interface WritableTensor {
  dtype?: 'F32' | 'F64' | 'I32' | 'I64' | 'U8';
  shape: readonly number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

function inferDtype(name: string, t: WritableTensor): 'F32' | 'F64' | 'I32' | 'I64' | 'U8' {
  const fromData =
    t.data instanceof Float32Array
      ? 'F32'
      : t.data instanceof Float64Array
        ? 'F64'
        : t.data instanceof Int32Array
          ? 'I32'
          : t.data instanceof BigInt64Array
            ? 'I64'
            : t.data instanceof Uint8Array
              ? 'U8'
              : null;
  if (fromData === null) throw new SafetensorsError(name, 'unsupported array type for writing');
  if (t.dtype && t.dtype !== fromData) throw new SafetensorsError(name, `dtype ${t.dtype} does not match a ${t.data.constructor.name}`);
  return fromData;
}

/**
 * Serialises tensors into safetensors bytes: keys sorted, data laid out in that order, header padded with
 * spaces so the data starts 8-byte aligned.
 */
export function serializeSafetensors(
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const names = [...map.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = { ...metadata };
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const name of names) {
    if (name === '__metadata__') throw new SafetensorsError(name, 'reserved name');
    const t = map.get(name)!;
    const dtype = inferDtype(name, t);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(name, `bad shape [${t.shape.join(',')}]`);
    if (count !== t.data.length) throw new SafetensorsError(name, `shape [${t.shape.join(',')}] has ${count} elements but the array has ${t.data.length}`);
    let bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (!LITTLE_ENDIAN_HOST && DTYPE_SIZE[dtype] > 1) {
      bytes = new Uint8Array(bytes);
      for (let i = 0; i < bytes.length; i += DTYPE_SIZE[dtype]) bytes.subarray(i, i + DTYPE_SIZE[dtype]).reverse();
    }
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length % 2 ** 32, true);
  dv.setUint32(4, Math.floor(json.length / 2 ** 32), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const b of parts) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFile(path, serializeSafetensors(tensors, metadata));
}

/** A tensor's values as float64 (any numeric dtype; F8 is not decoded and is rejected). */
export function tensorToFloat64(t: SafeTensor, name = '?'): Float64Array {
  if (t.dtype === 'F8_E4M3' || t.dtype === 'F8_E5M2') throw new SafetensorsError(name, `${t.dtype} values are not supported`);
  if (t.data instanceof Float64Array) return t.data;
  const out = new Float64Array(t.data.length);
  const d = t.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  else out.set(d);
  return out;
}

/** A tensor's values as float32 (see `tensorToFloat64`). */
export function tensorToFloat32(t: SafeTensor, name = '?'): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  return Float32Array.from(tensorToFloat64(t, name));
}
