/**
 * The articulated 2-D person seen by the simulated camera: torso, neck, head (with hair), upper arms,
 * forearms and hands, in image pixels (x right, y down, top-left origin).
 *
 * Arm 0 is the subject's RIGHT arm. The subject faces the camera, so it appears on the IMAGE LEFT (as in
 * DVS128 Gesture). Arm angles are absolute directions in image coordinates (0 = +x, π/2 = down).
 */
import type { Rng } from '../util/rng.ts';

/** Everything fixed about one subject: proportions, placement, clothing and motion style. */
export interface BodyParams {
  /** Shoulder-centre position in the image at rest, px. */
  cx: number;
  shoulderY: number;
  /** Half the shoulder width, px. */
  shoulderHalf: number;
  /** Half width of the torso where it leaves the image bottom, px. */
  waistHalf: number;
  upperLen: number;
  foreLen: number;
  /** Distance wrist → hand centre, px. */
  handLen: number;
  upperRadius: number;
  foreRadius: number;
  handRadius: number;
  neckLen: number;
  neckRadius: number;
  headRx: number;
  headRy: number;
  /** Reflectances in [0, 1]. */
  skin: number;
  shirt: number;
  /** Forearm reflectance: the shirt's (long sleeves) or the skin's. */
  sleeve: number;
  hair: number;
  /** Hair coverage of the head, 0 (bald) .. 1 (long hair framing the face). */
  hairAmount: number;
  /** Left-right shading across the torso (relative reflectance change over its width). */
  torsoShade: number;
  /** Cloth stripe/fold depth (relative) and spatial frequency along the limb (rad/px). */
  clothTex: number;
  clothFreq: number;
  /** Darkening towards a limb's outline (cylinder shading), relative. */
  limbShade: number;
  /** Edge softness in px (lens focus + motion). */
  soft: number;
  /** Motion style: multipliers on gesture speed and amplitude, idle sway amplitude (px). */
  speed: number;
  amplitude: number;
  sway: number;
  /** Rest style: 0 = arms hanging, 1 = hands together in front of the belly. */
  restStyle: 0 | 1;
  /** Plays air guitar mirrored (left-handed). */
  leftHanded: boolean;
}

/** One moment's configuration of the body. Mutable and reused: no allocation per frame. */
export interface Pose {
  /** Offset of the shoulder centre from its rest position, px. */
  dx: number;
  dy: number;
  /** Torso tilt, rad (positive = clockwise on screen). */
  lean: number;
  headDx: number;
  headDy: number;
  /** Upper-arm and forearm directions per arm [right (image left), left (image right)], rad. */
  upper: Float64Array;
  fore: Float64Array;
}

export function newPose(): Pose {
  return { dx: 0, dy: 0, lean: 0, headDx: 0, headDy: 0, upper: new Float64Array([Math.PI / 2, Math.PI / 2]), fore: new Float64Array([Math.PI / 2, Math.PI / 2]) };
}

export function copyPose(src: Pose, dst: Pose): void {
  dst.dx = src.dx; dst.dy = src.dy; dst.lean = src.lean; dst.headDx = src.headDx; dst.headDy = src.headDy;
  dst.upper[0] = src.upper[0]; dst.upper[1] = src.upper[1];
  dst.fore[0] = src.fore[0]; dst.fore[1] = src.fore[1];
}

/** Draws a new subject. Ranges cover small/large, near/far, centred/off-centre people and any clothing. */
export function sampleBody(rng: Rng): BodyParams {
  const h = rng.uniform(115, 170); // body height in px at this camera distance; only the upper body is in view
  const skin = rng.uniform(0.18, 0.75);
  const shirt = rng.next() < 0.5 ? rng.uniform(0.04, 0.35) : rng.uniform(0.35, 0.92);
  const longSleeves = rng.next() < 0.6;
  const hairDark = rng.next() < 0.75;
  return {
    cx: 64 + rng.uniform(-12, 12),
    shoulderY: rng.uniform(36, 58),
    shoulderHalf: h * rng.uniform(0.11, 0.14),
    waistHalf: h * rng.uniform(0.085, 0.125),
    upperLen: h * rng.uniform(0.165, 0.2),
    foreLen: h * rng.uniform(0.14, 0.165),
    handLen: h * rng.uniform(0.045, 0.06),
    upperRadius: h * rng.uniform(0.028, 0.04),
    foreRadius: h * rng.uniform(0.022, 0.031),
    handRadius: h * rng.uniform(0.022, 0.03),
    neckLen: h * rng.uniform(0.03, 0.05),
    neckRadius: h * rng.uniform(0.025, 0.032),
    headRx: h * rng.uniform(0.048, 0.06),
    headRy: h * rng.uniform(0.062, 0.075),
    skin,
    shirt,
    sleeve: longSleeves ? shirt : skin,
    hair: hairDark ? rng.uniform(0.02, 0.15) : rng.uniform(0.3, 0.65),
    hairAmount: rng.uniform(0, 1),
    torsoShade: rng.uniform(-0.25, 0.25),
    clothTex: rng.next() < 0.3 ? 0 : rng.uniform(0.05, 0.4),
    clothFreq: rng.uniform(0.3, 1.3),
    limbShade: rng.uniform(0.1, 0.45),
    soft: rng.uniform(0.7, 1.5),
    speed: rng.uniform(0.8, 1.25),
    amplitude: rng.uniform(0.8, 1.2),
    sway: rng.uniform(0.2, 1.2),
    restStyle: rng.next() < 0.7 ? 0 : 1,
    leftHanded: rng.next() < 0.12,
  };
}

