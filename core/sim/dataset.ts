/**
 * A simulated DVS128-Gesture-like dataset: subjects × lighting trials, each trial a sequence of labelled
 * gestures rendered at the sensor size and turned into events. Everything is derived from one seed, so a
 * seed reproduces the dataset exactly and a new seed gives new people, rooms, lighting and sensor biases.
 *
 * This module is pure computation (no files); output.ts writes the DVS128 Gesture file layout.
 */
import type { EventPacket } from '../events/packet.ts';
import type { GestureLabel } from '../events/labels.ts';
import { Rng } from '../util/rng.ts';
import type { BodyParams } from './body.ts';
import { armJoints, newPose, sampleBody } from './body.ts';
import type { EsimConfig } from './esim.ts';
import { EsimState } from './esim.ts';
import { NUM_GESTURE_CLASSES } from './gestures.ts';
import { Renderer } from './render.ts';
import type { LightParams, LightingName, RoomParams } from './scene.ts';
import { LIGHTING_NAMES, illuminationField, logGainAt, roomReflectance, sampleLight, sampleRoom } from './scene.ts';
import type { TrialPlan } from './trial.ts';
import { Choreographer, planTrial, sampleIdle } from './trial.ts';

export const SENSOR_WIDTH = 128;
export const SENSOR_HEIGHT = 128;

export interface SimDatasetOptions {
  seed: number;
  subjects: number;
  /** 0-based classes to perform (default all 11). */
  classes?: readonly number[];
  /** Lighting of every subject's trials; default: `trialsPerSubject` distinct random ones per subject. */
  lighting?: readonly LightingName[];
  trialsPerSubject?: number;
  /** Times each class is performed per trial (default 1). */
  repeats?: number;
  /** Mean gesture duration in s (default 6). */
  durationPerGestureS?: number;
  /** The last M subjects form the test split (default 0: no split files). */
  testSubjects?: number;
  /**
   * Largest render / event-model time step, µs (default 2000, and at most 1/5 of a flicker period). Steps adapt
   * to the motion: no joint moves more than `maxShiftPx` between frames (down to 100 µs).
   */
  stepUs?: number;
  /** Largest image motion of any joint between two frames, px (default 1; event times are interpolated within a step). */
  maxShiftPx?: number;
}

/** One trial to generate: who, where, under which light, and its own seed. */
export interface TrialSpec {
  /** e.g. 'user03_natural' (file stem). */
  name: string;
  subject: number;
  test: boolean;
  lighting: LightingName;
  body: BodyParams;
  room: RoomParams;
  seed: number;
}

/** Mixes integers into a 32-bit seed (splitmix-style) so each subject / trial has an independent stream. */
export function mixSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x9e3779b1) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}

