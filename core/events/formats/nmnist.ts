/**
 * N-MNIST / N-Caltech101 `.bin` (ATIS, Orchard et al.) — event-formats.md §12. No header; 5-byte records:
 * x, y, then bit 7 = polarity (1 = ON) and a 23-bit big-endian timestamp in the remaining 23 bits.
 * A record with y == 240 is a timestamp-overflow marker: it is dropped and adds 2^13 µs to every later
 * timestamp (what the reference loaders do). Origin top-left.
 *
 * Geometry: `opts.geometry`, else 34×34 (N-MNIST) when every event fits, else (N-Caltech101: per-sample sizes)
 * the bounding box of the events, found by a pre-scan. Files larger than PRESCAN_LIMIT_BYTES (no dataset sample
 * is) are pre-scanned on their first PRESCAN_LIMIT_BYTES only and, if those exceed 34×34, get the full ATIS
 * array, 304×240. Events outside the geometry are dropped with a warning, so consumers can index frames by
 * (x, y) safely.
 */
import type { ByteSource } from '../byte-source.ts';
import { DEFAULT_CHUNK_BYTES } from '../byte-source.ts';
import { DEFAULT_PACKET_CAPACITY, type EventPacket, type SensorGeometry } from '../packet.ts';
import type { EventFormat, EventFileInfo, EventReader, ReaderOptions, TimeRange } from '../reader.ts';
import { filterRange } from '../reader.ts';
import { parsePercentHeader, scanAedatHeader } from './header.ts';
import { streamRecords, type RecordKernel } from './record-stream.ts';

export const NMNIST_GEOMETRY: SensorGeometry = { width: 34, height: 34 };
/** Pre-scan bound for the bounding box (N-MNIST samples are ~20 kB, N-Caltech101 ones ~1 MB at most). */
export const PRESCAN_LIMIT_BYTES = 8 << 20;
/** The ATIS sensor both datasets were recorded with. */
export const ATIS_GEOMETRY: SensorGeometry = { width: 304, height: 240 };
const OVERFLOW_Y = 240;
const OVERFLOW_STEP = 8192;

function binKernel(g: SensorGeometry, dropped: { n: number }): RecordKernel {
  let offset = 0;
  const w = g.width;
  const h = g.height;
  return (b, dv, pos, end, out) => {
    const X = out.x, Y = out.y, T = out.t, P = out.p;
    const cap = X.length;
    let k = out.length;
    let bad = 0;
    for (; pos < end && k < cap; pos += 5) {
      // Bytes 1–4 big-endian in one load: y in the top byte, then the polarity bit and the 23-bit timestamp.
      const v = dv.getUint32(pos + 1, false);
      const y = v >>> 24;
      if (y === OVERFLOW_Y) {
        offset += OVERFLOW_STEP;
        continue;
      }
      const x = b[pos];
      if (x >= w || y >= h) {
        bad++;
        continue;
      }
      X[k] = x;
      Y[k] = y;
      P[k] = (v >>> 23) & 1;
      T[k] = (v & 0x7fffff) + offset;
      k++;
    }
    dropped.n += bad;
    out.length = k;
    return pos;
  };
}

/** Bounding box (max x + 1, max y + 1) of the non-marker records, reading in bounded chunks. */
async function boundingBox(src: ByteSource, limit: number): Promise<SensorGeometry> {
  let mx = -1;
  let my = -1;
  const size = Math.min(src.size, limit);
  const whole = size - (size % 5);
  const chunk = Math.floor(DEFAULT_CHUNK_BYTES / 5) * 5;
  for (let at = 0; at < whole; at += chunk) {
    const b = await src.read(at, Math.min(chunk, whole - at));
    const end = b.length - (b.length % 5);
    for (let i = 0; i < end; i += 5) {
      const y = b[i + 1];
      if (y === OVERFLOW_Y) continue;
      if (b[i] > mx) mx = b[i];
      if (y > my) my = y;
    }
    if (b.length < Math.min(chunk, whole - at)) break; // source ended early
  }
  return { width: mx + 1, height: my + 1 };
}

async function openNmnist(src: ByteSource, opts: ReaderOptions): Promise<EventReader> {
  const warnings: string[] = [];
  let geometry = opts.geometry ?? NMNIST_GEOMETRY;
  if (!opts.geometry) {
    const bb = await boundingBox(src, PRESCAN_LIMIT_BYTES);
    if (bb.width > 34 || bb.height > 34) {
      const whole = src.size <= PRESCAN_LIMIT_BYTES;
      geometry = whole ? bb : ATIS_GEOMETRY;
      warnings.push(
        `events exceed 34×34 (N-MNIST): geometry ${geometry.width}×${geometry.height} ${whole ? 'taken from the data (N-Caltech101?)' : '(ATIS array) assumed for this large file'}`,
      );
    }
  }
  const info: EventFileInfo = {
    format: 'nmnist',
    formatName: 'N-MNIST / N-Caltech101 bin',
    geometry,
    header: {},
    streams: [{ id: 0, type: 'polarity', geometry }],
    dataOffset: 0,
    fileSize: src.size,
  };
  const capacity = opts.packetCapacity ?? DEFAULT_PACKET_CAPACITY;
  async function* all(): AsyncIterableIterator<EventPacket> {
    const dropped = { n: 0 };
    yield* streamRecords(src, { dataOffset: 0, recordSize: 5, capacity, kernel: binKernel(geometry, dropped), warnings, reuse: opts.reusePackets });
    if (dropped.n > 0) warnings.push(`${dropped.n} events outside the ${geometry.width}×${geometry.height} sensor were dropped`);
  }
  return {
    info, warnings, reusesPackets: opts.reusePackets === true,
    packets: (range?: TimeRange) => filterRange(all(), range), close: () => src.close(),
  };
}

/**
 * No magic, so never confident: 0.1 when the size is a whole number of records, the head is not text and not a
 * `#`/`%` header, and the first records have y ≤ 240 and non-decreasing 23-bit timestamps (reset by overflow
 * markers); 0 otherwise. Any format with a magic scores far higher.
 */
function probeNmnist(head: Uint8Array, size: number): number {
  if (size === 0 || size % 5 !== 0 || head.length < 5) return 0;
  if (scanAedatHeader(head.subarray(0, 4096)).lines.length > 0 || parsePercentHeader(head.subarray(0, 4096)).lines.length > 0) return 0;
  let text = true;
  for (let i = 0; i < Math.min(head.length, 512); i++) {
    const c = head[i];
    if (c < 0x09 || (c > 0x0d && c < 0x20) || c > 0x7e) {
      text = false;
      break;
    }
  }
  if (text) return 0;
  const n = Math.min(Math.floor(head.length / 5), 2000);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const o = 5 * i;
    const y = head[o + 1];
    if (y > OVERFLOW_Y) return 0;
    if (y === OVERFLOW_Y) {
      prev = 0;
      continue;
    }
    const ts = ((head[o + 2] & 0x7f) << 16) | (head[o + 3] << 8) | head[o + 4];
    if (ts < prev) return 0;
    prev = ts;
  }
  return n >= 16 ? 0.1 : 0.03;
}

export const nmnistFormat: EventFormat = {
  id: 'nmnist',
  name: 'N-MNIST / N-Caltech101 bin',
  extensions: ['.bin'],
  probe: probeNmnist,
  open: openNmnist,
};
