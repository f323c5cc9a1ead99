/**
 * Training in a worker thread, so the engine / CLI stays responsive. `startTrainingWorker` returns a job handle:
 * events stream to listeners, `cancel()` stops the run within one batch (the last complete checkpoint stays),
 * `result` resolves with the outcome or rejects with the worker's error.
 */
import { Worker } from 'node:worker_threads';
import type { TrainConfig } from './config.ts';
import type { TrainEvent, TrainResult } from './loop.ts';

export interface TrainingJob {
  /** Adds a listener for progress / epoch / checkpoint / done events. */
  onEvent(listener: (e: TrainEvent) => void): void;
  /** Requests a stop before the next batch. */
  cancel(): void;
  readonly result: Promise<TrainResult>;
  /** Kills the worker immediately (no checkpoint of the running epoch). */
  terminate(): Promise<void>;
}

export interface WorkerOptions {
  /** Module URLs imported in the worker before training (e.g. dataset loaders that register themselves). */
  register?: string[];
  /** Aborting this signal cancels the job. */
  signal?: AbortSignal;
}

export function startTrainingWorker(config: Partial<TrainConfig> & Pick<TrainConfig, 'dataset' | 'out'>, options: WorkerOptions = {}): TrainingJob {
  const cancelBuf = new SharedArrayBuffer(4);
  const flag = new Int32Array(cancelBuf);
  const listeners: ((e: TrainEvent) => void)[] = [];
  const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
    workerData: { entry: new URL('./worker-entry.ts', import.meta.url).href, config, cancel: cancelBuf, register: options.register ?? [] },
  });
  let settled = false;
  const result = new Promise<TrainResult>((resolve, reject) => {
    worker.on('message', (m: TrainEvent | { type: 'error'; message: string; stack?: string }) => {
      if (m.type === 'error') {
        settled = true;
        const err = new Error(m.message);
        if (m.stack) err.stack = m.stack;
        reject(err);
        return;
      }
      for (const l of listeners) l(m);
      if (m.type === 'done') {
        settled = true;
        resolve(m.result);
      }
    });
    worker.on('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`training worker exited with code ${code} before finishing`));
    });
  });
  const cancel = () => {
    Atomics.store(flag, 0, 1);
  };
  if (options.signal) {
    if (options.signal.aborted) cancel();
    else options.signal.addEventListener('abort', cancel, { once: true });
  }
  // The worker exits by itself once training returns.
  void result.catch(() => {}).finally(() => options.signal?.removeEventListener('abort', cancel));
  return {
    onEvent: (l) => void listeners.push(l),
    cancel,
    result,
    terminate: async () => {
      await worker.terminate();
    },
  };
}
