/**
 * The native EVT 3.0 decoder's fast path (8-word groups of ADDR_X / ADDR_Y / TIME_LOW, TIME_HIGH inline, any
 * other word handed to the scalar state machine) against the TypeScript reference Evt3Decoder, on word streams
 * built to put every boundary at every position: other word types (vectors, triggers, unknown types) and
 * TIME_HIGHs (repeated, advancing, looping) at each lane of a group, input chunks ending anywhere, packets with
 * room for 1 … 17 events (the fast path needs 8), vectors cut by a full packet, rows and columns outside the sensor,
 * slave rows, and sensor limits above the 11-bit fields.
 */
import { describe, expect, it } from 'vitest';
import { eventsKernels, eventsNativeAvailable, eventsNativeReason, setEventsNative } from '../../../../core/events/codecs/events-native.ts';
import { Evt3Decoder, Evt3NativeDecoder } from '../../../../core/events/formats/evt3.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import type { RawCounters, RawEventReader, RawReaderOptions, WordDecoder } from '../../../../core/events/formats/prophesee-raw.ts';
import { allocPacket, type SensorGeometry } from '../../../../core/events/packet.ts';
import { Rng } from '../../../../core/util/rng.ts';

const word = (type: number, payload: number) => ((type << 12) | (payload & 0xfff)) & 0xffff;
/** Types neither the fast path nor the state machine emits events for (CONTINUED, IMU, OTHERS, unassigned). */
const UNKNOWN = [0x1, 0x7, 0x9, 0xb, 0xc, 0xd, 0xe, 0xf];

interface Mix {
  /** Words of the stream. */
  w: Uint16Array;
  /** How many words of each kind were written (so the test can check the mix covers what it claims). */
  odd: number;
  timeHigh: number;
}

/**
 * Words: a few before the first TIME_HIGH, then runs of 0 … 40 ADDR_X / ADDR_Y / TIME_LOW words (so the word after
 * a run falls on every lane of an 8-word group), each followed by one TIME_HIGH or one other-type word.
 */
function wordMix(seed: number, n: number, g: SensorGeometry): Mix {
  const rng = new Rng(seed);
  const w = new Uint16Array(n);
  let i = 0, odd = 0, timeHigh = 0, th = 100 + rng.int(3000);
  const xRange = Math.min(2048, g.width + 40), yRange = Math.min(2048, g.height + 20);
  // Before the first TIME_HIGH: dropped events, rows and vectors that must not count.
  for (; i < 12; i++) {
    const t = [0x0, 0x2, 0x3, 0x4, 0x5, 0x6, 0xa][rng.int(7)];
    w[i] = word(t, rng.int(4096));
  }
  while (i < n) {
    const run = rng.int(41);
    for (let r = 0; r < run && i < n; r++) {
      const u = rng.next();
      if (u < 0.6) w[i++] = word(0x2, (rng.int(2) << 11) | rng.int(xRange));
      else if (u < 0.9) w[i++] = word(0x0, (rng.next() < 0.05 ? 0x800 : 0) | rng.int(yRange));
      else w[i++] = word(0x6, rng.int(4096));
    }
    if (i >= n) break;
    const u = rng.next();
    if (u < 0.5) {
      // TIME_HIGH: repeated (keeps TIME_LOW), advancing, or jumping back by more than half the range (a loop).
      const v = rng.next();
      if (v < 0.3) { /* same */ } else if (v < 0.9) th = (th + 1 + rng.int(3)) & 0xfff;
      else th = th > 2100 ? rng.int(th - 2049) : th + 1500; // a drop of more than 2048: the 24-bit clock looped
      w[i++] = word(0x8, th);
      timeHigh++;
    } else {
      const v = rng.next();
      if (v < 0.15) w[i++] = word(0x3, (rng.int(2) << 11) | rng.int(xRange));
      else if (v < 0.45) w[i++] = word(0x4, rng.int(4096));
      else if (v < 0.65) w[i++] = word(0x5, rng.int(256));
      else if (v < 0.75) w[i++] = word(0xa, rng.int(4096));
      else w[i++] = word(UNKNOWN[rng.int(UNKNOWN.length)], rng.int(4096));
      odd++;
    }
  }
  return { w, odd, timeHigh };
}

/**
 * Vector-heavy words, shaped like a camera's dense rows: VECT_BASE_X then 1 … 6 VECT_12 / VECT_8 words (masks
 * random, empty or full), among ADDR_Y / TIME_LOW / ADDR_X words and TIME_HIGHs, with the awkward cases mixed in:
 * vectors after a TIME_HIGH but before any VECT_BASE_X, bases near or past the right edge (columns ≥ width are
 * dropped and counted), long chains of vectors off one base, rows changing between the vector words of one run,
 * slave rows and rows past the bottom, and the occasional trigger or unknown word inside a vector run.
 */
