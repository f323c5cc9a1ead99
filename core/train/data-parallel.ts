/**
 * Data-parallel training steps on several cores: each mini-batch is cut into shards of whole samples, every shard's
 * forward + BPTT runs in its own thread (the calling thread takes the first shard, worker threads the others), and
 * the shard gradients are combined into the model's gradient buffers as the batch mean. A sequence's time loop is
 * serial, so splitting the BATCH across threads is the only split without a barrier per time step (the 784-step
 * S-MNIST sequences at H = 64 are ~30 µs of work per step: a per-step barrier would cost more than it saves).
 *
 * Weights are shared, not copied: the model's parameter tensors are moved into SharedArrayBuffers once
 * (`shareModelParameters`) and every worker's replica views the same memory, so an optimiser update in the calling
 * thread is what the workers read at the next step. Workers only read weights, and only between a 'step' message and
 * their reply, while the caller is waiting; the caller only writes them after every reply has arrived.
 *
 * Each shard's kernels run on ONE thread (`withNativeEgruThreads`; the workers set it for themselves): the shards
 * already occupy the cores, and the native kernels' thread pool serves one call at a time anyway.
 *
 * Results equal one-thread training up to float summation order, except for the activity regularisers: each shard
 * computes them on its own means over valid (step, unit) entries, and shards are weighted by their number of samples
 * (λ·(mean(o) − target)² is not additive at all; λ·mean(c) is where all samples have the same length). Zoneout masks
 * in worker shards come from Rng(stepSeed + shard), so a run is reproducible for a given number of workers.
 */
import { Worker } from 'node:worker_threads';
import type { Batch } from './dataset.ts';
import { sliceBatch } from './dataset.ts';
import { SampleClipper } from './sample-clip.ts';
import type { ActivityRegularisation, ModelParts, StepStats } from '../model/gesture-model.ts';
import { GestureModel, combineStepStats } from '../model/gesture-model.ts';
import type { GestureModelConfig } from '../model/config.ts';
import type { Rng } from '../util/rng.ts';
import { withNativeEgruThreads } from '../egru/native.ts';

/** What a shard worker needs to rebuild the model over the shared weights. */
export interface ShardWorkerInit {
  config: GestureModelConfig;
  parts: ModelParts<Float32Array>;
  /** Kernel preference for getEgruKernel (the caller's kernel name). */
  kernel: string;
  /** The worker's flat gradient buffer: every parameter's gradient at its offset, in `parameters()` order. */
  grads: Float32Array;
}

export type ShardRequest =
  | { type: 'step'; x: Float32Array; T: number; N: number; C: number; lengths: Int32Array; labels: Int32Array; reg: ActivityRegularisation; seed: number; sampleClip: number }
  | { type: 'eval'; x: Float32Array; T: number; N: number; lengths: Int32Array; labels: Int32Array };

export type ShardReply = { type: 'ready' } | { type: 'stats'; stats: StepStats } | { type: 'error'; message: string; stack?: string };

function shared(a: Float32Array): Float32Array {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
}

/** The tensors a GestureModel was built from (the same arrays, not copies). */
export function modelParts(m: GestureModel): ModelParts<Float32Array> {
  return {
    layers: m.layers.map((p) => ({ ...p })),
    fcWeight: m.fcWeight,
    fcBias: m.fcBias,
    frontWeight: m.frontWeight,
    frontBias: m.frontBias,
    frontCnn: m.cnn ? m.cnn.values : null,
  };
}

