/**
 * Prophesee DAT — event-formats.md §11: `% key value` header lines, then two bytes (event type, event size),
 * then 8-byte little-endian CD/2D records `u32 t` + `u32 data` (x bits 0–13, y bits 14–27, polarity bit 28).
 * Files without any `%` line are the legacy layout: no type/size bytes, Event2D records from byte 0.
 * Timestamps are u32 µs, unwrapped when they drop by more than 2^31. Origin top-left.
 */
import type { ByteSource } from '../byte-source.ts';
import { EventFormatError } from '../errors.ts';
import { DECODE_BLOCK, DEFAULT_PACKET_CAPACITY, allocBlock, appendBlock, type EventPacket, type SensorGeometry } from '../packet.ts';
import type { EventFormat, EventFileInfo, EventReader, ReaderOptions, TimeRange } from '../reader.ts';
import { PROBE_BYTES, filterRange } from '../reader.ts';
import { parsePercentHeader } from './header.ts';
import { LITTLE_ENDIAN_HOST } from './prophesee-raw.ts';
import { streamRecords, type RecordKernel } from './record-stream.ts';
import { checkKernel, eventsKernels, type EventsKernels } from '../codecs/events-native.ts';

const TWO31 = 2147483648;
const TWO32 = 4294967296;
/** DAT event type ids (first byte after the header). */
export const DAT_EVENT_TYPES: Readonly<Record<number, string>> = { 0: 'Event2D', 12: 'EventCD', 14: 'EventExtTrigger', 40: 'EventOpticalFlow' };

/** `N9Chronocam7Event2dE` (an Itanium-mangled nested name, as N-CARS writes it) → `Chronocam::Event2d`. */
export function demangleTypeName(s: string): string {
  const m = /^N((?:\d+[A-Za-z_]\w*?)+)E$/.exec(s);
  if (!m) return s;
  const parts: string[] = [];
  let rest = m[1];
  while (rest.length > 0) {
    const d = /^(\d+)/.exec(rest);
    if (!d) return s;
    const len = Number(d[1]);
    const name = rest.slice(d[1].length, d[1].length + len);
    if (name.length !== len) return s;
    parts.push(name);
    rest = rest.slice(d[1].length + len);
  }
  return parts.join('::');
}

function headerGeometry(f: Record<string, string>): SensorGeometry | null {
  const get = (k: string) => f[k] ?? f[k.toLowerCase()];
  const w = Number(get('Width'));
  const h = Number(get('Height'));
  if (Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0 && w <= 16384 && h <= 16384) return { width: w, height: h };
  const g = /^(\d+)x(\d+)$/.exec(get('Geometry') ?? '');
  if (g) return { width: Number(g[1]), height: Number(g[2]) };
  return null;
}

/** Where the records start and what they are; null when the bytes are not a DAT file. */
function layout(head: Uint8Array): { fields: Record<string, string>; lines: string[]; type: number; size: number; dataStart: number; legacy: boolean } | null {
  const ph = parsePercentHeader(head);
  if (ph.lines.length === 0) return { fields: {}, lines: [], type: 0, size: 8, dataStart: 0, legacy: true };
  if (ph.dataOffset + 2 > head.length) return null;
  return { ...ph, type: head[ph.dataOffset], size: head[ph.dataOffset + 1], dataStart: ph.dataOffset + 2, legacy: false };
}

// Module-level scratch (see DECODE_BLOCK in packet.ts): cdBlock only touches these constants. Each block of
// records is copied into IN (aligned, so it can be read as u32 words), decoded into B, then appended to `out`.
const IN = new Uint8Array(DECODE_BLOCK * 8);
const IN_U32 = new Uint32Array(IN.buffer);
const B = allocBlock();
const BX = B.x, BY = B.y, BT = B.t, BP = B.p;

interface CdState {
  prev: number;
  offset: number;
  w: number;
  h: number;
  bad: number;
  n: number;
}

/** Decodes `count` CD records from IN into the scratch block (little-endian host; see cdKernel). */
function cdBlock(count: number, s: CdState): void {
  let k = 0, bad = 0;
  let pv = s.prev, off = s.offset;
  const w = s.w, h = s.h;
  for (let i = 0; i < 2 * count; i += 2) {
    const ts = IN_U32[i];
    const d = IN_U32[i + 1];
    if (ts < pv && pv - ts > TWO31) off += TWO32; // int compare first: wraps are rare
    pv = ts;
    const x = d & 0x3fff;
    const y = (d >>> 14) & 0x3fff;
    if (x >= w || y >= h) {
      bad++;
      continue;
    }
    BX[k] = x;
    BY[k] = y;
    BP[k] = (d >>> 28) & 1;
    BT[k] = ts + off;
    k++;
  }
  s.prev = pv;
  s.offset = off;
  s.bad += bad;
  s.n = k;
}

/** Big-endian hosts only: turns the little-endian words of IN[0, bytes) into host order. */
function swapIn(bytes: number): void {
  for (let i = 0; i < bytes; i += 4) {
    let a = IN[i]; IN[i] = IN[i + 3]; IN[i + 3] = a;
    a = IN[i + 1]; IN[i + 1] = IN[i + 2]; IN[i + 2] = a;
  }
}

