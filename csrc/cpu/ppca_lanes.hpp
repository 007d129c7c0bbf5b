// PPCA on the CPU: GaussianLoop's projection (ppca.hpp::ppca_project) of
// LANES replicas at once, the same numbers as the scalar step. Nearly all of
// the projection's time (~80% of a PPCA step at d = 10) is the one-sided
// Jacobi of orthogonalize_columns: per column pair, a chain of dependent
// square roots and divisions, latency-bound in one replica. LANES replicas
// run it in SIMD lanes, each lane doing the scalar code's operations in its
// order (a pair a lane would skip leaves its columns as they are, a lane
// stops sweeping where the scalar loop breaks), so a lane gives the scalar
// bits. The step up to the fit (LaneKit) and the projection's other parts
// (scale, sort, QR) run one replica at a time (lane_driver.hpp's KitSplit).
#pragma once
#include <float.h>

#include "../madsim/models/gaussian_loop.hpp"
#include "../madsim/ppca.hpp"
#include "gaussian_loop_lanes.hpp"

namespace madsim::cpu {

// metrics.hpp::orthogonalize_columns of the live lanes of A [d, d] (lane l
// holds matrix l); the other lanes are left as they are.
MADSIM_LANE void orthogonalize_columns_lanes(vd* A, int d, vu live) {
  const vu magnitude = VecOps::splat_u(0x7fffffffffffffffull);  // fabs: clear the sign bit
  const vd one = VecOps::splat(1.0);
  for (int sweep = 0; sweep < 60 && lane_any(live); ++sweep) {
    vu rotated = VecOps::splat_u(0);
    for (int p = 0; p < d - 1; ++p)
      for (int q = p + 1; q < d; ++q) {
        vd alpha = VecOps::splat(0.0), beta = alpha, gamma = alpha;
        for (int i = 0; i < d; ++i) {
          const vd ap = A[i * d + p], aq = A[i * d + q];
          alpha += ap * ap;
          beta += aq * aq;
          gamma += ap * aq;
        }
        const vd bound = DBL_EPSILON * VecOps::sqrt(alpha) * VecOps::sqrt(beta);
        const vu rot = live & (vu)((vd)((vu)gamma & magnitude) > bound);
        if (!lane_any(rot)) continue;
        rotated |= rot;
        const vd zeta = (beta - alpha) / (2.0 * gamma);
        const vd sg = lane_select((vu)(zeta >= 0.0), one, -one);
        const vd t = sg / ((vd)((vu)zeta & magnitude) + VecOps::sqrt(1.0 + zeta * zeta));
        const vd c = 1.0 / VecOps::sqrt(1.0 + t * t), s = c * t;
        for (int i = 0; i < d; ++i) {
          const vd ap = A[i * d + p], aq = A[i * d + q];
          A[i * d + p] = lane_select(rot, c * ap - s * aq, ap);
          A[i * d + q] = lane_select(rot, s * ap + c * aq, aq);
        }
      }
    live &= rotated;  // a sweep that rotated nothing ends the lane's Jacobi
  }
}

template <>
struct KitSplit<GaussianLoop> {
  typedef GaussianLoop G;
  static constexpr bool available = true;
  // PPCA where the kit step runs (d >= 4, no mitigation).
  static bool usable(const G::Params& p) {
    return p.factors > 0 && KitStep<GaussianLoop>::usable(p);
  }
  static int64_t lane_scratch(const G::Params& p) { return (int64_t)p.d * p.d; }

  template <int AVX2>
  MADSIM_LANE static bool head(const G::Params& p, double* state, u32x2 key, uint32_t replica,
                               uint32_t t, double* scratch) {
    return G::step_fit<LaneKit<AVX2>>(p, state, key, replica, t, scratch);
  }

  // ppca_project of the due rows: ppca_scaled per row, the Jacobi in lanes
  // (A: lane_scratch vectors), ppca_project_from per row.
  template <int AVX2>
  MADSIM_LANE static void tail(const G::Params& p, double* state, int64_t S, int n, const bool* due,
                               double* scratch, vd* A) {
    const int d = p.d;
    double c[LANES];
    vu live = VecOps::splat_u(0);
    for (int l = 0; l < LANES; ++l) {
      c[l] = l < n && due[l] ? ppca_scaled(state + l * S + d, d, scratch) : 0.0;
      live[l] = c[l] > 0.0 ? ~0ull : 0;  // c = 0: L = 0, left as it is (no Jacobi)
      for (int k = 0; k < d * d; ++k) A[k][l] = live[l] ? scratch[k] : 0.0;
    }
    orthogonalize_columns_lanes(A, d, live);
    for (int l = 0; l < n; ++l) {
      if (!live[l]) continue;
      for (int k = 0; k < d * d; ++k) scratch[k] = A[k][l];
      ppca_project_from(state + l * S + d, d, p.factors, scratch, c[l]);
    }
  }
};

}  // namespace madsim::cpu
