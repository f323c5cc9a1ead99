/**
 * `npm run bench:egru -- --json` is part of the EGRU engine's contract (issue #3): one table of rows
 * {impl, H, N, activity, input_density, backward_sparsity, fwd_ms, fwd_bwd_ms, gflops} for every implementation, plus
 * the bounds, the machine balance, the training-step rows and the bundled model's block. The bench itself takes
 * 15-20 minutes, so this runs it with `--smoke` (toy sizes, one run per row, a few seconds) and holds the output's
 * shape and its internal consistency; the figures themselves are not judged here.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/run-egru.ts';
import { loadNativeEgru, nativeEgruUnavailableReason } from '../../core/egru/native.ts';
import type { MachineBalance, Row, TrainingRow } from '../../bench/egru.ts';
import type { BundledWorkload } from '../../bench/egru-bundled.ts';

const IMPLS = ['native-sparse', 'native-dense', 'reference', 'tfjs-wasm', 'torch'];


const haveNative = loadNativeEgru() !== null;
if (!haveNative) console.warn(`egru-json.test: native addon unavailable (${nativeEgruUnavailableReason()}): bench test skipped`);
const haveTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!haveNative)('bench:egru --json (--smoke)', () => {
  it('prints one JSON object whose rows cover every implementation and configuration, consistently', () => {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'run-ts.mjs'), path.join(REPO_ROOT, 'bench', 'egru.ts'), '--smoke', '--json'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 110_000,
    });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    // stdout is the JSON alone (the tables go to stderr), so `npm run -s bench:egru -- --json | jq` works.
    const out = JSON.parse(r.stdout) as { results: Row[]; training: TrainingRow[]; machine: MachineBalance; bundled: BundledWorkload | null };
    expect(Object.keys(out).sort()).toEqual(['bundled', 'machine', 'results', 'training']);

    for (const row of out.results) {
      expect(IMPLS).toContain(row.impl);
      expect(row.H).toBe(32);
      expect([1, 16]).toContain(row.N);
      expect(row.activity).toBeGreaterThanOrEqual(0);
      expect(row.activity).toBeLessThanOrEqual(1);
      expect([0.05, 1]).toContain(row.input_density);
      if (row.backward_sparsity !== null) {
        expect(row.backward_sparsity).toBeGreaterThanOrEqual(0);
        expect(row.backward_sparsity).toBeLessThanOrEqual(1);
      }
      for (const k of ['fwd_ms', 'fwd_bwd_ms', 'gflops', 'gflops_fwd_bwd'] as const) {
        expect(Number.isFinite(row[k]) && row[k]! > 0, `${row.impl} ${k} = ${row[k]}`).toBe(true);
      }
      // Effective GFLOP/s are dense-GRU FLOPs over the time: 2·T·N·3H·(C+H) at the smoke sizes (C = 64, T = 12).
      expect(row.gflops).toBeCloseTo((2 * 12 * row.N * 3 * 32 * (64 + 32)) / row.fwd_ms! / 1e6, 6);
    }

    // Native sparse and dense for every (N, input density, activity) on one thread and on two.
    const native = out.results.filter((x) => x.impl.startsWith('native-'));
    const key = (x: Row) => `${x.N}/${x.input_density}/${x.threads}`;
    const byKey = new Map<string, Row[]>();
    for (const x of native) byKey.set(key(x), [...(byKey.get(key(x)) ?? []), x]);
    expect([...byKey.keys()].sort()).toEqual(['1/0.05/1', '1/0.05/2', '1/1/1', '1/1/2', '16/0.05/1', '16/0.05/2', '16/1/1', '16/1/2']);
    for (const [k, rows] of byKey) {
      expect(rows.map((x) => x.impl).sort(), k).toEqual(['native-dense', 'native-dense', 'native-sparse', 'native-sparse']);
      // Both activities of the smoke run (1 and 0.1, set through θ); each pair ran the same θ, so the same events.
      const sparse = rows.filter((x) => x.impl === 'native-sparse');
      const dense = rows.filter((x) => x.impl === 'native-dense');
      expect(sparse.map((x) => x.activity)).toEqual(dense.map((x) => x.activity));
      expect(sparse.map((x) => x.backward_sparsity)).toEqual(dense.map((x) => x.backward_sparsity));
      expect(sparse.some((x) => x.activity > 0.99)).toBe(true);
      expect(sparse.some((x) => x.activity > 0 && x.activity < 0.3)).toBe(true);
      for (const x of rows) {
        expect(x.fwd_cpu_ms).toBeGreaterThan(0);
        expect(x.fwd_bwd_cpu_ms).toBeGreaterThan(0);
      }
    }
    // One sample: the bounds and the cold figure ride on the one-thread sparse rows.
    for (const x of native.filter((x) => x.impl === 'native-sparse' && x.N === 1 && x.threads === 1)) {
      expect(x.row_read_bound_ms).toBeGreaterThan(0);
      expect(x.read_once_bound_ms).toBeGreaterThan(0);
      expect(x.fwd_after_dense_ms).toBeGreaterThan(0);
    }
    expect(native.filter((x) => x.row_read_bound_ms !== undefined || x.fwd_after_dense_ms !== undefined).map((x) => `${x.impl}/${x.N}/${x.threads}`)).toEqual(Array(4).fill('native-sparse/1/1'));

    // The TypeScript reference at N = 1, with the same events as the native kernels it is held equal to.
    const ref = out.results.filter((x) => x.impl === 'reference');
    expect(ref.length).toBe(4);
    for (const x of ref) {
      const twin = native.find((y) => y.impl === 'native-sparse' && y.N === 1 && y.threads === 1 && y.input_density === x.input_density && Math.abs(y.activity - x.activity) < 1e-9);
      expect(twin, `reference row at density ${x.input_density}, activity ${x.activity}`).toBeDefined();
    }
    // Dense GRU baselines: tfjs-wasm at N = 1 (smoke, like --quick), torch for both N where it imports.
    expect(out.results.filter((x) => x.impl === 'tfjs-wasm').map((x) => x.N)).toEqual([1]);
    expect(out.results.filter((x) => x.impl === 'torch').map((x) => x.N)).toEqual(haveTorch ? [1, 16] : []);

    expect(out.machine.fma_gflops).toBeGreaterThan(0);
    expect(Object.keys(out.machine.read_gbs).sort()).toEqual(['262144', '3072', '12288', '512'].sort());
    expect(out.machine.bytes_per_flop_3mib).toBeCloseTo(out.machine.read_gbs['3072'] / out.machine.fma_gflops, 9);
    expect(out.training.map((x) => [x.split, x.threads])).toEqual([
      ['1 thread', 1],
      ['kernel threads', 2],
      ['batch shards', 2],
    ]);
    for (const x of out.training) expect(x.step_ms).toBeGreaterThan(0);
    if (out.bundled) {
      expect(out.bundled.rows.map((x) => x.impl)).toEqual(['native-sparse', 'native-dense', 'native-sparse', 'native-dense', 'native-sparse', 'native-dense']);
      for (const x of out.bundled.rows) expect(x.fwd_ms).toBeGreaterThan(0);
    }
  }, 120_000);
});
