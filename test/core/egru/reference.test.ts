import { describe, expect, it } from 'vitest';
import { referenceDenseKernel, referenceKernel } from '../../../core/egru/reference.ts';
import type { EgruForwardOptions, EgruLayerParams, EgruUpstream } from '../../../core/egru/types.ts';
import { plainForward, randomArray, randomLayer64, randomMask } from './fixtures.ts';

describe('reference forward: hand-computed case (H=2, C=1, T=3, N=1)', () => {
  // Expected numbers from a separate scalar calculation of spec §2 (Python, plain floats).
  const p: EgruLayerParams<Float64Array> = {
    inputSize: 1,
    hiddenSize: 2,
    kernel: Float64Array.of(-1.0, 0.5, 0.3, -0.2, 2.0, 1.5),
    recurrentKernel: Float64Array.of(0.4, -0.3, 0.2, 0.1, 0.7, -0.5, -0.6, 0.2, 0.5, -0.4, 0.3, 0.9),
    bias: Float64Array.of(0.1, -0.1, 0.0, 0.2, 0.05, -0.05),
    recurrentBias: Float64Array.of(0.0, 0.1, -0.1, 0.0, 0.2, 0.1),
    theta: Float64Array.of(0.3, 0.25),
    gamma: 0.7,
    eps: 1,
  };
  const x = Float64Array.of(1.0, 0.0, 2.0);
  const expected = {
    y: [0.692285402529, 0.341730277043, 0.418632310572, 0, 0.86728998948, 0.316160305367],
    c: [0.392285402529, 0.091730277043, 0.118632310572, 0.033445102738, 0.56728998948, 0.066160305367],
    o: [1, 1, 1, 0, 1, 1],
    tr: [0.069228540253, 0.034173027704, 0.104168917285, 0.030755724934, 0.180481024504, 0.059296182977],
  };

  for (const k of [referenceKernel, referenceDenseKernel]) {
    it(`${k.name} matches the hand calculation`, () => {
      const r = k.forward(p, x, 3, 1);
      for (const key of ['y', 'c', 'o', 'tr'] as const) {
        expect(r[key]).toBeInstanceOf(Float64Array);
        for (let i = 0; i < 6; i++) expect(r[key][i]).toBeCloseTo(expected[key][i], 11);
      }
      expect(r.cache).toBeNull();
    });
  }

  it('counts MACs as in spec §5: 3H·(nnz(x_t) + |A_{t−1}|)', () => {
    const r = referenceKernel.forward(p, x, 3, 1);
    // t0: x=1 (1 row), y0 = 0 → 6; t1: x=0, 2 fired at t0 → 12; t2: x=2, 1 fired at t1 → 12.
    expect(Array.from(r.macs.executed)).toEqual([6, 12, 12]);
    expect(Array.from(r.macs.dense)).toEqual([18, 18, 18]);
    expect(Array.from(r.macs.activity)).toEqual([1, 0.5, 1]);
    const d = referenceDenseKernel.forward(p, x, 3, 1);
    expect(Array.from(d.macs.executed)).toEqual([18, 18, 18]);
  });

  it('H(0) = 0: a unit exactly at its threshold does not fire', () => {
    // With all weights zero, u = r = 0.5 and g = tanh(b^x_G); choose θ = ĉ exactly.
    const q: EgruLayerParams<Float64Array> = {
      ...p,
      kernel: new Float64Array(6),
      recurrentKernel: new Float64Array(12),
      bias: Float64Array.of(0, 0, 0, 0, 0.5, 0.5),
      recurrentBias: new Float64Array(6),
      theta: Float64Array.of(0.5 * Math.tanh(0.5), 0.5 * Math.tanh(0.5) - 1e-9),
    };
    const r = referenceKernel.forward(q, Float64Array.of(0), 1, 1);
    expect(Array.from(r.o)).toEqual([0, 1]);
  });
});

/** Loss = Σ k_y·y + k_c·c + k_o·o + k_tr·tr with random coefficients; returns it and the upstream gradients. */
function makeLoss(T: number, N: number, H: number, seed: number) {
  const up = {
    dy: randomArray(T * N * H, seed),
    dc: randomArray(T * N * H, seed + 1),
    do: randomArray(T * N * H, seed + 2),
    dtr: randomArray(T * N * H, seed + 3),
  };
  const loss = (o: { y: ArrayLike<number>; c: ArrayLike<number>; o: ArrayLike<number>; tr: ArrayLike<number> }) => {
    let L = 0;
    for (let i = 0; i < T * N * H; i++) L += up.dy[i] * o.y[i] + up.dc[i] * o.c[i] + up.do[i] * o.o[i] + up.dtr[i] * o.tr[i];
    return L;
  };
  return { up, loss };
}

