import { describe, expect, it } from 'vitest';
import { MemoryByteSource, type ByteSource } from '../../../../core/events/byte-source.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import { Evt3Decoder, evt3Format } from '../../../../core/events/formats/evt3.ts';
import type { RawEventReader, RawReaderOptions } from '../../../../core/events/formats/prophesee-raw.ts';
import { allocPacket, type EventPacket } from '../../../../core/events/packet.ts';
import { readAll } from '../../../../core/events/reader.ts';
import { Rng } from '../../../../core/util/rng.ts';
import { encodeEvt3 } from '../../../helpers/evt3-encoder.ts';
import { fuzzReader } from '../../../helpers/fuzz.ts';

/** Header + 16-bit LE words. */
function raw(header: string, words: number[], extraBytes: number[] = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(h.length + words.length * 2 + extraBytes.length);
  out.set(h);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint16(h.length + 2 * i, w, true));
  out.set(extraBytes, h.length + words.length * 2);
  return out;
}

function tuples(pk: EventPacket): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < pk.length; i++) out.push([pk.t[i], pk.x[i], pk.y[i], pk.p[i]]);
  return out;
}

/**
 * Synthetic events like a sensor's: bursts of pixels on one row at one time (vectorisable), random singles,
 * time steps of 0..40 µs, and optional long gaps (to push the 24-bit clock through its loop).
 */
function synth(seed: number, n: number, opts: { width?: number; height?: number; gapEvery?: number; gapUs?: number; t0?: number } = {}): EventPacket {
  const rng = new Rng(seed);
  const W = opts.width ?? 1280, H = opts.height ?? 720;
  const pk = allocPacket(n);
  let t = opts.t0 ?? 1000;
  let i = 0;
  let nextGap = opts.gapEvery ?? Infinity;
  while (i < n) {
    if (i >= nextGap) {
      t += opts.gapUs ?? 20_000_000;
      nextGap += opts.gapEvery!;
    }
    t += rng.int(40);
    if (rng.next() < 0.4) {
      // A burst on one row: increasing x within 32 columns, same t and polarity.
      const y = rng.int(H), p = rng.int(2);
      let x = rng.int(W - 40);
      const k = 2 + rng.int(12);
      for (let j = 0; j < k && i < n; j++) {
        pk.t[i] = t; pk.x[i] = x; pk.y[i] = y; pk.p[i] = p; i++;
        x += 1 + rng.int(3);
      }
    } else {
      pk.t[i] = t; pk.x[i] = rng.int(W); pk.y[i] = rng.int(H); pk.p[i] = rng.int(2); i++;
    }
  }
  pk.length = n;
  return pk;
}

/** Opens with the EVT3 reader itself (detection by content is tested separately through openEvents). */
async function open(bytes: Uint8Array | ByteSource, opts: RawReaderOptions = {}): Promise<RawEventReader> {
  const src = bytes instanceof Uint8Array ? new MemoryByteSource(bytes) : bytes;
  return (await evt3Format.open(src, opts)) as RawEventReader;
}

async function decode(bytes: Uint8Array | ByteSource, opts: RawReaderOptions = {}): Promise<{ pk: EventPacket; reader: RawEventReader }> {
  const reader = await open(bytes, opts);
  const pk = await readAll(reader);
  await reader.close();
  return { pk, reader };
}

/** A source that hands out at most `step` bytes per read: chunk boundaries everywhere, odd counts included. */
function trickle(bytes: Uint8Array, step: number): ByteSource {
  const m = new MemoryByteSource(bytes, '<trickle>');
  return { name: m.name, size: m.size, read: (pos, len) => m.read(pos, Math.min(len, step)), close: () => m.close() };
}

const HEADER = '% evt 3.0\n% format EVT3;height=480;width=640\n% end\n';

