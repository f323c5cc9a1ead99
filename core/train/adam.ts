/**
 * Adam (Kingma & Ba) over Float32Array parameters, bias-corrected, with optional decoupled weight decay
 * (AdamW) on weights only. Moments are float32 like the parameters; the step counter is exact.
 */
import type { Float } from '../egru/types.ts';
import type { NamedParam } from '../model/gesture-model.ts';

export interface AdamOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay (AdamW), applied to `kind === 'weight'` tensors only. 0 = plain Adam. */
  weightDecay: number;
  /**
   * Learning-rate multiplier for threshold tensors (default 1). A θ step flips spikes of every unit near its
   * threshold at once, so a slower θ is one remedy for the activity jumps behind long-BPTT loss spikes.
   */
  thresholdLrScale?: number;
}

export const DEFAULT_ADAM: AdamOptions = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

/** Serialisable optimiser state (for checkpoints): first/second moments per parameter name and the step count. */
export interface AdamState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class Adam<A extends Float = Float32Array> {
  private state: AdamState;
  constructor(
    private readonly params: NamedParam<A>[],
    readonly options: AdamOptions = DEFAULT_ADAM,
    /** Names excluded from updates (e.g. thresholds when they are frozen). */
    private readonly frozen: ReadonlySet<string> = new Set(),
  ) {
    this.state = { step: 0, m: new Map(), v: new Map() };
    for (const p of params) {
      this.state.m.set(p.name, new Float32Array(p.value.length));
      this.state.v.set(p.name, new Float32Array(p.value.length));
    }
  }

  get step(): number {
    return this.state.step;
  }

  /** Applies one update with learning rate `lr` using each parameter's current `grad`. */
  update(lr: number): void {
    const { beta1: b1, beta2: b2, epsilon: e, weightDecay: wd } = this.options;
    const t = ++this.state.step;
    const c1 = 1 - Math.pow(b1, t);
    const c2 = 1 - Math.pow(b2, t);
    const sqrtC2 = Math.sqrt(c2);
    for (const p of this.params) {
      if (this.frozen.has(p.name)) continue;
      const stepSize = ((p.kind === 'threshold' ? (this.options.thresholdLrScale ?? 1) : 1) * lr) / c1;
      const m = this.state.m.get(p.name)!;
      const v = this.state.v.get(p.name)!;
      const w = p.value;
      const g = p.grad;
      const decay = p.kind === 'weight' && wd > 0 ? 1 - lr * wd : 1;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        // θ ← θ − lr · m̂ / (√v̂ + ε), with m̂ = m/c1, v̂ = v/c2.
        w[i] = w[i] * decay - (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtC2 + e);
      }
    }
  }

  exportState(): AdamState {
    return { step: this.state.step, m: new Map([...this.state.m].map(([k, a]) => [k, a.slice()])), v: new Map([...this.state.v].map(([k, a]) => [k, a.slice()])) };
  }

  /** Restores moments saved by exportState (names and sizes must match this model). */
  importState(s: AdamState): void {
    for (const p of this.params) {
      const m = s.m.get(p.name);
      const v = s.v.get(p.name);
      if (!m || !v) throw new Error(`optimiser state has no moments for '${p.name}'`);
      if (m.length !== p.value.length || v.length !== p.value.length) throw new Error(`optimiser state for '${p.name}' has ${m.length} values, expected ${p.value.length}`);
      this.state.m.get(p.name)!.set(m);
      this.state.v.get(p.name)!.set(v);
    }
    this.state.step = s.step;
  }
}

/**
 * Global gradient-norm clipping over all parameters (as torch.nn.utils.clip_grad_norm_): scales every gradient
 * by min(1, maxNorm / (‖g‖₂ + 1e−6)). Returns the norm before clipping. maxNorm ≤ 0 only measures.
 */
export function clipGradNorm<A extends Float>(params: NamedParam<A>[], maxNorm: number): number {
  let sq = 0;
  for (const p of params) {
    const g = p.grad;
    for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  }
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of params) {
      const g = p.grad;
      for (let i = 0; i < g.length; i++) g[i] *= s;
    }
  }
  return norm;
}
