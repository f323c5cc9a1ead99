/**
 * `npm run bench:egru [-- --quick] [-- --json] [-- --H=512] [-- --machine] [-- --bundled] [-- --smoke]` — EGRU layer speed: native sparse vs native dense vs the
 * TypeScript reference vs a tfjs-wasm GRU vs PyTorch `nn.GRU` (when `/usr/bin/python3 -c "import torch"` works).
 *
 * Workload (perf-notes §2-§3): C = 2048 inputs (32×32×2 frames) at input density 5 % / 100 %, H ∈ {256, 512,
 * 1024}, T = 100, N ∈ {1, 16}, activity ∈ {100, 50, 20, 10, 5} % reached by calibrating one threshold θ per
 * run (γ = 0.7, ε = 1.7). Times are medians of ≥ 5 runs; every ratio is taken inside this one run.
 * Each implementation is timed in its own block — one untimed warm-up, then its forward runs back to back, then its
 * forward+backward runs — the steady state of one kernel running continuously (a live stream, a training loop).
 * The sparse and dense blocks alternate, and the medians are over all rounds: with one sample (calls of 2-50 ms) five
 * rounds of 5 runs (15 runs with --quick), with 16 samples three rounds of 2 (1 with --quick). On a shared VM one slow
 * phase could otherwise set a ratio by itself: two --quick runs a minute apart measured the N = 1, 10 % forward
 * ratio at 6.5× and 14.8×, and in one full run the N = 16 dense forward took 93 ms at one activity and 166 ms at
 * another, for the same dense work (single blocks, session 11).
 * Interleaving implementations instead times each call in caches the previous, different call left behind: after
 * a dense call (which streams all of W and its packed copies) the N = 1 sparse forward ran 1.4× slower on a Xeon
 * with 2 MiB of L2. That cold figure is printed too, under the N = 1 rows (JSON `fwd_after_dense_ms`).
 *
 * First it prints one core's machine balance (JSON `machine`; `--machine` prints only that): the multiply-add peak and
 * the read bandwidth from L2, L3 and memory, measured in the same run (see machineBalance). After the table, the
 * bundled model's layer on the bundled recording (bench/egru-bundled.ts; JSON `bundled`; `--bundled` prints only it):
 * the product's own workload, with its real input density and a trained layer's backward sparsity.
 *
 * Conventions:
 * - fwd = inference forward (no cache); fwd+bwd = training forward (cache kept) + BPTT with a dense upstream
 *   gradient on y, WITHOUT the input gradient x̄ (a first layer fed by camera frames does not need it; torch is
 *   run the same way: x.requires_grad = False).
 * - Effective GFLOP/s = dense-GRU FLOPs / time: fwd 2·T·N·3H·(C+H), bwd (no x̄) 2·T·N·3H·(C+2H). So a sparse
 *   kernel may show more than the machine's peak: that is the point.
 * - The dense GRUs (tfjs, torch) do not depend on activity or input density: measured once per (H, N).
 * - The TypeScript reference (float64 maths, plain loops) is measured only where it finishes in reasonable
 *   time: N = 1, H ≤ 512, 5 runs (1 with --quick, which also leaves out its full-activity rows). tfjs-wasm
 *   (hand-written BPTT, explicit transposes) runs 5 times at every size (3.3 s forward, 9.9 s forward+backward per run
 *   at H = 1024, N = 16 on the session-13 Xeon); --quick: once, N = 1 only.
 * - Native 2-thread figures: N = 16 forward splits the batch, or the units when Rk is over 1 MiB; one sample's forward
 *   runs on one thread (its 2-thread row times the same forward), and the backward splits the units (for one sample
 *   when Rk is at least 512 KiB). Times are wall-clock, so on a loaded machine the 2-thread rows suffer most. The
 *   row-read bounds and the cold figure are printed under the one-thread N = 1 rows only.
 * - "Training step" rows: one whole optimiser step's maths (model forward, loss, BPTT, readout gradients) of an
 *   EGRU layer + Linear readout at H = 512, N = 16, 5 % input, 10 % activity, on 1 thread, with the kernels' own
 *   2-thread split (as in the 2-thread rows: barriers every step), and with the batch split into two
 *   shards of 8 sequences that run whole in two threads (core/train/data-parallel.ts, `workers: 2`). JSON: `training`.
 * - Row-read bound (N = 1 rows, printed under the native pair; JSON `row_read_bound_ms` on the native-sparse row): the
 *   time a plain native loop takes to read just the rows that forward needs — per step one 3H-float row of W per
 *   non-zero input and one row of Rk per unit that fired at t−1 — timed in its own block after the sparse kernel's.
 *   The sparse forward's multiple of it says how close it runs to those weight reads; dense ÷ bound is the largest
 *   sparse÷dense ratio a kernel that reads every needed row once per step could show at this run's memory speed (the
 *   bound moves with the shared machine's bandwidth). The one-sample kernel reads W once per call instead (all T
 *   steps' input rows from one pass over W, fwdThread), so it can run below the bound.
 * - Read-once bound (same place; JSON `read_once_bound_ms`): the same loop reading each W row some step needs once,
 *   in order, then the same Rk rows. Any forward with float32 weights must at least read these bytes, so dense ÷
 *   this bound is the largest sparse÷dense forward ratio this machine allows at this moment.
 * - On a shared machine wall-clock medians also count the time this process was not scheduled. The native rows
 *   therefore carry CPU-time medians too (process user+system time of the call, all threads: for 2 threads it is the
 *   total work, spin-waiting in barriers included), with the sparse÷dense ratio of those ("cpu" column; JSON
 *   `fwd_cpu_ms`, `fwd_bwd_cpu_ms`). They do not remove cache and memory-bandwidth contention.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNativeEgru, nativeAllocatorSetting, type NativeEgru, nativeEgruUnavailableReason, nativeFmaLoop, nativeSumRows, setNativeEgruThreads, type NativeBackwardOptions } from '../core/egru/native.ts';
import { referenceKernel } from '../core/egru/reference.ts';
import { bundledWorkload, type BundledWorkload } from './egru-bundled.ts';
import type { EgruKernel, EgruLayerParams } from '../core/egru/types.ts';
import { Rng } from '../core/util/rng.ts';
import { resolveModelConfig } from '../core/model/config.ts';
import { initGestureModel } from '../core/model/init.ts';
import { DataParallel, shareModelParameters } from '../core/train/data-parallel.ts';
import { median } from './stats.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
// --smoke: toy sizes, one run per row, a few seconds (test/bench/egru-json.test.ts holds the --json output's shape with it;
// its numbers mean nothing).
const SMOKE = args.includes('--smoke');
const MACHINE_ONLY = args.includes('--machine');
const BUNDLED_ONLY = args.includes('--bundled');
const JSON_OUT = args.includes('--json');
const PEAK = args.indexOf('--peak-child');

const C = SMOKE ? 64 : 2048;
const T = SMOKE ? 12 : 100;
const GAMMA = 0.7;
const EPS = 1.7;

/** One row of the table and of `--json`'s `results` (test/bench/egru-json.test.ts reads this shape). */
export interface Row {
  impl: 'native-sparse' | 'native-dense' | 'reference' | 'tfjs-wasm' | 'torch';
  threads: number;
  H: number;
  N: number;
  activity: number;
  input_density: number;
  backward_sparsity: number | null;
  fwd_ms: number | null;
  fwd_bwd_ms: number | null;
  gflops: number | null;
  gflops_fwd_bwd: number | null;
  runs: number;
  /**
   * native-sparse, N = 1: median time of a plain native loop reading just the rows this forward needs (per step, one
   * row of W per non-zero input and one row of Rk per unit that fired at t−1), the issue's "weight-row read bound".
   */
  row_read_bound_ms?: number;
  /**
   * native-sparse, N = 1: the same loop reading each W row that some step needs only once, in order (one pass over W),
   * then the same Rk rows: a floor for any forward that keeps float32 weights, whatever it does with the rows.
   */
  read_once_bound_ms?: number;
  /** native-sparse, N = 1: median forward time when each call directly follows a native-dense forward (cold caches). */
  fwd_after_dense_ms?: number;
  /** CPU time (user + system, all threads) of the call, median; native rows only. */
  fwd_cpu_ms?: number;
  fwd_bwd_cpu_ms?: number;
}

