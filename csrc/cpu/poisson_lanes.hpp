// Poisson's samples path on the CPU (models/poisson.hpp): PoissonPoints for
// cpu::LaneKit, LANES points (sites) of a part at a time, the same numbers as
// samplers.hpp::poisson point by point.
//   rate < 10 (inversion by sequential search): block 0 of LANES sites'
//     streams by Philox in lanes, then the search in lanes: each lane
//     subtracts P(K = 0), P(K = 1), .. from its uniform in the scalar loop's
//     order and stops where that loop stops. The probabilities are the scalar
//     loop's (exp(-rate), then prob * (rate / k)), computed once per call into
//     a table instead of once per point; a mask replaces the scalar loop's
//     branch, which mispredicted about once per point.
//   rate >= 10 (PTRS): the scalar sampler point by point.
#pragma once
#include "../madsim/models/poisson.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

// P(K = i) for i < POISSON_TABLE: at rate < 10 the scalar loop stops by
// i = 190 (P(K = i) < 1e-300); a lane still searching at the end would rerun
// the scalar sampler.
constexpr int POISSON_TABLE = 256;

// out[i * stride] = poisson(rate, site j0 + i) for i < count, 0 < rate < 10.
// Functions of their own (as alias_tokens in lane_kit.hpp): inlined into the
// flattened step, GCC passed the vectors through the stack.
#define MADSIM_POISSON_LANES(NAME, ATTR, AVX2)                                                   \
  ATTR __attribute__((flatten, noinline)) inline void NAME(                                      \
      double rate, u32x2 key, uint32_t replica, uint32_t gen, uint32_t tag, int64_t j0,          \
      int64_t count, double* out, int64_t stride) {                                              \
    double P[POISSON_TABLE];                                                                     \
    P[0] = exp(-rate);                                                                           \
    int have = 1;                                                                                \
    const vu lane = lane_index(), low = VecOps::splat_u(0xffffffffu);                            \
    const vu one = VecOps::bits(VecOps::splat(1.0));                                             \
    for (int64_t j = 0; j < count; j += LANES) {                                                 \
      const vu site = VecOps::splat_u((uint64_t)(j0 + j)) + lane;                                \
      vu w[4];                                                                                   \
      stream_blocks<AVX2>(key, 0, gen, ((site << 8) | VecOps::splat_u(tag & 0xFFu)) & low,       \
                          VecOps::splat_u(replica), w);                                          \
      vd u = uniform52_t<VecOps>(w[0], w[1]);                                                    \
      vd k = VecOps::splat(0.0);                                                                 \
      vu active = (vu)(lane < VecOps::splat_u((uint64_t)(count - j)));                           \
      bool capped = false;                                                                       \
      for (int i = 0;; ++i) {                                                                    \
        if (i == have) {                                                                         \
          if (have == POISSON_TABLE) {                                                           \
            capped = true;                                                                       \
            break;                                                                               \
          }                                                                                      \
          P[have] = P[have - 1] * (rate / (double)have);                                         \
          ++have;                                                                                \
        }                                                                                        \
        const double prob = P[i];                                                                \
        if (!(prob >= 1e-300)) break; /* the scalar loop's rounding-residue stop */              \
        active &= VecOps::less(VecOps::splat(prob), u);                                          \
        uint64_t any = 0;                                                                        \
        for (int l = 0; l < LANES; ++l) any |= active[l];                                        \
        if (!any) break;                                                                         \
        u = VecOps::from_bits((VecOps::bits(u - prob) & active) | (VecOps::bits(u) & ~active));  \
        k += VecOps::from_bits(one & active); /* + 1 or + 0, exact */                            \
      }                                                                                          \
      for (int l = 0; l < LANES && j + l < count; ++l) {                                         \
        double v = k[l];                                                                         \
        if (capped && active[l]) {                                                               \
          uint32_t tries;                                                                        \
          v = poisson(rate, make_stream(key, replica, gen, tag, (uint32_t)(j0 + j + l)), tries); \
        }                                                                                        \
        out[(j + l) * stride] = v;                                                               \
      }                                                                                          \
    }                                                                                            \
  }
MADSIM_POISSON_LANES(poisson_points_avx512, MADSIM_AVX512, 2)
MADSIM_POISSON_LANES(poisson_points_avx2, MADSIM_AVX2, 1)
MADSIM_POISSON_LANES(poisson_points_base, , 0)
#undef MADSIM_POISSON_LANES

template <>
struct KitStep<Poisson> {
  static constexpr bool available = true;
  // The exact path draws one Poisson per part: nothing to fill lanes with.
  static bool usable(const Poisson::Params& p) { return p.path == Poisson::SAMPLES; }
};

}  // namespace madsim::cpu

namespace madsim {

template <int AVX2>
struct PoissonPoints<cpu::LaneKit<AVX2>> {
  static void draw(double rate, u32x2 key, uint32_t replica, uint32_t gen, uint32_t tag, int64_t j0,
                   int64_t count, double* out, int64_t stride) {
    if (rate > 0.0 && rate < 10.0) {
      (AVX2 == 2 ? cpu::poisson_points_avx512
       : AVX2    ? cpu::poisson_points_avx2
                 : cpu::poisson_points_base)(rate, key, replica, gen, tag, j0, count, out, stride);
      return;
    }
    PoissonPoints<ScalarKit>::draw(rate, key, replica, gen, tag, j0, count, out, stride);
  }
};

}  // namespace madsim
