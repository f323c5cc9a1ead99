// EGRU kernel interface shared by the N-API binding (egru_native.cc) and the per-ISA kernel translation
// units (egru_isa_*.cc, all built from egru_kernels.inc). Plain structs and C-style function pointers only:
// the ISA units are compiled with different -m flags, so nothing inline/templated may be shared with them
// (the linker could otherwise keep an AVX-512 copy of a shared inline function for everybody).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace egru {

/** How the kernel reaches the thread pool: run(fn) on `nthreads` threads, and a barrier among them. */
struct Par {
  int nthreads;
  void* self;
  void (*run)(void* self, int nthreads, void (*fn)(void* arg, int tid), void* arg);
  void (*barrier)(void* self);
  /** Work buffer `slot` (< 32) of at least `bytes`, 64-byte aligned, kept and reused across calls (null when the
   * allocation fails). Reuse matters: fresh multi-MiB buffers cost a page fault per 4 KiB on every call. */
  void* (*scratch)(int slot, size_t bytes);
};

enum ZoneoutMode { kZoneNone = 0, kZoneMask = 1, kZoneEval = 2 };

/** The forward's lists of the non-zero inputs of all T·N rows (CSR: row r's entries are [rowptr[r], rowptr[r+1]) of
 * idx / val, indices ascending within a row), reported so that a training backward on the same x can take them
 * instead of listing x again (one read of x and a listing pass fewer: backward 1.04-1.10x at N = 16, H = 512, one
 * thread). The pointers lie in the calling thread's work buffers: valid until its next kernel call. */
struct InputListsOut {
  bool listed;  // false: the input was too dense to list (or the dense baseline ran); the rest is unset
  const int64_t* rowptr;  // [rows + 1]
  const int32_t* idx;
  const float* val;
  int64_t nnz;
};

struct FwdArgs {
  int T, N, C, H;
  float gamma, eps;
  bool sparse;  // false = the dense baseline: every row of W and Rk is processed
  const float *x, *W, *Rk, *bx, *br, *theta, *y0;  // y0 may be null (zeros)
  int zmode;
  float zoneout;
  const uint8_t* mask;  // [T,N,H] when zmode == kZoneMask
  float *y, *c, *o, *tr;  // outputs [T,N,H]
  float *u, *r, *g, *qG, *s;  // cache [T,N,H], all null when not kept
  double *macsExec, *macsDense, *activity;  // [T]
  InputListsOut* lists;  // null = not wanted
};

struct BwdArgs {
  int T, N, C, H;
  float gamma, eps;
  bool sparse;
  const float *x, *W, *Rk, *theta, *y0;  // y0 may be null
  int zmode;
  float zoneout;
  const uint8_t* mask;
  const float *y, *c, *o, *u, *r, *g, *qG, *s;  // forward outputs and cache
  const float *dy, *dc, *do_, *dtr;  // upstream, each may be null (zeros)
  float *dW, *dRk, *dbx, *dbr, *dtheta, *dY0;  // outputs (fully overwritten)
  float* dX;  // [T,N,C] or null = input gradient not wanted (first layer)
  double *macsExec, *macsDense, *bwdSparsity;  // [T]
  // The forward's input lists (InputListsOut) of this x, checked by the caller, or inRowptr null: x is listed here.
  const int32_t* inRowptr;  // [T·N + 1]
  const int32_t* inIdx;
  const float* inVal;
  int64_t inNnz;
};

/** Returns 0 on success, -1 when a work buffer could not be allocated. */
typedef int (*ForwardFn)(const FwdArgs&, const Par&);
typedef int (*BackwardFn)(const BwdArgs&, const Par&);
/** Sum of rows idx[0..count) of a row-major matrix with `cols` floats per row (indices checked by the caller): the
 * plain cost of reading the rows a sparse product needs, the "row-read bound" that bench/egru.ts prints. */
typedef double (*SumRowsFn)(const float* M, int cols, const int32_t* idx, int64_t count);
/** Runs `iters` rounds of independent vector multiply-adds held in registers and returns the floating-point operations
 * executed: this ISA path's arithmetic peak on one core, the other half of the machine balance bench/egru.ts prints. */
typedef double (*FmaLoopFn)(int64_t iters);

#define EGRU_ISA_DECLS                          \
  int forward(const FwdArgs&, const Par&);      \
  int backward(const BwdArgs&, const Par&);     \
  double sumRows(const float*, int, const int32_t*, int64_t); \
  double fmaLoop(int64_t);
namespace generic { EGRU_ISA_DECLS }
#if defined(EGRU_X86)
namespace avx2 { EGRU_ISA_DECLS }
namespace avx512 { EGRU_ISA_DECLS }
#endif
#undef EGRU_ISA_DECLS

}  // namespace egru