const log = (s: string): void => {
  if (!JSON_OUT) console.log(s);
  else console.error(s);
};

function fwdFlops(H: number, N: number): number {
  return 2 * T * N * 3 * H * (C + H);
}
function bwdFlops(H: number, N: number): number {
  return 2 * T * N * 3 * H * (C + 2 * H);
}

function makeParams(H: number, seed: number): EgruLayerParams<Float32Array> {
  const rng = new Rng(seed);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal(0, std);
    return a;
  };
  // EvNN init (spec §2): xavier_normal over [in, 3H]; biases zero; θ set by calibration.
  return {
    inputSize: C,
    hiddenSize: H,
    kernel: normal(C * 3 * H, Math.sqrt(2 / (C + 3 * H))),
    recurrentKernel: normal(H * 3 * H, Math.sqrt(2 / (H + 3 * H))),
    bias: new Float32Array(3 * H),
    recurrentBias: new Float32Array(3 * H),
    theta: new Float32Array(H),
    gamma: GAMMA,
    eps: EPS,
  };
}

/** Event frames: a fraction `density` of the T·N·C inputs non-zero (counts 1-3, scaled like normalised frames). */
function makeInput(N: number, density: number, seed: number, steps = T): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(steps * N * C);
  for (let i = 0; i < x.length; i++) if (density >= 1 || rng.next() < density) x[i] = (1 + rng.int(3)) * 0.5;
  return x;
}

/** Sets one threshold for all units so that the measured activity (mean o) hits `target` (bisection). */
function calibrate(kernel: EgruKernel<Float32Array>, p: EgruLayerParams<Float32Array>, N: number, density: number, target: number): void {
  if (target >= 1) {
    p.theta.fill(-50); // ĉ ∈ (−1, ∞) after the first step: every unit fires every step
    return;
  }
  const Nc = Math.max(N, 4);
  const Tc = 40;
  const x = makeInput(Nc, density, 99, Tc);
  let lo = -2;
  let hi = 2;
  for (let it = 0; it < 18; it++) {
    const mid = 0.5 * (lo + hi);
    p.theta.fill(mid);
    const f = kernel.forward(p, x, Tc, Nc);
    const act = f.macs.activity.reduce((s, v) => s + v, 0) / Tc;
    if (act > target) lo = mid;
    else hi = mid;
  }
  p.theta.fill(0.5 * (lo + hi));
}

interface Timing {
  fwd: number[];
  fwdBwd: number[];
  fwdCpu: number[];
  fwdBwdCpu: number[];
  activity: number;
  bsp: number;
}

const newTiming = (): Timing => ({ fwd: [], fwdBwd: [], fwdCpu: [], fwdBwdCpu: [], activity: 0, bsp: 0 });

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