function vectorMix(seed: number, n: number, g: SensorGeometry): Mix & { vectors: number; fullMasks: number; emptyMasks: number } {
  const rng = new Rng(seed);
  const w = new Uint16Array(n);
  let i = 0, odd = 0, timeHigh = 0, vectors = 0, fullMasks = 0, emptyMasks = 0, th = 50 + rng.int(3000);
  const xRange = Math.min(2048, g.width + 40), yRange = Math.min(2048, g.height + 20);
  const put = (v: number) => { if (i < n) w[i++] = v; };
  const vector = () => {
    const twelve = rng.next() < 0.6;
    const u = rng.next();
    const full = twelve ? 0xfff : 0xff;
    const m = u < 0.2 ? 0 : u < 0.35 ? full : rng.int(full + 1);
    if (m === 0) emptyMasks++;
    if (m === full) fullMasks++;
    vectors++;
    put(word(twelve ? 0x4 : 0x5, m));
  };
  // Before the first TIME_HIGH: a base (must not count as one), vectors, rows.
  put(word(0x3, 10)); put(word(0x4, 0xfff)); put(word(0x0, 5)); put(word(0x5, 0x81)); put(word(0x2, 3));
  put(word(0x8, th)); put(word(0x6, 7));
  // After it, but before any VECT_BASE_X: vectors on a valid row are still dropped (counted invalid).
  put(word(0x0, 1)); vector(); vector(); put(word(0x4, 0xfff)); put(word(0x2, 2));
  while (i < n) {
    const u = rng.next();
    if (u < 0.45) {
      // A vector run: base (sometimes near or past the right edge), then its vector words.
      const e = rng.next();
      const base = e < 0.1 ? Math.max(0, g.width - rng.int(40)) : e < 0.15 ? rng.int(2048) : rng.int(xRange);
      put(word(0x3, (rng.int(2) << 11) | base));
      const words = 1 + rng.int(rng.next() < 0.05 ? 200 : 6);
      for (let r = 0; r < words; r++) {
        const v = rng.next();
        if (v < 0.06) put(word(0x0, (rng.next() < 0.1 ? 0x800 : 0) | rng.int(yRange))); // the row changes mid-run
        else if (v < 0.09) put(word(0x6, rng.int(4096)));
        else if (v < 0.1) { put(word(rng.next() < 0.5 ? 0xa : UNKNOWN[rng.int(UNKNOWN.length)], rng.int(4096))); odd++; }
        vector();
      }
    } else if (u < 0.8) {
      const run = rng.int(20);
      for (let r = 0; r < run; r++) {
        const v = rng.next();
        if (v < 0.5) put(word(0x2, (rng.int(2) << 11) | rng.int(xRange)));
        else if (v < 0.85) put(word(0x0, (rng.next() < 0.05 ? 0x800 : 0) | rng.int(yRange)));
        else put(word(0x6, rng.int(4096)));
      }
    } else if (u < 0.9) {
      const v = rng.next();
      if (v < 0.3) { /* repeated */ } else if (v < 0.9) th = (th + 1 + rng.int(3)) & 0xfff;
      else th = th > 2100 ? rng.int(th - 2049) : th + 1500; // the 24-bit clock looped
      put(word(0x8, th));
      timeHigh++;
    } else if (u < 0.95) {
      vector(); // a vector continuing the previous run's base after other words
    } else {
      put(word(rng.next() < 0.5 ? 0xa : UNKNOWN[rng.int(UNKNOWN.length)], rng.int(4096)));
      odd++;
    }
  }
  return { w, odd, timeHigh, vectors, fullMasks, emptyMasks };
}

interface Decoded {
  lengths: number[];
  x: number[];
  y: number[];
  t: number[];
  p: number[];
  counters: RawCounters;
}

/**
 * Drives a decoder as the RAW reader does (decode until the chunk is used up, a full packet handed over each
 * time), with chunk ends and packet capacities drawn from `seed`: both decoders see the same cuts.
 */
