/**
 * What the event-file commands (`egru info`, `convert`, `slice`) share: option checks, opening an input with
 * byte-level progress, the output sinks (.aedat4 / .csv / '-' = CSV on stdout) and the progress line.
 */
import { stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { FileByteSource, type ByteSource } from '../events/byte-source.ts';
import { openEvents } from '../events/formats/index.ts';
import type { EventPacket, SensorGeometry } from '../events/packet.ts';
import type { EventReader } from '../events/reader.ts';
import { CsvWriter } from '../events/writers/csv.ts';
import { parseArgs, UsageError } from './command.ts';

export type Flags = Record<string, string | true>;

/**
 * parseArgs with the unknown-flag check done FIRST, so `--typo` at the end says "unknown option" rather
 * than "needs a value".
 */
export function parseFlags(args: string[], booleans: readonly string[], allowed: readonly string[]): { flags: Flags; positional: string[] } {
  for (const a of args) {
    if (a === '--') break;
    if (a.startsWith('--') && a.length > 2) {
      const k = a.slice(2).split('=')[0];
      if (!allowed.includes(k)) throw new UsageError(`unknown option --${k}`);
    }
  }
  return parseArgs(args, booleans);
}

export function stringFlag(flags: Flags, k: string): string | undefined {
  const v = flags[k];
  if (v === true) throw new UsageError(`--${k} needs a value`);
  return v;
}

/** `--width W --height H` (both or neither) → geometry override. */
export function geometryFlags(flags: Flags): SensorGeometry | undefined {
  const w = stringFlag(flags, 'width');
  const h = stringFlag(flags, 'height');
  if (w === undefined && h === undefined) return undefined;
  if (w === undefined || h === undefined) throw new UsageError('--width and --height go together');
  const width = Number(w), height = Number(h);
  for (const [k, v, s] of [['width', width, w], ['height', height, h]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 65536) throw new UsageError(`--${k} must be an integer in 1..65536, got '${s}'`);
  }
  return { width, height };
}

/** A number of µs from a flag (integer or decimal, e.g. 1500000 or 1.5e6). */
export function timeFlag(flags: Flags, k: string): number | undefined {
  const v = stringFlag(flags, k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${k} must be a time in µs, got '${v}'`);
  return n;
}

/** A ByteSource wrapper that remembers how far reading got, for "percent of bytes" progress. */
class CountingSource implements ByteSource {
  furthest = 0;
  constructor(private readonly inner: ByteSource) {}
  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }
  async read(position: number, length: number): Promise<Uint8Array> {
    const b = await this.inner.read(position, length);
    if (position + b.length > this.furthest) this.furthest = position + b.length;
    return b;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface OpenedInput {
  reader: EventReader;
  /** Fraction of the file's bytes read so far, in [0, 1]. */
  fractionRead(): number;
}

/**
 * Opens an event file (format by content) with a geometry override and byte-progress tracking. `reusePackets`:
 * the streaming mode, for single-pass consumers that never keep a packet past the next one (see openEvents).
 */
export async function openInput(file: string, geometry?: SensorGeometry, reusePackets = false): Promise<OpenedInput> {
  const st = await stat(file); // ENOENT → "no such file" from main
  if (st.isDirectory()) throw new UsageError(`'${file}' is a directory, not an event file`);
  const src = new CountingSource(await FileByteSource.open(file));
  const reader = await openEvents(src, { ...(geometry ? { geometry } : {}), ...(reusePackets ? { reusePackets } : {}) });
  return { reader, fractionRead: () => (src.size > 0 ? Math.min(1, src.furthest / src.size) : 1) };
}

/**
 * Progress on stderr: only when stderr is a terminal or `--progress` was given; at most every 200 ms
 * (1 s when not a terminal, one line each); cleared at the end.
 */
export class Progress {
  // -Infinity, not 0: performance.now() counts from process start, so a fast run would otherwise never show
  // its first line.
  private last = -Infinity;
  private shown = false;
  private readonly tty: boolean;
  readonly enabled: boolean;
  constructor(forced: boolean, private readonly label: string) {
    this.tty = Boolean(process.stderr.isTTY);
    this.enabled = forced || this.tty;
  }
  update(fraction: number, events: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < (this.tty ? 200 : 1000)) return;
    this.last = now;
    const line = `${this.label}: ${(fraction * 100).toFixed(0).padStart(3)}%  ${events.toLocaleString('en-US')} events`;
    if (this.tty) process.stderr.write(`\r${line}\x1b[K`);
    else process.stderr.write(line + '\n');
    this.shown = true;
  }
  done(): void {
    if (this.shown && this.tty) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}

export type Aedat4CompressionFlag = 'none' | 'lz4' | 'lz4-high' | 'zstd' | 'zstd-high';
const COMPRESSIONS: readonly Aedat4CompressionFlag[] = ['none', 'lz4', 'lz4-high', 'zstd', 'zstd-high'];

export function compressionFlag(flags: Flags): Aedat4CompressionFlag | undefined {
  const c = stringFlag(flags, 'compression');
  if (c === undefined) return undefined;
  if (!(COMPRESSIONS as readonly string[]).includes(c)) throw new UsageError(`--compression must be one of ${COMPRESSIONS.join(', ')}, got '${c}'`);
  return c as Aedat4CompressionFlag;
}

export type OutputKind = 'aedat4' | 'csv';

/** Output kind from the OUT argument: '-' or *.csv → CSV, *.aedat4 → AEDAT 4.0. */
export function outputKind(out: string): OutputKind {
  if (out === '-') return 'csv';
  const ext = path.extname(out).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.aedat4') return 'aedat4';
  throw new UsageError(`cannot tell the output format from '${out}': use a .aedat4 or .csv name, or '-' for CSV on stdout`);
}

/** Refuses to write over the input (the output is truncated before the input is read). */
export async function assertDistinct(input: string, out: string): Promise<void> {
  if (out === '-') return;
  if (path.resolve(input) === path.resolve(out)) throw new UsageError('output is the input file');
  try {
    const [a, b] = await Promise.all([stat(input), stat(out)]);
    if (a.ino === b.ino && a.dev === b.dev) throw new UsageError('output is the input file');
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
}

export interface EventSink {
  write(pk: EventPacket): Promise<void>;
  close(): Promise<void>;
  /** Closes without caring for errors and removes a partial output file. */
  abort(): Promise<void>;
  /** True when stdout's reader went away (CSV to '-'): stop early, quietly. */
  readonly stopped: boolean;
}

export interface SinkOptions {
  geometry: SensorGeometry | null;
  compression?: Aedat4CompressionFlag;
  source?: string;
}

export async function createSink(out: string, opts: SinkOptions): Promise<EventSink> {
  const kind = outputKind(out);
  if (kind === 'csv') {
    if (opts.compression && opts.compression !== 'none') throw new UsageError('--compression applies to .aedat4 output only');
    const w = await CsvWriter.create(out);
    return {
      write: (pk) => w.write(pk),
      close: () => w.close(),
      abort: async () => {
        await w.close().catch(() => {});
        if (out !== '-') await unlink(out).catch(() => {});
      },
      get stopped() {
        return w.outputClosed;
      },
    };
  }
  if (!opts.geometry) throw new UsageError('sensor size unknown: pass --width and --height for .aedat4 output');
  // Loaded on demand: only AEDAT 4 output needs the writer (and its compression libraries).
  const { Aedat4Writer } = await import('../events/writers/aedat4.ts');
  const w = await Aedat4Writer.create(out, {
    geometry: opts.geometry,
    ...(opts.compression ? { compression: opts.compression } : {}),
    ...(opts.source ? { source: opts.source } : {}),
  });
  return {
    write: (pk) => w.write(pk),
    close: () => w.close(),
    abort: async () => {
      await w.close().catch(() => {});
      await unlink(out).catch(() => {});
    },
    stopped: false,
  };
}

/** Sensor size for output when the input does not state it: max x/y + 1 over the events (one extra pass). */
export async function scanGeometry(file: string): Promise<SensorGeometry | null> {
  const { reader } = await openInput(file);
  try {
    let w = 0, h = 0;
    for await (const pk of reader.packets()) {
      const { x, y } = pk;
      for (let i = 0; i < pk.length; i++) {
        if (x[i] >= w) w = x[i] + 1;
        if (y[i] >= h) h = y[i] + 1;
      }
    }
    return w > 0 && h > 0 ? { width: w, height: h } : null;
  } finally {
    await reader.close();
  }
}

export function warn(command: string, msg: string): void {
  process.stderr.write(`egru ${command}: warning: ${msg}\n`);
}

export interface CopyOptions {
  geometry?: SensorGeometry;
  compression?: Aedat4CompressionFlag;
  /** [from, to) in µs; relative to the first event's time when `relative`. */
  from?: number;
  to?: number;
  relative?: boolean;
  progress: boolean;
}

/** Streams events from `input` (any readable format) to `out` (.aedat4 / .csv / '-'); returns the count. */
export async function copyEvents(command: string, input: string, out: string, opts: CopyOptions): Promise<number> {
  const kind = outputKind(out);
  await assertDistinct(input, out);
  let { reader, fractionRead } = await openInput(input, opts.geometry);
  let sink: EventSink | null = null;
  try {
    let geometry = opts.geometry ?? reader.info.geometry;
    if (!geometry && kind === 'aedat4') {
      geometry = await scanGeometry(input);
      if (!geometry) throw new UsageError('sensor size unknown and the input has no events: pass --width and --height');
      warn(command, `sensor size not in the input; using ${geometry.width}×${geometry.height} from the largest x/y (override with --width/--height)`);
    }
    let from = opts.from, to = opts.to;
    if (opts.relative) {
      let t0: number | null = null;
      for await (const pk of reader.packets()) {
        if (pk.length > 0) {
          t0 = pk.t[0];
          break;
        }
      }
      // A fresh reader for the real pass: no reader is asked to restart mid-stream.
      await reader.close();
      ({ reader, fractionRead } = await openInput(input, opts.geometry));
      if (t0 !== null) {
        if (from !== undefined) from += t0;
        if (to !== undefined) to += t0;
      }
    }
    sink = await createSink(out, { geometry, compression: opts.compression, source: reader.info.camera });
    const progress = new Progress(opts.progress, `egru ${command}`);
    let n = 0;
    const range = from !== undefined || to !== undefined ? { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) } : undefined;
    for await (const pk of reader.packets(range)) {
      await sink.write(pk);
      n += pk.length;
      progress.update(fractionRead(), n);
      if (sink.stopped) break;
    }
    progress.done();
    await sink.close();
    for (const w of reader.warnings) warn(command, w);
    return n;
  } catch (e) {
    if (sink) await sink.abort();
    throw e;
  } finally {
    await reader.close();
  }
}
