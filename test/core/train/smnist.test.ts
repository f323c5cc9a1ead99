import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reproSmnist, SMNIST_FULL } from '../../../scripts/repro-smnist.ts';
import type { TrainEvent } from '../../../core/train/loop.ts';
import { loadBundle } from '../../../core/model/bundle.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'egru-smnist-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sequential MNIST', () => {
  it('quick smoke (ROW-WISE, 28 steps × 28 pixels, 400/200 digits): learns clearly on real digits', async () => {
    const epochs: Extract<TrainEvent, { type: 'epoch' }>[] = [];
    const r = await reproSmnist({ quick: true, out: path.join(dir, 'quick'), onEvent: (e) => e.type === 'epoch' && epochs.push(e) });
    expect(r.status).toBe('completed');
    expect(epochs.length).toBe(15);
    // training loss falls from ≈ ln 10 to well under half of it
    expect(epochs[0].trainLoss).toBeGreaterThan(2);
    expect(epochs[epochs.length - 1].trainLoss).toBeLessThan(0.5 * epochs[0].trainLoss);
    // held-out digits: far above the 10 % chance level
    expect(r.test!.samples).toBe(200);
    expect(r.test!.accuracy).toBeGreaterThanOrEqual(0.5);
    const { meta } = await loadBundle(r.bundleDir);
    expect(meta.preprocessing).toMatchObject({ kind: 'sequence', steps: 28, inputSize: 28 });
    expect(String(meta.provenance.dataset)).toMatch(/ROW-WISE/);
  });

  it('the full recipe is the paper input: 784 steps × 1 pixel', () => {
    expect(SMNIST_FULL.dataset).toEqual({ kind: 'smnist', options: {} });
  });
});