/** Full reach shoulder → hand centre (straight arm), px. */
export function reach(b: BodyParams): number {
  return b.upperLen + b.foreLen + b.handLen;
}

/** Shoulder position of `arm` (0 = subject's right = image left) for `pose`, written to out[0], out[1]. */
export function shoulderOf(b: BodyParams, pose: Pose, arm: number, out: Float64Array): void {
  const s = arm === 0 ? -1 : 1;
  out[0] = b.cx + pose.dx + s * b.shoulderHalf * Math.cos(pose.lean);
  out[1] = b.shoulderY + pose.dy + s * b.shoulderHalf * Math.sin(pose.lean);
}

/**
 * Two-link inverse kinematics: sets pose.upper/fore[arm] so the hand centre reaches (tx, ty) (image px,
 * clamped to the reachable annulus). `elbowOut`: 0 = the natural solution (elbow lower / further out),
 * +1 / −1 = a fixed bending side (see below). Uses the forearm+hand as one link.
 */
export function solveArm(b: BodyParams, pose: Pose, arm: number, tx: number, ty: number, elbowOut: number, scratch: Float64Array): void {
  shoulderOf(b, pose, arm, scratch);
  const sx = scratch[0], sy = scratch[1];
  const a = b.upperLen;
  const c = b.foreLen + b.handLen;
  let dx = tx - sx, dy = ty - sy;
  let d = Math.hypot(dx, dy);
  const dMin = Math.abs(a - c) + 1e-3, dMax = a + c - 1e-3;
  if (d < 1e-9) { dx = 0; dy = 1; d = 1e-9; }
  const dc = Math.min(dMax, Math.max(dMin, d));
  const base = Math.atan2(dy, dx);
  const cosA = (a * a + dc * dc - c * c) / (2 * a * dc);
  const ang = Math.acos(Math.max(-1, Math.min(1, cosA)));
  let up: number;
  if (elbowOut === 0) {
    // Auto: of the two solutions take the elbow that hangs lower / further out, as people hold their arms.
    const out = arm === 0 ? -1 : 1;
    const u1 = base + ang, u2 = base - ang;
    const s1 = Math.sin(u1) + 0.5 * out * Math.cos(u1);
    const s2 = Math.sin(u2) + 0.5 * out * Math.cos(u2);
    up = s1 >= s2 ? u1 : u2;
  } else {
    // +1 rotates the upper arm clockwise on screen from the shoulder→hand line for the right arm (mirrored
    // for the left): the elbow sits outward when the hand is low.
    up = base + (arm === 0 ? 1 : -1) * elbowOut * ang;
  }
  const ex = sx + a * Math.cos(up), ey = sy + a * Math.sin(up);
  // Forearm points from the elbow to the (clamped) target.
  const hx = sx + (dx / d) * dc, hy = sy + (dy / d) * dc;
  pose.upper[arm] = up;
  pose.fore[arm] = Math.atan2(hy - ey, hx - ex);
}

/** Joint positions of one arm: shoulder, elbow, wrist, hand centre (8 numbers: x,y pairs). */
export function armJoints(b: BodyParams, pose: Pose, arm: number, out: Float64Array): void {
  shoulderOf(b, pose, arm, out);
  const up = pose.upper[arm], fo = pose.fore[arm];
  out[2] = out[0] + b.upperLen * Math.cos(up);
  out[3] = out[1] + b.upperLen * Math.sin(up);
  out[4] = out[2] + b.foreLen * Math.cos(fo);
  out[5] = out[3] + b.foreLen * Math.sin(fo);
  out[6] = out[4] + b.handLen * Math.cos(fo);
  out[7] = out[5] + b.handLen * Math.sin(fo);
}