function timeForward(k: EgruKernel<Float32Array>, p: EgruLayerParams<Float32Array>, x: Float32Array, N: number, tm: Timing): void {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const f = k.forward(p, x, T, N, { keepCache: false });
  tm.fwd.push(performance.now() - t0);
  tm.fwdCpu.push(cpuMs(c0));
  tm.activity = f.macs.activity.reduce((s, v) => s + v, 0) / T;
}

function timeForwardBackward(k: EgruKernel<Float32Array>, p: EgruLayerParams<Float32Array>, x: Float32Array, N: number, dy: Float32Array, tm: Timing): void {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const ft = k.forward(p, x, T, N, { training: true });
  const opts: NativeBackwardOptions = { training: true, inputGrad: false };
  const g = k.backward(p, x, ft, { dy }, opts);
  tm.fwdBwd.push(performance.now() - t0);
  tm.fwdBwdCpu.push(cpuMs(c0));
  tm.bsp = g.macs.backwardSparsity.reduce((s, v) => s + v, 0) / T;
}

/**
 * The rows a one-sample sparse forward reads, in step order: W rows of the non-zero inputs of each step, Rk rows of
 * the units with y ≠ 0 at the step before (from one forward run). Returns a timer that reads exactly those rows, and
 * one that reads each of those W rows only once (ascending) before the same Rk rows (the read-once bound).
 */
function rowReadBound(kernel: EgruKernel<Float32Array>, p: EgruLayerParams<Float32Array>, x: Float32Array): { rowsW: number; rowsR: number; rowsWOnce: number; time: () => number; timeOnce: () => number } {
  const H = p.hiddenSize;
  const f = kernel.forward(p, x, T, 1, { keepCache: false });
  const w: number[] = [];
  const r: number[] = [];
  const used = new Uint8Array(C);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < C; i++)
      if (x[t * C + i] !== 0) {
        w.push(i);
        used[i] = 1;
      }
    if (t > 0) for (let j = 0; j < H; j++) if (f.y[(t - 1) * H + j] !== 0) r.push(j);
  }
  const idxW = Int32Array.from(w);
  const idxR = Int32Array.from(r);
  const once: number[] = [];
  for (let i = 0; i < C; i++) if (used[i]) once.push(i);
  const idxWOnce = Int32Array.from(once);
  const timed = (a: Int32Array) => () => {
    const t0 = performance.now();
    nativeSumRows(p.kernel, 3 * H, a);
    nativeSumRows(p.recurrentKernel, 3 * H, idxR);
    return performance.now() - t0;
  };
  return { rowsW: idxW.length, rowsR: idxR.length, rowsWOnce: idxWOnce.length, time: timed(idxW), timeOnce: timed(idxWOnce) };
}

/** One core's arithmetic peak and read bandwidths, measured in this run (see machineBalance). */
export interface MachineBalance {
  fma_gflops: number;
  /** GB/s reading a buffer of this many KiB over and over (512: L2; 3072, 12288: L3; 262144: memory). */
  read_gbs: Record<string, number>;
  /** Bytes per FLOP at 3 MiB: what an L3-bound gather gets for what a compute-bound GEMM gets. */
  bytes_per_flop_3mib: number;
}

/**
 * The machine balance the sparse÷dense ratios depend on. The dense kernels' big products are GEMMs bound by the
 * core's multiply-add rate; the sparse kernels' gathers are bound by how fast the rows they need arrive from L2/L3.
 * So a machine with more arithmetic per byte of cache bandwidth shows smaller sparse÷dense ratios for the same
 * kernels, and this block lets a reader compare the ratios of runs on different machines. Both probes are plain native
 * loops of the active ISA path: twelve register-only multiply-add chains (nativeFmaLoop) and sumRows over a buffer
 * read again and again in 64 KiB rows (as perf-notes §1 measured: long sequential reads; 4 KiB rows read L2 at half
 * that rate here, because the prefetcher restarts at every row); medians of 5, one thread.
 */
function machineBalance(): MachineBalance {
  let iters = 1e5;
  for (;;) {
    const t0 = performance.now();
    nativeFmaLoop(iters);
    if (performance.now() - t0 > 10 || iters > 1e9) break;
    iters *= 4;
  }
  const fma: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const flops = nativeFmaLoop(iters)!;
    fma.push(flops / (performance.now() - t0) / 1e6);
  }
  const read_gbs: Record<string, number> = {};
  for (const kib of [512, 3072, 12288, 262144]) {
    const cols = 16384;
    const rows = (kib * 1024) / 4 / cols;
    const M = new Float32Array(rows * cols).fill(1); // written once so every page is mapped before timing
    const passes = Math.max(1, Math.ceil((256 * 1024) / kib)); // ≥ 256 MiB read per timed call
    const idx = new Int32Array(rows * passes);
    for (let i = 0; i < idx.length; i++) idx[i] = i % rows;
    nativeSumRows(M, cols, idx);
    const gbs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      nativeSumRows(M, cols, idx);
      gbs.push((idx.length * cols * 4) / (performance.now() - t0) / 1e6);
    }
    read_gbs[String(kib)] = median(gbs);
  }
  const fmaG = median(fma);
  return { fma_gflops: fmaG, read_gbs, bytes_per_flop_3mib: read_gbs['3072'] / fmaG };
}

