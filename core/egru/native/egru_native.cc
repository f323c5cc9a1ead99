// N-API binding of the EGRU kernels: one call per sequence (forward or backward), all buffers allocated by
// the caller (core/egru/native.ts), the ISA-specific kernel chosen at load time (EGRU_ISA overrides) and the
// thread count from EGRU_THREADS (default: hardware threads), which each JS thread may change for its own calls. Arguments are checked here as well as in
// TypeScript: a wrong length must give a JS error, never an out-of-bounds write.
#include <napi.h>

#include <stdlib.h>
#include <string.h>

#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <string>

#include "egru_kernels.h"
#include "egru_pool.h"
#include "egru_model_ops.h"

namespace {

using egru::BwdArgs;
using egru::FwdArgs;

struct Isa {
  const char* name;
  egru::ForwardFn forward;
  egru::BackwardFn backward;
  egru::SumRowsFn sumRows;
  egru::FmaLoopFn fmaLoop;
  bool (*supported)();
};

bool always() { return true; }
#if defined(EGRU_X86)
bool hasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool hasAvx512() {
  __builtin_cpu_init();
  return hasAvx2() && __builtin_cpu_supports("avx512f");
}
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EGRU_HAVE_KERNELS 1
#endif

#if defined(EGRU_HAVE_KERNELS)
const Isa kIsas[] = {
#if defined(EGRU_X86)
    {"avx512", egru::avx512::forward, egru::avx512::backward, egru::avx512::sumRows, egru::avx512::fmaLoop, hasAvx512},
    {"avx2", egru::avx2::forward, egru::avx2::backward, egru::avx2::sumRows, egru::avx2::fmaLoop, hasAvx2},
#endif
    {"generic", egru::generic::forward, egru::generic::backward, egru::generic::sumRows, egru::generic::fmaLoop, always},
};
#else
const Isa kIsas[] = {{"none", nullptr, nullptr, nullptr, nullptr, always}};  // e.g. MSVC: no vector extensions, no kernels
#endif
constexpr int kNumIsas = sizeof(kIsas) / sizeof(kIsas[0]);

const Isa* gIsa = nullptr;
int gThreads = 1;  // the process default: EGRU_THREADS, else the hardware threads
// setThreads() applies to the calling JS thread only (the main thread, a training worker, each data-parallel
// shard): a shard asks for 1 without changing what live inference on the main thread uses. 0 = the default.
thread_local int tThreads = 0;
thread_local bool tForceThreads = false;  // setThreads(n, true): n threads even where the size heuristics would use one

int threadsSetting() { return tThreads > 0 ? tThreads : gThreads; }

const Isa* findIsa(const std::string& name) {
  for (const Isa& i : kIsas)
    if (name == i.name && i.supported()) return &i;
  return nullptr;
}

// Once per PROCESS: Init runs again in every worker thread that loads the addon, and must not undo a choice made
// with setIsa() on another thread.
void initConfig() {
  for (const Isa& i : kIsas)
    if (i.supported()) {
      gIsa = &i;
      break;
    }
  if (const char* e = getenv("EGRU_ISA")) {
    if (const Isa* i = findIsa(e)) gIsa = i;  // unknown/unsupported: keep the best (isa() tells which runs)
  }
  gThreads = egru::hardwareThreads();
  if (const char* e = getenv("EGRU_THREADS")) {
    const int n = atoi(e);
    if (n >= 1 && n <= 256) gThreads = n;
  }
}

/** Collects argument errors; the first one is thrown as a JS TypeError/RangeError. */
struct Reader {
  Reader(Napi::Env e, Napi::Object o) : env(e), obj(o) {}
  Napi::Env env;
  Napi::Object obj;
  std::string error;
  bool range = false;

