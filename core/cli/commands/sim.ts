/** `egru sim`: generate a simulated DVS128-Gesture-like dataset (events + labels + split lists). */
import { mkdir } from 'node:fs/promises';
import type { Command } from '../command.ts';
import { UsageError, parseArgs } from '../command.ts';
import { DVS_GESTURE_CLASSES } from '../../events/labels.ts';
import type { Aedat4Compression } from '../../events/writers/aedat4.ts';
import { LIGHTING_NAMES, isLightingName, type LightingName } from '../../sim/scene.ts';
import { planDataset, type SimDatasetOptions } from '../../sim/dataset.ts';
import { SimulationCancelled, generateDataset } from '../../sim/output.ts';

const USAGE = `usage: egru sim --out DIR --seed S --subjects K [options]

Simulates people performing the 11 DVS128 Gesture classes in front of a 128×128 DVS and writes the
dataset in the DVS128 Gesture layout: userNN_<lighting>.aedat4, userNN_<lighting>_labels.csv (classes
1..11), trials_to_train.txt / trials_to_test.txt (with --test-subjects), simulation.json.
The same options and seed give byte-identical files; a new seed gives new people, rooms, lighting and
sensor biases. Ctrl-C stops cleanly: only complete files remain.

  --out DIR                    output folder (created if needed)
  --seed S                     integer seed (default 1)
  --subjects K                 number of people, 1..99 (default 8)
  --classes 0,1,…              0-based classes to perform (default all: 0..10)
  --lighting a,b,…             lighting of every subject's trials, from: ${LIGHTING_NAMES.join(', ')}
                               (default: --trials-per-subject random ones per subject)
  --trials-per-subject N       default 1
  --repeats R                  times each class is performed per trial (default 1)
  --duration-per-gesture-s D   mean gesture length in s (default 6)
  --test-subjects M            the last M subjects form the test split (default 0: no split files)
  --step-us U                  largest simulation step in µs (default 2000; steps adapt to motion)
  --compression C              none | lz4 | zstd (default lz4)
  --dry-run                    print the trial plan and exit`;

function int(flags: Record<string, string | true>, k: string, def: number): number {
  const v = flags[k];
  if (v === undefined) return def;
  if (v === true || !/^-?\d+$/.test(v)) throw new UsageError(`--${k} needs an integer`);
  return Number(v);
}

function num(flags: Record<string, string | true>, k: string, def: number): number {
  const v = flags[k];
  if (v === undefined) return def;
  const n = Number(v);
  if (v === true || !Number.isFinite(n)) throw new UsageError(`--${k} needs a number`);
  return n;
}

export const simCommand: Command = {
  name: 'sim',
  summary: 'generate a simulated DVS128-Gesture-like dataset (events, labels, splits)',
  usage: USAGE,
  async run(args) {
    const { flags, positional } = parseArgs(args, ['dry-run']);
    if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}'`);
    const known = new Set(['out', 'seed', 'subjects', 'classes', 'lighting', 'trials-per-subject', 'repeats', 'duration-per-gesture-s', 'test-subjects', 'step-us', 'compression', 'dry-run']);
    for (const k of Object.keys(flags)) if (!known.has(k)) throw new UsageError(`unknown option --${k}`);
    const out = flags.out;
    if (typeof out !== 'string' || out === '') throw new UsageError('--out DIR is required');
    let classes: number[] | undefined;
    if (typeof flags.classes === 'string') {
      classes = flags.classes.split(',').map((s) => {
        if (!/^\d+$/.test(s.trim())) throw new UsageError(`--classes: '${s}' is not a class index 0..10`);
        return Number(s.trim());
      });
    }
    let lighting: LightingName[] | undefined;
    if (typeof flags.lighting === 'string') {
      lighting = flags.lighting.split(',').map((s) => {
        const n = s.trim();
        if (!isLightingName(n)) throw new UsageError(`--lighting: '${n}' is not one of ${LIGHTING_NAMES.join(', ')}`);
        return n;
      });
    }
    const compression = (flags.compression ?? 'lz4') as Aedat4Compression;
    if (!['none', 'lz4', 'zstd'].includes(compression)) throw new UsageError('--compression must be none, lz4 or zstd');
    const opts: SimDatasetOptions = {
      seed: int(flags, 'seed', 1),
      subjects: int(flags, 'subjects', 8),
      classes,
      lighting,
      trialsPerSubject: int(flags, 'trials-per-subject', 1),
      repeats: int(flags, 'repeats', 1),
      durationPerGestureS: num(flags, 'duration-per-gesture-s', 6),
      testSubjects: int(flags, 'test-subjects', 0),
      stepUs: int(flags, 'step-us', 2000),
    };
    let specs;
    try {
      specs = planDataset(opts);
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
    if (flags['dry-run']) {
      for (const s of specs) process.stdout.write(`${s.name}.aedat4  ${s.test ? 'test' : 'train'}  lighting=${s.lighting}\n`);
      process.stdout.write(`${specs.length} trials, classes: ${(classes ?? DVS_GESTURE_CLASSES.map((_, i) => i)).join(',')}\n`);
      return 0;
    }
    await mkdir(out, { recursive: true });
    const ac = new AbortController();
    const onSig = () => {
      process.stderr.write('\negru sim: stopping after the current step (incomplete trial is removed)…\n');
      ac.abort();
    };
    process.once('SIGINT', onSig);
    process.once('SIGTERM', onSig);
    const t0 = performance.now();
    try {
      const res = await generateDataset(out, opts, {
        compression,
        signal: ac.signal,
        onProgress: (p) => {
          const pct = ((100 * p.simUs) / p.durationUs).toFixed(0).padStart(3);
          process.stderr.write(`[${p.trial + 1}/${p.trials}] ${p.name} ${pct}%  ${(p.simUs / 1e6).toFixed(1)}/${(p.durationUs / 1e6).toFixed(1)} s  ${p.events} events${p.done ? '\n' : '\r'}`);
        },
      });
      const ev = res.reduce((a, r) => a + r.events, 0);
      const on = res.reduce((a, r) => a + r.on, 0);
      const simS = res.reduce((a, r) => a + r.durationUs, 0) / 1e6;
      const cpu = res.reduce((a, r) => a + r.cpuS, 0);
      const wall = (performance.now() - t0) / 1000;
      process.stderr.write(
        `egru sim: ${res.length} trials, ${simS.toFixed(1)} s simulated, ${ev} events (${(ev / simS / 1e3).toFixed(1)} k ev/s of recording, ON ${(on / Math.max(1, ev)).toFixed(3)}); ` +
        `${wall.toFixed(1)} s wall, ${(cpu / simS).toFixed(3)} CPU-s per recorded s, ${(ev / Math.max(1e-9, cpu) / 1e6).toFixed(2)} M events per CPU-s → ${out}\n`,
      );
      return 0;
    } catch (e) {
      if (e instanceof SimulationCancelled) {
        process.stderr.write('egru sim: cancelled; complete trials were kept, split lists were not written\n');
        return 130;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    }
  },
};
