/**
 * TEST-ONLY AEDAT 3.1 writer in the cAER layout (event-formats.md §3): CRLF header lines ending with
 * `#!END-HEADER`, then polarity packets (type 1, 8-byte events) with capacity = number = valid, the valid bit set
 * on every event, and a new packet whenever the timestamp overflow (t / 2^31) changes. Used to build round-trip
 * tests, DVS128 Gesture-like fixtures and the decode benchmark's input.
 */
import type { EventPacket } from '../../core/events/packet.ts';

const TWO31 = 2147483648;
export const PACKET_HEADER_BYTES = 28;

export interface Aedat31Options {
  /** Events per polarity packet (default 4096). */
  eventsPerPacket?: number;
  /** Description of source 1, e.g. 'DVS128' (default) or 'DAVIS346B'. */
  source?: string;
  /** `#Start-Time:` value (default '2017-01-01 00:00:00 (TZ+0000)'). */
  startTime?: string;
}

/** The CRLF header of a cAER 3.1 file with one source (id 1). */
export function aedat31Header(source = 'DVS128', startTime = '2017-01-01 00:00:00 (TZ+0000)'): Uint8Array {
  const text = ['#!AER-DAT3.1', '#Format: RAW', `#Source 1: ${source}`, `#Start-Time: ${startTime}`, '#!END-HEADER'].join('\r\n') + '\r\n';
  return new TextEncoder().encode(text);
}

/** A 28-byte packet header (all fields little-endian, signed). */
export function packetHeader(f: {
  type: number;
  source?: number;
  eventSize: number;
  tsOffset?: number;
  tsOverflow?: number;
  capacity: number;
  number: number;
  valid: number;
}): Uint8Array {
  const b = new Uint8Array(PACKET_HEADER_BYTES);
  const dv = new DataView(b.buffer);
  dv.setInt16(0, f.type, true);
  dv.setInt16(2, f.source ?? 1, true);
  dv.setInt32(4, f.eventSize, true);
  dv.setInt32(8, f.tsOffset ?? 4, true);
  dv.setInt32(12, f.tsOverflow ?? 0, true);
  dv.setInt32(16, f.capacity, true);
  dv.setInt32(20, f.number, true);
  dv.setInt32(24, f.valid, true);
  return b;
}

/** The 32-bit data word of one polarity event (bit 0 valid, bit 1 polarity, y bits 2–16, x bits 17–31). */
export function polarityWord(x: number, y: number, on: number, valid = true): number {
  return ((x << 17) | (y << 2) | ((on & 1) << 1) | (valid ? 1 : 0)) >>> 0;
}

/**
 * One polarity packet (header + events [start, end) of `pk`), all with the overflow of `pk.t[start]`.
 * `invalid` marks event indices (relative to the file) whose valid bit is cleared.
 */
export function polarityPacket(pk: EventPacket, start: number, end: number, invalid?: ReadonlySet<number>): Uint8Array {
  const n = end - start;
  const overflow = Math.floor(pk.t[start] / TWO31);
  let valid = n;
  const b = new Uint8Array(PACKET_HEADER_BYTES + 8 * n);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < n; i++) {
    const j = start + i;
    const t = pk.t[j];
    if (!Number.isInteger(t) || t < 0 || Math.floor(t / TWO31) !== overflow) throw new RangeError(`bad timestamp ${t} at event ${j}`);
    const ok = !invalid?.has(j);
    if (!ok) valid--;
    dv.setUint32(PACKET_HEADER_BYTES + 8 * i, polarityWord(pk.x[j], pk.y[j], pk.p[j], ok), true);
    dv.setInt32(PACKET_HEADER_BYTES + 8 * i + 4, t - overflow * TWO31, true);
  }
  b.set(packetHeader({ type: 1, eventSize: 8, tsOffset: 4, tsOverflow: overflow, capacity: n, number: n, valid }));
  return b;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Encodes `packet` (times in µs, integers ≥ 0, non-decreasing) as a complete AEDAT 3.1 file.
 * Times ≥ 2^31 µs are written through eventTSOverflow, splitting packets at each overflow step.
 */
export function encodeAedat31(packet: EventPacket, opts: Aedat31Options = {}): Uint8Array {
  const per = opts.eventsPerPacket ?? 4096;
  if (!(per >= 1)) throw new RangeError(`eventsPerPacket must be ≥ 1, got ${per}`);
  const parts: Uint8Array[] = [aedat31Header(opts.source, opts.startTime)];
  const n = packet.length;
  let i = 0;
  while (i < n) {
    const overflow = Math.floor(packet.t[i] / TWO31);
    let j = i + 1;
    const limit = Math.min(n, i + per);
    while (j < limit && Math.floor(packet.t[j] / TWO31) === overflow) j++;
    parts.push(polarityPacket(packet, i, j));
    i = j;
  }
  return concatBytes(parts);
}
