/**
 * THE event preprocessing of gesture models: (events, window start) → one sample of T frames, driven only by the
 * bundle's `preprocessing` object (core/model/config.ts). Training, `egru eval` and live inference all call
 * `WindowBinner.bin`, so a model sees exactly the same input everywhere.
 *
 * Pipeline per window [start, start + windowUs):
 *   crop (optional box, sensor coordinates) → downsample to `frame` (integer factor, events summed per cell) →
 *   ToFrame with `binUs` bins starting at the window start (explicit start, tonic#264) → polarity handling →
 *   counts ÷ divideBy, then clipped → frames [T, P·h·w] in 'pyx' order, kept sparse (event frames are mostly
 *   zero, and the EGRU kernel skips zero inputs).
 *
 * Windows (spec §8.1): each labelled interval [s, e) is cut into non-overlapping windows s + k·windowUs; a window
 * that would reach past e is dropped. Rows are independent: overlapping or repeated rows each give their own
 * windows, slicing `start <= t < end`.
 */
import type { Preprocessing } from '../../model/config.ts';
import type { EventPacket, SensorGeometry } from '../../events/packet.ts';
import { allocPacket, viewPacket } from '../../events/packet.ts';
import type { GestureLabel } from '../../events/labels.ts';
import { cropEvents } from '../../events/transforms/crop.ts';
import { downsampleEvents, downsampleMaps } from '../../events/transforms/downsample.ts';
import type { DownsampleMaps } from '../../events/transforms/downsample.ts';
import { toFrame } from '../../events/transforms/to-frame.ts';
import { lowerBound } from '../../events/transforms/types.ts';

export type EventFramesPreprocessing = Extract<Preprocessing, { kind: 'event-frames' }>;

/**
 * Defaults for DVS128 Gesture on a CPU: the spec's 1.7 s windows of 25 ms bins (T = 68), the 128×128 sensor
 * downsampled 4× to 32×32, both polarities kept as channels, counts ÷ 19 (the spec's training divisor).
 */
export const DEFAULT_GESTURE_PREPROCESSING: EventFramesPreprocessing = Object.freeze({
  kind: 'event-frames',
  sensor: { width: 128, height: 128 },
  crop: null,
  frame: { width: 32, height: 32 },
  binUs: 25_000,
  windowUs: 1_700_000,
  polarity: 'split',
  normalisation: { divideBy: 19, clip: null },
  layout: 'pyx',
}) as EventFramesPreprocessing;

/** Partial settings over the defaults, validated. */
export function gesturePreprocessing(o: Partial<Omit<EventFramesPreprocessing, 'kind' | 'layout'>> = {}): EventFramesPreprocessing {
  const d = DEFAULT_GESTURE_PREPROCESSING;
  return checkEventFrames({
    kind: 'event-frames',
    sensor: { ...(o.sensor ?? d.sensor) },
    crop: o.crop === undefined ? d.crop : o.crop === null ? null : { ...o.crop },
    frame: { ...(o.frame ?? d.frame) },
    binUs: o.binUs ?? d.binUs,
    windowUs: o.windowUs ?? d.windowUs,
    polarity: o.polarity ?? d.polarity,
    normalisation: { ...(o.normalisation ?? d.normalisation) },
    layout: 'pyx',
  });
}

