// ToFrame / FrameBinner kernels — included by events_native.cc inside its anonymous namespace (one translation unit, so the
// helpers, macros and N-API glue defined there above the include are in scope; a separate file so the kernel can be
// worked on on its own).

// ------------------------------------------------------------------------------------------ frame binning
//
// Twins of to-frame.ts binByTime and of FrameBinner.push's inner loop. Frames are Float32 and every event adds a
// small integer, so float addition here equals JavaScript's double add + round to float32 bit for bit; bin edges
// are start + k·width in double, the same expression (-ffp-contract=off keeps it unfused). Busy bins are counted in
// integers and added to the frame once (Counter below); everything else takes the per-event float path.

// Clean bin blocks: events [0, m) all with lo ≤ t < hi and inside W × H. Their frame indices and values are
// computed in a vectorizable pass (AVX2 clone where available), then added one by one in event order — the same
// float additions, in the same order, as the per-event loop. Returns false (touching nothing) when not clean.
constexpr size_t kBinBlock = 256;

// Plain `inline` on purpose: GCC keeps this body out of line (one SSE2 copy for both clones), and forcing it into
// the AVX2 clone measured ~1.3x SLOWER on the 128×128×2 bench (A/B in one process).
inline bool BinCleanBody(const uint16_t* X, const uint16_t* Y, const double* T, const uint8_t* P, size_t m, double lo,
                         double hi, uint32_t W, uint32_t H, uint32_t onOffset, float off, float on, float* frame) {
  uint32_t idx[kBinBlock];
  float val[kBinBlock];
  uint32_t bad = 0;
  for (size_t j = 0; j < m; j++) {
    const double t = T[j];
    const uint32_t x = X[j], y = Y[j];
    bad |= uint32_t(!(t >= lo)) | uint32_t(!(t < hi)) | uint32_t(x >= W) | uint32_t(y >= H);
    const uint32_t isOn = 0u - uint32_t(P[j] != 0);
    idx[j] = (onOffset & isOn) + y * W + x;
    val[j] = isOn ? on : off;
  }
  if (bad != 0) return false;
  for (size_t j = 0; j < m; j++) frame[idx[j]] += val[j];
  return true;
}

bool BinCleanDefault(const uint16_t* X, const uint16_t* Y, const double* T, const uint8_t* P, size_t m, double lo,
                     double hi, uint32_t W, uint32_t H, uint32_t onOffset, float off, float on, float* frame) {
  return BinCleanBody(X, Y, T, P, m, lo, hi, W, H, onOffset, off, on, frame);
}
EVENTS_AVX2 bool BinCleanAvx2(const uint16_t* X, const uint16_t* Y, const double* T, const uint8_t* P, size_t m,
                              double lo, double hi, uint32_t W, uint32_t H, uint32_t onOffset, float off, float on,
                              float* frame) {
  return BinCleanBody(X, Y, T, P, m, lo, hi, W, H, onOffset, off, on, frame);
}
inline bool BinClean(const uint16_t* X, const uint16_t* Y, const double* T, const uint8_t* P, size_t m, double lo,
                     double hi, uint32_t W, uint32_t H, uint32_t onOffset, float off, float on, float* frame) {
  return kHasAvx2 ? BinCleanAvx2(X, Y, T, P, m, lo, hi, W, H, onOffset, off, on, frame)
                  : BinCleanDefault(X, Y, T, P, m, lo, hi, W, H, onOffset, off, on, frame);
}

