/**
 * AEDAT 4.0 writer: recordings that DV / dv-processing open, laid out like DV's own recorder writes them.
 *
 *   "#!AER-DAT4.0\r\n" | u32 N | IOHeader FlatBuffer (N bytes, "IOHE")
 *   packets: i32 streamId (0) | i32 size | compressed size-prefixed EventPacket FlatBuffer ("EVTS")
 *   FileDataTable ("FTAB", compressed, no packet header) at dataTablePosition, to the end of the file
 *
 * The IOHeader always stores dataTablePosition explicitly (−1 while recording), so `close()` patches those 8 bytes
 * in place. An interrupted recording therefore keeps dataTablePosition = −1 and stays readable by walking packets
 * (our reader and DV both do). Packets go to the file as soon as they are complete and the file is synced at most
 * once per second, so a crash loses at most about a second of events.
 *
 * FlatBuffers are built by hand, front to back, with every scalar aligned relative to the buffer start and every
 * buffer a multiple of 8 bytes long (so alignment also holds relative to its end, as the official builder
 * arranges): the Event struct vector starts 8-byte aligned, vtables precede their tables, offsets point forward.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { lz4CompressInto } from '../codecs/lz4-native.ts';
import { lz4FrameEncodeBound } from '../codecs/lz4.ts';
import { ZSTD_HIGH_LEVEL, ZSTD_LEVEL, zstdCompress } from '../codecs/zstd.ts';
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { AEDAT4_COMPRESSION_NAMES, AEDAT4_VERSION_LINE } from '../formats/aedat4.ts';
import { writeDvXml, type DvNode } from '../formats/aedat4-infonode.ts';

export type Aedat4Compression = 'none' | 'lz4' | 'lz4-high' | 'zstd' | 'zstd-high';

export interface Aedat4WriteOptions {
  geometry: SensorGeometry;
  /** Packet body compression (default 'lz4', like DV's recorder). */
  compression?: Aedat4Compression;
  /** Camera name written as info/source (default 'EGRU-Studio'). */
  source?: string;
  /** Most events in one packet (default 16384). */
  eventsPerPacket?: number;
  /** A packet is closed once the next event is this much later than its first event (default 10_000 µs). */
  maxPacketIntervalUs?: number;
}

const COMPRESSION_CODE: Record<Aedat4Compression, number> = { none: 0, lz4: 1, 'lz4-high': 2, zstd: 3, 'zstd-high': 4 };
const DEFAULT_EVENTS_PER_PACKET = 16_384;
const DEFAULT_INTERVAL_US = 10_000;
const EVENT_STREAM_ID = 0;
/** File position of the IOHeader's dataTablePosition i64 (18 + its offset inside the IOHeader buffer). */
export const AEDAT4_DTP_FIELD_POSITION = 18 + 32;
/** Size of the EventPacket FlatBuffer before the first event (size prefix, root, id, vtable, table, count). */
const EVTS_HEAD = 32;
const SYNC_INTERVAL_MS = 1000;

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** The infoNode XML, in DV's layout (one EVTS output, attributes sorted like DV's config tree). */
export function aedat4InfoNode(opts: Aedat4WriteOptions): string {
  const comp = AEDAT4_COMPRESSION_NAMES[COMPRESSION_CODE[opts.compression ?? 'lz4']];
  const base = '/mainloop/Recorder/outInfo/';
  const a = (type: string, value: string) => ({ type, value });
  const info: DvNode = {
    name: 'info', path: `${base}0/info/`, children: [],
    attrs: new Map([
      ['sizeX', a('int', String(opts.geometry.width))],
      ['sizeY', a('int', String(opts.geometry.height))],
      ['source', a('string', opts.source ?? 'EGRU-Studio')],
      ['tsOffset', a('long', '0')],
    ]),
  };
  const out0: DvNode = {
    name: '0', path: `${base}0/`, children: [info],
    attrs: new Map([
      ['compression', a('string', comp)],
      ['originalModuleName', a('string', 'egru-studio')],
      ['originalOutputName', a('string', 'events')],
      ['typeDescription', a('string', 'Array of events (polarity ON/OFF).')],
      ['typeIdentifier', a('string', 'EVTS')],
    ]),
  };
  const outInfo: DvNode = { name: 'outInfo', path: base, attrs: new Map(), children: [out0] };
  return writeDvXml({ name: '', path: '/', attrs: new Map(), children: [outInfo] });
}

