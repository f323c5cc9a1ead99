import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { referenceKernel } from '../../../core/egru/reference.ts';
import { resolveModelConfig } from '../../../core/model/config.ts';
import { initGestureModel } from '../../../core/model/init.ts';
import { BundleError, exportEvnnStateDict, importEvnnStateDict, loadBundle, saveBundle, updateBundleMeta } from '../../../core/model/bundle.ts';
import type { BundleMetaInput } from '../../../core/model/bundle.ts';
import { readSafetensorsFile, writeSafetensorsFile } from '../../../core/io/safetensors.ts';
import type { WritableTensor } from '../../../core/io/safetensors.ts';
import { Rng } from '../../../core/util/rng.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'egru-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const meta: BundleMetaInput = {
  preprocessing: {
    kind: 'event-frames',
    sensor: { width: 128, height: 128 },
    crop: null,
    frame: { width: 4, height: 2 },
    binUs: 25_000,
    windowUs: 1_700_000,
    polarity: 'split',
    normalisation: { divideBy: 19, clip: null },
    layout: 'pyx',
  },
  classNames: ['left', 'right', 'up'],
  provenance: { seed: 7, config: { lr: 0.001 }, dataset: 'unit test', epoch: 1, epochs: 1, kernel: 'reference', history: [] },
  metrics: { valAccuracy: 0.5, valLoss: 1, trainAccuracy: 0.6, trainLoss: 0.9, testAccuracy: null, testLoss: null, activity: 0.1, macReduction: 4, samplesPerSec: 100, evaluatedOn: 'validation' },
};

function model(frontDense = 0) {
  const cfg = resolveModelConfig({ inputSize: 16, numClasses: 3, hiddenSizes: [6, 5], frontDense });
  return initGestureModel(cfg, 11, referenceKernel);
}

function input(T = 5, N = 2, C = 16) {
  const rng = new Rng(1);
  const x = new Float32Array(T * N * C);
  for (let i = 0; i < x.length; i++) x[i] = rng.next() < 0.3 ? rng.uniform(0, 2) : 0;
  return { x, T, N, lengths: Int32Array.of(T, T - 1), labels: Int32Array.of(0, 2) };
}

