import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openEvents } from '../../../core/events/formats/index.ts';
import { readAll } from '../../../core/events/reader.ts';
import { readGestureLabels, readTrials } from '../../../core/events/labels.ts';
import { planDataset, resolveOptions, type SimDatasetOptions } from '../../../core/sim/dataset.ts';
import { SimulationCancelled, generateDataset } from '../../../core/sim/output.ts';
import { main } from '../../../core/cli/main.ts';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'egru-sim-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

// Small but complete: 2 subjects (1 test), 2 classes of ~1 s each.
const SMALL: SimDatasetOptions = { seed: 4, subjects: 2, classes: [1, 7], durationPerGestureS: 1, testSubjects: 1 };

describe('simulated dataset on disk (DVS128 Gesture layout)', () => {
  let first = '';

  it('writes aedat4 + labels + split lists that the real readers open', async () => {
    first = await tmp();
    const res = await generateDataset(first, SMALL);
    expect(res.map((r) => r.name)).toEqual(planDataset(SMALL).map((s) => s.name));
    const files = (await readdir(first)).sort();
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]); // no temp files left
    expect(files).toContain('trials_to_train.txt');
    expect(await readTrials(path.join(first, 'trials_to_train.txt'))).toEqual([`${res[0].name}.aedat4`]);
    expect(await readTrials(path.join(first, 'trials_to_test.txt'))).toEqual([`${res[1].name}.aedat4`]);
    for (const r of res) {
      expect(r.name).toMatch(/^user0[12]_(fluorescent|fluorescent_led|lab|led|natural)$/);
      const reader = await openEvents(path.join(first, `${r.name}.aedat4`));
      expect(reader.info.format).toBe('aedat4');
      expect(reader.info.geometry).toEqual({ width: 128, height: 128 });
      const ev = await readAll(reader);
      await reader.close();
      expect(ev.length).toBe(r.events);
      const labels = await readGestureLabels(path.join(first, `${r.name}_labels.csv`));
      expect(labels.map((l) => l.classIndex).sort()).toEqual([1, 7]);
      // Labels lie inside the recording, do not overlap, and the gestures are busier than the rests.
      const sorted = [...labels].sort((a, b) => a.startUs - b.startUs);
      let inside = 0, insideUs = 0;
      for (let k = 0; k < sorted.length; k++) {
        const l = sorted[k];
        expect(l.startUs).toBeGreaterThan(0);
        expect(l.endUs).toBeLessThanOrEqual(r.durationUs);
        if (k > 0) expect(l.startUs).toBeGreaterThan(sorted[k - 1].endUs);
        insideUs += l.endUs - l.startUs;
        for (let i = 0; i < ev.length; i++) if (ev.t[i] >= l.startUs && ev.t[i] < l.endUs) inside++;
      }
      const restRate = (ev.length - inside) / (r.durationUs - insideUs);
      expect(inside / insideUs).toBeGreaterThan(2 * restRate);
    }
    const manifest = JSON.parse(await readFile(path.join(first, 'simulation.json'), 'utf8'));
    expect(manifest.trials.map((t: { split: string }) => t.split)).toEqual(['train', 'test']);
  });

  it('the same seed gives byte-identical files; another seed gives new subjects and scenes', async () => {
    const again = await tmp();
    await generateDataset(again, SMALL);
    for (const f of (await readdir(first)).sort()) {
      expect(Buffer.compare(await readFile(path.join(first, f)), await readFile(path.join(again, f))), f).toBe(0);
    }
    const a = planDataset(SMALL), b = planDataset({ ...SMALL, seed: 5 });
    expect(a[0].body).not.toEqual(b[0].body);
    expect(a[0].room.wall).not.toBe(b[0].room.wall);
    expect(a[1].body).not.toEqual(a[0].body); // subjects differ within a dataset too
  });

  it('a cancelled run leaves only complete files', async () => {
    const d = await tmp();
    const ac = new AbortController();
    ac.abort();
    await expect(generateDataset(d, { ...SMALL, subjects: 1, testSubjects: 0 }, { signal: ac.signal })).rejects.toBeInstanceOf(SimulationCancelled);
    expect(await readdir(d)).toEqual([]);
  });

  it('validates options', () => {
    expect(() => resolveOptions({ seed: 1, subjects: 0 })).toThrow(RangeError);
    expect(() => resolveOptions({ seed: 1, subjects: 2, classes: [11] })).toThrow(/class 11/);
    expect(() => resolveOptions({ seed: 1, subjects: 2, testSubjects: 2 })).toThrow(/test subjects/);
    expect(() => resolveOptions({ seed: 1, subjects: 2, classes: [1, 1] })).toThrow(RangeError);
    expect(planDataset({ seed: 1, subjects: 3, lighting: ['lab', 'natural'] }).map((s) => s.name)).toEqual([
      'user01_lab', 'user01_natural', 'user02_lab', 'user02_natural', 'user03_lab', 'user03_natural',
    ]);
  });

  it('egru sim: --dry-run plans, bad options are usage errors (exit 2)', async () => {
    const writes: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    const origErr = process.stderr.write.bind(process.stderr);
    (process.stdout as any).write = (s: string) => (writes.push(s), true);
    (process.stderr as any).write = (s: string) => (writes.push(s), true);
    try {
      expect(await main(['sim', '--out', '/nonexistent/x', '--seed', '3', '--subjects', '3', '--test-subjects', '1', '--dry-run'])).toBe(0);
      expect(writes.join('')).toMatch(/user03_\w+\.aedat4 {2}test/);
      expect(await main(['sim', '--out', '/tmp/x', '--lighting', 'disco'])).toBe(2);
      expect(await main(['sim', '--out', '/tmp/x', '--classes', '0,12'])).toBe(2);
      expect(await main(['sim', '--seed', '1'])).toBe(2);
    } finally {
      (process.stdout as any).write = orig;
      (process.stderr as any).write = origErr;
    }
  });
});
