/**
 * What the Prophesee RAW readers (EVT 2.0 in evt2.ts, EVT 3.0 in evt3.ts) share: the `% ` header, the sensor
 * size resolution order, aligned word chunks, reader options and the generic streaming reader that drives a
 * word decoder. Each format file supplies only its decoder (a tight loop over a typed-array word view).
 */
import type { ByteSource } from '../byte-source.ts';
import { DEFAULT_CHUNK_BYTES } from '../byte-source.ts';
import { EventFormatError } from '../errors.ts';
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { allocPacket, DEFAULT_PACKET_CAPACITY, viewPacket } from '../packet.ts';
import type { EventFileInfo, EventReader, FormatId, ReaderOptions, TimeRange } from '../reader.ts';
import { filterRange } from '../reader.ts';
import { parsePercentHeader } from './header.ts';

/** How much of the file the header may take. */
const HEAD_BYTES = 64 * 1024;

function lowerKeys(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    const lk = k.toLowerCase();
    if (!(lk in out)) out[lk] = v;
  }
  return out;
}

/** Options of the RAW readers, on top of the common ReaderOptions (pass them to `openEvents` as well). */
export interface RawReaderOptions extends ReaderOptions {
  /**
   * Metavision's "time shifting": subtract the first TIME_HIGH time from every timestamp, so the stream
   * starts near 0 as `metavision_file_to_dat` / Metavision readers output it. Off by default: timestamps are
   * the camera's own clock, as raw decoders (expelliarmus, the EVT specs) give them.
   */
  timeShift?: boolean;
  /** Called for every external trigger event (t in µs, after the same time shift as CD events). */
  onTrigger?: (t: number, channel: number, value: number) => void;
}

/** What a RAW decode skipped or noticed, filled while iterating (reset at each `packets()` call). */
export interface RawCounters {
  /** CD events dropped because no TIME_HIGH had been seen yet (no time base). */
  droppedBeforeTimeHigh: number;
  /** CD events dropped for a coordinate outside the sensor (or, EVT3, no valid row / vector base yet). */
  droppedInvalid: number;
  /** External trigger events (not CD; reported through `onTrigger`). */
  triggers: number;
  /** Time-base loops unrolled (EVT2: 2^34 µs, EVT3: 2^24 µs). */
  timeLoops: number;
  /** Words of other types skipped (IMU, OTHERS/monitoring, CONTINUED, unknown). */
  otherWords: number;
}

export function emptyCounters(): RawCounters {
  return { droppedBeforeTimeHigh: 0, droppedInvalid: 0, triggers: 0, timeLoops: 0, otherWords: 0 };
}

/** Copies the five counters a native decoder keeps at state[at..at+4] (order as in RawCounters). */
export function syncCounters(c: RawCounters, s: Float64Array, at: number): void {
  c.droppedBeforeTimeHigh = s[at];
  c.droppedInvalid = s[at + 1];
  c.triggers = s[at + 2];
  c.timeLoops = s[at + 3];
  c.otherWords = s[at + 4];
}

/** A word decoder with its state carried across chunks (one per `packets()` pass). */
export interface WordDecoder<W extends Uint16Array | Uint32Array> {
  readonly counters: RawCounters;
  /**
   * Decodes words[i..end) into `out` (from out.length on) until the words run out or `out` is full; returns
   * the index of the first word not consumed. May leave events pending (a vector cut by a full packet); the
   * next call emits them first, even with i === end.
   */
  decode(words: W, i: number, end: number, out: EventPacket): number;
}

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes per aligned copy of a misaligned chunk (see WordChunks): a quarter of a 1 MiB L2. */
const ALIGNED_PIECE_BYTES = 256 * 1024;

/**
 * Reads `src` from `start` in chunks whose lengths are multiples of `wordBytes`, each on an aligned buffer in
 * host order (the data is little-endian). A chunk that arrives misaligned (memory source at an odd header
 * length) is copied into a reused buffer, so each chunk is valid only until the next is requested; bytes of a
 * word split by a short read are carried to the next chunk. After iteration `trailing` holds the count of bytes
 * at the end that do not make a whole word.
 */
