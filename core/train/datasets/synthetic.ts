/**
 * A small synthetic event-sequence task for tests and smoke runs: each class owns a group of input channels,
 * and a sample is a sparse sequence of unit "events" — most of them in its class's channels at random steps,
 * the rest uniform noise anywhere. A model must learn WHERE the events occur. Generated from a seed, so the
 * same options always give the same data.
 */
import { InMemoryDataset } from '../dataset.ts';
import type { DatasetSplits } from '../dataset.ts';
import { Rng } from '../../util/rng.ts';

export interface SyntheticOptions {
  classes?: number;
  /** Input channels per class group (C = classes · channelsPerClass). */
  channelsPerClass?: number;
  steps?: number;
  /** Signal events per sample. */
  events?: number;
  /** Extra uniform noise events per sample. */
  noiseEvents?: number;
  trainSamples?: number;
  testSamples?: number;
  /** Steps vary in [steps/2, steps] per sample when true (exercises padding and masking). */
  variableLength?: boolean;
  seed?: number;
}

export function syntheticDataset(o: SyntheticOptions = {}): DatasetSplits {
  const K = o.classes ?? 2;
  const G = o.channelsPerClass ?? 4;
  const T = o.steps ?? 20;
  const E = o.events ?? 6;
  const noise = o.noiseEvents ?? 2;
  const C = K * G;
  const rng = new Rng(o.seed ?? 7);
  const make = (count: number) => {
    const frames: Float32Array[] = [];
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const y = i % K;
      const len = o.variableLength ? Math.max(2, T - rng.int(Math.floor(T / 2) + 1)) : T;
      const f = new Float32Array(len * C);
      for (let e = 0; e < E; e++) f[rng.int(len) * C + y * G + rng.int(G)] += 1;
      for (let e = 0; e < noise; e++) f[rng.int(len) * C + rng.int(C)] += 1;
      frames.push(f);
      labels[i] = y;
    }
    return { frames, labels };
  };
  const tr = make(o.trainSamples ?? 200);
  const te = make(o.testSamples ?? 100);
  const classNames = Array.from({ length: K }, (_, k) => `group${k}`);
  return {
    train: new InMemoryDataset('synthetic/train', C, classNames, tr.frames, tr.labels),
    test: new InMemoryDataset('synthetic/test', C, classNames, te.frames, te.labels),
    preprocessing: { kind: 'sequence', description: `synthetic: ${K} classes, events in class-specific channel groups of ${G}, ${E} signal + ${noise} noise events`, steps: T, inputSize: C },
    description: `synthetic event groups (K=${K}, C=${C}, T=${T}${o.variableLength ? ' variable' : ''})`,
  };
}

export default syntheticDataset;
