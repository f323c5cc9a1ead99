import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DIR_DATASET_LOADERS, openDataset } from '../../../../core/train/datasets/registry.ts';
import { openEventDir, userOf } from '../../../../core/train/datasets/event-dirs.ts';
import type { EventDirSplits } from '../../../../core/train/datasets/event-dirs.ts';
import { splitByGroup } from '../../../../core/train/datasets/event-windows.ts';
import type { EventWindowDataset } from '../../../../core/train/datasets/event-windows.ts';
import { densify, gesturePreprocessing, WindowBinner } from '../../../../core/train/datasets/preprocess.ts';
import { DVS_GESTURE_CLASSES } from '../../../../core/events/labels.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import { readAll } from '../../../../core/events/reader.ts';
import type { SequenceSample } from '../../../../core/train/dataset.ts';
import { expectedWindows, makeGestureFixture, npyBytes } from '../../../helpers/gesture-fixture.ts';
import type { GestureFixture } from '../../../helpers/gesture-fixture.ts';

const PREP = gesturePreprocessing({ frame: { width: 16, height: 16 }, binUs: 10_000, windowUs: 100_000 });

let tmp = '';
let fx: GestureFixture;
let splits: EventDirSplits;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'egru-gesture-'));
  fx = await makeGestureFixture(path.join(tmp, 'dvs'), { aedat4Trials: ['user02_led'] });
  splits = await openEventDir(fx.dir, { preprocessing: PREP, cacheDir: null });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function perClass(ds: EventWindowDataset): number[] {
  const c = new Array<number>(11).fill(0);
  for (let i = 0; i < ds.size; i++) c[ds.label(i)]++;
  return c;
}

function dense(s: SequenceSample, C: number): Float32Array {
  if (s.kind === 'dense') return s.frames;
  return densify({ T: s.T, C, t: s.t, c: s.c, v: s.v });
}

describe('DVS128 Gesture layout', () => {
  it('loads the fixture with the right windows per split and class (quirky labels, an .aedat4 trial)', () => {
    expect(splits.layout).toBe('dvs128-gesture');
    const tr = expectedWindows(fx.trials, fx.windowUs, 'train');
    const te = expectedWindows(fx.trials, fx.windowUs, 'test');
    // 3 train users × 2 lightings × 11 gestures × 2 windows, + the repeated gesture (2) + the overlapping row's extra window (1)
    expect(tr.total).toBe(3 * 2 * 11 * 2 + 2 + 1);
    expect(te.total).toBe(1 * 2 * 11 * 2);
    expect(splits.train.size).toBe(tr.total);
    expect(splits.test!.size).toBe(te.total);
    expect(perClass(splits.train)).toEqual(tr.perClass);
    expect(perClass(splits.test!)).toEqual(te.perClass);
    expect(splits.train.classNames).toEqual(DVS_GESTURE_CLASSES);
    expect([splits.train.inputSize, splits.train.length(0)]).toEqual([2 * 16 * 16, 10]);
    // Test users never appear in training.
    const trainUsers = new Set(Array.from({ length: splits.train.size }, (_, i) => splits.train.group(i)));
    expect([...trainUsers].sort()).toEqual([1, 2, 3]);
    expect(new Set(Array.from({ length: splits.test!.size }, (_, i) => splits.test!.group(i)))).toEqual(new Set([4]));
  });

  it('starts windows at the label rows, window after window, from the rows as written', () => {
    const tr = fx.trials[0];
    const want = tr.labels.flatMap((l) => {
      const out: [number, number][] = [];
      for (let s = l.startUs; s + fx.windowUs <= l.endUs; s += fx.windowUs) out.push([s, l.classIndex]);
      return out;
    });
    const got: [number, number][] = [];
    for (let i = 0; i < splits.train.size; i++) {
      const s = splits.train.source(i);
      if (s.recording === tr.name) got.push([s.startUs, splits.train.label(i)]);
    }
    expect(got).toEqual(want);
  });

  it('samples equal the preprocessing applied directly to the decoded recording', async () => {
    const i = splits.train.size - 1;
    const src = splits.train.source(i);
    const r = await openEvents(src.file);
    const pk = await readAll(r);
    await r.close();
    const want = densify(new WindowBinner(PREP).bin(pk, src.startUs));
    expect(Array.from(dense(splits.train.sample(i), splits.train.inputSize))).toEqual(Array.from(want));
    expect(want.some((v) => v > 0)).toBe(true);
  });

  it('reads the .aedat4 trial like the AEDAT 3.1 ones', () => {
    let n = 0;
    for (let i = 0; i < splits.train.size; i++) if (splits.train.source(i).recording === 'user02_led') n++;
    expect(n).toBe(22);
  });

  it('names a listed trial whose event file is missing', async () => {
    const d = path.join(tmp, 'broken');
    mkdirSync(d);
    writeFileSync(path.join(d, 'trials_to_train.txt'), 'user01_lab.aedat\n');
    await expect(openEventDir(d, { preprocessing: PREP, cacheDir: null })).rejects.toThrow(/user01_lab\.aedat has no event file/);
  });

  it('is reachable through the training registry as a { kind: "dir" } spec', async () => {
    expect(DIR_DATASET_LOADERS.map((l) => l.name)).toEqual(expect.arrayContaining(['dvs128-gesture', 'tonic-dvsgesture', 'recordings']));
    const s = await openDataset({ kind: 'dir', options: { path: fx.dir, preprocessing: PREP, cacheDir: null } });
    expect(s.train.size).toBe(splits.train.size);
    expect(s.preprocessing).toEqual(PREP);
  });
});

