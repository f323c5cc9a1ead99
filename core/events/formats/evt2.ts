/**
 * Prophesee RAW, EVT 2.0: a `% ` text header, then little-endian 32-bit words, type in bits 28–31.
 *
 *   0x0 CD_OFF / 0x1 CD_ON   bits 22–27 time LSB (6), 11–21 x, 0–10 y — one event each
 *   0x8 EVT_TIME_HIGH        bits 0–27 = time bits 6–33
 *   0xA EXT_TRIGGER          bits 22–27 time LSB, 8–12 channel, 0 value — counted, passed to `onTrigger`
 *   0xD IMU, 0xE OTHERS, 0xF CONTINUED, others — skipped
 *
 * t = loops·2^34 + (timeHigh << 6 | lsb). A TIME_HIGH more than half its 28-bit range below the previous one
 * is a loop of the 34-bit clock (≈ 4 h 46 min); a smaller step back is kept as is (out-of-order data is shown,
 * not "repaired"). Events before the first TIME_HIGH have no time base and are dropped, as Prophesee's decoder
 * does. Sensor size: see `rawGeometry` (format → geometry → plugin/generation; `opts.geometry` overrides).
 * Optional Metavision-style time shift: `timeShift` (RawReaderOptions).
 *
 * The same format entry also reads EVT 2.1 (`% evt 2.1` / `% format EVT21…`): 64-bit vectorized words, see
 * Evt21Decoder; info.format stays 'evt2' (the FormatId list has no separate id), formatName says 2.1.
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { DECODE_BLOCK, allocBlock, appendBlock } from '../packet.ts';
import type { EventFormat } from '../reader.ts';
import type { RawCounters, RawReaderOptions, WordDecoder } from './prophesee-raw.ts';
import { emptyCounters, popcount, openRaw, probeRaw, rawEvtVersion, syncCounters } from './prophesee-raw.ts';
import { checkKernel, eventsKernels, type EventsKernels } from '../codecs/events-native.ts';

const TWO_34 = 2 ** 34;
// Module-level scratch block for Evt2Decoder's hot loop (constants: see DECODE_BLOCK in packet.ts).
const B = allocBlock();
const BX = B.x, BY = B.y, BT = B.t, BP = B.p;
/** Half the TIME_HIGH range: a backward jump larger than this is the 34-bit clock looping. */
const LOOP_THRESHOLD = 2 ** 27;

/**
 * The EVT 2.0 word decoder, state carried across chunks. Usable on its own for live streams: feed it
 * Uint32Array views of the byte stream (host order) in arrival order.
 */
export class Evt2Decoder implements WordDecoder<Uint32Array> {
  readonly counters: RawCounters = emptyCounters();
  private haveTimeHigh = false;
  private lastTimeHigh = 0;
  private loops = 0;
  /** µs of the current TIME_HIGH: loops·2^34 + timeHigh·64 − shift. */
  private base = 0;
  private shift = 0;

  constructor(
    private readonly limits: SensorGeometry,
    private readonly opts: RawReaderOptions = {},
  ) {}

  decode(w: Uint32Array, i: number, end: number, out: EventPacket): number {
    // Before the first TIME_HIGH nothing has a time base: skip to it (rare; a separate loop keeps the hot one lean).
    if (!this.haveTimeHigh) {
      for (; i < end; i++) {
        const type = w[i] >>> 28;
        if (type === 8) break;
        if (type < 2) this.counters.droppedBeforeTimeHigh++;
        else this.counters.otherWords++;
      }
      if (i === end) return i;
      const th = w[i] & 0x0fffffff;
      this.haveTimeHigh = true;
      this.shift = this.opts.timeShift ? th * 64 : 0;
      this.lastTimeHigh = th;
      this.base = th * 64 - this.shift;
      i++;
    }
    const W = this.limits.width, H = this.limits.height;
    const cap = out.x.length;
    let base = this.base;
    let dropInvalid = 0, other = 0;
    // Events go to the module-level scratch block (see DECODE_BLOCK in packet.ts), copied out per block.
    // Each word gives at most one event: stopping after (room) words means no per-event "block full" test.
    while (i < end && out.length < cap) {
      const stop = Math.min(end, i + Math.min(DECODE_BLOCK, cap - out.length));
      let n = 0;
      for (; i < stop; i++) {
        const v = w[i];
        const type = v >>> 28;
        if (type < 2) {
          const x = (v >>> 11) & 0x7ff;
          const y = v & 0x7ff;
          if (x < W && y < H) {
            BX[n] = x;
            BY[n] = y;
            BT[n] = base + ((v >>> 22) & 63);
            BP[n] = type;
            n++;
          } else dropInvalid++;
        } else if (type === 8) {
          const th = v & 0x0fffffff;
          if (th < this.lastTimeHigh && this.lastTimeHigh - th > LOOP_THRESHOLD) {
            this.loops++;
            this.counters.timeLoops++;
          }
          this.lastTimeHigh = th;
          base = this.loops * TWO_34 + th * 64 - this.shift;
        } else if (type === 0xa) {
          this.counters.triggers++;
          const cb = this.opts.onTrigger;
          if (cb) {
            // Hand the block over before user code runs: it may decode another stream through the same scratch.
            appendBlock(out, BX, BY, BT, BP, n);
            n = 0;
            cb(base + ((v >>> 22) & 63), (v >>> 8) & 31, v & 1);
          }
        } else other++;
      }
      appendBlock(out, BX, BY, BT, BP, n);
    }
    this.base = base;
    this.counters.droppedInvalid += dropInvalid;
    this.counters.otherWords += other;
    return i;
  }
}

