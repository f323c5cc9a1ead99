import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, readSafetensorsFile, serializeSafetensors } from '../../../core/io/safetensors.ts';
import { createEgruParams, fromEvnnStateDict, toEvnnStateDict } from '../../../core/egru/params.ts';
import { referenceKernel } from '../../../core/egru/reference.ts';
import { Rng } from '../../../core/util/rng.ts';
import { main } from '../../../core/cli/main.ts';
import { nativeEgruStatus } from '../../../core/egru/kernels.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = path.join(root, 'bin', 'egru.mjs');
let dir = '';

function egru(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** In-process run (same code path as bin/egru.mjs minus the process start) for the cheap error cases. */
async function egruInProcess(...args: string[]) {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stderr };
  } finally {
    spy.mockRestore();
  }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'layer-run-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('egru layer-run', () => {
  it('hand-computed case: EvNN weights in, y/c/o/tr out (float32)', () => {
    // Same layer as the hand-computed reference test (H=2, C=1, T=3); thr stored in v0.1.0 form.
    const logit = (t: number) => Math.log(t / (1 - t));
    const W = serializeSafetensors({
      _max_norm: { shape: [1], data: Float32Array.of(-1) },
      kernel: { shape: [1, 6], data: Float32Array.of(-1.0, 0.5, 0.3, -0.2, 2.0, 1.5) },
      recurrent_kernel: { shape: [2, 6], data: Float32Array.of(0.4, -0.3, 0.2, 0.1, 0.7, -0.5, -0.6, 0.2, 0.5, -0.4, 0.3, 0.9) },
      bias: { shape: [6], data: Float32Array.of(0.1, -0.1, 0.0, 0.2, 0.05, -0.05) },
      recurrent_bias: { shape: [6], data: Float32Array.of(0.0, 0.1, -0.1, 0.0, 0.2, 0.1) },
      thr_reparam: { shape: [2], data: Float32Array.of(logit(0.3), logit(0.25)) },
    });
    const X = serializeSafetensors({ x: { shape: [3, 1, 1], data: Float64Array.of(1, 0, 2) } });
    writeFileSync(path.join(dir, 'hw.safetensors'), W);
    writeFileSync(path.join(dir, 'hx.safetensors'), X);
    const out = path.join(dir, 'hout.safetensors');
    const r = egru('layer-run', '--weights', path.join(dir, 'hw.safetensors'), '--input', path.join(dir, 'hx.safetensors'), '--out', out, '--kernel', 'reference');
    expect(r.stderr).toMatch(/layer-run: kernel=reference .* T=3 N=1 C=1 H=2 activity=83\.33%/);
    expect(r.code).toBe(0);
    return readSafetensorsFile(out).then((f) => {
      expect(f.tensors.get('y')!.dtype).toBe('F32');
      expect(f.tensors.get('y')!.shape).toEqual([3, 1, 2]);
      const y = f.tensors.get('y')!.data as Float32Array;
      const want = [0.692285402529, 0.341730277043, 0.418632310572, 0, 0.86728998948, 0.316160305367];
      for (let i = 0; i < 6; i++) expect(y[i]).toBeCloseTo(want[i], 5);
      expect(Array.from(f.tensors.get('o')!.data as Float32Array)).toEqual([1, 1, 1, 0, 1, 1]);
      expect(f.tensors.has('d_kernel')).toBe(false);
    });
  });

  it('forward + backward equal the in-process reference; all gradient tensors written as float32', async () => {
    const T = 7;
    const N = 3;
    const C = 5;
    const H = 9;
    const p = createEgruParams({ inputSize: C, hiddenSize: H, seed: 12, gain: 2, thrMean: 0.15, eps: 1.7 });
    const rng = new Rng(3);
    const rnd = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const x = rnd(T * N * C);
    const y0 = rnd(N * H).map((v) => Math.max(0, v));
    const up = { dy: rnd(T * N * H), dc: rnd(T * N * H), do: rnd(T * N * H), dtr: rnd(T * N * H) };
    writeFileSync(path.join(dir, 'w.safetensors'), serializeSafetensors(toEvnnStateDict(p, { encoding: 'thr' })));
    writeFileSync(path.join(dir, 'x.safetensors'), serializeSafetensors({ x: { shape: [T, N, C], data: x }, y0: { shape: [N, H], data: y0 } }));
    writeFileSync(
      path.join(dir, 'g.safetensors'),
      serializeSafetensors(Object.fromEntries(Object.entries(up).map(([k, v]) => [k, { shape: [T, N, H], data: v }]))),
    );
    const out = path.join(dir, 'out.safetensors');
    const r = egru(
      'layer-run',
      '--weights',
      path.join(dir, 'w.safetensors'),
      '--input',
      path.join(dir, 'x.safetensors'),
      '--grads',
      path.join(dir, 'g.safetensors'),
      '--out',
      out,
      '--kernel',
      'reference',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/backward sparsity=\d+\.\d+%/);
    const f = await readSafetensorsFile(out);
    // The importer's view of the weights (θ clamped etc.) is what the CLI ran.
    const q = fromEvnnStateDict(parseSafetensors(serializeSafetensors(toEvnnStateDict(p))).tensors);
    const fwd = referenceKernel.forward(q, x, T, N, { keepCache: true, y0 });
    const g = referenceKernel.backward(q, x, fwd, up, { y0 });
    const expectSame = (key: string, want: Float32Array, shape: number[]) => {
      const t = f.tensors.get(key)!;
      expect(t, key).toBeDefined();
      expect(t.dtype).toBe('F32');
      expect(t.shape, key).toEqual(shape);
      expect(Array.from(t.data as Float32Array), key).toEqual(Array.from(want));
    };
    expectSame('y', fwd.y, [T, N, H]);
    expectSame('c', fwd.c, [T, N, H]);
    expectSame('o', fwd.o, [T, N, H]);
    expectSame('tr', fwd.tr, [T, N, H]);
    expectSame('d_kernel', g.dKernel, [C, 3 * H]);
    expectSame('d_recurrent_kernel', g.dRecurrentKernel, [H, 3 * H]);
    expectSame('d_bias', g.dBias, [3 * H]);
    expectSame('d_recurrent_bias', g.dRecurrentBias, [3 * H]);
    expectSame('d_theta', g.dTheta, [H]);
    expectSame('d_x', g.dX, [T, N, C]);
    expectSame('d_y0', g.dY0, [N, H]);
  });

  it('--kernel native (when built) agrees with the reference output file', async (ctx) => {
    if (!nativeEgruStatus().available) {
      ctx.skip();
      return;
    }
    const out = path.join(dir, 'out-native.safetensors');
    const args = ['--weights', path.join(dir, 'w.safetensors'), '--input', path.join(dir, 'x.safetensors'), '--grads', path.join(dir, 'g.safetensors')];
    const r = egru('layer-run', ...args, '--out', out, '--kernel', 'native');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/kernel=native/);
    const nat = await readSafetensorsFile(out);
    const ref = await readSafetensorsFile(path.join(dir, 'out.safetensors'));
    for (const key of ['y', 'c', 'tr', 'd_kernel', 'd_x', 'd_theta']) {
      const a = nat.tensors.get(key)!.data as Float32Array;
      const b = ref.tensors.get(key)!.data as Float32Array;
      let diff = 0;
      let scale = 1e-6;
      for (let i = 0; i < b.length; i++) {
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
        scale = Math.max(scale, Math.abs(b[i]));
      }
      expect(diff / scale, key).toBeLessThan(1e-4);
    }
  });

  it('bad inputs: a clear one-line error and a non-zero exit', async () => {
    const p = createEgruParams({ inputSize: 2, hiddenSize: 3, seed: 1 });
    const sd = toEvnnStateDict(p);
    sd.recurrent_kernel = { shape: [2, 9], data: new Float32Array(18) };
    writeFileSync(path.join(dir, 'bad-w.safetensors'), serializeSafetensors(sd));
    writeFileSync(path.join(dir, 'x2.safetensors'), serializeSafetensors({ x: { shape: [2, 1, 2], data: new Float32Array(4) } }));
    let r = await egruInProcess('layer-run', '--weights', path.join(dir, 'bad-w.safetensors'), '--input', path.join(dir, 'x2.safetensors'), '--out', path.join(dir, 'o.safetensors'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'recurrent_kernel': shape [2, 9], expected [3, 9]");
    writeFileSync(path.join(dir, 'w2.safetensors'), serializeSafetensors(toEvnnStateDict(p)));
    writeFileSync(path.join(dir, 'x3.safetensors'), serializeSafetensors({ x: { shape: [2, 1, 5], data: new Float32Array(10) } }));
    r = await egruInProcess('layer-run', '--weights', path.join(dir, 'w2.safetensors'), '--input', path.join(dir, 'x3.safetensors'), '--out', path.join(dir, 'o.safetensors'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tensor 'x': shape \[2, 1, 5\], expected \[T, N, 2\]/);
    writeFileSync(path.join(dir, 'trunc.safetensors'), Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    r = await egruInProcess('layer-run', '--weights', path.join(dir, 'trunc.safetensors'), '--input', path.join(dir, 'x3.safetensors'), '--out', path.join(dir, 'o.safetensors'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/header length 200 exceeds/);
    r = await egruInProcess('layer-run', '--weights', 'a');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/required/);
  });
});
