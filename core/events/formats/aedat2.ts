/**
 * jAER AEDAT 2.0 (8-byte records: i32 address + i32 timestamp, big-endian) and AEDAT 1.0 (6-byte records:
 * i16 address + i32 timestamp) — event-formats.md §1–§2.
 *
 * Address layout comes from the header's AEChip class:
 *  - DVS128 (…retina.DVS128): x = 127 − rawX, y = 127 − rawY (top-left origin), ON when raw bit 0 == 0;
 *    records with bit 15 or bit 31 set are special (sync) events and are skipped.
 *  - DAVIS (eu.seebetter…davis.*): IMU words first ((a & 0x80000C00) == 0x80000C00), then DVS (bit 31 = 0;
 *    external-input events with bit 10 set are skipped), the rest is APS and skipped. x = W−1−rawX,
 *    y = H−1−rawY, ON when bit 11 is set. Geometry from the AEChip name, or `opts.geometry`.
 * Timestamps are read as signed i32 and unwrapped: a drop of more than 2^31 adds 2^32 (§2.1).
 */
import type { ByteSource } from '../byte-source.ts';
import { EventFormatError } from '../errors.ts';
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { DECODE_BLOCK, DEFAULT_PACKET_CAPACITY, allocBlock, appendBlock } from '../packet.ts';
import type { EventFormat, EventFileInfo, EventReader, ReaderOptions, TimeRange } from '../reader.ts';
import { filterRange } from '../reader.ts';
import { chipGeometry, chipKind, scanAedatHeader, type AedatHeader, type ChipKind } from './header.ts';
import { streamRecords, type RecordKernel } from './record-stream.ts';
import { checkKernel, eventsKernels, type EventsKernels } from '../codecs/events-native.ts';

/** Headers beyond this are refused (real jAER headers are < 1 MiB; DAVIS240 preference dumps ≈ 300 kB). */
export const MAX_AEDAT_HEADER_BYTES = 16 << 20;
const FIRST_HEADER_READ = 1 << 20;

const TWO31 = 2147483648;
const TWO32 = 4294967296;

/** Reads the `#` header, growing the read until the header is complete. Shared with the AEDAT 3.x reader. */
export async function readAedatHeader(src: ByteSource, format: string, recordSize?: number): Promise<AedatHeader> {
  // Start at 1 MiB: one scan covers every real header (DAVIS preference dumps ≈ 300 kB); grow only beyond.
  let len = Math.min(src.size, FIRST_HEADER_READ);
  for (;;) {
    const bytes = await src.read(0, len);
    const h = scanAedatHeader(bytes, { fileSize: src.size, recordSize });
    if (h.complete) return h;
    if (len >= src.size) return h;
    if (len >= MAX_AEDAT_HEADER_BYTES) {
      throw new EventFormatError(format, len, `ASCII header longer than ${MAX_AEDAT_HEADER_BYTES} bytes`, src.name);
    }
    len = Math.min(src.size, len * 4, MAX_AEDAT_HEADER_BYTES);
  }
}

/** Millisecond epoch from lines like `System.currentTimeMillis() 1695355587880`, as a string; undefined if absent. */
function millis(v: string | undefined): string | undefined {
  const m = v === undefined ? null : /(\d{10,})\s*$/.exec(v);
  return m ? m[1] : undefined;
}

/** Timestamp unwrapping state carried across calls. */
interface UnwrapState {
  prev: number;
  offset: number;
  first: boolean;
  /** Events a block call produced. */
  n: number;
}

// Module-level scratch (see DECODE_BLOCK in packet.ts): the hot loops below only touch these constants. Each
// block of records is copied into IN (also fixing any misalignment), decoded into B, then appended to `out`.
const IN = new Uint8Array(DECODE_BLOCK * 8);
const IN_DV = new DataView(IN.buffer);
const B = allocBlock();
const BX = B.x, BY = B.y, BT = B.t, BP = B.p;

/** DVS128, 8-byte records: decodes IN[0, bytes) into the scratch block. */
function dvs128Block8(bytes: number, s: UnwrapState): void {
  let k = 0;
  let pv = s.prev, off = s.offset;
  for (let o = 0; o < bytes; o += 8) {
    const a = IN_DV.getInt32(o, false);
    const ts = IN_DV.getInt32(o + 4, false);
    if (ts < pv && pv - ts > TWO31) off += TWO32; // int compare first: wraps are rare
    pv = ts;
    if ((a & 0x80008000) !== 0) continue; // special (sync) event: no pixel
    BX[k] = 127 - ((a >>> 1) & 0x7f);
    BY[k] = 127 - ((a >>> 8) & 0x7f);
    BP[k] = (a & 1) ^ 1;
    BT[k] = ts + off;
    k++;
  }
  s.prev = pv;
  s.offset = off;
  s.n = k;
}

