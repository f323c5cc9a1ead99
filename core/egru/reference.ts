/**
 * The readable TypeScript reference of the EGRU layer (spec: shared/docs/egru-spec.md §2 forward, §3 surrogate,
 * §4.2 backward, §5 sparsity). Every other kernel (native sparse/dense) is tested against this file.
 *
 * - Accepts Float32Array or Float64Array parameters/inputs and returns outputs of the same array type as `x`.
 *   All arithmetic happens in JS numbers / Float64Array scratch, i.e. in float64.
 * - The default kernel is written *sparsely in the obvious way* (§5): the recurrent product reads only the rows of
 *   Rk for units that fired at t−1, the input projection skips zero inputs, backward propagates recurrent error
 *   only to units in B = A ∪ S, and dRk / dW are accumulated only on rows with a non-zero presynaptic value.
 *   It counts the multiply-accumulates it executes. `referenceDenseKernel` does every product in full; tests hold
 *   the two equal.
 * - No allocation per time step: scratch buffers are allocated once per call.
 */
import type {
  EgruBackwardMacs,
  EgruCache,
  EgruForwardOptions,
  EgruForwardResult,
  EgruGrads,
  EgruKernel,
  EgruLayerParams,
  EgruMacs,
  EgruUpstream,
  Float,
} from './types.ts';
import { TRACE_DECAY, TRACE_INPUT } from './types.ts';

/**
 * A kernel whose methods work for either precision (the reference). It is assignable to both
 * `EgruKernel<Float32Array>` and `EgruKernel<Float64Array>`.
 */
export interface AnyPrecisionEgruKernel {
  readonly name: string;
  forward<A extends Float>(p: EgruLayerParams<A>, x: A, T: number, N: number, opts?: EgruForwardOptions<A>): EgruForwardResult<A>;
  backward<A extends Float>(
    p: EgruLayerParams<A>,
    x: A,
    fwd: EgruForwardResult<A>,
    up: EgruUpstream<A>,
    opts?: EgruForwardOptions<A>,
  ): EgruGrads<A>;
}

