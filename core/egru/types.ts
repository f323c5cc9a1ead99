/**
 * The EGRU kernel contract (spec: ../shared/docs/egru-spec.md §2–§6). Every implementation — the readable
 * TypeScript reference and the native sparse/dense addon — takes and returns exactly these shapes, so tests
 * can hold them equal and callers can swap them.
 *
 * Layout (EvNN, row-major, gate blocks [U | R | G] along every 3H axis):
 *   kernel W           [C, 3H]   row i = input i's weights to all gates: x_t W
 *   recurrentKernel Rk [H, 3H]   row j = presynaptic unit j:              y_{t-1} Rk
 *   bias b^x, recurrentBias b^r  [3H]
 *   theta θ            [H]       threshold VALUE (already clamped to [0,1] or σ(thr_reparam): see params.ts)
 * Sequences are time-major: x [T, N, C], y/c/o/tr [T, N, H].
 */

export type Float = Float32Array | Float64Array;

export interface EgruLayerParams<A extends Float = Float32Array> {
  inputSize: number; // C
  hiddenSize: number; // H
  kernel: A;
  recurrentKernel: A;
  bias: A;
  recurrentBias: A;
  theta: A;
  /** Pseudo-derivative height γ (EvNN `dampening_factor`, default 0.7). */
  gamma: number;
  /** Pseudo-derivative inverse half-width ε (EvNN `pseudo_derivative_support`, default 1.0; DVS recipe 1.7). */
  eps: number;
}

export interface EgruForwardOptions<A extends Float = Float32Array> {
  /** Initial output y_0 [N, H] fed to the recurrent product (default zeros). c_0 is always 0 (spec §2). */
  y0?: A;
  /**
   * Zoneout. Training: `zoneoutMask` [T, N, H] (1 = keep the new value) must be given. Eval: ĉ ← p·c_{t-1} + (1−p)·ĉ.
   * p = 0 (default) disables zoneout.
   */
  zoneout?: number;
  zoneoutMask?: Uint8Array;
  training?: boolean;
  /** Keep what backward needs (default true when training, false otherwise). */
  keepCache?: boolean;
  /**
   * Backward only: compute the input gradient x̄ = δa Wᵀ (default true). A first layer fed by camera frames does
   * not need it, and it is a dense T·N·3H·C product; when false, `EgruGrads.dX` is returned EMPTY (length 0).
   */
  inputGrad?: boolean;
}

/** What forward saves per step for backward: 5 values per unit and sample, as EvNN (spec §2). All [T, N, H]. */
export interface EgruCache<A extends Float = Float32Array> {
  u: A;
  r: A;
  g: A;
  /** q_t[G] = y_{t-1} Rk_G + b^r_G, before gating by r. */
  qG: A;
  /** s_t = ĉ_t − θ (pre-reset state minus threshold). */
  s: A;
  /**
   * Native kernels: the forward's lists of x's non-zero inputs, which its backward takes instead of listing x again
   * (a training step's backward 1.06-1.10× faster at N = 16). Absent when another kernel made the cache or x was too
   * dense to list. Like the rest of the cache it describes the x of that forward: pass the same x to backward.
   */
  inputLists?: EgruInputLists;
}

/**
 * The non-zero inputs of all T·N rows r = t·N + n, as CSR: row r's entries are [rowptr[r], rowptr[r + 1]) of idx (the
 * input index, ascending within a row) and val (its value).
 */
export interface EgruInputLists {
  rowptr: Int32Array;
  idx: Int32Array;
  val: Float32Array;
}

/** Work counters: multiply-accumulates executed vs what a dense GRU of the same shape does. Per step t. */
export interface EgruMacs {
  /** [T] executed MACs (all samples) in the input projection + recurrent product this step. */
  executed: Float64Array;
  /** [T] dense MACs: N · 3H · (C + H). */
  dense: Float64Array;
  /** [T] mean activity (fraction of units with o = 1) this step. */
  activity: Float64Array;
}

export interface EgruForwardResult<A extends Float = Float32Array> {
  T: number;
  N: number;
  H: number;
  y: A;
  c: A;
  o: A;
  tr: A;
  cache: EgruCache<A> | null;
  macs: EgruMacs;
}

/** Upstream gradients, each [T, N, H]; absent = zero. */
export interface EgruUpstream<A extends Float = Float32Array> {
  dy?: A;
  dc?: A;
  do?: A;
  dtr?: A;
}

export interface EgruBackwardMacs {
  /** [T] executed MACs in backward (recurrent error propagation + weight gradients + input gradient). */
  executed: Float64Array;
  /** [T] dense backward MACs of a GRU of this shape: N · 3H · 2 · (C + H). */
  dense: Float64Array;
  /** [T] backward sparsity: 1 − |A ∪ S| / H, averaged over samples. */
  backwardSparsity: Float64Array;
}

export interface EgruGrads<A extends Float = Float32Array> {
  dKernel: A; // [C, 3H]
  dRecurrentKernel: A; // [H, 3H]
  dBias: A; // [3H]
  dRecurrentBias: A; // [3H]
  /** Gradient w.r.t. the threshold VALUE θ [H]. */
  dTheta: A;
  dX: A; // [T, N, C]; empty when `inputGrad: false`
  dY0: A; // [N, H]
  macs: EgruBackwardMacs;
}

/** One implementation of the layer's forward and backward. */
export interface EgruKernel<A extends Float = Float32Array> {
  /** 'reference' | 'native-sparse' | 'native-dense' … */
  readonly name: string;
  forward(p: EgruLayerParams<A>, x: A, T: number, N: number, opts?: EgruForwardOptions<A>): EgruForwardResult<A>;
  /** Needs a forward result with its cache (keepCache / training). Backward without zoneout, or with the same mask. */
  backward(
    p: EgruLayerParams<A>,
    x: A,
    fwd: EgruForwardResult<A>,
    up: EgruUpstream<A>,
    opts?: EgruForwardOptions<A>,
  ): EgruGrads<A>;
}

export const TRACE_DECAY = 0.9;
export const TRACE_INPUT = 0.1;
