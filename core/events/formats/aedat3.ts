/**
 * cAER / libcaer AEDAT 3.1 (and 3.0) — event-formats.md §3: a `#` header closed by `#!END-HEADER`, then
 * packets of a 28-byte little-endian header (type, source, eventSize, tsOffset, tsOverflow, capacity, number,
 * valid) followed by eventNumber × eventSize bytes. Only polarity packets (type 1, 8-byte events) are decoded;
 * every other type is skipped by its declared size. Time = tsOverflow · 2^31 + (31-bit timestamp); invalid
 * events (valid bit 0 clear) are dropped. Origin: 3.1 top-left as stored.
 *
 * AEDAT 3.0: accepted with the 3.1 bit layout and a bottom-left → top-left flip of y when the sensor height is
 * known. This is uncertain (§3.3): iniVation's 3.0 page only names the origin difference, while jAER's 3.0
 * reader uses X bits 18–31 / Y bits 4–17; no 3.0 sample was available to settle it. A warning says so.
 */
import type { ByteSource } from '../byte-source.ts';
import { DEFAULT_CHUNK_BYTES } from '../byte-source.ts';
import { EventFormatError } from '../errors.ts';
import { DECODE_BLOCK, DEFAULT_PACKET_CAPACITY, allocBlock, allocPacket, appendBlock, viewPacket, type EventPacket, type SensorGeometry } from '../packet.ts';
import type { EventFormat, EventFileInfo, EventReader, ReaderOptions, StreamDescriptor, TimeRange } from '../reader.ts';
import { filterRange } from '../reader.ts';
import { readAedatHeader } from './aedat2.ts';
import { chipGeometry, scanAedatHeader } from './header.ts';
import { LITTLE_ENDIAN_HOST } from './prophesee-raw.ts';
import { checkKernel, eventsKernels, type EventsKernels } from '../codecs/events-native.ts';

export const AEDAT3_PACKET_HEADER_BYTES = 28;
export const POLARITY_EVENT_TYPE = 1;
const TWO31 = 2147483648;

/** Running counters of the polarity kernel (dropped events are reported as warnings at the end). */
interface PolarityState {
  base: number;
  /** 3.0 only: height − 1 for the y flip; −1 = no flip. */
  flipH1: number;
  /** Drop events with x ≥ width or y ≥ height (Infinity = no bound). */
  width: number;
  height: number;
  outOfRange: number;
}

// Module-level scratch (see DECODE_BLOCK in packet.ts): polarityBlock only touches these constants. Each
// block of events is copied into IN (aligned, so it can be read as i32 words), decoded into B, appended to out.
const IN = new Uint8Array(DECODE_BLOCK * 8);
const IN_I32 = new Int32Array(IN.buffer);
const B = allocBlock();
const BX = B.x, BY = B.y, BT = B.t, BP = B.p;

/**
 * Decodes `count` 8-byte polarity events from IN into the scratch block; returns the number of events kept.
 * data: bit 0 valid, bit 1 polarity, bits 2–16 y, bits 17–31 x; then the i32 timestamp.
 */
function polarityBlock(count: number, s: PolarityState): number {
  let k = 0;
  const base = s.base, h1 = s.flipH1, w = s.width, h = s.height;
  let bad = 0;
  for (let i = 0; i < 2 * count; i += 2) {
    const d = IN_I32[i];
    if ((d & 1) === 0) continue; // invalid event
    const x = d >>> 17;
    let y = (d >>> 2) & 0x7fff;
    if (x >= w || y >= h) {
      bad++;
      continue;
    }
    if (h1 >= 0) y = h1 - y;
    BX[k] = x;
    BY[k] = y;
    BP[k] = (d >>> 1) & 1;
    BT[k] = base + (IN_I32[i + 1] & 0x7fffffff);
    k++;
  }
  s.outOfRange += bad;
  return k;
}

/** Big-endian hosts only: turns the little-endian words of IN[0, bytes) into host order. */
function swapIn(bytes: number): void {
  for (let i = 0; i < bytes; i += 4) {
    let a = IN[i]; IN[i] = IN[i + 3]; IN[i + 3] = a;
    a = IN[i + 1]; IN[i + 1] = IN[i + 2]; IN[i + 2] = a;
  }
}

/** Decodes 8-byte polarity events from bytes[pos, end) into out until out is full; returns the new position. */
function decodePolarity(bytes: Uint8Array, pos: number, end: number, out: EventPacket, s: PolarityState): number {
  const cap = out.x.length;
  while (pos < end && out.length < cap) {
    const m = Math.min(DECODE_BLOCK, cap - out.length, (end - pos) >>> 3);
    IN.set(bytes.subarray(pos, pos + 8 * m));
    if (!LITTLE_ENDIAN_HOST) swapIn(8 * m);
    appendBlock(out, BX, BY, BT, BP, polarityBlock(m, s));
    pos += 8 * m;
  }
  return pos;
}

