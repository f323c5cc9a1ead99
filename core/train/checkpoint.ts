/**
 * Resume checkpoints: a folder holding the latest epoch's model as a bundle (model.json + weights.safetensors),
 * the Adam moments (optimizer.safetensors, keys `m.<param>` / `v.<param>`, plus the step count) and the loop's
 * state (train-state.json). Written atomically, so a cancel or crash leaves the last complete checkpoint.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GestureModel } from '../model/gesture-model.ts';
import type { BundleMetaInput } from '../model/bundle.ts';
import { BundleError, bundleTensors, loadBundle, MODEL_FILE, WEIGHTS_FILE } from '../model/bundle.ts';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, gitCommit } from '../model/bundle.ts';
import { fsyncFile, replaceDir } from '../model/atomic-dir.ts';
import { readSafetensorsFile, tensorToFloat32, writeSafetensorsFile } from '../io/safetensors.ts';
import type { WritableTensor } from '../io/safetensors.ts';
import type { AdamState } from './adam.ts';
import type { GestureModelConfig } from '../model/config.ts';
import type { ModelParts } from '../model/gesture-model.ts';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'train-state.json';

/** One epoch's summary (also the 'epoch' progress event and the bundle's history). */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  activity: number;
  macReduction: number;
  samplesPerSec: number;
  seconds: number;
  lr: number;
}

export interface LoopState {
  epochsCompleted: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestValAccuracy: number | null;
  bestLoss: number;
  epochsSinceBest: number;
}

export async function saveCheckpoint(dir: string, model: GestureModel, meta: BundleMetaInput, opt: AdamState, state: LoopState): Promise<void> {
  await replaceDir(dir, async (tmp) => {
    const w = path.join(tmp, WEIGHTS_FILE);
    await writeSafetensorsFile(w, bundleTensors(model));
    const full = {
      format: BUNDLE_FORMAT,
      formatVersion: BUNDLE_FORMAT_VERSION,
      architecture: { kind: 'gesture-egru', config: model.config, parameters: model.parameterCount() },
      preprocessing: meta.preprocessing,
      classNames: meta.classNames,
      provenance: { gitCommit: gitCommit(), date: new Date().toISOString(), ...meta.provenance },
      metrics: meta.metrics,
    };
    await writeFile(path.join(tmp, MODEL_FILE), JSON.stringify(full, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
    const t: Record<string, WritableTensor> = { step: { shape: [1], data: Float64Array.of(opt.step) } };
    for (const [k, a] of opt.m) t[`m.${k}`] = { shape: [a.length], data: a };
    for (const [k, a] of opt.v) t[`v.${k}`] = { shape: [a.length], data: a };
    await writeSafetensorsFile(path.join(tmp, OPTIMIZER_FILE), t);
    await writeFile(path.join(tmp, STATE_FILE), JSON.stringify({ ...state, bestLoss: Number.isFinite(state.bestLoss) ? state.bestLoss : null }, null, 2));
    for (const f of [WEIGHTS_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE]) await fsyncFile(path.join(tmp, f));
  });
}

export interface LoadedCheckpoint {
  model: { config: GestureModelConfig; parts: ModelParts<Float32Array> };
  optimiser: AdamState;
  state: LoopState;
}

export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const { model, meta } = await loadBundle(dir, { name: 'none', forward: () => { throw new Error('no kernel'); }, backward: () => { throw new Error('no kernel'); } });
  const opt = await readSafetensorsFile(path.join(dir, OPTIMIZER_FILE));
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  let step = 0;
  for (const [k, t] of opt.tensors) {
    if (k === 'step') step = Number(t.data[0]);
    else if (k.startsWith('m.')) m.set(k.slice(2), tensorToFloat32(t, k).slice());
    else if (k.startsWith('v.')) v.set(k.slice(2), tensorToFloat32(t, k).slice());
  }
  let raw: LoopState & { bestLoss: number | null };
  try {
    raw = JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8')) as LoopState & { bestLoss: number | null };
  } catch (e) {
    throw new BundleError(dir, STATE_FILE, `cannot read (${(e as Error).message})`);
  }
  if (!Number.isInteger(raw.epochsCompleted) || raw.epochsCompleted < 0 || !Array.isArray(raw.history)) throw new BundleError(dir, STATE_FILE, 'malformed training state');
  return {
    model: { config: meta.architecture.config, parts: { layers: model.layers, fcWeight: model.fcWeight, fcBias: model.fcBias, frontWeight: model.frontWeight, frontBias: model.frontBias, frontCnn: model.cnn?.values ?? null } },
    optimiser: { step, m, v },
    state: { ...raw, bestLoss: raw.bestLoss ?? Infinity },
  };
}
