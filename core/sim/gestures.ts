/**
 * The 11 DVS128 Gesture classes as arm trajectories. Each sampled instance has its own speed, amplitude,
 * phase, position and small tempo drift, so two performances of a class never match exactly.
 *
 * Conventions: arm 0 = the subject's RIGHT arm = IMAGE LEFT (camera faces the subject, as in the real set).
 * "Clockwise" is clockwise as the CAMERA sees it (on screen, y down). This is a choice — the real dataset
 * does not say from whose viewpoint — flip `CLOCKWISE_ON_SCREEN` to change it for all arm-circle classes.
 * Hand targets are given relative to the arm's own shoulder in units of the arm's reach R, with `out`
 * pointing away from the body midline; inverse kinematics turns them into joint angles.
 */
import { DVS_GESTURE_CLASSES } from '../events/labels.ts';
import type { Rng } from '../util/rng.ts';
import type { BodyParams, Pose } from './body.ts';
import { reach, shoulderOf, solveArm } from './body.ts';

/** Class names, index = 0-based label (tonic / SpikingJelly order; CSV files store index + 1). */
export const GESTURE_CLASSES = DVS_GESTURE_CLASSES;

export const NUM_GESTURE_CLASSES = GESTURE_CLASSES.length;

/** +1: "clockwise" classes turn clockwise on screen (as the camera sees it). −1: as the subject sees it. */
export const CLOCKWISE_ON_SCREEN = 1;

/** A sampled performance: `apply` overwrites the arms (and possibly torso) of a pose already set to rest. */
export interface GestureInstance {
  classIndex: number;
  /** Which arms the gesture drives (bit 0 = right/image-left, bit 1 = left/image-right). */
  arms: number;
  apply(tSec: number, body: BodyParams, pose: Pose): void;
}

const TAU = 2 * Math.PI;

/** Image direction of a body-frame angle φ (0 = hanging down, π/2 = straight out sideways, π = up). */
export function bodyAngle(arm: number, phi: number): number {
  const out = arm === 0 ? -1 : 1;
  return Math.atan2(Math.cos(phi), out * Math.sin(phi));
}

/** Slow random tempo drift: warped time t + a·sin(2π f t + φ) (a few % frequency wobble). */
function tempo(rng: Rng): (t: number) => number {
  const a = rng.uniform(0.01, 0.05), f = rng.uniform(0.1, 0.4), ph = rng.uniform(0, TAU);
  return (t) => t + (a / (TAU * f)) * Math.sin(TAU * f * t + ph);
}

/** Per-call scratch for shoulder positions (module-level: the simulator is single-threaded). */
const sh = new Float64Array(2);

/** Moves arm's hand to (ox, oy)·R relative to its shoulder (ox outward, oy down), via IK. */
export function reachTo(body: BodyParams, pose: Pose, arm: number, ox: number, oy: number, elbow = 0): void {
  const r = reach(body);
  shoulderOf(body, pose, arm, sh);
  const out = arm === 0 ? -1 : 1;
  solveArm(body, pose, arm, sh[0] + out * ox * r, sh[1] + oy * r, elbow, sh);
}

/** Distance from a shoulder to the body midline in units of R. */
export function midline(body: BodyParams): number {
  return body.shoulderHalf / reach(body);
}

