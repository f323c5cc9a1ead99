/**
 * A small, typed NumPy `.npy` reader (format versions 1.0, 2.0, 3.0) for event arrays such as tonic's converted
 * DVS128 Gesture copy. Layout: "\x93NUMPY", major, minor, header length (u16 in v1, u32 in v2/v3), then a Python
 * dict literal `{'descr': …, 'fortran_order': …, 'shape': (…), }` padded with spaces and a newline, then the raw
 * data. Every size is checked against the bytes actually present BEFORE anything is allocated, and every problem
 * is an `NpyFormatError` naming the byte offset — never a RangeError from a DataView, never a hang.
 */
import { EventFormatError } from '../../events/errors.ts';
import type { EventPacket } from '../../events/packet.ts';
import { allocPacket } from '../../events/packet.ts';

/** Bad or unsupported `.npy` data. An EventFormatError with format 'npy', so the CLI reports it like other event data. */
export class NpyFormatError extends EventFormatError {
  constructor(offset: number, reason: string, source?: string) {
    super('npy', offset, reason, source);
  }
}

/** Scalar kinds we decode: b bool, i signed int, u unsigned int, f float, V raw padding (structured arrays only). */
export interface NpyScalar {
  kind: 'b' | 'i' | 'u' | 'f' | 'V';
  size: number;
  littleEndian: boolean;
}

export interface NpyField {
  name: string;
  type: NpyScalar;
  /** Byte offset inside one record. */
  offset: number;
}

export interface NpyArray {
  shape: number[];
  fortranOrder: boolean;
  /** Plain arrays: the element type. Structured arrays: null (see `fields`). */
  scalar: NpyScalar | null;
  /** Structured arrays: the named fields in record order (padding fields dropped). */
  fields: NpyField[] | null;
  /** Bytes per element / record. */
  itemSize: number;
  /** Number of elements (product of the shape). */
  count: number;
  /** The data bytes (a view of the input, not a copy). */
  data: Uint8Array;
  /** Offset of `data` in the file. */
  dataOffset: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Far above anything numpy writes for a plain or small structured dtype; bounds the header parser's work. */
const MAX_HEADER_BYTES = 1 << 20;
const MAX_DIMS = 32;
const MAX_FIELDS = 256;

/** Parses the header and returns views of the data. `bytes` must hold the whole file. */
export function parseNpy(bytes: Uint8Array, source?: string): NpyArray {
  const fail = (off: number, why: string): never => {
    throw new NpyFormatError(off, why, source);
  };
  if (bytes.length < 10) fail(0, `file is ${bytes.length} bytes, shorter than the 10-byte .npy preamble`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) fail(i, 'missing \\x93NUMPY magic (not a .npy file)');
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3) fail(6, `unsupported .npy format version ${major}.${minor}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else {
    if (bytes.length < 12) fail(8, 'file ends inside the 4-byte header length');
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  }
  if (headerLen > bytes.length - headerStart) fail(8, `header length ${headerLen} exceeds the ${bytes.length - headerStart} bytes remaining`);
  if (headerLen > MAX_HEADER_BYTES) fail(8, `header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const headerBytes = bytes.subarray(headerStart, headerStart + headerLen);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(headerBytes);
  } catch {
    return fail(headerStart, 'header is not valid text');
  }
  const dict = new LiteralParser(text, headerStart, source).parseTop();
  if (!isDict(dict)) return fail(headerStart, 'header is not a dict literal');
  for (const k of Object.keys(dict)) if (k !== 'descr' && k !== 'fortran_order' && k !== 'shape') fail(headerStart, `unexpected header key '${k}'`);
  const fortran = dict.fortran_order;
  if (typeof fortran !== 'boolean') fail(headerStart, "header 'fortran_order' must be True or False");
  const shapeRaw = dict.shape;
  if (!Array.isArray(shapeRaw)) return fail(headerStart, "header 'shape' must be a tuple");
  if (shapeRaw.length > MAX_DIMS) fail(headerStart, `shape has ${shapeRaw.length} dimensions (limit ${MAX_DIMS})`);
  const shape: number[] = [];
  let count = 1;
  for (const d of shapeRaw) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return fail(headerStart, `shape entry ${JSON.stringify(d)} is not a non-negative integer`);
    shape.push(d);
    count *= d;
    if (!Number.isSafeInteger(count)) fail(headerStart, 'shape product overflows 2^53');
  }
  const descr = dict.descr;
  let scalar: NpyScalar | null = null;
  let fields: NpyField[] | null = null;
  let itemSize: number;
  if (typeof descr === 'string') {
    scalar = parseTypestr(descr, false, headerStart, source);
    itemSize = scalar.size;
  } else if (Array.isArray(descr)) {
    if (descr.length === 0 || descr.length > MAX_FIELDS) return fail(headerStart, `structured dtype with ${descr.length} fields (1..${MAX_FIELDS} supported)`);
    fields = [];
    let off = 0;
    const names = new Set<string>();
    for (const f of descr) {
      if (!Array.isArray(f) || f.length !== 2 || typeof f[0] !== 'string' || typeof f[1] !== 'string') {
        return fail(headerStart, 'structured dtype fields must be (name, typestr) pairs (sub-arrays and nested dtypes are not supported)');
      }
      const t = parseTypestr(f[1], true, headerStart, source);
      if (t.kind !== 'V') {
        if (f[0] === '') fail(headerStart, 'a non-padding field has an empty name');
        if (names.has(f[0])) fail(headerStart, `duplicate field name '${f[0]}'`);
        names.add(f[0]);
        fields.push({ name: f[0], type: t, offset: off });
      }
      off += t.size;
    }
    itemSize = off;
  } else {
    return fail(headerStart, "header 'descr' must be a type string or a list of fields");
  }
  const dataOffset = headerStart + headerLen;
  const need = count * itemSize;
  const have = bytes.length - dataOffset;
  if (!Number.isSafeInteger(need) || need > have) fail(dataOffset, `shape (${shape.join(', ')}) × ${itemSize} bytes needs ${need} data bytes, only ${have} present (truncated file?)`);
  if (need < have) fail(dataOffset + need, `${have - need} trailing bytes after the array data`);
  return { shape, fortranOrder: fortran as boolean, scalar, fields, itemSize, count, data: bytes.subarray(dataOffset, dataOffset + need), dataOffset };
}

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** '<f8', '|b1', '>i4', '=u2', '|V4' … → a scalar type. Only fixed-size numeric/bool kinds (and V padding in records). */
function parseTypestr(s: string, inRecord: boolean, at: number, source?: string): NpyScalar {
  const m = /^([<>|=])([biufV])(\d{1,3})$/.exec(s);
  if (!m) throw new NpyFormatError(at, `unsupported dtype '${s.slice(0, 20)}' (numeric, bool or padding only)`, source);
  const kind = m[2] as NpyScalar['kind'];
  const size = Number(m[3]);
  const ok = kind === 'b' ? size === 1 : kind === 'i' || kind === 'u' ? [1, 2, 4, 8].includes(size) : kind === 'f' ? size === 4 || size === 8 : size >= 1;
  if (!ok) throw new NpyFormatError(at, `unsupported dtype '${s}'`, source);
  if (kind === 'V' && !inRecord) throw new NpyFormatError(at, `raw dtype '${s}' is only supported as padding inside a structured dtype`, source);
  // '=' is native order; every platform we run on is little-endian.
  return { kind, size, littleEndian: m[1] !== '>' };
}

