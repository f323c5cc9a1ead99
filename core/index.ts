/**
 * EGRU Studio core: a library usable without the app (no Electron, no DOM).
 *
 *   events   — EventPacket (struct of arrays, t in µs, top-left origin), readers for AEDAT 2/3.1/4, Prophesee
 *              EVT 2/3 and DAT, N-MNIST, CSV (format detected by content), AEDAT 4 and CSV writers, DVS128
 *              Gesture label/trial files, transforms (crop, downsample, flip, denoise, refractory, ToFrame …)
 *   egru     — the EGRU layer: TypeScript reference and native sparse kernels behind one contract, EvNN
 *              parameter import/export, metrics (activity, backward sparsity, executed vs dense MACs), tfjs op
 *   model    — GestureModel and the model bundle (weights + the exact preprocessing + classes + provenance)
 *   train    — datasets, the training loop (in a worker thread), evaluation
 *   sim      — the DVS event simulator and gesture scenes
 *
 * Typical use:
 *   const reader = await openEvents('recording.aedat4');
 *   for await (const packet of reader.packets({ from, to })) { … }
 */
export * from './events/packet.ts';
export { EventFormatError } from './events/errors.ts';
export type { ByteSource } from './events/byte-source.ts';
export { FileByteSource, MemoryByteSource } from './events/byte-source.ts';
export type { EventFileInfo, EventFormat, EventReader, FormatId, ReaderOptions, StreamDescriptor, TimeRange } from './events/reader.ts';
export { filterRange, readAll } from './events/reader.ts';
export { FORMATS, formatById, openEvents } from './events/formats/index.ts';
export { Aedat4Writer, encodeAedat4, type Aedat4Compression, type Aedat4WriteOptions } from './events/writers/aedat4.ts';
export { CsvWriter, encodeCsv } from './events/writers/csv.ts';
export * from './events/labels.ts';
export * as transforms from './events/transforms/index.ts';

export type * from './egru/types.ts';
export { referenceKernel } from './egru/reference.ts';
export { getEgruKernel, activeKernelInfo, nativeEgruStatus, selectEgruKernel, type KernelPreference } from './egru/kernels.ts';
export { createEgruParams, fromEvnnStateDict, toEvnnStateDict, clampTheta, EgruParamsError } from './egru/params.ts';
export { EgruLayer } from './egru/layer.ts';
export { EgruStack } from './egru/stack.ts';
export { EgruMetrics, summarizeForward, summarizeBackward } from './egru/metrics.ts';
export { parseSafetensors, readSafetensorsFile, SafetensorsError } from './io/safetensors.ts';

export { GestureModel } from './model/gesture-model.ts';
export { saveBundle, loadBundle, readBundleMeta, exportEvnnStateDict, importEvnnStateDict, BundleError } from './model/bundle.ts';
export { runTraining, evaluateDataset, type ProgressEvent, type TrainResult } from './train/loop.ts';
export { startTrainingWorker } from './train/worker.ts';

export * as sim from './sim/index.ts';
