/** `egru slice IN OUT --from US --to US`: the events of a time range [from, to), written like `convert`. */
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';
import { parseFlags, compressionFlag, copyEvents, geometryFlags, outputKind, timeFlag } from '../event-io.ts';

const USAGE = `usage: egru slice IN OUT --from US --to US [--relative] [--compression C] [--width W --height H] [--progress]

Writes the events with from <= t < to (µs) to OUT (.aedat4, .csv, or - for CSV on stdout).
Times are the file's own timestamps, or offsets from the first event's time with --relative.
Either bound may be left out (open range). Other options as for 'egru convert'.`;

export const sliceCommand: Command = {
  name: 'slice',
  summary: 'write the events of a time range [from, to) to .aedat4 or .csv',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { flags, positional } = parseFlags(args, ['progress', 'relative'], ['from', 'to', 'relative', 'compression', 'width', 'height', 'progress']);
    if (positional.length !== 2) throw new UsageError(`expected IN and OUT, got ${positional.length} argument(s)`);
    const [input, out] = positional;
    const kind = outputKind(out);
    const from = timeFlag(flags, 'from');
    const to = timeFlag(flags, 'to');
    if (from === undefined && to === undefined) throw new UsageError('give --from and/or --to (µs)');
    if (from !== undefined && to !== undefined && !(from < to)) throw new UsageError(`--from ${from} must be before --to ${to}`);
    const compression = compressionFlag(flags);
    if (compression && kind !== 'aedat4') throw new UsageError('--compression applies to .aedat4 output only');
    const n = await copyEvents('slice', input, out, {
      geometry: geometryFlags(flags), compression, from, to, relative: flags.relative === true, progress: flags.progress === true,
    });
    if (out !== '-') process.stderr.write(`egru slice: ${n.toLocaleString('en-US')} events → ${out}\n`);
    return 0;
  },
};
