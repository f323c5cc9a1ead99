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
