import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  parseSafetensors,
  readSafetensorsFile,
  SafetensorsError,
  serializeSafetensors,
  tensorToFloat64,
  writeSafetensorsFile,
} from '../../../core/io/safetensors.ts';

/** Builds a file by hand: u64 LE header length, header text, data bytes. */
function build(headerText: string, data: number[] = [], declaredLen?: bigint): Uint8Array {
  const h = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLen ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function expectError(bytes: Uint8Array, tensor: string | null, reason: RegExp) {
  let err: unknown;
  try {
    parseSafetensors(bytes, 'hostile.safetensors');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SafetensorsError);
  const se = err as SafetensorsError;
  expect(se.tensor).toBe(tensor);
  expect(se.reason).toMatch(reason);
  expect(se.message).toContain('hostile.safetensors');
}

describe('safetensors reader: hand-built bytes', () => {
  it('reads F32, F64, I64, F16, BF16 and metadata from a byte-level file', () => {
    const data: number[] = [];
    const push = (arr: ArrayBufferView) => data.push(...new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    push(Float32Array.of(1.5, -2)); // a: [0, 8)
    push(Float64Array.of(Math.PI)); // b: [8, 16)
    push(BigInt64Array.of(-3n, 1n << 40n)); // c: [16, 32)
    push(Uint16Array.of(0x3c00, 0xc000, 0x3555)); // h: F16 1, −2, 0.333… [32, 38)
    push(Uint16Array.of(0x3fc0)); // bf: BF16 1.5 [38, 40)
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"F64","shape":[1,1],"data_offsets":[8,16]},' +
      '"c":{"dtype":"I64","shape":[2],"data_offsets":[16,32]},' +
      '"h":{"dtype":"F16","shape":[3],"data_offsets":[32,38]},' +
      '"bf":{"dtype":"BF16","shape":[],"data_offsets":[38,40]}}';
    const f = parseSafetensors(build(header, data));
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(Array.from(f.tensors.get('a')!.data as Float32Array)).toEqual([1.5, -2]);
    expect(f.tensors.get('b')!.shape).toEqual([1, 1]);
    expect((f.tensors.get('b')!.data as Float64Array)[0]).toBe(Math.PI);
    expect(Array.from(f.tensors.get('c')!.data as BigInt64Array)).toEqual([-3n, 1n << 40n]);
    expect(Array.from(tensorToFloat64(f.tensors.get('c')!))).toEqual([-3, 2 ** 40]);
    const h = f.tensors.get('h')!.data as Float32Array;
    expect(h[0]).toBe(1);
    expect(h[1]).toBe(-2);
    expect(h[2]).toBeCloseTo(1 / 3, 3);
    expect(Array.from(f.tensors.get('bf')!.data as Float32Array)).toEqual([1.5]);
  });

  it('accepts an unaligned data start (header not padded) and an empty tensor', () => {
    const header = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F64","shape":[0,3],"data_offsets":[4,4]}}';
    const data = Array.from(new Uint8Array(Float32Array.of(7).buffer));
    const f = parseSafetensors(build(header, data));
    expect(Array.from(f.tensors.get('x')!.data as Float32Array)).toEqual([7]);
    expect(f.tensors.get('e')!.data.length).toBe(0);
  });
});

describe('safetensors reader: hostile files give SafetensorsError naming tensor and reason', () => {
  it('short file', () => expectError(new Uint8Array(3), null, /shorter than the 8-byte/));
  it('header length past the end', () => expectError(build('{}', [], 1000n), null, /exceeds the 2 bytes/));
  it('huge header length (u64)', () => expectError(build('{}', [], 1n << 60n), null, /exceeds the .* limit/));
  it('not JSON', () => expectError(build('{nope'), null, /not valid JSON/));
  it('not an object', () => expectError(build('[1,2]'), null, /does not start with/));
  it('invalid UTF-8', () => {
    const b = build('{"a":1}');
    b[10] = 0xff;
    expectError(b, null, /UTF-8/);
  });
  it('unknown dtype', () => expectError(build('{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}', [0]), 'w', /unknown dtype/));
  it('negative / fractional dims', () => {
    expectError(build('{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}', [0]), 'w', /bad dimension/);
    expectError(build('{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', [0]), 'w', /bad dimension/);
  });
  it('shape far larger than the file (no allocation, no overflow)', () =>
    expectError(build('{"w":{"dtype":"F64","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}', [0, 0, 0, 0, 0, 0, 0, 0]), 'w', /needs more than the 8 data bytes/));
  it('offsets past the data', () => expectError(build('{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', [1, 2]), 'w', /needs more than|past the/));
  it('offsets disagree with dtype × shape', () =>
    expectError(build('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}', new Array(8).fill(0)), 'w', /span 8 bytes but F32\[1\] needs 4/));
  it('backwards offsets', () => expectError(build('{"w":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}', [0, 0]), 'w', /backwards/));
  it('overlapping tensors', () =>
    expectError(
      build('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', [0, 0, 0]),
      'b',
      /overlap/,
    ));
  it('hole and trailing bytes', () => {
    expectError(build('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [0, 0]), 'a', /hole/);
    expectError(build('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [0, 0]), null, /trailing/);
  });
  it('bad metadata', () => expectError(build('{"__metadata__":{"k":3}}'), null, /not a string/));
});

describe('safetensors writer', () => {
  it('round-trips F32/F64/I64/I32/U8 with metadata; keys sorted; header padded to 8 with spaces', () => {
    const t = {
      zeta: { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
      alpha: { shape: [2], data: Float64Array.of(-1e300, 1e-300) },
      mid: { shape: [1], data: BigInt64Array.of(-5n) },
      i: { shape: [2], data: Int32Array.of(-7, 9) },
      u: { shape: [3], data: Uint8Array.of(1, 2, 255) },
    };
    const bytes = serializeSafetensors(t, { producer: 'egru-studio' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(headerText.trimEnd().endsWith('}')).toBe(true);
    expect(headerText.slice(headerText.trimEnd().length)).toMatch(/^ *$/);
    const keys = Object.keys(JSON.parse(headerText)).filter((k) => k !== '__metadata__');
    expect(keys).toEqual(['alpha', 'i', 'mid', 'u', 'zeta']);
    // Data laid out in key order starting at offset 0.
    expect(JSON.parse(headerText).alpha.data_offsets).toEqual([0, 16]);
    const f = parseSafetensors(bytes);
    expect(f.metadata).toEqual({ producer: 'egru-studio' });
    expect(f.tensors.get('zeta')!.shape).toEqual([2, 3]);
    expect(Array.from(f.tensors.get('zeta')!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(f.tensors.get('alpha')!.data as Float64Array)).toEqual([-1e300, 1e-300]);
    expect(Array.from(f.tensors.get('mid')!.data as BigInt64Array)).toEqual([-5n]);
    expect(Array.from(f.tensors.get('i')!.data as Int32Array)).toEqual([-7, 9]);
    expect(Array.from(f.tensors.get('u')!.data as Uint8Array)).toEqual([1, 2, 255]);
  });

  it('writes the exact bytes expected for a one-tensor file', () => {
    const bytes = serializeSafetensors({ w: { shape: [1], data: Float32Array.of(1) } });
    const json = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'; // 54 chars → padded to 56
    expect(bytes.length).toBe(8 + 56 + 4);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([56, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(bytes.subarray(8, 64))).toBe(json + '  ');
    expect(Array.from(bytes.subarray(64))).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('rejects a shape that does not match the data', () => {
    expect(() => serializeSafetensors({ w: { shape: [3], data: Float32Array.of(1, 2) } })).toThrow(SafetensorsError);
    expect(() => serializeSafetensors({ w: { dtype: 'F64', shape: [1], data: Float32Array.of(1) } })).toThrow(/does not match/);
  });

  it('file round trip through disk', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'st-'));
    try {
      const p = path.join(dir, 'a.safetensors');
      await writeSafetensorsFile(p, { x: { shape: [2, 2], data: Float64Array.of(1, 2, 3, 4) } });
      const f = await readSafetensorsFile(p);
      expect(Array.from(f.tensors.get('x')!.data as Float64Array)).toEqual([1, 2, 3, 4]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
