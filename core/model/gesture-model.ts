/**
 * GestureModel: [optional dense or CNN front] → EGRU stack → Linear(H→K) on the top layer's trace at every step →
 * logits averaged over steps (or the last step) → softmax cross-entropy (spec §8.1).
 *
 * The default front end is the first EGRU layer itself: its input kernel W [C, 3H] is the linear projection of
 * the (downsampled, mostly zero) frames, and a sparse kernel skips zero inputs. Every layer is one kernel call
 * per batch of sequences (never per step); the readout, pooling, loss, regularisers and the optional front
 * layer are differentiated by hand over typed arrays. Generic over the float type so gradient checks can run
 * in float64 through the reference kernel while training runs in float32.
 */
import type { EgruForwardOptions, EgruForwardResult, EgruKernel, EgruLayerParams, EgruUpstream, Float } from '../egru/types.ts';
import type { GestureModelConfig } from './config.ts';
import { linearBackward, linearForward, poolTime, poolTimeBackward, softmaxCrossEntropy, sumValid } from './readout.ts';
import type { Rng } from '../util/rng.ts';
import { CnnFront, cnnParamSpecs, type CnnCache } from './front-cnn.ts';

export type FloatCtor<A extends Float> = { new (n: number): A; new (src: ArrayLike<number>): A };

/** A trainable (or frozen) tensor with its gradient buffer, named by its bundle / EvNN key. */
export interface NamedParam<A extends Float = Float32Array> {
  name: string;
  shape: number[];
  value: A;
  grad: A;
  /** Thresholds are clamped into [0, 1] after each update (EvNN v0.2.0 semantics, spec §2). */
  kind: 'weight' | 'bias' | 'threshold';
}

/** Activity regularisation (spec §7). Both terms are averaged per layer over valid (t, n, unit) entries. */
export interface ActivityRegularisation {
  /** λ of λ·(mean(o) − target)², gradient through the surrogate (sMNIST code). 0 = off. */
  rateLambda: number;
  rateTarget: number;
  /** λ of λ·mean(c), the term that is actually active in the DVS recipe. 0 = off. */
  stateLambda: number;
}

export const NO_REGULARISATION: ActivityRegularisation = { rateLambda: 0, rateTarget: 0.05, stateLambda: 0 };

/** Everything forward keeps for backward and for metrics. */
export interface ForwardPass<A extends Float> {
  T: number;
  N: number;
  lengths: Int32Array;
  /** Post-ReLU front activations [T, N, D] (dense or CNN front; null without a front end). */
  front: A | null;
  /** What the CNN front keeps for its backward (null without one). */
  cnnCache: CnnCache | null;
  /** Input of each EGRU layer ([T, N, C_l]). */
  inputs: A[];
  layers: EgruForwardResult<A>[];
  options: EgruForwardOptions<A>[];
  pooled: A;
  logits: A;
  /** Multiply-accumulates executed by the whole model vs the same model built from dense GRU layers. */
  macsExecuted: number;
  macsDense: number;
}

export interface StepStats {
  /** Cross-entropy + regularisers. */
  loss: number;
  ce: number;
  reg: number;
  correct: number;
  /** Mean o over layers, valid steps, samples and units. */
  activity: number;
  macsExecuted: number;
  macsDense: number;
}

export interface ModelParts<A extends Float> {
  layers: EgruLayerParams<A>[];
  fcWeight: A;
  fcBias: A;
  frontWeight: A | null;
  frontBias: A | null;
  /** CNN front tensors in `cnnParamSpecs` order (float32 models only); absent/null without a CNN front. */
  frontCnn?: Float32Array[] | null;
}

export class GestureModel<A extends Float = Float32Array> {
  readonly layers: EgruLayerParams<A>[];
  readonly fcWeight: A;
  readonly fcBias: A;
  readonly frontWeight: A | null;
  readonly frontBias: A | null;
  /** The CNN front end when `config.frontCnn` is set. */
  readonly cnn: CnnFront | null;
  private readonly named: NamedParam<A>[];

