/**
 * Labelled event recordings → a training `Dataset` of fixed-length windows (one window = one sample, spec §8.1).
 *
 * Opening decodes and bins every recording ONCE (async, bounded by one recording in memory) and stores each
 * window's sparse frames in the on-disk FrameCache; `sample(i)` (synchronous, as the training loop needs) reads
 * one entry back. A recording whose windows are all cached and intact is not decoded at all. Without a cache the
 * sparse windows stay in memory.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dataset, SequenceSample } from '../dataset.ts';
import { subset } from '../dataset.ts';
import { FrameCache } from '../cache.ts';
import type { GestureLabel } from '../../events/labels.ts';
import type { EventPacket } from '../../events/packet.ts';
import { allocPacket } from '../../events/packet.ts';
import { openEvents } from '../../events/formats/index.ts';
import { readAll } from '../../events/reader.ts';
import { Rng } from '../../util/rng.ts';
import type { AugmentRanges, WindowEvents } from '../augment.ts';
import { DEFAULT_AUGMENT, augmentEvents, augmentSeed, drawAugment, windowEvents } from '../augment.ts';
import { lowerBound } from '../../events/transforms/types.ts';
import { eventsFromNpy, parseNpy } from './npy.ts';
import type { EventFramesPreprocessing, LabeledWindow, SparseFrames } from './preprocess.ts';
import { WindowBinner, checkEventFrames, sortedByTime, windowsForLabels } from './preprocess.ts';

/** One recording to cut into windows. */
export interface RecordingSource {
  /** Display name, e.g. 'user01_natural'. */
  id: string;
  file: string;
  kind: 'events' | 'npy';
  /** Label rows (event files with a label CSV). */
  labels: readonly GestureLabel[] | null;
  /** Pre-cut samples (tonic): the whole recording is one gesture of this class, windows start at its first event. */
  wholeLabel?: number;
  /** Who recorded it (DVS128 Gesture: the user number); validation splits never separate a group. */
  group: number;
}

export interface WindowSetOptions {
  preprocessing: EventFramesPreprocessing;
  /** null: keep windows in memory. */
  cache: FrameCache | null;
  /** `.npy` time unit in µs (tonic's DVSGesture copy: ms → 1000). */
  npyTimeScale?: number;
  onProgress?: (done: number, total: number, id: string) => void;
}

export interface WindowRecord {
  recording: number;
  startUs: number;
  label: number;
  group: number;
  /** Cache key of the frames, or null when held in `frames`. */
  key: string | null;
  frames: SparseFrames | null;
}

export interface WindowSetStats {
  recordings: number;
  /** Recordings served entirely from the cache (not decoded). */
  cachedRecordings: number;
  windows: number;
  events: number;
  seconds: number;
}

const FORMAT_TAG = 'egru-event-windows';
const FORMAT_REV = 1;

/** Sparse frames + label → cache payload: u32 T, u32 C, i32 label, u32 nnz, u32 idx[nnz] (t·C + c), f32 v[nnz]. */
export function encodeWindow(s: SparseFrames, label: number): Uint8Array {
  const n = s.v.length;
  const buf = new ArrayBuffer(16 + 8 * n);
  const h = new DataView(buf);
  h.setUint32(0, s.T, true);
  h.setUint32(4, s.C, true);
  h.setInt32(8, label, true);
  h.setUint32(12, n, true);
  const idx = new Uint32Array(buf, 16, n);
  for (let k = 0; k < n; k++) idx[k] = s.t[k] * s.C + s.c[k];
  new Float32Array(buf, 16 + 4 * n, n).set(s.v);
  return new Uint8Array(buf);
}