/** Hand-assembled words (independent of the encoder), with the events worked out by hand below. */
const HAND_WORDS = [
  0x2005, // ADDR_X x=5 before any TIME_HIGH: dropped (no time base)
  0x0010, // ADDR_Y 16 before TIME_HIGH: ignored
  0x8001, // TIME_HIGH 1 → 4096 µs
  0x6064, // TIME_LOW 100 → 4196
  0x2805, // ADDR_X with no row since the first TIME_HIGH: dropped (invalid)
  0x0011, // ADDR_Y 17
  0x2807, // ADDR_X 7 ON → (4196, 7, 17, 1)
  0x6060, // TIME_LOW 96: a step BACK of 4 µs, not an overflow → 4192
  0x2008, // ADDR_X 8 OFF → (4192, 8, 17, 0)
  0x3064, // VECT_BASE_X 100, OFF
  0x4005, // VECT_12 0b101 → x 100, 102; base → 112
  0x4800, // VECT_12 bit 11 → x 123; base → 124
  0x5081, // VECT_8 0x81 → x 124, 131; base → 132
  0x7abc, // CONTINUED_4: skipped
  0xe014, // OTHERS (ERC counter): skipped
  0xf123, // CONTINUED_12: skipped
  0xa301, // EXT_TRIGGER channel 3 value 1 at 4192
  0x8001, // TIME_HIGH 1 repeated: time low kept → still 4192
  0x2009, // ADDR_X 9 → (4192, 9, 17, 0)
  0x01e0, // ADDR_Y 480 ≥ height: row invalid
  0x200a, // dropped (invalid)
  0x0812, // ADDR_Y 18 of a slave camera (bit 11): not a CD row of ours
  0x200b, // dropped (invalid)
  0x0012, // ADDR_Y 18
  0x8fff, // TIME_HIGH 4095 → 16,773,120; time low reset to 0
  0x2a80, // ADDR_X 640 ON ≥ width: dropped (invalid)
  0x2a7f, // ADDR_X 639 ON → (16773120, 639, 18, 1)
  0x8000, // TIME_HIGH 0 after 4095: the 24-bit clock looped → 2^24
  0x6005, // TIME_LOW 5 → 16,777,221
  0x2001, // ADDR_X 1 → (16777221, 1, 18, 0)
  0x8ff0, // TIME_HIGH 4080: forward 4080 units → 2^24 + 4080·4096 = 33,488,896
  0x2002, // → (33488896, 2, 18, 0)
  0x8001, // TIME_HIGH 1 after 4080: a loop after a short gap (17 units) → 2·2^24 + 4096 = 33,558,528
  0x2003, // → (33558528, 3, 18, 0)
];
const HAND_EVENTS = [
  [4196, 7, 17, 1], [4192, 8, 17, 0], [4192, 100, 17, 0], [4192, 102, 17, 0], [4192, 123, 17, 0],
  [4192, 124, 17, 0], [4192, 131, 17, 0], [4192, 9, 17, 0], [16773120, 639, 18, 1], [16777221, 1, 18, 0],
  [33488896, 2, 18, 0], [33558528, 3, 18, 0],
];