/** Draws one performance of class `classIndex` (0-based). */
export function sampleGesture(classIndex: number, rng: Rng, body: BodyParams): GestureInstance {
  const sp = body.speed, am = body.amplitude;
  const warp = tempo(rng);
  switch (classIndex) {
    case 0: { // hand clapping: hands meet at the midline in front of the chest, briefly
      const f = rng.uniform(1.6, 3.0) * sp, y = rng.uniform(0.3, 0.65), gap = rng.uniform(0.12, 0.28) * am;
      const bob = rng.uniform(0, 0.04), ph = rng.uniform(0, 1), inset = rng.uniform(0.01, 0.03);
      return {
        classIndex, arms: 3,
        apply(t, b, pose) {
          const u = warp(t) * f + ph;
          const g = gap * Math.pow(0.5 - 0.5 * Math.cos(TAU * u), 0.7);
          const m = midline(b);
          const yy = y + bob * Math.sin(TAU * u);
          reachTo(b, pose, 0, -m + inset + g, yy);
          reachTo(b, pose, 1, -m + inset + g, yy);
        },
      };
    }
    case 1:
    case 2: { // hand wave: upper arm out/up, forearm up, swinging side to side
      const arm = classIndex === 1 ? 0 : 1;
      const f = rng.uniform(1.4, 3.2) * sp, swing = rng.uniform(0.3, 0.7) * am;
      const phiU = rng.uniform(1.0, 2.0), phiF = rng.uniform(2.6, 3.5), ph = rng.uniform(0, TAU);
      const shoulderBob = rng.uniform(0, 0.08);
      return {
        classIndex, arms: 1 << arm,
        apply(t, _b, pose) {
          const s = Math.sin(TAU * f * warp(t) + ph);
          pose.upper[arm] = bodyAngle(arm, phiU + shoulderBob * s);
          pose.fore[arm] = bodyAngle(arm, phiF + swing * s);
        },
      };
    }
    case 3:
    case 4:
    case 5:
    case 6: { // big arm circles in the image plane
      const arm = classIndex <= 4 ? 0 : 1;
      const cwOnScreen = (classIndex === 3 || classIndex === 5 ? 1 : -1) * CLOCKWISE_ON_SCREEN;
      const f = rng.uniform(0.6, 1.4) * sp;
      const cx = rng.uniform(0.15, 0.42), cy = rng.uniform(-0.15, 0.18);
      const r = rng.uniform(0.36, 0.55) * Math.min(1.1, am), ell = rng.uniform(0.85, 1.15), th0 = rng.uniform(0, TAU);
      const out = arm === 0 ? -1 : 1;
      return {
        classIndex, arms: 1 << arm,
        apply(t, b, pose) {
          // Angle on screen; with y down, increasing angle is clockwise as displayed.
          const th = th0 + cwOnScreen * TAU * f * warp(t);
          const ix = cx * out + r * Math.cos(th) * ell; // image-x offset / R
          const iy = cy + (r * Math.sin(th)) / ell;
          reachTo(b, pose, arm, ix * out, iy);
        },
      };
    }
    case 7: { // arm roll: forearms rolling around each other in front of the chest
      const f = rng.uniform(1.2, 2.5) * sp, yc = rng.uniform(0.35, 0.6), ry = rng.uniform(0.08, 0.16) * am;
      const rx = ry * rng.uniform(0.2, 0.6), sep = rng.uniform(0.03, 0.1), dir = rng.next() < 0.5 ? 1 : -1, ph = rng.uniform(0, TAU);
      return {
        classIndex, arms: 3,
        apply(t, b, pose) {
          const m = midline(b);
          const th = ph + dir * TAU * f * warp(t);
          for (let arm = 0; arm < 2; arm++) {
            const a = th + arm * Math.PI;
            const out = arm === 0 ? -1 : 1;
            // Circle in image space around a point just off the midline; convert image-x to "outward".
            reachTo(b, pose, arm, -m + sep + out * rx * Math.cos(a), yc + ry * Math.sin(a));
          }
        },
      };
    }
    case 8: { // air drums: sharp down-strokes, hands alternating or together, hopping between drums
      const f = rng.uniform(1.8, 3.5) * sp, y0 = rng.uniform(0.45, 0.72), a = rng.uniform(0.1, 0.22) * am;
      const alt = rng.next() < 0.7 ? 0.5 : 0;
      const pos = new Float64Array(6);
      for (let k = 0; k < 6; k++) pos[k] = rng.uniform(0.05, 0.45);
      const seq = new Uint8Array(64);
      for (let k = 0; k < 64; k++) seq[k] = rng.int(3);
      return {
        classIndex, arms: 3,
        apply(t, b, pose) {
          const m = midline(b);
          for (let arm = 0; arm < 2; arm++) {
            const u = f * warp(t) + arm * alt;
            const beat = Math.floor(u), fr = u - beat;
            const p0 = pos[arm * 3 + seq[(beat + arm * 7) & 63]], p1 = pos[arm * 3 + seq[(beat + 1 + arm * 7) & 63]];
            const sm = fr * fr * (3 - 2 * fr);
            const ox = -m + p0 + (p1 - p0) * sm;
            const h = Math.pow(0.5 - 0.5 * Math.cos(TAU * fr), 0.6); // 0 at the hit, 1 at the top
            reachTo(b, pose, arm, ox, y0 - a * h);
          }
        },
      };
    }
    case 9: { // air guitar: strumming hand low at the midline, fretting hand up and out holding the neck
      const f = rng.uniform(2.5, 5.0) * sp, ys = rng.uniform(0.72, 0.95), a = rng.uniform(0.06, 0.14) * am;
      const xs = rng.uniform(0.0, 0.15), xf = rng.uniform(0.35, 0.6), yf = rng.uniform(0.15, 0.45);
      const slideA = rng.uniform(0.02, 0.08), slideF = rng.uniform(0.2, 0.6), ph = rng.uniform(0, TAU);
      return {
        classIndex, arms: 3,
        apply(t, b, pose) {
          const strum = b.leftHanded ? 1 : 0;
          const m = midline(b);
          const tw = warp(t);
          reachTo(b, pose, strum, -m + xs + 0.02 * Math.sin(TAU * f * tw), ys + a * Math.sin(TAU * f * tw + ph));
          const s = slideA * Math.sin(TAU * slideF * tw) + 0.008 * Math.sin(TAU * 6 * tw);
          reachTo(b, pose, 1 - strum, xf + 0.87 * s, yf - 0.5 * s);
        },
      };
    }
    case 10:
      return sampleOther(rng, body, warp);
    default:
      throw new RangeError(`gesture class ${classIndex} out of range 0..${NUM_GESTURE_CLASSES - 1}`);
  }
}