/** Throws a RangeError naming the bad field; returns the object unchanged when valid. */
export function checkEventFrames(p: Preprocessing): EventFramesPreprocessing {
  const bad = (what: string, v: unknown) => new RangeError(`preprocessing: ${what}, got ${JSON.stringify(v)}`);
  if (!p || p.kind !== 'event-frames') throw bad("kind must be 'event-frames'", (p as { kind?: unknown })?.kind);
  const side = (v: number) => Number.isInteger(v) && v >= 1 && v <= 65536;
  if (!p.sensor || !side(p.sensor.width) || !side(p.sensor.height)) throw bad('sensor must be {width, height} in 1..65536', p.sensor);
  const src = p.crop ?? { x: 0, y: 0, width: p.sensor.width, height: p.sensor.height };
  if (p.crop !== null) {
    const c = p.crop;
    if (!c || !Number.isInteger(c.x) || !Number.isInteger(c.y) || c.x < 0 || c.y < 0 || !side(c.width) || !side(c.height)) throw bad('crop must be null or an integer box', c);
    if (c.x + c.width > p.sensor.width || c.y + c.height > p.sensor.height) throw bad('crop box must lie inside the sensor', c);
  }
  if (!p.frame || !side(p.frame.width) || !side(p.frame.height)) throw bad('frame must be {width, height}', p.frame);
  if (src.width % p.frame.width !== 0 || src.height % p.frame.height !== 0) {
    throw bad(`frame must divide the (cropped) ${src.width}×${src.height} sensor by an integer factor`, p.frame);
  }
  if (!(Number.isInteger(p.binUs) && p.binUs > 0)) throw bad('binUs must be a positive integer (µs)', p.binUs);
  if (!(Number.isInteger(p.windowUs) && p.windowUs > 0)) throw bad('windowUs must be a positive integer (µs)', p.windowUs);
  if (p.windowUs % p.binUs !== 0) throw bad(`windowUs must be a multiple of binUs (${p.binUs})`, p.windowUs);
  if (!['split', 'merge-sum', 'merge-mean', 'on-only', 'off-only'].includes(p.polarity)) throw bad("polarity must be 'split' | 'merge-sum' | 'merge-mean' | 'on-only' | 'off-only'", p.polarity);
  const n = p.normalisation;
  if (!n || !(n.divideBy > 0 && Number.isFinite(n.divideBy))) throw bad('normalisation.divideBy must be > 0', n?.divideBy);
  if (n.clip !== null && !(n.clip > 0)) throw bad('normalisation.clip must be null or > 0', n.clip);
  if (p.layout !== 'pyx') throw bad("layout must be 'pyx'", p.layout);
  const T = p.windowUs / p.binUs;
  if (T * channelsOf(p) * p.frame.width * p.frame.height >= 2 ** 32) throw bad('T·C must be below 2^32', T);
  return p;
}

/** P: channels per step. */
export function channelsOf(p: EventFramesPreprocessing): number {
  return p.polarity === 'split' ? 2 : 1;
}

/** T: steps per window. */
export function stepsOf(p: EventFramesPreprocessing): number {
  return p.windowUs / p.binUs;
}

/** C = P·h·w: values per step. */
export function inputSizeOf(p: EventFramesPreprocessing): number {
  return channelsOf(p) * p.frame.width * p.frame.height;
}

/** One window: where it starts, its class, and which label row it came from. */
export interface LabeledWindow {
  startUs: number;
  label: number;
  row: number;
}

/** Complete windows of each labelled row, in row order (rows independent: overlaps and repeats allowed). */
export function windowsForLabels(labels: readonly GestureLabel[], windowUs: number): LabeledWindow[] {
  const out: LabeledWindow[] = [];
  labels.forEach((l, row) => {
    for (let s = l.startUs; s + windowUs <= l.endUs; s += windowUs) out.push({ startUs: s, label: l.classIndex, row });
  });
  return out;
}

/** A window's frames as non-zeros: entry k is value v[k] at step t[k], input c[k] (c in 'pyx' order). */
export interface SparseFrames {
  T: number;
  C: number;
  t: Uint32Array;
  c: Uint32Array;
  v: Float32Array;
}

/** Dense [T, C] row-major copy of sparse frames. */
export function densify(s: SparseFrames, out = new Float32Array(s.T * s.C)): Float32Array {
  out.fill(0);
  for (let k = 0; k < s.v.length; k++) out[s.t[k] * s.C + s.c[k]] = s.v[k];
  return out;
}

/**
 * Turns windows of a recording into model input. Holds scratch buffers (grown on demand, reused), so binning a
 * recording allocates only the output arrays. Not thread-safe: one binner per worker.
 */
export class WindowBinner {
  readonly prep: EventFramesPreprocessing;
  readonly T: number;
  readonly C: number;
  private readonly maps: DownsampleMaps;
  private readonly cropGeom: SensorGeometry;
  private scratch = allocPacket(0);
  private frames = new Float32Array(0);