type Lit = string | number | boolean | null | Lit[] | { [k: string]: Lit };

/** Parses the restricted Python literal syntax numpy writes: dicts, tuples, lists, strings, ints, True/False/None. */
class LiteralParser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly s: string,
    private readonly base: number,
    private readonly source?: string,
  ) {}

  private fail(why: string): never {
    throw new NpyFormatError(this.base + this.i, `header: ${why}`, this.source);
  }

  parseTop(): Lit {
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) this.fail(`unexpected '${this.s[this.i]}' after the dict`);
    return v;
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private value(): Lit {
    this.ws();
    if (this.i >= this.s.length) this.fail('unexpected end');
    const c = this.s[this.i];
    if (c === '{' || c === '(' || c === '[') {
      if (++this.depth > 8) this.fail('nesting deeper than 8');
      const v = c === '{' ? this.dict() : this.seq(c === '(' ? ')' : ']');
      this.depth--;
      return v;
    }
    if (c === "'" || c === '"') return this.str(c);
    const m = /^(-?\d+|True|False|None)/.exec(this.s.slice(this.i, this.i + 24));
    if (!m) this.fail(`unexpected '${c}'`);
    this.i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) this.fail(`integer ${m[0]} out of range`);
    // Python 2 era files write shapes like (3L, 4L).
    if (this.s[this.i] === 'L') this.i++;
    return n;
  }

  private str(q: string): string {
    const start = ++this.i;
    while (this.i < this.s.length && this.s[this.i] !== q) {
      if (this.s[this.i] === '\\') this.fail('escape sequences in strings are not supported');
      this.i++;
    }
    if (this.i >= this.s.length) this.fail('unterminated string');
    return this.s.slice(start, this.i++);
  }

  private seq(close: string): Lit[] {
    this.i++;
    const out: Lit[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      if (out.length >= 4096) this.fail('sequence too long');
      out.push(this.value());
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) this.fail(`expected ',' or '${close}'`);
    }
  }

  private dict(): { [k: string]: Lit } {
    this.i++;
    const out: { [k: string]: Lit } = Object.create(null) as { [k: string]: Lit };
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      const q = this.s[this.i];
      if (q !== "'" && q !== '"') this.fail('dict keys must be strings');
      const k = this.str(q);
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      if (k in out) this.fail(`duplicate key '${k}'`);
      out[k] = this.value();
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') this.fail("expected ',' or '}'");
    }
  }
}