/** A copy of `m` whose parameter tensors live in SharedArrayBuffers (values copied once; same kernel). */
export function shareModelParameters(m: GestureModel): GestureModel {
  const p = modelParts(m);
  const parts: ModelParts<Float32Array> = {
    layers: p.layers.map((l) => ({ ...l, kernel: shared(l.kernel), recurrentKernel: shared(l.recurrentKernel), bias: shared(l.bias), recurrentBias: shared(l.recurrentBias), theta: shared(l.theta) })),
    fcWeight: shared(p.fcWeight),
    fcBias: shared(p.fcBias),
    frontWeight: p.frontWeight ? shared(p.frontWeight) : null,
    frontBias: p.frontBias ? shared(p.frontBias) : null,
    frontCnn: p.frontCnn ? p.frontCnn.map(shared) : null,
  };
  return new GestureModel(m.config, parts, m.kernel, Float32Array);
}

/** Splits n samples into k contiguous shards as evenly as possible (empty shards dropped). */
export function shardRanges(n: number, k: number): [number, number][] {
  const out: [number, number][] = [];
  const parts = Math.max(1, Math.min(k, n));
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((i * n) / parts);
    const b = Math.floor(((i + 1) * n) / parts);
    if (b > a) out.push([a, b]);
  }
  return out;
}

interface Pending {
  resolve: (s: StepStats) => void;
  reject: (e: Error) => void;
}

/** One worker thread holding a replica of the model over the shared weights. */
class ShardWorker {
  private pending: Pending | null = null;
  private failed: Error | null = null;
  readonly ready: Promise<void>;

  constructor(
    private readonly worker: Worker,
    readonly grads: Float32Array,
  ) {
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    const fail = (e: Error) => {
      this.failed ??= e;
      readyReject(e);
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    };
    worker.on('message', (m: ShardReply) => {
      if (m.type === 'ready') readyResolve();
      else if (m.type === 'error') {
        const e = new Error(`training shard worker: ${m.message}`);
        if (m.stack) e.stack = m.stack;
        fail(e);
      } else {
        const p = this.pending;
        this.pending = null;
        p?.resolve(m.stats);
      }
    });
    worker.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => fail(new Error(`training shard worker exited (code ${code})`)));
  }

  /** Sends a request; its typed arrays are MOVED to the worker (the caller builds them per request: see sliceBatch). */
  request(msg: ShardRequest): Promise<StepStats> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.pending) return Promise.reject(new Error('training shard worker: a request is already running'));
    return new Promise<StepStats>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(msg, [msg.x.buffer as ArrayBuffer, msg.lengths.buffer as ArrayBuffer, msg.labels.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.failed ??= new Error('training shard worker closed');
    await this.worker.terminate();
  }
}

/**
 * A pool of shard workers bound to one model whose weights are shared (see `shareModelParameters`). `workers` is
 * the total number of threads including the caller's: 2 starts one worker thread.
 */
export class DataParallel {
  private readonly clipper: SampleClipper;

  private constructor(
    readonly model: GestureModel,
    private readonly workers: ShardWorker[],
  ) {
    this.clipper = new SampleClipper(model);
  }

