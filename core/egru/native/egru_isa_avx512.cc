// EGRU kernels for the avx512 path (see egru_kernels.inc); compiled with this ISA's -m flags only.
#define EGRU_NS avx512
#define EGRU_VW 16
#define EGRU_MR 8
#if defined(__x86_64__)  // only x86-64 builds link this path (binding.gyp)
#include "egru_kernels.inc"
#endif
