/**
 * Streaming ToFrame for live input: feed packets in time order, get each (P, H, W) frame of a fixed time window
 * as soon as an event (or `advanceTo`) shows that its window has passed. Memory is one frame, whatever the
 * stream length. Same bin edges and same arithmetic as the batch `toFrame({ by: 'time' })`: concatenating the
 * emitted frames gives the batch (T, P, H, W) stack exactly (tests hold them equal).
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { columnsHold, polarityCoding, type PolarityCoding, type PolarityMode } from './to-frame.ts';
import { checkKernel, eventsKernels, type EventsKernels } from '../codecs/events-native.ts';
import { checkFinite, checkGeometry } from './types.ts';

export interface FrameBinnerOptions {
  geometry: SensorGeometry;
  windowUs: number;
  /** Start of bin 0 (µs): explicit, so live and offline bins line up (tonic#264). */
  startTime: number;
  /** Default 'split' (P = 2). */
  polarity?: PolarityMode;
  /**
   * Most frames one event or `advanceTo` may complete at once (default 2^20, 7 h of 25 ms frames). A corrupt
   * timestamp far ahead then throws a RangeError instead of emitting empty frames for ever.
   */
  maxFramesPerStep?: number;
  /**
   * false (default): one buffer is reused, the emitted frame is valid only during the callback (copy it to keep
   * it). true: every frame is a new Float32Array owned by the receiver.
   */
  handOut?: boolean;
}

/** Receives frame `index` covering [binStart, binEnd) µs; `frame` is (P, H, W). */
export type FrameSink = (frame: Float32Array, index: number, binStart: number, binEnd: number) => void;

export class FrameBinner {
  readonly geometry: Readonly<SensorGeometry>;
  readonly windowUs: number;
  readonly startTime: number;
  readonly channels: number;
  readonly handOut: boolean;
  readonly maxFramesPerStep: number;
  /** Events older than the frame being filled (its predecessors were already emitted): counted, not binned. */
  lateEvents = 0;
  private readonly coding: PolarityCoding;
  private frame: Float32Array;
  /** Index of the frame being filled. */
  private k = 0;
  private finished = false;

  constructor(opts: FrameBinnerOptions) {
    checkGeometry(opts.geometry);
    checkFinite(opts.windowUs, 'windowUs');
    if (!(opts.windowUs > 0)) throw new RangeError(`windowUs must be > 0, got ${opts.windowUs}`);
    checkFinite(opts.startTime, 'startTime');
    this.geometry = Object.freeze({ width: opts.geometry.width, height: opts.geometry.height });
    this.windowUs = opts.windowUs;
    this.startTime = opts.startTime;
    this.coding = polarityCoding(opts.polarity ?? 'split', opts.geometry.width * opts.geometry.height);
    this.channels = this.coding.channels;
    this.handOut = opts.handOut ?? false;
    this.maxFramesPerStep = opts.maxFramesPerStep ?? 2 ** 20;
    this.frame = new Float32Array(this.channels * opts.geometry.width * opts.geometry.height);
  }

  /** Index of the frame currently being filled (= number of frames emitted so far). */
  get frameIndex(): number {
    return this.k;
  }

  /** Start of bin k: the same expression as the batch kernel, so edges match bit for bit. */
  binStart(k: number): number {
    return this.startTime + k * this.windowUs;
  }

  /** Bins a packet; emits every frame whose window ends at or before an event of this packet. */
  push(pk: EventPacket, emit: FrameSink): void {
    if (this.finished) throw new Error('FrameBinner: push after finish');
    const k = eventsKernels();
    if (k && columnsHold(pk)) this.pushNative(k, pk, emit);
    else this.pushTs(pk, emit);
  }

