import { beforeAll, describe, expect, it } from 'vitest';
import * as tfl from '@tensorflow/tfjs-layers';
import { clampThetaVariable, egruOp, egruVariables, initTf, paramsFromVariables, tf } from '../../../core/egru/tfjs-op.ts';
import { referenceKernel } from '../../../core/egru/reference.ts';
import { createEgruParams } from '../../../core/egru/params.ts';
import type { EgruLayerParams } from '../../../core/egru/types.ts';
import { Rng } from '../../../core/util/rng.ts';

let backend = '';
beforeAll(async () => {
  backend = (await initTf()).backend;
});

describe('EGRU as a tfjs op', () => {
  it('initTf reports a real backend (tfjs-node → wasm → cpu)', () => {
    expect(['tensorflow', 'wasm', 'cpu']).toContain(backend);
    expect(tf.getBackend()).toBe(backend);
  });

  it('forward equals the kernel; gradients through the op equal the reference backward', () => {
    const T = 5;
    const N = 3;
    const C = 4;
    const H = 6;
    const p = createEgruParams({ inputSize: C, hiddenSize: H, seed: 4, thrMean: 0.1, gain: 2 });
    const rng = new Rng(9);
    const xs = Float32Array.from({ length: T * N * C }, () => rng.normal());
    const y0s = Float32Array.from({ length: N * H }, () => rng.normal(0, 0.3));
    const k = Array.from({ length: 4 }, () => Float32Array.from({ length: T * N * H }, () => rng.normal()));
    const v = egruVariables(p);
    const x = tf.tensor3d(xs, [T, N, C]);
    const y0 = tf.tensor2d(y0s, [N, H]);
    const coef = k.map((a) => tf.tensor3d(a, [T, N, H]));
    const f = (xx: tf.Tensor, W: tf.Tensor, Rk: tf.Tensor, b: tf.Tensor, br: tf.Tensor, th: tf.Tensor, yy: tf.Tensor) => {
      const o = egruOp(
        { x: xx, kernel: W, recurrentKernel: Rk, bias: b, recurrentBias: br, theta: th, y0: yy },
        { gamma: p.gamma, eps: p.eps, kernel: referenceKernel, training: true },
      );
      return tf.addN([tf.sum(tf.mul(o.y, coef[0])), tf.sum(tf.mul(o.c, coef[1])), tf.sum(tf.mul(o.o, coef[2])), tf.sum(tf.mul(o.tr, coef[3]))]);
    };
    const grads = tf.grads(f)([x, v.kernel, v.recurrentKernel, v.bias, v.recurrentBias, v.theta, y0]);

    const fwd = referenceKernel.forward(p, xs, T, N, { training: true, y0: y0s });
    const out = egruOp(
      { x, kernel: v.kernel, recurrentKernel: v.recurrentKernel, bias: v.bias, recurrentBias: v.recurrentBias, theta: v.theta, y0 },
      { gamma: p.gamma, eps: p.eps, kernel: referenceKernel },
    );
    expect(Array.from(out.y.dataSync())).toEqual(Array.from(fwd.y));
    expect(Array.from(out.tr.dataSync())).toEqual(Array.from(fwd.tr));
    expect(out.o.shape).toEqual([T, N, H]);
    const g = referenceKernel.backward(p, xs, fwd, { dy: k[0], dc: k[1], do: k[2], dtr: k[3] }, { y0: y0s });
    const want = [g.dX, g.dKernel, g.dRecurrentKernel, g.dBias, g.dRecurrentBias, g.dTheta, g.dY0];
    const shapes = [[T, N, C], [C, 3 * H], [H, 3 * H], [3 * H], [3 * H], [H], [N, H]];
    grads.forEach((gt, i) => {
      expect(gt.shape).toEqual(shapes[i]);
      const got = gt.dataSync();
      for (let j = 0; j < got.length; j++) expect(got[j]).toBeCloseTo(want[i][j], 5);
    });
    expect(g.dTheta.some((val) => val !== 0)).toBe(true);
  });

  it('a tiny model (tfjs dense → EGRU op → dense readout on the trace) trains with Adam: loss drops', () => {
    // Toy task: which of two input channels carries the pulse train (class 0/1), read from the trace at the end.
    const T = 12;
    const N = 16;
    const Cin = 2;
    const H = 16;
    const rng = new Rng(5);
    const xs = new Float32Array(T * N * Cin);
    const labels = new Float32Array(N * 2);
    for (let n = 0; n < N; n++) {
      const cls = n % 2;
      labels[n * 2 + cls] = 1;
      for (let t = 0; t < T; t++) if (t % 3 === 0) xs[(t * N + n) * Cin + cls] = 1 + 0.1 * rng.normal();
    }
    const x = tf.tensor3d(xs, [T, N, Cin]);
    const yTrue = tf.tensor2d(labels, [N, 2]);
    const inProj = tfl.layers.dense({ units: 8, inputShape: [Cin], kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }) });
    const readout = tfl.layers.dense({ units: 2, inputShape: [H], kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }) });
    const v = egruVariables(createEgruParams({ inputSize: 8, hiddenSize: H, seed: 7, thrMean: 0.2 }), { name: 'toy' });
    const optimizer = tf.train.adam(0.02);
    const lossFn = () =>
      tf.tidy(() => {
        const h = tf.reshape(inProj.apply(tf.reshape(x, [T * N, Cin])) as tf.Tensor, [T, N, 8]);
        const o = egruOp(
          { x: h, kernel: v.kernel, recurrentKernel: v.recurrentKernel, bias: v.bias, recurrentBias: v.recurrentBias, theta: v.theta },
          { gamma: v.gamma, eps: v.eps, kernel: referenceKernel, training: true },
        );
        const last = tf.squeeze(tf.slice(o.tr, [T - 1, 0, 0], [1, N, H]), [0]);
        const logits = readout.apply(tf.mul(last, 10)) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(yTrue, logits) as tf.Scalar;
      });
    const first = lossFn().dataSync()[0];
    let lossNow = first;
    for (let step = 0; step < 40; step++) {
      lossNow = optimizer.minimize(lossFn, true)!.dataSync()[0];
      clampThetaVariable(v);
    }
    expect(first).toBeGreaterThan(0.5);
    expect(lossNow).toBeLessThan(first * 0.5);
    // The EGRU variables themselves were updated by the optimiser through the op's gradient.
    const after = paramsFromVariables(v);
    const before = createEgruParams({ inputSize: 8, hiddenSize: H, seed: 7, thrMean: 0.2 });
    let changed = 0;
    for (let i = 0; i < after.recurrentKernel.length; i++) if (after.recurrentKernel[i] !== before.recurrentKernel[i]) changed++;
    expect(changed).toBeGreaterThan(0);
    expect(after.theta.every((t) => t >= 0 && t <= 1)).toBe(true);
  });

  it('param round trip variables → params', () => {
    const p: EgruLayerParams<Float32Array> = createEgruParams({ inputSize: 3, hiddenSize: 2, seed: 1 });
    const back = paramsFromVariables(egruVariables(p));
    expect(Array.from(back.kernel)).toEqual(Array.from(p.kernel));
    expect(back.hiddenSize).toBe(2);
  });
});
