// Regression on the CPU: the samples path takes its normals from LaneKit
// (lane_kit.hpp), 8 Philox blocks (16 normals) at a time in SIMD lanes, and
// its row products (row_block.hpp) from RowBlock<LaneKit>: tiles of entries
// held in SIMD registers over the rows of a block, each entry the same chain
// of additions (rows in order) as RowBlock<ScalarKit>, so the same numbers.
#pragma once
#include <string.h>

#include "../madsim/models/regression.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

template <>
struct KitStep<Regression> {
  static constexpr bool available = true;
  // The exact path draws O(d) normals per generation: nothing to fill lanes with.
  static bool usable(const Regression::Params& p) { return p.path == Regression::SAMPLES; }
};

static_assert(8 % LANES == 0, "row_block.hpp pads to multiples of 8");
static_assert(Regression::BLOCK % 8 == 0, "row tiles of up to 8 rows");

// The kernels, compiled once per instruction set (functions of their own, as
// lane_kit.hpp's alias tokens: inlined into the flattened step, GCC's
// register allocation of the tiles suffers). TILE vectors of accumulators: 8
// with AVX-512 (one register each), 4 where a vector takes two or four.
//   design: X[r][i0 .. i0 + LANES) for TILE rows, over k < min(i0 + LANES, d);
//           the terms k > i are L[i][k] z = +-0, which leave the chain's sum
//           unchanged (it starts at +0 and is never -0).
//   gram:   D[i0 .. i0 + TILE)[j0 .. j0 + LANES), j0 <= the tile's last i,
//           over the block's rows in order.
//   dots:   8 rows' chains side by side (independent, so no latency chain).
#define MADSIM_ROW_BLOCK(SUFFIX, ATTR, TILE)                                                     \
  ATTR __attribute__((noinline)) inline void row_design_##SUFFIX(                                \
      const double* Lc, int ldl, const double* Z, int ldz, int nb, int d, double* X, int ldx) {  \
    for (int r0 = 0; r0 < nb; r0 += TILE)                                                        \
      for (int i0 = 0; i0 < d; i0 += LANES) {                                                    \
        const int kend = i0 + LANES < d ? i0 + LANES : d;                                        \
        vd acc[TILE];                                                                            \
        for (int a = 0; a < TILE; ++a) acc[a] = VecOps::splat(0.0);                              \
        for (int k = 0; k < kend; ++k) {                                                         \
          vd l;                                                                                  \
          memcpy(&l, Lc + (int64_t)k * ldl + i0, sizeof l);                                      \
          for (int a = 0; a < TILE; ++a) acc[a] += l * Z[(int64_t)(r0 + a) * ldz + k];           \
        }                                                                                        \
        for (int a = 0; a < TILE; ++a)                                                           \
          memcpy(X + (int64_t)(r0 + a) * ldx + i0, &acc[a], sizeof(vd));                         \
      }                                                                                          \
  }                                                                                              \
  ATTR __attribute__((noinline)) inline void row_gram_##SUFFIX(const double* X, int ldx, int nb, \
                                                               int n, double* D, int ldd) {      \
    for (int i0 = 0; i0 < n; i0 += TILE)                                                         \
      for (int j0 = 0; j0 < i0 + TILE; j0 += LANES) {                                            \
        vd acc[TILE];                                                                            \
        for (int a = 0; a < TILE; ++a)                                                           \
          memcpy(&acc[a], D + (int64_t)(i0 + a) * ldd + j0, sizeof(vd));                         \
        for (int r = 0; r < nb; ++r) {                                                           \
          const double* x = X + (int64_t)r * ldx;                                                \
          vd xj;                                                                                 \
          memcpy(&xj, x + j0, sizeof xj);                                                        \
          for (int a = 0; a < TILE; ++a) acc[a] += x[i0 + a] * xj;                               \
        }                                                                                        \
        for (int a = 0; a < TILE; ++a)                                                           \
          memcpy(D + (int64_t)(i0 + a) * ldd + j0, &acc[a], sizeof(vd));                         \
      }                                                                                          \
  }                                                                                              \
  ATTR __attribute__((noinline)) inline void row_dots_##SUFFIX(                                  \
      const double* X, int ldx, int nb, int d, const double* v, double* out) {                   \
    int r0 = 0;                                                                                  \
    for (; r0 + 8 <= nb; r0 += 8) {                                                              \
      double s[8];                                                                               \
      for (int a = 0; a < 8; ++a) s[a] = out[r0 + a];                                            \
      for (int i = 0; i < d; ++i)                                                                \
        for (int a = 0; a < 8; ++a) s[a] += X[(int64_t)(r0 + a) * ldx + i] * v[i];               \
      for (int a = 0; a < 8; ++a) out[r0 + a] = s[a];                                            \
    }                                                                                            \
    RowBlock<ScalarKit>::dots(X + (int64_t)r0 * ldx, ldx, nb - r0, d, v, out + r0);              \
  }
MADSIM_ROW_BLOCK(avx512, MADSIM_AVX512, 8)
MADSIM_ROW_BLOCK(avx2, MADSIM_AVX2, 4)
MADSIM_ROW_BLOCK(base, , 4)
#undef MADSIM_ROW_BLOCK

}  // namespace madsim::cpu

namespace madsim {

template <int AVX2>
struct RowBlock<cpu::LaneKit<AVX2>> {
  MADSIM_LANE static void design(const double* Lc, int ldl, const double* Z, int ldz, int nb, int d,
                                 double* X, int ldx) {
    (AVX2 == 2 ? cpu::row_design_avx512
     : AVX2    ? cpu::row_design_avx2
               : cpu::row_design_base)(Lc, ldl, Z, ldz, nb, d, X, ldx);
  }
  MADSIM_LANE static void design_diagonal(const double* l, const double* Z, int ldz, int nb, int d,
                                          double* X, int ldx) {
    RowBlock<ScalarKit>::design_diagonal(l, Z, ldz, nb, d, X, ldx);  // vectorised where inlined
  }
  MADSIM_LANE static void gram(const double* X, int ldx, int nb, int n, double* D, int ldd) {
    (AVX2 == 2 ? cpu::row_gram_avx512
     : AVX2    ? cpu::row_gram_avx2
               : cpu::row_gram_base)(X, ldx, nb, n, D, ldd);
  }
  MADSIM_LANE static void dots(const double* X, int ldx, int nb, int d, const double* v,
                               double* out) {
    (AVX2 == 2 ? cpu::row_dots_avx512
     : AVX2    ? cpu::row_dots_avx2
               : cpu::row_dots_base)(X, ldx, nb, d, v, out);
  }
};

}  // namespace madsim
