/**
 * The classifier head: pooling of the top EGRU layer's trace (or y) over time, a Linear(H→K) readout and softmax
 * cross-entropy, with hand-written gradients. Because the readout is linear, "logits at every step, averaged
 * over steps" (spec §8.1) equals "readout of the time-averaged trace", which is what is computed: K·H MACs per
 * sample instead of per step.
 */
import type { Float } from '../egru/types.ts';

/**
 * How the per-step values are reduced over time before the readout:
 * - 'mean': the plain average over valid steps (spec §8.1, "logits averaged over time").
 * - 'last': the last valid step (the paper's S-MNIST readout).
 * - 'ramp': a weighted average with weights ∝ t + 1 (step t of L: 2(t+1)/(L(L+1))). For tasks whose evidence
 *   only completes at the end (S-MNIST: the digit is known after its last row), a plain mean gives the final steps
 *   1/L of the say each; 'last' gives early steps no direct gradient at all, so learning starts very slowly.
 */
export type Pooling = 'mean' | 'last' | 'ramp';

/** Weight of step t in a sample of L valid steps (mean / ramp; 'last' is handled separately). */
function stepWeight(mode: Pooling, t: number, L: number): number {
  return mode === 'ramp' ? (2 * (t + 1)) / (L * (L + 1)) : 1 / L;
}

/** m[n, :] = Σ_t w_t·src[t, n, :] over t < len[n] (w per `Pooling`) or src[len[n] − 1, n, :] ('last'). src is [T, N, H]. */
export function poolTime<A extends Float>(src: A, T: number, N: number, H: number, lengths: Int32Array, mode: Pooling, out: A): A {
  out.fill(0);
  for (let n = 0; n < N; n++) {
    const L = lengths[n];
    if (L < 1 || L > T) throw new RangeError(`sample ${n}: length ${L} outside 1..${T}`);
    const o = n * H;
    if (mode === 'last') {
      const s = ((L - 1) * N + n) * H;
      for (let j = 0; j < H; j++) out[o + j] = src[s + j];
    } else if (mode === 'mean') {
      for (let t = 0; t < L; t++) {
        const s = (t * N + n) * H;
        for (let j = 0; j < H; j++) out[o + j] += src[s + j];
      }
      const inv = 1 / L;
      for (let j = 0; j < H; j++) out[o + j] *= inv;
    } else {
      for (let t = 0; t < L; t++) {
        const s = (t * N + n) * H;
        const w = stepWeight(mode, t, L);
        for (let j = 0; j < H; j++) out[o + j] += w * src[s + j];
      }
    }
  }
  return out;
}

/** Adjoint of poolTime: scatters dm [N, H] back onto dSrc [T, N, H] (overwrites dSrc). */
export function poolTimeBackward<A extends Float>(dm: A, T: number, N: number, H: number, lengths: Int32Array, mode: Pooling, dSrc: A): A {
  dSrc.fill(0);
  for (let n = 0; n < N; n++) {
    const L = lengths[n];
    const o = n * H;
    if (mode === 'last') {
      const s = ((L - 1) * N + n) * H;
      for (let j = 0; j < H; j++) dSrc[s + j] = dm[o + j];
    } else {
      for (let t = 0; t < L; t++) {
        const s = (t * N + n) * H;
        const w = stepWeight(mode, t, L);
        for (let j = 0; j < H; j++) dSrc[s + j] = dm[o + j] * w;
      }
    }
  }
  void T;
  return dSrc;
}

/** logits [N, K] = m [N, H] · Wᵀ + b, with W [K, H] (PyTorch Linear layout, EvNN `fc.weight`). */
export function linearForward<A extends Float>(m: A, N: number, H: number, W: A, b: A, K: number, out: A): A {
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let acc = b[k];
      const wr = k * H;
      const mr = n * H;
      for (let j = 0; j < H; j++) acc += m[mr + j] * W[wr + j];
      out[n * K + k] = acc;
    }
  }
  return out;
}

/**
 * Mean softmax cross-entropy over the batch. Writes dLogits = (softmax − onehot)/N and returns the loss and the
 * number of correct argmax predictions.
 */
export function softmaxCrossEntropy<A extends Float>(logits: A, N: number, K: number, labels: Int32Array, dLogits: A | null): { loss: number; correct: number } {
  let loss = 0;
  let correct = 0;
  for (let n = 0; n < N; n++) {
    const r = n * K;
    let mx = -Infinity;
    let arg = 0;
    for (let k = 0; k < K; k++) {
      if (logits[r + k] > mx) {
        mx = logits[r + k];
        arg = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(logits[r + k] - mx);
    const lse = mx + Math.log(sum);
    const y = labels[n];
    loss += lse - logits[r + y];
    if (arg === y) correct++;
    if (dLogits) {
      for (let k = 0; k < K; k++) dLogits[r + k] = (Math.exp(logits[r + k] - lse) - (k === y ? 1 : 0)) / N;
    }
  }
  return { loss: loss / N, correct };
}

/** Backward of linearForward: dW += dLᵀ m, db += Σ_n dL, dm = dL W. */
export function linearBackward<A extends Float>(dL: A, m: A, N: number, H: number, W: A, K: number, dW: A, db: A, dm: A): void {
  dm.fill(0);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const g = dL[n * K + k];
      if (g === 0) continue;
      db[k] += g;
      const wr = k * H;
      const mr = n * H;
      for (let j = 0; j < H; j++) {
        dW[wr + j] += g * m[mr + j];
        dm[mr + j] += g * W[wr + j];
      }
    }
  }
}