export class WordChunks {
  trailing = 0;
  private aligned = new Uint8Array(0);
  constructor(
    private readonly src: ByteSource,
    private readonly start: number,
    private readonly wordBytes: 2 | 4 | 8,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<{ bytes: Uint8Array; offset: number }> {
    const wb = this.wordBytes;
    let pos = this.start;
    let carry: Uint8Array | null = null;
    while (pos < this.src.size) {
      const chunk = await this.src.read(pos, this.chunkBytes - (this.chunkBytes % wb));
      if (chunk.length === 0) break;
      let data = chunk;
      let offset = pos;
      pos += chunk.length;
      if (carry) {
        data = new Uint8Array(carry.length + chunk.length);
        data.set(carry);
        data.set(chunk, carry.length);
        offset -= carry.length;
        carry = null;
      }
      const usable = data.length - (data.length % wb);
      if (usable < data.length) carry = data.slice(usable);
      let bytes = data.subarray(0, usable);
      if (usable === 0) continue;
      // Typed-array views need alignment to their element size (64-bit words are viewed as 32-bit pairs); a
      // header of odd length (common) leaves every chunk of an in-memory source misaligned. The aligned copy goes
      // to one reused buffer, a piece of ALIGNED_PIECE_BYTES at a time, so that copying and decoding a piece stay
      // in the core's cache (a whole 4 MiB chunk copied at once went out to memory and back: the copy cost more
      // than decoding the words). A piece is valid until the next one is requested; decoders take words split
      // anywhere.
      if (bytes.byteOffset % Math.min(wb, 4) !== 0) {
        const piece = ALIGNED_PIECE_BYTES - (ALIGNED_PIECE_BYTES % wb);
        if (this.aligned.length < Math.min(usable, piece)) this.aligned = new Uint8Array(piece);
        for (let at = 0; at < usable; at += piece) {
          const part = bytes.subarray(at, Math.min(usable, at + piece));
          this.aligned.set(part);
          const copy = this.aligned.subarray(0, part.length);
          // Big-endian hosts (rare): swap the private copy.
          if (!LITTLE_ENDIAN_HOST) swapToHost(copy, wb === 8 ? 4 : wb);
          yield { bytes: copy, offset: offset + at };
        }
        continue;
      }
      // Big-endian hosts (rare): swap a private copy, never the caller's bytes.
      if (!LITTLE_ENDIAN_HOST) bytes = swapToHost(bytes.slice(), wb === 8 ? 4 : wb);
      yield { bytes, offset };
    }
    this.trailing = carry ? carry.length : 0;
  }
}

/** Big-endian hosts only: reverses each word's bytes in place so typed-array views read LE data right. */
function swapToHost(b: Uint8Array, wb: 2 | 4): Uint8Array {
  for (let i = 0; i + wb <= b.length; i += wb) {
    if (wb === 2) {
      const a = b[i]; b[i] = b[i + 1]; b[i + 1] = a;
    } else {
      let a = b[i]; b[i] = b[i + 3]; b[i + 3] = a;
      a = b[i + 1]; b[i + 1] = b[i + 2]; b[i + 2] = a;
    }
  }
  return b;
}

function validSize(w: number, h: number): SensorGeometry | null {
  return Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0 && w <= 65536 && h <= 65536 ? { width: w, height: h } : null;
}

/**
 * Sensor size from a RAW header, in the order Prophesee's own decoders use: `% format …;width=W;height=H`,
 * else `% geometry WxH`, else the sensor generation named by the plugin / generation keys
 * (Gen3/Gen3.1 = 640×480, Gen4/Gen4.1/IMX636 = 1280×720, GenX320 = 320×320). Null when nothing says.
 */
export function rawGeometry(h: Record<string, string>): { geometry: SensorGeometry; from: string } | null {
  const fmt = h.format;
  if (fmt) {
    const kv: Record<string, string> = {};
    for (const part of fmt.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) kv[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
    }
    const g = kv.width && kv.height ? validSize(Number(kv.width), Number(kv.height)) : null;
    if (g) return { geometry: g, from: 'format' };
  }
  const gm = /^\s*(\d+)\s*x\s*(\d+)\s*$/i.exec(h.geometry ?? '');
  if (gm) {
    const g = validSize(Number(gm[1]), Number(gm[2]));
    if (g) return { geometry: g, from: 'geometry' };
  }
  const plugin = [h.plugin_name, h.sensor_name, h.camera_name].filter(Boolean).join(' ').toLowerCase();
  const fromPlugin = (s: string): SensorGeometry | null => {
    if (/genx320|gen_x320|imx\s*x320|\bx320/.test(s)) return { width: 320, height: 320 };
    if (/imx636|imx646|gen4|evk4|evk3_?hd|\bhd\b/.test(s)) return { width: 1280, height: 720 };
    if (/gen3|vga/.test(s)) return { width: 640, height: 480 };
    return null;
  };
  const pg = fromPlugin(plugin);
  if (pg) return { geometry: pg, from: `plugin ${h.plugin_name ?? h.sensor_name ?? h.camera_name}` };
  const gen = (h.generation ?? h.sensor_generation ?? '').trim();
  if (/^3(\.|$)/.test(gen)) return { geometry: { width: 640, height: 480 }, from: `generation ${gen}` };
  if (/^4(\.|$)/.test(gen)) return { geometry: { width: 1280, height: 720 }, from: `generation ${gen}` };
  if (/x320/i.test(gen)) return { geometry: { width: 320, height: 320 }, from: `generation ${gen}` };
  return null;
}

/** Which EVT version a RAW header declares: '2.0', '2.1', '3.0', or null when it does not say. */
export function rawEvtVersion(h: Record<string, string>): string | null {
  const evt = (h.evt ?? '').trim();
  if (evt) return evt;
  const f = (h.format ?? '').split(';')[0].trim().toUpperCase();
  if (f === 'EVT2' || f === 'EVT20') return '2.0';
  if (f === 'EVT21') return '2.1';
  if (f === 'EVT3' || f === 'EVT30') return '3.0';
  return null;
}

/**
 * Probe score for a RAW file of EVT `version`: 0.95 when the header declares it; 0.3 when the header says
 * nothing about the encoding but names a plugin whose default encoding it is; else 0.
 */
export function probeRaw(head: Uint8Array, versions: readonly string[]): number {
  if (head.length < 2 || head[0] !== 0x25 || head[1] !== 0x20) return 0;
  const h = lowerKeys(parsePercentHeader(head).fields);
  const v = rawEvtVersion(h);
  if (v !== null) return versions.includes(v) ? 0.95 : 0;
  // Prophesee DAT files share the `% ` header style; never claim them.
  const keys = Object.keys(h).map((k) => k.toLowerCase());
  if (keys.includes('data') || keys.includes('version') || keys.includes('height') || keys.includes('width')) return 0;
  const g = h.plugin_name ? rawGeometry({ plugin_name: h.plugin_name }) : null;
  if (!g) return 0;
  const defaultVersion = g.geometry.width === 640 ? '2.0' : '3.0';
  return versions.includes(defaultVersion) ? 0.3 : 0;
}

export interface RawSpec<W extends Uint16Array | Uint32Array> {
  format: FormatId;
  formatName: string;
  wordBytes: 2 | 4 | 8;
  view(bytes: Uint8Array): W;
  decoder(limits: SensorGeometry, opts: RawReaderOptions): WordDecoder<W>;
  /** Facts the decoder chose from the data (e.g. EVT 2.1 word order), shown with the header. */
  headerExtra?: Record<string, string>;
  /** Sensor size when neither options nor header say (null: unknown). */
  defaultGeometry: SensorGeometry | null;
}

/** Largest coordinate the 11-bit address fields can carry, +1: the bound used when the sensor size is unknown. */
const ADDRESS_LIMIT = 2048;

/** A RAW reader exposes its counters beside the common EventReader members. */
export interface RawEventReader extends EventReader {
  readonly counters: RawCounters;
}

/** Reads `length` bytes at `pos` (fewer only at the end), even from a source that returns short reads. */
async function readUpTo(src: ByteSource, pos: number, length: number): Promise<Uint8Array> {
  const first = await src.read(pos, length);
  if (first.length >= length || first.length === 0) return first;
  const out = new Uint8Array(length);
  out.set(first);
  let got = first.length;
  while (got < length) {
    const more = await src.read(pos + got, length - got);
    if (more.length === 0) break;
    out.set(more, got);
    got += more.length;
  }
  return out.subarray(0, got);
}

/** Opens a RAW file: parses the header, resolves the sensor size, and streams packets through the decoder. */
export async function openRaw<W extends Uint16Array | Uint32Array>(
  src: ByteSource,
  opts: RawReaderOptions,
  specOrPick: RawSpec<W> | ((header: Record<string, string>, data: Uint8Array) => RawSpec<W>),
): Promise<RawEventReader> {
  const head = await readUpTo(src, 0, Math.min(HEAD_BYTES, src.size));
  const parsed = parsePercentHeader(head);
  const { dataOffset } = parsed;
  // Keys are matched case-insensitively (`% Date` and `% date` both occur); values as written.
  const header = lowerKeys(parsed.fields);
  const spec = typeof specOrPick === 'function' ? specOrPick(header, head.subarray(dataOffset)) : specOrPick;
  if (dataOffset >= head.length && head.length < src.size) {
    throw new EventFormatError(spec.format, dataOffset, `header longer than ${HEAD_BYTES} bytes (no binary data found)`, src.name);
  }
  const capacity = opts.packetCapacity ?? DEFAULT_PACKET_CAPACITY;
  if (!(capacity > 0)) throw new RangeError(`packet capacity must be > 0, got ${capacity}`);
  const headerWarnings: string[] = [];
  const found = rawGeometry(header);
  let geometry: SensorGeometry | null = opts.geometry ?? found?.geometry ?? null;
  if (!geometry && spec.defaultGeometry) {
    geometry = spec.defaultGeometry;
    headerWarnings.push(
      `sensor size not in the header; assuming ${geometry.width}×${geometry.height} (Prophesee's default; pass --width/--height to override)`,
    );
  } else if (!geometry) {
    headerWarnings.push('sensor size not in the header (no format/geometry/known plugin); pass --width/--height');
  }
  const version = rawEvtVersion(header);
  const camera = [header.plugin_name, header.serial_number ? `serial ${header.serial_number}` : '']
    .filter(Boolean).join(', ') || undefined;
  const info: EventFileInfo = {
    format: spec.format,
    formatName: spec.formatName,
    geometry,
    ...(camera ? { camera } : {}),
    header: { ...parsed.fields, ...(found && !opts.geometry ? { 'sensor size from': found.from } : {}), ...spec.headerExtra },
    streams: [{ id: 0, type: 'polarity', ...(geometry ? { geometry } : {}) }],
    dataOffset,
    fileSize: src.size,
  };
  if (version === null) headerWarnings.push(`header does not state the encoding; decoding as ${spec.formatName}`);
  const warnings: string[] = [...headerWarnings];
  let counters = emptyCounters();
  const limits = geometry ?? { width: ADDRESS_LIMIT, height: ADDRESS_LIMIT };

  async function* all(): AsyncIterableIterator<EventPacket> {
    warnings.length = 0;
    warnings.push(...headerWarnings);
    const dec = spec.decoder(limits, opts);
    counters = dec.counters;
    const chunks = new WordChunks(src, dataOffset, spec.wordBytes);
    let pk = allocPacket(capacity);
    for await (const { bytes } of chunks) {
      const words = spec.view(bytes);
      const end = words.length;
      let i = 0;
      while (true) {
        i = dec.decode(words, i, end, pk);
        if (pk.length === capacity) {
          yield pk;
          if (opts.reusePackets) pk.length = 0;
          else pk = allocPacket(capacity);
          continue;
        }
        break;
      }
    }
    if (pk.length > 0) yield viewPacket(pk, 0, pk.length);
    const c = dec.counters;
    if (chunks.trailing) warnings.push(`${chunks.trailing} byte(s) at the end do not make a whole ${spec.wordBytes * 8}-bit word (file cut short?); ignored`);
    if (c.droppedBeforeTimeHigh) warnings.push(`${c.droppedBeforeTimeHigh} event(s) before the first TIME_HIGH dropped (no time base yet)`);
    if (c.droppedInvalid) {
      warnings.push(`${c.droppedInvalid} event(s) dropped: outside ${limits.width}×${limits.height}${spec.format === 'evt3' ? ', or without a valid row/vector base' : ''}`);
    }
  }

  return {
    info,
    warnings,
    reusesPackets: opts.reusePackets === true,
    get counters() {
      return counters;
    },
    packets: (range?: TimeRange) => filterRange(all(), range),
    close: () => src.close(),
  };
}

/** Number of set bits of a 32-bit value (EVT 2.1 / 3.0 vector masks). */
export function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