// ------------------------------------------------------------------------------------------------
// tfjs-wasm GRU (cuDNN/PyTorch "reset-after" GRU, same FLOPs as EGRU-dense). Its matMul gradient uses explicit
// tf.transpose: matMul with transposeA/B is 10-50x slower on wasm (perf-notes §0 trap 2).
type Tf = typeof import('@tensorflow/tfjs-core');
let tfPromise: Promise<Tf | null> | null = null;
async function loadTf(): Promise<Tf | null> {
  tfPromise ??= (async () => {
    try {
      const tf = await import('@tensorflow/tfjs-core');
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dist = path.join(here, '..', 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + path.sep;
      wasm.setWasmPaths(dist);
      const ok = await tf.setBackend('wasm');
      if (!ok) return null;
      await tf.ready();
      return tf;
    } catch (e) {
      log(`tfjs-wasm unavailable: ${(e as Error).message}`);
      return null;
    }
  })();
  return tfPromise;
}

async function timeTfjs(tf: Tf, H: number, N: number, runs: number): Promise<{ fwd: number; fwdBwd: number }> {
  const rng = new Rng(5);
  const rand = (shape: number[], std: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal(0, std);
    return tf.tensor(a, shape);
  };
  const W = (rand([C, 3 * H], Math.sqrt(2 / (C + 3 * H))));
  const R = (rand([H, 3 * H], Math.sqrt(2 / (4 * H))));
  const bx = tf.zeros([3 * H]);
  const br = tf.zeros([3 * H]);
  const x = tf.tensor(makeInput(N, 0.05, 3), [T * N, C]);
  const dy = rand([T, N, H], 1);
  // Forward of the GRU; with `keep`, the per-step values its backward needs.
  const forward = (keep: boolean) => {
    const a = tf.reshape(tf.add(tf.matMul(x, W), bx), [T, N, 3 * H]);
    let h: any = tf.zeros([N, H]);
    const hs: any[] = [];
    const saved: any[] = [];
    for (let t = 0; t < T; t++) {
      const at = tf.reshape(tf.slice(a, [t, 0, 0], [1, N, 3 * H]), [N, 3 * H]);
      const q = tf.add(tf.matMul(h, R), br);
      const [aU, aR, aG] = tf.split(at, 3, 1);
      const [qU, qR, qG] = tf.split(q, 3, 1);
      const z = tf.sigmoid(tf.add(aU, qU));
      const r = tf.sigmoid(tf.add(aR, qR));
      const n = tf.tanh(tf.add(aG, tf.mul(r, qG)));
      if (keep) saved.push({ hPrev: h, z, r, n, qG });
      h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), n));
      hs.push(h);
    }
    return { hs, saved };
  };
  // Hand-written BPTT (tfjs autograd would use matMul with transposeA/B, 10-50x slower on wasm: perf-notes
  // trap 2); every transpose is an explicit tf.transpose and every product a plain NN matMul.
  const backward = (saved: any[]) => {
    const RT = tf.transpose(R);
    let dh: any = tf.zeros([N, H]);
    let dR: any = tf.zeros([H, 3 * H]);
    const das: any[] = new Array(T);
    const dqs: any[] = new Array(T);
    for (let t = T - 1; t >= 0; t--) {
      const { hPrev, z, r, n, qG } = saved[t];
      dh = tf.add(dh, tf.reshape(tf.slice(dy, [t, 0, 0], [1, N, H]), [N, H]));
      const dn = tf.mul(dh, tf.sub(1, z));
      const dz = tf.mul(dh, tf.sub(hPrev, n));
      const dnPre = tf.mul(dn, tf.sub(1, tf.mul(n, n)));
      const dr = tf.mul(dnPre, qG);
      const drPre = tf.mul(dr, tf.mul(r, tf.sub(1, r)));
      const dzPre = tf.mul(dz, tf.mul(z, tf.sub(1, z)));
      const dq = tf.concat([dzPre, drPre, tf.mul(dnPre, r)], 1);
      das[t] = tf.concat([dzPre, drPre, dnPre], 1);
      dqs[t] = dq;
      dR = tf.add(dR, tf.matMul(tf.transpose(hPrev), dq));
      dh = tf.add(tf.mul(dh, z), tf.matMul(dq, RT));
    }
    const DA = tf.concat(das, 0);
    const dW = tf.matMul(tf.transpose(x), DA);
    return [dW, dR, tf.sum(DA, 0), tf.sum(tf.concat(dqs, 0), 0)];
  };
  const fwd: number[] = [];
  const fb: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    tf.tidy(() => {
      forward(false).hs[T - 1].dataSync();
    });
    fwd.push(performance.now() - t0);
    t0 = performance.now();
    tf.tidy(() => {
      const { saved } = forward(true);
      for (const g of backward(saved)) g.dataSync();
    });
    fb.push(performance.now() - t0);
  }
  tf.dispose([W, R, bx, br, x, dy]);
  return { fwd: median(fwd), fwdBwd: median(fb) };
}

// ------------------------------------------------------------------------------------------------
// PyTorch nn.GRU through bench/egru_torch.py, one thread (torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1).
function torchAvailable(): string | null {
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 not found';
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'python3 cannot import torch (apt-get install python3-torch libopenblas-dev)';
}

function timeTorch(H: number, N: number, runs: number, threads = 1): { fwd: number; fwdBwd: number; peakMiB?: number } | null {
  const r = spawnSync('/usr/bin/python3', [path.join(here, 'egru_torch.py'), JSON.stringify({ C, H, N, T, runs, threads })], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: 'PASSIVE' },
    timeout: 900_000,
  });
  if (r.status !== 0) {
    log(`torch run failed: ${r.stderr.slice(-400)}`);
    return null;
  }
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { fwd_ms: number; fwd_bwd_ms: number; peak_mib?: number };
  return { fwd: out.fwd_ms, fwdBwd: out.fwd_bwd_ms, peakMiB: out.peak_mib };
}

