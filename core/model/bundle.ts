/**
 * Model bundle on disk: one folder with
 *   model.json           format version, architecture, EXACT preprocessing, class names, provenance, metrics
 *   weights.safetensors  float32 tensors under EvNN DVS-benchmark names (spec §6):
 *                        layers.<l>.{_max_norm,kernel,recurrent_kernel,bias,recurrent_bias,thr,
 *                                    dampening_factor,pseudo_derivative_support}, fc.weight [K,H], fc.bias [K],
 *                        and front.weight [D,C], front.bias [D] when the optional dense front layer is used, or
 *                        front.conv<i>.weight [k,k,in,out] (tfjs HWIO), front.conv<i>.bias [out] for the CNN front.
 * Without a front layer the weights file IS an EvNN-loadable state_dict of the EGRU stack + readout.
 * Saving is crash-safe (temp folder + rename); loading validates everything and throws `BundleError`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsFile, tensorToFloat32, writeSafetensorsFile, SafetensorsError } from '../io/safetensors.ts';
import type { SafeTensor, WritableTensor } from '../io/safetensors.ts';
import { EgruParamsError, fromEvnnStateDict, toEvnnStateDict } from '../egru/params.ts';
import type { EgruKernel, EgruLayerParams } from '../egru/types.ts';
import type { GestureModelConfig, Preprocessing } from './config.ts';
import { resolveModelConfig } from './config.ts';
import { GestureModel } from './gesture-model.ts';
import type { ModelParts } from './gesture-model.ts';
import { fsyncFile, recoverDir, replaceDir } from './atomic-dir.ts';
import { cnnParamSpecs, cnnShape } from './front-cnn.ts';

export const BUNDLE_FORMAT = 'egru-studio-model';
/** Bumped on incompatible changes; loadBundle refuses versions it does not know. */
export const BUNDLE_FORMAT_VERSION = 1;
export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.safetensors';

export interface TrainingMetrics {
  valAccuracy: number | null;
  valLoss: number | null;
  trainAccuracy: number | null;
  trainLoss: number | null;
  /** On held-out test data, evaluated once on the selected model (null until then). */
  testAccuracy: number | null;
  testLoss: number | null;
  /** Mean fraction of EGRU units emitting an event per step. */
  activity: number;
  /** MACs of the same model built from dense GRU layers ÷ MACs executed by the sparse EGRU. */
  macReduction: number;
  /** Training throughput (samples per second of optimisation). */
  samplesPerSec: number;
  /** Which data the activity / MAC figures come from. */
  evaluatedOn: string;
}

export interface Provenance {
  seed: number;
  /** The full resolved training configuration. */
  config: Record<string, unknown>;
  dataset: string;
  /** Epoch these weights come from, of `epochs`. */
  epoch: number;
  epochs: number;
  kernel: string;
  history: unknown[];
  gitCommit?: string | null;
  date?: string;
  software?: { name: string; version: string; node: string };
}

export interface BundleMeta {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  architecture: { kind: 'gesture-egru'; config: GestureModelConfig; parameters: number };
  preprocessing: Preprocessing;
  classNames: string[];
  provenance: Provenance;
  metrics: TrainingMetrics;
}

/** What a caller supplies to saveBundle; format, version and architecture are derived from the model. */
export type BundleMetaInput = Omit<BundleMeta, 'format' | 'formatVersion' | 'architecture'>;

/** A bundle that cannot be loaded: names the bundle, the file or tensor, and why. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  constructor(
    readonly bundle: string,
    /** 'model.json', 'weights.safetensors' or a tensor key. */
    readonly what: string,
    readonly reason: string,
  ) {
    super(`model bundle ${bundle}: ${what}: ${reason}`);
  }
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** HEAD commit of the checkout this code runs from (read from .git without spawning git), or null. */
export function gitCommit(root = repoRoot): string | null {
  try {
    const gitDir = path.join(root, '.git');
    const head = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return /^[0-9a-f]{40}$/.test(head) ? head : null;
    const ref = head.slice(5);
    const refFile = path.join(gitDir, ref);
    if (existsSync(refFile)) return readFileSync(refFile, 'utf8').trim();
    const packed = readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(' ' + ref));
    return line ? line.split(' ')[0] : null;
  } catch {
    return null;
  }
}

