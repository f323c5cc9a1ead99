/**
 * Worker-thread side of a training job: runs `runTraining` with the config from workerData, posts every event
 * to the parent, and polls the shared cancel flag before each batch (messages cannot interrupt a busy loop, a
 * SharedArrayBuffer can).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runTraining } from './loop.ts';
import type { TrainConfig } from './config.ts';

const data = workerData as { config: TrainConfig; cancel: SharedArrayBuffer; register?: string[] };
const flag = new Int32Array(data.cancel);

try {
  for (const m of data.register ?? []) await import(m); // e.g. dataset loader modules that add themselves
  await runTraining(data.config, {
    onEvent: (e) => parentPort!.postMessage(e),
    shouldStop: () => Atomics.load(flag, 0) !== 0,
  });
} catch (e) {
  const err = e as Error;
  parentPort!.postMessage({ type: 'error', message: err?.message ?? String(e), stack: err?.stack });
}
