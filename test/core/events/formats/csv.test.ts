import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MemoryByteSource } from '../../../../core/events/byte-source.ts';
import { EventFormatError } from '../../../../core/events/errors.ts';
import { csvFormat } from '../../../../core/events/formats/csv.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import { allocPacket, type EventPacket } from '../../../../core/events/packet.ts';
import { readAll, type EventReader } from '../../../../core/events/reader.ts';
import { CsvWriter, encodeCsv } from '../../../../core/events/writers/csv.ts';
import { Rng } from '../../../../core/util/rng.ts';
import { fuzzReader } from '../../../helpers/fuzz.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const open = (b: Uint8Array | string, capacity?: number): Promise<EventReader> =>
  csvFormat.open(new MemoryByteSource(typeof b === 'string' ? enc(b) : b), capacity ? { packetCapacity: capacity } : {});

function tuples(pk: EventPacket): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < pk.length; i++) out.push([pk.t[i], pk.x[i], pk.y[i], pk.p[i]]);
  return out;
}

function randomPacket(seed: number, n: number): EventPacket {
  const rng = new Rng(seed);
  const pk = allocPacket(n);
  let t = 1_605_537_493_718_345; // a real AEDAT4 (Unix-epoch µs) time: exact integers must survive
  for (let i = 0; i < n; i++) {
    t += rng.int(50);
    pk.t[i] = t; pk.x[i] = rng.int(65536); pk.y[i] = rng.int(1000); pk.p[i] = rng.int(2);
  }
  pk.length = n;
  return pk;
}

async function expectError(text: string, offset: number, msg: RegExp): Promise<void> {
  const r = await open(text);
  const err = await readAll(r).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(EventFormatError);
  expect((err as EventFormatError).offset).toBe(offset);
  expect((err as EventFormatError).message).toMatch(msg);
}

