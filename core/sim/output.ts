/**
 * Writes a simulated dataset in the DVS128 Gesture layout, so the real dataset pipeline reads it unchanged:
 *   userNN_<lighting>.aedat4          events (AEDAT 4.0, 128×128)
 *   userNN_<lighting>_labels.csv      class,startTime_usec,endTime_usec (classes 1..11)
 *   trials_to_train.txt / trials_to_test.txt   when a test split is asked for
 *   simulation.json                   options and per-trial parameters (deterministic: no wall-clock data)
 *
 * Files appear complete or not at all: events go to a temp name and are renamed once closed; a cancelled
 * run removes its temp file. The same options and seed give byte-identical files.
 */
import { rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeGestureLabels, writeTrials } from '../events/labels.ts';
import { Aedat4Writer, type Aedat4Compression } from '../events/writers/aedat4.ts';
import type { SimDatasetOptions, TrialSpec } from './dataset.ts';
import { SENSOR_HEIGHT, SENSOR_WIDTH, TrialSimulator, planDataset, resolveOptions } from './dataset.ts';

export interface TrialResult {
  name: string;
  test: boolean;
  events: number;
  on: number;
  durationUs: number;
  frames: number;
  /** CPU seconds (user) and wall seconds spent; not written to files (they vary run to run). */
  cpuS: number;
  wallS: number;
}

export interface GenerateHooks {
  compression?: Aedat4Compression;
  signal?: AbortSignal;
  /** Called every `progressEveryS` of wall time during a trial, and once at its end (done = true). */
  onProgress?: (p: { trial: number; trials: number; name: string; simUs: number; durationUs: number; events: number; done: boolean }) => void;
  progressEveryS?: number;
}

export class SimulationCancelled extends Error {
  override readonly name = 'SimulationCancelled';
}

/** Simulates one trial into `dir`/<name>.aedat4 and its labels. Throws SimulationCancelled when aborted. */
export async function writeTrial(
  spec: TrialSpec, opts: SimDatasetOptions, dir: string, hooks: GenerateHooks = {}, index = 0, total = 1,
): Promise<TrialResult> {
  const sim = new TrialSimulator(spec, opts);
  const final = path.join(dir, `${spec.name}.aedat4`);
  const tmp = path.join(dir, `.${spec.name}.aedat4.partial`);
  const writer = await Aedat4Writer.create(tmp, {
    geometry: { width: SENSOR_WIDTH, height: SENSOR_HEIGHT },
    compression: hooks.compression ?? 'lz4',
    source: 'EGRU-Studio-simulated-DVS128',
  });
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  let events = 0, on = 0, lastReport = wall0;
  const every = (hooks.progressEveryS ?? 2) * 1000;
  try {
    let pending: Promise<void> | null = null;
    for (let k = 0; ; k++) {
      const ev = sim.step();
      if (!ev) break;
      if (ev.length > 0) {
        for (let i = 0; i < ev.length; i++) on += ev.p[i];
        events += ev.length;
        pending = writer.write(ev); // copies the events synchronously; the disk write is queued
      }
      if ((k & 255) === 255) {
        // Bound the write queue and let signals (SIGINT) through.
        if (pending) await pending;
        pending = null;
        await new Promise<void>((r) => setImmediate(r));
        if (hooks.signal?.aborted) throw new SimulationCancelled(`cancelled during ${spec.name}`);
        const now = performance.now();
        if (hooks.onProgress && now - lastReport >= every) {
          lastReport = now;
          hooks.onProgress({ trial: index, trials: total, name: spec.name, simUs: sim.timeUs, durationUs: sim.durationUs, events, done: false });
        }
      }
    }
    await writer.close();
  } catch (e) {
    await writer.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await writeGestureLabels(path.join(dir, `${spec.name}_labels.csv`), sim.labels);
  await rename(tmp, final);
  const res: TrialResult = {
    name: spec.name, test: spec.test, events, on, durationUs: sim.durationUs, frames: sim.frameCount,
    cpuS: process.cpuUsage(cpu0).user / 1e6, wallS: (performance.now() - wall0) / 1000,
  };
  hooks.onProgress?.({ trial: index, trials: total, name: spec.name, simUs: sim.durationUs, durationUs: sim.durationUs, events, done: true });
  return res;
}

/**
 * Generates the whole dataset into `dir` (which must exist). Split lists are written when
 * `testSubjects > 0`, after all trials, and list only trials that were written.
 */
export async function generateDataset(dir: string, opts: SimDatasetOptions, hooks: GenerateHooks = {}): Promise<TrialResult[]> {
  const o = resolveOptions(opts);
  const specs = planDataset(opts);
  const results: TrialResult[] = [];
  for (let i = 0; i < specs.length; i++) {
    if (hooks.signal?.aborted) throw new SimulationCancelled('cancelled');
    results.push(await writeTrial(specs[i], opts, dir, hooks, i, specs.length));
  }
  if (o.testSubjects > 0) {
    await writeTrials(path.join(dir, 'trials_to_train.txt'), results.filter((r) => !r.test).map((r) => `${r.name}.aedat4`));
    await writeTrials(path.join(dir, 'trials_to_test.txt'), results.filter((r) => r.test).map((r) => `${r.name}.aedat4`));
  }
  const manifest = {
    generator: 'egru sim',
    sensor: { width: SENSOR_WIDTH, height: SENSOR_HEIGHT },
    options: { ...o, compression: hooks.compression ?? 'lz4' },
    trials: specs.map((s, i) => ({
      name: s.name, subject: s.subject + 1, split: s.test ? 'test' : 'train', lighting: s.lighting,
      events: results[i].events, onFraction: round(results[i].on / Math.max(1, results[i].events), 4),
      durationUs: results[i].durationUs, frames: results[i].frames,
      body: roundAll(s.body as unknown as Record<string, unknown>),
    })),
  };
  const tmp = path.join(dir, '.simulation.json.partial');
  await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
  await rename(tmp, path.join(dir, 'simulation.json'));
  return results;
}

function round(v: number, d: number): number {
  const k = 10 ** d;
  return Math.round(v * k) / k;
}

function roundAll(o: Record<string, unknown>): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) r[k] = typeof v === 'number' ? round(v, 4) : v;
  return r;
}
