import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { referenceKernel } from '../../../core/egru/reference.ts';
import { resolveModelConfig } from '../../../core/model/config.ts';
import { initGestureModel } from '../../../core/model/init.ts';
import { CnnFront, cnnMacsPerFrame, cnnParamSpecs, cnnShape, initCnnParams, toTfjsLayers } from '../../../core/model/front-cnn.ts';
import { tf } from '../../../core/egru/tfjs-op.ts';
import type { FrontCnnConfig } from '../../../core/model/front-cnn.ts';
import { loadBundle, saveBundle } from '../../../core/model/bundle.ts';
import type { BundleMetaInput } from '../../../core/model/bundle.ts';
import { runTraining } from '../../../core/train/loop.ts';
import { Rng } from '../../../core/util/rng.ts';
import { gesturePreprocessing } from '../../../core/train/datasets/preprocess.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'egru-cnn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CFG: FrontCnnConfig = { input: { channels: 2, height: 8, width: 6 }, channels: [3, 4], kernelSize: 3, pool: 2 };

/** Frames with ~30 % non-zero event counts, like binned DVS data. */
function frames(rows: number, c = CFG, seed = 5): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(rows * c.input.channels * c.input.height * c.input.width);
  for (let i = 0; i < x.length; i++) x[i] = rng.next() < 0.3 ? 0.2 + rng.next() : 0;
  return x;
}