function relErr(num: ArrayLike<number>, ana: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < num.length; i++) {
    diff = Math.max(diff, Math.abs(num[i] - ana[i]));
    scale = Math.max(scale, Math.abs(ana[i]));
  }
  return diff / scale;
}

/**
 * Spec §4.4 gradient check: central differences (h = 1e−6) of the surrogate-linearised forward against the
 * reference backward, for every parameter, x and y0.
 */
function gradientCheck(opts: { gamma: number; zoneoutMask?: Uint8Array; linearise: boolean; seed: number }) {
  const T = 6;
  const N = 3;
  const C = 4;
  const H = 5;
  const p = randomLayer64(C, H, opts.seed);
  p.gamma = opts.gamma;
  const x = randomArray(T * N * C, opts.seed + 10, 1, 0.25);
  const y0 = randomArray(N * H, opts.seed + 11, 0.3);
  const fopts: EgruForwardOptions<Float64Array> = { y0, training: true };
  if (opts.zoneoutMask) {
    fopts.zoneout = 0.3;
    fopts.zoneoutMask = opts.zoneoutMask;
  }
  const zo = opts.zoneoutMask ? { p: 0.3, mask: opts.zoneoutMask } : { p: 0 };
  const fwd = referenceKernel.forward(p, x, T, N, fopts);
  const { up, loss } = makeLoss(T, N, H, opts.seed + 20);
  const grads = referenceKernel.backward(p, x, fwd, up as EgruUpstream<Float64Array>, fopts);
  const base = plainForward(p, x, T, N, y0, null, zo);
  const sStar = opts.linearise ? base.s : null;
  // The independent forward agrees with the kernel at the base point.
  for (let i = 0; i < T * N * H; i++) expect(Math.abs(base.y[i] - fwd.y[i])).toBeLessThan(1e-12);

  const h = 1e-6;
  const numeric = (arr: Float64Array) => {
    const g = new Float64Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      arr[i] = v + h;
      const lp = loss(plainForward(p, x, T, N, y0, sStar, zo));
      arr[i] = v - h;
      const lm = loss(plainForward(p, x, T, N, y0, sStar, zo));
      arr[i] = v;
      g[i] = (lp - lm) / (2 * h);
    }
    return g;
  };
  const errs = {
    kernel: relErr(numeric(p.kernel), grads.dKernel),
    recurrentKernel: relErr(numeric(p.recurrentKernel), grads.dRecurrentKernel),
    bias: relErr(numeric(p.bias), grads.dBias),
    recurrentBias: relErr(numeric(p.recurrentBias), grads.dRecurrentBias),
    theta: relErr(numeric(p.theta), grads.dTheta),
    x: relErr(numeric(x), grads.dX),
    y0: relErr(numeric(y0), grads.dY0),
  };
  let activity = 0;
  let inSupportOnly = 0;
  for (let i = 0; i < T * N * H; i++) {
    activity += fwd.o[i];
    if (fwd.o[i] === 0 && Math.abs(fwd.cache!.s[i]) < 1 / p.eps) inSupportOnly++;
  }
  return { errs, activity: activity / (T * N * H), inSupportOnly, grads };
}

describe('reference backward: finite-difference gradient checks (spec §4.4)', () => {
  const cases = [
    { name: 'no zoneout', mask: undefined },
    { name: 'zoneout with a fixed training mask', mask: randomMask(6 * 3 * 5, 99, 0.7) },
  ];
  for (const cs of cases) {
    it(`surrogate-linearised forward, γ = 0.7, ${cs.name}`, () => {
      const { errs, activity, inSupportOnly } = gradientCheck({ gamma: 0.7, zoneoutMask: cs.mask, linearise: true, seed: 7 });
      // The check is only meaningful if some units fire and some sit inside the surrogate support without firing.
      expect(activity).toBeGreaterThan(0.05);
      expect(activity).toBeLessThan(0.8);
      expect(inSupportOnly).toBeGreaterThan(5);
      for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThan(1e-6);
    });
  }

  it('γ = 0 matches plain finite differences of the true forward', () => {
    const { errs, grads } = gradientCheck({ gamma: 0, linearise: false, seed: 8 });
    for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThan(1e-6);
    // With γ = 0 θ still gets gradient through the soft reset (−o ⊙ δc).
    expect(grads.dTheta.some((v) => v !== 0)).toBe(true);
  });

  it('eval-mode zoneout is differentiated consistently too', () => {
    const T = 4;
    const N = 2;
    const C = 3;
    const H = 4;
    const p = randomLayer64(C, H, 3);
    const x = randomArray(T * N * C, 4);
    const fopts: EgruForwardOptions<Float64Array> = { zoneout: 0.4, training: false, keepCache: true };
    const fwd = referenceKernel.forward(p, x, T, N, fopts);
    const { up, loss } = makeLoss(T, N, H, 5);
    const g = referenceKernel.backward(p, x, fwd, up as EgruUpstream<Float64Array>, fopts);
    const sStar = plainForward(p, x, T, N, null, null, { p: 0.4 }).s;
    const h = 1e-6;
    const num = new Float64Array(p.kernel.length);
    for (let i = 0; i < num.length; i++) {
      const v = p.kernel[i];
      p.kernel[i] = v + h;
      const lp = loss(plainForward(p, x, T, N, null, sStar, { p: 0.4 }));
      p.kernel[i] = v - h;
      const lm = loss(plainForward(p, x, T, N, null, sStar, { p: 0.4 }));
      p.kernel[i] = v;
      num[i] = (lp - lm) / (2 * h);
    }
    expect(relErr(num, g.dKernel)).toBeLessThan(1e-6);
  });
});