/** "Other gestures": a grab bag of motions that are none of the ten classes. */
function sampleOther(rng: Rng, body: BodyParams, warp: (t: number) => number): GestureInstance {
  const kind = rng.int(5);
  const am = body.amplitude;
  if (kind === 0) {
    // Random smooth hand paths (one or both arms): sums of three slow sinusoids per coordinate.
    const arms = 1 + rng.int(3);
    const c = new Float64Array(2 * 2 * 3 * 3); // arm, coord, component, (amp, freq, phase)
    const base = new Float64Array(4);
    for (let arm = 0; arm < 2; arm++) {
      base[arm * 2] = rng.uniform(-0.1, 0.5);
      base[arm * 2 + 1] = rng.uniform(0.0, 0.6);
      for (let k = 0; k < 6; k++) {
        const o = (arm * 6 + k) * 3;
        c[o] = rng.uniform(0.03, 0.15) * am;
        c[o + 1] = rng.uniform(0.3, 2.0);
        c[o + 2] = rng.uniform(0, TAU);
      }
    }
    return {
      classIndex: 10, arms,
      apply(t, b, pose) {
        const tw = warp(t);
        for (let arm = 0; arm < 2; arm++) {
          if (!(arms & (1 << arm))) continue;
          let ox = base[arm * 2], oy = base[arm * 2 + 1];
          for (let k = 0; k < 3; k++) {
            const o = (arm * 6 + k) * 3, q = (arm * 6 + 3 + k) * 3;
            ox += c[o] * Math.sin(TAU * c[o + 1] * tw + c[o + 2]);
            oy += c[q] * Math.sin(TAU * c[q + 1] * tw + c[q + 2]);
          }
          reachTo(b, pose, arm, ox, oy);
        }
      },
    };
  }
  if (kind === 1) {
    // Scratching the head / fixing the hair with one hand.
    const arm = rng.int(2), f = rng.uniform(2, 5), a = rng.uniform(0.01, 0.04), side = rng.uniform(-0.3, 0.4);
    return {
      classIndex: 10, arms: 1 << arm,
      apply(t, b, pose) {
        const r = reach(b);
        const headY = -(b.neckLen + b.headRy) / r;
        const ox = -midline(b) + side * (b.headRx / r) + a * Math.sin(TAU * f * warp(t));
        reachTo(b, pose, arm, ox, headY + 0.5 * a * Math.cos(TAU * f * warp(t)));
      },
    };
  }
  if (kind === 2) {
    // Both arms raised and lowered sideways together (jumping-jack arms, stretching).
    const f = rng.uniform(0.4, 1.1) * body.speed, lo = rng.uniform(0.2, 0.6), hi = rng.uniform(2.2, 3.0), ph = rng.uniform(0, TAU);
    const bend = rng.uniform(0, 0.4);
    return {
      classIndex: 10, arms: 3,
      apply(t, _b, pose) {
        const u = 0.5 - 0.5 * Math.cos(TAU * f * warp(t) + ph);
        const phi = lo + (hi - lo) * u;
        for (let arm = 0; arm < 2; arm++) {
          pose.upper[arm] = bodyAngle(arm, phi);
          pose.fore[arm] = bodyAngle(arm, phi + bend);
        }
      },
    };
  }
  if (kind === 3) {
    // Pointing: one straight arm held towards a new direction every 0.7–1.8 s.
    const arm = rng.int(2);
    const dirs = new Float64Array(16), durs = new Float64Array(16);
    for (let k = 0; k < 16; k++) { dirs[k] = rng.uniform(0.3, 2.7); durs[k] = rng.uniform(0.7, 1.8); }
    return {
      classIndex: 10, arms: 1 << arm,
      apply(t, _b, pose) {
        let k = 0, acc = 0;
        while (k < 15 && acc + durs[k] < t) acc += durs[k++];
        const fr = Math.min(1, (t - acc) / 0.35);
        const sm = fr * fr * (3 - 2 * fr);
        const prev = k > 0 ? dirs[k - 1] : 0.2;
        const phi = prev + (dirs[k] - prev) * sm;
        pose.upper[arm] = bodyAngle(arm, phi);
        pose.fore[arm] = bodyAngle(arm, phi - 0.1);
      },
    };
  }
  // Torso swaying / twisting with hands on the hips.
  const f = rng.uniform(0.3, 0.9), a = rng.uniform(0.05, 0.14) * am, shift = rng.uniform(2, 6), ph = rng.uniform(0, TAU);
  return {
    classIndex: 10, arms: 3,
    apply(t, b, pose) {
      const s = Math.sin(TAU * f * warp(t) + ph);
      pose.lean += a * s;
      pose.dx += shift * s;
      const m = midline(b);
      reachTo(b, pose, 0, -m + 0.45 + 0.05 * s, 0.72, 1);
      reachTo(b, pose, 1, -m + 0.45 - 0.05 * s, 0.72, 1);
    },
  };
}
