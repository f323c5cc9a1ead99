/**
 * `egru layer-run`: runs one EGRU layer from an EvNN state_dict on an input sequence, all through safetensors,
 * so results can be compared 1:1 with EvNN/PyTorch (forward per spec §2 in eval mode, backward per §4.2).
 */
import type { Command } from '../command.ts';
import { parseArgs, UsageError } from '../command.ts';
import type { SafeTensor, WritableTensor } from '../../io/safetensors.ts';
import { readSafetensorsFile, SafetensorsError, tensorToFloat32, writeSafetensorsFile } from '../../io/safetensors.ts';
import { fromEvnnStateDict } from '../../egru/params.ts';
import type { KernelPreference } from '../../egru/kernels.ts';
import { selectEgruKernel } from '../../egru/kernels.ts';
import { summarizeBackward, summarizeForward } from '../../egru/metrics.ts';
import type { EgruUpstream } from '../../egru/types.ts';

const USAGE = `usage: egru layer-run --weights W.safetensors --input X.safetensors --out OUT.safetensors
                      [--grads G.safetensors] [--kernel native|native-dense|reference|reference-dense] [--prefix P]

Runs one EGRU layer (eval mode: no zoneout, no DropConnect; c_0 = 0) and writes float32 outputs.
  W     an EvNN EGRU state_dict: kernel [C,3H], recurrent_kernel [H,3H], bias, recurrent_bias [3H],
        thr (v0.2.0, clamped to [0,1]) or thr_reparam (v0.1.0, θ = σ(·)) [H],
        dampening_factor, pseudo_derivative_support [1] (defaults 0.7 / 1.0). --prefix selects e.g. 'layers.0.'.
  X     x [T,N,C] (time-major) and optional y0 [N,H] (initial output).
  G     upstream gradients dy, dc, do, dtr [T,N,H] (any subset; absent = 0). Backward per spec §4.2.
  OUT   y, c, o, tr [T,N,H]; with --grads also d_kernel, d_recurrent_kernel, d_bias, d_recurrent_bias,
        d_theta (w.r.t. the threshold value θ), d_x, and d_y0 when y0 was given.
Prints one summary line (kernel, activity, MAC reduction) on stderr.`;

function need(file: string, tensors: Map<string, SafeTensor>, key: string): SafeTensor {
  const t = tensors.get(key);
  if (!t) throw new SafetensorsError(key, 'missing', file);
  return t;
}

function expectShape(file: string, key: string, t: SafeTensor, shape: number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new SafetensorsError(key, `shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, file);
  }
}

export const layerRunCommand: Command = {
  name: 'layer-run',
  summary: 'run one EGRU layer (EvNN weights) on safetensors input; optional backward',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { flags, positional } = parseArgs(args);
    if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}'`);
    const str = (k: string): string | undefined => {
      const v = flags[k];
      if (v === true) throw new UsageError(`--${k} needs a value`);
      return v;
    };
    const weights = str('weights');
    const input = str('input');
    const out = str('out');
    const gradsFile = str('grads');
    const kernelPref = str('kernel');
    const prefix = str('prefix') ?? '';
    for (const k of Object.keys(flags)) {
      if (!['weights', 'input', 'out', 'grads', 'kernel', 'prefix'].includes(k)) throw new UsageError(`unknown option --${k}`);
    }
    if (!weights || !input || !out) throw new UsageError('--weights, --input and --out are required');
    const prefs = ['native', 'native-dense', 'reference', 'reference-dense'];
    if (kernelPref !== undefined && !prefs.includes(kernelPref)) throw new UsageError(`--kernel must be one of ${prefs.join(', ')}`);

    const W = await readSafetensorsFile(weights);
    const p = fromEvnnStateDict(W.tensors, { prefix });
    const C = p.inputSize;
    const H = p.hiddenSize;

    const X = await readSafetensorsFile(input);
    const xT = need(input, X.tensors, 'x');
    if (xT.shape.length !== 3 || xT.shape[2] !== C) {
      throw new SafetensorsError('x', `shape [${xT.shape.join(', ')}], expected [T, N, ${C}]`, input);
    }
    const [T, N] = xT.shape;
    const x = tensorToFloat32(xT, 'x');
    let y0: Float32Array | undefined;
    const y0T = X.tensors.get('y0');
    if (y0T) {
      expectShape(input, 'y0', y0T, [N, H]);
      y0 = tensorToFloat32(y0T, 'y0');
    }

    let up: EgruUpstream<Float32Array> | null = null;
    if (gradsFile) {
      const G = await readSafetensorsFile(gradsFile);
      up = {};
      for (const k of ['dy', 'dc', 'do', 'dtr'] as const) {
        const t = G.tensors.get(k);
        if (!t) continue;
        expectShape(gradsFile, k, t, [T, N, H]);
        up[k] = tensorToFloat32(t, k);
      }
    }

    const { kernel, reason } = selectEgruKernel(kernelPref as KernelPreference | undefined);
    const opts = { training: false, keepCache: up !== null, y0 };
    const fwd = kernel.forward(p, x, T, N, opts);
    const f3 = [T, N, H];
    const result: Record<string, WritableTensor> = {
      y: { shape: f3, data: fwd.y },
      c: { shape: f3, data: fwd.c },
      o: { shape: f3, data: fwd.o },
      tr: { shape: f3, data: fwd.tr },
    };
    const fs = summarizeForward(fwd.macs);
    let line = `layer-run: kernel=${kernel.name} (${reason}) T=${T} N=${N} C=${C} H=${H} activity=${(100 * fs.activity).toFixed(2)}% forward MACs ${fs.executed}/${fs.dense} (${fs.reduction.toFixed(2)}x fewer)`;
    if (up) {
      const g = kernel.backward(p, x, fwd, up, opts);
      Object.assign(result, {
        d_kernel: { shape: [C, 3 * H], data: g.dKernel },
        d_recurrent_kernel: { shape: [H, 3 * H], data: g.dRecurrentKernel },
        d_bias: { shape: [3 * H], data: g.dBias },
        d_recurrent_bias: { shape: [3 * H], data: g.dRecurrentBias },
        d_theta: { shape: [H], data: g.dTheta },
        d_x: { shape: [T, N, C], data: g.dX },
      });
      if (y0) result.d_y0 = { shape: [N, H], data: g.dY0 };
      const bs = summarizeBackward(g.macs);
      line += `; backward sparsity=${(100 * bs.backwardSparsity).toFixed(2)}% backward MACs ${bs.executed}/${bs.dense} (${bs.reduction.toFixed(2)}x fewer)`;
    }
    await writeSafetensorsFile(out, result, { producer: 'egru-studio layer-run', kernel: kernel.name });
    process.stderr.write(line + '\n');
    return 0;
  },
};