/** Inverse of encodeWindow; throws when the payload's sizes do not add up (the cache CRC makes this rare). */
export function decodeWindow(b: Uint8Array): { frames: SparseFrames; label: number } {
  if (b.length < 16) throw new RangeError(`window payload of ${b.length} bytes is shorter than its 16-byte header`);
  const h = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const T = h.getUint32(0, true);
  const C = h.getUint32(4, true);
  const label = h.getInt32(8, true);
  const n = h.getUint32(12, true);
  if (b.length !== 16 + 8 * n) throw new RangeError(`window payload is ${b.length} bytes, header says ${16 + 8 * n}`);
  // Copy to an aligned buffer of its own (the payload may be an unaligned view, e.g. of a pooled Node Buffer,
  // whose .slice() would not copy).
  const raw = new Uint8Array(b.length - 16);
  raw.set(b.subarray(16));
  const idx = new Uint32Array(raw.buffer, 0, n);
  const v = new Float32Array(raw.buffer, 4 * n, n);
  const t = new Uint32Array(n);
  const c = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    const q = idx[k];
    t[k] = Math.floor(q / C);
    c[k] = q - t[k] * C;
    if (t[k] >= T) throw new RangeError(`window entry ${k} at step ${t[k]} ≥ T = ${T}`);
  }
  return { frames: { T, C, t, c, v }, label };
}

async function decodeRecording(r: RecordingSource, prep: EventFramesPreprocessing, npyScale: number): Promise<EventPacket> {
  if (r.kind === 'npy') {
    const bytes = await readFile(r.file);
    return eventsFromNpy(parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), r.file), { timeScale: npyScale, source: r.file });
  }
  const reader = await openEvents(r.file);
  try {
    const g = reader.info.geometry;
    if (g && (g.width !== prep.sensor.width || g.height !== prep.sensor.height)) {
      throw new Error(`${r.file}: recorded with a ${g.width}×${g.height} sensor, but the preprocessing expects ${prep.sensor.width}×${prep.sensor.height}`);
    }
    return await readAll(reader);
  } finally {
    await reader.close();
  }
}

function windowsOf(r: RecordingSource, pk: EventPacket, windowUs: number): LabeledWindow[] {
  if (r.labels) return windowsForLabels(r.labels, windowUs);
  if (r.wholeLabel === undefined || pk.length === 0) return [];
  // Events are sorted here: the sample spans [first event, last event + 1 µs).
  return windowsForLabels([{ classIndex: r.wholeLabel, startUs: pk.t[0], endUs: pk.t[pk.length - 1] + 1 }], windowUs);
}

function parseManifest(b: Uint8Array | null): LabeledWindow[] | null {
  if (!b) return null;
  try {
    const m = JSON.parse(new TextDecoder().decode(b)) as { windows?: unknown };
    if (!Array.isArray(m.windows)) return null;
    const out: LabeledWindow[] = [];
    for (const w of m.windows as unknown[]) {
      if (!Array.isArray(w) || w.length !== 3 || !w.every((x) => typeof x === 'number' && Number.isFinite(x))) return null;
      out.push({ startUs: w[0] as number, label: w[1] as number, row: w[2] as number });
    }
    return out;
  } catch {
    return null;
  }
}

/**
 * Decodes, windows and bins `recs` (or finds them in the cache). Windows come out in recording order, then in
 * label-row order. Cached entries of the result are pinned in `o.cache` (kept from eviction while in use).
 */
export async function buildWindows(recs: readonly RecordingSource[], o: WindowSetOptions): Promise<{ windows: WindowRecord[]; stats: WindowSetStats }> {
  const t0 = performance.now();
  const prep = checkEventFrames(o.preprocessing);
  const binner = new WindowBinner(prep);
  const npyScale = o.npyTimeScale ?? 1000;
  const cache = o.cache;
  const out: WindowRecord[] = [];
  const stats: WindowSetStats = { recordings: recs.length, cachedRecordings: 0, windows: 0, events: 0, seconds: 0 };
  for (let ri = 0; ri < recs.length; ri++) {
    const r = recs[ri];
    o.onProgress?.(ri, recs.length, r.id);
    let rk: string | null = null;
    if (cache) {
      const st = statSync(r.file);
      rk = FrameCache.key([FORMAT_TAG, FORMAT_REV, path.resolve(r.file), st.size, st.mtimeMs, r.labels ?? null, r.wholeLabel ?? null, prep, r.kind === 'npy' ? npyScale : null]);
      const manifest = parseManifest(cache.get(`${rk}-m`));
      if (manifest && manifest.every((_, w) => cache.verify(`${rk}-${w}`))) {
        manifest.forEach((w, k) => out.push({ recording: ri, startUs: w.startUs, label: w.label, group: r.group, key: `${rk}-${k}`, frames: null }));
        cache.pin(manifest.map((_, k) => `${rk}-${k}`));
        stats.cachedRecordings++;
        continue;
      }
    }
    const pk = sortedByTime(await decodeRecording(r, prep, npyScale));
    stats.events += pk.length;
    const wins = windowsOf(r, pk, prep.windowUs);
    wins.forEach((w, k) => {
      const frames = binner.bin(pk, w.startUs);
      if (cache && rk) {
        const key = `${rk}-${k}`;
        cache.put(key, encodeWindow(frames, w.label));
        cache.pin([key]);
        out.push({ recording: ri, startUs: w.startUs, label: w.label, group: r.group, key, frames: null });
      } else {
        out.push({ recording: ri, startUs: w.startUs, label: w.label, group: r.group, key: null, frames });
      }
    });
    // The manifest goes last: a crash before this point leaves no manifest, so the recording is rebuilt.
    if (cache && rk) cache.put(`${rk}-m`, new TextEncoder().encode(JSON.stringify({ id: r.id, windows: wins.map((w) => [w.startUs, w.label, w.row]) })));
  }
  o.onProgress?.(recs.length, recs.length, '');
  stats.windows = out.length;
  stats.seconds = (performance.now() - t0) / 1000;
  return { windows: out, stats };
}

