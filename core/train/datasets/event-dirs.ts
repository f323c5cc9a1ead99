/**
 * Dataset folders of gesture recordings, in three layouts (detected in this order):
 *
 * 1. DVS128 Gesture, ORIGINAL layout (IBM): `userNN_<lighting>.aedat` (AEDAT 3.1) + `userNN_<lighting>_labels.csv`
 *    + `trials_to_train.txt` / `trials_to_test.txt`. A listed trial may also be stored as `.aedat4` (what
 *    `egru sim` and the recorder write); the list decides the split.
 * 2. tonic's converted copy: `[DVSGesture/]ibmGestureTrain|ibmGestureTest/userNN_<lighting>/<class>.npy`, each file
 *    one pre-cut gesture as an [N, 4] (x, y, p, t) array with t in ms (tonic multiplies by 1000 on load); also
 *    `<root>/train|test/<class>/*.npy` with structured (x, y, p, t) arrays.
 * 3. Our own recordings: any folder of event files with `<name>_labels.csv` beside them (all training data).
 *
 * Every layout yields windows of the same preprocessing (./preprocess.ts), cached on disk (../cache.ts).
 * `registerEventDirLoaders()` adds the three loaders to the training registry (`{ kind: 'dir' }` specs).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetSplits } from '../dataset.ts';
import { DIR_DATASET_LOADERS } from './registry.ts';
import type { DirDatasetLoader } from './registry.ts';
import { DEFAULT_CACHE_BYTES, FrameCache, defaultCacheDir } from '../cache.ts';
import { DVS_GESTURE_CLASSES, parseGestureLabels, readTrials } from '../../events/labels.ts';
import type { Preprocessing } from '../../model/config.ts';
import type { EventFramesPreprocessing } from './preprocess.ts';
import { checkEventFrames, gesturePreprocessing } from './preprocess.ts';
import type { RecordingSource, WindowSetStats } from './event-windows.ts';
import { EventWindowDataset, buildWindows } from './event-windows.ts';

/** Options of a `{ kind: 'dir' }` dataset spec (all JSON). */
export interface EventDirOptions {
  path?: string;
  /** Full preprocessing (e.g. a bundle's), or partial settings over DEFAULT_GESTURE_PREPROCESSING. */
  preprocessing?: Partial<EventFramesPreprocessing> | Preprocessing;
  /** Cache folder; null or false = keep windows in memory. Default: defaultCacheDir(). */
  cacheDir?: string | null | false;
  cacheMaxBytes?: number;
  /** `.npy` time unit in µs (default 1000: tonic's ms). */
  npyTimeScale?: number;
  /** In-process callers only (not JSON): preprocessing progress. */
  onProgress?: (done: number, total: number, id: string) => void;
}

/** What an event-folder loader produces: the splits, plus the window datasets and build statistics. */
export interface EventDirSplits extends DatasetSplits {
  train: EventWindowDataset;
  test?: EventWindowDataset;
  preprocessing: EventFramesPreprocessing;
  layout: string;
  stats: WindowSetStats;
  cache: FrameCache | null;
}

export const DVS_LAYOUT = 'dvs128-gesture';
export const TONIC_LAYOUT = 'tonic-dvsgesture';
export const RECORDINGS_LAYOUT = 'recordings';

/** Event file extensions we pair with label CSVs (content decides the format; these only find candidates). */
const EVENT_EXTS = ['.aedat4', '.aedat', '.raw', '.dat', '.evt', '.bin'];

function resolvePreprocessing(o: EventDirOptions): EventFramesPreprocessing {
  const p = o.preprocessing;
  if (p && (p as Preprocessing).kind === 'event-frames' && 'layout' in p) return checkEventFrames(p as Preprocessing);
  if (p && (p as Preprocessing).kind === 'sequence') throw new RangeError("an event dataset needs 'event-frames' preprocessing, got 'sequence'");
  return gesturePreprocessing((p ?? {}) as Partial<EventFramesPreprocessing>);
}

function openCache(o: EventDirOptions): FrameCache | null {
  if (o.cacheDir === null || o.cacheDir === false) return null;
  return new FrameCache(o.cacheDir ?? defaultCacheDir(), { maxBytes: o.cacheMaxBytes ?? DEFAULT_CACHE_BYTES });
}

/** User number of a DVS128 Gesture name ('user07_led' → 7), or null. */
export function userOf(name: string): number | null {
  const m = /^user(\d+)/i.exec(name);
  return m ? Number(m[1]) : null;
}

function stemOf(file: string): string {
  return path.basename(file).replace(/\.[^.]+$/, '');
}

async function eventRecording(file: string, labelsFile: string, group: number): Promise<RecordingSource> {
  const labels = parseGestureLabels(await readFile(labelsFile, 'utf8'), labelsFile);
  return { id: stemOf(file), file, kind: 'events', labels, group };
}

/** Groups: user number where the name has one, else a distinct id per recording (after all user numbers). */
function assignGroups(names: string[]): number[] {
  let next = 1000;
  return names.map((n) => userOf(n) ?? next++);
}