/**
 * Evt2Decoder's twin in the events_native addon (state layout: Evt2Decode in events_native.cc). Used by the
 * reader when the addon is active and no `onTrigger` callback is set (triggers are then only counted).
 */
export class Evt2NativeDecoder implements WordDecoder<Uint32Array> {
  readonly counters: RawCounters = emptyCounters();
  private readonly s = new Float64Array(14);

  constructor(
    private readonly k: EventsKernels,
    limits: SensorGeometry,
    opts: RawReaderOptions = {},
  ) {
    this.s[5] = opts.timeShift ? 1 : 0;
    this.s[6] = limits.width;
    this.s[7] = limits.height;
  }

  decode(w: Uint32Array, i: number, end: number, out: EventPacket): number {
    const s = this.s, at = out.length;
    out.length = at + checkKernel(this.k.evt2Decode(w, i, end, s, out.x, out.y, out.t, out.p, at, out.x.length - at), 'evt2Decode');
    syncCounters(this.counters, s, 8);
    return s[13];
  }
}

/**
 * EVT 2.1 (64-bit words, vectorized) decoder, over a Uint32Array view of the words: each 64-bit word is a pair
 * of 32-bit halves. The upper half has the EVT 2.0 layout (type, time LSB, x, y; TIME_HIGH; EXT_TRIGGER);
 * for CD words the lower half is a validity mask: bit i set → an event at (x + i, y). `upperFirst` selects
 * the word order: false = plain little-endian u64 (lower half first, GenX320), true = the "legacy" order
 * (upper half first, IMX636), see event-formats.md §9.
 */
export class Evt21Decoder implements WordDecoder<Uint32Array> {
  readonly counters: RawCounters = emptyCounters();
  private haveTimeHigh = false;
  private lastTimeHigh = 0;
  private loops = 0;
  private base = 0;
  private shift = 0;
  private pendMask = 0;
  private pendX = 0;
  private pendY = 0;
  private pendT = 0;
  private pendP = 0;
  private readonly hi: number;

  constructor(
    private readonly limits: SensorGeometry,
    private readonly opts: RawReaderOptions = {},
    upperFirst = false,
  ) {
    this.hi = upperFirst ? 0 : 1;
  }

