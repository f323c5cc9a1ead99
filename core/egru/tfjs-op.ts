/**
 * The EGRU layer as a TensorFlow.js op with a registered gradient, so models compose it with tfjs layers and
 * optimisers without re-implementing anything: forward runs the selected EgruKernel on the tensors' data
 * (dataSync), the gradient runs that kernel's backward (spec §4.2). DropConnect composes outside the op
 * (e.g. `tf.dropout` on the recurrent kernel variable before calling it); zoneout is an op option.
 *
 * `initTf()` picks the fastest backend available: @tensorflow/tfjs-node (optional, loaded dynamically),
 * then wasm (binaries from node_modules), then the pure-JS cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle registers no gradients; tfjs-layers' bundle registers them all (as the `tfjs` umbrella does).
import '@tensorflow/tfjs-layers';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { EgruForwardOptions, EgruKernel, EgruLayerParams } from './types.ts';
import { getEgruKernel } from './kernels.ts';

export { tf };

let tfInit: Promise<{ backend: string; reason: string }> | null = null;

/**
 * Initialises TensorFlow.js once and reports the active backend. Order: tfjs-node → wasm → cpu
 * (`EGRU_TF_BACKEND=cpu|wasm|tensorflow` forces one). Safe to call repeatedly.
 */
export function initTf(): Promise<{ backend: string; reason: string }> {
  tfInit ??= chooseBackend();
  return tfInit;
}

async function chooseBackend(): Promise<{ backend: string; reason: string }> {
  const forced = process.env.EGRU_TF_BACKEND;
  const notes: string[] = [];
  if (!forced || forced === 'tensorflow') {
    try {
      const name = '@tensorflow/tfjs-node'; // optional dependency: a variable keeps bundlers/typecheck from requiring it
      await import(name);
      if (await tf.setBackend('tensorflow')) return { backend: 'tensorflow', reason: '@tensorflow/tfjs-node loaded' };
      notes.push('tfjs-node loaded but its backend did not initialise');
    } catch (e) {
      notes.push(`tfjs-node unavailable (${(e as Error).message.split('\n')[0]})`);
    }
  }
  if (!forced || forced === 'wasm') {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const require = createRequire(import.meta.url);
      const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
      wasm.setWasmPaths(path.join(dir, 'dist') + path.sep);
      if (await tf.setBackend('wasm')) return { backend: 'wasm', reason: `${notes.join('; ')}; using wasm` };
      notes.push('wasm backend did not initialise');
    } catch (e) {
      notes.push(`wasm unavailable (${(e as Error).message.split('\n')[0]})`);
    }
  }
  await tf.setBackend('cpu');
  return { backend: 'cpu', reason: `${notes.join('; ')}; using the JS cpu backend` };
}

/** The op's inputs as tensors (float32). */
export interface EgruTensors {
  /** [T, N, C] time-major input. */
  x: tf.Tensor;
  kernel: tf.Tensor; // [C, 3H]
  recurrentKernel: tf.Tensor; // [H, 3H]
  bias: tf.Tensor; // [3H]
  recurrentBias: tf.Tensor; // [3H]
  theta: tf.Tensor; // [H]
  /** Optional initial output y_0 [N, H] (gets a gradient). */
  y0?: tf.Tensor;
}

export interface EgruOpConfig {
  gamma: number;
  eps: number;
  /** Kernel to run; default `getEgruKernel()` (native sparse if built, else the reference). */
  kernel?: EgruKernel<Float32Array>;
  /** Zoneout p; with `training`, `zoneoutMask` [T,N,H] is required (else eval-mode mixing). */
  zoneout?: number;
  zoneoutMask?: Uint8Array;
  training?: boolean;
  /** Called with each forward result's MAC counters (e.g. EgruMetrics.recordForward). */
  onForward?: (r: { macs: import('./types.ts').EgruMacs }) => void;
}

export interface EgruOpOutputs {
  y: tf.Tensor3D;
  c: tf.Tensor3D;
  o: tf.Tensor3D;
  tr: tf.Tensor3D;
}