/** Version line + u32 length + IOHeader FlatBuffer with dataTablePosition = −1. */
export function aedat4FileHeader(compression: number, infoNode: string): Uint8Array {
  const xml = new TextEncoder().encode(infoNode);
  const n = align8(44 + 4 + xml.length + 1);
  const out = new Uint8Array(18 + n);
  for (let i = 0; i < 14; i++) out[i] = AEDAT4_VERSION_LINE.charCodeAt(i);
  const dv = new DataView(out.buffer);
  dv.setUint32(14, n, true);
  const b = 18; // IOHeader buffer start
  dv.setUint32(b + 0, 24, true); // root table offset
  out.set([0x49, 0x4f, 0x48, 0x45], b + 4); // "IOHE"
  // vtable at 8: size 10, table size 20, compression @4, dataTablePosition @8, infoNode @16
  dv.setUint16(b + 8, 10, true);
  dv.setUint16(b + 10, 20, true);
  dv.setUint16(b + 12, 4, true);
  dv.setUint16(b + 14, 8, true);
  dv.setUint16(b + 16, 16, true);
  dv.setInt32(b + 24, 24 - 8, true); // table → vtable
  dv.setInt32(b + 28, compression, true);
  dv.setInt32(b + 32, -1, true); // dataTablePosition = −1 (both halves), patched at close
  dv.setInt32(b + 36, -1, true);
  dv.setUint32(b + 40, 4, true); // → string at 44
  dv.setUint32(b + 44, xml.length, true);
  out.set(xml, b + 48); // NUL terminator and padding are already zero
  return out;
}

/** The 8 bytes of an i64, little-endian. */
export function i64Bytes(v: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  const hi = Math.floor(v / 4294967296);
  dv.setUint32(0, v - hi * 4294967296, true);
  dv.setInt32(4, hi, true);
  return b;
}

interface TableRow {
  offset: number;
  size: number;
  elements: number;
  tStart: number;
  tEnd: number;
}

/** The uncompressed size-prefixed FileDataTable FlatBuffer. */
export function aedat4DataTable(rows: readonly TableRow[], streamId = EVENT_STREAM_ID): Uint8Array {
  const n = rows.length;
  const v = align8(32 + 4 * n);
  const total = v + 16 + 48 * n;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const i64 = (p: number, x: number) => {
    const hi = Math.floor(x / 4294967296);
    dv.setUint32(p, x - hi * 4294967296, true);
    dv.setInt32(p + 4, hi, true);
  };
  dv.setUint32(0, total - 4, true);
  dv.setUint32(4, 16, true); // root table at 20 (relative to 4)
  out.set([0x46, 0x54, 0x41, 0x42], 8); // "FTAB"
  dv.setUint16(12, 6, true);
  dv.setUint16(14, 8, true);
  dv.setUint16(16, 4, true);
  dv.setInt32(20, 20 - 12, true);
  dv.setUint32(24, 4, true); // → vector at 28
  dv.setUint32(28, n, true);
  // One shared vtable for all entries: ByteOffset @8, PacketInfo @16, NumElements @24, TimestampStart @32, End @40.
  [14, 48, 8, 16, 24, 32, 40].forEach((x, k) => dv.setUint16(v + 2 * k, x, true));
  for (let j = 0; j < n; j++) {
    const t = v + 16 + 48 * j;
    dv.setUint32(32 + 4 * j, t - (32 + 4 * j), true);
    dv.setInt32(t, t - v, true);
    const r = rows[j];
    i64(t + 8, r.offset);
    dv.setInt32(t + 16, streamId, true);
    dv.setInt32(t + 20, r.size, true);
    i64(t + 24, r.elements);
    i64(t + 32, r.tStart);
    i64(t + 40, r.tEnd);
  }
  return out;
}

/**
 * The sink-independent part of the writer: turns event packets into the file's byte chunks. Both the file writer
 * and `encodeAedat4` drive it, so they produce the same bytes.
 */
export class Aedat4Encoder {
  readonly compression: number;
  readonly header: Uint8Array;
  private readonly perPacket: number;
  private readonly interval: number;
  private readonly level: Aedat4Compression;
  private readonly buf: ArrayBuffer;
  private readonly i32: Int32Array;
  private readonly i16: Int16Array;
  private readonly u8: Uint8Array;
  private cbuf = new Uint8Array(0);
  private n = 0;
  private first = 0;
  private last = 0;
  /** File position where the next chunk goes. */
  position: number;
  readonly rows: TableRow[] = [];