/**
 * decodePolarity through the events_native kernel (state layout: Aedat3Decode in events_native.cc), writing
 * straight into `out`. `ns` carries the packet's base/geometry in and the out-of-range count out.
 */
function decodePolarityNative(k: EventsKernels, ns: Float64Array, bytes: Uint8Array, pos: number, end: number, out: EventPacket, s: PolarityState): number {
  ns[0] = s.base;
  ns[1] = s.flipH1;
  ns[2] = s.width;
  ns[3] = s.height;
  ns[4] = 0;
  const at = out.length;
  out.length = at + checkKernel(k.aedat3Decode(bytes, pos, end, ns, out.x, out.y, out.t, out.p, at, out.x.length - at), 'aedat3Decode');
  s.outOfRange += ns[4];
  return ns[5];
}

/** Random access over a ByteSource through one large window (a memory source costs no copy). */
class Window {
  bytes: Uint8Array = new Uint8Array(0);
  dv = new DataView(this.bytes.buffer);
  start = 0;
  constructor(private readonly src: ByteSource, private readonly chunk: number) {}
  /** Offset of pos inside `bytes` when [pos, pos + n) is already there, else −1 (no await: packets are small). */
  here(pos: number, n: number): number {
    return pos >= this.start && pos + n <= this.start + this.bytes.length ? pos - this.start : -1;
  }

  /** Makes [pos, pos + n) available (n ≤ chunk); returns the offset of pos inside `bytes`, or −1 past the end. */
  async at(pos: number, n: number): Promise<number> {
    if (pos < this.start || pos + n > this.start + this.bytes.length) {
      this.bytes = await this.src.read(pos, Math.max(n, this.chunk));
      this.dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
      this.start = pos;
      if (this.bytes.length < n) return -1;
    }
    return pos - this.start;
  }
}

