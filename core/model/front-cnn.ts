/**
 * The paper-like front end: a small CNN (the tfjs-layers Conv2D / MaxPooling2D stack, see `toTfjsLayers`) that turns
 * each time step's event frame into a feature vector for the first EGRU layer (the EvNN DVS model also puts a CNN
 * before its EGRU).
 *
 *   frame [P, h, w] (the preprocessing's channel-major 'pyx' step) → for each block: Conv2D(k×k, 'same') → ReLU →
 *   MaxPool(pool) → flatten (NHWC order) → D = h'·w'·channels features, ReLU'd and so mostly zero → EGRU.
 *
 * The network is computed by hand over typed arrays (`CnnFront`: all T·N frames of a batch in one call, never per
 * step; zero inputs skipped), with the weights in plain Float32Arrays owned by the GestureModel (the optimiser,
 * bundles and checkpoints treat them like every other tensor). `toTfjsLayers` builds the identical tfjs-layers model
 * with those weights; the tests hold the two equal, forward and gradient.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tflTypes from '@tensorflow/tfjs-layers';
import type { Rng } from '../util/rng.ts';

/** tfjs is loaded on demand (≈ 1 s of imports): only `toTfjsLayers` needs it, never training or inference. */
let runtime: { tf: typeof tfc; tfl: typeof tflTypes } | null = null;

async function loadTfjs(): Promise<{ tf: typeof tfc; tfl: typeof tflTypes }> {
  if (!runtime) {
    const [op, tfl] = await Promise.all([import('../egru/tfjs-op.ts'), import('@tensorflow/tfjs-layers')]);
    await op.initTf();
    runtime = { tf: op.tf, tfl };
  }
  return runtime;
}

/** Architecture of the CNN front end (stored in the bundle's model config). */
export interface FrontCnnConfig {
  /** Input frame: channels (polarities), height, width — must match the preprocessing. */
  input: { channels: number; height: number; width: number };
  /** Output channels of each Conv2D block. */
  channels: number[];
  /** Square kernel size of every convolution ('same' padding, stride 1). */
  kernelSize: number;
  /** Max-pooling window and stride after each block (1 = none). */
  pool: number;
}

/** Spatial size after each block and the flattened output width D. */
export function cnnShape(c: FrontCnnConfig): { blocks: { inC: number; outC: number; h: number; w: number }[]; outH: number; outW: number; outputSize: number } {
  let h = c.input.height;
  let w = c.input.width;
  let inC = c.input.channels;
  const blocks = c.channels.map((outC) => {
    const b = { inC, outC, h, w }; // the convolution runs at h×w, then pools
    h = Math.floor(h / c.pool);
    w = Math.floor(w / c.pool);
    inC = outC;
    return b;
  });
  return { blocks, outH: h, outW: w, outputSize: h * w * inC };
}

/** Validates a CNN config; throws RangeError naming the field. */
export function checkFrontCnnConfig(c: FrontCnnConfig): void {
  const posInt = (v: unknown, name: string) => {
    if (!Number.isInteger(v) || (v as number) <= 0) throw new RangeError(`model config: frontCnn.${name} must be a positive integer, got ${String(v)}`);
  };
  if (!c || typeof c !== 'object' || !c.input) throw new RangeError('model config: frontCnn must be { input, channels, kernelSize, pool }');
  posInt(c.input.channels, 'input.channels');
  posInt(c.input.height, 'input.height');
  posInt(c.input.width, 'input.width');
  if (!Array.isArray(c.channels) || c.channels.length === 0) throw new RangeError('model config: frontCnn.channels must list at least one block');
  c.channels.forEach((v, i) => posInt(v, `channels[${i}]`));
  posInt(c.kernelSize, 'kernelSize');
  if (c.kernelSize % 2 !== 1) throw new RangeError(`model config: frontCnn.kernelSize must be odd ('same' padding), got ${c.kernelSize}`);
  posInt(c.pool, 'pool');
  const s = cnnShape(c);
  if (s.outH < 1 || s.outW < 1) throw new RangeError(`model config: frontCnn pools a ${c.input.height}×${c.input.width} frame below 1×1 (${c.channels.length} blocks of pool ${c.pool})`);
}