/** A new zeroed array of the same type as `like`. */
function alloc<A extends Float>(like: A, n: number): A {
  return (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as A;
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** §3: pseudo-derivative of the Heaviside, γ·max(0, 1 − ε|s|). */
export function pseudoDerivative(s: number, gamma: number, eps: number): number {
  const v = 1 - eps * Math.abs(s);
  return v > 0 ? gamma * v : 0;
}

/** Throws a clear error when an array does not have the length its shape requires. */
function checkLength(what: string, arr: ArrayLike<number> | undefined, expected: number): void {
  if (arr !== undefined && arr.length !== expected) {
    throw new RangeError(`EGRU: ${what} has ${arr.length} elements, expected ${expected}`);
  }
}

function checkShapes<A extends Float>(p: EgruLayerParams<A>, x: A, T: number, N: number, opts: EgruForwardOptions<A>): void {
  const C = p.inputSize;
  const H = p.hiddenSize;
  if (!(Number.isInteger(T) && T >= 0 && Number.isInteger(N) && N >= 0)) throw new RangeError(`EGRU: bad T=${T} N=${N}`);
  checkLength('kernel [C,3H]', p.kernel, C * 3 * H);
  checkLength('recurrentKernel [H,3H]', p.recurrentKernel, H * 3 * H);
  checkLength('bias [3H]', p.bias, 3 * H);
  checkLength('recurrentBias [3H]', p.recurrentBias, 3 * H);
  checkLength('theta [H]', p.theta, H);
  checkLength('x [T,N,C]', x, T * N * C);
  checkLength('y0 [N,H]', opts.y0, N * H);
  const p0 = opts.zoneout ?? 0;
  if (p0 < 0 || p0 >= 1) throw new RangeError(`EGRU: zoneout p=${p0} must be in [0, 1)`);
  if (p0 > 0 && opts.training) {
    if (!opts.zoneoutMask) throw new RangeError('EGRU: training with zoneout needs zoneoutMask [T,N,H]');
    checkLength('zoneoutMask [T,N,H]', opts.zoneoutMask, T * N * H);
  }
}

/** Zoneout mode of a call: none, training (per-entry mask), or eval (fixed mix with p). */
function zoneoutMode(opts: EgruForwardOptions<Float>): 'none' | 'mask' | 'eval' {
  const p = opts.zoneout ?? 0;
  if (p <= 0) return 'none';
  return opts.training ? 'mask' : 'eval';
}

function forward<A extends Float>(
  dense: boolean,
  p: EgruLayerParams<A>,
  x: A,
  T: number,
  N: number,
  opts: EgruForwardOptions<A> = {},
): EgruForwardResult<A> {
  checkShapes(p, x, T, N, opts);
  const C = p.inputSize;
  const H = p.hiddenSize;
  const G3 = 3 * H;
  const W = p.kernel;
  const Rk = p.recurrentKernel;
  const theta = p.theta;
  const zmode = zoneoutMode(opts);
  const zp = opts.zoneout ?? 0;
  const mask = opts.zoneoutMask;
  const keep = opts.keepCache ?? opts.training ?? false;

  const TNH = T * N * H;
  const y = alloc(x, TNH);
  const c = alloc(x, TNH);
  const o = alloc(x, TNH);
  const tr = alloc(x, TNH);
  const cache: EgruCache<A> | null = keep
    ? { u: alloc(x, TNH), r: alloc(x, TNH), g: alloc(x, TNH), qG: alloc(x, TNH), s: alloc(x, TNH) }
    : null;
  const macs: EgruMacs = { executed: new Float64Array(T), dense: new Float64Array(T), activity: new Float64Array(T) };

  // Running state in float64, [N, H]. §2: c_0 = 0 always; y_0 = opts.y0 or 0; tr_0 = 0.
  const cPrev = new Float64Array(N * H);
  const yPrev = new Float64Array(N * H);
  const trPrev = new Float64Array(N * H);
  if (opts.y0) yPrev.set(opts.y0);
  // §5: per-sample list of units with y_{t−1} ≠ 0 (the rows of Rk the recurrent product must read).
  const active = new Int32Array(N * H);
  const nActive = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < H; j++) if (yPrev[n * H + j] !== 0) active[n * H + nActive[n]++] = j;
  }
  const a = new Float64Array(G3); // a_t = x_t W + b^x
  const q = new Float64Array(G3); // q_t = y_{t−1} Rk + b^r

  for (let t = 0; t < T; t++) {
    let executed = 0;
    let fired = 0;
    for (let n = 0; n < N; n++) {
      // §2 a_t = x_t W + b^x; §5: zero inputs contribute nothing, so skip their rows of W.
      a.set(p.bias);
      const xBase = (t * N + n) * C;
      for (let i = 0; i < C; i++) {
        const xv = x[xBase + i];
        if (xv === 0 && !dense) continue;
        const row = i * G3;
        for (let k = 0; k < G3; k++) a[k] += xv * W[row + k];
        executed += G3;
      }
      // §2 q_t = y_{t−1} Rk + b^r; §5: only rows j ∈ A_{t−1} (units that fired) are read.
      q.set(p.recurrentBias);
      const hBase = n * H;
      const rows = dense ? H : nActive[n];
      for (let m = 0; m < rows; m++) {
        const j = dense ? m : active[hBase + m];
        const yv = yPrev[hBase + j];
        const row = j * G3;
        for (let k = 0; k < G3; k++) q[k] += yv * Rk[row + k];
        executed += G3;
      }
      // §2 pointwise part, unit by unit.
      let count = 0;
      const outBase = (t * N + n) * H;
      for (let j = 0; j < H; j++) {
        const u = sigmoid(a[j] + q[j]); // keep gate: multiplies the old state
        const r = sigmoid(a[H + j] + q[H + j]); // reset gate
        const qG = q[2 * H + j];
        const g = Math.tanh(a[2 * H + j] + r * qG); // reset-after candidate
        const cp = cPrev[hBase + j];
        let ch = u * cp + (1 - u) * g; // ĉ_t
        if (zmode === 'mask') {
          const m = mask![outBase + j];
          ch = m * ch + (1 - m) * cp;
        } else if (zmode === 'eval') {
          ch = zp * cp + (1 - zp) * ch;
        }
        const th = theta[j];
        const s = ch - th;
        const ov = s > 0 ? 1 : 0; // H(s), H(0) = 0
        const yv = ov * ch; // y_t = o ⊙ ĉ
        const cv = ch - ov * th; // soft reset: subtract θ
        const trv = TRACE_DECAY * trPrev[hBase + j] + TRACE_INPUT * yv;
        const idx = outBase + j;
        y[idx] = yv;
        c[idx] = cv;
        o[idx] = ov;
        tr[idx] = trv;
        if (cache) {
          cache.u[idx] = u;
          cache.r[idx] = r;
          cache.g[idx] = g;
          cache.qG[idx] = qG;
          cache.s[idx] = s;
        }
        cPrev[hBase + j] = cv;
        yPrev[hBase + j] = yv;
        trPrev[hBase + j] = trv;
        fired += ov;
        if (yv !== 0) active[hBase + count++] = j; // q above is complete, so the list can be rebuilt in place
      }
      nActive[n] = count;
    }
    macs.executed[t] = executed;
    macs.dense[t] = N * G3 * (C + H);
    macs.activity[t] = N * H > 0 ? fired / (N * H) : 0;
  }
  return { T, N, H, y, c, o, tr, cache, macs };
}

