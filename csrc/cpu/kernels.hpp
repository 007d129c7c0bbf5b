// Every CPU kernel: the launcher, every model and every lane specialisation,
// included in one order by every unit that instantiates a kernel (the
// binding files through bindings/common.hpp, the units of cpu/instances/), so
// a family's kernel is the same code whichever unit instantiates it.
#pragma once
#include "../madsim/families.hpp"
#include "../madsim/samplers.hpp"
#include "categorical_lanes.hpp"
#include "gaussian1d_lanes.hpp"
#include "gaussian_loop_lanes.hpp"
#include "kde_lanes.hpp"
#include "launch.hpp"
#include "philox_rate.hpp"
#include "poisson_lanes.hpp"
#include "ppca_lanes.hpp"
#include "regression_lanes.hpp"

namespace madsim::cpu {

// GaussianLoop's range functions (lane_driver.hpp), one set per instruction
// set, are most of the build: each set is compiled in a unit of its own
// (cpu/instances/gaussian_loop_<isa>.cpp), so that the build runs them in
// parallel with each other and with the binding files, instead of one after
// the other in bindings/gaussian_loop.cpp. Here they are declared extern
// (every other unit uses those copies); MADSIM_RANGES_OF(, M, isa) defines
// them.
#define MADSIM_RANGE_PARAMS(M)                                                                  \
  const M::Params&, double*, int64_t, u32x2, const uint32_t*, uint32_t, uint32_t, const Looks&, \
      double*, int64_t, int64_t*, double*, double*, int64_t, int64_t
#define MADSIM_RANGES_OF(EXTERN, M, ISA)                               \
  EXTERN template int64_t lane_range_##ISA<M>(MADSIM_RANGE_PARAMS(M)); \
  EXTERN template int64_t heap_range_##ISA<M>(MADSIM_RANGE_PARAMS(M)); \
  EXTERN template void kit_range_##ISA<M>(MADSIM_RANGE_PARAMS(M));     \
  EXTERN template void split_range_##ISA<M>(MADSIM_RANGE_PARAMS(M));
MADSIM_RANGES_OF(extern, GaussianLoop, avx512)
MADSIM_RANGES_OF(extern, GaussianLoop, avx2)
MADSIM_RANGES_OF(extern, GaussianLoop, base)

}  // namespace madsim::cpu