/** Names and shapes of the CNN's tensors, in the order the model stores them: conv{i}.weight [k,k,in,out] (tfjs HWIO), conv{i}.bias [out]. */
export function cnnParamSpecs(c: FrontCnnConfig): { name: string; shape: number[]; kind: 'weight' | 'bias' }[] {
  const k = c.kernelSize;
  return cnnShape(c).blocks.flatMap((b, i) => [
    { name: `front.conv${i}.weight`, shape: [k, k, b.inC, b.outC], kind: 'weight' as const },
    { name: `front.conv${i}.bias`, shape: [b.outC], kind: 'bias' as const },
  ]);
}

/** Seeded initial values: Glorot-uniform kernels (Keras' Conv2D default), zero biases. */
export function initCnnParams(c: FrontCnnConfig, rng: Rng): Float32Array[] {
  return cnnParamSpecs(c).map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (s.kind === 'weight') {
      const [k, , inC, outC] = s.shape;
      const bound = Math.sqrt(6 / (k * k * inC + k * k * outC));
      for (let i = 0; i < n; i++) v[i] = rng.uniform(-bound, bound);
    }
    return v;
  });
}

/** Multiply-accumulates of one frame through the CNN (convolutions are dense: every MAC is executed). */
export function cnnMacsPerFrame(c: FrontCnnConfig): number {
  const k2 = c.kernelSize * c.kernelSize;
  return cnnShape(c).blocks.reduce((s, b) => s + b.h * b.w * k2 * b.inC * b.outC, 0);
}

/** What a CNN forward keeps for backward: each block's input, its post-ReLU conv output, and pooling choices. */
export interface CnnCache {
  rows: number;
  /** Input of each block (block 0: the caller's frames, channel-major; then NHWC pooled maps). */
  inputs: Float32Array[];
  /** Post-ReLU convolution output of each block, NHWC [rows, h, w, outC]. */
  acts: Float32Array[];
  /** Per pooled output element, the index into `acts[b]` it took its maximum from (null when pool = 1). */
  argmax: (Int32Array | null)[];
  /** Multiply-accumulates executed (zero inputs skipped) and of a dense convolution. */
  macsExecuted: number;
  macsDense: number;
}

/**
 * The CNN front, computed by hand over typed arrays (the same operator semantics as tfjs-layers Conv2D('same') +
 * ReLU + MaxPooling2D(valid) + Flatten, which `toTfjsLayers` builds and the tests hold equal, forward and gradient).
 * Why not run it in tfjs here: tfjs' wasm backend has no convolution-gradient kernels, and its JS cpu backend took
 * ~12 s per backward of one 16×16×2 batch on this machine. Written the EGRU way instead: a convolution SCATTERS each
 * non-zero input pixel into the outputs it touches, so on event frames (~95 % zeros) the first block costs in
 * proportion to the events, and the weight gradient likewise gathers only over non-zero inputs.
 * Weights are read from `values` (owned by the model) at every call.
 */
export class CnnFront {
  readonly outputSize: number;
  readonly macsPerFrame: number;
  private readonly shape: ReturnType<typeof cnnShape>;

  constructor(
    readonly config: FrontCnnConfig,
    readonly values: Float32Array[],
  ) {
    checkFrontCnnConfig(config);
    const specs = cnnParamSpecs(config);
    if (values.length !== specs.length) throw new RangeError(`CNN front: ${values.length} tensors, expected ${specs.length}`);
    specs.forEach((sp, i) => {
      const n = sp.shape.reduce((a, b) => a * b, 1);
      if (values[i].length !== n) throw new RangeError(`${sp.name}: ${values[i].length} values, expected ${n} ([${sp.shape.join(', ')}])`);
    });
    this.shape = cnnShape(config);
    this.outputSize = this.shape.outputSize;
    this.macsPerFrame = cnnMacsPerFrame(config);
  }

  /** Values per step of the input: P·h·w (channel-major, the preprocessing's 'pyx' layout). */
  get inputSize(): number {
    const i = this.config.input;
    return i.channels * i.height * i.width;
  }