/** DVS128, 6-byte AEDAT 1.0 records (16-bit address): as dvs128Block8. */
function dvs128Block6(bytes: number, s: UnwrapState): void {
  let k = 0;
  let pv = s.prev, off = s.offset;
  for (let o = 0; o < bytes; o += 6) {
    const a = IN_DV.getInt16(o, false);
    const ts = IN_DV.getInt32(o + 2, false);
    if (ts < pv && pv - ts > TWO31) off += TWO32;
    pv = ts;
    if ((a & 0x8000) !== 0) continue;
    BX[k] = 127 - ((a >>> 1) & 0x7f);
    BY[k] = 127 - ((a >>> 8) & 0x7f);
    BP[k] = (a & 1) ^ 1;
    BT[k] = ts + off;
    k++;
  }
  s.prev = pv;
  s.offset = off;
  s.n = k;
}

interface DavisState extends UnwrapState {
  w1: number;
  h1: number;
  outOfRange: number;
}

/** DAVIS, 8-byte records: as dvs128Block8. */
function davisBlock(bytes: number, s: DavisState): void {
  let k = 0;
  let pv = s.prev, off = s.offset, bad = 0;
  const w1 = s.w1, h1 = s.h1;
  for (let o = 0; o < bytes; o += 8) {
    const a = IN_DV.getInt32(o, false);
    const ts = IN_DV.getInt32(o + 4, false);
    if (ts < pv && pv - ts > TWO31) off += TWO32; // int compare first: wraps are rare
    pv = ts;
    // a < 0: bit 31 set → IMU or APS word; bit 10: external input. Neither is a pixel event.
    if (a < 0 || (a & 0x400) !== 0) continue;
    const rx = (a >>> 12) & 0x3ff;
    const ry = (a >>> 22) & 0x1ff;
    if (rx > w1 || ry > h1) {
      bad++;
      continue;
    }
    BX[k] = w1 - rx;
    BY[k] = h1 - ry;
    BP[k] = (a >>> 11) & 1;
    BT[k] = ts + off;
    k++;
  }
  s.prev = pv;
  s.offset = off;
  s.outOfRange += bad;
  s.n = k;
}

/**
 * A RecordKernel over a block decoder: copies up to DECODE_BLOCK records (never more than `out` has room for,
 * as every record may be an event) into IN, decodes them, appends the events. The first record's timestamp
 * seeds the unwrapping.
 */
function blockKernel<S extends UnwrapState>(block: (bytes: number, s: S) => void, s: S, rec: 6 | 8): RecordKernel {
  const tsAt = rec - 4;
  return (bytes, dv, pos, end, out) => {
    if (s.first && pos < end) {
      s.prev = dv.getInt32(pos + tsAt, false);
      s.first = false;
    }
    const cap = out.x.length;
    while (pos < end && out.length < cap) {
      const m = Math.min(DECODE_BLOCK, cap - out.length, Math.floor((end - pos) / rec)) * rec;
      IN.set(bytes.subarray(pos, pos + m));
      block(m, s);
      pos += m;
      appendBlock(out, BX, BY, BT, BP, s.n);
    }
    return pos;
  };
}

/** DVS128 records: 8-byte AEDAT 2.0 or 6-byte AEDAT 1.0 (separate loops keep the record size constant). */
function dvs128Kernel(rec: 6 | 8): RecordKernel {
  const s: UnwrapState = { prev: 0, offset: 0, first: true, n: 0 };
  return rec === 8 ? blockKernel(dvs128Block8, s, 8) : blockKernel(dvs128Block6, s, 6);
}

function davisKernel(g: SensorGeometry, dropped: { outOfRange: number }): RecordKernel {
  const s: DavisState = { prev: 0, offset: 0, first: true, n: 0, w1: g.width - 1, h1: g.height - 1, outOfRange: 0 };
  const k = blockKernel(davisBlock, s, 8);
  return (bytes, dv, pos, end, out) => {
    const r = k(bytes, dv, pos, end, out);
    dropped.outOfRange += s.outOfRange;
    s.outOfRange = 0;
    return r;
  };
}

/**
 * The same kernels in the events_native addon (one C loop per record layout, writing straight into `out`).
 * State: see Aedat2Decode in events_native.cc; [3] accumulates out-of-range DAVIS events.
 */
function nativeKernel(k: EventsKernels, mode: 0 | 1 | 2, g: SensorGeometry | null, dropped: { outOfRange: number }): RecordKernel {
  const s = new Float64Array(7);
  s[2] = 1; // seed the unwrapping from the first record
  s[4] = g ? g.width - 1 : 127;
  s[5] = g ? g.height - 1 : 127;
  return (bytes, _dv, pos, end, out) => {
    const at = out.length;
    out.length = at + checkKernel(k.aedat2Decode(bytes, pos, end, s, mode, out.x, out.y, out.t, out.p, at, out.x.length - at), 'aedat2Decode');
    dropped.outOfRange += s[3];
    s[3] = 0;
    return s[6];
  };
}

