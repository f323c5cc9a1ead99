/**
 * The classifier head: pooling of the top EGRU layer's trace (or y) over time, a Linear(H→K) readout and softmax
 * cross-entropy, with hand-written gradients. Because the readout is linear, "logits at every step, averaged
 * over steps" (spec §8.1) equals "readout of the time-averaged trace", which is what is computed: K·H MACs per
 * sample instead of per step.
 */
import type { Float } from '../egru/types.ts';
import { nativeModelOpsFor } from '../egru/native.ts';

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

function checkLengths(lengths: Int32Array, T: number): void {
  for (let n = 0; n < lengths.length; n++) {
    const L = lengths[n];
    if (L < 1 || L > T) throw new RangeError(`sample ${n}: length ${L} outside 1..${T}`);
  }
}

const MODE_CODE: Record<Pooling, number> = { mean: 0, ramp: 1, last: 2 };

// Time reductions over [T, N, H] tensors (25 MB each at S-MNIST size, 784 × 32 × 256): the dispatchers below run
// the addon's copy (core/egru/native/egru_model_ops.cc) on float32 data, which is faster than these loops (measured at
// that size, quiet box: pooling 20.9 → 6.5 ms, its adjoint 22.4 → 3.6 ms, the valid-step sum 7.1 → 4.5 ms); the
// loops are the readable reference and the fallback. Both compute in double in the same order: equal to the bit.
// Memory order throughout: steps outer, samples inner (each out[n, j] still sums its steps in increasing t).

/** m[n, :] = Σ_t w_t·src[t, n, :] over t < len[n] (w per `Pooling`) or src[len[n] − 1, n, :] ('last'). src is [T, N, H]. */
export function poolTime<A extends Float>(src: A, T: number, N: number, H: number, lengths: Int32Array, mode: Pooling, out: A): A {
  const nat = nativeModelOpsFor(src, out);
  if (!nat) return poolTimeTs(src, T, N, H, lengths, mode, out);
  checkLengths(lengths, T);
  nat.poolTime(src as Float32Array, T, N, H, lengths, MODE_CODE[mode], out as Float32Array);
  return out;
}

/** Adjoint of poolTime: scatters dm [N, H] back onto dSrc [T, N, H] (overwrites every element of dSrc). */
export function poolTimeBackward<A extends Float>(dm: A, T: number, N: number, H: number, lengths: Int32Array, mode: Pooling, dSrc: A): A {
  const nat = nativeModelOpsFor(dm, dSrc);
  if (!nat) return poolTimeBackwardTs(dm, T, N, H, lengths, mode, dSrc);
  checkLengths(lengths, T);
  nat.poolTimeBackward(dm as Float32Array, T, N, H, lengths, MODE_CODE[mode], dSrc as Float32Array);
  return dSrc;
}

/** Sum of a [T, N, H] tensor over each sample's valid steps (t < len[n]), and the number of entries summed. */
export function sumValid(a: Float, T: number, N: number, H: number, lengths: Int32Array): { sum: number; count: number } {
  const nat = nativeModelOpsFor(a);
  if (!nat) return sumValidTs(a, T, N, H, lengths);
  checkLengths(lengths, T);
  return { sum: nat.sumValid(a as Float32Array, T, N, H, lengths), count: validCount(lengths, H) };
}

function validCount(lengths: Int32Array, H: number): number {
  let c = 0;
  for (let n = 0; n < lengths.length; n++) c += lengths[n] * H;
  return c;
}

/** TypeScript reference of `sumValid`: four partial sums (j mod 4) break the add-latency chain. */
export function sumValidTs(a: Float, T: number, N: number, H: number, lengths: Int32Array): { sum: number; count: number } {
  checkLengths(lengths, T);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      if (t >= lengths[n]) continue;
      const b = (t * N + n) * H;
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        s0 += a[b + j];
        s1 += a[b + j + 1];
        s2 += a[b + j + 2];
        s3 += a[b + j + 3];
      }
      for (; j < H; j++) s0 += a[b + j];
    }
  }
  return { sum: s0 + s1 + s2 + s3, count: validCount(lengths, H) };
}

/** TypeScript reference of `poolTime`. */
export function poolTimeTs<A extends Float>(src: A, T: number, N: number, H: number, lengths: Int32Array, mode: Pooling, out: A): A {
  checkLengths(lengths, T);
  out.fill(0);
  if (mode === 'last') {
    for (let n = 0; n < N; n++) {
      const s = ((lengths[n] - 1) * N + n) * H;
      for (let j = 0; j < H; j++) out[n * H + j] = src[s + j];
    }
    return out;
  }
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      const L = lengths[n];
      if (t >= L) continue;
      const s = (t * N + n) * H;
      const o = n * H;
      if (mode === 'mean') {
        for (let j = 0; j < H; j++) out[o + j] += src[s + j];
      } else {
        const w = stepWeight(mode, t, L);
        for (let j = 0; j < H; j++) out[o + j] += w * src[s + j];
      }
    }
  }
  if (mode === 'mean') {
    for (let n = 0; n < N; n++) {
      const inv = 1 / lengths[n];
      for (let j = 0; j < H; j++) out[n * H + j] *= inv;
    }
  }
  return out;
}

/** TypeScript reference of `poolTimeBackward`. */
export function poolTimeBackwardTs<A extends Float>(dm: A, T: number, N: number, H: number, lengths: Int32Array, mode: Pooling, dSrc: A): A {
  checkLengths(lengths, T);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      const L = lengths[n];
      const s = (t * N + n) * H;
      const o = n * H;
      if (mode === 'last' ? t !== L - 1 : t >= L) {
        dSrc.fill(0, s, s + H);
        continue;
      }
      const w = mode === 'last' ? 1 : stepWeight(mode, t, L);
      for (let j = 0; j < H; j++) dSrc[s + j] = dm[o + j] * w;
    }
  }
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
