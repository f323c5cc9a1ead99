/**
 * `egru train`: trains a GestureModel in a worker thread with a progress bar on stderr, writes the best model as
 * a bundle, and prints accuracy, activity, MAC reduction and throughput.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import type { Command } from '../command.ts';
import { parseArgs, UsageError } from '../command.ts';
import type { TrainConfig } from '../../train/config.ts';
import { resolveTrainConfig } from '../../train/config.ts';
import type { LrSchedule } from '../../train/schedule.ts';
import type { DatasetSpec } from '../../train/datasets/registry.ts';
import { builtinDatasetNames, isBuiltinDataset } from '../../train/datasets/registry.ts';
import { runTraining } from '../../train/loop.ts';
import type { TrainEvent, TrainResult } from '../../train/loop.ts';
import { startTrainingWorker } from '../../train/worker.ts';

const USAGE = `usage: egru train [--config FILE.json] [options]

Trains an EGRU classifier (front end → EGRU stack → readout on the trace) and writes the best model (chosen on a
validation split of the TRAINING data) as a bundle folder; the test split is evaluated once at the end.

data and output
  --dataset NAME|DIR      ${builtinDatasetNames().filter(isBuiltinDataset).join(' | ')} | a dataset folder
  --train-samples N       use only the first N training samples (built-in datasets)
  --test-samples N        use only the first N test samples (built-in datasets)
  --out DIR               bundle folder (model.json + weights.safetensors); checkpoint in DIR.checkpoint
  --resume                continue from DIR.checkpoint
model
  --hidden 128[,128]      EGRU hidden units per layer
  --front-dense D         dense ReLU layer of D units before the EGRU (default 0: the EGRU input kernel
                          projects the sparse frames directly)
  --front-cnn C1,C2[:K[:P]]  CNN front end from tfjs layers on each frame: Conv2D(K×K, C_i channels) → ReLU →
                          MaxPool(P) per block (default K=3, P=2), flattened into the EGRU (paper-like)
  --readout trace|y       --pooling mean|last|ramp     --gamma G   --eps E   --thr-mean M   --zoneout P
optimisation
  --epochs N  --batch N  --lr X  --seed N  --clip X (0 = off)  --weight-decay X  --beta2 X (Adam, default 0.999)  --thr-lr-scale X (θ's LR multiplier)  --freeze-thresholds
  --sample-clip X         clip each sequence's gradient to norm X before the batch mean (0 = off)
  --schedule constant | step:EVERY_EPOCHS:GAMMA | cosine[:MIN_LR[:WARMUP_STEPS]]
  --reg-rate L[:TARGET]   λ·(mean o − target)² activity regulariser (surrogate gradient)
  --reg-state L           λ·mean(c) (the DVS recipe's active term)
  --val F                 validation fraction of the training data (default 0.1)
  --patience N            early stopping after N epochs without improvement (0 = off)
  --kernel auto|native|native-dense|reference|reference-dense
  --workers N             threads per step (each batch split into N shards of whole samples; default 1)
  --in-process            train on this thread instead of a worker
  --json                  print the result as JSON

A --config FILE holds a JSON TrainConfig (core/train/config.ts); flags given on the command line override it.
`;

function num(flags: Record<string, string | true>, k: string): number | undefined {
  const v = flags[k];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === true || !Number.isFinite(n)) throw new UsageError(`--${k} needs a number, got ${String(v)}`);
  return n;
}

/** `C1,C2[:K[:P]]` → a CNN front spec whose input shape the training loop takes from the dataset's frames. */
function parseFrontCnn(s: string): { channels: number[]; kernelSize: number; pool: number } {
  const [ch, k = '3', p = '2'] = s.split(':');
  const channels = ch.split(',').map(Number);
  const kernelSize = Number(k);
  const pool = Number(p);
  if (channels.length === 0 || !channels.every((v) => Number.isInteger(v) && v > 0) || !Number.isInteger(kernelSize) || !Number.isInteger(pool)) {
    throw new UsageError(`--front-cnn C1,C2[:K[:P]] (e.g. 8,16:3:2), got ${s}`);
  }
  return { channels, kernelSize, pool };
}

