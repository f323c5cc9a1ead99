import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configFromArgs, trainCommand } from '../../../core/cli/commands/train.ts';
import { UsageError } from '../../../core/cli/command.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'egru-cli-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('egru train', () => {
  it('builds the config from a file and flags (flags win)', async () => {
    const f = path.join(dir, 'cfg.json');
    writeFileSync(f, JSON.stringify({ dataset: { kind: 'synthetic' }, out: 'x', epochs: 7, lr: 0.5, model: { hiddenSizes: [9] } }));
    const { config } = await configFromArgs(['--config', f, '--lr', '0.01', '--hidden', '16,8', '--schedule', 'step:5:0.5', '--reg-rate', '0.1:0.02', '--train-samples', '50']);
    expect(config.epochs).toBe(7);
    expect(config.lr).toBe(0.01);
    expect(config.model.hiddenSizes).toEqual([16, 8]);
    expect(config.schedule).toEqual({ kind: 'step', everyEpochs: 5, gamma: 0.5 });
    expect(config.regularisation).toEqual({ rateLambda: 0.1, rateTarget: 0.02, stateLambda: 0 });
    expect(config.dataset).toEqual({ kind: 'synthetic', options: { trainSamples: 50 } });
    expect(config.adamBeta2).toBe(0.999);
    expect((await configFromArgs(['--config', f, '--beta2', '0.99'])).config.adamBeta2).toBe(0.99);
    expect(config.thresholdLrScale).toBe(1);
    expect((await configFromArgs(['--config', f, '--thr-lr-scale', '0.1'])).config.thresholdLrScale).toBe(0.1);
  });

  it('rejects bad usage with a UsageError naming the flag', async () => {
    await expect(configFromArgs(['--out', 'x'])).rejects.toThrow(/--dataset/);
    await expect(configFromArgs(['--dataset', 'synthetic'])).rejects.toThrow(/--out/);
    await expect(configFromArgs(['--dataset', 'synthetic', '--out', 'x', '--epochs', 'many'])).rejects.toBeInstanceOf(UsageError);
    await expect(configFromArgs(['--dataset', 'synthetic', '--out', 'x', '--batch', '0'])).rejects.toThrow(/batchSize/);
    await expect(configFromArgs(['--dataset', 'synthetic', '--out', 'x', '--beta2', '1'])).rejects.toThrow(/adamBeta2/);
    await expect(configFromArgs(['--dataset', 'synthetic', '--out', 'x', '--thr-lr-scale', '0'])).rejects.toThrow(/thresholdLrScale/);
    await expect(configFromArgs(['--dataset', '/no/such/dir', '--out', 'x'])).rejects.toThrow(/neither a built-in dataset/);
  });

  it('trains in a worker and prints accuracy, activity, MAC reduction and throughput', async () => {
    const out = path.join(dir, 'bundle');
    const chunks: string[] = [];
    const spyOut = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (chunks.push(String(s)), true));
    const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await trainCommand.run(['--dataset', 'synthetic', '--out', out, '--epochs', '2', '--hidden', '10', '--lr', '0.01', '--kernel', 'reference']);
    } finally {
      spyOut.mockRestore();
      spyErr.mockRestore();
    }
    expect(code).toBe(0);
    const text = chunks.join('');
    expect(text).toMatch(/test accuracy\s+\d+\.\d%/);
    expect(text).toMatch(/MAC reduction\s+÷\d/);
    expect(text).toMatch(/throughput\s+\d+(\.\d)? training samples\/s/);
    expect(existsSync(path.join(out, 'model.json'))).toBe(true);
  });
});
