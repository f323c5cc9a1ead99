/**
 * `npm run bench:decode -- --json`: one row per format (and per ToFrame size), each with the best streaming figure,
 * every mode measured, the target and the ratio to a plain read. The real run decodes ≥ 50 M events per format; this
 * test runs it at 200 k events and holds the output's shape and its internal consistency, not the figures.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-egru.ts';
import { eventsNativeAvailable } from '../../core/events/codecs/events-native.ts';
import type { ModeFigure, Row } from '../../bench/decode.ts';

const DECODE = ['aedat2', 'dat', 'evt2', 'aedat3', 'evt3', 'evt3-vectors', 'aedat4-lz4', 'aedat4-zstd'];
const FRAMES = ['toframe-32x32x2', 'toframe-128x128x2', 'framebinner-128x128x2'];
const TARGETS: Record<string, number | null> = {
  aedat2: 300, dat: 300, evt2: 300, aedat3: 300, evt3: 150, 'evt3-vectors': 150, 'aedat4-lz4': 60, 'aedat4-zstd': null,
  'toframe-32x32x2': 250, 'toframe-128x128x2': 250, 'framebinner-128x128x2': 250,
};

describe('bench:decode --json (small)', () => {
  it('prints one row per format with every mode measured, its best streaming mode, target and read ratio', () => {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'run-ts.mjs'), path.join(REPO_ROOT, 'bench', 'decode.ts'), '--json', '--events', '200000', '--runs', '3'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 110_000,
    });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const out = JSON.parse(r.stdout) as { quick: boolean; runs: number; sharedData: boolean; results: Row[]; ceiling: { reused: number; fresh: number } };
    expect(out.quick).toBe(false);
    expect(out.runs).toBe(3);
    expect(typeof out.sharedData).toBe('boolean');
    expect(out.results.map((x) => x.format)).toEqual([...DECODE, ...FRAMES]);
    for (const row of out.results) {
      expect(row.unavailable, `${row.format}: ${row.unavailable}`).toBeUndefined();
      expect(row.target_mevps).toBe(TARGETS[row.format]);
      expect(row.events).toBeGreaterThanOrEqual(100_000);
      expect(row.mb).toBeGreaterThan(0);
      expect(row.source.length).toBeGreaterThan(0);
      const fig = row.modes as Record<string, ModeFigure>; // every key is checked just below
      const modes = Object.keys(fig).sort();
      const all = DECODE.includes(row.format) ? ['native-fresh', 'native-reused', 'ts-fresh', 'ts-reused'] : ['native', 'ts'];
      expect(modes).toEqual(eventsNativeAvailable ? all : all.filter((m) => m.startsWith('ts')));
      for (const m of modes) {
        expect(fig[m].mevps).toBeGreaterThan(0);
        expect(fig[m].mevps_cpu).toBeGreaterThan(0);
      }
      // The headline figure is the active path's best streaming mode (native when the addon is built).
      const active = eventsNativeAvailable ? 'native' : 'ts';
      expect(row.mode!.startsWith(active)).toBe(true);
      expect(row.mevps).toBe(fig[row.mode!].mevps);
      expect(row.mevps_cpu).toBe(fig[row.mode!].mevps_cpu);
      if (DECODE.includes(row.format)) expect(row.mevps).toBe(Math.max(fig[`${active}-fresh`].mevps, fig[`${active}-reused`].mevps));
      expect(row.ratio_to_read).toBeGreaterThan(0);
    }
    expect(out.ceiling.reused).toBeGreaterThan(0);
    expect(out.ceiling.fresh).toBeGreaterThan(0);
  }, 120_000);
});
