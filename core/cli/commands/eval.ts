/**
 * `egru eval BUNDLE DATASET`: accuracy (overall and per class), confusion matrix, mean EGRU activity and the MAC
 * reduction against a dense GRU of the same size, for a model bundle on a gesture dataset folder (DVS128 Gesture
 * layout, tonic's copy, or labelled recordings — e.g. a folder made by `egru sim` with an unseen seed), or on a
 * built-in dataset named instead of a folder (`smnist`: the bundle's own training split sizes are used, so its
 * test digits are the ones training never saw).
 *
 * The dataset is preprocessed with the bundle's own `preprocessing` object and nothing else, so evaluation sees
 * exactly what training saw.
 */
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Command } from '../command.ts';
import { parseArgs, UsageError } from '../command.ts';
import { loadBundle } from '../../model/bundle.ts';
import type { BundleMeta } from '../../model/bundle.ts';
import type { GestureModel } from '../../model/gesture-model.ts';
import { getEgruKernel } from '../../egru/kernels.ts';
import type { KernelPreference } from '../../egru/kernels.ts';
import { assembleBatch, splitTrainVal } from '../../train/dataset.ts';
import type { Batch, Dataset } from '../../train/dataset.ts';
import { openEventDir } from '../../train/datasets/event-dirs.ts';
import { isBuiltinDataset, openDataset } from '../../train/datasets/registry.ts';
import { hasGroups, splitByGroup } from '../../train/datasets/event-windows.ts';

const USAGE = `usage: egru eval BUNDLE DATASET [--split test|val|train|all] [--json] [options]

Evaluates a model bundle on a gesture dataset folder: accuracy overall and per class, confusion matrix, mean
EGRU activity and MACs executed vs a dense GRU of the same size. Every window of the chosen split is one sample;
the dataset is preprocessed exactly as the bundle's model.json says. DATASET may also name a built-in dataset
(smnist) that the bundle was trained on: its splits are made with the options recorded in the bundle.

  --split S          test (default when the dataset has one, else all) | val | train | all
                     val/train: the validation split of the training data made with the bundle's seed and
                     validation fraction (as training made it)
  --json             print {"accuracy","activity","per_class","confusion","mac_reduction",…} on stdout
  --batch N          windows per forward pass (default 64)
  --cache-dir DIR    preprocessed-window cache (default $EGRU_CACHE_DIR or ~/.cache/egru-studio/frames)
  --no-cache         keep preprocessed windows in memory only
  --kernel K         auto | native | native-dense | reference | reference-dense
`;

export type EvalSplit = 'test' | 'val' | 'train' | 'all';

export interface PerClass {
  class: number;
  name: string;
  /** Windows of this class. */
  support: number;
  correct: number;
  /** correct / support (null without support). */
  accuracy: number | null;
}

export interface EvalReport {
  bundle: string;
  dataset: string;
  split: EvalSplit;
  windows: number;
  classes: string[];
  accuracy: number;
  per_class: PerClass[];
  /** confusion[true][predicted] window counts. */
  confusion: number[][];
  /** Mean fraction of EGRU units emitting an event per step (over windows, steps, units and layers). */
  activity: number;
  macs: { executed: number; dense: number };
  mac_reduction: number;
  loss: number;
  seconds: number;
}

/** Evaluates `model` on `ds`: accuracy, confusion, activity and MACs. `onBatch(done, total)` reports progress. */
export function evaluateClassifier(model: GestureModel, ds: Dataset, batchSize: number, onBatch?: (done: number, total: number) => void): Omit<EvalReport, 'bundle' | 'dataset' | 'split' | 'seconds'> {
  const K = model.config.numClasses;
  if (ds.classNames.length !== K) throw new Error(`dataset has ${ds.classNames.length} classes, the model ${K}`);
  if (ds.inputSize !== model.config.inputSize) throw new Error(`dataset windows have ${ds.inputSize} inputs per step, the model expects ${model.config.inputSize}`);
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let lossSum = 0;
  let actSum = 0;
  let executed = 0;
  let dense = 0;
  let buf: Batch | undefined;
  const idx = new Uint32Array(batchSize);
  for (let s = 0; s < ds.size; s += batchSize) {
    const n = Math.min(batchSize, ds.size - s);
    for (let k = 0; k < n; k++) idx[k] = s + k;
    const b = (buf = assembleBatch(ds, idx.subarray(0, n), buf));
    const r = model.evaluate(b.x, b.T, b.N, b.lengths, b.labels);
    for (let i = 0; i < n; i++) {
      let arg = 0;
      for (let k = 1; k < K; k++) if (r.logits[i * K + k] > r.logits[i * K + arg]) arg = k;
      confusion[b.labels[i]][arg]++;
    }
    lossSum += r.loss * n;
    actSum += r.activity * n;
    executed += r.macsExecuted;
    dense += r.macsDense;
    onBatch?.(s + n, ds.size);
  }
  const N = ds.size;
  let correct = 0;
  const per_class: PerClass[] = confusion.map((row, k) => {
    const support = row.reduce((a, v) => a + v, 0);
    correct += row[k];
    return { class: k, name: ds.classNames[k], support, correct: row[k], accuracy: support > 0 ? row[k] / support : null };
  });
  return {
    windows: N,
    classes: [...ds.classNames],
    accuracy: N > 0 ? correct / N : NaN,
    per_class,
    confusion,
    activity: N > 0 ? actSum / N : NaN,
    macs: { executed, dense },
    mac_reduction: dense / Math.max(1, executed),
    loss: N > 0 ? lossSum / N : NaN,
  };
}

