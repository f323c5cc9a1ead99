/**
 * Frame → event conversion in the style of ESIM / v2e: a DVS pixel fires when its log intensity moves a
 * contrast threshold away from the value memorised at its last event.
 *
 * Model, per pixel (all state in typed arrays, one slot per pixel):
 *   - lin-log photoreceptor: linear below `linLogDn` DN, logarithmic above (as v2e), so that dark pixels do
 *     not turn sensor noise into huge log swings;
 *   - optional first-order low-pass whose cutoff scales with intensity (dim pixels respond slowly);
 *   - ON / OFF thresholds drawn once per pixel from N(mean, σ) (fixed-pattern mismatch);
 *   - several events per frame when the change crosses several thresholds, each timestamped by linear
 *     interpolation of the log intensity between the two frames;
 *   - refractory period (events closer than it to the pixel's previous event are dropped; the memorised
 *     level still follows, as the pixel is held in reset);
 *   - leak: the memorised level drifts down, producing ON events at ≈ `leakHz` in a static scene;
 *   - shot noise: Poisson events at ≈ `shotNoiseHz` per pixel (optionally more in the dark), which reset the
 *     pixel like a real event; a few hot pixels with high rates.
 *
 * Streaming: feed frames one by one with their timestamps (µs); each call returns the events between the
 * previous frame and this one, sorted by time (rounded to integer µs, ties in pixel order). The first frame only
 * initialises the state. Suitable for simulated frames and, later, webcam frames.
 */
import type { EventPacket } from '../events/packet.ts';
import { Rng } from '../util/rng.ts';

export interface EsimConfig {
  width: number;
  height: number;
  /** Mean ON threshold in log-intensity units (v2e default 0.2). */
  thresholdOn: number;
  /** Mean OFF threshold in log-intensity units (positive number). */
  thresholdOff: number;
  /** Per-pixel threshold mismatch, Gaussian σ in log units (v2e default 0.03). */
  thresholdSigma: number;
  /** Lower clamp for a pixel's threshold, so mismatch never makes a pixel fire on nothing. */
  thresholdMin: number;
  /** Refractory period in µs (0 = none). */
  refractoryUs: number;
  /** Leak event rate per pixel, Hz (ON events in a static scene). */
  leakHz: number;
  /** Relative per-pixel spread of the leak rate (σ / mean). */
  leakSigma: number;
  /** Shot-noise event rate per pixel, Hz (mean over a mid-grey scene when darkBoost > 0). */
  shotNoiseHz: number;
  /** Shot noise rate multiplier grows to (1 + darkBoost) at 0 DN and is 1 at ≥ 255 DN. 0 = uniform. */
  shotNoiseDarkBoost: number;
  /** Fraction of pixels that are hot (fire at a high rate independent of light). */
  hotPixelFraction: number;
  /** Hot pixel rate range, Hz. */
  hotPixelHz: [number, number];
  /** Photoreceptor cutoff frequency at 255 DN, Hz; it scales with intensity (min 5 %). 0 = no low-pass. */
  cutoffHz: number;
  /** Lin-log knee in DN (v2e uses 20). Input frames are luminance in DN (0..255 nominal, may exceed). */
  linLogDn: number;
  /** Initialise memorised levels at a random point inside the dead band (avoids synchronised leak events). */
  randomizeInitialReference: boolean;
}

export const DEFAULT_ESIM: Omit<EsimConfig, 'width' | 'height'> = {
  thresholdOn: 0.2,
  thresholdOff: 0.2,
  thresholdSigma: 0.03,
  thresholdMin: 0.01,
  refractoryUs: 500,
  leakHz: 0.1,
  leakSigma: 0.1,
  shotNoiseHz: 0.1,
  shotNoiseDarkBoost: 0,
  hotPixelFraction: 0,
  hotPixelHz: [5, 50],
  cutoffHz: 0,
  linLogDn: 20,
  randomizeInitialReference: true,
};

