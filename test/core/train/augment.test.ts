import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openEventDir } from '../../../core/train/datasets/event-dirs.ts';
import type { EventDirSplits } from '../../../core/train/datasets/event-dirs.ts';
import { densify, gesturePreprocessing } from '../../../core/train/datasets/preprocess.ts';
import { splitByGroup } from '../../../core/train/datasets/event-windows.ts';
import { evaluateDataset } from '../../../core/train/loop.ts';
import { loadBundle } from '../../../core/model/bundle.ts';
import { getEgruKernel } from '../../../core/egru/kernels.ts';
import type { SequenceSample } from '../../../core/train/dataset.ts';
import { runTraining } from '../../../core/train/loop.ts';
import { makeGestureFixture } from '../../helpers/gesture-fixture.ts';
import { allocPacket } from '../../../core/events/packet.ts';
import type { EventPacket } from '../../../core/events/packet.ts';
import type { AugmentParams, WindowEvents } from '../../../core/train/augment.ts';
import { DEFAULT_AUGMENT, NO_AUGMENT, augmentEvents, augmentSeed, drawAugment, windowEvents } from '../../../core/train/augment.ts';
import { resolveAugment } from '../../../core/train/config.ts';
import { Rng } from '../../../core/util/rng.ts';

function events(xs: number[], ys: number[], ts: number[], ps: number[]): WindowEvents {
  return { x: Uint16Array.from(xs), y: Uint16Array.from(ys), t: Float32Array.from(ts), p: Uint8Array.from(ps), length: xs.length };
}

const rows = (pk: EventPacket) => Array.from({ length: pk.length }, (_, k) => [pk.x[k], pk.y[k], pk.t[k], pk.p[k]]);
const params = (o: Partial<AugmentParams>): AugmentParams => ({ ...NO_AUGMENT, ...o });

describe('augmentEvents', () => {
  const sensor = { width: 5, height: 5 }; // centre pixel (2, 2)

  it('is the identity with NO_AUGMENT (times made absolute from the window start)', () => {
    const src = events([0, 4, 2], [1, 3, 2], [0, 10, 99], [1, 0, 1]);
    expect(rows(augmentEvents(src, NO_AUGMENT, sensor, 1000, 1100, allocPacket(0)))).toEqual([[0, 1, 1000, 1], [4, 3, 1010, 0], [2, 2, 1099, 1]]);
  });

  it('rotates by 90° about the sensor centre: (4,2) → (2,4), (2,0) → (4,2); polarity kept', () => {
    const src = events([4, 2, 2], [2, 0, 2], [0, 1, 2], [0, 1, 1]);
    const out = augmentEvents(src, params({ rotation: Math.PI / 2 }), sensor, 0, 100, allocPacket(0));
    expect(rows(out)).toEqual([[2, 4, 0, 0], [4, 2, 1, 1], [2, 2, 2, 1]]);
  });

  it('scales about the centre and translates; events leaving the sensor are dropped', () => {
    const src = events([3, 4, 0], [2, 2, 2], [0, 1, 2], [1, 1, 1]);
    // ×2 about (2,2): 3 → 4, 4 → 6 (outside), 0 → −2 (outside); then +0 shift.
    expect(rows(augmentEvents(src, params({ scale: 2 }), sensor, 0, 100, allocPacket(0)))).toEqual([[4, 2, 0, 1]]);
    // Shift by (−1, +2): (3,2) → (2,4); (4,2) → (3,4); (0,2) → (−1,4) dropped.
    expect(rows(augmentEvents(src, params({ tx: -1, ty: 2 }), sensor, 0, 100, allocPacket(0)))).toEqual([[2, 4, 0, 1], [3, 4, 1, 1]]);
  });

  it('stretches times relative to the window start and drops events pushed past the window end', () => {
    const src = events([1, 1, 1, 1], [1, 1, 1, 1], [0, 100, 400, 600], [1, 1, 1, 1]);
    expect(rows(augmentEvents(src, params({ stretch: 0.5 }), sensor, 1000, 1500, allocPacket(0))).map((r) => r[2])).toEqual([1000, 1050, 1200, 1300]);
    expect(rows(augmentEvents(src, params({ stretch: 1.2 }), sensor, 1000, 1500, allocPacket(0))).map((r) => r[2])).toEqual([1000, 1120, 1480]);
  });

  it('drops the requested fraction of events (statistically), reproducibly for a seed', () => {
    const n = 20_000;
    const src = events(new Array(n).fill(2), new Array(n).fill(2), Array.from({ length: n }, (_, i) => i), new Array(n).fill(1));
    const a = augmentEvents(src, params({ drop: 0.3, dropSeed: 7 }), sensor, 0, 1e9, allocPacket(0));
    // Binomial(20000, 0.7): sd ≈ 65 events.
    expect(Math.abs(a.length - 0.7 * n)).toBeLessThan(400);
    const b = augmentEvents(src, params({ drop: 0.3, dropSeed: 7 }), sensor, 0, 1e9, allocPacket(0));
    expect(Array.from(b.t.subarray(0, b.length))).toEqual(Array.from(a.t.subarray(0, a.length)));
    const c = augmentEvents(src, params({ drop: 0.3, dropSeed: 8 }), sensor, 0, 1e9, allocPacket(0));
    expect(Array.from(c.t.subarray(0, c.length))).not.toEqual(Array.from(a.t.subarray(0, a.length)));
  });

  it('reuses the output packet when large enough', () => {
    const out = allocPacket(16);
    expect(augmentEvents(events([1], [1], [0], [1]), NO_AUGMENT, sensor, 0, 10, out)).toBe(out);
  });
});

