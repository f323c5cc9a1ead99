/**
 * DVS128 Gesture (IBM, CVPR 2017) companion files: the per-trial label CSV (`userNN_<lighting>_labels.csv`)
 * and the split lists (`trials_to_train.txt`, `trials_to_test.txt`).
 *
 * Label CSV: header `class,startTime_usec,endTime_usec`, then one row per gesture instance with the class
 * 1..11 as in the file and start/end in µs on the event clock. In memory classes are 0-based (as tonic and
 * spikingjelly use them). Rows stay in file order: real files are not sorted by class, repeat classes and
 * sometimes overlap, so callers slice `start <= t < end` per row independently.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Class names, index = 0-based class (file value − 1), names as in the dataset's `gesture_mapping.csv`. */
export const DVS_GESTURE_CLASSES: readonly string[] = Object.freeze([
  'hand_clapping',
  'right_hand_wave',
  'left_hand_wave',
  'right_arm_clockwise',
  'right_arm_counter_clockwise',
  'left_arm_clockwise',
  'left_arm_counter_clockwise',
  'arm_roll',
  'air_drums',
  'air_guitar',
  'other_gestures',
]);

export interface GestureLabel {
  /** 0-based class index into DVS_GESTURE_CLASSES. */
  classIndex: number;
  /** Start of the gesture in µs (inclusive). */
  startUs: number;
  /** End of the gesture in µs (exclusive when slicing). */
  endUs: number;
}

/** A malformed label or trial-list file: names the file and the 1-based line. */
export class LabelFormatError extends Error {
  override readonly name = 'LabelFormatError';
  constructor(
    readonly source: string,
    /** 1-based line number (0 when the problem is the file as a whole). */
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${source}${line > 0 ? `:${line}` : ''}: ${reason}`);
  }
}

export const GESTURE_LABEL_HEADER = 'class,startTime_usec,endTime_usec';

const UINT = /^\d+$/;

/**
 * Parses a label CSV. Blank lines are skipped; the header line is required unless the first row is numeric.
 * Throws LabelFormatError naming `source` and the line for a bad row (wrong column count, class outside
 * 1..11, non-integer or unsafe times, end before start).
 */
export function parseGestureLabels(text: string, source = '<labels>'): GestureLabel[] {
  const lines = text.split('\n');
  const out: GestureLabel[] = [];
  let sawContent = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '').trim();
    if (line === '') continue;
    const lineNo = i + 1;
    if (!sawContent) {
      sawContent = true;
      if (!/^\s*\d/.test(line)) {
        const cols = line.split(',').map((c) => c.trim().toLowerCase());
        if (cols.length !== 3 || cols[0] !== 'class' || !cols[1].startsWith('start') || !cols[2].startsWith('end')) {
          throw new LabelFormatError(source, lineNo, `expected header '${GESTURE_LABEL_HEADER}', got '${clip(line)}'`);
        }
        continue;
      }
    }
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length !== 3) throw new LabelFormatError(source, lineNo, `expected 3 columns (class,start,end), got ${cols.length}`);
    const [c, s, e] = cols;
    if (!UINT.test(c)) throw new LabelFormatError(source, lineNo, `class '${clip(c)}' is not an integer`);
    const cls = Number(c);
    if (cls < 1 || cls > DVS_GESTURE_CLASSES.length) {
      throw new LabelFormatError(source, lineNo, `class ${cls} outside 1..${DVS_GESTURE_CLASSES.length}`);
    }
    const startUs = parseTime(s, 'start', source, lineNo);
    const endUs = parseTime(e, 'end', source, lineNo);
    if (endUs < startUs) throw new LabelFormatError(source, lineNo, `end ${endUs} is before start ${startUs}`);
    out.push({ classIndex: cls - 1, startUs, endUs });
  }
  return out;
}

function parseTime(s: string, what: string, source: string, line: number): number {
  if (!UINT.test(s)) throw new LabelFormatError(source, line, `${what} time '${clip(s)}' is not a non-negative integer (µs)`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new LabelFormatError(source, line, `${what} time ${clip(s)} exceeds 2^53`);
  return v;
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}

/** Formats labels as the dataset's CSV (header + 1-based classes, LF line ends, final newline). */
export function formatGestureLabels(labels: readonly GestureLabel[]): string {
  const rows = [GESTURE_LABEL_HEADER];
  for (const l of labels) {
    if (!Number.isInteger(l.classIndex) || l.classIndex < 0 || l.classIndex >= DVS_GESTURE_CLASSES.length) {
      throw new RangeError(`classIndex ${l.classIndex} outside 0..${DVS_GESTURE_CLASSES.length - 1}`);
    }
    if (!Number.isSafeInteger(l.startUs) || !Number.isSafeInteger(l.endUs) || l.startUs < 0 || l.endUs < l.startUs) {
      throw new RangeError(`bad label interval [${l.startUs}, ${l.endUs})`);
    }
    rows.push(`${l.classIndex + 1},${l.startUs},${l.endUs}`);
  }
  return rows.join('\n') + '\n';
}

export async function readGestureLabels(file: string): Promise<GestureLabel[]> {
  return parseGestureLabels(await readFile(file, 'utf8'), file);
}

export async function writeGestureLabels(file: string, labels: readonly GestureLabel[]): Promise<void> {
  await writeFileAtomic(file, formatGestureLabels(labels));
}

/**
 * Parses a split list (`trials_to_train.txt` / `trials_to_test.txt`): one trial file name per line, e.g.
 * `user01_fluorescent.aedat`. Blank lines are skipped; names are trimmed; order is kept.
 */
export function parseTrials(text: string, source = '<trials>'): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const name = lines[i].trim();
    if (name === '') continue;
    // A trial is a file name beside the list, never a path: refuse anything that could point elsewhere.
    if (name.includes('/') || name.includes('\\') || name === '.' || name === '..' || name.includes('\0')) {
      throw new LabelFormatError(source, i + 1, `'${clip(name)}' is not a plain file name`);
    }
    out.push(name);
  }
  return out;
}

export function formatTrials(names: readonly string[]): string {
  for (const n of names) {
    if (n.trim() !== n || n === '' || /[\n\r/\\\0]/.test(n)) throw new RangeError(`'${n}' is not a plain trial file name`);
  }
  return names.length ? names.join('\n') + '\n' : '';
}

export async function readTrials(file: string): Promise<string[]> {
  return parseTrials(await readFile(file, 'utf8'), file);
}

export async function writeTrials(file: string, names: readonly string[]): Promise<void> {
  await writeFileAtomic(file, formatTrials(names));
}

/**
 * Writes `text` so that a crash leaves either the old file or the new one, never a half-written one:
 * temp file in the same folder, fsync, rename over the target, then fsync the folder (best effort: not all
 * platforms allow opening a directory).
 */
async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  try {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // Directory fsync is unsupported on some platforms (Windows); the rename itself is still atomic.
  }
}
