/**
 * The native EGRU kernels (core/egru/native/*.cc) as `EgruKernel<Float32Array>` implementations.
 *
 * - `native-sparse`: per-sample active lists; the recurrent product reads only Rk rows of units that fired,
 *   the input projection only W rows of non-zero inputs (a blocked dense GEMM when the input is dense), straight
 *   from the caller's arrays (one sample) or from a tiled copy made per call (several samples share each row),
 *   BPTT propagates error through Rkᵀ only for units in A ∪ S (one GEMM when that is most units) and accumulates
 *   dRk / dW only on non-zero rows. No weight layout is cached across calls, so weights may change freely.
 * - `native-dense`: the same code with sparsity off (every row processed): the baseline.
 *
 * One N-API call per sequence. The ISA path (avx512 / avx2 / generic) is picked at load time from the CPU;
 * `EGRU_ISA=generic|avx2|avx512` forces one, `EGRU_THREADS=n` sets the thread count (default: hardware
 * threads). The forward of several samples splits the batch, or the units when Rk is over 1 MiB; one sample runs on one
 * thread. The backward splits the units when N·3H·H ≥ 2·10⁶ or Rk is at least 512 KiB (one sample too).
 */
import { loadNative } from '../native/load.ts';
import type {
  EgruCache,
  EgruForwardOptions,
  EgruForwardResult,
  EgruGrads,
  EgruInputLists,
  EgruKernel,
  EgruLayerParams,
  EgruUpstream,
  Float,
} from './types.ts';

interface EgruAddon {
  /** With `wantLists`: the input lists the forward built (null: x too dense to list); else undefined. */
  forward(args: Record<string, unknown>): EgruInputLists | null | undefined;
  backward(args: Record<string, unknown>): void;
  isa(): string;
  supportedIsas(): string[];
  setIsa(name: string): boolean;
  threads(): number;
  setThreads(n: number, force?: boolean): number;
  threadsForced(): boolean;
  sumRows(M: Float32Array, cols: number, idx: Int32Array): number;
  fmaLoop(iters: number): number;
  tuneAllocator(): string;
  dataAlignment(buffer: ArrayBuffer): number;
  poolTime(src: Float32Array, T: number, N: number, H: number, lengths: Int32Array, mode: number, out: Float32Array): void;
  poolTimeBackward(dm: Float32Array, T: number, N: number, H: number, lengths: Int32Array, mode: number, dSrc: Float32Array): void;
  sumValid(a: Float32Array, T: number, N: number, H: number, lengths: Int32Array): number;
  adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, b1: number, b2: number, eps: number, stepSize: number, sqrtC2: number, decay: number): void;
  sumSquares(g: Float32Array): number;
}

/**
 * The addon's whole-array float32 operations of the model and the trainer (core/egru/native/egru_model_ops.cc):
 * time reductions for core/model/readout.ts (pooling mode 0 mean, 1 ramp, 2 last) and the Adam step and squared
 * gradient norm for core/train/adam.ts. Each has a TypeScript reference there, equal to the bit.
 */
export type NativeModelOps = Pick<EgruAddon, 'poolTime' | 'poolTimeBackward' | 'sumValid' | 'adamUpdate' | 'sumSquares'>;

let modelOps: NativeModelOps | null | undefined;

/** The native model/trainer operations, or null when the addon is unavailable. */
export function nativeModelOps(): NativeModelOps | null {
  if (modelOps === undefined) {
    const a = nativeEgruUnavailableReason() ? null : addon();
    modelOps = a && typeof a.poolTime === 'function' && typeof a.adamUpdate === 'function' ? a : null;
  }
  return modelOps;
}

/** nativeModelOps() when every array is a Float32Array (the ops are float32-only), else null: the caller's TypeScript
 * reference then runs (float64 models, gradient checks, no addon). */
export function nativeModelOpsFor(...arrays: Float[]): NativeModelOps | null {
  return arrays.every((a) => a instanceof Float32Array) ? nativeModelOps() : null;
}

/** Backward options of the native kernels: the contract's `EgruForwardOptions` (its `inputGrad` included). */
export type NativeBackwardOptions = EgruForwardOptions<Float32Array>;

