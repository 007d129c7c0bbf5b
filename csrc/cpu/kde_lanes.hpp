// KDE on the CPU (models/kde.hpp) runs its step with LaneKit (lane_kit.hpp):
// the kernel noise's normals 8 Philox blocks (16 normals) at a time, and the
// picks' uniforms (KdePicks) the same way, 8 blocks (16 uniforms) at a time
// in SIMD lanes; the same numbers as ScalarKit.
#pragma once
#include "../madsim/models/kde.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

// KdePicks::uniforms, 2 LANES at a time (the last group's extra uniforms
// are computed and dropped). Functions of their own (as alias_tokens).
#define MADSIM_KDE_PICKS(NAME, ATTR, AVX2)                                                \
  ATTR __attribute__((flatten, noinline)) inline void NAME(const Stream& st, uint64_t i0, \
                                                           int64_t count, double* u) {    \
    for (int64_t r = 0; r < count; r += 2 * LANES) {                                      \
      vu w[4];                                                                            \
      stream_run<AVX2>(st, (uint32_t)((i0 + (uint64_t)r) >> 1), w);                       \
      const vd a = uniform52_t<VecOps>(w[0], w[1]), b = uniform52_t<VecOps>(w[2], w[3]);  \
      const int64_t n = count - r < 2 * LANES ? count - r : 2 * LANES;                    \
      for (int l = 0; 2 * l < n; ++l) {                                                   \
        u[r + 2 * l] = a[l];                                                              \
        if (2 * l + 1 < n) u[r + 2 * l + 1] = b[l];                                       \
      }                                                                                   \
    }                                                                                     \
  }
MADSIM_KDE_PICKS(kde_picks_avx512, MADSIM_AVX512, 2)
MADSIM_KDE_PICKS(kde_picks_avx2, MADSIM_AVX2, 1)
MADSIM_KDE_PICKS(kde_picks_base, , 0)
#undef MADSIM_KDE_PICKS

template <>
struct KitStep<KDE> {
  static constexpr bool available = true;
  static bool usable(const KDE::Params&) { return true; }  // samples path only
};

}  // namespace madsim::cpu

namespace madsim {

template <int AVX2>
struct KdePicks<cpu::LaneKit<AVX2>> {
  static void uniforms(const Stream& st, uint64_t i0, int64_t count, double* u) {
    (AVX2 == 2 ? cpu::kde_picks_avx512
     : AVX2    ? cpu::kde_picks_avx2
               : cpu::kde_picks_base)(st, i0, count, u);
  }
};

}  // namespace madsim
