/**
 * `egru classify [FILE] [--model DIR] [--json]`: labels an event recording with a model bundle.
 *
 * The recording is cut into the bundle's windows and binned by THE preprocessing (WindowBinner of
 * core/train/datasets/preprocess.ts) with the bundle's settings only — the same function training and `egru eval`
 * use. Without labels, windows tile the recording from its first event. With a `<name>_labels.csv` beside the
 * file (or --labels), each labelled gesture is cut into complete windows exactly as in training, and the gesture's
 * prediction is the mean of its windows' class probabilities.
 *
 * The file is streamed: only the events of windows not yet classified are held, so memory is bounded by the
 * window length, not the file size.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.ts';
import { parseArgs, UsageError } from '../command.ts';
import { loadBundle } from '../../model/bundle.ts';
import type { BundleMeta } from '../../model/bundle.ts';
import type { GestureModel } from '../../model/gesture-model.ts';
import { getEgruKernel } from '../../egru/kernels.ts';
import type { KernelPreference } from '../../egru/kernels.ts';
import { openEvents } from '../../events/formats/index.ts';
import type { EventPacket } from '../../events/packet.ts';
import { allocPacket } from '../../events/packet.ts';
import { parseGestureLabels } from '../../events/labels.ts';
import type { GestureLabel } from '../../events/labels.ts';
import { WindowBinner, sortedByTime, windowsForLabels } from '../../train/datasets/preprocess.ts';
import type { SparseFrames } from '../../train/datasets/preprocess.ts';

export const DEFAULT_MODEL_DIR = 'assets/models/default';
export const DEFAULT_RECORDING = 'assets/recordings/sample.aedat4';

const USAGE = `usage: egru classify [FILE] [--model DIR] [--labels CSV] [--json]

Classifies an event recording with a model bundle, window by window, using the bundle's own preprocessing.
Prints per window (or, when labels exist, per labelled gesture) the predicted class, its confidence, the mean
EGRU activity and the MAC reduction against a dense GRU; with labels also the true class and the accuracy.

  FILE             event file (default ${DEFAULT_RECORDING})
  --model DIR      model bundle (default ${DEFAULT_MODEL_DIR})
  --labels CSV     gesture labels (default: <name>_labels.csv beside FILE when present)
  --no-labels      ignore a labels file beside FILE
  --json           print the result as JSON on stdout
  --kernel K       auto | native | native-dense | reference | reference-dense
`;

/** One classified window. */
export interface WindowResult {
  startUs: number;
  endUs: number;
  predicted: number;
  predictedName: string;
  confidence: number;
  /** Fraction of EGRU units emitting an event per step, over this window. */
  activity: number;
  macReduction: number;
  /** Label row this window came from (labelled recordings), else null. */
  row: number | null;
  trueClass: number | null;
}

/** One labelled gesture: its windows' mean probabilities decide. */
export interface GestureResult {
  row: number;
  startUs: number;
  endUs: number;
  trueClass: number;
  trueName: string;
  /** null when the gesture is shorter than one window. */
  predicted: number | null;
  predictedName: string | null;
  confidence: number | null;
  windows: number;
  activity: number | null;
  macReduction: number | null;
  correct: boolean | null;
}

export interface ClassifyResult {
  file: string;
  classes: string[];
  windowUs: number;
  binUs: number;
  labelled: boolean;
  windows: WindowResult[];
  /** Labelled recordings only. */
  gestures: GestureResult[] | null;
  accuracy: { windows: number; gestures: number; gesturesCorrect: number; gesturesClassified: number } | null;
  activity: number;
  macReduction: number;
  macs: { executed: number; dense: number };
  seconds: number;
}

