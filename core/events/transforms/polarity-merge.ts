/**
 * Merge the two polarity channels of (T, 2, H, W) frames into one: (T, 1, H, W). To bin straight into one
 * channel (cheaper: no 2-channel intermediate), pass `polarity: 'sum' | 'on-minus-off'` to ToFrame / FrameBinner;
 * this transform is for frames that already exist, and adds 'mean' (EvNN's DVS-gesture `--event-agg-method mean`).
 */
import type { FrameStack } from './types.ts';

/** 'sum': OFF + ON; 'mean': (OFF + ON) / 2; 'on-minus-off': ON − OFF. */
export type MergeMode = 'sum' | 'mean' | 'on-minus-off';

/** Kernel: one-channel copy of a two-channel stack (into `out` when it is large enough). */
export function mergePolarityFrames(frames: FrameStack, mode: MergeMode, out?: Float32Array): FrameStack {
  if (frames.channels !== 2) throw new RangeError(`polarity merge needs 2 channels (OFF, ON), got ${frames.channels}`);
  const cOff = mode === 'on-minus-off' ? -1 : mode === 'mean' ? 0.5 : mode === 'sum' ? 1 : NaN;
  if (Number.isNaN(cOff)) throw new RangeError(`merge mode must be 'sum' | 'mean' | 'on-minus-off', got ${String(mode)}`);
  const cOn = mode === 'mean' ? 0.5 : 1;
  const T = frames.frames, HW = frames.height * frames.width;
  const size = T * HW;
  const data = out && out.length >= size ? out.subarray(0, size) : new Float32Array(size);
  const src = frames.data;
  for (let k = 0; k < T; k++) {
    const a = 2 * k * HW, b = a + HW, d = k * HW;
    for (let j = 0; j < HW; j++) data[d + j] = cOff * src[a + j] + cOn * src[b + j];
  }
  return {
    data, frames: T, channels: 1, height: frames.height, width: frames.width,
    binStart: frames.binStart.slice(), binEnd: frames.binEnd.slice(),
  };
}

export class PolarityMerge {
  readonly name = 'PolarityMerge';
  readonly mode: MergeMode;
  constructor(opts: { mode: MergeMode }) {
    if (opts.mode !== 'sum' && opts.mode !== 'mean' && opts.mode !== 'on-minus-off') {
      throw new RangeError(`merge mode must be 'sum' | 'mean' | 'on-minus-off', got ${String(opts.mode)}`);
    }
    this.mode = opts.mode;
    Object.freeze(this);
  }
  apply(frames: FrameStack, out?: Float32Array): FrameStack {
    return mergePolarityFrames(frames, this.mode, out);
  }
}