function backward<A extends Float>(
  dense: boolean,
  p: EgruLayerParams<A>,
  x: A,
  fwd: EgruForwardResult<A>,
  up: EgruUpstream<A>,
  opts: EgruForwardOptions<A> = {},
): EgruGrads<A> {
  const { T, N } = fwd;
  checkShapes(p, x, T, N, opts);
  if (!fwd.cache) throw new Error('EGRU backward: the forward result has no cache (run forward with keepCache or training)');
  const C = p.inputSize;
  const H = p.hiddenSize;
  const G3 = 3 * H;
  const TNH = T * N * H;
  for (const k of ['dy', 'dc', 'do', 'dtr'] as const) checkLength(`upstream ${k} [T,N,H]`, up[k], TNH);
  const W = p.kernel;
  const Rk = p.recurrentKernel;
  const theta = p.theta;
  const { gamma, eps } = p;
  const { u: U, r: R, g: Gc, qG: QG, s: S } = fwd.cache;
  const { y: Y, c: Cst, o: O } = fwd;
  const dY = up.dy;
  const dC = up.dc;
  const dO = up.do;
  const dTr = up.dtr;
  const zmode = zoneoutMode(opts);
  const zp = opts.zoneout ?? 0;
  const mask = opts.zoneoutMask;
  const y0 = opts.y0;

  // float64 accumulators
  const dW = new Float64Array(C * G3);
  const dRk = new Float64Array(H * G3);
  const dbx = new Float64Array(G3);
  const dbr = new Float64Array(G3);
  const dTheta = new Float64Array(H);
  // inputGrad: false (first layer fed by camera frames) skips x̄ = δa Wᵀ; dX is then returned empty.
  const wantDX = opts.inputGrad ?? true;
  const dX = alloc(x, wantDX ? T * N * C : 0);
  const dY0 = new Float64Array(N * H);
  const macs: EgruBackwardMacs = {
    executed: new Float64Array(T),
    dense: new Float64Array(T),
    backwardSparsity: new Float64Array(T),
  };

  // §4.2 recursion state per sample, [N, H]: δy^rec (= ∂L/∂y_{t−1} via Rk), δc^rec, τ.
  const dyRec = new Float64Array(N * H);
  const dcRec = new Float64Array(N * H);
  const tau = new Float64Array(N * H);
  const da = new Float64Array(G3); // δa_t = [δa_U, δa_R, δa_G]
  const dq = new Float64Array(G3); // δq_t = [δa_U, δa_R, δq_G]

  /** §5: unit j at flat index idx is in B = A ∪ S (fired, or inside the surrogate's support). */
  const inB = (idx: number): boolean => O[idx] !== 0 || pseudoDerivative(S[idx], gamma, eps) !== 0;

  for (let t = T - 1; t >= 0; t--) {
    let executed = 0;
    let outsideB = 0;
    for (let n = 0; n < N; n++) {
      const hBase = n * H;
      const base = (t * N + n) * H;
      const prevBase = base - N * H; // (t−1, n)
      for (let j = 0; j < H; j++) {
        const idx = base + j;
        const h = hBase + j;
        tau[h] += dTr ? dTr[idx] : 0; // τ ← τ + T̄_t
        const dy = (dY ? dY[idx] : 0) + dyRec[h] + TRACE_INPUT * tau[h]; // total ∂L/∂y_t
        const dc = (dC ? dC[idx] : 0) + dcRec[h]; // total ∂L/∂c_t
        const ov = O[idx];
        const th = theta[j];
        const ch = Cst[idx] + th * ov; // ĉ_t recovered from the post-reset state
        const dOt = (dO ? dO[idx] : 0) + ch * dy - th * dc; // δo
        const tri = pseudoDerivative(S[idx], gamma, eps);
        const ds = tri * dOt; // δs (surrogate, §3)
        if (ov === 0 && tri === 0) outsideB++;
        dTheta[j] -= ds + ov * dc; // θ̄ += −(δs + o ⊙ δc)
        let dch = ov * dy + ds + dc; // δĉ
        const u = U[idx];
        if (zmode === 'mask') {
          const m = mask![idx];
          dcRec[h] = (1 - m) * dch;
          dch *= m;
          dcRec[h] += u * dch;
        } else if (zmode === 'eval') {
          dcRec[h] = zp * dch;
          dch *= 1 - zp;
          dcRec[h] += u * dch;
        } else {
          dcRec[h] = u * dch;
        }
        const g = Gc[idx];
        const r = R[idx];
        const cPrev = t > 0 ? Cst[prevBase + j] : 0; // c_0 = 0
        const dg = (1 - u) * dch;
        const du = (cPrev - g) * dch;
        const daG = (1 - g * g) * dg;
        const dqG = r * daG;
        const dr = QG[idx] * daG;
        const daR = r * (1 - r) * dr;
        const daU = u * (1 - u) * du;
        da[j] = daU;
        da[H + j] = daR;
        da[2 * H + j] = daG;
        dq[j] = daU;
        dq[H + j] = daR;
        dq[2 * H + j] = dqG;
        tau[h] *= TRACE_DECAY; // carried to t−1
      }
      // b̄^x += δa, b̄^r += δq
      for (let k = 0; k < G3; k++) {
        dbx[k] += da[k];
        dbr[k] += dq[k];
      }
      // W̄ += x_tᵀ δa (rows of non-zero inputs only, §5) and x̄_t = δa Wᵀ (dense).
      const xBase = (t * N + n) * C;
      for (let i = 0; i < C; i++) {
        const row = i * G3;
        const xv = x[xBase + i];
        if (xv !== 0 || dense) {
          for (let k = 0; k < G3; k++) dW[row + k] += xv * da[k];
          executed += G3;
        }
        if (!wantDX) continue;
        let acc = 0;
        for (let k = 0; k < G3; k++) acc += da[k] * W[row + k];
        dX[xBase + i] = acc;
        executed += G3;
      }
      // R̄k += y_{t−1}ᵀ δq (rows j with y_{t−1,j} ≠ 0 only, §5) and δy^rec = δq Rkᵀ.
      for (let j = 0; j < H; j++) {
        const yPrev = t > 0 ? Y[prevBase + j] : y0 ? y0[hBase + j] : 0;
        const row = j * G3;
        if (yPrev !== 0 || dense) {
          for (let k = 0; k < G3; k++) dRk[row + k] += yPrev * dq[k];
          executed += G3;
        }
        // ∂L/∂y_{t−1} matters at t−1 only through o⊙δy and the surrogate (§5), i.e. for j ∈ B_{t−1}.
        // At t = 0 it is the gradient of y_0, needed in full.
        if (t === 0 || dense || inB(prevBase + j)) {
          let acc = 0;
          for (let k = 0; k < G3; k++) acc += dq[k] * Rk[row + k];
          dyRec[hBase + j] = acc;
          executed += G3;
        } else {
          dyRec[hBase + j] = 0;
        }
      }
      if (t === 0) for (let j = 0; j < H; j++) dY0[hBase + j] = dyRec[hBase + j];
    }
    macs.executed[t] = executed;
    macs.dense[t] = N * G3 * 2 * (C + H);
    macs.backwardSparsity[t] = N * H > 0 ? outsideB / (N * H) : 0;
  }

  const out = (src: Float64Array): A => {
    const a = alloc(x, src.length);
    a.set(src);
    return a;
  };
  return {
    dKernel: out(dW),
    dRecurrentKernel: out(dRk),
    dBias: out(dbx),
    dRecurrentBias: out(dbr),
    dTheta: out(dTheta),
    dX,
    dY0: out(dY0),
    macs,
  };
}

/** Builds the reference kernel; `dense: true` does every product in full (the comparison baseline). */
export function createReferenceKernel(options: { dense?: boolean } = {}): AnyPrecisionEgruKernel {
  const dense = options.dense ?? false;
  return {
    name: dense ? 'reference-dense' : 'reference',
    forward: (p, x, T, N, opts) => forward(dense, p, x, T, N, opts),
    backward: (p, x, fwd, up, opts) => backward(dense, p, x, fwd, up, opts),
  };
}

/** The sparse readable reference (default kernel when no native addon is available). */
export const referenceKernel: AnyPrecisionEgruKernel = createReferenceKernel();
/** The same maths with every product done densely. */
export const referenceDenseKernel: AnyPrecisionEgruKernel = createReferenceKernel({ dense: true });

// Compile-time check that the reference satisfies the contract for both precisions.
const _f32: EgruKernel<Float32Array> = referenceKernel;
const _f64: EgruKernel<Float64Array> = referenceKernel;
void _f32;
void _f64;
