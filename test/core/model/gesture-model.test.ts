import { describe, expect, it } from 'vitest';
import { referenceKernel } from '../../../core/egru/reference.ts';
import { resolveModelConfig } from '../../../core/model/config.ts';
import type { GestureModelConfig } from '../../../core/model/config.ts';
import { initGestureModel } from '../../../core/model/init.ts';
import type { GestureModel } from '../../../core/model/gesture-model.ts';
import { Rng } from '../../../core/util/rng.ts';

/** A tiny float64 model and a batch of random sparse inputs with unequal lengths. */
function setup(over: Partial<GestureModelConfig>, seed = 3) {
  const config = resolveModelConfig({ inputSize: 4, numClasses: 3, hiddenSizes: [5, 4], gamma: 0, eps: 1, thrMean: 0.3, ...over });
  const model = initGestureModel(config, seed, referenceKernel, 'float64');
  // Larger biases and thresholds near the state range give a realistic mix of firing and silent units.
  const rng = new Rng(seed + 100);
  for (const p of model.parameters()) if (p.kind === 'bias') for (let i = 0; i < p.value.length; i++) p.value[i] = rng.normal(0, 0.5);
  const T = 6;
  const N = 3;
  const x = new Float64Array(T * N * config.inputSize);
  for (let i = 0; i < x.length; i++) x[i] = rng.next() < 0.5 ? 0 : rng.normal(0, 1.5);
  const lengths = Int32Array.of(6, 4, 5);
  for (let n = 0; n < N; n++) for (let t = lengths[n]; t < T; t++) x.fill(0, (t * N + n) * config.inputSize, (t * N + n + 1) * config.inputSize);
  const labels = Int32Array.of(0, 2, 1);
  return { model, x, T, N, lengths, labels };
}

/** Central finite differences of the whole model loss against the analytic gradient, for every parameter. */
function gradCheck(model: GestureModel<Float64Array>, x: Float64Array, T: number, N: number, lengths: Int32Array, labels: Int32Array, reg = { rateLambda: 0, rateTarget: 0.05, stateLambda: 0 }) {
  const rngFor = () => new Rng(99); // identical zoneout masks in every evaluation
  const base = model.lossAndGrad(x, T, N, lengths, labels, reg, rngFor());
  const analytic = model.parameters().map((p) => Float64Array.from(p.grad));
  let maxErr = 0;
  let maxGrad = 0;
  let checked = 0;
  const h = 1e-6;
  model.parameters().forEach((p, pi) => {
    for (let i = 0; i < p.value.length; i++) {
      const v0 = p.value[i];
      p.value[i] = v0 + h;
      const lp = model.lossAndGrad(x, T, N, lengths, labels, reg, rngFor()).loss;
      p.value[i] = v0 - h;
      const lm = model.lossAndGrad(x, T, N, lengths, labels, reg, rngFor()).loss;
      p.value[i] = v0;
      const num = (lp - lm) / (2 * h);
      maxErr = Math.max(maxErr, Math.abs(num - analytic[pi][i]));
      maxGrad = Math.max(maxGrad, Math.abs(analytic[pi][i]));
      checked++;
    }
  });
  return { maxErr, maxGrad, checked, base };
}

