// Whole-array float32 operations of the model and the trainer that plain JavaScript loops made a large share of a
// training step: the classifier head's reductions over time of [T, N, H] tensors (core/model/readout.ts) and the
// optimiser's Adam update and gradient-norm clipping (core/train/adam.ts). Each TypeScript function stays beside
// its native copy as the reference and the fallback; tests hold the two bit-equal.
//
// Why native: at S-MNIST size (784 steps × 32 samples × 256 units, 25 MB per tensor) the reductions took a fifth of
// every training step in JavaScript; they take 3.6-6.5 ms each here instead of 7-22 ms (readout.ts has the figures).
// Adam over a 2048-input, H = 512 layer's 3.9 M parameters: 37-60 ms per step in TypeScript, 22 ms scalar here,
// 10-11 ms with the AVX2 loop (training step's maths without it: ~124 ms).
//
// Bit-equality: every value is computed in double exactly as the TypeScript does it (load float → double, the same
// operations in the same order, round to float on store). This target is built with -ffp-contract=off (binding.gyp;
// Clang would otherwise fuse a·b + c into an FMA where the CPU has one, e.g. on arm64), so a·b + c stays two roundings,
// as in JavaScript.
#include <napi.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <string>

#include "egru_model_ops.h"

namespace {

enum Mode { kMean = 0, kRamp = 1, kLast = 2 };

// Weight of step t in a sample of L valid steps ('mean' and 'ramp'; readout.ts stepWeight).
inline double stepWeight(int mode, int t, int L) {
  return mode == kRamp ? (2.0 * (double)(t + 1)) / ((double)L * (double)(L + 1)) : 1.0 / (double)L;
}

void poolTime(const float* src, int T, int N, int H, const int32_t* len, int mode, float* out) {
  memset(out, 0, (size_t)N * H * 4);
  if (mode == kLast) {
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * H, src + ((size_t)(len[n] - 1) * N + n) * H, (size_t)H * 4);
    return;
  }
  for (int t = 0; t < T; t++)
    for (int n = 0; n < N; n++) {
      const int L = len[n];
      if (t >= L) continue;
      const float* s = src + ((size_t)t * N + n) * H;
      float* o = out + (size_t)n * H;
      if (mode == kMean) {
        for (int j = 0; j < H; j++) o[j] = (float)((double)o[j] + (double)s[j]);
      } else {
        const double w = stepWeight(mode, t, L);
        for (int j = 0; j < H; j++) o[j] = (float)((double)o[j] + w * (double)s[j]);
      }
    }
  if (mode == kMean)
    for (int n = 0; n < N; n++) {
      const double inv = 1.0 / (double)len[n];
      float* o = out + (size_t)n * H;
      for (int j = 0; j < H; j++) o[j] = (float)((double)o[j] * inv);
    }
}

void poolTimeBackward(const float* dm, int T, int N, int H, const int32_t* len, int mode, float* dSrc) {
  for (int t = 0; t < T; t++)
    for (int n = 0; n < N; n++) {
      const int L = len[n];
      float* d = dSrc + ((size_t)t * N + n) * H;
      const float* g = dm + (size_t)n * H;
      if (mode == kLast ? t != L - 1 : t >= L) {
        memset(d, 0, (size_t)H * 4);
        continue;
      }
      const double w = mode == kLast ? 1.0 : stepWeight(mode, t, L);
      for (int j = 0; j < H; j++) d[j] = (float)((double)g[j] * w);
    }
}

// Four partial sums over j ≡ 0, 1, 2, 3 (mod 4), the tail into the first: the TypeScript's order exactly.
double sumValid(const float* a, int T, int N, int H, const int32_t* len) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int t = 0; t < T; t++)
    for (int n = 0; n < N; n++) {
      if (t >= len[n]) continue;
      const float* b = a + ((size_t)t * N + n) * H;
      int j = 0;
      for (; j + 4 <= H; j += 4) {
        s0 += b[j];
        s1 += b[j + 1];
        s2 += b[j + 2];
        s3 += b[j + 3];
      }
      for (; j < H; j++) s0 += b[j];
    }
  return s0 + s1 + s2 + s3;
}

// Argument checks shared by the three entry points: (x: Float32Array, T, N, H, lengths: Int32Array, ...) with every
// length in 1..T and x of `xLen(T, N, H)` elements. Returns false after throwing a RangeError naming the problem.
struct Args {
  const float* x = nullptr;
  int T = 0, N = 0, H = 0;
  const int32_t* len = nullptr;
};