function software(): { name: string; version: string; node: string } {
  try {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
    return { name: pkg.name, version: pkg.version, node: process.version };
  } catch {
    return { name: 'egru-studio', version: 'unknown', node: process.version };
  }
}

/** The model's tensors under bundle / EvNN names (float32). */
export function bundleTensors(model: GestureModel, encoding: 'thr' | 'thr_reparam' = 'thr'): Record<string, WritableTensor> {
  const out: Record<string, WritableTensor> = {};
  model.layers.forEach((p, l) => Object.assign(out, toEvnnStateDict(p, { prefix: `layers.${l}.`, encoding })));
  const c = model.config;
  const H = c.hiddenSizes[c.hiddenSizes.length - 1];
  out['fc.weight'] = { shape: [c.numClasses, H], data: Float32Array.from(model.fcWeight) };
  out['fc.bias'] = { shape: [c.numClasses], data: Float32Array.from(model.fcBias) };
  if (model.frontWeight && model.frontBias) {
    out['front.weight'] = { shape: [c.frontDense, c.inputSize], data: Float32Array.from(model.frontWeight) };
    out['front.bias'] = { shape: [c.frontDense], data: Float32Array.from(model.frontBias) };
  }
  if (model.cnn && c.frontCnn) cnnParamSpecs(c.frontCnn).forEach((sp, i) => (out[sp.name] = { shape: sp.shape, data: Float32Array.from(model.cnn!.values[i]) }));
  return out;
}

/** Saves `model` + `meta` as a bundle folder `dir` (replacing it atomically). */
export async function saveBundle(dir: string, model: GestureModel, meta: BundleMetaInput): Promise<BundleMeta> {
  const full: BundleMeta = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    architecture: { kind: 'gesture-egru', config: model.config, parameters: model.parameterCount() },
    preprocessing: meta.preprocessing,
    classNames: [...meta.classNames],
    provenance: { gitCommit: gitCommit(), date: new Date().toISOString(), software: software(), ...meta.provenance },
    metrics: meta.metrics,
  };
  if (full.classNames.length !== model.config.numClasses) {
    throw new BundleError(dir, MODEL_FILE, `${full.classNames.length} class names for a model with ${model.config.numClasses} classes`);
  }
  await replaceDir(dir, async (tmp) => {
    const w = path.join(tmp, WEIGHTS_FILE);
    await writeSafetensorsFile(w, bundleTensors(model), { format: BUNDLE_FORMAT, format_version: String(BUNDLE_FORMAT_VERSION) });
    await fsyncFile(w);
    const j = path.join(tmp, MODEL_FILE);
    await writeFile(j, JSON.stringify(full, jsonNumbers, 2) + '\n');
    await fsyncFile(j);
  });
  return full;
}