  constructor(opts: Aedat4WriteOptions) {
    const g = opts.geometry;
    if (!(Number.isInteger(g.width) && Number.isInteger(g.height) && g.width > 0 && g.height > 0 && g.width <= 32768 && g.height <= 32768)) {
      throw new RangeError(`AEDAT 4 geometry must be positive integers ≤ 32768 (int16 coordinates), got ${g.width}×${g.height}`);
    }
    this.level = opts.compression ?? 'lz4';
    if (!(this.level in COMPRESSION_CODE)) throw new RangeError(`unknown AEDAT 4 compression '${this.level}'`);
    this.compression = COMPRESSION_CODE[this.level];
    this.perPacket = Math.max(1, Math.floor(opts.eventsPerPacket ?? DEFAULT_EVENTS_PER_PACKET));
    this.interval = opts.maxPacketIntervalUs ?? DEFAULT_INTERVAL_US;
    if (!(this.interval > 0)) throw new RangeError(`maxPacketIntervalUs must be > 0, got ${this.interval}`);
    this.header = aedat4FileHeader(this.compression, aedat4InfoNode(opts));
    this.position = this.header.length;
    this.buf = new ArrayBuffer(EVTS_HEAD + 16 * this.perPacket);
    this.i32 = new Int32Array(this.buf);
    this.i16 = new Int16Array(this.buf);
    this.u8 = new Uint8Array(this.buf);
    // Fixed part of every EventPacket FlatBuffer (see module comment): prefix, root, "EVTS", vtable, table.
    const dv = new DataView(this.buf);
    dv.setUint32(4, 16, true);
    this.u8.set([0x45, 0x56, 0x54, 0x53], 8);
    dv.setUint16(12, 6, true);
    dv.setUint16(14, 8, true);
    dv.setUint16(16, 4, true);
    dv.setInt32(20, 8, true);
    dv.setUint32(24, 4, true);
  }

  /** Adds events; returns the chunks (packet header + body) of the packets completed meanwhile. */
  add(pk: EventPacket, out: Uint8Array[] = []): Uint8Array[] {
    const { x, y, t, p } = pk;
    const len = pk.length;
    const i32 = this.i32, i16 = this.i16, u8 = this.u8;
    let i = 0;
    while (i < len) {
      if (this.n === 0) {
        this.first = Math.round(t[i]);
        if (!(this.first > -9e15 && this.first < 9e15)) throw new RangeError(`event ${i}: timestamp ${t[i]} is not a finite µs value`);
      }
      // This packet takes events up to its size limit and while they are < interval after its first event.
      const stop = Math.min(len, i + (this.perPacket - this.n));
      const limit = this.first + this.interval;
      let k = this.n;
      let j = i;
      for (; j < stop; j++) {
        const tj = Math.round(t[j]); // timestamps are integer µs in the file
        if (tj >= limit) break;
        if (!(tj > -9e15 && tj < 9e15)) throw new RangeError(`event ${j}: timestamp ${t[j]} is not a finite µs value`);
        const w = (EVTS_HEAD >> 2) + 4 * k;
        const hi = Math.floor(tj / 4294967296);
        i32[w] = tj - hi * 4294967296;
        i32[w + 1] = hi;
        i16[2 * w + 4] = x[j];
        i16[2 * w + 5] = y[j];
        u8[4 * w + 12] = p[j] ? 1 : 0;
        k++;
      }
      if (j > i) this.last = Math.round(t[j - 1]);
      this.n = k;
      i = j;
      if (i < len || k === this.perPacket) this.closePacket(out); // size or time limit reached
    }
    return out;
  }

  /** Emits the pending events as a packet (if any). */
  flush(out: Uint8Array[] = []): Uint8Array[] {
    if (this.n > 0) this.closePacket(out);
    return out;
  }

  /** The compressed FileDataTable (written at `position` by the caller, which then patches dataTablePosition). */
  table(): Uint8Array {
    return this.compress(aedat4DataTable(this.rows)).slice();
  }

  private compress(raw: Uint8Array): Uint8Array {
    switch (this.level) {
      case 'none': return raw;
      case 'lz4':
      case 'lz4-high': {
        // Packets compress into one reused worst-case buffer; the caller copies the result out.
        const bound = lz4FrameEncodeBound(raw.length);
        if (this.cbuf.length < bound) this.cbuf = new Uint8Array(bound);
        return this.cbuf.subarray(0, lz4CompressInto(raw, this.cbuf, { high: this.level === 'lz4-high' }));
      }
      case 'zstd': return zstdCompress(raw, ZSTD_LEVEL);
      case 'zstd-high': return zstdCompress(raw, ZSTD_HIGH_LEVEL);
    }
  }

