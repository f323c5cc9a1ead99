import { describe, expect, it } from 'vitest';
import { Adam, DEFAULT_ADAM, clipGradNorm } from '../../../core/train/adam.ts';
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