  bool fail(const std::string& msg, bool isRange) {
    if (error.empty()) {
      error = msg;
      range = isRange;
    }
    return false;
  }
  int integer(const char* key) {
    Napi::Value v = obj.Get(key);
    if (!v.IsNumber()) return fail(std::string("EGRU native: ") + key + " must be a number", false), 0;
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 2147483647.0) || d != (double)(int64_t)d)
      return fail(std::string("EGRU native: ") + key + " must be a non-negative integer", true), 0;
    return (int)d;
  }
  double number(const char* key) {
    Napi::Value v = obj.Get(key);
    if (!v.IsNumber()) return fail(std::string("EGRU native: ") + key + " must be a number", false), 0;
    return v.As<Napi::Number>().DoubleValue();
  }
  bool boolean(const char* key) { return obj.Get(key).ToBoolean().Value(); }
  template <class T>
  T* array(const char* key, napi_typedarray_type type, size_t len, bool optional) {
    Napi::Value v = obj.Get(key);
    if (v.IsUndefined() || v.IsNull()) {
      if (!optional) fail(std::string("EGRU native: ") + key + " is missing", false);
      return nullptr;
    }
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      return fail(std::string("EGRU native: ") + key + " has the wrong array type", false), nullptr;
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.ElementLength() != len)
      return fail(std::string("EGRU native: ") + key + " has " + std::to_string(ta.ElementLength()) +
                      " elements, expected " + std::to_string(len),
                  true),
             nullptr;
    // The data pointer straight from the typed array (already offset): Napi::ArrayBuffer::Data() rejects arrays
    // over a SharedArrayBuffer, which data-parallel training uses for its shared weights.
    void* data = nullptr;
    if (napi_get_typedarray_info(env, v, nullptr, nullptr, &data, nullptr, nullptr) != napi_ok)
      return fail(std::string("EGRU native: ") + key + " has no readable data", false), nullptr;
    return static_cast<T*>(data);
  }
  float* f32(const char* key, size_t len, bool optional = false) {
    return array<float>(key, napi_float32_array, len, optional);
  }
  double* f64(const char* key, size_t len) { return array<double>(key, napi_float64_array, len, false); }
  Napi::Value throwIfFailed() {
    if (error.empty()) return Napi::Value();
    if (range) Napi::RangeError::New(env, error).ThrowAsJavaScriptException();
    else Napi::TypeError::New(env, error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
};

// Backward splits the units among threads with two barriers per time step. That pays when a step has many MACs
// (N·3H·H, the δq·Rkᵀ product), or when Rk is large: each thread's share of the rows that product reads every step
// then stays in its own L2 (two threads against one, session 16: one sample at H = 512 2.29x, H = 1024 2.1x,
// H = 256 1.53x; H = 256 with N = 2 and 4 1.56-1.64x). Below both, a step is a few µs of work and the barriers can
// cost more than they save, the more so on a shared machine where the partner thread may be descheduled (H = 64,
// N = 16, T = 784: 22 ms on one thread, 70 ms of thread-0 time on two in an earlier session; 1.04-1.06x faster on
// two on a quiet machine in session 16).
constexpr double kBackwardThreadMacs = 2.0e6;
constexpr double kBackwardThreadRkBytes = 512.0 * 1024;

int threadsFor(int N, int H, bool backward = false) {
  // One-sample forward: the batch split has nothing to split (and a step is ~10 µs of work).
  if (N <= 1 && !backward) return 1;
  const bool smallStep = (double)N * 3.0 * H * H < kBackwardThreadMacs && 12.0 * H * H < kBackwardThreadRkBytes;
  if (backward && !tForceThreads && smallStep) return 1;
  int nt = threadsSetting();
  const int panels = H / 16 > 0 ? H / 16 : 1;
  return nt < panels ? nt : panels;
}

bool dimsOk(Reader& rd, int T, int N, int C, int H) {
  const double tnh = (double)T * N * H, tnc = (double)T * N * C, hh = 3.0 * H * ((double)H + C);
  if (tnh > 1.0e9 || tnc > 2.0e9 || hh > 1.0e9) return rd.fail("EGRU native: shape too large", true);
  return true;
}

int zoneMode(Reader& rd, float& p) {
  p = (float)rd.number("zoneout");
  if (!(p >= 0 && p < 1)) return rd.fail("EGRU native: zoneout must be in [0, 1)", true), 0;
  if (p == 0) return egru::kZoneNone;
  return rd.boolean("training") ? egru::kZoneMask : egru::kZoneEval;
}

Napi::Value Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "EGRU native forward: expected one argument object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Reader rd(env, info[0].As<Napi::Object>());
  FwdArgs a{};
  a.T = rd.integer("T");
  a.N = rd.integer("N");
  a.C = rd.integer("C");
  a.H = rd.integer("H");
  if (!rd.error.empty() || !dimsOk(rd, a.T, a.N, a.C, a.H)) return rd.throwIfFailed();
  const size_t T = a.T, N = a.N, C = a.C, H = a.H, TNH = T * N * H;
  a.gamma = (float)rd.number("gamma");
  a.eps = (float)rd.number("eps");
  a.sparse = rd.boolean("sparse");
  a.x = rd.f32("x", T * N * C);
  a.W = rd.f32("W", C * 3 * H);
  a.Rk = rd.f32("Rk", H * 3 * H);
  a.bx = rd.f32("bx", 3 * H);
  a.br = rd.f32("br", 3 * H);
  a.theta = rd.f32("theta", H);
  a.y0 = rd.f32("y0", N * H, true);
  a.zmode = zoneMode(rd, a.zoneout);
  if (a.zmode == egru::kZoneMask) {
    a.mask = rd.array<uint8_t>("mask", napi_uint8_array, TNH, false);
  }
  a.y = rd.f32("y", TNH);
  a.c = rd.f32("c", TNH);
  a.o = rd.f32("o", TNH);
  a.tr = rd.f32("tr", TNH);
  a.u = rd.f32("u", TNH, true);
  if (a.u) {
    a.r = rd.f32("r", TNH);
    a.g = rd.f32("g", TNH);
    a.qG = rd.f32("qG", TNH);
    a.s = rd.f32("s", TNH);
  }
  a.macsExec = rd.f64("macsExec", T);
  a.macsDense = rd.f64("macsDense", T);
  a.activity = rd.f64("activity", T);
  if (!rd.error.empty()) return rd.throwIfFailed();
  egru::InputListsOut lists{};
  const bool wantLists = rd.boolean("wantLists");
  if (wantLists) a.lists = &lists;
  int rc;
  {
    const egru::ParLease lease(threadsFor(a.N, a.H));
    rc = gIsa->forward(a, lease.par);
  }
  if (rc != 0) {
    Napi::RangeError::New(env, "EGRU native forward: out of memory for work buffers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!wantLists) return env.Undefined();
  if (!lists.listed) return env.Null();
  // Copied out of the work buffers (the next call reuses them) into arrays the caller keeps with the cache.
  const size_t rows = T * N, nnz = (size_t)lists.nnz;
  Napi::Int32Array rowptr = Napi::Int32Array::New(env, rows + 1);
  for (size_t r = 0; r <= rows; r++) rowptr[r] = (int32_t)lists.rowptr[r];  // nnz ≤ T·N·C ≤ 2·10⁹ (dimsOk)
  Napi::Int32Array idx = Napi::Int32Array::New(env, nnz);
  Napi::Float32Array val = Napi::Float32Array::New(env, nnz);
  if (nnz) {
    memcpy(idx.Data(), lists.idx, nnz * 4);
    memcpy(val.Data(), lists.val, nnz * 4);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("rowptr", rowptr);
  out.Set("idx", idx);
  out.Set("val", val);
  return out;
}

/** Backward's optional `inputLists` (the forward's lists of this x, see egru::InputListsOut), checked in full before
 * the kernel indexes by them: rowptr [T·N + 1] from 0, non-decreasing, ending at idx.length = val.length; each row's
 * indices strictly ascending within [0, C). O(non-zeros), against the listing pass over x it replaces. */
void readInputLists(Reader& rd, BwdArgs& a) {
  Napi::Value v = rd.obj.Get("inputLists");
  if (v.IsUndefined() || v.IsNull()) return;
  const auto bad = [&](const std::string& why, bool range = true) {
    rd.fail("EGRU native backward: inputLists " + why, range);
  };
  if (!v.IsObject()) return bad("must be an object {rowptr, idx, val} or null", false);
  Reader lr(rd.env, v.As<Napi::Object>());
  const size_t rows = (size_t)a.T * a.N;
  const int32_t* rowptr = lr.array<int32_t>("rowptr", napi_int32_array, rows + 1, false);
  if (!lr.error.empty()) return bad(lr.error.substr(sizeof("EGRU native: ") - 1), lr.range);
  if (rowptr[0] != 0) return bad("rowptr[0] must be 0");
  for (size_t r = 0; r < rows; r++)
    if (rowptr[r + 1] < rowptr[r]) return bad("rowptr decreases at row " + std::to_string(r));
  const size_t nnz = (size_t)rowptr[rows];
  const int32_t* idx = lr.array<int32_t>("idx", napi_int32_array, nnz, false);
  const float* val = lr.f32("val", nnz);
  if (!lr.error.empty()) return bad(lr.error.substr(sizeof("EGRU native: ") - 1), lr.range);
  for (size_t r = 0; r < rows; r++) {
    int32_t prev = -1;
    for (int32_t k = rowptr[r]; k < rowptr[r + 1]; k++) {
      if (idx[k] <= prev || idx[k] >= a.C)
        return bad("idx[" + std::to_string(k) + "] = " + std::to_string(idx[k]) + " in row " + std::to_string(r) +
                   (idx[k] >= a.C || idx[k] < 0 ? " is outside [0, C)" : " does not ascend"));
      prev = idx[k];
    }
  }
  a.inRowptr = rowptr;
  a.inIdx = idx;
  a.inVal = val;
  a.inNnz = (int64_t)nnz;
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "EGRU native backward: expected one argument object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Reader rd(env, info[0].As<Napi::Object>());
  BwdArgs a{};
  a.T = rd.integer("T");
  a.N = rd.integer("N");
  a.C = rd.integer("C");
  a.H = rd.integer("H");
  if (!rd.error.empty() || !dimsOk(rd, a.T, a.N, a.C, a.H)) return rd.throwIfFailed();
  const size_t T = a.T, N = a.N, C = a.C, H = a.H, TNH = T * N * H;
  a.gamma = (float)rd.number("gamma");
  a.eps = (float)rd.number("eps");
  a.sparse = rd.boolean("sparse");
  a.x = rd.f32("x", T * N * C);
  a.W = rd.f32("W", C * 3 * H);
  a.Rk = rd.f32("Rk", H * 3 * H);
  a.theta = rd.f32("theta", H);
  a.y0 = rd.f32("y0", N * H, true);
  a.zmode = zoneMode(rd, a.zoneout);
  if (a.zmode == egru::kZoneMask) a.mask = rd.array<uint8_t>("mask", napi_uint8_array, TNH, false);
  a.y = rd.f32("y", TNH);
  a.c = rd.f32("c", TNH);
  a.o = rd.f32("o", TNH);
  a.u = rd.f32("u", TNH);
  a.r = rd.f32("r", TNH);
  a.g = rd.f32("g", TNH);
  a.qG = rd.f32("qG", TNH);
  a.s = rd.f32("s", TNH);
  a.dy = rd.f32("dy", TNH, true);
  a.dc = rd.f32("dc", TNH, true);
  a.do_ = rd.f32("do", TNH, true);
  a.dtr = rd.f32("dtr", TNH, true);
  a.dW = rd.f32("dW", C * 3 * H);
  a.dRk = rd.f32("dRk", H * 3 * H);
  a.dbx = rd.f32("dbx", 3 * H);
  a.dbr = rd.f32("dbr", 3 * H);
  a.dtheta = rd.f32("dtheta", H);
  a.dY0 = rd.f32("dY0", N * H);
  a.dX = rd.f32("dX", T * N * C, true);
  a.macsExec = rd.f64("macsExec", T);
  a.macsDense = rd.f64("macsDense", T);
  a.bwdSparsity = rd.f64("bwdSparsity", T);
  if (rd.error.empty()) readInputLists(rd, a);
  if (!rd.error.empty()) return rd.throwIfFailed();
  const egru::ParLease lease(threadsFor(a.N, a.H, true));
  const int rc = gIsa->backward(a, lease.par);
  if (rc != 0) {
    Napi::RangeError::New(env, "EGRU native backward: out of memory for work buffers").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// sumRows(M: Float32Array, cols, idx: Int32Array) → number: the row-read bound helper of bench/egru.ts. Every
// index is checked against M's row count before any row is read.
Napi::Value SumRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto fail = [&](const char* why) {
    Napi::RangeError::New(env, std::string("EGRU native sumRows: ") + why).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsTypedArray())
    return fail("expected (Float32Array, cols, Int32Array)");
  const Napi::TypedArray m = info[0].As<Napi::TypedArray>(), ix = info[2].As<Napi::TypedArray>();
  if (m.TypedArrayType() != napi_float32_array || ix.TypedArrayType() != napi_int32_array)
    return fail("expected (Float32Array, cols, Int32Array)");
  const int64_t cols = info[1].As<Napi::Number>().Int64Value();
  if (cols < 1 || cols > (int64_t)m.ElementLength() || cols > INT32_MAX) return fail("cols must be in 1..M.length");
  const int64_t rows = (int64_t)m.ElementLength() / cols;
  const float* M = m.As<Napi::Float32Array>().Data();
  const int32_t* idx = ix.As<Napi::Int32Array>().Data();
  const int64_t count = (int64_t)ix.ElementLength();
  for (int64_t k = 0; k < count; k++)
    if (idx[k] < 0 || idx[k] >= rows) return fail("row index out of range");
  return Napi::Number::New(env, gIsa->sumRows(M, (int)cols, idx, count));
}

// fmaLoop(iters) → number: the FLOPs executed by `iters` rounds of the ISA path's register-only multiply-add loop (the
// arithmetic peak that bench/egru.ts prints beside the read bandwidths). iters is clamped to 0..2^40.
Napi::Value FmaLoop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "EGRU native fmaLoop: expected (iters: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t iters = info[0].As<Napi::Number>().Int64Value();
  iters = iters < 0 ? 0 : iters > ((int64_t)1 << 40) ? (int64_t)1 << 40 : iters;
  return Napi::Number::New(env, gIsa->fmaLoop(iters));
}

// dataAlignment(buffer: ArrayBuffer) → number: the address of the buffer's first byte modulo 64. core/egru/native.ts
// places each result array at the first 64-byte boundary of a buffer 64 bytes longer than the array, so that the
// kernels' vector stores into it (and the backward's loads of the forward's cache) never span two cache lines.
Napi::Value DataAlignment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "EGRU native dataAlignment: expected (ArrayBuffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, (double)((uintptr_t)info[0].As<Napi::ArrayBuffer>().Data() % 64));
}

// tuneAllocator() → string: keeps freed large blocks in glibc's heap instead of unmapping them. Every kernel call
// returns fresh multi-MiB result arrays (y, c, o, tr and the training cache: 9 × 3.3 MB at T=100, N=16, H=512;
// gradients up to C·3H floats); with glibc's defaults each such block is mmap'ed and every 4 KiB page then faults
// on first write (≈ 9 ms per N=16 training forward here). Blocks below 32 MiB now come from the heap, and up to
// 256 MiB of free heap top is kept. Process-wide and glibc-only; core/egru/native.ts calls it once unless
// EGRU_MALLOC_TUNE=0. The price: freed memory below that size returns to the OS later (RSS stays near its peak).
Napi::Value TuneAllocator(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  const bool ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1;
  return Napi::String::New(info.Env(), ok ? "glibc: blocks < 32 MiB from the heap, 256 MiB free heap kept" : "glibc: mallopt refused, defaults kept");
#else
  return Napi::String::New(info.Env(), "not glibc: allocator defaults kept");
#endif
}

Napi::Value GetIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), gIsa->name); }

