/**
 * The gesture pipeline on real third-party files from ../shared/data (skipped with a notice when absent):
 * IBM's own label file of user01_natural, and a real DVS128 recording (jAER AEDAT 2.0) used as one of "our
 * recordings" with a label row written here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseGestureLabels } from '../../../../core/events/labels.ts';
import { openEvents } from '../../../../core/events/formats/index.ts';
import { readAll } from '../../../../core/events/reader.ts';
import { openEventDir } from '../../../../core/train/datasets/event-dirs.ts';
import { DEFAULT_GESTURE_PREPROCESSING, densify, windowsForLabels } from '../../../../core/train/datasets/preprocess.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

const LABELS = sharedFile('dvsgesture-labels/user01_natural_labels.csv');
const DVS128 = sharedFile('dvs128-aedat2/alex_walking_again.aedat');

let tmp = '';
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'egru-real-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.skipIf(!LABELS)('IBM label file user01_natural_labels.csv', () => {
  it('gives 49 windows of 1.7 s, rows kept in file order with class 8 twice', async () => {
    const labels = parseGestureLabels(await readFile(LABELS!, 'utf8'), LABELS!);
    const w = windowsForLabels(labels, DEFAULT_GESTURE_PREPROCESSING.windowUs);
    // Per row ⌊(end − start) / 1.7 s⌋, in file order (classes 1,2,3,5,4,6,7,8,8,9,10,11):
    const perRow = [3, 5, 4, 6, 4, 5, 4, 5, 3, 3, 4, 3];
    expect(w.length).toBe(49);
    expect(perRow.map((_, r) => w.filter((x) => x.row === r).length)).toEqual(perRow);
    expect(w[0]).toEqual({ startUs: 53_036_986, label: 0, row: 0 });
    expect(w.filter((x) => x.label === 7).length).toBe(5 + 3);
    // Every window lies inside its row.
    for (const x of w) expect(x.startUs + 1_700_000).toBeLessThanOrEqual(labels[x.row].endUs);
  });
});

describe.skipIf(!DVS128)('real DVS128 recording as a labelled recording', () => {
  it('bins every event of each window exactly once', async () => {
    const d = path.join(tmp, 'rec');
    mkdirSync(d);
    copyFileSync(DVS128!, path.join(d, 'walk.aedat'));
    // One row over the whole recording (41306606..48193156 µs): ⌊6.886551 s / 1.7 s⌋ = 4 windows.
    writeFileSync(path.join(d, 'walk_labels.csv'), 'class,startTime_usec,endTime_usec\n11,41306606,48193157\n');
    const s = await openEventDir(d, { cacheDir: null, preprocessing: { normalisation: { divideBy: 1, clip: null } } });
    expect(s.train.size).toBe(4);
    const r = await openEvents(path.join(d, 'walk.aedat'));
    const pk = await readAll(r);
    await r.close();
    expect(pk.length).toBe(19_182);
    for (let i = 0; i < 4; i++) {
      const start = s.train.source(i).startUs;
      expect(start).toBe(41_306_606 + i * 1_700_000);
      let inWindow = 0;
      for (let k = 0; k < pk.length; k++) if (pk.t[k] >= start && pk.t[k] < start + 1_700_000) inWindow++;
      const smp = s.train.sample(i);
      if (smp.kind !== 'sparse') throw new Error('expected sparse');
      const total = densify({ T: smp.T, C: s.train.inputSize, t: smp.t, c: smp.c, v: smp.v }).reduce((a, v) => a + v, 0);
      expect(total).toBe(inWindow);
      expect(smp.label).toBe(10);
    }
  });
});
