import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fuzzReader } from '../../../helpers/fuzz.ts';
import { sharedFile } from '../../../helpers/shared-data.ts';

function synthetic(): Uint8Array {
  const b = new Uint8Array(5 * 80);
  for (let i = 0; i < 80; i++) {
    const marker = i % 25 === 24;
    const ts = 100 * (i % 25);
    b.set([i % 34, marker ? 240 : i % 34, ((i & 1) << 7) | (ts >>> 16), (ts >>> 8) & 0xff, ts & 0xff], 5 * i);
  }
  return b;
}

describe('N-MNIST fuzz', () => {
  it('≥ 2000 mutated inputs: decoded or EventFormatError, bounded packets and allocations', async () => {
    const samples = [synthetic()];
    const real = sharedFile('tonic-nmnist-bin/sample_nmnist.bin');
    if (real) samples.push(readFileSync(real).subarray(0, 5 * 600));
    const r = await fuzzReader({ format: 'nmnist', samples, mutations: 2100, seed: 5 });
    expect(r.cases).toBeGreaterThanOrEqual(2000);
    expect(r.ok).toBeGreaterThan(0);
    expect(r.typedErrors).toBeGreaterThan(0); // mutated heads stop looking like N-MNIST: detection refuses them
  });
});
