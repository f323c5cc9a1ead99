/**
 * The room around the subject: background reflectance texture, illumination field, lighting condition
 * (level, flicker, slow drift, sensor noise) and an optional moving distractor behind the subject.
 * Pure data + sampling; rasterisation is in render.ts.
 */
import { Rng } from '../util/rng.ts';

/** Lighting names of DVS128 Gesture trials (file tags). */
export const LIGHTING_NAMES = ['fluorescent', 'fluorescent_led', 'lab', 'led', 'natural'] as const;
export type LightingName = (typeof LIGHTING_NAMES)[number];

/** What a lighting condition does to the picture and the sensor. */
export interface LightingCondition {
  name: LightingName;
  /** Illumination level range: mean scene luminance ≈ level · 255 · reflectance (DN). */
  level: [number, number];
  /** Flicker: frequency (Hz) and relative depth range (0 = none). */
  flickerHz: number;
  flickerDepth: [number, number];
  /** Slow global light drift (clouds, auto-exposure of the room): relative depth and frequency range. */
  driftDepth: [number, number];
  driftHz: [number, number];
  /** Strength of the spatial illumination gradient (side light from a window is strong). */
  gradient: [number, number];
  /** Per-pixel shot noise rate (Hz) at this level, before the darkness boost. */
  shotNoiseHz: [number, number];
}

/**
 * Mapping of the real set's tags to conditions. Mains-powered fluorescent tubes flicker at 100/120 Hz with
 * a few % depth; LEDs are steady; natural light is uneven and drifts; the lab is dimmer.
 */
export const LIGHTING: Record<LightingName, LightingCondition> = {
  fluorescent: { name: 'fluorescent', level: [0.5, 0.9], flickerHz: 100, flickerDepth: [0.02, 0.06], driftDepth: [0, 0.01], driftHz: [0.05, 0.2], gradient: [0.05, 0.25], shotNoiseHz: [0.05, 0.2] },
  fluorescent_led: { name: 'fluorescent_led', level: [0.6, 1.0], flickerHz: 100, flickerDepth: [0.01, 0.03], driftDepth: [0, 0.01], driftHz: [0.05, 0.2], gradient: [0.05, 0.25], shotNoiseHz: [0.05, 0.15] },
  lab: { name: 'lab', level: [0.3, 0.6], flickerHz: 100, flickerDepth: [0.0, 0.02], driftDepth: [0, 0.01], driftHz: [0.05, 0.2], gradient: [0.1, 0.35], shotNoiseHz: [0.08, 0.3] },
  led: { name: 'led', level: [0.7, 1.2], flickerHz: 0, flickerDepth: [0, 0], driftDepth: [0, 0.005], driftHz: [0.05, 0.2], gradient: [0.05, 0.2], shotNoiseHz: [0.03, 0.1] },
  natural: { name: 'natural', level: [0.15, 1.0], flickerHz: 0, flickerDepth: [0, 0], driftDepth: [0.02, 0.12], driftHz: [0.03, 0.15], gradient: [0.3, 0.7], shotNoiseHz: [0.05, 0.3] },
};

export function isLightingName(s: string): s is LightingName {
  return (LIGHTING_NAMES as readonly string[]).includes(s);
}

/** A moving object behind the subject (someone passing far away, a swinging lamp). */
export interface DistractorParams {
  rx: number;
  ry: number;
  reflectance: number;
  /** Start position (px), velocity (px/s); bounces inside the frame. */
  x0: number;
  y0: number;
  vx: number;
  vy: number;
}

/** The room of one subject (shared by that subject's trials) — reflectance only, no lighting. */
export interface RoomParams {
  seed: number;
  /** Wall tone and texture strength. */
  wall: number;
  texture: number;
  textureScale: number;
  /** Rectangles (doors, posters, shelves, windows): x0,y0,x1,y1,reflectance each. */
  rects: Float64Array;
  /** y of a floor/ceiling edge (px) or −1, and the floor reflectance. */
  horizon: number;
  floor: number;
  distractor: DistractorParams | null;
}

/** Lighting of one trial. */
export interface LightParams {
  name: LightingName;
  level: number;
  /** Illumination gradient direction (rad) and strength, plus a soft hotspot. */
  gradDir: number;
  grad: number;
  spotX: number;
  spotY: number;
  spotR: number;
  spotGain: number;
  flickerHz: number;
  flickerDepth: number;
  flickerPhase: number;
  driftDepth: number;
  driftHz: number;
  driftPhase: number;
  shotNoiseHz: number;
}

export function sampleRoom(rng: Rng, width: number, height: number): RoomParams {
  const nRect = rng.int(6);
  const rects = new Float64Array(nRect * 5);
  for (let k = 0; k < nRect; k++) {
    const w = rng.uniform(8, 50), h = rng.uniform(8, 70);
    const x0 = rng.uniform(-10, width - 5), y0 = rng.uniform(-10, height - 5);
    rects.set([x0, y0, x0 + w, y0 + h, rng.uniform(0.05, 0.95)], k * 5);
  }
  const hasDistractor = rng.next() < 0.3;
  const speed = rng.uniform(3, 25);
  const ang = rng.uniform(0, 2 * Math.PI);
  return {
    seed: rng.nextU32(),
    wall: rng.uniform(0.15, 0.85),
    texture: rng.uniform(0.02, 0.25),
    textureScale: rng.uniform(3, 20),
    rects,
    horizon: rng.next() < 0.4 ? rng.uniform(height * 0.55, height * 0.95) : -1,
    floor: rng.uniform(0.1, 0.7),
    distractor: hasDistractor
      ? {
        rx: rng.uniform(3, 8), ry: rng.uniform(6, 18), reflectance: rng.uniform(0.05, 0.95),
        x0: rng.uniform(0, width), y0: rng.uniform(0, height), vx: speed * Math.cos(ang), vy: 0.3 * speed * Math.sin(ang),
      }
      : null,
  };
}

