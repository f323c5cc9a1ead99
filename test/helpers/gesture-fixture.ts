/**
 * TEST-ONLY generator of a small DVS128-Gesture-layout folder: `userNN_<lighting>.aedat` (AEDAT 3.1 via
 * encodeAedat31, or `.aedat4` for chosen trials), `userNN_<lighting>_labels.csv` and the split lists — with the
 * label quirks of the real files (rows not in time or class order, a repeated class, an overlapping interval).
 *
 * Events are synthetic but class-distinguishable: gesture k is a Gaussian blob of events circling around its own
 * spot on the 128×128 sensor (spot angle 2πk/11), with a class-specific ON/OFF balance, on top of uniform noise.
 * Deterministic from the seed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EventPacket } from '../../core/events/packet.ts';
import type { GestureLabel } from '../../core/events/labels.ts';
import { formatGestureLabels, formatTrials } from '../../core/events/labels.ts';
import { encodeAedat4 } from '../../core/events/writers/aedat4.ts';
import { Rng } from '../../core/util/rng.ts';
import { encodeAedat31 } from './aedat3-writer.ts';

export interface GestureFixtureOptions {
  /** Users user01…; the last `testUsers` go to trials_to_test.txt. Default 4 and 1. */
  users?: number;
  testUsers?: number;
  lightings?: string[];
  /** 0-based classes performed in every trial (default all 11). */
  classes?: number[];
  /** Window length the fixture is designed around (µs): each gesture lasts windowsPerGesture.4 windows. */
  windowUs?: number;
  windowsPerGesture?: number;
  /** Signal events per ms during a gesture (plus ~1 noise event per ms throughout). */
  eventsPerMs?: number;
  seed?: number;
  /** Trial stems written as AEDAT 4 instead of AEDAT 3.1 (listed with .aedat4 in the split file). */
  aedat4Trials?: string[];
}

export interface FixtureTrial {
  name: string;
  file: string;
  user: number;
  split: 'train' | 'test';
  /** Rows exactly as written (file order, 0-based classes). */
  labels: GestureLabel[];
  events: number;
}

export interface GestureFixture {
  dir: string;
  windowUs: number;
  trials: FixtureTrial[];
}

const SENSOR = 128;
const ALL_CLASSES = 11;

/** Windows each row yields (complete windows only; rows independent). */
export function expectedWindows(trials: readonly FixtureTrial[], windowUs: number, split: 'train' | 'test'): { total: number; perClass: number[] } {
  const perClass = new Array<number>(ALL_CLASSES).fill(0);
  let total = 0;
  for (const tr of trials) {
    if (tr.split !== split) continue;
    for (const l of tr.labels) {
      const n = Math.floor((l.endUs - l.startUs) / windowUs);
      perClass[l.classIndex] += n;
      total += n;
    }
  }
  return { total, perClass };
}

function clampPx(v: number): number {
  return Math.max(0, Math.min(SENSOR - 1, Math.round(v)));
}

/** Events of one trial, in time order, following `segments` (class per [start, end) µs; gaps are noise only). */
function synthesise(rng: Rng, segments: { classIndex: number; startUs: number; endUs: number }[], t0: number, t1: number, eventsPerMs: number): EventPacket {
  const xs: number[] = [];
  const ys: number[] = [];
  const ts: number[] = [];
  const ps: number[] = [];
  let seg = 0;
  for (let ms = Math.floor(t0 / 1000); ms < Math.ceil(t1 / 1000); ms++) {
    const base = ms * 1000;
    while (seg < segments.length && segments[seg].endUs <= base) seg++;
    const s = segments[seg];
    const active = s && base >= s.startUs && base < s.endUs;
    const n = (active ? eventsPerMs : 0) + 1;
    for (let j = 0; j < n; j++) {
      const t = base + Math.floor((j * 1000) / n);
      if (j === n - 1 || !active) {
        // uniform background noise
        xs.push(rng.int(SENSOR));
        ys.push(rng.int(SENSOR));
        ps.push(rng.int(2));
      } else {
        const k = s.classIndex;
        const theta = (2 * Math.PI * k) / ALL_CLASSES;
        const period = 150_000 * (1 + (k % 3));
        const phase = (2 * Math.PI * (t - s.startUs)) / period * (k % 2 === 0 ? 1 : -1);
        const cx = 64 + 38 * Math.cos(theta) + 8 * Math.cos(phase);
        const cy = 64 + 38 * Math.sin(theta) + 8 * Math.sin(phase);
        xs.push(clampPx(rng.normal(cx, 3)));
        ys.push(clampPx(rng.normal(cy, 3)));
        ps.push(rng.next() < (k % 2 === 0 ? 0.8 : 0.2) ? 1 : 0);
      }
      ts.push(t);
    }
  }
  return { x: Uint16Array.from(xs), y: Uint16Array.from(ys), t: Float64Array.from(ts), p: Uint8Array.from(ps), length: ts.length };
}

