import { describe, expect, it } from 'vitest';
import { PacketBuilder, accumulateStats, concatPackets, emptyStats, type EventPacket } from '../../../core/events/packet.ts';

describe('EventPacket helpers', () => {
  it('PacketBuilder flushes bounded packets and concat restores order', () => {
    const b = new PacketBuilder(3);
    const out: EventPacket[] = [];
    for (let i = 0; i < 7; i++) {
      b.push(i, 10 + i, 1000 + i, i & 1);
      if (b.full) out.push(b.take()!);
    }
    out.push(b.take()!);
    expect(out.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(b.take()).toBeNull();
    const all = concatPackets(out);
    expect(Array.from(all.x)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(all.t)).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006]);
  });

  it('accumulateStats is streaming and exact', () => {
    const b = new PacketBuilder(2);
    const parts: EventPacket[] = [];
    const ts = [5, 7, 7, 6];
    ts.forEach((t, i) => {
      b.push(i, 2 * i, t, i % 2);
      if (b.full) parts.push(b.take()!);
    });
    const s = emptyStats();
    for (const p of parts) accumulateStats(s, p);
    expect(s.count).toBe(4);
    expect(s.on).toBe(2);
    expect(s.sumX).toBe(6);
    expect(s.sumY).toBe(12);
    expect(s.sumTMinusT0).toBe(0 + 2 + 2 + 1);
    expect(s.monotonic).toBe(false);
    expect([s.tFirst, s.tLast]).toEqual([5, 6]);
  });
});