/** Windows of event recordings as a training Dataset (sparse samples, T = windowUs / binUs steps). */
export class EventWindowDataset implements Dataset {
  readonly size: number;
  readonly inputSize: number;
  private readonly T: number;
  private readonly labels: Int32Array;
  private readonly groups: Int32Array;
  /** Raw events of windows loaded by `loadWindowEvents` (augmented training re-bins these every epoch). */
  private readonly events = new Map<number, WindowEvents>();
  private eventSpanUs = 0;

  constructor(
    readonly name: string,
    readonly classNames: readonly string[],
    readonly preprocessing: EventFramesPreprocessing,
    private readonly windows: readonly WindowRecord[],
    private readonly recordings: readonly RecordingSource[],
    private readonly cache: FrameCache | null,
    private readonly npyTimeScale = 1000,
  ) {
    const binner = new WindowBinner(preprocessing);
    this.T = binner.T;
    this.inputSize = binner.C;
    this.size = windows.length;
    this.labels = Int32Array.from(windows, (w) => w.label);
    this.groups = Int32Array.from(windows, (w) => w.group);
    for (const w of windows) {
      if (!(w.label >= 0 && w.label < classNames.length)) throw new RangeError(`${name}: window label ${w.label} outside 0..${classNames.length - 1}`);
    }
  }

  length(_i: number): number {
    return this.T;
  }

  label(i: number): number {
    return this.labels[i];
  }

  /** The group (user) of sample i: validation splits keep groups whole. */
  group(i: number): number {
    return this.groups[i];
  }

  /** Which recording and where: for messages and per-recording analysis. */
  source(i: number): { recording: string; file: string; startUs: number } {
    const w = this.windows[i];
    const r = this.recordings[w.recording];
    return { recording: r.id, file: r.file, startUs: w.startUs };
  }

  sample(i: number): SequenceSample {
    const w = this.windows[i];
    if (!w) throw new RangeError(`${this.name}: sample ${i} out of range (size ${this.size})`);
    let f = w.frames;
    if (!f) {
      const b = this.cache!.get(w.key!);
      if (!b) {
        const s = this.source(i);
        throw new Error(`${this.name}: the cached frames of ${s.recording} @ ${s.startUs} µs were removed or corrupted while in use (entry deleted); open the dataset again to rebuild them`);
      }
      f = decodeWindow(b).frames;
      if (f.T !== this.T || f.C !== this.inputSize) throw new Error(`${this.name}: cached window ${i} is ${f.T}×${f.C}, expected ${this.T}×${this.inputSize}`);
    }
    return { kind: 'sparse', T: f.T, t: f.t, c: f.c, v: f.v, label: w.label };
  }

