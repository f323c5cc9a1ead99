/**
 * Rasterises the scene into a luminance image (DN, Float32Array, row-major, top-left origin) with soft,
 * anti-aliased edges from signed distances.
 *
 * Speed: the static background (room reflectance × illumination) is computed once per trial and cached;
 * each frame only restores and repaints the rectangles the body and the distractor covered in the previous
 * or the current frame. Global illumination changes (flicker, drift) are NOT applied here: they are one
 * log offset handed to the event model, so the frame stays unchanged where nothing moves.
 */
import type { BodyParams, Pose } from './body.ts';
import { armJoints } from './body.ts';
import type { DistractorParams } from './scene.ts';
import { distractorAt } from './scene.ts';

const CAPSULE = 0, ELLIPSE = 1, QUAD = 2;
const ROW = 18;
/** Row slots: 0 kind, 1..13 shape parameters, 14..17 clipped bbox (x0, y0, x1, y1 exclusive). */
const BB = 14;
const MAX_SHAPES = 16;

export class Renderer {
  readonly width: number;
  readonly height: number;
  /** The current frame, DN. */
  readonly frame: Float32Array;
  private readonly bg: Float32Array;
  private readonly illum: Float32Array;
  private readonly shapes = new Float64Array(MAX_SHAPES * ROW);
  private nShapes = 0;
  // Dirty rectangles of the previous frame: body and distractor (x0, y0, x1, y1 exclusive).
  private readonly prevBody = new Int32Array(4);
  private readonly prevDis = new Int32Array(4);
  private readonly curBody = new Int32Array(4);
  private readonly curDis = new Int32Array(4);
  private readonly joints = new Float64Array(8);
  private readonly dpos = new Float64Array(2);
  private readonly qx = new Float64Array(4);
  private readonly qy = new Float64Array(4);
  private readonly qnx = new Float64Array(4);
  private readonly qny = new Float64Array(4);
  private readonly qnd = new Float64Array(4);

  /** `reflectance` = background reflectance, `illum` = illumination field (DN per unit reflectance). */
  constructor(width: number, height: number, reflectance: Float32Array, illum: Float32Array) {
    this.width = width;
    this.height = height;
    const n = width * height;
    if (reflectance.length !== n || illum.length !== n) throw new RangeError('background and illumination must be width·height');
    this.bg = new Float32Array(n);
    for (let i = 0; i < n; i++) this.bg[i] = reflectance[i] * illum[i];
    this.illum = illum;
    this.frame = this.bg.slice();
  }

  /** Renders the body in `pose` and the distractor (if any) at time tSec into `frame`. */
  render(body: BodyParams, pose: Pose, distractor: DistractorParams | null, tSec: number): void {
    this.nShapes = 0;
    const cb = this.curBody;
    cb[0] = this.width; cb[1] = this.height; cb[2] = 0; cb[3] = 0;
    this.bodyShapes(body, pose);
    const nBody = this.nShapes;
    const cd = this.curDis;
    cd[0] = cd[1] = cd[2] = cd[3] = 0;
    if (distractor) {
      distractorAt(distractor, tSec, this.width, this.height, this.dpos);
      this.addEllipse(this.dpos[0], this.dpos[1], distractor.rx, distractor.ry, 0, distractor.reflectance, 1, cd);
    }
    this.restore(this.prevBody);
    this.restore(this.prevDis);
    this.restore(cb);
    this.restore(cd);
    // Paint the distractor first (it is behind the subject), then the body in order.
    for (let k = nBody; k < this.nShapes; k++) this.draw(k);
    for (let k = 0; k < nBody; k++) this.draw(k);
    this.prevBody.set(cb);
    this.prevDis.set(cd);
  }

