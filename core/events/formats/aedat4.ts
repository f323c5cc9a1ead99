/**
 * AEDAT 4.0 reader (iniVation DV / dv-processing recordings) — the project's own recording format.
 *
 * Layout (docs/event-formats.md §5): version line, u32 length + IOHeader FlatBuffer (compression,
 * dataTablePosition, infoNode XML), then packets (i32 streamId, i32 size, compressed size-prefixed FlatBuffer),
 * then optionally the compressed FileDataTable (FTAB) at dataTablePosition.
 *
 * The data table is the index: it gives every packet's position, element count and time span, so
 * `packets({from, to})` reads only the packets that overlap the range. Without a usable table (interrupted
 * recording: dataTablePosition = −1, or a damaged one) the packet headers are walked once at open.
 *
 * Events (`EVTS`, 16-byte `dv::Event` structs) go straight into struct-of-arrays typed arrays; IMU (`IMUS`) and
 * trigger (`TRIG`) streams are listed in `info.streams` and readable as typed arrays with `readAedat4Imu` /
 * `readAedat4Triggers`; frames (`FRME`) are listed only.
 *
 * Hot path: `packets()` reads consecutive packets in ~1 MiB windows and, for LZ4 files with the native kernels on,
 * hands each packet to one addon call (decode into the reader's scratch, FlatBuffer walk, unpack into the output
 * packet). Anything that call refuses goes through the generic path (decompress, `aedat4OpenBody`, unpack), which
 * is also the TypeScript reference and the source of every error message.
 */
import type { ByteSource } from '../byte-source.ts';
import { AEDAT4_NEED_SCRATCH, lz4Decompress, eventsNative } from '../codecs/lz4-native.ts';
import { eventsKernels } from '../codecs/events-native.ts';
import { zstdDecompress } from '../codecs/zstd.ts';
import { EventFormatError } from '../errors.ts';
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { DEFAULT_PACKET_CAPACITY, allocPacket, viewPacket } from '../packet.ts';
import type { EventFileInfo, EventFormat, EventReader, ReaderOptions, StreamDescriptor, TimeRange } from '../reader.ts';
import { FlatBuf, type FbTable } from './aedat4-flatbuf.ts';
import { DvXmlError, attrValue, childNode, parseDvXml, type DvNode } from './aedat4-infonode.ts';

const FMT = 'aedat4';
export const AEDAT4_VERSION_LINE = '#!AER-DAT4.0\r\n';
/** Names of IOHeader CompressionType values, by enum value. */
export const AEDAT4_COMPRESSION_NAMES = ['NONE', 'LZ4', 'LZ4_HIGH', 'ZSTD', 'ZSTD_HIGH'] as const;
/** Size of one `dv::Event` struct. */
export const AEDAT4_EVENT_BYTES = 16;

/** The largest decompressed packet or table accepted (DV packets are tens of KiB; 1 GiB is far beyond real use). */
const HARD_MAX_DECOMPRESSED = 1 << 30;
/** Largest IOHeader accepted (the infoNode of a many-stream recording is a few KiB). */
const MAX_IO_HEADER = 16 << 20;
/** Largest compressed data table read into memory (≈ 5 M packets). */
const MAX_TABLE_BYTES = 256 << 20;
/** Bytes read at once while walking packet headers of a file without a data table. */
const WALK_WINDOW = 64 << 10;
/** Bytes of consecutive packets `packets()` reads at once (one ByteSource read, not one per ~10 KiB packet). */
const READ_WINDOW = 1 << 20;
/** Largest decode scratch a reader keeps between packets (larger packets get a buffer of their own). */
const SCRATCH_KEEP_MAX = 64 << 20;

/** Upper bound of the decompressed size of `n` stored bytes under `compression` (refuses absurd claims). */
export function aedat4MaxDecompressed(compression: number, n: number): number {
  if (compression === 0) return n;
  // LZ4 cannot expand beyond ~255x; ZSTD can in theory, but event packets compress ~2-4x, so 1024x is generous.
  const ratio = compression <= 2 ? 255 : 1024;
  return Math.min(HARD_MAX_DECOMPRESSED, n * ratio + 4096);
}

/**
 * Decompresses one packet body or data table. `at` is its file position (for errors); `scratch` is reused for
 * LZ4 output when large enough (the result may then be a view of it).
 */
