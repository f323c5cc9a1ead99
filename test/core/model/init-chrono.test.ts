import { describe, expect, it } from 'vitest';
import { referenceKernel } from '../../../core/egru/reference.ts';
import { resolveModelConfig } from '../../../core/model/config.ts';
import { initGestureModel } from '../../../core/model/init.ts';

const base = { inputSize: 1, numClasses: 10, hiddenSizes: [64, 32] };

describe('chrono initialisation of the keep gate (chronoTMax, used by the S-MNIST recipe trials)', () => {
  it('is absent from default configs, so default models and their model.json are unchanged', () => {
    const c = resolveModelConfig(base);
    expect('chronoTMax' in c).toBe(false);
    const a = initGestureModel(c, 7, referenceKernel).parameters();
    const b = initGestureModel(resolveModelConfig({ ...base, chronoTMax: 0 }), 7, referenceKernel).parameters();
    a.forEach((p, i) => expect(Array.from(p.value)).toEqual(Array.from(b[i].value)));
  });

  it('sets only the u-gate input biases to log(U(1, T−1)), leaving every other initial value as before', () => {
    const T = 784;
    const plain = initGestureModel(resolveModelConfig(base), 7, referenceKernel);
    const chrono = initGestureModel(resolveModelConfig({ ...base, chronoTMax: T }), 7, referenceKernel);
    chrono.parameters().forEach((p, i) => {
      const q = plain.parameters()[i];
      if (!/^layers\.\d+\.bias$/.test(p.name)) return expect(Array.from(p.value)).toEqual(Array.from(q.value));
      const H = p.value.length / 3;
      const u = Array.from(p.value.subarray(0, H));
      // chunk 0 is the keep gate u: within [log 1, log(T−1)] and spread over the range (time scales 1…T steps)
      expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...u)).toBeLessThanOrEqual(Math.log(T - 1) + 1e-6);
      expect(Math.max(...u)).toBeGreaterThan(5);
      expect(Math.min(...u)).toBeLessThan(3);
      // reset and candidate chunks keep EvNN's zeros
      expect(Array.from(p.value.subarray(H))).toEqual(new Array(2 * H).fill(0));
    });
    // the two layers draw different biases
    expect(Array.from(chrono.layers[0].bias.subarray(0, 32))).not.toEqual(Array.from(chrono.layers[1].bias.subarray(0, 32)));
  });

  it('rejects a time scale that cannot be sampled', () => {
    expect(() => resolveModelConfig({ ...base, chronoTMax: 2 })).toThrow(/chronoTMax/);
    expect(() => resolveModelConfig({ ...base, chronoTMax: -5 })).toThrow(/chronoTMax/);
  });
});