/** The lin-log transfer of v2e: linear through 0 below the knee, ln above; continuous at the knee. */
export function linLog(dn: number, knee: number): number {
  return dn >= knee ? Math.log(dn) : dn * (Math.log(knee) / knee);
}

export class EsimState {
  readonly config: EsimConfig;
  readonly width: number;
  readonly height: number;
  /** Per-pixel thresholds after mismatch (read-only for callers; exposed for tests and inspection). */
  readonly thrOn: Float32Array;
  readonly thrOff: Float32Array;

  private readonly n: number;
  private readonly rng: Rng;
  private readonly ref: Float64Array;
  private readonly lp: Float64Array;
  private readonly lastDn: Float32Array;
  private readonly logDn: Float64Array;
  /** Relative photoreceptor bandwidth per pixel (cutoff ∝ intensity, min 5 %). */
  private readonly bandwidth: Float32Array;
  private readonly lastEvent: Float64Array;
  /** Leak per µs, log units. */
  private readonly leakPerUs: Float64Array;
  private readonly hotIdx: Int32Array;
  private readonly hotHz: Float64Array;
  private tPrev = NaN;

  // Unsorted events of the current frame, then the sorted output.
  private cap = 4096;
  private sPix = new Int32Array(this.cap);
  private sT = new Float64Array(this.cap);
  private sP = new Uint8Array(this.cap);
  private sN = 0;
  private out: EventPacket = { x: new Uint16Array(this.cap), y: new Uint16Array(this.cap), t: new Float64Array(this.cap), p: new Uint8Array(this.cap), length: 0 };
  private buckets = new Int32Array(2048);
  private cand = new Int32Array(0);
  private candPrev = new Float64Array(0);

  /** `seed` fixes the mismatch pattern, hot pixels and noise: the same seed and frames give identical events. */
  constructor(config: Partial<EsimConfig> & { width: number; height: number }, seed: number | Rng = 1) {
    const c: EsimConfig = { ...DEFAULT_ESIM, ...config };
    if (!(c.width > 0 && c.height > 0 && c.width <= 65536 && c.height <= 65536)) throw new RangeError(`bad sensor size ${c.width}x${c.height}`);
    if (!(c.thresholdOn > 0 && c.thresholdOff > 0)) throw new RangeError('thresholds must be > 0');
    this.config = c;
    this.width = c.width;
    this.height = c.height;
    const n = (this.n = c.width * c.height);
    this.rng = typeof seed === 'number' ? new Rng(seed) : seed;
    this.thrOn = new Float32Array(n);
    this.thrOff = new Float32Array(n);
    this.ref = new Float64Array(n);
    this.lp = new Float64Array(n);
    this.lastDn = new Float32Array(n).fill(NaN);
    this.logDn = new Float64Array(n);
    this.bandwidth = new Float32Array(n).fill(1);
    this.lastEvent = new Float64Array(n).fill(-Infinity);
    this.leakPerUs = new Float64Array(n);
    const r = this.rng;
    for (let i = 0; i < n; i++) {
      this.thrOn[i] = Math.max(c.thresholdMin, r.normal(c.thresholdOn, c.thresholdSigma));
      this.thrOff[i] = Math.max(c.thresholdMin, r.normal(c.thresholdOff, c.thresholdSigma));
      const rate = Math.max(0, c.leakHz * (1 + c.leakSigma * r.normal()));
      this.leakPerUs[i] = (rate * this.thrOn[i]) / 1e6;
    }
    const nHot = Math.round(n * c.hotPixelFraction);
    this.hotIdx = new Int32Array(nHot);
    this.hotHz = new Float64Array(nHot);
    for (let k = 0; k < nHot; k++) {
      this.hotIdx[k] = r.int(n);
      this.hotHz[k] = r.uniform(c.hotPixelHz[0], c.hotPixelHz[1]);
    }
  }

  /** Time of the last frame fed, µs (NaN before the first). */
  get time(): number {
    return this.tPrev;
  }

