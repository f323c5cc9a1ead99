import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lcgPacket } from '../../../helpers/lcg-packet.ts';
import { MemoryByteSource } from '../../../../core/events/byte-source.ts';
import { eventsNative, lz4Compress, lz4Decompress } from '../../../../core/events/codecs/lz4-native.ts';
import { eventsNativeAvailable, setEventsNative } from '../../../../core/events/codecs/events-native.ts';
import { EventFormatError } from '../../../../core/events/errors.ts';
import {
  Aedat4Reader, aedat4Format, parseAedat4IoHeader, readAedat4Imu, readAedat4Triggers, unpackAedat4Events,
} from '../../../../core/events/formats/aedat4.ts';
import { parseDvXml, writeDvXml } from '../../../../core/events/formats/aedat4-infonode.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import { accumulateStats, allocPacket, concatPackets, copyPacket, emptyStats, type EventPacket } from '../../../../core/events/packet.ts';
import { filterRange, readAll } from '../../../../core/events/reader.ts';
import { encodeAedat4 } from '../../../../core/events/writers/aedat4.ts';
import { fuzzReader } from '../../../helpers/fuzz.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

const SAMPLE = sharedFile('tonic-dvxplorer-aedat4/sample.aedat4');
const sampleBytes = () => new Uint8Array(readFileSync(SAMPLE!));

async function open(bytes: Uint8Array): Promise<Aedat4Reader> {
  const r = await openEvents(bytes);
  expect(r).toBeInstanceOf(Aedat4Reader);
  return r as Aedat4Reader;
}

function tuples(pk: EventPacket, idx: number[]): number[][] {
  return idx.map((i) => [pk.t[i], pk.x[i], pk.y[i], pk.p[i]]);
}

function expectSameEvents(a: EventPacket, b: EventPacket): void {
  expect(b.length).toBe(a.length);
  for (let i = 0; i < a.length; i++) {
    if (a.t[i] !== b.t[i] || a.x[i] !== b.x[i] || a.y[i] !== b.y[i] || a.p[i] !== b.p[i]) {
      throw new Error(`event ${i} differs: ${tuples(a, [i])} vs ${tuples(b, [i])}`);
    }
  }
}

async function concatAll(it: AsyncIterable<EventPacket>): Promise<EventPacket> {
  const parts: EventPacket[] = [];
  for await (const pk of it) parts.push(pk);
  return concatPackets(parts);
}

function setI64(b: Uint8Array, at: number, v: number): void {
  const dv = new DataView(b.buffer, b.byteOffset);
  const hi = Math.floor(v / 2 ** 32);
  dv.setUint32(at, v - hi * 2 ** 32, true);
  dv.setInt32(at + 4, hi, true);
}

/** Synthetic events on a 346×260 sensor (see lcgPacket). */
const synth = (n: number, t0?: number, seed?: number): EventPacket => lcgPacket(n, 346, 260, t0, seed);

