/**
 * EGRU layer parameters: EvNN-compatible initialisation and import/export of EvNN `state_dict`s
 * (spec §2 "Initialisation", §6 "Parameter layout and EvNN import mapping").
 */
import type { EgruLayerParams, Float } from './types.ts';
import { Rng } from '../util/rng.ts';
import type { SafeTensor, WritableTensor } from '../io/safetensors.ts';
import { tensorToFloat32, tensorToFloat64 } from '../io/safetensors.ts';

export const DEFAULT_GAMMA = 0.7;
export const DEFAULT_EPS = 1.0;

export interface EgruInitOptions {
  inputSize: number;
  hiddenSize: number;
  seed: number;
  /** xavier_normal gain (EvNN `weight_initialization_gain`, default 1). */
  gain?: number;
  /**
   * Threshold initialisation. 'beta' (EvNN v0.2.0, default): θ ~ Beta(α, 3), α = 3m/(1−m), m = thrMean ∈ (0,1),
   * default 0.3. 'sigmoid' (v0.1.0, paper era): θ = σ(ρ), ρ ~ N(thrMean, √2), thrMean default 0.
   */
  thresholdInit?: 'beta' | 'sigmoid';
  thrMean?: number;
  gamma?: number;
  eps?: number;
  /** Array type of the parameters (default float32). */
  dtype?: 'float32' | 'float64';
}

