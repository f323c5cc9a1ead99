/**
 * The events_native decode kernels against their TypeScript references (aedat2.ts, dat.ts, aedat3.ts, evt2.ts,
 * evt3.ts), and the two packet modes (fresh / reusePackets) against each other: on every shared sample, on
 * synthetic files that reach the rare branches (DAVIS IMU/APS words, AEDAT 1.0, timestamp wraps, EVT loops,
 * vectors cut by small packets, out-of-sensor coordinates), and on mutated copies of all of them. Each run
 * compares packet boundaries, every event, the warnings, the RAW counters, and the error message when one is thrown.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { eventsKernels, eventsNativeAvailable, eventsNativeReason, setEventsNative } from '../../../../core/events/codecs/events-native.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import type { RawCounters, RawEventReader } from '../../../../core/events/formats/prophesee-raw.ts';
import { allocPacket, copyPacket, type EventPacket } from '../../../../core/events/packet.ts';
import { readAll, type ReaderOptions } from '../../../../core/events/reader.ts';
import { Rng } from '../../../../core/util/rng.ts';
import { aedat31Header, concatBytes, encodeAedat31, polarityPacket } from '../../../helpers/aedat3-writer.ts';
import { encodeEvt2 } from '../../../helpers/evt2-encoder.ts';
import { encodeEvt3 } from '../../../helpers/evt3-encoder.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';
import { fuzzReader } from '../../../helpers/fuzz.ts';

interface Outcome {
  /** Length of every packet, in order. */
  lengths: number[];
  x: number[];
  y: number[];
  t: number[];
  p: number[];
  warnings: string[];
  counters: RawCounters | null;
  error: string | null;
  format: string | null;
}

/** Decodes `bytes` on one path, copying each packet at once (valid in both packet modes). */
async function decode(bytes: Uint8Array, opts: ReaderOptions & { timeShift?: boolean }, native: boolean): Promise<Outcome> {
  const was = setEventsNative(native);
  const o: Outcome = { lengths: [], x: [], y: [], t: [], p: [], warnings: [], counters: null, error: null, format: null };
  try {
    const r = await openEvents(bytes, opts);
    o.format = r.info.format;
    try {
      for await (const pk of r.packets()) {
        const c = copyPacket(pk, 0, pk.length);
        o.lengths.push(c.length);
        o.x.push(...c.x);
        o.y.push(...c.y);
        o.t.push(...c.t);
        o.p.push(...c.p);
      }
    } finally {
      o.warnings = [...r.warnings];
      const counters = (r as RawEventReader).counters;
      o.counters = counters ? { ...counters } : null;
      await r.close();
    }
  } catch (e) {
    o.error = `${(e as Error).name}: ${(e as Error).message}`;
  } finally {
    setEventsNative(was);
  }
  return o;
}

/** Native == TS in both packet modes, at the given capacities; returns the TS outcome at the first capacity. */
async function expectSame(bytes: Uint8Array, what: string, opts: ReaderOptions & { timeShift?: boolean } = {}, capacities = [65_536, 1000, 7]): Promise<Outcome> {
  let first: Outcome | null = null;
  for (const packetCapacity of capacities) {
    const ref = await decode(bytes, { ...opts, packetCapacity }, false);
    first ??= ref;
    for (const [native, reusePackets] of [[true, false], [true, true], [false, true]] as const) {
      const got = await decode(bytes, { ...opts, packetCapacity, reusePackets }, native);
      const label = `${what}, capacity ${packetCapacity}, ${native ? 'native' : 'TS'}${reusePackets ? ', reused packets' : ''}`;
      expect(got.error, label).toBe(ref.error);
      expect(got.lengths, label).toEqual(ref.lengths);
      // Whole-array compares of millions of numbers are slow in expect's diff: compare by index, report the first.
      for (const k of ['x', 'y', 't', 'p'] as const) {
        const a = got[k], b = ref[k];
        expect(a.length, `${label}: ${k} length`).toBe(b.length);
        let bad = -1;
        for (let i = 0; i < a.length; i++) {
          if (!Object.is(a[i], b[i])) {
            bad = i;
            break;
          }
        }
        expect(bad, `${label}: first ${k} mismatch at ${bad} (${a[bad]} vs ${b[bad]})`).toBe(-1);
      }
      expect(got.warnings, label).toEqual(ref.warnings);
      expect(got.counters, label).toEqual(ref.counters);
    }
  }
  return first!;
}

