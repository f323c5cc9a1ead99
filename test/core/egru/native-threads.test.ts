/**
 * The native kernels' thread setting belongs to the calling JS thread, and two JS threads (data-parallel training
 * shards) may call the threaded kernels at the same time: the one that finds the pool busy runs on its own thread.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNativeEgru, nativeEgruUnavailableReason, setNativeEgruThreads, withNativeEgruThreads } from '../../../core/egru/native.ts';
import { threadsCase } from './fixtures/threads-case.ts';

const native = loadNativeEgru();
if (nativeEgruUnavailableReason()) console.warn('[tests] native EGRU addon unavailable: native thread tests are SKIPPED.');

type Msg = { type: 'ready'; atLoad: number } | { type: 'done'; first: Float32Array; maxDiff: number; after: number };

function startWorker(threads: number, rounds: number) {
  const w = new Worker(new URL('../../../core/train/worker-boot.mjs', import.meta.url), {
    workerData: { entry: new URL('./fixtures/threads-worker.ts', import.meta.url).href, threads, rounds },
  });
  const msgs: Msg[] = [];
  const waiters: ((m: Msg) => void)[] = [];
  w.on('message', (m: Msg) => (waiters.length ? waiters.shift()!(m) : msgs.push(m)));
  const next = () => new Promise<Msg>((resolve, reject) => {
    if (msgs.length) return resolve(msgs.shift()!);
    waiters.push(resolve);
    w.once('error', reject);
  });
  return { next, close: () => w.terminate() };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.skipIf(!native)('native EGRU kernels: threads per JS thread', () => {
  /** Starts a worker that sets 3 threads for itself; returns the count it found at load and the one it ended with. */
  async function workerView(): Promise<{ atLoad: number; after: number }> {
    const w = startWorker(3, 1);
    try {
      const ready = (await w.next()) as Extract<Msg, { type: 'ready' }>;
      expect(ready.type).toBe('ready');
      const done = (await w.next()) as Extract<Msg, { type: 'done' }>;
      return { atLoad: ready.atLoad, after: done.after };
    } finally {
      await w.close();
    }
  }

  it('a setting made on one JS thread is not seen, nor reset, by another', async () => {
    const before = setNativeEgruThreads(0);
    try {
      setNativeEgruThreads(1);
      const a = await workerView();
      expect(a.after).toBe(3);
      expect(setNativeEgruThreads(0)).toBe(1); // the worker's module init and its own setting left this thread's alone
      setNativeEgruThreads(5);
      const b = await workerView();
      // Both workers start from the process default (EGRU_THREADS or the hardware threads), whatever this thread set.
      expect(b.atLoad).toBe(a.atLoad);
      expect(setNativeEgruThreads(0)).toBe(5);
      expect(withNativeEgruThreads(2, () => setNativeEgruThreads(0))).toBe(2);
      expect(setNativeEgruThreads(0)).toBe(5); // restored
    } finally {
      setNativeEgruThreads(before);
    }
  });

  it('two JS threads calling the 2-thread kernels at once both get the right results', async () => {
    const { run } = threadsCase();
    const before = setNativeEgruThreads(0);
    try {
      setNativeEgruThreads(1);
      const serial = run(native!.sparse);
      const rounds = 60;
      const w = startWorker(2, rounds);
      try {
        expect((await w.next()).type).toBe('ready');
        // The worker is now in its loop; this thread runs the same calls meanwhile, each taking the pool or, while
        // the worker holds it, running alone.
        setNativeEgruThreads(2, true);
        let mine = 0;
        for (let i = 0; i < rounds; i++) mine = Math.max(mine, maxAbsDiff(run(native!.sparse), serial));
        const done = (await w.next()) as Extract<Msg, { type: 'done' }>;
        const scale = Math.max(...serial.map(Math.abs));
        // 1 and 2 threads differ only in float summation order; a race on shared work buffers would not be this close.
        expect(mine).toBeLessThanOrEqual(1e-5 * scale);
        expect(maxAbsDiff(done.first, serial)).toBeLessThanOrEqual(1e-5 * scale);
        expect(done.maxDiff).toBeLessThanOrEqual(1e-5 * scale);
      } finally {
        await w.close();
      }
    } finally {
      setNativeEgruThreads(before);
    }
  });
});