/** Growable event buffer holding the not-yet-classified tail of a stream. */
class TailBuffer {
  pk = allocPacket(1 << 16);
  append(src: EventPacket): void {
    const need = this.pk.length + src.length;
    if (need > this.pk.x.length) {
      const next = allocPacket(Math.max(need, 2 * this.pk.x.length));
      this.copyInto(next, this.pk, 0, this.pk.length);
      next.length = this.pk.length;
      this.pk = next;
    }
    this.copyInto(this.pk, src, 0, src.length);
    this.pk.length = need;
  }
  private copyInto(dst: EventPacket, src: EventPacket, from: number, to: number): void {
    const at = dst === this.pk ? this.pk.length : 0;
    dst.x.set(src.x.subarray(from, to), at);
    dst.y.set(src.y.subarray(from, to), at);
    dst.t.set(src.t.subarray(from, to), at);
    dst.p.set(src.p.subarray(from, to), at);
  }
  /** Drops events before `t` (the buffer is time-sorted when this is called). */
  dropBefore(t: number): void {
    const pk = this.pk;
    let k = 0;
    while (k < pk.length && pk.t[k] < t) k++;
    if (k === 0) return;
    pk.x.copyWithin(0, k, pk.length);
    pk.y.copyWithin(0, k, pk.length);
    pk.t.copyWithin(0, k, pk.length);
    pk.p.copyWithin(0, k, pk.length);
    pk.length -= k;
  }
}

function softmax(logits: ArrayLike<number>, K: number): Float64Array {
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = Math.max(m, logits[k]);
  const p = new Float64Array(K);
  let s = 0;
  for (let k = 0; k < K; k++) s += p[k] = Math.exp(logits[k] - m);
  for (let k = 0; k < K; k++) p[k] /= s;
  return p;
}

function argmax(p: ArrayLike<number>): number {
  let a = 0;
  for (let k = 1; k < p.length; k++) if (p[k] > p[a]) a = k;
  return a;
}

/**
 * Classifies the recording `file` with `model` (preprocessed as `meta.preprocessing` says). `labelsCsv`: the
 * text of a gesture label CSV, or null for an unlabelled recording.
 */