export interface NativeEgru {
  sparse: EgruKernel<Float32Array>;
  dense: EgruKernel<Float32Array>;
  /** The instruction-set path in use: 'avx512' | 'avx2' | 'generic'. */
  isa: string;
}

function addon(): EgruAddon | null {
  return loadNative<EgruAddon>('egru_native').addon;
}

/** Why the native kernels are not available (null when they are). */
export function nativeEgruUnavailableReason(): string | null {
  const { addon: a, reason } = loadNative<EgruAddon>('egru_native');
  if (reason) return reason;
  if (!a || typeof a.forward !== 'function') return 'build/Release/egru_native.node has no EGRU kernels (placeholder build)';
  return null;
}

/** ISA paths this CPU can run, best first (empty when the addon is unavailable). */
export function nativeEgruIsas(): string[] {
  return nativeEgruUnavailableReason() ? [] : addon()!.supportedIsas();
}

/**
 * Benchmark helper: the sum of rows `idx` of the row-major matrix M (`cols` floats per row), read by a plain
 * vectorised native loop: the memory cost of the rows a sparse product needs, without the product (bench/egru.ts
 * prints it as the row-read bound). Indices are checked (RangeError). Null when the addon is unavailable.
 */
export function nativeSumRows(M: Float32Array, cols: number, idx: Int32Array): number | null {
  return nativeEgruUnavailableReason() ? null : addon()!.sumRows(M, cols, idx);
}

/**
 * Benchmark helper: runs `iters` rounds of the active ISA path's register-only vector multiply-add loop (twelve
 * independent chains) and returns the floating-point operations it executed; FLOPs ÷ time is one core's arithmetic
 * peak. Null when the addon is unavailable.
 */
export function nativeFmaLoop(iters: number): number | null {
  return nativeEgruUnavailableReason() ? null : addon()!.fmaLoop(iters);
}

/** Switches the ISA path for all native kernels of this process; false when the CPU lacks it. */
export function setNativeEgruIsa(isa: string): boolean {
  return nativeEgruUnavailableReason() ? false : addon()!.setIsa(isa);
}

/**
 * Sets the thread count of the native kernels called from THIS JS thread (1..256; the default is EGRU_THREADS, else
 * the hardware threads); returns the count in effect. Calls still run on one thread where more would not pay (one
 * sample; a backward with few recurrent MACs per step, whose per-step barriers would cost more than the work) unless
 * `force` is set (tests of the threaded code paths at small sizes), and while another JS thread's call holds the
 * kernels' thread pool (data-parallel shards then each run on their own core instead of queueing).
 */
export function setNativeEgruThreads(n: number, force = false): number {
  return nativeEgruUnavailableReason() ? 1 : addon()!.setThreads(n, force);
}

/** Runs `fn` with this JS thread's native kernels on `n` threads, then restores the previous setting. */
export function withNativeEgruThreads<R>(n: number, fn: () => R): R {
  if (nativeEgruUnavailableReason()) return fn();
  const a = addon()!;
  const prev = a.threads();
  const prevForce = a.threadsForced();
  a.setThreads(n);
  try {
    return fn();
  } finally {
    a.setThreads(prev, prevForce);
  }
}

function checkLength(what: string, arr: ArrayLike<number> | undefined, expected: number): void {
  if (arr && arr.length !== expected) throw new RangeError(`EGRU native: ${what} has ${arr.length} elements, expected ${expected}`);
}

function requireF32(what: string, arr: unknown): void {
  if (arr !== undefined && !(arr instanceof Float32Array)) throw new TypeError(`EGRU native: ${what} must be a Float32Array`);
}

