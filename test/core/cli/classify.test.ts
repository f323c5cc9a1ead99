/**
 * `egru classify` run for real as a child process:
 *  - on a tiny model trained by the real training loop on the synthetic gesture fixture (always runs): the
 *    streamed, per-window results must equal binning the whole file at once with THE preprocessing and running
 *    the model on each window, labelled and unlabelled;
 *  - on the shipped assets (default model + sample recording), when present: the sample is labelled correctly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runEgru } from '../../helpers/run-egru.ts';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runTraining } from '../../../core/train/loop.ts';
import '../../../core/train/datasets/event-dirs.ts'; // registers the dataset-folder loaders in this process
import { WindowBinner, densify, gesturePreprocessing, windowsForLabels } from '../../../core/train/datasets/preprocess.ts';
import { loadBundle } from '../../../core/model/bundle.ts';
import { openEvents } from '../../../core/events/formats/index.ts';
import { readAll } from '../../../core/events/reader.ts';
import { parseGestureLabels } from '../../../core/events/labels.ts';
import { makeGestureFixture } from '../../helpers/gesture-fixture.ts';
import type { FixtureTrial } from '../../helpers/gesture-fixture.ts';
import type { ClassifyResult } from '../../../core/cli/commands/classify.ts';

const ROOT = REPO_ROOT;

const egru = runEgru;

const PREP = gesturePreprocessing({ frame: { width: 16, height: 16 }, binUs: 10_000, windowUs: 100_000 });

let tmp = '';
let bundle = '';
let trial: FixtureTrial;

/** Reference: whole file in memory, each window binned and run on its own (no streaming). */
async function reference(file: string, starts: number[]) {
  const { model } = await loadBundle(bundle);
  const r = await openEvents(file);
  const pk = await readAll(r);
  await r.close();
  const b = new WindowBinner(PREP);
  return starts.map((s) => {
    const x = densify(b.bin(pk, s));
    const e = model.evaluate(x, b.T, 1, Int32Array.of(b.T), new Int32Array(1));
    let k = 0;
    for (let j = 1; j < e.logits.length; j++) if (e.logits[j] > e.logits[k]) k = j;
    return { predicted: k, activity: e.activity, macReduction: e.macsDense / e.macsExecuted };
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'egru-classify-'));
  const fx = await makeGestureFixture(path.join(tmp, 'data'), { classes: [0, 3, 6, 9], eventsPerMs: 4, aedat4Trials: ['user04_led'] });
  trial = fx.trials.find((t) => t.name === 'user04_led')!;
  bundle = path.join(tmp, 'model');
  await runTraining({
    dataset: { kind: 'dir', options: { path: fx.dir, preprocessing: PREP, cacheDir: null } },
    out: bundle,
    model: { hiddenSizes: [16] },
    epochs: 3,
    batchSize: 16,
    lr: 3e-3,
    valFraction: 0.34,
    seed: 5,
  });
}, 120_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('egru classify (fixture model)', () => {
  it('labels each gesture of a labelled recording from its windows, exactly as whole-file binning does', async () => {
    const r = await egru(['classify', trial.file, '--model', bundle, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as ClassifyResult & { labels: string };
    expect(out.labelled).toBe(true);
    expect(out.labels).toBe(trial.file.replace(/\.aedat4$/, '_labels.csv'));
    const labels = parseGestureLabels(await readFile(out.labels, 'utf8'));
    const planned = windowsForLabels(labels, PREP.windowUs).sort((a, b) => a.startUs - b.startUs);
    expect(out.windows.map((w) => w.startUs)).toEqual(planned.map((w) => w.startUs));
    expect(out.windows.map((w) => w.trueClass)).toEqual(planned.map((w) => w.label));
    const ref = await reference(trial.file, planned.map((w) => w.startUs));
    expect(out.windows.map((w) => w.predicted)).toEqual(ref.map((x) => x.predicted));
    out.windows.forEach((w, i) => {
      expect(w.activity).toBeCloseTo(ref[i].activity, 6);
      expect(w.macReduction).toBeCloseTo(ref[i].macReduction, 6);
      expect(w.confidence).toBeGreaterThan(0);
      expect(w.confidence).toBeLessThanOrEqual(1);
    });
    // One row per label; gesture accuracy counts the rows with windows.
    expect(out.gestures!.length).toBe(labels.length);
    const wOk = out.windows.filter((w) => w.predicted === w.trueClass).length;
    expect(out.accuracy!.windows).toBeCloseTo(wOk / out.windows.length, 12);
    const classified = out.gestures!.filter((g) => g.windows > 0);
    expect(out.accuracy!.gesturesClassified).toBe(classified.length);
    expect(out.accuracy!.gesturesCorrect).toBe(classified.filter((g) => g.predicted === g.trueClass).length);
    expect(out.macReduction).toBeGreaterThan(1);
  }, 60_000);

  it('tiles an unlabelled recording into complete windows from its first event', async () => {
    const r = await egru(['classify', trial.file, '--model', bundle, '--json', '--no-labels']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as ClassifyResult;
    expect(out.labelled).toBe(false);
    expect(out.gestures).toBeNull();
    expect(out.accuracy).toBeNull();
    const rd = await openEvents(trial.file);
    const pk = await readAll(rd);
    await rd.close();
    const t0 = pk.t[0];
    const t1 = pk.t[pk.length - 1];
    const n = Math.floor((t1 - t0) / PREP.windowUs);
    expect(out.windows.length).toBe(n);
    const starts = Array.from({ length: n }, (_, k) => t0 + k * PREP.windowUs);
    expect(out.windows.map((w) => w.startUs)).toEqual(starts);
    const ref = await reference(trial.file, starts);
    expect(out.windows.map((w) => w.predicted)).toEqual(ref.map((x) => x.predicted));
  }, 60_000);

  it('prints a readable table and rejects a missing bundle', async () => {
    const r = await egru(['classify', trial.file, '--model', bundle]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/accuracy: \d+\/\d+ gestures/);
    expect(r.stdout).toMatch(/MAC reduction ÷/);
    const bad = await egru(['classify', trial.file, '--model', path.join(tmp, 'nope')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a model bundle/);
  }, 60_000);
});

const SAMPLE = path.join(ROOT, 'assets', 'recordings', 'sample.aedat4');
const DEFAULT_MODEL = path.join(ROOT, 'assets', 'models', 'default', 'model.json');
const haveAssets = existsSync(SAMPLE) && existsSync(DEFAULT_MODEL);

describe.skipIf(!haveAssets)('egru classify (shipped default model on the sample recording)', () => {
  it('labels every gesture of the bundled sample correctly', async () => {
    const r = await egru(['classify', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as ClassifyResult;
    expect(out.labelled).toBe(true);
    expect(out.gestures!.length).toBeGreaterThanOrEqual(3);
    for (const g of out.gestures!) expect({ row: g.row, predicted: g.predictedName }).toEqual({ row: g.row, predicted: g.trueName });
    expect(out.accuracy!.gestures).toBe(1);
    expect(out.accuracy!.windows).toBeGreaterThanOrEqual(0.9);
    expect(out.activity).toBeLessThanOrEqual(0.2);
    expect(out.macReduction).toBeGreaterThan(1);
  }, 60_000);

  // README opens with this command and shows its output: a kernel change that moves any figure (the MAC reduction
  // moved once, when the forward began listing the 28 %-dense frames, and README kept the old one) must update it.
  it("prints exactly the output README shows for README's first command", async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const m = /\$ npx egru classify\n([\s\S]*?)```/.exec(readme);
    expect(m, 'README has a ```text block starting with "$ npx egru classify"').not.toBeNull();
    const r = await egru(['classify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(m![1]);
  }, 60_000);
});
if (!haveAssets) console.warn('classify.test: assets/models/default or assets/recordings/sample.aedat4 missing — shipped-asset test skipped');
