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
import { DEFAULT_PACKET_CAPACITY } from '../packet.ts';
import type { EventFormat, EventFileInfo, EventReader, ReaderOptions, TimeRange } from '../reader.ts';
import { filterRange } from '../reader.ts';
import { chipGeometry, chipKind, scanAedatHeader, type AedatHeader, type ChipKind } from './header.ts';
import { streamRecords, type RecordKernel } from './record-stream.ts';

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

/**
 * DVS128 records. Two copies of one loop (8-byte AEDAT 2.0, 6-byte AEDAT 1.0) so that the record size is a
 * constant inside each hot loop.
 */
function dvs128Kernel(rec: 6 | 8): RecordKernel {
  let prev = 0;
  let offset = 0;
  let first = true;
  const k8: RecordKernel = (_bytes, dv, pos, end, out) => {
    const X = out.x, Y = out.y, T = out.t, P = out.p;
    const cap = X.length;
    let k = out.length;
    if (first && pos < end) {
      prev = dv.getInt32(pos + 4, false);
      first = false;
    }
    for (; pos < end && k < cap; pos += 8) {
      const a = dv.getInt32(pos, false);
      const ts = dv.getInt32(pos + 4, false);
      if (ts < prev && prev - ts > TWO31) offset += TWO32; // int compare first: wraps are rare
      prev = ts;
      if ((a & 0x80008000) !== 0) continue; // special (sync) event: no pixel
      X[k] = 127 - ((a >>> 1) & 0x7f);
      Y[k] = 127 - ((a >>> 8) & 0x7f);
      P[k] = (a & 1) ^ 1;
      T[k] = ts + offset;
      k++;
    }
    out.length = k;
    return pos;
  };
  const k6: RecordKernel = (_bytes, dv, pos, end, out) => {
    const X = out.x, Y = out.y, T = out.t, P = out.p;
    const cap = X.length;
    let k = out.length;
    if (first && pos < end) {
      prev = dv.getInt32(pos + 2, false);
      first = false;
    }
    for (; pos < end && k < cap; pos += 6) {
      const a = dv.getInt16(pos, false);
      const ts = dv.getInt32(pos + 2, false);
      if (ts < prev && prev - ts > TWO31) offset += TWO32; // int compare first: wraps are rare
      prev = ts;
      if ((a & 0x8000) !== 0) continue;
      X[k] = 127 - ((a >>> 1) & 0x7f);
      Y[k] = 127 - ((a >>> 8) & 0x7f);
      P[k] = (a & 1) ^ 1;
      T[k] = ts + offset;
      k++;
    }
    out.length = k;
    return pos;
  };
  return rec === 8 ? k8 : k6;
}

function davisKernel(g: SensorGeometry, dropped: { outOfRange: number }): RecordKernel {
  let prev = 0;
  let offset = 0;
  let first = true;
  const w1 = g.width - 1;
  const h1 = g.height - 1;
  return (_bytes, dv, pos, end, out) => {
    const X = out.x, Y = out.y, T = out.t, P = out.p;
    const cap = X.length;
    let k = out.length;
    if (first && pos < end) {
      prev = dv.getInt32(pos + 4, false);
      first = false;
    }
    for (; pos < end && k < cap; pos += 8) {
      const a = dv.getInt32(pos, false);
      const ts = dv.getInt32(pos + 4, false);
      if (ts < prev && prev - ts > TWO31) offset += TWO32; // int compare first: wraps are rare
      prev = ts;
      // a < 0: bit 31 set → IMU or APS word; bit 10: external input. Neither is a pixel event.
      if (a < 0 || (a & 0x400) !== 0) continue;
      const rx = (a >>> 12) & 0x3ff;
      const ry = (a >>> 22) & 0x1ff;
      if (rx > w1 || ry > h1) {
        dropped.outOfRange++;
        continue;
      }
      X[k] = w1 - rx;
      Y[k] = h1 - ry;
      P[k] = (a >>> 11) & 1;
      T[k] = ts + offset;
      k++;
    }
    out.length = k;
    return pos;
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
    const kernel = kind === 'davis' ? davisKernel(geometry as SensorGeometry, dropped) : dvs128Kernel(rec);
    yield* streamRecords(src, { dataOffset: h.dataOffset, recordSize: rec, capacity, kernel, warnings });
    if (dropped.outOfRange > 0) {
      warnings.push(`${dropped.outOfRange} DVS events outside the ${geometry?.width}×${geometry?.height} sensor were dropped`);
    }
  }
  return {
    info,
    warnings,
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