function checkCall(p: EgruLayerParams<Float32Array>, x: Float32Array, T: number, N: number, opts: EgruForwardOptions<Float32Array>): void {
  if (!(Number.isInteger(T) && T >= 0 && Number.isInteger(N) && N >= 0)) throw new RangeError(`EGRU native: bad T=${T} N=${N}`);
  const C = p.inputSize;
  const H = p.hiddenSize;
  if (!(Number.isInteger(C) && C >= 0 && Number.isInteger(H) && H >= 0)) throw new RangeError(`EGRU native: bad C=${C} H=${H}`);
  for (const [k, v] of [['x', x], ['kernel', p.kernel], ['recurrentKernel', p.recurrentKernel], ['bias', p.bias],
    ['recurrentBias', p.recurrentBias], ['theta', p.theta], ['y0', opts.y0]] as const) requireF32(k, v);
  checkLength('x [T,N,C]', x, T * N * C);
  checkLength('kernel [C,3H]', p.kernel, C * 3 * H);
  checkLength('recurrentKernel [H,3H]', p.recurrentKernel, H * 3 * H);
  checkLength('bias [3H]', p.bias, 3 * H);
  checkLength('recurrentBias [3H]', p.recurrentBias, 3 * H);
  checkLength('theta [H]', p.theta, H);
  checkLength('y0 [N,H]', opts.y0, N * H);
  const z = opts.zoneout ?? 0;
  if (!(z >= 0 && z < 1)) throw new RangeError(`EGRU native: zoneout p=${z} must be in [0, 1)`);
  if (z > 0 && opts.training) {
    if (!(opts.zoneoutMask instanceof Uint8Array)) throw new RangeError('EGRU native: training with zoneout needs zoneoutMask [T,N,H] (Uint8Array)');
    checkLength('zoneoutMask [T,N,H]', opts.zoneoutMask, T * N * H);
  }
}

function zoneArgs(opts: EgruForwardOptions<Float32Array>): Record<string, unknown> {
  const zoneout = opts.zoneout ?? 0;
  return { zoneout, training: opts.training ?? false, mask: zoneout > 0 && opts.training ? opts.zoneoutMask : null };
}

let poisonOutputs = false;

/**
 * Tests only: fill every result array with NaN before the kernel writes it, so that an element a kernel path fails
 * to write shows up as NaN instead of stale heap contents (see `outputArray`). Returns the previous setting.
 */
export function poisonNativeOutputs(on: boolean): boolean {
  const prev = poisonOutputs;
  poisonOutputs = on;
  return prev;
}

/**
 * A result array that the kernel overwrites completely (every y, c, o, tr and cache element; every gradient): taken
 * without zero-filling from its own ArrayBuffer (Buffer.allocUnsafeSlow: never the shared pool, so `.buffer` can be
 * transferred). With the addon's allocator setting (tuneAllocator in egru_native.cc) freed blocks are reused from
 * the heap instead of being mapped and page-faulted afresh: 9 fresh 3.3 MB arrays cost 9 ms zeroed, ~0.2-0.5 ms so.
 * The array starts at a 64-byte boundary inside a buffer 64 bytes longer (the heap hands out 16-byte-aligned blocks):
 * the kernels' vector stores and the backward's loads of the cache then never span two cache lines (measured in one
 * process, N = 16: forward+backward 1.02-1.03× faster, the H = 512 forward 1.04-1.08×). Its byteOffset is then 0-48.
 */
function outputArray(n: number): Float32Array {
  if (n === 0) return new Float32Array(0);
  const b = Buffer.allocUnsafeSlow(n * 4 + 64);
  const ad = addon()!;
  const mod = typeof ad.dataAlignment === 'function' ? ad.dataAlignment(b.buffer) : 0; // a stale build lacks the probe
  const a = new Float32Array(b.buffer, mod % 4 === 0 ? (64 - mod) % 64 : 0, n);
  if (poisonOutputs) a.fill(NaN);
  return a;
}

/** Tests and benches: the address of a's first element modulo 64 (its cache-line offset); null without the addon or for
 * a SharedArrayBuffer view. */
export function nativeDataAlignment(a: ArrayBufferView): number | null {
  if (nativeEgruUnavailableReason() || !(a.buffer instanceof ArrayBuffer)) return null;
  return (addon()!.dataAlignment(a.buffer) + a.byteOffset) % 64;
}

