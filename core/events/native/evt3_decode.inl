// EVT 3.0 decoder — included by events_native.cc inside its anonymous namespace (one translation unit, so the
// helpers, macros and N-API glue defined there above the include are in scope; a separate file so the kernel can be
// worked on on its own).

inline uint32_t Popcount(uint32_t v) {
  v = v - ((v >> 1) & 0x55555555u);
  v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
  return (((v + (v >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}
inline uint32_t LowBit(uint32_t m) { return Ctz32(m); }  // m != 0

// EVT 3.0 (evt3.ts Evt3Decoder.decode / block, without an onTrigger callback). state: [0] have TIME_HIGH,
// [1] last TIME_HIGH, [2] loops, [3] shift, [4] TIME_HIGH base µs, [5] time low, [6] y, [7] row ok, [8] vector base x,
// [9] vector polarity, [10] have base, [11] pending mask, [12] pending x, [13] pending y, [14] pending t,
// [15] pending p, [16] width, [17] height, [18] timeShift option, [19..23] counters, [24] word index reached (out).
//
// Structure (for speed; the effects are the TS switch's, word by word): the hot loop handles only ADDR_X, ADDR_Y
// and TIME_LOW once a TIME_HIGH has been seen, with few live values so nothing spills to the stack; every other
// word (and every word before the first TIME_HIGH) goes through Evt3Word, the full state machine. Where the CPU
// has AVX2, Evt3Simd (below) runs first: 8 words per step, TIME_HIGH and the vector words inline; it leaves to the
// scalar loop only the group tails at a chunk or packet end, a vector met with less than a full run of room (so
// Evt3Word cuts it where the packet fills) and triggers / unknown words.

struct Evt3 {
  bool have, rowOk, haveBase, timeShift;
  uint32_t last, y, baseX, vp, tl, W, H;
  double loops, shift, thBase;
  double dropBefore, dropInvalid, other, triggers, timeLoops;
};

struct Evt3Out {
  uint16_t* x;
  uint16_t* y;
  double* t;
  uint8_t* p;
  size_t room;
  double* s;  // for a vector cut short: the pending fields
};

enum Evt3Step { kNext = 0, kStopConsumed = 1, kStopBefore = 2 };

// One word through the full EVT 3.0 state machine (evt3.ts block's switch). k: events written so far.
EVENTS_NOINLINE Evt3Step Evt3Word(Evt3& st, uint32_t v, size_t& k, const Evt3Out& o) {
  const double t = st.thBase + double(st.tl);
  switch (v >> 12) {
    case 0x2: {
      if (k == o.room) return kStopBefore;
      const uint32_t x = v & 0x7ff;
      if (st.rowOk && x < st.W) {
        o.x[k] = uint16_t(x);
        o.y[k] = uint16_t(st.y);
        o.t[k] = t;
        o.p[k] = uint8_t((v >> 11) & 1);
        k++;
      } else if (!st.have) {
        st.dropBefore++;
      } else {
        st.dropInvalid++;
      }
      return kNext;
    }
    case 0x4:
    case 0x5: {
      const bool twelve = v < 0x5000;
      uint32_t m = twelve ? v & 0xfff : v & 0xff;
      if (!st.rowOk || !st.haveBase) {
        if (!st.have) st.dropBefore += Popcount(m);
        else st.dropInvalid += Popcount(m);
      } else {
        while (m != 0) {
          if (k == o.room) {
            o.s[11] = double(m);
            o.s[12] = double(st.baseX);
            o.s[13] = double(st.y);
            o.s[14] = t;
            o.s[15] = double(st.vp);
            st.baseX += twelve ? 12 : 8;
            return kStopConsumed;
          }
          const uint32_t x = st.baseX + LowBit(m);
          if (x < st.W) {
            o.x[k] = uint16_t(x);
            o.y[k] = uint16_t(st.y);
            o.t[k] = t;
            o.p[k] = uint8_t(st.vp);
            k++;
          } else {
            st.dropInvalid++;
          }
          m &= m - 1;
        }
      }
      st.baseX += twelve ? 12 : 8;
      return kNext;
    }
    case 0x0:
      st.y = v & 0x7ff;
      st.rowOk = st.have && (v & 0x800) == 0 && st.y < st.H;
      return kNext;
    case 0x6:
      if (st.have) st.tl = v & 0xfff;
      return kNext;
    case 0x3:
      st.baseX = v & 0x7ff;
      st.vp = (v >> 11) & 1;
      st.haveBase = st.have;
      return kNext;
    case 0x8: {
      const uint32_t th = v & 0xfff;
      if (!st.have) {
        st.have = true;
        st.shift = st.timeShift ? double(th) * 4096 : 0;
        st.last = th;
        st.tl = 0;
      } else if (th != st.last) {
        if (th < st.last && st.last - th > 2048) {
          st.loops++;
          st.timeLoops++;
        }
        st.last = th;
        st.tl = 0;
      }
      st.thBase = st.loops * 16777216.0 + double(th) * 4096 - st.shift;
      return kNext;
    }
    case 0xa:
      if (st.have) st.triggers++;
      else st.other++;
      return kNext;
    default:
      st.other++;
      return kNext;
  }
}

// The hot loop's state, kept in registers by Evt3Run (a separate function, so none of Evt3Decode's other live
// values compete for registers: inside Evt3Decode they spilled to the stack on every word).
struct Evt3Regs {
  uint32_t y, rowOk, tl;  // current row, whether events may use it (0/1), TIME_LOW
  size_t invalid;         // ADDR_X dropped (outside the sensor or on a bad row)
};

constexpr size_t kEvt3Chunk = 2048;  // words per Evt3Run call (its TIME_LOW scratch: 4 KiB)

// ADDR_X, ADDR_Y and TIME_LOW words from w[i] on, once a TIME_HIGH has been seen (base thBase); returns the index
// of the first word it did not handle: another type, or any of the three met with no room left (the caller's
// state machine then handles it, and stops before an ADDR_X).
EVENTS_NOINLINE size_t Evt3Run(const uint16_t* __restrict w, size_t i, size_t end, uint16_t* __restrict ox,
                               uint16_t* __restrict oy, double* __restrict ot, uint8_t* __restrict op_,
                               size_t* kRef, size_t room, uint32_t W, uint32_t H, double thBase, Evt3Regs* regs) {
  const size_t k0 = *kRef, i0 = i;
  size_t k = k0;
  // Row state in one register: the row in bits 0-10, bit 15 set when events may NOT use it.
  uint32_t row = regs->y | (regs->rowOk != 0 ? 0u : 0x8000u), tl = regs->tl;
  // Each word writes at most one event, so the first room − k words cannot overfill the packet: the loop needs no
  // room check (a word met with no room left goes back to the caller). At most kEvt3Chunk words per call: their
  // TIME_LOWs wait in a small scratch.
  size_t stop = end - i > room - k ? i + (room - k) : end;
  if (stop - i > kEvt3Chunk) stop = i + kEvt3Chunk;
  uint16_t tls[kEvt3Chunk];
  // Pass 1, serial: per word only integer selects and three 16-bit stores. The slot at k is always written; k
  // advances only for a kept ADDR_X. It stores the raw word as x (split into x and polarity in pass 2), the row
  // (a kept event's row has bit 15 clear) and the TIME_LOW (turned into µs in pass 2). No branch on which of the
  // three types (their mix is irregular, so branches would mispredict); selects are masks because GCC turns
  // `c ? a : b` here into branches.
  for (; i < stop; i++) {
    const uint32_t v = w[i];
    const uint32_t type = v >> 12;
    if (((0x45u >> type) & 1) == 0) break;
    const uint32_t a = v & 0x7ff;
    const uint32_t keep = uint32_t(type == 0x2) & uint32_t(row < 0x8000) & uint32_t(a < W);
    ox[k] = uint16_t(v);
    oy[k] = uint16_t(row);
    tls[k - k0] = uint16_t(tl);
    k += keep;
    const uint32_t isY = 0u - uint32_t(type == 0x0), isTL = 0u - uint32_t(type == 0x6);
    const uint32_t newRow = a | (((v & 0x800) != 0 || a >= H) ? 0x8000u : 0u);
    row = (newRow & isY) | (row & ~isY);
    tl = ((v & 0xfff) & isTL) | (tl & ~isTL);
  }
  // Pass 2, vectorizable: split x / polarity, times from the TIME_LOWs; ADDR_X words seen minus kept = dropped.
  for (size_t j = k0; j < k; j++) {
    const uint32_t v = ox[j];
    ox[j] = uint16_t(v & 0x7ff);
    op_[j] = uint8_t((v >> 11) & 1);
    ot[j] = thBase + double(tls[j - k0]);
  }
  size_t xs = 0;
  for (size_t j = i0; j < i; j++) xs += size_t((w[j] >> 12) == 0x2);
  const size_t invalid = xs - (k - k0);
  const uint32_t y = row & 0x7ff, rowOk = row < 0x8000 ? 1u : 0u;
  *kRef = k;
  regs->y = y;
  regs->rowOk = rowOk;
  regs->tl = tl;
  regs->invalid = invalid;
  return i;
}

// ------------------------------------------------------------------------------------------ EVT 3.0, AVX2
//
// The same ADDR_X / ADDR_Y / TIME_LOW runs as Evt3Run, 8 words per step with no per-word dependency. In real
// streams (and the encoder's) these three types are > 98 % of the words, so nearly every 8-word group holds
// nothing else. For such a group:
//   - the row and the TIME_LOW in effect at each word are prefix scans ("last ADDR_Y / TIME_LOW at or before this
//     lane, else the one carried in"), both done at once: rows in the low 128-bit half of a 256-bit register,
//     TIME_LOWs in the high half (vpshufb shifts lanes within each half, exactly what the scan needs);
//   - the kept ADDR_X lanes (row usable, x < width) are packed to the front with one byte shuffle from a
//     256-entry table (8-bit keep mask → shuffle control), and x, y, p, t of all 8 lanes are stored at k at once
//     (lanes past the kept ones are scratch, overwritten by the next group or past the returned count).
// A group holding any other word type is done up to that word, then the word (and those of other types right after
// it) one by one: TIME_HIGH, VECT_BASE_X and VECT_12 / VECT_8 here (a vector's set bits left-packed from the same
// table, its row / time / polarity broadcast; base + VECT_12 + VECT_12 + VECT_8, the cameras' run shape, as one
// 32-bit mask); triggers and unknown words end the run, and the scalar code (Evt3Run, then Evt3Word) takes them. Written with GCC/Clang vector extensions and target builtins (this file may not
// include <immintrin.h>: it sits inside events_native.cc's anonymous namespace); CPUs without AVX2 keep the
// scalar path (kHasAvx2).
#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))  // __builtin_shufflevector
#define EVT3_SIMD 1

typedef char Evt3V16b __attribute__((vector_size(16)));
typedef short Evt3V8s __attribute__((vector_size(16)));
typedef unsigned short Evt3V8u __attribute__((vector_size(16)));
typedef int Evt3V4i __attribute__((vector_size(16)));
typedef char Evt3V32b __attribute__((vector_size(32)));
typedef short Evt3V16s __attribute__((vector_size(32)));
typedef unsigned short Evt3V16u __attribute__((vector_size(32)));
typedef int Evt3V8i __attribute__((vector_size(32)));
typedef double Evt3V4d __attribute__((vector_size(32)));

// Left-packing controls: for an 8-bit mask m, the pshufb control moving the 16-bit lanes whose bit is set to the
// front (in order), zeros after; and the number of set bits.
struct Evt3PackTable {
  uint8_t ctl[256][16];
  uint8_t count[256];
  constexpr Evt3PackTable() : ctl(), count() {
    for (int m = 0; m < 256; m++) {
      int n = 0;
      for (int b = 0; b < 8; b++) {
        if ((m >> b) & 1) {
          ctl[m][2 * n] = uint8_t(2 * b);
          ctl[m][2 * n + 1] = uint8_t(2 * b + 1);
          n++;
        }
      }
      for (int j = 2 * n; j < 16; j++) ctl[m][j] = 0x80;
      count[m] = uint8_t(n);
    }
  }
};
alignas(64) constexpr Evt3PackTable kEvt3Pack{};

EVENTS_AVX2 EVENTS_INLINE Evt3V16s Evt3Shuf(Evt3V16s a, Evt3V32b c) {
  return (Evt3V16s)__builtin_ia32_pshufb256((Evt3V32b)a, c);
}
EVENTS_AVX2 EVENTS_INLINE Evt3V8s Evt3Shuf(Evt3V8s a, Evt3V16b c) {
  return (Evt3V8s)__builtin_ia32_pshufb128((Evt3V16b)a, c);
}

// Four int32 → four doubles in one vcvtdq2pd ymm (GCC's generic tuning would split __builtin_convertvector).
EVENTS_AVX2 EVENTS_INLINE Evt3V4d Evt3ToDouble(Evt3V4i a) {
#ifdef __clang__
  return __builtin_convertvector(a, Evt3V4d);
#else
  return __builtin_ia32_cvtdq2pd256(a);
#endif
}

// One group of 8 words (all ADDR_X / ADDR_Y / TIME_LOW in the lanes where `valid` is set; the others are
// ignored): scans, packs and stores its events at k. carry: row / TIME_LOW in effect before the group, in every
// lane of its half; out: after it.
EVENTS_AVX2 EVENTS_INLINE void Evt3Group(Evt3V8s v, Evt3V16s vv, Evt3V16s isScan, Evt3V8s isX, Evt3V16s& carry,
                                         short Wc, short Hc, Evt3V4d base, uint16_t* __restrict ox,
                                         uint16_t* __restrict oy, double* __restrict ot, uint8_t* __restrict op_,
                                         size_t& k, size_t& invalid) {
  // Lane shifts by 1, 2, 4 (zeros in), per 128-bit half; broadcast of lane 7 per half.
#define EVT3_Z char(0x80)
  const Evt3V32b sh1 = {EVT3_Z, EVT3_Z, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                        EVT3_Z, EVT3_Z, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  const Evt3V32b sh2 = {EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                        EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  const Evt3V32b sh4 = {EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, 0, 1, 2, 3, 4, 5, 6, 7,
                        EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, EVT3_Z, 0, 1, 2, 3, 4, 5, 6, 7};
  const Evt3V32b last = {14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
                         14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15};
  const Evt3V16b zlo = {0, 1, EVT3_Z, EVT3_Z, 2, 3, EVT3_Z, EVT3_Z, 4, 5, EVT3_Z, EVT3_Z, 6, 7, EVT3_Z, EVT3_Z};
  const Evt3V16b zhi = {8, 9, EVT3_Z, EVT3_Z, 10, 11, EVT3_Z, EVT3_Z, 12, 13, EVT3_Z, EVT3_Z, 14, 15, EVT3_Z, EVT3_Z};
#undef EVT3_Z
  const Evt3V16s valMask = {0x7ff, 0x7ff, 0x7ff, 0x7ff, 0x7ff, 0x7ff, 0x7ff, 0x7ff,
                            0xfff, 0xfff, 0xfff, 0xfff, 0xfff, 0xfff, 0xfff, 0xfff};
  const Evt3V16s sysMask = {0x800, 0x800, 0x800, 0x800, 0x800, 0x800, 0x800, 0x800, 0, 0, 0, 0, 0, 0, 0, 0};
  const Evt3V16s rowLimit = {Hc, Hc, Hc, Hc, Hc, Hc, Hc, Hc, 0x7fff, 0x7fff, 0x7fff, 0x7fff,
                             0x7fff, 0x7fff, 0x7fff, 0x7fff};
  // New row (bit 15: slave row or y ≥ height) / new TIME_LOW, at the lanes that set them; then the scan
  // "value at the last setting lane at or before this one", and the carry for lanes before any.
  const Evt3V16s val = vv & valMask;
  const Evt3V16s bad = ((vv & sysMask) != 0) | (val >= rowLimit);
  Evt3V16s r = (val | (bad & short(0x8000))) & isScan, s = isScan;
  r |= Evt3Shuf(r, sh1) & ~s;
  s |= Evt3Shuf(s, sh1);
  r |= Evt3Shuf(r, sh2) & ~s;
  s |= Evt3Shuf(s, sh2);
  r |= Evt3Shuf(r, sh4) & ~s;
  s |= Evt3Shuf(s, sh4);
  r |= carry & ~s;
  carry = Evt3Shuf(r, last);
  const Evt3V8s row = __builtin_shufflevector(r, r, 0, 1, 2, 3, 4, 5, 6, 7);
  const Evt3V8s tl = __builtin_shufflevector(r, r, 8, 9, 10, 11, 12, 13, 14, 15);
  // Kept ADDR_X lanes: usable row (bit 15 clear) and x < width; packed to the front.
  const Evt3V8s x = v & short(0x7ff);
  const Evt3V8s keep = isX & (row >= 0) & (x < Wc);
  const unsigned masks = unsigned(__builtin_ia32_pmovmskb128(__builtin_ia32_packsswb128(keep, isX)));
  const unsigned m = masks & 0xff;
  Evt3V16b ctl;
  std::memcpy(&ctl, kEvt3Pack.ctl[m], 16);
  const Evt3V8s xo = Evt3Shuf(x, ctl), yo = Evt3Shuf(row, ctl);
  const Evt3V8s po = Evt3Shuf((Evt3V8s)((Evt3V8u)v >> 11) & short(1), ctl);
  const Evt3V8s to = Evt3Shuf(tl, ctl);
  const Evt3V4i t0 = (Evt3V4i)__builtin_ia32_pshufb128((Evt3V16b)to, zlo);
  const Evt3V4i t1 = (Evt3V4i)__builtin_ia32_pshufb128((Evt3V16b)to, zhi);
  const Evt3V4d d0 = Evt3ToDouble(t0) + base;
  const Evt3V4d d1 = Evt3ToDouble(t1) + base;
  const Evt3V16b pb = __builtin_ia32_packuswb128(po, po);
  std::memcpy(ox + k, &xo, 16);
  std::memcpy(oy + k, &yo, 16);
  std::memcpy(op_ + k, &pb, 8);
  std::memcpy(ot + k, &d0, 32);
  std::memcpy(ot + k + 4, &d1, 32);
  const size_t n = kEvt3Pack.count[m];
  k += n;
  invalid += kEvt3Pack.count[masks >> 8] - n;
}

// Like Evt3Run (words from w[i], after the first TIME_HIGH; regs in/out, regs->invalid out), 8 words per step,
// TIME_HIGH and vector words handled inline (st: time base, loops, vector base). Stops at any other word type
// (returning its index, the words before it done), when fewer than 8 words or 8 events of room are left, or at a
// vector with less room than its widest write (16 slots for one word, 32 for a run); the caller's scalar code goes
// on (and may cut that vector with a full packet, which this code never does).
EVENTS_AVX2 EVENTS_NOINLINE size_t Evt3Simd(const uint16_t* __restrict w, size_t i, size_t end,
                                           uint16_t* __restrict ox, uint16_t* __restrict oy, double* __restrict ot,
                                           uint8_t* __restrict op_, size_t* kRef, size_t room, Evt3& st,
                                           Evt3Regs* regs) {
  size_t k = *kRef, invalid = 0;
  // x < W and y < H for 11-bit fields: limits above 2047 keep everything (signed 16-bit compares).
  const short Wc = short(st.W < 2048 ? st.W : 2048), Hc = short(st.H < 2048 ? st.H : 2048);
  // Per half: low = rows (ADDR_Y), high = TIME_LOWs.
  const Evt3V16s scanType = {0, 0, 0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6};
  const Evt3V16s otherType = {6, 6, 6, 6, 6, 6, 6, 6, 0, 0, 0, 0, 0, 0, 0, 0};
  const Evt3V16s laneIndex = {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7};
  const Evt3V16s lowHalf = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  const short row0 = short(regs->y | (regs->rowOk != 0 ? 0u : 0x8000u)), tl0 = short(regs->tl);
  // The row (bit 15 set = unusable) / TIME_LOW in effect before the group, in every lane of its half.
  Evt3V16s carry = {row0, row0, row0, row0, row0, row0, row0, row0, tl0, tl0, tl0, tl0, tl0, tl0, tl0, tl0};
  double thBase = st.thBase;
  Evt3V4d base = {thBase, thBase, thBase, thBase};
  // Vector state (VECT_BASE_X / VECT_12 / VECT_8 are handled here too).
  const uint32_t W = st.W;
  uint32_t baseX = st.baseX, vp = st.vp;
  bool haveBase = st.haveBase;
  const Evt3V8u laneIndex8 = {0, 1, 2, 3, 4, 5, 6, 7};
  while (end - i >= 8 && room - k >= 8) {
    Evt3V8s v;
    std::memcpy(&v, w + i, 16);
    const Evt3V8s isX = (Evt3V8s)((Evt3V8u)v >> 12) == 2;
    const Evt3V16s vv = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);  // both halves
    const Evt3V16s tt = (Evt3V16s)((Evt3V16u)vv >> 12);
    const Evt3V16s isScan = tt == scanType;  // low half: ADDR_Y, high half: TIME_LOW
    const Evt3V16s ok = isScan | (tt == 2) | (tt == otherType);
    const int okBits = __builtin_ia32_pmovmskb256((Evt3V32b)ok);
    if (__builtin_expect(okBits == -1, 1)) {
      Evt3Group(v, vv, isScan, isX, carry, Wc, Hc, base, ox, oy, ot, op_, k, invalid);
      i += 8;
      continue;
    }
    // Word j is of another type: the lanes before it (both halves hold the same words), then word j.
    const unsigned j = Ctz32(~unsigned(okBits) & 0xffffu) / 2;
    if (j != 0) {
      const Evt3V16s valid = laneIndex < short(j);
      const Evt3V8s validX = __builtin_shufflevector(valid, valid, 0, 1, 2, 3, 4, 5, 6, 7);
      Evt3Group(v, vv, isScan & valid, isX & validX, carry, Wc, Hc, base, ox, oy, ot, op_, k, invalid);
      i += j;
    }
    for (;;) {
      const uint32_t word = w[i];
      const uint32_t type = word >> 12;
      if (type == 0x4 || type == 0x5) {
        // VECT_12 / VECT_8 (as in Evt3Word): events at baseX + each set bit, on the current row and time.
        const bool twelve = type == 0x4;
        const uint32_t m = twelve ? word & 0xfff : word & 0xff;
        const uint32_t row = uint16_t(carry[0]);  // bit 15 set: no usable row
        if (row < 0x8000 && haveBase) {
          // Up to 16 slots are written (two 8-lane packs): with less room the scalar code takes the word (and cuts
          // the vector exactly where the packet fills).
          if (room - k < 16) goto stop;
          // Bits whose column would be ≥ width are dropped (counted invalid).
          const uint32_t lim = W > baseX ? W - baseX : 0;
          const uint32_t kept = lim >= 12 ? m : m & ((1u << lim) - 1);
          const uint32_t lo = kept & 0xff, hi = kept >> 8;
          const size_t n0 = kEvt3Pack.count[lo], n = n0 + kEvt3Pack.count[hi];
          invalid += kEvt3Pack.count[m & 0xff] + kEvt3Pack.count[m >> 8] - n;
          // Columns as unsigned 16-bit lanes: a base chained past 65535 wraps as the scalar uint16 store does.
          const unsigned short bx = uint16_t(baseX);
          const Evt3V8s x0 = (Evt3V8s)(laneIndex8 + bx), x1 = (Evt3V8s)(laneIndex8 + uint16_t(bx + 8));
          Evt3V16b c0, c1;
          std::memcpy(&c0, kEvt3Pack.ctl[lo], 16);
          std::memcpy(&c1, kEvt3Pack.ctl[hi], 16);
          const Evt3V8s xo0 = Evt3Shuf(x0, c0), xo1 = Evt3Shuf(x1, c1);
          const short ys = short(row);
          const Evt3V8s yb = {ys, ys, ys, ys, ys, ys, ys, ys};
          const uint64_t pb = vp ? 0x0101010101010101ull : 0;
          const double tv = thBase + double(uint16_t(carry[8]));
          const Evt3V4d tb = {tv, tv, tv, tv};
          std::memcpy(ox + k, &xo0, 16);
          std::memcpy(ox + k + n0, &xo1, 16);
          std::memcpy(oy + k, &yb, 16);
          std::memcpy(oy + k + 8, &yb, 8);
          std::memcpy(op_ + k, &pb, 8);
          std::memcpy(op_ + k + 8, &pb, 4);
          std::memcpy(ot + k, &tb, 32);
          std::memcpy(ot + k + 4, &tb, 32);
          std::memcpy(ot + k + 8, &tb, 32);
          k += n;
        } else {
          invalid += kEvt3Pack.count[m & 0xff] + kEvt3Pack.count[m >> 8];
        }
        baseX += twelve ? 12 : 8;
      } else if (type == 0x3) {
        // VECT_BASE_X (a TIME_HIGH having been seen, so the base is usable).
        baseX = word & 0x7ff;
        vp = (word >> 11) & 1;
        haveBase = true;
        // The usual shape of a camera's vector run, VECT_BASE_X + VECT_12 + VECT_12 + VECT_8: one 32-bit mask of
        // columns baseX … baseX + 31, emitted at once (the same effects as the three words one by one).
        uint64_t q;
        if (end - i >= 4 && (std::memcpy(&q, w + i, 8), (q & 0xf000f000f000f000ull) == 0x5000400040003000ull)) {
          const uint32_t m = uint32_t((q >> 16) & 0xfff) | uint32_t((q >> 32) & 0xfff) << 12 |
                             uint32_t((q >> 48) & 0xff) << 24;
          const uint32_t row = uint16_t(carry[0]);
          const uint32_t all = kEvt3Pack.count[m & 0xff] + kEvt3Pack.count[(m >> 8) & 0xff] +
                               kEvt3Pack.count[(m >> 16) & 0xff] + kEvt3Pack.count[m >> 24];
          if (row >= 0x8000) {
            invalid += all;
          } else {
            if (room - k < 32) goto stop;  // (the base word is handled again there: it only sets the base)
            const uint32_t lim = W > baseX ? W - baseX : 0;
            const uint32_t kept = lim >= 32 ? m : m & ((1u << lim) - 1);
            const unsigned short bx = uint16_t(baseX);
            const size_t k0 = k;
            for (uint32_t c = 0; c < 4; c++) {
              const uint32_t b = (kept >> (8 * c)) & 0xff;
              const Evt3V8s xs = (Evt3V8s)(laneIndex8 + uint16_t(bx + 8 * c));
              Evt3V16b ctl;
              std::memcpy(&ctl, kEvt3Pack.ctl[b], 16);
              const Evt3V8s xo = Evt3Shuf(xs, ctl);
              std::memcpy(ox + k, &xo, 16);
              k += kEvt3Pack.count[b];
            }
            invalid += all - (k - k0);
            const short ys = short(row);
            const Evt3V8s yb = {ys, ys, ys, ys, ys, ys, ys, ys};
            const uint64_t pb = vp ? 0x0101010101010101ull : 0;
            const double tv = thBase + double(uint16_t(carry[8]));
            const Evt3V4d tb = {tv, tv, tv, tv};
            size_t j = k0;
            do {
              std::memcpy(oy + j, &yb, 16);
              std::memcpy(op_ + j, &pb, 8);
              std::memcpy(ot + j, &tb, 32);
              std::memcpy(ot + j + 4, &tb, 32);
              j += 8;
            } while (j < k);
          }
          baseX += 32;
          i += 3;
        }
      } else if (type == 0x8) {
        // TIME_HIGH (as in Evt3Word, a TIME_HIGH having been seen): a changed one resets TIME_LOW to 0.
        const uint32_t th = word & 0xfff;
        if (th != st.last) {
          if (th < st.last && st.last - th > 2048) {
            st.loops++;
            st.timeLoops++;
          }
          st.last = th;
          carry &= lowHalf;
        }
        thBase = st.loops * 16777216.0 + double(th) * 4096 - st.shift;
        base = Evt3V4d{thBase, thBase, thBase, thBase};
      } else {
        goto stop;  // a trigger or an unknown word: the scalar code
      }
      // The next word: back to 8-word groups when it is an ADDR_X / ADDR_Y / TIME_LOW (vector words come in runs of
      // 3–4, so no group is loaded between them).
      if (++i == end) goto stop;
      if (((0x45u >> (w[i] >> 12)) & 1) != 0) break;
    }
  }
stop:
  st.thBase = thBase;
  st.baseX = baseX;
  st.vp = vp;
  st.haveBase = haveBase;
  const uint32_t row = uint16_t(carry[0]);
  regs->y = row & 0x7ff;
  regs->rowOk = row < 0x8000 ? 1u : 0u;
  regs->tl = uint16_t(carry[8]);
  regs->invalid = invalid;
  *kRef = k;
  return i;
}
#endif

Napi::Value Evt3Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t* w;
  size_t i, end;
  double* s;
  Columns c;
  if (!GetWords(info, napi_uint16_array, &w, &i, &end, &s, 25) || !GetColumns(info, 4, &c))
    return Napi::Number::New(env, kBadArgs);
  double* cnt = s + 19;
  const size_t room = c.room;
  EVENTS_COLUMNS(c)
  Evt3 st;
  st.have = s[0] != 0;
  st.last = uint32_t(s[1]);
  st.loops = s[2];
  st.shift = s[3];
  st.thBase = s[4];
  st.tl = uint32_t(s[5]);
  st.y = uint32_t(s[6]);
  st.rowOk = s[7] != 0;
  st.baseX = uint32_t(s[8]);
  st.vp = uint32_t(s[9]);
  st.haveBase = s[10] != 0;
  st.W = uint32_t(s[16]);
  st.H = uint32_t(s[17]);
  st.timeShift = s[18] != 0;
  st.dropBefore = st.dropInvalid = st.other = st.triggers = st.timeLoops = 0;
  size_t k = 0;
  // A vector cut short by a full packet: its remaining bits first.
  uint32_t pend = uint32_t(s[11]);
  if (pend != 0) {
    const uint32_t bx = uint32_t(s[12]);
    const uint16_t py = uint16_t(s[13]);
    const double pt = s[14];
    const uint8_t pp = uint8_t(s[15]);
    while (pend != 0 && k < room) {
      const uint32_t x = bx + LowBit(pend);
      if (x < st.W) {
        ox[k] = uint16_t(x);
        oy[k] = py;
        ot[k] = pt;
        op_[k] = pp;
        k++;
      } else {
        st.dropInvalid++;
      }
      pend &= pend - 1;
    }
    s[11] = double(pend);
    if (pend != 0) {
      cnt[kInvalid] += st.dropInvalid;
      s[24] = double(i);
      return Napi::Number::New(env, double(k));
    }
  }
  const Evt3Out o{ox, oy, ot, op_, room, s};
  // Before the first TIME_HIGH: the full state machine only.
  for (; i < end && !st.have; i++) {
    const Evt3Step r = Evt3Word(st, w[i], k, o);
    if (r != kNext) {
      if (r == kStopConsumed) i++;
      goto done;
    }
  }
  // After it: runs of ADDR_X / ADDR_Y / TIME_LOW in Evt3Run; any other word (and a word met with a full packet)
  // through the full state machine, then back to the run.
  while (i < end) {
    Evt3Regs r{st.y, st.rowOk ? 1u : 0u, st.tl, 0};
#ifdef EVT3_SIMD
    if (kHasAvx2) {
      i = Evt3Simd(w, i, end, ox, oy, ot, op_, &k, room, st, &r);
      st.dropInvalid += double(r.invalid);
    }
#endif
    // The rest of a group the SIMD run stopped at (or everything, without AVX2).
    i = Evt3Run(w, i, end, ox, oy, ot, op_, &k, room, st.W, st.H, st.thBase, &r);
    st.y = r.y;
    st.rowOk = r.rowOk != 0;
    st.tl = r.tl;
    st.dropInvalid += double(r.invalid);
    if (i >= end) break;
    const Evt3Step step = Evt3Word(st, w[i], k, o);
    if (step != kNext) {
      if (step == kStopConsumed) i++;
      break;
    }
    i++;
  }
done:
  s[0] = st.have ? 1 : 0;
  s[1] = double(st.last);
  s[2] = st.loops;
  s[3] = st.shift;
  s[4] = st.thBase;
  s[5] = double(st.tl);
  s[6] = double(st.y);
  s[7] = st.rowOk ? 1 : 0;
  s[8] = double(st.baseX);
  s[9] = double(st.vp);
  s[10] = st.haveBase ? 1 : 0;
  cnt[kBeforeTimeHigh] += st.dropBefore;
  cnt[kInvalid] += st.dropInvalid;
  cnt[kTriggers] += st.triggers;
  cnt[kLoops] += st.timeLoops;
  cnt[kOther] += st.other;
  s[24] = double(i);
  return Napi::Number::New(env, double(k));
}