  /**
   * `pushTs` with the inner loop in the addon: `binWindow` bins events while they fall in the current window and
   * stops at the first that does not; that event is handled here exactly as pushTs handles it.
   */
  private pushNative(kern: EventsKernels, pk: EventPacket, emit: FrameSink): void {
    const { x, y, t, p } = pk;
    const n = pk.length;
    const W = this.geometry.width, H = this.geometry.height;
    const { onOffset, offValue, onDelta } = this.coding;
    let i = 0;
    while (i < n) {
      const lo = this.binStart(this.k), hi = this.binStart(this.k + 1);
      i = checkKernel(kern.binWindow(x, y, t, p, n, this.frame, i, lo, hi, W, H, onOffset, offValue, onDelta), 'binWindow');
      if (i >= n) break;
      const ti = t[i];
      if (!(ti >= lo)) {
        if (ti >= this.startTime) this.lateEvents++;
        i++;
      } else if (ti === Infinity) {
        i++;
      } else {
        this.emitUntil(ti, emit); // event i now falls in the current window: the next binWindow call bins it
      }
    }
  }

  /** The TypeScript reference of push (tests hold pushNative equal to it). */
  private pushTs(pk: EventPacket, emit: FrameSink): void {
    const { x, y, t, p } = pk;
    const n = pk.length;
    const W = this.geometry.width, H = this.geometry.height;
    const { onOffset, offValue, onDelta } = this.coding;
    let frame = this.frame;
    let lo = this.binStart(this.k), hi = this.binStart(this.k + 1);
    for (let i = 0; i < n; i++) {
      const ti = t[i];
      if (!(ti >= lo && ti < hi)) {
        if (!(ti >= lo)) {
          // Before the current window (or NaN): before startTime is ignored (as in batch); later is a late event.
          if (ti >= this.startTime) this.lateEvents++;
          continue;
        }
        if (ti === Infinity) continue; // never completes a frame; dropped like any out-of-range event
        this.emitUntil(ti, emit);
        frame = this.frame;
        lo = this.binStart(this.k);
        hi = this.binStart(this.k + 1);
      }
      const xi = x[i], yi = y[i];
      if (xi >= W || yi >= H) continue; // outside the declared geometry: dropped, like batch
      const on = -p[i] >> 31; // branch-free polarity, as in to-frame.ts
      frame[(on & onOffset) + yi * W + xi] += offValue + (on & onDelta);
    }
  }

  /** Time has reached `t` (µs) with no further event before it: emits every frame that ends at or before t. */
  advanceTo(t: number, emit: FrameSink): void {
    if (this.finished) throw new Error('FrameBinner: advanceTo after finish');
    if (t >= this.binStart(this.k + 1)) this.emitUntil(t, emit);
  }

  /**
   * Ends the stream at `endTime` (exclusive): emits the frames that end by then and, with `includeIncomplete`,
   * the partial frame in which endTime falls — the same frames batch `toFrame` gives for that endTime.
   */
  finish(emit: FrameSink, endTime: number, includeIncomplete = false): void {
    if (this.finished) throw new Error('FrameBinner: finish called twice');
    checkFinite(endTime, 'endTime');
    this.advanceTo(endTime, emit);
    this.finished = true;
    const a = this.binStart(this.k);
    if (includeIncomplete && endTime > a) emit(this.frame, this.k, a, endTime);
  }

  /** Emits frames k, k+1, … while frame k's window ends at or before t (later frames are empty). */
  private emitUntil(t: number, emit: FrameSink): void {
    const steps = Math.floor((t - this.binStart(this.k)) / this.windowUs);
    if (!(steps <= this.maxFramesPerStep)) {
      throw new RangeError(
        `FrameBinner: time ${t} µs is ${steps} frames past frame ${this.k} (limit maxFramesPerStep = ${this.maxFramesPerStep})`,
      );
    }
    while (t >= this.binStart(this.k + 1)) {
      const k = this.k;
      emit(this.frame, k, this.binStart(k), this.binStart(k + 1));
      this.k = k + 1;
      if (this.handOut) this.frame = new Float32Array(this.frame.length);
      else this.frame.fill(0);
    }
  }
}