describe.skipIf(!SAMPLE)('AEDAT 4.0 reader on the real DVXplorer sample (shared/data README §1)', () => {
  it('detects the format and reads the IOHeader, infoNode and streams', async () => {
    const bytes = sampleBytes();
    expect(bytes.length).toBe(949_253);
    expect(aedat4Format.probe(bytes.subarray(0, 64), bytes.length)).toBe(1);
    const h = parseAedat4IoHeader(bytes.subarray(18, 18 + 2316), 18);
    expect(h.compression).toBe(1);
    expect(h.dataTablePosition).toBe(945_243);
    expect(h.infoNode.length).toBe(2267);
    expect(new DataView(bytes.buffer).getUint32(14, true)).toBe(2316);
    expect(String.fromCharCode(...bytes.subarray(22, 26))).toBe('IOHE');
    const r = await open(bytes);
    expect(r.info.format).toBe('aedat4');
    expect(r.info.formatName).toBe('AEDAT 4.0');
    expect(r.info.geometry).toEqual({ width: 320, height: 240 });
    expect(r.info.camera).toBe('DVXplorer_DXB00010');
    expect(r.info.dataOffset).toBe(2334);
    expect(r.info.header.compression).toBe('LZ4');
    expect(r.info.header.tsOffset).toBe('1605507430438338');
    expect(r.streams.map((s) => [s.id, s.type, s.name])).toEqual([[0, 'EVTS', 'events'], [2, 'IMUS', 'imu'], [3, 'TRIG', 'triggers']]);
    expect(r.streams[0].tsOffset).toBe(1605507430438338);
    expect(r.info.streams).toEqual([
      { id: 0, type: 'EVTS', name: 'events', packets: 59, elements: 111_954, geometry: { width: 320, height: 240 } },
      { id: 2, type: 'IMUS', name: 'imu', packets: 59, elements: 475 },
      { id: 3, type: 'TRIG', name: 'triggers', packets: 0, elements: 0 },
    ]);
    expect(r.warnings).toEqual([]);
    await r.close();
  });

  it('uses the FileDataTable: 118 entries, ByteOffset = packet header + 8, first entry as documented', async () => {
    const bytes = sampleBytes();
    const r = await open(bytes);
    expect(r.usedDataTable).toBe(true);
    const ix = r.index;
    expect(ix.count).toBe(118);
    expect([ix.offset[0], ix.stream[0], ix.size[0], ix.elements[0], ix.tStart[0], ix.tEnd[0]])
      .toEqual([2342, 0, 7949, 918, 1605537493718345, 1605537493728245]);
    const dv = new DataView(bytes.buffer);
    let evPackets = 0;
    let imuPackets = 0;
    let maxBody = 0;
    for (let i = 0; i < ix.count; i++) {
      // The 8-byte packet header sits right before ByteOffset and agrees with PacketInfo.
      expect(dv.getInt32(ix.offset[i] - 8, true)).toBe(ix.stream[i]);
      expect(dv.getInt32(ix.offset[i] - 4, true)).toBe(ix.size[i]);
      if (ix.stream[i] === 0) evPackets++;
      if (ix.stream[i] === 2) imuPackets++;
      const body = lz4Decompress(bytes.subarray(ix.offset[i], ix.offset[i] + ix.size[i]), { maxOutput: 1 << 20 });
      maxBody = Math.max(maxBody, body.length);
    }
    expect([evPackets, imuPackets]).toEqual([59, 59]);
    expect(maxBody).toBe(48_320);
    // Packets are interleaved: stream 0, 2, 0, 2, …
    expect(Array.from(ix.stream.subarray(0, 6))).toEqual([0, 2, 0, 2, 0, 2]);
    await r.close();
  });

  it('decodes every reference value: 111,954 events, first/last events, on, sums', async () => {
    const r = await open(sampleBytes());
    const all = await readAll(r);
    const s = accumulateStats(emptyStats(), all);
    expect(s.count).toBe(111_954);
    expect(s.on).toBe(55_023);
    expect([s.tFirst, s.tLast]).toEqual([1605537493718345, 1605537494308262]);
    expect(s.tLast - s.tFirst).toBe(589_917);
    expect([s.xMin, s.xMax, s.yMin, s.yMax]).toEqual([0, 319, 0, 239]);
    expect(s.sumX).toBe(18_342_405);
    expect(s.sumY).toBe(15_105_898);
    expect(s.sumTMinusT0).toBe(31_685_685_498);
    expect(s.monotonic).toBe(true);
    expect(tuples(all, [0, 1, 2])).toEqual([
      [1605537493718345, 154, 204, 0], [1605537493718348, 149, 206, 0], [1605537493718349, 148, 199, 1],
    ]);
    expect(tuples(all, [all.length - 2, all.length - 1])).toEqual([[1605537494308261, 90, 132, 0], [1605537494308262, 88, 237, 1]]);
    expect(r.packetsRead).toBe(59);
    await r.close();
  });

  it('reads IMU samples and (absent) triggers as typed arrays', async () => {
    const r = await open(sampleBytes());
    const imu = await readAedat4Imu(r);
    expect(imu.length).toBe(475);
    expect(imu.t[0]).toBe(1605537493718788);
    expect(imu.temperature[0]).toBe(38.15234375);
    expect([imu.accX[0], imu.accY[0], imu.accZ[0]]).toEqual([0.1263427734375, -0.9951171875, -0.39306640625]);
    expect([imu.gyroX[0], imu.gyroY[0], imu.gyroZ[0]]).toEqual([0.4119872748851776, 0.0762939453125, -0.4119872748851776]);
    expect([imu.magX[0], imu.magY[0], imu.magZ[0]]).toEqual([0, 0, 0]);
    for (let i = 1; i < imu.length; i++) expect(imu.t[i]).toBeGreaterThanOrEqual(imu.t[i - 1]);
    const part = await readAedat4Imu(r, { from: imu.t[100], to: imu.t[200] });
    expect(part.length).toBe(100);
    expect(part.t[0]).toBe(imu.t[100]);
    const trig = await readAedat4Triggers(r);
    expect(trig.length).toBe(0);
    await r.close();
  });

  it('honours packetCapacity (bounded packets, same events)', async () => {
    const bytes = sampleBytes();
    const r = await openEvents(bytes, { packetCapacity: 500 });
    let n = 0;
    const parts: EventPacket[] = [];
    for await (const pk of r.packets()) {
      expect(pk.length).toBeLessThanOrEqual(500);
      expect(pk.t.buffer.byteLength).toBeLessThanOrEqual(500 * 8);
      n += pk.length;
      parts.push(pk);
    }
    expect(n).toBe(111_954);
    expectSameEvents(await readAll(await open(bytes)), concatPackets(parts));
  });

  it('interleaving IMU reads with event iteration does not disturb the events (shared decode buffer)', async () => {
    const bytes = sampleBytes();
    const want = await readAll(await open(bytes));
    const r = (await openEvents(bytes, { packetCapacity: 100 })) as Aedat4Reader;
    const imuT = Array.from((await readAedat4Imu(r)).t);
    const parts: EventPacket[] = [];
    let k = 0;
    for await (const pk of r.packets()) {
      parts.push(pk);
      if (k++ % 50 === 0) expect((await readAedat4Imu(r, { to: pk.t[0] })).length).toBe(imuT.filter((t) => t < pk.t[0]).length);
    }
    expectSameEvents(want, concatPackets(parts));
  });

  it('seeks by time with the data table: exactly the events of the range, fewer packets read', async () => {
    const bytes = sampleBytes();
    const full = await readAll(await open(bytes));
    const t0 = full.t[0];
    for (const [from, to] of [[t0 + 200_000, t0 + 260_000], [t0 + 5, t0 + 9_000], [t0 + 589_000, Infinity], [-Infinity, t0 + 1000]]) {
      const r = await open(bytes);
      const got = await readAll(r, { from, to });
      const want = await concatAll(filterRange((async function* () { yield copyPacket(full); })(), { from, to }));
      expectSameEvents(want, got);
      expect(got.length).toBeGreaterThan(0);
      for (let i = 0; i < got.length; i++) expect(got.t[i] >= from && got.t[i] < to).toBe(true);
      expect(r.packetsRead).toBeLessThan(59);
      if (from === t0 + 200_000) expect(r.packetsRead).toBeLessThanOrEqual(8); // 60 ms of 10 ms packets (+ boundaries)
    }
    // An empty range reads nothing.
    const r = await open(bytes);
    expect((await readAll(r, { from: 0, to: 1 })).length).toBe(0);
    expect(r.packetsRead).toBe(0);
  });

  it('walks packets when dataTablePosition is −1 (interrupted recording) and finds the same events', async () => {
    const bytes = sampleBytes();
    const want = await readAll(await open(bytes));
    const h = parseAedat4IoHeader(bytes.subarray(18, 18 + 2316), 18);
    const cut = bytes.slice(0, h.dataTablePosition); // no table at all
    setI64(cut, h.dataTablePositionField, -1);
    const r = await open(cut);
    expect(r.usedDataTable).toBe(false);
    expect(r.warnings).toEqual([]);
    expect(r.index.count).toBe(118);
    expect(r.info.streams[0].packets).toBe(59);
    expectSameEvents(want, await readAll(r));
    // Seeking still works (filtering every packet: no times without a table).
    const t0 = want.t[0];
    const part = await readAll(await open(cut), { from: t0 + 100_000, to: t0 + 150_000 });
    expect(part.length).toBeGreaterThan(1000);
    expect(part.t[0]).toBeGreaterThanOrEqual(t0 + 100_000);
    // IMU too.
    expect((await readAedat4Imu(r)).length).toBe(475);
  });

  it('falls back to walking when the data table is damaged or points outside the file', async () => {
    const bytes = sampleBytes();
    const want = await readAll(await open(bytes));
    const damaged = bytes.slice();
    damaged[945_243 + 20] ^= 0xff; // inside the compressed table
    damaged[945_243 + 21] ^= 0xff;
    const r = await open(damaged);
    expect(r.usedDataTable).toBe(false);
    expect(r.warnings.join(' ')).toMatch(/data table unusable/);
    expectSameEvents(want, await readAll(r));
    const beyond = bytes.slice();
    setI64(beyond, parseAedat4IoHeader(bytes.subarray(18, 18 + 2316), 18).dataTablePositionField, 5_000_000);
    const r2 = await open(beyond);
    // Walking from the packets to EOF meets the table bytes, which do not parse as a packet header: stop there.
    expect(r2.warnings.join(' ')).toMatch(/outside the packet area.*stopped walking packets at 945243/);
    expectSameEvents(want, await readAll(r2));
  });

  it('a truncated file yields its valid prefix and a warning', async () => {
    const bytes = sampleBytes();
    const want = await readAll(await open(bytes));
    for (const n of [500_000, 2400, 949_000]) {
      const r = await open(bytes.slice(0, n));
      const got = await readAll(r);
      if (n === 949_000) {
        // Cut inside the data table: every packet is intact, the table is not.
        expectSameEvents(want, got);
        expect(r.warnings.join(' ')).toMatch(/data table unusable/);
        continue;
      }
      expect(got.length).toBeLessThan(want.length);
      expectSameEvents(copyPacket(want, 0, got.length), got);
      expect(r.warnings.join(' ')).toMatch(/cut short/);
      if (n === 500_000) expect(got.length).toBeGreaterThan(50_000);
    }
  });

  it('hostile headers give EventFormatError, never RangeError', async () => {
    const bytes = sampleBytes();
    const cases: [string, (b: Uint8Array) => void, RegExp][] = [
      ['IOHeader length beyond EOF', (b) => new DataView(b.buffer).setUint32(14, 0x7fffffff, true), /IOHeader length/],
      ['root offset beyond the header', (b) => new DataView(b.buffer).setUint32(18, 0xfffff, true), /outside/],
      ['vtable offset wild', (b) => new DataView(b.buffer).setInt32(18 + 24, -0x7fffff, true), /vtable/],
      ['infoNode string length huge', (b) => {
        const dv = new DataView(b.buffer); // DV's layout: infoNode offset field at table + 8 = IOHeader byte 32
        dv.setUint32(18 + 32 + dv.getUint32(18 + 32, true), 0x7ffffff0, true);
      }, /string of \d+ bytes exceeds/],
      ['compression 9', (b) => new DataView(b.buffer).setInt32(18 + 28, 9, true), /compression/],
      ['XML broken', (b) => { b[Buffer.from(b).indexOf('</attr>') + 5] = 0x58; }, /infoNode XML at character \d+: <\/attX> does not close <attr>/],
      ['version 5', (b) => { b[11] = 0x35; }, /version line/],
    ];
    for (const [what, mutate, re] of cases) {
      const b = bytes.slice();
      mutate(b);
      await expect(aedat4Format.open(new MemoryByteSource(b), {}), what)
        .rejects.toThrow(re);
      try {
        await aedat4Format.open(new MemoryByteSource(b), {});
      } catch (e) {
        expect(e, what).toBeInstanceOf(EventFormatError);
      }
    }
    // A packet whose body is garbage: typed error while iterating.
    const b = bytes.slice();
    b.fill(0x55, 2342 + 20, 2342 + 200);
    const r = await open(b);
    await expect(readAll(r)).rejects.toBeInstanceOf(EventFormatError);
  });

  it('fuzz (shared harness): ≥ 2000 mutated files decode or fail with EventFormatError', async () => {
    const bytes = sampleBytes();
    // Small samples keep each case quick: the real file cut after its first 6 packets + a valid table written by
    // us, and our own LZ4 / ZSTD / uncompressed files (table, linked-frame-free) of a few thousand events.
    const head = await readAll(await open(bytes), { to: 1605537493718345 + 30_000 });
    const g = { width: 320, height: 240 };
    const samples = [
      encodeAedat4(head, { geometry: g, compression: 'lz4', maxPacketIntervalUs: 5000 }),
      encodeAedat4(synth(3000), { geometry: { width: 346, height: 260 }, compression: 'zstd', eventsPerPacket: 700 }),
      encodeAedat4(synth(1500), { geometry: { width: 346, height: 260 }, compression: 'none', eventsPerPacket: 400 }),
      bytes.slice(0, 40_000), // real DV packets (linked LZ4 frames), no table: walked
    ];
    const res = await fuzzReader({ format: 'aedat4', samples, mutations: 2100, seed: 4 });
    expect(res.cases).toBeGreaterThanOrEqual(2000);
    expect(res.ok).toBeGreaterThan(100);
    expect(res.typedErrors).toBeGreaterThan(100);
  }, 600_000);
});

