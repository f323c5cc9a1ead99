/** `egru convert IN OUT`: any readable event file → AEDAT 4.0 or CSV (OUT '-' = CSV on stdout). */
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';
import { parseFlags, compressionFlag, copyEvents, geometryFlags, outputKind } from '../event-io.ts';

const USAGE = `usage: egru convert IN OUT [--compression lz4|lz4-high|zstd|zstd-high|none] [--width W --height H] [--progress]

Converts an event recording (format detected by content: AEDAT 2/3.1/4, Prophesee RAW EVT 2/3, DAT,
N-MNIST .bin, CSV) to
  OUT.aedat4   AEDAT 4.0 (DV / dv-processing), packet compression --compression (default lz4)
  OUT.csv      text, header t,x,y,p (t in µs, p 1 = ON)
  -            CSV on stdout
--width/--height set the sensor size when the input does not state it (else it is taken from the
largest x/y for AEDAT 4 output). --progress shows progress on stderr even when it is not a terminal.`;

export const convertCommand: Command = {
  name: 'convert',
  summary: 'convert an event file to .aedat4 or .csv (or CSV on stdout)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { flags, positional } = parseFlags(args, ['progress'], ['compression', 'width', 'height', 'progress']);
    if (positional.length !== 2) throw new UsageError(`expected IN and OUT, got ${positional.length} argument(s)`);
    const [input, out] = positional;
    const kind = outputKind(out);
    const compression = compressionFlag(flags);
    if (compression && kind !== 'aedat4') throw new UsageError('--compression applies to .aedat4 output only');
    const n = await copyEvents('convert', input, out, { geometry: geometryFlags(flags), compression, progress: flags.progress === true });
    if (out !== '-') process.stderr.write(`egru convert: ${n.toLocaleString('en-US')} events → ${out}\n`);
    return 0;
  },
};