bool readArgs(const Napi::CallbackInfo& info, const char* fn, bool xIsTNH, Args& a) {
  Napi::Env env = info.Env();
  const auto fail = [&](const std::string& why) {
    Napi::RangeError::New(env, std::string("EGRU native ") + fn + ": " + why).ThrowAsJavaScriptException();
    return false;
  };
  if (info.Length() < 5 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsTypedArray())
    return fail("expected (Float32Array, T, N, H, lengths: Int32Array, …)");
  const Napi::TypedArray x = info[0].As<Napi::TypedArray>(), l = info[4].As<Napi::TypedArray>();
  if (x.TypedArrayType() != napi_float32_array) return fail("the tensor must be a Float32Array");
  if (l.TypedArrayType() != napi_int32_array) return fail("lengths must be an Int32Array");
  const int64_t T = info[1].As<Napi::Number>().Int64Value(), N = info[2].As<Napi::Number>().Int64Value(),
                H = info[3].As<Napi::Number>().Int64Value();
  if (T < 1 || N < 1 || H < 1 || T > INT32_MAX || N > INT32_MAX || H > INT32_MAX) return fail("T, N and H must be ≥ 1");
  const int64_t want = xIsTNH ? T * N * H : N * H;
  if ((int64_t)x.ElementLength() != want)
    return fail(std::string(xIsTNH ? "tensor [T,N,H]" : "dm [N,H]") + " has " + std::to_string(x.ElementLength()) +
                " values, expected " + std::to_string(want));
  if ((int64_t)l.ElementLength() != N) return fail("lengths has " + std::to_string(l.ElementLength()) + " entries, expected N");
  const int32_t* len = l.As<Napi::Int32Array>().Data();
  for (int64_t n = 0; n < N; n++)
    if (len[n] < 1 || len[n] > T) return fail("sample " + std::to_string(n) + ": length " + std::to_string(len[n]) + " outside 1..T");
  a.x = x.As<Napi::Float32Array>().Data();
  a.T = (int)T;
  a.N = (int)N;
  a.H = (int)H;
  a.len = len;
  return true;
}

bool readMode(const Napi::CallbackInfo& info, const char* fn, int& mode) {
  if (info.Length() > 5 && info[5].IsNumber()) {
    mode = info[5].As<Napi::Number>().Int32Value();
    if (mode == kMean || mode == kRamp || mode == kLast) return true;
  }
  Napi::RangeError::New(info.Env(), std::string("EGRU native ") + fn + ": mode must be 0 (mean), 1 (ramp) or 2 (last)")
      .ThrowAsJavaScriptException();
  return false;
}

float* readOut(const Napi::CallbackInfo& info, const char* fn, int64_t want) {
  if (info.Length() > 6 && info[6].IsTypedArray()) {
    const Napi::TypedArray o = info[6].As<Napi::TypedArray>();
    if (o.TypedArrayType() == napi_float32_array && (int64_t)o.ElementLength() == want) return o.As<Napi::Float32Array>().Data();
  }
  Napi::RangeError::New(info.Env(), std::string("EGRU native ") + fn + ": the output must be a Float32Array of " +
                                        std::to_string(want) + " values")
      .ThrowAsJavaScriptException();
  return nullptr;
}

// poolTime(src [T,N,H], T, N, H, lengths, mode, out [N,H]) → undefined
Napi::Value PoolTime(const Napi::CallbackInfo& info) {
  Args a;
  int mode = 0;
  if (!readArgs(info, "poolTime", true, a) || !readMode(info, "poolTime", mode)) return info.Env().Undefined();
  float* out = readOut(info, "poolTime", (int64_t)a.N * a.H);
  if (out) poolTime(a.x, a.T, a.N, a.H, a.len, mode, out);
  return info.Env().Undefined();
}

// poolTimeBackward(dm [N,H], T, N, H, lengths, mode, dSrc [T,N,H]) → undefined (every element of dSrc written)
Napi::Value PoolTimeBackward(const Napi::CallbackInfo& info) {
  Args a;
  int mode = 0;
  if (!readArgs(info, "poolTimeBackward", false, a) || !readMode(info, "poolTimeBackward", mode)) return info.Env().Undefined();
  float* out = readOut(info, "poolTimeBackward", (int64_t)a.T * a.N * a.H);
  if (out) poolTimeBackward(a.x, a.T, a.N, a.H, a.len, mode, out);
  return info.Env().Undefined();
}

// sumValid(a [T,N,H], T, N, H, lengths) → the sum over each sample's valid steps (a double)
Napi::Value SumValid(const Napi::CallbackInfo& info) {
  Args a;
  if (!readArgs(info, "sumValid", true, a)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), sumValid(a.x, a.T, a.N, a.H, a.len));
}

