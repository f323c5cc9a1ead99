import { describe, expect, it } from 'vitest';
import { EventFormatError } from '../../../../core/events/errors.ts';
import { aedat2Format } from '../../../../core/events/formats/aedat2.ts';
import { accumulateStats, emptyStats } from '../../../../core/events/packet.ts';
import { MemoryByteSource, FileByteSource, readAll, type ReaderOptions } from '../../../../core/events/reader.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const DVS128 = '# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128';

/** An AEDAT 2.0 file: CRLF header lines + big-endian (address, timestamp) records. */
function aedat2(headerLines: string[], records: Array<[number, number]>, extra: number[] = []): Uint8Array {
  const head = enc(['#!AER-DAT2.0', ...headerLines, '#End Of ASCII Header'].join('\r\n') + '\r\n');
  const out = new Uint8Array(head.length + records.length * 8 + extra.length);
  out.set(head);
  const dv = new DataView(out.buffer);
  records.forEach(([a, t], i) => {
    dv.setInt32(head.length + 8 * i, a, false);
    dv.setInt32(head.length + 8 * i + 4, t, false);
  });
  out.set(extra, head.length + records.length * 8);
  return out;
}

async function decode(bytes: Uint8Array, opts: ReaderOptions = {}) {
  const r = await aedat2Format.open(new MemoryByteSource(bytes), opts);
  const all = await readAll(r);
  return { r, all, events: Array.from({ length: all.length }, (_, i) => [all.t[i], all.x[i], all.y[i], all.p[i]]) };
}

describe('AEDAT 2.0 real DVS128 recording (alex_walking_again)', () => {
  const f = sharedFile('dvs128-aedat2/alex_walking_again.aedat');
  it.skipIf(!f)('decodes to the reference values (README, converted to top-left y = 127 − y_BL)', async () => {
    const r = await aedat2Format.open(await FileByteSource.open(f!), {});
    expect(r.info.dataOffset).toBe(4612);
    expect(r.info.geometry).toEqual({ width: 128, height: 128 });
    expect(r.info.camera).toBe('DVS128');
    expect(r.info.header.HardwareInterface).toBe('DVS128-V1 0298');
    expect(r.info.header.created).toBe('Fri Apr 15 09:54:36 PDT 2016');
    const all = await readAll(r);
    await r.close();
    const s = accumulateStats(emptyStats(), all);
    expect(s.count).toBe(19182);
    expect(s.on).toBe(7102);
    expect([s.tFirst, s.tLast]).toEqual([41306606, 48193156]);
    expect(s.sumX).toBe(1_059_597);
    expect(s.sumY).toBe(127 * 19182 - 1_401_599); // README gives Σy in jAER's bottom-left convention
    expect(s.sumTMinusT0).toBe(35_151_226_204);
    expect([s.xMin, s.xMax, s.yMin, s.yMax]).toEqual([0, 127, 0, 127]);
    expect(s.monotonic).toBe(true);
    expect([all.t[0], all.x[0], all.y[0], all.p[0]]).toEqual([41306606, 62, 127 - 118, 0]);
    const n = all.length - 1;
    expect([all.t[n], all.x[n], all.y[n], all.p[n]]).toEqual([48193156, 0, 127 - 22, 1]);
    expect(r.warnings).toEqual([]);
  });

  it.skipIf(!f)('packet capacity does not change the events', async () => {
    const small = await aedat2Format.open(await FileByteSource.open(f!), { packetCapacity: 1000 });
    let packets = 0;
    for await (const pk of small.packets()) {
      expect(pk.length).toBeLessThanOrEqual(1000);
      packets++;
    }
    expect(packets).toBe(20);
  });
});

