import { describe, expect, it } from 'vitest';
import { DEFAULT_CHUNK_BYTES } from '../../../../core/events/byte-source.ts';
import { EventFormatError } from '../../../../core/events/errors.ts';
import { aedat3Format } from '../../../../core/events/formats/aedat3.ts';
import { allocPacket, type EventPacket } from '../../../../core/events/packet.ts';
import { MemoryByteSource, readAll, type ReaderOptions } from '../../../../core/events/reader.ts';
import { Rng } from '../../../../core/util/rng.ts';
import { aedat31Header, concatBytes, encodeAedat31, packetHeader, polarityPacket, polarityWord } from '../../../helpers/aedat3-writer.ts';

const enc = (s: string) => new TextEncoder().encode(s);

function randomPacket(n: number, seed: number, t0 = 0, w = 128, h = 128): EventPacket {
  const rng = new Rng(seed);
  const pk = allocPacket(n);
  let t = t0;
  for (let i = 0; i < n; i++) {
    t += rng.int(50);
    pk.x[i] = rng.int(w);
    pk.y[i] = rng.int(h);
    pk.t[i] = t;
    pk.p[i] = rng.int(2);
  }
  pk.length = n;
  return pk;
}

async function decode(bytes: Uint8Array, opts: ReaderOptions = {}) {
  const r = await aedat3Format.open(new MemoryByteSource(bytes), opts);
  return { r, all: await readAll(r) };
}

/** Asserts equal events; reports the first differing index (fast on 500k-event packets). */
function expectSame(a: EventPacket, b: EventPacket): void {
  expect(a.length).toBe(b.length);
  let first = -1;
  for (let i = 0; i < a.length && first < 0; i++) {
    if (a.x[i] !== b.x[i] || a.y[i] !== b.y[i] || a.t[i] !== b.t[i] || a.p[i] !== b.p[i]) first = i;
  }
  expect(first).toBe(-1);
}

describe('AEDAT 3.1 byte-level', () => {
  it('decodes one hand-built packet (bytes written out, not by the test writer)', async () => {
    const header = enc('#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#Start-Time: 2017-06-08 11:00:00 (TZ+0200)\r\n#!END-HEADER\r\n');
    // prettier-ignore
    const packet = new Uint8Array([
      0x01, 0x00, 0x01, 0x00,  // eventType 1 (polarity), eventSource 1
      0x08, 0x00, 0x00, 0x00,  // eventSize 8
      0x04, 0x00, 0x00, 0x00,  // eventTSOffset 4
      0x01, 0x00, 0x00, 0x00,  // eventTSOverflow 1 → + 2^31 µs
      0x03, 0x00, 0x00, 0x00,  // eventCapacity 3
      0x03, 0x00, 0x00, 0x00,  // eventNumber 3
      0x02, 0x00, 0x00, 0x00,  // eventValid 2
      // x=5, y=7, ON, valid: (5<<17)|(7<<2)|2|1 = 0x000A001F; ts 0x00000064 = 100
      0x1f, 0x00, 0x0a, 0x00, 0x64, 0x00, 0x00, 0x00,
      // invalid event (bit 0 clear)
      0x1e, 0x00, 0x0a, 0x00, 0x65, 0x00, 0x00, 0x00,
      // x=127, y=0, OFF, valid: (127<<17)|1 = 0x00FE0001; ts 0x7FFFFFFF
      0x01, 0x00, 0xfe, 0x00, 0xff, 0xff, 0xff, 0x7f,
    ]);
    const bytes = concatBytes([header, packet]);
    expect(aedat3Format.probe(bytes, bytes.length)).toBeGreaterThan(0.9);
    const { r, all } = await decode(bytes);
    expect(r.info.dataOffset).toBe(header.length);
    expect(r.info.geometry).toEqual({ width: 128, height: 128 });
    expect(r.info.camera).toBe('DVS128');
    expect(r.info.header['Start-Time']).toBe('2017-06-08 11:00:00 (TZ+0200)');
    expect(r.info.streams).toEqual([{ id: 1, type: 'polarity', name: 'DVS128', geometry: { width: 128, height: 128 } }]);
    expect(all.length).toBe(2);
    expect([all.t[0], all.x[0], all.y[0], all.p[0]]).toEqual([2147483648 + 100, 5, 7, 1]);
    expect([all.t[1], all.x[1], all.y[1], all.p[1]]).toEqual([2147483648 + 2147483647, 127, 0, 0]);
    // The writer produces exactly these event words.
    expect(polarityWord(5, 7, 1)).toBe(0x000a001f);
    expect(polarityWord(127, 0, 0)).toBe(0x00fe0001);
  });

  it('writer layout: CRLF header ending #!END-HEADER, capacity = number = valid', () => {
    const pk = randomPacket(3, 1);
    const bytes = encodeAedat31(pk, { source: 'DAVIS346B', startTime: 'X' });
    const text = new TextDecoder('latin1').decode(bytes.subarray(0, 80));
    expect(text.startsWith('#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DAVIS346B\r\n#Start-Time: X\r\n#!END-HEADER\r\n')).toBe(true);
    const o = aedat31Header('DAVIS346B', 'X').length;
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    expect([dv.getInt16(o, true), dv.getInt32(o + 4, true), dv.getInt32(o + 16, true), dv.getInt32(o + 20, true), dv.getInt32(o + 24, true)]).toEqual([1, 8, 3, 3, 3]);
    expect(bytes.length).toBe(o + 28 + 24);
  });
});