describe('drawAugment', () => {
  const sensor = { width: 128, height: 128 };

  it('is deterministic in (seed, epoch, index) and differs across them', () => {
    const d = (s: number, e: number, i: number) => drawAugment(new Rng(augmentSeed(s, e, i)), sensor);
    expect(d(1, 3, 10)).toEqual(d(1, 3, 10));
    expect(d(1, 3, 10)).not.toEqual(d(1, 4, 10));
    expect(d(1, 3, 10)).not.toEqual(d(1, 3, 11));
    expect(d(1, 3, 10)).not.toEqual(d(2, 3, 10));
  });

  it('stays inside the ranges and never mirrors x (the linear part keeps a positive determinant)', () => {
    const r = DEFAULT_AUGMENT;
    for (let i = 0; i < 2000; i++) {
      const a = drawAugment(new Rng(augmentSeed(1, 0, i)), sensor);
      expect(a.scale).toBeGreaterThanOrEqual(r.scale[0]);
      expect(a.scale).toBeLessThanOrEqual(r.scale[1]);
      expect(Math.abs(a.rotation)).toBeLessThanOrEqual((r.rotationDeg * Math.PI) / 180);
      expect(a.stretch).toBeGreaterThanOrEqual(r.stretch[0]);
      expect(a.stretch).toBeLessThanOrEqual(r.stretch[1]);
      expect(a.drop).toBeGreaterThanOrEqual(0);
      expect(a.drop).toBeLessThanOrEqual(r.maxDrop);
      expect(Math.abs(a.tx)).toBeLessThanOrEqual(r.translate * 128);
    }
  });

  it('keeps left on the left: a motion to the right stays a motion to the right for every drawn sample', () => {
    // Two events on the horizontal line through the centre, the second to the right of the first.
    const src = events([54, 74], [64, 64], [0, 1], [1, 1]);
    for (let i = 0; i < 500; i++) {
      const a = { ...drawAugment(new Rng(augmentSeed(5, 1, i)), sensor), drop: 0, tx: 0, ty: 0 };
      const out = augmentEvents(src, a, sensor, 0, 1e9, allocPacket(0));
      expect(out.length).toBe(2);
      expect(out.x[1]).toBeGreaterThan(out.x[0]);
    }
  });
});

describe('windowEvents', () => {
  it('copies a slice with times relative to the window start', () => {
    const pk = allocPacket(4);
    pk.x.set([1, 2, 3, 4]);
    pk.y.set([5, 6, 7, 8]);
    pk.t.set([100, 150, 300, 400]);
    pk.p.set([1, 0, 1, 0]);
    pk.length = 4;
    const w = windowEvents(pk, 1, 3, 120);
    expect([Array.from(w.x), Array.from(w.y), Array.from(w.t), Array.from(w.p), w.length]).toEqual([[2, 3], [6, 7], [30, 180], [0, 1], 2]);
  });
});

