/**
 * TEST-ONLY encoder writing real Prophesee RAW EVT 2.0 (see core/events/formats/evt2.ts for the layout):
 * a `% ` header, then little-endian 32-bit words — an EVT_TIME_HIGH whenever time bits 6–33 change, one CD
 * word per event. Long gaps get intermediate TIME_HIGH words (as a camera sends them), so times past the
 * 34-bit loop (2^34 µs) decode by loop counting.
 */
import type { EventPacket } from '../../core/events/packet.ts';

export interface Evt2EncodeOptions {
  width?: number;
  height?: number;
  /** Header key/values, written as `% key value` lines (default: evt 2.0 and the format line). */
  header?: Record<string, string>;
  /** External trigger events, written at their times among the CD words. */
  triggers?: { t: number; channel: number; value: number }[];
}

const TH_MASK = 2 ** 28;
/** Gap (in TIME_HIGH units of 64 µs) above which intermediate TIME_HIGH words are written. */
const TH_STEP = 2 ** 26;

export function encodeEvt2(packet: EventPacket, opts: Evt2EncodeOptions = {}): Uint8Array {
  const width = opts.width ?? 640;
  const height = opts.height ?? 480;
  const header = opts.header ?? { evt: '2.0', format: `EVT2;height=${height};width=${width}` };
  const text = Object.entries(header).map(([k, v]) => `% ${k} ${v}\n`).join('') + '% end\n';
  const headBytes = new TextEncoder().encode(text);

  const n = packet.length;
  const trig = [...(opts.triggers ?? [])].sort((a, b) => a.t - b.t);
  const words: number[] = [];
  let lastTh = -1;
  const timeHigh = (t: number) => {
    const th = Math.floor(t / 64);
    if (th === lastTh) return;
    if (lastTh >= 0 && th > lastTh) {
      for (let k = lastTh + TH_STEP; k < th; k += TH_STEP) words.push((0x8 << 28 | (k % TH_MASK)) >>> 0);
    }
    words.push((0x8 << 28 | (th % TH_MASK)) >>> 0);
    lastTh = th;
  };
  let ti = 0;
  for (let i = 0; i <= n; i++) {
    const t = i < n ? packet.t[i] : Infinity;
    while (ti < trig.length && trig[ti].t <= t) {
      const g = trig[ti++];
      timeHigh(g.t);
      words.push(((0xa << 28) | ((g.t % 64) << 22) | ((g.channel & 31) << 8) | (g.value & 1)) >>> 0);
    }
    if (i === n) break;
    const x = packet.x[i], y = packet.y[i], p = packet.p[i];
    if (!Number.isInteger(t) || t < 0) throw new RangeError(`event ${i}: t ${t} is not a non-negative integer`);
    if (x >= 2048 || y >= 2048) throw new RangeError(`event ${i}: (${x}, ${y}) does not fit 11 bits`);
    timeHigh(t);
    words.push((((p ? 1 : 0) << 28) | ((t % 64) << 22) | (x << 11) | y) >>> 0);
  }
  const out = new Uint8Array(headBytes.length + words.length * 4);
  out.set(headBytes);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) dv.setUint32(headBytes.length + 4 * i, words[i], true);
  return out;
}
