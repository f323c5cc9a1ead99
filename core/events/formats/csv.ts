/**
 * CSV event files: one event per line, `t,x,y,p` (t in µs, x/y pixel column/row with a top-left origin,
 * p polarity). The header line names the columns, in any order, with the usual variants
 * (`timestamp,x,y,polarity`, `t_us,…`, `ts,…`, extra columns ignored); without a header the order t,x,y,p
 * is assumed. Separator: comma, tab or semicolon (taken from the first line). Polarity 0/1 or −1/+1,
 * normalised to 0 = OFF, 1 = ON. Blank lines and `#` comment lines are skipped.
 *
 * Streaming: the file is read in bounded chunks and parsed byte by byte (no string per line), so memory does
 * not grow with file size. Errors name the line, column and absolute byte offset.
 */
import type { ByteSource } from '../byte-source.ts';
import { EventFormatError } from '../errors.ts';
import type { EventPacket } from '../packet.ts';
import { allocPacket, DEFAULT_PACKET_CAPACITY, viewPacket } from '../packet.ts';
import type { EventFileInfo, EventFormat, EventReader, ReaderOptions, TimeRange } from '../reader.ts';
import { filterRange } from '../reader.ts';

const CHUNK_BYTES = 1 << 20;
/** A line longer than this is not an event line: stop with an error instead of buffering without bound. */
const MAX_LINE_BYTES = 64 * 1024;

const NL = 10, CR = 13, SP = 32, TAB = 9, HASH = 35, COMMA = 44, SEMI = 59, MINUS = 45, PLUS = 43, ZERO = 48, NINE = 57;

const enum Role { None = 0, T = 1, X = 2, Y = 3, P = 4 }

const NAMES: Record<string, Role> = {};
for (const n of ['t', 'ts', 'time', 'times', 'timestamp', 'timestamps', 'tus', 'timeus', 'timestampus', 'tusec', 'timeusec', 'timestampusec', 'tmicros', 'timemicros']) NAMES[n] = Role.T;
for (const n of ['x', 'xaddr', 'xaddress', 'col', 'column']) NAMES[n] = Role.X;
for (const n of ['y', 'yaddr', 'yaddress', 'row']) NAMES[n] = Role.Y;
for (const n of ['p', 'pol', 'polarity', 'polarities', 'on']) NAMES[n] = Role.P;

function normaliseName(s: string): string {
  return s.toLowerCase().replace(/\(.*?\)|\[.*?\]/g, (m) => m.slice(1, -1)).replace(/[^a-z0-9]/g, '');
}

interface Layout {
  delim: number;
  /** Role of each column. */
  roles: Role[];
  /** Byte offset of the first data line, header names (empty when no header). */
  dataStart: number;
  names: string[];
}

/** True when `b` looks like text: no NUL or other control bytes besides tab/CR/LF. */
function isText(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c < 32 && c !== NL && c !== CR && c !== TAB) return false;
    if (c === 127) return false;
  }
  return true;
}

/** Finds the first content line (skipping BOM, blank and `#` lines): [start, end) without the line ending. */
function firstContentLine(b: Uint8Array): { start: number; end: number; next: number; line: number } | null {
  let i = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  let line = 1;
  while (i < b.length) {
    let e = i;
    while (e < b.length && b[e] !== NL) e++;
    if (e === b.length && b.length >= MAX_LINE_BYTES) return null;
    let end = e;
    if (end > i && b[end - 1] === CR) end--;
    let s = i;
    while (s < end && (b[s] === SP || b[s] === TAB)) s++;
    if (s < end && b[s] !== HASH) return { start: i, end, next: Math.min(e + 1, b.length), line };
    i = e + 1;
    line++;
  }
  return null;
}

function detectLayout(head: Uint8Array): Layout | null {
  const fl = firstContentLine(head);
  if (!fl) return null;
  const text = new TextDecoder().decode(head.subarray(fl.start, fl.end));
  const delim = text.includes(',') ? COMMA : text.includes('\t') ? TAB : text.includes(';') ? SEMI : 0;
  if (!delim) return null;
  const cells = text.split(String.fromCharCode(delim)).map((c) => c.trim());
  if (cells.length < 4) return null;
  if (/[a-zA-Z_]/.test(cells.join('')) && !cells.every((c) => /^[-+]?[\d.eE+-]+$/.test(c) || /^(true|false)$/i.test(c))) {
    const roles = cells.map((c) => NAMES[normaliseName(c)] ?? Role.None);
    for (const r of [Role.T, Role.X, Role.Y, Role.P]) {
      if (roles.filter((v) => v === r).length !== 1) return null;
    }
    return { delim, roles, dataStart: fl.next, names: cells };
  }
  if (!cells.every((c) => /^[-+]?\d+(\.\d*)?([eE][-+]?\d+)?$/.test(c))) return null;
  const roles = cells.map((_, i) => (i < 4 ? ([Role.T, Role.X, Role.Y, Role.P][i]) : Role.None));
  return { delim, roles, dataStart: fl.start, names: [] };
}