describe('resolveAugment', () => {
  it('off by default; true → the default ranges; partial objects filled; bad values named', () => {
    expect(resolveAugment(undefined)).toBe(false);
    expect(resolveAugment(false)).toBe(false);
    expect(resolveAugment(true)).toEqual(DEFAULT_AUGMENT);
    expect(resolveAugment({ maxDrop: 0.1 })).toEqual({ ...DEFAULT_AUGMENT, maxDrop: 0.1 });
    expect(() => resolveAugment({ stretch: [1.2, 0.8] })).toThrow(/augment\.stretch/);
    expect(() => resolveAugment({ maxDrop: 1 })).toThrow(/augment\.maxDrop/);
  });
});

describe('augmented event windows in training', () => {
  const PREP = gesturePreprocessing({ frame: { width: 16, height: 16 }, binUs: 10_000, windowUs: 100_000 });
  const IDENTITY = { scale: [1, 1] as [number, number], rotationDeg: 0, translate: 0, stretch: [1, 1] as [number, number], maxDrop: 0 };
  let tmp = '';
  let fxDir = '';
  let splits: EventDirSplits;
  const C = 2 * PREP.frame.width * PREP.frame.height;
  const dense = (s: SequenceSample): number[] => {
    if (s.kind !== 'sparse') throw new Error('event windows are sparse');
    return Array.from(densify({ T: s.T, C, t: s.t, c: s.c, v: s.v }));
  };

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'egru-augment-'));
    fxDir = (await makeGestureFixture(path.join(tmp, 'dvs'), { users: 3, testUsers: 1, classes: [1, 2] })).dir;
    // A frame cache, so the test shows augmented samples do not come from it.
    splits = await openEventDir(fxDir, { preprocessing: PREP, cacheDir: path.join(tmp, 'cache') });
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('re-bins from events: identity ranges reproduce the cached window; real ranges change per epoch, not per call', async () => {
    const ds = splits.train;
    const idx = Array.from({ length: ds.size }, (_, i) => i);
    await ds.loadWindowEvents(idx);
    expect(ds.inputSize).toBe(C);
    const withC = dense;
    const same = ds.augmented(1, 0, IDENTITY);
    for (const i of [0, ds.size - 1]) expect(withC(same.sample(i))).toEqual(withC(ds.sample(i)));
    const e0 = ds.augmented(1, 0);
    const e1 = ds.augmented(1, 1);
    expect(withC(e0.sample(3))).toEqual(withC(ds.augmented(1, 0).sample(3)));
    expect(withC(e0.sample(3))).not.toEqual(withC(e1.sample(3)));
    expect(withC(e0.sample(3))).not.toEqual(withC(ds.sample(3)));
    expect(e0.label(3)).toBe(ds.label(3));
    expect(e0.sample(3).label).toBe(ds.label(3));
  });

  it('runTraining: augment recorded in the provenance, validation not augmented, runs reproducible, non-event data refused', async () => {
    const cfg = (out: string) => ({
      dataset: { kind: 'dir', options: { path: fxDir, preprocessing: PREP, cacheDir: null } },
      out: path.join(tmp, out),
      epochs: 2,
      batchSize: 8,
      lr: 0.01,
      valFraction: 0.4,
      model: { hiddenSizes: [8] },
      kernel: 'reference' as const,
      seed: 2,
      augment: true,
    });
    const a = await runTraining(cfg('a'));
    await runTraining(cfg('b'));
    expect(a.epochsCompleted).toBe(2);
    const { meta, model } = await loadBundle(path.join(tmp, 'a'), getEgruKernel('reference'));
    expect((meta.provenance.config as { augment: unknown }).augment).toEqual(DEFAULT_AUGMENT);
    // Validation numbers of the saved model are those of the PLAIN (cached-path) validation windows.
    const { val } = splitByGroup(splits.train, 0.4, 2);
    const v = evaluateDataset(model, val!, 64);
    expect(meta.metrics.valAccuracy).toBe(v.accuracy);
    expect(meta.metrics.valLoss).toBeCloseTo(v.loss, 5);
    expect(await readFile(path.join(tmp, 'b', 'weights.safetensors'))).toEqual(await readFile(path.join(tmp, 'a', 'weights.safetensors')));
    await expect(runTraining({ ...cfg('c'), dataset: { kind: 'synthetic', options: { trainSamples: 20, testSamples: 0 } } })).rejects.toThrow(/augment needs an event-recording dataset/);
  });
});
