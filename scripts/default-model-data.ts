/**
 * Dataset factory of the shipped default model (`npm run train:default`): training windows from one simulated
 * folder, held-out test windows from ANOTHER folder simulated with a different seed (new people, rooms, lighting
 * and sensor biases). Used as a `{ module, export: 'defaultModelDataset' }` dataset spec, so the training worker
 * opens exactly the same data as the script.
 *
 * Both folders go through `openEventDir` and therefore through THE preprocessing (core/train/datasets/preprocess.ts)
 * with the same settings, which end up in the bundle.
 */
import type { EventFramesPreprocessing } from '../core/train/datasets/preprocess.ts';
import type { EventDirSplits } from '../core/train/datasets/event-dirs.ts';
import { openEventDir } from '../core/train/datasets/event-dirs.ts';
import type { DatasetSplits } from '../core/train/dataset.ts';

export interface DefaultModelDataOptions {
  trainDir: string;
  testDir: string;
  preprocessing: EventFramesPreprocessing;
  /** Preprocessed-window cache folder (null: in memory). */
  cacheDir: string | null;
  /** In-process callers only: preprocessing progress. */
  onProgress?: (done: number, total: number, id: string) => void;
}

/** Train = every recording of `trainDir`; test = every recording of `testDir` (never seen in training). */
export async function defaultModelDataset(o: DefaultModelDataOptions): Promise<DatasetSplits & { trainSplits: EventDirSplits; testSplits: EventDirSplits }> {
  const common = { preprocessing: o.preprocessing, cacheDir: o.cacheDir, onProgress: o.onProgress };
  const trainSplits = await openEventDir(o.trainDir, common);
  const testSplits = await openEventDir(o.testDir, common);
  // A folder of plain recordings has everything in `train`; a DVS-layout folder may also carry a test list.
  if (trainSplits.test) throw new Error(`${o.trainDir} has a test split; the default model trains on a folder of training subjects only`);
  const test = testSplits.test ?? testSplits.train;
  return {
    train: trainSplits.train,
    test,
    preprocessing: trainSplits.preprocessing,
    description: `train: ${trainSplits.description}; held-out test: ${testSplits.description}`,
    trainSplits,
    testSplits,
  };
}