describe('CNN front end (tfjs layers)', () => {
  it('has the documented shapes and MAC count', () => {
    const s = cnnShape(CFG);
    expect(s.blocks.map((b) => [b.inC, b.outC, b.h, b.w])).toEqual([
      [2, 3, 8, 6],
      [3, 4, 4, 3],
    ]);
    expect([s.outH, s.outW, s.outputSize]).toEqual([2, 1, 8]);
    expect(cnnParamSpecs(CFG).map((p) => `${p.name}:${p.shape.join('x')}`)).toEqual([
      'front.conv0.weight:3x3x2x3',
      'front.conv0.bias:3',
      'front.conv1.weight:3x3x3x4',
      'front.conv1.bias:4',
    ]);
    expect(cnnMacsPerFrame(CFG)).toBe(8 * 6 * 9 * 2 * 3 + 4 * 3 * 9 * 3 * 4);
  });

  it('computes conv → ReLU → max-pool exactly (hand-checked single filter)', () => {
    // One 1×4×4 frame, one 3×3 filter of ones, bias −1, pool 2: each output = max over a 2×2 block of relu(box sum − 1).
    const c: FrontCnnConfig = { input: { channels: 1, height: 4, width: 4 }, channels: [1], kernelSize: 3, pool: 2 };
    const front = new CnnFront(c, [new Float32Array(9).fill(1), Float32Array.of(-1)]);
    const x = Float32Array.from({ length: 16 }, (_, i) => (i === 5 ? 2 : i === 10 ? 1 : 0)); // (1,1)=2, (2,2)=1
    const box = (r: number, q: number) => {
      let s = 0;
      for (let dr = -1; dr <= 1; dr++) for (let dq = -1; dq <= 1; dq++) {
        const rr = r + dr;
        const qq = q + dq;
        if (rr >= 0 && rr < 4 && qq >= 0 && qq < 4) s += x[rr * 4 + qq];
      }
      return Math.max(0, s - 1);
    };
    const want = [0, 1, 2, 3].map((k) => {
      const r0 = 2 * (k >> 1);
      const q0 = 2 * (k & 1);
      return Math.max(box(r0, q0), box(r0, q0 + 1), box(r0 + 1, q0), box(r0 + 1, q0 + 1));
    });
    expect(Array.from(front.forward(x, 1).out)).toEqual(want);
    expect(want).toEqual([2, 2, 2, 2]);
  });

  it('backward equals finite differences of Σ out ⊙ r', () => {
    const rows = 3;
    const values = initCnnParams(CFG, new Rng(2));
    values[1].fill(0.05); // biases off zero so few units sit exactly at the ReLU kink
    values[3].fill(0.05);
    const front = new CnnFront(CFG, values);
    const x = frames(rows);
    const rng = new Rng(9);
    const r = Float32Array.from({ length: rows * front.outputSize }, () => rng.uniform(-1, 1));
    const loss = () => {
      const y = front.forward(x, rows).out;
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * r[i];
      return s;
    };
    const grads = values.map((v) => new Float32Array(v.length));
    front.backward(front.forward(x, rows).cache, r, grads);
    let checked = 0;
    let worst = 0;
    values.forEach((v, t) => {
      for (let i = 0; i < v.length; i += 3) {
        const keep = v[i];
        const h = 1e-3; // larger steps cross ReLU / max-pool switches (kinks) and disagree by design
        v[i] = keep + h;
        const lp = loss();
        v[i] = keep - h;
        const lm = loss();
        v[i] = keep;
        const fd = (lp - lm) / (2 * h);
        worst = Math.max(worst, Math.abs(fd - grads[t][i]) / Math.max(1e-2, Math.abs(fd) + Math.abs(grads[t][i])));
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(40);
    expect(worst).toBeLessThan(1e-2);
    // and the gradient is not trivially zero
    expect(grads.some((g) => g.some((v) => Math.abs(v) > 1e-3))).toBe(true);
  });

  it('equals the tfjs-layers model it exports (Conv2D same + ReLU, MaxPooling2D, Flatten): forward and gradients', async () => {
    const rows = 5;
    const values = initCnnParams(CFG, new Rng(12));
    values[1].fill(0.03);
    values[3].fill(-0.02);
    const front = new CnnFront(CFG, values);
    const x = frames(rows, CFG, 21);
    const { out, cache } = front.forward(x, rows);
    expect(cache.macsExecuted).toBeLessThan(cache.macsDense); // ~30 % non-zero pixels: the first block skips the rest
    const net = await toTfjsLayers(front);
    await tf.setBackend('cpu'); // the gradient kernels (Conv2DBackpropFilter, MaxPoolGrad) exist on cpu, not wasm
    const nhwc = tf.transpose(tf.tensor4d(x, [rows, 2, 8, 6]), [0, 2, 3, 1]);
    const want = (net.predict(nhwc) as ReturnType<typeof tf.tensor>).dataSync();
    expect(out.length).toBe(want.length);
    let maxErr = 0;
    for (let i = 0; i < out.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - want[i]));
    expect(maxErr).toBeLessThan(1e-5);
    expect(out.some((v) => v > 0)).toBe(true);

    const rng = new Rng(4);
    const r = Float32Array.from({ length: out.length }, () => rng.uniform(-1, 1));
    const grads = values.map((v) => new Float32Array(v.length));
    front.backward(cache, r, grads);
    const vars = net.trainableWeights.map((w) => w.read() as ReturnType<typeof tf.variable>);
    const dy = tf.tensor2d(r, [rows, front.outputSize]);
    const { grads: tg } = tf.variableGrads(() => tf.sum(tf.mul(net.apply(nhwc) as ReturnType<typeof tf.tensor>, dy)) as ReturnType<typeof tf.scalar>, vars);
    vars.forEach((v, i) => {
      const t = tg[v.name].dataSync();
      let e = 0;
      let m = 0;
      for (let j = 0; j < t.length; j++) {
        e = Math.max(e, Math.abs(t[j] - grads[i][j]));
        m = Math.max(m, Math.abs(t[j]));
      }
      expect(m).toBeGreaterThan(0);
      expect(e / m).toBeLessThan(1e-5);
    });
  }, 60_000);

  it('rejects bad configurations and mismatched tensors with errors naming the field', () => {
    expect(() => resolveModelConfig({ inputSize: 96, numClasses: 2, frontCnn: { ...CFG, kernelSize: 2 } })).toThrow(/frontCnn\.kernelSize must be odd/);
    expect(() => resolveModelConfig({ inputSize: 95, numClasses: 2, frontCnn: CFG })).toThrow(/frontCnn input 2×8×6 ≠ inputSize 95/);
    expect(() => resolveModelConfig({ inputSize: 96, numClasses: 2, frontCnn: CFG, frontDense: 4 })).toThrow(/cannot both/);
    expect(() => resolveModelConfig({ inputSize: 96, numClasses: 2, frontCnn: { ...CFG, channels: [2, 2, 2, 2] } })).toThrow(/below 1×1/);
    expect(() => new CnnFront(CFG, [new Float32Array(3)])).toThrow(/2 ?|4/);
  });
});

describe('GestureModel with a CNN front', () => {
  const config = resolveModelConfig({ inputSize: 96, numClasses: 3, hiddenSizes: [7], frontCnn: CFG });

  it('feeds the CNN features to the EGRU, counts the CNN MACs, and back-propagates into the CNN', () => {
    const m = initGestureModel(config, 4, referenceKernel);
    expect(m.layers[0].inputSize).toBe(8);
    expect(m.parameters().map((p) => p.name).slice(0, 4)).toEqual(['front.conv0.weight', 'front.conv0.bias', 'front.conv1.weight', 'front.conv1.bias']);
    const T = 4;
    const N = 2;
    const x = frames(T * N);
    const f = m.forward(x, T, N, Int32Array.of(4, 3), false);
    expect(f.front!.length).toBe(T * N * 8);
    expect(f.macsDense).toBeGreaterThanOrEqual(T * N * cnnMacsPerFrame(CFG));
    m.lossAndGrad(x, T, N, Int32Array.of(4, 3), Int32Array.of(0, 2));
    const g = m.parameters().find((p) => p.name === 'front.conv0.weight')!.grad;
    expect(g.some((v) => v !== 0)).toBe(true);
  });

  it('round-trips through a bundle (same logits after load)', async () => {
    const m = initGestureModel(config, 6, referenceKernel);
    const meta: BundleMetaInput = {
      preprocessing: gesturePreprocessing({ sensor: { width: 12, height: 16 }, frame: { width: 6, height: 8 }, windowUs: 100_000, normalisation: { divideBy: 1, clip: null } }),
      classNames: ['a', 'b', 'c'],
      provenance: { seed: 6, config: {}, dataset: 'unit test', epoch: 0, epochs: 0, kernel: 'reference', history: [] },
      metrics: { valAccuracy: null, valLoss: null, trainAccuracy: null, trainLoss: null, testAccuracy: null, testLoss: null, activity: 0, macReduction: 1, samplesPerSec: 0, evaluatedOn: 'none' },
    };
    const out = path.join(dir, 'cnn-bundle');
    await saveBundle(out, m, meta);
    const { model } = await loadBundle(out, referenceKernel);
    expect(model.config.frontCnn).toEqual(CFG);
    const x = frames(4 * 2, CFG, 8);
    const a = m.forward(x, 4, 2, Int32Array.of(4, 4), false).logits;
    const b = model.forward(x, 4, 2, Int32Array.of(4, 4), false).logits;
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('trains end to end through the training loop (CNN + EGRU learn the synthetic task)', async () => {
    // Synthetic task: 2 classes × 8 channels = 16 inputs, read as one 4×4 frame (class 0 = top half, 1 = bottom).
    const r = await runTraining({
      dataset: { kind: 'synthetic', options: { trainSamples: 120, testSamples: 80, channelsPerClass: 8 } },
      out: path.join(dir, 'cnn-train'),
      epochs: 6,
      batchSize: 12,
      lr: 0.03,
      model: { hiddenSizes: [10], frontCnn: { input: { channels: 1, height: 4, width: 4 }, channels: [4], kernelSize: 3, pool: 2 } },
      kernel: 'native',
      seed: 1,
    });
    expect(r.status).toBe('completed');
    expect(r.test!.accuracy).toBeGreaterThanOrEqual(0.9);
    const { model } = await loadBundle(r.bundleDir);
    expect(model.cnn).not.toBeNull();
  }, 120_000);
});
