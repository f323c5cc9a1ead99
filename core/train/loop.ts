/**
 * The training loop: seeded, resumable, cancellable. Runs in-process (`runTraining`) or in a worker thread
 * (./worker.ts wraps this same function). Each epoch: shuffled mini-batches → forward/backward (one kernel call
 * per layer per batch) → global-norm clip → Adam with the LR schedule → θ clamp; then validation on a split of
 * the TRAINING data, the best model saved as a bundle, and a resume checkpoint written. The held-out test set is
 * evaluated once, on the best model, at the end — it never selects anything.
 *
 * Determinism: initialisation uses Rng(seed); epoch e's shuffle and zoneout masks use Rng(mix(seed, e)), so a run
 * resumed from a checkpoint after epoch e continues exactly as the uninterrupted run would.
 */
import { existsSync } from 'node:fs';
import type { TrainConfig } from './config.ts';
import { resolveAugment, resolveTrainConfig } from './config.ts';
import type { Dataset } from './dataset.ts';
import { assembleBatch, splitTrainVal, subset } from './dataset.ts';
import type { Batch } from './dataset.ts';
import { openDataset } from './datasets/registry.ts';
import { EventWindowDataset, hasGroups, splitByGroup } from './datasets/event-windows.ts';
import { Adam, clipGradNorm } from './adam.ts';
import { learningRate } from './schedule.ts';
import { GestureModel } from '../model/gesture-model.ts';
import { resolveModelConfig } from '../model/config.ts';
import { initGestureModel } from '../model/init.ts';
import type { FrontCnnConfig } from '../model/front-cnn.ts';
import type { Preprocessing } from '../model/config.ts';
import { channelsOf } from './datasets/preprocess.ts';
import { loadBundle, saveBundle, updateBundleMeta } from '../model/bundle.ts';
import type { BundleMeta, TrainingMetrics } from '../model/bundle.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import type { EpochRecord } from './checkpoint.ts';
import { getEgruKernel } from '../egru/kernels.ts';
import { Rng } from '../util/rng.ts';
import type { StepStats } from '../model/gesture-model.ts';
import { DataParallel, shareModelParameters } from './data-parallel.ts';
import { SampleClipper } from './sample-clip.ts';

export interface ProgressEvent {
  type: 'progress';
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  stepsPerEpoch: number;
  /** Running means over this epoch so far. */
  loss: number;
  accuracy: number;
  activity: number;
  lr: number;
  samplesPerSec: number;
  etaSec: number;
  /** Wall-clock time (Date.now(), ms) at which the step finished: comparable across threads (a worker's events
   * reach the UI thread later than they happen, and how much later depends on load). */
  at: number;
}

export type TrainEvent =
  | { type: 'start'; kernel: string; parameters: number; trainSize: number; valSize: number; testSize: number; stepsPerEpoch: number; startEpoch: number; dataset: string }
  | ProgressEvent
  | ({ type: 'epoch' } & EpochRecord & { best: boolean })
  | { type: 'checkpoint'; epoch: number; dir: string }
  | { type: 'done'; result: TrainResult };

export interface TrainResult {
  status: 'completed' | 'early-stopped' | 'cancelled';
  /** Epochs completed in total (including those before a resume). */
  epochsCompleted: number;
  bestEpoch: number;
  bestValAccuracy: number | null;
  test: { accuracy: number; loss: number; activity: number; macReduction: number; samples: number } | null;
  /** Mean EGRU activity of the reported model: on the test split when there is one, else the best epoch's record. */
  activity: number | null;
  /** Training throughput (samples per second of optimisation, evaluation excluded) over this process's epochs. */
  samplesPerSec: number;
  macReduction: number;
  bundleDir: string;
  checkpointDir: string;
  wallSec: number;
  kernel: string;
}

export interface TrainHooks {
  onEvent?: (e: TrainEvent) => void;
  /** Cancels within one batch; the last complete checkpoint stays. */
  signal?: AbortSignal;
  /** Polled before every batch (the worker's shared cancel flag). */
  shouldStop?: () => boolean;
}

