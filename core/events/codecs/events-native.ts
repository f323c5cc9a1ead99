/**
 * The `events_native` addon's record decoders and frame-binning kernels, and the one switch that selects them or
 * their TypeScript references.
 *
 * Every native kernel has a readable TypeScript twin (aedat2.ts, dat.ts, aedat3.ts, evt2.ts, evt3.ts,
 * transforms/to-frame.ts, transforms/frame-binner.ts); tests run both on the same inputs and hold them equal.
 * The native path is on when the addon loads and exports the kernels, unless `EGRU_EVENTS_NATIVE=0` (or
 * `EGRU_NO_NATIVE=1`, which skips every addon) is set: then only the references run. `setEventsNative(false)`
 * switches to the references at run time (tests, benchmarks compare both in one process); readers sample the
 * switch when a `packets()` pass starts.
 *
 * Kernel calling convention (see events_native.cc): input (bytes or words, start, end), a Float64Array of running
 * state the caller owns (so input may split anywhere), then the packet columns, the first index to write and the
 * room left. The return value is the number of events written; the position reached comes back in the state array.
 * A negative return means a wrong argument (a programming error, never bad file data).
 */
import { eventsNative, type EventsNativeAddon } from './lz4-native.ts';

/** Decode and binning kernels of the addon (abi ≥ 2). */
export interface EventsKernels extends EventsNativeAddon {
  aedat2Decode(bytes: Uint8Array, pos: number, end: number, state: Float64Array, mode: number,
    x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, outOffset: number, maxEvents: number): number;
  datDecode(bytes: Uint8Array, pos: number, end: number, state: Float64Array,
    x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, outOffset: number, maxEvents: number): number;
  aedat3Decode(bytes: Uint8Array, pos: number, end: number, state: Float64Array,
    x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, outOffset: number, maxEvents: number): number;
  evt2Decode(words: Uint32Array, i: number, end: number, state: Float64Array,
    x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, outOffset: number, maxEvents: number): number;
  evt3Decode(words: Uint16Array, i: number, end: number, state: Float64Array,
    x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, outOffset: number, maxEvents: number): number;
  binByTime(x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, n: number, data: Float32Array,
    start: number, width: number, T: number, last: number, W: number, H: number, P: number,
    onOffset: number, offValue: number, onDelta: number): number;
  binWindow(x: Uint16Array, y: Uint16Array, t: Float64Array, p: Uint8Array, n: number, frame: Float32Array,
    i0: number, lo: number, hi: number, W: number, H: number, onOffset: number, offValue: number, onDelta: number): number;
}

const loaded: EventsKernels | null =
  eventsNative && typeof (eventsNative as Partial<EventsKernels>).evt3Decode === 'function' &&
  typeof (eventsNative as Partial<EventsKernels>).binWindow === 'function'
    ? (eventsNative as EventsKernels)
    : null;

const disabledByEnv = process.env.EGRU_EVENTS_NATIVE === '0';

/** The kernels that may be switched on: none when the addon lacks them or the environment turns them off. */
const usable: EventsKernels | null = disabledByEnv ? null : loaded;

let active: EventsKernels | null = usable;

/** Why the native kernels are not active, or null when they are. */
export function eventsNativeReason(): string | null {
  if (active) return null;
  if (!eventsNative) return 'events_native addon not loaded';
  if (!loaded) return 'events_native has no decode kernels (stale build: run node-gyp build)';
  if (disabledByEnv) return 'disabled by EGRU_EVENTS_NATIVE=0';
  return 'switched off by setEventsNative(false)';
}

/** The active kernels, or null when the TypeScript references run. */
export function eventsKernels(): EventsKernels | null {
  return active;
}

/**
 * True when the native kernels can run: the addon has them and `EGRU_EVENTS_NATIVE=0` is not set (that variable
 * is a hard off switch: with it, every path below is the TypeScript reference, whatever `setEventsNative` says).
 */
export const eventsNativeAvailable = usable !== null;

/**
 * Selects the native kernels (`true`, only when available) or the TypeScript references (`false`); returns the
 * previous setting. Readers take the setting when a `packets()` pass starts.
 */
export function setEventsNative(on: boolean): boolean {
  const was = active !== null;
  active = on ? usable : null;
  return was;
}

/** 'native' or 'typescript': which decode path a reader opened now would take. */
export function eventsPath(): 'native' | 'typescript' {
  return active ? 'native' : 'typescript';
}

/** Throws for a negative kernel return (wrong argument types or bounds: a bug in the caller, not in the data). */
export function checkKernel(n: number, what: string): number {
  if (n < 0) throw new Error(`events_native ${what}: bad arguments (code ${n})`);
  return n;
}
