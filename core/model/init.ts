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
  let inSize = D > 0 ? D : config.inputSize;
  const layers = config.hiddenSizes.map((H, l) => {
    const p = createEgruParams({
      inputSize: inSize,
      hiddenSize: H,
      seed: layerSeed(),
      gain: config.weightGain,
      thresholdInit: 'beta',
      thrMean: config.thrMean,
      gamma: config.gamma,
      eps: config.eps,
      dtype,
    });
    if (l === 0 && D === 0 && config.inputGain !== 1) for (let i = 0; i < p.kernel.length; i++) p.kernel[i] *= config.inputGain;
    inSize = H;
    return p;
  });
  const Htop = config.hiddenSizes[config.hiddenSizes.length - 1];
  const fcWeight = uniform(config.numClasses * Htop, Htop);
  const fcBias = uniform(config.numClasses, Htop);
  return new GestureModel<Float>(config, { layers, fcWeight, fcBias, frontWeight, frontBias }, kernel, ctor);
}