/** Validated options with defaults filled in. */
export function resolveOptions(o: SimDatasetOptions): Required<Omit<SimDatasetOptions, 'lighting'>> & { lighting: readonly LightingName[] | null } {
  const classes = o.classes ?? Array.from({ length: NUM_GESTURE_CLASSES }, (_, i) => i);
  for (const c of classes) if (!Number.isInteger(c) || c < 0 || c >= NUM_GESTURE_CLASSES) throw new RangeError(`class ${c} outside 0..${NUM_GESTURE_CLASSES - 1}`);
  if (new Set(classes).size !== classes.length || classes.length === 0) throw new RangeError('classes must be a non-empty list without repeats');
  const r = {
    seed: o.seed >>> 0,
    subjects: o.subjects,
    classes,
    lighting: o.lighting ?? null,
    trialsPerSubject: o.trialsPerSubject ?? 1,
    repeats: o.repeats ?? 1,
    durationPerGestureS: o.durationPerGestureS ?? 6,
    testSubjects: o.testSubjects ?? 0,
    stepUs: o.stepUs ?? 2000,
    maxShiftPx: o.maxShiftPx ?? 1,
  };
  if (!Number.isInteger(r.subjects) || r.subjects < 1 || r.subjects > 99) throw new RangeError('subjects must be 1..99');
  if (!Number.isInteger(r.trialsPerSubject) || r.trialsPerSubject < 1 || r.trialsPerSubject > LIGHTING_NAMES.length) throw new RangeError(`trials per subject must be 1..${LIGHTING_NAMES.length}`);
  if (!Number.isInteger(r.repeats) || r.repeats < 1 || r.repeats > 20) throw new RangeError('repeats must be 1..20');
  if (!(r.durationPerGestureS >= 1 && r.durationPerGestureS <= 60)) throw new RangeError('duration per gesture must be 1..60 s');
  if (!Number.isInteger(r.testSubjects) || r.testSubjects < 0 || r.testSubjects >= r.subjects) {
    throw new RangeError('test subjects must be 0..subjects−1');
  }
  if (!(r.stepUs >= 100 && r.stepUs <= 50_000 && Number.isInteger(r.stepUs))) throw new RangeError('step must be an integer 100..50000 µs');
  if (!(r.maxShiftPx > 0 && r.maxShiftPx <= 10)) throw new RangeError('max shift must be in (0, 10] px');
  if (r.lighting && new Set(r.lighting).size !== r.lighting.length) throw new RangeError('lighting names must not repeat');
  return r;
}

/** All trials of the dataset, in generation order. Subjects are user01…; the last `testSubjects` are test. */
export function planDataset(opts: SimDatasetOptions): TrialSpec[] {
  const o = resolveOptions(opts);
  const out: TrialSpec[] = [];
  for (let s = 0; s < o.subjects; s++) {
    const rng = new Rng(mixSeed(o.seed, 1, s));
    const body = sampleBody(rng);
    const room = sampleRoom(rng, SENSOR_WIDTH, SENSOR_HEIGHT);
    let lights: LightingName[];
    if (o.lighting) lights = [...o.lighting];
    else {
      const all = [...LIGHTING_NAMES];
      rng.shuffle(all);
      lights = all.slice(0, o.trialsPerSubject).sort((a, b) => LIGHTING_NAMES.indexOf(a) - LIGHTING_NAMES.indexOf(b));
    }
    const user = `user${String(s + 1).padStart(2, '0')}`;
    for (const l of lights) {
      out.push({
        name: `${user}_${l}`, subject: s, test: s >= o.subjects - o.testSubjects, lighting: l, body, room,
        seed: mixSeed(o.seed, 2, s, LIGHTING_NAMES.indexOf(l)),
      });
    }
  }
  return out;
}

/** The sensor settings of one trial: DVS128-like biases drawn per trial (bias tuning varies between sessions). */
export function sampleSensor(rng: Rng, light: LightParams): Partial<EsimConfig> & { width: number; height: number } {
  const on = rng.uniform(0.1, 0.19);
  return {
    width: SENSOR_WIDTH,
    height: SENSOR_HEIGHT,
    thresholdOn: on,
    thresholdOff: on * rng.uniform(0.85, 1.15),
    thresholdSigma: rng.uniform(0.02, 0.05),
    refractoryUs: rng.uniform(100, 1000),
    leakHz: rng.uniform(0.02, 0.2),
    shotNoiseHz: light.shotNoiseHz,
    shotNoiseDarkBoost: 2,
    hotPixelFraction: rng.uniform(0, 0.0006),
    hotPixelHz: [5, 60],
    cutoffHz: rng.uniform(200, 800),
  };
}

/**
 * Steps one trial frame by frame: pose → picture → events. Bounded memory; each `step()` returns the events
 * of one time step (a view valid until the next call), or null when the trial is finished.
 */