function drive(dec: WordDecoder<Uint16Array>, w: Uint16Array, seed: number, caps: number[]): Decoded {
  const rng = new Rng(seed);
  const out: Decoded = { lengths: [], x: [], y: [], t: [], p: [], counters: dec.counters };
  let cap = caps[rng.int(caps.length)];
  let pk = allocPacket(cap);
  const flush = () => {
    out.lengths.push(pk.length);
    for (let j = 0; j < pk.length; j++) {
      out.x.push(pk.x[j]);
      out.y.push(pk.y[j]);
      out.t.push(pk.t[j]);
      out.p.push(pk.p[j]);
    }
    cap = caps[rng.int(caps.length)];
    pk = allocPacket(cap);
  };
  for (let start = 0; start < w.length; ) {
    const end = Math.min(w.length, start + 1 + rng.int(rng.next() < 0.5 ? 20 : 3000));
    const chunk = w.subarray(start, end);
    let i = 0;
    for (;;) {
      i = dec.decode(chunk, i, chunk.length, pk);
      if (pk.length === cap) {
        flush();
        continue;
      }
      break;
    }
    expect(i).toBe(chunk.length);
    start = end;
  }
  if (pk.length > 0) flush();
  out.counters = { ...dec.counters };
  return out;
}

function expectEqual(got: Decoded, ref: Decoded, label: string): void {
  expect(got.lengths, label).toEqual(ref.lengths);
  expect(got.t, label).toEqual(ref.t);
  expect(got.x, label).toEqual(ref.x);
  expect(got.y, label).toEqual(ref.y);
  expect(got.p, label).toEqual(ref.p);
  expect(got.counters, label).toEqual(ref.counters);
}

