/**
 * Native EGRU kernels (sparse and dense variants, every ISA path this CPU has, 1 and 2 threads) against the
 * TypeScript reference: forward outputs, cache, all gradients and the MAC / sparsity counters.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  loadNativeEgru,
  nativeEgruIsas,
  nativeEgruUnavailableReason,
  nativeAllocatorSetting,
  nativeDataAlignment,
  nativeFmaLoop,
  nativeSumRows,
  poisonNativeOutputs,
  setNativeEgruIsa,
  setNativeEgruThreads,
} from '../../../core/egru/native.ts';
import { referenceKernel } from '../../../core/egru/reference.ts';
import type { EgruForwardOptions, EgruForwardResult, EgruLayerParams, EgruUpstream } from '../../../core/egru/types.ts';
import { Rng } from '../../../core/util/rng.ts';

const reason = nativeEgruUnavailableReason();
if (reason) console.warn(`[tests] native EGRU addon unavailable (${reason}): native kernel tests are SKIPPED.`);
const native = loadNativeEgru();
const isas = nativeEgruIsas();
const defaultIsa = native?.isa ?? 'generic';
const defaultThreads = setNativeEgruThreads(0); // 0 is rejected: returns the count in effect
if (native && !isas.includes('avx512')) console.warn('[tests] this CPU has no AVX-512: the avx512 kernel path is built but not run here.');

interface Config {
  name: string;
  T: number;
  N: number;
  C: number;
  H: number;
  inputDensity: number;
  /** Threshold mean: low → many units fire. */
  thetaMean: number;
  zoneout?: number;
  y0?: boolean;
  eps?: number;
}

function randn(rng: Rng, n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal(0, std);
  return a;
}

function setup(cfg: Config, seed: number) {
  const rng = new Rng(seed);
  const { T, N, C, H } = cfg;
  const theta = new Float32Array(H);
  for (let j = 0; j < H; j++) theta[j] = cfg.thetaMean + 0.1 * rng.normal();
  const p: EgruLayerParams<Float32Array> = {
    inputSize: C,
    hiddenSize: H,
    kernel: randn(rng, C * 3 * H, 1.5 / Math.sqrt(Math.max(1, C * cfg.inputDensity))),
    recurrentKernel: randn(rng, H * 3 * H, 1 / Math.sqrt(H)),
    bias: randn(rng, 3 * H, 0.3),
    recurrentBias: randn(rng, 3 * H, 0.3),
    theta,
    gamma: 0.7,
    eps: cfg.eps ?? 1.7,
  };
  const x = new Float32Array(T * N * C);
  for (let i = 0; i < x.length; i++) if (rng.next() < cfg.inputDensity) x[i] = rng.uniform(0, 1.5);
  const opts: EgruForwardOptions<Float32Array> = { training: true, keepCache: true };
  if (cfg.y0) opts.y0 = randn(rng, N * H, 0.5).map((v) => (Math.abs(v) > 0.6 ? v : 0));
  if (cfg.zoneout) {
    opts.zoneout = cfg.zoneout;
    opts.zoneoutMask = new Uint8Array(T * N * H).map(() => (rng.next() < 1 - cfg.zoneout! ? 1 : 0));
  }
  const up: EgruUpstream<Float32Array> = {
    dy: randn(rng, T * N * H, 1),
    dc: randn(rng, T * N * H, 0.5),
    do: randn(rng, T * N * H, 0.5),
    dtr: randn(rng, T * N * H, 1),
  };
  return { p, x, opts, up };
}

/** max |a − b| ≤ tol · max(1, max |b|): float32 accumulation order differs from the float64 reference. */
function expectClose(what: string, a: ArrayLike<number>, b: ArrayLike<number>, tol = 2e-4): void {
  expect(a.length, `${what} length`).toBe(b.length);
  let maxDiff = 0;
  let maxRef = 1;
  let at = -1;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    // A NaN (e.g. an element no kernel path wrote: result arrays are NaN-poisoned here) fails at once; comparing it
    // with `<=` would let the next element's difference replace it.
    if (Number.isNaN(d)) expect.fail(`${what}: NaN at ${i} (got ${a[i]}, want ${b[i]})`);
    if (d > maxDiff) {
      maxDiff = d;
      at = i;
    }
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  expect(maxDiff, `${what}: max diff ${maxDiff} at ${at} (got ${a[at]}, want ${b[at]})`).toBeLessThanOrEqual(tol * maxRef);
}

/**
 * a and b hold the same values (events o are exact, not rounded; a NaN never matches). One count, not `toEqual` on
 * whole arrays: its failure report diffs every element, which took minutes for the 240,000 of the 12,000-row config
 * (a failure looked like a hang).
 */
function expectSame(what: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  expect(a.length, `${what} length`).toBe(b.length);
  let first = -1;
  let count = 0;
  for (let i = 0; i < b.length; i++)
    if (a[i] !== b[i]) {
      if (first < 0) first = i;
      count++;
    }
  expect(count, `${what}: ${count} of ${b.length} differ, first at ${first} (got ${a[first]}, want ${b[first]})`).toBe(0);
}

