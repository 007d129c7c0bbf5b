// KDE on the CPU (models/kde.hpp) runs its step with LaneKit (lane_kit.hpp):
// KdeDraws for cpu::LaneKit draws the picks' uniforms and the kernel noise's
// normals 8 Philox blocks (16 numbers) at a time in SIMD lanes, the same
// numbers as the scalar KdeDraws.
#pragma once
#include "../madsim/models/kde.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

// KdeDraws::uniforms and ::normals, 2 LANES at a time (a last group's extra
// numbers are computed and dropped). Functions of their own (as alias_tokens
// in lane_kit.hpp): inlined into the flattened step, GCC passed the vectors
// through the stack.
#define MADSIM_KDE_DRAWS(NAME, ATTR, AVX2)                                         \
  ATTR __attribute__((flatten, noinline)) inline void NAME(                        \
      const Stream& st, uint64_t i0, int64_t count, double* out, bool normals) {   \
    for (int64_t r = 0; r < count; r += 2 * LANES) {                               \
      vu w[4];                                                                     \
      stream_run<AVX2>(st, (uint32_t)((i0 + (uint64_t)r) >> 1), w);                \
      vd a = uniform52_t<VecOps>(w[0], w[1]), b = uniform52_t<VecOps>(w[2], w[3]); \
      if (normals) normal_pair_t<VecOps>(vd(a), vd(b), a, b);                      \
      const int64_t n = count - r < 2 * LANES ? count - r : 2 * LANES;             \
      if (n == 2 * LANES) {                                                        \
        for (int l = 0; l < LANES; ++l) {                                          \
          out[r + 2 * l] = a[l];                                                   \
          out[r + 2 * l + 1] = b[l];                                               \
        }                                                                          \
        continue;                                                                  \
      }                                                                            \
      for (int l = 0; 2 * l < n; ++l) {                                            \
        out[r + 2 * l] = a[l];                                                     \
        if (2 * l + 1 < n) out[r + 2 * l + 1] = b[l];                              \
      }                                                                            \
    }                                                                              \
  }
MADSIM_KDE_DRAWS(kde_draws_avx512, MADSIM_AVX512, 2)
MADSIM_KDE_DRAWS(kde_draws_avx2, MADSIM_AVX2, 1)
MADSIM_KDE_DRAWS(kde_draws_base, , 0)
#undef MADSIM_KDE_DRAWS

template <>
struct KitStep<KDE> {
  static constexpr bool available = true;
  static bool usable(const KDE::Params&) { return true; }  // samples path only
};

}  // namespace madsim::cpu

namespace madsim {

template <int AVX2>
struct KdeDraws<cpu::LaneKit<AVX2>> {
  static void run(const Stream& st, uint64_t i0, int64_t count, double* out, bool normals) {
    (AVX2 == 2 ? cpu::kde_draws_avx512
     : AVX2    ? cpu::kde_draws_avx2
               : cpu::kde_draws_base)(st, i0, count, out, normals);
  }
  static void uniforms(const Stream& st, uint64_t i0, int64_t count, double* u) {
    run(st, i0, count, u, false);
  }
  static void normals(const Stream& st, uint64_t i0, int64_t count, double* z) {
    run(st, i0, count, z, true);
  }
};

}  // namespace madsim
