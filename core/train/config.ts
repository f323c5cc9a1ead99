/**
 * Training-run configuration: a plain JSON object (a `--config FILE`, CLI flags, or the app's job form), copied
 * into the bundle's provenance. `resolveTrainConfig` fills defaults and rejects bad values with the field name.
 */
import type { FrontCnnConfig, GestureModelConfig } from '../model/config.ts';
import type { ActivityRegularisation } from '../model/gesture-model.ts';
import type { DatasetSpec } from './datasets/registry.ts';
import type { LrSchedule } from './schedule.ts';
import type { KernelPreference } from '../egru/kernels.ts';
import { checkSchedule } from './schedule.ts';
import type { AugmentRanges } from './augment.ts';
import { DEFAULT_AUGMENT } from './augment.ts';

export interface TrainConfig {
  dataset: DatasetSpec;
  /** Bundle folder written with the best model (by validation accuracy). */
  out: string;
  /** Resume state (latest epoch, optimiser moments); default `${out}.checkpoint`. */
  checkpointDir?: string;
  /** Continue from checkpointDir when it exists. */
  resume: boolean;
  /** Architecture; inputSize and numClasses come from the dataset (and a CNN front's input shape from its frames). */
  model: Partial<Omit<GestureModelConfig, 'inputSize' | 'numClasses' | 'frontCnn'>> & {
    frontCnn?: (Omit<FrontCnnConfig, 'input'> & { input?: FrontCnnConfig['input'] }) | null;
  };
  epochs: number;
  batchSize: number;
  lr: number;
  schedule: LrSchedule;
  /** Global gradient-norm clip (0 = off). */
  clipNorm: number;
  /**
   * Per-sample gradient-norm clip (0 = off): each sequence's gradient is clipped to this norm before the batch mean
   * (core/train/sample-clip.ts), so one sequence whose BPTT explodes cannot set a whole step. Applied before `clipNorm`.
   */
  sampleClipNorm: number;
  /** AdamW decoupled weight decay on weights (0 = plain Adam). */
  weightDecay: number;
  /**
   * Adam's second-moment decay β2 (default 0.999). A smaller value (0.99) lets √v catch up within ~100 steps, so a
   * sudden large gradient moves a parameter by ≈ lr instead of up to ≈ 3·lr (long-BPTT loss spikes).
   */
  adamBeta2: number;
  /** Learning-rate multiplier for the thresholds θ (default 1; 0 < scale; `trainThresholds: false` freezes them). */
  thresholdLrScale: number;
  /** Train thresholds (false freezes θ, as the LM recipes do). */
  trainThresholds: boolean;
  regularisation: ActivityRegularisation;
  /** Fraction of TRAINING data held out for validation / early stopping (0 = none: select on training loss). */
  valFraction: number;
  /** Stop after this many epochs without a better validation accuracy (0 = never). */
  patience: number;
  seed: number;
  /** Kernel preference passed to getEgruKernel ('auto' = native when built, else reference). */
  kernel: 'auto' | KernelPreference;
  /** Progress event every this many optimiser steps. */
  progressEvery: number;
  /**
   * Threads per training step, the caller's included (core/train/data-parallel.ts): each batch is split into this
   * many shards of whole samples computed concurrently. 1 = in-process, bit-for-bit the classic loop. Results for a
   * given count are reproducible; different counts differ by float summation order (and zoneout masks).
   */
  workers: number;
  /**
   * Training-time augmentation of event-recording windows (core/train/augment.ts): `true` = the default ranges,
   * an object = those ranges (missing fields default). Resolved to the full ranges object (so the bundle's
   * provenance records exactly what was used) or `false`. Validation and test data are never augmented.
   */
  augment?: boolean | Partial<AugmentRanges>;
}

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'dataset' | 'out'> = {
  resume: false,
  model: {},
  epochs: 10,
  batchSize: 32,
  lr: 1e-3,
  schedule: { kind: 'constant' },
  clipNorm: 1,
  sampleClipNorm: 0,
  weightDecay: 0,
  adamBeta2: 0.999,
  thresholdLrScale: 1,
  trainThresholds: true,
  regularisation: { rateLambda: 0, rateTarget: 0.05, stateLambda: 0 },
  valFraction: 0.1,
  patience: 0,
  seed: 1,
  kernel: 'auto',
  progressEvery: 1,
  workers: 1,
  augment: false,
};