Napi::Value SupportedIsas(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t k = 0;
  for (const Isa& i : kIsas)
    if (i.supported()) out.Set(k++, Napi::String::New(info.Env(), i.name));
  return out;
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) return Napi::Boolean::New(info.Env(), false);
  const Isa* i = findIsa(info[0].As<Napi::String>().Utf8Value());
  if (i) gIsa = i;
  return Napi::Boolean::New(info.Env(), i != nullptr);
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), threadsSetting()); }

Napi::Value ThreadsForced(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), tForceThreads); }

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  if (info.Length() >= 1 && info[0].IsNumber()) {
    const int n = info[0].As<Napi::Number>().Int32Value();
    if (n >= 1 && n <= 256) {
      tThreads = n;
      tForceThreads = info.Length() >= 2 && info[1].ToBoolean().Value();
    }
  }
  return Napi::Number::New(info.Env(), threadsSetting());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag configured;
  std::call_once(configured, initConfig);
  (void)kNumIsas;
#if !defined(EGRU_HAVE_KERNELS)
  return exports;  // core/egru/native.ts then reports the addon as a placeholder build
#endif
  exports.Set("forward", Napi::Function::New(env, Forward));
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("isa", Napi::Function::New(env, GetIsa));
  exports.Set("sumRows", Napi::Function::New(env, SumRows));
  exports.Set("fmaLoop", Napi::Function::New(env, FmaLoop));
  exports.Set("tuneAllocator", Napi::Function::New(env, TuneAllocator));
  exports.Set("dataAlignment", Napi::Function::New(env, DataAlignment));
  exports.Set("supportedIsas", Napi::Function::New(env, SupportedIsas));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa));
  exports.Set("threads", Napi::Function::New(env, GetThreads));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("threadsForced", Napi::Function::New(env, ThreadsForced));
  egruRegisterModelOps(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(egru_native, Init)