export function aedat4Decompress(compression: number, bytes: Uint8Array, at: number, scratch?: Uint8Array): Uint8Array {
  const maxOutput = aedat4MaxDecompressed(compression, bytes.length);
  switch (compression) {
    case 0:
      return bytes;
    case 1:
    case 2:
      return lz4Decompress(bytes, { maxOutput, format: FMT, baseOffset: at, scratch });
    case 3:
    case 4:
      return zstdDecompress(bytes, { maxOutput, format: FMT, baseOffset: at });
    default:
      throw new EventFormatError(FMT, at, `unknown compression type ${compression}`);
  }
}

/** Opens a decompressed size-prefixed FlatBuffer and checks its 4-character identifier. */
export function aedat4OpenBody(body: Uint8Array, at: number, identifier: string, what: string): FbTable {
  if (body.length < 12) throw new EventFormatError(FMT, at, `${what}: ${body.length} bytes is too short for a FlatBuffer`);
  const len = (body[0] | (body[1] << 8) | (body[2] << 16) | (body[3] << 24)) >>> 0;
  if (len > body.length - 4) throw new EventFormatError(FMT, at, `${what}: size prefix ${len} exceeds the ${body.length - 4} decompressed bytes`);
  const fb = new FlatBuf(body.subarray(4, 4 + len), at, FMT, what, false);
  const id = fb.identifier();
  if (id !== identifier) throw new EventFormatError(FMT, at, `${what}: identifier '${printable(id)}', expected '${identifier}'`);
  return fb.root();
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

// ---------------------------------------------------------------------------------------------- index

/** Where the packets are: one row per packet, struct of arrays. Times/elements NaN/-1 when unknown. */
export class PacketIndex {
  count = 0;
  /** File position of the packet body (header position + 8), like FileDataTable.ByteOffset. */
  offset = new Float64Array(64);
  stream = new Int32Array(64);
  size = new Int32Array(64);
  elements = new Float64Array(64);
  tStart = new Float64Array(64);
  tEnd = new Float64Array(64);

  push(offset: number, stream: number, size: number, elements: number, tStart: number, tEnd: number): void {
    if (this.count === this.offset.length) this.grow();
    const i = this.count++;
    this.offset[i] = offset;
    this.stream[i] = stream;
    this.size[i] = size;
    this.elements[i] = elements;
    this.tStart[i] = tStart;
    this.tEnd[i] = tEnd;
  }

  private grow(): void {
    const n = this.offset.length * 2;
    const g = <T extends Float64Array | Int32Array>(a: T, mk: (n: number) => T): T => {
      const b = mk(n);
      b.set(a);
      return b;
    };
    this.offset = g(this.offset, (k) => new Float64Array(k));
    this.stream = g(this.stream, (k) => new Int32Array(k));
    this.size = g(this.size, (k) => new Int32Array(k));
    this.elements = g(this.elements, (k) => new Float64Array(k));
    this.tStart = g(this.tStart, (k) => new Float64Array(k));
    this.tEnd = g(this.tEnd, (k) => new Float64Array(k));
  }
}

/** Parses a decompressed FileDataTable into an index, validating every entry against the file layout. */
export function parseAedat4DataTable(body: Uint8Array, at: number, dataStart: number, dataEnd: number): PacketIndex {
  const root = aedat4OpenBody(body, at, 'FTAB', 'FileDataTable');
  const vec = root.vector(0, 4);
  const idx = new PacketIndex();
  if (!vec) return idx;
  let prevEnd = dataStart;
  for (let i = 0; i < vec.count; i++) {
    const e = root.tableAt(vec.start, i, `FileDataTable entry ${i}`);
    const offset = e.i64(0, -1);
    const pi = e.field(1, 8); // PacketHeader struct { i32 StreamID; i32 Size }
    const stream = pi < 0 ? 0 : e.fb.dv.getInt32(pi, true);
    const size = pi < 0 ? 0 : e.fb.dv.getInt32(pi + 4, true);
    const elements = e.i64(2, -1);
    const tStart = e.i64(3, NaN);
    const tEnd = e.i64(4, NaN);
    if (!(offset >= prevEnd + 8) || size < 0 || offset + size > dataEnd) {
      throw new EventFormatError(FMT, at, `FileDataTable entry ${i}: packet at ${offset} (size ${size}) is outside the packet area [${dataStart}, ${dataEnd}) or overlaps the previous one`);
    }
    prevEnd = offset + size;
    idx.push(offset, stream, size, elements, tStart, tEnd);
  }
  return idx;
}

// ---------------------------------------------------------------------------------------------- header

/** What the IOHeader says. */
export interface Aedat4Header {
  compression: number;
  /** −1 when the file has no data table (interrupted recording). */
  dataTablePosition: number;
  infoNode: string;
  /** Size of the IOHeader FlatBuffer; packets start at 18 + this. */
  ioHeaderSize: number;
  /** File position of the dataTablePosition field inside the IOHeader (−1 when the field is absent). */
  dataTablePositionField: number;
}

/** One stream declared in the infoNode (`outInfo/<id>`). */
export interface Aedat4Stream {
  id: number;
  type: string;
  name: string;
  compression?: string;
  geometry?: SensorGeometry;
  source?: string;
  tsOffset?: number;
}

/** Parses the IOHeader FlatBuffer (bytes `buf`, stored at file position `at`). */
export function parseAedat4IoHeader(buf: Uint8Array, at: number): Aedat4Header {
  const fb = new FlatBuf(buf, at, FMT, 'IOHeader');
  // The identifier is written by DV ('IOHE'); FlatBuffers makes it optional, so only a wrong one is an error.
  const id = fb.identifier();
  if (buf.length >= 8 && id !== 'IOHE' && fb.u32(0) > 8 && /[A-Z]{4}/.test(id)) {
    fb.fail(4, `identifier '${id}', expected 'IOHE'`);
  }
  const root = fb.root();
  const compression = root.i32(0, 0);
  if (compression < 0 || compression > 4) fb.fail(root.pos, `unknown compression type ${compression}`);
  const dtpField = root.field(1, 8);
  const dataTablePosition = root.i64(1, -1);
  const infoNode = root.string(2);
  if (infoNode === null) return fb.fail(root.pos, 'no infoNode');
  return {
    compression, dataTablePosition, infoNode, ioHeaderSize: buf.length,
    dataTablePositionField: dtpField < 0 ? -1 : at + dtpField,
  };
}

/** Streams declared in the infoNode tree: children of `outInfo` (or, failing that, any node with a typeIdentifier). */
export function aedat4Streams(root: DvNode): Aedat4Stream[] {
  const dv = root.children.length === 1 && root.children[0].name === '' ? root.children[0] : root;
  let outs = childNode(dv, 'outInfo')?.children;
  if (!outs) {
    outs = [];
    const walk = (n: DvNode, depth: number) => {
      if (depth > 64) return;
      if (n.attrs.has('typeIdentifier') && /^\d+$/.test(n.name)) outs!.push(n);
      else for (const c of n.children) walk(c, depth + 1);
    };
    walk(dv, 0);
  }
  const streams: Aedat4Stream[] = [];
  for (const n of outs) {
    if (!/^\d+$/.test(n.name)) continue;
    const info = childNode(n, 'info');
    const sx = Number(attrValue(info, 'sizeX'));
    const sy = Number(attrValue(info, 'sizeY'));
    const ts = attrValue(info, 'tsOffset');
    streams.push({
      id: Number(n.name),
      type: attrValue(n, 'typeIdentifier') ?? '',
      name: attrValue(n, 'originalOutputName') ?? n.name,
      compression: attrValue(n, 'compression'),
      geometry: Number.isInteger(sx) && Number.isInteger(sy) && sx > 0 && sy > 0 && sx <= 65536 && sy <= 65536 ? { width: sx, height: sy } : undefined,
      source: attrValue(info, 'source'),
      tsOffset: ts !== undefined && ts !== '' && Number.isFinite(Number(ts)) ? Number(ts) : undefined,
    });
  }
  return streams;
}

// ---------------------------------------------------------------------------------------------- events

const scratchAligned = { buf: new ArrayBuffer(0) };
/** Zero-room columns for a fused packet call made before the output packet exists (it then only decodes). */
const NO_COLUMNS = { x: new Uint16Array(0), y: new Uint16Array(0), t: new Float64Array(0), p: new Uint8Array(0) };

/**
 * Unpacks `count` dv::Event structs starting at bytes[start] into the columns (at index 0). Uses the native
 * addon when loaded; otherwise 32/16-bit typed-array views (copying to an aligned scratch when the structs are
 * not 4-byte aligned in memory).
 */
export function unpackAedat4Events(bytes: Uint8Array, start: number, count: number, x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, forceTs = false): void {
  if (count === 0) return;
  // The native unpacking follows the event kernels' switch (setEventsNative / EGRU_EVENTS_NATIVE); LZ4 has its own.
  if (eventsNative && !forceTs && eventsKernels()) {
    const r = eventsNative.unpackEvents(bytes, start, count, x, y, t, p);
    if (r === count) return;
  }
  let buffer = bytes.buffer;
  let byteOff = bytes.byteOffset + start;
  const nbytes = count * AEDAT4_EVENT_BYTES;
  if (byteOff & 3) {
    if (scratchAligned.buf.byteLength < nbytes) scratchAligned.buf = new ArrayBuffer(Math.max(nbytes, 1 << 16));
    new Uint8Array(scratchAligned.buf, 0, nbytes).set(bytes.subarray(start, start + nbytes));
    buffer = scratchAligned.buf;
    byteOff = 0;
  }
  const i32 = new Int32Array(buffer, byteOff, count * 4);
  const i16 = new Int16Array(buffer, byteOff, count * 8);
  const u8 = new Uint8Array(buffer, byteOff, nbytes);
  for (let i = 0, w = 0; i < count; i++, w += 4) {
    t[i] = i32[w + 1] * 4294967296 + (i32[w] >>> 0);
    x[i] = i16[2 * w + 4];
    y[i] = i16[2 * w + 5];
    p[i] = u8[4 * w + 12] !== 0 ? 1 : 0;
  }
}

// ---------------------------------------------------------------------------------------------- reader

/** The AEDAT 4 reader: an EventReader plus access to the other streams and read statistics. */
export class Aedat4Reader implements EventReader {
  readonly warnings: string[] = [];
  /** Event packets (AEDAT packets of the event stream) decompressed so far — shows what seeking saved. */
  packetsRead = 0;
  /** Of those, the ones decoded by the fused native call (LZ4 packets with the native kernels on). */
  fusedPackets = 0;
  /** True when the file's FileDataTable was used; false when packets were walked. */
  readonly usedDataTable: boolean;
  private scratch: Uint8Array = new Uint8Array(1 << 16);
  /** Results of the fused native packet call (see EventsNativeAddon.aedat4Lz4Packet). */
  private readonly fusedState = new Float64Array(3);

  constructor(
    private readonly src: ByteSource,
    readonly info: EventFileInfo,
    readonly header: Aedat4Header,
    readonly streams: Aedat4Stream[],
    readonly index: PacketIndex,
    /** Stream id of the event stream (the first EVTS stream), or −1. */
    readonly eventStream: number,
    private readonly capacity: number,
    usedTable: boolean,
    openWarnings: string[],
    /** ReaderOptions.reusePackets: recycle output packets (valid until the consumer asks for the next). */
    readonly reusesPackets = false,
  ) {
    this.usedDataTable = usedTable;
    this.warnings.push(...openWarnings);
  }

  /** Reads and decompresses packet `i` of the index; null when the file ends inside it (warning recorded). */
  async readPacket(i: number): Promise<Uint8Array | null> {
    const idx = this.index;
    const body = idx.offset[i];
    const size = idx.size[i];
    const raw = await this.src.read(body - 8, size + 8);
    if (raw.length < size + 8) {
      this.warnings.push(`packet at ${body - 8} is truncated (${raw.length - 8} of ${size} bytes): file cut short`);
      return null;
    }
    return this.decodeRaw(raw, i);
  }

  /** Checks the header of packet `i`'s bytes `raw` (header + body) against the index and decompresses the body. */
  private decodeRaw(raw: Uint8Array, i: number): Uint8Array {
    const idx = this.index;
    const body = idx.offset[i];
    const size = idx.size[i];
    const stream = raw[0] | (raw[1] << 8) | (raw[2] << 16) | (raw[3] << 24);
    const hsize = raw[4] | (raw[5] << 8) | (raw[6] << 16) | (raw[7] << 24);
    if (stream !== idx.stream[i] || hsize !== size) {
      throw new EventFormatError(FMT, body - 8, `packet header (stream ${stream}, size ${hsize}) does not match the data table (stream ${idx.stream[i]}, size ${size})`);
    }
    const out = aedat4Decompress(this.header.compression, raw.subarray(8), body, this.scratch);
    if (out.buffer === this.scratch.buffer) return out;
    // Keep a grown LZ4 output buffer for the next packet (the caller consumes `out` before the next read).
    if (this.header.compression === 1 || this.header.compression === 2) {
      if (out.byteOffset === 0 && out.buffer.byteLength > this.scratch.length && out.buffer.byteLength <= SCRATCH_KEEP_MAX) {
        this.scratch = new Uint8Array(out.buffer);
      }
    }
    return out;
  }

  /**
   * Event packets in file order. Small AEDAT packets (DV writes ~10 ms each) are merged into output packets of up
   * to `packetCapacity` events, sized from the data table's element counts, which saves per-packet overhead; a
   * packet larger than the capacity is split. With a range, packets outside it are never read (seek) and the
   * boundary packets are filtered.
   */
  async *packets(range?: TimeRange): AsyncIterableIterator<EventPacket> {
    const from = range?.from ?? -Infinity;
    const to = range?.to ?? Infinity;
    const ranged = from !== -Infinity || to !== Infinity;
    const idx = this.index;
    const cap = this.capacity;
    const rows: number[] = [];
    for (let i = 0; i < idx.count; i++) {
      if (idx.stream[i] !== this.eventStream) continue;
      // Seek: skip packets whose indexed time span misses the range (unknown spans are read and filtered).
      if (ranged && (idx.tEnd[i] < from || idx.tStart[i] >= to)) continue;
      rows.push(i);
    }
    // Events still to come after row r, as the table states them (0 when unknown): sizes the output packets.
    const planned = new Float64Array(rows.length + 1);
    for (let r = rows.length - 1; r >= 0; r--) {
      const e = idx.elements[rows[r]];
      planned[r] = planned[r + 1] + (e > 0 && e <= 0x7fffffff ? e : 0);
    }
    let cur: EventPacket | null = null;
    // Packet reuse: output packets are views of full-capacity packets from `pool`; the ones handed out are
    // returned to it when the generator resumes, i.e. once the consumer has asked for the next packet.
    const reuse = this.reusesPackets;
    const pool: EventPacket[] = [];
    const backing = new Map<EventPacket, EventPacket>();
    const newPacket = (size: number): EventPacket => {
      if (!reuse) return { x: new Uint16Array(size), y: new Uint16Array(size), t: new Float64Array(size), p: new Uint8Array(size), length: 0 };
      const b = pool.pop() ?? allocPacket(cap);
      const v = size === cap ? b : viewPacket(b, 0, size);
      v.length = 0;
      backing.set(v, b);
      return v;
    };
    const recycle = (pks: readonly EventPacket[]) => {
      if (!reuse) return;
      for (const pk of pks) {
        const b = backing.get(pk);
        if (b) {
          backing.delete(pk);
          pool.push(b);
        }
      }
    };
    // Fused native path (LZ4 packets, native kernels on): one addon call per packet decodes the frame into the
    // reader's scratch, finds the event vector and unpacks into `cur`; any refusal re-runs the generic path below
    // on the same bytes, which throws the detailed error (or, for shapes the call leaves alone, decodes).
    const compression = this.header.compression;
    const fused = (compression === 1 || compression === 2) && eventsKernels() !== null ? eventsNative?.aedat4Lz4Packet : undefined;
    const st = this.fusedState;
    // Moves events [at, at + n) of `cur` (just unpacked) into place: range filter, length, hand-off when full.
    const place = (pk: EventPacket, at: number, n: number, filter: boolean, ready: EventPacket[]): boolean => {
      let kept = n;
      if (filter) {
        const { x, y, t, p } = pk;
        let m = at;
        for (let j = at; j < at + n; j++) {
          const tj = t[j];
          if (tj >= from && tj < to) {
            x[m] = x[j];
            y[m] = y[j];
            t[m] = tj;
            p[m] = p[j];
            m++;
          }
        }
        kept = m - at;
      }
      pk.length = at + kept;
      if (pk.length !== pk.t.length) return false;
      ready.push(pk);
      return true;
    };
    // Packet bytes come from a window of consecutive packets (one ByteSource read per ~1 MiB, not per packet).
    let win: Uint8Array = new Uint8Array(0);
    let winAt = 0;
    const ready: EventPacket[] = []; // output packets completed by the current AEDAT packet (emptied after each)
    for (let r = 0; r < rows.length; r++) {
      const i = rows[r];
      const pos = idx.offset[i];
      const size = idx.size[i];
      const head = pos - 8;
      if (head < winAt || head + size + 8 > winAt + win.length) {
        let end = head + size + 8;
        for (let r2 = r + 1; r2 < rows.length; r2++) {
          const e2 = idx.offset[rows[r2]] + idx.size[rows[r2]];
          if (e2 - head > READ_WINDOW) break;
          end = e2;
        }
        win = await this.src.read(head, end - head);
        winAt = head;
      }
      const o = head - winAt;
      if (win.length - o < size + 8) {
        this.warnings.push(`packet at ${head} is truncated (${win.length - o - 8} of ${size} bytes): file cut short`);
        break;
      }
      const filter = ranged && !(idx.tStart[i] >= from && idx.tEnd[i] < to);
      let body: Uint8Array | null = null;
      let start = 0;
      let count = 0;
      let k = 0;
      // The packet header must match the index (else the generic path below throws).
      if (fused && (win[o] | (win[o + 1] << 8) | (win[o + 2] << 16) | (win[o + 3] << 24)) === idx.stream[i] &&
        (win[o + 4] | (win[o + 5] << 8) | (win[o + 6] << 16) | (win[o + 7] << 24)) === size) {
        const into = cur ?? NO_COLUMNS;
        const at = cur ? cur.length : 0;
        const room = cur ? cur.t.length - at : 0;
        const maxOut = aedat4MaxDecompressed(compression, size);
        let w = fused(win, o + 8, o + 8 + size, maxOut, this.scratch, st, into.x, into.y, into.t, into.p, at, room);
        if (w === AEDAT4_NEED_SCRATCH && st[2] <= SCRATCH_KEEP_MAX) {
          // The frame's bound was checked against its bytes natively (≤ maxOut, itself ≤ 255 × the packet size).
          this.scratch = new Uint8Array(st[2]);
          w = fused(win, o + 8, o + 8 + size, maxOut, this.scratch, st, into.x, into.y, into.t, into.p, at, room);
        }
        if (w >= 0) {
          this.packetsRead++;
          this.fusedPackets++;
          body = this.scratch;
          count = st[0];
          start = st[1];
          k = w;
          if (cur && w > 0 && place(cur, at, w, filter, ready)) cur = null;
        }
      }
      if (body === null) {
        // Generic path (also the TypeScript reference): header check, decompress, FlatBuffer walk — each throws
        // the detailed EventFormatError for bad bytes.
        body = this.decodeRaw(win.subarray(o, o + size + 8), i);
        this.packetsRead++;
        const root = aedat4OpenBody(body, pos, 'EVTS', `event packet at ${pos - 8}`);
        const vec = root.vector(0, AEDAT4_EVENT_BYTES);
        count = vec ? vec.count : 0;
        start = vec ? 4 + vec.start : 0; // vector position inside `body` (after the size prefix)
      }
      // Unpack the whole AEDAT packet before yielding: `body` may be the shared scratch buffer, which another
      // read (IMU, a second iteration) could overwrite while the consumer holds a packet.
      while (k < count) {
        if (!cur) cur = newPacket(Math.min(cap, count - k + planned[r + 1]));
        const at = cur.length;
        const n = Math.min(cur.t.length - at, count - k);
        const { x, y, t, p } = cur;
        unpackAedat4Events(body, start + k * AEDAT4_EVENT_BYTES, n, x.subarray(at), y.subarray(at), t.subarray(at), p.subarray(at));
        k += n;
        if (place(cur, at, n, filter, ready)) cur = null;
      }
      if (ready.length > 0) {
        yield* ready;
        recycle(ready);
        ready.length = 0;
      }
    }
    if (cur && cur.length > 0) yield cur;
  }

  /** Index rows of stream `id` (in file order). */
  packetsOf(id: number): number[] {
    const rows: number[] = [];
    for (let i = 0; i < this.index.count; i++) if (this.index.stream[i] === id) rows.push(i);
    return rows;
  }

  async close(): Promise<void> {
    await this.src.close();
  }
}

/** IMU samples as columns (IMUS stream): time in µs, temperature °C, accelerometer g, gyroscope °/s, magnetometer µT. */
export interface Aedat4Imu {
  length: number;
  t: Float64Array;
  temperature: Float32Array;
  accX: Float32Array; accY: Float32Array; accZ: Float32Array;
  gyroX: Float32Array; gyroY: Float32Array; gyroZ: Float32Array;
  magX: Float32Array; magY: Float32Array; magZ: Float32Array;
}

/** Triggers as columns (TRIG stream): time in µs and type (0 TIMESTAMP_RESET … 9 APS_EXPOSURE_END). */
export interface Aedat4Triggers {
  length: number;
  t: Float64Array;
  type: Int8Array;
}

/** Reads every element of the tables-vector streams of `type`, calling `each(table)`, optionally in a time range. */
async function forEachElement(reader: Aedat4Reader, type: string, range: TimeRange | undefined, each: (e: FbTable) => void): Promise<void> {
  const from = range?.from ?? -Infinity;
  const to = range?.to ?? Infinity;
  for (const s of reader.streams) {
    if (s.type !== type) continue;
    for (const i of reader.packetsOf(s.id)) {
      if (reader.index.tEnd[i] < from || reader.index.tStart[i] >= to) continue;
      const body = await reader.readPacket(i);
      if (!body) return;
      const pos = reader.index.offset[i];
      const root = aedat4OpenBody(body, pos, type, `${type} packet at ${pos - 8}`);
      const vec = root.vector(0, 4);
      if (!vec) continue;
      for (let k = 0; k < vec.count; k++) each(root.tableAt(vec.start, k, `${type} element ${k}`));
    }
  }
}

class Columns<T extends Float64Array | Float32Array | Int8Array> {
  a: T;
  constructor(private readonly mk: (n: number) => T) {
    this.a = mk(256);
  }
  set(i: number, v: number): void {
    if (i >= this.a.length) {
      const b = this.mk(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[i] = v;
  }
  done(n: number): T {
    return this.a.slice(0, n) as T;
  }
}

/** Reads the IMU samples of a recording (all IMUS streams) as typed arrays, optionally restricted to [from, to). */
export async function readAedat4Imu(reader: Aedat4Reader, range?: TimeRange): Promise<Aedat4Imu> {
  const f64 = (n: number) => new Float64Array(n);
  const f32 = (n: number) => new Float32Array(n);
  const t = new Columns(f64);
  const cols = Array.from({ length: 10 }, () => new Columns(f32));
  const from = range?.from ?? -Infinity;
  const to = range?.to ?? Infinity;
  let n = 0;
  await forEachElement(reader, 'IMUS', range, (e) => {
    const ts = e.i64(0, 0);
    if (ts < from || ts >= to) return;
    t.set(n, ts);
    for (let f = 0; f < 10; f++) cols[f].set(n, e.f32(f + 1, 0));
    n++;
  });
  const c = cols.map((k) => k.done(n));
  return {
    length: n, t: t.done(n), temperature: c[0], accX: c[1], accY: c[2], accZ: c[3], gyroX: c[4], gyroY: c[5], gyroZ: c[6],
    magX: c[7], magY: c[8], magZ: c[9],
  };
}

/** Reads the triggers of a recording (all TRIG streams) as typed arrays, optionally restricted to [from, to). */
export async function readAedat4Triggers(reader: Aedat4Reader, range?: TimeRange): Promise<Aedat4Triggers> {
  const t = new Columns((n) => new Float64Array(n));
  const type = new Columns((n) => new Int8Array(n));
  const from = range?.from ?? -Infinity;
  const to = range?.to ?? Infinity;
  let n = 0;
  await forEachElement(reader, 'TRIG', range, (e) => {
    const ts = e.i64(0, 0);
    if (ts < from || ts >= to) return;
    t.set(n, ts);
    type.set(n, e.i8(1, 0));
    n++;
  });
  return { length: n, t: t.done(n), type: type.done(n) };
}

// ---------------------------------------------------------------------------------------------- open

/** Walks packet headers from `start` to `end` (exclusive), building an index without element counts or times. */
async function walkPackets(src: ByteSource, start: number, end: number, known: Set<number>, warnings: string[]): Promise<PacketIndex> {
  const idx = new PacketIndex();
  let pos = start;
  let win: Uint8Array = new Uint8Array(0);
  let winAt = 0;
  while (pos < end) {
    if (end - pos < 8) {
      warnings.push(`${end - pos} stray bytes at ${pos} (truncated packet header): file cut short`);
      break;
    }
    if (pos < winAt || pos + 8 > winAt + win.length) {
      win = await src.read(pos, Math.min(WALK_WINDOW, end - pos));
      winAt = pos;
      if (win.length < 8) {
        warnings.push(`file ends at ${pos + win.length} inside a packet header`);
        break;
      }
    }
    const o = pos - winAt;
    const stream = win[o] | (win[o + 1] << 8) | (win[o + 2] << 16) | (win[o + 3] << 24);
    const size = win[o + 4] | (win[o + 5] << 8) | (win[o + 6] << 16) | (win[o + 7] << 24);
    if (size < 0 || !known.has(stream)) {
      const why = size < 0 ? `negative packet size ${size}` : `packet of stream ${stream}, which the infoNode does not declare`;
      // After good packets this is most likely a data table the header lost track of: keep what was found.
      if (idx.count === 0) throw new EventFormatError(FMT, pos, why);
      warnings.push(`stopped walking packets at ${pos}: ${why}`);
      break;
    }
    if (size > end - pos - 8) {
      warnings.push(`packet at ${pos} declares ${size} bytes but only ${end - pos - 8} remain: file cut short, last packet dropped`);
      break;
    }
    idx.push(pos + 8, stream, size, -1, NaN, NaN);
    pos += 8 + size;
  }
  return idx;
}

async function openAedat4(src: ByteSource, opts: ReaderOptions): Promise<Aedat4Reader> {
  const size = src.size;
  const head = await src.read(0, 18);
  const line = String.fromCharCode(...head.subarray(0, 14));
  if (line !== AEDAT4_VERSION_LINE) throw new EventFormatError(FMT, 0, 'missing version line #!AER-DAT4.0', src.name);
  if (head.length < 18) throw new EventFormatError(FMT, head.length, 'file ends before the IOHeader length', src.name);
  const hlen = (head[14] | (head[15] << 8) | (head[16] << 16) | (head[17] << 24)) >>> 0;
  if (hlen < 12 || hlen > MAX_IO_HEADER || hlen > size - 18) {
    throw new EventFormatError(FMT, 14, `IOHeader length ${hlen} is invalid (${size - 18} bytes follow)`, src.name);
  }
  const hbuf = await src.read(18, hlen);
  const header = parseAedat4IoHeader(hbuf, 18);
  let tree: DvNode;
  try {
    tree = parseDvXml(header.infoNode);
  } catch (e) {
    if (e instanceof DvXmlError) throw new EventFormatError(FMT, 18, e.message, src.name);
    throw e;
  }
  const streams = aedat4Streams(tree);
  const known = new Set(streams.map((s) => s.id));
  const dataStart = 18 + hlen;
  const warnings: string[] = [];

  // Index: the data table when present and sound, else a walk over the packet headers.
  let index: PacketIndex | null = null;
  const dtp = header.dataTablePosition;
  let dataEnd = size;
  if (dtp >= 0) {
    if (dtp < dataStart || dtp >= size) {
      warnings.push(`dataTablePosition ${dtp} lies outside the packet area [${dataStart}, ${size}): file cut short? walking packets`);
    } else if (size - dtp > MAX_TABLE_BYTES) {
      warnings.push(`data table of ${size - dtp} bytes is implausibly large: walking packets`);
    } else {
      dataEnd = dtp;
      try {
        const raw = await src.read(dtp, size - dtp);
        const body = aedat4Decompress(header.compression, raw, dtp);
        index = parseAedat4DataTable(body, dtp, dataStart, dtp);
      } catch (e) {
        if (!(e instanceof EventFormatError)) throw e;
        warnings.push(`data table unusable (${e.message}): walking packets`);
      }
    }
  }
  const usedTable = index !== null;
  if (!index) index = await walkPackets(src, dataStart, dataEnd, known, warnings);

  const ev = streams.find((s) => s.type === 'EVTS');
  const descriptors: StreamDescriptor[] = streams.map((s) => {
    let packets = 0;
    let elements = 0;
    for (let i = 0; i < index.count; i++) {
      if (index.stream[i] === s.id) {
        packets++;
        elements += index.elements[i];
      }
    }
    const d: StreamDescriptor = { id: s.id, type: s.type, name: s.name, packets };
    if (s.geometry) d.geometry = s.geometry;
    if (usedTable) d.elements = elements;
    return d;
  });
  const hdr: Record<string, string> = {
    version: '4.0',
    compression: AEDAT4_COMPRESSION_NAMES[header.compression],
    dataTablePosition: String(dtp),
    ioHeaderSize: String(hlen),
    infoNode: header.infoNode,
  };
  if (ev?.tsOffset !== undefined) hdr.tsOffset = String(ev.tsOffset);
  if (ev?.source) hdr.source = ev.source;
  const info: EventFileInfo = {
    format: 'aedat4',
    formatName: 'AEDAT 4.0',
    geometry: opts.geometry ?? ev?.geometry ?? null,
    header: hdr,
    streams: descriptors,
    dataOffset: dataStart,
    fileSize: size,
  };
  if (ev?.source) info.camera = ev.source;
  const capacity = Math.max(1, Math.floor(opts.packetCapacity ?? DEFAULT_PACKET_CAPACITY));
  return new Aedat4Reader(src, info, header, streams, index, ev ? ev.id : -1, capacity, usedTable, warnings, opts.reusePackets === true);
}

const VERSION_BYTES = Array.from(AEDAT4_VERSION_LINE, (c) => c.charCodeAt(0));

export const aedat4Format: EventFormat = {
  id: 'aedat4',
  name: 'AEDAT 4.0',
  extensions: ['.aedat4', '.aedat'],
  probe(head: Uint8Array): number {
    if (head.length < VERSION_BYTES.length) return 0;
    for (let i = 0; i < VERSION_BYTES.length; i++) if (head[i] !== VERSION_BYTES[i]) return 0;
    return 1;
  },
  open: (src, opts) => openAedat4(src, opts),
};
