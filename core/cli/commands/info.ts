/** `egru info FILE`: what an event file holds — format, sensor, counts, time span, rate, streams, header. */
import type { Command } from '../command.ts';
import { UsageError } from '../command.ts';
import type { SensorGeometry } from '../../events/packet.ts';
import { accumulateStats, emptyStats, type EventStats } from '../../events/packet.ts';
import type { EventFileInfo } from '../../events/reader.ts';
import { readFile, stat } from 'node:fs/promises';
import { EventFormatError } from '../../events/errors.ts';
import { DVS_GESTURE_CLASSES, parseGestureLabels, type GestureLabel } from '../../events/labels.ts';
import { parseFlags, geometryFlags, openInput, Progress } from '../event-io.ts';

const USAGE = `usage: egru info FILE [--json] [--width W --height H] [--progress]

Reads the whole file (format detected by content) and prints its format, sensor size, event counts
(ON/OFF), first/last timestamp, duration, mean event rate, streams, header highlights and warnings.
  --json             machine-readable output (stable keys, times in µs)
  --width/--height   sensor size when the file does not state it (or to override it)
  --progress         progress on stderr even when it is not a terminal`;

/** The `--json` document. Keys are stable; times are µs on the file's clock; null where unknown. */
export interface InfoJson {
  file: string;
  fileSize: number;
  format: string;
  formatName: string;
  camera: string | null;
  geometry: SensorGeometry | null;
  events: number;
  on: number;
  off: number;
  firstUs: number | null;
  lastUs: number | null;
  durationUs: number | null;
  meanRateEvPerS: number | null;
  x: { min: number; max: number } | null;
  y: { min: number; max: number } | null;
  monotonic: boolean;
  streams: EventFileInfo['streams'];
  header: Record<string, string>;
  /** Extra per-format counts (e.g. RAW triggers, dropped events); {} when the reader has none. */
  counters: Record<string, number>;
  warnings: string[];
}

function buildJson(file: string, info: EventFileInfo, s: EventStats, warnings: string[], counters: Record<string, number>): InfoJson {
  const has = s.count > 0;
  const duration = has ? s.tLast - s.tFirst : null;
  return {
    file,
    fileSize: info.fileSize,
    format: info.format,
    formatName: info.formatName,
    camera: info.camera ?? null,
    geometry: info.geometry,
    events: s.count,
    on: s.on,
    off: s.count - s.on,
    firstUs: has ? s.tFirst : null,
    lastUs: has ? s.tLast : null,
    durationUs: duration,
    meanRateEvPerS: duration && duration > 0 ? (s.count / duration) * 1e6 : null,
    x: has ? { min: s.xMin, max: s.xMax } : null,
    y: has ? { min: s.yMin, max: s.yMax } : null,
    monotonic: s.monotonic,
    streams: info.streams,
    header: info.header,
    counters,
    warnings,
  };
}

const int = (n: number) => n.toLocaleString('en-US');

function rate(evPerS: number): string {
  if (evPerS >= 1e6) return `${(evPerS / 1e6).toFixed(2)} Mev/s`;
  if (evPerS >= 1e3) return `${(evPerS / 1e3).toFixed(2)} kev/s`;
  return `${evPerS.toFixed(1)} ev/s`;
}

function seconds(us: number): string {
  return us >= 60e6 ? `${(us / 60e6).toFixed(2)} min` : `${(us / 1e6).toFixed(3)} s`;
}

/** Header keys worth showing first; the rest follow up to a limit. */
const HIGHLIGHT_KEYS = /^(evt|format|geometry|plugin_name|serial_number|date|camera|source|aechip|compression|sizex|sizey|version|width|height|generation|sensor_generation|integrator_name|columns|created)/i;
const MAX_HEADER_LINES = 12;

