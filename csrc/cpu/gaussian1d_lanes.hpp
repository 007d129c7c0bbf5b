// Gaussian1D::step (models/gaussian1d.hpp) on LANES replicas at once, the
// same numbers bit for bit: the same streams, transforms and operation order.
//   exact path    each lane's first Marsaglia-Tsang try (block 0 of its
//                 TAG_SCATTER stream), squeeze and exact test in lanes; a lane
//                 whose first try is rejected (about 1.5% at n = 10) reruns
//                 Gaussian1D::draw_exact in scalar.
//                 Needs alpha = (n-1)/2 >= 1 (n >= 3): below, the scalar step.
//   samples path  block b of every lane's TAG_SAMPLES stream together; each
//                 lane reduces its normals in the scalar order.
#pragma once
#include "../madsim/models/gaussian1d.hpp"
#include "lane_driver.hpp"

namespace madsim::cpu {

// Normals 2b and 2b + 1 of every lane's TAG_SAMPLES stream (Gaussian1D::BlockNormals).
template <int AVX2>
struct SampleNormals {
  u32x2 key;
  uint32_t t;
  vu replica;
  MADSIM_LANE void operator()(uint32_t b, vd& a, vd& c) const {
    vu w[4];
    stream_blocks<AVX2>(key, b, t, VecOps::splat_u(TAG_SAMPLES), replica, w);
    normal_pair_t<VecOps>(uniform52_t<VecOps>(w[0], w[1]), uniform52_t<VecOps>(w[2], w[3]), a, c);
  }
};

template <>
struct LaneStep<Gaussian1D> {
  typedef Gaussian1D G;
  static constexpr bool available = true;
  static constexpr int STATE = 3;  // mean, v, j (var = v 4^j)
  static bool usable(const G::Params& p) { return p.path == G::SAMPLES || p.n >= 3.0; }

  MADSIM_LANE static void fit(const G::Params& p, vd mean, vd scatter, vd st[3]) {
    st[0] = mean;
    st[1] = scatter / (p.estimator == G::MLE ? p.n : p.n - 1.0);
    // G::renormalise, per lane where a lane leaves the range (rare)
    bool out = false;
    for (int l = 0; l < LANES; ++l)
      out = out || !(st[1][l] >= G::SCALE_LO) || (st[2][l] < 0.0 && st[1][l] > G::SCALE_HI);
    if (!out) return;
    for (int l = 0; l < LANES; ++l) {
      double v = st[1][l], j = st[2][l];
      G::renormalise(v, j);
      st[1][l] = v;
      st[2][l] = j;
    }
  }

  // G::scale_of per lane (1 while every lane has j = 0).
  MADSIM_LANE static vd scale_of(const vd& j) {
    bool zero = true;
    for (int l = 0; l < LANES; ++l) zero = zero && j[l] == 0.0;
    vd scale = VecOps::splat(1.0);
    if (zero) return scale;
    for (int l = 0; l < LANES; ++l) scale[l] = G::scale_of(j[l]);
    return scale;
  }

  template <int AVX2>
  MADSIM_LANE static void step(const G::Params& p, vd st[3], u32x2 key, vu replica,
                               const uint32_t* ids, uint32_t t, double*) {
    const vd s = p.tau * VecOps::sqrt(st[1]);
    const vd scale = scale_of(st[2]);
    if (p.path == G::EXACT) {
      // chisquare(n - 1) = 2 gamma_mt((n - 1) / 2), its constants as gamma_mt has them.
      const double d = 0.5 * (p.n - 1.0) - 1.0 / 3.0;
      const double c = 1.0 / sqrt(9.0 * d);
      vu w[4];
      stream_blocks<AVX2>(key, 0, t, VecOps::splat_u(TAG_SCATTER), replica, w);
      vd x, z, v1, v, u, value;
      vu accepted;
      gamma_try_t<VecOps>(VecOps::splat(d), VecOps::splat(c), w[0], w[1], w[2], w[3], x, z, v1, v,
                          u, value, accepted);
      bool all = true;
      for (int l = 0; l < LANES; ++l) all = all && accepted[l];
      if (!all) accepted |= gamma_accept_t<VecOps>(VecOps::splat(d), x, v1, v, u);
      const vd chi2 = 2.0 * value;
      vd mean = st[0] + s * z / sqrt(p.n) * scale, scatter = s * s * chi2;
      // A rejected first try (n >= 3: never boosted): the chi-square from try
      // 1 on in scalar code (G::draw_exact's from try 0 would repeat the
      // lane's rejected try); the mean, from try 0's spare normal, is the
      // lane's already.
      for (int l = 0; l < LANES; ++l) {
        if (accepted[l]) continue;
        const double c2 =
            called(&chisquare_after_first, p.n - 1.0, make_stream(key, ids[l], t, TAG_SCATTER, 0));
        scatter[l] = s[l] * s[l] * c2;
      }
      fit(p, mean, scatter, st);
      return;
    }
    // Samples path: G::draw_samples' reduction on every lane.
    vd mean, scatter;
    G::reduce_samples(p.n, st[0], s, scale, SampleNormals<AVX2>{key, t, replica}, mean, scatter);
    fit(p, mean, scatter, st);
  }
};

}  // namespace madsim::cpu