describe('AEDAT 3.1 round trip through the test writer', () => {
  it('multi-packet file with timestamps crossing 2^31 (tsOverflow) and a 2^32 step', async () => {
    const pk = randomPacket(10_000, 7, 2 ** 31 - 100_000);
    pk.t[9000] = pk.t[8999]; // equal timestamps are fine
    for (let i = 9500; i < 10_000; i++) pk.t[i] = 2 ** 32 + 5 * i; // second overflow step
    const bytes = encodeAedat31(pk, { eventsPerPacket: 777 });
    const { r, all } = await decode(bytes);
    expectSame(all, pk);
    expect(r.warnings).toEqual([]);
    expect(all.t[all.length - 1]).toBe(2 ** 32 + 5 * 9999);
  });

  it('drops invalid events and skips interleaved non-polarity packets of any size', async () => {
    const pk = randomPacket(300, 3);
    const invalid = new Set([0, 17, 150, 299]);
    const special = concatBytes([packetHeader({ type: 0, eventSize: 8, capacity: 2, number: 2, valid: 2 }), new Uint8Array(16).fill(0xff)]);
    const imu6 = concatBytes([packetHeader({ type: 3, eventSize: 36, capacity: 1, number: 1, valid: 1 }), new Uint8Array(36).fill(0x23)]);
    const frame = concatBytes([packetHeader({ type: 2, eventSize: 1000, tsOffset: 4, capacity: 2, number: 1, valid: 1 }), new Uint8Array(1000).fill(1)]);
    const empty = packetHeader({ type: 1, eventSize: 8, capacity: 0, number: 0, valid: 0 });
    const bytes = concatBytes([
      aedat31Header(),
      special,
      polarityPacket(pk, 0, 100, invalid),
      imu6,
      empty,
      polarityPacket(pk, 100, 200, invalid),
      frame,
      polarityPacket(pk, 200, 300, invalid),
    ]);
    const { all, r } = await decode(bytes);
    const keep = allocPacket(300);
    for (let i = 0; i < 300; i++) {
      if (invalid.has(i)) continue;
      const k = keep.length++;
      keep.x[k] = pk.x[i];
      keep.y[k] = pk.y[i];
      keep.t[k] = pk.t[i];
      keep.p[k] = pk.p[i];
    }
    expectSame(all, keep);
    expect(r.warnings).toEqual([]);
  });

  it('payload spanning the read window and many small packets decode identically', async () => {
    const n = (DEFAULT_CHUNK_BYTES >>> 3) + 5000; // one packet larger than a 4 MiB window
    const pk = randomPacket(n, 11);
    const big = await decode(encodeAedat31(pk, { eventsPerPacket: n }), { packetCapacity: 100_000 });
    expectSame(big.all, pk);
    const small = await decode(encodeAedat31(pk, { eventsPerPacket: 333 }));
    expectSame(small.all, pk);
  });

  it('a file cut inside a packet yields the whole events present and a warning', async () => {
    const pk = randomPacket(50, 5);
    const bytes = encodeAedat31(pk, { eventsPerPacket: 20 });
    const cut = bytes.subarray(0, bytes.length - 8 * 5 - 3); // last packet (10 events) loses 5 events + 3 bytes
    const { r, all } = await decode(cut);
    expect(all.length).toBe(44);
    expect(r.warnings[0]).toMatch(/ends inside a polarity packet .*: 4 of 10 events present/);
    const cutHeader = bytes.subarray(0, aedat31Header().length + 10);
    const h = await decode(cutHeader);
    expect(h.all.length).toBe(0);
    expect(h.r.warnings[0]).toMatch(/inside a packet header/);
  });

  it('events outside the named sensor are dropped with a warning', async () => {
    const pk = randomPacket(4, 1);
    pk.x[1] = 200;
    const { all, r } = await decode(encodeAedat31(pk));
    expect(all.length).toBe(3);
    expect(r.warnings).toContain('1 events outside the sensor size were dropped');
  });
});

