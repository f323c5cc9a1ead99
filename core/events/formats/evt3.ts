/**
 * Prophesee RAW, EVT 3.0: a `% ` text header, then little-endian 16-bit words, type in bits 12–15. The format
 * is stateful: words set the current row, time, vector base; only ADDR_X and vector words emit events.
 *
 *   0x0 EVT_ADDR_Y    bits 0–10 y, bit 11 system type (0 = this camera's CD row, 1 = slave: not decoded)
 *   0x2 EVT_ADDR_X    bits 0–10 x, bit 11 polarity — one event at (x, row, current time)
 *   0x3 VECT_BASE_X   bits 0–10 base x, bit 11 polarity of the following vectors
 *   0x4 VECT_12       bits 0–11 mask: events at base + i for set bits; then base += 12
 *   0x5 VECT_8        bits 0–7 mask; then base += 8
 *   0x6 EVT_TIME_LOW  time bits 0–11
 *   0x8 EVT_TIME_HIGH time bits 12–23
 *   0xA EXT_TRIGGER   bit 0 value, bits 8–11 channel — counted, passed to `onTrigger`
 *   0x7/0xF CONTINUED, 0xD IMU, 0xE OTHERS, others — skipped (each is a word of its own)
 *
 * Time: t = loops·2^24 + timeHigh·4096 + timeLow. Loops are counted on TIME_HIGH only: a TIME_HIGH more than
 * half its 12-bit range (2048·4096 µs) below the previous one is the 24-bit clock looping (every
 * 16.777216 s). This also catches loops after a short gap (0xFF0 → 0x001), where Prophesee's sample decoder
 * needs a drop of ≥ 4085 units. A TIME_LOW below the previous one is NOT an overflow: real data repeats
 * TIME_HIGH words and steps TIME_LOW back by a few µs. A changed TIME_HIGH resets time low to 0; a repeated
 * one keeps it (as Prophesee's HAL does).
 *
 * Dropped: everything before the first TIME_HIGH (no time base; the HAL does the same), events with no
 * valid CD row yet or a slave row, rows y ≥ height, columns x ≥ width, vectors before any VECT_BASE_X.
 */
import type { EventPacket, SensorGeometry } from '../packet.ts';
import { DECODE_BLOCK, allocBlock, appendBlock } from '../packet.ts';
import type { EventFormat } from '../reader.ts';
import type { RawCounters, RawReaderOptions, WordDecoder } from './prophesee-raw.ts';
import { emptyCounters, popcount, openRaw, probeRaw, syncCounters } from './prophesee-raw.ts';
import { checkKernel, eventsKernels, type EventsKernels } from '../codecs/events-native.ts';

const TWO_24 = 2 ** 24;
// Module-level scratch block for Evt3Decoder's hot loop (constants: see DECODE_BLOCK in packet.ts).
const B = allocBlock();
const BX = B.x, BY = B.y, BT = B.t, BP = B.p;
const IN = new Uint16Array(2 * DECODE_BLOCK);
/** Half the TIME_HIGH range, in TIME_HIGH units: a larger backward jump is a loop of the 24-bit clock. */
const LOOP_THRESHOLD = 2048;

/**
 * The EVT 3.0 word decoder, state carried across chunks (and across a packet filling up mid-vector). Usable
 * on its own for live streams: feed it Uint16Array views of the byte stream (host order) in arrival order.
 */
export class Evt3Decoder implements WordDecoder<Uint16Array> {
  readonly counters: RawCounters = emptyCounters();
  private haveTimeHigh = false;
  private lastTimeHigh = 0;
  private loops = 0;
  private shift = 0;
  /** µs of the current TIME_HIGH: loops·2^24 + timeHigh·4096 − shift. */
  private thBase = 0;
  private timeLow = 0;
  private y = 0;
  /** The last ADDR_Y was a CD row of this camera inside the sensor (after the first TIME_HIGH). */
  private rowOk = false;
  private baseX = 0;
  private vectP = 0;
  private haveBase = false;
  // A vector cut short by a full packet: the bits still to emit, and their context.
  private pendMask = 0;
  private pendX = 0;
  private pendY = 0;
  private pendT = 0;
  private pendP = 0;