// ------------------------------------------------------------------------------------------------
/**
 * Peak resident memory of THIS process in MiB: Linux's VmHWM (the high-water mark of this process's own address
 * space). Not getrusage's maxRSS: on Linux that survives exec, so a child spawned by a big parent reports at least
 * the parent's RSS (every child of this bench printed the parent's 546-700 MiB, torch's too).
 */
function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** `--peak-child impl`: one fwd+bwd of T=100, N=16, H=1024 in a fresh process; prints its peak RSS (MiB). */
function peakChild(impl: string): void {
  const nat = loadNativeEgru()!;
  const k = impl === 'native-dense' ? nat.dense : nat.sparse;
  const H = 1024;
  const N = 16;
  const p = makeParams(H, 1);
  calibrate(nat.sparse, p, N, 0.05, 0.1);
  const x = makeInput(N, 0.05, 2);
  const dy = new Float32Array(T * N * H).fill(0.01);
  const base = process.memoryUsage().rss;
  const ft = k.forward(p, x, T, N, { training: true });
  k.backward(p, x, ft, { dy }, { training: true, inputGrad: false } as NativeBackwardOptions);
  console.log(JSON.stringify({ peak_mib: peakRssMiB(), base_mib: base / 2 ** 20 }));
}

function peakOf(impl: string): { peak: number; base: number } | null {
  const r = spawnSync(process.execPath, [path.join(here, '..', 'bin', 'run-ts.mjs'), path.join(here, 'egru.ts'), '--peak-child', impl], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) return null;
  const o = JSON.parse(r.stdout.trim().split('\n').pop()!) as { peak_mib: number; base_mib: number };
  return { peak: o.peak_mib, base: o.base_mib };
}

const fmt = (v: number | null, d = 1): string => (v == null ? '–' : v >= 1000 ? v.toFixed(0) : v.toFixed(d));

