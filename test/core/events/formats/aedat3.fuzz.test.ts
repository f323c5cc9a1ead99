import { describe, expect, it } from 'vitest';
import { allocPacket } from '../../../../core/events/packet.ts';
import { aedat31Header, concatBytes, encodeAedat31, packetHeader, polarityPacket } from '../../../helpers/aedat3-writer.ts';
import { fuzzReader } from '../../../helpers/fuzz.ts';

function events(n: number, t0: number) {
  const pk = allocPacket(n);
  for (let i = 0; i < n; i++) {
    pk.x[i] = (i * 37) % 128;
    pk.y[i] = (i * 11) % 128;
    pk.t[i] = t0 + 100 * i;
    pk.p[i] = i & 1;
  }
  pk.length = n;
  return pk;
}

describe('AEDAT 3.1 fuzz', () => {
  it('≥ 2000 mutated inputs: decoded or EventFormatError, bounded packets and allocations', async () => {
    const crossing = encodeAedat31(events(60, 2 ** 31 - 3000), { eventsPerPacket: 16 });
    const pk = events(40, 1000);
    const mixed = concatBytes([
      aedat31Header('DAVIS346B'),
      packetHeader({ type: 0, eventSize: 8, capacity: 1, number: 1, valid: 1 }),
      new Uint8Array(8).fill(3),
      polarityPacket(pk, 0, 20, new Set([3, 4])),
      packetHeader({ type: 3, eventSize: 36, capacity: 1, number: 1, valid: 1 }),
      new Uint8Array(36),
      polarityPacket(pk, 20, 40),
    ]);
    const r = await fuzzReader({ format: 'aedat3', samples: [crossing, mixed], mutations: 2100, seed: 3 });
    expect(r.cases).toBeGreaterThanOrEqual(2000);
    expect(r.ok).toBeGreaterThan(r.cases / 3);
    expect(r.typedErrors).toBeGreaterThan(0);
  });
});
