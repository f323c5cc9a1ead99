/**
 * The native binning kernels (events_native.cc binByTime / binWindow) against the TypeScript references in
 * to-frame.ts and frame-binner.ts: identical Float32 frames and bin bounds, for sorted and shuffled input, every
 * polarity mode, exact-edge timestamps, NaN / ±Infinity / out-of-range times, coordinates outside the geometry,
 * polarity bytes other than 0/1, late events and packets split anywhere.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { eventsKernels, eventsNativeAvailable, setEventsNative } from '../../../../core/events/codecs/events-native.ts';
import { allocPacket, type EventPacket } from '../../../../core/events/packet.ts';
import { FrameBinner } from '../../../../core/events/transforms/frame-binner.ts';
import { toFrame, type PolarityMode, type ToFrameOptions } from '../../../../core/events/transforms/to-frame.ts';
import { Rng } from '../../../../core/util/rng.ts';

/** Random events with hostile extras: edges, NaN, ±Infinity, negative times, x/y beyond the sensor, p = 7. */
function hostile(seed: number, n: number, W: number, H: number, sorted: boolean): EventPacket {
  const rng = new Rng(seed);
  const pk = allocPacket(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += rng.int(7);
    const r = rng.next();
    pk.t[i] = r < 0.01 ? NaN : r < 0.015 ? Infinity : r < 0.02 ? -Infinity : r < 0.03 ? -5 : r < 0.08 ? Math.round(t / 100) * 100 : t;
    if (!sorted && rng.next() < 0.3) pk.t[i] = rng.int(t + 1);
    pk.x[i] = rng.next() < 0.02 ? W + rng.int(5) : rng.int(W);
    pk.y[i] = rng.next() < 0.02 ? H + rng.int(5) : rng.int(H);
    pk.p[i] = rng.next() < 0.02 ? 7 : rng.int(2);
  }
  pk.length = n;
  return pk;
}

/** Mostly clean sorted events (whole 256-event blocks in one bin and in range), with a few bad ones injected. */
function mostlyClean(seed: number, n: number, W: number, H: number): EventPacket {
  const rng = new Rng(seed);
  const pk = allocPacket(n);
  let t = 10;
  for (let i = 0; i < n; i++) {
    t += rng.int(3);
    pk.t[i] = t;
    pk.x[i] = rng.int(W);
    pk.y[i] = rng.int(H);
    pk.p[i] = rng.next() < 0.01 ? 200 : rng.int(2);
  }
  // A hot pixel (repeated adds to one float, in order), then a few bad events.
  for (let i = 1000; i < 3000; i++) { pk.x[i] = 3; pk.y[i] = 2; }
  pk.x[5000] = W + 1;
  pk.y[7000] = H;
  pk.t[9000] = NaN;
  pk.t[11_000] = -5;
  pk.t[100_000] -= 60_000; // late for the streaming binner
  pk.length = n;
  return pk;
}

function both<T>(fn: () => T): { ts: T; native: T } {
  const was = setEventsNative(false);
  const ts = fn();
  setEventsNative(true);
  const native = fn();
  setEventsNative(was);
  return { ts, native };
}

function expectBitsEqual(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, what).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let bad = -1;
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) {
      bad = i;
      break;
    }
  }
  expect(bad, `${what}: first difference at ${bad} (${a[bad]} vs ${b[bad]})`).toBe(-1);
}