describe('sparse == dense', () => {
  function compare(p: EgruLayerParams<Float64Array>, x: Float64Array, T: number, N: number, opts: EgruForwardOptions<Float64Array>) {
    const H = p.hiddenSize;
    const fs = referenceKernel.forward(p, x, T, N, opts);
    const fd = referenceDenseKernel.forward(p, x, T, N, opts);
    for (const k of ['y', 'c', 'o', 'tr'] as const) expect(relErr(fs[k], fd[k]), k).toBeLessThan(1e-12);
    const up = makeLoss(T, N, H, 77).up as EgruUpstream<Float64Array>;
    const gs = referenceKernel.backward(p, x, fs, up, opts);
    const gd = referenceDenseKernel.backward(p, x, fd, up, opts);
    for (const k of ['dKernel', 'dRecurrentKernel', 'dBias', 'dRecurrentBias', 'dTheta', 'dX', 'dY0'] as const) {
      expect(relErr(gs[k], gd[k]), k).toBeLessThan(1e-12);
    }
    return { fs, fd, gs, gd };
  }

  it('forward and backward agree, executed MACs ≤ dense, sparse strictly less when activity is low', () => {
    const T = 8;
    const N = 4;
    const C = 6;
    const H = 16;
    const p = randomLayer64(C, H, 21, 0.5);
    for (let j = 0; j < H; j++) p.theta[j] = 0.3 + 0.6 * (j / H);
    const x = randomArray(T * N * C, 22, 1, 0.5); // half the inputs are exactly zero
    const { fs, fd, gs, gd } = compare(p, x, T, N, { training: true });
    let execF = 0;
    let execB = 0;
    for (let t = 0; t < T; t++) {
      expect(fs.macs.executed[t]).toBeLessThanOrEqual(fs.macs.dense[t]);
      expect(gs.macs.executed[t]).toBeLessThanOrEqual(gs.macs.dense[t]);
      expect(fd.macs.executed[t]).toBe(fd.macs.dense[t]);
      expect(gd.macs.executed[t]).toBe(gd.macs.dense[t]);
      expect(fs.macs.activity[t]).toBe(fd.macs.activity[t]);
      expect(gs.macs.backwardSparsity[t]).toBe(gd.macs.backwardSparsity[t]);
      execF += fs.macs.executed[t];
      execB += gs.macs.executed[t];
      // Forward count = 3H·(nnz(x_t) + |A_{t−1}|) summed over samples.
      let nnz = 0;
      let prevActive = 0;
      for (let n = 0; n < N; n++) {
        for (let i = 0; i < C; i++) if (x[(t * N + n) * C + i] !== 0) nnz++;
        if (t > 0) for (let j = 0; j < H; j++) prevActive += fs.o[((t - 1) * N + n) * H + j];
      }
      expect(fs.macs.executed[t]).toBe(3 * H * (nnz + prevActive));
    }
    expect(execF).toBeLessThan(fs.macs.dense.reduce((a, b) => a + b, 0));
    expect(execB).toBeLessThan(gs.macs.dense.reduce((a, b) => a + b, 0));
    const meanAct = fs.macs.activity.reduce((a, b) => a + b, 0) / T;
    expect(meanAct).toBeGreaterThan(0);
    expect(meanAct).toBeLessThan(0.6);
  });

  it('inputGrad: false skips x̄ (dX empty, N·3H·C fewer MACs per step) and leaves every other gradient as is', () => {
    const T = 5;
    const N = 3;
    const C = 7;
    const H = 9;
    const p = randomLayer64(C, H, 31, 0.5);
    const x = randomArray(T * N * C, 32, 1, 0.5);
    const up = makeLoss(T, N, H, 33).up as EgruUpstream<Float64Array>;
    for (const k of [referenceKernel, referenceDenseKernel]) {
      const f = k.forward(p, x, T, N, { training: true });
      const full = k.backward(p, x, f, up, { training: true });
      const noX = k.backward(p, x, f, up, { training: true, inputGrad: false });
      expect(full.dX.length).toBe(T * N * C);
      expect(noX.dX.length).toBe(0);
      for (const key of ['dKernel', 'dRecurrentKernel', 'dBias', 'dRecurrentBias', 'dTheta', 'dY0'] as const) {
        expect(Array.from(noX[key]), key).toEqual(Array.from(full[key]));
      }
      for (let t = 0; t < T; t++) expect(noX.macs.executed[t]).toBe(full.macs.executed[t] - N * 3 * H * C);
    }
  });

  it('executed == dense when every input is non-zero and every unit fires', () => {
    const T = 4;
    const N = 2;
    const C = 3;
    const H = 5;
    const p = randomLayer64(C, H, 31);
    p.theta.fill(-2); // ĉ ∈ (−1, 1), so every unit fires every step and y ≠ 0 almost surely
    const x = randomArray(T * N * C, 32);
    const y0 = randomArray(N * H, 33);
    const { fs, gs } = compare(p, x, T, N, { training: true, y0 });
    expect(Array.from(fs.macs.executed)).toEqual(Array.from(fs.macs.dense));
    expect(Array.from(gs.macs.executed)).toEqual(Array.from(gs.macs.dense));
    expect(Array.from(fs.macs.activity)).toEqual([1, 1, 1, 1]);
    expect(Array.from(gs.macs.backwardSparsity)).toEqual([0, 0, 0, 0]);
  });

  it('with zoneout (training mask) the kernels still agree', () => {
    const p = randomLayer64(3, 6, 41);
    const x = randomArray(5 * 2 * 3, 42);
    compare(p, x, 5, 2, { training: true, zoneout: 0.25, zoneoutMask: randomMask(5 * 2 * 6, 43, 0.75) });
  });
});

