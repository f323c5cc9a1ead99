import { describe, expect, it } from 'vitest';
import { Adam, DEFAULT_ADAM, adamStepTs, clipGradNorm, sumSquaresTs } from '../../../core/train/adam.ts';
import { nativeEgruUnavailableReason, nativeModelOps } from '../../../core/egru/native.ts';
import { Rng } from '../../../core/util/rng.ts';
import { learningRate } from '../../../core/train/schedule.ts';
import type { NamedParam } from '../../../core/model/gesture-model.ts';

function param(name: string, values: number[], grads: number[], kind: NamedParam['kind'] = 'weight'): NamedParam {
  return { name, shape: [values.length], value: Float32Array.from(values), grad: Float32Array.from(grads), kind };
}

describe('Adam', () => {
  it('matches a hand-computed bias-corrected step (two steps)', () => {
    const p = param('w', [1, -2], [0.5, -4]);
    const adam = new Adam([p], { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
    adam.update(0.1);
    // step 1: m = 0.1g, v = 0.001g², m̂ = g, v̂ = g² → Δ = −lr·g/(|g| + ε) = −lr·sign(g)
    expect(p.value[0]).toBeCloseTo(1 - 0.1, 6);
    expect(p.value[1]).toBeCloseTo(-2 + 0.1, 6);
    p.grad.set([1, 0]);
    adam.update(0.1);
    // step 2 for w0: m = 0.9·0.05 + 0.1·1 = 0.145, v = 0.999·0.00025 + 0.001·1 = 0.00124975
    const m = 0.145 / (1 - 0.81);
    const v = 0.00124975 / (1 - 0.999 ** 2);
    expect(p.value[0]).toBeCloseTo(0.9 - (0.1 * m) / (Math.sqrt(v) + 1e-8), 6);
    // w1: m = 0.9·(−0.4) = −0.36, v = 0.999·0.016 = 0.015984
    const m1 = -0.36 / (1 - 0.81);
    const v1 = 0.015984 / (1 - 0.999 ** 2);
    expect(p.value[1]).toBeCloseTo(-1.9 - (0.1 * m1) / (Math.sqrt(v1) + 1e-8), 6);
    expect(adam.step).toBe(2);
  });

  it('skips frozen tensors, decays only weights (AdamW), and restores its state exactly', () => {
    const w = param('w', [1], [0]);
    const b = param('b', [1], [0], 'bias');
    const th = param('thr', [0.5], [1], 'threshold');
    const adam = new Adam([w, b, th], { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 }, new Set(['thr']));
    adam.update(0.5);
    expect(w.value[0]).toBeCloseTo(1 - 0.5 * 0.1, 6);
    expect(b.value[0]).toBe(1);
    expect(th.value[0]).toBe(0.5);
    const saved = adam.exportState();
    const w2 = param('w', [w.value[0]], [0.3]);
    const b2 = param('b', [1], [0.2], 'bias');
    const th2 = param('thr', [0.5], [1], 'threshold');
    const a2 = new Adam([w2, b2, th2], adam.options, new Set(['thr']));
    a2.importState(saved);
    w.grad.set([0.3]);
    b.grad.set([0.2]);
    adam.update(0.01);
    a2.update(0.01);
    expect(w2.value[0]).toBe(w.value[0]);
    expect(b2.value[0]).toBe(b.value[0]);
  });

  it('global norm clipping scales all gradients together', () => {
    const a = param('a', [0, 0], [3, 0]);
    const b = param('b', [0], [4]);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expect(a.grad[0]).toBeCloseTo(0.6, 5);
    expect(b.grad[0]).toBeCloseTo(0.8, 5);
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 5); // under the limit: unchanged
    expect(b.grad[0]).toBeCloseTo(0.8, 5);
  });
});

const noNative = nativeEgruUnavailableReason();
if (noNative) console.warn(`native Adam tests skipped: ${noNative}`);

describe.skipIf(noNative !== null)('Adam and the gradient norm: native == TypeScript reference, to the bit', () => {
  const rng = new Rng(5);
  // 1,003 values: not a multiple of the 4 partial sums; gradients over many magnitudes, some exactly zero.
  const n = 1003;
  const grads = () => Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? 0 : rng.normal(0, 1) * 10 ** rng.int(7) * 1e-4));

  it('adamUpdate leaves w, m and v identical to adamStepTs over 20 steps (with weight decay)', () => {
    const nat = nativeModelOps()!;
    const w0 = Float32Array.from({ length: n }, () => rng.normal(0, 0.5));
    const a = { w: w0.slice(), m: new Float32Array(n), v: new Float32Array(n) };
    const b = { w: w0.slice(), m: new Float32Array(n), v: new Float32Array(n) };
    for (let t = 1; t <= 20; t++) {
      const g = grads();
      const c1 = 1 - 0.9 ** t;
      const sqrtC2 = Math.sqrt(1 - 0.99 ** t);
      nat.adamUpdate(a.w, g, a.m, a.v, 0.9, 0.99, 1e-8, 1e-3 / c1, sqrtC2, 1 - 1e-3 * 0.01);
      adamStepTs(b.w, g, b.m, b.v, 0.9, 0.99, 1e-8, 1e-3 / c1, sqrtC2, 1 - 1e-3 * 0.01);
    }
    for (const k of ['w', 'm', 'v'] as const) expect(Buffer.from(a[k].buffer).equals(Buffer.from(b[k].buffer)), k).toBe(true);
    expect(a.w.some((x, i) => x !== w0[i])).toBe(true);
  });

  it('sumSquares equals sumSquaresTs exactly, and wrong arguments are RangeErrors', () => {
    const nat = nativeModelOps()!;
    for (const len of [0, 1, 3, 4, 1003]) {
      const g = grads().subarray(0, len);
      expect(nat.sumSquares(g)).toBe(sumSquaresTs(g));
    }
    expect(sumSquaresTs(Float32Array.of(3, 4))).toBe(25);
    const f = new Float32Array(4);
    expect(() => nat.adamUpdate(f, new Float32Array(3), f.slice(), f.slice(), 0.9, 0.99, 1e-8, 1e-3, 1, 1)).toThrow(/4, 3, 4 and 4 values; they must match/);
    expect(() => nat.adamUpdate(f, f, f, new Float64Array(4) as unknown as Float32Array, 0.9, 0.99, 1e-8, 1e-3, 1, 1)).toThrow(/expected \(w, g, m, v: Float32Array/);
    expect(() => nat.sumSquares([1, 2] as unknown as Float32Array)).toThrow(/expected a Float32Array/);
  });
});

