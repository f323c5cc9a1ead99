import { describe, expect, it } from 'vitest';
import { EgruLayer } from '../../../core/egru/layer.ts';
import { EgruStack } from '../../../core/egru/stack.ts';
import { EgruMetrics, summarizeForward } from '../../../core/egru/metrics.ts';
import { activeKernelInfo, getEgruKernel, nativeEgruStatus, selectEgruKernel } from '../../../core/egru/kernels.ts';
import { referenceDenseKernel, referenceKernel } from '../../../core/egru/reference.ts';
import { createEgruParams } from '../../../core/egru/params.ts';
import type { EgruLayerParams } from '../../../core/egru/types.ts';
import { plainForward, randomArray, randomLayer64 } from './fixtures.ts';

function relErr(num: ArrayLike<number>, ana: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < num.length; i++) {
    diff = Math.max(diff, Math.abs(num[i] - ana[i]));
    scale = Math.max(scale, Math.abs(ana[i]));
  }
  return diff / scale;
}

describe('EgruLayer regularisers', () => {
  it('DropConnect: one mask per call, kept weights scaled by 1/(1−p), dRk mapped back (finite differences)', () => {
    const T = 5;
    const N = 2;
    const C = 3;
    const H = 4;
    const p = randomLayer64(C, H, 11);
    const layer = new EgruLayer(p, { dropConnect: 0.3, seed: 5 });
    expect(layer.kernel.name).toBe('reference');
    const x = randomArray(T * N * C, 12);
    const ctx = layer.forward(x, T, N, { training: true });
    const mask = ctx.dropMask!;
    const dropped = mask.length - mask.reduce((a, b) => a + b, 0);
    expect(dropped).toBeGreaterThan(0);
    for (let k = 0; k < mask.length; k++) expect(ctx.used.recurrentKernel[k]).toBeCloseTo(mask[k] ? p.recurrentKernel[k] / 0.7 : 0, 12);
    expect(ctx.used.recurrentKernel).not.toBe(p.recurrentKernel); // the layer's own weights are untouched
    const up = { dy: randomArray(T * N * H, 13), dtr: randomArray(T * N * H, 14) };
    const g = layer.backward(ctx, up);
    // Loss as a function of the ORIGINAL Rk, through the same mask (surrogate-linearised at the base point).
    const sStar = plainForward(ctx.used, x, T, N, null, null).s;
    const loss = (rk: Float64Array) => {
      const used: EgruLayerParams<Float64Array> = { ...p, recurrentKernel: rk.map((v, k) => (mask[k] ? v / 0.7 : 0)) };
      const o = plainForward(used, x, T, N, null, sStar);
      let L = 0;
      for (let i = 0; i < T * N * H; i++) L += up.dy[i] * o.y[i] + up.dtr[i] * o.tr[i];
      return L;
    };
    const num = new Float64Array(p.recurrentKernel.length);
    for (let k = 0; k < num.length; k++) {
      const rk = p.recurrentKernel.slice();
      rk[k] += 1e-6;
      const lp = loss(rk);
      rk[k] -= 2e-6;
      num[k] = (lp - loss(rk)) / 2e-6;
    }
    expect(relErr(num, g.dRecurrentKernel)).toBeLessThan(1e-6);
    for (let k = 0; k < mask.length; k++) if (!mask[k]) expect(g.dRecurrentKernel[k]).toBe(0);
    // A new call draws a new mask; eval applies none.
    expect(Array.from(layer.forward(x, T, N, { training: true }).dropMask!)).not.toEqual(Array.from(mask));
    expect(layer.forward(x, T, N).dropMask).toBeNull();
  });

  it('zoneout: seeded Bernoulli(1−p) keep-mask in training, eval mixing otherwise', () => {
    const p = randomLayer64(2, 50, 1);
    const x = randomArray(20 * 4 * 2, 2);
    const a = new EgruLayer(p, { zoneout: 0.25, seed: 42 }).forward(x, 20, 4, { training: true });
    const b = new EgruLayer(p, { zoneout: 0.25, seed: 42 }).forward(x, 20, 4, { training: true });
    const mask = a.opts.zoneoutMask!;
    expect(mask.length).toBe(20 * 4 * 50);
    const keep = mask.reduce((s, v) => s + v, 0) / mask.length;
    expect(Math.abs(keep - 0.75)).toBeLessThan(0.03);
    expect(relErr(b.opts.zoneoutMask!, mask)).toBe(0); // reproducible from the seed
    expect(relErr(b.result.y, a.result.y)).toBe(0);
    const ev = new EgruLayer(p, { zoneout: 0.25 }).forward(x, 20, 4);
    expect(ev.opts.zoneoutMask).toBeUndefined();
    const direct = referenceKernel.forward(p, x, 20, 4, { zoneout: 0.25 });
    expect(relErr(ev.result.c, direct.c)).toBe(0);
  });

  it('clampTheta after an update; float32 layers select through kernels.ts', () => {
    const p = createEgruParams({ inputSize: 2, hiddenSize: 3, seed: 1 });
    const layer = new EgruLayer(p, { kernel: 'reference' });
    expect(layer.kernel).toBe(referenceKernel);
    expect(layer.kernelReason).toMatch(/reference/);
    p.theta.set([-1, 0.5, 2]);
    layer.clampTheta();
    expect(Array.from(p.theta)).toEqual([0, 0.5, 1]);
    expect(new EgruLayer(p, { kernel: 'reference-dense' }).kernel).toBe(referenceDenseKernel);
  });
});

