import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHUNK_BYTES } from '../../../../core/events/byte-source.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import { aedat2Format } from '../../../../core/events/formats/aedat2.ts';
import { aedat3Format } from '../../../../core/events/formats/aedat3.ts';
import { datFormat } from '../../../../core/events/formats/dat.ts';
import { nmnistFormat, PRESCAN_LIMIT_BYTES } from '../../../../core/events/formats/nmnist.ts';
import { accumulateStats, emptyStats } from '../../../../core/events/packet.ts';
import { FileByteSource, MemoryByteSource, readAll, type ReaderOptions } from '../../../../core/events/reader.ts';
import { sharedFile, SHARED_DATA } from '../../../helpers/shared-data.ts';

/** N-MNIST records: [x, y, p, ts]; y = 240 writes an overflow marker. */
function bin(events: Array<[number, number, number, number]>): Uint8Array {
  const b = new Uint8Array(events.length * 5);
  events.forEach(([x, y, p, ts], i) => {
    b[5 * i] = x;
    b[5 * i + 1] = y;
    b[5 * i + 2] = (p << 7) | ((ts >>> 16) & 0x7f);
    b[5 * i + 3] = (ts >>> 8) & 0xff;
    b[5 * i + 4] = ts & 0xff;
  });
  return b;
}

async function decode(bytes: Uint8Array, opts: ReaderOptions = {}) {
  const r = await nmnistFormat.open(new MemoryByteSource(bytes), opts);
  const all = await readAll(r);
  return { r, all, events: Array.from({ length: all.length }, (_, i) => [all.t[i], all.x[i], all.y[i], all.p[i]]) };
}

describe('N-MNIST: real sample', () => {
  const f = sharedFile('tonic-nmnist-bin/sample_nmnist.bin');
  it.skipIf(!f)('decodes to the reference values', async () => {
    const r = await nmnistFormat.open(await FileByteSource.open(f!), {});
    expect(r.info.geometry).toEqual({ width: 34, height: 34 });
    const all = await readAll(r);
    await r.close();
    const s = accumulateStats(emptyStats(), all);
    expect([s.count, s.on, s.tFirst, s.tLast]).toEqual([4325, 2145, 654, 311175]);
    expect([s.sumX, s.sumY, s.sumTMinusT0]).toEqual([74_457, 71_931, 687_658_855]);
    expect([s.xMin, s.xMax, s.yMin, s.yMax, s.monotonic]).toEqual([0, 33, 0, 33, true]);
    const ev = (i: number) => [all.t[i], all.x[i], all.y[i], all.p[i]];
    expect([ev(0), ev(1), ev(2)]).toEqual([[654, 7, 15, 1], [2999, 19, 18, 0], [3017, 21, 17, 0]]);
    expect([ev(4323), ev(4324)]).toEqual([[310771, 33, 12, 1], [311175, 21, 14, 1]]);
    expect(r.warnings).toEqual([]);
  });
});

describe('N-MNIST: synthetic', () => {
  it('overflow markers (y == 240) add 2^13 µs to later events and are dropped', async () => {
    const { events } = await decode(bin([[1, 2, 1, 8000], [0, 240, 0, 0], [3, 4, 0, 100], [0, 240, 0, 0], [5, 6, 1, 0x7fffff]]));
    expect(events).toEqual([[8000, 1, 2, 1], [8192 + 100, 3, 4, 0], [16384 + 0x7fffff, 5, 6, 1]]);
  });

  it('N-Caltech101-sized events: geometry from the data, or dropped against an explicit geometry', async () => {
    const b = bin([[200, 150, 1, 1], [10, 10, 0, 2]]);
    const inferred = await decode(b);
    expect(inferred.r.info.geometry).toEqual({ width: 201, height: 151 });
    expect(inferred.events.length).toBe(2);
    expect(inferred.r.warnings[0]).toMatch(/N-Caltech101/);
    const forced = await decode(b, { geometry: { width: 34, height: 34 } });
    expect(forced.events).toEqual([[2, 10, 10, 0]]);
    expect(forced.r.warnings[0]).toMatch(/1 events outside the 34×34/);
  });

  it('a file larger than the pre-scan bound with wide events gets the ATIS array', async () => {
    const b = new Uint8Array(5 * (Math.ceil(PRESCAN_LIMIT_BYTES / 5) + 10));
    b[0] = 100; // x = 100 in the first record
    b[5 * 5] = 250; // x = 250 (y 0) later on
    const r = await nmnistFormat.open(new MemoryByteSource(b), {});
    expect(r.info.geometry).toEqual({ width: 304, height: 240 });
    expect(r.warnings[0]).toMatch(/ATIS array/);
  });

  it('records straddling the 4 MiB read chunk decode the same as a small file', async () => {
    const n = Math.ceil(DEFAULT_CHUNK_BYTES / 5) + 1000;
    const b = new Uint8Array(5 * n);
    for (let i = 0; i < n; i++) {
      const ts = i >>> 2;
      b.set([i % 34, (i >>> 6) % 34, ((i & 1) << 7) | (ts >>> 16), (ts >>> 8) & 0xff, ts & 0xff], 5 * i);
    }
    const all = await readAll(await nmnistFormat.open(new MemoryByteSource(b), {}));
    expect(all.length).toBe(n);
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (all.x[i] !== i % 34 || all.y[i] !== (i >>> 6) % 34 || all.t[i] !== i >>> 2 || all.p[i] !== (i & 1)) bad = i;
    expect(bad).toBe(-1);
  });
});