function humanText(j: InfoJson): string {
  const rows: [string, string][] = [];
  rows.push(['file', `${j.file} (${int(j.fileSize)} bytes)`]);
  rows.push(['format', `${j.formatName} [${j.format}]`]);
  if (j.camera) rows.push(['camera', j.camera]);
  const from = j.header['sensor size from'];
  rows.push(['sensor', j.geometry ? `${j.geometry.width} × ${j.geometry.height}${from ? ` (from ${from})` : ''}` : 'unknown (pass --width/--height)']);
  const pct = (k: number) => (j.events ? ` (${((100 * k) / j.events).toFixed(1)} %)` : '');
  rows.push(['events', `${int(j.events)}   ON ${int(j.on)}${pct(j.on)}   OFF ${int(j.off)}${pct(j.off)}`]);
  if (j.firstUs !== null && j.lastUs !== null) {
    rows.push(['first', `${int(j.firstUs)} µs`]);
    rows.push(['last', `${int(j.lastUs)} µs`]);
    rows.push(['duration', `${int(j.durationUs!)} µs (${seconds(j.durationUs!)})`]);
    rows.push(['mean rate', j.meanRateEvPerS !== null ? rate(j.meanRateEvPerS) : '—']);
    rows.push(['x range', `${j.x!.min} … ${j.x!.max}`]);
    rows.push(['y range', `${j.y!.min} … ${j.y!.max}`]);
    rows.push(['time order', j.monotonic ? 'non-decreasing' : 'NOT monotonic (timestamps step back)']);
  }
  j.streams.forEach((st, i) => {
    const parts = [`#${st.id} ${st.type}`];
    if (st.name) parts.push(st.name);
    if (st.geometry) parts.push(`${st.geometry.width}×${st.geometry.height}`);
    if (st.packets !== undefined) parts.push(`${int(st.packets)} packets`);
    if (st.elements !== undefined) parts.push(`${int(st.elements)} elements`);
    rows.push([i === 0 ? 'streams' : '', parts.join(', ')]);
  });
  const counters = Object.entries(j.counters).filter(([, v]) => v !== 0);
  if (counters.length) rows.push(['counters', counters.map(([k, v]) => `${k} ${int(v)}`).join(', ')]);
  const keys = Object.keys(j.header).filter((k) => k !== 'sensor size from');
  const ordered = [...keys.filter((k) => HIGHLIGHT_KEYS.test(k)), ...keys.filter((k) => !HIGHLIGHT_KEYS.test(k))];
  ordered.slice(0, MAX_HEADER_LINES).forEach((k, i) => {
    const v = j.header[k].replace(/\s+/g, ' ');
    rows.push([i === 0 ? 'header' : '', `${k}: ${v.length > 90 ? v.slice(0, 90) + '…' : v}`]);
  });
  if (ordered.length > MAX_HEADER_LINES) rows.push(['', `… ${ordered.length - MAX_HEADER_LINES} more (see --json)`]);
  j.warnings.forEach((w, i) => rows.push([i === 0 ? 'warnings' : '', w]));
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** Parses `file` as a DVS128 Gesture label CSV when it is small text that parses; null otherwise. */
async function tryLabels(file: string): Promise<GestureLabel[] | null> {
  try {
    if ((await stat(file)).size > 1 << 20) return null;
    const text = await readFile(file, 'utf8');
    if (!/^\s*class\s*,/i.test(text)) return null;
    return parseGestureLabels(text, file);
  } catch {
    return null;
  }
}

function labelsJson(file: string, labels: GestureLabel[]) {
  return {
    file,
    format: 'dvs-gesture-labels',
    formatName: 'DVS128 Gesture label CSV',
    labels: labels.map((l) => ({ ...l, className: DVS_GESTURE_CLASSES[l.classIndex] })),
  };
}

function labelsText(file: string, labels: GestureLabel[]): string {
  const lines = [`file    ${file}`, 'format  DVS128 Gesture label CSV (not an event file)', `labels  ${labels.length}`];
  labels.forEach((l, i) => {
    const d = ((l.endUs - l.startUs) / 1e6).toFixed(2);
    lines.push(`${i === 0 ? 'rows' : '    '}    ${String(l.classIndex + 1).padStart(2)} ${DVS_GESTURE_CLASSES[l.classIndex].padEnd(28)} ${int(l.startUs).padStart(13)} … ${int(l.endUs).padStart(13)} µs  (${d} s)`);
  });
  return lines.join('\n') + '\n';
}

export const infoCommand: Command = {
  name: 'info',
  summary: 'show format, sensor size, event counts, time span and header of an event file',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { flags, positional } = parseFlags(args, ['json', 'progress'], ['json', 'width', 'height', 'progress']);
    if (positional.length !== 1) throw new UsageError(`expected one FILE, got ${positional.length}`);
    const file = positional[0];
    let opened: Awaited<ReturnType<typeof openInput>>;
    try {
      opened = await openInput(file, geometryFlags(flags), true); // statistics only: no packet outlives the loop
    } catch (e) {
      // Not an event file: a DVS128 Gesture label file is a common thing to point `info` at; say what it is.
      const labels = e instanceof EventFormatError && e.format === 'unknown' ? await tryLabels(file) : null;
      if (!labels) throw e;
      process.stdout.write(flags.json ? JSON.stringify(labelsJson(file, labels), null, 2) + '\n' : labelsText(file, labels));
      return 0;
    }
    const { reader, fractionRead } = opened;
    try {
      const stats = emptyStats();
      const progress = new Progress(flags.progress === true, 'egru info');
      for await (const pk of reader.packets()) {
        accumulateStats(stats, pk);
        progress.update(fractionRead(), stats.count);
      }
      progress.done();
      const warnings = [...reader.warnings];
      const g = reader.info.geometry;
      if (g && stats.count > 0 && (stats.xMax >= g.width || stats.yMax >= g.height)) {
        warnings.push(`events outside the ${g.width}×${g.height} sensor (x ≤ ${stats.xMax}, y ≤ ${stats.yMax})`);
      }
      // Readers may expose extra counts (RAW: triggers, dropped events) beside the common interface.
      const extra = (reader as { counters?: unknown }).counters;
      const counters: Record<string, number> = {};
      if (extra && typeof extra === 'object') {
        for (const [k, v] of Object.entries(extra)) if (typeof v === 'number') counters[k] = v;
      }
      const j = buildJson(file, reader.info, stats, warnings, counters);
      process.stdout.write(flags.json ? JSON.stringify(j, null, 2) + '\n' : humanText(j));
      return 0;
    } finally {
      await reader.close();
    }
  },
};