function f32(t: tf.Tensor): Float32Array {
  const d = t.dataSync();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/**
 * Applies the EGRU layer. Returns y, c, o, tr [T, N, H]; gradients reach x, all parameters and y0 via the
 * kernel's backward (surrogate gradient, spec §3–§4).
 */
export function egruOp(inputs: EgruTensors, config: EgruOpConfig): EgruOpOutputs {
  const [T, N, C] = inputs.x.shape;
  if (inputs.x.rank !== 3) throw new RangeError(`egruOp: x must be [T, N, C], got [${inputs.x.shape.join(', ')}]`);
  const H = inputs.theta.shape[0];
  const kernel = config.kernel ?? getEgruKernel();
  const hasY0 = inputs.y0 !== undefined;
  const list = [inputs.x, inputs.kernel, inputs.recurrentKernel, inputs.bias, inputs.recurrentBias, inputs.theta];
  if (hasY0) list.push(inputs.y0!);

  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const ts = args.slice(0, list.length) as tf.Tensor[];
    const x = f32(ts[0]);
    const p: EgruLayerParams<Float32Array> = {
      inputSize: C,
      hiddenSize: H,
      kernel: f32(ts[1]),
      recurrentKernel: f32(ts[2]),
      bias: f32(ts[3]),
      recurrentBias: f32(ts[4]),
      theta: f32(ts[5]),
      gamma: config.gamma,
      eps: config.eps,
    };
    const opts: EgruForwardOptions<Float32Array> = {
      training: config.training ?? false,
      keepCache: true,
      zoneout: config.zoneout,
      zoneoutMask: config.zoneoutMask,
      y0: hasY0 ? f32(ts[6]) : undefined,
    };
    const fwd = kernel.forward(p, x, T, N, opts);
    config.onForward?.(fwd);
    const TNH = T * N * H;
    // One stacked [4, T, N, H] value (customGrad returns a single tensor); split below.
    const packed = new Float32Array(4 * TNH);
    packed.set(fwd.y, 0);
    packed.set(fwd.c, TNH);
    packed.set(fwd.o, 2 * TNH);
    packed.set(fwd.tr, 3 * TNH);
    const value = tf.tensor4d(packed, [4, T, N, H]);
    const gradFunc = (dy: tf.Tensor) => {
      const d = f32(dy);
      const g = kernel.backward(
        p,
        x,
        fwd,
        { dy: d.subarray(0, TNH), dc: d.subarray(TNH, 2 * TNH), do: d.subarray(2 * TNH, 3 * TNH), dtr: d.subarray(3 * TNH) },
        opts,
      );
      const out = [
        tf.tensor(g.dX, [T, N, C]),
        tf.tensor(g.dKernel, [C, 3 * H]),
        tf.tensor(g.dRecurrentKernel, [H, 3 * H]),
        tf.tensor(g.dBias, [3 * H]),
        tf.tensor(g.dRecurrentBias, [3 * H]),
        tf.tensor(g.dTheta, [H]),
      ];
      if (hasY0) out.push(tf.tensor(g.dY0, [N, H]));
      return out;
    };
    return { value, gradFunc };
  });
  const packed = op(...list);
  const [y, c, o, tr] = tf.unstack(packed) as tf.Tensor3D[];
  return { y, c, o, tr };
}

/** Trainable tfjs variables holding an EGRU layer's parameters (θ can be frozen, as the LM recipe does). */
export interface EgruVariables {
  kernel: tf.Variable;
  recurrentKernel: tf.Variable;
  bias: tf.Variable;
  recurrentBias: tf.Variable;
  theta: tf.Variable;
  gamma: number;
  eps: number;
}

export function egruVariables(p: EgruLayerParams<Float32Array | Float64Array>, o: { name?: string; trainableTheta?: boolean } = {}): EgruVariables {
  const C = p.inputSize;
  const H = p.hiddenSize;
  const name = o.name ?? 'egru';
  const v = (a: ArrayLike<number>, shape: number[], key: string, trainable = true) =>
    tf.variable(tf.tensor(Float32Array.from(a), shape), trainable, `${name}/${key}_${Math.random().toString(36).slice(2, 8)}`);
  return {
    kernel: v(p.kernel, [C, 3 * H], 'kernel'),
    recurrentKernel: v(p.recurrentKernel, [H, 3 * H], 'recurrent_kernel'),
    bias: v(p.bias, [3 * H], 'bias'),
    recurrentBias: v(p.recurrentBias, [3 * H], 'recurrent_bias'),
    theta: v(p.theta, [H], 'thr', o.trainableTheta ?? true),
    gamma: p.gamma,
    eps: p.eps,
  };
}

/** Clamps the θ variable into [0, 1] (call after each optimiser step, EvNN v0.2.0 semantics). */
export function clampThetaVariable(v: EgruVariables): void {
  tf.tidy(() => v.theta.assign(tf.clipByValue(v.theta, 0, 1)));
}

/** Copies the variables back into plain float32 parameters (e.g. for export with toEvnnStateDict). */
export function paramsFromVariables(v: EgruVariables): EgruLayerParams<Float32Array> {
  const [C, G3] = v.kernel.shape;
  return {
    inputSize: C,
    hiddenSize: G3 / 3,
    kernel: Float32Array.from(v.kernel.dataSync()),
    recurrentKernel: Float32Array.from(v.recurrentKernel.dataSync()),
    bias: Float32Array.from(v.bias.dataSync()),
    recurrentBias: Float32Array.from(v.recurrentBias.dataSync()),
    theta: Float32Array.from(v.theta.dataSync()),
    gamma: v.gamma,
    eps: v.eps,
  };
}
