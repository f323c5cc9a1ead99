import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { MemoryByteSource, type ByteSource } from '../../../../core/events/byte-source.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import { Evt2Decoder, evt2Format, evt21UpperFirst } from '../../../../core/events/formats/evt2.ts';
import { rawGeometry, type RawEventReader, type RawReaderOptions } from '../../../../core/events/formats/prophesee-raw.ts';
import { accumulateStats, allocPacket, emptyStats, type EventPacket } from '../../../../core/events/packet.ts';
import { readAll } from '../../../../core/events/reader.ts';
import { Rng } from '../../../../core/util/rng.ts';
import { encodeEvt2 } from '../../../helpers/evt2-encoder.ts';
import { fuzzReader } from '../../../helpers/fuzz.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

function raw(header: string, words: number[], extraBytes: number[] = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(h.length + words.length * 4 + extraBytes.length);
  out.set(h);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint32(h.length + 4 * i, w >>> 0, true));
  out.set(extraBytes, h.length + words.length * 4);
  return out;
}

const cd = (p: number, lsb: number, x: number, y: number) => ((p << 28) | (lsb << 22) | (x << 11) | y) >>> 0;
const th = (v: number) => ((0x8 << 28) | v) >>> 0;

function tuples(pk: EventPacket, idx?: number[]): number[][] {
  const out: number[][] = [];
  for (const i of idx ?? Array.from({ length: pk.length }, (_, k) => k)) out.push([pk.t[i], pk.x[i], pk.y[i], pk.p[i]]);
  return out;
}

async function open(bytes: Uint8Array | ByteSource, opts: RawReaderOptions = {}): Promise<RawEventReader> {
  const src = bytes instanceof Uint8Array ? new MemoryByteSource(bytes) : bytes;
  return (await evt2Format.open(src, opts)) as RawEventReader;
}

const EVT2_SAMPLE = 'expelliarmus-evt2-gen3/evt2_sample.raw';

describe('EVT 2.0 reader on the real Gen3 sample (shared/data §5)', () => {
  const file = sharedFile(EVT2_SAMPLE);
  it.skipIf(!file)('decodes to every reference value', async () => {
    const r = (await openEvents(file!)) as RawEventReader;
    expect(r.info.format).toBe('evt2');
    expect(r.info.dataOffset).toBe(164);
    expect(r.info.geometry).toEqual({ width: 640, height: 480 }); // from plugin hal_plugin_gen3_fx3
    expect(r.info.header.plugin_name).toBe('hal_plugin_gen3_fx3');
    const pk = await readAll(r);
    const s = accumulateStats(emptyStats(), pk);
    expect(s.count).toBe(539_481);
    expect(s.on).toBe(367_855);
    expect([s.tFirst, s.tLast]).toEqual([1_317_888, 1_367_888]);
    expect([s.xMin, s.xMax, s.yMin, s.yMax]).toEqual([60, 599, 18, 475]);
    expect(s.sumX).toBe(171_811_022);
    expect(s.sumY).toBe(110_162_026);
    expect(s.sumTMinusT0).toBe(13_364_739_784);
    expect(s.monotonic).toBe(true);
    const n = pk.length;
    expect(tuples(pk, [0, 1, 2, 3, 4])).toEqual([
      [1317888, 237, 121, 1], [1317888, 246, 121, 1], [1317888, 248, 132, 1], [1317888, 239, 133, 1], [1317888, 256, 134, 1],
    ]);
    expect(tuples(pk, [n - 3, n - 2, n - 1])).toEqual([[1367887, 224, 143, 1], [1367887, 240, 143, 1], [1367888, 210, 142, 1]]);
    expect(r.counters).toMatchObject({ droppedBeforeTimeHigh: 0, droppedInvalid: 0, triggers: 0, timeLoops: 0 });
    expect(r.warnings).toEqual([]);
    await r.close();
  });

  it.skipIf(!file)('with Metavision time shifting starts at t = 0 like metavision_file_to_dat', async () => {
    const r = await openEvents(file!, { timeShift: true } as RawReaderOptions);
    const pk = await readAll(r, { to: 1 });
    expect(tuples(pk, [0])).toEqual([[0, 237, 121, 1]]);
    await r.close();
  });

  it.skipIf(!file)('survives fuzzing (≥ 2000 mutated inputs) on a cut of the real sample and on encoder output', async () => {
    const bytes = new Uint8Array(await readFile(file!));
    const cut = bytes.slice(0, 164 + 4 * 3000);
    const rng = new Rng(5);
    const ev = allocPacket(500);
    let t = 10;
    for (let i = 0; i < 500; i++) {
      t += rng.int(100);
      ev.t[i] = t; ev.x[i] = rng.int(640); ev.y[i] = rng.int(480); ev.p[i] = rng.int(2);
    }
    ev.length = 500;
    const res = await fuzzReader({
      format: 'evt2', samples: [cut, encodeEvt2(ev, { triggers: [{ t: 500, channel: 1, value: 1 }] })], mutations: 2400, seed: 11,
      open: (b) => open(b),
    });
    expect(res.cases).toBeGreaterThanOrEqual(2400);
  });
});