const enc = (s: string) => new TextEncoder().encode(s);
const cat = (a: Uint8Array, b: Uint8Array) => {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
};

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

/** Events like a sensor's: sorted time with small steps, bursts along a row (vectors for EVT 3.0). */
function synthEvents(seed: number, n: number, W: number, H: number, stepUs = 30, t0 = 1000): EventPacket {
  const rng = new Rng(seed);
  const pk = allocPacket(n);
  let t = t0;
  for (let i = 0; i < n;) {
    t += rng.int(stepUs);
    const k = rng.next() < 0.4 ? 2 + rng.int(14) : 1;
    const y = rng.int(H), p = rng.int(2);
    let x = rng.int(W - 50);
    for (let j = 0; j < k && i < n; j++, i++) {
      pk.t[i] = t; pk.x[i] = x; pk.y[i] = y; pk.p[i] = p;
      x += 1 + rng.int(2);
    }
  }
  pk.length = n;
  return pk;
}

/** AEDAT 2.0 DAVIS file: DVS, IMU, APS and external-input words, out-of-range addresses, a timestamp wrap. */
function davisFile(seed: number, n: number): Uint8Array {
  const rng = new Rng(seed);
  const head = enc('#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C\r\n#End Of ASCII Header\r\n');
  const body = new Uint8Array(n * 8);
  const dv = new DataView(body.buffer);
  let ts = 2147483647 - 200 * 500; // crosses the signed 32-bit wrap half way
  for (let i = 0; i < n; i++) {
    ts = (ts + rng.int(400)) | 0;
    const r = rng.next();
    let a: number;
    if (r < 0.05) a = (0x80000c00 | rng.int(0x3ff)) >>> 0; // IMU
    else if (r < 0.1) a = (0x80000000 | rng.int(0x7fffffff)) >>> 0; // APS
    else if (r < 0.13) a = 0x400 | (rng.int(240) << 12); // external input
    else a = (rng.int(260) << 12) | (rng.int(190) << 22) | (rng.int(2) << 11); // some beyond 240×180
    dv.setUint32(8 * i, a >>> 0, false);
    dv.setInt32(8 * i + 4, ts, false);
  }
  return cat(head, body);
}

/** AEDAT 2.0 / 1.0 DVS128 file from random addresses (special events included) with a timestamp wrap. */
function dvs128File(seed: number, n: number, rec: 6 | 8): Uint8Array {
  const rng = new Rng(seed);
  const head = enc(rec === 8
    ? '#!AER-DAT2.0\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n#End Of ASCII Header\r\n'
    : '# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n# raw AE data file\r\n');
  const body = new Uint8Array(n * rec);
  const dv = new DataView(body.buffer);
  let ts = -100 * 300;
  for (let i = 0; i < n; i++) {
    ts = (ts + rng.int(300)) | 0;
    if (i === n >> 1) ts = 2147483000; // then wraps to negative
    const a = rng.next() < 0.05 ? 0x8000 | rng.int(0x7fff) : rng.int(0x7fff);
    if (rec === 8) dv.setInt32(8 * i, rng.next() < 0.02 ? (a | 0x80000000) : a, false);
    else dv.setUint16(6 * i, a, false);
    dv.setInt32(rec * i + rec - 4, ts, false);
  }
  return cat(head, body);
}