describe('EVT 3.0 reader', () => {
  it('decodes a hand-assembled word sequence to hand-computed events', async () => {
    const triggers: number[][] = [];
    const { pk, reader } = await decode(raw(HEADER, HAND_WORDS, [0x42]), {
      onTrigger: (t, ch, v) => triggers.push([t, ch, v]),
    });
    expect(reader.info.format).toBe('evt3');
    expect(reader.info.geometry).toEqual({ width: 640, height: 480 });
    expect(tuples(pk)).toEqual(HAND_EVENTS);
    expect(triggers).toEqual([[4192, 3, 1]]);
    expect(reader.counters).toEqual({ droppedBeforeTimeHigh: 1, droppedInvalid: 4, triggers: 1, timeLoops: 2, otherWords: 3 });
    expect(reader.warnings.some((w) => /1 byte\(s\) at the end/.test(w))).toBe(true);
    expect(reader.warnings.some((w) => /before the first TIME_HIGH/.test(w))).toBe(true);
  });

  it('applies Metavision time shifting only when asked', async () => {
    const { pk } = await decode(raw(HEADER, HAND_WORDS), { timeShift: true });
    expect(tuples(pk)).toEqual(HAND_EVENTS.map(([t, x, y, p]) => [t - 4096, x, y, p]));
  });

  it('carries decoder state across chunk boundaries, odd byte counts and a misaligned header', async () => {
    const oddHeader = '% evt 3.0\n% format EVT3;height=480;width=640\n% x\n'; // odd length: words start misaligned
    const bytes = raw(oddHeader, HAND_WORDS);
    expect((bytes.length - (bytes.length - HAND_WORDS.length * 2)) % 2).toBe(0);
    expect(new TextEncoder().encode(oddHeader).length % 2).toBe(1);
    for (const step of [1, 3, 7, 64]) {
      const reader = await open(trickle(bytes, step));
      expect(tuples(await readAll(reader))).toEqual(HAND_EVENTS);
    }
  });

  it('splits a vector across packets when the packet fills mid-vector', async () => {
    for (const cap of [1, 2, 3, 5]) {
      const reader = await open(raw(HEADER, HAND_WORDS), { packetCapacity: cap });
      const sizes: number[] = [];
      const parts: number[][] = [];
      for await (const pk of reader.packets()) {
        sizes.push(pk.length);
        parts.push(...tuples(pk));
      }
      expect(parts).toEqual(HAND_EVENTS);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(cap);
    }
  });

  it('round-trips encoder output: vectors, repeated TIME_HIGH, TIME_LOW step-backs, loops past 2^24 µs', async () => {
    for (const vectorize of [false, true]) {
      const ev = synth(7, 20_000, { gapEvery: 4000, gapUs: 15_000_000 });
      expect(ev.t[ev.length - 1]).toBeGreaterThan(3 * 2 ** 24); // several loops of the 24-bit clock
      const bytes = encodeEvt3(ev, { vectorize });
      const { pk, reader } = await decode(bytes);
      expect(pk.length).toBe(ev.length);
      expect(Array.from(pk.t)).toEqual(Array.from(ev.t.subarray(0, ev.length)));
      expect(Array.from(pk.x)).toEqual(Array.from(ev.x));
      expect(Array.from(pk.y)).toEqual(Array.from(ev.y));
      expect(Array.from(pk.p)).toEqual(Array.from(ev.p));
      expect(reader.counters.timeLoops).toBe(Math.floor(ev.t[ev.length - 1] / 2 ** 24));
      expect(reader.warnings).toEqual([]);
      // The encoder really exercised what it claims: vector words and TIME_LOW step-backs are present.
      const words = new Uint16Array(bytes.slice(reader.info.dataOffset).buffer);
      let vec = 0, steps = 0, repeats = 0, lastTl = -1, lastTh = -1;
      for (const w of words) {
        const ty = w >>> 12;
        if (ty === 4 || ty === 5) vec++;
        if (ty === 6) { if ((w & 0xfff) < lastTl) steps++; lastTl = w & 0xfff; }
        if (ty === 8) { if ((w & 0xfff) === lastTh) repeats++; lastTh = w & 0xfff; }
      }
      expect(vec > 0).toBe(vectorize);
      expect(steps).toBeGreaterThan(0);
      expect(repeats).toBeGreaterThan(0);
    }
  });

  it('keeps time from a repeated TIME_HIGH and resets time low on a new one', async () => {
    const words = [0x8002, 0x0005, 0x6010, 0x2001, 0x8002, 0x2002, 0x8003, 0x2003];
    const { pk } = await decode(raw(HEADER, words));
    expect(tuples(pk)).toEqual([[2 * 4096 + 16, 1, 5, 0], [2 * 4096 + 16, 2, 5, 0], [3 * 4096, 3, 5, 0]]);
  });

  it('restricts to a time range', async () => {
    const reader = await open(raw(HEADER, HAND_WORDS));
    const pk = await readAll(reader, { from: 4192, to: 16777222 });
    expect(tuples(pk)).toEqual(HAND_EVENTS.filter(([t]) => t >= 4192 && t < 16777222));
  });

  it('resolves the sensor size: format line, geometry line, plugin, default, option', async () => {
    const words = [0x8000];
    const g = async (h: string, o: RawReaderOptions = {}) => (await open(raw(h, words), o)).info.geometry;
    expect(await g('% evt 3.0\n% format EVT3;height=320;width=320\n')).toEqual({ width: 320, height: 320 });
    expect(await g('% evt 3.0\n% geometry 1280x720\n')).toEqual({ width: 1280, height: 720 });
    expect(await g('% evt 3.0\n% plugin_name hal_plugin_imx636_evk4\n')).toEqual({ width: 1280, height: 720 });
    expect(await g('% evt 3.0\n% plugin_name hal_plugin_gen3_fx3\n')).toEqual({ width: 640, height: 480 });
    const r = await open(raw('% date 2020\n% evt 3.0\n', words));
    expect(r.info.geometry).toEqual({ width: 1280, height: 720 });
    expect(r.warnings.join(' ')).toMatch(/assuming 1280×720/);
    expect(await g('% evt 3.0\n% geometry 1280x720\n', { geometry: { width: 100, height: 50 } })).toEqual({ width: 100, height: 50 });
  });

  it('is detected by content through openEvents (format line or evt line)', async () => {
    const words = [0x8000, 0x0001, 0x2002];
    for (const h of ['% evt 3.0\n', '% format EVT3;height=720;width=1280\n']) {
      const r = await openEvents(raw(h, words));
      expect(r.info.format).toBe('evt3');
      expect(tuples(await readAll(r))).toEqual([[0, 2, 1, 0]]);
    }
  });

  it('probes: claims EVT 3.0 headers, not EVT 2.0 or DAT ones', () => {
    const b = (s: string) => new TextEncoder().encode(s);
    expect(evt3Format.probe(b('% evt 3.0\n'), 10)).toBeGreaterThan(0.9);
    expect(evt3Format.probe(b('% evt 2.0\n'), 10)).toBe(0);
    expect(evt3Format.probe(b('% Data file containing CD events\n% Version 2\n'), 40)).toBe(0);
    expect(evt3Format.probe(b('#!AER-DAT4.0\r\n'), 14)).toBe(0);
  });

  it('decodes words directly with Evt3Decoder (live-stream use)', () => {
    const dec = new Evt3Decoder({ width: 640, height: 480 });
    const out = allocPacket(64);
    const w = new Uint16Array(HAND_WORDS);
    // Feed in two pieces split inside a vector group: state must carry over.
    const i = dec.decode(w, 0, 11, out);
    expect(i).toBe(11);
    dec.decode(w, 11, w.length, out);
    expect(tuples(out)).toEqual(HAND_EVENTS);
  });

  it('survives fuzzing (≥ 2000 mutated inputs): typed errors or valid packets only', async () => {
    const samples = [
      encodeEvt3(synth(1, 600, { width: 640, height: 480 }), { width: 640, height: 480, vectorize: true }),
      encodeEvt3(synth(2, 400), { vectorize: false }),
      raw(HEADER, HAND_WORDS),
    ];
    const res = await fuzzReader({ format: 'evt3', samples, mutations: 2400, seed: 3, open: (b) => open(b) });
    expect(res.cases).toBeGreaterThanOrEqual(2400);
  });
});