  private bodyShapes(b: BodyParams, pose: Pose): void {
    const cb = this.curBody;
    const cx = b.cx + pose.dx, sy = b.shoulderY + pose.dy;
    const c = Math.cos(pose.lean), s = Math.sin(pose.lean);
    // Torso: a trapezoid from the shoulders to well below the image, rotated by the lean.
    const drop = this.height + 40 - sy;
    const top = -b.upperRadius * 0.4, sh = b.shoulderHalf, wh = b.waistHalf;
    this.addQuad(
      cx - sh * c - top * s, sy - sh * s + top * c,
      cx + sh * c - top * s, sy + sh * s + top * c,
      cx + wh * c - drop * s, sy + wh * s + drop * c,
      cx - wh * c - drop * s, sy - wh * s + drop * c,
      b.shirt, b.soft, cx, b.torsoShade / b.shoulderHalf, cb,
    );
    // Neck and head, tilted with the torso.
    const nx = cx + b.neckLen * s, ny = sy - b.neckLen * c;
    this.addCapsule(cx, sy, nx, ny, b.neckRadius, b.neckRadius, b.skin, b.soft, cb, 0, 0, b.limbShade);
    const hx = nx + b.headRy * s + pose.headDx, hy = ny - b.headRy * c + pose.headDy;
    if (b.hairAmount > 0.12) {
      this.addEllipse(hx, hy - b.headRy * 0.12, b.headRx * 1.08, b.headRy * 1.04, pose.lean, b.hair, b.soft, cb);
      const a = b.hairAmount;
      this.addEllipse(hx, hy + b.headRy * 0.12 * a, b.headRx * (0.95 - 0.12 * a), b.headRy * (0.95 - 0.22 * a), pose.lean, b.skin, b.soft, cb);
    } else {
      this.addEllipse(hx, hy, b.headRx, b.headRy, pose.lean, b.skin, b.soft, cb);
    }
    // Arms in front of the torso.
    const j = this.joints;
    for (let arm = 0; arm < 2; arm++) {
      armJoints(b, pose, arm, j);
      this.addCapsule(j[0], j[1], j[2], j[3], b.upperRadius, b.foreRadius * 1.1, b.shirt, b.soft, cb, b.clothTex, b.clothFreq, b.limbShade);
      const sleeveTex = b.sleeve === b.shirt ? b.clothTex : 0;
      this.addCapsule(j[2], j[3], j[4], j[5], b.foreRadius * 1.05, b.foreRadius * 0.85, b.sleeve, b.soft, cb, sleeveTex, b.clothFreq, b.limbShade);
      const ex = j[6] + (j[6] - j[4]) * 0.4, ey = j[7] + (j[7] - j[5]) * 0.4;
      this.addCapsule(j[4], j[5], ex, ey, b.foreRadius * 0.8, b.handRadius, b.skin, b.soft, cb, 0, 0, b.limbShade);
    }
  }

  // ---- shape list: one row of numbers per shape (no objects per frame) ----

  private row(kind: number): number {
    if (this.nShapes >= MAX_SHAPES) throw new Error('renderer: too many shapes');
    const o = this.nShapes++ * ROW;
    this.shapes[o] = kind;
    return o;
  }

  private bbox(o: number, x0: number, y0: number, x1: number, y1: number, acc: Int32Array): void {
    const S = this.shapes;
    const bx0 = Math.max(0, Math.floor(x0)), by0 = Math.max(0, Math.floor(y0));
    const bx1 = Math.min(this.width, Math.ceil(x1) + 1), by1 = Math.min(this.height, Math.ceil(y1) + 1);
    S[o + BB] = bx0; S[o + BB + 1] = by0; S[o + BB + 2] = bx1; S[o + BB + 3] = by1;
    if (bx1 > bx0 && by1 > by0) {
      if (bx0 < acc[0]) acc[0] = bx0;
      if (by0 < acc[1]) acc[1] = by0;
      if (bx1 > acc[2]) acc[2] = bx1;
      if (by1 > acc[3]) acc[3] = by1;
    }
  }

