/**
 * TEST-ONLY encoder writing real Prophesee RAW EVT 3.0 (see core/events/formats/evt3.ts for the layout), with
 * the habits of real camera data that decoders get wrong:
 *   - TIME_HIGH for every 4096 µs step between events (so the 24-bit clock loops every 2^24 µs and a decoder
 *     must count loops), and the current TIME_HIGH repeated now and then;
 *   - now and then a TIME_LOW a few µs ahead followed by the real (smaller) TIME_LOW: a step back that is
 *     not an overflow;
 *   - with `vectorize`, runs of ≥ 3 events sharing t, y and polarity with increasing x inside 32 columns are
 *     written as VECT_BASE_X + VECT_12 + VECT_12 + VECT_8 (the real group shape), else EVT_ADDR_X words.
 * Event order is preserved exactly, so decode(encode(p)) must equal p.
 */
import type { EventPacket } from '../../core/events/packet.ts';

export interface Evt3EncodeOptions {
  width?: number;
  height?: number;
  vectorize?: boolean;
  header?: Record<string, string>;
}

const ADDR_Y = 0x0, ADDR_X = 0x2, VECT_BASE_X = 0x3, VECT_12 = 0x4, VECT_8 = 0x5, TIME_LOW = 0x6, TIME_HIGH = 0x8;
const word = (type: number, payload: number) => ((type << 12) | (payload & 0xfff)) & 0xffff;

export function encodeEvt3(packet: EventPacket, opts: Evt3EncodeOptions = {}): Uint8Array {
  const width = opts.width ?? 1280;
  const height = opts.height ?? 720;
  const header = opts.header ?? { evt: '3.0', format: `EVT3;height=${height};width=${width}` };
  const text = Object.entries(header).map(([k, v]) => `% ${k} ${v}\n`).join('') + '% end\n';
  const headBytes = new TextEncoder().encode(text);

  const n = packet.length;
  const { x: X, y: Y, t: T, p: P } = packet;
  const words: number[] = [];
  let th = -1; // absolute TIME_HIGH (t >> 12) last written
  let tl = -1; // TIME_LOW last written (-1: must write)
  let y = -1;
  let tlChanges = 0;
  let sinceRepeat = 0;
  for (let i = 0; i < n; ) {
    const t = T[i];
    if (!Number.isInteger(t) || t < 0) throw new RangeError(`event ${i}: t ${t} is not a non-negative integer`);
    if (X[i] >= 2048 || Y[i] >= 2048) throw new RangeError(`event ${i}: (${X[i]}, ${Y[i]}) does not fit 11 bits`);
    const hi = Math.floor(t / 4096);
    const lo = t - hi * 4096;
    if (th < 0) {
      words.push(word(TIME_HIGH, hi), word(TIME_HIGH, hi)); // real streams start with repeated TIME_HIGH
      th = hi;
      tl = -1;
    } else if (hi > th) {
      for (let k = th + 1; k <= hi; k++) words.push(word(TIME_HIGH, k));
      th = hi;
      tl = -1;
    } else if (hi < th) {
      words.push(word(TIME_HIGH, hi)); // time going backwards in the input: say so as it is
      th = hi;
      tl = -1;
    } else if (++sinceRepeat % 50 === 0) {
      words.push(word(TIME_HIGH, hi)); // a repeated, unchanged TIME_HIGH (keeps time low)
    }
    if (lo !== tl) {
      if (tl >= 0 && ++tlChanges % 4 === 0 && lo + 3 <= 4095) words.push(word(TIME_LOW, lo + 3)); // step back follows
      words.push(word(TIME_LOW, lo));
      tl = lo;
    }
    if (Y[i] !== y) {
      y = Y[i];
      words.push(word(ADDR_Y, y));
    }
    // A vector run: same t, y, p, strictly increasing x within [x_i, x_i + 32).
    let j = i + 1;
    if (opts.vectorize) {
      while (j < n && T[j] === t && Y[j] === y && P[j] === P[i] && X[j] > X[j - 1] && X[j] < X[i] + 32) j++;
    }
    if (j - i >= 3) {
      const base = X[i];
      let mask = 0;
      for (let k = i; k < j; k++) mask = (mask | (1 << (X[k] - base))) >>> 0;
      words.push(
        word(VECT_BASE_X, ((P[i] ? 1 : 0) << 11) | base),
        word(VECT_12, mask & 0xfff),
        word(VECT_12, (mask >>> 12) & 0xfff),
        word(VECT_8, (mask >>> 24) & 0xff),
      );
      i = j;
    } else {
      words.push(word(ADDR_X, ((P[i] ? 1 : 0) << 11) | X[i]));
      i++;
    }
  }
  const out = new Uint8Array(headBytes.length + words.length * 2);
  out.set(headBytes);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) dv.setUint16(headBytes.length + 2 * i, words[i], true);
  return out;
}
