import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataParallel, shardRanges, shareModelParameters } from '../../../core/train/data-parallel.ts';
import { sliceBatch } from '../../../core/train/dataset.ts';
import { runTraining } from '../../../core/train/loop.ts';
import { resolveModelConfig } from '../../../core/model/config.ts';
import { initGestureModel } from '../../../core/model/init.ts';
import { getEgruKernel } from '../../../core/egru/kernels.ts';
import { Rng } from '../../../core/util/rng.ts';
import type { Batch } from '../../../core/train/dataset.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'egru-dp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A batch of sparse random sequences with unequal lengths (zero after each length). */
function randomBatch(T: number, N: number, C: number, K: number, seed: number): Batch {
  const rng = new Rng(seed);
  const lengths = Int32Array.from({ length: N }, () => 1 + Math.floor(rng.next() * T));
  lengths[N - 1] = T;
  const labels = Int32Array.from({ length: N }, () => Math.floor(rng.next() * K));
  const x = new Float32Array(T * N * C);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) if (t < lengths[n]) for (let c = 0; c < C; c++) if (rng.next() < 0.3) x[(t * N + n) * C + c] = rng.normal(0, 1.5);
  return { T, N, C, x, lengths, labels };
}

describe('data-parallel training steps', () => {
  it('splits batches into contiguous, even shards and slices [T, N, C] rows exactly', () => {
    expect(shardRanges(16, 2)).toEqual([[0, 8], [8, 16]]);
    expect(shardRanges(5, 2)).toEqual([[0, 2], [2, 5]]);
    expect(shardRanges(1, 2)).toEqual([[0, 1]]);
    expect(shardRanges(7, 3)).toEqual([[0, 2], [2, 4], [4, 7]]);
    const b = randomBatch(9, 5, 3, 4, 1);
    b.lengths.set([2, 3, 9, 4, 5]);
    const s = sliceBatch(b, 3, 5);
    expect(s.T).toBe(5); // the shard's own longest sample
    expect(s.N).toBe(2);
    expect(Array.from(s.labels)).toEqual(Array.from(b.labels.subarray(3, 5)));
    for (let t = 0; t < s.T; t++) for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) expect(s.x[(t * 2 + n) * 3 + c]).toBe(b.x[(t * 5 + 3 + n) * 3 + c]);
  });

  it('two threads give the one-thread batch gradient (≤ 1e-5 relative), with shared weights the workers see updated', async () => {
    const kernel = getEgruKernel();
    const config = resolveModelConfig({ inputSize: 6, numClasses: 4, hiddenSizes: [24, 16], thrMean: 0.2, pooling: 'ramp' });
    const model = shareModelParameters(initGestureModel(config, 5, kernel));
    const dp = await DataParallel.start(model, 2);
    try {
      // No regulariser: both are means over valid (t, unit) entries, which shards of unequal lengths weight differently.
      const reg = { rateLambda: 0, rateTarget: 0.05, stateLambda: 0 };
      for (const seed of [11, 12]) {
        const b = randomBatch(30, 7, 6, 4, seed);
        const one = model.lossAndGrad(b.x, b.T, b.N, b.lengths, b.labels, reg, new Rng(1));
        const want = model.parameters().map((p) => Float64Array.from(p.grad));
        for (const p of model.parameters()) p.grad.fill(NaN); // must be overwritten
        const two = await dp.lossAndGrad(b, reg, new Rng(1), 7);
        expect(two.loss).toBeCloseTo(one.loss, 5);
        expect(two.correct).toBe(one.correct);
        // Activity is averaged per shard over its valid entries, shards weighted by samples: close, not equal.
        expect(Math.abs(two.activity - one.activity)).toBeLessThan(0.01);
        // Executed MACs may differ: a shard's own input density can pick the dense input product (counted in full).
        expect(two.macsExecuted).toBeGreaterThan(0);
        let maxErr = 0;
        let maxG = 0;
        model.parameters().forEach((p, i) => {
          for (let k = 0; k < p.grad.length; k++) {
            maxErr = Math.max(maxErr, Math.abs(p.grad[k] - want[i][k]));
            maxG = Math.max(maxG, Math.abs(want[i][k]));
          }
        });
        expect(maxG).toBeGreaterThan(1e-3);
        expect(maxErr / maxG).toBeLessThan(1e-5);
        const ev = await dp.evaluate(b);
        expect(ev.loss).toBeCloseTo(model.evaluate(b.x, b.T, b.N, b.lengths, b.labels).loss, 5);
        // An in-place update in this thread is what the worker computes with at the next step.
        for (const p of model.parameters()) for (let k = 0; k < p.value.length; k++) p.value[k] -= 0.05 * want[model.parameters().indexOf(p)][k];
      }
    } finally {
      await dp.close();
    }
  });

  it('refuses a model whose weights are not shared, and reports a worker-side error with its reason', async () => {
    const kernel = getEgruKernel();
    const config = resolveModelConfig({ inputSize: 3, numClasses: 2, hiddenSizes: [8] });
    await expect(DataParallel.start(initGestureModel(config, 1, kernel), 2)).rejects.toThrow(/not shared/);
    const dp = await DataParallel.start(shareModelParameters(initGestureModel(config, 1, kernel)), 2);
    try {
      const b = randomBatch(5, 4, 3, 2, 3);
      b.labels[3] = 0;
      const good = await dp.lossAndGrad(b, { rateLambda: 0, rateTarget: 0, stateLambda: 0 }, new Rng(1), 1);
      expect(Number.isFinite(good.loss)).toBe(true);
      b.lengths[3] = 99; // the worker's shard: a length outside 1..T
      await expect(dp.lossAndGrad(b, { rateLambda: 0, rateTarget: 0, stateLambda: 0 }, new Rng(1), 2)).rejects.toThrow(/training shard worker: .*length 99/);
    } finally {
      await dp.close();
    }
  });

  it('runTraining with workers: 2 learns like workers: 1 and is reproducible', async () => {
    const cfg = (out: string, workers: number) => ({
      dataset: { kind: 'synthetic', options: { trainSamples: 160, testSamples: 100, variableLength: true } },
      out: path.join(dir, out),
      epochs: 6,
      batchSize: 16,
      lr: 0.01,
      model: { hiddenSizes: [12] },
      seed: 3,
      workers,
    });
    const one = await runTraining(cfg('one', 1));
    const two = await runTraining(cfg('two', 2));
    const again = await runTraining(cfg('again', 2));
    expect(two.status).toBe('completed');
    expect(two.test!.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(Math.abs(two.test!.accuracy - one.test!.accuracy)).toBeLessThanOrEqual(0.05);
    expect(again.test!.accuracy).toBe(two.test!.accuracy);
    expect(again.test!.loss).toBe(two.test!.loss);
  });
});
