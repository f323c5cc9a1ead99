/**
 * One recording ("trial"): a sequence of gestures separated by rest periods, and the pose at any time.
 * Between gestures the person keeps a little idle motion (sway, breathing, arm drift); each gesture ramps in
 * from the rest pose and back out, inside its labelled interval.
 */
import type { Rng } from '../util/rng.ts';
import type { BodyParams, Pose } from './body.ts';
import { armJoints, newPose } from './body.ts';
import type { GestureInstance } from './gestures.ts';
import { bodyAngle, midline, reachTo, sampleGesture } from './gestures.ts';

const TAU = 2 * Math.PI;

/** Idle motion of one trial. */
export interface IdleParams {
  /** Sway: two sinusoids on x (px, Hz, rad). */
  swayA: Float64Array;
  swayF: Float64Array;
  swayPh: Float64Array;
  breathA: number;
  breathF: number;
  breathPh: number;
  leanA: number;
  leanF: number;
  headA: number;
  headF: number;
  headPh: number;
  /** Hanging-arm angles (body frame) and their drift. */
  restUpper: number;
  restFore: number;
  armA: number;
  armF: number;
  armPh: number;
  /** How strongly the torso reacts to the arms during gestures (0 = rigid). */
  coupling: number;
}

export function sampleIdle(rng: Rng, body: BodyParams): IdleParams {
  const s = body.sway;
  return {
    swayA: new Float64Array([s * rng.uniform(0.4, 1), s * rng.uniform(0.1, 0.5)]),
    swayF: new Float64Array([rng.uniform(0.08, 0.25), rng.uniform(0.3, 0.7)]),
    swayPh: new Float64Array([rng.uniform(0, TAU), rng.uniform(0, TAU)]),
    breathA: rng.uniform(0.15, 0.5),
    breathF: rng.uniform(0.18, 0.33),
    breathPh: rng.uniform(0, TAU),
    leanA: rng.uniform(0, 0.015),
    leanF: rng.uniform(0.05, 0.2),
    headA: rng.uniform(0.2, 1.0),
    headF: rng.uniform(0.1, 0.5),
    headPh: rng.uniform(0, TAU),
    restUpper: rng.uniform(0.06, 0.22),
    restFore: rng.uniform(0.0, 0.35),
    armA: rng.uniform(0.01, 0.05),
    armF: rng.uniform(0.15, 0.6),
    armPh: rng.uniform(0, TAU),
    coupling: rng.uniform(0.3, 1.2),
  };
}

/** Rest pose with idle motion at time t (s). Overwrites every field of `pose`. */
export function restPose(body: BodyParams, idle: IdleParams, t: number, pose: Pose): void {
  pose.dx = idle.swayA[0] * Math.sin(TAU * idle.swayF[0] * t + idle.swayPh[0]) + idle.swayA[1] * Math.sin(TAU * idle.swayF[1] * t + idle.swayPh[1]);
  pose.dy = idle.breathA * Math.sin(TAU * idle.breathF * t + idle.breathPh);
  pose.lean = idle.leanA * Math.sin(TAU * idle.leanF * t);
  pose.headDx = idle.headA * Math.sin(TAU * idle.headF * t + idle.headPh);
  pose.headDy = 0.3 * idle.headA * Math.sin(TAU * idle.headF * 1.7 * t);
  const drift = idle.armA * Math.sin(TAU * idle.armF * t + idle.armPh);
  if (body.restStyle === 1) {
    const m = midline(body);
    reachTo(body, pose, 0, -m + 0.03 + drift, 0.78);
    reachTo(body, pose, 1, -m + 0.03 - drift, 0.78);
  } else {
    for (let arm = 0; arm < 2; arm++) {
      const d = arm === 0 ? drift : -0.7 * drift;
      pose.upper[arm] = bodyAngle(arm, idle.restUpper + d);
      pose.fore[arm] = bodyAngle(arm, idle.restFore + 1.5 * d);
    }
  }
}