describe('AEDAT 2.0 real headers', () => {
  const f128 = sharedFile('jaer-aedat2-headers/header_test_128.aedat_test');
  const f240 = sharedFile('jaer-aedat2-headers/header_test_240.aedat_test');
  const f346 = sharedFile('tonic-davis346-aedat2-header/sample_aedat_header.aedat');

  it.skipIf(!f128)('DVS128 header: data at 4241, 128×128, fields and times exposed', async () => {
    const r = await aedat2Format.open(await FileByteSource.open(f128!), {});
    expect(r.info.dataOffset).toBe(4241);
    expect(r.info.geometry).toEqual({ width: 128, height: 128 });
    expect(r.info.header.creationTimeMs).toBe('1531242221262');
    expect(r.info.header.dataStartTimeMs).toBe('1531242221282');
    expect(r.info.header.HardwareInterface).toBe('DVS128-V1 0249');
    await readAll(r); // the 38 filler bytes: 4 records + a 6-byte partial one
    expect(r.warnings.some((w) => w.includes('partial 8-byte record (6 bytes at offset 4273)'))).toBe(true);
    await r.close();
  });

  it.skipIf(!f240)('DAVIS240C header: data at 303869, 240×180; the "$$$$" filler is not a pixel event', async () => {
    const r = await aedat2Format.open(await FileByteSource.open(f240!), {});
    expect(r.info.dataOffset).toBe(303869);
    expect(r.info.geometry).toEqual({ width: 240, height: 180 });
    expect(r.info.camera).toBe('DAVIS240C');
    expect(r.info.header.dataStartTimeMs).toBe('1550780654891');
    expect((await readAll(r)).length).toBe(0); // 0x24242424 has bit 10 set: external input, skipped
    await r.close();
  });

  it.skipIf(!f346)('DAVIS346 LF header cut short: version 2, start time 1695355587880, zero events', async () => {
    const r = await aedat2Format.open(await FileByteSource.open(f346!), {});
    expect(r.info.header.version).toBe('2.0');
    expect(r.info.header.creationTimeMs).toBe('1695355587880');
    expect(r.info.geometry).toEqual({ width: 346, height: 260 });
    expect((await readAll(r)).length).toBe(0);
    expect(r.warnings).toContain('file ends inside its ASCII header: no events');
    await r.close();
  });
});