describe('AEDAT 4.0 event struct unpacking', () => {
  it('native and TS unpack agree, at aligned and unaligned positions, incl. negative and 2^32-crossing times', () => {
    const n = 1000;
    const raw = new Uint8Array(16 * n + 3);
    for (const shift of [0, 1, 2, 3]) {
      const v = new DataView(raw.buffer, shift);
      const times = [0, -5, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 40)];
      for (let i = 0; i < n; i++) {
        const t = i < times.length ? times[i] : 1605537493718345 + i * 7;
        setI64(new Uint8Array(raw.buffer, shift), 16 * i, t);
        v.setInt16(16 * i + 8, (i * 31) % 640, true);
        v.setInt16(16 * i + 10, (i * 17) % 480, true);
        v.setUint8(16 * i + 12, i % 3 === 0 ? 1 : i % 3 === 1 ? 0 : 7); // any non-zero byte is ON
      }
      const a = allocPacket(n);
      const b = allocPacket(n);
      unpackAedat4Events(raw, shift, n, a.x, a.y, a.t, a.p, true);
      unpackAedat4Events(raw, shift, n, b.x, b.y, b.t, b.p);
      a.length = b.length = n;
      expectSameEvents(a, b);
      expect(Array.from(a.t.subarray(0, 6))).toEqual([0, -5, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 40)]);
      expect(Array.from(a.p.subarray(0, 3))).toEqual([1, 0, 1]);
      expect([a.x[999], a.y[999]]).toEqual([(999 * 31) % 640, (999 * 17) % 480]);
    }
  });
  it('native fast path (timestamps in [0, 2^52), blocks of 256) and its scalar fallback agree with TS at the edges', () => {
    const n = 256 * 5 + 17;
    const raw = new Uint8Array(16 * n);
    const edge = [2 ** 52 - 1, 2 ** 52, 2 ** 53 + 2, -1];
    for (let i = 0; i < n; i++) {
      // One edge time at position 44 of each later block (block 1 stays in range); the first block all in range.
      const blk = Math.floor(i / 256);
      const t = blk > 0 && i % 256 === 44 ? edge[blk - 1] : (i % 2 ? 2 ** 52 - 1 - i : i * 1000);
      setI64(raw, 16 * i, t);
      raw[16 * i + 8] = i & 0xff;
      raw[16 * i + 9] = (i >> 8) & 0x7f;
      raw[16 * i + 10] = 0xff; // y = -1 as int16 → 65535 as uint16, the same in both paths
      raw[16 * i + 11] = 0xff;
      raw[16 * i + 12] = i % 5 === 0 ? 0 : 1 + (i % 200);
    }
    const a = allocPacket(n);
    const b = allocPacket(n);
    unpackAedat4Events(raw, 0, n, a.x, a.y, a.t, a.p, true);
    unpackAedat4Events(raw, 0, n, b.x, b.y, b.t, b.p);
    a.length = b.length = n;
    expectSameEvents(a, b);
    expect(b.t[256 + 44]).toBe(2 ** 52 - 1);
    expect(b.t[512 + 44]).toBe(2 ** 52);
    expect(b.t[768 + 44]).toBe(2 ** 53 + 2);
    expect(b.t[1024 + 44]).toBe(-1);
    expect(b.t[1]).toBe(2 ** 52 - 2);
    expect(b.y[7]).toBe(65535);
  });
});

