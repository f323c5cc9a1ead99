/**
 * The one error type for bad event data: every reader throws it (never a RangeError from a DataView, never a
 * hang), naming the format, the byte offset where decoding failed and why.
 */
export class EventFormatError extends Error {
  override readonly name = 'EventFormatError';
  constructor(
    /** Format id, e.g. 'aedat4', 'evt3' (see FormatId). */
    readonly format: string,
    /** Absolute byte offset in the file or stream where the problem was found. */
    readonly offset: number,
    /** Human-readable reason, e.g. 'packet size 2147483647 exceeds remaining 1204 bytes'. */
    readonly reason: string,
    /** Optional file name, for messages. */
    readonly source?: string,
  ) {
    super(`${source ? source + ': ' : ''}${format} at byte ${offset}: ${reason}`);
  }
}