export class TrialSimulator {
  readonly spec: TrialSpec;
  readonly plan: TrialPlan;
  readonly light: LightParams;
  readonly sensor: Partial<EsimConfig> & { width: number; height: number };
  readonly labels: GestureLabel[];
  /** Largest step, µs (the option, capped at 1/5 of a flicker period). */
  readonly stepUs: number;
  private readonly maxShiftPx: number;
  private readonly renderer: Renderer;
  private readonly esim: EsimState;
  private readonly choreo: Choreographer;
  private readonly pose = newPose();
  private readonly joints = new Float64Array(8);
  /** Elbow, wrist and hand-tip positions of both arms in the previous frame (12 numbers). */
  private readonly prevPts = new Float64Array(12);
  private t = 0;
  private nextDt = 0;
  private frames = 0;

  constructor(spec: TrialSpec, opts: SimDatasetOptions) {
    const o = resolveOptions(opts);
    this.spec = spec;
    const rng = new Rng(spec.seed);
    this.light = sampleLight(rng, spec.lighting, SENSOR_WIDTH, SENSOR_HEIGHT);
    const flickerCap = this.light.flickerDepth > 0 && this.light.flickerHz > 0 ? Math.floor(1e6 / (5 * this.light.flickerHz)) : Infinity;
    this.stepUs = Math.min(o.stepUs, flickerCap);
    this.maxShiftPx = o.maxShiftPx;
    this.sensor = sampleSensor(rng, this.light);
    this.plan = planTrial(rng, spec.body, { classes: o.classes, repeats: o.repeats, durationPerGestureS: o.durationPerGestureS });
    this.choreo = new Choreographer(spec.body, this.plan, sampleIdle(rng, spec.body));
    this.labels = this.plan.segments.map((s) => ({ classIndex: s.classIndex, startUs: s.startUs, endUs: s.endUs }));
    const illum = illuminationField(this.light, SENSOR_WIDTH, SENSOR_HEIGHT);
    this.renderer = new Renderer(SENSOR_WIDTH, SENSOR_HEIGHT, roomReflectance(spec.room, SENSOR_WIDTH, SENSOR_HEIGHT), illum);
    this.esim = new EsimState(this.sensor, rng.nextU32());
  }

  get durationUs(): number {
    return this.plan.durationUs;
  }

  /** Simulated time reached, µs. */
  get timeUs(): number {
    return this.t;
  }

  /** The current rendered frame (DN), for previews and tests. */
  get frame(): Float32Array {
    return this.renderer.frame;
  }

  /** Frames rendered so far. */
  get frameCount(): number {
    return this.frames;
  }

  /** Renders the next frame and returns its events (a view valid until the next call); null when done. */
  step(): EventPacket | null {
    if (this.t > this.plan.durationUs) return null;
    const t = this.t;
    this.choreo.poseAt(t, this.pose);
    const ts = t / 1e6;
    this.renderer.render(this.spec.body, this.pose, this.spec.room.distractor, ts);
    const ev = this.esim.feed(this.renderer.frame, t, logGainAt(this.light, ts));
    this.frames++;
    // Adaptive step: the fastest joint of this frame sets the next step (motion is smooth frame to frame).
    const shift = this.maxJointShift();
    const dtPrev = this.nextDt || this.stepUs;
    let dt = shift > 0 ? (dtPrev * this.maxShiftPx) / shift : this.stepUs;
    dt = Math.max(100, Math.min(this.stepUs, dt, 2 * dtPrev));
    this.nextDt = Math.round(dt / 50) * 50 || 50;
    if (this.t < this.plan.durationUs && this.t + this.nextDt > this.plan.durationUs) this.t = this.plan.durationUs;
    else this.t += this.nextDt;
    return ev;
  }

  private maxJointShift(): number {
    const j = this.joints, p = this.prevPts;
    let m = 0;
    for (let arm = 0; arm < 2; arm++) {
      armJoints(this.spec.body, this.pose, arm, j);
      for (let k = 0; k < 3; k++) {
        const x = j[2 + 2 * k], y = j[3 + 2 * k], o = arm * 6 + 2 * k;
        if (this.frames > 1) m = Math.max(m, Math.hypot(x - p[o], y - p[o + 1]));
        p[o] = x;
        p[o + 1] = y;
      }
    }
    return m;
  }
}