// ------------------------------------------------------------------------------------------ integer counting
//
// Where one bin receives many events (the common case: 25 ms of a busy sensor), its events are counted into an
// int32 histogram and added to the Float32 frame once ("flush"): hist[c] += v in the loop is an integer add (no float
// latency on the read-modify-write chain when neighbouring events hit one cell), measured ~1.3x faster than the float
// adds. It is bit-identical to adding v event by event in order because every value involved is an integer of
// magnitude ≤ 2^24, where float addition is exact and so order-free:
//   * v (offValue, offValue + onDelta) are integers with |v| ≤ kMaxCountValue (else no counting);
//   * when a count session opens on a frame region, every cell is checked to be an integer, not −0 (−0 + 0 = +0
//     would change an untouched cell at the flush) and not NaN; its largest |cell| starts `bound`;
//   * each event reserves |v|max in `bound` before it is counted, and the session is flushed and closed before
//     bound would pass 2^24 — so every partial sum, in any order, is an integer of magnitude ≤ 2^24.
// The events after a closed session, and every bin whose frame fails the check, take the float path (exact
// sequential adds from an exact state). Only one session (one frame region) is open at a time; events of other
// bins meanwhile go to their frames directly (disjoint cells, so their order relative to the counted ones is moot).
// Software prefetch and a one-byte write touch (see Counter::TouchForWrite): builtins, or no-ops where unknown.
#if defined(__GNUC__) || defined(__clang__)
#define FRAME_PREFETCH(addr) __builtin_prefetch(addr)
#define FRAME_TOUCH_BYTE(p) __atomic_fetch_or((p), static_cast<unsigned char>(0), __ATOMIC_RELAXED)
#elif defined(_MSC_VER) && defined(_M_X64)
#define FRAME_PREFETCH(addr) _mm_prefetch(static_cast<const char*>(addr), _MM_HINT_T0)
#define FRAME_TOUCH_BYTE(p) _InterlockedOr8(reinterpret_cast<volatile char*>(p), 0)
#else
#define FRAME_PREFETCH(addr) ((void)0)
#define FRAME_TOUCH_BYTE(p) ((void)0)
#endif
constexpr double kExactLimit = 16777216.0;  // 2^24: integers up to here are exact floats
constexpr float kMaxCountValue = 1024.0f;
// A session costs ~3 passes over the plane (check, flush, clearing the histogram): open one only where at least
// plane / kSessionEventsPerCell events are expected, and at most once per that many events.
constexpr size_t kSessionEventsPerCell = 4;
constexpr size_t kMaxCountCells = size_t(1) << 22;  // 16 MiB of int32 histogram at most

// Same index pass as BinCleanBody; the counted value is an int32. Forced inline, so the AVX2 clone vectorizes it
// with AVX2 (pmulld; the SSE2 build emulates the 32-bit multiply).
EVENTS_INLINE bool CountCleanBody(const uint16_t* X, const uint16_t* Y, const double* T, const uint8_t* P, size_t m,
                                  double lo, double hi, uint32_t W, uint32_t H, uint32_t onOffset, int32_t off,
                                  int32_t onDelta, int32_t* __restrict hist) {
  uint32_t idx[kBinBlock];
  int32_t val[kBinBlock];
  uint32_t bad = 0;
  for (size_t j = 0; j < m; j++) {
    const double t = T[j];
    const uint32_t x = X[j], y = Y[j];
    bad |= uint32_t(!(t >= lo)) | uint32_t(!(t < hi)) | uint32_t(x >= W) | uint32_t(y >= H);
    const uint32_t isOn = 0u - uint32_t(P[j] != 0);
    idx[j] = (onOffset & isOn) + y * W + x;
    val[j] = off + int32_t(uint32_t(onDelta) & isOn);
  }
  if (bad != 0) return false;
  // The input streams from memory (13 bytes an event, far beyond the caches) and the loads of t stalled this loop
  // (~1/3 of its samples); prefetching 4 blocks ahead measured 1.15-1.25x on the bench rows. Addresses are formed as
  // integers: a prefetch past the end of the arrays is harmless, a pointer past it would not be valid C++.
  const uintptr_t ahead = 4 * kBinBlock;
  for (size_t j = 0; j < m; j += 8) {
    FRAME_PREFETCH(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(T + j) + ahead * sizeof(double)));
    if ((j & 31) == 0) {
      FRAME_PREFETCH(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(X + j) + ahead * sizeof(uint16_t)));
      FRAME_PREFETCH(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(Y + j) + ahead * sizeof(uint16_t)));
    }
    if ((j & 63) == 0) FRAME_PREFETCH(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(P + j) + ahead));
  }
  for (size_t j = 0; j < m; j++) hist[idx[j]] += val[j];
  return true;
}

