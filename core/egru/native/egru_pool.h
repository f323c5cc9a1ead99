// A small persistent thread pool with a spin-then-yield barrier, for the EGRU kernels: one pool per process,
// threads created on first use and kept, so a forward call costs one wake-up instead of T thread starts.
#pragma once
#include "egru_kernels.h"

namespace egru {

/**
 * Floating-point mode of the kernel threads: flush denormal results to zero and treat denormal inputs as zero
 * (x86 MXCSR FTZ|DAZ). Why: saturated gates make σ' = σ(1−σ) and the BPTT products underflow into the denormal
 * range, and Intel cores take a microcode assist (~100+ cycles) on each such operand: on a Xeon (Sapphire Rapids)
 * forward+backward at full activity ran 10× slower than the same call with the flags set. Values below 1.2e−38
 * change nothing a float32 model can show. Returns the previous mode for restoreFpMode; a no-op (returns 0)
 * off x86.
 */
unsigned flushDenormals();
void restoreFpMode(unsigned saved);

/**
 * The thread pool for ONE kernel call, taken for the call's duration: `par` runs on `nthreads` threads when the
 * pool is free, and on the calling thread alone when another JS thread (a training shard in a worker thread, say)
 * is inside a pooled call. Waiting for that call instead would idle this thread for its whole length, and on a
 * machine whose cores the other shards already use, a second pooled call would only oversubscribe them.
 * The lease also switches the calling thread to flushDenormals() for the call and restores its mode after: that
 * thread is a JS thread, and JavaScript arithmetic must keep IEEE denormals.
 */
class ParLease {
 public:
  explicit ParLease(int nthreads);
  ~ParLease();
  ParLease(const ParLease&) = delete;
  ParLease& operator=(const ParLease&) = delete;
  Par par;

 private:
  bool held_ = false;
  unsigned savedFpMode_ = 0;
};
/** Reused work buffers (see Par::scratch), one set per calling thread: call only on the thread that entered the addon. */
void* scratchBuffer(int slot, size_t bytes);
/** Hardware threads as reported by the OS (at least 1). */
int hardwareThreads();

}  // namespace egru