/** Probe: text with a recognised header (0.9), or numeric lines of ≥ 4 columns (0.4). */
function probe(head: Uint8Array): number {
  if (head.length === 0) return 0;
  // Only the part up to the last complete line is judged (the probe window may cut a line).
  if (!isText(head)) return 0;
  const layout = detectLayout(head);
  if (!layout) return 0;
  return layout.names.length ? 0.9 : 0.4;
}

/** Decoder state carried across lines and chunks. */
class CsvParser {
  line: number;
  /** True while parsing a final line that has no line ending (a file cut short mid-line). */
  inUnterminatedLine = false;
  constructor(
    private readonly layout: Layout,
    private readonly source: string,
    firstLine: number,
  ) {
    this.line = firstLine;
  }

  private fail(offset: number, col: number, reason: string): never {
    throw new EventFormatError('csv', offset, `line ${this.line}, column ${col}: ${reason}`, this.source);
  }

  /**
   * Parses complete lines of `b` from `pos` (absolute offset `base + pos`) until `end` or until `out` is full;
   * returns the position of the first unparsed line. `final`: the bytes up to `end` are the last ones, so a
   * line without a newline counts as complete.
   */
  parse(b: Uint8Array, pos: number, end: number, base: number, out: EventPacket, final: boolean): number {
    const { delim, roles } = this.layout;
    const ncol = roles.length;
    const cap = out.x.length;
    let n = out.length;
    const X = out.x, Y = out.y, T = out.t, P = out.p;
    try {
    while (pos < end && n < cap) {
      let e = pos;
      while (e < end && b[e] !== NL) e++;
      if (e === end && !final) break; // incomplete line: wait for more bytes
      this.inUnterminatedLine = e === end;
      let le = e;
      if (le > pos && b[le - 1] === CR) le--;
      // Skip blank and comment lines.
      let s = pos;
      while (s < le && (b[s] === SP || b[s] === TAB)) s++;
      if (s === le || b[s] === HASH) {
        pos = e + 1;
        this.line++;
        continue;
      }
      let t = NaN, x = -1, y = -1, p = -1;
      let col = 0;
      let i = pos;
      while (true) {
        const fs = i;
        while (i < le && b[i] !== delim) i++;
        const role = col < ncol ? roles[col] : Role.None;
        if (role !== Role.None) {
          const v = parseNumber(b, fs, i);
          const where = base + fs;
          const column = fs - pos + 1;
          if (v !== v) this.fail(where, column, `'${text(b, fs, i)}' is not a number`);
          if (role === Role.T) t = v;
          else if (role === Role.P) {
            if (v === 1) p = 1;
            else if (v === 0 || v === -1) p = 0;
            else this.fail(where, column, `polarity ${text(b, fs, i)} is not 0/1 or -1/1`);
          } else {
            if (!(v >= 0 && v <= 65535 && v === Math.floor(v))) this.fail(where, column, `coordinate ${text(b, fs, i)} is not an integer in 0..65535`);
            if (role === Role.X) x = v;
            else y = v;
          }
        }
        col++;
        if (i >= le) break;
        i++;
      }
      if (col < ncol) this.fail(base + pos, 1, `expected ${ncol} columns, got ${col}`);
      if (!Number.isFinite(t)) this.fail(base + pos, 1, 'timestamp is not finite');
      X[n] = x;
      Y[n] = y;
      T[n] = t;
      P[n] = p;
      n++;
      pos = e + 1;
      this.line++;
    }
    } finally {
      // Also on error: events of the lines before the bad one stay in the packet (the valid prefix).
      out.length = n;
    }
    return Math.min(pos, end);
  }
}

function text(b: Uint8Array, s: number, e: number): string {
  const str = new TextDecoder().decode(b.subarray(s, Math.min(e, s + 40))).trim();
  return e - s > 40 ? str + '…' : str;
}