const configs: Config[] = [
  { name: 'N=1 sparse input', T: 8, N: 1, C: 40, H: 21, inputDensity: 0.1, thetaMean: 0.3 },
  { name: 'N=3 dense input, y0', T: 7, N: 3, C: 13, H: 35, inputDensity: 1, thetaMean: 0.25, y0: true },
  { name: 'N=5 sparse input, zoneout mask', T: 6, N: 5, C: 50, H: 40, inputDensity: 0.05, thetaMean: 0.3, zoneout: 0.25 },
  { name: 'N=6 H=67 low activity, y0', T: 9, N: 6, C: 64, H: 67, inputDensity: 0.08, thetaMean: 0.6, y0: true, eps: 1 },
  // T·N rows of x·W over the kernel's 768 KiB small-rows limit on every ISA path (768 rows × 288 columns = 884 KiB),
  // so sparse input takes the tiled gather, W copied tile by tile (small cases add blocks of W's rows instead).
  { name: 'N=16 T=48 H=96 sparse input, large', T: 48, N: 16, C: 64, H: 96, inputDensity: 0.1, thetaMean: 0.3 },
  { name: 'N=16 full activity', T: 4, N: 16, C: 24, H: 48, inputDensity: 1, thetaMean: -1.5, y0: true },
  // Appended (tests below pick configs by index). One sample, 60 steps: x W by blocks of W's rows (C = 300: three
  // full blocks of 96 and a partial one) with 3H = 210 (not a multiple of the vector width: vector and scalar tail
  // columns), the y ≠ 0 lists built in the gate update feed 60 gathers.
  { name: 'N=1 T=60 H=70 sparse input, long sequence', T: 60, N: 1, C: 300, H: 70, inputDensity: 0.05, thetaMean: 0.3 },
  // Inserted before the last (tests pick configs by index; the last one by `configs.length - 1`). Two threads split the
  // units instead of the batch here, on every ISA path: H = 320 is a multiple of each path's column tile, Rk (1.2 MiB)
  // is over the split's 1 MiB limit, and T·N·3H is over the small-rows limit. Sparse input with y0 and an activity of
  // 24-33 % around the 30 % switch at N = 4 (sparse gathers from per-thread list segments, and dense steps between),
  // then dense input at full activity (dense products on each thread's own panels).
  { name: 'N=4 T=64 H=320 sparse input, y0: threads split the units', T: 64, N: 4, C: 48, H: 320, inputDensity: 0.1, thetaMean: 0.2, y0: true },
  { name: 'N=8 T=32 H=320 dense input, full activity: threads split the units', T: 32, N: 8, C: 16, H: 320, inputDensity: 1, thetaMean: -1.5 },
  // Appended. 12,000 rows (T·N): more than one L2 chunk of a δ panel on every ISA path (10,922 rows of 48 B on the
  // generic one, fewer on the others), so the column-list products dW and dRk add their entries chunk by chunk.
  { name: 'N=60 T=200 H=20 sparse input, more rows than one chunk', T: 200, N: 60, C: 12, H: 20, inputDensity: 0.15, thetaMean: 0.2 },
];