// Largest |cell| of frame[0, cells), or −1 when a cell is not an exact-countable value (non-integer, −0, NaN,
// or |v| > 2^24). Integer test: for a < 2^23, (a + 2^23) − 2^23 rounds a to an integer; every float ≥ 2^23 is one.
// The maximum is taken over the bit patterns (integer max: non-negative floats order like their bits, NaN above
// all), because a float max reduction does not vectorize without -ffast-math; this loop does (SSE2 and AVX2).
EVENTS_INLINE float FrameBoundBody(const float* frame, size_t cells) {
  uint32_t maxBits = 0, bad = 0;
  for (size_t c = 0; c < cells; c++) {
    const float v = frame[c];
    uint32_t u;
    std::memcpy(&u, &v, 4);
    const uint32_t mag = u & 0x7fffffffu;
    maxBits = mag > maxBits ? mag : maxBits;
    const float a = std::fabs(v);
    const float r = (a + 8388608.0f) - 8388608.0f;
    bad |= (uint32_t(a < 8388608.0f) & uint32_t(r != a)) | uint32_t(u == 0x80000000u);
  }
  float maxAbs;
  std::memcpy(&maxAbs, &maxBits, 4);
  return bad != 0 || !(maxAbs <= 16777216.0f) ? -1.0f : maxAbs;
}

// frame += hist, hist = 0 (every cell: f + 0.0 == f for the checked cells, which are never −0).
EVENTS_INLINE void FlushCountsBody(float* __restrict frame, int32_t* __restrict hist, size_t cells) {
  for (size_t c = 0; c < cells; c++) {
    frame[c] += float(hist[c]);
    hist[c] = 0;
  }
}

bool CountCleanDefault(const uint16_t* X, const uint16_t* Y, const double* T, const uint8_t* P, size_t m, double lo,
                       double hi, uint32_t W, uint32_t H, uint32_t onOffset, int32_t off, int32_t onDelta,
                       int32_t* hist) {
  return CountCleanBody(X, Y, T, P, m, lo, hi, W, H, onOffset, off, onDelta, hist);
}
EVENTS_AVX2 bool CountCleanAvx2(const uint16_t* X, const uint16_t* Y, const double* T, const uint8_t* P, size_t m,
                                double lo, double hi, uint32_t W, uint32_t H, uint32_t onOffset, int32_t off,
                                int32_t onDelta, int32_t* hist) {
  return CountCleanBody(X, Y, T, P, m, lo, hi, W, H, onOffset, off, onDelta, hist);
}
float FrameBoundDefault(const float* frame, size_t cells) { return FrameBoundBody(frame, cells); }
EVENTS_AVX2 float FrameBoundAvx2(const float* frame, size_t cells) { return FrameBoundBody(frame, cells); }
void FlushCountsDefault(float* frame, int32_t* hist, size_t cells) { FlushCountsBody(frame, hist, cells); }
EVENTS_AVX2 void FlushCountsAvx2(float* frame, int32_t* hist, size_t cells) { FlushCountsBody(frame, hist, cells); }

// One count session at a time: the histogram of one frame region (one bin's P·H·W cells).
class Counter {
 public:
  // Values off and off + onDelta as int32 when counting is exact for them, else `usable` stays false.
  Counter(float off, float on, size_t cells) : cells_(cells) {
    const float vmax = std::max(std::fabs(off), std::fabs(on));
    if (!(vmax <= kMaxCountValue) || off != std::nearbyint(off) || on != std::nearbyint(on) || cells == 0 ||
        cells > kMaxCountCells)
      return;
    off_ = int32_t(off);
    onDelta_ = int32_t(on) - int32_t(off);
    vmax_ = double(vmax);
    usable_ = true;
  }
  ~Counter() { Close(); }
  bool usable() const { return usable_; }
  bool open() const { return frame_ != nullptr; }
  const float* frame() const { return frame_; }
  // A session pays for itself only with ≥ cells / kSessionEventsPerCell events.
  size_t worthwhile() const { return cells_ / kSessionEventsPerCell; }

