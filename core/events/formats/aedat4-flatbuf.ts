/**
 * Strict, allocation-free FlatBuffers table access for hand-parsed AEDAT 4 buffers (IOHeader, packets, data
 * table). Every offset, vtable, string and vector is checked against the buffer before it is read, so a hostile
 * file yields an `EventFormatError` naming the absolute file position — never a RangeError from a DataView.
 */
import { EventFormatError } from '../errors.ts';

/**
 * A FlatBuffer view. `base` is the file position for error messages: of buf[0] when the bytes are stored as is
 * (`inFile` true), else of the packet the (decompressed) buffer came from — then the in-buffer offset is named in
 * the message instead.
 */
export class FlatBuf {
  readonly dv: DataView;
  constructor(
    readonly buf: Uint8Array, readonly base: number, readonly format: string, readonly what: string, readonly inFile = true,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(at: number, reason: string): never {
    if (this.inFile) throw new EventFormatError(this.format, this.base + at, `${this.what}: ${reason}`);
    throw new EventFormatError(this.format, this.base, `${this.what}: ${reason} (decompressed byte ${at})`);
  }

  u32(at: number): number {
    if (at < 0 || at + 4 > this.buf.length) this.fail(at, `offset ${at} outside the ${this.buf.length}-byte buffer`);
    return this.dv.getUint32(at, true);
  }

  /** The 4-character file identifier at bytes 4–7 (after the root offset), or '' when the buffer is too short. */
  identifier(): string {
    if (this.buf.length < 8) return '';
    return String.fromCharCode(this.buf[4], this.buf[5], this.buf[6], this.buf[7]);
  }

  /** The root table (offset stored at byte 0). */
  root(): FbTable {
    return this.table(this.u32(0), 'root table', 0);
  }

  /** The table at `pos` (referenced from position `from`, for errors), after checking its vtable. */
  table(pos: number, what: string, from = pos): FbTable {
    const len = this.buf.length;
    if (pos < 0 || pos + 4 > len) this.fail(from, `${what} at ${pos} outside the ${len}-byte buffer`);
    const vt = pos - this.dv.getInt32(pos, true);
    if (vt < 0 || vt + 4 > len) this.fail(pos, `${what}: vtable at ${vt} outside the buffer`);
    const vtSize = this.dv.getUint16(vt, true);
    const tableSize = this.dv.getUint16(vt + 2, true);
    if (vtSize < 4 || vtSize & 1 || vt + vtSize > len) this.fail(vt, `${what}: bad vtable size ${vtSize}`);
    if (tableSize < 4 || pos + tableSize > len) this.fail(vt, `${what}: table size ${tableSize} exceeds the buffer`);
    return new FbTable(this, pos, vt, vtSize, tableSize, what);
  }
}

/** One table: typed field accessors that return the schema default when a field is absent. */
export class FbTable {
  constructor(
    readonly fb: FlatBuf, readonly pos: number, private readonly vt: number, private readonly vtSize: number,
    private readonly tableSize: number, readonly what: string,
  ) {}

  /** Absolute position of field `id` (checked to hold `size` bytes inside the table), or -1 when absent. */
  field(id: number, size: number): number {
    const slot = 4 + 2 * id;
    if (slot + 2 > this.vtSize) return -1;
    const off = this.fb.dv.getUint16(this.vt + slot, true);
    if (off === 0) return -1;
    if (off < 4 || off + size > this.tableSize) this.fb.fail(this.pos, `${this.what}: field ${id} at +${off} overruns the ${this.tableSize}-byte table`);
    return this.pos + off;
  }

  i8(id: number, def = 0): number {
    const p = this.field(id, 1);
    return p < 0 ? def : this.fb.dv.getInt8(p);
  }
  i16(id: number, def = 0): number {
    const p = this.field(id, 2);
    return p < 0 ? def : this.fb.dv.getInt16(p, true);
  }
  i32(id: number, def = 0): number {
    const p = this.field(id, 4);
    return p < 0 ? def : this.fb.dv.getInt32(p, true);
  }
  f32(id: number, def = 0): number {
    const p = this.field(id, 4);
    return p < 0 ? def : this.fb.dv.getFloat32(p, true);
  }
  /** int64 as a Number (exact below 2^53; timestamps and offsets in practice). */
  i64(id: number, def = 0): number {
    const p = this.field(id, 8);
    return p < 0 ? def : readI64(this.fb.dv, p);
  }

  /** Position a u32 offset field points to, checked to leave at least `minBytes` in the buffer; -1 if absent. */
  private target(id: number, minBytes: number): number {
    const p = this.field(id, 4);
    if (p < 0) return -1;
    const t = p + this.fb.dv.getUint32(p, true);
    if (t + minBytes > this.fb.buf.length) this.fb.fail(p, `${this.what}: field ${id} points to ${t}, outside the ${this.fb.buf.length}-byte buffer`);
    return t;
  }

  /** A string field (latin-1/UTF-8 bytes decoded as UTF-8), or null when absent. */
  string(id: number): string | null {
    const t = this.target(id, 4);
    if (t < 0) return null;
    const n = this.fb.dv.getUint32(t, true);
    if (n > this.fb.buf.length - t - 4) this.fb.fail(t, `${this.what}: string of ${n} bytes exceeds the buffer`);
    return new TextDecoder('utf-8').decode(this.fb.buf.subarray(t + 4, t + 4 + n));
  }

  /** A vector field: absolute position of the first element and the element count; null when absent. */
  vector(id: number, elemSize: number): { start: number; count: number } | null {
    const t = this.target(id, 4);
    if (t < 0) return null;
    const count = this.fb.dv.getUint32(t, true);
    const room = this.fb.buf.length - t - 4;
    if (count > Math.floor(room / elemSize)) this.fb.fail(t, `${this.what}: vector of ${count} × ${elemSize} bytes exceeds the ${room} bytes left`);
    return { start: t + 4, count };
  }

  /** Element `i` of a vector of tables (start from `vector(id, 4)`). */
  tableAt(start: number, i: number, what: string): FbTable {
    const p = start + 4 * i;
    return this.fb.table(p + this.fb.dv.getUint32(p, true), what, p);
  }
}

export function readI64(dv: DataView, p: number): number {
  return dv.getInt32(p + 4, true) * 4294967296 + dv.getUint32(p, true);
}
