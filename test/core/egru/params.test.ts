import { describe, expect, it } from 'vitest';
import { clampTheta, createEgruParams, EgruParamsError, fromEvnnStateDict, toEvnnStateDict } from '../../../core/egru/params.ts';
import type { SafeTensor } from '../../../core/io/safetensors.ts';
import { parseSafetensors, serializeSafetensors } from '../../../core/io/safetensors.ts';

function stats(a: ArrayLike<number>) {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i];
    s2 += a[i] * a[i];
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean) };
}

const f32 = (shape: number[], values: number[]): SafeTensor => ({ dtype: 'F32', shape, data: Float32Array.from(values) });

/** A tiny hand-written EvNN state_dict, C = 2, H = 3. */
function stateDict(extra: Record<string, SafeTensor>): Map<string, SafeTensor> {
  const m = new Map<string, SafeTensor>([
    ['_max_norm', f32([1], [-1])],
    ['kernel', f32([2, 9], Array.from({ length: 18 }, (_, i) => i / 10))],
    ['recurrent_kernel', f32([3, 9], Array.from({ length: 27 }, (_, i) => -i / 10))],
    ['bias', f32([9], Array.from({ length: 9 }, (_, i) => i))],
    ['recurrent_bias', f32([9], Array.from({ length: 9 }, (_, i) => -i))],
  ]);
  for (const [k, v] of Object.entries(extra)) m.set(k, v);
  return m;
}

describe('EvNN initialisation (spec §2)', () => {
  it('xavier_normal std = gain·sqrt(2/(in + 3H)), zero biases, Beta(α,3) thresholds with mean m', () => {
    const p = createEgruParams({ inputSize: 200, hiddenSize: 400, seed: 1, gain: 1.5, thrMean: 0.3 });
    expect(p.kernel).toBeInstanceOf(Float32Array);
    expect(p.kernel.length).toBe(200 * 1200);
    expect(p.recurrentKernel.length).toBe(400 * 1200);
    const k = stats(p.kernel);
    expect(k.mean).toBeCloseTo(0, 2);
    expect(k.std / (1.5 * Math.sqrt(2 / (200 + 1200)))).toBeCloseTo(1, 1);
    const r = stats(p.recurrentKernel);
    expect(r.std / (1.5 * Math.sqrt(2 / (400 + 1200)))).toBeCloseTo(1, 1);
    expect(p.bias.every((v) => v === 0)).toBe(true);
    expect(p.recurrentBias.every((v) => v === 0)).toBe(true);
    const t = stats(p.theta);
    expect(Math.abs(t.mean - 0.3)).toBeLessThan(0.02); // Beta(α,3) with α = 3m/(1−m) has mean m
    expect(p.theta.every((v) => v > 0 && v < 1)).toBe(true);
    expect(p.gamma).toBe(0.7);
    expect(p.eps).toBe(1);
  });

  it('v0.1.0 sigmoid thresholds: θ = σ(N(m, √2)) — median σ(m)', () => {
    const p = createEgruParams({ inputSize: 1, hiddenSize: 1001, seed: 2, thresholdInit: 'sigmoid', thrMean: -0.2465, dtype: 'float64' });
    expect(p.theta).toBeInstanceOf(Float64Array);
    const sorted = Array.from(p.theta).sort((a, b) => a - b);
    expect(sorted[500]).toBeCloseTo(1 / (1 + Math.exp(0.2465)), 1);
    // logit(θ) has std √2
    expect(stats(Array.from(p.theta, (v) => Math.log(v / (1 - v)))).std).toBeCloseTo(Math.SQRT2, 1);
  });

  it('is deterministic per seed and rejects an invalid thrMean', () => {
    const a = createEgruParams({ inputSize: 3, hiddenSize: 4, seed: 9 });
    const b = createEgruParams({ inputSize: 3, hiddenSize: 4, seed: 9 });
    const c = createEgruParams({ inputSize: 3, hiddenSize: 4, seed: 10 });
    expect(Array.from(a.kernel)).toEqual(Array.from(b.kernel));
    expect(Array.from(a.theta)).toEqual(Array.from(b.theta));
    expect(Array.from(a.kernel)).not.toEqual(Array.from(c.kernel));
    expect(() => createEgruParams({ inputSize: 3, hiddenSize: 4, seed: 1, thrMean: 1.2 })).toThrow(/thrMean/);
  });

  it('clampTheta clamps into [0, 1]', () => {
    const p = createEgruParams({ inputSize: 1, hiddenSize: 3, seed: 1 });
    p.theta.set([-0.5, 0.25, 3]);
    clampTheta(p);
    expect(Array.from(p.theta)).toEqual([0, 0.25, 1]);
  });
});