function cdKernel(g: SensorGeometry | null, dropped: { n: number }): RecordKernel {
  const s: CdState = { prev: -1, offset: 0, w: g ? g.width : Infinity, h: g ? g.height : Infinity, bad: 0, n: 0 };
  return (bytes, _dv, pos, end, out) => {
    const cap = out.x.length;
    while (pos < end && out.length < cap) {
      const m = Math.min(DECODE_BLOCK, cap - out.length, (end - pos) >>> 3);
      IN.set(bytes.subarray(pos, pos + 8 * m));
      if (!LITTLE_ENDIAN_HOST) swapIn(8 * m);
      cdBlock(m, s);
      pos += 8 * m;
      appendBlock(out, BX, BY, BT, BP, s.n);
    }
    dropped.n += s.bad;
    s.bad = 0;
    return pos;
  };
}

/** The same kernel in the events_native addon, writing straight into `out` (state: DatDecode in events_native.cc). */
function nativeCdKernel(k: EventsKernels, g: SensorGeometry | null, dropped: { n: number }): RecordKernel {
  const s = new Float64Array(6);
  s[0] = -1;
  s[2] = g ? g.width : Infinity;
  s[3] = g ? g.height : Infinity;
  return (bytes, _dv, pos, end, out) => {
    const at = out.length;
    out.length = at + checkKernel(k.datDecode(bytes, pos, end, s, out.x, out.y, out.t, out.p, at, out.x.length - at), 'datDecode');
    dropped.n += s[4];
    s[4] = 0;
    return s[5];
  };
}

async function openDat(src: ByteSource, opts: ReaderOptions): Promise<EventReader> {
  const fmt = 'dat';
  const head = await src.read(0, Math.min(src.size, PROBE_BYTES));
  const l = layout(head);
  if (l === null) {
    throw new EventFormatError(fmt, head.length, 'file ends before the event type/size bytes that follow the % header', src.name);
  }
  const warnings: string[] = [];
  if (l.legacy) warnings.push('no % header: assumed legacy DAT with 8-byte Event2D records');
  if (l.type !== 0 && l.type !== 12) {
    const name = DAT_EVENT_TYPES[l.type];
    throw new EventFormatError(fmt, l.dataStart - 2, `event type ${l.type}${name ? ` (${name})` : ''} is not a CD/2D event type (0 or 12)`, src.name);
  }
  if (l.size !== 8) throw new EventFormatError(fmt, l.dataStart - 1, `CD/2D events are 8 bytes, header byte says ${l.size}`, src.name);

  const geometry = opts.geometry ?? headerGeometry(l.fields);
  const header: Record<string, string> = { ...l.fields, eventTypeId: String(l.type), eventSize: String(l.size) };
  const contains = l.lines.map((s) => /^Data file containing (\S+)/i.exec(s)).find((m) => m !== null);
  if (contains) header.eventType = demangleTypeName(contains[1]);
  const info: EventFileInfo = {
    format: 'dat',
    formatName: 'Prophesee DAT',
    geometry,
    header,
    streams: [{ id: 0, type: 'polarity', geometry: geometry ?? undefined }],
    dataOffset: l.dataStart,
    fileSize: src.size,
  };
  const capacity = opts.packetCapacity ?? DEFAULT_PACKET_CAPACITY;
  async function* all(): AsyncIterableIterator<EventPacket> {
    const dropped = { n: 0 };
    const native = LITTLE_ENDIAN_HOST ? eventsKernels() : null;
    const kernel = native ? nativeCdKernel(native, geometry, dropped) : cdKernel(geometry, dropped);
    yield* streamRecords(src, { dataOffset: l!.dataStart, recordSize: 8, capacity, kernel, warnings, reuse: opts.reusePackets });
    if (dropped.n > 0) warnings.push(`${dropped.n} events outside the ${geometry?.width}×${geometry?.height} sensor were dropped`);
  }
  return {
    info, warnings, reusesPackets: opts.reusePackets === true,
    packets: (range?: TimeRange) => filterRange(all(), range), close: () => src.close(),
  };
}

/**
 * With a `%` header: 0.9 when a line says `Data file containing …` and the type/size bytes are a known pair,
 * 0.5 for other `%` headers with a valid pair and whole records; 0 when the header names a RAW encoding
 * (`evt`/`format` keys). Without a header (legacy DAT): at most 0.05, and only when the first records look like
 * CD events with non-decreasing timestamps.
 */
function probeDat(head: Uint8Array, size: number): number {
  if (head.length === 0) return 0;
  const l = layout(head);
  if (l === null) return 0;
  if (!l.legacy) {
    const keys = Object.keys(l.fields).map((k) => k.toLowerCase());
    if (keys.includes('evt') || keys.includes('format')) return 0;
    const knownPair = (l.type === 0 || l.type === 12 || l.type === 14) && l.size === 8;
    if (!knownPair) return 0;
    if (l.lines.some((s) => /^Data file containing/i.test(s))) return 0.9;
    return (size - l.dataStart) % l.size === 0 ? 0.5 : 0;
  }
  if (size % 8 !== 0 || size < 8) return 0;
  if (head[0] === 0x23 || head[0] === 0x25) return 0; // '#' / '%': belongs to a format with a text header
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const n = Math.min(Math.floor(head.length / 8), 1024);
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const ts = dv.getUint32(8 * i, true);
    const d = dv.getUint32(8 * i + 4, true);
    if (ts < prev || d >>> 29 !== 0) return 0;
    prev = ts;
  }
  return n >= 16 ? 0.05 : 0.01;
}

export const datFormat: EventFormat = {
  id: 'dat',
  name: 'Prophesee DAT',
  extensions: ['.dat'],
  probe: probeDat,
  open: openDat,
};