/** The validation fraction and seed training used, read from the bundle's provenance. */
function trainingSplitParams(meta: BundleMeta): { valFraction: number; seed: number } {
  const cfg = meta.provenance.config as { valFraction?: unknown };
  const valFraction = typeof cfg?.valFraction === 'number' ? cfg.valFraction : 0;
  return { valFraction, seed: meta.provenance.seed };
}

function bar(done: number, total: number, label: string): string {
  const w = 24;
  const f = total > 0 ? Math.round((w * done) / total) : w;
  return `${label} [${'#'.repeat(f)}${'-'.repeat(w - f)}] ${done}/${total}`;
}

/** Progress on stderr: redrawn in place on a terminal, a few lines otherwise. */
function progress(label: string): (done: number, total: number) => void {
  const tty = Boolean(process.stderr.isTTY);
  let last = -1;
  return (done, total) => {
    if (tty) {
      process.stderr.write(`\r${bar(done, total, label)}\x1b[K`);
      if (done >= total) process.stderr.write('\n');
    } else {
      const q = total > 0 ? Math.floor((4 * done) / total) : 4;
      if (q !== last) {
        last = q;
        process.stderr.write(bar(done, total, label) + '\n');
      }
    }
  };
}

function pct(v: number | null): string {
  return v === null || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(1)}%`;
}

export function formatReport(r: EvalReport): string {
  const w = Math.max(...r.classes.map((c) => c.length), 5);
  const lines = [
    `bundle          ${r.bundle}`,
    `dataset         ${r.dataset} (${r.split}: ${r.windows} windows)`,
    `accuracy        ${pct(r.accuracy)}`,
    `activity        ${pct(r.activity)} of units emit an event per step`,
    `MAC reduction   ÷${r.mac_reduction.toFixed(2)} vs a dense GRU of the same size (${r.macs.executed.toExponential(3)} executed)`,
    '',
    `${'class'.padEnd(w)}  support  accuracy`,
    ...r.per_class.map((c) => `${c.name.padEnd(w)}  ${String(c.support).padStart(7)}  ${pct(c.accuracy).padStart(8)}`),
    '',
    'confusion (rows: true class, columns: predicted)',
    ...r.confusion.map((row, k) => `${String(k).padStart(3)} | ${row.map((v) => String(v).padStart(4)).join(' ')}`),
    '',
  ];
  return lines.join('\n');
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a model bundle on a gesture dataset folder or a built-in dataset (accuracy, confusion, activity, MAC reduction)',
  usage: USAGE,
  async run(args) {
    const { flags, positional } = parseArgs(args, ['json', 'no-cache']);
    if (positional.length !== 2) throw new UsageError('expected BUNDLE and DATASET (see egru eval --help)');
    const [bundleDir, datasetDir] = positional;
    const split = (flags.split ?? 'default') as EvalSplit | 'default';
    if (!['default', 'test', 'val', 'train', 'all'].includes(split)) throw new UsageError(`--split must be test, val, train or all, got ${String(flags.split)}`);
    const batch = flags.batch === undefined ? 64 : Number(flags.batch);
    if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`--batch needs a positive integer, got ${String(flags.batch)}`);
    const t0 = performance.now();
    const kernelPref = typeof flags.kernel === 'string' ? flags.kernel : 'auto';
    if (!['auto', 'native', 'native-dense', 'reference', 'reference-dense'].includes(kernelPref)) throw new UsageError(`unknown --kernel ${kernelPref}`);
    const kernel = getEgruKernel(kernelPref === 'auto' ? undefined : (kernelPref as KernelPreference));
    const { meta, model } = await loadBundle(bundleDir, kernel);
    const json = Boolean(flags.json);
    const builtin = !existsSync(datasetDir) && isBuiltinDataset(datasetDir);
    let splits: { train: Dataset; test?: Dataset; layout: string };
    if (builtin) {
      splits = { ...(await openBuiltin(datasetDir, meta)), layout: `built-in dataset '${datasetDir}'` };
    } else {
      if (meta.preprocessing.kind !== 'event-frames') {
        throw new UsageError(`bundle ${bundleDir} was trained on '${meta.preprocessing.kind}' input, not event frames; it cannot be evaluated on an event dataset`);
      }
      const cacheDir = flags['no-cache'] ? null : typeof flags['cache-dir'] === 'string' ? flags['cache-dir'] : undefined;
      const prepBar = progress('preprocessing');
      splits = await openEventDir(datasetDir, { preprocessing: meta.preprocessing, cacheDir, onProgress: (d, n) => prepBar(d, n) });
    }
    const names = splits.train.classNames;
    if (names.length !== meta.classNames.length || names.some((n, i) => n !== meta.classNames[i])) {
      throw new Error(`dataset classes (${names.join(', ')}) differ from the bundle's (${meta.classNames.join(', ')})`);
    }
    const chosen: EvalSplit = split === 'default' ? (splits.test ? 'test' : 'all') : split;
    let ds: Dataset;
    if (chosen === 'test') {
      if (!splits.test) throw new UsageError(`${datasetDir} has no test split (${splits.layout}); use --split all`);
      ds = splits.test;
    } else if (chosen === 'all') {
      ds = splits.test ? concatDatasets([splits.train, splits.test], `${splits.train.name}+test`) : splits.train;
    } else {
      const { valFraction, seed } = trainingSplitParams(meta);
      const s = hasGroups(splits.train) ? splitByGroup(splits.train, valFraction, seed) : splitTrainVal(splits.train, valFraction, seed);
      if (chosen === 'val' && !s.val) throw new UsageError(`the bundle was trained without a validation split (valFraction ${valFraction})`);
      ds = chosen === 'val' ? s.val! : s.train;
    }
    if (ds.size === 0) {
      const what = meta.preprocessing.kind === 'event-frames' ? `complete ${meta.preprocessing.windowUs / 1000} ms window` : 'sample';
      throw new Error(`split '${chosen}' of ${datasetDir} has no ${what}`);
    }
    const evalBar = progress('evaluating');
    const r = evaluateClassifier(model, ds, batch, evalBar);
    const report: EvalReport = { bundle: bundleDir, dataset: datasetDir, split: chosen, ...r, seconds: (performance.now() - t0) / 1000 };
    process.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
    return 0;
  },
};

