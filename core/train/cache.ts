/**
 * On-disk cache of preprocessed samples (binned event windows), so a dataset is decoded and binned once, not
 * every epoch or every run.
 *
 * - Keys are content hashes (`FrameCache.key(parts)`): callers hash the file identity (path, size, mtime), the
 *   labels' content and the exact preprocessing object, so a changed recording, label file or preprocessing
 *   simply misses (old entries are never read again and age out through LRU eviction).
 * - One file per entry, `<key>.egc`: a 24-byte header (magic "EGC1", version, payload length, CRC-32 of the
 *   payload, CRC-32 of the key) then the payload. A truncated, bit-flipped or misnamed entry fails the check,
 *   is deleted and reported as a miss — never trusted.
 * - Writes are crash-safe: temp file in the same folder, then rename over the entry.
 * - Total size is bounded: after each write the least recently used entries are deleted until the cache fits,
 *   except entries pinned by datasets open in this process. Last use is the file's mtime (refreshed on read at
 *   most once a minute), so the LRU order survives across runs.
 *
 * Synchronous on purpose: the training loop's `Dataset.sample(i)` is synchronous.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';

const MAGIC = 0x31434745; // "EGC1" little-endian
const VERSION = 1;
const HEADER = 24;
const EXT = '.egc';
const KEY_RE = /^[0-9a-z][0-9a-z-]{0,127}$/;

/** Default cache folder: $EGRU_CACHE_DIR, else ~/.cache/egru-studio/frames. */
export function defaultCacheDir(): string {
  return process.env.EGRU_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'egru-studio', 'frames');
}

/** Default bound on the cache's total size: 8 GiB (the full DVS128 Gesture at 32×32 needs well under 1 GiB). */
export const DEFAULT_CACHE_BYTES = 8 * 2 ** 30;

export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries that failed their check (deleted; counted as misses too). */
  corrupt: number;
  writes: number;
  evictions: number;
}

interface EntryInfo {
  size: number;
  /** Last use, ms since the epoch (persisted as the file's mtime). */
  used: number;
  /** Order of use within this process: breaks ties between uses in the same millisecond. */
  seq: number;
  /** When the file's mtime was last set (touching it on every read would cost a syscall per sample). */
  persisted: number;
}

/** The on-disk LRU time is refreshed at most this often per entry. */
const TOUCH_EVERY_MS = 60_000;