  constructor(
    readonly config: GestureModelConfig,
    parts: ModelParts<A>,
    public kernel: EgruKernel<A>,
    private readonly ctor: FloatCtor<A>,
  ) {
    const c = config;
    const D = c.frontDense;
    if (parts.layers.length !== c.hiddenSizes.length) throw new RangeError(`model has ${parts.layers.length} EGRU layers, config says ${c.hiddenSizes.length}`);
    if ((D > 0) !== (parts.frontWeight !== null)) throw new RangeError('front layer weights do not match config.frontDense');
    const cnnCfg = c.frontCnn ?? null;
    if ((cnnCfg !== null) !== Boolean(parts.frontCnn)) throw new RangeError('CNN front tensors do not match config.frontCnn');
    if (cnnCfg && (ctor as unknown) !== Float32Array) throw new RangeError('a CNN front end runs in float32 only');
    this.cnn = cnnCfg && parts.frontCnn ? new CnnFront(cnnCfg, parts.frontCnn) : null;
    let inSize = D > 0 ? D : this.cnn ? this.cnn.outputSize : c.inputSize;
    const check = (a: A, n: number, what: string) => {
      if (a.length !== n) throw new RangeError(`${what}: ${a.length} values, expected ${n}`);
    };
    parts.layers.forEach((p, l) => {
      const H = c.hiddenSizes[l];
      if (p.inputSize !== inSize || p.hiddenSize !== H) throw new RangeError(`layer ${l}: shape ${p.inputSize}→${p.hiddenSize}, expected ${inSize}→${H}`);
      check(p.kernel, inSize * 3 * H, `layers.${l}.kernel`);
      check(p.recurrentKernel, H * 3 * H, `layers.${l}.recurrent_kernel`);
      check(p.bias, 3 * H, `layers.${l}.bias`);
      check(p.recurrentBias, 3 * H, `layers.${l}.recurrent_bias`);
      check(p.theta, H, `layers.${l}.thr`);
      inSize = H;
    });
    const Htop = c.hiddenSizes[c.hiddenSizes.length - 1];
    check(parts.fcWeight, c.numClasses * Htop, 'fc.weight');
    check(parts.fcBias, c.numClasses, 'fc.bias');
    if (parts.frontWeight) check(parts.frontWeight, D * c.inputSize, 'front.weight');
    if (parts.frontBias) check(parts.frontBias, D, 'front.bias');
    this.layers = parts.layers;
    this.fcWeight = parts.fcWeight;
    this.fcBias = parts.fcBias;
    this.frontWeight = parts.frontWeight;
    this.frontBias = parts.frontBias;
    const mk = (name: string, shape: number[], value: A, kind: NamedParam<A>['kind']): NamedParam<A> => ({ name, shape, value, grad: new ctor(value.length), kind });
    this.named = [];
    if (this.frontWeight && this.frontBias) {
      this.named.push(mk('front.weight', [D, c.inputSize], this.frontWeight, 'weight'), mk('front.bias', [D], this.frontBias, 'bias'));
    }
    if (this.cnn && cnnCfg) {
      cnnParamSpecs(cnnCfg).forEach((sp, i) => this.named.push(mk(sp.name, sp.shape, this.cnn!.values[i] as unknown as A, sp.kind)));
    }
    this.layers.forEach((p, l) => {
      const H = p.hiddenSize;
      this.named.push(
        mk(`layers.${l}.kernel`, [p.inputSize, 3 * H], p.kernel, 'weight'),
        mk(`layers.${l}.recurrent_kernel`, [H, 3 * H], p.recurrentKernel, 'weight'),
        mk(`layers.${l}.bias`, [3 * H], p.bias, 'bias'),
        mk(`layers.${l}.recurrent_bias`, [3 * H], p.recurrentBias, 'bias'),
        mk(`layers.${l}.thr`, [H], p.theta, 'threshold'),
      );
    });
    this.named.push(mk('fc.weight', [c.numClasses, Htop], this.fcWeight, 'weight'), mk('fc.bias', [c.numClasses], this.fcBias, 'bias'));
  }

  /** All tensors with gradient buffers, in a fixed order (front, layers bottom-up, fc). */
  parameters(): NamedParam<A>[] {
    return this.named;
  }

  /** Number of scalar parameters (γ and ε excluded). */
  parameterCount(): number {
    return this.named.reduce((s, p) => s + p.value.length, 0);
  }