  /**
   * Feeds one frame of luminance (DN ≥ 0, row-major, top-left origin, length width·height) taken at `tUs`.
   * `logGain` is a global log-illumination offset (flicker, slow light changes) added to every pixel.
   * Returns the events in (previous frame, this frame], sorted by time; the packet is a view that is valid
   * until the next call (copy or write it out before then).
   */
  feed(luma: Float32Array, tUs: number, logGain = 0): EventPacket {
    if (luma.length < this.n) throw new RangeError(`frame has ${luma.length} pixels, sensor needs ${this.n}`);
    if (!Number.isFinite(tUs)) throw new RangeError(`frame time must be finite, got ${tUs}`);
    this.sN = 0;
    this.out.length = 0;
    const c = this.config;
    const n = this.n;
    const knee = c.linLogDn;
    const kLin = Math.log(knee) / knee;
    const lastDn = this.lastDn, logDn = this.logDn, lp = this.lp, ref = this.ref;

    if (Number.isNaN(this.tPrev)) {
      // First frame: memorise, no events.
      const r = this.rng;
      for (let i = 0; i < n; i++) {
        const dn = luma[i];
        lastDn[i] = dn;
        this.bandwidth[i] = Math.max(0.05, Math.min(1, dn / 255));
        const l = (logDn[i] = dn >= knee ? Math.log(dn) : dn * kLin) + logGain;
        lp[i] = l;
        ref[i] = c.randomizeInitialReference ? l + r.uniform(-this.thrOn[i], this.thrOff[i]) * 0.999 : l;
      }
      this.tPrev = tUs;
      return this.out;
    }
    const t0 = this.tPrev;
    if (!(tUs > t0)) throw new RangeError(`frame times must increase: ${tUs} after ${t0}`);
    const dt = tUs - t0;
    const lowpass = c.cutoffHz > 0;
    const bw = this.bandwidth;
    const thrOn = this.thrOn, thrOff = this.thrOff, leak = this.leakPerUs, lastEv = this.lastEvent;
    const refr = c.refractoryUs;
    const wTwoPiDt = (2 * Math.PI * c.cutoffHz * dt) / 1e6;

    // Pass 1 (every pixel, tight arithmetic): photoreceptor, leak, and a threshold test that only collects
    // the few pixels that fire; pass 2 does the rare, branchy work of emitting their events.
    if (this.cand.length < n) { this.cand = new Int32Array(n); this.candPrev = new Float64Array(n); }
    const cand = this.cand, candPrev = this.candPrev;
    let nc = 0;
    for (let i = 0; i < n; i++) {
      const dn = luma[i];
      if (dn !== lastDn[i]) {
        lastDn[i] = dn;
        logDn[i] = dn >= knee ? Math.log(dn) : dn * kLin;
        if (lowpass) bw[i] = Math.max(0.05, Math.min(1, dn / 255));
      }
      const prev = lp[i];
      // Backward-Euler RC low-pass: gain x/(1+x), x = 2π·fc·dt; stable for any step, 1 without low-pass.
      const x = wTwoPiDt * bw[i];
      const v = lowpass ? prev + (x / (1 + x)) * (logDn[i] + logGain - prev) : logDn[i] + logGain;
      lp[i] = v;
      const r = ref[i] - leak[i] * dt;
      ref[i] = r;
      const d = v - r;
      if (d >= thrOn[i] || d <= -thrOff[i]) {
        cand[nc] = i;
        candPrev[nc++] = prev;
      }
    }
    // Pass 2: crossings of r ± k·thr along the straight line prev → v, with refractory suppression.
    for (let m = 0; m < nc; m++) {
      const i = cand[m];
      const prev = candPrev[m];
      const v = lp[i];
      let r = ref[i];
      const d = v - r;
      const up = d > 0;
      const th = up ? thrOn[i] : thrOff[i];
      const k = Math.floor((up ? d : -d) / th);
      const slope = v - prev;
      let last = lastEv[i];
      for (let j = 1; j <= k; j++) {
        const level = up ? r + j * th : r - j * th;
        let f = slope !== 0 ? (level - prev) / slope : 1;
        if (!(f > 0)) f = 0;
        else if (f > 1) f = 1;
        const te = t0 + f * dt;
        if (te - last >= refr) {
          this.push(i, te, up ? 1 : 0);
          last = te;
        }
      }
      lastEv[i] = last;
      r = up ? r + k * th : r - k * th;
      ref[i] = r;
    }
    if (this.hotIdx.length > 0 || c.shotNoiseHz > 0) this.noise(t0, dt);
    this.tPrev = tUs;
    this.sortOut(t0, tUs);
    return this.out;
  }