  // Opens a session on frame[0, cells) (closing any other); false when a cell is not countable exactly.
  bool Open(float* frame) {
    Close();
    if (!usable_) return false;
    TouchForWrite(frame, cells_);
    const float maxAbs = kHasAvx2 ? FrameBoundAvx2(frame, cells_) : FrameBoundDefault(frame, cells_);
    if (maxAbs < 0) return false;
    std::vector<int32_t>& h = Hist();
    if (h.size() < cells_) h.assign(cells_, 0);  // (flushes leave it all zero)
    hist_ = h.data();
    frame_ = frame;
    bound_ = double(maxAbs);
    return true;
  }
  // Reserves room for m more counted events; false (after closing the session) when that could pass 2^24.
  bool Reserve(size_t m) {
    if (bound_ + double(m) * vmax_ > kExactLimit) {
      Close();
      return false;
    }
    bound_ += double(m) * vmax_;
    return true;
  }
  bool CountClean(const uint16_t* X, const uint16_t* Y, const double* T, const uint8_t* P, size_t m, double lo,
                  double hi, uint32_t W, uint32_t H, uint32_t onOffset) {
    return kHasAvx2 ? CountCleanAvx2(X, Y, T, P, m, lo, hi, W, H, onOffset, off_, onDelta_, hist_)
                    : CountCleanDefault(X, Y, T, P, m, lo, hi, W, H, onOffset, off_, onDelta_, hist_);
  }
  // One event (already reserved) at frame offset c.
  void Add(size_t c, size_t on) { hist_[c] += off_ + (on ? onDelta_ : 0); }
  void Close() {
    if (!frame_) return;
    if (kHasAvx2)
      FlushCountsAvx2(frame_, hist_, cells_);
    else
      FlushCountsDefault(frame_, hist_, cells_);
    frame_ = nullptr;
  }

 private:
  // A freshly allocated output (calloc'd, untouched pages) would first be read by the bound check, which maps the
  // shared zero page, and then written by the flush: a second, copy-on-write fault per page. A no-op atomic OR of
  // one byte per page (and the last byte: the region need not be page-aligned) is a write access, so those pages
  // fault once. Measured: page faults of the toFrame 128×128×2 run −7%; the faults that remain (~1/4 of that row's
  // samples under perf) belong to the fresh output itself. Bytes (char may alias any object), relaxed order: only
  // the access matters.
  static void TouchForWrite(float* frame, size_t cells) {
    unsigned char* const b = reinterpret_cast<unsigned char*>(frame);
    const size_t bytes = cells * sizeof(float);
    for (size_t o = 0; o < bytes; o += 4096) FRAME_TOUCH_BYTE(b + o);
    if (bytes > 0) FRAME_TOUCH_BYTE(b + bytes - 1);
  }
  static std::vector<int32_t>& Hist() {
    static thread_local std::vector<int32_t> h;  // per thread (worker threads may load the addon)
    return h;
  }
  size_t cells_;
  int32_t off_ = 0, onDelta_ = 0;
  double vmax_ = 0;
  bool usable_ = false;
  float* frame_ = nullptr;
  int32_t* hist_ = nullptr;
  double bound_ = 0;
};

struct Binning {
  const uint16_t* x;
  const uint16_t* y;
  const double* t;
  const uint8_t* p;
  size_t n;
  float* data;
  size_t size;
};

// (x, y, t, p, length, data: Float32Array) at info[0..5].
bool GetBinning(const Napi::CallbackInfo& info, Binning* b) {
  size_t nx, ny, nt, np;
  if (info.Length() < 6) return false;
  uint16_t *x, *y;
  double* t;
  uint8_t* p;
  if (!GetArray(info[0], napi_uint16_array, &x, &nx) || !GetArray(info[1], napi_uint16_array, &y, &ny) ||
      !GetArray(info[2], napi_float64_array, &t, &nt) || !GetArray(info[3], napi_uint8_array, &p, &np) ||
      !GetArray(info[5], napi_float32_array, &b->data, &b->size))
    return false;
  size_t cap = nx;
  if (ny < cap) cap = ny;
  if (nt < cap) cap = nt;
  if (np < cap) cap = np;
  if (!GetIndex(info[4], cap, &b->n)) return false;
  b->x = x;
  b->y = y;
  b->t = t;
  b->p = p;
  return true;
}

double Num(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN; }