describe('AEDAT 3.x headers and errors', () => {
  const bad = (f: Parameters<typeof packetHeader>[0], payload = 0) =>
    concatBytes([aedat31Header(), packetHeader(f), new Uint8Array(payload)]);

  it.each([
    ['eventSize 0', bad({ type: 1, eventSize: 0, capacity: 1, number: 1, valid: 1 }), /eventSize 0/],
    ['capacity < number', bad({ type: 1, eventSize: 8, capacity: 1, number: 2, valid: 2 }, 16), /eventCapacity 1 < eventNumber 2/],
    ['valid > number', bad({ type: 1, eventSize: 8, capacity: 2, number: 1, valid: 2 }, 8), /inconsistent/],
    ['negative number', bad({ type: 9, eventSize: 8, capacity: 2, number: -1, valid: 0 }), /inconsistent/],
    ['polarity with eventSize 12', bad({ type: 1, eventSize: 12, capacity: 1, number: 1, valid: 1 }, 12), /polarity events must be 8 bytes/],
    ['tsOffset outside event', bad({ type: 5, eventSize: 8, tsOffset: 6, capacity: 1, number: 1, valid: 1 }, 8), /eventTSOffset 6/],
  ])('%s → EventFormatError at the packet offset', async (_name, bytes, reason) => {
    const r = await aedat3Format.open(new MemoryByteSource(bytes), {});
    const err = await readAll(r).catch((e) => e);
    expect(err).toBeInstanceOf(EventFormatError);
    expect(err.offset).toBe(aedat31Header().length);
    expect(err.message).toMatch(reason);
  });

  it('a huge eventNumber never allocates: it reads as a truncated packet', async () => {
    const bytes = bad({ type: 1, eventSize: 8, capacity: 0x7fffffff, number: 0x7fffffff, valid: 0x7fffffff }, 16);
    const { all, r } = await decode(bytes);
    expect(all.length).toBe(0); // zero-filled events have the valid bit clear
    expect(r.warnings[0]).toMatch(/2 of 2147483647 events present/);
  });

  it('AEDAT 3.0: no end line, y flipped to top-left when the source names the sensor', async () => {
    const pk = randomPacket(5, 2);
    const body = encodeAedat31(pk).subarray(aedat31Header().length);
    const bytes = concatBytes([enc('#!AER-DAT3.0\r\n#Format: RAW\r\n#Source 0: DVS128\r\n'), body]);
    const { all, r } = await decode(bytes);
    expect(r.info.formatName).toBe('AEDAT 3.0');
    expect(Array.from(all.y)).toEqual(Array.from(pk.y.subarray(0, 5), (y) => 127 - y));
    expect(r.warnings[0]).toMatch(/unverified/);
    const noName = concatBytes([enc('#!AER-DAT3.0\r\n#Format: RAW\r\n'), body]);
    const raw = await decode(noName);
    expect(Array.from(raw.all.y)).toEqual(Array.from(pk.y.subarray(0, 5)));
    expect(raw.r.warnings[0]).toMatch(/sensor size unknown/);
  });

  it('geometry option overrides the source name; probe wants the version line', async () => {
    const bytes = encodeAedat31(randomPacket(3, 1), { source: 'Mystery' });
    expect((await decode(bytes)).r.info.geometry).toBeNull();
    expect((await decode(bytes, { geometry: { width: 346, height: 260 } })).r.info.geometry).toEqual({ width: 346, height: 260 });
    expect(aedat3Format.probe(enc('#!AER-DAT2.0\r\n'), 14)).toBe(0);
    expect(aedat3Format.probe(enc('#!AER-DAT3.0\r\n'), 14)).toBeGreaterThan(0.5);
  });
});