  /**
   * Tapered capsule (a limb). `tex` = depth of cloth stripes across the limb (folds, prints) with spatial
   * frequency `freq` rad/px along it; `shade` darkens towards the outline as on a lit cylinder. Both move
   * with the limb, so a moving arm fires events inside its outline too, as real arms do.
   */
  private addCapsule(
    ax: number, ay: number, bx: number, by: number, ra: number, rb: number, refl: number, soft: number, acc: Int32Array,
    tex: number, freq: number, shade: number,
  ): void {
    const o = this.row(CAPSULE);
    const S = this.shapes;
    S[o + 1] = ax; S[o + 2] = ay; S[o + 3] = bx; S[o + 4] = by; S[o + 5] = ra; S[o + 6] = rb; S[o + 7] = refl; S[o + 8] = soft;
    S[o + 9] = tex; S[o + 10] = freq; S[o + 11] = shade;
    const m = Math.max(ra, rb) + soft;
    this.bbox(o, Math.min(ax, bx) - m, Math.min(ay, by) - m, Math.max(ax, bx) + m, Math.max(ay, by) + m, acc);
  }

  private addEllipse(cx: number, cy: number, rx: number, ry: number, rot: number, refl: number, soft: number, acc: Int32Array): void {
    const o = this.row(ELLIPSE);
    const S = this.shapes;
    S[o + 1] = cx; S[o + 2] = cy; S[o + 3] = rx; S[o + 4] = ry; S[o + 5] = rot; S[o + 7] = refl; S[o + 8] = soft;
    const m = Math.max(rx, ry) + soft;
    this.bbox(o, cx - m, cy - m, cx + m, cy + m, acc);
  }

  /** Convex quad (clockwise on screen), with reflectance shading refl·(1 + shade·(x − shadeX)). */
  private addQuad(
    x0: number, y0: number, x1: number, y1: number, x2: number, y2: number, x3: number, y3: number,
    refl: number, soft: number, shadeX: number, shade: number, acc: Int32Array,
  ): void {
    const o = this.row(QUAD);
    const S = this.shapes;
    S[o + 1] = x0; S[o + 2] = y0; S[o + 3] = x1; S[o + 4] = y1; S[o + 5] = x2; S[o + 6] = y2; S[o + 9] = x3; S[o + 10] = y3;
    S[o + 7] = refl; S[o + 8] = soft; S[o + 11] = shade; S[o + 12] = shadeX;
    const m = soft;
    this.bbox(o, Math.min(x0, x1, x2, x3) - m, Math.min(y0, y1, y2, y3) - m, Math.max(x0, x1, x2, x3) + m, Math.max(y0, y1, y2, y3) + m, acc);
  }

  private restore(r: Int32Array): void {
    const w = this.width;
    const x0 = r[0], x1 = r[2];
    if (x1 <= x0) return;
    for (let y = r[1]; y < r[3]; y++) {
      const a = y * w + x0;
      this.frame.set(this.bg.subarray(a, y * w + x1), a);
    }
  }

