/**
 * All readable formats, and `openEvents`: open a file or bytes, format detected by content.
 */
import type { ByteSource } from '../byte-source.ts';
import { FileByteSource, MemoryByteSource } from '../byte-source.ts';
import type { EventFormat, EventReader, FormatId, ReaderOptions } from '../reader.ts';
import { openWith } from '../reader.ts';
import { aedat2Format } from './aedat2.ts';
import { aedat3Format } from './aedat3.ts';
import { aedat4Format } from './aedat4.ts';
import { evt2Format } from './evt2.ts';
import { evt3Format } from './evt3.ts';
import { datFormat } from './dat.ts';
import { nmnistFormat } from './nmnist.ts';
import { csvFormat } from './csv.ts';

export const FORMATS: readonly EventFormat[] = [
  aedat4Format, aedat3Format, aedat2Format, evt3Format, evt2Format, datFormat, csvFormat, nmnistFormat,
];

export function formatById(id: FormatId): EventFormat {
  const f = FORMATS.find((x) => x.id === id);
  if (!f) throw new Error(`unknown format id '${id}'`);
  return f;
}

/**
 * Opens an event recording. `input` is a path or the file's bytes. The reader owns the underlying source:
 * call `reader.close()` when done.
 *
 * Two packet modes:
 *  - default: every packet is freshly allocated and the consumer may keep it;
 *  - streaming / live (`{ reusePackets: true }`): the reader recycles its packets, so a packet is valid only until
 *    the next one is requested (copy what you keep). This is the fast mode for one pass over a recording (stats,
 *    binning, display): it avoids allocating and zeroing a packet per 65,536 events. `readAll` copies as needed.
 *
 * Decoding runs in the `events_native` addon when it is built (byte-identical to the TypeScript readers, which
 * remain the reference and the fallback; `EGRU_EVENTS_NATIVE=0` forces them).
 */
export async function openEvents(input: string | Uint8Array | ByteSource, opts: ReaderOptions = {}): Promise<EventReader> {
  const src: ByteSource =
    typeof input === 'string' ? await FileByteSource.open(input) : input instanceof Uint8Array ? new MemoryByteSource(input) : input;
  try {
    return await openWith(FORMATS, src, opts);
  } catch (e) {
    await src.close();
    throw e;
  }
}
