/** Test helpers: packets from readable tuples, and back. */
import type { EventPacket } from '../../../../core/events/packet.ts';
import { allocPacket } from '../../../../core/events/packet.ts';
import { Rng } from '../../../../core/util/rng.ts';

/** Events as [t, x, y, p] tuples. */
export type Ev = [number, number, number, number];

export function packet(events: readonly Ev[]): EventPacket {
  const pk = allocPacket(events.length);
  events.forEach(([t, x, y, p], i) => {
    pk.t[i] = t;
    pk.x[i] = x;
    pk.y[i] = y;
    pk.p[i] = p;
  });
  pk.length = events.length;
  return pk;
}

export function tuples(pk: EventPacket): Ev[] {
  const out: Ev[] = [];
  for (let i = 0; i < pk.length; i++) out.push([pk.t[i], pk.x[i], pk.y[i], pk.p[i]]);
  return out;
}

/** Random sorted events on a W×H sensor; mean gap `gapUs`, integer µs, repeated timestamps allowed. */
export function randomPacket(n: number, width: number, height: number, gapUs: number, seed = 1): EventPacket {
  const rng = new Rng(seed);
  const pk = allocPacket(n);
  let t = 1000;
  for (let i = 0; i < n; i++) {
    t += rng.int(2 * gapUs + 1);
    pk.t[i] = t;
    pk.x[i] = rng.int(width);
    pk.y[i] = rng.int(height);
    pk.p[i] = rng.int(2);
  }
  pk.length = n;
  return pk;
}

/** Random cut points 0 = c0 < c1 < … = n (gaps 0–199), to feed a stream packet by packet. */
export function randomSplits(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const cuts = [0];
  while (cuts[cuts.length - 1] < n) cuts.push(Math.min(n, cuts[cuts.length - 1] + rng.int(200)));
  return cuts;
}

/** The four columns of a packet as plain arrays (cheap to compare for large packets). */
export function columns(pk: EventPacket): { t: number[]; x: number[]; y: number[]; p: number[] } {
  const n = pk.length;
  return {
    t: Array.from(pk.t.subarray(0, n)),
    x: Array.from(pk.x.subarray(0, n)),
    y: Array.from(pk.y.subarray(0, n)),
    p: Array.from(pk.p.subarray(0, n)),
  };
}
