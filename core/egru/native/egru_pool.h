// A small persistent thread pool with a spin-then-yield barrier, for the EGRU kernels: one pool per process,
// threads created on first use and kept, so a forward call costs one wake-up instead of T thread starts.
#pragma once
#include "egru_kernels.h"

namespace egru {

/**
 * The thread pool for ONE kernel call, taken for the call's duration: `par` runs on `nthreads` threads when the
 * pool is free, and on the calling thread alone when another JS thread (a training shard in a worker thread, say)
 * is inside a pooled call. Waiting for that call instead would idle this thread for its whole length, and on a
 * machine whose cores the other shards already use, a second pooled call would only oversubscribe them.
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
};
/** Reused work buffers (see Par::scratch), one set per calling thread: call only on the thread that entered the addon. */
void* scratchBuffer(int slot, size_t bytes);
/** Hardware threads as reported by the OS (at least 1). */
int hardwareThreads();

}  // namespace egru
