/**
 * `npm run train:default`: builds the shipped default gesture model from nothing, reproducibly.
 *
 *   1. simulates a TRAINING set (seed TRAIN_SEED: its people, rooms, lighting, sensor biases) and a HELD-OUT test
 *      set with another seed (other people, rooms, lighting), into a work folder outside the repo;
 *   2. trains with the project's training loop in a worker (native EGRU kernel when built): validation split of
 *      the training data only, early stopping, best model by validation accuracy;
 *   3. evaluates the selected model once on the held-out set (accuracy, activity, MAC reduction, windows/s);
 *   4. writes the bundle to assets/models/default/ with those numbers and the provenance (seeds, command);
 *   5. simulates one more unseen person performing a few gestures: assets/recordings/sample.aedat4 + labels.
 *
 * Every step is seeded; simulated trials already present in the work folder are reused (a trial's file only
 * appears once complete), so an interrupted run continues where it stopped.
 *
 * usage: npm run train:default -- [--work DIR] [--out DIR] [--no-sample] [--sample-only] [overrides]
 *   overrides (for experiments; the defaults ARE the shipped recipe): --train-subjects N --test-subjects N
 *   --hidden H --epochs N --batch N --lr X --patience N --reg-state L --reg-rate L:TARGET --zoneout P
 *   --thr-mean M --bin-us U --window-us U --divide-by D --clip-value C --clip G --seed S --val F --frame W --wd X --no-augment
 */
import { copyFile, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { formatGestureLabels, parseGestureLabels } from '../core/events/labels.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { planDataset } from '../core/sim/dataset.ts';
import type { SimDatasetOptions, TrialSpec } from '../core/sim/dataset.ts';
import { writeTrial } from '../core/sim/output.ts';
import type { Aedat4Compression } from '../core/events/writers/aedat4.ts';
import { gesturePreprocessing } from '../core/train/datasets/preprocess.ts';
import type { EventFramesPreprocessing } from '../core/train/datasets/preprocess.ts';
import { startTrainingWorker } from '../core/train/worker.ts';
import type { TrainConfig } from '../core/train/config.ts';
import type { AugmentRanges } from '../core/train/augment.ts';
import type { TrainEvent } from '../core/train/loop.ts';
import { loadBundle, updateBundleMeta } from '../core/model/bundle.ts';
import { evaluateClassifier } from '../core/cli/commands/eval.ts';
import { getEgruKernel } from '../core/egru/kernels.ts';
import { classifyRecording, formatClassification } from '../core/cli/commands/classify.ts';
import { defaultModelDataset } from './default-model-data.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The shipped recipe. Seeds: train / test / sample data never share a seed, so never share a person or room. */
const RECIPE = {
  trainSeed: 7101,
  /**
   * 84 simulated people (was 56): with augmentation alone, models reached 97.8-98.5 % held-out but called the
   * sample person's arm roll "air drums" (3 of 3 seeds/ranges); 28 more people fixed that (arm roll at 0.71-0.80).
   */
  trainSubjects: 84,
  testSeed: 7202,
  testSubjects: 4,
  sampleSeed: 7303,
  /** The sample recording: one unseen person, a few gestures (small file). */
  sampleClasses: [0, 2, 5, 7],
  sampleGestureS: 3,
  sampleLighting: 'led' as const,
  hidden: 256,
  epochs: 30,
  batch: 16,
  lr: 3e-3,
  patience: 8,
  regState: 0,
  regRate: 10,
  regRateTarget: 0.05,
  zoneout: 0,
  thrMean: 0.3,
  clip: 1,
  val: 0.15,
  seed: 1,
  binUs: 25_000,
  windowUs: 1_700_000,
  divideBy: 19,
  frame: 16,
  /** Extra training windows offset by these fractions of a window (augmentation; test windows are not shifted). */
  shifts: [] as number[],
  /**
   * Seeded augmentation of training windows, re-binned from events every epoch (core/train/augment.ts): zoom, small
   * rotation, shift, time stretch, event drop — never a mirror. ON in the shipped recipe (`--no-augment` turns it
   * off). Measured (held-out 4 people / unseen seed-9001 set of 2 people): 56 people without it 93.4 % / 75.8 %;
   * with it 97.8 % / 88.7 %; 84 people with it 97.1 % / 93.5 %, and the bundled sample labelled 4/4.
   * Training takes ~20-25 min on 2 busy cores instead of ~2.5 without it.
   */
  augment: { scale: [0.9, 1.1], rotationDeg: 15, translate: 0.08, stretch: [0.85, 1.15], maxDrop: 0.15 } as Partial<AugmentRanges> | false,
  weightDecay: 0,
  clipValue: null as number | null,
};

type Flags = Record<string, string | true>;

/** `--augment` is accepted (and changes nothing) because it is the recipe's default since augmentation shipped. */
const KNOWN_FLAGS = new Set(
  'work out no-sample sample-only train-subjects test-subjects hidden epochs batch lr patience reg-state reg-rate zoneout thr-mean bin-us window-us divide-by clip-value clip seed val frame wd shifts augment no-augment'.split(' '),
);

function parseFlags(argv: string[]): Flags {
  const f: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const k = a.slice(2);
    const eq = k.indexOf('=');
    if (eq >= 0) f[k.slice(0, eq)] = k.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) f[k] = argv[++i];
    else f[k] = true;
  }
  return f;
}