describe('GestureModel gradients (float64 reference kernel, γ = 0 so finite differences are exact, spec §4.4)', () => {
  it('trace readout, mean over each sample’s own steps, 2 layers, CE + state regulariser', () => {
    const s = setup({ pooling: 'mean', readout: 'trace' });
    const r = gradCheck(s.model, s.x, s.T, s.N, s.lengths, s.labels, { rateLambda: 0, rateTarget: 0.05, stateLambda: 0.3 });
    expect(r.base.activity).toBeGreaterThan(0.05); // events do happen: the y/o paths are exercised
    expect(r.base.activity).toBeLessThan(0.95);
    expect(r.maxGrad).toBeGreaterThan(1e-3);
    expect(r.maxErr).toBeLessThan(1e-7);
  });

  it('last-step readout on y, with a dense ReLU front layer and zoneout', () => {
    const s = setup({ pooling: 'last', readout: 'y', frontDense: 3, zoneout: 0.3 });
    const r = gradCheck(s.model, s.x, s.T, s.N, s.lengths, s.labels);
    expect(r.maxGrad).toBeGreaterThan(1e-3);
    expect(r.maxErr).toBeLessThan(1e-7);
    // the front layer really receives gradient
    const fw = s.model.parameters().find((p) => p.name === 'front.weight')!;
    s.model.lossAndGrad(s.x, s.T, s.N, s.lengths, s.labels, undefined, new Rng(99));
    expect(fw.grad.some((g) => Math.abs(g) > 1e-6)).toBe(true);
  });

  it('ramp pooling (weights ∝ t + 1 over each sample’s own steps) on the trace', () => {
    const s = setup({ pooling: 'ramp', readout: 'trace' });
    const r = gradCheck(s.model, s.x, s.T, s.N, s.lengths, s.labels);
    expect(r.maxGrad).toBeGreaterThan(1e-3);
    expect(r.maxErr).toBeLessThan(1e-7);
    // The pooled vector is the hand-weighted sum: sample 1 has 4 steps → weights 1,2,3,4 / 10.
    const f = s.model.forward(s.x, s.T, s.N, s.lengths, false);
    const H = f.layers[1].H;
    for (let j = 0; j < H; j++) {
      let want = 0;
      for (let t = 0; t < 4; t++) want += ((t + 1) / 10) * f.layers[1].tr[(t * s.N + 1) * H + j];
      expect(f.pooled[H + j]).toBeCloseTo(want, 12);
    }
  });

  it('padding after a sample’s length changes nothing', () => {
    const s = setup({ pooling: 'mean' });
    const a = s.model.evaluate(s.x, s.T, s.N, s.lengths, s.labels);
    const x2 = s.x.slice();
    // garbage in the padded region of sample 1 (length 4)
    for (let t = 4; t < s.T; t++) for (let c = 0; c < 4; c++) x2[(t * s.N + 1) * 4 + c] = 5;
    const b = s.model.evaluate(x2, s.T, s.N, s.lengths, s.labels);
    expect(Array.from(b.logits)).toEqual(Array.from(a.logits));
  });

  it('the rate regulariser lowers activity through the surrogate (γ > 0)', () => {
    const s = setup({ gamma: 0.7 });
    const reg = { rateLambda: 1, rateTarget: 0, stateLambda: 0 };
    const params = s.model.parameters();
    const withReg = s.model.lossAndGrad(s.x, s.T, s.N, s.lengths, s.labels, reg);
    // one (mean o_l − 0)² term per layer: positive and at most the number of layers (2)
    expect(withReg.reg).toBeGreaterThan(0);
    expect(withReg.reg).toBeLessThanOrEqual(2);
    const gWith = params.map((p) => Float64Array.from(p.grad));
    s.model.lossAndGrad(s.x, s.T, s.N, s.lengths, s.labels);
    // step against the regulariser's own gradient (total minus CE-only)
    params.forEach((p, i) => {
      for (let k = 0; k < p.value.length; k++) p.value[k] -= 0.5 * (gWith[i][k] - p.grad[k]);
    });
    const after = s.model.lossAndGrad(s.x, s.T, s.N, s.lengths, s.labels, reg);
    expect(after.activity).toBeLessThan(withReg.activity);
  });

  it('rejects inputs of the wrong shape with a clear error', () => {
    const s = setup({});
    expect(() => s.model.evaluate(s.x.subarray(1), s.T, s.N, s.lengths, s.labels)).toThrow(/expected T·N·C/);
    expect(() => s.model.evaluate(s.x, s.T, s.N, Int32Array.of(6, 7, 1), s.labels)).toThrow(/length 7 outside 1..6/);
  });
});