/**
 * Writes the fixture into `dir` (created if needed). Quirks, in the first trial of user01: a class performed
 * twice (repeated row), one row whose end runs 0.5 window into the next gesture's row (overlap); in every trial the
 * rows are written in a shuffled order.
 */
export async function makeGestureFixture(dir: string, o: GestureFixtureOptions = {}): Promise<GestureFixture> {
  const users = o.users ?? 4;
  const testUsers = o.testUsers ?? 1;
  const lightings = o.lightings ?? ['fluorescent', 'led'];
  const classes = o.classes ?? Array.from({ length: ALL_CLASSES }, (_, i) => i);
  const W = o.windowUs ?? 100_000;
  const perGesture = o.windowsPerGesture ?? 2;
  const epm = o.eventsPerMs ?? 6;
  const rng = new Rng(o.seed ?? 42);
  await mkdir(dir, { recursive: true });
  const trials: FixtureTrial[] = [];
  const lists: Record<'train' | 'test', string[]> = { train: [], test: [] };
  for (let u = 1; u <= users; u++) {
    for (const light of lightings) {
      const name = `user${String(u).padStart(2, '0')}_${light}`;
      const split = u > users - testUsers ? 'test' : 'train';
      const order = [...classes];
      rng.shuffle(order);
      const quirky = trials.length === 0;
      if (quirky) order.push(order[0]); // a class performed twice
      // The clock starts far from 0, like the real files (t is µs since the camera started).
      let t = 3_000_000 + rng.int(1000) * 1000;
      const tStart = t - W;
      const dur = Math.round((perGesture + 0.4) * W); // the last 0.4 window is incomplete and must be dropped
      const gap = Math.round(0.2 * W);
      const segments: GestureLabel[] = [];
      for (const k of order) {
        segments.push({ classIndex: k, startUs: t, endUs: t + dur });
        t += dur + gap;
      }
      const pk = synthesise(rng, segments, tStart, t + W, epm);
      const labels = segments.map((s) => ({ ...s }));
      // Overlap: this row runs 0.5 window into the next gesture's row (and so holds 3 complete windows, not 2).
      if (quirky) labels[1].endUs += Math.round(0.7 * W);
      // Rows not in time order (and so not in class order either).
      rng.shuffle(labels);
      const aedat4 = o.aedat4Trials?.includes(name) ?? false;
      const fileName = name + (aedat4 ? '.aedat4' : '.aedat');
      const file = path.join(dir, fileName);
      await writeFile(file, aedat4 ? encodeAedat4(pk, { geometry: { width: SENSOR, height: SENSOR }, source: 'DVS128' }) : encodeAedat31(pk));
      await writeFile(path.join(dir, `${name}_labels.csv`), formatGestureLabels(labels));
      lists[split].push(fileName);
      trials.push({ name, file, user: u, split, labels, events: pk.length });
    }
  }
  await writeFile(path.join(dir, 'trials_to_train.txt'), formatTrials(lists.train));
  await writeFile(path.join(dir, 'trials_to_test.txt'), formatTrials(lists.test));
  return { dir, windowUs: W, trials };
}

/** Hand-built .npy bytes: preamble, header padded with spaces + '\n' to a 64-byte boundary, then data. */
export function npyBytes(header: string, data: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  let h = header;
  const total = pre + h.length + 1;
  h += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[pre + i] = h.charCodeAt(i);
  out.set(data, pre + h.length);
  return out;
}