  /**
   * Runs the model on x [T, N, C] (zero-padded after each sample's length). `training` keeps caches for
   * backward and draws zoneout masks from `rng` when the config enables zoneout.
   */
  forward(x: A, T: number, N: number, lengths: Int32Array, training: boolean, rng?: Rng): ForwardPass<A> {
    const c = this.config;
    if (x.length !== T * N * c.inputSize) throw new RangeError(`input has ${x.length} values, expected T·N·C = ${T}·${N}·${c.inputSize}`);
    if (lengths.length !== N) throw new RangeError(`lengths has ${lengths.length} entries, expected N = ${N}`);
    let macsExecuted = 0;
    let macsDense = 0;
    let front: A | null = null;
    let cnnCache: CnnCache | null = null;
    let inp = x;
    if (this.frontWeight && this.frontBias) {
      const D = c.frontDense;
      const C = c.inputSize;
      front = new this.ctor(T * N * D);
      let nnz = 0;
      for (let r = 0; r < T * N; r++) {
        const o = r * D;
        for (let d = 0; d < D; d++) front[o + d] = this.frontBias[d];
        const xr = r * C;
        for (let i = 0; i < C; i++) {
          const v = x[xr + i];
          if (v === 0) continue; // event frames are mostly zero: skip their columns entirely
          nnz++;
          for (let d = 0; d < D; d++) front[o + d] += v * this.frontWeight[d * C + i];
        }
        for (let d = 0; d < D; d++) if (front[o + d] < 0) front[o + d] = 0;
      }
      macsExecuted += nnz * D;
      macsDense += T * N * C * D;
      inp = front;
    } else if (this.cnn) {
      const r = this.cnn.forward(x as unknown as Float32Array, T * N);
      front = r.out as unknown as A;
      cnnCache = r.cache;
      macsExecuted += r.cache.macsExecuted; // zero pixels skipped
      macsDense += r.cache.macsDense;
      inp = front;
    }
    const inputs: A[] = [];
    const results: EgruForwardResult<A>[] = [];
    const options: EgruForwardOptions<A>[] = [];
    for (let l = 0; l < this.layers.length; l++) {
      const p = this.layers[l];
      // The first layer's input gradient is only needed by a front end below it (camera frames need none).
      const opts: EgruForwardOptions<A> = { training, keepCache: training, inputGrad: l > 0 || front !== null };
      if (c.zoneout > 0) {
        opts.zoneout = c.zoneout;
        if (training) {
          if (!rng) throw new Error('zoneout training needs an Rng');
          const mask = new Uint8Array(T * N * p.hiddenSize);
          const keep = 1 - c.zoneout;
          for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < keep ? 1 : 0;
          opts.zoneoutMask = mask;
        }
      }
      inputs.push(inp);
      const r = this.kernel.forward(p, inp, T, N, opts);
      for (let t = 0; t < T; t++) {
        macsExecuted += r.macs.executed[t];
        macsDense += r.macs.dense[t];
      }
      results.push(r);
      options.push(opts);
      inp = r.y;
    }
    const top = results[results.length - 1];
    const H = top.H;
    const K = c.numClasses;
    const pooled = poolTime(c.readout === 'trace' ? top.tr : top.y, T, N, H, lengths, c.pooling, new this.ctor(N * H));
    const logits = linearForward(pooled, N, H, this.fcWeight, this.fcBias, K, new this.ctor(N * K));
    macsExecuted += N * K * H;
    macsDense += N * K * H;
    return { T, N, lengths, front, cnnCache, inputs, layers: results, options, pooled, logits, macsExecuted, macsDense };
  }

  /** Mean activity over layers' valid entries of a forward pass. */
  static activity<A extends Float>(f: ForwardPass<A>): number {
    let on = 0;
    let count = 0;
    for (const r of f.layers) {
      const s = sumValid(r.o, f.T, f.N, r.H, f.lengths);
      on += s.sum;
      count += s.count;
    }
    return count > 0 ? on / count : 0;
  }

  /** Loss and accuracy only (no gradients, no caches). */
  evaluate(x: A, T: number, N: number, lengths: Int32Array, labels: Int32Array): StepStats & { logits: A } {
    const f = this.forward(x, T, N, lengths, false);
    const { loss, correct } = softmaxCrossEntropy(f.logits, N, this.config.numClasses, labels, null);
    return { loss, ce: loss, reg: 0, correct, activity: GestureModel.activity(f), macsExecuted: f.macsExecuted, macsDense: f.macsDense, logits: f.logits };
  }