// A whole-recording frame tensor (toFrame) is usually freshly allocated: above glibc's mmap threshold it is a new
// mapping that faults in 4 KiB at a time on first write, ~2.4 µs per page here (35 ms for the 52 MB of 400 frames
// of 128×128×2: a third of binning 50 M events). Transparent huge pages on its 2 MiB-aligned interior make that one
// fault per 2 MiB. Only a hint: without THP ("never"), on memory already touched, or off Linux, nothing changes.
void AdviseHugePages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  if (bytes < 4 * kHuge) return;
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

// binByTime(x, y, t, p, n, data, start, width, T, last, W, H, P, onOffset, offValue, onDelta): 0, or kBadArgs when
// the frame buffer is smaller than T·P·H·W or a size is not a small integer.
Napi::Value BinByTime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Binning b;
  size_t T, W, H, P, onOffset;
  if (info.Length() < 16 || !GetBinning(info, &b) || !GetIndex(info[8], 1u << 30, &T) ||
      !GetIndex(info[10], 1u << 16, &W) || !GetIndex(info[11], 1u << 16, &H) || !GetIndex(info[12], 2, &P) ||
      !GetIndex(info[13], size_t(1) << 32, &onOffset))
    return Napi::Number::New(env, kBadArgs);
  const double start = Num(info[6]), width = Num(info[7]), last = Num(info[9]);
  const float offValue = float(Num(info[14])), onDelta = float(Num(info[15]));
  const float value[2] = {offValue, offValue + onDelta};
  const size_t plane = P * H * W;
  if (T == 0 || plane == 0 || T > b.size / plane || onOffset + H * W > plane || !(width > 0) || !std::isfinite(start))
    return Napi::Number::New(env, kBadArgs);  // (bin index arithmetic below needs a finite start, a positive width)
  AdviseHugePages(b.data, T * plane * sizeof(float));
  const double Tm1 = double(T - 1);
  double lo = INFINITY, hi = -INFINITY;
  size_t base = 0;
  const uint32_t w32 = uint32_t(W), h32 = uint32_t(H);
  // Locals, not struct fields: a store through data[] would otherwise make the compiler reload them (3x slower).
  const uint16_t* const X = b.x;
  const uint16_t* const Y = b.y;
  const double* const Tt = b.t;
  const uint8_t* const Pp = b.p;
  float* const data = b.data;
  const size_t n = b.n;
  // 32-bit frame indices in clean blocks: only when a plane's indices fit (any realistic sensor).
  const bool clean32 = onOffset + H * W <= 0xffffffffu;
  // Integer counting (see Counter) for bins that get many events; `nextOpen` rations session openings, so input that
  // jumps between bins cannot make the per-session passes over the plane dominate.
  Counter counter(value[0], value[1], plane);
  const size_t perSession = counter.worthwhile();
  size_t nextOpen = 0;
  size_t i = 0;
  while (i < n) {
    size_t m = n - i;
    if (m > kBinBlock) m = kBinBlock;
    // While a session is open every event reserves its share of the 2^24 bound, whichever bin it lands in (cheap,
    // and then no event can reach the session's cells uncounted).
    const bool counting = counter.open() && counter.Reserve(m);
    float* const frame = data + base;
    if (counting && counter.frame() == frame) {
      if (counter.CountClean(X + i, Y + i, Tt + i, Pp + i, m, lo, hi, w32, h32, uint32_t(onOffset))) {
        i += m;
        continue;
      }
    } else if (clean32 && BinClean(X + i, Y + i, Tt + i, Pp + i, m, lo, hi, w32, h32, uint32_t(onOffset), value[0],
                                   value[1], frame)) {
      i += m;
      continue;
    }
    for (const size_t stop = i + m; i < stop; i++) {
      const double ti = Tt[i];
      if (!(ti >= lo && ti < hi)) {
        if (!(ti >= start && ti < last)) continue;
        double k = std::floor((ti - start) / width);
        if (k > Tm1) k = Tm1;
        while (k > 0 && ti < start + k * width) k--;
        while (k < Tm1 && ti >= start + (k + 1) * width) k++;
        lo = start + k * width;
        hi = k == Tm1 ? last : std::min(start + (k + 1) * width, last);
        base = size_t(k) * plane;
      }
      const uint32_t xi = X[i], yi = Y[i];
      if (xi >= w32 || yi >= h32) continue;
      // Branch-free polarity (random, so a branch would mispredict half the time): mask and a 2-entry table.
      const size_t on = Pp[i] != 0;
      const size_t c = (onOffset & (0 - on)) + size_t(yi) * W + xi;
      if (counting && counter.frame() == data + base)
        counter.Add(c, on);
      else
        data[base + c] += value[on];
    }
    // Open a session on the current bin when it looks busy: the event perSession ahead still falls in it (sorted
    // input; for other input this is only a guess, and a wrong guess costs time, never exactness).
    if (counter.usable() && i >= nextOpen && lo <= hi && !(counter.open() && counter.frame() == data + base)) {
      const size_t probe = i + perSession;
      if (probe < n && Tt[probe] >= lo && Tt[probe] < hi) {
        counter.Open(data + base);
        nextOpen = i + perSession;
      }
    }
  }
  counter.Close();
  return Napi::Number::New(env, 0);
}

