/**
 * ASCII header scanners shared by the readers:
 *  - `scanAedatHeader`: iniVation/jAER `#` header lines (AEDAT 1.0/2.0/3.x), with the end-of-header rules of
 *    event-formats.md §1, including the `#`-ambiguity defences;
 *  - `parsePercentHeader`: Prophesee `% key value` lines (DAT, RAW EVT 2/3);
 *  - `chipGeometry` / `chipKind`: sensor size and address layout from a jAER AEChip class or a cAER source name.
 * Header bytes are decoded as latin-1 (byte = code point), never as strict UTF-8: real headers contain odd bytes.
 */
import type { SensorGeometry } from '../packet.ts';

/** Longest accepted header line (real jAER preference lines reach ~5 kB; binary data never looks like this). */
export const MAX_HEADER_LINE_BYTES = 64 * 1024;

const HASH = 0x23;
const LF = 0x0a;
const CR = 0x0d;

/** A byte that may appear inside a header line: tab, CR, printable ASCII, or any byte ≥ 0x80 (latin-1 / UTF-8). */
function isLineByte(c: number): boolean {
  return c === 0x09 || c === CR || (c >= 0x20 && c !== 0x7f);
}

/** Decodes bytes as latin-1 (exactly one code point per byte). */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

export interface AedatHeader {
  /** From the first line `#!AER-DATx.y`, e.g. '2.0', '3.1'; null when there is no version line (AEDAT 1.0). */
  version: string | null;
  /** Header lines as latin-1 text including the leading `#`, without the line terminator. */
  lines: string[];
  /**
   * `# Key: value` lines outside the XML preference dump, first occurrence wins (e.g. 'AEChip',
   * 'HardwareInterface', 'Creation time', 'Source 1', 'Start-Time'); `# created …` is stored under 'created'.
   */
  fields: Record<string, string>;
  /** Offset of the first byte after the header. */
  dataOffset: number;
  /** Which explicit end line closed the header, if any. */
  endLine: '#End Of ASCII Header' | '#!END-HEADER' | null;
  /** 'LF' when any header line ends in a bare LF (accepted, but not what the writers produce). */
  lineEnding: 'CRLF' | 'LF' | 'none';
  /**
   * False when the scan reached the end of the given bytes while still inside the header and more of the file
   * exists (`bytes.length < fileSize`): read more and scan again.
   */
  complete: boolean;
  /** True when the header itself runs to the end of the file (a file cut inside its header: zero events). */
  reachesEof: boolean;
}

export interface AedatHeaderOptions {
  /** Total file size (defaults to bytes.length). */
  fileSize?: number;
  /**
   * Record size of the body (AEDAT 1.0: 6, 2.0: 8). Used only without an explicit end line: trailing
   * short, letter-free `#` "lines" are dropped from the header if that makes the body a whole number of records.
   */
  recordSize?: number;
}

const END_V2 = '#end of ascii header';
const END_V3 = '#!END-HEADER';

/**
 * Scans the `#` header at the start of `bytes`.
 *
 * A line is accepted as header when it starts with `#` and ends with LF within MAX_HEADER_LINE_BYTES. Lines up
 * to an explicit end line (`#End Of ASCII Header`, case-insensitive, or `#!END-HEADER`) are accepted whatever
 * bytes they hold; without an end line the header also stops at the first line holding a control byte, because
 * the first binary byte may itself be `#` (0x23), and `recordSize` then arbitrates the trailing lines.
 */
export function scanAedatHeader(bytes: Uint8Array, opts: AedatHeaderOptions = {}): AedatHeader {
  const fileSize = opts.fileSize ?? bytes.length;
  const n = bytes.length;
  const atEof = n >= fileSize;
  const lines: string[] = [];
  // Line boundaries: starts[i] = offset of line i, ends[i] = offset after its LF; clean[i] = no control bytes.
  const starts: number[] = [];
  const ends: number[] = [];
  const clean: boolean[] = [];
  let pos = 0;
  let endLine: AedatHeader['endLine'] = null;
  let sawLf = false;
  let sawCrLf = false;
  let complete = true;
  let reachesEof = false;

  while (pos < n && bytes[pos] === HASH) {
    const limit = Math.min(n, pos + MAX_HEADER_LINE_BYTES);
    let i = pos;
    let isClean = true;
    while (i < limit && bytes[i] !== LF) {
      if (isClean && !isLineByte(bytes[i])) isClean = false;
      i++;
    }
    if (i >= limit) {
      if (limit === n && !atEof) {
        complete = false; // the line continues beyond what we were given
      } else if (limit === n && isClean) {
        // The file ends inside this (clean) line: a header cut short. Everything is header, no data.
        pushLine(pos, n);
        reachesEof = true;
        pos = n;
      }
      break; // else: an over-long line is not header
    }
    const lineEnd = i > pos && bytes[i - 1] === CR ? i - 1 : i;
    if (lineEnd === i) sawLf = true;
    else sawCrLf = true;
    starts.push(pos);
    ends.push(i + 1);
    clean.push(isClean);
    const text = latin1(bytes, pos, lineEnd);
    lines.push(text);
    pos = i + 1;
    if (text.toLowerCase() === END_V2) {
      endLine = '#End Of ASCII Header';
      break;
    }
    if (text === END_V3) {
      endLine = '#!END-HEADER';
      break;
    }
  }
  if (pos >= n && complete && !atEof && endLine === null) complete = false;
  if (pos >= n && atEof && endLine === null) reachesEof = true;

  function pushLine(start: number, end: number): void {
    starts.push(start);
    ends.push(end);
    clean.push(true);
    lines.push(latin1(bytes, start, end));
  }

  let count = lines.length;
  if (endLine === null && complete) {
    // No explicit end: the header stops at the first line with control bytes (binary that began with '#').
    const firstDirty = clean.indexOf(false);
    if (firstDirty >= 0) count = firstDirty;
    // A body that is not a whole number of records hints that the last "lines" were binary: drop trailing
    // weak lines (no run of 3 letters, unlike any real header line) while that fixes the remainder.
    const rec = opts.recordSize;
    if (rec && count > 0 && (fileSize - ends[count - 1]) % rec !== 0) {
      for (let k = count - 1; k >= 1 && !isStrongLine(lines[k]); k--) {
        if ((fileSize - ends[k - 1]) % rec === 0) {
          count = k;
          break;
        }
      }
    }
    if (count < lines.length) reachesEof = false;
  }
  lines.length = count;
  const dataOffset = count === 0 ? 0 : ends[count - 1];

  let version: string | null = null;
  const m = count > 0 ? /^#!AER-DAT(\d+\.\d+)\s*$/.exec(lines[0]) : null;
  if (m) version = m[1];

  return {
    version,
    lines,
    fields: headerFields(lines),
    dataOffset,
    endLine,
    lineEnding: count === 0 ? 'none' : sawLf ? 'LF' : sawCrLf ? 'CRLF' : 'none',
    complete,
    reachesEof,
  };
}