describe.skipIf(!eventsNativeAvailable)('native binning == TypeScript binning', () => {
  afterAll(() => setEventsNative(true));

  it('toFrame and FrameBinner call the native kernels when on, and not when off', () => {
    const pk = hostile(1, 1000, 8, 8, true);
    const k = eventsKernels()!;
    const a = vi.spyOn(k, 'binByTime'), b = vi.spyOn(k, 'binWindow');
    const run = () => {
      toFrame(pk, { by: 'time', geometry: { width: 8, height: 8 }, windowUs: 100, startTime: 0 });
      new FrameBinner({ geometry: { width: 8, height: 8 }, windowUs: 100, startTime: 0 }).push(pk, () => {});
    };
    both(run);
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalled();
    a.mockRestore();
    b.mockRestore();
  });

  const modes: PolarityMode[] = ['split', 'sum', 'on-minus-off'];
  for (const polarity of modes) {
    for (const sorted of [true, false]) {
      it(`toFrame by time and by bins: ${polarity}, ${sorted ? 'sorted' : 'shuffled'} input`, () => {
        const W = 37, H = 23;
        const pk = hostile(polarity.length + (sorted ? 1 : 2), 60_000, W, H, sorted);
        const cases: ToFrameOptions[] = [
          { by: 'time', geometry: { width: W, height: H }, windowUs: 100, startTime: 0, polarity },
          { by: 'time', geometry: { width: W, height: H }, windowUs: 333.3, startTime: 17, polarity, includeIncomplete: true },
          { by: 'bins', geometry: { width: W, height: H }, bins: 7, startTime: 3, endTime: 150_000, polarity },
        ];
        for (const o of cases) {
          const r = both(() => toFrame(pk, o));
          expect(r.native.frames, JSON.stringify(o)).toBe(r.ts.frames);
          expect(r.native.frames).toBeGreaterThan(0);
          expectBitsEqual(r.native.data, r.ts.data, `${o.by} ${polarity}`);
          expect(Array.from(r.native.binStart)).toEqual(Array.from(r.ts.binStart));
          expect(Array.from(r.native.binEnd)).toEqual(Array.from(r.ts.binEnd));
          // Not vacuous: events were binned.
          let sum = 0;
          for (const v of r.native.data) sum += Math.abs(v);
          expect(sum).toBeGreaterThan(1000);
        }
      });
    }
  }

  for (const polarity of modes) {
    it(`clean blocks (the vectorized path) and the event loop agree: ${polarity}`, () => {
      const W = 64, H = 48;
      const pk = mostlyClean(40 + polarity.length, 150_000, W, H);
      const o: ToFrameOptions = { by: 'time', geometry: { width: W, height: H }, windowUs: 20_000, startTime: 0, polarity, endTime: 300_000 };
      const r = both(() => toFrame(pk, o));
      expect(r.native.frames).toBe(15);
      expectBitsEqual(r.native.data, r.ts.data, `clean ${polarity}`);
      const bin = () => {
        const b = new FrameBinner({ geometry: { width: W, height: H }, windowUs: 20_000, startTime: 0, polarity, handOut: true });
        const frames: Float32Array[] = [];
        for (let i = 0; i < pk.length; i += 40_000) {
          const e = Math.min(pk.length, i + 40_000);
          b.push({ x: pk.x.subarray(i, e), y: pk.y.subarray(i, e), t: pk.t.subarray(i, e), p: pk.p.subarray(i, e), length: e - i }, (f) => frames.push(f));
        }
        return frames;
      };
      const f = both(bin);
      expect(f.native.length).toBe(f.ts.length);
      expect(f.native.length).toBeGreaterThan(5);
      for (let k = 0; k < f.ts.length; k++) expectBitsEqual(f.native[k], f.ts[k], `binner frame ${k}`);
    });
  }

  it('toFrame into a reused buffer, and with a packet whose arrays are longer than its length', () => {
    const pk = hostile(9, 10_000, 32, 32, true);
    const short = { ...pk, length: 6000 };
    const o: ToFrameOptions = { by: 'time', geometry: { width: 32, height: 32 }, windowUs: 500, startTime: 0 };
    const r = both(() => toFrame(short, o, new Float32Array(1 << 20).fill(3)));
    expectBitsEqual(r.native.data, r.ts.data, 'reused buffer');
  });

  for (const polarity of modes) {
    it(`FrameBinner: packets split anywhere, late events, ${polarity}`, () => {
      const W = 16, H = 12;
      const pk = hostile(20 + polarity.length, 40_000, W, H, true);
      // A few late events (earlier than the frame being filled) and a gap of silent windows.
      for (let i = 5000; i < 40_000; i += 4000) pk.t[i] -= 900;
      const run = () => {
        const b = new FrameBinner({ geometry: { width: W, height: H }, windowUs: 250, startTime: 0, polarity, handOut: true });
        const frames: Array<[number, number, number, Float32Array]> = [];
        const emit = (f: Float32Array, k: number, a: number, e: number) => frames.push([k, a, e, f]);
        const rng = new Rng(5);
        for (let i = 0; i < pk.length;) {
          const m = Math.min(pk.length - i, rng.int(3000));
          b.push({ x: pk.x.subarray(i, i + m), y: pk.y.subarray(i, i + m), t: pk.t.subarray(i, i + m), p: pk.p.subarray(i, i + m), length: m }, emit);
          i += m;
        }
        b.finish(emit, 200_000, true);
        return { frames, late: b.lateEvents };
      };
      const r = both(run);
      expect(r.native.late).toBe(r.ts.late);
      expect(r.native.late).toBeGreaterThan(0);
      expect(r.native.frames.length).toBe(r.ts.frames.length);
      expect(r.native.frames.length).toBeGreaterThan(100);
      for (let k = 0; k < r.ts.frames.length; k++) {
        const [ka, a0, a1, fa] = r.native.frames[k], [kb, b0, b1, fb] = r.ts.frames[k];
        expect([ka, a0, a1]).toEqual([kb, b0, b1]);
        expectBitsEqual(fa, fb, `frame ${k}`);
      }
    });
  }
});

