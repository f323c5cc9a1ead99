import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventFormatError } from '../../../../core/events/errors.ts';
import { datFormat, demangleTypeName } from '../../../../core/events/formats/dat.ts';
import { accumulateStats, emptyStats } from '../../../../core/events/packet.ts';
import { FileByteSource, MemoryByteSource, readAll, type ReaderOptions } from '../../../../core/events/reader.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

const enc = (s: string) => new TextEncoder().encode(s);

/** A DAT file: `%` header lines (none = legacy), type/size bytes (if header), then (t, x, y, p) CD records. */
function dat(lines: string[], events: Array<[number, number, number, number]>, type = 12, size = 8): Uint8Array {
  const head = enc(lines.map((l) => `% ${l}\n`).join(''));
  const pre = lines.length > 0 ? 2 : 0;
  const out = new Uint8Array(head.length + pre + 8 * events.length);
  out.set(head);
  if (pre) {
    out[head.length] = type;
    out[head.length + 1] = size;
  }
  const dv = new DataView(out.buffer);
  events.forEach(([t, x, y, p], i) => {
    const o = head.length + pre + 8 * i;
    dv.setUint32(o, t, true);
    dv.setUint32(o + 4, (x | (y << 14) | (p << 28)) >>> 0, true);
  });
  return out;
}

async function decode(bytes: Uint8Array, opts: ReaderOptions = {}) {
  const r = await datFormat.open(new MemoryByteSource(bytes), opts);
  const all = await readAll(r);
  return { r, all, events: Array.from({ length: all.length }, (_, i) => [all.t[i], all.x[i], all.y[i], all.p[i]]) };
}

describe('DAT: real N-CARS sample', () => {
  const f = sharedFile('tonic-ncars-dat/sample_ncars.dat');
  it.skipIf(!f)('decodes to the reference values', async () => {
    const r = await datFormat.open(await FileByteSource.open(f!), {});
    expect(r.info.dataOffset).toBe(93);
    expect(r.info.geometry).toBeNull(); // no Width/Height lines
    expect(r.info.header.eventType).toBe('Chronocam::Event2d');
    expect(r.info.header.eventTypeId).toBe('0');
    expect(r.info.header.Version).toBe('2');
    expect(r.info.header.Date).toBe('2017-10-31 11:29:21');
    const all = await readAll(r);
    await r.close();
    const s = accumulateStats(emptyStats(), all);
    expect([s.count, s.on, s.tFirst, s.tLast]).toEqual([2009, 1350, 0, 99952]);
    expect([s.sumX, s.sumY, s.sumTMinusT0]).toEqual([93_457, 40_463, 98_196_680]);
    expect([s.xMin, s.xMax, s.yMin, s.yMax, s.monotonic]).toEqual([0, 77, 0, 41, true]);
    const ev = (i: number) => [all.t[i], all.x[i], all.y[i], all.p[i]];
    expect([ev(0), ev(1), ev(2)]).toEqual([[0, 25, 8, 0], [35, 67, 35, 0], [152, 56, 27, 1]]);
    expect([ev(2007), ev(2008)]).toEqual([[99851, 51, 4, 1], [99952, 75, 28, 1]]);
    expect(r.warnings).toEqual([]);
    const bytes = readFileSync(f!);
    expect(datFormat.probe(bytes.subarray(0, 65536), bytes.length)).toBe(0.9);
  });
});

describe('DAT: synthetic files', () => {
  it('Width/Height lines give the geometry; bits 29–31 of p are ignored; outside events dropped', async () => {
    const bytes = dat(['Data file containing CD events', 'Version 2', 'Width 640', 'Height 480'], [
      [5, 639, 479, 1],
      [6, 0, 0, 0],
      [7, 640, 0, 1],
    ]);
    const dv = new DataView(bytes.buffer);
    const o = bytes.length - 24 + 12; // second record's data word: set bits 29–31
    dv.setUint32(o, dv.getUint32(o, true) | 0xe0000000, true);
    const { r, events } = await decode(bytes);
    expect(r.info.geometry).toEqual({ width: 640, height: 480 });
    expect(r.info.header.eventType).toBe('CD');
    expect(events).toEqual([[5, 639, 479, 1], [6, 0, 0, 0]]);
    expect(r.warnings[0]).toMatch(/1 events outside the 640×480/);
  });

  it('unwraps u32 timestamps', async () => {
    const { events } = await decode(dat(['Version 2'], [[4294967290, 1, 1, 1], [3, 1, 1, 1], [10, 1, 1, 1]], 0));
    expect(events.map((e) => e[0])).toEqual([4294967290, 4294967296 + 3, 4294967296 + 10]);
  });

  it('a partial last record is ignored with a warning', async () => {
    const b = dat(['Version 2'], [[1, 2, 3, 1], [2, 2, 3, 0]], 0);
    const { events, r } = await decode(b.subarray(0, b.length - 3));
    expect(events).toEqual([[1, 2, 3, 1]]);
    expect(r.warnings[0]).toMatch(/partial 8-byte record \(5 bytes/);
  });

  it('non-CD event types and odd sizes are typed errors', async () => {
    for (const [type, size, re] of [[14, 8, /type 14 \(EventExtTrigger\)/], [40, 8, /type 40/], [12, 16, /8 bytes, header byte says 16/]] as const) {
      const err = await datFormat.open(new MemoryByteSource(dat(['Version 2'], [[1, 1, 1, 1]], type, size)), {}).catch((e) => e);
      expect(err).toBeInstanceOf(EventFormatError);
      expect(err.message).toMatch(re);
    }
    const noType = enc('% Version 2\n');
    await expect(datFormat.open(new MemoryByteSource(noType), {})).rejects.toBeInstanceOf(EventFormatError);
  });

  it('legacy file without header: Event2D from byte 0, weak probe', async () => {
    const events: Array<[number, number, number, number]> = [];
    for (let i = 0; i < 40; i++) events.push([i * 10, i % 30, i % 20, i & 1]);
    const bytes = dat([], events);
    expect(datFormat.probe(bytes, bytes.length)).toBe(0.05);
    const { r, events: got } = await decode(bytes);
    expect(r.info.dataOffset).toBe(0);
    expect(r.warnings[0]).toMatch(/legacy/);
    expect(got).toEqual(events);
  });

  it('probe: RAW headers (evt/format keys) are not DAT; unknown % headers are weak', () => {
    const raw = enc('% evt 3.0\n% date 2020\n\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00');
    expect(datFormat.probe(raw, raw.length)).toBe(0);
    const plain = dat(['Version 2'], [[1, 1, 1, 1]], 0);
    expect(datFormat.probe(plain, plain.length)).toBe(0.5);
    const f = sharedFile('expelliarmus-evt2-gen3/evt2_sample.raw');
    if (f) {
      const b = readFileSync(f);
      expect(datFormat.probe(b.subarray(0, 65536), b.length)).toBe(0);
    }
  });

  it('demangles N-CARS type names', () => {
    expect(demangleTypeName('N9Chronocam7Event2dE')).toBe('Chronocam::Event2d');
    expect(demangleTypeName('CD')).toBe('CD');
    expect(demangleTypeName('N99xE')).toBe('N99xE');
  });
});