  /**
   * Decodes the recordings of windows `indices` once and keeps each window's raw events in memory (compact: 9 bytes
   * per event), covering [start, start + windowUs / min stretch) so a time-compressed window is still full.
   * Needed before `augmented`; one recording is decoded at a time.
   */
  async loadWindowEvents(indices: readonly number[], ranges: AugmentRanges = DEFAULT_AUGMENT): Promise<void> {
    const span = Math.ceil(this.preprocessing.windowUs / Math.min(1, ranges.stretch[0]));
    if (span > this.eventSpanUs) this.events.clear();
    this.eventSpanUs = Math.max(span, this.eventSpanUs);
    const byRec = new Map<number, number[]>();
    for (const i of indices) {
      if (this.events.has(i)) continue;
      const r = this.windows[i].recording;
      let a = byRec.get(r);
      if (!a) byRec.set(r, (a = []));
      a.push(i);
    }
    for (const [r, wins] of byRec) {
      const pk = sortedByTime(await decodeRecording(this.recordings[r], this.preprocessing, this.npyTimeScale));
      for (const i of wins) {
        const s = this.windows[i].startUs;
        this.events.set(i, windowEvents(pk, lowerBound(pk.t, pk.length, s), lowerBound(pk.t, pk.length, s + this.eventSpanUs), s));
      }
    }
  }

  /**
   * This dataset with windows re-binned from augmented events: sample i of epoch `epoch` uses parameters drawn
   * from Rng(augmentSeed(seed, epoch, i)), so a run is reproducible and resumable. Only windows loaded by
   * `loadWindowEvents` can be sampled (the frame cache is bypassed: every epoch sees new frames).
   */
  augmented(seed: number, epoch: number, ranges: AugmentRanges = DEFAULT_AUGMENT): Dataset {
    const binner = new WindowBinner(this.preprocessing);
    const sensor = this.preprocessing.sensor;
    const windowUs = this.preprocessing.windowUs;
    let scratch = allocPacket(0);
    return {
      name: `${this.name}+augment`,
      size: this.size,
      inputSize: this.inputSize,
      classNames: this.classNames,
      length: (i) => this.length(i),
      label: (i) => this.label(i),
      sample: (i): SequenceSample => {
        const ev = this.events.get(i);
        if (!ev) throw new Error(`${this.name}: window ${i} has no loaded events; call loadWindowEvents before augmenting`);
        const a = drawAugment(new Rng(augmentSeed(seed, epoch, i)), sensor, ranges);
        // Window start 0: the kernel writes times from the window start, which is all the binner needs.
        scratch = augmentEvents(ev, a, sensor, 0, windowUs, scratch);
        const f = binner.bin(scratch, 0);
        return { kind: 'sparse', T: f.T, t: f.t, c: f.c, v: f.v, label: this.labels[i] };
      },
    };
  }

  /** Releases this dataset's pins on cache entries (they become evictable). */
  close(): void {
    if (this.cache) this.cache.unpin(this.windows.filter((w) => w.key).map((w) => w.key!));
  }
}

/** Anything with per-sample groups (users). */
export interface GroupedDataset extends Dataset {
  group(i: number): number;
}

export function hasGroups(ds: Dataset): ds is GroupedDataset {
  return typeof (ds as Partial<GroupedDataset>).group === 'function';
}

/**
 * Train/validation split of TRAINING data by group (user): a seeded shuffle of the distinct groups, the first
 * round(fraction · groups) of them (at least one, never all) become validation. No user appears on both sides,
 * so validation accuracy measures generalisation to new people, as the test split does.
 */
export function splitByGroup(
  ds: GroupedDataset,
  valFraction: number,
  seed: number,
): { train: Dataset; val: Dataset | null; trainIndices: number[]; valIndices: number[]; valGroups: number[] } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
  const groups = [...new Set(Array.from({ length: ds.size }, (_, i) => ds.group(i)))].sort((a, b) => a - b);
  if (valFraction === 0 || groups.length < 2) return { train: ds, val: null, trainIndices: Array.from({ length: ds.size }, (_, i) => i), valIndices: [], valGroups: [] };
  new Rng((seed ^ 0x6a09e667) >>> 0).shuffle(groups);
  const nVal = Math.min(groups.length - 1, Math.max(1, Math.round(groups.length * valFraction)));
  const valGroups = new Set(groups.slice(0, nVal));
  const tr: number[] = [];
  const va: number[] = [];
  for (let i = 0; i < ds.size; i++) (valGroups.has(ds.group(i)) ? va : tr).push(i);
  return { train: subset(ds, tr, ds.name), val: subset(ds, va, `${ds.name}/val`), trainIndices: tr, valIndices: va, valGroups: [...valGroups].sort((a, b) => a - b) };
}