/**
 * A built-in dataset (`smnist`, …) opened with the options the bundle was trained with (its provenance), so that
 * 'test' is the bundle's held-out test set; the dataset's preprocessing must equal the bundle's.
 */
async function openBuiltin(kind: string, meta: BundleMeta): Promise<{ train: Dataset; test?: Dataset }> {
  const trained = (meta.provenance.config as { dataset?: { kind?: unknown; options?: Record<string, unknown> } }).dataset;
  const options = trained?.kind === kind ? (trained.options ?? {}) : {};
  const splits = await openDataset({ kind, options });
  if (!isDeepStrictEqual(splits.preprocessing, meta.preprocessing)) {
    throw new Error(`the bundle's input (${JSON.stringify(meta.preprocessing)}) is not what dataset '${kind}' gives (${JSON.stringify(splits.preprocessing)})`);
  }
  return { train: splits.train, test: splits.test };
}

/** Datasets one after another (same classes and input size). */
function concatDatasets(parts: Dataset[], name: string): Dataset {
  const offs: number[] = [];
  let n = 0;
  for (const p of parts) {
    offs.push(n);
    n += p.size;
  }
  const at = (i: number): [Dataset, number] => {
    let k = parts.length - 1;
    while (k > 0 && i < offs[k]) k--;
    return [parts[k], i - offs[k]];
  };
  return {
    name,
    size: n,
    inputSize: parts[0].inputSize,
    classNames: parts[0].classNames,
    length: (i) => {
      const [d, j] = at(i);
      return d.length(j);
    },
    label: (i) => {
      const [d, j] = at(i);
      return d.label(j);
    },
    sample: (i) => {
      const [d, j] = at(i);
      return d.sample(j);
    },
  };
}