describe('precision handling', () => {
  it('float32 in → float32 out, equal to the float64 run within float32 rounding', () => {
    const T = 5;
    const N = 2;
    const C = 3;
    const H = 6;
    const p64 = randomLayer64(C, H, 51);
    const x64 = randomArray(T * N * C, 52);
    const f32 = (a: Float64Array) => Float32Array.from(a);
    const p32: EgruLayerParams<Float32Array> = {
      ...p64,
      kernel: f32(p64.kernel),
      recurrentKernel: f32(p64.recurrentKernel),
      bias: f32(p64.bias),
      recurrentBias: f32(p64.recurrentBias),
      theta: f32(p64.theta),
    };
    // Round the float64 inputs the same way so both runs see identical numbers.
    const p64r: EgruLayerParams<Float64Array> = {
      ...p64,
      kernel: Float64Array.from(p32.kernel),
      recurrentKernel: Float64Array.from(p32.recurrentKernel),
      bias: Float64Array.from(p32.bias),
      recurrentBias: Float64Array.from(p32.recurrentBias),
      theta: Float64Array.from(p32.theta),
    };
    const x32 = f32(x64);
    const r32 = referenceKernel.forward(p32, x32, T, N, { training: true });
    const r64 = referenceKernel.forward(p64r, Float64Array.from(x32), T, N, { training: true });
    expect(r32.y).toBeInstanceOf(Float32Array);
    expect(r32.cache!.u).toBeInstanceOf(Float32Array);
    expect(relErr(r32.y, r64.y)).toBeLessThan(1e-6);
    const g32 = referenceKernel.backward(p32, x32, r32, { dy: new Float32Array(T * N * H).fill(1) });
    expect(g32.dKernel).toBeInstanceOf(Float32Array);
    expect(g32.dX).toBeInstanceOf(Float32Array);
  });

  it('rejects wrong shapes and missing zoneout masks with a clear message', () => {
    const p = randomLayer64(3, 4, 1);
    expect(() => referenceKernel.forward(p, new Float64Array(5), 2, 1)).toThrow(/x \[T,N,C\] has 5 elements, expected 6/);
    expect(() => referenceKernel.forward(p, new Float64Array(6), 2, 1, { training: true, zoneout: 0.2 })).toThrow(/zoneoutMask/);
    const f = referenceKernel.forward(p, new Float64Array(6), 2, 1);
    expect(() => referenceKernel.backward(p, new Float64Array(6), f, {})).toThrow(/no cache/);
  });
});