async function main(): Promise<void> {
  if (PEAK >= 0) {
    peakChild(args[PEAK + 1]);
    return;
  }
  const nat = loadNativeEgru();
  if (!nat) {
    console.error(`native EGRU addon unavailable: ${nativeEgruUnavailableReason()}`);
    process.exit(1);
  }
  // --H=256,512 restricts the hidden sizes (e.g. to re-measure one size on a busy machine).
  const hArg = args.find((a) => a.startsWith('--H='));
  const Hs = hArg ? hArg.slice(4).split(',').map(Number) : SMOKE ? [32] : QUICK ? [512] : [256, 512, 1024];
  const Ns = [1, 16];
  const acts = QUICK || SMOKE ? [1, 0.1] : [1, 0.5, 0.2, 0.1, 0.05];
  const dens = QUICK ? [0.05] : [0.05, 1];
  const runs = SMOKE ? 1 : QUICK ? 3 : 5;
  const N1_ROUNDS = SMOKE ? 1 : 5;
  const BATCH_ROUNDS = SMOKE ? 1 : 3;
  const threadCounts = [1, 2];
  const torchWhy = torchAvailable();
  const tf = await loadTf();
  log(`EGRU bench: C=${C} T=${T} γ=${GAMMA} ε=${EPS}; native ISA ${nat.isa}; ${runs} runs (median)${QUICK ? ' [--quick]' : ''}${SMOKE ? ' [--smoke: toy sizes, the figures mean nothing]' : ''}`);
  log(`torch: ${torchWhy ?? 'available (1 thread)'}; tfjs-wasm: ${tf ? 'available (1 thread)' : 'unavailable'}; malloc: ${nativeAllocatorSetting()}`);
  const rows: Row[] = [];
  const machine = machineBalance();
  const gb = machine.read_gbs;
  log(`machine, one core (this run): multiply-add peak ${fmt(machine.fma_gflops)} GFLOP/s; reads ${fmt(gb['512'])} GB/s (512 KiB), ${fmt(gb['3072'])} (3 MiB), ${fmt(gb['12288'])} (12 MiB), ${fmt(gb['262144'])} (256 MiB) → ${machine.bytes_per_flop_3mib.toFixed(2)} B/FLOP at 3 MiB`);
  log(`  (perf-notes §1, the Zen 4 the targets were set on: 117 GFLOP/s; 108-112, 93-98, 67-78, 24-25 GB/s → 0.8 B/FLOP. Sparse gathers are bound by the reads, dense GEMMs by the multiply-adds: fewer bytes per FLOP, smaller sparse÷dense ratios.)`);
  if (MACHINE_ONLY) {
    if (JSON_OUT) console.log(JSON.stringify({ machine }));
    return;
  }
  if (BUNDLED_ONLY) {
    const bundled = await bundledBlock(nat, runs);
    if (JSON_OUT) console.log(JSON.stringify({ bundled, machine }));
    return;
  }

  // Dense baselines: once per (H, N).
  const base = new Map<string, { torch: { fwd: number; fwdBwd: number } | null; tfjs: { fwd: number; fwdBwd: number } | null }>();
  for (const H of Hs) {
    for (const N of Ns) {
      const torch = torchWhy ? null : timeTorch(H, N, SMOKE ? 1 : QUICK ? 2 : runs);
      // tfjs takes up to ~13 s per run (H=1024, N=16, forward + forward+backward): one run and N = 1 only with --quick.
      const tfRuns = QUICK || SMOKE ? 1 : runs;
      const tfjs = tf && !((QUICK || SMOKE) && N > 1) ? await timeTfjs(tf, H, N, tfRuns) : null;
      base.set(`${H}/${N}`, { torch, tfjs });
      if (torch) rows.push({ impl: 'torch', threads: 1, H, N, activity: 1, input_density: 1, backward_sparsity: null, fwd_ms: torch.fwd, fwd_bwd_ms: torch.fwdBwd, gflops: fwdFlops(H, N) / torch.fwd / 1e6, gflops_fwd_bwd: (fwdFlops(H, N) + bwdFlops(H, N)) / torch.fwdBwd / 1e6, runs });
      if (tfjs) rows.push({ impl: 'tfjs-wasm', threads: 1, H, N, activity: 1, input_density: 1, backward_sparsity: null, fwd_ms: tfjs.fwd, fwd_bwd_ms: tfjs.fwdBwd, gflops: fwdFlops(H, N) / tfjs.fwd / 1e6, gflops_fwd_bwd: (fwdFlops(H, N) + bwdFlops(H, N)) / tfjs.fwdBwd / 1e6, runs: tfRuns });
      log(`  baselines H=${H} N=${N}: torch ${torch ? `${fmt(torch.fwd)} / ${fmt(torch.fwdBwd)} ms` : '–'}, tfjs-wasm ${tfjs ? `${fmt(tfjs.fwd)} / ${fmt(tfjs.fwdBwd)} ms` : '–'}`);
    }
  }

  log('');
  log('impl          thr    H   N  d_in  act(meas)  bwd-sp  fwd ms  fwd+bwd ms  GFLOP/s fwd/f+b   sparse÷dense fwd / f+b   dense÷torch fwd / f+b');
  for (const H of Hs) {
    const p = makeParams(H, 1);
    for (const N of Ns) {
      const dy = new Float32Array(T * N * H);
      const r = new Rng(7);
      for (let i = 0; i < dy.length; i++) dy[i] = r.normal(0, 0.01);
      for (const d of dens) {
        const x = makeInput(N, d, 2);
        for (const act of acts) {
          setNativeEgruThreads(1);
          calibrate(nat.sparse, p, N, d, act);
          for (const thr of threadCounts) {
            setNativeEgruThreads(thr);
            const tS = newTiming();
            const tD = newTiming();
            const tR = newTiming();
            const doRef = thr === 1 && N === 1 && H <= 512 && (!QUICK || act < 1);
            const refRuns = QUICK || SMOKE ? 1 : 5;
            const bound = N === 1 && thr === 1 ? rowReadBound(nat.sparse, p, x) : null;
            const tB: number[] = [];
            const tB1: number[] = [];
            // One block per implementation (see the header): warm-up, forwards, warm-up, forward+backwards.
            const block = (k: EgruKernel<Float32Array>, tm: Timing, n: number, warm: boolean): void => {
              if (warm) timeForward(k, p, x, N, newTiming());
              for (let i = 0; i < n; i++) timeForward(k, p, x, N, tm);
              if (warm) timeForwardBackward(k, p, x, N, dy, newTiming());
              for (let i = 0; i < n; i++) timeForwardBackward(k, p, x, N, dy, tm);
            };
            // The blocks are repeated in alternation, so a slow phase of a shared machine lands in both kernels' samples
            // instead of deciding one ratio by itself: one sample (calls of 2-50 ms) five rounds of `runs` calls; a
            // batch (calls of 20-400 ms) three rounds of ⌈runs / 3⌉ calls (6 runs, 3 with --quick).
            const rounds = N === 1 ? N1_ROUNDS : BATCH_ROUNDS;
            const perRound = N === 1 ? runs : Math.ceil(runs / BATCH_ROUNDS);
            for (let round = 0; round < rounds; round++) {
              block(nat.sparse, tS, perRound, true);
              block(nat.dense, tD, perRound, true);
            }
            if (bound) {
              bound.time();
              bound.timeOnce();
              for (let i = 0; i < perRound * rounds; i++) {
                tB.push(bound.time());
                tB1.push(bound.timeOnce());
              }
            }
            // Cold: each sparse forward right after a dense one (one sample only: the live-inference figure).
            const tCold = newTiming();
            if (N === 1 && thr === 1) {
              for (let i = 0; i < perRound * rounds; i++) {
                timeForward(nat.dense, p, x, N, newTiming());
                timeForward(nat.sparse, p, x, N, tCold);
              }
            }
            if (doRef) block(referenceKernel, tR, refRuns, false); // seconds per call: no warm-up needed
            const b = base.get(`${H}/${N}`)!;
            const mk = (impl: Row['impl'], tm: Timing, nruns: number): Row => {
              const fwd = median(tm.fwd);
              const fb = median(tm.fwdBwd);
              const row: Row = { impl, threads: thr, H, N, activity: tm.activity, input_density: d, backward_sparsity: tm.bsp, fwd_ms: fwd, fwd_bwd_ms: fb, gflops: fwdFlops(H, N) / fwd / 1e6, gflops_fwd_bwd: (fwdFlops(H, N) + bwdFlops(H, N)) / fb / 1e6, runs: nruns };
              if (impl !== 'reference') {
                row.fwd_cpu_ms = median(tm.fwdCpu);
                row.fwd_bwd_cpu_ms = median(tm.fwdBwdCpu);
              }
              return row;
            };
            const rs = mk('native-sparse', tS, perRound * rounds);
            const rd = mk('native-dense', tD, perRound * rounds);
            if (bound) {
              rs.row_read_bound_ms = median(tB);
              rs.read_once_bound_ms = median(tB1);
            }
            if (tCold.fwd.length) rs.fwd_after_dense_ms = median(tCold.fwd);
            rows.push(rs, rd);
            const ratio = (a: number | null, c: number | null) => (a && c ? (c / a).toFixed(2) + 'x' : '–');
            const line = (row: Row, extra: string) =>
              log(`${row.impl.padEnd(13)} ${String(thr).padStart(3)} ${String(H).padStart(4)} ${String(N).padStart(3)} ${d.toFixed(2).padStart(5)}  ${(act * 100).toFixed(0).padStart(3)}% (${(row.activity * 100).toFixed(1).padStart(5)}%) ${row.backward_sparsity == null ? '     –' : (row.backward_sparsity * 100).toFixed(1).padStart(5) + '%'} ${fmt(row.fwd_ms, 2).padStart(7)} ${fmt(row.fwd_bwd_ms, 2).padStart(10)}   ${fmt(row.gflops).padStart(6)} / ${fmt(row.gflops_fwd_bwd).padStart(6)}   ${extra}`);
            line(rs, `${ratio(rs.fwd_ms, rd.fwd_ms).padStart(8)} / ${ratio(rs.fwd_bwd_ms, rd.fwd_bwd_ms).padStart(7)}   cpu ${fmt(rs.fwd_cpu_ms ?? null, 2)} / ${fmt(rs.fwd_bwd_cpu_ms ?? null, 2)} ms: ${ratio(rs.fwd_cpu_ms ?? null, rd.fwd_cpu_ms ?? null)} / ${ratio(rs.fwd_bwd_cpu_ms ?? null, rd.fwd_bwd_cpu_ms ?? null)}`);
            line(rd, `${''.padStart(18)}   ${b.torch ? `${ratio(b.torch.fwd, rd.fwd_ms).padStart(8)} / ${ratio(b.torch.fwdBwd, rd.fwd_bwd_ms).padStart(7)}` : '                  '}   cpu ${fmt(rd.fwd_cpu_ms ?? null, 2)} / ${fmt(rd.fwd_bwd_cpu_ms ?? null, 2)} ms`);
            if (bound && rs.row_read_bound_ms) {
              const b = rs.row_read_bound_ms;
              const gbs = ((bound.rowsW + bound.rowsR) * 12 * H) / b / 1e6;
              log(`  row-read bound: the ${bound.rowsW} W + ${bound.rowsR} Rk rows this forward needs, read by a plain loop: ${fmt(b, 2)} ms (${fmt(gbs)} GB/s) → sparse fwd at ${fmt(rs.fwd_ms! / b, 2)}× the bound; dense fwd ÷ bound = ${fmt(rd.fwd_ms! / b, 1)}× (the most a kernel reading each needed row once per step could show; this one reads W once per call)`);
            }
            if (bound && rs.read_once_bound_ms) {
              const b1 = rs.read_once_bound_ms;
              log(`  read-once bound: the ${bound.rowsWOnce} distinct W rows once + the ${bound.rowsR} Rk rows: ${fmt(b1, 2)} ms → sparse fwd at ${fmt(rs.fwd_ms! / b1, 2)}× it; dense fwd ÷ it = ${fmt(rd.fwd_ms! / b1, 1)}× (the most any float32 forward can show on this machine now: it must read these bytes at least once)`);
            }
            if (rs.fwd_after_dense_ms) {
              log(`  cold: sparse fwd right after a dense call ${fmt(rs.fwd_after_dense_ms, 2)} ms → sparse÷dense fwd ${ratio(rs.fwd_after_dense_ms, rd.fwd_ms)}`);
            }
            if (doRef && tR.fwd.length) {
              const rr = mk('reference', tR, tR.fwd.length);
              rows.push(rr);
              line(rr, `(${tR.fwd.length} runs; ${ratio(rs.fwd_ms, rr.fwd_ms)} / ${ratio(rs.fwd_bwd_ms, rr.fwd_bwd_ms)} slower than native sparse)`);
            }
          }
        }
      }
    }
  }
  log('(ratios: "sparse÷dense" = native-dense time / native-sparse time; "dense÷torch" = native-dense time / torch time, < 1 = faster than torch;');
  log(' "cpu": median CPU time of the call (all threads) and the sparse÷dense ratio of those, robust to time slicing on a shared machine)');

  const bundled = await bundledBlock(nat, runs);
  const training = await trainingStepRows(nat.sparse, SMOKE ? 1 : QUICK ? 3 : 5);
  if (!QUICK && !SMOKE) {
    log('');
    log('Peak memory, fwd(training)+bwd, T=100 N=16 H=1024 C=2048, fresh process (max RSS, incl. ~node baseline):');
    for (const impl of ['native-sparse', 'native-dense']) {
      const pk = peakOf(impl);
      log(`  ${impl}: ${pk ? `${pk.peak.toFixed(0)} MiB peak (process before the call ${pk.base.toFixed(0)} MiB)` : 'failed'}`);
    }
    if (!torchWhy) {
      const t = timeTorch(1024, 16, 1);
      if (t?.peakMiB) log(`  torch nn.GRU: ${t.peakMiB.toFixed(0)} MiB peak (python process, incl. torch import)`);
    }
  }
  if (JSON_OUT) console.log(JSON.stringify({ results: rows, training, machine, bundled }));
}