describe('EVT 2.0 reader', () => {
  const WORDS = [
    cd(1, 3, 9, 9), // before any TIME_HIGH: dropped
    th(16), // 16·64 = 1024 µs
    cd(0, 5, 3, 4), // (1029, 3, 4, 0)
    ((0xa << 28) | (7 << 22) | (2 << 8) | 1) >>> 0, // trigger channel 2 value 1 at 1031
    0xd0000000, 0xf0000001, 0xf0000002, 0xf0000003, 0xf0000004, 0xf0000005, // IMU + 5 CONTINUED: skipped
    0xe0010014, // OTHERS: skipped
    th(0x0fffffff), // last TIME_HIGH before the 34-bit loop
    cd(1, 63, 2047, 2047), // (2^34 − 1, 2047, 2047, 1)
    th(0), // loop → 2^34
    cd(1, 0, 1, 1), // (2^34, 1, 1, 1)
    th(5), // a small forward step
    th(3), // a small step BACK: not a loop; kept as is
    cd(0, 1, 2, 2), // (2^34 + 3·64 + 1, 2, 2, 0)
  ];
  const EVENTS = [[1029, 3, 4, 0], [2 ** 34 - 1, 2047, 2047, 1], [2 ** 34, 1, 1, 1], [2 ** 34 + 193, 2, 2, 0]];

  it('decodes hand-assembled words: time high + LSB, 2^34 loop, triggers and others skipped', async () => {
    const trig: number[][] = [];
    const r = await open(raw('% evt 2.0\n', WORDS, [1, 2, 3]), { onTrigger: (t, c, v) => trig.push([t, c, v]) });
    expect(r.info.geometry).toBeNull(); // nothing in the header says
    expect(r.warnings.join(' ')).toMatch(/sensor size not in the header/);
    const pk = await readAll(r);
    expect(tuples(pk)).toEqual(EVENTS);
    expect(trig).toEqual([[1031, 2, 1]]);
    expect(r.counters).toEqual({ droppedBeforeTimeHigh: 1, droppedInvalid: 0, triggers: 1, timeLoops: 1, otherWords: 7 });
    expect(r.warnings.join(' ')).toMatch(/3 byte\(s\) at the end/);
  });

  it('drops events outside the sensor size', async () => {
    const r = await open(raw('% evt 2.0\n% geometry 640x480\n', [th(1), cd(1, 0, 640, 0), cd(1, 0, 0, 480), cd(1, 0, 639, 479)]));
    expect(tuples(await readAll(r))).toEqual([[64, 639, 479, 1]]);
    expect(r.counters.droppedInvalid).toBe(2);
    expect(r.warnings.join(' ')).toMatch(/2 event\(s\) dropped: outside 640×480/);
  });

  it('carries state across short reads and packet boundaries', async () => {
    const bytes = raw('% evt 2.0\n% x\n', WORDS); // header of odd length: misaligned words are copied
    for (const step of [1, 3, 5, 4096]) {
      const m = new MemoryByteSource(bytes);
      const src: ByteSource = { name: 't', size: m.size, read: (p, l) => m.read(p, Math.min(l, step)), close: async () => {} };
      for (const cap of [1, 3, 1000]) {
        const r = await open(src, { packetCapacity: cap });
        const got: number[][] = [];
        for await (const pk of r.packets()) {
          expect(pk.length).toBeLessThanOrEqual(cap);
          got.push(...tuples(pk));
        }
        expect(got).toEqual(EVENTS);
      }
    }
  });

  it('round-trips the test encoder, including past the 2^34 µs loop', async () => {
    const rng = new Rng(9);
    const n = 5000;
    const ev = allocPacket(n);
    let t = 2 ** 34 - 10_000;
    for (let i = 0; i < n; i++) {
      t += rng.int(9);
      ev.t[i] = t; ev.x[i] = rng.int(1280); ev.y[i] = rng.int(720); ev.p[i] = rng.int(2);
    }
    ev.length = n;
    expect(ev.t[n - 1]).toBeGreaterThan(2 ** 34);
    const r = await open(encodeEvt2(ev, { width: 1280, height: 720 }));
    const pk = await readAll(r);
    expect(r.info.geometry).toEqual({ width: 1280, height: 720 });
    expect(Array.from(pk.t)).toEqual(Array.from(ev.t));
    expect(Array.from(pk.x)).toEqual(Array.from(ev.x));
    expect(Array.from(pk.y)).toEqual(Array.from(ev.y));
    expect(Array.from(pk.p)).toEqual(Array.from(ev.p));
    expect(r.counters.timeLoops).toBe(1);
  });

  it('resolves the sensor size in Prophesee order', () => {
    expect(rawGeometry({ format: 'EVT2;height=480;width=640', geometry: '1280x720' })?.geometry).toEqual({ width: 640, height: 480 });
    expect(rawGeometry({ geometry: '1280x720', plugin_name: 'hal_plugin_gen3_fx3' })?.geometry).toEqual({ width: 1280, height: 720 });
    expect(rawGeometry({ plugin_name: 'hal_plugin_gen41_evk3' })?.geometry).toEqual({ width: 1280, height: 720 });
    expect(rawGeometry({ plugin_name: 'hal_plugin_genx320mp' })?.geometry).toEqual({ width: 320, height: 320 });
    expect(rawGeometry({ generation: '3.1' })?.geometry).toEqual({ width: 640, height: 480 });
    expect(rawGeometry({ format: 'EVT2;height=0;width=640' })).toBeNull();
    expect(rawGeometry({})).toBeNull();
  });

  it('Evt2Decoder works on word arrays directly (live use)', () => {
    const d = new Evt2Decoder({ width: 2048, height: 2048 });
    const out = allocPacket(16);
    const w = new Uint32Array(WORDS);
    d.decode(w, 0, 5, out);
    d.decode(w, 5, w.length, out);
    expect(tuples(out)).toEqual(EVENTS);
  });

  it('probes EVT 2.0 headers only', () => {
    const b = (s: string) => new TextEncoder().encode(s);
    expect(evt2Format.probe(b('% evt 2.0\n'), 10)).toBeGreaterThan(0.9);
    expect(evt2Format.probe(b('% format EVT2;height=480;width=640\n'), 40)).toBeGreaterThan(0.9);
    expect(evt2Format.probe(b('% evt 3.0\n'), 10)).toBe(0);
    expect(evt2Format.probe(b('% format EVT21;height=720;width=1280\n'), 40)).toBeGreaterThan(0.9); // EVT 2.1: same entry
    expect(evt2Format.probe(b('% Date 2020\n% plugin_name hal_plugin_gen3_fx3\n'), 60)).toBeGreaterThan(0);
    expect(evt2Format.probe(b('% Data file containing CD events\n% Version 2\n'), 60)).toBe(0);
  });
});

