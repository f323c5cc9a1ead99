import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTraining } from '../../../core/train/loop.ts';
import type { TrainEvent } from '../../../core/train/loop.ts';
import type { TrainConfig } from '../../../core/train/config.ts';
import { loadBundle } from '../../../core/model/bundle.ts';
import { referenceKernel } from '../../../core/egru/reference.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'egru-loop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = (out: string, over: Partial<TrainConfig> = {}) => ({
  dataset: { kind: 'synthetic', options: { trainSamples: 160, testSamples: 100, variableLength: true } },
  out: path.join(dir, out),
  epochs: 4,
  batchSize: 16,
  lr: 0.01,
  model: { hiddenSizes: [12] },
  kernel: 'reference' as const,
  seed: 3,
  ...over,
});

const weights = (d: string) => readFileSync(path.join(d, 'weights.safetensors'));

describe('training loop', () => {
  it('learns the synthetic event-location task (≥ 95 % on held-out test data) and writes a complete bundle', async () => {
    const events: TrainEvent[] = [];
    const r = await runTraining(base('learn', { epochs: 8 }), { onEvent: (e) => events.push(e) });
    expect(r.status).toBe('completed');
    expect(r.test!.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.test!.samples).toBe(100);
    expect(r.samplesPerSec).toBeGreaterThan(0);
    expect(r.macReduction).toBeGreaterThan(1); // sparse inputs and activity: fewer MACs than a dense GRU
    expect(r.activity).toBe(r.test!.activity);
    const prog = events.filter((e) => e.type === 'progress');
    expect(prog.length).toBeGreaterThan(8);
    const p0 = prog[0] as Extract<TrainEvent, { type: 'progress' }>;
    for (const k of ['epoch', 'step', 'loss', 'accuracy', 'activity', 'samplesPerSec', 'etaSec'] as const) expect(Number.isFinite(p0[k])).toBe(true);
    const epochs = events.filter((e) => e.type === 'epoch') as Extract<TrainEvent, { type: 'epoch' }>[];
    expect(epochs[epochs.length - 1].trainLoss).toBeLessThan(epochs[0].trainLoss * 0.5);
    const { meta } = await loadBundle(r.bundleDir, referenceKernel);
    expect(meta.metrics.testAccuracy).toBe(r.test!.accuracy);
    expect(meta.metrics.samplesPerSec).toBeGreaterThan(0);
    expect(meta.provenance.seed).toBe(3);
    expect(meta.provenance.epoch).toBe(r.bestEpoch);
    expect(meta.classNames).toEqual(['group0', 'group1']);
    expect(meta.preprocessing.kind).toBe('sequence');
  });

  it('is deterministic for a seed, and a resumed run equals the uninterrupted one', async () => {
    const a = await runTraining(base('a'));
    const b = await runTraining(base('b'));
    expect(weights(a.checkpointDir).equals(weights(b.checkpointDir))).toBe(true);
    expect(weights(a.bundleDir).equals(weights(b.bundleDir))).toBe(true);
    const other = await runTraining(base('c', { seed: 4 }));
    expect(weights(other.checkpointDir).equals(weights(a.checkpointDir))).toBe(false);

    // Cancel right after epoch 2's checkpoint, then resume.
    const ac = new AbortController();
    const cut = await runTraining(base('r'), { signal: ac.signal, onEvent: (e) => e.type === 'checkpoint' && e.epoch === 2 && ac.abort() });
    expect(cut.status).toBe('cancelled');
    expect(cut.epochsCompleted).toBe(2);
    expect(cut.test).toBeNull();
    expect(cut.activity).toBeGreaterThan(0); // no test evaluation: the best epoch's activity is reported
    expect(cut.activity).toBeLessThan(1);
    const resumed = await runTraining(base('r', { resume: true }));
    expect(resumed.status).toBe('completed');
    expect(resumed.epochsCompleted).toBe(4);
    expect(weights(resumed.checkpointDir).equals(weights(a.checkpointDir))).toBe(true);
    expect(weights(resumed.bundleDir).equals(weights(a.bundleDir))).toBe(true);
    expect(resumed.test!.accuracy).toBe(a.test!.accuracy);
    // a checkpoint is only resumed by the architecture that wrote it
    await expect(runTraining(base('r', { resume: true, epochs: 5, model: { hiddenSizes: [13] } }))).rejects.toThrow(/different architecture/);
  });

  it('cancels within one batch and keeps the last complete checkpoint', async () => {
    const ac = new AbortController();
    let steps = 0;
    let stepsAfterAbort = 0;
    let perEpoch = 0;
    const r = await runTraining(base('cancel', { epochs: 50 }), {
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'start') perEpoch = e.stepsPerEpoch;
        if (e.type !== 'progress') return;
        steps++;
        if (ac.signal.aborted) stepsAfterAbort++;
        if (e.epoch === 2 && e.step === 3) ac.abort();
      },
    });
    expect(r.status).toBe('cancelled');
    expect(stepsAfterAbort).toBe(0);
    expect(perEpoch).toBe(9); // 144 training samples after the 10 % validation split, batch 16
    expect(steps).toBe(perEpoch + 3);
    expect(r.epochsCompleted).toBe(1);
    expect(existsSync(path.join(r.checkpointDir, 'optimizer.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(r.checkpointDir, 'train-state.json'), 'utf8')).epochsCompleted).toBe(1);
  });

  it('stops early when validation accuracy stops improving', async () => {
    const r = await runTraining(base('early', { epochs: 30, patience: 2, lr: 0.03 }));
    expect(r.status).toBe('early-stopped');
    expect(r.epochsCompleted).toBeLessThan(30);
    expect(r.epochsCompleted - r.bestEpoch).toBe(2);
  });

  it('rejects bad configs naming the field', async () => {
    await expect(runTraining(base('bad', { batchSize: 0 }))).rejects.toThrow(/batchSize/);
    await expect(runTraining({ ...base('bad'), dataset: { kind: 'nope' } })).rejects.toThrow(/unknown dataset 'nope'/);
  });
});
