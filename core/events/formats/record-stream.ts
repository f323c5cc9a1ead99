/**
 * The streaming loop shared by the fixed-record readers (AEDAT 1.0/2.0, DAT, N-MNIST): reads the body in large
 * record-aligned chunks (so no record ever straddles a chunk), lets a format kernel decode whole records straight
 * into the packet's typed arrays, and yields bounded packets. A trailing partial record becomes a warning.
 */
import type { ByteSource } from '../byte-source.ts';
import { DEFAULT_CHUNK_BYTES } from '../byte-source.ts';
import { allocPacket, viewPacket, type EventPacket } from '../packet.ts';

/**
 * Decodes whole records from bytes[pos, end) into `out` (appending at out.length) until the input is used up or
 * out is full (out.x.length events). Returns the new byte position. Must make progress when out has room.
 * Kernels keep their running state (timestamp unwrapping) in their own closure.
 */
export type RecordKernel = (bytes: Uint8Array, dv: DataView, pos: number, end: number, out: EventPacket) => number;

export interface RecordStreamOptions {
  dataOffset: number;
  recordSize: number;
  capacity: number;
  kernel: RecordKernel;
  /** Receives the partial-record warning. */
  warnings: string[];
  /** Bytes per read (rounded down to whole records); default DEFAULT_CHUNK_BYTES. */
  chunkBytes?: number;
  /** Recycle the packet once the consumer asks for the next (ReaderOptions.reusePackets). */
  reuse?: boolean;
}

/** Yields packets of decoded events from src[dataOffset, size). */
export async function* streamRecords(src: ByteSource, o: RecordStreamOptions): AsyncIterableIterator<EventPacket> {
  const rec = o.recordSize;
  const body = Math.max(0, src.size - o.dataOffset);
  const whole = body - (body % rec);
  const chunk = Math.max(rec, Math.floor((o.chunkBytes ?? DEFAULT_CHUNK_BYTES) / rec) * rec);
  let out = allocPacket(o.capacity);
  for (let at = 0; at < whole; at += chunk) {
    const want = Math.min(chunk, whole - at);
    const bytes = await src.read(o.dataOffset + at, want);
    const end = bytes.length - (bytes.length % rec);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let pos = 0;
    while (pos < end) {
      pos = o.kernel(bytes, dv, pos, end, out);
      if (out.length === o.capacity) {
        yield out;
        if (o.reuse) out.length = 0;
        else out = allocPacket(o.capacity);
      }
    }
    if (bytes.length < want) {
      o.warnings.push(`source returned ${bytes.length} of ${want} bytes at offset ${o.dataOffset + at}: data ends early`);
      break;
    }
  }
  if (out.length > 0) yield viewPacket(out, 0, out.length);
  if (body !== whole) {
    o.warnings.push(
      `file ends with a partial ${rec}-byte record (${body - whole} bytes at offset ${o.dataOffset + whole}): ignored`,
    );
  }
}
