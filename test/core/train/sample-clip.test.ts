import { describe, expect, it } from 'vitest';
import { SampleClipper } from '../../../core/train/sample-clip.ts';
import { DataParallel, shareModelParameters } from '../../../core/train/data-parallel.ts';
import { sliceBatch } from '../../../core/train/dataset.ts';
import type { Batch } from '../../../core/train/dataset.ts';
import { resolveModelConfig } from '../../../core/model/config.ts';
import { initGestureModel } from '../../../core/model/init.ts';
import { getEgruKernel } from '../../../core/egru/kernels.ts';
import { Rng } from '../../../core/util/rng.ts';

const NO_REG = { rateLambda: 0, rateTarget: 0.05, stateLambda: 0 };

function batch(seed: number): Batch {
  const rng = new Rng(seed);
  const T = 25, N = 6, C = 5;
  const lengths = Int32Array.from({ length: N }, (_, n) => (n === 0 ? T : 5 + Math.floor(rng.next() * (T - 5))));
  const labels = Int32Array.from({ length: N }, () => Math.floor(rng.next() * 3));
  const x = new Float32Array(T * N * C);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) if (t < lengths[n]) for (let c = 0; c < C; c++) if (rng.next() < 0.4) x[(t * N + n) * C + c] = rng.normal(0, 2);
  return { T, N, C, x, lengths, labels };
}

function setup() {
  const config = resolveModelConfig({ inputSize: 5, numClasses: 3, hiddenSizes: [20], thrMean: 0.2 });
  return initGestureModel(config, 9, getEgruKernel());
}

const grads = (m: ReturnType<typeof setup>) => m.parameters().map((p) => Float64Array.from(p.grad));
const norm = (g: Float64Array[]) => Math.sqrt(g.reduce((s, a) => s + a.reduce((t, v) => t + v * v, 0), 0));

describe('per-sample gradient clipping', () => {
  it('without any clipping in effect it is the batch gradient; with it, the mean of each sample’s clipped gradient', () => {
    const model = setup();
    const clipper = new SampleClipper(model);
    const b = batch(1);
    model.lossAndGrad(b.x, b.T, b.N, b.lengths, b.labels, NO_REG, new Rng(1));
    const full = grads(model);
    const loose = clipper.lossAndGrad(b, NO_REG, new Rng(1), 1e9);
    expect(loose.clipped).toBe(0);
    const got = grads(model);
    const scale = norm(full);
    expect(scale).toBeGreaterThan(1e-3);
    got.forEach((g, i) => g.forEach((v, k) => expect(Math.abs(v - full[i][k]) / scale).toBeLessThan(1e-5)));

    // By hand: each sample alone, scaled to norm ≤ c, averaged.
    const per = Array.from({ length: b.N }, (_, n) => {
      const s = sliceBatch(b, n, n + 1);
      model.lossAndGrad(s.x, s.T, 1, s.lengths, s.labels, NO_REG, new Rng(1));
      return grads(model);
    });
    const norms = per.map(norm);
    const c = [...norms].sort((a, z) => a - z)[Math.floor(b.N / 2)]; // clips about half of them
    const want = full.map((a) => new Float64Array(a.length));
    per.forEach((g, n) => g.forEach((a, i) => a.forEach((v, k) => (want[i][k] += (v * Math.min(1, c / norms[n])) / b.N))));
    const tight = clipper.lossAndGrad(b, NO_REG, new Rng(1), c);
    expect(tight.clipped).toBe(norms.filter((v) => v > c).length);
    expect(tight.clipped).toBeGreaterThan(0);
    expect(tight.loss).toBeCloseTo(loose.loss, 6); // the reported loss is unclipped
    const got2 = grads(model);
    const s2 = norm(want);
    got2.forEach((g, i) => g.forEach((v, k) => expect(Math.abs(v - want[i][k]) / s2).toBeLessThan(1e-5)));
    expect(norm(got2)).toBeLessThanOrEqual(c * (1 + 1e-6));
  });

  it('data-parallel shards clip per sample too (2 threads = 1 thread)', async () => {
    const model = shareModelParameters(setup());
    const clipper = new SampleClipper(model);
    const b = batch(2);
    clipper.lossAndGrad(b, NO_REG, new Rng(1), 0.5);
    const want = grads(model);
    const dp = await DataParallel.start(model, 2);
    try {
      await dp.lossAndGrad(b, NO_REG, new Rng(1), 3, 0.5);
    } finally {
      await dp.close();
    }
    const got = grads(model);
    const s = norm(want);
    expect(s).toBeGreaterThan(1e-3);
    got.forEach((g, i) => g.forEach((v, k) => expect(Math.abs(v - want[i][k]) / s).toBeLessThan(1e-5)));
  });

  it('rejects a non-positive clip', () => {
    const model = setup();
    expect(() => new SampleClipper(model).lossAndGrad(batch(3), NO_REG, new Rng(1), 0)).toThrow(/maxNorm > 0/);
  });
});