function parseSchedule(s: string): LrSchedule {
  const [kind, a, b] = s.split(':');
  if (kind === 'constant') return { kind };
  if (kind === 'step') {
    if (a === undefined || b === undefined) throw new UsageError('--schedule step:EVERY_EPOCHS:GAMMA');
    return { kind, everyEpochs: Number(a), gamma: Number(b) };
  }
  if (kind === 'cosine') return { kind, minLr: a === undefined ? 0 : Number(a), warmupSteps: b === undefined ? 0 : Number(b) };
  throw new UsageError(`unknown --schedule ${s}`);
}

/** Builds the training config from an optional JSON file and the flags (flags win). */
export async function configFromArgs(args: string[]): Promise<{ config: TrainConfig; inProcess: boolean; json: boolean }> {
  const { flags, positional } = parseArgs(args, ['resume', 'freeze-thresholds', 'in-process', 'json']);
  if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]}`);
  let c: Record<string, any> = {};
  if (typeof flags.config === 'string') {
    try {
      c = JSON.parse(await readFile(flags.config, 'utf8')) as Record<string, any>;
    } catch (e) {
      throw new UsageError(`--config ${flags.config}: ${(e as Error).message}`);
    }
  }
  c.model = { ...(c.model ?? {}) };
  c.regularisation = { ...(c.regularisation ?? {}) };
  if (typeof flags.dataset === 'string') {
    const d = flags.dataset;
    const spec: DatasetSpec = isBuiltinDataset(d) ? { kind: d, options: {} } : { kind: 'dir', options: { path: d } };
    if (spec.kind === 'dir' && !(existsSync(d) && statSync(d).isDirectory())) throw new UsageError(`--dataset ${d}: neither a built-in dataset (${builtinDatasetNames().join(', ')}) nor a folder`);
    c.dataset = spec;
  }
  for (const [flag, key] of [
    ['train-samples', 'trainSamples'],
    ['test-samples', 'testSamples'],
  ] as const) {
    const v = num(flags, flag);
    if (v !== undefined) {
      if (!c.dataset || 'module' in c.dataset) throw new UsageError(`--${flag} needs --dataset`);
      c.dataset = { ...c.dataset, options: { ...(c.dataset.options ?? {}), [key]: v } };
    }
  }
  if (typeof flags.out === 'string') c.out = flags.out;
  if (flags.resume) c.resume = true;
  if (typeof flags.hidden === 'string') c.model.hiddenSizes = flags.hidden.split(',').map((s) => Number(s));
  const m = (flag: string, key: string) => {
    const v = num(flags, flag);
    if (v !== undefined) c.model[key] = v;
  };
  m('front-dense', 'frontDense');
  if (typeof flags['front-cnn'] === 'string') c.model.frontCnn = parseFrontCnn(flags['front-cnn']);
  m('gamma', 'gamma');
  m('eps', 'eps');
  m('thr-mean', 'thrMean');
  m('zoneout', 'zoneout');
  if (typeof flags.readout === 'string') c.model.readout = flags.readout;
  if (typeof flags.pooling === 'string') c.model.pooling = flags.pooling;
  const t = (flag: string, key: string) => {
    const v = num(flags, flag);
    if (v !== undefined) c[key] = v;
  };
  t('epochs', 'epochs');
  t('batch', 'batchSize');
  t('lr', 'lr');
  t('seed', 'seed');
  t('clip', 'clipNorm');
  t('sample-clip', 'sampleClipNorm');
  t('weight-decay', 'weightDecay');
  t('beta2', 'adamBeta2');
  t('thr-lr-scale', 'thresholdLrScale');
  t('val', 'valFraction');
  t('patience', 'patience');
  t('workers', 'workers');
  if (flags['freeze-thresholds']) c.trainThresholds = false;
  if (typeof flags.schedule === 'string') c.schedule = parseSchedule(flags.schedule);
  if (typeof flags.kernel === 'string') c.kernel = flags.kernel;
  if (typeof flags['reg-rate'] === 'string') {
    const [l, target] = flags['reg-rate'].split(':');
    c.regularisation.rateLambda = Number(l);
    if (target !== undefined) c.regularisation.rateTarget = Number(target);
  }
  const rs = num(flags, 'reg-state');
  if (rs !== undefined) c.regularisation.stateLambda = rs;
  if (!c.dataset) throw new UsageError('--dataset (or a config file with "dataset") is required');
  if (!c.out) throw new UsageError('--out BUNDLE_DIR is required');
  let config: TrainConfig;
  try {
    config = resolveTrainConfig(c as TrainConfig);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return { config, inProcess: Boolean(flags['in-process']), json: Boolean(flags.json) };
}

function fmtTime(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(1)}%`);

