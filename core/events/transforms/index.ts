/**
 * Event transforms: small pure kernels over typed arrays, each with a thin wrapper that holds a frozen config
 * (the split tonic makes between `functional/*` and `transforms.py`).
 *
 * CONVENTIONS (stated once here; the other files refer to this block)
 *
 * - Sensor geometry is `{ width, height }` (W columns, H rows), never a tuple. tonic's `sensor_size` is
 *   (W, H, P) while its frames are (T, P, H, W); mixing the two when W ≠ H is a known trap
 *   (genn-team/ml_genn#68). Events use the EventPacket model: x = column, y = row, origin top-left, t in µs,
 *   p = 1 ON / 0 OFF (core/events/packet.ts).
 * - Frames are (T, P, H, W), row-major in one Float32Array (`FrameStack`, ./types.ts):
 *   value(k, c, y, x) = data[((k·P + c)·H + y)·W + x]. P = 2 with channel 0 = OFF and 1 = ON (as tonic), or
 *   P = 1 when polarities are merged ('sum', 'mean', 'on-minus-off'). Values are event counts (exact up to 2^24).
 * - Bins and windows are half-open, [start, end): an event exactly on an edge belongs to the later bin. Time
 *   bins start at an explicit `startTime` — not at the first event, which makes frames of different
 *   recordings (or of live vs offline) drift apart (tonic#264). Edge k is always computed as
 *   startTime + k·window, in batch and streaming alike.
 * - Events outside the declared geometry (x ≥ W or y ≥ H, i.e. corrupt input) are dropped by every kernel that
 *   knows the geometry, never written to a neighbouring row or channel.
 * - Filters return a new packet, or write into an `out` packet the caller provides (capacity ≥ input length;
 *   `out` may be the input itself to filter in place — only then is the input changed). Nothing else mutates
 *   its input.
 * - Stateful filters (refractory, denoise) take an explicit state from `create…State(geometry)`; running a
 *   stream packet by packet with one state gives exactly the result of one call on the whole stream.
 * - Time slicing returns index ranges (use `viewPacket`), never copies.
 */
export type { EventTransform, FrameStack, StatefulEventTransform } from './types.ts';
export { Crop, centerCropBox, cropEvents, type CropBox } from './crop.ts';
export { Downsample, downsampleEvents, downsampleMaps, type DownsampleMaps, type DownsampleSpec } from './downsample.ts';
export { Flip, flipEvents, type FlipAxes } from './flip.ts';
export { PolarityMerge, mergePolarityFrames, type MergeMode } from './polarity-merge.ts';
export {
  RefractoryFilter, createRefractoryState, refractoryFilter, type RefractoryRestart, type RefractoryState,
} from './refractory.ts';
export { DenoiseFilter, createDenoiseState, denoiseFilter, type DenoiseState } from './denoise.ts';
export {
  SliceByCount, SliceByTime, sliceByCount, sliceByTime, type CountSliceOptions, type SliceRanges, type TimeSliceOptions,
} from './slice.ts';
export {
  ToFrame, toFrame, type ByBins, type ByCount, type ByTime, type PolarityMode, type ToFrameOptions,
} from './to-frame.ts';
export { FrameBinner, type FrameBinnerOptions, type FrameSink } from './frame-binner.ts';
