/**
 * EGRU kernel selection: the native sparse/dense addon when it loads (core/egru/native.ts), otherwise the
 * TypeScript reference — always with a reason a user can read (`activeKernelInfo`).
 *
 * The native wrapper is imported defensively at module load (top-level await): if the file is missing, fails to
 * import, or its addon is not built, everything still works on the reference and the reason says why.
 * `EGRU_KERNEL=reference|reference-dense|native|native-dense` overrides the default choice.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EgruKernel } from './types.ts';
import { referenceDenseKernel, referenceKernel } from './reference.ts';

export type KernelPreference = 'native' | 'native-dense' | 'reference' | 'reference-dense';

interface NativeEgru {
  sparse: EgruKernel<Float32Array>;
  dense: EgruKernel<Float32Array>;
  isa: string;
}

function isKernel(k: unknown): k is EgruKernel<Float32Array> {
  const o = k as EgruKernel<Float32Array> | null;
  return !!o && typeof o.forward === 'function' && typeof o.backward === 'function' && typeof o.name === 'string';
}

/** Finds the module's explanation for a null load: any export whose name contains "reason" (string or function). */
function reasonFrom(mod: Record<string, unknown>): string | null {
  for (const [k, v] of Object.entries(mod)) {
    if (!/reason/i.test(k)) continue;
    if (typeof v === 'string') return v;
    if (typeof v === 'function') {
      try {
        const r = (v as () => unknown)();
        if (typeof r === 'string') return r;
      } catch {
        /* ignore: fall through to the generic reason */
      }
    }
  }
  return null;
}

async function loadNative(): Promise<{ native: NativeEgru | null; reason: string }> {
  if (process.env.EGRU_NO_NATIVE === '1') return { native: null, reason: 'native kernels disabled by EGRU_NO_NATIVE=1' };
  const url = new URL('./native.ts', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return { native: null, reason: 'core/egru/native.ts is not present' };
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    return { native: null, reason: `core/egru/native.ts failed to import: ${(e as Error).message.split('\n')[0]}` };
  }
  if (typeof mod.loadNativeEgru !== 'function') return { native: null, reason: 'core/egru/native.ts has no loadNativeEgru()' };
  let got: unknown;
  try {
    got = (mod.loadNativeEgru as () => unknown)();
  } catch (e) {
    return { native: null, reason: `loadNativeEgru() threw: ${(e as Error).message.split('\n')[0]}` };
  }
  const n = got as NativeEgru | null;
  if (!n) return { native: null, reason: reasonFrom(mod) ?? 'the egru_native addon is not available' };
  if (!isKernel(n.sparse) || !isKernel(n.dense)) return { native: null, reason: 'loadNativeEgru() returned no usable kernels' };
  return { native: { sparse: n.sparse, dense: n.dense, isa: String(n.isa ?? 'unknown') }, reason: `native addon loaded (${n.isa})` };
}

const loaded = await loadNative();

function defaultPreference(): KernelPreference {
  const env = process.env.EGRU_KERNEL;
  if (env === 'native' || env === 'native-dense' || env === 'reference' || env === 'reference-dense') return env;
  return 'native';
}

/** The kernel for a preference, plus why it (and not the preferred one) was chosen. */
export function selectEgruKernel(pref: KernelPreference = defaultPreference()): { kernel: EgruKernel<Float32Array>; reason: string } {
  if (pref === 'reference') return { kernel: referenceKernel, reason: 'reference requested' };
  if (pref === 'reference-dense') return { kernel: referenceDenseKernel, reason: 'dense reference requested' };
  if (!loaded.native) return { kernel: referenceKernel, reason: `fell back to the TypeScript reference: ${loaded.reason}` };
  const kernel = pref === 'native-dense' ? loaded.native.dense : loaded.native.sparse;
  return { kernel, reason: loaded.reason };
}

/** The EGRU kernel to use (float32). Default: native sparse when available, else the reference. */
export function getEgruKernel(pref?: KernelPreference): EgruKernel<Float32Array> {
  return selectEgruKernel(pref).kernel;
}

/** Name and reason of the kernel `getEgruKernel()` returns by default. */
export function activeKernelInfo(): { name: string; reason: string } {
  const { kernel, reason } = selectEgruKernel();
  return { name: kernel.name, reason };
}

/** Whether the native addon loaded, its ISA string, and the reason. */
export function nativeEgruStatus(): { available: boolean; isa: string | null; reason: string } {
  return { available: loaded.native !== null, isa: loaded.native?.isa ?? null, reason: loaded.reason };
}