  /** `i` and `end` index 32-bit halves (both even). */
  decode(w: Uint32Array, i: number, end: number, out: EventPacket): number {
    const X = out.x, Y = out.y, T = out.t, P = out.p;
    const cap = X.length;
    const W = this.limits.width, H = this.limits.height;
    const hi = this.hi, lo = 1 - hi;
    let n = out.length;
    let dropInvalid = 0, other = 0;
    if (this.pendMask !== 0) {
      let m = this.pendMask;
      while (m !== 0 && n < cap) {
        const b = m & -m;
        const x = this.pendX + 31 - Math.clz32(b);
        if (x < W) {
          X[n] = x; Y[n] = this.pendY; T[n] = this.pendT; P[n] = this.pendP; n++;
        } else dropInvalid++;
        m ^= b;
      }
      this.pendMask = m;
      if (m !== 0) {
        out.length = n;
        this.counters.droppedInvalid += dropInvalid;
        return i;
      }
    }
    let base = this.base;
    let have = this.haveTimeHigh;
    outer: for (; i + 1 < end; i += 2) {
      const v = w[i + hi];
      const type = v >>> 28;
      if (type < 2) {
        let m = w[i + lo] | 0;
        if (!have) {
          this.counters.droppedBeforeTimeHigh += popcount(m);
          continue;
        }
        const x0 = (v >>> 11) & 0x7ff;
        const y = v & 0x7ff;
        const t = base + ((v >>> 22) & 63);
        if (y >= H) {
          dropInvalid += popcount(m);
          continue;
        }
        while (m !== 0) {
          if (n === cap) {
            this.pendMask = m; this.pendX = x0; this.pendY = y; this.pendT = t; this.pendP = type;
            i += 2;
            break outer;
          }
          const b = m & -m;
          const x = x0 + 31 - Math.clz32(b);
          if (x < W) {
            X[n] = x; Y[n] = y; T[n] = t; P[n] = type; n++;
          } else dropInvalid++;
          m ^= b;
        }
      } else if (type === 8) {
        const th = v & 0x0fffffff;
        if (!have) {
          have = true;
          this.shift = this.opts.timeShift ? th * 64 : 0;
        } else if (th < this.lastTimeHigh && this.lastTimeHigh - th > LOOP_THRESHOLD) {
          this.loops++;
          this.counters.timeLoops++;
        }
        this.lastTimeHigh = th;
        base = this.loops * TWO_34 + th * 64 - this.shift;
      } else if (type === 0xa && have) {
        this.counters.triggers++;
        this.opts.onTrigger?.(base + ((v >>> 22) & 63), (v >>> 8) & 31, v & 1);
      } else other++;
    }
    out.length = n;
    this.base = base;
    this.haveTimeHigh = have;
    this.counters.droppedInvalid += dropInvalid;
    this.counters.otherWords += other;
    return i;
  }
}

/**
 * EVT 2.1 word order: `% format EVT21;endianness=legacy|little` when the header says; else from the data —
 * the half that carries the types shows TIME_HIGH words counting up in small steps, the mask half does
 * not; else from the sensor (IMX636 legacy, others plain).
 */
export function evt21UpperFirst(header: Record<string, string>, data: Uint8Array): { upperFirst: boolean; how: string } {
  const e = /endianness=(\w+)/i.exec(header.format ?? '');
  if (e) return { upperFirst: e[1].toLowerCase() === 'legacy', how: `header endianness=${e[1]}` };
  const pairs = Math.min(4096, data.length >>> 3);
  const dv = new DataView(data.buffer, data.byteOffset, pairs * 8);
  const score = [0, 0];
  for (const half of [0, 1]) {
    let prev = -1;
    for (let k = 0; k < pairs; k++) {
      const v = dv.getUint32(8 * k + 4 * half, true);
      if (v >>> 28 !== 8) continue;
      const th = v & 0x0fffffff;
      if (prev >= 0 && th >= prev && th - prev <= 1024) score[half]++;
      prev = th;
    }
  }
  if (score[0] !== score[1]) return { upperFirst: score[0] > score[1], how: 'detected from TIME_HIGH words' };
  const upperFirst = /imx636|imx646|evk4/i.test(header.plugin_name ?? '');
  return { upperFirst, how: upperFirst ? 'assumed from the IMX636 plugin' : 'assumed (plain little-endian)' };
}

export const evt2Format: EventFormat = {
  id: 'evt2',
  name: 'Prophesee RAW EVT 2.0 / 2.1',
  extensions: ['.raw'],
  probe: (head) => probeRaw(head, ['2.0', '2.1']),
  open: (src, opts) =>
    openRaw<Uint32Array>(src, opts as RawReaderOptions, (header, data) => {
      const view = (b: Uint8Array) => new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
      if (rawEvtVersion(header) === '2.1') {
        const order = evt21UpperFirst(header, data);
        return {
          format: 'evt2',
          formatName: 'Prophesee RAW EVT 2.1',
          wordBytes: 8,
          view,
          decoder: (limits, o) => new Evt21Decoder(limits, o, order.upperFirst),
          headerExtra: { 'word order': `${order.upperFirst ? 'legacy (upper 32 bits first)' : 'little-endian u64'}, ${order.how}` },
          defaultGeometry: null,
        };
      }
      return {
        format: 'evt2',
        formatName: 'Prophesee RAW EVT 2.0',
        wordBytes: 4,
        view,
        decoder: (limits, o) => {
          const k = o.onTrigger ? null : eventsKernels();
          return k ? new Evt2NativeDecoder(k, limits, o) : new Evt2Decoder(limits, o);
        },
        defaultGeometry: null,
      };
    }),
};
