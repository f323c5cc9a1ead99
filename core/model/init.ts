/**
 * Fresh GestureModel weights from a seed: EGRU layers with EvNN's initialisation (params.ts: xavier-normal
 * kernels, zero biases, Beta thresholds) and PyTorch nn.Linear's default U(−1/√fan_in, 1/√fan_in) for the
 * readout and the optional front layer.
 */
import type { EgruKernel, Float } from '../egru/types.ts';
import { createEgruParams } from '../egru/params.ts';
import type { GestureModelConfig } from './config.ts';
import { GestureModel } from './gesture-model.ts';
import type { FloatCtor } from './gesture-model.ts';
import { Rng } from '../util/rng.ts';
import { cnnShape, initCnnParams } from './front-cnn.ts';

export function initGestureModel(config: GestureModelConfig, seed: number, kernel: EgruKernel<Float32Array>): GestureModel<Float32Array>;
export function initGestureModel(config: GestureModelConfig, seed: number, kernel: EgruKernel<Float64Array>, dtype: 'float64'): GestureModel<Float64Array>;
export function initGestureModel(config: GestureModelConfig, seed: number, kernel: EgruKernel<any>, dtype: 'float32' | 'float64' = 'float32'): GestureModel<Float> {
  const ctor = (dtype === 'float64' ? Float64Array : Float32Array) as FloatCtor<Float>;
  const rng = new Rng(seed);
  // Each layer draws from its own seed so adding a layer on top leaves the lower ones unchanged.
  const layerSeed = () => rng.nextU32();
  const uniform = (n: number, fanIn: number) => {
    const a = new ctor(n);
    const bound = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < n; i++) a[i] = rng.uniform(-bound, bound);
    return a;
  };
  const D = config.frontDense;
  const frontWeight = D > 0 ? uniform(D * config.inputSize, config.inputSize) : null;
  const frontBias = D > 0 ? uniform(D, config.inputSize) : null;
  // A CNN front draws one seed of its own (only when present: models without one initialise exactly as before).
  const frontCnn = config.frontCnn ? initCnnParams(config.frontCnn, new Rng(layerSeed())) : null;
  if (frontCnn && dtype !== 'float32') throw new RangeError('a CNN front end runs in float32 only');
  const cnnOut = config.frontCnn ? cnnShape(config.frontCnn).outputSize : 0;
  let inSize = D > 0 ? D : config.frontCnn ? cnnOut : config.inputSize;
  const layers = config.hiddenSizes.map((H, l) => {
    const seed = layerSeed();
    const p = createEgruParams({
      inputSize: inSize,
      hiddenSize: H,
      seed,
      gain: config.weightGain,
      thresholdInit: 'beta',
      thrMean: config.thrMean,
      gamma: config.gamma,
      eps: config.eps,
      dtype,
    });
    if (l === 0 && D === 0 && !config.frontCnn && config.inputGain !== 1) for (let i = 0; i < p.kernel.length; i++) p.kernel[i] *= config.inputGain;
    const tMax = config.chronoTMax ?? 0;
    if (tMax > 0) {
      // Chrono init of the keep gate u (bias chunk 0 of [u, r, g]), from its own stream so that every other
      // initial value is the same as without it. The candidate weight 1 − u gets the matching −b implicitly.
      const cr = new Rng((seed ^ 0x6c8e9cf5) >>> 0);
      for (let j = 0; j < H; j++) p.bias[j] = Math.log(cr.uniform(1, tMax - 1));
    }
    inSize = H;
    return p;
  });
  const Htop = config.hiddenSizes[config.hiddenSizes.length - 1];
  const fcWeight = uniform(config.numClasses * Htop, Htop);
  const fcBias = uniform(config.numClasses, Htop);
  return new GestureModel<Float>(config, { layers, fcWeight, fcBias, frontWeight, frontBias, frontCnn }, kernel, ctor);
}
