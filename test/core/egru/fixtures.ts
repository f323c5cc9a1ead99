/**
 * Shared test fixtures for the EGRU engine: random float64 layers and an independent, plainly written
 * *surrogate-linearised* forward (spec §4.4) used for finite-difference gradient checks.
 */
import type { EgruLayerParams } from '../../../core/egru/types.ts';
import { Rng } from '../../../core/util/rng.ts';

export function randomLayer64(C: number, H: number, seed: number, wStd = 0.8): EgruLayerParams<Float64Array> {
  const rng = new Rng(seed);
  const fill = (n: number, f: () => number) => Float64Array.from({ length: n }, f);
  return {
    inputSize: C,
    hiddenSize: H,
    kernel: fill(C * 3 * H, () => rng.normal(0, wStd)),
    recurrentKernel: fill(H * 3 * H, () => rng.normal(0, wStd)),
    bias: fill(3 * H, () => rng.normal(0, 0.3)),
    recurrentBias: fill(3 * H, () => rng.normal(0, 0.3)),
    theta: fill(H, () => rng.uniform(0.05, 0.4)),
    gamma: 0.7,
    eps: 1.0,
  };
}

export function randomArray(n: number, seed: number, std = 1, zeroFraction = 0): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => (rng.next() < zeroFraction ? 0 : rng.normal(0, std)));
}

export function randomMask(n: number, seed: number, keep: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => (rng.next() < keep ? 1 : 0));
}

/** S(s) = γ·(a − ε·a|a|/2), a = clip(s, −1/ε, 1/ε): the antiderivative of the triangle (spec §4.4). */
function S(s: number, gamma: number, eps: number): number {
  const lim = 1 / eps;
  const a = Math.max(-lim, Math.min(lim, s));
  return gamma * (a - (eps * a * Math.abs(a)) / 2);
}

export interface PlainOut {
  y: number[];
  c: number[];
  o: number[];
  tr: number[];
  s: number[];
}

/**
 * Straightforward EGRU forward written from spec §2 with nested loops and no sparsity. When `sStar` is given,
 * the Heaviside is replaced by H(s*) + S(s) − S(s*) (same value at the base point, slope = the triangle).
 * Zoneout: `mask` (training) or eval mixing with `p` when `mask` is absent.
 */
export function plainForward(
  p: EgruLayerParams<Float64Array>,
  x: ArrayLike<number>,
  T: number,
  N: number,
  y0: ArrayLike<number> | null,
  sStar: number[] | null,
  zoneout: { p: number; mask?: Uint8Array } = { p: 0 },
): PlainOut {
  const C = p.inputSize;
  const H = p.hiddenSize;
  const out: PlainOut = { y: [], c: [], o: [], tr: [], s: [] };
  for (let n = 0; n < N; n++) {
    let c = new Array<number>(H).fill(0);
    let y = Array.from({ length: H }, (_, j) => (y0 ? y0[n * H + j] : 0));
    const tr = new Array<number>(H).fill(0);
    for (let t = 0; t < T; t++) {
      const nc: number[] = [];
      const ny: number[] = [];
      for (let j = 0; j < H; j++) {
        const gate = (k: number) => {
          let aa = p.bias[k * H + j];
          for (let i = 0; i < C; i++) aa += x[(t * N + n) * C + i] * p.kernel[i * 3 * H + k * H + j];
          let qq = p.recurrentBias[k * H + j];
          for (let i = 0; i < H; i++) qq += y[i] * p.recurrentKernel[i * 3 * H + k * H + j];
          return [aa, qq];
        };
        const [aU, qU] = gate(0);
        const [aR, qR] = gate(1);
        const [aG, qG] = gate(2);
        const u = 1 / (1 + Math.exp(-(aU + qU)));
        const r = 1 / (1 + Math.exp(-(aR + qR)));
        const g = Math.tanh(aG + r * qG);
        let ch = u * c[j] + (1 - u) * g;
        const idx = (t * N + n) * H + j;
        if (zoneout.p > 0) {
          ch = zoneout.mask ? zoneout.mask[idx] * ch + (1 - zoneout.mask[idx]) * c[j] : zoneout.p * c[j] + (1 - zoneout.p) * ch;
        }
        const s = ch - p.theta[j];
        let o: number;
        if (sStar) {
          const ss = sStar[idx];
          o = (ss > 0 ? 1 : 0) + S(s, p.gamma, p.eps) - S(ss, p.gamma, p.eps);
        } else o = s > 0 ? 1 : 0;
        ny.push(o * ch);
        nc.push(ch - o * p.theta[j]);
        tr[j] = 0.9 * tr[j] + 0.1 * o * ch;
        out.y[idx] = o * ch;
        out.c[idx] = ch - o * p.theta[j];
        out.o[idx] = o;
        out.tr[idx] = tr[j];
        out.s[idx] = s;
      }
      c = nc;
      y = ny;
    }
  }
  return out;
}