  private closePacket(out: Uint8Array[]): void {
    const n = this.n;
    const total = EVTS_HEAD + 16 * n;
    this.i32[0] = total - 4;
    this.i32[7] = n;
    const body = this.compress(this.u8.subarray(0, total)); // a view of a reused buffer: copied just below
    const chunk = new Uint8Array(8 + body.length);
    const dv = new DataView(chunk.buffer);
    dv.setInt32(0, EVENT_STREAM_ID, true);
    dv.setInt32(4, body.length, true);
    chunk.set(body, 8);
    this.rows.push({ offset: this.position + 8, size: body.length, elements: n, tStart: this.first, tEnd: this.last });
    this.position += chunk.length;
    out.push(chunk);
    this.n = 0;
  }
}

/**
 * Encodes packets into a complete AEDAT 4 file in memory — the same bytes `Aedat4Writer` writes for the same
 * packets and options.
 */
export function encodeAedat4(packets: EventPacket | Iterable<EventPacket>, opts: Aedat4WriteOptions): Uint8Array {
  const enc = new Aedat4Encoder(opts);
  const chunks: Uint8Array[] = [enc.header];
  const list = isPacket(packets) ? [packets] : packets;
  for (const pk of list) enc.add(pk, chunks);
  enc.flush(chunks);
  const tablePos = enc.position;
  chunks.push(enc.table());
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  out.set(i64Bytes(tablePos), AEDAT4_DTP_FIELD_POSITION);
  return out;
}

function isPacket(x: EventPacket | Iterable<EventPacket>): x is EventPacket {
  return (x as EventPacket).t instanceof Float64Array && typeof (x as EventPacket).length === 'number';
}

/** Streams a recording to disk (see module comment for the crash-safety guarantees). */
export class Aedat4Writer {
  private queue: Promise<void> = Promise.resolve();
  private lastSync = Date.now();
  private closed = false;

  private constructor(private readonly fh: FileHandle, private readonly enc: Aedat4Encoder, readonly path: string) {}

  /** Creates (truncates) `path` and writes the header. */
  static async create(path: string, opts: Aedat4WriteOptions): Promise<Aedat4Writer> {
    const enc = new Aedat4Encoder(opts);
    if (enc.compression >= 3) zstdCompress(new Uint8Array(1)); // fail now, not at the first packet, without zstd
    const fh = await open(path, 'w');
    try {
      await writeAll(fh, enc.header, 0);
      return new Aedat4Writer(fh, enc, path);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Appends events; complete packets are written at once. Calls are serialised (awaiting each is optional). */
  write(packet: EventPacket): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.path}: write after close`));
    const start = this.enc.position;
    const chunks = this.enc.add(packet);
    return this.enqueue(() => this.writeChunks(chunks, start));
  }

  /** Writes the last packet and the data table, patches dataTablePosition, syncs and closes the file. */
  close(): Promise<void> {
    if (this.closed) return this.queue;
    this.closed = true;
    const start = this.enc.position;
    const chunks = this.enc.flush();
    const tablePos = this.enc.position;
    const table = this.enc.table();
    const fail = async (e: unknown) => {
      await this.fh.close();
      throw e;
    };
    return this.enqueue(async () => {
      try {
        await this.writeChunks(chunks, start);
        await writeAll(this.fh, table, tablePos);
        await this.fh.datasync();
        // Only now does the file claim a table: a crash before this leaves −1 and a walkable file.
        await writeAll(this.fh, i64Bytes(tablePos), AEDAT4_DTP_FIELD_POSITION);
        await this.fh.datasync();
      } finally {
        await this.fh.close();
      }
    }, fail);
  }

  /** Chains `job` after the previous ones; `onEarlierError` runs instead when an earlier job failed. */
  private enqueue(job: () => Promise<void>, onEarlierError?: (e: unknown) => Promise<void>): Promise<void> {
    this.queue = this.queue.then(job, onEarlierError);
    return this.queue;
  }

  private async writeChunks(chunks: Uint8Array[], start: number): Promise<void> {
    let pos = start;
    for (const c of chunks) {
      await writeAll(this.fh, c, pos);
      pos += c.length;
    }
    const now = Date.now();
    if (chunks.length > 0 && now - this.lastSync >= SYNC_INTERVAL_MS) {
      this.lastSync = now;
      await this.fh.datasync();
    }
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    done += bytesWritten;
  }
}