  constructor(
    private readonly limits: SensorGeometry,
    private readonly opts: RawReaderOptions = {},
  ) {}

  decode(w: Uint16Array, i: number, end: number, out: EventPacket): number {
    const cap = out.x.length;
    const W = this.limits.width;
    // Block by block: events go to the module-level scratch (see DECODE_BLOCK in packet.ts) and are appended to
    // `out` after each block. A vector cut by a full block or packet is left pending, emitted first next round.
    for (;;) {
      if (this.pendMask !== 0) {
        const X = out.x, Y = out.y, T = out.t, P = out.p;
        let n = out.length;
        let m = this.pendMask;
        let dropInvalid = 0;
        const bx = this.pendX, py = this.pendY, pt = this.pendT, pp = this.pendP;
        while (m !== 0 && n < cap) {
          const b = m & -m;
          const x = bx + 31 - Math.clz32(b);
          if (x < W) {
            X[n] = x; Y[n] = py; T[n] = pt; P[n] = pp; n++;
          } else dropInvalid++;
          m ^= b;
        }
        this.pendMask = m;
        out.length = n;
        this.counters.droppedInvalid += dropInvalid;
        if (m !== 0) return i;
      }
      if (i >= end || out.length >= cap) return i;
      i = this.block(w, i, end, Math.min(DECODE_BLOCK, cap - out.length));
      appendBlock(out, BX, BY, BT, BP, this.blockEvents);
      if (this.triggers.length > 0) this.reportTriggers();
    }
  }

  /** Events the last `block` call wrote to the scratch block. */
  private blockEvents = 0;
  /** External triggers of the last block, as (t, channel, value) triples, for `onTrigger`. */
  private readonly triggers: number[] = [];

  private reportTriggers(): void {
    const tr = this.triggers.splice(0);
    for (let j = 0; j < tr.length; j += 3) this.opts.onTrigger?.(tr[j], tr[j + 1], tr[j + 2]);
  }

  /** Decodes words[i..end) into the scratch block until the words run out or `room` events were written. */
  private block(w: Uint16Array, i: number, end: number, room: number): number {
    const W = this.limits.width, H = this.limits.height;
    let n = 0;
    let dropInvalid = 0, other = 0;
    let have = this.haveTimeHigh;
    let thBase = this.thBase, tl = this.timeLow;
    let t = thBase + tl;
    let y = this.y, rowOk = this.rowOk;
    let baseX = this.baseX, vp = this.vectP, haveBase = this.haveBase;

    // The words too go through a module-level scratch (IN), so the hot loop only touches constants.
    const i0 = i;
    const words = Math.min(end - i, IN.length);
    IN.set(w.subarray(i, i + words));
    let j = 0;
    outer: for (; j < words; j++) {
      const v = IN[j];
      switch (v >>> 12) {
        case 0x2: {
          // EVT_ADDR_X: one event.
          if (n === room) break outer;
          const x = v & 0x7ff;
          if (rowOk && x < W) {
            BX[n] = x; BY[n] = y; BT[n] = t; BP[n] = (v >>> 11) & 1; n++;
          } else if (!have) this.counters.droppedBeforeTimeHigh++;
          else dropInvalid++;
          break;
        }
        case 0x4:
        case 0x5: {
          // VECT_12 / VECT_8: events at baseX + bit for each set bit, then advance the base.
          const twelve = v < 0x5000;
          let m = twelve ? v & 0xfff : v & 0xff;
          if (!rowOk || !haveBase) {
            if (!have) this.counters.droppedBeforeTimeHigh += popcount(m);
            else dropInvalid += popcount(m);
          } else {
            while (m !== 0) {
              if (n === room) {
                this.pendMask = m; this.pendX = baseX; this.pendY = y; this.pendT = t; this.pendP = vp;
                baseX += twelve ? 12 : 8;
                j++;
                break outer;
              }
              const b = m & -m;
              const x = baseX + 31 - Math.clz32(b);
              if (x < W) {
                BX[n] = x; BY[n] = y; BT[n] = t; BP[n] = vp; n++;
              } else dropInvalid++;
              m ^= b;
            }
          }
          baseX += twelve ? 12 : 8;
          break;
        }
        case 0x0: {
          // EVT_ADDR_Y: new row (ignored before the first TIME_HIGH, like everything else).
          y = v & 0x7ff;
          rowOk = have && (v & 0x800) === 0 && y < H;
          break;
        }
        case 0x6:
          // EVT_TIME_LOW. A smaller value than before is a small step back, never an overflow.
          if (have) {
            tl = v & 0xfff;
            t = thBase + tl;
          }
          break;
        case 0x3:
          // VECT_BASE_X
          baseX = v & 0x7ff;
          vp = (v >>> 11) & 1;
          haveBase = have;
          break;
        case 0x8: {
          // EVT_TIME_HIGH
          const th = v & 0xfff;
          if (!have) {
            have = true;
            this.shift = this.opts.timeShift ? th * 4096 : 0;
            this.lastTimeHigh = th;
            tl = 0;
          } else if (th !== this.lastTimeHigh) {
            if (th < this.lastTimeHigh && this.lastTimeHigh - th > LOOP_THRESHOLD) {
              this.loops++;
              this.counters.timeLoops++;
            }
            this.lastTimeHigh = th;
            tl = 0;
          }
          thBase = this.loops * TWO_24 + th * 4096 - this.shift;
          t = thBase + tl;
          break;
        }
        case 0xa:
          if (have) {
            this.counters.triggers++;
            // Reported after the block is handed over: user code may decode another stream through the scratch.
            if (this.opts.onTrigger) this.triggers.push(t, (v >>> 8) & 0xf, v & 1);
          } else other++;
          break;
        default:
          other++;
      }
    }

    this.blockEvents = n;
    this.haveTimeHigh = have;
    this.thBase = thBase;
    this.timeLow = tl;
    this.y = y;
    this.rowOk = rowOk;
    this.baseX = baseX;
    this.vectP = vp;
    this.haveBase = haveBase;
    this.counters.droppedInvalid += dropInvalid;
    this.counters.otherWords += other;
    return i0 + j;
  }
}

