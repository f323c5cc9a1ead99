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
// word (and every word before the first TIME_HIGH) goes through Evt3Word, the full state machine.

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
