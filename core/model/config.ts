/**
 * Model architecture and input preprocessing descriptions. Both are plain JSON-able objects: they are written
 * verbatim into a bundle's model.json, and inference must rebuild exactly the same pipeline from them.
 */

import type { Pooling } from './readout.ts';
import { checkFrontCnnConfig, type FrontCnnConfig } from './front-cnn.ts';

export type { FrontCnnConfig };

/** Architecture of a `GestureModel`: [optional dense or CNN front] → EGRU stack → Linear readout on every step. */
export interface GestureModelConfig {
  /** C: values per time step fed to the model (e.g. P·h·w of a downsampled frame). */
  inputSize: number;
  /** Hidden units per EGRU layer (bottom first). */
  hiddenSizes: number[];
  /** K: number of classes. */
  numClasses: number;
  /**
   * Optional dense front layer Linear(C→D)+ReLU before the first EGRU layer (0 = none). Default none: the first
   * EGRU layer's input kernel IS the (sparse) linear projection of the frames and skips zero inputs.
   */
  frontDense: number;
  /**
   * Optional CNN front end from tfjs layers (front-cnn.ts; paper-like) applied to every step's frame, or null (default).
   * Exclusive with `frontDense`. Its input shape must multiply out to `inputSize`.
   */
  frontCnn: FrontCnnConfig | null;
  /** Which EGRU output the readout reads: the trace (paper recipe, spec §8.1) or y. */
  readout: 'trace' | 'y';
  /**
   * 'mean': logits averaged over all valid steps (DVS recipe); 'last': the last step only (sMNIST recipe); 'ramp':
   * averaged with weights ∝ t + 1, so late steps count most (see `Pooling` in readout.ts).
   */
  pooling: Pooling;
  /** Pseudo-derivative height γ (spec §3). */
  gamma: number;
  /** Pseudo-derivative inverse half-width ε (spec §3; DVS 1.7, sMNIST 1.0). */
  eps: number;
  /** Mean of the Beta threshold initialisation (EvNN v0.2.0 `thr_mean`, 0 < m < 1). */
  thrMean: number;
  /** Xavier-normal gain of kernel and recurrent kernel. */
  weightGain: number;
  /**
   * Extra gain on the FIRST layer's input kernel at initialisation (default 1 = EvNN). Xavier over [C, 3H] gives a
   * one-pixel input (C = 1, sMNIST) weights of std ≈ √(2/3H) — too small for the input to move the gates, so
   * learning starts very slowly; a gain of ~10 fixes that. Only the initial values change, not the model.
   */
  inputGain: number;
  /** Zoneout probability on c during training (0 = off; DVS recipe 0.2319). */
  zoneout: number;
  /**
   * Optional "chrono" initialisation of the keep gate u (Tallec & Ollivier, ICLR 2018): each unit's u-gate input
   * bias starts at log(U(1, chronoTMax − 1)), so u = σ(b) ∈ [0.5, 1 − 1/chronoTMax) and units keep their state c
   * for characteristic times spread up to ≈ chronoTMax steps — what a long task (sMNIST: 784 steps) needs from the
   * first update instead of having to learn it. Absent or 0 = EvNN's zero biases (the default; never written into
   * default configs, so existing models and bundles are unchanged). Only the initial values change.
   */
  chronoTMax?: number;
}

export const DEFAULT_MODEL_CONFIG: Omit<GestureModelConfig, 'inputSize' | 'numClasses'> = {
  hiddenSizes: [128],
  frontDense: 0,
  frontCnn: null,
  readout: 'trace',
  pooling: 'mean',
  gamma: 0.7,
  eps: 1.7,
  thrMean: 0.3,
  weightGain: 1,
  inputGain: 1,
  zoneout: 0,
};