describe('EgruStack', () => {
  it('chains layer l’s y into layer l+1 and dX back into dy (finite differences through two layers)', () => {
    const T = 4;
    const N = 2;
    const C = 3;
    const H1 = 5;
    const H2 = 4;
    const p1 = randomLayer64(C, H1, 21);
    const p2 = randomLayer64(H1, H2, 22);
    const stack = new EgruStack([new EgruLayer(p1), new EgruLayer(p2)]);
    const x = randomArray(T * N * C, 23);
    const ctxs = stack.forward(x, T, N, { training: true });
    expect(ctxs[1].x).toBe(ctxs[0].result.y);
    const ky = randomArray(T * N * H2, 24);
    const kc1 = randomArray(T * N * H1, 25); // a regulariser-like term on layer 0's c
    const grads = stack.backward(ctxs, { dy: ky }, [{ dc: kc1 }, undefined]);
    const s1 = plainForward(p1, x, T, N, null, null).s;
    const s2 = plainForward(p2, ctxs[0].result.y, T, N, null, null).s;
    const loss = () => {
      const o1 = plainForward(p1, x, T, N, null, s1);
      const o2 = plainForward(p2, o1.y, T, N, null, s2);
      let L = 0;
      for (let i = 0; i < ky.length; i++) L += ky[i] * o2.y[i];
      for (let i = 0; i < kc1.length; i++) L += kc1[i] * o1.c[i];
      return L;
    };
    const numeric = (arr: Float64Array) =>
      Float64Array.from(arr, (v, i) => {
        arr[i] = v + 1e-6;
        const lp = loss();
        arr[i] = v - 1e-6;
        const lm = loss();
        arr[i] = v;
        return (lp - lm) / 2e-6;
      });
    expect(relErr(numeric(x), grads[0].dX)).toBeLessThan(1e-6);
    expect(relErr(numeric(p1.kernel), grads[0].dKernel)).toBeLessThan(1e-6);
    expect(relErr(numeric(p1.theta), grads[0].dTheta)).toBeLessThan(1e-6);
    expect(relErr(numeric(p2.recurrentKernel), grads[1].dRecurrentKernel)).toBeLessThan(1e-6);
  });

  it('create() builds EvNN-initialised float32 layers with matching sizes', () => {
    const s = EgruStack.create([6, 8, 5], { seed: 3 });
    expect(s.layers.map((l) => [l.inputSize, l.hiddenSize])).toEqual([
      [6, 8],
      [8, 5],
    ]);
    expect(s.outputSize).toBe(5);
    const ctxs = s.forward(new Float32Array(3 * 2 * 6).fill(0.5), 3, 2);
    expect(ctxs[1].result.y).toBeInstanceOf(Float32Array);
    expect(() => new EgruStack([new EgruLayer(randomLayer64(2, 3, 1)), new EgruLayer(randomLayer64(4, 3, 1))])).toThrow(/input size 4/);
  });
});