  private draw(k: number): void {
    const S = this.shapes, o = k * ROW;
    const bx0 = S[o + BB], by0 = S[o + BB + 1], bx1 = S[o + BB + 2], by1 = S[o + BB + 3];
    if (bx1 <= bx0 || by1 <= by0) return;
    const f = this.frame, il = this.illum, w = this.width;
    const refl = S[o + 7], invSoft = 1 / S[o + 8];
    const kind = S[o];
    if (kind === CAPSULE) {
      const ax = S[o + 1], ay = S[o + 2], ra = S[o + 5], dr = S[o + 6] - ra;
      const bax = S[o + 3] - ax, bay = S[o + 4] - ay;
      const l2 = bax * bax + bay * bay;
      const inv = l2 > 1e-12 ? 1 / l2 : 0;
      const tex = S[o + 9], wl = S[o + 10] * Math.sqrt(l2), shade = S[o + 11];
      for (let y = by0; y < by1; y++) {
        const py = y + 0.5 - ay;
        let i = y * w + bx0;
        for (let x = bx0; x < bx1; x++, i++) {
          const px = x + 0.5 - ax;
          let h = (px * bax + py * bay) * inv;
          h = h < 0 ? 0 : h > 1 ? 1 : h;
          const dx = px - bax * h, dy = py - bay * h;
          const dist = Math.sqrt(dx * dx + dy * dy), rad = ra + dr * h;
          const sd = dist - rad;
          let cov = 0.5 - sd * invSoft;
          if (cov <= 0) continue;
          if (cov > 1) cov = 1;
          let q = dist / rad;
          if (q > 1) q = 1;
          let r = refl * (1 - shade * q * q);
          if (tex !== 0) r *= 1 + tex * Math.sin(wl * h);
          f[i] += (r * il[i] - f[i]) * cov;
        }
      }
    } else if (kind === ELLIPSE) {
      const cx = S[o + 1], cy = S[o + 2], irx = 1 / S[o + 3], iry = 1 / S[o + 4];
      const c = Math.cos(S[o + 5]), s = Math.sin(S[o + 5]);
      for (let y = by0; y < by1; y++) {
        const py = y + 0.5 - cy;
        let i = y * w + bx0;
        for (let x = bx0; x < bx1; x++, i++) {
          const px = x + 0.5 - cx;
          const u = (px * c + py * s) * irx, v = (-px * s + py * c) * iry;
          const k0 = Math.sqrt(u * u + v * v);
          const uu = u * irx, vv = v * iry;
          const k1 = Math.sqrt(uu * uu + vv * vv);
          // Distance approximation for ellipses (k0 (k0 − 1) / k1), accurate near the boundary, which is all the anti-aliasing needs.
          const sd = k1 > 1e-12 ? (k0 * (k0 - 1)) / k1 : -1e9;
          let cov = 0.5 - sd * invSoft;
          if (cov <= 0) continue;
          if (cov > 1) cov = 1;
          f[i] += (refl * il[i] - f[i]) * cov;
        }
      }
    } else {
      // Edge normals (outward for a clockwise-on-screen polygon) and offsets; the signed distance of a convex
      // polygon is the largest edge distance (exact along edges; outside a corner it underestimates, which keeps the corner sharp).
      const xs = this.qx, ys = this.qy, nx = this.qnx, ny = this.qny, nd = this.qnd;
      xs[0] = S[o + 1]; xs[1] = S[o + 3]; xs[2] = S[o + 5]; xs[3] = S[o + 9];
      ys[0] = S[o + 2]; ys[1] = S[o + 4]; ys[2] = S[o + 6]; ys[3] = S[o + 10];
      for (let e = 0; e < 4; e++) {
        const x0 = xs[e], y0 = ys[e], x1 = xs[(e + 1) & 3], y1 = ys[(e + 1) & 3];
        const ex = x1 - x0, ey = y1 - y0, len = Math.hypot(ex, ey) || 1;
        nx[e] = ey / len; ny[e] = -ex / len; nd[e] = nx[e] * x0 + ny[e] * y0;
      }
      const shade = S[o + 11], sx = S[o + 12];
      for (let y = by0; y < by1; y++) {
        const py = y + 0.5;
        let i = y * w + bx0;
        for (let x = bx0; x < bx1; x++, i++) {
          const px = x + 0.5;
          let sd = nx[0] * px + ny[0] * py - nd[0];
          for (let e = 1; e < 4; e++) {
            const d = nx[e] * px + ny[e] * py - nd[e];
            if (d > sd) sd = d;
          }
          let cov = 0.5 - sd * invSoft;
          if (cov <= 0) continue;
          if (cov > 1) cov = 1;
          let r = refl * (1 + shade * (px - sx));
          r = r < 0.01 ? 0.01 : r > 0.99 ? 0.99 : r;
          f[i] += (r * il[i] - f[i]) * cov;
        }
      }
    }
  }
}
