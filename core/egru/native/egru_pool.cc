// Persistent pool: workers sleep on a condition variable between calls; inside a call the kernels
// synchronise once or twice per time step with a barrier that spins briefly (a step is ~10-100 µs) and then
// yields, because the machine may be shared and a pure spin would steal the other thread's core.
#include "egru_pool.h"

#include <stdlib.h>
#if defined(_MSC_VER)
#include <malloc.h>
#endif

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#define EGRU_X86 1
#include <immintrin.h>
#define EGRU_PAUSE() _mm_pause()
#else
#define EGRU_PAUSE() ((void)0)
#endif

namespace egru {
namespace {

class Pool {
 public:
  // One pooled call at a time; the caller holds the pool (tryAcquire) around run().
  bool tryAcquire() { return callMutex_.try_lock(); }
  void release() { callMutex_.unlock(); }

  void run(int n, void (*fn)(void*, int), void* arg) {
    if (n <= 1) {
      fn(arg, 0);
      return;
    }
    ensure(n - 1);
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = fn;
      arg_ = arg;
      active_ = n;
      barrierCount_.store(0);
      pending_ = n - 1;
      ++epoch_;
    }
    cv_.notify_all();
    fn(arg, 0);
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [&] { return pending_ == 0; });
  }

  void barrier() {
    const int n = active_;
    if (n <= 1) return;
    const unsigned gen = barrierGen_.load(std::memory_order_acquire);
    if (barrierCount_.fetch_add(1, std::memory_order_acq_rel) == n - 1) {
      barrierCount_.store(0, std::memory_order_relaxed);
      barrierGen_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    for (int spin = 0; barrierGen_.load(std::memory_order_acquire) == gen; ++spin) {
      if (spin < 4000) EGRU_PAUSE();
      else std::this_thread::yield();
    }
  }

 private:
  void ensure(int workers) {
    while (static_cast<int>(threads_.size()) < workers) {
      const int tid = static_cast<int>(threads_.size()) + 1;
      threads_.emplace_back([this, tid] { loop(tid); });
      threads_.back().detach();  // lives for the process; never joined
    }
  }

  void loop(int tid) {
    flushDenormals();  // a pool thread runs nothing but kernels: set once, never restored
    unsigned seen = 0;
    for (;;) {
      void (*fn)(void*, int);
      void* arg;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return epoch_ != seen; });
        seen = epoch_;
        if (tid >= active_) continue;  // not needed in this call
        fn = fn_;
        arg = arg_;
      }
      fn(arg, tid);
      std::lock_guard<std::mutex> lk(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex callMutex_, m_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;
  void (*fn_)(void*, int) = nullptr;
  void* arg_ = nullptr;
  int active_ = 1;
  int pending_ = 0;
  unsigned epoch_ = 0;
  std::atomic<int> barrierCount_{0};
  std::atomic<unsigned> barrierGen_{0};
};

Pool& pool() {
  static Pool* p = new Pool();  // leaked on purpose: detached workers use it until process exit
  return *p;
}

// Work buffers belong to the CALLING thread (the JS thread of the main isolate or of a worker): kernels request
// them only on the thread that entered the addon, so training shards in two worker threads run their kernels
// concurrently instead of queueing on one process-wide arena. Freed when that thread exits.
struct Arena {
  void* ptr[32] = {};
  size_t cap[32] = {};
  ~Arena() {
    for (void* p : ptr) {
#if defined(_MSC_VER)
      _aligned_free(p);
#else
      free(p);
#endif
    }
  }
};
Arena& arena() {
  thread_local Arena a;
  return a;
}

void runThunk(void* self, int n, void (*fn)(void*, int), void* arg) { static_cast<Pool*>(self)->run(n, fn, arg); }
void barrierThunk(void* self) { static_cast<Pool*>(self)->barrier(); }
void runSerial(void*, int, void (*fn)(void*, int), void* arg) { fn(arg, 0); }
void barrierNone(void*) {}

}  // namespace

void* scratchBuffer(int slot, size_t bytes) {
  Arena& a = arena();
  if (slot < 0 || slot >= 32) return nullptr;
  bytes = (bytes + 63) & ~size_t(63);
  if (bytes == 0) bytes = 64;
  if (a.cap[slot] < bytes) {
#if defined(_MSC_VER)
    _aligned_free(a.ptr[slot]);
    a.ptr[slot] = _aligned_malloc(bytes, 64);
#else
    free(a.ptr[slot]);
    a.ptr[slot] = aligned_alloc(64, bytes);
#endif
    a.cap[slot] = a.ptr[slot] ? bytes : 0;
  }
  return a.ptr[slot];
}

unsigned flushDenormals() {
#if defined(EGRU_X86)
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
  return saved;
#else
  return 0;
#endif
}

void restoreFpMode(unsigned saved) {
#if defined(EGRU_X86)
  _mm_setcsr(saved);
#else
  (void)saved;
#endif
}

ParLease::ParLease(int nthreads) : par{1, nullptr, runSerial, barrierNone, scratchBuffer}, savedFpMode_(flushDenormals()) {
  if (nthreads > 1 && pool().tryAcquire()) {
    held_ = true;
    par = Par{nthreads, &pool(), runThunk, barrierThunk, scratchBuffer};
  }
}

ParLease::~ParLease() {
  if (held_) pool().release();
  restoreFpMode(savedFpMode_);
}

int hardwareThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace egru