/** A reader of one scalar at a byte offset (chosen once per column, so the per-event loop has no switch). */
type ScalarGetter = (dv: DataView, off: number) => number;

function getter(t: NpyScalar): ScalarGetter {
  const le = t.littleEndian;
  switch (`${t.kind}${t.size}`) {
    case 'b1':
    case 'u1':
      return (dv, o) => dv.getUint8(o);
    case 'i1':
      return (dv, o) => dv.getInt8(o);
    case 'i2':
      return (dv, o) => dv.getInt16(o, le);
    case 'u2':
      return (dv, o) => dv.getUint16(o, le);
    case 'i4':
      return (dv, o) => dv.getInt32(o, le);
    case 'u4':
      return (dv, o) => dv.getUint32(o, le);
    case 'i8':
      return (dv, o) => Number(dv.getBigInt64(o, le));
    case 'u8':
      return (dv, o) => Number(dv.getBigUint64(o, le));
    case 'f4':
      return (dv, o) => dv.getFloat32(o, le);
    case 'f8':
      return (dv, o) => dv.getFloat64(o, le);
  }
  throw new RangeError(`no reader for ${t.kind}${t.size}`);
}

export interface NpyEventOptions {
  /** Multiplies t to get µs (tonic's DVSGesture copy stores ms: 1000). */
  timeScale: number;
  source?: string;
}

/**
 * Events from a `.npy` array: a structured array with fields x, y, p, t (any order, any numeric types), or a
 * plain [N, 4] array with columns in tonic's "xypt" order (C or Fortran order). Polarity > 0 is ON (so both
 * {0, 1} and {−1, +1} codings work); t is scaled by `timeScale` and rounded to whole µs.
 * Coordinates outside 0..65535 or non-finite times are an NpyFormatError naming the event.
 */
export function eventsFromNpy(a: NpyArray, o: NpyEventOptions): EventPacket {
  const fail = (off: number, why: string): never => {
    throw new NpyFormatError(off, why, o.source);
  };
  const dv = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  let n: number;
  // For column c of event i, the byte offset is base[c] + i·stride[c].
  const base = [0, 0, 0, 0];
  const stride = [0, 0, 0, 0];
  const get: ScalarGetter[] = [];
  if (a.fields) {
    if (a.shape.length !== 1) fail(a.dataOffset, `structured event array must be 1-D, has shape (${a.shape.join(', ')})`);
    n = a.shape[0];
    ['x', 'y', 'p', 't'].forEach((name, c) => {
      const f = a.fields!.find((ff) => ff.name === name);
      if (!f) return fail(a.dataOffset, `structured event array has no field '${name}' (fields: ${a.fields!.map((ff) => ff.name).join(', ')})`);
      base[c] = f.offset;
      stride[c] = a.itemSize;
      get.push(getter(f.type));
    });
  } else {
    if (a.shape.length !== 2 || a.shape[1] !== 4) fail(a.dataOffset, `event array must be [N, 4] (x, y, p, t) or structured, has shape (${a.shape.join(', ')})`);
    n = a.shape[0];
    const s = a.itemSize;
    for (let c = 0; c < 4; c++) {
      base[c] = a.fortranOrder ? c * n * s : c * s;
      stride[c] = a.fortranOrder ? s : 4 * s;
      get.push(getter(a.scalar!));
    }
  }
  const pk = allocPacket(n);
  const [gx, gy, gp, gt] = get;
  const scale = o.timeScale;
  for (let i = 0; i < n; i++) {
    const x = gx(dv, base[0] + i * stride[0]);
    const y = gy(dv, base[1] + i * stride[1]);
    if (!(x >= 0 && x <= 65535 && y >= 0 && y <= 65535) || x !== Math.floor(x) || y !== Math.floor(y)) {
      fail(a.dataOffset + base[0] + i * stride[0], `event ${i}: coordinates (${x}, ${y}) are not integers in 0..65535`);
    }
    const t = Math.round(gt(dv, base[3] + i * stride[3]) * scale);
    if (!Number.isFinite(t)) fail(a.dataOffset + base[3] + i * stride[3], `event ${i}: timestamp is not finite`);
    pk.x[i] = x;
    pk.y[i] = y;
    pk.p[i] = gp(dv, base[2] + i * stride[2]) > 0 ? 1 : 0;
    pk.t[i] = t;
  }
  pk.length = n;
  return pk;
}