/** Renders events as a one-line progress bar (TTY) or as periodic lines (pipes, logs). */
export function progressPrinter(totalEpochs: number, out: NodeJS.WriteStream = process.stderr): (e: TrainEvent) => void {
  const tty = Boolean(out.isTTY);
  let lastLine = 0;
  return (e) => {
    if (e.type === 'start') {
      out.write(`training on ${e.dataset}\n  ${e.trainSize} train / ${e.valSize} validation / ${e.testSize} test samples, ${e.parameters} parameters, kernel ${e.kernel}${e.startEpoch > 0 ? `, resuming after epoch ${e.startEpoch}` : ''}\n`);
    } else if (e.type === 'progress') {
      const w = 24;
      const f = Math.round((w * e.step) / e.stepsPerEpoch);
      const line = `epoch ${e.epoch}/${totalEpochs} [${'#'.repeat(f)}${'-'.repeat(w - f)}] ${e.step}/${e.stepsPerEpoch}  loss ${e.loss.toFixed(4)}  acc ${pct(e.accuracy)}  act ${pct(e.activity)}  ${e.samplesPerSec.toFixed(1)} samples/s  ETA ${fmtTime(e.etaSec)}`;
      if (tty) out.write(`\r${line}\x1b[K`);
      else if (Date.now() - lastLine > 10_000) {
        lastLine = Date.now();
        out.write(line + '\n');
      }
    } else if (e.type === 'epoch') {
      if (tty) out.write('\r\x1b[K');
      out.write(
        `epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)} acc ${pct(e.trainAccuracy)} | val loss ${e.valLoss === null ? '–' : e.valLoss.toFixed(4)} acc ${pct(e.valAccuracy)} | activity ${pct(e.activity)} | MAC ÷${e.macReduction.toFixed(1)} | ${e.samplesPerSec.toFixed(1)} samples/s | ${fmtTime(e.seconds)}${e.best ? '  (best, saved)' : ''}\n`,
      );
    }
  };
}

export function summary(r: TrainResult): string {
  return [
    `status          ${r.status} after ${r.epochsCompleted} epoch(s)`,
    `best epoch      ${r.bestEpoch} (validation accuracy ${pct(r.bestValAccuracy)})`,
    `test accuracy   ${r.test ? `${pct(r.test.accuracy)} on ${r.test.samples} held-out samples` : '– (no test split or cancelled)'}`,
    `activity        ${r.activity === null ? '–' : pct(r.activity)} of units emit an event per step${r.test ? ' (test split)' : r.activity === null ? '' : ' (best epoch)'}`,
    `MAC reduction   ÷${r.macReduction.toFixed(2)} vs a dense GRU of the same size`,
    `throughput      ${r.samplesPerSec.toFixed(1)} training samples/s (kernel ${r.kernel})`,
    `wall time       ${fmtTime(r.wallSec)}`,
    `bundle          ${r.bundleDir}`,
    '',
  ].join('\n');
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train an EGRU classifier (worker thread, progress, checkpoints) and write a model bundle',
  usage: USAGE,
  async run(args) {
    const { config, inProcess, json } = await configFromArgs(args);
    const print = progressPrinter(config.epochs);
    const ac = new AbortController();
    const onSig = () => {
      process.stderr.write('\ncancelling after the current batch…\n');
      ac.abort();
    };
    process.once('SIGINT', onSig);
    let result: TrainResult;
    try {
      if (inProcess) result = await runTraining(config, { onEvent: print, signal: ac.signal });
      else {
        const job = startTrainingWorker(config, { signal: ac.signal });
        job.onEvent(print);
        result = await job.result;
      }
    } finally {
      process.removeListener('SIGINT', onSig);
    }
    process.stdout.write(json ? JSON.stringify(result, null, 2) + '\n' : summary(result));
    return result.status === 'cancelled' ? 130 : 0;
  },
};
