/**
 * The paper-like front end: a small CNN built from TensorFlow.js layers that turns each time step's event frame
 * into a feature vector for the first EGRU layer (the EvNN DVS model also puts a CNN before its EGRU).
 *
 *   frame [P, h, w] (the preprocessing's channel-major 'pyx' step) → for each block: Conv2D(k×k, 'same') → ReLU →
 *   MaxPool(pool) → flatten (NHWC order) → D = h'·w'·channels features, ReLU'd and so mostly zero → EGRU.
 *
 * All T·N frames of a batch go through the network as ONE tfjs batch (never per step). The weights live in plain
 * Float32Arrays owned by the GestureModel (the optimiser, bundles and checkpoints treat them like every other
 * tensor); they are copied into the tfjs variables before each call, which costs nothing next to the convolutions
 * at these sizes. Backward asks tfjs for the gradient of Σ(out ⊙ dOut) with respect to the layer variables: the
 * vector-Jacobian product with the EGRU's input gradient, by tfjs' own registered conv/pool/relu gradients.
 *
 * Float32 only (tfjs computes in float32). `await prepareCnnFront()` loads tfjs and picks its backend first.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tflTypes from '@tensorflow/tfjs-layers';
import type { Rng } from '../util/rng.ts';

/** tfjs is loaded on demand (≈ 1 s of imports): models without a CNN front, and the CLI, never pay for it. */
let runtime: { tf: typeof tfc; tfl: typeof tflTypes; backend: string } | null = null;

/**
 * Loads TensorFlow.js and initialises its fastest backend (tfjs-node → wasm → cpu, see `initTf`). Must be awaited
 * once before a CNN front end runs; training, evaluation and bundle loading do it when the model has one.
 */
export async function prepareCnnFront(): Promise<string> {
  if (!runtime) {
    const [op, tfl] = await Promise.all([import('../egru/tfjs-op.ts'), import('@tensorflow/tfjs-layers')]);
    let { backend } = await op.initTf();
    // Training needs the convolution's gradient kernels; tfjs' wasm backend (4.22) has Conv2D but not
    // Conv2DBackpropFilter / MaxPoolGrad, so fall back to the JS cpu backend, which has them all.
    const missing = CNN_KERNELS.filter((k) => !op.tf.getKernel(k, backend));
    if (missing.length > 0) {
      // Production mode only silences tfjs' "install tfjs-node" console banner (we report the backend ourselves).
      op.tf.enableProdMode();
      await op.tf.setBackend('cpu');
      backend = 'cpu';
    }
    runtime = { tf: op.tf, tfl, backend };
  }
  return runtime.backend;
}

/** Forward and gradient kernels the CNN front needs from a tfjs backend. */
const CNN_KERNELS = ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPool', 'MaxPoolGrad', 'Relu', 'Transpose'];

function rt(): { tf: typeof tfc; tfl: typeof tflTypes } {
  if (!runtime) throw new Error('CNN front end used before `await prepareCnnFront()` (TensorFlow.js not loaded)');
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

/** The CNN over tfjs layers; weights are read from `values` (owned by the model) at every call. */
export class CnnFront {
  readonly outputSize: number;
  readonly macsPerFrame: number;
  private net: tflTypes.Sequential | null = null;
  private vars: tfc.Variable[] = [];
  private readonly shapes: number[][];

  constructor(
    readonly config: FrontCnnConfig,
    readonly values: Float32Array[],
  ) {
    checkFrontCnnConfig(config);
    const specs = cnnParamSpecs(config);
    if (values.length !== specs.length) throw new RangeError(`CNN front: ${values.length} tensors, expected ${specs.length}`);
    specs.forEach((s, i) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (values[i].length !== n) throw new RangeError(`${s.name}: ${values[i].length} values, expected ${n} ([${s.shape.join(', ')}])`);
    });
    this.shapes = specs.map((s) => s.shape);
    this.outputSize = cnnShape(config).outputSize;
    this.macsPerFrame = cnnMacsPerFrame(config);
  }

  /** Frames per step of the input: P·h·w. */
  get inputSize(): number {
    const i = this.config.input;
    return i.channels * i.height * i.width;
  }

  /** Built on first use, so constructing a model (e.g. to read a bundle) never needs a tfjs backend. */
  private build(): tflTypes.Sequential {
    if (this.net) return this.net;
    const { tfl } = rt();
    const c = this.config;
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
    this.net = net;
    // LayerVariable.read() hands out the underlying tf.Variable (what variableGrads differentiates against).
    this.vars = net.trainableWeights.map((w) => w.read() as tfc.Variable);
    if (this.vars.length !== this.shapes.length) throw new Error(`tfjs CNN has ${this.vars.length} variables, expected ${this.shapes.length}`);
    return net;
  }

  private sync(): void {
    const { tf } = rt();
    this.vars.forEach((v, i) => v.assign(tf.tensor(this.values[i], this.shapes[i])));
  }

  /** x [rows, P·h·w] channel-major frames → a tfjs NHWC batch [rows, h, w, P]. */
  private toNhwc(x: Float32Array, rows: number): tfc.Tensor4D {
    const { tf } = rt();
    const i = this.config.input;
    if (x.length !== rows * this.inputSize) throw new RangeError(`CNN front: input has ${x.length} values, expected rows·P·h·w = ${rows}·${this.inputSize}`);
    return tf.transpose(tf.tensor4d(x, [rows, i.channels, i.height, i.width]), [0, 2, 3, 1]);
  }

  /** Features [rows, D] for `rows` frames (rows = T·N). */
  forward(x: Float32Array, rows: number, out = new Float32Array(rows * this.outputSize)): Float32Array {
    const { tf } = rt();
    const net = this.build();
    this.sync();
    const y = tf.tidy(() => net.apply(this.toNhwc(x, rows), { training: true }) as tfc.Tensor);
    out.set(y.dataSync() as Float32Array);
    y.dispose();
    return out;
  }

  /** Adds d(Σ out ⊙ dOut)/dθ into `grads` (same order and sizes as `values`). */
  backward(x: Float32Array, rows: number, dOut: ArrayLike<number>, grads: Float32Array[]): void {
    const { tf } = rt();
    const net = this.build();
    this.sync();
    if (dOut.length !== rows * this.outputSize) throw new RangeError(`CNN front: upstream gradient has ${dOut.length} values, expected ${rows * this.outputSize}`);
    const byName = tf.tidy(() => {
      const xt = this.toNhwc(x, rows);
      const dy = tf.tensor2d(dOut instanceof Float32Array ? dOut : Float32Array.from(dOut), [rows, this.outputSize]);
      const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.mul(net.apply(xt, { training: true }) as tfc.Tensor, dy)) as tfc.Scalar, this.vars);
      value.dispose();
      return g;
    });
    this.vars.forEach((v, i) => {
      const g = byName[v.name];
      const d = g.dataSync();
      const dst = grads[i];
      for (let j = 0; j < dst.length; j++) dst[j] += d[j];
      g.dispose();
    });
  }

  /** Frees the tfjs variables (the Float32Array weights stay with the model). */
  dispose(): void {
    this.net?.dispose();
    this.net = null;
    this.vars = [];
  }
}
