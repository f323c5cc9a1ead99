import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fuzzReader } from '../../../helpers/fuzz.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

const enc = (s: string) => new TextEncoder().encode(s);

function file(header: string, records: Array<[number, number]>): Uint8Array {
  const head = enc(header);
  const out = new Uint8Array(head.length + 8 * records.length);
  out.set(head);
  const dv = new DataView(out.buffer);
  records.forEach(([a, t], i) => {
    dv.setInt32(head.length + 8 * i, a, false);
    dv.setInt32(head.length + 8 * i + 4, t, false);
  });
  return out;
}

const dvs128 = file(
  '#!AER-DAT2.0\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n#End Of ASCII Header\r\n',
  Array.from({ length: 60 }, (_, i) => [(i * 523) & 0xffff, 2147480000 + 1000 * i]),
);
// DAVIS240C without an end line: DVS, IMU, APS and external-input words, first data byte 0x23.
const davis = file(
  '#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C\r\n#End of Preferences for this AEChip\r\n',
  [
    [(140 << 22) | (5 << 12) | 0x800, 10],
    ...Array.from({ length: 7 }, (_, c): [number, number] => [(0x80000c00 | (c << 28) | (123 << 12)) | 0, 11]),
    [0x80000000 | (3 << 22) | (4 << 12) | 0x3ff, 12],
    [0x403, 13],
    ...Array.from({ length: 40 }, (_, i): [number, number] => [((i % 180) << 22) | ((i * 7) % 240 << 12) | ((i & 1) << 11), 14 + i]),
  ],
);

describe('AEDAT 2.0 fuzz', () => {
  it('≥ 2000 mutated inputs: decoded or EventFormatError, bounded packets and allocations', async () => {
    const samples = [dvs128, davis];
    const real = sharedFile('dvs128-aedat2/alex_walking_again.aedat');
    if (real) samples.push(readFileSync(real).subarray(0, 4612 + 8 * 300)); // real header + 300 records
    const r = await fuzzReader({ format: 'aedat2', samples, mutations: 2100, seed: 2 });
    expect(r.cases).toBeGreaterThanOrEqual(2000);
    expect(r.ok).toBeGreaterThan(r.cases / 2); // most mutations hit records, which always decode
    expect(r.typedErrors).toBeGreaterThan(0);
  });
});
