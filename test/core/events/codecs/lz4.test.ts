import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventsNative, lz4Backend, lz4Compress, lz4Decompress } from '../../../../core/events/codecs/lz4-native.ts';
import { Lz4Encoder, lz4DecompressFrame, lz4ReadFrameHeader, xxh32, type Lz4EncodeOptions } from '../../../../core/events/codecs/lz4.ts';
import { EventFormatError } from '../../../../core/events/errors.ts';
import { Rng } from '../../../../core/util/rng.ts';
import { trackAllocations } from '../../../helpers/fuzz.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

const SAMPLE = sharedFile('tonic-dvxplorer-aedat4/sample.aedat4');
const hasCli = spawnSync('lz4', ['--version']).status === 0;
const tmp = mkdtempSync(path.join(tmpdir(), 'egru-lz4-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const enc = new TextEncoder();
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));

/** Test inputs: random (incompressible), runs, event-struct-like data, a repeated 80 KiB random block. */
function inputs(): Record<string, Uint8Array> {
  const rng = new Rng(7);
  const random = new Uint8Array(200_000).map(() => rng.int(256));
  const runs = new Uint8Array(150_000);
  for (let i = 0; i < runs.length; i++) runs[i] = (i >> 9) & 3 ? 0x41 : rng.int(4);
  const events = new Uint8Array(16 * 20_000);
  const dv = new DataView(events.buffer);
  let t = 1605537493718345;
  for (let i = 0; i < 20_000; i++) {
    t += rng.int(6);
    dv.setUint32(16 * i, t % 2 ** 32, true);
    dv.setUint32(16 * i + 4, Math.floor(t / 2 ** 32), true);
    dv.setInt16(16 * i + 8, rng.int(320), true);
    dv.setInt16(16 * i + 10, rng.int(240), true);
    events[16 * i + 12] = rng.int(2);
  }
  const block = random.subarray(0, 40_000);
  const repeated = new Uint8Array(240_000);
  for (let o = 0; o < repeated.length; o += block.length) repeated.set(block, o);
  return { empty: new Uint8Array(0), tiny: enc.encode('abc'), short: enc.encode('hello hello hello hello!'), random, runs, events, repeated };
}

const OPTION_SETS: Lz4EncodeOptions[] = [
  {},
  { high: true },
  { linked: true },
  { linked: true, high: true, contentSize: true, blockChecksum: true, contentChecksum: true },
  { blockMaxSize: 256 << 10, contentChecksum: true },
  { blockMaxSize: 4 << 20, contentSize: true },
];