/** One gesture in a trial; [startUs, endUs] is its label. */
export interface TrialSegment {
  classIndex: number;
  startUs: number;
  endUs: number;
  rampInS: number;
  rampOutS: number;
  gesture: GestureInstance;
}

export interface TrialPlan {
  durationUs: number;
  segments: TrialSegment[];
}

export interface PlanOptions {
  /** 0-based classes performed, each `repeats` times, in a shuffled order. */
  classes: readonly number[];
  repeats: number;
  /** Mean gesture duration, s (each gets ×U(0.8, 1.2), at least 1 s). */
  durationPerGestureS: number;
}

/** Lays out the trial's gestures and rests (all times integer µs from 0). */
export function planTrial(rng: Rng, body: BodyParams, opts: PlanOptions): TrialPlan {
  const order: number[] = [];
  for (let r = 0; r < opts.repeats; r++) order.push(...opts.classes);
  rng.shuffle(order);
  const segments: TrialSegment[] = [];
  let t = rng.uniform(0.6, 1.5);
  for (const c of order) {
    const dur = Math.max(1, opts.durationPerGestureS * rng.uniform(0.8, 1.2));
    const startUs = Math.round(t * 1e6);
    const endUs = Math.round((t + dur) * 1e6);
    segments.push({ classIndex: c, startUs, endUs, rampInS: rng.uniform(0.25, 0.5), rampOutS: rng.uniform(0.25, 0.5), gesture: sampleGesture(c, rng, body) });
    t += dur + rng.uniform(0.8, 2.0);
  }
  t += rng.uniform(0.5, 1.0) - 0.8;
  return { durationUs: Math.round(Math.max(t, 1) * 1e6), segments };
}

function wrapPi(a: number): number {
  a = (a + Math.PI) % TAU;
  if (a < 0) a += TAU;
  return a - Math.PI;
}

function smooth(x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return x * x * (3 - 2 * x);
}

/** Evaluates the pose of a trial at any time; reuses two scratch poses (no allocation per call). */
export class Choreographer {
  private readonly g = newPose();
  private readonly j = new Float64Array(8);
  private seg = 0;

  constructor(readonly body: BodyParams, readonly plan: TrialPlan, readonly idle: IdleParams) {}

  /** Writes the pose at tUs into `out`. Calls must have non-decreasing times (segment cursor). */
  poseAt(tUs: number, out: Pose): void {
    const t = tUs / 1e6;
    restPose(this.body, this.idle, t, out);
    const segs = this.plan.segments;
    while (this.seg < segs.length && segs[this.seg].endUs < tUs) this.seg++;
    if (this.seg >= segs.length) return;
    const s = segs[this.seg];
    if (tUs < s.startUs) return;
    const ts = (tUs - s.startUs) / 1e6;
    const te = (s.endUs - tUs) / 1e6;
    const w = Math.min(smooth(ts / s.rampInS), smooth(te / s.rampOutS));
    const g = this.g;
    g.dx = out.dx; g.dy = out.dy; g.lean = out.lean; g.headDx = out.headDx; g.headDy = out.headDy;
    g.upper[0] = out.upper[0]; g.upper[1] = out.upper[1]; g.fore[0] = out.fore[0]; g.fore[1] = out.fore[1];
    s.gesture.apply(ts, this.body, g);
    out.dx += w * (g.dx - out.dx);
    out.lean += w * (g.lean - out.lean);
    for (let arm = 0; arm < 2; arm++) {
      out.upper[arm] += w * wrapPi(g.upper[arm] - out.upper[arm]);
      out.fore[arm] += w * wrapPi(g.fore[arm] - out.fore[arm]);
    }
    // Balance: the torso shifts and leans against where the hands are, so the body and head move (and fire
    // events) in step with the arms, as real people's do.
    const j = this.j;
    armJoints(this.body, out, 0, j);
    let hx = j[6] - j[0];
    armJoints(this.body, out, 1, j);
    hx = 0.5 * (hx + j[6] - j[0]);
    const c = w * this.idle.coupling;
    out.dx -= c * 0.04 * hx;
    out.lean += c * 0.0008 * hx;
    out.headDx -= c * 0.02 * hx;
  }
}