describe('infoNode XML', () => {
  it('parses DV trees with declarations, comments, entities, self-closing tags, and round-trips writeDvXml', () => {
    const xml = `<?xml version="1.0"?>\r\n<!-- c --><dv version="2.0"><node name="outInfo" path="/a/"><node name="7" path="/a/7/">
      <attr key="typeIdentifier" type="string">EVTS</attr><attr key="typeDescription" type="string">a &lt;b&gt; &amp; &#65;&#x42;</attr>
      <attr key="empty" type="string"/><node name="info" path="/a/7/info/"><attr key="sizeX" type="int">640</attr></node></node></node></dv>`;
    const root = parseDvXml(xml);
    const out = root.children[0];
    expect(out.name).toBe('outInfo');
    const s = out.children[0];
    expect(s.attrs.get('typeDescription')).toEqual({ type: 'string', value: 'a <b> & AB' });
    expect(s.attrs.get('empty')?.value).toBe('');
    expect(s.children[0].attrs.get('sizeX')).toEqual({ type: 'int', value: '640' });
    const again = parseDvXml(writeDvXml(root));
    expect(again.children[0].children[0].attrs).toEqual(s.attrs);
  });

  it('rejects malformed XML with a position', () => {
    for (const bad of ['<dv><node name="a"></dv>', '<dv><attr key="k">x</dv>', '<dv>', 'text', '<dv></dv><dv></dv>', '<dv><node name="a" path=></node></dv>']) {
      expect(() => parseDvXml(bad), bad).toThrow(/infoNode XML at character \d+/);
    }
    const deep = '<dv>' + '<node name="n">'.repeat(100) + '</node>'.repeat(100) + '</dv>';
    expect(() => parseDvXml(deep)).toThrow(/nesting/);
  });
});

