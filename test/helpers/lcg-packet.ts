/** A cheap deterministic event stream for format tests: an LCG drives t (rising by 0–9 µs), x, y and p. */
import type { EventPacket } from '../../core/events/packet.ts';
import { allocPacket } from '../../core/events/packet.ts';

export function lcgPacket(n: number, width: number, height: number, t0 = 1_700_000_000_000_000, seed = 1): EventPacket {
  const pk = allocPacket(n);
  let t = t0;
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    t += s % 10;
    pk.t[i] = t;
    pk.x[i] = (s >>> 8) % width;
    pk.y[i] = (s >>> 17) % height;
    pk.p[i] = (s >>> 30) & 1;
  }
  pk.length = n;
  return pk;
}