/** DAT with wrapping u32 timestamps and coordinates beyond the header's 304×240. */
function datFile(seed: number, n: number): Uint8Array {
  const rng = new Rng(seed);
  const head = enc('% Data file containing Event2D events.\n% Version 2\n% Width 304\n% Height 240\n');
  const body = new Uint8Array(2 + n * 8);
  body[0] = 12;
  body[1] = 8;
  const dv = new DataView(body.buffer);
  let ts = 4294967295 - 150 * 400;
  for (let i = 0; i < n; i++) {
    ts = (ts + rng.int(300)) % 4294967296;
    dv.setUint32(2 + 8 * i, ts, true);
    dv.setUint32(2 + 8 * i + 4, (rng.int(320) | (rng.int(250) << 14) | (rng.int(2) << 28)) >>> 0, true);
  }
  return cat(head, body);
}

/** RAW file of random words: every word type, in any order (the decoders' state machines at their worst). */
function randomRaw(seed: number, version: '2.0' | '3.0', words: number): Uint8Array {
  const rng = new Rng(seed);
  const head = enc(version === '2.0' ? '% evt 2.0\n% format EVT2;height=480;width=640\n% end\n' : '% evt 3.0\n% format EVT3;height=480;width=640\n% end\n');
  const bytes = randomBytes(rng, words * (version === '2.0' ? 4 : 2));
  if (version === '3.0') {
    // Bias towards TIME_HIGH / ADDR_Y / vectors so that events are actually produced.
    const w = new Uint16Array(bytes.buffer);
    const types = [0x8, 0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0x2, 0x4, rng.int(16)];
    for (let i = 0; i < w.length; i++) w[i] = (types[rng.int(types.length)] << 12) | (w[i] & 0xfff);
  } else {
    const w = new Uint32Array(bytes.buffer);
    const types = [0x0, 0x1, 0x8, 0x0, 0x1, 0xa, 0xe, rng.int(16)];
    for (let i = 0; i < w.length; i++) w[i] = ((types[rng.int(types.length)] << 28) | (w[i] & 0x0fffffff)) >>> 0;
  }
  return cat(head, bytes);
}

/** A copy of `bytes` with `k` random bytes of the body (after `keep`) overwritten. */
function mutate(bytes: Uint8Array, rng: Rng, keep: number, k: number): Uint8Array {
  const out = bytes.slice();
  for (let j = 0; j < k; j++) out[keep + rng.int(out.length - keep)] = rng.int(256);
  return out;
}

function readShared(rel: string): Uint8Array | null {
  const f = sharedFile(rel);
  return f ? new Uint8Array(readFileSync(f)) : null;
}

