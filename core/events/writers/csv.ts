/**
 * CSV event writer: header `t,x,y,p`, one event per line, integers written exactly (t in µs as stored; a
 * fractional time, which no reader produces, is written in full precision). Readable back by csvFormat.
 *
 * Streams to a file or to stdout (`'-'`), waiting for `drain` when the destination is slower than us, so
 * memory stays bounded by one packet's text. A closed stdout pipe (`egru convert x.raw - | head`) ends the
 * output quietly instead of crashing.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { EventPacket } from '../packet.ts';

export const CSV_HEADER = 't,x,y,p';

/** Events per text piece: bounds the size of one string handed to the stream (~1.5 MB). */
const ROWS_PER_PIECE = 65_536;

function rows(pk: EventPacket, start: number, end: number): string {
  const { x, y, t, p } = pk;
  let s = '';
  for (let i = start; i < end; i++) s += t[i] + ',' + x[i] + ',' + y[i] + ',' + p[i] + '\n';
  return s;
}

/** The whole packet as CSV text, header first. For small packets; use CsvWriter to stream. */
export function encodeCsv(packet: EventPacket): string {
  return CSV_HEADER + '\n' + rows(packet, 0, packet.length);
}

export class CsvWriter {
  private closed = false;
  private broken: Error | null = null;
  private headerWritten = false;

  private constructor(
    private readonly out: Writable,
    private readonly ownsStream: boolean,
    /** Where the output goes (path or '-'), for messages. */
    readonly target: string,
  ) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      // EPIPE: the reader of our stdout went away. Not an error of ours; stop writing.
      this.broken = e.code === 'EPIPE' ? Object.assign(new Error('output closed'), { code: 'EPIPE' }) : e;
    });
  }

  /** Opens `pathOrStdout` for writing (`'-'` = stdout; a file is created or truncated). */
  static async create(pathOrStdout: string): Promise<CsvWriter> {
    if (pathOrStdout === '-') return new CsvWriter(process.stdout, false, '-');
    const stream = createWriteStream(pathOrStdout, { flags: 'w' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    return new CsvWriter(stream, true, pathOrStdout);
  }

  /** True when stdout was closed by its reader (EPIPE); further writes are dropped. */
  get outputClosed(): boolean {
    return (this.broken as NodeJS.ErrnoException | null)?.code === 'EPIPE';
  }

  async write(packet: EventPacket): Promise<void> {
    if (this.closed) throw new Error('CsvWriter: write after close');
    if (!this.headerWritten) {
      this.headerWritten = true;
      await this.push(CSV_HEADER + '\n');
    }
    for (let s = 0; s < packet.length; s += ROWS_PER_PIECE) {
      await this.push(rows(packet, s, Math.min(packet.length, s + ROWS_PER_PIECE)));
    }
  }

  private async push(text: string): Promise<void> {
    if (this.broken) {
      if (this.outputClosed) return;
      throw this.broken;
    }
    if (this.out.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.out.off('drain', done);
        this.out.off('error', done);
        this.out.off('close', done);
        resolve();
      };
      this.out.on('drain', done);
      this.out.on('error', done);
      this.out.on('close', done);
    });
    if (this.broken && !this.outputClosed) throw this.broken;
  }

  /** Writes the header if nothing was written, flushes, and closes a file (stdout stays open). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.headerWritten) {
      this.headerWritten = true;
      await this.push(CSV_HEADER + '\n');
    }
    this.closed = true;
    if (this.ownsStream) {
      await new Promise<void>((resolve, reject) => {
        this.out.once('error', reject);
        this.out.end(() => resolve());
      });
    } else if (this.out.writableNeedDrain && !this.broken) {
      await new Promise<void>((resolve) => {
        this.out.once('drain', resolve);
        this.out.once('error', () => resolve());
      });
    }
    if (this.broken && !this.outputClosed) throw this.broken;
  }
}