  /**
   * One training step's maths: forward, loss (CE + activity regularisers), and backward into every parameter's
   * `grad` (overwritten, not accumulated). Returns the step statistics.
   */
  lossAndGrad(x: A, T: number, N: number, lengths: Int32Array, labels: Int32Array, reg: ActivityRegularisation = NO_REGULARISATION, rng?: Rng): StepStats {
    const c = this.config;
    const K = c.numClasses;
    const f = this.forward(x, T, N, lengths, true, rng);
    for (const p of this.named) p.grad.fill(0);
    const g = (name: string) => this.named.find((p) => p.name === name)!.grad;

    const dLogits = new this.ctor(N * K);
    const { loss: ce, correct } = softmaxCrossEntropy(f.logits, N, K, labels, dLogits);
    const top = f.layers[f.layers.length - 1];
    const Htop = top.H;
    const dPooled = new this.ctor(N * Htop);
    linearBackward(dLogits, f.pooled, N, Htop, this.fcWeight, K, g('fc.weight'), g('fc.bias'), dPooled);

    // Upstream gradients per layer; the readout feeds the top layer's trace (or y).
    const ups: EgruUpstream<A>[] = f.layers.map(() => ({}));
    const dSrc = poolTimeBackward(dPooled, T, N, Htop, lengths, c.pooling, new this.ctor(T * N * Htop));
    if (c.readout === 'trace') ups[ups.length - 1].dtr = dSrc;
    else ups[ups.length - 1].dy = dSrc;

    let regLoss = 0;
    let on = 0;
    let count = 0;
    f.layers.forEach((r, l) => {
      const so = sumValid(r.o, T, N, r.H, lengths);
      on += so.sum;
      count += so.count;
      if (reg.rateLambda > 0) {
        const mean = so.sum / so.count;
        const diff = mean - reg.rateTarget;
        regLoss += reg.rateLambda * diff * diff;
        ups[l].do = fillValid(new this.ctor(T * N * r.H), T, N, r.H, lengths, (2 * reg.rateLambda * diff) / so.count);
      }
      if (reg.stateLambda > 0) {
        const sc = sumValid(r.c, T, N, r.H, lengths);
        regLoss += (reg.stateLambda * sc.sum) / sc.count;
        ups[l].dc = fillValid(new this.ctor(T * N * r.H), T, N, r.H, lengths, reg.stateLambda / sc.count);
      }
    });

    for (let l = f.layers.length - 1; l >= 0; l--) {
      const grads = this.kernel.backward(this.layers[l], f.inputs[l], f.layers[l], ups[l], f.options[l]);
      addInto(g(`layers.${l}.kernel`), grads.dKernel);
      addInto(g(`layers.${l}.recurrent_kernel`), grads.dRecurrentKernel);
      addInto(g(`layers.${l}.bias`), grads.dBias);
      addInto(g(`layers.${l}.recurrent_bias`), grads.dRecurrentBias);
      addInto(g(`layers.${l}.thr`), grads.dTheta);
      if (l > 0) {
        // The layer below's output y is this layer's input.
        const below = ups[l - 1];
        if (below.dy) addInto(below.dy, grads.dX);
        else below.dy = grads.dX;
      } else if (f.front && this.frontWeight) {
        this.frontBackward(f, grads.dX, x, g('front.weight'), g('front.bias'));
      } else if (f.cnnCache && this.cnn) {
        const cnnGrads = cnnParamSpecs(this.cnn.config).map((sp) => g(sp.name) as unknown as Float32Array);
        this.cnn.backward(f.cnnCache, grads.dX, cnnGrads);
      }
    }
    return { loss: ce + regLoss, ce, reg: regLoss, correct, activity: count > 0 ? on / count : 0, macsExecuted: f.macsExecuted, macsDense: f.macsDense };
  }

  private frontBackward(f: ForwardPass<A>, dOut: A, x: A, dW: A, db: A): void {
    const D = this.config.frontDense;
    const C = this.config.inputSize;
    const h = f.front!;
    for (let r = 0; r < f.T * f.N; r++) {
      const o = r * D;
      const xr = r * C;
      for (let d = 0; d < D; d++) {
        if (h[o + d] <= 0) continue; // ReLU gate
        const gd = dOut[o + d];
        if (gd === 0) continue;
        db[d] += gd;
        const wr = d * C;
        for (let i = 0; i < C; i++) {
          const v = x[xr + i];
          if (v !== 0) dW[wr + i] += gd * v;
        }
      }
    }
  }

  /** Clamps thresholds into [0, 1], as EvNN v0.2.0 does at every forward (spec §2). */
  clampThresholds(): void {
    for (const p of this.layers) {
      for (let j = 0; j < p.theta.length; j++) p.theta[j] = Math.min(1, Math.max(0, p.theta[j]));
    }
  }
}

/** Statistics of several sub-batches (shards, single samples) as one batch of their total size: means weighted by size. */
export function combineStepStats(stats: StepStats[], sizes: number[]): StepStats {
  const N = sizes.reduce((s, v) => s + v, 0);
  const out: StepStats = { loss: 0, ce: 0, reg: 0, correct: 0, activity: 0, macsExecuted: 0, macsDense: 0 };
  stats.forEach((s, i) => {
    const w = sizes[i] / N;
    out.loss += w * s.loss;
    out.ce += w * s.ce;
    out.reg += w * s.reg;
    out.activity += w * s.activity;
    out.correct += s.correct;
    out.macsExecuted += s.macsExecuted;
    out.macsDense += s.macsDense;
  });
  return out;
}

function addInto<A extends Float>(dst: A, src: Float): void {
  if (dst.length !== src.length) throw new RangeError(`gradient size ${src.length} ≠ ${dst.length}`);
  for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}

function fillValid<A extends Float>(a: A, T: number, N: number, H: number, lengths: Int32Array, v: number): A {
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) if (t < lengths[n]) a.fill(v, (t * N + n) * H, (t * N + n + 1) * H);
  return a;
}