describe('EVT 2.1 reader (64-bit vectorized words, both word orders)', () => {
  /** [upper 32 bits, lower 32 bits] pairs → bytes in plain LE u64 order or in the legacy (upper first) order. */
  function raw21(header: string, pairs: [number, number][], upperFirst: boolean): Uint8Array {
    const h = new TextEncoder().encode(header);
    const out = new Uint8Array(h.length + pairs.length * 8);
    out.set(h);
    const dv = new DataView(out.buffer);
    pairs.forEach(([u, l], k) => {
      dv.setUint32(h.length + 8 * k, (upperFirst ? u : l) >>> 0, true);
      dv.setUint32(h.length + 8 * k + 4, (upperFirst ? l : u) >>> 0, true);
    });
    return out;
  }
  const PAIRS: [number, number][] = [
    [cd(1, 0, 7, 7), 1], // before any TIME_HIGH: dropped
    [th(16), 0], // 1024 µs
    [cd(1, 2, 100, 5), 0x80000005], // x 100, 102, 131 at 1026, ON
    [cd(0, 3, 630, 6), 0x7ff], // x 630..639 at 1027, OFF; x 640 outside 640 wide: dropped
    [((0xa << 28) | (4 << 22) | (1 << 8) | 1) >>> 0, 0], // trigger channel 1 value 1 at 1028
    [0xe0000000, 0x12345678], // OTHERS: skipped
    [th(17), 0], // 1088 µs
    [cd(1, 0, 0, 0), 1], // (1088, 0, 0, 1)
  ];
  const EVENTS = [
    [1026, 100, 5, 1], [1026, 102, 5, 1], [1026, 131, 5, 1],
    ...Array.from({ length: 10 }, (_, i) => [1027, 630 + i, 6, 0]),
    [1088, 0, 0, 1],
  ];

  for (const upperFirst of [false, true]) {
    it(`decodes hand-assembled words, ${upperFirst ? 'legacy (upper half first)' : 'plain LE u64'} order, detected from the data`, async () => {
      const trig: number[][] = [];
      const r = await open(raw21('% evt 2.1\n% geometry 640x480\n', PAIRS, upperFirst), { onTrigger: (t, c, v) => trig.push([t, c, v]) });
      expect(r.info.formatName).toBe('Prophesee RAW EVT 2.1');
      expect(r.info.header['word order']).toMatch(upperFirst ? /^legacy/ : /^little-endian/);
      expect(tuples(await readAll(r))).toEqual(EVENTS);
      expect(trig).toEqual([[1028, 1, 1]]);
      expect(r.counters).toEqual({ droppedBeforeTimeHigh: 1, droppedInvalid: 1, triggers: 1, timeLoops: 0, otherWords: 1 });
      // Small packets: a vector word is split across packets without loss.
      const r3 = await open(raw21('% evt 2.1\n% geometry 640x480\n', PAIRS, upperFirst), { packetCapacity: 4 });
      const got: number[][] = [];
      for await (const pk of r3.packets()) {
        expect(pk.length).toBeLessThanOrEqual(4);
        got.push(...tuples(pk));
      }
      expect(got).toEqual(EVENTS);
    });
  }

  it('survives fuzzing (≥ 2000 mutated inputs)', async () => {
    const many: [number, number][] = [];
    const rng = new Rng(21);
    for (let k = 0; k < 300; k++) {
      if (k % 10 === 0) many.push([th(16 + k / 10), 0]);
      many.push([cd(rng.int(2), rng.int(64), rng.int(640), rng.int(480)), rng.nextU32()]);
    }
    const samples = [raw21('% evt 2.1\n% geometry 640x480\n', many, false), raw21('% format EVT21;endianness=legacy;height=480;width=640\n', PAIRS, true)];
    const res = await fuzzReader({ format: 'evt2', samples, mutations: 2000, seed: 21, open: (b) => open(b) });
    expect(res.cases).toBeGreaterThanOrEqual(2000);
  });

  it('takes the word order from the header when it says (endianness=legacy)', () => {
    const data = raw21('', PAIRS, false); // plain order in the data, but the header wins
    expect(evt21UpperFirst({ format: 'EVT21;endianness=legacy;height=720;width=1280' }, data).upperFirst).toBe(true);
    expect(evt21UpperFirst({ format: 'EVT21;endianness=little' }, raw21('', PAIRS, true)).upperFirst).toBe(false);
    expect(evt21UpperFirst({ plugin_name: 'hal_plugin_imx636_evk4' }, new Uint8Array(0)).upperFirst).toBe(true);
  });
});
