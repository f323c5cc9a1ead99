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
});