/** Runs and prints the bundled-model block (bench/egru-bundled.ts); null (and says why) when it cannot run. */
async function bundledBlock(nat: NativeEgru, runs: number): Promise<BundledWorkload | null> {
  let w: BundledWorkload;
  try {
    w = await bundledWorkload(nat, runs, SMOKE ? 1 : QUICK ? 2 : 3);
  } catch (e) {
    log(`\nBundled model block skipped: ${(e as Error).message}`);
    return null;
  }
  log('');
  log(`Bundled model on the bundled recording (${w.model}, first layer; ${w.windows} labelled windows of ${w.recording}, ${w.frame} frames of ${w.bin_ms} ms):`);
  log('impl          thr    H     C   T   N  d_in   act  bwd-sp  fwd ms  fwd+bwd ms   sparse÷dense fwd / f+b');
  for (let i = 0; i < w.rows.length; i += 2) {
    const [s, d] = [w.rows[i], w.rows[i + 1]];
    for (const r of [s, d]) {
      const ratio = r === s ? `   ${(d.fwd_ms / s.fwd_ms).toFixed(2)}x / ${(d.fwd_bwd_ms / s.fwd_bwd_ms).toFixed(2)}x` : '';
      log(`${r.impl.padEnd(13)} ${String(r.threads).padStart(3)} ${String(r.H).padStart(4)} ${String(r.C).padStart(5)} ${String(r.T).padStart(3)} ${String(r.N).padStart(3)} ${(100 * r.input_density).toFixed(0).padStart(4)}% ${(100 * r.activity).toFixed(0).padStart(4)}% ${(100 * r.backward_sparsity).toFixed(0).padStart(5)}%  ${fmt(r.fwd_ms, 2).padStart(6)}  ${fmt(r.fwd_bwd_ms, 2).padStart(10)}${ratio}`);
    }
  }
  log('(N = 1: ms per window, each window in turn, one thread; N = 16: the windows cycled into one batch. Trained states sit far from θ, so the');
  log(' backward sparsity is high here; the frames\' density decides whether the input takes the sparse or the dense path.)');
  return w;
}