  private noise(t0: number, dt: number): void {
    const c = this.config;
    const r = this.rng;
    const refr = c.refractoryUs;
    const dtS = dt / 1e6;
    if (c.shotNoiseHz > 0) {
      const boost = c.shotNoiseDarkBoost;
      const count = r.poisson(c.shotNoiseHz * this.n * dtS * (1 + boost));
      for (let k = 0; k < count; k++) {
        const i = r.int(this.n);
        const p = r.next() < 0.5 ? 1 : 0;
        const te = t0 + r.next() * dt;
        if (boost > 0) {
          const dark = 1 - Math.max(0, Math.min(1, this.lastDn[i] / 255));
          if (r.next() * (1 + boost) >= 1 + boost * dark) continue;
        }
        this.noiseEvent(i, te, p, refr);
      }
    }
    for (let k = 0; k < this.hotIdx.length; k++) {
      const count = r.poisson(this.hotHz[k] * dtS);
      for (let m = 0; m < count; m++) this.noiseEvent(this.hotIdx[k], t0 + r.next() * dt, r.next() < 0.5 ? 1 : 0, refr);
    }
  }

  /** A spurious event resets the pixel like a real one: the memorised level becomes the current level. */
  private noiseEvent(i: number, te: number, p: number, refr: number): void {
    if (te - this.lastEvent[i] < refr) return;
    this.lastEvent[i] = Math.max(this.lastEvent[i], te);
    this.ref[i] = this.lp[i];
    this.push(i, te, p);
  }

  private push(pix: number, t: number, p: number): void {
    if (this.sN === this.cap) this.grow();
    const k = this.sN++;
    this.sPix[k] = pix;
    this.sT[k] = t;
    this.sP[k] = p;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const pix = new Int32Array(cap); pix.set(this.sPix); this.sPix = pix;
    const t = new Float64Array(cap); t.set(this.sT); this.sT = t;
    const p = new Uint8Array(cap); p.set(this.sP); this.sP = p;
    this.out = { x: new Uint16Array(cap), y: new Uint16Array(cap), t: new Float64Array(cap), p: new Uint8Array(cap), length: 0 };
    this.cap = cap;
  }

  /** Counting sort on integer µs (rounded to nearest), stable: ties keep pixel order, then crossing order. */
  private sortOut(t0: number, t1: number): void {
    const m = this.sN;
    const out = this.out;
    out.length = m;
    if (m === 0) return;
    const base = Math.round(t0);
    const nb = Math.round(t1) - base + 1;
    if (this.buckets.length < nb + 1) this.buckets = new Int32Array(nb + 1);
    const b = this.buckets;
    b.fill(0, 0, nb + 1);
    const sT = this.sT, sPix = this.sPix, sP = this.sP;
    for (let k = 0; k < m; k++) {
      let q = Math.round(sT[k]) - base;
      if (q >= nb) q = nb - 1;
      else if (q < 0) q = 0;
      b[q + 1]++;
    }
    for (let q = 1; q <= nb; q++) b[q] += b[q - 1];
    const w = this.width;
    for (let k = 0; k < m; k++) {
      let q = Math.round(sT[k]) - base;
      if (q >= nb) q = nb - 1;
      else if (q < 0) q = 0;
      const o = b[q]++;
      const pix = sPix[k];
      const y = (pix / w) | 0;
      out.x[o] = pix - y * w;
      out.y[o] = y;
      out.t[o] = base + q;
      out.p[o] = sP[k];
    }
  }
}