describe('validation split by user', () => {
  it('is disjoint from training by user, covers it, and is deterministic per seed', () => {
    const base = splits.train;
    const a = splitByGroup(base, 0.34, 7);
    expect(a.val).not.toBeNull();
    expect(a.valGroups.length).toBe(1); // round(3 users × 0.34)
    for (const i of a.valIndices) expect(a.valGroups).toContain(base.group(i));
    for (const i of a.trainIndices) expect(a.valGroups).not.toContain(base.group(i));
    expect([...a.trainIndices, ...a.valIndices].sort((x, y) => x - y)).toEqual(Array.from({ length: base.size }, (_, i) => i));
    expect([a.train.size, a.val!.size]).toEqual([a.trainIndices.length, a.valIndices.length]);
    expect(a.val!.label(0)).toBe(base.label(a.valIndices[0]));
    const b = splitByGroup(base, 0.34, 7);
    expect(b.valIndices).toEqual(a.valIndices);
    // The seed matters: some other seed picks another user.
    const picked = new Set([1, 2, 3, 4, 5, 6, 8, 9].map((s) => splitByGroup(base, 0.34, s).valGroups[0]));
    expect(picked.size).toBeGreaterThan(1);
    // Never all users, and no split without a fraction.
    expect(splitByGroup(base, 0.99, 1).valGroups.length).toBe(2);
    expect(splitByGroup(base, 0, 1).val).toBeNull();
  });
});

/** [N, 4] float64 (x, y, p, t in ms) like tonic's DVSGesture copy: a blob at (x, y) for `ms` milliseconds. */
function tonicSample(x: number, y: number, ms: number, t0Ms = 12.5): Uint8Array {
  const rows: number[] = [];
  for (let i = 0; i < ms * 2; i++) rows.push(x + (i % 3), y, i % 2 ? 1 : -1, t0Ms + i * 0.5);
  const b = new Uint8Array(8 * rows.length);
  const dv = new DataView(b.buffer);
  rows.forEach((v, i) => dv.setFloat64(8 * i, v, true));
  return npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': (${rows.length / 4}, 4), }`, b);
}