describe('AEDAT 2.0 DVS128 addresses', () => {
  it('the Mibblez record [0,0,56,231 | 156,86,232,205]: jAER x 12, y_BL 56 → TL 71, OFF, t = −1672025907', async () => {
    const { events } = await decode(aedat2([DVS128], [[0x38e7, -1672025907]]));
    expect(events).toEqual([[-1672025907, 12, 127 - 56, 0]]);
  });

  it('skips special events (bit 15 or bit 31) and inverts the raw polarity bit', async () => {
    const { events } = await decode(aedat2([DVS128], [[0x0000, 1], [0x8000, 2], [0x80000002, 3], [0x7fff, 4]]));
    expect(events).toEqual([
      [1, 127, 127, 1],
      [4, 0, 0, 0],
    ]);
  });

  it('unwraps the signed 32-bit timestamp', async () => {
    const ts = [2147483000, 2147483647, -2147483648, -2147483000, -1, 0, 5];
    const { events } = await decode(aedat2([DVS128], ts.map((t) => [2, t])));
    expect(events.map((e) => e[0])).toEqual([2147483000, 2147483647, 2147483648, 2147484296, 4294967295, 4294967296, 4294967301]);
  });

  it('a trailing partial record gives the valid prefix and a warning', async () => {
    const { r, events } = await decode(aedat2([DVS128], [[2, 10], [4, 11]], [1, 2, 3]));
    expect(events.length).toBe(2);
    expect(r.warnings[0]).toMatch(/partial 8-byte record \(3 bytes/);
  });

  it('no AEChip line: decoded as DVS128 with a warning', async () => {
    const { r, events } = await decode(aedat2([], [[2, 10]]));
    expect(events).toEqual([[10, 126, 127, 1]]);
    expect(r.warnings[0]).toMatch(/no AEChip/);
  });

  it('AEDAT 1.0: no version line, 6-byte records (i16 address, i32 timestamp)', async () => {
    const head = enc('# This is a raw AE data file - do not edit\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n');
    const bytes = new Uint8Array(head.length + 12);
    bytes.set(head);
    const dv = new DataView(bytes.buffer);
    dv.setInt16(head.length, 0x0102, false); // rawX 1 → x 126, rawY 1 → y 126, bit0 0 → ON
    dv.setInt32(head.length + 2, 77, false);
    dv.setInt16(head.length + 6, 0x7f03, false);
    dv.setInt32(head.length + 8, 78, false);
    expect(aedat2Format.probe(bytes, bytes.length)).toBeGreaterThan(0.5);
    const { r, events } = await decode(bytes);
    expect(r.info.formatName).toBe('AEDAT 1.0');
    expect(events).toEqual([
      [77, 126, 126, 1],
      [78, 126, 0, 0],
    ]);
  });
});

describe('AEDAT 2.0 DAVIS addresses', () => {
  const DAVIS = '# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C';
  const dvs = (rx: number, ry: number, on: number) => (ry << 22) | (rx << 12) | (on << 11);
  const imu = (code: number, v: number) => (0x80000c00 | (code << 28) | ((v & 0xffff) << 12)) | 0;

  it('classifies IMU words first, skips APS and external input, flips to top-left', async () => {
    const recs: Array<[number, number]> = [];
    for (let c = 0; c < 7; c++) recs.push([imu(c, -4129), 100]); // an IMU group (bit 31 and bits 10–11 set)
    recs.push([dvs(0, 0, 1), 101]); // raw (0,0) → TL (239,179), ON
    recs.push([0x80000000 | (5 << 22) | (7 << 12) | 0x155, 102]); // APS sample
    recs.push([0x402, 103], [0x403, 104], [0x404, 105]); // external input events
    recs.push([dvs(239, 179, 0), 106]); // raw max → TL (0,0), OFF
    recs.push([dvs(100, 140, 1), 107]); // raw y 140: the record starts with byte 0x23 ('#')
    const { events, r } = await decode(aedat2([DAVIS], recs));
    expect(r.info.geometry).toEqual({ width: 240, height: 180 });
    expect(events).toEqual([
      [101, 239, 179, 1],
      [106, 0, 0, 0],
      [107, 139, 39, 1],
    ]);
  });

  it('without an end line a first record starting with 0x23 is still data', async () => {
    const head = enc(`#!AER-DAT2.0\r\n${DAVIS}\r\n#End of Preferences for this AEChip\r\n`);
    const bytes = new Uint8Array(head.length + 16);
    bytes.set(head);
    const dv = new DataView(bytes.buffer);
    dv.setInt32(head.length, dvs(100, 140, 1), false);
    dv.setInt32(head.length + 4, 0x0a, false); // the timestamp holds an LF: "#...\n" looks like a line
    dv.setInt32(head.length + 8, dvs(1, 1, 0), false);
    dv.setInt32(head.length + 12, 0x0b, false);
    expect(bytes[head.length]).toBe(0x23);
    const { events, r } = await decode(bytes);
    expect(r.info.dataOffset).toBe(head.length);
    expect(events).toEqual([
      [10, 139, 39, 1],
      [11, 238, 178, 0],
    ]);
  });

  it('drops DVS addresses outside the sensor and says so', async () => {
    const { events, r } = await decode(aedat2([DAVIS], [[dvs(240, 0, 1), 1], [dvs(0, 180, 1), 2], [dvs(1, 2, 1), 3]]));
    expect(events).toEqual([[3, 238, 177, 1]]);
    expect(r.warnings.some((w) => /2 DVS events outside the 240×180/.test(w))).toBe(true);
  });

  it('geometry from the option for an unnamed DAVIS chip; refused without it', async () => {
    const bytes = aedat2(['# AEChip: eu.seebetter.ini.chips.davis.DavisFuture'], [[dvs(10, 20, 1), 5]]);
    await expect(aedat2Format.open(new MemoryByteSource(bytes), {})).rejects.toBeInstanceOf(EventFormatError);
    const { events } = await decode(bytes, { geometry: { width: 64, height: 32 } });
    expect(events).toEqual([[5, 53, 11, 1]]);
  });

  it('refuses an unsupported chip with a typed error', async () => {
    const bytes = aedat2(['# AEChip: ch.unizh.ini.jaer.chip.cochlea.CochleaAMS1c'], [[1, 1]]);
    await expect(aedat2Format.open(new MemoryByteSource(bytes), {})).rejects.toThrow(/unsupported AEChip/);
  });
});

describe('AEDAT 2.0 probe', () => {
  it('is confident on the version line only', () => {
    const b = aedat2([DVS128], []);
    expect(aedat2Format.probe(b, b.length)).toBeGreaterThanOrEqual(0.9);
    expect(aedat2Format.probe(enc('#!AER-DAT3.1\r\n'), 14)).toBe(0);
    expect(aedat2Format.probe(enc('# just a comment\nx,y\n'), 20)).toBe(0);
    expect(aedat2Format.probe(new Uint8Array(0), 0)).toBe(0);
  });
});