export function sampleLight(rng: Rng, name: LightingName, width: number, height: number): LightParams {
  const c = LIGHTING[name];
  return {
    name,
    level: rng.uniform(c.level[0], c.level[1]),
    gradDir: rng.uniform(0, 2 * Math.PI),
    grad: rng.uniform(c.gradient[0], c.gradient[1]),
    spotX: rng.uniform(0, width),
    spotY: rng.uniform(0, height),
    spotR: rng.uniform(30, 90),
    spotGain: rng.uniform(0, 0.4),
    flickerHz: c.flickerHz > 0 ? c.flickerHz * rng.uniform(0.998, 1.002) : 0,
    flickerDepth: rng.uniform(c.flickerDepth[0], c.flickerDepth[1]),
    flickerPhase: rng.uniform(0, 2 * Math.PI),
    driftDepth: rng.uniform(c.driftDepth[0], c.driftDepth[1]),
    driftHz: rng.uniform(c.driftHz[0], c.driftHz[1]),
    driftPhase: rng.uniform(0, 2 * Math.PI),
    shotNoiseHz: rng.uniform(c.shotNoiseHz[0], c.shotNoiseHz[1]),
  };
}

/** Global log-illumination offset at time t (s): flicker + slow drift. Fed to the event model. */
export function logGainAt(l: LightParams, t: number): number {
  let g = 1;
  if (l.flickerDepth > 0 && l.flickerHz > 0) g *= 1 + l.flickerDepth * Math.sin(2 * Math.PI * l.flickerHz * t + l.flickerPhase);
  if (l.driftDepth > 0) g *= 1 + l.driftDepth * Math.sin(2 * Math.PI * l.driftHz * t + l.driftPhase);
  return Math.log(g);
}

/** Background reflectance image (row-major), value noise + rectangles + floor, clamped to [0.02, 0.98]. */
export function roomReflectance(room: RoomParams, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const rng = new Rng(room.seed);
  // Value noise: a coarse random lattice, bilinearly interpolated, two octaves.
  const octave = (scale: number, amp: number) => {
    const gw = Math.ceil(width / scale) + 2, gh = Math.ceil(height / scale) + 2;
    const lat = new Float32Array(gw * gh);
    for (let i = 0; i < lat.length; i++) lat[i] = rng.next() * 2 - 1;
    for (let y = 0; y < height; y++) {
      const fy = y / scale, iy = Math.floor(fy), ty = fy - iy;
      for (let x = 0; x < width; x++) {
        const fx = x / scale, ix = Math.floor(fx), tx = fx - ix;
        const a = lat[iy * gw + ix], b = lat[iy * gw + ix + 1], c = lat[(iy + 1) * gw + ix], d = lat[(iy + 1) * gw + ix + 1];
        const sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty);
        out[y * width + x] += amp * (a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy);
      }
    }
  };
  octave(room.textureScale, room.texture);
  octave(room.textureScale / 3, room.texture * 0.5);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let base = room.wall;
      if (room.horizon >= 0 && y >= room.horizon) base = room.floor;
      const rs = room.rects;
      for (let k = 0; k < rs.length; k += 5) {
        if (x >= rs[k] && x < rs[k + 2] && y >= rs[k + 1] && y < rs[k + 3]) base = rs[k + 4];
      }
      const i = y * width + x;
      out[i] = Math.min(0.98, Math.max(0.02, base * (1 + out[i])));
    }
  }
  return out;
}

/** Illumination field (multiplier of reflectance, in DN per unit reflectance) for a trial's lighting. */
export function illuminationField(l: LightParams, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const gx = Math.cos(l.gradDir) * l.grad, gy = Math.sin(l.gradDir) * l.grad;
  const inv2r2 = 1 / (2 * l.spotR * l.spotR);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width - 0.5, v = y / height - 0.5;
      const dx = x - l.spotX, dy = y - l.spotY;
      const f = (1 + gx * u + gy * v) * (1 + l.spotGain * Math.exp(-(dx * dx + dy * dy) * inv2r2));
      out[y * width + x] = 255 * l.level * Math.max(0.05, f);
    }
  }
  return out;
}

/** Distractor centre at time t (s), bouncing off the frame edges (triangle wave per axis). */
export function distractorAt(d: DistractorParams, t: number, width: number, height: number, out: Float64Array): void {
  out[0] = bounce(d.x0 + d.vx * t, -d.rx, width + d.rx);
  out[1] = bounce(d.y0 + d.vy * t, -d.ry, height + d.ry);
}

function bounce(p: number, lo: number, hi: number): number {
  const span = hi - lo;
  let q = (p - lo) % (2 * span);
  if (q < 0) q += 2 * span;
  return lo + (q <= span ? q : 2 * span - q);
}