/**
 * The native kernels count busy bins into an int32 histogram and add it to the Float32 frame once (exact because
 * every partial sum is an integer ≤ 2^24). These cases would catch a counting bug: cells with more than 65,535
 * events, frames that already hold non-integer, −0, NaN or near-2^24 values, non-integer event values, events outside
 * the geometry, empty bins and a start time after the first events. Expected values come from a plain sequential
 * Float32 loop (Math.fround after every add), the semantics the kernels promise.
 */
describe.skipIf(!eventsNativeAvailable)('native binning: integer counting stays exact', () => {
  afterAll(() => setEventsNative(true));
  const modes: PolarityMode[] = ['split', 'sum', 'on-minus-off'];

  /** Sequential reference of the native binWindow: float adds of float values, in event order. */
  function windowRef(pk: EventPacket, frame: Float32Array, i0: number, lo: number, hi: number, W: number, H: number,
    onOffset: number, offValue: number, onDelta: number): number {
    const off = Math.fround(offValue), on = Math.fround(off + Math.fround(onDelta));
    for (let i = i0; i < pk.length; i++) {
      const t = pk.t[i];
      if (!(t >= lo && t < hi)) return i;
      if (pk.x[i] >= W || pk.y[i] >= H) continue;
      const c = (pk.p[i] !== 0 ? onOffset : 0) + pk.y[i] * W + pk.x[i];
      frame[c] = Math.fround(frame[c] + (pk.p[i] !== 0 ? on : off));
    }
    return pk.length;
  }

  /** n sorted events in [0, n) µs on a W × H sensor, every `hot`-th one on pixel (1, 1). */
  function busy(seed: number, n: number, W: number, H: number, hot = 0): EventPacket {
    const rng = new Rng(seed);
    const pk = allocPacket(n);
    for (let i = 0; i < n; i++) {
      pk.t[i] = i;
      const h = hot > 0 && i % hot === 0;
      pk.x[i] = h ? 1 : rng.int(W);
      pk.y[i] = h ? 1 : rng.int(H);
      pk.p[i] = rng.int(2);
    }
    pk.length = n;
    return pk;
  }

  it('more than 65,535 events on one cell of one bin (sum, split and on-minus-off)', () => {
    const W = 8, H = 8, n = 200_000;
    const pk = busy(70, n, W, H, 1); // every event on pixel (1, 1)
    for (const polarity of modes) {
      const o: ToFrameOptions = { by: 'time', geometry: { width: W, height: H }, windowUs: 150_000, startTime: 0, polarity };
      const r = both(() => toFrame(pk, o));
      expectBitsEqual(r.native.data, r.ts.data, `hot cell ${polarity}`);
      if (polarity === 'sum') expect(r.native.data[W + 1]).toBe(150_000);
    }
  });

  it('frames already holding non-integer, −0, NaN, huge and near-2^24 values (binWindow against a sequential loop)', () => {
    const W = 16, H = 16, cells = 2 * W * H;
    const pk = busy(71, 40_000, W, H, 3); // a third of the events on one cell (and enough events for counting)
    for (let i = 0; i < pk.length; i++) if (pk.x[i] === W - 1) pk.x[i] = 0; // column W − 1 gets no event
    const starts: Array<[string, (f: Float32Array) => void]> = [
      ['zeros', () => {}],
      ['integers', (f) => { for (let c = 0; c < cells; c++) f[c] = (c * 37) % 1000 - 500; }],
      ['one 0.5', (f) => { f[W + 1] = 0.5; }],
      ['−0 cells', (f) => { f[3] = -0; f[W - 1] = -0; f[cells - 1] = -0; }], // (the last two untouched)
      ['NaN cell', (f) => { f[7] = NaN; }],
      ['near 2^24', (f) => { f[W + 1] = 2 ** 24 - 1000; f[cells - 2] = -(2 ** 24) + 5; }],
      ['2^25', (f) => { f[5] = 2 ** 25; }],
    ];
    for (const [what, init] of starts) {
      for (const [offValue, onDelta] of [[1, 0], [-1, 2], [0.3, 0.25], [3, -7]]) {
        const a = new Float32Array(cells), b = new Float32Array(cells);
        init(a);
        init(b);
        const k = eventsKernels()!;
        const end = k.binWindow(pk.x, pk.y, pk.t, pk.p, pk.length, a, 100, 100, 30_000, W, H, W * H, offValue, onDelta);
        const endRef = windowRef(pk, b, 100, 100, 30_000, W, H, W * H, offValue, onDelta);
        expect(end, what).toBe(endRef);
        expectBitsEqual(a, b, `${what}, values ${offValue}/${onDelta}`);
      }
    }
    // Not vacuous: the hot cell passed 2^24 in the sequential loop only where it started near it (saturates there).
    const f = new Float32Array(cells);
    f[W + 1] = 2 ** 24 - 1000;
    eventsKernels()!.binWindow(pk.x, pk.y, pk.t, pk.p, pk.length, f, 0, 0, 30_000, W, H, W * H, 1, 0);
    expect(f[W + 1] + f[W * H + W + 1]).toBeGreaterThanOrEqual(2 ** 24);
  });

  it('busy bins with empty bins between, events outside the geometry and a start after the first events', () => {
    const W = 16, H = 12;
    const pk = busy(72, 60_000, W, H, 5);
    // Silence (empty bins) in the middle, events beyond the sensor, a late start and a few out-of-order events.
    for (let i = 20_000; i < 60_000; i++) pk.t[i] += 40_000;
    for (let i = 0; i < 60_000; i += 97) pk.x[i] = W + (i % 3);
    for (let i = 50; i < 60_000; i += 131) pk.y[i] = H;
    for (let i = 30_000; i < 60_000; i += 5003) pk.t[i] = 1234;
    for (const polarity of modes) {
      for (const startTime of [0, 777, 10_001.5]) {
        const o: ToFrameOptions = { by: 'time', geometry: { width: W, height: H }, windowUs: 4000, startTime, polarity };
        const r = both(() => toFrame(pk, o));
        expect(r.native.frames).toBe(r.ts.frames);
        expectBitsEqual(r.native.data, r.ts.data, `${polarity} start ${startTime}`);
        // Empty bins exist and stay zero.
        const plane = r.native.channels * W * H;
        let empty = 0;
        for (let k = 0; k < r.native.frames; k++) {
          if (r.native.data.subarray(k * plane, (k + 1) * plane).every((v) => v === 0)) empty++;
        }
        expect(empty).toBeGreaterThan(5);
      }
      const bin = () => {
        const b = new FrameBinner({ geometry: { width: W, height: H }, windowUs: 4000, startTime: 777, polarity, handOut: true });
        const frames: Float32Array[] = [];
        b.push(pk, (f) => frames.push(f));
        b.finish((f) => frames.push(f), 110_000, true);
        return { frames, late: b.lateEvents };
      };
      const f = both(bin);
      expect(f.native.late).toBe(f.ts.late);
      expect(f.native.frames.length).toBe(f.ts.frames.length);
      for (let k = 0; k < f.ts.frames.length; k++) expectBitsEqual(f.native.frames[k], f.ts.frames[k], `binner ${polarity} ${k}`);
    }
  });
});