describe('LR schedules', () => {
  it('step: ×gamma every k epochs', () => {
    const s = { kind: 'step' as const, everyEpochs: 2, gamma: 0.5 };
    expect(learningRate(s, 1, 0, 10, 100)).toBe(1);
    expect(learningRate(s, 1, 19, 10, 100)).toBe(1);
    expect(learningRate(s, 1, 20, 10, 100)).toBe(0.5);
    expect(learningRate(s, 1, 45, 10, 100)).toBe(0.25);
  });
  it('cosine: warm-up, base at the start of the decay, min at the end, half-way in the middle', () => {
    const s = { kind: 'cosine' as const, minLr: 0.1, warmupSteps: 10 };
    expect(learningRate(s, 1, 0, 10, 110)).toBeCloseTo(0.1, 9);
    expect(learningRate(s, 1, 9, 10, 110)).toBeCloseTo(1, 9);
    expect(learningRate(s, 1, 10, 10, 110)).toBeCloseTo(1, 9);
    expect(learningRate(s, 1, 60, 10, 110)).toBeCloseTo(0.55, 9);
    expect(learningRate(s, 1, 110, 10, 110)).toBeCloseTo(0.1, 9);
  });

  it('scales the threshold step by thresholdLrScale and leaves other tensors alone', () => {
    const mk = () => [param('w', [0], [1]), param('thr', [0], [1], 'threshold')];
    const [w1, t1] = mk();
    const [w2, t2] = mk();
    new Adam([w1, t1], { ...DEFAULT_ADAM }).update(0.01);
    new Adam([w2, t2], { ...DEFAULT_ADAM, thresholdLrScale: 0.1 }).update(0.01);
    expect(w2.value[0]).toBe(w1.value[0]);
    expect(t1.value[0]).toBeCloseTo(-0.01, 6); // first Adam step: −lr · sign(g)
    expect(t2.value[0]).toBeCloseTo(-0.001, 6);
  });
});