describe('tonic DVSGesture layout', () => {
  it('reads ibmGestureTrain/ibmGestureTest/userNN_<lighting>/<class>.npy with ms timestamps', async () => {
    const root = path.join(tmp, 'tonic', 'DVSGesture');
    const put = (split: string, trial: string, file: string, bytes: Uint8Array) => {
      mkdirSync(path.join(root, split, trial), { recursive: true });
      writeFileSync(path.join(root, split, trial, file), bytes);
    };
    // 250 ms of events from t = 12.5 ms → windows of 100 ms at 12.5 and 112.5 ms (the last 50 ms dropped).
    put('ibmGestureTrain', 'user01_natural', '3.npy', tonicSample(10, 10, 250));
    put('ibmGestureTrain', 'user01_natural', '7.npy', tonicSample(100, 100, 120));
    put('ibmGestureTrain', 'user01_natural', '7_positions.npy', new Uint8Array([1, 2, 3])); // not a sample
    put('ibmGestureTrain', 'user02_led', '0.npy', tonicSample(60, 60, 99)); // shorter than one window: none
    put('ibmGestureTest', 'user24_led', '10.npy', tonicSample(5, 120, 330));
    const s = await openEventDir(path.join(tmp, 'tonic'), { preprocessing: PREP, cacheDir: null });
    expect(s.layout).toBe('tonic-dvsgesture');
    expect(s.train.size).toBe(3);
    expect(Array.from({ length: 3 }, (_, i) => s.train.label(i))).toEqual([3, 3, 7]);
    expect(Array.from({ length: 3 }, (_, i) => s.train.source(i).startUs)).toEqual([12_500, 112_500, 12_500]);
    expect(Array.from({ length: 3 }, (_, i) => s.train.group(i))).toEqual([1, 1, 1]);
    expect(s.test!.size).toBe(3);
    expect(s.test!.label(0)).toBe(10);
    expect(s.test!.group(0)).toBe(24);
    // The first window holds 200 events (100 ms at 2 per ms), all in the blob's cells.
    const f = dense(s.train.sample(0), s.train.inputSize);
    expect(f.reduce((a, v) => a + v, 0) * PREP.normalisation.divideBy).toBeCloseTo(200, 3);
  });

  it('reads <root>/train|test/<class>/*.npy class folders with structured arrays', async () => {
    const root = path.join(tmp, 'tonic2');
    const rec = new Uint8Array(16 * 300);
    const dv = new DataView(rec.buffer);
    for (let i = 0; i < 300; i++) {
      dv.setInt16(16 * i, 20, true);
      dv.setInt16(16 * i + 2, 30, true);
      dv.setUint8(16 * i + 4, i % 2);
      dv.setBigInt64(16 * i + 8, BigInt(i), true); // 1 ms apart
    }
    const bytes = npyBytes("{'descr': [('x', '<i2'), ('y', '<i2'), ('p', '|b1'), ('', '|V3'), ('t', '<i8')], 'fortran_order': False, 'shape': (300,), }", rec);
    for (const [split, k, name] of [['train', '4', 'user05_lab_a.npy'], ['train', '4', 'user06_lab.npy'], ['test', '9', 'user27_led.npy']]) {
      mkdirSync(path.join(root, split, k), { recursive: true });
      writeFileSync(path.join(root, split, k, name), bytes);
    }
    const s = await openEventDir(root, { preprocessing: PREP, cacheDir: null });
    expect(s.layout).toBe('tonic-dvsgesture');
    expect([s.train.size, s.test!.size]).toEqual([4, 2]); // t = 0…299 ms: windows at 0 and 100 ms; 200–300 ms would need t = 300
    expect(new Set(Array.from({ length: 4 }, (_, i) => s.train.group(i)))).toEqual(new Set([5, 6]));
    expect(s.test!.label(0)).toBe(9);
  });

  it('rejects a class file name that is not a class index', async () => {
    const root = path.join(tmp, 'tonic3', 'ibmGestureTrain', 'user01_lab');
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, '11.npy'), tonicSample(1, 1, 10));
    await expect(openEventDir(path.join(tmp, 'tonic3'), { preprocessing: PREP, cacheDir: null })).rejects.toThrow(/not a class index 0\.\.10/);
  });
});

describe('folder of own recordings', () => {
  it('pairs event files with <name>_labels.csv and uses all of them for training', async () => {
    const d = path.join(tmp, 'rec');
    mkdirSync(d);
    const src = fx.trials[1];
    copyFileSync(src.file, path.join(d, 'session_a.aedat'));
    copyFileSync(path.join(fx.dir, `${src.name}_labels.csv`), path.join(d, 'session_a_labels.csv'));
    copyFileSync(src.file, path.join(d, 'unlabelled.aedat'));
    const s = await openEventDir(d, { preprocessing: PREP, cacheDir: null });
    expect(s.layout).toBe('recordings');
    expect(s.test).toBeUndefined();
    expect(s.train.size).toBe(22);
    expect(userOf('user07_led')).toBe(7);
  });
});