describe('EvNN state_dict import/export (spec §6)', () => {
  it('v0.2.0 `thr` is clamped to [0, 1]; γ/ε read; _max_norm ignored; layout kept row-major', () => {
    const p = fromEvnnStateDict(
      stateDict({ thr: f32([3], [-0.5, 0.3, 1.7]), dampening_factor: f32([1], [3.6]), pseudo_derivative_support: f32([1], [1.7]) }),
    );
    expect(p.inputSize).toBe(2);
    expect(p.hiddenSize).toBe(3);
    expect(Array.from(p.theta)).toEqual([0, Math.fround(0.3), 1]);
    expect(p.gamma).toBeCloseTo(3.6, 6);
    expect(p.eps).toBeCloseTo(1.7, 6);
    expect(p.kernel[1 * 9 + 4]).toBeCloseTo(1.3, 6); // element [1, 4]
    expect(p.recurrentKernel[2 * 9 + 8]).toBeCloseTo(-2.6, 6);
    expect(p.recurrentBias[5]).toBe(-5);
  });

  it('v0.1.0 `thr_reparam` → θ = σ(·); defaults γ = 0.7, ε = 1.0', () => {
    const p = fromEvnnStateDict(stateDict({ thr_reparam: f32([3], [0, 2, -1]) }), { dtype: 'float64' });
    expect(p.theta).toBeInstanceOf(Float64Array);
    expect(p.theta[0]).toBe(0.5);
    expect(p.theta[1]).toBeCloseTo(1 / (1 + Math.exp(-2)), 12);
    expect(p.theta[2]).toBeCloseTo(1 / (1 + Math.exp(1)), 12);
    expect(p.gamma).toBe(0.7);
    expect(p.eps).toBe(1);
  });

  it('reads F64 tensors and key prefixes', () => {
    const m = new Map<string, SafeTensor>();
    for (const [k, v] of stateDict({ thr: f32([3], [0.1, 0.2, 0.3]) })) {
      m.set('layers.0.' + k, { dtype: 'F64', shape: v.shape, data: Float64Array.from(v.data as Float32Array) });
    }
    const p = fromEvnnStateDict(m, { prefix: 'layers.0.' });
    expect(p.kernel).toBeInstanceOf(Float32Array);
    expect(p.theta[2]).toBeCloseTo(0.3, 6);
  });

  it('shape errors name the key, the actual and the expected shape', () => {
    const bad = stateDict({ thr: f32([3], [0.1, 0.2, 0.3]) });
    bad.set('recurrent_kernel', f32([2, 9], new Array(18).fill(0)));
    expect(() => fromEvnnStateDict(bad)).toThrow(EgruParamsError);
    expect(() => fromEvnnStateDict(bad)).toThrow("EGRU state_dict 'recurrent_kernel': shape [2, 9], expected [3, 9]");
    const badThr = stateDict({ thr: f32([4], [0, 0, 0, 0]) });
    expect(() => fromEvnnStateDict(badThr)).toThrow("'thr': shape [4], expected [3]");
    const badK = stateDict({ thr: f32([3], [0, 0, 0]) });
    badK.set('kernel', f32([2, 8], new Array(16).fill(0)));
    expect(() => fromEvnnStateDict(badK)).toThrow(/'kernel': shape \[2, 8\], expected \[C, 3H\]/);
    expect(() => fromEvnnStateDict(stateDict({}))).toThrow(/'thr': missing/);
    const noBias = stateDict({ thr: f32([3], [0, 0, 0]) });
    noBias.delete('bias');
    expect(() => fromEvnnStateDict(noBias)).toThrow("EGRU state_dict 'bias': missing");
    expect(() => fromEvnnStateDict(stateDict({ thr: f32([3], [0, 0, 0]), dampening_factor: f32([2], [1, 2]) }))).toThrow(/dampening_factor/);
  });

  for (const encoding of ['thr', 'thr_reparam'] as const) {
    it(`export → safetensors bytes → import round trip (${encoding})`, () => {
      const p = createEgruParams({ inputSize: 5, hiddenSize: 7, seed: 3, gamma: 3.6, eps: 3.6 });
      const sd = toEvnnStateDict(p, { encoding, prefix: 'rnns.1.' });
      expect(Object.keys(sd).sort()).toEqual(
        ['_max_norm', 'bias', 'dampening_factor', 'kernel', 'pseudo_derivative_support', 'recurrent_bias', 'recurrent_kernel', encoding]
          .map((k) => 'rnns.1.' + k)
          .sort(),
      );
      expect(sd['rnns.1.kernel'].shape).toEqual([5, 21]);
      const back = fromEvnnStateDict(parseSafetensors(serializeSafetensors(sd)).tensors, { prefix: 'rnns.1.' });
      expect(Array.from(back.kernel)).toEqual(Array.from(p.kernel));
      expect(Array.from(back.recurrentKernel)).toEqual(Array.from(p.recurrentKernel));
      expect(Array.from(back.bias)).toEqual(Array.from(p.bias));
      expect(back.gamma).toBeCloseTo(3.6, 6);
      for (let j = 0; j < 7; j++) expect(back.theta[j]).toBeCloseTo(p.theta[j], encoding === 'thr' ? 7 : 6);
    });
  }
});