// ------------------------------------------------------------------------------------------ fused native LZ4 path

/** Events, packet lengths and error (class, offset, message) of one full read, fused native path or TS reference. */
async function decodeBoth(bytes: Uint8Array, opts: { reusePackets?: boolean; packetCapacity?: number }, native: boolean,
  range?: { from?: number; to?: number }) {
  const was = setEventsNative(native);
  const lengths: number[] = [];
  const parts: EventPacket[] = [];
  let error: string | null = null;
  try {
    const r = await aedat4Format.open(new MemoryByteSource(bytes), opts) as Aedat4Reader;
    try {
      for await (const pk of r.packets(range)) {
        lengths.push(pk.length);
        parts.push(copyPacket(pk));
      }
    } catch (e) {
      if (!(e instanceof EventFormatError)) throw e;
      error = `${e.format}@${e.offset}: ${e.message}`;
    }
    return { lengths, events: concatPackets(parts), error, fused: r.fusedPackets, warnings: r.warnings.slice() };
  } finally {
    setEventsNative(was);
  }
}

/**
 * Rewrites an LZ4 AEDAT 4 file without its data table (packets walked) and with every packet recompressed as a
 * frame carrying its content size and block + content checksums (DV writes neither; the reader must verify them).
 */
function withChecksummedFrames(bytes: Uint8Array): Uint8Array {
  const hlen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(14, true);
  const hdr = parseAedat4IoHeader(bytes.subarray(18, 18 + hlen), 18);
  const head = bytes.slice(0, 18 + hlen);
  setI64(head, hdr.dataTablePositionField, -1);
  const out: Uint8Array[] = [head];
  for (let pos = 18 + hlen; pos < hdr.dataTablePosition;) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + pos);
    const size = dv.getInt32(4, true);
    const body = lz4Decompress(bytes.subarray(pos + 8, pos + 8 + size), { maxOutput: 1 << 26 });
    const frame = lz4Compress(body, { contentSize: true, blockChecksum: true, contentChecksum: true }).slice();
    const ph = bytes.slice(pos, pos + 8);
    new DataView(ph.buffer).setInt32(4, frame.length, true);
    out.push(ph, frame);
    pos += 8 + size;
  }
  return concatBytes(out);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const o = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    o.set(p, at);
    at += p.length;
  }
  return o;
}