function log(msg: string): void {
  process.stderr.write(`[train:default ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Simulates the trials of `opts` into `dir`, skipping trials whose files are already complete. */
async function simulate(dir: string, opts: SimDatasetOptions, label: string, compression: Aedat4Compression = 'lz4'): Promise<TrialSpec[]> {
  await mkdir(dir, { recursive: true });
  const specs = planDataset(opts);
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    if (existsSync(path.join(dir, `${s.name}.aedat4`)) && existsSync(path.join(dir, `${s.name}_labels.csv`))) {
      log(`${label} ${i + 1}/${specs.length} ${s.name}: present, reused`);
      continue;
    }
    const t0 = performance.now();
    const r = await writeTrial(s, opts, dir, { compression, progressEveryS: 15, onProgress: (p) => {
      if (!p.done) log(`${label} ${i + 1}/${specs.length} ${s.name}: ${(p.simUs / 1e6).toFixed(0)}/${(p.durationUs / 1e6).toFixed(0)} s simulated`);
    } }, i, specs.length);
    log(`${label} ${i + 1}/${specs.length} ${s.name}: ${(r.durationUs / 1e6).toFixed(1)} s, ${r.events} events in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  return specs;
}

/**
 * A folder holding (symbolic links to) exactly the trials of `specs`: the simulation folder may hold more (a
 * larger run earlier), and the dataset must be the planned subjects only.
 */
async function trialSet(simDir: string, specs: readonly TrialSpec[], setDir: string, shiftUs: readonly number[] = []): Promise<string> {
  await rm(setDir, { recursive: true, force: true });
  await mkdir(setDir, { recursive: true });
  for (const s of specs) {
    await symlink(path.join(simDir, `${s.name}.aedat4`), path.join(setDir, `${s.name}.aedat4`));
    const labelsFile = path.join(simDir, `${s.name}_labels.csv`);
    if (shiftUs.length === 0) {
      await symlink(labelsFile, path.join(setDir, `${s.name}_labels.csv`));
      continue;
    }
    // Training-time augmentation: each gesture also cut into windows starting `shift` later (label rows are
    // independent, so a repeated row with a later start gives windows offset by a fraction of a window).
    const rows = parseGestureLabels(await readFile(labelsFile, 'utf8'), labelsFile);
    const extra = shiftUs.flatMap((d) => rows.filter((r) => r.startUs + d < r.endUs).map((r) => ({ ...r, startUs: r.startUs + d })));
    await writeFile(path.join(setDir, `${s.name}_labels.csv`), formatGestureLabels([...rows, ...extra]));
  }
  return setDir;
}

async function main(): Promise<number> {
  const wall0 = performance.now();
  const f = parseFlags(process.argv.slice(2));
  const unknown = Object.keys(f).filter((k) => !KNOWN_FLAGS.has(k));
  if (unknown.length > 0) throw new Error(`unknown flag --${unknown[0]} (see the usage at the top of scripts/train-default.ts)`);
  const num = (k: string, d: number) => (f[k] === undefined ? d : Number(f[k]));
  const R = { ...RECIPE };
  R.trainSubjects = num('train-subjects', R.trainSubjects);
  R.testSubjects = num('test-subjects', R.testSubjects);
  R.hidden = num('hidden', R.hidden);
  R.epochs = num('epochs', R.epochs);
  R.batch = num('batch', R.batch);
  R.lr = num('lr', R.lr);
  R.patience = num('patience', R.patience);
  R.regState = num('reg-state', R.regState);
  if (typeof f['reg-rate'] === 'string') {
    const [l, t] = f['reg-rate'].split(':');
    R.regRate = Number(l);
    if (t !== undefined) R.regRateTarget = Number(t);
  }
  R.zoneout = num('zoneout', R.zoneout);
  R.thrMean = num('thr-mean', R.thrMean);
  R.clip = num('clip', R.clip);
  R.val = num('val', R.val);
  R.seed = num('seed', R.seed);
  R.binUs = num('bin-us', R.binUs);
  R.windowUs = num('window-us', R.windowUs);
  R.divideBy = num('divide-by', R.divideBy);
  R.frame = num('frame', R.frame);
  if (typeof f.shifts === 'string') R.shifts = f.shifts.split(',').filter((x) => x !== '').map(Number);
  R.weightDecay = num('wd', R.weightDecay);
  if (f['no-augment']) R.augment = false;
  if (f['clip-value'] !== undefined) R.clipValue = Number(f['clip-value']);
  const work = path.resolve(typeof f.work === 'string' ? f.work : path.join(ROOT, '.cache', 'default-model'));
  const out = path.resolve(typeof f.out === 'string' ? f.out : path.join(ROOT, 'assets', 'models', 'default'));
  const recordingsDir = path.join(ROOT, 'assets', 'recordings');
  const command = `npm run train:default${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  log(`work folder ${work}; bundle → ${out}`);

  const trainOpts: SimDatasetOptions = { seed: R.trainSeed, subjects: R.trainSubjects };
  const testOpts: SimDatasetOptions = { seed: R.testSeed, subjects: R.testSubjects };
  const sampleOpts: SimDatasetOptions = { seed: R.sampleSeed, subjects: 1, classes: R.sampleClasses, durationPerGestureS: R.sampleGestureS, lighting: [R.sampleLighting] };
  const trainSimDir = path.join(work, `train-seed${R.trainSeed}`);
  const testSimDir = path.join(work, `test-seed${R.testSeed}`);
  const sampleDir = path.join(work, `sample-seed${R.sampleSeed}`);

  if (f['sample-only']) {
    await writeSample(sampleDir, sampleOpts, recordingsDir, out);
    return 0;
  }

  // 1. Data.
  const sim0 = performance.now();
  const trainDir = await trialSet(trainSimDir, await simulate(trainSimDir, trainOpts, 'sim train'), path.join(work, 'sets', `train-seed${R.trainSeed}-n${R.trainSubjects}`), R.shifts.map((x) => Math.round(x * R.windowUs)));
  const testDir = await trialSet(testSimDir, await simulate(testSimDir, testOpts, 'sim test'), path.join(work, 'sets', `test-seed${R.testSeed}-n${R.testSubjects}`));
  const simSec = (performance.now() - sim0) / 1000;

  // 2. Preprocess once here (progress, cache); the worker then reads the cached windows.
  const prep: EventFramesPreprocessing = gesturePreprocessing({
    frame: { width: R.frame, height: R.frame }, binUs: R.binUs, windowUs: R.windowUs, normalisation: { divideBy: R.divideBy, clip: R.clipValue },
  });
  const cacheDir = path.join(work, 'frames');
  const pre0 = performance.now();
  const data = await defaultModelDataset({ trainDir, testDir, preprocessing: prep, cacheDir, onProgress: (d, n, id) => log(`preprocess ${d}/${n} ${id}`) });
  log(`data: ${data.description}`);
  const preSec = (performance.now() - pre0) / 1000;

  // 3. Train in the worker.
  const runDir = path.join(work, 'run');
  await rm(runDir, { recursive: true, force: true });
  await rm(`${runDir}.checkpoint`, { recursive: true, force: true });
  const config: Partial<TrainConfig> & Pick<TrainConfig, 'dataset' | 'out'> = {
    dataset: {
      module: pathToFileURL(path.join(ROOT, 'scripts', 'default-model-data.ts')).href,
      export: 'defaultModelDataset',
      options: { trainDir, testDir, preprocessing: prep, cacheDir },
    },
    out: runDir,
    model: { hiddenSizes: [R.hidden], readout: 'trace', pooling: 'mean', thrMean: R.thrMean, zoneout: R.zoneout },
    epochs: R.epochs,
    batchSize: R.batch,
    lr: R.lr,
    schedule: { kind: 'cosine', minLr: R.lr / 20, warmupSteps: 0 },
    clipNorm: R.clip,
    weightDecay: R.weightDecay,
    regularisation: { rateLambda: R.regRate, rateTarget: R.regRateTarget, stateLambda: R.regState },
    valFraction: R.val,
    patience: R.patience,
    seed: R.seed,
    kernel: 'auto',
    progressEvery: 10,
    augment: R.augment,
  };
  const train0 = performance.now();
  const job = startTrainingWorker(config);
  const onSig = () => {
    log('stopping after the current batch…');
    job.cancel();
  };
  process.once('SIGINT', onSig);
  job.onEvent((e: TrainEvent) => {
    if (e.type === 'start') log(`training: ${e.kernel} kernel, ${e.parameters} parameters, ${e.trainSize} train / ${e.valSize} val / ${e.testSize} test windows, ${e.stepsPerEpoch} steps per epoch`);
    else if (e.type === 'progress') log(`epoch ${e.epoch} step ${e.step}/${e.stepsPerEpoch}: loss ${e.loss.toFixed(3)} acc ${(100 * e.accuracy).toFixed(1)}% activity ${(100 * e.activity).toFixed(1)}% ${e.samplesPerSec.toFixed(1)} windows/s`);
    else if (e.type === 'epoch') {
      log(`epoch ${e.epoch}: train ${(100 * e.trainAccuracy).toFixed(1)}% val ${e.valAccuracy === null ? '–' : (100 * e.valAccuracy).toFixed(1) + '%'} (loss ${e.valLoss?.toFixed(3)}) activity ${(100 * e.activity).toFixed(1)}% MAC ÷${e.macReduction.toFixed(1)} ${e.seconds.toFixed(0)} s${e.best ? '  *best' : ''}`);
    }
  });
  const result = await job.result;
  process.off('SIGINT', onSig);
  const trainSec = (performance.now() - train0) / 1000;
  if (result.status === 'cancelled') {
    log('cancelled: no bundle written');
    return 130;
  }
  log(`training ${result.status} after ${result.epochsCompleted} epochs (best epoch ${result.bestEpoch}, val ${(100 * (result.bestValAccuracy ?? NaN)).toFixed(1)}%) in ${trainSec.toFixed(0)} s`);

  // 4. Held-out evaluation of the selected bundle, exactly as `egru eval` does it.
  const { model } = await loadBundle(runDir, getEgruKernel());
  const ev0 = performance.now();
  const rep = evaluateClassifier(model, data.test!, 64);
  const evalSec = (performance.now() - ev0) / 1000;
  const windowsPerSec = rep.windows / evalSec;
  log(`held-out test (${rep.windows} windows, ${R.testSubjects} unseen people): accuracy ${(100 * rep.accuracy).toFixed(2)}%, activity ${(100 * rep.activity).toFixed(2)}%, MAC reduction ÷${rep.mac_reduction.toFixed(2)}, ${windowsPerSec.toFixed(1)} windows/s inference`);

  await updateBundleMeta(runDir, (m) => {
    m.metrics.testAccuracy = rep.accuracy;
    m.metrics.testLoss = rep.loss;
    m.metrics.activity = rep.activity;
    m.metrics.macReduction = rep.mac_reduction;
    m.metrics.evaluatedOn = `held-out simulated test set: ${R.testSubjects} people (seed ${R.testSeed}) never seen in training, ${rep.windows} windows of ${R.windowUs / 1000} ms`;
    const p = m.provenance as unknown as Record<string, unknown>;
    p.command = command;
    p.recipe = {
      script: 'scripts/train-default.ts',
      ...R,
      simulation: { train: trainOpts, test: testOpts, sample: sampleOpts },
      heldOut: { accuracy: rep.accuracy, activity: rep.activity, macReduction: rep.mac_reduction, perClass: rep.per_class, confusion: rep.confusion, windows: rep.windows, inferenceWindowsPerSec: windowsPerSec },
      trainingSamplesPerSec: result.samplesPerSec,
      seconds: { simulate: simSec, preprocess: preSec, train: trainSec, evaluate: evalSec },
    };
    m.provenance.dataset = data.description;
    return m;
  });

  // 5. Publish the bundle.
  await mkdir(out, { recursive: true });
  for (const file of ['model.json', 'weights.safetensors']) await copyFile(path.join(runDir, file), path.join(out, file));
  const size = (await stat(path.join(out, 'weights.safetensors'))).size + (await stat(path.join(out, 'model.json'))).size;
  log(`bundle written to ${out} (${(size / 1e6).toFixed(2)} MB)`);

  if (!f['no-sample']) await writeSample(sampleDir, sampleOpts, recordingsDir, out);
  const total = (performance.now() - wall0) / 1000;
  await updateBundleMeta(out, (m) => {
    ((m.provenance as unknown as Record<string, unknown>).recipe as Record<string, unknown>).wallSeconds = Math.round(total);
    return m;
  });
  log(`done in ${(total / 60).toFixed(1)} min`);
  process.stdout.write(JSON.stringify({ bundle: out, accuracy: rep.accuracy, activity: rep.activity, macReduction: rep.mac_reduction, windows: rep.windows, trainingSamplesPerSec: result.samplesPerSec, inferenceWindowsPerSec: windowsPerSec, bytes: size, wallSeconds: total }, null, 2) + '\n');
  return 0;
}

/** One unseen person, a few gestures → assets/recordings/sample.aedat4 + sample_labels.csv; then classifies it. */
async function writeSample(sampleDir: string, opts: SimDatasetOptions, recordingsDir: string, bundle: string): Promise<void> {
  const [spec] = await simulate(sampleDir, opts, 'sim sample', 'zstd-high');
  await mkdir(recordingsDir, { recursive: true });
  await copyFile(path.join(sampleDir, `${spec.name}.aedat4`), path.join(recordingsDir, 'sample.aedat4'));
  await copyFile(path.join(sampleDir, `${spec.name}_labels.csv`), path.join(recordingsDir, 'sample_labels.csv'));
  const bytes = (await stat(path.join(recordingsDir, 'sample.aedat4'))).size;
  log(`sample recording: ${spec.name} (seed ${opts.seed}) → ${recordingsDir}/sample.aedat4 (${(bytes / 1e6).toFixed(2)} MB)`);
  if (existsSync(path.join(bundle, 'model.json'))) {
    const { meta, model } = await loadBundle(bundle, getEgruKernel());
    const labels = await readFile(path.join(recordingsDir, 'sample_labels.csv'), 'utf8');
    const r = await classifyRecording(model, meta, path.join(recordingsDir, 'sample.aedat4'), labels);
    process.stderr.write(formatClassification(r));
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`train:default: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
