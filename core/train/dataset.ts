/**
 * The dataset contract of the training loop: an indexable source of labelled sequences. Every dataset —
 * sequential MNIST, the synthetic tasks, DVS128 Gesture (tonic layout), the app's own recordings — implements
 * `Dataset`; the loop only ever asks for lengths, labels and one sample at a time, so a dataset may decode
 * lazily from disk and memory stays bounded by one batch.
 */
import type { Preprocessing } from '../model/config.ts';
import { Rng } from '../util/rng.ts';

/** One sequence: frames [T, C] row-major (time-major), dense or as a coordinate list of its non-zeros. */
export type SequenceSample =
  | { kind: 'dense'; T: number; frames: Float32Array; label: number }
  /** Non-zeros only: entry k is value v[k] at step t[k], input c[k]. Event frames are mostly zero. */
  | { kind: 'sparse'; T: number; t: Uint32Array; c: Uint32Array; v: Float32Array; label: number };

export interface Dataset {
  /** Short name recorded in the bundle's provenance (e.g. 'smnist', 'dvs128-gesture/train'). */
  readonly name: string;
  /** Number of samples. */
  readonly size: number;
  /** C: values per time step. */
  readonly inputSize: number;
  /** Class names; labels index into this list. */
  readonly classNames: readonly string[];
  /** T of sample i (cheap: no decoding). */
  length(i: number): number;
  /** Label of sample i (cheap: no decoding). */
  label(i: number): number;
  /** Decode sample i. */
  sample(i: number): SequenceSample;
}

/** What a dataset factory returns: training data, an optional held-out test set, and how inputs were made. */
export interface DatasetSplits {
  train: Dataset;
  /** Held-out test data: only ever evaluated, never used to select a model. */
  test?: Dataset;
  /** The exact preprocessing, copied into the model bundle so inference reproduces it. */
  preprocessing: Preprocessing;
  /** One line describing the data (recorded in provenance). */
  description: string;
}

/** A view of `base` restricted to `indices` (no copy of the data). */
export function subset(base: Dataset, indices: ArrayLike<number>, name = base.name): Dataset {
  const idx = Uint32Array.from(indices as ArrayLike<number>);
  for (let k = 0; k < idx.length; k++) {
    if (idx[k] >= base.size) throw new RangeError(`subset index ${idx[k]} out of range (dataset size ${base.size})`);
  }
  return {
    name,
    size: idx.length,
    inputSize: base.inputSize,
    classNames: base.classNames,
    length: (i) => base.length(idx[i]),
    label: (i) => base.label(idx[i]),
    sample: (i) => base.sample(idx[i]),
  };
}

/**
 * Splits TRAINING data into train/validation, stratified per class, with a fixed seed. Validation is what early
 * stopping and checkpoint selection look at; the test set is never used for selection.
 */
export function splitTrainVal(ds: Dataset, valFraction: number, seed: number): { train: Dataset; val: Dataset | null } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
  if (valFraction === 0 || ds.size < 2) return { train: ds, val: null };
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < ds.size; i++) {
    const l = ds.label(i);
    let a = byClass.get(l);
    if (!a) byClass.set(l, (a = []));
    a.push(i);
  }
  const rng = new Rng(seed ^ 0x5eed5);
  const train: number[] = [];
  const val: number[] = [];
  for (const k of [...byClass.keys()].sort((a, b) => a - b)) {
    const a = byClass.get(k)!;
    rng.shuffle(a);
    const nVal = Math.min(a.length - 1, Math.round(a.length * valFraction));
    val.push(...a.slice(0, nVal));
    train.push(...a.slice(nVal));
  }
  if (val.length === 0) return { train: ds, val: null };
  train.sort((a, b) => a - b);
  val.sort((a, b) => a - b);
  return { train: subset(ds, train, ds.name), val: subset(ds, val, `${ds.name}/val`) };
}

/** A batch in the kernel's layout: x [T, N, C] time-major, zero-padded after each sample's own length. */
export interface Batch {
  T: number;
  N: number;
  C: number;
  x: Float32Array;
  lengths: Int32Array;
  labels: Int32Array;
}

/**
 * Assembles samples `indices` of `ds` into one batch. `reuse` (a previous batch) lends its buffer when large
 * enough, so steady-state training allocates no input memory per batch.
 */
export function assembleBatch(ds: Dataset, indices: ArrayLike<number>, reuse?: Batch): Batch {
  const N = indices.length;
  const C = ds.inputSize;
  let T = 0;
  for (let n = 0; n < N; n++) T = Math.max(T, ds.length(indices[n]));
  const need = T * N * C;
  const x = reuse && reuse.x.length >= need ? reuse.x.subarray(0, need) : new Float32Array(need);
  x.fill(0);
  const lengths = new Int32Array(N);
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const s = ds.sample(indices[n]);
    lengths[n] = s.T;
    labels[n] = s.label;
    if (s.label < 0 || s.label >= ds.classNames.length) {
      throw new RangeError(`${ds.name}: sample ${indices[n]} has label ${s.label}, outside 0..${ds.classNames.length - 1}`);
    }
    if (s.kind === 'dense') {
      if (s.frames.length !== s.T * C) throw new RangeError(`${ds.name}: sample ${indices[n]} has ${s.frames.length} values, expected T·C = ${s.T}·${C}`);
      for (let t = 0; t < s.T; t++) x.set(s.frames.subarray(t * C, (t + 1) * C), (t * N + n) * C);
    } else {
      for (let k = 0; k < s.v.length; k++) {
        const t = s.t[k];
        const c = s.c[k];
        if (t >= s.T || c >= C) throw new RangeError(`${ds.name}: sample ${indices[n]} entry ${k} (t=${t}, c=${c}) outside [${s.T}, ${C}]`);
        x[(t * N + n) * C + c] += s.v[k];
      }
    }
  }
  return { T, N, C, x, lengths, labels };
}

/** A dataset held entirely in memory as dense [T, C] sequences (used by the small built-in datasets). */
export class InMemoryDataset implements Dataset {
  readonly size: number;
  constructor(
    readonly name: string,
    readonly inputSize: number,
    readonly classNames: readonly string[],
    private readonly frames: readonly Float32Array[],
    private readonly labels: Int32Array,
  ) {
    if (frames.length !== labels.length) throw new RangeError(`${name}: ${frames.length} sequences but ${labels.length} labels`);
    for (let i = 0; i < frames.length; i++) {
      if (frames[i].length % inputSize !== 0) throw new RangeError(`${name}: sequence ${i} length ${frames[i].length} is not a multiple of C=${inputSize}`);
    }
    this.size = frames.length;
  }
  length(i: number): number {
    return this.frames[i].length / this.inputSize;
  }
  label(i: number): number {
    return this.labels[i];
  }
  sample(i: number): SequenceSample {
    return { kind: 'dense', T: this.length(i), frames: this.frames[i], label: this.labels[i] };
  }
}

/** Copies the rows of shard [a, b) of a [T, N, C] batch into a new [T', b−a, C] batch (T' = the shard's longest). */
export function sliceBatch(b: Batch, a: number, e: number): Batch {
  const n = e - a;
  const lengths = b.lengths.slice(a, e);
  const labels = b.labels.slice(a, e);
  let T = 0;
  for (let i = 0; i < n; i++) T = Math.max(T, lengths[i]);
  T = Math.min(T, b.T);
  const C = b.C;
  const x = new Float32Array(T * n * C);
  for (let t = 0; t < T; t++) x.set(b.x.subarray((t * b.N + a) * C, (t * b.N + e) * C), t * n * C);
  return { T, N: n, C, x, lengths, labels };
}