describe('CSV reader and writer', () => {
  it('round-trips encodeCsv exactly, across chunk and packet boundaries (> 1 MiB of text)', async () => {
    const ev = randomPacket(1, 80_000);
    const text = encodeCsv(ev);
    expect(text.length).toBeGreaterThan(1 << 21);
    expect(text).toMatch(/^t,x,y,p\n16055374937183[4-9]\d,\d+,\d+,[01]\n/);
    const r = await open(text, 7777);
    let maxLen = 0;
    const parts: EventPacket[] = [];
    for await (const pk of r.packets()) {
      maxLen = Math.max(maxLen, pk.length);
      parts.push(pk);
    }
    expect(maxLen).toBe(7777);
    const all = await readAll(await open(text));
    expect(all.length).toBe(ev.length);
    expect(Array.from(all.t)).toEqual(Array.from(ev.t));
    expect(Array.from(all.x)).toEqual(Array.from(ev.x));
    expect(Array.from(all.y)).toEqual(Array.from(ev.y));
    expect(Array.from(all.p)).toEqual(Array.from(ev.p));
  });

  it('accepts header variants, column orders, -1/1 polarity, separators, CRLF, BOM, comments', async () => {
    const cases: [string, number[][]][] = [
      ['timestamp,x,y,polarity\n10,1,2,1\n11,3,4,-1\n', [[10, 1, 2, 1], [11, 3, 4, 0]]],
      ['x,y,t,p\n1,2,10,0\n', [[10, 1, 2, 0]]],
      ['\ufeffT (us), X, Y, Pol, extra\r\n10, 1, 2, 1, foo\r\n\r\n# comment\r\n12,3,4,0,bar\r\n', [[10, 1, 2, 1], [12, 3, 4, 0]]],
      ['ts\tx\ty\tp\n5\t6\t7\t1\n', [[5, 6, 7, 1]]],
      ['t;x;y;p\n5;6;7;1\n', [[5, 6, 7, 1]]],
      ['5,6,7,1\n8,9,10,0', [[5, 6, 7, 1], [8, 9, 10, 0]]], // no header, no final newline
      ['t,x,y,p\n1.5,2,3,1\n2e3,2,3,1\n', [[1.5, 2, 3, 1], [2000, 2, 3, 1]]],
      ['t,x,y,p\n', []],
    ];
    for (const [text, want] of cases) {
      const r = await open(text);
      expect(tuples(await readAll(r)), text).toEqual(want);
      expect(r.warnings, text).toEqual([]);
    }
  });

  it('names line, column and byte offset in errors', async () => {
    await expectError('t,x,y,p\n1,2,3,1\n2,a,3,1\n', 18, /line 3, column 3: 'a' is not a number/);
    await expectError('t,x,y,p\n1,2,3,2\n', 14, /line 2, column 7: polarity 2/);
    await expectError('t,x,y,p\n1,-2,3,1\n', 10, /line 2, column 3: coordinate -2/);
    await expectError('t,x,y,p\n1,70000,3,1\n', 10, /coordinate 70000/);
    await expectError('t,x,y,p\n1,2,3\n5,5,5,1\n', 8, /line 2, column 1: expected 4 columns, got 3/);
    await expectError('t,x,y,p\n99999999999999999999,2,3,1\n', 8, /not a number/);
  });

  it('keeps the valid prefix of a file cut mid-line, with a warning', async () => {
    const r = await open('t,x,y,p\n1,2,3,1\n2,3,');
    expect(tuples(await readAll(r))).toEqual([[1, 2, 3, 1]]);
    expect(r.warnings.join(' ')).toMatch(/last line 3 is incomplete/);
  });

  it('refuses an over-long line instead of buffering without bound', async () => {
    const text = 't,x,y,p\n1,2,3,1\n' + '1'.repeat(3 << 20) + '\n';
    const err = await readAll(await open(text)).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(EventFormatError);
    expect(String(err)).toMatch(/longer than/);
  });

  it('probes text with a header or numeric rows, never binary', () => {
    expect(csvFormat.probe(enc('t,x,y,p\n1,2,3,1\n'), 16)).toBeGreaterThan(0.8);
    expect(csvFormat.probe(enc('1,2,3,1\n'), 8)).toBeGreaterThan(0.3);
    expect(csvFormat.probe(enc('class,startTime_usec,endTime_usec\n1,2,3\n'), 40)).toBe(0);
    expect(csvFormat.probe(enc('% evt 2.0\n\x00\x01\x02\x03'), 14)).toBe(0);
    expect(csvFormat.probe(enc('#!AER-DAT2.0\r\n'), 14)).toBe(0);
  });

  it('is detected by content through openEvents', async () => {
    const r = await openEvents(enc('timestamp,x,y,polarity\n1,2,3,1\n'));
    expect(r.info.format).toBe('csv');
    expect(tuples(await readAll(r))).toEqual([[1, 2, 3, 1]]);
  });

  it('CsvWriter streams packets to a file readable by the reader', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'egru-csv-'));
    try {
      const file = path.join(dir, 'out.csv');
      const ev = randomPacket(2, 10_000);
      const w = await CsvWriter.create(file);
      await w.write({ ...ev, length: 4000 });
      await w.write({ x: ev.x.subarray(4000), y: ev.y.subarray(4000), t: ev.t.subarray(4000), p: ev.p.subarray(4000), length: 6000 });
      await w.close();
      const text = await readFile(file, 'utf8');
      expect(text).toBe(encodeCsv(ev));
      const empty = path.join(dir, 'empty.csv');
      await (await CsvWriter.create(empty)).close();
      expect(await readFile(empty, 'utf8')).toBe('t,x,y,p\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('survives fuzzing (≥ 2000 mutated inputs)', async () => {
    const samples = [
      enc(encodeCsv(randomPacket(3, 60))),
      enc('timestamp,x,y,polarity\r\n10,1,2,-1\r\n11,3,4,1\r\n# c\r\n12,5,6,-1\r\n'),
      enc('5,6,7,1\n8,9,10,0\n'),
    ];
    const res = await fuzzReader({ format: 'csv', samples, mutations: 2400, seed: 4, open: (b) => open(b) });
    expect(res.cases).toBeGreaterThanOrEqual(2400);
  });
});
