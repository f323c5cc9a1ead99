/**
 * `egru eval` end to end: a tiny model trained by the real training loop on the DVS128-Gesture-layout fixture,
 * then evaluated by the CLI run as a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEgru } from '../../helpers/run-egru.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runTraining } from '../../../core/train/loop.ts';
import '../../../core/train/datasets/event-dirs.ts'; // registers the dataset-folder loaders in this process
import { gesturePreprocessing } from '../../../core/train/datasets/preprocess.ts';
import { readBundleMeta } from '../../../core/model/bundle.ts';
import { expectedWindows, makeGestureFixture } from '../../helpers/gesture-fixture.ts';
import type { GestureFixture } from '../../helpers/gesture-fixture.ts';


const egru = runEgru;

const PREP = gesturePreprocessing({ frame: { width: 16, height: 16 }, binUs: 10_000, windowUs: 100_000 });

let tmp = '';
let fx: GestureFixture;
let bundle = '';
let cacheDir = '';

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'egru-eval-'));
  fx = await makeGestureFixture(path.join(tmp, 'data'), { classes: [0, 3, 6, 9], eventsPerMs: 4 });
  bundle = path.join(tmp, 'model');
  cacheDir = path.join(tmp, 'cache');
  await runTraining({
    dataset: { kind: 'dir', options: { path: fx.dir, preprocessing: PREP, cacheDir } },
    out: bundle,
    model: { hiddenSizes: [16] },
    epochs: 2,
    batchSize: 16,
    lr: 3e-3,
    valFraction: 0.34,
    seed: 5,
  });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('egru eval', () => {
  it('prints consistent JSON for the test split: keys, confusion, per-class and accuracy agree', async () => {
    const r = await egru(['eval', bundle, fx.dir, '--json', '--cache-dir', cacheDir]);
    expect(r.stderr).toMatch(/evaluating \[#+\] \d+\/\d+/);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, any>;
    for (const k of ['accuracy', 'activity', 'per_class', 'confusion', 'mac_reduction', 'windows', 'classes', 'split']) expect(j).toHaveProperty(k);
    expect(j.split).toBe('test');
    const want = expectedWindows(fx.trials, fx.windowUs, 'test');
    expect(j.windows).toBe(want.total);
    const conf = j.confusion as number[][];
    expect(conf.length).toBe(11);
    expect(conf.every((row) => row.length === 11)).toBe(true);
    const total = conf.flat().reduce((a, v) => a + v, 0);
    const diag = conf.reduce((a, row, k) => a + row[k], 0);
    expect(total).toBe(j.windows);
    expect(j.accuracy).toBeCloseTo(diag / total, 12);
    expect(conf.map((row) => row.reduce((a, v) => a + v, 0))).toEqual(want.perClass);
    for (const c of j.per_class as { class: number; support: number; correct: number; accuracy: number | null }[]) {
      expect(c.support).toBe(want.perClass[c.class]);
      expect(c.correct).toBe(conf[c.class][c.class]);
      expect(c.accuracy).toBe(c.support > 0 ? c.correct / c.support : null);
    }
    expect(j.activity).toBeGreaterThan(0);
    expect(j.activity).toBeLessThan(1);
    expect(j.mac_reduction).toBeGreaterThanOrEqual(1);
    expect(j.mac_reduction).toBeCloseTo(j.macs.dense / j.macs.executed, 9);
  });

  it('evaluates the validation users (as training split them), the training remainder and everything', async () => {
    const meta = await readBundleMeta(bundle);
    expect(meta.preprocessing).toEqual(PREP);
    const run = async (split: string) => JSON.parse((await egru(['eval', bundle, fx.dir, '--json', '--split', split, '--cache-dir', cacheDir])).stdout) as { windows: number };
    const [val, train, all] = [await run('val'), await run('train'), await run('all')];
    const tr = expectedWindows(fx.trials, fx.windowUs, 'train').total;
    const te = expectedWindows(fx.trials, fx.windowUs, 'test').total;
    expect(val.windows + train.windows).toBe(tr);
    expect(val.windows).toBeGreaterThan(0);
    expect(all.windows).toBe(tr + te);
  });

  it('prints a readable table without --json and refuses bad arguments', async () => {
    const r = await egru(['eval', bundle, fx.dir, '--cache-dir', cacheDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/accuracy\s+\d+\.\d%/);
    expect(r.stdout).toMatch(/confusion \(rows: true class/);
    expect((await egru(['eval', bundle])).code).toBe(2);
    expect((await egru(['eval', bundle, fx.dir, '--split', 'dev'])).code).toBe(2);
    const missing = await egru(['eval', path.join(tmp, 'nope'), fx.dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/model\.json|no such file/);
  });
});

describe('egru eval on a built-in dataset (smnist)', () => {
  let dir = '';
  let smBundle = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'egru-eval-smnist-'));
    smBundle = path.join(dir, 'model');
    // A tiny S-MNIST run (784 steps × 1 pixel) on 80 train / 30 test digits: what matters is that eval rebuilds
    // exactly the splits training used and the same model outputs, not the accuracy.
    await runTraining({
      dataset: { kind: 'smnist', options: { trainSamples: 80, testSamples: 30 } },
      out: smBundle,
      model: { hiddenSizes: [8], inputGain: 10 },
      epochs: 1,
      batchSize: 20,
      lr: 1e-2,
      valFraction: 0.25,
      seed: 3,
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses the split sizes recorded in the bundle and reproduces its recorded test and validation accuracy', async () => {
    const meta = await readBundleMeta(smBundle);
    const test = JSON.parse((await egru(['eval', smBundle, 'smnist', '--json'])).stdout) as Record<string, any>;
    expect(test.split).toBe('test');
    expect(test.windows).toBe(30);
    expect(test.classes.length).toBe(10);
    expect((test.confusion as number[][]).flat().reduce((a, v) => a + v, 0)).toBe(30);
    expect(test.accuracy).toBeCloseTo(meta.metrics.testAccuracy as number, 12);
    const val = JSON.parse((await egru(['eval', smBundle, 'smnist', '--json', '--split', 'val'])).stdout) as Record<string, any>;
    const train = JSON.parse((await egru(['eval', smBundle, 'smnist', '--json', '--split', 'train'])).stdout) as Record<string, any>;
    expect(val.windows + train.windows).toBe(80); // the 80 training digits, split as training split them
    expect(val.windows).toBeGreaterThanOrEqual(15);
    expect(val.windows).toBeLessThanOrEqual(25);
    expect(val.accuracy).toBeCloseTo(meta.metrics.valAccuracy as number, 12);
    expect(val.activity).toBeGreaterThan(0);
  });

  it('refuses a gesture bundle on smnist and an S-MNIST bundle on a gesture folder, naming the mismatch', async () => {
    const wrong = await egru(['eval', bundle, 'smnist']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/is not what dataset 'smnist' gives/);
    const folder = await egru(['eval', smBundle, fx.dir]);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toMatch(/trained on 'sequence' input, not event frames/);
  });
});