describe(`native EVT 3.0 fast path (${eventsNativeAvailable ? 'native available' : `TS only: ${eventsNativeReason()}`})`, () => {
  const geometries: SensorGeometry[] = [
    { width: 640, height: 480 },
    { width: 100, height: 50 }, // most rows and columns outside the sensor
    { width: 2048, height: 2048 }, // every 11-bit coordinate inside
    { width: 40_000, height: 65_535 }, // limits beyond the fields (the fast path clamps them to 2048)
  ];

  it.skipIf(!eventsNativeAvailable)('equals Evt3Decoder word for word on mixes cut at every group position', () => {
    const k = eventsKernels()!;
    let cases = 0;
    for (let c = 0; c < 24; c++) {
      const g = geometries[c % geometries.length];
      const mix = wordMix(100 + c, 6000 + 500 * (c % 5), g);
      // The mix really holds other words and TIME_HIGHs between the runs.
      expect(mix.odd).toBeGreaterThan(50);
      expect(mix.timeHigh).toBeGreaterThan(50);
      const opts: RawReaderOptions = { timeShift: c % 3 === 0 };
      // Small packets put the room limit (8 events for a group) everywhere; large ones keep the fast path running.
      const caps = c % 2 === 0 ? [1, 2, 3, 7, 8, 9, 15, 16, 17] : [65_536, 4096, 33];
      const ref = drive(new Evt3Decoder(g, opts), mix.w, 900 + c, caps);
      const got = drive(new Evt3NativeDecoder(k, g, opts), mix.w, 900 + c, caps);
      const label = `case ${c} (${g.width}×${g.height}, caps ${caps.join('/')})`;
      expectEqual(got, ref, label);
      // The branches were reached: events kept and dropped, loops counted, other words skipped.
      expect(ref.t.length, label).toBeGreaterThan(500);
      expect(ref.counters.droppedInvalid, label).toBeGreaterThan(0);
      expect(ref.counters.timeLoops, label).toBeGreaterThan(0);
      expect(ref.counters.otherWords, label).toBeGreaterThan(0);
      expect(ref.counters.triggers, label).toBeGreaterThan(0);
      cases++;
    }
    expect(cases).toBe(24);
  });

  it.skipIf(!eventsNativeAvailable)('a long clean run between TIME_HIGHs, and a vector cut by a full packet mid-run', () => {
    const k = eventsKernels()!;
    const g = { width: 640, height: 480 };
    // 4,000 clean words (x, y, time low only) between TIME_HIGHs, then full vectors: the fast path runs for long
    // stretches and hands over to the state machine at a packet boundary inside a vector.
    const words: number[] = [word(0x8, 7), word(0x8, 7)];
    const rng = new Rng(5);
    for (let b = 0; b < 6; b++) {
      for (let j = 0; j < 4000; j++) {
        const u = rng.next();
        words.push(u < 0.65 ? word(0x2, (rng.int(2) << 11) | rng.int(700)) : u < 0.9 ? word(0x0, rng.int(500)) : word(0x6, rng.int(4096)));
      }
      words.push(word(0x3, (1 << 11) | 600), word(0x4, 0xfff), word(0x4, 0xfff), word(0x5, 0xff), word(0x8, 8 + b));
    }
    const w = Uint16Array.from(words);
    for (const caps of [[65_536], [13], [1000, 31, 8]]) {
      const ref = drive(new Evt3Decoder(g), w, 3, caps);
      const got = drive(new Evt3NativeDecoder(k, g), w, 3, caps);
      expectEqual(got, ref, `caps ${caps.join('/')}`);
      expect(ref.t.length).toBeGreaterThan(10_000);
    }
  });

  it.skipIf(!eventsNativeAvailable)('equals Evt3Decoder on vector-heavy mixes, vectors cut at every packet size 1 … 17', () => {
    const k = eventsKernels()!;
    let cases = 0;
    for (let c = 0; c < 16; c++) {
      const g = geometries[c % geometries.length];
      const mix = vectorMix(300 + c, 8000 + 700 * (c % 3), g);
      expect(mix.vectors).toBeGreaterThan(1500);
      expect(mix.fullMasks).toBeGreaterThan(100);
      expect(mix.emptyMasks).toBeGreaterThan(100);
      expect(mix.timeHigh).toBeGreaterThan(50);
      const opts: RawReaderOptions = { timeShift: c % 3 === 1 };
      const capsList = c < 4 ? Array.from({ length: 17 }, (_, j) => [j + 1]) : [c % 2 === 0 ? [1, 2, 5, 11, 12, 13, 16, 17] : [65_536, 4096, 33]];
      for (const caps of capsList) {
        const ref = drive(new Evt3Decoder(g, opts), mix.w, 1300 + c, caps);
        const got = drive(new Evt3NativeDecoder(k, g, opts), mix.w, 1300 + c, caps);
        const label = `vector case ${c} (${g.width}×${g.height}, caps ${caps.join('/')})`;
        expectEqual(got, ref, label);
        expect(ref.t.length, label).toBeGreaterThan(3000);
        expect(ref.counters.droppedInvalid, label).toBeGreaterThan(0);
        expect(ref.counters.droppedBeforeTimeHigh, label).toBeGreaterThan(0);
        cases++;
      }
    }
    expect(cases).toBe(4 * 17 + 12);
  });

  it.skipIf(!eventsNativeAvailable)('vector edge cases: no base yet, columns past the width, long chains, masks 0 and all ones', () => {
    const k = eventsKernels()!;
    const g = { width: 300, height: 200 };
    const words: number[] = [word(0x8, 3), word(0x0, 10)];
    // No VECT_BASE_X yet: 12 + 8 events dropped as invalid.
    words.push(word(0x4, 0xfff), word(0x5, 0xff));
    // Base 290: bits 0 … 9 inside (x 290 … 299), bits 10, 11 and the whole VECT_8 beyond the width.
    words.push(word(0x3, (1 << 11) | 290), word(0x4, 0xfff), word(0x5, 0xff), word(0x4, 0));
    // A chain of 40 full VECT_12 off base 0 (x 0 … 479: 300 kept, 180 dropped), then empty ones.
    words.push(word(0x3, 0));
    for (let j = 0; j < 40; j++) words.push(word(0x4, 0xfff));
    words.push(word(0x5, 0), word(0x4, 0));
    // Slave row: vectors dropped; a good row again, vectors kept.
    words.push(word(0x0, 0x800 | 7), word(0x3, 5), word(0x4, 0xfff), word(0x0, 7), word(0x4, 0xa5a), word(0x5, 0x81));
    for (let j = 0; j < 30; j++) words.push(word(0x2, j), word(0x0, j), word(0x3, 200 + j), word(0x4, 0xfff), word(0x5, 0xff));
    // The camera's run shape (base + VECT_12 + VECT_12 + VECT_8, one 32-column mask in the fast path), full masks,
    // bases 250 … 279: min(32, 50 − j) columns inside the width; then the same shape on a row past the bottom.
    for (let j = 0; j < 30; j++) words.push(word(0x2, j), word(0x3, 250 + j), word(0x4, 0xfff), word(0x4, 0xfff), word(0x5, 0xff));
    words.push(word(0x0, 250), word(0x3, 0), word(0x4, 0xfff), word(0x4, 0), word(0x5, 0x80), word(0x0, 3), word(0x2, 1));
    // Empty masks in that shape, and a VECT_8 bit past a chain that stays inside.
    words.push(word(0x3, 40), word(0x4, 0), word(0x4, 0), word(0x5, 0), word(0x5, 0x80));
    const w = Uint16Array.from(words);
    const canonKept = Array.from({ length: 30 }, (_, j) => Math.min(32, 50 - j)).reduce((a, b) => a + b, 0);
    const ref0 = drive(new Evt3Decoder(g), w, 1, [65_536]);
    // 10 kept of base 290, 300 of the chain, 0 on the slave row, 6 + 2 on row 7, then 30 × (1 + 12 + 8).
    expect(ref0.t.length).toBe(10 + 300 + 8 + 30 * 21 + 30 + canonKept + 1 + 1);
    expect(ref0.counters.droppedInvalid).toBe(20 + 2 + 8 + 180 + 12 + (30 * 32 - canonKept) + 13);
    expect(ref0.x.slice(0, 10)).toEqual([290, 291, 292, 293, 294, 295, 296, 297, 298, 299]);
    expect(ref0.p.slice(0, 10)).toEqual(Array(10).fill(1));
    for (const cap of [...Array.from({ length: 40 }, (_, j) => j + 1), 63, 64, 65, 100]) {
      const ref = drive(new Evt3Decoder(g), w, cap, [cap]);
      const got = drive(new Evt3NativeDecoder(k, g), w, cap, [cap]);
      expectEqual(got, ref, `cap ${cap}`);
      expectEqual(ref, { ...ref0, lengths: ref.lengths }, `cap ${cap} vs one packet`);
    }
    const got = drive(new Evt3NativeDecoder(k, g), w, 1, [65_536]);
    expectEqual(got, ref0, 'one packet');
  });

  it('decodes a file identically with the native kernels off and on (openEvents, small packets)', async () => {
    const g = { width: 640, height: 480 };
    const mix = wordMix(77, 20_000, g);
    const head = new TextEncoder().encode('% evt 3.0\n% format EVT3;height=480;width=640\n% end\n');
    const bytes = new Uint8Array(head.length + 2 * mix.w.length);
    bytes.set(head);
    const dv = new DataView(bytes.buffer);
    for (let j = 0; j < mix.w.length; j++) dv.setUint16(head.length + 2 * j, mix.w[j], true);
    const run = async (native: boolean, packetCapacity: number) => {
      const was = setEventsNative(native);
      try {
        const r = await openEvents(bytes, { packetCapacity });
        const o = { lengths: [] as number[], x: [] as number[], y: [] as number[], t: [] as number[], p: [] as number[] };
        for await (const pk of r.packets()) {
          o.lengths.push(pk.length);
          for (let j = 0; j < pk.length; j++) {
            o.x.push(pk.x[j]);
            o.y.push(pk.y[j]);
            o.t.push(pk.t[j]);
            o.p.push(pk.p[j]);
          }
        }
        const counters = { ...(r as RawEventReader).counters };
        await r.close();
        return { ...o, counters };
      } finally {
        setEventsNative(was);
      }
    };
    for (const cap of [5, 9, 65_536]) {
      const ref = await run(false, cap);
      const got = await run(true, cap);
      expectEqual(got, ref, `packetCapacity ${cap}`);
      expect(ref.t.length).toBeGreaterThan(5000);
    }
  });
  it('decodes a vector-heavy file past several aligned-copy pieces (odd header) as the decoder does on the words', async () => {
    const g = { width: 640, height: 480 };
    const mix = vectorMix(91, 320_000, g); // 640 KB of words: the chunk is copied in three 256 KiB pieces
    const head = new TextEncoder().encode('% evt 3.0\n% format EVT3;height=480;width=640\n% x\n% end\n');
    expect(head.length % 2).toBe(1); // every chunk misaligned
    const bytes = new Uint8Array(head.length + 2 * mix.w.length);
    bytes.set(head);
    new Uint8Array(bytes.buffer, head.length).set(new Uint8Array(mix.w.buffer));
    const ref = drive(new Evt3Decoder(g), mix.w, 7, [65_536]);
    for (const native of [false, true]) {
      const was = setEventsNative(native);
      try {
        const r = await openEvents(bytes, { packetCapacity: 65_536, reusePackets: true });
        const x: number[] = [], y: number[] = [], t: number[] = [], p: number[] = [];
        for await (const pk of r.packets()) {
          for (let j = 0; j < pk.length; j++) {
            x.push(pk.x[j]); y.push(pk.y[j]); t.push(pk.t[j]); p.push(pk.p[j]);
          }
        }
        const counters = { ...(r as RawEventReader).counters };
        await r.close();
        const label = `native ${native}`;
        expect(t.length, label).toBe(ref.t.length);
        expect(x, label).toEqual(ref.x);
        expect(y, label).toEqual(ref.y);
        expect(t, label).toEqual(ref.t);
        expect(p, label).toEqual(ref.p);
        expect(counters, label).toEqual(ref.counters);
      } finally {
        setEventsNative(was);
      }
    }
    expect(ref.t.length).toBeGreaterThan(140_000);
  });
});
