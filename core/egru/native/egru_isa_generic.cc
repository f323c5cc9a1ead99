// EGRU kernels for the generic path (see egru_kernels.inc); compiled with this ISA's -m flags only.
#define EGRU_NS generic
#define EGRU_VW 4
#define EGRU_MR 4
#include "egru_kernels.inc"