/** Parses a decimal number in b[s, e) (spaces around allowed); NaN when it is not one. Integers fast. */
function parseNumber(b: Uint8Array, s: number, e: number): number {
  while (s < e && (b[s] === SP || b[s] === TAB)) s++;
  while (e > s && (b[e - 1] === SP || b[e - 1] === TAB)) e--;
  if (s === e) return NaN;
  let i = s;
  let neg = false;
  if (b[i] === MINUS || b[i] === PLUS) {
    neg = b[i] === MINUS;
    i++;
    if (i === e) return NaN;
  }
  let v = 0;
  for (; i < e; i++) {
    const c = b[i];
    if (c < ZERO || c > NINE) break;
    v = v * 10 + (c - ZERO);
  }
  if (i === e) {
    // Integers beyond 2^53 would silently round: refuse them rather than return a wrong time.
    if (e - s > 15 && !Number.isSafeInteger(v)) return NaN;
    return neg ? -v : v;
  }
  // Decimal or exponent: rare in event CSVs; let Number parse the exact text.
  let str = '';
  for (let k = s; k < e; k++) str += String.fromCharCode(b[k]);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(str)) return NaN;
  return Number(str);
}

async function openCsv(src: ByteSource, opts: ReaderOptions): Promise<EventReader> {
  const head = await src.read(0, 64 * 1024);
  const layout = detectLayout(head);
  if (!layout) {
    throw new EventFormatError('csv', 0, 'no CSV event header (t,x,y,p) or numeric first line with 4 columns found', src.name);
  }
  // Line number of the first data line (1-based): count newlines before dataStart.
  let firstLine = 1;
  for (let i = 0; i < layout.dataStart; i++) if (head[i] === NL) firstLine++;
  const capacity = opts.packetCapacity ?? DEFAULT_PACKET_CAPACITY;
  if (!(capacity > 0)) throw new RangeError(`packet capacity must be > 0, got ${capacity}`);
  const header: Record<string, string> = {
    columns: layout.names.length ? layout.names.join(',') : '(no header: t,x,y,p)',
    separator: layout.delim === COMMA ? ',' : layout.delim === TAB ? 'tab' : ';',
  };
  const info: EventFileInfo = {
    format: 'csv',
    formatName: 'CSV (t,x,y,p)',
    geometry: opts.geometry ?? null,
    header,
    streams: [{ id: 0, type: 'polarity', ...(opts.geometry ? { geometry: opts.geometry } : {}) }],
    dataOffset: layout.dataStart,
    fileSize: src.size,
  };
  const warnings: string[] = [];

  async function* all(): AsyncIterableIterator<EventPacket> {
    const parser = new CsvParser(layout!, src.name, firstLine);
    let pk = allocPacket(capacity);
    let pos = layout!.dataStart; // absolute offset of buf[0]
    let buf: Uint8Array = new Uint8Array(0);
    let eof = false;
    while (true) {
      if (!eof) {
        const chunk = await src.read(pos + buf.length, CHUNK_BYTES);
        if (chunk.length === 0) eof = true;
        else if (buf.length === 0) buf = chunk;
        else {
          const joined = new Uint8Array(buf.length + chunk.length);
          joined.set(buf);
          joined.set(chunk, buf.length);
          buf = joined;
        }
        if (pos + buf.length >= src.size) eof = true;
      }
      let i = 0;
      while (true) {
        try {
          i = parser.parse(buf, i, buf.length, pos, pk, eof);
        } catch (e) {
          // A file cut short mid-line: keep the valid prefix and say what was dropped.
          if (!(e instanceof EventFormatError) || !parser.inUnterminatedLine) throw e;
          warnings.push(`last line ${parser.line} is incomplete (file cut short?) and was ignored: ${e.reason}`);
          i = buf.length;
        }
        if (pk.length === capacity) {
          yield pk;
          pk = allocPacket(capacity);
          continue;
        }
        break;
      }
      pos += i;
      buf = buf.subarray(i);
      if (eof) break;
      if (buf.length > MAX_LINE_BYTES) {
        throw new EventFormatError('csv', pos, `line ${parser.line} is longer than ${MAX_LINE_BYTES} bytes`, src.name);
      }
      // Keep the partial line in a small private copy so the big chunk can be released.
      if (buf.length > 0) buf = buf.slice();
    }
    if (pk.length > 0) yield viewPacket(pk, 0, pk.length);
  }

  return {
    info,
    warnings,
    packets: (range?: TimeRange) => filterRange(all(), range),
    close: () => src.close(),
  };
}

export const csvFormat: EventFormat = {
  id: 'csv',
  name: 'CSV (t,x,y,p)',
  extensions: ['.csv', '.txt'],
  probe,
  open: openCsv,
};