/** Fills defaults and validates; throws RangeError naming the bad field. */
export function resolveModelConfig(c: Partial<GestureModelConfig> & { inputSize: number; numClasses: number }): GestureModelConfig {
  const r: GestureModelConfig = { ...DEFAULT_MODEL_CONFIG, ...c, hiddenSizes: [...(c.hiddenSizes ?? DEFAULT_MODEL_CONFIG.hiddenSizes)] };
  const posInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`model config: ${name} must be a positive integer, got ${v}`);
  };
  posInt(r.inputSize, 'inputSize');
  posInt(r.numClasses, 'numClasses');
  if (r.hiddenSizes.length === 0) throw new RangeError('model config: hiddenSizes must list at least one layer');
  r.hiddenSizes.forEach((h, i) => posInt(h, `hiddenSizes[${i}]`));
  if (!Number.isInteger(r.frontDense) || r.frontDense < 0) throw new RangeError(`model config: frontDense must be an integer ≥ 0, got ${r.frontDense}`);
  if (r.frontCnn !== null) {
    checkFrontCnnConfig(r.frontCnn);
    if (r.frontDense > 0) throw new RangeError('model config: frontDense and frontCnn cannot both be used');
    const i = r.frontCnn.input;
    if (i.channels * i.height * i.width !== r.inputSize) throw new RangeError(`model config: frontCnn input ${i.channels}×${i.height}×${i.width} ≠ inputSize ${r.inputSize}`);
  }
  if (r.readout !== 'trace' && r.readout !== 'y') throw new RangeError(`model config: readout must be 'trace' or 'y', got ${String(r.readout)}`);
  if (r.pooling !== 'mean' && r.pooling !== 'last' && r.pooling !== 'ramp') throw new RangeError(`model config: pooling must be 'mean', 'last' or 'ramp', got ${String(r.pooling)}`);
  if (!(r.gamma >= 0)) throw new RangeError(`model config: gamma must be ≥ 0, got ${r.gamma}`);
  if (!(r.eps > 0)) throw new RangeError(`model config: eps must be > 0, got ${r.eps}`);
  if (!(r.thrMean > 0 && r.thrMean < 1)) throw new RangeError(`model config: thrMean must be in (0, 1), got ${r.thrMean}`);
  if (!(r.weightGain > 0)) throw new RangeError(`model config: weightGain must be > 0, got ${r.weightGain}`);
  if (!(r.inputGain > 0)) throw new RangeError(`model config: inputGain must be > 0, got ${r.inputGain}`);
  if (!(r.zoneout >= 0 && r.zoneout < 1)) throw new RangeError(`model config: zoneout must be in [0, 1), got ${r.zoneout}`);
  if (r.chronoTMax !== undefined && !(r.chronoTMax === 0 || r.chronoTMax > 2)) throw new RangeError(`model config: chronoTMax must be 0 (off) or > 2, got ${r.chronoTMax}`);
  return r;
}

/**
 * How raw input becomes the model's [T, C] sequence. Event-camera models record every step (sensor, crop,
 * downsample, binning, polarity, normalisation) so a live classifier reproduces training exactly.
 */
export type Preprocessing =
  | {
      kind: 'event-frames';
      sensor: { width: number; height: number };
      /** Region kept before downsampling (null = whole sensor). */
      crop: { x: number; y: number; width: number; height: number } | null;
      /** Output frame size after downsampling (integer factor of the cropped size, events summed per cell). */
      frame: { width: number; height: number };
      /** Bin (frame) width in µs. */
      binUs: number;
      /** Sample window length in µs (T = windowUs / binUs). */
      windowUs: number;
      /** 'split': 2 channels [OFF, ON]; 'merge-sum' / 'merge-mean': 1 channel; 'on-only' / 'off-only'. */
      polarity: 'split' | 'merge-sum' | 'merge-mean' | 'on-only' | 'off-only';
      /** Counts are divided by `divideBy` (1 = raw counts); then optionally clipped to `clip`. */
      normalisation: { divideBy: number; clip: number | null };
      /** Channel-major layout of one step: index = (p·h + y)·w + x. */
      layout: 'pyx';
    }
  | {
      /** A generic numeric sequence (sequential MNIST, synthetic tasks). */
      kind: 'sequence';
      /** Plain words: how the steps were made (e.g. '28×28 digit, one pixel per step, row-major, [0,1]'). */
      description: string;
      steps: number;
      inputSize: number;
    };