describe('xxHash32', () => {
  it('matches the published test vectors', () => {
    expect(xxh32(new Uint8Array(0))).toBe(0x02cc5d05);
    expect(xxh32(enc.encode('abc'))).toBe(0x32d153ff);
    expect(xxh32(enc.encode('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });
});

describe('LZ4 frame codec', () => {
  it(`reports its backend (${lz4Backend.kind}${lz4Backend.reason ? ': ' + lz4Backend.reason : ''})`, () => {
    expect(['native', 'typescript']).toContain(lz4Backend.kind);
    if (lz4Backend.kind === 'typescript') expect(lz4Backend.reason).toBeTruthy();
  });

  it('round-trips every input under every option set; native and TS encoders are byte-identical', () => {
    for (const [name, data] of Object.entries(inputs())) {
      for (const o of OPTION_SETS) {
        const ts = lz4Compress(data, o, true);
        const nat = lz4Compress(data, o);
        expect(same(ts, nat), `${name} ${JSON.stringify(o)}: native == TS`).toBe(true);
        const back = lz4Decompress(ts, { maxOutput: data.length + 16 }, true);
        expect(same(back, data), `${name} ${JSON.stringify(o)}: TS decode`).toBe(true);
        expect(same(lz4Decompress(ts, { maxOutput: data.length + 16 }), data), `${name}: native decode`).toBe(true);
        const h = lz4ReadFrameHeader(ts);
        expect(h.independent).toBe(!o.linked);
        expect(h.contentSize).toBe(o.contentSize ? data.length : -1);
      }
    }
  });

  it('compresses structured data and stores incompressible blocks raw', () => {
    const d = inputs();
    expect(lz4Compress(d.runs).length).toBeLessThan(d.runs.length / 5);
    expect(lz4Compress(d.events).length).toBeLessThan(d.events.length * 0.7);
    const r = lz4Compress(d.random);
    expect(r.length).toBeLessThanOrEqual(d.random.length + 4 * 4 + 11);
    expect(r[10] & 0x80).toBe(0x80); // first block stored uncompressed (high bit of its size)
    expect(lz4Compress(d.events, { high: true }).length).toBeLessThan(lz4Compress(d.events).length);
  });

  it('linked blocks reference the previous block (and fail when misread as independent)', () => {
    const { repeated } = inputs();
    // (high level: every position is indexed, so the repeats are found wherever they start)
    const linked = lz4Compress(repeated, { linked: true, high: true });
    const indep = lz4Compress(repeated, { high: true });
    // Each 64 KiB block after the first repeats data of the previous 40 KiB: only linked mode can use that.
    expect(linked.length).toBeLessThan(indep.length / 2);
    expect(same(lz4Decompress(linked, { maxOutput: 1 << 20 }, true), repeated)).toBe(true);
    // Flip the independence bit (and fix the header checksum): the decoder must reject the cross-block reference.
    const bad = linked.slice();
    bad[4] |= 0x20;
    bad[6] = (xxh32(bad, 0, 4, 6) >>> 8) & 0xff;
    expect(() => lz4DecompressFrame(bad, { maxOutput: 1 << 20 })).toThrow(/before the start of the window/);
    expect(() => lz4Decompress(bad, { maxOutput: 1 << 20 })).toThrow(EventFormatError);
  });

  it.skipIf(!SAMPLE)('decodes the real DV frames of the sample (FLG 0x40 linked, BD 0x40), native == TS', () => {
    const file = readFileSync(SAMPLE!);
    // First packet: header at 2334 (stream 0, 7949 bytes), body at 2342 → 14,720 bytes starting with size prefix 14716.
    const body = file.subarray(2342, 2342 + 7949);
    expect([body[4], body[5]]).toEqual([0x40, 0x40]);
    const a = lz4Decompress(body, { maxOutput: 1 << 20 }, true);
    const b = lz4Decompress(body, { maxOutput: 1 << 20 });
    expect(a.length).toBe(14720);
    expect(same(a, b)).toBe(true);
    expect(new DataView(a.buffer, a.byteOffset).getUint32(0, true)).toBe(14716);
    expect(String.fromCharCode(...a.subarray(8, 12))).toBe('EVTS');
    // Re-encoding the decoded body with both encoders gives identical frames that decode back.
    for (const o of OPTION_SETS) {
      const f = lz4Compress(a, o);
      expect(same(f, lz4Compress(a, o, true))).toBe(true);
      expect(same(lz4Decompress(f, { maxOutput: 1 << 20 }), a)).toBe(true);
    }
  });

  it.skipIf(!hasCli)('interoperates with the reference lz4 command-line tool both ways', () => {
    const { events, repeated } = inputs();
    const data = new Uint8Array(events.length + repeated.length);
    data.set(events);
    data.set(repeated, events.length);
    const raw = path.join(tmp, 'raw.bin');
    writeFileSync(raw, data);
    // Ours → lz4 -d
    for (const o of OPTION_SETS) {
      const f = path.join(tmp, 'ours.lz4');
      writeFileSync(f, lz4Compress(data, o));
      const out = execFileSync('lz4', ['-d', '-c', f], { maxBuffer: 1 << 26 });
      expect(same(out, data), `lz4 -d of ${JSON.stringify(o)}`).toBe(true);
    }
    // lz4 → ours: linked / independent, every block size, checksums, content size, high compression.
    const variants = [['-BD'], ['-BD', '-BX', '--content-size'], ['-BI', '-B5', '--no-frame-crc'], ['-B6', '-9', '-BD'], ['-B7', '-1']];
    for (const args of variants) {
      const f = path.join(tmp, 'cli.lz4');
      execFileSync('lz4', ['-q', '-f', ...args, raw, f]);
      const frame = readFileSync(f);
      expect(same(lz4Decompress(frame, { maxOutput: 1 << 26 }, true), data), `TS decode of lz4 ${args.join(' ')}`).toBe(true);
      expect(same(lz4Decompress(frame, { maxOutput: 1 << 26 }), data), `native decode of lz4 ${args.join(' ')}`).toBe(true);
    }
  });

  it('skips skippable frames before the LZ4 frame', () => {
    const data = enc.encode('skippable frames precede this one, twice over: skippable frames precede');
    const f = lz4Compress(data);
    const skip = new Uint8Array(8 + 5 + f.length);
    new DataView(skip.buffer).setUint32(0, 0x184d2a53, true);
    new DataView(skip.buffer).setUint32(4, 5, true);
    skip.set(f, 13);
    expect(same(lz4Decompress(skip, { maxOutput: 1000 }), data)).toBe(true);
  });

  it('rejects malformed frames with EventFormatError naming the offset', () => {
    const data = inputs().events.subarray(0, 100_000);
    const good = lz4Compress(data, { blockChecksum: true, contentChecksum: true, contentSize: true });
    const cases: [string, (b: Uint8Array) => void, RegExp][] = [
      ['bad magic', (b) => { b[0] = 0; }, /bad magic/],
      ['version 0', (b) => { b[4] &= 0x3f; }, /version/],
      ['reserved BD bit', (b) => { b[5] |= 0x80; }, /reserved BD/],
      ['header checksum', (b) => { b[14] ^= 1; }, /header checksum/],
      ['block checksum', (b) => { b[20] ^= 1; }, /block checksum/],
      ['content checksum', (b) => { b[b.length - 1] ^= 1; }, /content checksum/],
    ];
    for (const [what, mutate, re] of cases) {
      const b = good.slice();
      mutate(b);
      for (const forceTs of [true, false]) {
        let err: unknown;
        try {
          lz4Decompress(b, { maxOutput: 1 << 20, format: 'aedat4', baseOffset: 1000 }, forceTs);
        } catch (e) {
          err = e;
        }
        expect(err, what).toBeInstanceOf(EventFormatError);
        expect((err as EventFormatError).message, what).toMatch(re);
        expect((err as EventFormatError).format).toBe('aedat4');
        expect((err as EventFormatError).offset).toBeGreaterThanOrEqual(1000);
      }
    }
    // Truncations at every 997th byte.
    for (let n = 0; n < good.length; n += 997) {
      expect(() => lz4Decompress(good.subarray(0, n), { maxOutput: 1 << 20 }), `cut at ${n}`).toThrow(EventFormatError);
    }
    // Declared content size above the limit: refused before decoding anything.
    expect(() => lz4Decompress(good, { maxOutput: 50_000 })).toThrow(/exceeds the limit/);
    // Without a content size, output beyond the limit is caught while decoding.
    expect(() => lz4Decompress(lz4Compress(data), { maxOutput: 50_000 })).toThrow(EventFormatError);
  });

  it('fuzz: 3000 mutated frames decode or throw EventFormatError, TS and native agree, no oversized allocation', async () => {
    const rng = new Rng(11);
    const d = inputs();
    const seeds = [
      lz4Compress(d.events.subarray(0, 8_000)),
      lz4Compress(d.events.subarray(0, 70_000), { linked: true }), // two linked blocks
      lz4Compress(d.runs.subarray(0, 10_000), { contentSize: true, contentChecksum: true, blockChecksum: true }),
      lz4Compress(d.short),
    ];
    const maxOutput = 1 << 20;
    let ok = 0;
    let typed = 0;
    const t0 = performance.now();
    const { error, maxBytes } = await trackAllocations(async () => {
      for (let k = 0; k < 3000; k++) {
        const src = seeds[k % seeds.length];
        const b = src.slice(0, k % 7 === 0 ? rng.int(src.length + 1) : src.length);
        const flips = 1 + rng.int(6);
        for (let f = 0; f < flips && b.length > 0; f++) {
          const o = rng.int(b.length);
          if (rng.int(3) === 0) b[o] = [0, 0xff, 0x0f, 0xf0][rng.int(4)];
          else b[o] ^= 1 << rng.int(8);
        }
        let a: Uint8Array | Error;
        let n: Uint8Array | Error;
        try {
          a = lz4Decompress(b, { maxOutput, verifyChecksums: k % 2 === 0 }, true).slice();
        } catch (e) {
          a = e as Error;
        }
        try {
          n = lz4Decompress(b, { maxOutput, verifyChecksums: k % 2 === 0 }).slice();
        } catch (e) {
          n = e as Error;
        }
        if (a instanceof Error) {
          if (!(a instanceof EventFormatError)) throw new Error(`case ${k}: ${a.name}: ${a.message}`);
          if (!(n instanceof EventFormatError)) throw new Error(`case ${k}: TS threw, native did not`);
          typed++;
        } else {
          if (n instanceof Error || !same(a, n)) throw new Error(`case ${k}: native and TS disagree`);
          if (a.length > maxOutput) throw new Error(`case ${k}: output ${a.length} > limit`);
          ok++;
        }
      }
    });
    expect(error).toBeUndefined();
    expect(ok + typed).toBe(3000);
    expect(typed).toBeGreaterThan(500);
    expect(maxBytes).toBeLessThanOrEqual(maxOutput + 64);
    expect(performance.now() - t0).toBeLessThan(60_000); // hang guard only
    // Pure garbage never decodes as a frame.
    for (let k = 0; k < 200; k++) {
      const g = new Uint8Array(1 + rng.int(300)).map(() => rng.int(256));
      expect(() => lz4Decompress(g, { maxOutput })).toThrow(EventFormatError);
    }
  });

  it('an encoder instance is reusable across frames (stale hash entries never leak between inputs)', () => {
    const e = new Lz4Encoder();
    const d = inputs();
    for (const x of [d.events, d.short, d.runs, d.events]) {
      const f = e.encodeFrame(x);
      expect(same(lz4DecompressFrame(f, { maxOutput: 1 << 20 }), x)).toBe(true);
      expect(same(f, lz4Compress(x, {}, true))).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------- hand-built blocks

/** One LZ4 sequence: literal bytes, then (unless it is the block's last) a match of `len` bytes `off` back. */
interface Seq { lit: Uint8Array; off?: number; len?: number }

/** Encodes sequences as one LZ4 block, writing lengths exactly as the block format says (nibble + 255-runs). */
function lz4Block(seqs: Seq[]): Uint8Array {
  const out: number[] = [];
  const ext = (n: number) => {
    for (; n >= 255; n -= 255) out.push(255);
    out.push(n);
  };
  for (const s of seqs) {
    const lit = s.lit.length;
    const ml = s.len === undefined ? 0 : s.len - 4;
    out.push((Math.min(lit, 15) << 4) | (s.len === undefined ? 0 : Math.min(ml, 15)));
    if (lit >= 15) ext(lit - 15);
    out.push(...s.lit);
    if (s.len === undefined) break;
    out.push(s.off! & 0xff, s.off! >> 8);
    if (ml >= 15) ext(ml - 15);
  }
  return Uint8Array.from(out);
}

/** Wraps one compressed block in a frame (independent blocks, 64 KiB maximum, optional content size). */
function lz4FrameOf(block: Uint8Array, contentSize?: number): Uint8Array {
  const hdr = [0x04, 0x22, 0x4d, 0x18, 0x60 | (contentSize === undefined ? 0 : 0x08), 0x40];
  if (contentSize !== undefined) for (let i = 0; i < 8; i++) hdr.push(i < 4 ? (contentSize >>> (8 * i)) & 0xff : 0);
  const h = Uint8Array.from(hdr);
  hdr.push((xxh32(h, 0, 4, h.length) >>> 8) & 0xff);
  const size = [block.length & 0xff, (block.length >> 8) & 0xff, (block.length >> 16) & 0xff, 0];
  return Uint8Array.from([...hdr, ...size, ...block, 0, 0, 0, 0]);
}

/** What decoding does: the bytes, or the error (class, offset, message). */
function outcome(frame: Uint8Array, forceTs: boolean): string {
  try {
    return 'ok ' + Buffer.from(lz4Decompress(frame, { maxOutput: 1 << 20, format: 'aedat4', baseOffset: 77 }, forceTs)).toString('hex');
  } catch (e) {
    if (!(e instanceof EventFormatError)) throw e;
    return `EventFormatError ${e.offset} ${e.message}`;
  }
}

describe('LZ4 block decoder fast paths (native == TypeScript reference)', () => {
  const rng = new Rng(11);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));

  it('matches with offsets 1..40 and lengths around the 4/8/16/32-byte copy widths, with literal runs near the end', () => {
    let frames = 0;
    for (let off = 1; off <= 40; off++) {
      for (const len of [4, 5, 7, 8, 9, 15, 16, 17, 18, 19, 20, 31, 32, 33, 34, 40, 64, 300]) {
        for (const before of [1, 3, 4, 5, 16, 17, 40]) {
          for (const tail of [0, 1, 3, 4, 5, 15, 16, 17, 33]) {
            const head = bytes(Math.max(off, before));
            // Two sequences per block: a short literal + match right after the first, so a wild copy of either
            // lands where the next one must overwrite it.
            const block = lz4Block([
              { lit: head, off, len },
              { lit: bytes(before % 5), off: Math.min(off + 3, head.length), len: 4 + (len % 7) },
              { lit: bytes(tail) },
            ]);
            const ref = lz4DecompressFrame(lz4FrameOf(block), { maxOutput: 1 << 20 });
            for (const frame of [lz4FrameOf(block), lz4FrameOf(block, ref.length)]) {
              // The content size makes the output buffer exactly as long as the content: no room for wild copies.
              const nat = lz4Decompress(frame, { maxOutput: 1 << 20 });
              expect(same(nat, ref), `off ${off} len ${len} before ${before} tail ${tail}`).toBe(true);
              frames++;
            }
          }
        }
      }
    }
    expect(frames).toBe(40 * 18 * 7 * 9 * 2);
  });

  it('decodes event-struct blocks (1-3 literals + short matches one struct back) exactly as the reference', () => {
    // The pattern DV recordings compress to: per 16-byte event, a 1-byte literal + 7-byte match at offset 16, then
    // a 1-3 byte literal + 5-7 byte match at offset 16, 32, … (exercises the 4-byte literal and 8-byte match copies).
    const seqs: Seq[] = [{ lit: bytes(32), off: 16, len: 4 }];
    for (let e = 0; e < 500; e++) {
      const l2 = 1 + rng.int(3);
      seqs.push({ lit: bytes(1), off: 16, len: 7 }, { lit: bytes(l2), off: 16 * (1 + rng.int(3)), len: 8 - l2 });
    }
    seqs.push({ lit: bytes(rng.int(6)) });
    const block = lz4Block(seqs);
    const ref = lz4DecompressFrame(lz4FrameOf(block), { maxOutput: 1 << 20 });
    expect(ref.length).toBeGreaterThan(8000);
    for (const frame of [lz4FrameOf(block), lz4FrameOf(block, ref.length)]) {
      expect(same(lz4Decompress(frame, { maxOutput: 1 << 20 }), ref)).toBe(true);
    }
  });

  it('hostile blocks fail natively with the same codes as before and the same EventFormatError as the reference', () => {
    const head = bytes(20);
    const cases: [string, Uint8Array, number | undefined, number][] = [
      // [what, block, content size, native error code: -3 bad block, -4 output full]
      ['offset 0', lz4Block([{ lit: head, off: 0, len: 8 }, { lit: bytes(5) }]), undefined, -3],
      ['offset beyond the output start', lz4Block([{ lit: head, off: 21, len: 8 }, { lit: bytes(5) }]), undefined, -3],
      ['offset far beyond the output start', lz4Block([{ lit: head, off: 65535, len: 4 }, { lit: bytes(5) }]), undefined, -3],
      ['match past the declared content', lz4Block([{ lit: head, off: 16, len: 40 }, { lit: bytes(5) }]), 30, -4],
      ['literals past the declared content', lz4Block([{ lit: head, off: 16, len: 4 }, { lit: bytes(30) }]), 40, -4],
      ['block ends after a match', lz4Block([{ lit: head, off: 16, len: 8 }, { lit: bytes(0) }]).subarray(0, 23), undefined, -3],
    ];
    // Literal length running past the block: cut the literals of a valid block short.
    const long = lz4Block([{ lit: bytes(40) }]);
    cases.push(['literal run past the block end', long.subarray(0, long.length - 5), undefined, -3]);
    // Match length extension running past the block.
    const ext = lz4Block([{ lit: head, off: 4, len: 600 }, { lit: bytes(3) }]);
    cases.push(['match length bytes past the block end', ext.subarray(0, 24), undefined, -3]);
    for (const [what, block, cs, code] of cases) {
      const frame = lz4FrameOf(block, cs);
      if (eventsNative) {
        const out = new Uint8Array(cs ?? 4096);
        expect(eventsNative.lz4FrameDecode(frame, out, true), what).toBe(code);
      }
      const ts = outcome(frame, true);
      expect(ts, what).toMatch(/^EventFormatError /);
      expect(outcome(frame, false), what).toBe(ts);
    }
  });

  it('hostile sequences deep inside a long block (the fast loop: both ends far away) fail like the reference', () => {
    // 64 event structs first, so the hostile sequence starts with ≥ 32 input and ≥ 64 output bytes to go.
    const events: Seq[] = [{ lit: bytes(32), off: 16, len: 4 }];
    for (let e = 0; e < 64; e++) events.push({ lit: bytes(1), off: 16, len: 7 }, { lit: bytes(2), off: 32, len: 6 });
    const prefix = lz4Block([...events, { lit: bytes(0) }]).subarray(0, -1); // without the closing token
    const good = lz4DecompressFrame(lz4FrameOf(lz4Block([...events, { lit: bytes(3) }])), { maxOutput: 1 << 20 }).length - 3;
    const tail = lz4Block([{ lit: bytes(3), off: 16, len: 8 }, { lit: bytes(80) }]);
    const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((q) => [...q]));
    const cases: [string, Uint8Array, number | undefined, number][] = [
      ['offset 0', join(prefix, lz4Block([{ lit: bytes(2), off: 0, len: 7 }]), tail), undefined, -3],
      ['offset beyond the output start', join(prefix, lz4Block([{ lit: bytes(2), off: good + 3, len: 7 }]), tail), undefined, -3],
      ['long literal run, then offset beyond the output start', join(prefix, lz4Block([{ lit: bytes(20), off: good + 21, len: 7 }]), tail), undefined, -3],
      // A long literal run that brings the block end near: that sequence's match is decoded the careful way.
      ['long literal run near the block end, then offset beyond the output start', join(prefix, lz4Block([{ lit: bytes(40), off: good + 41, len: 7 }, { lit: bytes(5) }])), undefined, -3],
      ['short match past the declared content', join(prefix, lz4Block([{ lit: bytes(2), off: 16, len: 18 }]), tail), good + 10, -4],
      ['long match past the declared content', join(prefix, lz4Block([{ lit: bytes(2), off: 16, len: 300 }]), tail), good + 200, -4],
      ['long literal run past the declared content', join(prefix, lz4Block([{ lit: bytes(120), off: 16, len: 7 }]), tail), good + 100, -4],
    ];
    // A literal run and a match-length extension that each run past the end of the block.
    const lits = join(prefix, lz4Block([{ lit: bytes(300), off: 16, len: 7 }]));
    cases.push(['literal run past the block end', lits.subarray(0, lits.length - 40), undefined, -3]);
    const ext = join(prefix, lz4Block([{ lit: bytes(1), off: 16, len: 20000 }]));
    cases.push(['match length bytes past the block end', ext.subarray(0, ext.length - 20), undefined, -3]);
    cases.push(['block ends right after a match', join(prefix, lz4Block([{ lit: bytes(1), off: 16, len: 7 }])).subarray(0, prefix.length + 4), undefined, -3]);
    for (const [what, block, cs, code] of cases) {
      const frame = lz4FrameOf(block, cs);
      if (eventsNative) {
        const out = new Uint8Array(cs ?? 1 << 16);
        expect(eventsNative.lz4FrameDecode(frame, out, true), what).toBe(code);
      }
      const ts = outcome(frame, true);
      expect(ts, what).toMatch(/^EventFormatError /);
      expect(outcome(frame, false), what).toBe(ts);
    }
    // And the same prefix with a valid ending decodes identically both ways.
    for (const end of [tail, lz4Block([{ lit: bytes(40), off: 16, len: 7 }, { lit: bytes(5) }])]) {
      const ok = lz4FrameOf(join(prefix, end));
      expect(outcome(ok, false)).toBe(outcome(ok, true));
      expect(outcome(ok, true)).toMatch(/^ok /);
    }
  });
});