function makeKernel(a: EgruAddon, sparse: boolean): EgruKernel<Float32Array> {
  return {
    name: sparse ? 'native-sparse' : 'native-dense',
    forward(p, x, T, N, opts = {}): EgruForwardResult<Float32Array> {
      checkCall(p, x, T, N, opts);
      const H = p.hiddenSize;
      const TNH = T * N * H;
      const keep = opts.keepCache ?? opts.training ?? false;
      const y = outputArray(TNH);
      const c = outputArray(TNH);
      const o = outputArray(TNH);
      const tr = outputArray(TNH);
      const cache: EgruCache<Float32Array> | null = keep
        ? { u: outputArray(TNH), r: outputArray(TNH), g: outputArray(TNH), qG: outputArray(TNH), s: outputArray(TNH) }
        : null;
      const macs = { executed: new Float64Array(T), dense: new Float64Array(T), activity: new Float64Array(T) };
      // A training forward keeps its lists of x's non-zeros with the cache, so that the backward need not list x again.
      const lists = a.forward({
        T, N, C: p.inputSize, H, gamma: p.gamma, eps: p.eps, sparse,
        x, W: p.kernel, Rk: p.recurrentKernel, bx: p.bias, br: p.recurrentBias, theta: p.theta, y0: opts.y0 ?? null,
        ...zoneArgs(opts),
        y, c, o, tr, ...(cache ?? {}),
        macsExec: macs.executed, macsDense: macs.dense, activity: macs.activity,
        wantLists: cache !== null && sparse,
      });
      if (cache && lists) cache.inputLists = lists;
      return { T, N, H, y, c, o, tr, cache, macs };
    },
    backward(p, x, fwd, up: EgruUpstream<Float32Array>, opts: NativeBackwardOptions = {}): EgruGrads<Float32Array> {
      const { T, N } = fwd;
      checkCall(p, x, T, N, opts);
      if (!fwd.cache) throw new Error('EGRU native backward: the forward result has no cache (run forward with keepCache or training)');
      const C = p.inputSize;
      const H = p.hiddenSize;
      const TNH = T * N * H;
      for (const k of ['dy', 'dc', 'do', 'dtr'] as const) {
        requireF32(`upstream ${k}`, up[k]);
        checkLength(`upstream ${k} [T,N,H]`, up[k], TNH);
      }
      for (const k of ['y', 'c', 'o'] as const) checkLength(`forward ${k} [T,N,H]`, fwd[k], TNH);
      const g: EgruGrads<Float32Array> = {
        dKernel: outputArray(C * 3 * H),
        dRecurrentKernel: outputArray(H * 3 * H),
        dBias: outputArray(3 * H),
        dRecurrentBias: outputArray(3 * H),
        dTheta: outputArray(H),
        dX: outputArray(opts.inputGrad === false ? 0 : T * N * C),
        dY0: outputArray(N * H),
        macs: { executed: new Float64Array(T), dense: new Float64Array(T), backwardSparsity: new Float64Array(T) },
      };
      a.backward({
        T, N, C, H, gamma: p.gamma, eps: p.eps, sparse,
        x, W: p.kernel, Rk: p.recurrentKernel, theta: p.theta, y0: opts.y0 ?? null,
        ...zoneArgs(opts),
        y: fwd.y, c: fwd.c, o: fwd.o, ...fwd.cache,
        dy: up.dy ?? null, dc: up.dc ?? null, do: up.do ?? null, dtr: up.dtr ?? null,
        dW: g.dKernel, dRk: g.dRecurrentKernel, dbx: g.dBias, dbr: g.dRecurrentBias, dtheta: g.dTheta, dY0: g.dY0,
        dX: opts.inputGrad === false ? null : g.dX,
        macsExec: g.macs.executed, macsDense: g.macs.dense, bwdSparsity: g.macs.backwardSparsity,
      });
      return g;
    },
  };
}

let kernels: NativeEgru | null | undefined;

/**
 * The native sparse and dense kernels, or null when the addon did not build/load
 * (see `nativeEgruUnavailableReason()`; callers then use the TypeScript reference).
 */
export function loadNativeEgru(): NativeEgru | null {
  if (kernels !== undefined) {
    if (kernels) kernels.isa = addon()!.isa();
    return kernels;
  }
  if (nativeEgruUnavailableReason()) {
    kernels = null;
    return null;
  }
  const a = addon()!;
  allocatorSetting = process.env.EGRU_MALLOC_TUNE === '0' ? 'defaults kept (EGRU_MALLOC_TUNE=0)' : a.tuneAllocator();
  kernels = { sparse: makeKernel(a, true), dense: makeKernel(a, false), isa: a.isa() };
  return kernels;
}

let allocatorSetting: string | null = null;

/** What loading the native kernels did to the process's malloc settings (null before they are loaded). */
export function nativeAllocatorSetting(): string | null {
  return allocatorSetting;
}