/** JSON with object keys sorted, so equal objects hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) return JSON.stringify(String(v));
    return JSON.stringify(v) ?? 'null';
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export class FrameCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly stats: CacheStats = { hits: 0, misses: 0, corrupt: 0, writes: 0, evictions: 0 };
  private readonly entries = new Map<string, EntryInfo>();
  private readonly pins = new Map<string, number>();
  private total = 0;
  private seq = 0;

  constructor(dir: string, opts: { maxBytes?: number } = {}) {
    this.dir = path.resolve(dir);
    this.maxBytes = opts.maxBytes ?? DEFAULT_CACHE_BYTES;
    if (!(this.maxBytes > 0)) throw new RangeError(`cache maxBytes must be > 0, got ${this.maxBytes}`);
    mkdirSync(this.dir, { recursive: true });
    const now = Date.now();
    for (const name of readdirSync(this.dir)) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        // A writer that crashed before its rename; another live process's temp file is younger than an hour.
        try {
          if (now - statSync(file).mtimeMs > 3_600_000) unlinkSync(file);
        } catch {
          // gone already
        }
        continue;
      }
      if (!name.endsWith(EXT)) continue;
      try {
        const st = statSync(file);
        this.entries.set(name.slice(0, -EXT.length), { size: st.size, used: st.mtimeMs, seq: 0, persisted: st.mtimeMs });
        this.total += st.size;
      } catch {
        // removed by another process meanwhile
      }
    }
  }

  /** A cache key: hex SHA-256 (128 bits) of the canonical JSON of `parts`. */
  static key(parts: unknown): string {
    return createHash('sha256').update(canonicalJson(parts)).digest('hex').slice(0, 32);
  }

  /** Bytes held by entries this process knows of. */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  private file(key: string): string {
    if (!KEY_RE.test(key)) throw new RangeError(`bad cache key '${key}'`);
    return path.join(this.dir, key + EXT);
  }

  /** The payload of `key`, verified; null on a miss or a corrupt entry (which is deleted). */
  get(key: string): Uint8Array | null {
    const file = this.file(key);
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      this.stats.misses++;
      this.forget(key);
      return null;
    }
    const payload = this.check(key, buf);
    if (!payload) {
      this.stats.corrupt++;
      this.stats.misses++;
      this.remove(key);
      return null;
    }
    this.stats.hits++;
    this.touch(key, buf.length);
    return payload;
  }

  /** True when `key` is present and passes its checks (reads it). A corrupt entry is deleted. */
  verify(key: string): boolean {
    const file = this.file(key);
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      this.forget(key);
      return false;
    }
    if (this.check(key, buf)) return true;
    this.stats.corrupt++;
    this.remove(key);
    return false;
  }

  /** Header + length + CRC checks; returns the payload view or null. */
  private check(key: string, buf: Uint8Array): Uint8Array | null {
    if (buf.length < HEADER) return null;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION) return null;
    const len = dv.getUint32(8, true) + dv.getUint32(12, true) * 2 ** 32;
    if (len !== buf.length - HEADER) return null;
    const payload = buf.subarray(HEADER);
    if (dv.getUint32(16, true) !== crc32(payload) >>> 0) return null;
    if (dv.getUint32(20, true) !== crc32(key) >>> 0) return null;
    return payload;
  }

  /** Stores `payload` under `key` (temp file + rename), then evicts LRU entries beyond the size bound. */
  put(key: string, payload: Uint8Array): void {
    const file = this.file(key);
    const head = new Uint8Array(HEADER);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, VERSION, true);
    dv.setUint32(8, payload.length >>> 0, true);
    dv.setUint32(12, Math.floor(payload.length / 2 ** 32), true);
    dv.setUint32(16, crc32(payload) >>> 0, true);
    dv.setUint32(20, crc32(key) >>> 0, true);
    const tmp = path.join(this.dir, `.${key}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      // writeFileSync on a descriptor writes everything at the current position (it loops internally).
      writeFileSync(fd, head);
      writeFileSync(fd, payload);
    } catch (e) {
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // best effort
      }
      throw e;
    }
    closeSync(fd);
    renameSync(tmp, file);
    this.stats.writes++;
    const prev = this.entries.get(key);
    if (prev) this.total -= prev.size;
    const size = HEADER + payload.length;
    const now = Date.now();
    this.entries.set(key, { size, used: now, seq: ++this.seq, persisted: now });
    this.total += size;
    this.evict(key);
  }

  /** Keeps `keys` from eviction until unpinned (counted: pin twice, unpin twice). */
  pin(keys: Iterable<string>): void {
    for (const k of keys) this.pins.set(k, (this.pins.get(k) ?? 0) + 1);
  }

  unpin(keys: Iterable<string>): void {
    for (const k of keys) {
      const n = (this.pins.get(k) ?? 0) - 1;
      if (n > 0) this.pins.set(k, n);
      else this.pins.delete(k);
    }
  }

  /** Deletes least recently used, unpinned entries (never `keep`) until the total fits `maxBytes`. */
  evict(keep?: string): void {
    if (this.total <= this.maxBytes) return;
    const order = [...this.entries].filter(([k]) => k !== keep && !this.pins.has(k)).sort((a, b) => a[1].used - b[1].used || a[1].seq - b[1].seq);
    for (const [k] of order) {
      if (this.total <= this.maxBytes) break;
      this.remove(k);
      this.stats.evictions++;
    }
  }

  /** Deletes every entry (pinned ones too). */
  clear(): void {
    for (const k of [...this.entries.keys()]) this.remove(k);
  }

  has(key: string): boolean {
    return existsSync(this.file(key));
  }

  private touch(key: string, size: number): void {
    const now = Date.now();
    const e = this.entries.get(key);
    if (e) {
      e.used = now;
      e.seq = ++this.seq;
      if (now - e.persisted < TOUCH_EVERY_MS) return;
      e.persisted = now;
    } else {
      this.entries.set(key, { size, used: now, seq: ++this.seq, persisted: now });
      this.total += size;
    }
    try {
      const t = new Date(now);
      utimesSync(this.file(key), t, t);
    } catch {
      // read-only cache folder: LRU order then only lives in memory
    }
  }

  private forget(key: string): void {
    const e = this.entries.get(key);
    if (e) {
      this.total -= e.size;
      this.entries.delete(key);
    }
  }

  private remove(key: string): void {
    this.forget(key);
    try {
      unlinkSync(this.file(key));
    } catch {
      // already gone
    }
  }
}