  /** Features [rows, D] (NHWC-flattened, as tfjs' Flatten) for `rows` frames (rows = T·N), and the backward cache. */
  forward(x: Float32Array, rows: number): { out: Float32Array; cache: CnnCache } {
    if (x.length !== rows * this.inputSize) throw new RangeError(`CNN front: input has ${x.length} values, expected rows·P·h·w = ${rows}·${this.inputSize}`);
    const c = this.config;
    const cache: CnnCache = { rows, inputs: [], acts: [], argmax: [], macsExecuted: 0, macsDense: rows * this.macsPerFrame };
    let inp = x;
    this.shape.blocks.forEach((b, i) => {
      cache.inputs.push(inp);
      const W = this.values[2 * i];
      const bias = this.values[2 * i + 1];
      const act = new Float32Array(rows * b.h * b.w * b.outC);
      cache.macsExecuted += convScatter(inp, i === 0, rows, b.inC, b.h, b.w, c.kernelSize, W, bias, b.outC, act);
      for (let j = 0; j < act.length; j++) if (act[j] < 0) act[j] = 0; // ReLU
      cache.acts.push(act);
      if (c.pool > 1) {
        const ho = Math.floor(b.h / c.pool);
        const wo = Math.floor(b.w / c.pool);
        const pooled = new Float32Array(rows * ho * wo * b.outC);
        const arg = new Int32Array(pooled.length);
        maxPool(act, rows, b.h, b.w, b.outC, c.pool, pooled, arg);
        cache.argmax.push(arg);
        inp = pooled;
      } else {
        cache.argmax.push(null);
        inp = act;
      }
    });
    return { out: inp, cache };
  }

  /** Adds d(Σ out ⊙ dOut)/dθ into `grads` (same order and sizes as `values`). */
  backward(cache: CnnCache, dOut: ArrayLike<number>, grads: Float32Array[]): void {
    const rows = cache.rows;
    if (dOut.length !== rows * this.outputSize) throw new RangeError(`CNN front: upstream gradient has ${dOut.length} values, expected ${rows * this.outputSize}`);
    const k = this.config.kernelSize;
    let dP: ArrayLike<number> = dOut;
    for (let i = this.shape.blocks.length - 1; i >= 0; i--) {
      const b = this.shape.blocks[i];
      const act = cache.acts[i];
      // Through the pooling (to the arg-max) and the ReLU (only where the output was positive).
      const dZ = new Float32Array(act.length);
      const arg = cache.argmax[i];
      if (arg) {
        for (let j = 0; j < arg.length; j++) {
          const a = arg[j];
          if (act[a] > 0) dZ[a] += dP[j];
        }
      } else {
        for (let j = 0; j < act.length; j++) if (act[j] > 0) dZ[j] = dP[j];
      }
      const dW = grads[2 * i];
      const db = grads[2 * i + 1];
      const O = b.outC;
      for (let j = 0; j < dZ.length; j += O) for (let o = 0; o < O; o++) db[o] += dZ[j + o];
      // The block's input gradient is only needed where that input is non-zero: everywhere else the ReLU below
      // (or the pooling's choice) blocks it.
      const dIn = i > 0 ? new Float32Array(cache.inputs[i].length) : null;
      convScatterBackward(cache.inputs[i], i === 0, rows, b.inC, b.h, b.w, k, this.values[2 * i], O, dZ, dW, dIn);
      if (dIn) dP = dIn;
    }
  }
}

/**
 * 'same' k×k convolution (cross-correlation, as tfjs) of NHWC (or, for `channelMajor`, [rows, C, h, w]) input into
 * NHWC `out` (pre-activation, bias included), scattering every non-zero input value into the ≤ k² outputs it feeds.
 * Returns the multiply-accumulates executed.
 */
function convScatter(inp: Float32Array, channelMajor: boolean, rows: number, C: number, h: number, w: number, k: number, W: Float32Array, bias: Float32Array, O: number, out: Float32Array): number {
  const pad = (k - 1) >> 1;
  const frameIn = C * h * w;
  const frameOut = h * w * O;
  let macs = 0;
  for (let r = 0; r < rows; r++) {
    const ob = r * frameOut;
    // A plain loop: TypedArray.set per pixel costs more in call overhead than the copy itself at these sizes.
    for (let j = ob; j < ob + frameOut; j += O) for (let o = 0; o < O; o++) out[j + o] = bias[o];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < C; ch++) {
          const v = inp[r * frameIn + (channelMajor ? (ch * h + y) * w + x : (y * w + x) * C + ch)];
          if (v === 0) continue;
          for (let ky = 0; ky < k; ky++) {
            const oy = y - ky + pad;
            if (oy < 0 || oy >= h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ox = x - kx + pad;
              if (ox < 0 || ox >= w) continue;
              const wb = ((ky * k + kx) * C + ch) * O;
              const zb = ob + (oy * w + ox) * O;
              for (let o = 0; o < O; o++) out[zb + o] += v * W[wb + o];
              macs += O;
            }
          }
        }
      }
    }
  }
  return macs;
}

