/**
 * Training-time augmentation of event windows: small pure kernels over struct-of-arrays events (no object per
 * event), applied to a window's raw events BEFORE binning, so an augmented window goes through exactly the same
 * preprocessing (crop, downsample, ToFrame, normalisation) as every other input.
 *
 * Per sample and epoch one `AugmentParams` is drawn from an `Rng` seeded by (config seed, epoch, sample index):
 *   - spatial: scale (zoom in/out ≈ random crop / resize) and a small rotation about the sensor centre, then a
 *     translation; events mapped outside the sensor are dropped. NEVER a horizontal flip: DVS128 Gesture has
 *     left/right classes (left_hand_wave vs right_hand_wave, …) that a mirror would swap.
 *   - time stretch: t' = s · (t − window start), so the gesture plays faster (s < 1) or slower (s > 1);
 *   - event drop: each event removed with probability `drop` (sensor noise / contrast threshold variation).
 * Polarity is never changed.
 */
import type { EventPacket, SensorGeometry } from '../events/packet.ts';
import { allocPacket } from '../events/packet.ts';
import { Rng } from '../util/rng.ts';

/** Ranges the per-sample parameters are drawn from (uniform). */
export interface AugmentRanges {
  /** Spatial scale factor range [min, max] (1 = unchanged). */
  scale: [number, number];
  /** Largest rotation in degrees (either direction). */
  rotationDeg: number;
  /** Largest translation as a fraction of the sensor width/height (either direction). */
  translate: number;
  /** Time stretch factor range [min, max]. */
  stretch: [number, number];
  /** Largest fraction of events dropped (drawn per sample in [0, maxDrop]). */
  maxDrop: number;
}

/** Defaults: zoom ±15 %, rotation ±20°, shift ±10 % of the sensor, time stretch 0.8–1.2×, drop up to 20 %. */
export const DEFAULT_AUGMENT: Readonly<AugmentRanges> = Object.freeze({
  scale: [0.85, 1.15] as [number, number],
  rotationDeg: 20,
  translate: 0.1,
  stretch: [0.8, 1.2] as [number, number],
  maxDrop: 0.2,
});

/** One sample's augmentation. */
export interface AugmentParams {
  scale: number;
  /** Radians, counter-clockwise in the image as displayed with y pointing down (i.e. x→y rotates towards +y). */
  rotation: number;
  /** Pixels. */
  tx: number;
  ty: number;
  stretch: number;
  drop: number;
  /** Seed of the per-event drop decisions. */
  dropSeed: number;
}

/** The identity augmentation. */
export const NO_AUGMENT: Readonly<AugmentParams> = Object.freeze({ scale: 1, rotation: 0, tx: 0, ty: 0, stretch: 1, drop: 0, dropSeed: 0 });

/** Seed for (config seed, epoch, sample index): splitmix-style mixing so neighbouring values give unrelated streams. */
export function augmentSeed(seed: number, epoch: number, index: number): number {
  let z = (seed ^ Math.imul(epoch + 1, 0x9e3779b9) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Draws one sample's parameters (always the same number of draws, so streams stay aligned). */
export function drawAugment(rng: Rng, sensor: SensorGeometry, r: AugmentRanges = DEFAULT_AUGMENT): AugmentParams {
  const scale = rng.uniform(r.scale[0], r.scale[1]);
  const rotation = (rng.uniform(-r.rotationDeg, r.rotationDeg) * Math.PI) / 180;
  const tx = rng.uniform(-r.translate, r.translate) * sensor.width;
  const ty = rng.uniform(-r.translate, r.translate) * sensor.height;
  const stretch = rng.uniform(r.stretch[0], r.stretch[1]);
  const drop = rng.uniform(0, r.maxDrop);
  const dropSeed = rng.nextU32();
  return { scale, rotation, tx, ty, stretch, drop, dropSeed };
}

/** A window's events: times RELATIVE to the window start (µs), in non-decreasing order. */
export interface WindowEvents {
  x: Uint16Array;
  y: Uint16Array;
  /** µs since the window start (float32 is exact below 2^24 µs ≈ 16.7 s). */
  t: Float32Array;
  p: Uint8Array;
  length: number;
}

/** Copies events [i0, i1) of a time-sorted packet as WindowEvents relative to `startUs`. */
export function windowEvents(pk: EventPacket, i0: number, i1: number, startUs: number): WindowEvents {
  const n = Math.max(0, i1 - i0);
  const t = new Float32Array(n);
  for (let k = 0; k < n; k++) t[k] = pk.t[i0 + k] - startUs;
  return { x: pk.x.slice(i0, i1), y: pk.y.slice(i0, i1), t, p: pk.p.slice(i0, i1), length: n };
}

/**
 * Applies `a` to `src` and writes the result into `out` (grown when too small; pass the returned packet back in
 * to reuse it) with times ABSOLUTE from `startUs` (the window start the binner is given). Order is preserved, so
 * the output stays time-sorted. Events landing outside the sensor, or past `endUs` after the stretch, are dropped.
 */
export function augmentEvents(src: WindowEvents, a: AugmentParams, sensor: SensorGeometry, startUs: number, endUs: number, out: EventPacket): EventPacket {
  if (out.x.length < src.length) out = allocPacket(src.length);
  const W = sensor.width;
  const H = sensor.height;
  // Pixel centres: the sensor centre is ((W−1)/2, (H−1)/2), so a rotation by 90° maps pixels onto pixels.
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const cos = a.scale * Math.cos(a.rotation);
  const sin = a.scale * Math.sin(a.rotation);
  const ox = cx + a.tx;
  const oy = cy + a.ty;
  const rng = a.drop > 0 ? new Rng(a.dropSeed) : null;
  const keep = 1 - a.drop;
  const span = endUs - startUs;
  let n = 0;
  for (let k = 0; k < src.length; k++) {
    if (rng && rng.next() >= keep) continue;
    const dt = src.t[k] * a.stretch;
    if (dt >= span) break; // times are sorted: every later event is past the window too
    const u = src.x[k] - cx;
    const v = src.y[k] - cy;
    const xf = Math.floor(ox + cos * u - sin * v + 0.5);
    const yf = Math.floor(oy + sin * u + cos * v + 0.5);
    if (xf < 0 || yf < 0 || xf >= W || yf >= H) continue;
    out.x[n] = xf;
    out.y[n] = yf;
    out.t[n] = startUs + dt;
    out.p[n] = src.p[k];
    n++;
  }
  out.length = n;
  return out;
}
