/**
 * The "bundled" block of `npm run bench:egru`: the native sparse and dense kernels on the product's own workload, the
 * first EGRU layer of the bundled model (assets/models/default) fed with the labelled windows of the bundled
 * recording (assets/recordings/sample.aedat4), binned exactly as `egru classify` and training bin them.
 *
 * The main table's workload is synthetic (random weights, a calibrated threshold, 5 % input at 32×32×2). A trained
 * layer on real frames differs in the two numbers the sparse kernels live on: its input density (the frame size and bin
 * width decide it) and its backward sparsity (trained states sit far from θ, outside the surrogate support, where
 * random weights leave nearly every unit inside it). This block measures both, and what the kernels make of them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setNativeEgruThreads, type NativeEgru } from '../core/egru/native.ts';
import type { EgruKernel, EgruLayerParams } from '../core/egru/types.ts';
import { openEvents } from '../core/events/formats/index.ts';
import { parseGestureLabels } from '../core/events/labels.ts';
import { concatPackets } from '../core/events/packet.ts';
import { loadBundle } from '../core/model/bundle.ts';
import { WindowBinner, densify, sortedByTime, windowsForLabels } from '../core/train/datasets/preprocess.ts';
import { Rng } from '../core/util/rng.ts';
import { median } from './stats.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface BundledRow {
  impl: 'native-sparse' | 'native-dense';
  threads: number;
  H: number;
  C: number;
  T: number;
  N: number;
  /** Non-zero fraction of the batch's T·N·C inputs. */
  input_density: number;
  activity: number;
  backward_sparsity: number;
  fwd_ms: number;
  fwd_bwd_ms: number;
}

export interface BundledWorkload {
  model: string;
  recording: string;
  windows: number;
  frame: string;
  bin_ms: number;
  rows: BundledRow[];
}

/** The bundled recording's labelled windows as dense [T, C] inputs, and the bundled model's first layer. */
async function loadWorkload(kernel: EgruKernel<Float32Array>): Promise<{ p: EgruLayerParams<Float32Array>; windows: Float32Array[]; T: number; frame: string; binMs: number }> {
  const { meta, model } = await loadBundle(path.join(root, 'assets/models/default'), kernel);
  if (meta.preprocessing.kind !== 'event-frames') throw new Error('bundled model: expected event-frame preprocessing');
  const binner = new WindowBinner(meta.preprocessing);
  const reader = await openEvents(path.join(root, 'assets/recordings/sample.aedat4'));
  const packets = [];
  try {
    for await (const pk of reader.packets()) packets.push(pk);
  } finally {
    await reader.close();
  }
  const events = sortedByTime(concatPackets(packets));
  const labels = parseGestureLabels(await readFile(path.join(root, 'assets/recordings/sample_labels.csv'), 'utf8'));
  const windows = windowsForLabels(labels, binner.prep.windowUs).map((w) => densify(binner.bin(events, w.startUs)));
  if (windows.length === 0) throw new Error('bundled recording: no complete labelled window');
  const f = binner.prep.frame;
  return { p: model.layers[0], windows, T: binner.T, frame: `${f.width}×${f.height}×${binner.C / (f.width * f.height)}`, binMs: binner.prep.binUs / 1000 };
}

/** Batch of N sequences [T, N, C] cycling through the windows. */
function batch(windows: Float32Array[], T: number, C: number, N: number): Float32Array {
  const x = new Float32Array(T * N * C);
  for (let n = 0; n < N; n++) {
    const w = windows[n % windows.length];
    for (let t = 0; t < T; t++) x.set(w.subarray(t * C, (t + 1) * C), (t * N + n) * C);
  }
  return x;
}

/**
 * Times the bundled layer at N = 1 (each window in turn: live classification; one thread) and N = 16 (the windows
 * cycled: a fine-tuning batch; one and two threads): inference forward, and training forward + BPTT with a dense
 * upstream gradient on the trace (the bundled readout's input) and no input gradient. Sparse and dense blocks
 * alternate, `rounds` rounds of `runs` calls each; medians over all. Leaves the kernels on one thread.
 */
export async function bundledWorkload(nat: NativeEgru, runs: number, rounds: number): Promise<BundledWorkload> {
  const { p, windows, T, frame, binMs } = await loadWorkload(nat.sparse);
  const C = p.inputSize;
  const H = p.hiddenSize;
  const rows: BundledRow[] = [];
  for (const [N, threads] of [[1, 1], [16, 1], [16, 2]] as const) {
    setNativeEgruThreads(threads);
    // N = 1: one batch per window, a run covers all of them (ms per window); N = 16: one batch.
    const xs = N === 1 ? windows : [batch(windows, T, C, N)];
    let nz = 0;
    for (const x of xs) for (let i = 0; i < x.length; i++) if (x[i] !== 0) nz++;
    const density = nz / (xs.length * T * N * C);
    const rng = new Rng(11);
    const dtr = Float32Array.from({ length: T * N * H }, () => rng.normal(0, 0.01));
    const times = { sparse: { f: [] as number[], fb: [] as number[] }, dense: { f: [] as number[], fb: [] as number[] } };
    // Activity and backward sparsity: means over the steps of every batch (every window when N = 1), untimed.
    let activity = 0;
    let bsp = 0;
    for (const x of xs) {
      const f = nat.sparse.forward(p, x, T, N, { keepCache: true });
      const g = nat.sparse.backward(p, x, f, { dtr }, { inputGrad: false });
      activity += f.macs.activity.reduce((s, v) => s + v, 0) / (T * xs.length);
      bsp += g.macs.backwardSparsity.reduce((s, v) => s + v, 0) / (T * xs.length);
    }
    const once = (k: EgruKernel<Float32Array>, train: boolean, x: Float32Array): void => {
      if (!train) {
        k.forward(p, x, T, N, { keepCache: false });
        return;
      }
      k.backward(p, x, k.forward(p, x, T, N, { keepCache: true }), { dtr }, { inputGrad: false });
    };
    for (let round = 0; round < rounds; round++) {
      for (const impl of ['sparse', 'dense'] as const) {
        const k = nat[impl];
        for (const train of [false, true]) {
          for (const x of xs) once(k, train, x); // warm-up
          for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            for (const x of xs) once(k, train, x);
            (train ? times[impl].fb : times[impl].f).push((performance.now() - t0) / xs.length);
          }
        }
      }
    }
    for (const impl of ['sparse', 'dense'] as const) {
      rows.push({ impl: `native-${impl}`, threads, H, C, T, N, input_density: density, activity, backward_sparsity: bsp, fwd_ms: median(times[impl].f), fwd_bwd_ms: median(times[impl].fb) });
    }
  }
  setNativeEgruThreads(1);
  return { model: 'assets/models/default', recording: 'assets/recordings/sample.aedat4', windows: windows.length, frame, bin_ms: binMs, rows };
}