/** A typed error for state_dict import problems: names the key and what was expected. */
export class EgruParamsError extends Error {
  override readonly name = 'EgruParamsError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`EGRU state_dict '${key}': ${reason}`);
  }
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** New EGRU parameters initialised exactly as EvNN does (spec §2): xavier_normal weights, zero biases. */
export function createEgruParams(o: EgruInitOptions & { dtype: 'float64' }): EgruLayerParams<Float64Array>;
export function createEgruParams(o: EgruInitOptions): EgruLayerParams<Float32Array>;
export function createEgruParams(o: EgruInitOptions): EgruLayerParams<Float> {
  const { inputSize: C, hiddenSize: H } = o;
  if (!(Number.isInteger(C) && C > 0 && Number.isInteger(H) && H > 0)) throw new RangeError(`EGRU: bad sizes C=${C} H=${H}`);
  const rng = new Rng(o.seed);
  const gain = o.gain ?? 1;
  const mk = (n: number) => (o.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
  // xavier_normal over [in, 3H]: PyTorch takes dim 1 as fan_in, so std = gain·sqrt(2/(in + 3H)).
  const xavier = (rows: number) => {
    const a = mk(rows * 3 * H);
    const std = gain * Math.sqrt(2 / (rows + 3 * H));
    for (let i = 0; i < a.length; i++) a[i] = rng.normal(0, std);
    return a;
  };
  const kernel = xavier(C);
  const recurrentKernel = xavier(H);
  const theta = mk(H);
  const mode = o.thresholdInit ?? 'beta';
  if (mode === 'beta') {
    const m = o.thrMean ?? 0.3;
    if (!(m > 0 && m < 1)) throw new RangeError(`EGRU: thrMean ${m} must be in (0, 1) for Beta initialisation (EvNN v0.2.0)`);
    const alpha = (3 * m) / (1 - m);
    for (let j = 0; j < H; j++) theta[j] = rng.beta(alpha, 3);
  } else {
    const m = o.thrMean ?? 0;
    for (let j = 0; j < H; j++) theta[j] = sigmoid(rng.normal(m, Math.SQRT2));
  }
  return {
    inputSize: C,
    hiddenSize: H,
    kernel,
    recurrentKernel,
    bias: mk(3 * H),
    recurrentBias: mk(3 * H),
    theta,
    gamma: o.gamma ?? DEFAULT_GAMMA,
    eps: o.eps ?? DEFAULT_EPS,
  };
}

/** Clamps θ into [0, 1] in place, as EvNN v0.2.0 does at every forward (spec §2). */
export function clampTheta(p: EgruLayerParams<Float>): void {
  const th = p.theta;
  for (let j = 0; j < th.length; j++) th[j] = th[j] < 0 ? 0 : th[j] > 1 ? 1 : th[j];
}

export interface FromStateDictOptions {
  /** Key prefix, e.g. 'layers.0.' (DVS) or 'rnn.rnns.0.rnn.' (sMNIST). Default ''. */
  prefix?: string;
  dtype?: 'float32' | 'float64';
}

type TensorMap = Map<string, SafeTensor> | Record<string, SafeTensor>;

/**
 * Imports one EvNN `EGRU` layer from its state_dict tensors (spec §6): `kernel` [C,3H], `recurrent_kernel` [H,3H],
 * `bias`/`recurrent_bias` [3H], θ from `thr` (clamped to [0,1]) or `thr_reparam` (θ = σ(·)),
 * γ/ε from `dampening_factor` / `pseudo_derivative_support` (defaults 0.7 / 1.0). `_max_norm` is ignored.
 */
export function fromEvnnStateDict(tensors: TensorMap, o: FromStateDictOptions & { dtype: 'float64' }): EgruLayerParams<Float64Array>;
export function fromEvnnStateDict(tensors: TensorMap, o?: FromStateDictOptions): EgruLayerParams<Float32Array>;
export function fromEvnnStateDict(tensors: TensorMap, o: FromStateDictOptions = {}): EgruLayerParams<Float> {
  const prefix = o.prefix ?? '';
  const get = (k: string): SafeTensor | undefined => (tensors instanceof Map ? tensors.get(prefix + k) : tensors[prefix + k]);
  const conv = (k: string, t: SafeTensor): Float => (o.dtype === 'float64' ? tensorToFloat64(t, prefix + k) : tensorToFloat32(t, prefix + k));
  const need = (k: string): SafeTensor => {
    const t = get(k);
    if (!t) throw new EgruParamsError(prefix + k, 'missing');
    return t;
  };
  const checkShape = (k: string, t: SafeTensor, expected: number[]) => {
    const ok = t.shape.length === expected.length && t.shape.every((d, i) => d === expected[i]);
    if (!ok) throw new EgruParamsError(prefix + k, `shape [${t.shape.join(', ')}], expected [${expected.join(', ')}]`);
  };
  const kernel = need('kernel');
  if (kernel.shape.length !== 2 || kernel.shape[1] % 3 !== 0 || kernel.shape[1] === 0) {
    throw new EgruParamsError(prefix + 'kernel', `shape [${kernel.shape.join(', ')}], expected [C, 3H] with H ≥ 1`);
  }
  const C = kernel.shape[0];
  const H = kernel.shape[1] / 3;
  const rk = need('recurrent_kernel');
  checkShape('recurrent_kernel', rk, [H, 3 * H]);
  const b = need('bias');
  checkShape('bias', b, [3 * H]);
  const br = need('recurrent_bias');
  checkShape('recurrent_bias', br, [3 * H]);

  let theta: Float;
  const thr = get('thr');
  const thrRe = get('thr_reparam');
  if (thr) {
    checkShape('thr', thr, [H]);
    theta = conv('thr', thr).slice();
    for (let j = 0; j < H; j++) theta[j] = Math.min(1, Math.max(0, theta[j])); // v0.2.0 clamps at every forward
  } else if (thrRe) {
    checkShape('thr_reparam', thrRe, [H]);
    const raw = conv('thr_reparam', thrRe);
    theta = raw.slice();
    for (let j = 0; j < H; j++) theta[j] = sigmoid(raw[j]); // v0.1.0: θ = σ(thr_reparam)
  } else {
    throw new EgruParamsError(prefix + 'thr', "missing (neither 'thr' (v0.2.0) nor 'thr_reparam' (v0.1.0) is present)");
  }
  const scalar = (k: string, dflt: number): number => {
    const t = get(k);
    if (!t) return dflt;
    if (t.data.length !== 1) throw new EgruParamsError(prefix + k, `shape [${t.shape.join(', ')}], expected [1]`);
    return tensorToFloat64(t, prefix + k)[0];
  };
  return {
    inputSize: C,
    hiddenSize: H,
    kernel: conv('kernel', kernel).slice(),
    recurrentKernel: conv('recurrent_kernel', rk).slice(),
    bias: conv('bias', b).slice(),
    recurrentBias: conv('recurrent_bias', br).slice(),
    theta,
    gamma: scalar('dampening_factor', DEFAULT_GAMMA),
    eps: scalar('pseudo_derivative_support', DEFAULT_EPS),
  };
}

/**
 * Exports parameters as an EvNN state_dict (float32, EvNN key names; `_max_norm` = −1 = off).
 * encoding 'thr' (v0.2.0, default) stores θ; 'thr_reparam' (v0.1.0) stores logit(θ), clipped to ±20 so a θ of
 * exactly 0 or 1 stays finite.
 */
export function toEvnnStateDict(
  p: EgruLayerParams<Float>,
  o: { encoding?: 'thr' | 'thr_reparam'; prefix?: string } = {},
): Record<string, WritableTensor> {
  const C = p.inputSize;
  const H = p.hiddenSize;
  const prefix = o.prefix ?? '';
  const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
  const out: Record<string, WritableTensor> = {
    [prefix + '_max_norm']: { shape: [1], data: Float32Array.of(-1) },
    [prefix + 'kernel']: { shape: [C, 3 * H], data: f32(p.kernel) },
    [prefix + 'recurrent_kernel']: { shape: [H, 3 * H], data: f32(p.recurrentKernel) },
    [prefix + 'bias']: { shape: [3 * H], data: f32(p.bias) },
    [prefix + 'recurrent_bias']: { shape: [3 * H], data: f32(p.recurrentBias) },
    [prefix + 'dampening_factor']: { shape: [1], data: Float32Array.of(p.gamma) },
    [prefix + 'pseudo_derivative_support']: { shape: [1], data: Float32Array.of(p.eps) },
  };
  if ((o.encoding ?? 'thr') === 'thr') {
    out[prefix + 'thr'] = { shape: [H], data: f32(p.theta) };
  } else {
    const re = new Float32Array(H);
    for (let j = 0; j < H; j++) {
      const t = p.theta[j];
      re[j] = Math.max(-20, Math.min(20, Math.log(t / (1 - t))));
    }
    out[prefix + 'thr_reparam'] = { shape: [H], data: re };
  }
  return out;
}
