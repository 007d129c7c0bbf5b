// MADSIM_HD marks every function of the header-only core: `__host__ __device__`
// under nvcc, plain `inline` elsewhere. Code under csrc/madsim/ uses no STL
// containers, no exceptions and no host-only calls, so the CUDA launcher can
// call the very same step functions as the CPU one.
#pragma once
#include <stdint.h>

#if defined(__CUDACC__)
#define MADSIM_HD __host__ __device__ __forceinline__
#define MADSIM_HD_NOINLINE __host__ __device__ __noinline__
#else
#define MADSIM_HD inline
#define MADSIM_HD_NOINLINE inline __attribute__((noinline))
#endif
// MADSIM_HD_NOINLINE: rare, heavy work called from a hot loop (observe's
// metrics on recorded or watched generations), kept out of the loop's code
// and registers.