export interface TrainingRow {
  split: '1 thread' | 'kernel threads' | 'batch shards';
  threads: number;
  H: number;
  N: number;
  step_ms: number;
  speedup: number;
}

/** Times one training step's maths (GestureModel.lossAndGrad) on 1 thread and split over 2 threads both ways. */
async function trainingStepRows(kernel: EgruKernel<Float32Array>, runs: number): Promise<TrainingRow[]> {
  const H = SMOKE ? 32 : 512;
  const N = 16;
  const d = 0.05;
  const p = makeParams(H, 1);
  setNativeEgruThreads(1);
  calibrate(kernel, p, N, d, 0.1);
  const config = resolveModelConfig({ inputSize: C, numClasses: 11, hiddenSizes: [H], gamma: GAMMA, eps: EPS });
  const model = shareModelParameters(initGestureModel(config, 1, kernel));
  const layer = model.layers[0];
  for (const k of ['kernel', 'recurrentKernel', 'bias', 'recurrentBias', 'theta'] as const) layer[k].set(p[k]);
  const x = makeInput(N, d, 2);
  const lengths = new Int32Array(N).fill(T);
  const labels = Int32Array.from({ length: N }, (_, n) => n % 11);
  const batch = { T, N, C, x, lengths, labels };
  const reg = { rateLambda: 0, rateTarget: 0.05, stateLambda: 0 };
  const dp = await DataParallel.start(model, 2);
  const times: Record<TrainingRow['split'], number[]> = { '1 thread': [], 'kernel threads': [], 'batch shards': [] };
  try {
    // Warm-up: the first calls of each thread grow its kernel work buffers (page faults) and JIT-compile the step.
    for (let i = 0; i < 2; i++) {
      setNativeEgruThreads(1);
      model.lossAndGrad(x, T, N, lengths, labels, reg, new Rng(1));
      setNativeEgruThreads(2, true);
      model.lossAndGrad(x, T, N, lengths, labels, reg, new Rng(1));
      setNativeEgruThreads(1);
      await dp.lossAndGrad(batch, reg, new Rng(1), 1);
    }
    for (let i = 0; i < runs; i++) {
      setNativeEgruThreads(1);
      let t0 = performance.now();
      model.lossAndGrad(x, T, N, lengths, labels, reg, new Rng(1));
      times['1 thread'].push(performance.now() - t0);
      setNativeEgruThreads(2, true); // force: the backward's size rule would keep one thread for small layers
      t0 = performance.now();
      model.lossAndGrad(x, T, N, lengths, labels, reg, new Rng(1));
      times['kernel threads'].push(performance.now() - t0);
      setNativeEgruThreads(1);
      t0 = performance.now();
      await dp.lossAndGrad(batch, reg, new Rng(1), 1);
      times['batch shards'].push(performance.now() - t0);
    }
  } finally {
    await dp.close();
    setNativeEgruThreads(1);
  }
  const one = median(times['1 thread']);
  const rows = (Object.keys(times) as TrainingRow['split'][]).map((split) => {
    const ms = median(times[split]);
    return { split, threads: split === '1 thread' ? 1 : 2, H, N, step_ms: ms, speedup: one / ms };
  });
  log('');
  log(`Training step (model forward + loss + BPTT + readout gradients), H=${H} N=${N} T=${T} C=${C}, 5 % input, 10 % activity, native sparse, ${runs} runs:`);
  for (const r of rows) log(`  ${r.split.padEnd(15)} ${r.threads} thr  ${fmt(r.step_ms, 1).padStart(7)} ms   ${r.speedup.toFixed(2)}× vs 1 thread`);
  return rows;
}

await main();
