/**
 * The `egru` event-file commands, run for real as a child process (`node bin/egru.mjs …`), on the shared
 * third-party samples.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { REPO_ROOT, runEgru } from '../../helpers/run-egru.ts';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openEvents } from '../../../core/events/formats/index.ts';
import { accumulateStats, emptyStats, type EventStats } from '../../../core/events/packet.ts';
import { sharedFile } from '../../helpers/shared-data.ts';

const ROOT = REPO_ROOT;


const egru = runEgru;

async function statsOf(file: string): Promise<EventStats> {
  const r = await openEvents(file);
  const s = emptyStats();
  for await (const pk of r.packets()) accumulateStats(s, pk);
  await r.close();
  return s;
}

const EVT2 = sharedFile('expelliarmus-evt2-gen3/evt2_sample.raw');
const AEDAT4 = sharedFile('tonic-dvxplorer-aedat4/sample.aedat4');
const WRITER = existsSync(path.join(ROOT, 'core', 'events', 'writers', 'aedat4.ts'));

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'egru-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('egru CLI: event files', () => {
  it('--help lists the event commands; COMMAND --help prints usage', async () => {
    const h = await egru(['--help']);
    expect(h.code).toBe(0);
    for (const c of ['info', 'convert', 'slice']) expect(h.stdout).toMatch(new RegExp(`^  ${c}\\s+\\S`, 'm'));
    const i = await egru(['info', '--help']);
    expect(i.code).toBe(0);
    expect(i.stdout).toMatch(/^usage: egru info FILE/);
  });

  it.skipIf(!EVT2)('info --json on the EVT2 sample gives the reference values', async () => {
    const r = await egru(['info', EVT2!, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      format: 'evt2', fileSize: 2_170_592, geometry: { width: 640, height: 480 }, events: 539_481, on: 367_855, off: 171_626,
      firstUs: 1_317_888, lastUs: 1_367_888, durationUs: 50_000, x: { min: 60, max: 599 }, y: { min: 18, max: 475 },
      monotonic: true, warnings: [],
    });
    expect(j.meanRateEvPerS).toBeCloseTo(539_481 / 0.05, 3);
    expect(j.header.plugin_name).toBe('hal_plugin_gen3_fx3');
    expect(j.counters.triggers).toBe(0);
  });

  it.skipIf(!EVT2)('info prints aligned, readable text', async () => {
    const r = await egru(['info', EVT2!, '--progress']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^egru info: +\d+% +[\d,]+ events$/m); // forced progress, one line per update off a TTY
    expect(r.stdout).toMatch(/^format {6}Prophesee RAW EVT 2\.0 \[evt2\]$/m);
    expect(r.stdout).toMatch(/^sensor {6}640 × 480 \(from plugin hal_plugin_gen3_fx3\)$/m);
    expect(r.stdout).toMatch(/^events {6}539,481 {3}ON 367,855 \(68\.2 %\) {3}OFF 171,626 \(31\.8 %\)$/m);
    expect(r.stdout).toMatch(/^duration {4}50,000 µs \(0\.050 s\)$/m);
  });

  it.skipIf(!AEDAT4)('info --json on the AEDAT4 sample lists every stream with its counts', async () => {
    const r = await egru(['info', AEDAT4!, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ format: 'aedat4', events: 111_954, on: 55_023, geometry: { width: 320, height: 240 } });
    const byType = Object.fromEntries(j.streams.map((s: { type: string }) => [s.type, s]));
    expect(byType.EVTS).toMatchObject({ id: 0, elements: 111_954, packets: 59 });
    expect(byType.IMUS).toMatchObject({ id: 2, packets: 59 });
    expect(byType.TRIG).toMatchObject({ id: 3 });
  });

  it.skipIf(!EVT2)('convert to CSV: every event, exactly', async () => {
    const out = path.join(dir, 'evt2.csv');
    const r = await egru(['convert', EVT2!, out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/539,481 events/);
    expect(await statsOf(out)).toEqual(await statsOf(EVT2!));
  });

  it.skipIf(!EVT2)('convert to AEDAT 4 (zstd and lz4) and read back', async (ctx) => {
    if (!WRITER) {
      console.warn('[cli.test] core/events/writers/aedat4.ts is missing: AEDAT 4 output SKIPPED');
      ctx.skip();
    }
    const ref = await statsOf(EVT2!);
    for (const c of ['lz4', 'zstd']) {
      const out = path.join(dir, `evt2-${c}.aedat4`);
      const r = await egru(['convert', EVT2!, out, '--compression', c]);
      expect(r.code, r.stderr).toBe(0);
      const back = await openEvents(out);
      expect(back.info.format).toBe('aedat4');
      expect(back.info.geometry).toEqual({ width: 640, height: 480 });
      await back.close();
      expect(await statsOf(out)).toEqual(ref);
    }
  });

  it.skipIf(!EVT2)('slice: absolute and --relative ranges, CSV on stdout', async () => {
    const a = await egru(['slice', EVT2!, '-', '--from', '1318888', '--to', '1318890']);
    const b = await egru(['slice', EVT2!, '-', '--from', '1000', '--to', '1002', '--relative']);
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const lines = a.stdout.trim().split('\n');
    expect(lines[0]).toBe('t,x,y,p');
    expect(lines[1]).toBe('1318888,282,101,0');
    // Same count as filtering in-process.
    const r = await openEvents(EVT2!);
    let n = 0;
    for await (const pk of r.packets()) for (let i = 0; i < pk.length; i++) if (pk.t[i] >= 1318888 && pk.t[i] < 1318890) n++;
    await r.close();
    expect(lines.length - 1).toBe(n);
    expect(lines.every((l, i) => i === 0 || /^131888[89],\d+,\d+,[01]$/.test(l))).toBe(true);
  });

  it.skipIf(!EVT2)('stops quietly when the stdout reader goes away (EPIPE)', async () => {
    const r = await egru(['convert', EVT2!, '-'], { stopAfterFirstChunk: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  const LABELS = sharedFile('dvsgesture-labels/user01_natural_labels.csv');
  it.skipIf(!LABELS)('info on a DVS128 Gesture label CSV says what it is', async () => {
    const r = await egru(['info', LABELS!, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.format).toBe('dvs-gesture-labels');
    expect(j.labels).toHaveLength(12);
    expect(j.labels[0]).toEqual({ classIndex: 0, startUs: 53036986, endUs: 59508469, className: 'hand_clapping' });
  });

  it('a bad file fails with ONE clear line and exit code 1', async () => {
    const bad = path.join(dir, 'bad.raw');
    await writeFile(bad, Buffer.from([0x00, 0x01, 0x02, 0x03, 0xff, 0xfe]));
    const r = await egru(['info', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^egru info: .*bad\.raw.*not a recognised event file.*\n$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const m = await egru(['info', path.join(dir, 'missing.aedat4')]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/^egru info: no such file: .*missing\.aedat4\n$/);
  });

  it('usage errors exit with code 2', async () => {
    const r = await egru(['info', 'x.raw', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("egru info: unknown option --bogus\n");
    const s = await egru(['slice', 'a.raw', 'b.txt', '--from', '1']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/use a \.aedat4 or \.csv name/);
  });
});
