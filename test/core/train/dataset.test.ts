import { describe, expect, it } from 'vitest';
import { assembleBatch, InMemoryDataset, splitTrainVal, subset } from '../../../core/train/dataset.ts';
import type { Dataset, SequenceSample } from '../../../core/train/dataset.ts';
import { smnistDataset } from '../../../core/train/datasets/smnist.ts';

describe('datasets', () => {
  it('assembles dense and sparse samples time-major with zero padding', () => {
    const dense = new InMemoryDataset('d', 2, ['a', 'b'], [Float32Array.of(1, 2, 3, 4, 5, 6), Float32Array.of(7, 8)], Int32Array.of(0, 1));
    const b = assembleBatch(dense, [0, 1]);
    expect([b.T, b.N, b.C]).toEqual([3, 2, 2]);
    // x[t, n, c]
    expect(Array.from(b.x)).toEqual([1, 2, 7, 8, 3, 4, 0, 0, 5, 6, 0, 0]);
    expect(Array.from(b.lengths)).toEqual([3, 1]);
    const sparse: Dataset = {
      name: 's',
      size: 1,
      inputSize: 3,
      classNames: ['x'],
      length: () => 2,
      label: () => 0,
      sample: (): SequenceSample => ({ kind: 'sparse', T: 2, t: Uint32Array.of(1, 0, 1), c: Uint32Array.of(2, 0, 2), v: Float32Array.of(1, 5, 2), label: 0 }),
    };
    expect(Array.from(assembleBatch(sparse, [0]).x)).toEqual([5, 0, 0, 0, 0, 3]);
    const badSparse: Dataset = { ...sparse, sample: () => ({ kind: 'sparse', T: 2, t: Uint32Array.of(2), c: Uint32Array.of(0), v: Float32Array.of(1), label: 0 }) };
    expect(() => assembleBatch(badSparse, [0])).toThrow(/outside/);
  });

  it('splits training data into disjoint, stratified train/validation parts, reproducibly', () => {
    const frames = Array.from({ length: 40 }, (_, i) => Float32Array.of(i));
    const ds = new InMemoryDataset('d', 1, ['a', 'b'], frames, Int32Array.from({ length: 40 }, (_, i) => (i < 30 ? 0 : 1)));
    const { train, val } = splitTrainVal(ds, 0.2, 5);
    expect(val!.size).toBe(8);
    expect(train.size).toBe(32);
    const ids = (d: Dataset) => Array.from({ length: d.size }, (_, i) => (d.sample(i) as { frames: Float32Array }).frames[0]);
    const v = ids(val!);
    expect(new Set([...ids(train), ...v]).size).toBe(40);
    expect(v.filter((i) => i >= 30).length).toBe(2); // 20 % of class b
    expect(ids(splitTrainVal(ds, 0.2, 5).val!)).toEqual(v);
    expect(() => subset(ds, [40])).toThrow(/out of range/);
  });

  it('S-MNIST: the fixed 8,000 / 2,000 split of the mnist package, 784 steps × 1 pixel', () => {
    const s = smnistDataset();
    expect(s.train.size).toBe(8000);
    expect(s.test!.size).toBe(2000);
    expect(s.train.length(0)).toBe(784);
    expect(s.train.inputSize).toBe(1);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < s.test!.size; i++) counts[s.test!.label(i)]++;
    expect(Math.min(...counts)).toBeGreaterThan(120); // every class is in the test split
    const x = (s.train.sample(0) as { frames: Float32Array }).frames;
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
    expect(x.filter((v) => v > 0).length).toBeGreaterThan(50); // a digit, not a blank
    // fixed: a second load gives the same first test digit
    expect(smnistDataset({ testSamples: 1 }).test!.label(0)).toBe(s.test!.label(0));
  });
});