/** Seed for epoch e's shuffle and masks (splitmix-style mix so nearby seeds/epochs differ). */
export function epochSeed(seed: number, epoch: number): number {
  let z = (seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  return (z ^ (z >>> 13)) >>> 0;
}

interface EvalStats {
  loss: number;
  accuracy: number;
  activity: number;
  macsExecuted: number;
  macsDense: number;
  samples: number;
}

/** Loss, accuracy, activity and MACs of `model` over a dataset (no gradients). */
export function evaluateDataset(model: GestureModel, ds: Dataset, batchSize: number, shouldStop?: () => boolean): EvalStats {
  const sum = new EvalSum();
  for (const b of batchesOf(ds, batchSize, shouldStop)) sum.add(model.evaluate(b.x, b.T, b.N, b.lengths, b.labels), b.N);
  return sum.result(ds.size);
}

/** `evaluateDataset` with every batch split across the threads of `dp` (same results up to summation order). */
export async function evaluateDatasetParallel(dp: DataParallel, ds: Dataset, batchSize: number, shouldStop?: () => boolean): Promise<EvalStats> {
  const sum = new EvalSum();
  // dp.evaluate copies its shards out of the batch before it awaits, so the reused batch buffer is free again.
  for (const b of batchesOf(ds, batchSize, shouldStop)) sum.add(await dp.evaluate(b), b.N);
  return sum.result(ds.size);
}

/** The dataset in order, `batchSize` samples at a time, in one reused buffer; stops early when `shouldStop` says so. */
function* batchesOf(ds: Dataset, batchSize: number, shouldStop?: () => boolean): Generator<Batch> {
  let buf: Batch | undefined;
  const idx = new Uint32Array(batchSize);
  for (let s = 0; s < ds.size; s += batchSize) {
    if (shouldStop?.()) return;
    const n = Math.min(batchSize, ds.size - s);
    for (let k = 0; k < n; k++) idx[k] = s + k;
    yield (buf = assembleBatch(ds, idx.subarray(0, n), buf));
  }
}

/** Sample-weighted sums of per-batch statistics. */
class EvalSum {
  private loss = 0;
  private correct = 0;
  private act = 0;
  private ex = 0;
  private de = 0;

  add(r: StepStats, n: number): void {
    this.loss += r.loss * n;
    this.correct += r.correct;
    this.act += r.activity * n;
    this.ex += r.macsExecuted;
    this.de += r.macsDense;
  }

  result(samples: number): EvalStats {
    const N = Math.max(1, samples);
    return { loss: this.loss / N, accuracy: this.correct / N, activity: this.act / N, macsExecuted: this.ex, macsDense: this.de, samples };
  }
}

/** Trains as `config` says. Resolves with the outcome (also sent as the final 'done' event). */
export async function runTraining(config: Partial<TrainConfig> & Pick<TrainConfig, 'dataset' | 'out'>, hooks: TrainHooks = {}): Promise<TrainResult> {
  const wall0 = performance.now();
  const cfg = resolveTrainConfig(config);
  const emit = hooks.onEvent ?? (() => {});
  const stop = () => Boolean(hooks.signal?.aborted || hooks.shouldStop?.());
  const ckptDir = cfg.checkpointDir ?? `${cfg.out}.checkpoint`;

  const splits = await openDataset(cfg.dataset);
  // Recordings carry a group (the user): split by user so neighbouring windows of one gesture never sit on both sides.
  const grouped = hasGroups(splits.train) ? splitByGroup(splits.train, cfg.valFraction, cfg.seed) : null;
  const { train, val } = grouped ?? splitTrainVal(splits.train, cfg.valFraction, cfg.seed);
  // Augmentation: the training windows' raw events are loaded once; every epoch re-bins them augmented
  // (bypassing the frame cache). Validation and test windows stay as they are.
  const augment = resolveAugment(cfg.augment);
  const augmentBase = splits.train instanceof EventWindowDataset ? splits.train : null;
  if (augment) {
    if (!augmentBase || !grouped) throw new Error(`train config: augment needs an event-recording dataset (windows binned from events); ${splits.train.name} is not one`);
    await augmentBase.loadWindowEvents(grouped.trainIndices, augment);
  }
  const trainFor = (epoch: number): Dataset => (augment && augmentBase && grouped ? subset(augmentBase.augmented(cfg.seed, epoch, augment), grouped.trainIndices, augmentBase.name) : train);
  const modelConfig = resolveModelConfig({ ...cfg.model, frontCnn: cnnForData(cfg.model.frontCnn, splits.preprocessing), inputSize: splits.train.inputSize, numClasses: splits.train.classNames.length });
  const kernel = getEgruKernel(cfg.kernel === 'auto' ? undefined : cfg.kernel);

  let model: GestureModel;
  let startEpoch = 0;
  let history: EpochRecord[] = [];
  let bestEpoch = -1;
  let bestVal = -Infinity;
  let bestLoss = Infinity;
  let sinceBest = 0;
  let optimiserState = null;
  if (cfg.resume && existsSync(ckptDir)) {
    const ck = await loadCheckpoint(ckptDir);
    if (stableJson(ck.model.config) !== stableJson(modelConfig)) {
      throw new Error(`checkpoint ${ckptDir} was made for a different architecture; start a new run or use the same model settings`);
    }
    model = new GestureModel(ck.model.config, ck.model.parts, kernel, Float32Array);
    optimiserState = ck.optimiser;
    startEpoch = ck.state.epochsCompleted;
    history = ck.state.history;
    bestEpoch = ck.state.bestEpoch;
    bestVal = ck.state.bestValAccuracy ?? -Infinity;
    bestLoss = ck.state.bestLoss;
    sinceBest = ck.state.epochsSinceBest;
  } else {
    model = initGestureModel(modelConfig, cfg.seed, kernel);
  }
  // Several threads: weights move into shared memory once, each batch is split across the threads (data-parallel.ts).
  let dp: DataParallel | null = null;
  if (cfg.workers > 1) {
    model = shareModelParameters(model);
    dp = await DataParallel.start(model, cfg.workers);
  }
  try {
    const params = model.parameters();
    const clipper = cfg.sampleClipNorm > 0 ? new SampleClipper(model) : null;
    const frozen = new Set(cfg.trainThresholds ? [] : params.filter((p) => p.kind === 'threshold').map((p) => p.name));
    const adam = new Adam(params, { beta1: 0.9, beta2: cfg.adamBeta2, epsilon: 1e-8, weightDecay: cfg.weightDecay, thresholdLrScale: cfg.thresholdLrScale }, frozen);
    if (optimiserState) adam.importState(optimiserState);

    const B = cfg.batchSize;
    const stepsPerEpoch = Math.ceil(train.size / B);
    const totalSteps = stepsPerEpoch * cfg.epochs;
    const evaluate = (ds: Dataset, halt?: () => boolean) => (dp ? evaluateDatasetParallel(dp, ds, Math.max(B, 64), halt) : Promise.resolve(evaluateDataset(model, ds, Math.max(B, 64), halt)));
    emit({ type: 'start', kernel: kernel.name, parameters: model.parameterCount(), trainSize: train.size, valSize: val?.size ?? 0, testSize: splits.test?.size ?? 0, stepsPerEpoch, startEpoch, dataset: splits.description });

    // Best weights kept in memory for the final test evaluation (after a resume: the saved best bundle).
    let bestWeights: Float32Array[] | null = null;
    if (startEpoch > 0 && existsSync(cfg.out)) bestWeights = (await loadBundle(cfg.out)).model.parameters().map((p) => p.value.slice());

    let trainSec = 0;
    let trainSamples = 0;
    let status: TrainResult['status'] = 'completed';
    let lastMacReduction = NaN;
    const order = new Uint32Array(train.size);
    let buf: Batch | undefined;

    for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
      const epoch0 = performance.now();
      const rng = new Rng(epochSeed(cfg.seed, epoch));
      const epochTrain = trainFor(epoch);
      for (let i = 0; i < order.length; i++) order[i] = i;
      rng.shuffle(order);
      let sumLoss = 0;
      let sumCorrect = 0;
      let sumAct = 0;
      let seen = 0;
      let ex = 0;
      let de = 0;
      const trainSecBefore = trainSec;
      for (let s = 0; s < stepsPerEpoch; s++) {
        if (stop()) {
          status = 'cancelled';
          break;
        }
        const t0 = performance.now();
        const idx = order.subarray(s * B, Math.min(train.size, (s + 1) * B));
        const b = (buf = assembleBatch(epochTrain, idx, buf));
        const st = dp
          ? await dp.lossAndGrad(b, cfg.regularisation, rng, epochSeed(epochSeed(cfg.seed, epoch), s), cfg.sampleClipNorm)
          : clipper
            ? clipper.lossAndGrad(b, cfg.regularisation, rng, cfg.sampleClipNorm)
            : model.lossAndGrad(b.x, b.T, b.N, b.lengths, b.labels, cfg.regularisation, rng);
        if (!Number.isFinite(st.loss)) throw new Error(`training diverged at epoch ${epoch + 1}, step ${s + 1} (loss ${st.loss}); lower the learning rate or enable clipping`);
        clipGradNorm(params, cfg.clipNorm);
        const globalStep = epoch * stepsPerEpoch + s;
        const lr = learningRate(cfg.schedule, cfg.lr, globalStep, stepsPerEpoch, totalSteps);
        adam.update(lr);
        model.clampThresholds();
        const dt = (performance.now() - t0) / 1000;
        trainSec += dt;
        trainSamples += b.N;
        sumLoss += st.loss * b.N;
        sumCorrect += st.correct;
        sumAct += st.activity * b.N;
        seen += b.N;
        ex += st.macsExecuted;
        de += st.macsDense;
        if ((s + 1) % cfg.progressEvery === 0 || s + 1 === stepsPerEpoch) {
          const sps = trainSamples / Math.max(1e-9, trainSec);
          const remainingSteps = totalSteps - (globalStep + 1);
          emit({ type: 'progress', epoch: epoch + 1, step: s + 1, stepsPerEpoch, loss: sumLoss / seen, accuracy: sumCorrect / seen, activity: sumAct / seen, lr, samplesPerSec: sps, etaSec: (remainingSteps * B) / sps, at: Date.now() });
        }
        // Let the event loop deliver messages (progress to the parent, cancel requests) between batches.
        await new Promise<void>((r) => setImmediate(r));
      }
      if (status === 'cancelled') break;

      const v = val ? await evaluate(val, stop) : null;
      if (stop()) {
        status = 'cancelled';
        break;
      }
      lastMacReduction = v ? v.macsDense / Math.max(1, v.macsExecuted) : de / Math.max(1, ex);
      const trainLoss = sumLoss / Math.max(1, seen);
      const rec: EpochRecord = {
        epoch: epoch + 1,
        trainLoss,
        trainAccuracy: sumCorrect / Math.max(1, seen),
        valLoss: v ? v.loss : null,
        valAccuracy: v ? v.accuracy : null,
        activity: v ? v.activity : sumAct / Math.max(1, seen),
        macReduction: lastMacReduction,
        samplesPerSec: seen / Math.max(1e-9, trainSec - trainSecBefore),
        seconds: (performance.now() - epoch0) / 1000,
        lr: learningRate(cfg.schedule, cfg.lr, (epoch + 1) * stepsPerEpoch - 1, stepsPerEpoch, totalSteps),
      };
      history.push(rec);
      // Selection: validation accuracy (ties → lower validation loss); without a validation split, training loss.
      const better = v ? v.accuracy > bestVal || (v.accuracy === bestVal && v.loss < bestLoss) : trainLoss < bestLoss;
      if (better) {
        bestVal = v ? v.accuracy : -Infinity;
        bestLoss = v ? v.loss : trainLoss;
        bestEpoch = epoch + 1;
        sinceBest = 0;
        bestWeights = params.map((p) => p.value.slice());
        await saveBundle(cfg.out, model, makeMeta(cfg, splits.preprocessing, splits.train.classNames, splits.description, kernel.name, history, bestEpoch, rec, trainSamples / Math.max(1e-9, trainSec)));
      } else sinceBest++;
      emit({ type: 'epoch', ...rec, best: better });
      await saveCheckpoint(ckptDir, model, makeMeta(cfg, splits.preprocessing, splits.train.classNames, splits.description, kernel.name, history, epoch + 1, rec, rec.samplesPerSec), adam.exportState(), {
        epochsCompleted: epoch + 1,
        history,
        bestEpoch,
        bestValAccuracy: Number.isFinite(bestVal) ? bestVal : null,
        bestLoss,
        epochsSinceBest: sinceBest,
      });
      emit({ type: 'checkpoint', epoch: epoch + 1, dir: ckptDir });
      if (cfg.patience > 0 && sinceBest >= cfg.patience && epoch + 1 < cfg.epochs) {
        status = 'early-stopped';
        break;
      }
    }

    const epochsCompleted = history.length;
    let test: TrainResult['test'] = null;
    if (status !== 'cancelled' && splits.test && bestWeights) {
      // Evaluate the SELECTED model once on the held-out test data.
      params.forEach((p, i) => p.value.set(bestWeights![i]));
      const t = await evaluate(splits.test, undefined);
      test = { accuracy: t.accuracy, loss: t.loss, activity: t.activity, macReduction: t.macsDense / Math.max(1, t.macsExecuted), samples: t.samples };
      await updateBundleMeta(cfg.out, (m) => {
        m.metrics.testAccuracy = test!.accuracy;
        m.metrics.testLoss = test!.loss;
        m.metrics.activity = test!.activity;
        m.metrics.macReduction = test!.macReduction;
        m.metrics.evaluatedOn = `${splits.test!.name} (${t.samples} samples, held out)`;
        return m;
      });
    }
    const result: TrainResult = {
      status,
      epochsCompleted,
      bestEpoch,
      bestValAccuracy: Number.isFinite(bestVal) ? bestVal : null,
      test,
      samplesPerSec: trainSamples / Math.max(1e-9, trainSec),
      macReduction: test ? test.macReduction : lastMacReduction,
      activity: test ? test.activity : (history.find((h) => h.epoch === bestEpoch)?.activity ?? null),
      bundleDir: cfg.out,
      checkpointDir: ckptDir,
      wallSec: (performance.now() - wall0) / 1000,
      kernel: kernel.name,
    };
    emit({ type: 'done', result });
    return result;
  } finally {
    await dp?.close();
  }
}