/**
 * Evt3Decoder's twin in the events_native addon: the same state machine, its state (time base, row, vector base,
 * a vector cut short by a full packet, counters) in a Float64Array (layout: Evt3Decode in events_native.cc), so
 * words and packets may split anywhere. Used when the addon is active and no `onTrigger` callback is set.
 */
export class Evt3NativeDecoder implements WordDecoder<Uint16Array> {
  readonly counters: RawCounters = emptyCounters();
  private readonly s = new Float64Array(25);

  constructor(
    private readonly k: EventsKernels,
    limits: SensorGeometry,
    opts: RawReaderOptions = {},
  ) {
    this.s[16] = limits.width;
    this.s[17] = limits.height;
    this.s[18] = opts.timeShift ? 1 : 0;
  }

  decode(w: Uint16Array, i: number, end: number, out: EventPacket): number {
    const s = this.s, at = out.length;
    out.length = at + checkKernel(this.k.evt3Decode(w, i, end, s, out.x, out.y, out.t, out.p, at, out.x.length - at), 'evt3Decode');
    syncCounters(this.counters, s, 19);
    return s[24];
  }
}

export const evt3Format: EventFormat = {
  id: 'evt3',
  name: 'Prophesee RAW EVT 3.0',
  extensions: ['.raw'],
  probe: (head) => probeRaw(head, ['3.0']),
  open: (src, opts) =>
    openRaw(src, opts as RawReaderOptions, {
      format: 'evt3',
      formatName: 'Prophesee RAW EVT 3.0',
      wordBytes: 2,
      view: (b) => new Uint16Array(b.buffer, b.byteOffset, b.length >>> 1),
      decoder: (limits, o) => {
        const k = o.onTrigger ? null : eventsKernels();
        return k ? new Evt3NativeDecoder(k, limits, o) : new Evt3Decoder(limits, o);
      },
      // Prophesee's EVT3 sample decoder assumes an HD sensor when the header does not say.
      defaultGeometry: { width: 1280, height: 720 },
    }),
};