function isStrongLine(text: string): boolean {
  return /[A-Za-z]{3}/.test(text);
}

function headerFields(lines: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  let inPrefs = false;
  for (const line of lines) {
    if (/^#\s*Start of Preferences/i.test(line)) {
      inPrefs = true;
      continue;
    }
    if (/^#\s*End of Preferences/i.test(line)) {
      inPrefs = false;
      continue;
    }
    if (inPrefs || line.startsWith('#<') || line.startsWith('#!')) continue;
    const created = /^#\s*created\s+(.*)$/.exec(line);
    if (created) {
      fields.created ??= created[1].trim();
      continue;
    }
    const kv = /^#\s*(-?[A-Za-z][A-Za-z0-9 _.-]{0,40}?)\s*:\s?(.*)$/.exec(line);
    if (kv) fields[kv[1]] ??= kv[2].trim();
  }
  return fields;
}

/**
 * Prophesee `%` header (DAT, RAW): lines `% key value` ending in LF (CRLF tolerated). The header ends after a
 * `% end` line (case-insensitive) or before the first line that does not start with `% ` (a bare `%` line is
 * accepted), holds a control byte, or is not LF-terminated within MAX_HEADER_LINE_BYTES.
 *
 * Stable API (shared by the DAT and EVT 2/3 readers):
 *   fields  key → value (key = first word after `% ` as written, value = the rest, trimmed; first one wins);
 *   lines   each header line's text after the `%` marker, trimmed, in order (including `end`);
 *   dataOffset  offset of the first byte after the header (0 when there is no header).
 */
export function parsePercentHeader(bytes: Uint8Array): { fields: Record<string, string>; lines: string[]; dataOffset: number } {
  const fields: Record<string, string> = {};
  const lines: string[] = [];
  const n = bytes.length;
  let pos = 0;
  while (pos < n && bytes[pos] === 0x25) {
    const next = pos + 1 < n ? bytes[pos + 1] : -1;
    if (next !== 0x20 && next !== LF && next !== CR) break;
    const limit = Math.min(n, pos + MAX_HEADER_LINE_BYTES);
    let i = pos;
    let ok = true;
    while (i < limit && bytes[i] !== LF) {
      if (!isLineByte(bytes[i])) {
        ok = false;
        break;
      }
      i++;
    }
    if (!ok || i >= limit) break;
    const text = latin1(bytes, pos + 1, i).trim();
    lines.push(text);
    pos = i + 1;
    if (text.toLowerCase() === 'end') break;
    const sp = text.search(/\s/);
    const key = sp < 0 ? text : text.slice(0, sp);
    const value = sp < 0 ? '' : text.slice(sp + 1).trim();
    if (key !== '' && !(key in fields)) fields[key] = value;
  }
  return { fields, lines, dataOffset: pos };
}

/** How a jAER/cAER chip name lays out its addresses. */
export type ChipKind = 'dvs128' | 'davis';

/** 'dvs128' for DVS128/Tmpdiff128 chips, 'davis' for eu.seebetter…davis.* and DAVIS names, null otherwise. */
export function chipKind(name: string): ChipKind | null {
  if (/DVS128|Tmpdiff128/i.test(name)) return 'dvs128';
  if (/davis/i.test(name)) return 'davis';
  return null;
}

const CHIP_SIZES: ReadonlyArray<[RegExp, SensorGeometry]> = [
  [/DVS128|Tmpdiff128|DAVIS128/i, { width: 128, height: 128 }],
  [/DAVIS-?240/i, { width: 240, height: 180 }],
  [/DAVIS-?346/i, { width: 346, height: 260 }],
  [/DAVIS-?640|RGBW640|CDAVIS/i, { width: 640, height: 480 }],
  [/DAVIS-?208/i, { width: 208, height: 192 }],
];

/** Sensor size implied by a jAER AEChip class (e.g. eu.seebetter.ini.chips.davis.DAVIS240C) or cAER source name. */
export function chipGeometry(name: string): SensorGeometry | null {
  for (const [re, g] of CHIP_SIZES) if (re.test(name)) return { ...g };
  return null;
}