function makeMeta(
  cfg: TrainConfig,
  preprocessing: BundleMeta['preprocessing'],
  classNames: readonly string[],
  datasetDescription: string,
  kernelName: string,
  history: EpochRecord[],
  epoch: number,
  rec: EpochRecord,
  samplesPerSec: number,
): Omit<BundleMeta, 'format' | 'formatVersion' | 'architecture'> {
  const metrics: TrainingMetrics = {
    valAccuracy: rec.valAccuracy,
    valLoss: rec.valLoss,
    trainAccuracy: rec.trainAccuracy,
    trainLoss: rec.trainLoss,
    testAccuracy: null,
    testLoss: null,
    activity: rec.activity,
    macReduction: rec.macReduction,
    samplesPerSec,
    evaluatedOn: rec.valAccuracy !== null ? 'validation split of the training data' : 'training data',
  };
  return {
    preprocessing,
    classNames: [...classNames],
    provenance: {
      seed: cfg.seed,
      config: cfg as unknown as Record<string, unknown>,
      dataset: datasetDescription,
      epoch,
      epochs: cfg.epochs,
      kernel: kernelName,
      history,
    },
    metrics,
  };
}

/** JSON with object keys sorted, so configs compare equal regardless of key order. */
function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

/**
 * A CNN front given without its input shape (e.g. `--front-cnn 8,16`) takes it from the dataset's event frames:
 * channels = polarity channels, height × width = the preprocessing's frame.
 */
function cnnForData(spec: TrainConfig['model']['frontCnn'], pre: Preprocessing): FrontCnnConfig | null {
  if (!spec) return null;
  if (spec.input) return { ...spec, input: spec.input };
  if (pre.kind !== 'event-frames') throw new Error('train config: model.frontCnn needs an "input" shape for a non-frame dataset');
  return { ...spec, input: { channels: channelsOf(pre), height: pre.frame.height, width: pre.frame.width } };
}
