// The fuzz harness must catch what it claims to catch: each check below is fed a reader with that bug.
import { describe, expect, it } from 'vitest';
import { EventFormatError } from '../../core/events/errors.ts';
import { allocPacket, type EventPacket } from '../../core/events/packet.ts';
import type { EventFileInfo, EventReader } from '../../core/events/reader.ts';
import { fuzzReader, sizeFieldLikeOffsets, trackAllocations } from './fuzz.ts';

/** A toy format: byte 0 = 7 (magic), byte 1 = event count; `bug` decides how it misbehaves on mutated input. */
function toyOpen(bug: 'none' | 'range' | 'alloc' | 'length' | 'hang' | 'polarity') {
  return async (bytes: Uint8Array): Promise<EventReader> => {
    if (bytes.length < 2 || bytes[0] !== 7) throw new EventFormatError('toy', 0, 'bad magic');
    const info: EventFileInfo = { format: 'csv', formatName: 'toy', geometry: null, header: {}, streams: [], dataOffset: 2, fileSize: bytes.length };
    const declared = bytes[1];
    const mutated = declared !== 3 || bytes.length !== 5;
    async function* packets(): AsyncIterableIterator<EventPacket> {
      if (mutated && bug === 'range') throw new RangeError('offset is outside the bounds of the DataView');
      if (mutated && bug === 'alloc') new Float64Array(declared * 100_000); // sized from an unchecked field
      if (mutated && bug === 'hang') for (;;) yield allocPacket(1);
      const pk = allocPacket(4);
      pk.length = mutated && bug === 'length' ? 5 : Math.min(3, bytes.length - 2);
      if (mutated && bug === 'polarity') pk.p[0] = 2;
      yield pk;
    }
    return { info, warnings: [], packets, close: async () => {} };
  };
}
const sample = new Uint8Array([7, 3, 0, 0, 0]);
const run = (bug: Parameters<typeof toyOpen>[0], caseTimeMs?: number) =>
  fuzzReader({ format: 'csv', samples: [sample], mutations: 200, open: toyOpen(bug), caseTimeMs, maxAllocBytes: () => 1 << 20 });

describe('fuzzReader catches', () => {
  it('nothing in a correct reader, and counts cases', async () => {
    const r = await run('none');
    expect(r.cases).toBe(1 + 64 + 3 + 200);
    expect(r.ok + r.typedErrors).toBe(r.cases);
    expect(r.ok).toBeGreaterThan(0);
    expect(r.typedErrors).toBeGreaterThan(0);
  });
  it('an error that is not an EventFormatError', async () => {
    await expect(run('range')).rejects.toThrow(/threw RangeError instead of EventFormatError/);
  });
  it('an allocation sized by an unchecked header field', async () => {
    await expect(run('alloc')).rejects.toThrow(/allocated \d+ bytes in one piece/);
  });
  it('a packet longer than its arrays', async () => {
    await expect(run('length')).rejects.toThrow(/packet length 5 outside \[0, 4\]/);
  });
  it('a polarity outside {0,1}', async () => {
    await expect(run('polarity')).rejects.toThrow(/polarity 2/);
  });
  it('a runaway loop (per-case time guard)', async () => {
    await expect(run('hang', 100)).rejects.toThrow(/hang or runaway loop/);
  });
});

describe('fuzz helpers', () => {
  it('trackAllocations sees typed arrays and ArrayBuffers, and restores the constructors', async () => {
    const U8 = Uint8Array;
    const { maxBytes, error } = await trackAllocations(async () => {
      new Uint16Array(1000);
      new ArrayBuffer(5000);
      new U8(10).subarray(0, 2);
      throw new Error('x');
    });
    expect(maxBytes).toBe(5000);
    expect((error as Error).message).toBe('x');
    expect(Uint8Array).toBe(U8);
  });
  it('sizeFieldLikeOffsets finds a u32 LE length field past the first 64 bytes', () => {
    const b = new Uint8Array(400);
    new DataView(b.buffer).setUint32(200, 300, true);
    expect(sizeFieldLikeOffsets(b)).toContain(200);
  });
});