  constructor(prep: Preprocessing) {
    this.prep = checkEventFrames(prep);
    const p = this.prep;
    this.cropGeom = p.crop ? { width: p.crop.width, height: p.crop.height } : { ...p.sensor };
    this.maps = downsampleMaps(this.cropGeom, { target: p.frame });
    this.T = stepsOf(p);
    this.C = inputSizeOf(p);
  }

  /**
   * Frames of the window [startUs, startUs + windowUs) of `pk`, whose timestamps must be non-decreasing (the
   * window is found by binary search; events outside it are ignored, so `pk` may be a whole recording or a
   * live ring buffer).
   */
  bin(pk: EventPacket, startUs: number): SparseFrames {
    const p = this.prep;
    const i0 = lowerBound(pk.t, pk.length, startUs);
    const i1 = lowerBound(pk.t, pk.length, startUs + p.windowUs);
    const n = i1 - i0;
    if (this.scratch.x.length < n) this.scratch = allocPacket(Math.max(n, 2 * this.scratch.x.length));
    let cur = viewPacket(pk, i0, i1);
    if (p.crop) cur = cropEvents(cur, p.crop, this.scratch);
    cur = downsampleEvents(cur, this.maps, this.scratch);
    const w = p.frame.width;
    const h = p.frame.height;
    const plane = w * h;
    // 'split' and the single-polarity modes bin both channels; the merges bin straight into one channel.
    const mode = p.polarity === 'merge-sum' || p.polarity === 'merge-mean' ? 'sum' : 'split';
    const P2 = mode === 'split' ? 2 : 1;
    if (this.frames.length < this.T * P2 * plane) this.frames = new Float32Array(this.T * P2 * plane);
    const st = toFrame(cur, { by: 'time', geometry: p.frame, windowUs: p.binUs, startTime: startUs, endTime: startUs + p.windowUs, polarity: mode }, this.frames);
    if (st.frames !== this.T) throw new Error(`internal: ToFrame gave ${st.frames} bins, expected ${this.T}`);
    const d = st.data;
    // Which source channel range feeds the output, and with what scale.
    const scale = (p.polarity === 'merge-mean' ? 0.5 : 1) / p.normalisation.divideBy;
    const clip = p.normalisation.clip ?? Infinity;
    const srcOff = p.polarity === 'on-only' ? plane : 0; // channel 1 = ON, 0 = OFF
    const C = this.C;
    const srcStride = P2 * plane;
    let nnz = 0;
    for (let k = 0; k < this.T; k++) {
      const b = k * srcStride + srcOff;
      for (let j = 0; j < C; j++) if (d[b + j] !== 0) nnz++;
    }
    const tt = new Uint32Array(nnz);
    const cc = new Uint32Array(nnz);
    const vv = new Float32Array(nnz);
    let q = 0;
    for (let k = 0; k < this.T; k++) {
      const b = k * srcStride + srcOff;
      for (let j = 0; j < C; j++) {
        const raw = d[b + j];
        if (raw === 0) continue;
        tt[q] = k;
        cc[q] = j;
        vv[q] = Math.min(raw * scale, clip);
        q++;
      }
    }
    return { T: this.T, C, t: tt, c: cc, v: vv };
  }
}

/** Returns `pk` if its timestamps never decrease, else a time-sorted copy (stable). */
export function sortedByTime(pk: EventPacket): EventPacket {
  const t = pk.t;
  let sorted = true;
  for (let i = 1; i < pk.length; i++) {
    if (t[i] < t[i - 1]) {
      sorted = false;
      break;
    }
  }
  if (sorted) return pk;
  const idx = new Uint32Array(pk.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => t[a] - t[b] || a - b);
  const out = allocPacket(pk.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    out.x[i] = pk.x[j];
    out.y[i] = pk.y[j];
    out.t[i] = pk.t[j];
    out.p[i] = pk.p[j];
  }
  out.length = pk.length;
  return out;
}
