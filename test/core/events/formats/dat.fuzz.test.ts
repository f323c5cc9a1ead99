import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fuzzReader } from '../../../helpers/fuzz.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

function synthetic(): Uint8Array {
  const head = new TextEncoder().encode('% Data file containing CD events\n% Version 2\n% Width 64\n% Height 48\n');
  const out = new Uint8Array(head.length + 2 + 8 * 50);
  out.set(head);
  out[head.length] = 12;
  out[head.length + 1] = 8;
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 50; i++) {
    dv.setUint32(head.length + 2 + 8 * i, 4294960000 + 500 * i, true); // crosses the u32 wrap
    dv.setUint32(head.length + 6 + 8 * i, ((i % 64) | ((i % 48) << 14) | ((i & 1) << 28)) >>> 0, true);
  }
  return out;
}

describe('DAT fuzz', () => {
  it('≥ 2000 mutated inputs: decoded or EventFormatError, bounded packets and allocations', async () => {
    const samples = [synthetic()];
    const real = sharedFile('tonic-ncars-dat/sample_ncars.dat');
    if (real) samples.push(readFileSync(real).subarray(0, 93 + 8 * 400));
    const r = await fuzzReader({ format: 'dat', samples, mutations: 2100, seed: 4 });
    expect(r.cases).toBeGreaterThanOrEqual(2000);
    expect(r.ok).toBeGreaterThan(r.cases / 2);
    expect(r.typedErrors).toBeGreaterThan(0);
  });
});