async function openAedat3(src: ByteSource, opts: ReaderOptions): Promise<EventReader> {
  const fmt = 'aedat3';
  const h = await readAedatHeader(src, fmt);
  if (h.version !== '3.1' && h.version !== '3.0') {
    throw new EventFormatError(fmt, 0, `expected #!AER-DAT3.1 or 3.0, found version ${h.version ?? 'none'}`, src.name);
  }
  const v30 = h.version === '3.0';
  const warnings: string[] = [];
  if (!v30 && h.endLine !== '#!END-HEADER') {
    warnings.push(h.reachesEof ? 'file ends inside its ASCII header: no events' : 'header has no #!END-HEADER line');
  }

  const streams: StreamDescriptor[] = [];
  const sourceGeometry = new Map<number, SensorGeometry>();
  for (const [key, value] of Object.entries(h.fields)) {
    const m = /^Source (\d+)$/.exec(key);
    if (!m) continue;
    const id = Number(m[1]);
    const g = opts.geometry ?? chipGeometry(value);
    if (g) sourceGeometry.set(id, g);
    streams.push({ id, type: 'polarity', name: value, geometry: g ?? undefined });
  }
  const firstSource = streams[0];
  const geometry = opts.geometry ?? firstSource?.geometry ?? null;
  if (v30) {
    warnings.push(
      geometry
        ? 'AEDAT 3.0: y flipped from bottom-left to top-left assuming the 3.1 bit layout (unverified, no 3.0 sample)'
        : 'AEDAT 3.0: sensor size unknown, y left bottom-left (pass the geometry option to flip)',
    );
  }
  const header: Record<string, string> = { ...h.fields, version: h.version, lineEnding: h.lineEnding };
  const info: EventFileInfo = {
    format: 'aedat3',
    formatName: `AEDAT ${h.version}`,
    geometry,
    camera: firstSource?.name,
    header,
    streams,
    dataOffset: h.dataOffset,
    fileSize: src.size,
  };
  const capacity = opts.packetCapacity ?? DEFAULT_PACKET_CAPACITY;

  async function* all(): AsyncIterableIterator<EventPacket> {
    const win = new Window(src, DEFAULT_CHUNK_BYTES);
    const size = src.size;
    const st: PolarityState = { base: 0, flipH1: -1, width: Infinity, height: Infinity, outOfRange: 0 };
    let out = allocPacket(capacity);
    const native = LITTLE_ENDIAN_HOST ? eventsKernels() : null;
    const ns = new Float64Array(6);
    let pos = h.reachesEof ? size : h.dataOffset;
    while (pos < size) {
      if (size - pos < AEDAT3_PACKET_HEADER_BYTES) {
        warnings.push(`file ends inside a packet header (${size - pos} bytes at offset ${pos}): ignored`);
        break;
      }
      let o = win.here(pos, AEDAT3_PACKET_HEADER_BYTES);
      if (o < 0) o = await win.at(pos, AEDAT3_PACKET_HEADER_BYTES);
      if (o < 0) {
        warnings.push(`source ended early at offset ${pos}`);
        break;
      }
      const dv = win.dv;
      const type = dv.getInt16(o, true);
      const source = dv.getInt16(o + 2, true);
      const eventSize = dv.getInt32(o + 4, true);
      const tsOffset = dv.getInt32(o + 8, true);
      const tsOverflow = dv.getInt32(o + 12, true);
      const evCapacity = dv.getInt32(o + 16, true);
      const number = dv.getInt32(o + 20, true);
      const valid = dv.getInt32(o + 24, true);
      const fail = (why: string) => new EventFormatError(fmt, pos, `packet header (type ${type}, source ${source}): ${why}`, src.name);
      if (type < 0) throw fail(`negative event type`);
      if (eventSize < 4) throw fail(`eventSize ${eventSize} < 4`);
      if (number < 0 || valid < 0 || valid > number) throw fail(`eventNumber ${number} / eventValid ${valid} inconsistent`);
      if (evCapacity < number) throw fail(`eventCapacity ${evCapacity} < eventNumber ${number}`);
      if (tsOffset < 0 || tsOffset > eventSize - 4) throw fail(`eventTSOffset ${tsOffset} outside the ${eventSize}-byte event`);
      if (tsOverflow < 0) throw fail(`negative eventTSOverflow ${tsOverflow}`);
      const body = pos + AEDAT3_PACKET_HEADER_BYTES;
      const payload = number * eventSize; // exact in a double (< 2^62)
      const avail = size - body;
      const truncated = payload > avail;
      if (type !== POLARITY_EVENT_TYPE) {
        if (truncated) {
          warnings.push(`file ends inside a type-${type} packet at offset ${pos} (${avail} of ${payload} payload bytes)`);
          break;
        }
        pos = body + payload;
        continue;
      }
      if (eventSize !== 8 || tsOffset !== 4) throw fail(`polarity events must be 8 bytes with the timestamp at 4, got ${eventSize}/${tsOffset}`);
      st.base = tsOverflow * TWO31;
      const g = sourceGeometry.get(source) ?? geometry;
      st.width = g ? g.width : Infinity;
      st.height = g ? g.height : Infinity;
      st.flipH1 = v30 && g ? g.height - 1 : -1;
      const n = truncated ? Math.floor(avail / 8) : number;
      const chunkEvents = DEFAULT_CHUNK_BYTES >>> 3;
      for (let e = 0; e < n; ) {
        const k = Math.min(chunkEvents, n - e);
        let at = win.here(body + e * 8, k * 8);
        if (at < 0) at = await win.at(body + e * 8, k * 8);
        if (at < 0) break;
        const end = at + k * 8;
        let p = at;
        while (p < end) {
          p = native ? decodePolarityNative(native, ns, win.bytes, p, end, out, st) : decodePolarity(win.bytes, p, end, out, st);
          if (out.length === capacity) {
            yield out;
            if (opts.reusePackets) out.length = 0;
            else out = allocPacket(capacity);
          }
        }
        e += k;
      }
      if (truncated) {
        warnings.push(`file ends inside a polarity packet at offset ${pos}: ${n} of ${number} events present`);
        break;
      }
      pos = body + payload;
    }
    if (out.length > 0) yield viewPacket(out, 0, out.length);
    if (st.outOfRange > 0) warnings.push(`${st.outOfRange} events outside the sensor size were dropped`);
  }

  return {
    info,
    warnings,
    reusesPackets: opts.reusePackets === true,
    packets: (range?: TimeRange) => filterRange(all(), range),
    close: () => src.close(),
  };
}

function probeAedat3(head: Uint8Array, size: number): number {
  if (head.length === 0 || head[0] !== 0x23) return 0;
  const v = scanAedatHeader(head.subarray(0, 64), { fileSize: size }).version;
  return v === '3.1' ? 0.95 : v === '3.0' ? 0.9 : 0;
}

export const aedat3Format: EventFormat = {
  id: 'aedat3',
  name: 'AEDAT 3.1 (cAER)',
  extensions: ['.aedat'],
  probe: probeAedat3,
  open: openAedat3,
};
