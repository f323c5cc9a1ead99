// Reductions over time of [T, N, H] float32 tensors for the classifier head and the activity statistics
// (core/model/readout.ts holds the TypeScript reference of each; tests hold them bit-equal).
//
// Why native: at S-MNIST size (784 steps × 32 samples × 256 units, 25 MB per tensor) these loops took a fifth of
// every training step in JavaScript; here they take 3.6-6.5 ms each instead of 7-22 ms (readout.ts has the figures).
//
// Bit-equality: every value is computed in double exactly as the TypeScript does it (load float → double, the same
// operations in the same order, round to float on store). This target is built without FMA contraction
// (-std=c++17 implies -ffp-contract=off in GCC), so a·b + c stays two roundings, as in JavaScript.
#include <napi.h>
#include <stdint.h>
#include <string.h>

#include <string>

#include "egru_readout.h"

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

}  // namespace

void egruRegisterReadout(Napi::Env env, Napi::Object exports) {
  exports.Set("poolTime", Napi::Function::New(env, PoolTime));
  exports.Set("poolTimeBackward", Napi::Function::New(env, PoolTimeBackward));
  exports.Set("sumValid", Napi::Function::New(env, SumValid));
}