describe('metrics', () => {
  it('accumulates activity, MACs and backward sparsity per layer', () => {
    const m = new EgruMetrics();
    m.recordForward(0, {
      macs: { executed: Float64Array.of(10, 30), dense: Float64Array.of(100, 100), activity: Float64Array.of(0.1, 0.3) },
    });
    m.recordBackward(0, {
      macs: { executed: Float64Array.of(50, 50), dense: Float64Array.of(200, 200), backwardSparsity: Float64Array.of(0.6, 0.8) },
    });
    m.recordForward(1, { macs: { executed: Float64Array.of(100), dense: Float64Array.of(100), activity: Float64Array.of(1) } });
    const s = m.layer(0);
    expect(s.activity).toBeCloseTo(0.2, 12);
    expect(s.forwardMacsExecuted).toBe(40);
    expect(s.forwardMacReduction).toBe(5);
    expect(s.backwardSparsity).toBeCloseTo(0.7, 12);
    expect(s.backwardMacReduction).toBe(4);
    const all = m.summary();
    expect(all.layers.length).toBe(2);
    expect(all.forwardMacReduction).toBeCloseTo(300 / 140, 12);
    expect(Number.isNaN(m.layer(1).backwardSparsity)).toBe(true);
    expect(m.latest(1).forward!.activity[0]).toBe(1);
  });

  it('summarizeForward on a real run equals the sums of the per-step counters', () => {
    const p = randomLayer64(4, 8, 3);
    const r = referenceKernel.forward(p, randomArray(6 * 2 * 4, 4, 1, 0.5), 6, 2);
    const s = summarizeForward(r.macs);
    expect(s.executed).toBe(r.macs.executed.reduce((a, b) => a + b, 0));
    expect(s.dense).toBe(6 * 2 * 24 * 12);
    let act = 0;
    for (let i = 0; i < r.o.length; i++) act += r.o[i];
    expect(s.activity).toBeCloseTo(act / r.o.length, 12);
  });
});

describe('kernel selection', () => {
  it('always yields a working kernel and says why', () => {
    const info = activeKernelInfo();
    expect(info.reason.length).toBeGreaterThan(5);
    expect(getEgruKernel('reference')).toBe(referenceKernel);
    expect(selectEgruKernel('reference-dense').kernel).toBe(referenceDenseKernel);
    const st = nativeEgruStatus();
    if (!st.available) {
      expect(info.name).toBe('reference');
      expect(info.reason).toMatch(/fell back to the TypeScript reference/);
      expect(getEgruKernel('native')).toBe(referenceKernel);
    }
  });

  it('the native kernels (when built) agree with the reference', (ctx) => {
    if (!nativeEgruStatus().available) {
      ctx.skip();
      return;
    }
    const p64 = randomLayer64(6, 16, 5, 0.5);
    const p: EgruLayerParams<Float32Array> = {
      ...p64,
      kernel: Float32Array.from(p64.kernel),
      recurrentKernel: Float32Array.from(p64.recurrentKernel),
      bias: Float32Array.from(p64.bias),
      recurrentBias: Float32Array.from(p64.recurrentBias),
      theta: Float32Array.from(p64.theta),
    };
    const x = Float32Array.from(randomArray(8 * 3 * 6, 6, 1, 0.3));
    const ref = referenceKernel.forward(p, x, 8, 3, { training: true });
    for (const pref of ['native', 'native-dense'] as const) {
      const k = getEgruKernel(pref);
      const r = k.forward(p, x, 8, 3, { training: true });
      expect(relErr(r.y, ref.y)).toBeLessThan(1e-4);
      const up = { dy: Float32Array.from(randomArray(8 * 3 * 16, 7)) };
      const g = k.backward(p, x, r, up);
      const gr = referenceKernel.backward(p, x, ref, up);
      expect(relErr(g.dKernel, gr.dKernel)).toBeLessThan(1e-3);
    }
  });
});
