// A small persistent thread pool with a spin-then-yield barrier, for the EGRU kernels: one pool per process,
// threads created on first use and kept, so a forward call costs one wake-up instead of T thread starts.
#pragma once
#include "egru_kernels.h"

namespace egru {

/** Makes `Par` for `nthreads` threads (1 = run on the caller, no pool). */
Par makePar(int nthreads);
/** Reused work buffers (see Par::scratch), one set per calling thread: call only on the thread that entered the addon. */
void* scratchBuffer(int slot, size_t bytes);
/** Hardware threads as reported by the OS (at least 1). */
int hardwareThreads();

}  // namespace egru
