import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DVS_GESTURE_CLASSES, formatGestureLabels, formatTrials, LabelFormatError, parseGestureLabels, parseTrials,
  readGestureLabels, readTrials, writeGestureLabels, writeTrials, type GestureLabel,
} from '../../../core/events/labels.ts';
import { sharedFile } from '../../helpers/shared-data.ts';

function expectLabelError(text: string, line: number, msg: RegExp): void {
  let err: unknown = null;
  try {
    parseGestureLabels(text, 'userXX_led_labels.csv');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LabelFormatError);
  expect((err as LabelFormatError).line).toBe(line);
  expect((err as LabelFormatError).message).toMatch(new RegExp(`^userXX_led_labels\\.csv:${line}: `));
  expect((err as LabelFormatError).message).toMatch(msg);
}

describe('DVS128 Gesture label files', () => {
  it('has the 11 classes in dataset order, 0-based', () => {
    expect(DVS_GESTURE_CLASSES).toHaveLength(11);
    expect(DVS_GESTURE_CLASSES[0]).toBe('hand_clapping');
    expect(DVS_GESTURE_CLASSES[4]).toBe('right_arm_counter_clockwise');
    expect(DVS_GESTURE_CLASSES[10]).toBe('other_gestures');
    expect(Object.isFrozen(DVS_GESTURE_CLASSES)).toBe(true);
  });

  const real = sharedFile('dvsgesture-labels/user01_natural_labels.csv');
  it.skipIf(!real)('parses the real user01_natural label file: 12 rows in file order', async () => {
    const labels = await readGestureLabels(real!);
    expect(labels).toHaveLength(12);
    expect(labels[0]).toEqual({ classIndex: 0, startUs: 53036986, endUs: 59508469 });
    expect(labels[11]).toEqual({ classIndex: 10, startUs: 171367247, endUs: 177991967 });
    expect(labels.map((l) => l.classIndex + 1)).toEqual([1, 2, 3, 5, 4, 6, 7, 8, 8, 9, 10, 11]);
    // Formatting gives back the file byte for byte.
    expect(formatGestureLabels(labels)).toBe(await readFile(real!, 'utf8'));
  });

  it('keeps unsorted, repeated and overlapping rows; tolerates CRLF and blank lines', () => {
    const text = 'class,startTime_usec,endTime_usec\r\n9,100,300\r\n\r\n10,200,400\r\n9,100,300\r\n';
    expect(parseGestureLabels(text)).toEqual([
      { classIndex: 8, startUs: 100, endUs: 300 },
      { classIndex: 9, startUs: 200, endUs: 400 },
      { classIndex: 8, startUs: 100, endUs: 300 },
    ]);
    expect(parseGestureLabels('1,5,6\n')).toEqual([{ classIndex: 0, startUs: 5, endUs: 6 }]); // no header
    expect(parseGestureLabels('class,startTime_usec,endTime_usec\n')).toEqual([]);
  });

  it('rejects bad rows with a typed error naming file and line', () => {
    const H = 'class,startTime_usec,endTime_usec\n';
    expectLabelError(H + '1,5,6\n0,1,2\n', 3, /class 0 outside 1\.\.11/);
    expectLabelError(H + '12,1,2\n', 2, /class 12 outside/);
    expectLabelError(H + '1,5\n', 2, /expected 3 columns/);
    expectLabelError(H + '1,5.5,6\n', 2, /start time '5\.5'/);
    expectLabelError(H + '1,-5,6\n', 2, /start time/);
    expectLabelError(H + '1,9,6\n', 2, /end 6 is before start 9/);
    expectLabelError(H + '1,0,99999999999999999999\n', 2, /exceeds 2\^53/);
    expectLabelError('label,begin,finish\n1,2,3\n', 1, /expected header/);
  });

  it('formats with the dataset header and 1-based classes; refuses impossible labels', () => {
    const labels: GestureLabel[] = [{ classIndex: 4, startUs: 10, endUs: 20 }, { classIndex: 3, startUs: 0, endUs: 5 }];
    expect(formatGestureLabels(labels)).toBe('class,startTime_usec,endTime_usec\n5,10,20\n4,0,5\n');
    expect(parseGestureLabels(formatGestureLabels(labels))).toEqual(labels);
    expect(() => formatGestureLabels([{ classIndex: 11, startUs: 0, endUs: 1 }])).toThrow(RangeError);
    expect(() => formatGestureLabels([{ classIndex: 0, startUs: 5, endUs: 1 }])).toThrow(RangeError);
  });

  it('writes label and trial files atomically (no temp file left, old content replaced)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'egru-labels-'));
    try {
      const f = path.join(dir, 'user01_led_labels.csv');
      await writeFile(f, 'old content');
      const labels: GestureLabel[] = [{ classIndex: 0, startUs: 1, endUs: 2 }];
      await writeGestureLabels(f, labels);
      expect(await readGestureLabels(f)).toEqual(labels);
      const t = path.join(dir, 'trials_to_test.txt');
      await writeTrials(t, ['user24_fluorescent.aedat', 'user24_led.aedat']);
      expect(await readFile(t, 'utf8')).toBe('user24_fluorescent.aedat\nuser24_led.aedat\n');
      expect(await readTrials(t)).toEqual(['user24_fluorescent.aedat', 'user24_led.aedat']);
      expect((await readdir(dir)).sort()).toEqual(['trials_to_test.txt', 'user01_led_labels.csv']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses trial lists, trimming and skipping blanks, refusing paths', () => {
    expect(parseTrials('user01_fluorescent.aedat\r\n\r\n  user01_lab.aedat \n')).toEqual(['user01_fluorescent.aedat', 'user01_lab.aedat']);
    expect(() => parseTrials('ok.aedat\n../etc/passwd\n', 'trials_to_train.txt')).toThrow(/trials_to_train\.txt:2: /);
    expect(formatTrials([])).toBe('');
    expect(() => formatTrials(['a/b.aedat'])).toThrow(RangeError);
  });
});
