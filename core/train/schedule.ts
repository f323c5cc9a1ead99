/** Learning-rate schedules, as pure functions of the optimiser step (so a resumed run continues exactly). */

export type LrSchedule =
  | { kind: 'constant' }
  /** lr · gamma^floor(epoch / everyEpochs) (PyTorch StepLR; DVS recipe: ×0.8747 every 56 epochs). */
  | { kind: 'step'; everyEpochs: number; gamma: number }
  /** Cosine annealing from lr to minLr over all steps, after `warmupSteps` of linear warm-up. */
  | { kind: 'cosine'; minLr: number; warmupSteps: number };

/** Learning rate at optimiser step `step` (0-based) of `totalSteps`, `stepsPerEpoch` steps per epoch. */
export function learningRate(s: LrSchedule, baseLr: number, step: number, stepsPerEpoch: number, totalSteps: number): number {
  switch (s.kind) {
    case 'constant':
      return baseLr;
    case 'step': {
      const epoch = Math.floor(step / Math.max(1, stepsPerEpoch));
      return baseLr * Math.pow(s.gamma, Math.floor(epoch / Math.max(1, s.everyEpochs)));
    }
    case 'cosine': {
      if (step < s.warmupSteps) return (baseLr * (step + 1)) / s.warmupSteps;
      const span = Math.max(1, totalSteps - s.warmupSteps);
      const p = Math.min(1, (step - s.warmupSteps) / span);
      return s.minLr + 0.5 * (baseLr - s.minLr) * (1 + Math.cos(Math.PI * p));
    }
  }
}

/** Validates a schedule read from a config file. */
export function checkSchedule(s: LrSchedule): LrSchedule {
  if (s.kind === 'constant') return s;
  if (s.kind === 'step') {
    if (!(s.everyEpochs >= 1) || !(s.gamma > 0)) throw new RangeError(`step schedule needs everyEpochs ≥ 1 and gamma > 0, got ${JSON.stringify(s)}`);
    return s;
  }
  if (s.kind === 'cosine') {
    if (!(s.minLr >= 0) || !(s.warmupSteps >= 0)) throw new RangeError(`cosine schedule needs minLr ≥ 0 and warmupSteps ≥ 0, got ${JSON.stringify(s)}`);
    return s;
  }
  throw new RangeError(`unknown LR schedule ${JSON.stringify(s)}`);
}