async function openAedat2(src: ByteSource, opts: ReaderOptions): Promise<EventReader> {
  const fmt = 'aedat2';
  const probe = scanAedatHeader(await src.read(0, Math.min(src.size, 64)), { fileSize: src.size });
  const version = probe.version;
  if (version !== null && version !== '2.0' && version !== '1.0') {
    throw new EventFormatError(fmt, 0, `AEDAT version ${version} is not 1.0/2.0`, src.name);
  }
  const rec: 6 | 8 = version === '2.0' ? 8 : 6;
  const h = await readAedatHeader(src, fmt, rec);
  const warnings: string[] = [];
  const chip = h.fields.AEChip;
  let kind: ChipKind | null;
  if (chip === undefined) {
    kind = 'dvs128';
    warnings.push('header names no AEChip: addresses decoded as DVS128 (128×128)');
  } else {
    kind = chipKind(chip);
    if (kind === null) throw new EventFormatError(fmt, 0, `unsupported AEChip '${chip}' (DVS128 and DAVIS chips are supported)`, src.name);
  }
  if (rec === 6 && kind !== 'dvs128') {
    throw new EventFormatError(fmt, 0, `AEDAT 1.0 (16-bit addresses) cannot hold ${chip} events`, src.name);
  }
  const geometry = opts.geometry ?? (kind === 'dvs128' ? { width: 128, height: 128 } : chip ? chipGeometry(chip) : null);
  if (kind === 'davis' && geometry === null) {
    throw new EventFormatError(fmt, 0, `sensor size of AEChip '${chip}' is unknown: pass the geometry option`, src.name);
  }
  if (kind === 'dvs128' && geometry && (geometry.width !== 128 || geometry.height !== 128)) {
    throw new EventFormatError(fmt, 0, `DVS128 addresses are 128×128, geometry option says ${geometry.width}×${geometry.height}`, src.name);
  }
  if (h.reachesEof) warnings.push('file ends inside its ASCII header: no events');

  const header: Record<string, string> = { ...h.fields, version: version ?? '1.0', lineEnding: h.lineEnding };
  const created = millis(h.fields['Creation time']);
  if (created) header.creationTimeMs = created;
  const start = millis(h.fields.DataStartTime);
  if (start) header.dataStartTimeMs = start;
  if (h.endLine) header.endLine = h.endLine;

  const info: EventFileInfo = {
    format: 'aedat2',
    formatName: version === '2.0' ? 'AEDAT 2.0' : 'AEDAT 1.0',
    geometry,
    camera: chip ? chip.slice(chip.lastIndexOf('.') + 1) : undefined,
    header,
    streams: [{ id: 0, type: 'polarity', geometry: geometry ?? undefined, name: h.fields.HardwareInterface }],
    dataOffset: h.dataOffset,
    fileSize: src.size,
  };
  const capacity = opts.packetCapacity ?? DEFAULT_PACKET_CAPACITY;

  async function* all(): AsyncIterableIterator<EventPacket> {
    const dropped = { outOfRange: 0 };
    const native = eventsKernels();
    const kernel = native
      ? nativeKernel(native, kind === 'davis' ? 2 : rec === 8 ? 0 : 1, geometry, dropped)
      : kind === 'davis' ? davisKernel(geometry as SensorGeometry, dropped) : dvs128Kernel(rec);
    yield* streamRecords(src, { dataOffset: h.dataOffset, recordSize: rec, capacity, kernel, warnings, reuse: opts.reusePackets });
    if (dropped.outOfRange > 0) {
      warnings.push(`${dropped.outOfRange} DVS events outside the ${geometry?.width}×${geometry?.height} sensor were dropped`);
    }
  }
  return {
    info,
    warnings,
    reusesPackets: opts.reusePackets === true,
    packets: (range?: TimeRange) => filterRange(all(), range),
    close: () => src.close(),
  };
}

/** Confidence from the header: the version line, or (AEDAT 1.0, no version line) jAER's typical header text. */
function probeAedat2(head: Uint8Array, size: number): number {
  if (head.length === 0 || head[0] !== 0x23) return 0;
  const h = scanAedatHeader(head, { fileSize: size });
  if (h.version === '2.0') return 0.95;
  if (h.version !== null) return 0;
  const text = h.lines.join('\n');
  if (/raw AE data file|AEChip:|HardwareInterface:/.test(text)) return 0.6;
  return 0;
}

export const aedat2Format: EventFormat = {
  id: 'aedat2',
  name: 'AEDAT 2.0 (jAER)',
  extensions: ['.aedat', '.dat'],
  probe: probeAedat2,
  open: openAedat2,
};
