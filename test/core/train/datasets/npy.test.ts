import { describe, expect, it } from 'vitest';
import { EventFormatError } from '../../../../core/events/errors.ts';
import { NpyFormatError, eventsFromNpy, parseNpy } from '../../../../core/train/datasets/npy.ts';
import { npyBytes } from '../../../helpers/gesture-fixture.ts';

function f64(values: number[], littleEndian = true): Uint8Array {
  const b = new Uint8Array(8 * values.length);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setFloat64(8 * i, v, littleEndian));
  return b;
}

// tonic's DVSGesture copy: rows (x, y, p, t) with t in ms.
const ROWS = [
  [3, 4, 1, 0.5],
  [127, 0, 0, 1.25],
  [10, 20, -1, 2],
];

function expectNpyError(bytes: Uint8Array, re: RegExp): NpyFormatError {
  let err: unknown;
  try {
    eventsFromNpy(parseNpy(bytes, 'x.npy'), { timeScale: 1000, source: 'x.npy' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NpyFormatError);
  expect(err).toBeInstanceOf(EventFormatError);
  expect((err as Error).message).toMatch(re);
  expect((err as NpyFormatError).offset).toBeGreaterThanOrEqual(0);
  return err as NpyFormatError;
}

describe('parseNpy + eventsFromNpy', () => {
  it('reads a C-order [N, 4] float64 array (x, y, p, t in ms) into µs events', () => {
    const a = parseNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", f64(ROWS.flat())));
    expect(a.shape).toEqual([3, 4]);
    expect(a.scalar).toEqual({ kind: 'f', size: 8, littleEndian: true });
    const pk = eventsFromNpy(a, { timeScale: 1000 });
    expect(pk.length).toBe(3);
    expect(Array.from(pk.x)).toEqual([3, 127, 10]);
    expect(Array.from(pk.y)).toEqual([4, 0, 20]);
    expect(Array.from(pk.p)).toEqual([1, 0, 0]); // p > 0 is ON: {−1, +1} and {0, 1} both work
    expect(Array.from(pk.t)).toEqual([500, 1250, 2000]);
  });

  it('reads Fortran order, big-endian integers and format version 2', () => {
    const cols = [0, 1, 2, 3].flatMap((c) => ROWS.map((r) => r[c]));
    const fo = eventsFromNpy(parseNpy(npyBytes("{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }", f64(cols))), { timeScale: 1000 });
    expect(Array.from(fo.x)).toEqual([3, 127, 10]);
    expect(Array.from(fo.t)).toEqual([500, 1250, 2000]);
    const be = new Uint8Array(4 * 8);
    const dv = new DataView(be.buffer);
    [5, 6, 1, 7000, 8, 9, 0, 7001].forEach((v, i) => dv.setInt32(4 * i, v, false));
    const b = eventsFromNpy(parseNpy(npyBytes('{"descr": ">i4", "fortran_order": False, "shape": (2, 4)}', be, 2)), { timeScale: 1 });
    expect(Array.from(b.x)).toEqual([5, 8]);
    expect(Array.from(b.t)).toEqual([7000, 7001]);
  });

  it('reads a structured array by field name, whatever the order, skipping padding fields', () => {
    // record: t <i8 | x <i2 | y <i2 | p |b1 | 3 padding bytes → 16 bytes
    const rec = new Uint8Array(2 * 16);
    const dv = new DataView(rec.buffer);
    [[123456789012, 17, 99, 1], [123456789013, 0, 127, 0]].forEach(([t, x, y, p], i) => {
      dv.setBigInt64(16 * i, BigInt(t), true);
      dv.setInt16(16 * i + 8, x, true);
      dv.setInt16(16 * i + 10, y, true);
      dv.setUint8(16 * i + 12, p);
    });
    const a = parseNpy(npyBytes("{'descr': [('t', '<i8'), ('x', '<i2'), ('y', '<i2'), ('p', '|b1'), ('', '|V3')], 'fortran_order': False, 'shape': (2,), }", rec));
    expect(a.itemSize).toBe(16);
    expect(a.fields!.map((f) => [f.name, f.offset])).toEqual([['t', 0], ['x', 8], ['y', 10], ['p', 12]]);
    const pk = eventsFromNpy(a, { timeScale: 1 });
    expect(Array.from(pk.t)).toEqual([123456789012, 123456789013]);
    expect(Array.from(pk.x)).toEqual([17, 0]);
    expect(Array.from(pk.y)).toEqual([99, 127]);
    expect(Array.from(pk.p)).toEqual([1, 0]);
  });

  it('accepts an empty array', () => {
    const pk = eventsFromNpy(parseNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", new Uint8Array(0))), { timeScale: 1000 });
    expect(pk.length).toBe(0);
  });
});

describe('hostile .npy input → NpyFormatError (never a crash or a huge allocation)', () => {
  const good = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
  it('bad magic, short file, unknown version', () => {
    expectNpyError(new Uint8Array([1, 2, 3]), /shorter than the 10-byte/);
    const b = npyBytes(good, f64(ROWS.flat()));
    b[1] = 0x58;
    expectNpyError(b, /magic/);
    const v = npyBytes(good, f64(ROWS.flat()));
    v[6] = 9;
    expectNpyError(v, /version 9/);
  });
  it('header length beyond the file', () => {
    const b = npyBytes(good, f64(ROWS.flat()));
    new DataView(b.buffer).setUint16(8, 60000, true);
    expectNpyError(b, /header length 60000 exceeds/);
    const b2 = npyBytes(good, new Uint8Array(0), 2);
    new DataView(b2.buffer).setUint32(8, 0xffffffff, true);
    expectNpyError(b2, /exceeds/);
  });
  it('a shape far larger than the data is refused before allocating', () => {
    const e = expectNpyError(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 4), }", f64(ROWS.flat())), /needs 3200000000000 data bytes, only 96 present/);
    expect(e.offset).toBeGreaterThan(10);
    expectNpyError(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (9007199254740991, 9007199254740991), }", new Uint8Array(0)), /overflows/);
  });
  it('truncated data and trailing bytes', () => {
    expectNpyError(npyBytes(good, f64(ROWS.flat()).subarray(0, 90)), /truncated/);
    expectNpyError(npyBytes(good, f64([...ROWS.flat(), 0])), /trailing bytes/);
  });
  it('unsupported or malformed dtypes and header syntax', () => {
    const d = new Uint8Array(0);
    expectNpyError(npyBytes("{'descr': '<U10', 'fortran_order': False, 'shape': (0,), }", d), /unsupported dtype '<U10'/);
    expectNpyError(npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (0,), }", d), /unsupported dtype/);
    expectNpyError(npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (0,), }", d), /unsupported dtype/);
    expectNpyError(npyBytes("{'descr': [('x', '<i2', (2,))], 'fortran_order': False, 'shape': (0,), }", d), /pairs/);
    expectNpyError(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 4), }", d), /not a non-negative integer/);
    expectNpyError(npyBytes("{'descr': '<f8', 'fortran_order': 'yes', 'shape': (0, 4), }", d), /fortran_order/);
    expectNpyError(npyBytes("{'descr': '<f8, 'fortran_order': False}", d), /header/);
    expectNpyError(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': " + '('.repeat(40) + ')'.repeat(40) + '}', d), /nesting/);
    expectNpyError(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), 'evil': __import__('os')}", d), /header/);
    expectNpyError(npyBytes("{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (0, 4)}", d), /duplicate key/);
  });
  it('wrong event shapes, missing fields, bad coordinates and times', () => {
    expectNpyError(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3), }", f64([1, 2, 3])), /must be \[N, 4\]/);
    const rec = new Uint8Array(6);
    expectNpyError(npyBytes("{'descr': [('x', '<i2'), ('y', '<i2'), ('p', '<i2')], 'fortran_order': False, 'shape': (1,), }", rec), /no field 't'/);
    expectNpyError(npyBytes(good, f64([3, 4, 1, 0, -1, 0, 0, 1, 0, 0, 0, 2])), /event 1: coordinates \(-1, 0\)/);
    expectNpyError(npyBytes(good, f64([3.5, 4, 1, 0, 1, 0, 0, 1, 0, 0, 0, 2])), /event 0: coordinates/);
    expectNpyError(npyBytes(good, f64([3, 4, 1, NaN, 1, 0, 0, 1, 0, 0, 0, 2])), /event 0: timestamp is not finite/);
  });
});