export async function classifyRecording(model: GestureModel, meta: BundleMeta, file: string, labelsCsv: string | null, labelsSource = '<labels>'): Promise<ClassifyResult> {
  const t0 = performance.now();
  if (meta.preprocessing.kind !== 'event-frames') throw new UsageError(`the bundle was trained on '${meta.preprocessing.kind}' input, not event frames`);
  const binner = new WindowBinner(meta.preprocessing);
  const prep = binner.prep;
  if (binner.C !== model.config.inputSize) throw new Error(`the bundle's preprocessing gives ${binner.C} inputs per step, its model expects ${model.config.inputSize}`);
  const K = model.config.numClasses;
  const labels: GestureLabel[] | null = labelsCsv === null ? null : parseGestureLabels(labelsCsv, labelsSource);
  for (const l of labels ?? []) if (l.classIndex >= K) throw new Error(`${labelsSource}: class ${l.classIndex} is outside the model's ${K} classes`);
  const reader = await openEvents(file);
  const { width, height } = prep.sensor;
  const geo = reader.info.geometry;
  if (geo && (geo.width !== width || geo.height !== height)) {
    await reader.close();
    throw new Error(`${file} is ${geo.width}×${geo.height}, the model expects a ${width}×${height} sensor`);
  }

  // Window plan: labelled → complete windows of each row (as training cuts them); else tiles from the first event.
  const planned = labels ? windowsForLabels(labels, prep.windowUs).map((w) => ({ startUs: w.startUs, row: w.row as number | null, trueClass: w.label as number | null })) : null;
  planned?.sort((a, b) => a.startUs - b.startUs);
  const windows: WindowResult[] = [];
  const x = new Float32Array(binner.T * binner.C);
  const lengths = Int32Array.of(binner.T);
  const lab = new Int32Array(1);
  let executed = 0;
  let dense = 0;
  let actSum = 0;
  const probs: Float64Array[] = [];

  const classify = (buf: EventPacket, w: { startUs: number; row: number | null; trueClass: number | null }) => {
    const s: SparseFrames = binner.bin(buf, w.startUs);
    x.fill(0);
    for (let k = 0; k < s.v.length; k++) x[s.t[k] * s.C + s.c[k]] = s.v[k];
    const r = model.evaluate(x, binner.T, 1, lengths, lab);
    const p = softmax(r.logits, K);
    const k = argmax(p);
    probs.push(p);
    executed += r.macsExecuted;
    dense += r.macsDense;
    actSum += r.activity;
    windows.push({
      startUs: w.startUs, endUs: w.startUs + prep.windowUs, predicted: k, predictedName: meta.classNames[k] ?? String(k), confidence: p[k],
      activity: r.activity, macReduction: r.macsDense / Math.max(1, r.macsExecuted), row: w.row, trueClass: w.trueClass,
    });
  };

  const tail = new TailBuffer();
  let next = 0; // next planned window (labelled)
  let tileStart: number | null = null; // next tile start (unlabelled)
  let lastT = -Infinity;
  const pendingStart = () => (planned ? (next < planned.length ? planned[next].startUs : Infinity) : (tileStart ?? -Infinity));
  const flush = (final: boolean) => {
    const sorted = sortedByTime(tail.pk);
    if (sorted !== tail.pk) {
      tail.pk.length = 0;
      tail.append(sorted);
    }
    for (;;) {
      if (planned) {
        if (next >= planned.length) break;
        const w = planned[next];
        if (!final && w.startUs + prep.windowUs > lastT) break;
        classify(tail.pk, w);
        next++;
      } else {
        if (tileStart === null) break;
        const end = tileStart + prep.windowUs;
        // Unlabelled: only complete windows (ending at or before the last event).
        if (end > lastT) break;
        classify(tail.pk, { startUs: tileStart, row: null, trueClass: null });
        tileStart = end;
      }
    }
    const keepFrom = pendingStart();
    if (keepFrom === Infinity) tail.pk.length = 0;
    else tail.dropBefore(keepFrom);
  };
  try {
    for await (const pk of reader.packets()) {
      if (pk.length === 0) continue;
      if (!planned && tileStart === null) tileStart = pk.t[0];
      for (let i = 0; i < pk.length; i++) if (pk.t[i] > lastT) lastT = pk.t[i];
      // Events before every pending window are never needed.
      const from = pendingStart();
      if (from === Infinity) continue;
      tail.append(pk);
      if (tail.pk.length > 0 && lastT >= from + prep.windowUs) flush(false);
    }
    flush(true);
  } finally {
    await reader.close();
  }

  let gestures: GestureResult[] | null = null;
  let accuracy: ClassifyResult['accuracy'] = null;
  if (labels) {
    gestures = labels.map((l, row) => {
      const idx = windows.map((w, i) => (w.row === row ? i : -1)).filter((i) => i >= 0);
      if (idx.length === 0) {
        return { row, startUs: l.startUs, endUs: l.endUs, trueClass: l.classIndex, trueName: meta.classNames[l.classIndex], predicted: null, predictedName: null, confidence: null, windows: 0, activity: null, macReduction: null, correct: null };
      }
      const mean = new Float64Array(K);
      for (const i of idx) for (let k = 0; k < K; k++) mean[k] += probs[i][k] / idx.length;
      const k = argmax(mean);
      const act = idx.reduce((a, i) => a + windows[i].activity, 0) / idx.length;
      const mr = idx.reduce((a, i) => a + windows[i].macReduction, 0) / idx.length;
      return { row, startUs: l.startUs, endUs: l.endUs, trueClass: l.classIndex, trueName: meta.classNames[l.classIndex], predicted: k, predictedName: meta.classNames[k], confidence: mean[k], windows: idx.length, activity: act, macReduction: mr, correct: k === l.classIndex };
    });
    const classified = gestures.filter((g) => g.correct !== null);
    const ok = classified.filter((g) => g.correct).length;
    const wOk = windows.filter((w) => w.predicted === w.trueClass).length;
    accuracy = { windows: windows.length ? wOk / windows.length : NaN, gestures: classified.length ? ok / classified.length : NaN, gesturesCorrect: ok, gesturesClassified: classified.length };
  }
  return {
    file, classes: [...meta.classNames], windowUs: prep.windowUs, binUs: prep.binUs, labelled: labels !== null, windows, gestures, accuracy,
    activity: windows.length ? actSum / windows.length : NaN, macReduction: dense / Math.max(1, executed), macs: { executed, dense },
    seconds: (performance.now() - t0) / 1000,
  };
}