/** JSON has no NaN/Infinity: write them as null rather than failing or writing invalid JSON. */
function jsonNumbers(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/** Reads and validates model.json only. */
export async function readBundleMeta(dir: string): Promise<BundleMeta> {
  await recoverDir(dir);
  const file = path.join(dir, MODEL_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new BundleError(dir, MODEL_FILE, `cannot read (${(e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BundleError(dir, MODEL_FILE, `invalid JSON (${(e as Error).message})`);
  }
  return validateMeta(dir, raw);
}

function validateMeta(dir: string, raw: unknown): BundleMeta {
  const bad = (reason: string) => new BundleError(dir, MODEL_FILE, reason);
  if (!raw || typeof raw !== 'object') throw bad('not a JSON object');
  const m = raw as Partial<BundleMeta>;
  if (m.format !== BUNDLE_FORMAT) throw bad(`format is ${JSON.stringify(m.format)}, expected "${BUNDLE_FORMAT}"`);
  if (m.formatVersion !== BUNDLE_FORMAT_VERSION) throw bad(`unknown format version ${JSON.stringify(m.formatVersion)} (this build reads version ${BUNDLE_FORMAT_VERSION})`);
  if (!m.architecture || m.architecture.kind !== 'gesture-egru') throw bad(`unknown architecture ${JSON.stringify(m.architecture?.kind)}`);
  let config: GestureModelConfig;
  try {
    config = resolveModelConfig(m.architecture.config as GestureModelConfig);
  } catch (e) {
    throw bad(`architecture: ${(e as Error).message}`);
  }
  if (!Array.isArray(m.classNames) || m.classNames.length !== config.numClasses || !m.classNames.every((s) => typeof s === 'string')) {
    throw bad(`classNames must list ${config.numClasses} strings`);
  }
  if (!m.preprocessing || (m.preprocessing.kind !== 'event-frames' && m.preprocessing.kind !== 'sequence')) throw bad('preprocessing missing or of unknown kind');
  if (!m.provenance || typeof m.provenance !== 'object') throw bad('provenance missing');
  if (!m.metrics || typeof m.metrics !== 'object') throw bad('metrics missing');
  return { ...(m as BundleMeta), architecture: { ...m.architecture, config } };
}

/** Builds model parts from a tensor map named as in a bundle; every key and shape is checked. */
export function partsFromTensors(source: string, config: GestureModelConfig, tensors: Map<string, SafeTensor>): ModelParts<Float32Array> {
  const used = new Set<string>();
  const need = (key: string, shape: number[]): Float32Array => {
    const t = tensors.get(key);
    if (!t) throw new BundleError(source, key, 'missing');
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new BundleError(source, key, `shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    used.add(key);
    return tensorToFloat32(t, key).slice();
  };
  const D = config.frontDense;
  const frontWeight = D > 0 ? need('front.weight', [D, config.inputSize]) : null;
  const frontBias = D > 0 ? need('front.bias', [D]) : null;
  const frontCnn = config.frontCnn ? cnnParamSpecs(config.frontCnn).map((sp) => need(sp.name, sp.shape)) : null;
  let inSize = D > 0 ? D : config.frontCnn ? cnnShape(config.frontCnn).outputSize : config.inputSize;
  const layers: EgruLayerParams<Float32Array>[] = config.hiddenSizes.map((H, l) => {
    const prefix = `layers.${l}.`;
    let p: EgruLayerParams<Float32Array>;
    try {
      p = fromEvnnStateDict(tensors, { prefix });
    } catch (e) {
      if (e instanceof EgruParamsError) throw new BundleError(source, e.key, e.reason);
      if (e instanceof SafetensorsError) throw new BundleError(source, e.tensor ?? prefix, e.reason);
      throw e;
    }
    if (p.inputSize !== inSize || p.hiddenSize !== H) throw new BundleError(source, `${prefix}kernel`, `layer is ${p.inputSize}→${p.hiddenSize}, architecture says ${inSize}→${H}`);
    // The file holds γ and ε as float32; model.json holds the exact values. Use those (a resumed run must compute
    // exactly what the uninterrupted one did), after checking that the two agree.
    for (const [key, fileVal, cfgVal] of [
      ['dampening_factor', p.gamma, config.gamma],
      ['pseudo_derivative_support', p.eps, config.eps],
    ] as const) {
      if (Math.fround(cfgVal) !== Math.fround(fileVal)) throw new BundleError(source, prefix + key, `${fileVal} differs from the architecture's ${cfgVal}`);
    }
    p.gamma = config.gamma;
    p.eps = config.eps;
    for (const k of ['_max_norm', 'kernel', 'recurrent_kernel', 'bias', 'recurrent_bias', 'thr', 'thr_reparam', 'dampening_factor', 'pseudo_derivative_support']) {
      if (tensors.has(prefix + k)) used.add(prefix + k);
    }
    inSize = H;
    return p;
  });
  const H = config.hiddenSizes[config.hiddenSizes.length - 1];
  const fcWeight = need('fc.weight', [config.numClasses, H]);
  const fcBias = need('fc.bias', [config.numClasses]);
  const extra = [...tensors.keys()].filter((k) => !used.has(k));
  if (extra.length > 0) throw new BundleError(source, extra[0], `unexpected tensor (not part of this architecture${extra.length > 1 ? `; ${extra.length - 1} more` : ''})`);
  return { layers, fcWeight, fcBias, frontWeight, frontBias, frontCnn };
}

export interface LoadedBundle {
  meta: BundleMeta;
  model: GestureModel;
}

/**
 * Loads a bundle folder. The kernel defaults to `kernel` if given, else the caller sets `model.kernel` later
 * (loading weights needs no kernel; running them does).
 */
export async function loadBundle(dir: string, kernel?: EgruKernel<Float32Array>): Promise<LoadedBundle> {
  const meta = await readBundleMeta(dir);
  const wfile = path.join(dir, WEIGHTS_FILE);
  let tensors: Map<string, SafeTensor>;
  try {
    tensors = (await readSafetensorsFile(wfile)).tensors;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new BundleError(dir, WEIGHTS_FILE, e.message);
    throw new BundleError(dir, WEIGHTS_FILE, `cannot read (${(e as Error).message})`);
  }
  const parts = partsFromTensors(dir, meta.architecture.config, tensors);
  const k = kernel ?? (await import('../egru/kernels.ts')).getEgruKernel();
  return { meta, model: new GestureModel(meta.architecture.config, parts, k, Float32Array) };
}

/** Rewrites model.json of an existing bundle through `edit` (the weights are copied unchanged). */
export async function updateBundleMeta(dir: string, edit: (m: BundleMeta) => BundleMeta): Promise<BundleMeta> {
  const meta = edit(await readBundleMeta(dir));
  const weights = await readFile(path.join(dir, WEIGHTS_FILE));
  await replaceDir(dir, async (tmp) => {
    await writeFile(path.join(tmp, WEIGHTS_FILE), weights);
    await fsyncFile(path.join(tmp, WEIGHTS_FILE));
    await writeFile(path.join(tmp, MODEL_FILE), JSON.stringify(meta, jsonNumbers, 2) + '\n');
    await fsyncFile(path.join(tmp, MODEL_FILE));
  });
  return meta;
}

/**
 * Writes the model as an EvNN-compatible PyTorch state_dict in safetensors (`torch.load`-free interchange:
 * `safetensors.torch.load_file` → `model.load_state_dict`). Keys follow the EvNN DVS benchmark (`layers.<l>.*`,
 * `fc.*`); θ as v0.2.0 `thr` (default) or v0.1.0 `thr_reparam`. A dense front layer, which EvNN's DVS model does
 * not have (it uses a CNN), is written as `front.*`.
 */
export async function exportEvnnStateDict(model: GestureModel, file: string, encoding: 'thr' | 'thr_reparam' = 'thr'): Promise<void> {
  await writeSafetensorsFile(file, bundleTensors(model, encoding), { format: 'pt', source: 'egru-studio' });
}

/**
 * Reads an EvNN-style state_dict (safetensors) into a GestureModel of the given architecture. Accepts both `thr`
 * and `thr_reparam`; every key and shape is checked (BundleError).
 */
export async function importEvnnStateDict(file: string, config: GestureModelConfig, kernel: EgruKernel<Float32Array>): Promise<GestureModel> {
  let tensors: Map<string, SafeTensor>;
  try {
    tensors = (await readSafetensorsFile(file)).tensors;
  } catch (e) {
    throw new BundleError(file, WEIGHTS_FILE, (e as Error).message);
  }
  // γ and ε come from the state_dict (EvNN stores them per layer; layer 0's values define the architecture).
  const scalar = (k: string, dflt: number) => {
    const t = tensors.get(`layers.0.${k}`);
    return t && t.data.length === 1 ? Number(t.data[0]) : dflt;
  };
  const cfg: GestureModelConfig = { ...config, gamma: scalar('dampening_factor', config.gamma), eps: scalar('pseudo_derivative_support', config.eps) };
  return new GestureModel(cfg, partsFromTensors(file, cfg, tensors), kernel, Float32Array);
}
