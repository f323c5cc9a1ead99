// ToFrame / FrameBinner kernels — included by events_native.cc inside its anonymous namespace (one translation unit, so the
// helpers, macros and N-API glue defined there above the include are in scope; a separate file so the kernel can be
// worked on on its own).

// ------------------------------------------------------------------------------------------ frame binning
//
// Twins of to-frame.ts binByTime and of FrameBinner.push's inner loop. Frames are Float32 and every event adds a
// small integer, so float addition here equals JavaScript's double add + round to float32 bit for bit; bin edges
// are start + k·width in double, the same expression (-ffp-contract=off keeps it unfused).

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
  size_t i = 0;
  while (i < n) {
    size_t m = n - i;
    if (m > kBinBlock) m = kBinBlock;
    if (clean32 && BinClean(X + i, Y + i, Tt + i, Pp + i, m, lo, hi, w32, h32, uint32_t(onOffset), value[0], value[1],
                            data + base)) {
      i += m;
      continue;
    }
    const size_t stop = i + m;
  for (; i < stop; i++) {
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
    data[base + (onOffset & (0 - on)) + size_t(yi) * W + xi] += value[on];
  }
  }
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
  size_t i = i0;
  // Block by block: a clean block (see BinClean) at once, else event by event up to the first outside the window.
  while (i < n) {
    size_t m = n - i;
    if (m > kBinBlock) m = kBinBlock;
    if (clean32 && BinClean(X + i, Y + i, Tt + i, Pp + i, m, lo, hi, w32, h32, uint32_t(onOffset), value[0], value[1],
                            frame)) {
      i += m;
      continue;
    }
    for (const size_t stop = i + m; i < stop; i++) {
      const double ti = Tt[i];
      if (!(ti >= lo && ti < hi)) return Napi::Number::New(env, double(i));
      const uint32_t xi = X[i], yi = Y[i];
      if (xi >= w32 || yi >= h32) continue;
      const size_t on = Pp[i] != 0;  // branch-free, see BinByTime
      frame[(onOffset & (0 - on)) + size_t(yi) * W + xi] += value[on];
    }
  }
  return Napi::Number::New(env, double(i));
}