  /** Threads used per step, the caller's included. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Starts `threads − 1` workers over `model`, which must already hold shared weights. Resolves once every worker
   * has built its replica (so a failure to start shows here, not at the first step).
   */
  static async start(model: GestureModel, threads: number): Promise<DataParallel> {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`data-parallel training: threads must be an integer ≥ 1, got ${threads}`);
    const parts = modelParts(model);
    const all = [...parts.layers.flatMap((l) => [l.kernel, l.recurrentKernel, l.bias, l.recurrentBias, l.theta]), parts.fcWeight, parts.fcBias, ...(parts.frontCnn ?? [])];
    if (parts.frontWeight) all.push(parts.frontWeight);
    if (parts.frontBias) all.push(parts.frontBias);
    const notShared = all.some((a) => !(a.buffer instanceof SharedArrayBuffer));
    if (notShared) throw new Error('data-parallel training: the model weights are not shared; build it with shareModelParameters()');
    const total = model.parameters().reduce((s, p) => s + p.value.length, 0);
    const workers: ShardWorker[] = [];
    try {
      for (let i = 1; i < threads; i++) {
        const grads = new Float32Array(new SharedArrayBuffer(total * 4));
        const init: ShardWorkerInit = { config: model.config, parts, kernel: model.kernel.name, grads };
        const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: { entry: new URL('./shard-worker-entry.ts', import.meta.url).href, init } });
        workers.push(new ShardWorker(w, grads));
      }
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      await Promise.all(workers.map((w) => w.close()));
      throw e;
    }
    return new DataParallel(model, workers);
  }

  /**
   * One training step's maths on a batch: the same contract as `GestureModel.lossAndGrad` (every parameter's `grad`
   * overwritten with the batch-mean gradient), with the shards computed concurrently. `sampleClip` > 0 clips each
   * sample's gradient first (./sample-clip.ts).
   */
  async lossAndGrad(b: Batch, reg: ActivityRegularisation, rng: Rng, stepSeed: number, sampleClip = 0): Promise<StepStats> {
    const ranges = shardRanges(b.N, this.threads);
    const local = (s: Batch) => (sampleClip > 0 ? this.clipper.lossAndGrad(s, reg, rng, sampleClip) : this.model.lossAndGrad(s.x, s.T, s.N, s.lengths, s.labels, reg, rng));
    if (ranges.length === 1) return local(b); // one shard: the kernels use the caller's thread setting
    const shards = ranges.map(([a, e]) => sliceBatch(b, a, e));
    const remote = shards.slice(1).map((s, i) =>
      this.workers[i].request({ type: 'step', x: s.x, T: s.T, N: s.N, C: s.C, lengths: s.lengths, labels: s.labels, reg, seed: (stepSeed + i + 1) >>> 0, sampleClip }),
    );
    let mine: StepStats;
    try {
      mine = withNativeEgruThreads(1, () => local(shards[0]));
    } catch (e) {
      await Promise.allSettled(remote);
      throw e;
    }
    const others = await Promise.all(remote);
    // Each shard's gradient is its own mean over its samples: the batch mean weights them by shard size.
    const sizes = shards.map((s) => s.N);
    const w0 = sizes[0] / b.N;
    let off = 0;
    for (const p of this.model.parameters()) {
      const g = p.grad;
      if (others.length === 1) {
        // The common case (2 threads) in one pass: at C = 2048, H = 512 this is 3.2 M values per step.
        const w1 = sizes[1] / b.N;
        const src = this.workers[0].grads.subarray(off, off + g.length);
        for (let k = 0; k < g.length; k++) g[k] = w0 * g[k] + w1 * src[k];
      } else {
        for (let k = 0; k < g.length; k++) g[k] *= w0;
        for (let i = 0; i < others.length; i++) {
          const wi = sizes[i + 1] / b.N;
          const src = this.workers[i].grads.subarray(off, off + g.length);
          for (let k = 0; k < g.length; k++) g[k] += wi * src[k];
        }
      }
      off += g.length;
    }
    return combineStepStats([mine, ...others], sizes);
  }

  /** Loss, accuracy and activity of a batch without gradients, shards computed concurrently (as `GestureModel.evaluate`). */
  async evaluate(b: Batch): Promise<StepStats> {
    const ranges = shardRanges(b.N, this.threads);
    if (ranges.length === 1) return this.model.evaluate(b.x, b.T, b.N, b.lengths, b.labels);
    const shards = ranges.map(([a, e]) => sliceBatch(b, a, e));
    const remote = shards.slice(1).map((s, i) => this.workers[i].request({ type: 'eval', x: s.x, T: s.T, N: s.N, lengths: s.lengths, labels: s.labels }));
    const s0 = shards[0];
    let local: StepStats;
    try {
      local = withNativeEgruThreads(1, () => this.model.evaluate(s0.x, s0.T, s0.N, s0.lengths, s0.labels));
    } catch (e) {
      await Promise.allSettled(remote);
      throw e;
    }
    const others = await Promise.all(remote);
    return combineStepStats([local, ...others], shards.map((s) => s.N));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
