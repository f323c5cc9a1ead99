/**
 * EGRU activity / sparsity / work metrics from kernel results (spec §5 MAC recipe, §7 metrics):
 *   activity          = mean of o over batch × units (per step) — activity sparsity = 1 − activity
 *   backward sparsity = 1 − |A ∪ S| / H (fraction of (unit, step) pairs that need no recurrent error)
 *   executed vs dense MACs per step (dense = a GRU of the same shape).
 * Cheap enough to stay on during live inference: running sums plus references to the latest per-step arrays
 * the kernel already produced; no allocation per step.
 */
import type { EgruBackwardMacs, EgruMacs } from './types.ts';

export interface EgruLayerStats {
  /** Steps seen in forward. */
  steps: number;
  /** Mean activity (fraction of o = 1) over all forward steps seen. */
  activity: number;
  forwardMacsExecuted: number;
  forwardMacsDense: number;
  /** dense / executed (≥ 1; Infinity when nothing was executed). */
  forwardMacReduction: number;
  backwardSteps: number;
  /** Mean backward sparsity over all backward steps seen (NaN when no backward ran). */
  backwardSparsity: number;
  backwardMacsExecuted: number;
  backwardMacsDense: number;
  backwardMacReduction: number;
}

/** Per-step arrays of the latest call (references to the kernel's own arrays, not copies). */
export interface EgruLatestSteps {
  forward: EgruMacs | null;
  backward: EgruBackwardMacs | null;
}

function sum(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** One-shot summary of a forward call's counters. */
export function summarizeForward(m: EgruMacs): { activity: number; executed: number; dense: number; reduction: number } {
  const executed = sum(m.executed);
  const dense = sum(m.dense);
  const T = m.activity.length;
  return { activity: T ? sum(m.activity) / T : 0, executed, dense, reduction: executed > 0 ? dense / executed : Infinity };
}

/** One-shot summary of a backward call's counters. */
export function summarizeBackward(m: EgruBackwardMacs): { backwardSparsity: number; executed: number; dense: number; reduction: number } {
  const executed = sum(m.executed);
  const dense = sum(m.dense);
  const T = m.backwardSparsity.length;
  return { backwardSparsity: T ? sum(m.backwardSparsity) / T : NaN, executed, dense, reduction: executed > 0 ? dense / executed : Infinity };
}

class LayerAccumulator {
  steps = 0;
  activitySum = 0;
  fExec = 0;
  fDense = 0;
  bSteps = 0;
  bSparsitySum = 0;
  bExec = 0;
  bDense = 0;
  latest: EgruLatestSteps = { forward: null, backward: null };
}

/** Running metrics over layers; feed it each layer's kernel results (`{ macs }`). */
export class EgruMetrics {
  private layers: LayerAccumulator[] = [];

  private acc(layer: number): LayerAccumulator {
    while (this.layers.length <= layer) this.layers.push(new LayerAccumulator());
    return this.layers[layer];
  }

  recordForward(layer: number, r: { macs: EgruMacs }): void {
    const a = this.acc(layer);
    const m = r.macs;
    for (let t = 0; t < m.activity.length; t++) {
      a.activitySum += m.activity[t];
      a.fExec += m.executed[t];
      a.fDense += m.dense[t];
    }
    a.steps += m.activity.length;
    a.latest.forward = m;
  }

  recordBackward(layer: number, g: { macs: EgruBackwardMacs }): void {
    const a = this.acc(layer);
    const m = g.macs;
    for (let t = 0; t < m.backwardSparsity.length; t++) {
      a.bSparsitySum += m.backwardSparsity[t];
      a.bExec += m.executed[t];
      a.bDense += m.dense[t];
    }
    a.bSteps += m.backwardSparsity.length;
    a.latest.backward = m;
  }

  get layerCount(): number {
    return this.layers.length;
  }

  layer(l: number): EgruLayerStats {
    const a = this.acc(l);
    return {
      steps: a.steps,
      activity: a.steps ? a.activitySum / a.steps : 0,
      forwardMacsExecuted: a.fExec,
      forwardMacsDense: a.fDense,
      forwardMacReduction: a.fExec > 0 ? a.fDense / a.fExec : Infinity,
      backwardSteps: a.bSteps,
      backwardSparsity: a.bSteps ? a.bSparsitySum / a.bSteps : NaN,
      backwardMacsExecuted: a.bExec,
      backwardMacsDense: a.bDense,
      backwardMacReduction: a.bExec > 0 ? a.bDense / a.bExec : Infinity,
    };
  }

  /** Per-step counters of the latest forward/backward call of a layer. */
  latest(l: number): EgruLatestSteps {
    return this.acc(l).latest;
  }

  /** Stats per layer and the MAC totals over all layers. */
  summary(): { layers: EgruLayerStats[]; forwardMacReduction: number; backwardMacReduction: number } {
    const layers = this.layers.map((_, i) => this.layer(i));
    let fe = 0;
    let fd = 0;
    let be = 0;
    let bd = 0;
    for (const s of layers) {
      fe += s.forwardMacsExecuted;
      fd += s.forwardMacsDense;
      be += s.backwardMacsExecuted;
      bd += s.backwardMacsDense;
    }
    return { layers, forwardMacReduction: fe > 0 ? fd / fe : Infinity, backwardMacReduction: be > 0 ? bd / be : Infinity };
  }

  reset(): void {
    this.layers = [];
  }
}
