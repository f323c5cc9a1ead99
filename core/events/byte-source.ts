/**
 * Where readers get bytes from: a file (read in bounded chunks, never whole) or memory. Readers only ask for
 * ranges, so memory stays bounded by chunk size, and in-memory decoding (benchmarks, tests) copies nothing.
 */
import { open, type FileHandle } from 'node:fs/promises';

export interface ByteSource {
  /** File name or a label, used in error messages. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Reads up to `length` bytes at `position`. Returns fewer only at end of data. The returned array is owned by
   * the caller (file source: a fresh buffer; memory source: a view of the caller's own bytes).
   */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(readonly bytes: Uint8Array, readonly name = '<memory>') {
    this.size = bytes.length;
  }
  async read(position: number, length: number): Promise<Uint8Array> {
    const start = Math.max(0, Math.min(position, this.size));
    return this.bytes.subarray(start, Math.min(this.size, start + Math.max(0, length)));
  }
  async close(): Promise<void> {}
}

export class FileByteSource implements ByteSource {
  private constructor(private readonly fh: FileHandle, readonly name: string, readonly size: number) {}

  static async open(path: string): Promise<FileByteSource> {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      return new FileByteSource(fh, path, st.size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const start = Math.max(0, Math.min(position, this.size));
    const n = Math.max(0, Math.min(length, this.size - start));
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(buf, got, n - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Default read chunk for streaming decoders (bounded memory; large enough to amortise syscalls). */
export const DEFAULT_CHUNK_BYTES = 4 << 20;
