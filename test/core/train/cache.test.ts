import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FrameCache, canonicalJson } from '../../../core/train/cache.ts';
import { openEventDir } from '../../../core/train/datasets/event-dirs.ts';
import { gesturePreprocessing } from '../../../core/train/datasets/preprocess.ts';
import { makeGestureFixture } from '../../helpers/gesture-fixture.ts';
import type { GestureFixture } from '../../helpers/gesture-fixture.ts';

let tmp = '';
let n = 0;
const fresh = () => path.join(tmp, `c${n++}`);
const bytes = (len: number, seed: number) => Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 255);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'egru-cache-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('FrameCache', () => {
  it('round-trips payloads and counts hits and misses', () => {
    const c = new FrameCache(fresh());
    const k = FrameCache.key({ a: 1 });
    expect(c.get(k)).toBeNull();
    c.put(k, bytes(1000, 1));
    expect(Array.from(c.get(k)!)).toEqual(Array.from(bytes(1000, 1)));
    expect(c.stats).toMatchObject({ hits: 1, misses: 1, writes: 1, corrupt: 0 });
    // A second instance (another run) finds it too.
    expect(new FrameCache(c.dir).get(k)).not.toBeNull();
  });

  it('keys hash canonical JSON: key order does not matter, any value change does', () => {
    expect(FrameCache.key({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(FrameCache.key({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(FrameCache.key({ a: 1, b: 2 })).not.toBe(FrameCache.key({ a: 1, b: 3 }));
    expect(canonicalJson({ z: 1, a: [null, 'x'] })).toBe('{"a":[null,"x"],"z":1}');
    expect(() => new FrameCache(fresh()).get('../etc/passwd')).toThrow(/bad cache key/);
  });

  it('detects a bit flip, truncation or a renamed entry, deletes it and reports a miss', () => {
    const c = new FrameCache(fresh());
    const [k1, k2, k3, k4] = [1, 2, 3, 4].map((i) => FrameCache.key(i));
    for (const k of [k1, k2, k3]) c.put(k, bytes(500, 7));
    const file = (k: string) => path.join(c.dir, `${k}.egc`);
    const b = readFileSync(file(k1));
    b[300] ^= 1;
    writeFileSync(file(k1), b);
    writeFileSync(file(k2), readFileSync(file(k2)).subarray(0, 200));
    copyFileSync(file(k3), file(k4)); // right bytes under the wrong key
    expect(c.get(k1)).toBeNull();
    expect(c.get(k2)).toBeNull();
    expect(c.get(k4)).toBeNull();
    expect(c.stats.corrupt).toBe(3);
    expect(existsSync(file(k1)) || existsSync(file(k2)) || existsSync(file(k4))).toBe(false);
    expect(c.get(k3)).not.toBeNull();
  });

  it('stays within its size bound, evicting the least recently used unpinned entries', () => {
    const dir = fresh();
    const c = new FrameCache(dir, { maxBytes: 3 * (1000 + 24) });
    const keys = [0, 1, 2, 3, 4].map((i) => FrameCache.key(['e', i]));
    c.put(keys[0], bytes(1000, 0));
    c.put(keys[1], bytes(1000, 1));
    c.put(keys[2], bytes(1000, 2));
    c.pin([keys[1]]);
    c.get(keys[0]); // 0 is now more recent than 2
    c.put(keys[3], bytes(1000, 3)); // evicts 2: oldest unpinned
    expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
    expect([keys[0], keys[1], keys[2], keys[3]].map((k) => c.has(k))).toEqual([true, true, false, true]);
    c.unpin([keys[1]]);
    c.put(keys[4], bytes(1000, 4)); // now 1 is the oldest
    expect(c.has(keys[1])).toBe(false);
    expect(c.stats.evictions).toBe(2);
    expect(readdirSync(dir).filter((f) => f.endsWith('.egc')).length).toBe(3);
    // The LRU order survives a restart: last use is the file time.
    const old = new Date(Date.now() - 60_000);
    utimesSync(path.join(dir, `${keys[4]}.egc`), old, old);
    const c2 = new FrameCache(dir, { maxBytes: 2 * (1000 + 24) });
    c2.put(FrameCache.key('new'), bytes(1000, 9));
    expect(c2.has(keys[4])).toBe(false);
    expect(c2.has(keys[0]) && c2.has(keys[3])).toBe(false); // bound 2: only the newest entry and one more remain
    expect(c2.bytes).toBeLessThanOrEqual(c2.maxBytes);
  });

  it('writes through a temp file and clears temp files left by a crashed writer', () => {
    const dir = fresh();
    const c = new FrameCache(dir);
    c.put(FrameCache.key('x'), bytes(10, 1));
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(false);
    const stale = path.join(dir, '.abc.123.dead.tmp');
    const live = path.join(dir, '.abd.124.beef.tmp');
    writeFileSync(stale, 'partial');
    writeFileSync(live, 'partial');
    const old = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(stale, old, old);
    const c2 = new FrameCache(dir);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true); // may belong to a running process
    expect(c2.size).toBe(1);
  });
});

describe('dataset cache behaviour', () => {
  let fx: GestureFixture;
  const PREP = gesturePreprocessing({ frame: { width: 16, height: 16 }, binUs: 10_000, windowUs: 100_000 });
  beforeAll(async () => {
    fx = await makeGestureFixture(path.join(tmp, 'fx'), { users: 2, testUsers: 1, lightings: ['lab'], classes: [0, 1, 2] });
  });

  it('misses once, then serves every recording from the cache with identical samples', async () => {
    const cacheDir = fresh();
    const a = await openEventDir(fx.dir, { preprocessing: PREP, cacheDir });
    expect(a.stats.cachedRecordings).toBe(0);
    const b = await openEventDir(fx.dir, { preprocessing: PREP, cacheDir });
    expect(b.stats).toMatchObject({ cachedRecordings: 2, events: 0 });
    expect(b.train.size).toBe(a.train.size);
    const mem = await openEventDir(fx.dir, { preprocessing: PREP, cacheDir: null });
    for (let i = 0; i < a.train.size; i++) expect(b.train.sample(i)).toEqual(mem.train.sample(i));
  });

  it('is invalidated by a preprocessing change, a label change and a recording change', async () => {
    const cacheDir = fresh();
    await openEventDir(fx.dir, { preprocessing: PREP, cacheDir });
    const other = await openEventDir(fx.dir, { preprocessing: { ...PREP, normalisation: { divideBy: 5, clip: null } }, cacheDir });
    expect(other.stats.cachedRecordings).toBe(0);
    const labels = path.join(fx.dir, `${fx.trials[0].name}_labels.csv`);
    const text = readFileSync(labels, 'utf8');
    writeFileSync(labels, text.trimEnd() + '\n1,3000000,3100000\n');
    try {
      const l = await openEventDir(fx.dir, { preprocessing: PREP, cacheDir });
      expect(l.stats.cachedRecordings).toBe(1); // only the relabelled recording is rebuilt
    } finally {
      writeFileSync(labels, text);
    }
    const st = statSync(fx.trials[1].file);
    const later = new Date(st.mtimeMs + 5_000);
    utimesSync(fx.trials[1].file, later, later);
    const m = await openEventDir(fx.dir, { preprocessing: PREP, cacheDir });
    expect(m.stats.cachedRecordings).toBe(1); // the touched recording is decoded again
  });

  it('rebuilds a corrupted window entry instead of trusting it', async () => {
    const cacheDir = fresh();
    const a = await openEventDir(fx.dir, { preprocessing: PREP, cacheDir });
    const before = a.train.sample(3);
    const entries = readdirSync(cacheDir).filter((f) => f.endsWith('.egc'));
    for (const f of entries) {
      const b = readFileSync(path.join(cacheDir, f));
      if (b.length < 200) continue; // skip manifests
      b[b.length - 5] ^= 0xff;
      writeFileSync(path.join(cacheDir, f), b);
      break;
    }
    const r = await openEventDir(fx.dir, { preprocessing: PREP, cacheDir });
    expect(r.cache!.stats.corrupt).toBe(1);
    expect(r.stats.cachedRecordings).toBe(1);
    expect(r.train.sample(3)).toEqual(before);
    // Corruption while in use is reported, never returned.
    const k = readdirSync(cacheDir).filter((f) => f.endsWith('.egc'));
    for (const f of k) writeFileSync(path.join(cacheDir, f), 'garbage');
    expect(() => r.train.sample(0)).toThrow(/removed or corrupted while in use/);
  });
});