describe.skipIf(!native)('native EGRU kernels == reference', () => {
  // Result arrays come uninitialised from the heap (core/egru/native.ts outputArray): poisoned with NaN here, an
  // element that some kernel path forgets to write fails the comparisons below instead of passing by luck.
  const poisonWas = poisonNativeOutputs(true);
  afterAll(() => {
    setNativeEgruIsa(defaultIsa);
    setNativeEgruThreads(defaultThreads);
    poisonNativeOutputs(poisonWas);
  });

  it('tuned the allocator once at load (glibc), or says why not', () => {
    expect(nativeAllocatorSetting()).toMatch(process.env.EGRU_MALLOC_TUNE === '0' ? /EGRU_MALLOC_TUNE=0/ : /glibc: blocks < 32 MiB from the heap|not glibc|mallopt refused/);
  });

  it('reports the ISA paths it can run, best first, and can switch between them', () => {
    expect(isas.length).toBeGreaterThan(0);
    expect(isas).toContain('generic');
    expect(isas).toContain(defaultIsa); // the best one unless EGRU_ISA chose another
    for (const isa of isas) {
      expect(setNativeEgruIsa(isa)).toBe(true);
      expect(loadNativeEgru()!.isa).toBe(isa);
    }
    expect(setNativeEgruIsa('no-such-isa')).toBe(false);
    setNativeEgruIsa(defaultIsa);
  });

  for (const cfg of configs) {
    for (const isa of isas) {
      for (const threads of [1, 2]) {
        it(`${cfg.name} [${isa}, ${threads} thread(s)]: forward, cache and gradients`, () => {
          expect(setNativeEgruIsa(isa)).toBe(true);
          setNativeEgruThreads(threads, true); // force: these sizes would otherwise run backward on one thread
          const { p, x, opts, up } = setup(cfg, 1000 + cfg.H);
          const ref = referenceKernel.forward(p, x, cfg.T, cfg.N, opts);
          const refG = referenceKernel.backward(p, x, ref, up, opts);
          for (const k of [native!.sparse, native!.dense]) {
            const f = k.forward(p, x, cfg.T, cfg.N, opts);
            expectSame(`${k.name} o`, f.o, ref.o);
            for (const key of ['y', 'c', 'tr'] as const) expectClose(`${k.name} ${key}`, f[key], ref[key]);
            for (const key of ['u', 'r', 'g', 'qG', 's'] as const) expectClose(`${k.name} cache ${key}`, f.cache![key], ref.cache![key]);
            expectClose(`${k.name} activity`, f.macs.activity, ref.macs.activity, 1e-12);
            const g = k.backward(p, x, f, up, opts);
            expectClose(`${k.name} dKernel`, g.dKernel, refG.dKernel);
            expectClose(`${k.name} dRecurrentKernel`, g.dRecurrentKernel, refG.dRecurrentKernel);
            expectClose(`${k.name} dBias`, g.dBias, refG.dBias);
            expectClose(`${k.name} dRecurrentBias`, g.dRecurrentBias, refG.dRecurrentBias);
            expectClose(`${k.name} dTheta`, g.dTheta, refG.dTheta);
            expectClose(`${k.name} dX`, g.dX, refG.dX);
            expectClose(`${k.name} dY0`, g.dY0, refG.dY0);
            expectClose(`${k.name} backward sparsity`, g.macs.backwardSparsity, refG.macs.backwardSparsity, 1e-12);
            expect(Array.from(g.macs.dense)).toEqual(Array.from(refG.macs.dense));
            expect(Array.from(f.macs.dense)).toEqual(Array.from(ref.macs.dense));
          }
        });
      }
    }
  }

  it('sparse == dense within 1e-5 when dW and dRk are summed chunk by chunk (12,000 rows), on every ISA path', () => {
    const cfg = configs[configs.length - 1];
    const { p, x, opts, up } = setup(cfg, 77);
    setNativeEgruThreads(1);
    for (const isa of isas) {
      expect(setNativeEgruIsa(isa)).toBe(true);
      const fs = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
      const fd = native!.dense.forward(p, x, cfg.T, cfg.N, opts);
      expectSame(`${isa} o`, fs.o, fd.o);
      const activity = fs.macs.activity.reduce((a, b) => a + b, 0) / cfg.T;
      expect(activity, 'some units fire, most do not (so the lists are sparse)').toBeGreaterThan(0.05);
      expect(activity).toBeLessThan(0.6);
      const gs = native!.sparse.backward(p, x, fs, up, opts);
      const gd = native!.dense.backward(p, x, fd, up, opts);
      const rel = (a: Float32Array, b: Float32Array) => {
        let d = 0;
        let m = 0;
        for (let i = 0; i < b.length; i++) {
          d = Math.max(d, Math.abs(a[i] - b[i]));
          m = Math.max(m, Math.abs(b[i]));
        }
        return d / m;
      };
      expect(rel(gs.dKernel, gd.dKernel), `${isa} dKernel`).toBeLessThanOrEqual(1e-5);
      expect(rel(gs.dRecurrentKernel, gd.dRecurrentKernel), `${isa} dRecurrentKernel`).toBeLessThanOrEqual(1e-5);
      expect(rel(gs.dTheta, gd.dTheta), `${isa} dTheta`).toBeLessThanOrEqual(1e-5);
    }
    setNativeEgruIsa(defaultIsa);
  });

  it('lists the input up to exactly its limit and takes the dense path one non-zero above: forward 35 %, backward 25 % (every ISA, 1 and 2 threads)', () => {
    // One thread lists and counts in one pass into room for the densest listed input; this pins that room at both
    // limits (egru_inputs.inc: kDenseInputForward, kDenseInputBackward).
    const cfg: Config = { name: 'input at the listing limit', T: 6, N: 4, C: 96, H: 40, inputDensity: 0.25, thetaMean: 0.3 };
    const { p, opts, up } = setup(cfg, 4343);
    const rows = cfg.T * cfg.N;
    const rng = new Rng(11);
    for (const [frac, pinned] of [[0.35, 'forward'], [0.25, 'backward']] as const) {
      const limit = Math.floor(frac * rows * cfg.C);
      for (const extra of [0, 1]) {
        // One non-zero in every row (the last row too), the rest packed into the first rows after step 0: the listing's
        // room is nearly used up before the last rows, which must still be listed, and step 0's rows keep one
        // non-zero each, so that its MACs tell the listed path (N non-zeros) from the dense one (N·C inputs).
        const x = new Float32Array(rows * cfg.C);
        for (let r = 0; r < rows; r++) x[r * cfg.C] = rng.uniform(0.1, 1.5);
        let nnz = rows;
        for (let i = cfg.N * cfg.C; i < x.length && nnz < limit + extra; i++)
          if (x[i] === 0) {
            x[i] = rng.uniform(0.1, 1.5);
            nnz++;
          }
        expect(nnz).toBe(limit + extra);
        const ref = referenceKernel.forward(p, x, cfg.T, cfg.N, opts);
        const refG = referenceKernel.backward(p, x, ref, up, opts);
        for (const isa of isas)
          for (const threads of [1, 2]) {
            expect(setNativeEgruIsa(isa)).toBe(true);
            setNativeEgruThreads(threads, true);
            const what = `${pinned} limit, ${isa}, ${threads} thread(s), ${nnz} non-zeros`;
            const f = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
            expectSame(`${what} o`, f.o, ref.o);
            expectClose(`${what} y`, f.y, ref.y);
            // Step 0 has no recurrent product (no y0): 3H per listed non-zero of its rows, or every input when dense
            // (the forward lists every input up to its 35 %, so at the backward's 25 % limit both runs are listed).
            let step0 = 0;
            for (let i = 0; i < cfg.N * cfg.C; i++) step0 += x[i] !== 0 ? 1 : 0;
            expect(step0).toBe(cfg.N);
            const listed = pinned === 'backward' || extra === 0;
            expect(f.macs.executed[0], `${what}: step-0 MACs`).toBe(3 * cfg.H * (listed ? step0 : cfg.N * cfg.C));
            const g = native!.sparse.backward(p, x, f, up, opts);
            expectClose(`${what} dKernel`, g.dKernel, refG.dKernel);
            expectClose(`${what} dRecurrentKernel`, g.dRecurrentKernel, refG.dRecurrentKernel);
            expectClose(`${what} dX`, g.dX, refG.dX);
            // Backward step 0: δy_0 for every (unit, sample) (one GEMM at t = 0), no dRk rows (no y0), the dW rows of
            // the listed inputs (or every input above the backward's limit), and the dense x̄.
            const bListed = pinned === 'forward' ? false : extra === 0;
            expect(g.macs.executed[0], `${what}: backward step-0 MACs`).toBe(3 * cfg.H * (cfg.N * cfg.H + (bListed ? step0 : cfg.N * cfg.C) + cfg.N * cfg.C));
          }
      }
    }
    setNativeEgruIsa(defaultIsa);
    setNativeEgruThreads(defaultThreads, true);
  });

  it("hands the forward's input lists to the backward: x's non-zeros exactly, and the same gradients with or without them (every ISA, 1 and 2 threads)", () => {
    // Sparse input: one sample (W read by row blocks), a batch with zoneout, the tiled gather, the unit split; dense
    // input lists nothing.
    for (const cfg of [configs[0], configs[2], configs[4], configs[7], configs[1]]) {
      const { p, x, opts, up } = setup(cfg, 77 + cfg.H);
      const rows = cfg.T * cfg.N;
      for (const isa of isas)
        for (const threads of [1, 2]) {
          expect(setNativeEgruIsa(isa)).toBe(true);
          setNativeEgruThreads(threads, true);
          const what = `${cfg.name}, ${isa}, ${threads} thread(s)`;
          const f = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
          const lists = f.cache!.inputLists;
          if (cfg.inputDensity === 1) {
            expect(lists, what).toBeUndefined();
          } else {
            expect(lists, what).toBeDefined();
            const rowptr = [0];
            const idx: number[] = [];
            const val: number[] = [];
            for (let r = 0; r < rows; r++) {
              for (let i = 0; i < cfg.C; i++)
                if (x[r * cfg.C + i] !== 0) {
                  idx.push(i);
                  val.push(x[r * cfg.C + i]);
                }
              rowptr.push(idx.length);
            }
            expectSame(`${what} rowptr`, lists!.rowptr, rowptr);
            expectSame(`${what} idx`, lists!.idx, idx);
            expectSame(`${what} val`, lists!.val, val);
          }
          const withLists = native!.sparse.backward(p, x, f, up, opts);
          const { inputLists: _dropped, ...cacheOnly } = f.cache!;
          const without = native!.sparse.backward(p, x, { ...f, cache: cacheOnly }, up, opts);
          for (const k of ['dKernel', 'dRecurrentKernel', 'dBias', 'dRecurrentBias', 'dTheta', 'dX', 'dY0'] as const)
            expectSame(`${what} ${k}`, withLists[k], without[k]);
          expectSame(`${what} backward MACs`, withLists.macs.executed, without.macs.executed);
        }
      // The dense baseline lists nothing, and an inference forward keeps no cache to hold lists.
      expect(native!.dense.forward(p, x, cfg.T, cfg.N, opts).cache!.inputLists).toBeUndefined();
      expect(native!.sparse.forward(p, x, cfg.T, cfg.N, { ...opts, training: false, keepCache: false }).cache).toBeNull();
    }
    setNativeEgruIsa(defaultIsa);
    setNativeEgruThreads(defaultThreads, true);
  });

  it('rejects input lists that do not describe an input, with an error naming the fault, before the kernel reads them', () => {
    const cfg = configs[2];
    const { p, x, opts, up } = setup(cfg, 91);
    const f = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
    const L = f.cache!.inputLists!;
    const rows = cfg.T * cfg.N;
    // A row with at least two entries, for the order faults.
    let r2 = 0;
    while (L.rowptr[r2 + 1] - L.rowptr[r2] < 2) r2++;
    const k2 = L.rowptr[r2];
    const swapped = L.idx.slice();
    [swapped[k2], swapped[k2 + 1]] = [swapped[k2 + 1], swapped[k2]];
    const dup = L.idx.slice();
    dup[k2 + 1] = dup[k2];
    let rd = 0;
    while (L.rowptr[rd + 1] === L.rowptr[rd + 2]) rd++;
    const decreasing = L.rowptr.slice();
    decreasing[rd + 1] = L.rowptr[rd + 2];
    decreasing[rd + 2] = L.rowptr[rd + 1];
    const rowOf = (k: number) => {
      let r = 0;
      while (L.rowptr[r + 1] <= k) r++;
      return r;
    };
    const high = L.idx.slice();
    high[3] = cfg.C;
    const kn = L.idx.length - 1;
    const negative = L.idx.slice();
    negative[kn] = -1;
    // Wrong kinds of value are TypeErrors, wrong sizes and contents RangeErrors.
    const cases: Array<[string, unknown, RegExp, ErrorConstructor]> = [
      ['not an object', 5, /inputLists must be an object/, TypeError],
      ['rowptr too short', { ...L, rowptr: L.rowptr.subarray(1) }, /inputLists rowptr has \d+ elements, expected \d+/, RangeError],
      ['rowptr as a Float32Array', { ...L, rowptr: new Float32Array(L.rowptr) }, /inputLists rowptr has the wrong array type/, TypeError],
      ['rowptr missing', { idx: L.idx, val: L.val }, /inputLists rowptr is missing/, TypeError],
      ['rowptr not from 0', { ...L, rowptr: L.rowptr.map((v) => v + 1) }, /rowptr\[0\] must be 0/, RangeError],
      ['rowptr decreasing', { ...L, rowptr: decreasing }, new RegExp(`rowptr decreases at row ${rd + 1}`), RangeError],
      ['idx shorter than rowptr says', { ...L, idx: L.idx.subarray(1) }, /inputLists idx has \d+ elements/, RangeError],
      ['val shorter than rowptr says', { ...L, val: L.val.subarray(1) }, /inputLists val has \d+ elements/, RangeError],
      ['an index ≥ C', { ...L, idx: high }, new RegExp(`idx\\[3\\] = 50 in row ${rowOf(3)} is outside \\[0, C\\)`), RangeError],
      ['a negative index', { ...L, idx: negative }, new RegExp(`idx\\[${kn}\\] = -1 in row ${rowOf(kn)} is outside \\[0, C\\)`), RangeError],
      ['indices out of order', { ...L, idx: swapped }, new RegExp(`idx\\[${k2 + 1}\\] = \\d+ in row ${r2} does not ascend`), RangeError],
      ['a repeated index', { ...L, idx: dup }, new RegExp(`idx\\[${k2 + 1}\\] = \\d+ in row ${r2} does not ascend`), RangeError],
    ];
    expect(rows).toBeGreaterThan(rd + 2);
    for (const [what, lists, msg, kind] of cases) {
      const bad = { ...f, cache: { ...f.cache!, inputLists: lists as typeof L } };
      let err: unknown = null;
      try {
        native!.sparse.backward(p, x, bad, up, opts);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(kind);
      expect((err as Error).message, what).toMatch(msg);
      expect((err as Error).message, what).toMatch(/^EGRU native backward: inputLists /);
    }
    // The genuine lists still work afterwards.
    expect(() => native!.sparse.backward(p, x, f, up, opts)).not.toThrow();
  });

  it('reads W and Rk in place at every alignment: one sample gives the same outputs at all 16 float offsets (every ISA)', () => {
    // One sample gathers whole rows of W and Rk from the caller's arrays, starting full vectors at the rows' first
    // vector-aligned column (egru_base.inc alignedHead) with partial vectors before and after. 3H = 144 is a multiple
    // of every path's vector width, so each offset puts that column elsewhere; the head and tail of each row take the
    // masked loads and stores.
    const cfg: Config = { name: 'alignment', T: 40, N: 1, C: 96, H: 48, inputDensity: 0.1, thetaMean: 0.3 };
    const { p, x, opts, up } = setup(cfg, 515);
    const ref = referenceKernel.forward(p, x, cfg.T, cfg.N, opts);
    const refG = referenceKernel.backward(p, x, ref, up, opts);
    const at = (a: Float32Array, off: number) => {
      const b = new Float32Array(new ArrayBuffer((a.length + 16) * 4), off * 4, a.length);
      b.set(a);
      return b;
    };
    setNativeEgruThreads(1);
    for (const isa of isas) {
      expect(setNativeEgruIsa(isa)).toBe(true);
      let first: EgruForwardResult<Float32Array> | undefined;
      for (let off = 0; off < 16; off++) {
        const q = { ...p, kernel: at(p.kernel, off), recurrentKernel: at(p.recurrentKernel, (off * 7) % 16) };
        const what = `${isa}, W at +${off} floats`;
        const f = native!.sparse.forward(q, x, cfg.T, cfg.N, opts);
        expectSame(`${what}: o`, f.o, ref.o);
        expectClose(`${what}: y`, f.y, ref.y);
        const activity = f.macs.activity.reduce((a, b) => a + b, 0) / cfg.T;
        expect(activity, 'some units fire, most do not').toBeGreaterThan(0.05);
        expect(activity).toBeLessThan(0.6);
        if (!first) first = f;
        else {
          expectSame(`${what}: y as at +0`, f.y, first.y);
          expectSame(`${what}: c as at +0`, f.c, first.c);
        }
        const g = native!.sparse.backward(q, x, f, up, opts);
        expectClose(`${what}: dKernel`, g.dKernel, refG.dKernel);
        expectClose(`${what}: dRecurrentKernel`, g.dRecurrentKernel, refG.dRecurrentKernel);
        expectClose(`${what}: dX`, g.dX, refG.dX);
      }
    }
    setNativeEgruIsa(defaultIsa);
    setNativeEgruThreads(defaultThreads, true);
  });

  it('hands out every result array starting on a 64-byte boundary (the kernels store whole cache lines)', () => {
    const cfg = configs[0];
    const { p, x, opts, up } = setup(cfg, 99);
    const f = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
    const g = native!.sparse.backward(p, x, f, up, opts);
    const arrays: [string, Float32Array][] = [
      ['y', f.y], ['c', f.c], ['o', f.o], ['tr', f.tr],
      ...(['u', 'r', 'g', 'qG', 's'] as const).map((k): [string, Float32Array] => [k, f.cache![k]]),
      ['dKernel', g.dKernel], ['dRecurrentKernel', g.dRecurrentKernel], ['dBias', g.dBias], ['dRecurrentBias', g.dRecurrentBias],
      ['dTheta', g.dTheta], ['dX', g.dX], ['dY0', g.dY0],
    ];
    expect(arrays.length).toBe(16);
    for (const [name, a] of arrays) expect(nativeDataAlignment(a), name).toBe(0);
    // A plain Float32Array starts wherever the heap put its data (16 bytes past a boundary on glibc); the probe sees it.
    const plain = new Float32Array(new ArrayBuffer(256), 4, 8);
    expect(nativeDataAlignment(plain)).toBe((nativeDataAlignment(new Float32Array(plain.buffer))! + 4) % 64);
    expect(nativeDataAlignment(new Float32Array(new SharedArrayBuffer(64)))).toBeNull();
  });

  it('two threads splitting the units count the same MACs and events as one thread (the H = 320 configs)', () => {
    setNativeEgruIsa(defaultIsa);
    for (const cfg of configs.filter((c) => c.H === 320)) {
      const { p, x, opts, up } = setup(cfg, 1000 + cfg.H);
      for (const k of [native!.sparse, native!.dense]) {
        const runs = [1, 2].map((threads) => {
          setNativeEgruThreads(threads, true);
          const f = k.forward(p, x, cfg.T, cfg.N, opts);
          return { f, g: k.backward(p, x, f, up, opts) };
        });
        const what = `${cfg.name}, ${k.name}`;
        expectSame(`${what}: o`, runs[1].f.o, runs[0].f.o);
        expect(Array.from(runs[1].f.macs.executed), `${what}: forward MACs`).toEqual(Array.from(runs[0].f.macs.executed));
        expect(Array.from(runs[1].f.macs.activity), `${what}: activity`).toEqual(Array.from(runs[0].f.macs.activity));
        expect(Array.from(runs[1].g.macs.executed), `${what}: backward MACs`).toEqual(Array.from(runs[0].g.macs.executed));
      }
    }
    setNativeEgruThreads(defaultThreads, true);
  });

  it('sparse MAC counts equal the reference recipe at low activity and are below dense; dense counts all', () => {
    setNativeEgruIsa(defaultIsa);
    // A narrow surrogate support (large ε) keeps B_t small, so backward takes the per-unit path whose count is the
    // reference recipe (with most units in B it runs δq·Rkᵀ as one GEMM and counts every multiply it does).
    const cfg = { ...configs[3], eps: 6 };
    const { p, x, opts, up } = setup(cfg, 1000 + cfg.H);
    const ref = referenceKernel.forward(p, x, cfg.T, cfg.N, opts);
    const refG = referenceKernel.backward(p, x, ref, up, opts);
    const f = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
    const g = native!.sparse.backward(p, x, f, up, opts);
    const meanActivity = f.macs.activity.reduce((s, v) => s + v, 0) / cfg.T;
    expect(meanActivity).toBeGreaterThan(0.01);
    expect(meanActivity).toBeLessThan(0.3);
    expect(Array.from(f.macs.executed)).toEqual(Array.from(ref.macs.executed));
    expect(Array.from(g.macs.executed)).toEqual(Array.from(refG.macs.executed));
    for (let t = 0; t < cfg.T; t++) expect(refG.macs.backwardSparsity[t]).toBeGreaterThan(0.6);
    for (let t = 0; t < cfg.T; t++) {
      expect(f.macs.executed[t]).toBeLessThan(0.5 * f.macs.dense[t]);
      expect(g.macs.executed[t]).toBeLessThan(g.macs.dense[t]);
      expect(g.macs.backwardSparsity[t]).toBeGreaterThan(0);
    }
    const fd = native!.dense.forward(p, x, cfg.T, cfg.N, opts);
    const gd = native!.dense.backward(p, x, fd, up, opts);
    expect(Array.from(fd.macs.executed)).toEqual(Array.from(fd.macs.dense));
    expect(Array.from(gd.macs.executed)).toEqual(Array.from(gd.macs.dense));
    // The per-pair dot products' gradients, every ISA path, 1 and 2 threads: with several samples the configs above
    // have more than 25 % of their pairs in B and run δy as the GEMM, so this is where that path is held to the reference.
    for (const isa of isas)
      for (const threads of [1, 2]) {
        expect(setNativeEgruIsa(isa)).toBe(true);
        setNativeEgruThreads(threads, true);
        const what = `ε = 6, ${isa}, ${threads} thread(s)`;
        const g2 = native!.sparse.backward(p, x, native!.sparse.forward(p, x, cfg.T, cfg.N, opts), up, opts);
        expect(Array.from(g2.macs.executed), `${what} MACs`).toEqual(Array.from(refG.macs.executed));
        expectClose(`${what} dKernel`, g2.dKernel, refG.dKernel);
        expectClose(`${what} dRecurrentKernel`, g2.dRecurrentKernel, refG.dRecurrentKernel);
        expectClose(`${what} dTheta`, g2.dTheta, refG.dTheta);
        expectClose(`${what} dX`, g2.dX, refG.dX);
      }
    setNativeEgruIsa(defaultIsa);
    setNativeEgruThreads(defaultThreads, true);
  });

  it('at full activity and dense input the sparse kernel executes the dense MAC count', () => {
    const cfg = configs[5];
    const { p, x, opts } = setup(cfg, 1000 + cfg.H);
    const f = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
    for (let t = 0; t < cfg.T; t++) expect(f.macs.activity[t]).toBe(1);
    // Step 0 reads the sparse y0 (≈23 % non-zero) through the gather; from step 1 on every unit fired.
    expect(f.macs.executed[0]).toBeLessThan(f.macs.dense[0]);
    for (let t = 1; t < cfg.T; t++) expect(f.macs.executed[t]).toBe(f.macs.dense[t]);
  });

  it('accumulates dRk with the dense product once most of y is non-zero, and with the lists below', () => {
    // Both backwards get the same forward result, so their δq agree to the bit. At full activity (81 % of y_{t-1}
    // non-zero, y0 included) the sparse kernel runs the dense baseline's dRk GEMM: the same sums in the same order.
    // At the low activity of configs[3] it sums per-unit lists: another order, equal within rounding.
    for (const [cfg, gemm] of [[configs[5], true], [configs[3], false]] as const) {
      for (const threads of [1, 2]) {
        setNativeEgruThreads(threads, true);
        const { p, x, opts, up } = setup(cfg, 1000 + cfg.H);
        const f = native!.dense.forward(p, x, cfg.T, cfg.N, opts);
        const gs = native!.sparse.backward(p, x, f, up, opts);
        const gd = native!.dense.backward(p, x, f, up, opts);
        const act = f.macs.activity.reduce((a, b) => a + b, 0) / cfg.T;
        if (gemm) {
          expect(act).toBe(1);
          expect(Array.from(gs.dRecurrentKernel)).toEqual(Array.from(gd.dRecurrentKernel));
        } else {
          expect(act).toBeLessThan(0.3);
          expectClose(`${cfg.name} dRecurrentKernel sparse vs dense`, gs.dRecurrentKernel, gd.dRecurrentKernel);
          expect(Array.from(gs.dRecurrentKernel)).not.toEqual(Array.from(gd.dRecurrentKernel));
        }
      }
    }
    setNativeEgruThreads(defaultThreads);
  });

  it('skips the input gradient when asked (first layer) without changing the other gradients', () => {
    const cfg = configs[2];
    const { p, x, opts, up } = setup(cfg, 1000 + cfg.H);
    const f = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
    const full = native!.sparse.backward(p, x, f, up, opts);
    const noX = native!.sparse.backward(p, x, f, up, { ...opts, inputGrad: false });
    expect(noX.dX.length).toBe(0);
    expect(Array.from(noX.dKernel)).toEqual(Array.from(full.dKernel));
    expect(Array.from(noX.dRecurrentKernel)).toEqual(Array.from(full.dRecurrentKernel));
    expect(noX.macs.executed[0]).toBe(full.macs.executed[0] - cfg.N * 3 * cfg.H * cfg.C);
  });

  it('with most units in the surrogate support, backward counts the GEMM it runs (every unit, every sample)', () => {
    const cfg = configs[4]; // N=16, ε=1.7: B_t ≈ all units
    const { p, x, opts, up } = setup(cfg, 1000 + cfg.H);
    const f = native!.sparse.forward(p, x, cfg.T, cfg.N, opts);
    const g = native!.sparse.backward(p, x, f, up, opts);
    const d = native!.dense.backward(p, x, native!.dense.forward(p, x, cfg.T, cfg.N, opts), up, opts);
    for (let t = 1; t < cfg.T; t++) {
      expect(g.macs.backwardSparsity[t]).toBeLessThan(0.5);
      expect(g.macs.executed[t]).toBeLessThan(d.macs.executed[t]); // dW / dRk still skip zero rows
      expect(g.macs.executed[t]).toBeGreaterThanOrEqual(cfg.N * 3 * cfg.H * cfg.H); // δq·Rkᵀ over all units
    }
  });

  for (const cfg of [configs[0], configs[4]]) {
    it(`${cfg.name}: weights changed in place or replaced between calls give the new results`, () => {
      setNativeEgruIsa(defaultIsa);
      const { p, x, opts, up } = setup(cfg, 77);
      for (const k of [native!.sparse, native!.dense]) {
        const before = k.forward(p, x, cfg.T, cfg.N, opts);
        // In place: every weight scaled, one row of each matrix negated.
        const q: EgruLayerParams<Float32Array> = { ...p, kernel: p.kernel.slice(), recurrentKernel: p.recurrentKernel.slice(), bias: p.bias.slice() };
        const f0 = k.forward(q, x, cfg.T, cfg.N, opts);
        expect(Array.from(f0.y)).toEqual(Array.from(before.y));
        for (const m of [q.kernel, q.recurrentKernel]) {
          for (let i = 0; i < m.length; i++) m[i] *= 1.3;
          for (let i = 0; i < 3 * cfg.H; i++) m[i] = -m[i];
        }
        q.bias.reverse();
        const ref = referenceKernel.forward(q, x, cfg.T, cfg.N, opts);
        const f1 = k.forward(q, x, cfg.T, cfg.N, opts);
        expect(Array.from(f1.o), `${k.name} o after in-place change`).toEqual(Array.from(ref.o));
        expectClose(`${k.name} y after in-place change`, f1.y, ref.y);
        expect(Array.from(f1.y)).not.toEqual(Array.from(before.y));
        const refG = referenceKernel.backward(q, x, ref, up, opts);
        const g1 = k.backward(q, x, f1, up, opts);
        expectClose(`${k.name} dRecurrentKernel after in-place change`, g1.dRecurrentKernel, refG.dRecurrentKernel);
        expectClose(`${k.name} dX after in-place change`, g1.dX, refG.dX);
        // New arrays with the original values: the original results again.
        const f2 = k.forward({ ...p, kernel: p.kernel.slice(), recurrentKernel: p.recurrentKernel.slice() }, x, cfg.T, cfg.N, opts);
        expect(Array.from(f2.y)).toEqual(Array.from(before.y));
      }
    });
  }

  it('an empty sequence (T = 0) gives zero gradients, not uninitialised memory', () => {
    const cfg = configs[0];
    const { p, opts } = setup(cfg, 11);
    for (const k of [native!.sparse, native!.dense]) {
      const f = k.forward(p, new Float32Array(0), 0, cfg.N, opts);
      expect(f.y.length).toBe(0);
      const g = k.backward(p, new Float32Array(0), f, {}, opts);
      for (const [name, arr] of Object.entries({ dKernel: g.dKernel, dRecurrentKernel: g.dRecurrentKernel, dBias: g.dBias, dRecurrentBias: g.dRecurrentBias, dTheta: g.dTheta, dY0: g.dY0 })) {
        expect(arr.length, name).toBeGreaterThan(0);
        expect(arr.every((v) => v === 0), `${name} all zero`).toBe(true);
      }
    }
  });

  it('flushes denormals only inside the kernels: the calling JS thread keeps IEEE denormals after every call', () => {
    // The kernels set FTZ|DAZ for their duration (egru_pool.h flushDenormals). Left set on the JS thread, DAZ would
    // read every denormal double as zero: 5e-324 · 1 would be 0 and MIN_NORMAL / 2 would underflow to 0.
    const denormalsWork = (): boolean => {
      const tiny = Number('5e-324'); // parsed at run time, not folded by the compiler
      return tiny * 1 === tiny && 2.2250738585072014e-308 / 2 > 0;
    };
    expect(denormalsWork()).toBe(true);
    const cfg = configs[4];
    const { p, x, opts } = setup(cfg, 5);
    for (const threads of [1, 2]) {
      setNativeEgruThreads(threads, true); // force: at this size backward would otherwise stay on one thread
      for (const k of [native!.sparse, native!.dense]) {
        const f = k.forward(p, x, cfg.T, cfg.N, opts);
        expect(denormalsWork(), `after forward, ${threads} thread(s)`).toBe(true);
        k.backward(p, x, f, { dy: new Float32Array(f.y.length).fill(0.1) }, opts);
        expect(denormalsWork(), `after backward, ${threads} thread(s)`).toBe(true);
      }
    }
    setNativeEgruThreads(defaultThreads);
  });

  it('rejects wrong shapes with a RangeError naming the array, never touching memory', () => {
    const cfg = configs[0];
    const { p, x, opts } = setup(cfg, 7);
    expect(() => native!.sparse.forward(p, x.subarray(1), cfg.T, cfg.N, opts)).toThrow(/x \[T,N,C\]/);
    expect(() => native!.sparse.forward({ ...p, theta: new Float32Array(3) }, x, cfg.T, cfg.N, opts)).toThrow(RangeError);
    expect(() => native!.sparse.forward(p, x, cfg.T, 2.5, opts)).toThrow(RangeError);
    const f = native!.sparse.forward(p, x, cfg.T, cfg.N, { ...opts, keepCache: false, training: false });
    expect(() => native!.sparse.backward(p, x, f, {}, opts)).toThrow(/cache/);
  });

  it('sums the listed rows (the bench row-read bound) on every ISA path, and rejects out-of-range rows', () => {
    const cols = 37; // not a multiple of any vector width: vector and scalar tails
    const rows = 11;
    const rng = new Rng(5);
    const M = new Float32Array(rows * cols).map(() => rng.uniform(-1, 1));
    const idx = Int32Array.from([3, 0, 10, 3, 7]);
    let want = 0;
    for (const i of idx) for (let c = 0; c < cols; c++) want += M[i * cols + c];
    for (const isa of nativeEgruIsas()) {
      setNativeEgruIsa(isa);
      expect(nativeSumRows(M, cols, idx)).toBeCloseTo(want, 4);
      expect(nativeSumRows(M, cols, new Int32Array(0))).toBe(0);
    }
    setNativeEgruIsa(defaultIsa);
    expect(() => nativeSumRows(M, cols, Int32Array.from([0, rows]))).toThrow(/row index out of range/);
    expect(() => nativeSumRows(M, cols, Int32Array.from([-1]))).toThrow(RangeError);
    expect(() => nativeSumRows(M, 0, idx)).toThrow(/cols/);
  });

  it('counts the multiply-add loop\'s FLOPs (the bench machine-balance probe) by the ISA path\'s vector width', () => {
    // Twelve chains × lanes × 2 FLOPs per round: 16 lanes on avx512, 8 on avx2, 4 (SSE2 / NEON width) on generic.
    const lanes: Record<string, number> = { avx512: 16, avx2: 8, generic: 4 };
    for (const isa of nativeEgruIsas()) {
      setNativeEgruIsa(isa);
      expect(nativeFmaLoop(1000)).toBe(1000 * 12 * lanes[isa] * 2);
      expect(nativeFmaLoop(0)).toBe(0);
      expect(nativeFmaLoop(-5)).toBe(0);
    }
    setNativeEgruIsa(defaultIsa);
    expect(() => (nativeFmaLoop as (n: unknown) => number)('many')).toThrow(/fmaLoop/);
  });
});