export function resolveTrainConfig(c: Partial<TrainConfig> & Pick<TrainConfig, 'dataset' | 'out'>): TrainConfig {
  const r: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    ...c,
    model: { ...DEFAULT_TRAIN_CONFIG.model, ...(c.model ?? {}) },
    regularisation: { ...DEFAULT_TRAIN_CONFIG.regularisation, ...(c.regularisation ?? {}) },
  };
  const bad = (field: string, v: unknown, want: string) => new RangeError(`train config: ${field} must be ${want}, got ${JSON.stringify(v)}`);
  if (!r.dataset || typeof r.dataset !== 'object') throw bad('dataset', r.dataset, 'a dataset spec');
  if (typeof r.out !== 'string' || r.out === '') throw bad('out', r.out, 'a folder path');
  if (!Number.isInteger(r.epochs) || r.epochs < 1) throw bad('epochs', r.epochs, 'an integer ≥ 1');
  if (!Number.isInteger(r.batchSize) || r.batchSize < 1) throw bad('batchSize', r.batchSize, 'an integer ≥ 1');
  if (!(r.lr > 0)) throw bad('lr', r.lr, '> 0');
  if (!(r.clipNorm >= 0)) throw bad('clipNorm', r.clipNorm, '≥ 0');
  if (!(r.sampleClipNorm >= 0)) throw bad('sampleClipNorm', r.sampleClipNorm, '≥ 0');
  if (!(r.weightDecay >= 0)) throw bad('weightDecay', r.weightDecay, '≥ 0');
  if (!(r.adamBeta2 > 0 && r.adamBeta2 < 1)) throw bad('adamBeta2', r.adamBeta2, 'in (0, 1)');
  if (!(r.thresholdLrScale > 0 && Number.isFinite(r.thresholdLrScale))) throw bad('thresholdLrScale', r.thresholdLrScale, 'a finite number > 0');
  if (!(r.valFraction >= 0 && r.valFraction < 1)) throw bad('valFraction', r.valFraction, 'in [0, 1)');
  if (!Number.isInteger(r.patience) || r.patience < 0) throw bad('patience', r.patience, 'an integer ≥ 0');
  if (!Number.isInteger(r.seed)) throw bad('seed', r.seed, 'an integer');
  if (!Number.isInteger(r.workers) || r.workers < 1 || r.workers > 64) throw bad('workers', r.workers, 'an integer in 1..64');
  if (!Number.isInteger(r.progressEvery) || r.progressEvery < 1) throw bad('progressEvery', r.progressEvery, 'an integer ≥ 1');
  if (!['auto', 'native', 'native-dense', 'reference', 'reference-dense'].includes(r.kernel)) throw bad('kernel', r.kernel, "'auto', 'native', 'native-dense', 'reference' or 'reference-dense'");
  const g = r.regularisation;
  if (!(g.rateLambda >= 0) || !(g.stateLambda >= 0) || !(g.rateTarget >= 0 && g.rateTarget <= 1)) throw bad('regularisation', g, 'λ ≥ 0 and target in [0, 1]');
  checkSchedule(r.schedule);
  r.augment = resolveAugment(r.augment);
  return r;
}

/** `augment` setting → false or the full, validated ranges. */
export function resolveAugment(a: TrainConfig['augment'] | undefined): false | AugmentRanges {
  if (!a) return false;
  const r: AugmentRanges = { ...DEFAULT_AUGMENT, ...(a === true ? {} : a) };
  const bad = (field: string, v: unknown, want: string) => new RangeError(`train config: augment.${field} must be ${want}, got ${JSON.stringify(v)}`);
  const pair = (v: unknown) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x)) && v[0] <= v[1];
  if (!pair(r.scale)) throw bad('scale', r.scale, '[min, max] with 0 < min ≤ max');
  if (!pair(r.stretch)) throw bad('stretch', r.stretch, '[min, max] with 0 < min ≤ max');
  if (!(r.rotationDeg >= 0 && r.rotationDeg <= 180)) throw bad('rotationDeg', r.rotationDeg, 'in [0, 180]');
  if (!(r.translate >= 0 && r.translate < 1)) throw bad('translate', r.translate, 'in [0, 1)');
  if (!(r.maxDrop >= 0 && r.maxDrop < 1)) throw bad('maxDrop', r.maxDrop, 'in [0, 1)');
  return { scale: [r.scale[0], r.scale[1]], rotationDeg: r.rotationDeg, translate: r.translate, stretch: [r.stretch[0], r.stretch[1]], maxDrop: r.maxDrop };
}