describe('events_native decode kernels == TypeScript readers, fresh == reused packets', () => {
  afterAll(() => setEventsNative(true));

  it(`says which path is active (${eventsNativeAvailable ? 'native available' : `TS only: ${eventsNativeReason()}`})`, () => {
    if (!eventsNativeAvailable) expect(eventsNativeReason()).toBeTruthy();
    // The switch returns the previous setting and cannot turn on kernels that did not load.
    const was = setEventsNative(true);
    expect(setEventsNative(false)).toBe(eventsNativeAvailable);
    expect(eventsNativeReason()).toBeTruthy();
    setEventsNative(was);
  });

  it.skipIf(!eventsNativeAvailable)('the readers really call the native kernels when they are on (and not when off)', async () => {
    setEventsNative(true);
    const k = eventsKernels()!;
    const files: Array<['aedat2Decode' | 'datDecode' | 'aedat3Decode' | 'evt2Decode' | 'evt3Decode', Uint8Array]> = [
      ['aedat2Decode', dvs128File(50, 100, 8)], ['datDecode', datFile(51, 100)],
      ['aedat3Decode', encodeAedat31(synthEvents(52, 100, 128, 128))],
      ['evt2Decode', encodeEvt2(synthEvents(53, 100, 640, 480))], ['evt3Decode', encodeEvt3(synthEvents(54, 100, 640, 480))],
    ];
    for (const [fn, bytes] of files) {
      const spy = vi.spyOn(k, fn);
      const on = await decode(bytes, {}, true);
      expect(spy, fn).toHaveBeenCalled();
      spy.mockClear();
      const off = await decode(bytes, {}, false);
      expect(spy, fn).not.toHaveBeenCalled();
      spy.mockRestore();
      expect(on.t.length).toBe(off.t.length);
      expect(on.t.length).toBeGreaterThan(50);
    }
  });

  it('AEDAT 2.0 DVS128: the real sample (alex_walking_again.aedat)', async (ctx) => {
    const b = readShared('dvs128-aedat2/alex_walking_again.aedat');
    if (!b) return ctx.skip();
    const ref = await expectSame(b, 'alex_walking_again', {}, [65_536, 1000, 7]);
    // Reference value from shared/data/README.md: 19,157 DVS events (special events skipped).
    expect(ref.format).toBe('aedat2');
    expect(ref.t.length).toBeGreaterThan(10_000);
  });

  it('AEDAT 2.0 DVS128 (special events, wrap) and AEDAT 1.0 6-byte records', async () => {
    const a = await expectSame(dvs128File(1, 20_000, 8), 'DVS128 synthetic');
    expect(a.t.length).toBeGreaterThan(15_000);
    // The wrap was unrolled: time never falls by 2^32 - ε.
    expect(Math.max(...a.t)).toBeGreaterThan(2 ** 31);
    const b = await expectSame(dvs128File(2, 20_000, 6), 'AEDAT 1.0 synthetic');
    expect(b.format).toBe('aedat2');
    expect(b.t.length).toBeGreaterThan(15_000);
  });

  it('AEDAT 2.0 DAVIS240C: IMU, APS, external input and out-of-range words', async () => {
    const o = await expectSame(davisFile(3, 30_000), 'DAVIS synthetic');
    expect(o.t.length).toBeGreaterThan(20_000);
    expect(o.warnings.some((w) => /outside the 240×180 sensor were dropped/.test(w))).toBe(true);
    expect(Math.max(...o.x)).toBeLessThan(240);
  });

  it('DAT: the real sample (sample_ncars.dat) and a synthetic file with wraps and out-of-range events', async (ctx) => {
    const o = await expectSame(datFile(4, 30_000), 'DAT synthetic');
    expect(o.t.length).toBeGreaterThan(20_000);
    expect(o.warnings.some((w) => /outside the 304×240 sensor/.test(w))).toBe(true);
    expect(Math.max(...o.t)).toBeGreaterThan(2 ** 32);
    const b = readShared('tonic-ncars-dat/sample_ncars.dat');
    if (!b) return ctx.skip();
    expect((await expectSame(b, 'sample_ncars', {}, [65_536, 1000])).format).toBe('dat');
  });

  it('AEDAT 3.1: invalid events, and time crossing 2^31 µs (a second eventTSOverflow base)', async () => {
    const pk = synthEvents(60, 20_000, 128, 128, 30, 2 ** 31 - 50_000);
    const invalid = new Set<number>();
    for (let i = 0; i < pk.length; i += 7) invalid.add(i);
    const parts = [aedat31Header()];
    // Packets of 3,000 events, split where the overflow base changes.
    for (let i = 0; i < pk.length;) {
      let j = Math.min(pk.length, i + 3000);
      const base = Math.floor(pk.t[i] / 2 ** 31);
      while (Math.floor(pk.t[j - 1] / 2 ** 31) !== base) j--;
      parts.push(polarityPacket(pk, i, j, invalid));
      i = j;
    }
    const o = await expectSame(concatBytes(parts), 'AEDAT 3.1 synthetic');
    expect(o.t.length).toBe(pk.length - invalid.size);
    expect(Math.max(...o.t)).toBeGreaterThan(2 ** 31);
  });

  it('AEDAT 3.1 / 3.0: encoded real DVS128 events', async (ctx) => {
    const b = readShared('dvs128-aedat2/alex_walking_again.aedat');
    if (!b) return ctx.skip();
    const r = await openEvents(b);
    const pk = await readAll(r);
    await r.close();
    const file = encodeAedat31(pk);
    const o = await expectSame(file, 'AEDAT 3.1 of alex_walking_again');
    expect(o.format).toBe('aedat3');
    expect(o.t.length).toBe(pk.length);
    // A smaller sensor than the events need (out-of-range drops), and AEDAT 3.0 (y flipped bottom-left → top-left).
    const small = await expectSame(file, 'AEDAT 3.1, 100×50 geometry', { geometry: { width: 100, height: 50 } }, [65_536, 999]);
    expect(small.t.length).toBeLessThan(pk.length);
    expect(small.warnings.some((w) => /outside the sensor size/.test(w))).toBe(true);
    const v30 = file.slice();
    const at = new TextDecoder().decode(v30.subarray(0, 16)).indexOf('3.1');
    v30[at + 2] = 0x30; // '#!AER-DAT3.1' → '#!AER-DAT3.0'
    const flipped = await expectSame(v30, 'AEDAT 3.0', {}, [65_536, 999]);
    expect(flipped.t.length).toBe(pk.length);
    expect(flipped.y[0]).toBe(127 - o.y[0]);
  });

  it('EVT 2.0: the real sample (evt2_sample.raw), an encoded file and random words', async (ctx) => {
    const o = await expectSame(encodeEvt2(synthEvents(5, 20_000, 640, 480)), 'EVT 2.0 encoded');
    expect(o.t.length).toBe(20_000);
    const rnd = await expectSame(randomRaw(6, '2.0', 40_000), 'EVT 2.0 random words');
    expect(rnd.t.length).toBeGreaterThan(1000);
    expect(rnd.counters!.otherWords).toBeGreaterThan(0);
    expect(rnd.counters!.timeLoops).toBeGreaterThan(0);
    await expectSame(randomRaw(7, '2.0', 10_000), 'EVT 2.0 random words, time shift', { timeShift: true });
    const b = readShared('expelliarmus-evt2-gen3/evt2_sample.raw');
    if (!b) return ctx.skip();
    expect((await expectSame(b, 'evt2_sample.raw', {}, [65_536, 1000])).format).toBe('evt2');
  });

  it('EVT 3.0: encoded events (vectors, 24-bit loops), random words, time shift', async () => {
    // 40 ms steps over 2,000 bursts: the 24-bit clock (16.8 s) loops several times.
    const pk = synthEvents(8, 30_000, 640, 480, 40_000);
    const o = await expectSame(encodeEvt3(pk, { width: 640, height: 480 }), 'EVT 3.0 encoded');
    expect(o.t.length).toBe(30_000);
    expect(o.counters!.timeLoops).toBeGreaterThan(0);
    const rnd = await expectSame(randomRaw(9, '3.0', 60_000), 'EVT 3.0 random words');
    expect(rnd.t.length).toBeGreaterThan(1000);
    expect(rnd.counters!.droppedInvalid).toBeGreaterThan(0);
    await expectSame(randomRaw(10, '3.0', 20_000), 'EVT 3.0 random words, time shift', { timeShift: true });
  });

  it('N-MNIST and AEDAT 4.0 samples decode identically in both packet modes', async (ctx) => {
    const n = readShared('tonic-nmnist-bin/sample_nmnist.bin');
    const a4 = readShared('tonic-dvxplorer-aedat4/sample.aedat4');
    if (!n || !a4) return ctx.skip();
    await expectSame(n, 'sample_nmnist.bin', {}, [65_536, 100]);
    await expectSame(a4, 'sample.aedat4', {}, [65_536, 1000]);
  });

  it('mutated inputs (1,200 cases over all formats): same events, warnings or error on both paths', async () => {
    const rng = new Rng(11);
    const bases: Array<[string, Uint8Array, number]> = [
      ['DVS128', dvs128File(12, 2000, 8), 80],
      ['AEDAT 1.0', dvs128File(13, 2000, 6), 60],
      ['DAVIS', davisFile(14, 2000), 80],
      ['DAT', datFile(15, 2000), 80],
      ['EVT 2.0', randomRaw(16, '2.0', 3000), 50],
      ['EVT 3.0', randomRaw(17, '3.0', 6000), 50],
      ['EVT 3.0 encoded', encodeEvt3(synthEvents(18, 3000, 640, 480, 5000), { width: 640, height: 480 }), 60],
      ['AEDAT 3.1', encodeAedat31(synthEvents(19, 3000, 128, 128)), 120],
    ];
    let cases = 0, errors = 0;
    for (let c = 0; c < 150; c++) {
      for (const [what, bytes, keep] of bases) {
        // Mostly body damage (the kernels' input); sometimes the header too (then the format may change or fail).
        const m = mutate(bytes, rng, rng.next() < 0.9 ? keep : 0, 1 + rng.int(40));
        const cut = rng.next() < 0.3 ? m.subarray(0, rng.int(m.length)) : m;
        const cap = [1000, 13, 65_536][rng.int(3)];
        const ref = await decode(cut, { packetCapacity: cap }, false);
        const got = await decode(cut, { packetCapacity: cap, reusePackets: rng.next() < 0.5 }, true);
        const label = `${what} case ${c}`;
        expect(got.error, label).toBe(ref.error);
        expect(got.lengths, label).toEqual(ref.lengths);
        expect(got.t, label).toEqual(ref.t);
        expect(got.x, label).toEqual(ref.x);
        expect(got.y, label).toEqual(ref.y);
        expect(got.p, label).toEqual(ref.p);
        expect(got.warnings, label).toEqual(ref.warnings);
        expect(got.counters, label).toEqual(ref.counters);
        cases++;
        if (ref.error) errors++;
      }
    }
    expect(cases).toBe(1200);
    expect(errors).toBeLessThan(cases); // most cases decode (the kernels ran), some are rejected
  }, 120_000);

  it('fuzz (≥ 2,000 mutated inputs per format) with the native kernels on and recycled packets', async () => {
    expect(setEventsNative(true)).toBe(eventsNativeAvailable);
    const open = (b: Uint8Array) => openEvents(b, { packetCapacity: 1024, reusePackets: true });
    const sets: Array<[string, Uint8Array[]]> = [
      ['aedat2', [dvs128File(30, 3000, 8), davisFile(31, 3000)]],
      ['dat', [datFile(32, 3000)]],
      ['aedat3', [encodeAedat31(synthEvents(33, 3000, 128, 128))]],
      ['evt2', [encodeEvt2(synthEvents(34, 3000, 640, 480)), randomRaw(35, '2.0', 3000)]],
      ['evt3', [encodeEvt3(synthEvents(36, 3000, 640, 480, 5000), { width: 640, height: 480 }), randomRaw(37, '3.0', 6000)]],
    ];
    for (const [format, samples] of sets) {
      const r = await fuzzReader({ format, samples, mutations: 2000, seed: 40, open, packetCapacity: 1024 });
      expect(r.cases, format).toBeGreaterThanOrEqual(2000);
      expect(r.ok, format).toBeGreaterThan(0);
    }
  }, 120_000);

  it('reusePackets: a reader recycles one packet; readAll still returns every event', async () => {
    const file = encodeEvt2(synthEvents(20, 5000, 640, 480));
    const r = await openEvents(file, { packetCapacity: 1000, reusePackets: true });
    expect(r.reusesPackets).toBe(true);
    const seen = new Set<Float64Array>();
    let n = 0;
    for await (const pk of r.packets()) {
      seen.add(pk.t);
      n += pk.length;
    }
    await r.close();
    expect(n).toBe(5000);
    // Full packets share one buffer; the last (partial) one is a view of it.
    const buffers = new Set([...seen].map((t) => t.buffer));
    expect(buffers.size).toBe(1);
    const fresh = await openEvents(file, { packetCapacity: 1000 });
    expect(fresh.reusesPackets).toBe(false);
    const r2 = await openEvents(file, { packetCapacity: 1000, reusePackets: true });
    const all = await readAll(r2);
    const all2 = await readAll(fresh);
    expect(Array.from(all.t)).toEqual(Array.from(all2.t));
    expect(all.length).toBe(5000);
  });
});
