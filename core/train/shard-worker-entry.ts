/**
 * Worker-thread side of data-parallel training (./data-parallel.ts): rebuilds the model over the SHARED weight
 * tensors from workerData, then answers 'step' (loss + gradient of one shard, gradient written into the shared flat
 * buffer) and 'eval' (loss and accuracy only) requests, one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GestureModel } from '../model/gesture-model.ts';
import { getEgruKernel } from '../egru/kernels.ts';
import { setNativeEgruThreads } from '../egru/native.ts';
import type { KernelPreference } from '../egru/kernels.ts';
import { Rng } from '../util/rng.ts';
import { SampleClipper } from './sample-clip.ts';
import type { ShardReply, ShardRequest, ShardWorkerInit } from './data-parallel.ts';

const port = parentPort!;
const post = (m: ShardReply) => port.postMessage(m);
const fail = (e: unknown) => {
  const err = e as Error;
  post({ type: 'error', message: err?.message ?? String(e), stack: err?.stack });
};

try {
  const init = (workerData as { init: ShardWorkerInit }).init;
  // Kernel names are preferences except the sparse native one ('native-sparse' ↔ preference 'native').
  const kernel = getEgruKernel((init.kernel === 'native-sparse' ? 'native' : init.kernel) as KernelPreference);
  if (kernel.name !== init.kernel) throw new Error(`kernel ${init.kernel} is not available in this worker (got ${kernel.name})`);
  setNativeEgruThreads(1); // this thread only: the shards are the parallelism (see data-parallel.ts)
  const model = new GestureModel(init.config, init.parts, kernel, Float32Array);
  const params = model.parameters();
  const total = params.reduce((s, p) => s + p.value.length, 0);
  if (init.grads.length !== total) throw new Error(`gradient buffer holds ${init.grads.length} values, the model has ${total}`);
  // Every gradient is computed straight into the shared flat buffer the caller combines from (no copy per step).
  let at = 0;
  for (const p of params) {
    p.grad = init.grads.subarray(at, at + p.value.length);
    at += p.value.length;
  }
  const clipper = new SampleClipper(model);
  port.on('message', (m: ShardRequest) => {
    try {
      if (m.type === 'step') {
        const rng = new Rng(m.seed);
        const stats = m.sampleClip > 0 ? clipper.lossAndGrad(m, m.reg, rng, m.sampleClip) : model.lossAndGrad(m.x, m.T, m.N, m.lengths, m.labels, m.reg, rng);
        post({ type: 'stats', stats });
      } else {
        const r = model.evaluate(m.x, m.T, m.N, m.lengths, m.labels);
        post({ type: 'stats', stats: { loss: r.loss, ce: r.ce, reg: r.reg, correct: r.correct, activity: r.activity, macsExecuted: r.macsExecuted, macsDense: r.macsDense } });
      }
    } catch (e) {
      fail(e);
    }
  });
  post({ type: 'ready' });
} catch (e) {
  fail(e);
}