describe('model bundle', () => {
  it('saves and loads: same weights, same outputs, full metadata, EvNN key names', async () => {
    const m = model();
    const d = path.join(dir, 'b1');
    await saveBundle(d, m, meta);
    expect(readdirSync(d).sort()).toEqual(['model.json', 'weights.safetensors']);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
    const { meta: back, model: m2 } = await loadBundle(d, referenceKernel);
    expect(back.formatVersion).toBe(1);
    expect(back.classNames).toEqual(meta.classNames);
    expect(back.preprocessing).toEqual(meta.preprocessing);
    expect(back.provenance.seed).toBe(7);
    expect(typeof back.provenance.date).toBe('string');
    expect(back.architecture.parameters).toBe(m.parameterCount());
    const { x, T, N, lengths, labels } = input();
    expect(Array.from(m2.evaluate(x, T, N, lengths, labels).logits)).toEqual(Array.from(m.evaluate(x, T, N, lengths, labels).logits));
    const keys = [...(await readSafetensorsFile(path.join(d, 'weights.safetensors'))).tensors.keys()].sort();
    expect(keys).toContain('layers.0.kernel');
    expect(keys).toContain('layers.1.recurrent_kernel');
    expect(keys).toContain('layers.1.thr');
    expect(keys).toContain('layers.0.dampening_factor');
    expect(keys).toContain('layers.0.pseudo_derivative_support');
    expect(keys).toContain('fc.weight');
    const t = (await readSafetensorsFile(path.join(d, 'weights.safetensors'))).tensors;
    expect(t.get('fc.weight')!.shape).toEqual([3, 5]);
    expect(t.get('layers.0.kernel')!.shape).toEqual([16, 18]);
  });

  it('replaces an existing bundle atomically and edits metadata without touching weights', async () => {
    const d = path.join(dir, 'b2');
    await saveBundle(d, model(), meta);
    const w1 = readFileSync(path.join(d, 'weights.safetensors'));
    await updateBundleMeta(d, (m) => ({ ...m, metrics: { ...m.metrics, testAccuracy: 0.75 } }));
    expect(readFileSync(path.join(d, 'weights.safetensors')).equals(w1)).toBe(true);
    expect((await loadBundle(d, referenceKernel)).meta.metrics.testAccuracy).toBe(0.75);
    const m3 = model(4);
    await saveBundle(d, m3, meta);
    expect((await loadBundle(d, referenceKernel)).model.config.frontDense).toBe(4);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
  });

  it('recovers the previous version when a crash interrupted the swap between the two renames', async () => {
    const d = path.join(dir, 'b-crash');
    await saveBundle(d, model(), meta);
    renameSync(d, `${d}.old-1234-crash`); // state right after `rename(dir, old)`, before `rename(tmp, dir)`
    const { meta: back } = await loadBundle(d, referenceKernel);
    expect(back.classNames).toEqual(meta.classNames);
    expect(existsSync(`${d}.old-1234-crash`)).toBe(false);
  });

  it('exports an EvNN state_dict and imports it back (thr and thr_reparam encodings)', async () => {
    const m = model();
    const { x, T, N, lengths, labels } = input();
    const ref = m.evaluate(x, T, N, lengths, labels).logits;
    for (const enc of ['thr', 'thr_reparam'] as const) {
      const f = path.join(dir, `evnn-${enc}.safetensors`);
      await exportEvnnStateDict(m, f, enc);
      const t = (await readSafetensorsFile(f)).tensors;
      expect(t.has('layers.0._max_norm')).toBe(true);
      expect(t.has(`layers.0.${enc}`)).toBe(true);
      const back = await importEvnnStateDict(f, m.config, referenceKernel);
      const out = back.evaluate(x, T, N, lengths, labels).logits;
      for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(ref[i], enc === 'thr' ? 7 : 4);
    }
  });

  it('rejects broken bundles with a BundleError naming the problem', async () => {
    const d = path.join(dir, 'b3');
    const m = model();
    await saveBundle(d, m, meta);
    const json = JSON.parse(readFileSync(path.join(d, 'model.json'), 'utf8'));
    const expectErr = async (re: RegExp) => {
      const e = await loadBundle(d, referenceKernel).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(BundleError);
      expect((e as Error).message).toMatch(re);
    };
    writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...json, formatVersion: 99 }));
    await expectErr(/unknown format version 99/);
    writeFileSync(path.join(d, 'model.json'), '{ not json');
    await expectErr(/invalid JSON/);
    writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...json, classNames: ['a'] }));
    await expectErr(/classNames must list 3/);
    writeFileSync(path.join(d, 'model.json'), JSON.stringify(json));
    const good = (await readSafetensorsFile(path.join(d, 'weights.safetensors'))).tensors;
    const rewrite = async (edit: (t: Map<string, WritableTensor>) => void) => {
      const t = new Map<string, WritableTensor>([...good].map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array }]));
      edit(t);
      await writeSafetensorsFile(path.join(d, 'weights.safetensors'), t);
    };
    await rewrite((t) => t.delete('fc.bias'));
    await expectErr(/fc\.bias: missing/);
    await rewrite((t) => t.set('fc.weight', { shape: [5, 3], data: new Float32Array(15) }));
    await expectErr(/fc\.weight: shape \[5, 3\], expected \[3, 5\]/);
    await rewrite((t) => t.set('layers.1.recurrent_kernel', { shape: [5, 12], data: new Float32Array(60) }));
    await expectErr(/layers\.1\.recurrent_kernel/);
    await rewrite((t) => t.set('conv.0.weight', { shape: [1], data: new Float32Array(1) }));
    await expectErr(/conv\.0\.weight: unexpected tensor/);
    writeFileSync(path.join(d, 'weights.safetensors'), Buffer.from([1, 2, 3]));
    await expectErr(/weights\.safetensors/);
    rmSync(path.join(d, 'weights.safetensors'));
    await expectErr(/weights\.safetensors: cannot read/);
    expect(existsSync(d)).toBe(true);
  });
});