async function makeSplits(
  dir: string,
  layout: string,
  parts: { train: RecordingSource[]; test: RecordingSource[] },
  o: EventDirOptions,
): Promise<EventDirSplits> {
  const prep = resolvePreprocessing(o);
  const cache = openCache(o);
  const all = [...parts.train, ...parts.test];
  const { windows, stats } = await buildWindows(all, { preprocessing: prep, cache, npyTimeScale: o.npyTimeScale, onProgress: o.onProgress });
  const nTrainRec = parts.train.length;
  const base = path.basename(path.resolve(dir));
  const train = new EventWindowDataset(`${layout}:${base}/train`, DVS_GESTURE_CLASSES, prep, windows.filter((w) => w.recording < nTrainRec), all, cache, o.npyTimeScale);
  const testWins = windows.filter((w) => w.recording >= nTrainRec);
  const test = parts.test.length > 0 ? new EventWindowDataset(`${layout}:${base}/test`, DVS_GESTURE_CLASSES, prep, testWins, all, cache, o.npyTimeScale) : undefined;
  const T = prep.windowUs / prep.binUs;
  return {
    train,
    test,
    preprocessing: prep,
    layout,
    stats,
    cache,
    description:
      `${layout} at ${path.resolve(dir)}: ${parts.train.length} train / ${parts.test.length} test recordings → ` +
      `${train.size} / ${test?.size ?? 0} windows of ${prep.windowUs / 1000} ms (T=${T} × ${prep.binUs / 1000} ms bins, ` +
      `${prep.frame.width}×${prep.frame.height}, polarity ${prep.polarity}, ÷${prep.normalisation.divideBy})`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. DVS128 Gesture, original layout

export function isDvsGestureDir(dir: string): boolean {
  return existsSync(path.join(dir, 'trials_to_train.txt')) || existsSync(path.join(dir, 'trials_to_test.txt'));
}

/** The event file of a listed trial: the name as listed, else the same stem as .aedat / .aedat4. */
function findTrialFile(dir: string, name: string): string | null {
  const direct = path.join(dir, name);
  if (existsSync(direct)) return direct;
  const stem = name.replace(/\.(aedat4?|raw|dat)$/i, '');
  for (const ext of ['.aedat', '.aedat4']) {
    const f = path.join(dir, stem + ext);
    if (existsSync(f)) return f;
  }
  return null;
}

export async function openDvsGestureDir(dir: string, o: EventDirOptions = {}): Promise<EventDirSplits> {
  const lists: Record<'train' | 'test', string[]> = { train: [], test: [] };
  for (const split of ['train', 'test'] as const) {
    const f = path.join(dir, `trials_to_${split}.txt`);
    if (existsSync(f)) lists[split] = await readTrials(f);
  }
  const parts: { train: RecordingSource[]; test: RecordingSource[] } = { train: [], test: [] };
  const seen = new Map<string, string>();
  for (const split of ['train', 'test'] as const) {
    const groups = assignGroups(lists[split]);
    for (let i = 0; i < lists[split].length; i++) {
      const name = lists[split][i];
      const file = findTrialFile(dir, name);
      if (!file) throw new Error(`${path.join(dir, `trials_to_${split}.txt`)}: trial ${name} has no event file (${name}, .aedat or .aedat4) in ${dir}`);
      const prev = seen.get(file);
      if (prev) throw new Error(`${name} is listed in both ${prev} and ${split} trials (a test trial must never be trained on)`);
      seen.set(file, split);
      const labelsFile = path.join(dir, `${stemOf(file)}_labels.csv`);
      if (!existsSync(labelsFile)) throw new Error(`trial ${name}: label file ${labelsFile} is missing`);
      parts[split].push(await eventRecording(file, labelsFile, groups[i]));
    }
  }
  return makeSplits(dir, DVS_LAYOUT, parts, o);
}

// ---------------------------------------------------------------------------------------------------------------
// 2. tonic's converted copy

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function sortedEntries(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Where tonic's split folders are: { train, test } paths (either may be null), and which form; or null. */
export function tonicRoots(dir: string): { train: string | null; test: string | null; form: 'ibm' | 'class-folders' } | null {
  for (const base of [dir, path.join(dir, 'DVSGesture')]) {
    const tr = path.join(base, 'ibmGestureTrain');
    const te = path.join(base, 'ibmGestureTest');
    if (isDir(tr) || isDir(te)) return { train: isDir(tr) ? tr : null, test: isDir(te) ? te : null, form: 'ibm' };
  }
  const tr = path.join(dir, 'train');
  const te = path.join(dir, 'test');
  const numericDirs = (p: string) => isDir(p) && sortedEntries(p).some((n) => /^\d+$/.test(n) && isDir(path.join(p, n)));
  if (numericDirs(tr) || numericDirs(te)) return { train: isDir(tr) ? tr : null, test: isDir(te) ? te : null, form: 'class-folders' };
  return null;
}

function classOfStem(stem: string, where: string): number {
  const m = /^(\d+)(?:[_-]\d+)?$/.exec(stem);
  const k = m ? Number(m[1]) : NaN;
  if (!(k >= 0 && k < DVS_GESTURE_CLASSES.length)) throw new Error(`${where}: '${stem}' is not a class index 0..${DVS_GESTURE_CLASSES.length - 1}`);
  return k;
}

function tonicSplit(root: string, form: 'ibm' | 'class-folders'): RecordingSource[] {
  const out: RecordingSource[] = [];
  let nextGroup = 1000;
  for (const sub of sortedEntries(root)) {
    const subDir = path.join(root, sub);
    if (!isDir(subDir)) continue;
    const files = sortedEntries(subDir).filter((f) => f.endsWith('.npy') && !f.endsWith('_positions.npy'));
    if (form === 'ibm') {
      // userNN_<lighting>/<class>.npy
      const group = userOf(sub) ?? nextGroup++;
      for (const f of files) out.push({ id: `${sub}/${f}`, file: path.join(subDir, f), kind: 'npy', labels: null, wholeLabel: classOfStem(f.slice(0, -4), path.join(subDir, f)), group });
    } else {
      // <class>/<anything>.npy
      if (!/^\d+$/.test(sub)) continue;
      const k = classOfStem(sub, subDir);
      for (const f of files) out.push({ id: `${sub}/${f}`, file: path.join(subDir, f), kind: 'npy', labels: null, wholeLabel: k, group: userOf(f) ?? nextGroup++ });
    }
  }
  return out;
}

export async function openTonicDir(dir: string, o: EventDirOptions = {}): Promise<EventDirSplits> {
  const roots = tonicRoots(dir);
  if (!roots) throw new Error(`${dir} is not a tonic DVSGesture folder (no ibmGestureTrain/ibmGestureTest or train/test class folders)`);
  const parts = { train: roots.train ? tonicSplit(roots.train, roots.form) : [], test: roots.test ? tonicSplit(roots.test, roots.form) : [] };
  return makeSplits(dir, TONIC_LAYOUT, parts, o);
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Our own recordings: <name>.<event ext> + <name>_labels.csv

/** Pairs of (event file, labels file) in `dir`, sorted by name. */
export function labelledRecordings(dir: string): { file: string; labels: string }[] {
  const names = new Set(readdirSync(dir));
  const out: { file: string; labels: string }[] = [];
  for (const n of [...names].sort()) {
    if (!n.endsWith('_labels.csv')) continue;
    const stem = n.slice(0, -'_labels.csv'.length);
    const ev = EVENT_EXTS.map((e) => stem + e).find((c) => names.has(c));
    if (ev) out.push({ file: path.join(dir, ev), labels: path.join(dir, n) });
  }
  return out;
}

export async function openRecordingsDir(dir: string, o: EventDirOptions = {}): Promise<EventDirSplits> {
  const pairs = labelledRecordings(dir);
  if (pairs.length === 0) throw new Error(`${dir}: no event file with a <name>_labels.csv beside it`);
  const groups = assignGroups(pairs.map((p) => stemOf(p.file)));
  const train: RecordingSource[] = [];
  for (let i = 0; i < pairs.length; i++) train.push(await eventRecording(pairs[i].file, pairs[i].labels, groups[i]));
  return makeSplits(dir, RECORDINGS_LAYOUT, { train, test: [] }, o);
}

// ---------------------------------------------------------------------------------------------------------------

export const EVENT_DIR_LOADERS: readonly DirDatasetLoader[] = [
  { name: DVS_LAYOUT, detect: isDvsGestureDir, open: (d, o) => openDvsGestureDir(d, o as EventDirOptions) },
  { name: TONIC_LAYOUT, detect: (d) => tonicRoots(d) !== null, open: (d, o) => openTonicDir(d, o as EventDirOptions) },
  { name: RECORDINGS_LAYOUT, detect: (d) => labelledRecordings(d).length > 0, open: (d, o) => openRecordingsDir(d, o as EventDirOptions) },
];

/** Opens an event dataset folder in whichever layout it has. */
export async function openEventDir(dir: string, o: EventDirOptions = {}): Promise<EventDirSplits> {
  if (!isDir(dir)) throw new Error(`dataset ${dir} is not a folder`);
  for (const l of EVENT_DIR_LOADERS) {
    if (await l.detect(dir)) return (await l.open(dir, o as Record<string, unknown>)) as EventDirSplits;
  }
  throw new Error(`${dir}: not a DVS128 Gesture folder (trials_to_train.txt / trials_to_test.txt), a tonic DVSGesture copy (ibmGestureTrain/ibmGestureTest) or a folder of recordings with <name>_labels.csv`);
}

/** Adds the event-folder loaders to the training registry (idempotent). */
export function registerEventDirLoaders(): void {
  for (const l of EVENT_DIR_LOADERS) if (!DIR_DATASET_LOADERS.some((x) => x.name === l.name)) DIR_DATASET_LOADERS.push(l);
}

registerEventDirLoaders();
