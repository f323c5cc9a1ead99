/**
 * Dataset specs: JSON descriptions of where training data comes from, so a training job can be started in a
 * worker thread (which must open its own dataset) and recorded in a bundle's provenance.
 *
 *   { kind: 'smnist', options: { trainSamples: 500 } }         a built-in dataset
 *   { kind: 'dir', options: { path: '/data/DVSGesture' } }     a folder, opened by the first loader that claims it
 *   { module: 'file:///…/my-data.ts', export: 'default', options }  any module exporting a DatasetFactory
 */
import { statSync } from 'node:fs';
import type { DatasetSplits } from '../dataset.ts';

export type DatasetFactory = (options: any) => DatasetSplits | Promise<DatasetSplits>;

export type DatasetSpec =
  | { kind: string; options?: Record<string, unknown> }
  | { module: string; export?: string; options?: Record<string, unknown> };

const BUILTIN: Record<string, () => Promise<DatasetFactory>> = {
  smnist: async () => (await import('./smnist.ts')).smnistDataset,
  synthetic: async () => (await import('./synthetic.ts')).syntheticDataset,
};

/**
 * Loaders for dataset folders (`egru train --dataset DIR`). The DVS128 Gesture / tonic / recordings loaders
 * belong here: `detect` answers cheaply whether a folder is theirs; `open` builds the splits. Add them to this
 * array literally (or to BUILTIN above) rather than pushing at run time from elsewhere: training runs in a worker
 * thread, which only sees what this module itself contains (or modules passed as `WorkerOptions.register`).
 */
export interface DirDatasetLoader {
  name: string;
  detect(dir: string): boolean | Promise<boolean>;
  open(dir: string, options: Record<string, unknown>): DatasetSplits | Promise<DatasetSplits>;
}
export const DIR_DATASET_LOADERS: DirDatasetLoader[] = [];

/** Names accepted as `kind`. */
export function builtinDatasetNames(): string[] {
  return [...Object.keys(BUILTIN), 'dir'];
}

/** True when `name` names a dataset by itself (`smnist`, …), i.e. a `kind` other than 'dir', which needs a folder. */
export function isBuiltinDataset(name: string): boolean {
  return Object.hasOwn(BUILTIN, name);
}

/** Opens the dataset a spec describes. Throws an Error naming the spec when nothing matches. */
export async function openDataset(spec: DatasetSpec): Promise<DatasetSplits> {
  if ('module' in spec) {
    const mod = (await import(spec.module)) as Record<string, unknown>;
    const f = mod[spec.export ?? 'default'];
    if (typeof f !== 'function') throw new Error(`dataset module ${spec.module} has no function export '${spec.export ?? 'default'}'`);
    return await (f as DatasetFactory)(spec.options ?? {});
  }
  if (spec.kind === 'dir') {
    const dir = spec.options?.path;
    if (typeof dir !== 'string') throw new Error("dataset spec { kind: 'dir' } needs options.path");
    if (!statSync(dir).isDirectory()) throw new Error(`dataset ${dir} is not a directory`);
    // The event-recording loaders (DVS128 Gesture, tonic, own recordings) register themselves on import; importing
    // here, not at the top, keeps this module light for built-in datasets and lets a worker thread see them too.
    await import('./event-dirs.ts');
    for (const l of DIR_DATASET_LOADERS) {
      if (await l.detect(dir)) return await l.open(dir, spec.options ?? {});
    }
    throw new Error(`no dataset loader recognises ${dir} (known: ${DIR_DATASET_LOADERS.map((l) => l.name).join(', ') || 'none registered'})`);
  }
  const get = BUILTIN[spec.kind];
  if (!get) throw new Error(`unknown dataset '${spec.kind}' (known: ${builtinDatasetNames().join(', ')}, or a { module } spec)`);
  return await (await get())(spec.options ?? {});
}
