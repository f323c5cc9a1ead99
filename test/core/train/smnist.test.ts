import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reproSmnist, SMNIST_FULL, SMNIST_QUICK, useOneKernelThread } from '../../../scripts/repro-smnist.ts';
import type { TrainEvent } from '../../../core/train/loop.ts';
import { loadBundle } from '../../../core/model/bundle.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'egru-smnist-test-'));
beforeAll(() => useOneKernelThread());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sequential MNIST', () => {
  it('quick smoke (pixel-by-pixel, 784 steps × 1 pixel, 1,000/200 digits): learns clearly on real digits', { timeout: 400_000 }, async () => {
    const epochs: Extract<TrainEvent, { type: 'epoch' }>[] = [];
    const r = await reproSmnist({ quick: true, out: path.join(dir, 'quick'), onEvent: (e) => e.type === 'epoch' && epochs.push(e) });
    expect(r.status).toBe('completed');
    expect(epochs.length).toBe(SMNIST_QUICK.epochs);
    // training loss starts near ln 10 ≈ 2.30 and falls clearly (measured 2.27 → 1.89)
    expect(epochs[0].trainLoss).toBeGreaterThan(2.1);
    expect(epochs[epochs.length - 1].trainLoss).toBeLessThan(0.92 * epochs[0].trainLoss);
    // held-out digits: chance is 10 %; ≥ 20 % of 200 is > 7 binomial σ above it (measured 29.5 %)
    expect(r.test!.samples).toBe(200);
    expect(r.test!.accuracy).toBeGreaterThanOrEqual(0.2);
    const { meta } = await loadBundle(r.bundleDir);
    expect(meta.preprocessing).toMatchObject({ kind: 'sequence', steps: 784, inputSize: 1 });
    expect(String(meta.provenance.dataset)).toMatch(/784 steps × 1 pixel/);
  });

  it('the full recipe is the paper input (784 steps × 1 pixel) on the fixed 8,000/2,000 split, and quick differs only in size', () => {
    expect(SMNIST_FULL.dataset).toEqual({ kind: 'smnist', options: {} });
    expect(SMNIST_QUICK.model).toEqual(SMNIST_FULL.model);
    expect(SMNIST_QUICK.dataset).toEqual({ kind: 'smnist', options: { trainSamples: 1000, testSamples: 200 } });
  });
});
