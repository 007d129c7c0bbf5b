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

// MADSIM_HD_CALLED: heavy scalar work that a CPU SIMD lane step reaches but
// rarely runs (PPCA's projection, the subsample loop, the mitigations). The
// CPU's range functions are flattened once per instruction set
// (cpu/lane_driver.hpp): a call keeps one copy of this code instead of
// three, which is build time, not run time. On the GPU it is inlined as any
// MADSIM_HD function.
#if defined(__CUDACC__)
#define MADSIM_HD_CALLED MADSIM_HD
#else
#define MADSIM_HD_CALLED MADSIM_HD_NOINLINE
#endif