describe('N-MNIST probe', () => {
  it('is low-confidence and needs whole records with sane, non-decreasing timestamps', () => {
    const good = bin(Array.from({ length: 40 }, (_, i) => [i % 34, i % 30, i & 1, 10 * i] as [number, number, number, number]));
    expect(nmnistFormat.probe(good, good.length)).toBe(0.1);
    expect(nmnistFormat.probe(good.subarray(0, 199), 199)).toBe(0);
    const back = bin([[1, 1, 1, 50], [1, 1, 1, 40], [1, 1, 1, 60], [1, 1, 1, 70]]);
    expect(nmnistFormat.probe(back, back.length)).toBe(0);
    const text = new TextEncoder().encode('x,y,t,p\n1,2,3,1\n4,5,');
    expect(nmnistFormat.probe(text, text.length)).toBe(0);
  });

  it('never beats a format with a magic on any shared sample, and wins on its own', () => {
    const files = [
      'tonic-dvxplorer-aedat4/sample.aedat4', 'tonic-davis346-aedat2-header/sample_aedat_header.aedat', 'tonic-ncars-dat/sample_ncars.dat',
      'expelliarmus-evt2-gen3/evt2_sample.raw', 'jaer-aedat2-headers/header_test_128.aedat_test',
      'jaer-aedat2-headers/header_test_240.aedat_test', 'dvs128-aedat2/alex_walking_again.aedat', 'tonic-nmnist-bin/sample_nmnist.bin',
    ];
    let seen = 0;
    for (const rel of files) {
      const f = sharedFile(rel);
      if (!f) continue;
      seen++;
      const b = readFileSync(f);
      const head = b.subarray(0, 65536);
      const mine = { nmnist: nmnistFormat.probe(head, b.length), dat: datFormat.probe(head, b.length), aedat2: aedat2Format.probe(head, b.length), aedat3: aedat3Format.probe(head, b.length) };
      if (rel.endsWith('.bin')) {
        expect(mine).toEqual({ nmnist: 0.1, dat: 0, aedat2: 0, aedat3: 0 });
      } else {
        expect(mine.nmnist, rel).toBe(0);
      }
      if (rel.endsWith('.dat')) expect(mine.dat).toBe(0.9);
      if (rel.includes('aedat2')) expect(mine.aedat2).toBe(0.95);
    }
    if (seen === 0) console.warn(`no shared samples under ${SHARED_DATA}`);
  });
});

describe('detection by content through openEvents', () => {
  it.each([
    ['dvs128-aedat2/alex_walking_again.aedat', 'aedat2'],
    ['jaer-aedat2-headers/header_test_128.aedat_test', 'aedat2'],
    ['jaer-aedat2-headers/header_test_240.aedat_test', 'aedat2'],
    ['tonic-davis346-aedat2-header/sample_aedat_header.aedat', 'aedat2'],
    ['tonic-ncars-dat/sample_ncars.dat', 'dat'],
    ['tonic-nmnist-bin/sample_nmnist.bin', 'nmnist'],
  ])('%s opens as %s', async (rel, id) => {
    const f = sharedFile(rel);
    if (!f) return expect(f).toBeNull(); // shared data absent: skipped (notice printed once)
    const r = await openEvents(f);
    expect(r.info.format).toBe(id);
    await r.close();
  });
});