/** dW += Σ input ⊗ dZ over non-zero inputs; dIn (when wanted) = Σ_k W·dZ at the non-zero inputs only. */
function convScatterBackward(inp: Float32Array, channelMajor: boolean, rows: number, C: number, h: number, w: number, k: number, W: Float32Array, O: number, dZ: Float32Array, dW: Float32Array, dIn: Float32Array | null): void {
  const pad = (k - 1) >> 1;
  const frameIn = C * h * w;
  const frameOut = h * w * O;
  for (let r = 0; r < rows; r++) {
    const ob = r * frameOut;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < C; ch++) {
          const ii = r * frameIn + (channelMajor ? (ch * h + y) * w + x : (y * w + x) * C + ch);
          const v = inp[ii];
          if (v === 0) continue;
          let g = 0;
          for (let ky = 0; ky < k; ky++) {
            const oy = y - ky + pad;
            if (oy < 0 || oy >= h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ox = x - kx + pad;
              if (ox < 0 || ox >= w) continue;
              const wb = ((ky * k + kx) * C + ch) * O;
              const zb = ob + (oy * w + ox) * O;
              for (let o = 0; o < O; o++) {
                const d = dZ[zb + o];
                dW[wb + o] += v * d;
                g += W[wb + o] * d;
              }
            }
          }
          if (dIn) dIn[ii] = g;
        }
      }
    }
  }
}

/** Valid max pooling (window = stride = p) of NHWC maps; records each maximum's source index (first one on ties). */
function maxPool(a: Float32Array, rows: number, h: number, w: number, C: number, p: number, out: Float32Array, arg: Int32Array): void {
  const ho = Math.floor(h / p);
  const wo = Math.floor(w / p);
  let j = 0;
  for (let r = 0; r < rows; r++) {
    const fb = r * h * w * C;
    for (let py = 0; py < ho; py++) {
      for (let px = 0; px < wo; px++) {
        for (let ch = 0; ch < C; ch++, j++) {
          let best = -Infinity;
          let bi = 0;
          for (let dy = 0; dy < p; dy++) {
            for (let dx = 0; dx < p; dx++) {
              const i = fb + ((py * p + dy) * w + (px * p + dx)) * C + ch;
              if (a[i] > best) {
                best = a[i];
                bi = i;
              }
            }
          }
          out[j] = best;
          arg[j] = bi;
        }
      }
    }
  }
}

/**
 * The same network as a tfjs-layers model (Conv2D 'same' + ReLU, MaxPooling2D, Flatten; input NHWC [h, w, P]) holding
 * the current weights — to compose the front end with other tfjs layers, export it, or cross-check it.
 * Frames must be transposed from the preprocessing's channel-major layout to NHWC before `predict`.
 */
export async function toTfjsLayers(front: CnnFront): Promise<tflTypes.Sequential> {
  const { tf, tfl } = await loadTfjs();
  const c = front.config;
  const net = tfl.sequential();
  c.channels.forEach((filters, i) => {
    net.add(
      tfl.layers.conv2d({
        filters,
        kernelSize: c.kernelSize,
        padding: 'same',
        activation: 'relu',
        dataFormat: 'channelsLast',
        ...(i === 0 ? { inputShape: [c.input.height, c.input.width, c.input.channels] } : {}),
      }),
    );
    if (c.pool > 1) net.add(tfl.layers.maxPooling2d({ poolSize: c.pool, strides: c.pool }));
  });
  net.add(tfl.layers.flatten());
  const shapes = cnnParamSpecs(c).map((sp) => sp.shape);
  net.setWeights(front.values.map((v, i) => tf.tensor(v, shapes[i])));
  return net;
}