/** File position of the first packet's LZ4 frame. */
function firstFrame(bytes: Uint8Array): number {
  return 18 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(14, true) + 8;
}

describe.skipIf(!eventsNativeAvailable || !eventsNative?.aedat4Lz4Packet)('AEDAT 4.0 fused native LZ4 packets', () => {
  const g = { width: 346, height: 260 };
  // 12,000-event packets: 192 KB bodies, larger than the reader's initial 64 KiB scratch (it must grow).
  const big = encodeAedat4(synth(30_000, 1e6, 3), { geometry: g, compression: 'lz4', eventsPerPacket: 12_000 });
  const small = encodeAedat4(synth(9_000, 5e6, 4), { geometry: g, compression: 'lz4', eventsPerPacket: 700 });

  it('equals the TypeScript path: packets larger than the scratch, reusePackets on/off, capacities, ranges', async () => {
    for (const [what, bytes, n] of [['big', big, 30_000], ['small', small, 9_000], ['checksummed', withChecksummedFrames(small), 9_000]] as const) {
      for (const reusePackets of [false, true]) {
        for (const packetCapacity of [65_536, 1000, 333]) {
          const opts = { reusePackets, packetCapacity };
          const ref = await decodeBoth(bytes, opts, false);
          const got = await decodeBoth(bytes, opts, true);
          const label = `${what} ${JSON.stringify(opts)}`;
          expect(ref.fused, label).toBe(0);
          expect(got.fused, label).toBeGreaterThan(0);
          expect(got.error, label).toBeNull();
          expect(got.events.length, label).toBe(n);
          expect(got.lengths, label).toEqual(ref.lengths);
          expectSameEvents(ref.events, got.events);
          const t0 = ref.events.t[Math.floor(n / 3)];
          const t1 = ref.events.t[Math.floor((2 * n) / 3)];
          const rr = await decodeBoth(bytes, opts, false, { from: t0, to: t1 });
          const rg = await decodeBoth(bytes, opts, true, { from: t0, to: t1 });
          expect(rg.lengths, label).toEqual(rr.lengths);
          expectSameEvents(rr.events, rg.events);
          let inRange = 0;
          for (let i = 0; i < n; i++) if (ref.events.t[i] >= t0 && ref.events.t[i] < t1) inRange++;
          expect(rg.events.length, label).toBe(inRange);
          expect(inRange, label).toBeGreaterThan(n / 4);
        }
      }
    }
  });

  it('hostile frames inside a packet: the same EventFormatError (format, offset, message) as the TS path', async () => {
    const cks = withChecksummedFrames(small);
    const f = firstFrame(small);
    const fc = firstFrame(cks);
    const evts = Buffer.from(small).indexOf('EVTS', f); // body bytes 8-11: LZ4 literals of the first sequence
    expect(evts).toBeGreaterThan(f);
    const cases: Array<[string, Uint8Array, (b: Uint8Array) => void, RegExp]> = [
      ['bad magic', small, (b) => { b[f] ^= 1; }, /bad magic/],
      ['block size beyond the packet', small, (b) => new DataView(b.buffer).setUint32(f + 7, 0x7fff0, true), /block size/],
      ['huge declared content size', cks, (b) => new DataView(b.buffer).setUint32(fc + 10, 0x1000, true), /content size|checksum/],
      ['content size above the scratch, frame short', cks, (b) => new DataView(b.buffer).setUint32(fc + 6, 1 << 20, true), /checksum|content size/],
      ['block checksum', cks, (b) => { b[fc + 40] ^= 0x10; }, /checksum/],
      ['FlatBuffer size prefix', small, (b) => new DataView(b.buffer).setUint32(evts - 8, 0x7fffffff, true), /size prefix/],
      ['FlatBuffer root offset', small, (b) => new DataView(b.buffer).setUint32(evts - 4, 0xfffff, true), /root table/],
      ['FlatBuffer identifier', small, (b) => { b[evts + 3] = 0x58; }, /identifier 'EVTX'/],
    ];
    for (const [what, base, mutate, re] of cases) {
      const b = base.slice();
      mutate(b);
      for (const reusePackets of [false, true]) {
        const ref = await decodeBoth(b, { reusePackets }, false);
        const got = await decodeBoth(b, { reusePackets }, true);
        expect(ref.error, what).toMatch(re);
        expect(got.error, what).toBe(ref.error);
        expect(got.lengths, what).toEqual(ref.lengths);
        expect(got.warnings, what).toEqual(ref.warnings);
      }
    }
  });

  it('mutated packets (600 cases, plain and checksummed frames): same events, warnings and errors on both paths', async () => {
    const rng = lcg(77);
    const bases = [small, withChecksummedFrames(small), big];
    let errors = 0;
    for (let c = 0; c < 600; c++) {
      const base = bases[c % 3];
      const b = base.slice();
      const f = firstFrame(base);
      // Damage inside the first packets (frames and FlatBuffers), sometimes also cut the file.
      for (let m = 1 + Math.floor(rng() * 4); m > 0; m--) {
        const at = f + Math.floor(rng() * Math.min(4000, b.length - f));
        b[at] = rng() < 0.5 ? Math.floor(rng() * 256) : b[at] ^ (1 << Math.floor(rng() * 8));
      }
      const cut = rng() < 0.2 ? b.subarray(0, f + Math.floor(rng() * (b.length - f))) : b;
      const opts = { reusePackets: rng() < 0.5, packetCapacity: [65_536, 1000][c & 1] };
      const ref = await decodeBoth(cut, opts, false).catch((e: unknown) => ({ open: String(e) }));
      const got = await decodeBoth(cut, opts, true).catch((e: unknown) => ({ open: String(e) }));
      const label = `case ${c}`;
      if ('open' in ref || 'open' in got) {
        expect(got, label).toEqual(ref);
        continue;
      }
      expect(got.error, label).toBe(ref.error);
      expect(got.lengths, label).toEqual(ref.lengths);
      expect(got.warnings, label).toEqual(ref.warnings);
      expectSameEvents(ref.events, got.events);
      if (ref.error) errors++;
    }
    expect(errors).toBeGreaterThan(100);
  }, 120_000);
});

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