// binWindow(x, y, t, p, n, frame, i0, lo, hi, W, H, onOffset, offValue, onDelta): adds events i0, i0+1, … into
// `frame` while lo ≤ t < hi; returns the index of the first event outside the window (n when none), or kBadArgs.
Napi::Value BinWindow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Binning b;
  size_t i0, W, H, onOffset;
  if (info.Length() < 14 || !GetBinning(info, &b) || !GetIndex(info[6], b.n, &i0) ||
      !GetIndex(info[9], 1u << 16, &W) || !GetIndex(info[10], 1u << 16, &H) ||
      !GetIndex(info[11], size_t(1) << 32, &onOffset))
    return Napi::Number::New(env, kBadArgs);
  const double lo = Num(info[7]), hi = Num(info[8]);
  const float offValue = float(Num(info[12])), onDelta = float(Num(info[13]));
  const float value[2] = {offValue, offValue + onDelta};
  if (H * W == 0 || onOffset + H * W > b.size) return Napi::Number::New(env, kBadArgs);
  const uint32_t w32 = uint32_t(W), h32 = uint32_t(H);
  const uint16_t* const X = b.x;  // locals: see BinByTime
  const uint16_t* const Y = b.y;
  const double* const Tt = b.t;
  const uint8_t* const Pp = b.p;
  float* const frame = b.data;
  const size_t n = b.n;
  const bool clean32 = onOffset + H * W <= 0xffffffffu;
  const size_t cells = onOffset + H * W;
  // Integer counting (see Counter) when the window is likely to get many of these events.
  Counter counter(value[0], value[1], cells);
  if (counter.usable() && n - i0 > counter.worthwhile()) {
    const double probe = Tt[i0 + counter.worthwhile()];
    if (probe >= lo && probe < hi) counter.Open(frame);
  }
  size_t i = i0;
  // Block by block: a clean block (see BinClean) at once, else event by event up to the first outside the window.
  while (i < n) {
    size_t m = n - i;
    if (m > kBinBlock) m = kBinBlock;
    const bool counting = counter.open() && counter.Reserve(m);
    if (counting) {
      if (counter.CountClean(X + i, Y + i, Tt + i, Pp + i, m, lo, hi, w32, h32, uint32_t(onOffset))) {
        i += m;
        continue;
      }
    } else if (clean32 && BinClean(X + i, Y + i, Tt + i, Pp + i, m, lo, hi, w32, h32, uint32_t(onOffset), value[0],
                                   value[1], frame)) {
      i += m;
      continue;
    }
    for (const size_t stop = i + m; i < stop; i++) {
      const double ti = Tt[i];
      if (!(ti >= lo && ti < hi)) {
        counter.Close();
        return Napi::Number::New(env, double(i));
      }
      const uint32_t xi = X[i], yi = Y[i];
      if (xi >= w32 || yi >= h32) continue;
      const size_t on = Pp[i] != 0;  // branch-free, see BinByTime
      const size_t c = (onOffset & (0 - on)) + size_t(yi) * W + xi;
      if (counting)
        counter.Add(c, on);
      else
        frame[c] += value[on];
    }
  }
  counter.Close();
  return Napi::Number::New(env, double(i));
}
