import { describe, expect, it } from 'vitest';
import { nativeEgruUnavailableReason, nativeModelOps } from '../../../core/egru/native.ts';
import {
  poolTime,
  poolTimeBackward,
  poolTimeBackwardTs,
  poolTimeTs,
  sumValid,
  sumValidTs,
  type Pooling,
} from '../../../core/model/readout.ts';
import { Rng } from '../../../core/util/rng.ts';

const MODES: Pooling[] = ['mean', 'ramp', 'last'];

describe('time pooling (TypeScript reference)', () => {
  // src [T=3, N=2, H=2]: value = 10·t + n + 0.5·j; sample 0 has 3 valid steps, sample 1 has 2.
  const T = 3;
  const N = 2;
  const H = 2;
  const src = new Float64Array(T * N * H);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) for (let j = 0; j < H; j++) src[(t * N + n) * H + j] = 10 * t + n + 0.5 * j;
  const lengths = Int32Array.of(3, 2);

  it('mean, ramp and last reduce each sample over its own steps only', () => {
    const out = (mode: Pooling) => Array.from(poolTimeTs(src, T, N, H, lengths, mode, new Float64Array(N * H)));
    // mean: sample 0 (0+10+20)/3 = 10; sample 1 (1+11)/2 = 6.
    expect(out('mean')).toEqual([10, 10.5, 6, 6.5]);
    // ramp: weights 2(t+1)/(L(L+1)): L=3 → 1/6, 2/6, 3/6; L=2 → 1/3, 2/3.
    const r = out('ramp');
    expect(r[0]).toBeCloseTo((0 * 1 + 10 * 2 + 20 * 3) / 6, 12);
    expect(r[2]).toBeCloseTo((1 * 1 + 11 * 2) / 3, 12);
    // last: step L − 1 of each sample (the padded step 2 of sample 1 is never read).
    expect(out('last')).toEqual([20, 20.5, 11, 11.5]);
  });

  it('the backward is the adjoint: ⟨poolTime(x), g⟩ = ⟨x, poolTimeBackward(g)⟩, and padded steps get zero', () => {
    const g = Float64Array.of(0.3, -1.2, 2.5, 0.7);
    for (const mode of MODES) {
      const fwd = poolTimeTs(src, T, N, H, lengths, mode, new Float64Array(N * H));
      const back = poolTimeBackwardTs(g, T, N, H, lengths, mode, new Float64Array(T * N * H).fill(NaN));
      const lhs = fwd.reduce((s, v, i) => s + v * g[i], 0);
      const rhs = back.reduce((s, v, i) => s + v * src[i], 0);
      expect(rhs).toBeCloseTo(lhs, 10);
      expect(back[(2 * N + 1) * H]).toBe(0); // sample 1, step 2: padding
    }
  });

  it('sumValid counts only valid steps', () => {
    const s = sumValidTs(src, T, N, H, lengths);
    expect(s.count).toBe((3 + 2) * H);
    expect(s.sum).toBe(0 + 0.5 + 10 + 10.5 + 20 + 20.5 + 1 + 1.5 + 11 + 11.5);
  });

  it('a length outside 1..T is a RangeError naming the sample', () => {
    expect(() => poolTime(src, T, N, H, Int32Array.of(3, 4), 'mean', new Float64Array(N * H))).toThrow(/sample 1: length 4 outside 1\.\.3/);
    expect(() => sumValid(src, T, N, H, Int32Array.of(0, 2))).toThrow(/sample 0: length 0/);
  });
});

const reason = nativeEgruUnavailableReason();
if (reason) console.warn(`native readout tests skipped: ${reason}`);

describe.skipIf(reason !== null)('time pooling: native == TypeScript reference, to the bit', () => {
  const rng = new Rng(11);
  const cases = [
    { T: 40, N: 5, H: 7 }, // H not a multiple of the 4 partial sums
    { T: 97, N: 3, H: 256 },
  ];
  for (const { T, N, H } of cases) {
    const src = new Float32Array(T * N * H);
    for (let i = 0; i < src.length; i++) src[i] = rng.next() < 0.7 ? 0 : rng.normal(0, 1);
    const lengths = Int32Array.from({ length: N }, (_, n) => (n === 0 ? T : 1 + rng.int(T)));
    const dm = Float32Array.from({ length: N * H }, () => rng.normal(0, 1));

    it(`poolTime, poolTimeBackward and sumValid, T=${T} N=${N} H=${H}, unequal lengths`, () => {
      expect(nativeModelOps()).not.toBeNull();
      for (const mode of MODES) {
        const a = poolTime(src, T, N, H, lengths, mode, new Float32Array(N * H).fill(NaN));
        const b = poolTimeTs(src, T, N, H, lengths, mode, new Float32Array(N * H).fill(NaN));
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `poolTime ${mode}`).toBe(true);
        const da = poolTimeBackward(dm, T, N, H, lengths, mode, new Float32Array(T * N * H).fill(NaN));
        const db = poolTimeBackwardTs(dm, T, N, H, lengths, mode, new Float32Array(T * N * H).fill(NaN));
        expect(da.some(Number.isNaN), `every element written (${mode})`).toBe(false);
        expect(Buffer.from(da.buffer).equals(Buffer.from(db.buffer)), `poolTimeBackward ${mode}`).toBe(true);
      }
      expect(sumValid(src, T, N, H, lengths)).toEqual(sumValidTs(src, T, N, H, lengths));
    });
  }

  it('wrong shapes and types are RangeErrors that say what is wrong, never a crash', () => {
    const nat = nativeModelOps()!;
    const src = new Float32Array(2 * 3 * 4);
    const len = Int32Array.of(2, 2, 1);
    expect(() => nat.poolTime(src, 2, 3, 5, len, 0, new Float32Array(15))).toThrow(/tensor \[T,N,H\] has 24 values, expected 30/);
    expect(() => nat.poolTime(src, 2, 3, 4, len, 0, new Float32Array(11))).toThrow(/output must be a Float32Array of 12 values/);
    expect(() => nat.poolTime(src, 2, 3, 4, Int32Array.of(2, 3, 1), 1, new Float32Array(12))).toThrow(/sample 1: length 3 outside 1\.\.T/);
    expect(() => nat.poolTime(src, 2, 3, 4, len, 7, new Float32Array(12))).toThrow(/mode must be 0 \(mean\), 1 \(ramp\) or 2 \(last\)/);
    expect(() => nat.poolTimeBackward(new Float32Array(12), 2, 3, 4, len, 2, new Float32Array(23))).toThrow(/24 values/);
    expect(() => nat.sumValid(src, 2, 3, 4, Int32Array.of(2, 2))).toThrow(/lengths has 2 entries, expected N/);
    expect(() => nat.sumValid(new Float64Array(24) as unknown as Float32Array, 2, 3, 4, len)).toThrow(/must be a Float32Array/);
  });
});