// Adam step over one tensor, as Adam.update in core/train/adam.ts: m and v are stored as float32 and read back
// rounded before they are used, exactly like the TypeScript's Float32Array moments.
void adam(float* w, const float* g, float* m, float* v, size_t n, double b1, double b2, double eps, double stepSize,
          double sqrtC2, double decay) {
  for (size_t i = 0; i < n; i++) {
    const double gi = g[i];
    const float mi = (float)(b1 * (double)m[i] + (1 - b1) * gi);
    const float vi = (float)(b2 * (double)v[i] + (1 - b2) * gi * gi);
    m[i] = mi;
    v[i] = vi;
    w[i] = (float)((double)w[i] * decay - (stepSize * (double)mi) / (std::sqrt((double)vi) / sqrtC2 + eps));
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EGRU_ADAM_AVX2 1
// The same step four lanes at a time in double (AVX2; this file is otherwise built for baseline x86-64). Every
// vector operation is the correctly rounded IEEE operation of the scalar code, in the same order, and no FMA is
// formed, so the results are the same bits; the scalar loop is bound by two divisions and a square root per value.
__attribute__((target("avx2"))) void adamAvx2(float* w, const float* g, float* m, float* v, size_t n, double b1, double b2,
                                               double eps, double stepSize, double sqrtC2, double decay) {
  const __m256d B1 = _mm256_set1_pd(b1), A1 = _mm256_set1_pd(1 - b1), B2 = _mm256_set1_pd(b2), A2 = _mm256_set1_pd(1 - b2);
  const __m256d E = _mm256_set1_pd(eps), S = _mm256_set1_pd(stepSize), Q = _mm256_set1_pd(sqrtC2), D = _mm256_set1_pd(decay);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d gi = _mm256_cvtps_pd(_mm_loadu_ps(g + i));
    const __m128 mf = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(B1, _mm256_cvtps_pd(_mm_loadu_ps(m + i))), _mm256_mul_pd(A1, gi)));
    const __m128 vf =
        _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(B2, _mm256_cvtps_pd(_mm_loadu_ps(v + i))), _mm256_mul_pd(_mm256_mul_pd(A2, gi), gi)));
    _mm_storeu_ps(m + i, mf);
    _mm_storeu_ps(v + i, vf);
    const __m256d den = _mm256_add_pd(_mm256_div_pd(_mm256_sqrt_pd(_mm256_cvtps_pd(vf)), Q), E);
    const __m256d wd = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(w + i)), D);
    _mm_storeu_ps(w + i, _mm256_cvtpd_ps(_mm256_sub_pd(wd, _mm256_div_pd(_mm256_mul_pd(S, _mm256_cvtps_pd(mf)), den))));
  }
  adam(w + i, g + i, m + i, v + i, n - i, b1, b2, eps, stepSize, sqrtC2, decay);
}
#endif

// Σ g² in four partial sums (i mod 4) added in that order at the end, as sumSquares in adam.ts.
double sumSquares(const float* g, size_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const double a = g[i], b = g[i + 1], c = g[i + 2], d = g[i + 3];
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; i < n; i++) s0 += (double)g[i] * g[i];
  return s0 + s1 + s2 + s3;
}

const float* f32(const Napi::Value& v, size_t& n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) return nullptr;
  const Napi::Float32Array a = v.As<Napi::Float32Array>();
  n = a.ElementLength();
  return a.Data();
}

// adamUpdate(w, g, m, v: Float32Array (same length), b1, b2, eps, stepSize, sqrtC2, decay) → undefined
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t nw = 0, ng = 0, nm = 0, nv = 0;
  const float* w = info.Length() >= 10 ? f32(info[0], nw) : nullptr;
  const float* g = w ? f32(info[1], ng) : nullptr;
  const float* m = g ? f32(info[2], nm) : nullptr;
  const float* v = m ? f32(info[3], nv) : nullptr;
  bool nums = v != nullptr;
  for (int k = 4; k < 10 && nums; k++) nums = info[k].IsNumber();
  if (!nums) {
    Napi::RangeError::New(env, "EGRU native adamUpdate: expected (w, g, m, v: Float32Array, b1, b2, eps, stepSize, sqrtC2, decay)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (ng != nw || nm != nw || nv != nw) {
    Napi::RangeError::New(env, "EGRU native adamUpdate: w, g, m and v have " + std::to_string(nw) + ", " + std::to_string(ng) +
                                   ", " + std::to_string(nm) + " and " + std::to_string(nv) + " values; they must match")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const auto num = [&](int k) { return info[k].As<Napi::Number>().DoubleValue(); };
#if defined(EGRU_ADAM_AVX2)
  if (__builtin_cpu_supports("avx2")) {
    adamAvx2(const_cast<float*>(w), g, const_cast<float*>(m), const_cast<float*>(v), nw, num(4), num(5), num(6), num(7), num(8), num(9));
    return env.Undefined();
  }
#endif
  adam(const_cast<float*>(w), g, const_cast<float*>(m), const_cast<float*>(v), nw, num(4), num(5), num(6), num(7), num(8), num(9));
  return env.Undefined();
}

// sumSquares(g: Float32Array) → Σ g² (a double)
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  size_t n = 0;
  const float* g = info.Length() >= 1 ? f32(info[0], n) : nullptr;
  if (!g) {
    Napi::RangeError::New(info.Env(), "EGRU native sumSquares: expected a Float32Array").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), sumSquares(g, n));
}

}  // namespace

void egruRegisterModelOps(Napi::Env env, Napi::Object exports) {
  exports.Set("poolTime", Napi::Function::New(env, PoolTime));
  exports.Set("poolTimeBackward", Napi::Function::New(env, PoolTimeBackward));
  exports.Set("sumValid", Napi::Function::New(env, SumValid));
  exports.Set("adamUpdate", Napi::Function::New(env, AdamUpdate));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares));
}
