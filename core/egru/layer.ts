/**
 * The training-time EGRU layer used by models: holds the parameters, applies the layer's built-in regularisers
 * (spec §2) around a kernel call, and maps gradients back.
 *   - DropConnect on Rk: one Bernoulli(1−p) mask per forward call, shared over all steps, kept values scaled by
 *     1/(1−p) (as F.dropout on the weight in EvNN); dRk is mapped back through the same mask and scale.
 *   - Zoneout: training draws a per-(t, n, unit) Bernoulli(1−p) keep-mask from the layer's seeded Rng; eval uses
 *     the deterministic mix p·c_{t−1} + (1−p)·ĉ.
 *   - θ clamped to [0, 1] after optimiser updates (`clampTheta`, EvNN v0.2.0 semantics).
 */
import type { EgruForwardOptions, EgruForwardResult, EgruGrads, EgruKernel, EgruLayerParams, EgruUpstream, Float } from './types.ts';
import type { KernelPreference } from './kernels.ts';
import { selectEgruKernel } from './kernels.ts';
import { referenceKernel } from './reference.ts';
import { clampTheta } from './params.ts';
import { Rng } from '../util/rng.ts';

export interface EgruLayerConfig<A extends Float> {
  /** DropConnect probability on the recurrent kernel (training only). Default 0. */
  dropConnect?: number;
  /** Zoneout probability on c. Default 0. */
  zoneout?: number;
  /** Seed of the layer's Rng (DropConnect and zoneout masks). Default 0. */
  seed?: number;
  /** A kernel, or a preference resolved through kernels.ts (float32 params only; float64 always uses the reference). */
  kernel?: EgruKernel<A> | KernelPreference;
}

/** Everything backward needs from one forward call. */
export interface EgruLayerContext<A extends Float> {
  x: A;
  T: number;
  N: number;
  /** The parameters the kernel actually saw (Rk with DropConnect applied). */
  used: EgruLayerParams<A>;
  opts: EgruForwardOptions<A>;
  result: EgruForwardResult<A>;
  /** DropConnect keep-mask over Rk, or null when DropConnect was off. */
  dropMask: Uint8Array | null;
}

export class EgruLayer<A extends Float = Float32Array> {
  readonly params: EgruLayerParams<A>;
  readonly dropConnect: number;
  readonly zoneout: number;
  readonly kernel: EgruKernel<A>;
  /** Why this kernel was chosen. */
  readonly kernelReason: string;
  private readonly rng: Rng;

  constructor(params: EgruLayerParams<A>, config: EgruLayerConfig<A> = {}) {
    this.params = params;
    this.dropConnect = config.dropConnect ?? 0;
    this.zoneout = config.zoneout ?? 0;
    if (!(this.dropConnect >= 0 && this.dropConnect < 1)) throw new RangeError(`EGRU: dropConnect ${this.dropConnect} must be in [0, 1)`);
    if (!(this.zoneout >= 0 && this.zoneout < 1)) throw new RangeError(`EGRU: zoneout ${this.zoneout} must be in [0, 1)`);
    this.rng = new Rng(config.seed ?? 0);
    if (typeof config.kernel === 'object') {
      this.kernel = config.kernel;
      this.kernelReason = 'given by the caller';
    } else if (params.kernel instanceof Float64Array) {
      this.kernel = referenceKernel as EgruKernel<A>;
      this.kernelReason = 'float64 parameters: the reference is the only float64 kernel';
    } else {
      const sel = selectEgruKernel(config.kernel);
      this.kernel = sel.kernel as unknown as EgruKernel<A>;
      this.kernelReason = sel.reason;
    }
  }

  get inputSize(): number {
    return this.params.inputSize;
  }

  get hiddenSize(): number {
    return this.params.hiddenSize;
  }

  /** Runs the layer on x [T, N, C]. Training draws fresh DropConnect/zoneout masks and keeps the cache. */
  forward(x: A, T: number, N: number, o: { training?: boolean; y0?: A } = {}): EgruLayerContext<A> {
    const training = o.training ?? false;
    const p = this.params;
    const H = p.hiddenSize;
    let used = p;
    let dropMask: Uint8Array | null = null;
    if (training && this.dropConnect > 0) {
      const rk = p.recurrentKernel;
      dropMask = new Uint8Array(rk.length);
      const scale = 1 / (1 - this.dropConnect);
      const dropped = (rk instanceof Float64Array ? new Float64Array(rk.length) : new Float32Array(rk.length)) as A;
      for (let k = 0; k < rk.length; k++) {
        const keep = this.rng.next() >= this.dropConnect ? 1 : 0;
        dropMask[k] = keep;
        dropped[k] = keep ? rk[k] * scale : 0;
      }
      used = { ...p, recurrentKernel: dropped };
    }
    const opts: EgruForwardOptions<A> = { training, keepCache: training, y0: o.y0 };
    if (this.zoneout > 0) {
      opts.zoneout = this.zoneout;
      if (training) {
        const mask = new Uint8Array(T * N * H);
        for (let i = 0; i < mask.length; i++) mask[i] = this.rng.next() >= this.zoneout ? 1 : 0;
        opts.zoneoutMask = mask;
      }
    }
    const result = this.kernel.forward(used, x, T, N, opts);
    return { x, T, N, used, opts, result, dropMask };
  }

  /** Gradients w.r.t. the layer's own parameters (DropConnect undone), x and y0. */
  backward(ctx: EgruLayerContext<A>, up: EgruUpstream<A>): EgruGrads<A> {
    const g = this.kernel.backward(ctx.used, ctx.x, ctx.result, up, ctx.opts);
    if (ctx.dropMask) {
      const scale = 1 / (1 - this.dropConnect);
      const d = g.dRecurrentKernel;
      for (let k = 0; k < d.length; k++) d[k] = ctx.dropMask[k] ? d[k] * scale : 0;
    }
    return g;
  }

  /** Clamp θ into [0, 1]; call after each optimiser step (EvNN v0.2.0 clamps at every forward). */
  clampTheta(): void {
    clampTheta(this.params);
  }
}
