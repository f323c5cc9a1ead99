import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTrainingWorker } from '../../../core/train/worker.ts';
import type { TrainEvent } from '../../../core/train/loop.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'egru-worker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (out: string, epochs: number) => ({
  dataset: { kind: 'synthetic', options: { trainSamples: 160, testSamples: 60 } },
  out: path.join(dir, out),
  epochs,
  batchSize: 16,
  lr: 0.01,
  model: { hiddenSizes: [10] },
  kernel: 'reference' as const,
});

describe('training in a worker thread', () => {
  it('runs to completion and streams progress from the worker', async () => {
    const job = startTrainingWorker(config('done', 2));
    const events: TrainEvent[] = [];
    job.onEvent((e) => events.push(e));
    const r = await job.result;
    expect(r.status).toBe('completed');
    expect(r.epochsCompleted).toBe(2);
    expect(events[0].type).toBe('start');
    expect(events.filter((e) => e.type === 'progress').length).toBe(2 * 9);
    expect(events.filter((e) => e.type === 'epoch').length).toBe(2);
    expect(events[events.length - 1].type).toBe('done');
  });

  it('a worker job can itself split batches over shard workers (workers: 2), and cancelling it stops them', async () => {
    const job = startTrainingWorker({ ...config('shards', 2), workers: 2, kernel: 'reference' as const });
    const r = await job.result;
    expect(r.status).toBe('completed');
    expect(r.test!.accuracy).toBeGreaterThan(0.5);
    const ac = new AbortController();
    const long = startTrainingWorker({ ...config('shards-cancel', 1000), workers: 2 }, { signal: ac.signal });
    long.onEvent((e) => {
      if (e.type === 'progress' && e.step === 3) ac.abort();
    });
    expect((await long.result).status).toBe('cancelled'); // resolves only after the shard workers have closed
  });

  it('cancels within one batch, leaving the last complete checkpoint', async () => {
    const ac = new AbortController();
    const job = startTrainingWorker(config('cancel', 1000), { signal: ac.signal });
    // Steps the worker FINISHED after the flag was set, by the events' wall-clock stamps: events already queued
    // when the UI thread sets the flag arrive after it too (more of them the busier the machine), so counting
    // arrivals measured message-queue lag, not the worker.
    let cancelAt = Infinity;
    let finishedAfterCancel = 0;
    job.onEvent((e) => {
      if (e.type !== 'progress') return;
      if (e.at > cancelAt) finishedAfterCancel++;
      if (e.epoch === 2 && e.step === 2 && cancelAt === Infinity) {
        cancelAt = Date.now();
        ac.abort();
      }
    });
    const r = await job.result;
    expect(r.status).toBe('cancelled');
    expect(r.epochsCompleted).toBe(1);
    // the worker may finish at most the one batch that was running when the flag was set
    expect(finishedAfterCancel).toBeLessThanOrEqual(1);
    expect(JSON.parse(readFileSync(path.join(r.checkpointDir, 'train-state.json'), 'utf8')).epochsCompleted).toBe(1);
  });

  it('reports errors from the worker as a rejected result', async () => {
    const job = startTrainingWorker({ ...config('err', 1), dataset: { kind: 'no-such-dataset' } });
    await expect(job.result).rejects.toThrow(/unknown dataset 'no-such-dataset'/);
  });
});