const pct = (v: number | null) => (v === null || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(1)}%`);
const sec = (us: number) => `${(us / 1e6).toFixed(2)}s`;

/** Human-readable table of a classification. */
export function formatClassification(r: ClassifyResult): string {
  const w = Math.max(...r.classes.map((c) => c.length), 9);
  const lines = [`${r.file}: ${r.windows.length} windows of ${r.windowUs / 1000} ms (${r.windowUs / r.binUs} bins of ${r.binUs / 1000} ms)`, ''];
  if (r.gestures) {
    lines.push(`${'interval'.padEnd(17)}  ${'true'.padEnd(w)}  ${'predicted'.padEnd(w)}  conf.  windows  activity  MAC red.`);
    for (const g of r.gestures) {
      const mark = g.correct === null ? ' (shorter than one window)' : g.correct ? '  ✓' : '  ✗';
      lines.push(`${`${sec(g.startUs)}–${sec(g.endUs)}`.padEnd(17)}  ${g.trueName.padEnd(w)}  ${(g.predictedName ?? '–').padEnd(w)}  ${pct(g.confidence).padStart(5)}  ${String(g.windows).padStart(7)}  ${pct(g.activity).padStart(8)}  ${g.macReduction === null ? '–' : '÷' + g.macReduction.toFixed(1)}${mark}`);
    }
    lines.push('');
    const a = r.accuracy!;
    lines.push(`accuracy: ${a.gesturesCorrect}/${a.gesturesClassified} gestures (${pct(a.gestures)}), ${pct(a.windows)} of windows`);
  } else {
    lines.push(`${'window'.padEnd(17)}  ${'predicted'.padEnd(w)}  conf.  activity  MAC red.`);
    for (const x of r.windows) lines.push(`${`${sec(x.startUs)}–${sec(x.endUs)}`.padEnd(17)}  ${x.predictedName.padEnd(w)}  ${pct(x.confidence).padStart(5)}  ${pct(x.activity).padStart(8)}  ÷${x.macReduction.toFixed(1)}`);
    lines.push('');
  }
  lines.push(`mean EGRU activity ${pct(r.activity)} of units per step; MAC reduction ÷${r.macReduction.toFixed(2)} vs a dense GRU of the same size`, '');
  return lines.join('\n');
}

export const classifyCommand: Command = {
  name: 'classify',
  summary: 'label an event recording with a model bundle (default: the bundled model and sample recording)',
  usage: USAGE,
  async run(args) {
    const { flags, positional } = parseArgs(args, ['json', 'no-labels']);
    if (positional.length > 1) throw new UsageError(`expected at most one FILE, got ${positional.length}`);
    for (const k of Object.keys(flags)) if (!['json', 'no-labels', 'model', 'labels', 'kernel'].includes(k)) throw new UsageError(`unknown option --${k}`);
    const file = positional[0] ?? DEFAULT_RECORDING;
    const modelDir = typeof flags.model === 'string' ? flags.model : DEFAULT_MODEL_DIR;
    if (!existsSync(file)) throw new UsageError(`recording ${file} does not exist`);
    if (!existsSync(path.join(modelDir, 'model.json'))) throw new UsageError(`${modelDir} is not a model bundle (no model.json)`);
    const kernelPref = typeof flags.kernel === 'string' ? flags.kernel : 'auto';
    if (!['auto', 'native', 'native-dense', 'reference', 'reference-dense'].includes(kernelPref)) throw new UsageError(`unknown --kernel ${kernelPref}`);
    const { meta, model } = await loadBundle(modelDir, getEgruKernel(kernelPref === 'auto' ? undefined : (kernelPref as KernelPreference)));
    let labelsFile: string | null = null;
    if (typeof flags.labels === 'string') {
      if (!existsSync(flags.labels)) throw new UsageError(`--labels ${flags.labels} does not exist`);
      labelsFile = flags.labels;
    } else if (!flags['no-labels']) {
      const beside = path.join(path.dirname(file), `${path.basename(file).replace(/\.[^.]+$/, '')}_labels.csv`);
      if (existsSync(beside)) labelsFile = beside;
    }
    const labels = labelsFile ? await readFile(labelsFile, 'utf8') : null;
    const r = await classifyRecording(model, meta, file, labels, labelsFile ?? undefined);
    process.stdout.write(flags.json ? JSON.stringify({ model: modelDir, labels: labelsFile, ...r }, null, 2) + '\n' : formatClassification(r));
    return 0;
  },
};
