// GaussianLoop on the CPU, the same numbers as its scalar step, three ways:
//   d >= 4     KitStep: one replica at a time, its normals and chi-squares
//              from LaneKit (lane_kit.hpp), SIMD across the blocks and
//              streams of one replica's step; except
//   d = 4..32  replace on the exact path (ReplaceLanes): LANES replicas at
//              once, the Bartlett factor and the triangular products
//              included, each lane in GaussianLoop::step_replace's order
//              (d > 16: its rows on the heap).
//   d = 1..3   LaneStep: LANES replicas at once (as Gaussian1D's), for the
//              option sets gaussian_loop_lanes_support accepts; each lane
//              runs GaussianLoop::step's operations in its order (the same
//              streams, transforms, loops over the packed triangles and
//              zero-initialised sums), so a lane gives the scalar bits.
//              Rare branches are finished by the scalar code: a rejected
//              first Marsaglia-Tsang try (or alpha < 1) reruns that lane's
//              chisquare; a part of 0 < c < d + 1 points (the singular
//              Wishart, a fit that may be skipped on one part) reruns the
//              lane's whole step from its state before the step. The
//              filter's binomial survivors: inversion in lanes, BTRS per
//              lane in scalar code (lane_survivors). At D = 1 an exact part
//              takes its mean's normal from the chi-square's first try (the
//              layout of GaussianLoop::draw_exact): one block a part.
//              With AVX-512, D = 1 on the exact path steps two lane groups
//              side by side (step_pair: every loop, 16 replicas; a lone
//              group draws its two parts side by side, draw_exact_pair), and
//              divisions and square roots of counts that agree in every
//              lane run once in scalar code. A rejected first try reruns
//              from try 1 (chisquare_after_first).
#pragma once
#include "../madsim/models/gaussian_loop.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

// The largest d of ReplaceLanes; larger d run KitStep. Up to d = 16
// (ReplaceLanes::STACK_D) its arrays live on the stack, sized for 16: the
// state rows (LaneStep<GaussianLoop>::STATE) and the Bartlett factor, LANES
// replicas each, about 10 KB each (the lane range's frame: AVX-512 13 -> 30
// KB, 44 KB with the pairs' two state arrays; AVX2 63 -> 86 -> 91 KB; the
// lane init's own, 7 and 22 KB, on top at generation 0, -fstack-usage with
// GCC 12). Sized for 32 the frames took 84 and 137 KB, too much for small
// thread stacks (128 KB under musl), so at d = 17..32 a lane group's state
// rows and Bartlett factor (563 + 529 vectors, 70 KB, at d = 32) live on
// the heap, stepped by a range of their own (heap_range_*: frames 12 and
// 14 KB). There the lanes ran 2.4-2.9x KitStep with AVX-512 and 1.4-1.6x
// with AVX2 (d = 20, 25, 32, n = d + 10 and 2 d, one thread).
constexpr int REPLACE_LANES_MAX_D = 32;

// The GaussianLoop options ReplaceLanes computes: replace on the exact path
// at d = 4 .. REPLACE_LANES_MAX_D, any schedule, estimator, temperature and
// synthetic filter.
inline bool replace_lanes_support(const GaussianLoop::Params& p) {
  typedef GaussianLoop G;
  return p.d >= 4 && p.d <= REPLACE_LANES_MAX_D && p.loop == G::REPLACE && p.path == G::EXACT &&
         p.factors == 0 && !G::mitigated(p);
}

// The GaussianLoop options the replica lanes compute (LoopLanes at d = 1..3,
// ReplaceLanes); any other set runs the scalar step or KitStep. An option
// added to GaussianLoop::Params is refused here until the lanes compute it.
inline bool gaussian_loop_lanes_support(const GaussianLoop::Params& p) {
  typedef GaussianLoop G;
  const bool loop =
      p.loop == G::REPLACE || p.loop == G::AUGMENT || p.loop == G::FRESH || p.loop == G::ACCUMULATE;
  // the mitigations (tail reweighting, self-correction) live in the scalar step only
  return (p.d >= 1 && p.d <= 3 && loop && p.factors == 0 && !G::mitigated(p) &&
          (p.path == G::EXACT || p.path == G::SAMPLES)) ||
         replace_lanes_support(p);
}

template <>
struct KitStep<GaussianLoop> {
  static constexpr bool available = true;
  // d < 4: too few normals and chi-squares per step to fill lanes (measured
  // slower than ScalarKit in 1-D); those run the replica lanes below. The
  // mitigations (tail reweighting, self-correction) run the scalar step,
  // which is where their code lives.
  static bool usable(const GaussianLoop::Params& p) {
    return p.d >= 4 && !GaussianLoop::mitigated(p) && !replace_lanes_support(p);
  }
};

// a where the mask is set, else b.
MADSIM_LANE vd lane_select(vu mask, vd a, vd b) { return (vd)(((vu)a & mask) | ((vu)b & ~mask)); }

// The divider (divisions and square roots, one unit per core, 16-20 cycles
// a vector) bounds these loops; without a filter the divisions and square
// roots of the part counts (the chi-square constants, sqrt(c), the pooling
// weights, the replace factor's tau / sqrt(div)) hold the same value in
// every lane, so they are computed once in scalar code and splat: the same
// IEEE operations, the same bits, a quarter of the divider's time or less.
// A lane group whose lanes differ (a filter's survivors) takes the vectors.
// AVX-512 only: with AVX2 (a vector in two registers) reading lane 0 and
// testing the lanes measured 25% slower on the fresh loop than the vector
// divisions it saves.
template <int AVX2>
MADSIM_LANE bool lane_uniform(vd x) {
  if constexpr (AVX2 != 2) return false;
  const vu b = (vu)x;  // bits, so -0 and +0 (or NaNs) count as different
  return !lane_any(b ^ VecOps::splat_u(b[0]));
}

// GaussianLoop::survivors on lanes: Binomial(c, 1 - drop) of every lane's
// stream (TAG_FILTER, site), c and drop the same in every lane (a count of
// the table). samplers.hpp::binomial's inversion runs in lanes: its
// probabilities P(K = k) depend on c and drop alone, so they are one scalar
// sequence, and each lane subtracts them from its own uniform while it is
// still searching (the scalar code's operations, in its order); BTRS
// (c min(p, 1 - p) >= 10) runs each lane's scalar sampler.
template <int AVX2>
MADSIM_LANE vd lane_survivors(double c, double drop, u32x2 key, vu replica, const uint32_t* ids,
                              uint32_t t, uint32_t site) {
  vd out;
  if (drop <= 0.0 || c <= 0.0) return VecOps::splat(c);
  const double pr = 1.0 - drop;  // binomial(n = c, p = pr)
  if (pr <= 0.0) return VecOps::splat(0.0);
  if (pr >= 1.0) return VecOps::splat(c);
  const bool flip = pr > 0.5;
  const double pp = flip ? 1.0 - pr : pr;
  const double q = 1.0 - pp;
  if (!(c * pp < 10.0)) {
    for (int l = 0; l < LANES; ++l)
      out[l] = called(&GaussianLoop::survivors, c, drop, key, ids[l], t, site);
    return out;
  }
  vu w[4];
  stream_blocks<AVX2>(key, 0, t, VecOps::splat_u(make_stream(key, 0, t, TAG_FILTER, site).stream),
                      replica, w);
  vd u = uniform52_t<VecOps>(w[0], w[1]);
  const double ratio = pp / q;
  double prob = exp(c * log1p(-pp));  // P(K = 0)
  double k = 0.0;
  vd kv = VecOps::splat(0.0);
  vu search = ~VecOps::splat_u(0);
  while (k < c && prob >= 1e-300) {
    search &= (vu)(u > prob);
    if (!lane_any(search)) break;
    u = lane_select(search, u - prob, u);
    k += 1.0;
    kv = lane_select(search, VecOps::splat(k), kv);
    prob *= ratio * (c - k + 1.0) / k;
  }
  return flip ? c - kv : kv;
}

// Normal i of every lane's stream (tag, site) of generation t, in order (NormalSeq).
template <int AVX2>
struct LaneNormalSeq {
  u32x2 key;
  uint32_t t;
  vu stream, replica;
  uint64_t i;
  vd a, b;
  MADSIM_LANE void start(u32x2 key_, uint32_t t_, uint32_t tag, uint32_t site, vu replica_) {
    key = key_;
    t = t_;
    stream = VecOps::splat_u(make_stream(key_, 0, t_, tag, site).stream);
    replica = replica_;
    i = 0;
  }
  MADSIM_LANE vd next() {
    if (i & 1) {
      ++i;
      return b;
    }
    vu w[4];
    stream_blocks<AVX2>(key, (uint32_t)(i >> 1), t, stream, replica, w);
    normal_pair_t<VecOps>(uniform52_t<VecOps>(w[0], w[1]), uniform52_t<VecOps>(w[2], w[3]), a, b);
    ++i;
    return a;
  }
};

// Normals 0 .. count - 1 of every lane's stream (tag, site) of generation t
// into out, in order (NormalSeq; count rounded up to even: a whole last
// block). Two blocks per pass: their Box-Muller chains (a division and a
// square root each, then polynomials) are independent and overlap.
template <int AVX2>
MADSIM_LANE void lane_normals(u32x2 key, uint32_t t, uint32_t tag, uint32_t site, vu replica,
                              int count, vd* out) {
  const vu stream = VecOps::splat_u(make_stream(key, 0, t, tag, site).stream);
  int i = 0;
  for (; i + 4 <= count; i += 4) {
    vu a[4], b[4];
    stream_blocks<AVX2>(key, (uint32_t)(i >> 1), t, stream, replica, a);
    stream_blocks<AVX2>(key, (uint32_t)(i >> 1) + 1, t, stream, replica, b);
    normal_pair_t<VecOps>(uniform52_t<VecOps>(a[0], a[1]), uniform52_t<VecOps>(a[2], a[3]), out[i],
                          out[i + 1]);
    normal_pair_t<VecOps>(uniform52_t<VecOps>(b[0], b[1]), uniform52_t<VecOps>(b[2], b[3]),
                          out[i + 2], out[i + 3]);
  }
  for (; i < count; i += 2) {
    vu a[4];
    stream_blocks<AVX2>(key, (uint32_t)(i >> 1), t, stream, replica, a);
    normal_pair_t<VecOps>(uniform52_t<VecOps>(a[0], a[1]), uniform52_t<VecOps>(a[2], a[3]), out[i],
                          out[i + 1]);
  }
}

// out[i] = chisquare(nu - i) of every lane's stream (tag, first_site + i),
// i < count (ScalarKit::chisquares): the first try in lanes, the rest in
// scalar code on the live lanes that need it. spare0 gets the spare normal
// of site first_site's first try (every lane: it does not depend on the
// variate).
template <int AVX2>
MADSIM_LANE void lane_chisquares(u32x2 key, vu replica, const uint32_t* ids, uint32_t t,
                                 uint32_t tag, uint32_t first_site, vd nu, vu live, int count,
                                 vd* out, vd* spare0 = nullptr) {
  const bool same = lane_uniform<AVX2>(nu);
  for (int i = 0; i < count; ++i) {
    const vd alpha = 0.5 * (nu - (double)i);
    const vu boost = (vu)(alpha < 1.0);
    const vd d = alpha - 1.0 / 3.0;
    const vd c = same ? VecOps::splat(1.0 / sqrt(9.0 * d[0])) : 1.0 / VecOps::sqrt(9.0 * d);
    vu w[4];
    stream_blocks<AVX2>(
        key, 0, t, VecOps::splat_u(make_stream(key, 0, t, tag, first_site + i).stream), replica, w);
    vd x, spare, v1, v, u, value;
    vu accepted;
    gamma_try_t<VecOps>(d, c, w[0], w[1], w[2], w[3], x, spare, v1, v, u, value, accepted);
    if (i == 0 && spare0) *spare0 = spare;
    const vu redo = live & (boost | ~accepted);
    if (lane_any(redo)) accepted |= gamma_accept_t<VecOps>(d, x, v1, v, u);
    out[i] = 2.0 * value;
    const vu scalar = live & (boost | ~accepted);
    if (!lane_any(scalar)) continue;
    for (int l = 0; l < LANES; ++l) {
      if (!scalar[l]) continue;
      const Stream s = make_stream(key, ids[l], t, tag, first_site + i);
      double sp;
      uint32_t tries;
      out[i][l] = boost[l] ? called(&chisquare, nu[l] - i, s, sp, tries)
                           : called(&chisquare_after_first, nu[l] - i, s);
    }
  }
}

// What the fit and the replace factor (LoopLanes) need of a vector type,
// for one lane group (vd) and a pair (vd2) alike, so both steps share them.
#define MADSIM_PAIR_SCALAR_OP(OP)                                                    \
  MADSIM_LANE vd2 operator OP(vd2 a, double b) { return vd2{a.lo OP b, a.hi OP b}; } \
  MADSIM_LANE vd2 operator OP(double a, vd2 b) { return vd2{a OP b.lo, a OP b.hi}; }
MADSIM_PAIR_SCALAR_OP(+)
MADSIM_PAIR_SCALAR_OP(-)
MADSIM_PAIR_SCALAR_OP(*)
MADSIM_PAIR_SCALAR_OP(/)
#undef MADSIM_PAIR_SCALAR_OP
MADSIM_LANE vu lanes_less(vd a, vd b) { return (vu)(a < b); }
MADSIM_LANE vu2 lanes_less(vd2 a, vd2 b) { return lt2(a, b); }
MADSIM_LANE vu lanes_equal(vd a, vd b) { return (vu)(a == b); }
MADSIM_LANE vu2 lanes_equal(vd2 a, vd2 b) { return vu2{(vu)(a.lo == b.lo), (vu)(a.hi == b.hi)}; }
MADSIM_LANE vd2 lane_select(vu2 m, vd2 a, vd2 b) {
  return vd2{lane_select(m.lo, a.lo, b.lo), lane_select(m.hi, a.hi, b.hi)};
}
MADSIM_LANE bool lane_any(vu2 m) { return lane_any(m.lo | m.hi); }
template <class V>
struct OpsOf {
  typedef VecOps type;
};
template <>
struct OpsOf<vd2> {
  typedef VecOps2 type;
};
// f on each lane group: f(x) for one, f(x.lo), f(x.hi) for a pair.
template <class F>
MADSIM_LANE vd per_group(F f, vd x) {
  return f(x);
}
template <class F>
MADSIM_LANE vd2 per_group(F f, vd2 x) {
  return vd2{f(x.lo), f(x.hi)};
}

template <int D>
struct LoopLanes {
  typedef GaussianLoop G;
  static constexpr int T = D * (D + 1) / 2, MS = 1 + D + T;
  static constexpr int tri_(int i, int j) { return i * (i + 1) / 2 + j; }

  // y = L x (linalg.hpp::tri_mul_vec).
  MADSIM_LANE static void tri_mul_vec(const vd* L, const vd* x, vd* y) {
    for (int i = 0; i < D; ++i) {
      vd v = VecOps::splat(0.0);
      for (int k = 0; k <= i; ++k) v += L[tri_(i, k)] * x[k];
      y[i] = v;
    }
  }

  // In place (linalg.hpp::cholesky_packed): a pivot not > 0 zeroes its column.
  template <class V>
  MADSIM_LANE static void cholesky(V* a) {
    typedef typename OpsOf<V>::type O;
    for (int j = 0; j < D; ++j) {
      V s = a[tri_(j, j)];
      for (int k = 0; k < j; ++k) s -= a[tri_(j, k)] * a[tri_(j, k)];
      const auto pos = lanes_less(O::splat(0.0), s);  // s > 0
      const V l = O::sqrt(s);
      const V zero = O::splat(0.0);
      a[tri_(j, j)] = lane_select(pos, l, zero);
      for (int i = j + 1; i < D; ++i) {
        V v = a[tri_(i, j)];
        for (int k = 0; k < j; ++k) v -= a[tri_(i, k)] * a[tri_(j, k)];
        a[tri_(i, j)] = lane_select(pos, v / l, zero);
      }
    }
  }

  // na nb / n and nb / n of one lane group (moments_pool's weights).
  template <int AVX2>
  MADSIM_LANE static void pool_weights(vd na, vd nb, vd& w, vd& share) {
    if (lane_uniform<AVX2>(na) && lane_uniform<AVX2>(nb)) {
      const double sn = na[0] + nb[0];
      w = VecOps::splat(na[0] * nb[0] / sn);
      share = VecOps::splat(nb[0] / sn);
    } else {
      const vd n = na + nb;
      w = na * nb / n;
      share = nb / n;
    }
  }
  template <int AVX2>
  MADSIM_LANE static void pool_weights(vd2 na, vd2 nb, vd2& w, vd2& share) {
    pool_weights<AVX2>(na.lo, nb.lo, w.lo, share.lo);
    pool_weights<AVX2>(na.hi, nb.hi, w.hi, share.hi);
  }

  // a <- pool(a, b) (moments.hpp::moments_pool).
  template <int AVX2, class V>
  MADSIM_LANE static void pool(V* a, const V* b) {
    const V na = a[0], nb = b[0];
    const V n = na + nb;
    V w, share;
    pool_weights<AVX2>(na, nb, w, share);
    V out[MS];
    const V *am = a + 1, *bm = b + 1;
    for (int i = 0, k = 0; i < D; ++i)
      for (int j = 0; j <= i; ++j, ++k)
        out[1 + D + k] = a[1 + D + k] + (b[1 + D + k] + (bm[i] - am[i]) * (bm[j] - am[j]) * w);
    for (int i = 0; i < D; ++i) out[1 + i] = am[i] + (bm[i] - am[i]) * share;
    out[0] = n;
    typedef typename OpsOf<V>::type O;
    const auto keep = lanes_equal(nb, O::splat(0.0)), copy = lanes_equal(na, O::splat(0.0));
    for (int q = 0; q < MS; ++q) a[q] = lane_select(keep, a[q], lane_select(copy, b[q], out[q]));
  }

  template <class V>
  MADSIM_LANE static V divisor(const G::Params& p, V count) {
    return p.estimator == G::MLE ? count : count - 1.0;
  }

  // lane_chisquares for sites first_site .. first_site + D - 1.
  template <int AVX2>
  MADSIM_LANE static void chisquares(u32x2 key, vu replica, const uint32_t* ids, uint32_t t,
                                     uint32_t tag, uint32_t first_site, vd nu, vu live, vd* out,
                                     vd* spare0 = nullptr) {
    lane_chisquares<AVX2>(key, replica, ids, t, tag, first_site, nu, live, D, out, spare0);
  }

  // GaussianLoop::draw_exact on lanes with c = 0 (moments zero) or c >= D + 1
  // (Bartlett; `live`); F [D * D] gets the factor.
  template <int AVX2>
  MADSIM_LANE static void draw_exact(vd c, const vd* mu, const vd* L, double s, u32x2 key,
                                     vu replica, const uint32_t* ids, uint32_t t, uint32_t tag,
                                     vd* m, vd* F, bool scatter) {
    const vu live = (vu)(c >= D + 1.0);
    const vd nu = c - 1.0;
    vd z[D], Y[D], chi[D];
    if (D == 1) {  // the mean's normal: the chi-square's spare (one block a part)
      chisquares<AVX2>(key, replica, ids, t, tag, 2, nu, live, chi, z);
    } else {
      LaneNormalSeq<AVX2> zs;
      zs.start(key, t, tag, 0, replica);
      for (int i = 0; i < D; ++i) z[i] = zs.next();
      chisquares<AVX2>(key, replica, ids, t, tag, 2, nu, live, chi);
    }
    tri_mul_vec(L, z, Y);
    m[0] = c;
    const vd rc = lane_uniform<AVX2>(c) ? VecOps::splat(sqrt(c[0])) : VecOps::sqrt(c);
    for (int i = 0; i < D; ++i) m[1 + i] = mu[i] + s * Y[i] / rc;
    LaneNormalSeq<AVX2> off;
    off.start(key, t, tag, 1, replica);
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < D; ++j)
        F[i * D + j] = j < i ? off.next() : j == i ? VecOps::sqrt(chi[i]) : VecOps::splat(0.0);
    if (scatter) {
      vd Y2[D * D];  // linalg.hpp::tri_mul_dense, then outer_packed
      for (int i = 0; i < D; ++i)
        for (int q = 0; q < D; ++q) {
          vd v = VecOps::splat(0.0);
          for (int k = 0; k <= i; ++k) v += L[tri_(i, k)] * F[k * D + q];
          Y2[i * D + q] = v;
        }
      const double scale = s * s;
      for (int i = 0; i < D; ++i)
        for (int j = 0; j <= i; ++j) {
          vd v = VecOps::splat(0.0);
          for (int q = 0; q < D; ++q) v += Y2[i * D + q] * Y2[j * D + q];
          m[1 + D + tri_(i, j)] = scale * v;
        }
    } else {
      for (int k = 0; k < T; ++k) m[1 + D + k] = VecOps::splat(0.0);
    }
    const vu none = (vu)(c <= 0.0);
    for (int q = 0; q < MS; ++q) m[q] = lane_select(none, VecOps::splat(0.0), m[q]);
  }

  // draw_exact (D = 1) of two parts at once, in the halves of pair vectors:
  // part h has count c, mean mu, factor L and scale s (the halves of each),
  // stream tag tags[h], replicas replica and replica ids ids[h]. Each half
  // computes draw_exact's operations in its order (the chi-square's first
  // try, its rare scalar reruns, the mean from the try's spare normal), so
  // the bits are draw_exact's; the two parts' chains (Philox, log, square
  // roots, divisions) run side by side. Two parts of one lane group (the
  // synthetic and the real of fresh, accumulate and weighted) or the same
  // part of two groups (step_pair). F gets the factor sqrt(chi); the scatter
  // is computed where `scatter` (else zero, as draw_exact).
  template <int AVX2>
  MADSIM_LANE static void draw_exact_pair(vd2 c, vd2 mu, vd2 L, vd2 s, const uint32_t tags[2],
                                          vu2 replica, const uint32_t* const ids[2], u32x2 key,
                                          uint32_t t, vd2* m, vd2& F, bool scatter) {
    static_assert(D == 1, "one part's factor is one number");
    typedef VecOps2 O;
    const vu2 live = le2(O::splat(D + 1.0), c);  // c >= D + 1
    const vd2 nu = c - O::splat(1.0);
    // chisquares (i = 0, site 2), the try's spare normal into z
    const vd2 alpha = O::splat(0.5) * (nu - O::splat(0.0));
    const vu2 boost = lt2(alpha, O::splat(1.0));
    const vd2 d = alpha - O::splat(1.0 / 3.0);
    const vd2 cg = per_group(
        [](vd dh) {
          return lane_uniform<AVX2>(dh) ? VecOps::splat(1.0 / sqrt(9.0 * dh[0]))
                                        : 1.0 / VecOps::sqrt(9.0 * dh);
        },
        d);
    vu2 w[4];
    w[0] = O::splat_u(0);
    w[1] = O::splat_u(t);
    w[2] = vu2{VecOps::splat_u(make_stream(key, 0, t, tags[0], 2).stream),
               VecOps::splat_u(make_stream(key, 0, t, tags[1], 2).stream)};
    w[3] = replica;
    philox_lanes<AVX2>(w, key);
    vd2 x, z, v1, v, u, value;
    vu2 accepted;
    gamma_try_t<O>(d, cg, w[0], w[1], w[2], w[3], x, z, v1, v, u, value, accepted);
    // the exact test (two logs) on a group where the squeeze left a lane (of
    // 8, often: the squeeze fails about one try in ten)
    const vu2 redo = live & (boost | ~accepted);
    if (lane_any(redo.lo)) accepted.lo |= gamma_accept_t<VecOps>(d.lo, x.lo, v1.lo, v.lo, u.lo);
    if (lane_any(redo.hi)) accepted.hi |= gamma_accept_t<VecOps>(d.hi, x.hi, v1.hi, v.hi, u.hi);
    vd2 chi = O::splat(2.0) * value;
    const vu2 scalar = live & (boost | ~accepted);
    if (lane_any(scalar)) {
      for (int h = 0; h < 2; ++h) {
        const vu sc = h ? scalar.hi : scalar.lo, bh = h ? boost.hi : boost.lo;
        const vd nuh = h ? nu.hi : nu.lo;
        vd ch = h ? chi.hi : chi.lo;
        for (int l = 0; l < LANES; ++l) {
          if (!sc[l]) continue;
          const Stream s = make_stream(key, ids[h][l], t, tags[h], 2);
          double sp;
          uint32_t tries;
          ch[l] = bh[l] ? called(&chisquare, nuh[l] - 0, s, sp, tries)
                        : called(&chisquare_after_first, nuh[l] - 0, s);
        }
        (h ? chi.hi : chi.lo) = ch;
      }
    }
    // the rest of draw_exact: Y = L z, the mean, F = sqrt(chi), the scatter
    const vd2 Y = O::splat(0.0) + L * z;
    const vd2 rc = per_group(
        [](vd ch) {
          return lane_uniform<AVX2>(ch) ? VecOps::splat(sqrt(ch[0])) : VecOps::sqrt(ch);
        },
        c);
    const vd2 mean = mu + s * Y / rc;
    F = O::sqrt(chi);
    vd2 sc = O::splat(0.0);
    if (scatter) {
      const vd2 Y2 = O::splat(0.0) + L * F;
      sc = s * s * (O::splat(0.0) + Y2 * Y2);
    }
    const vu2 none = le2(c, O::splat(0.0));
    m[0] = lane_select(none, O::splat(0.0), c);
    m[1] = lane_select(none, O::splat(0.0), mean);
    m[2] = lane_select(none, O::splat(0.0), sc);
  }

  // GaussianLoop::draw_samples on lanes with c = 0 or c >= D + 1: the lanes
  // walk their streams' tries in lockstep (a try takes D normals whether or
  // not truncation keeps it), each adding the tries it keeps until it has
  // its count. sz [T] gets S_z.
  template <int AVX2>
  MADSIM_LANE static void draw_samples(vd c, const vd* mu, const vd* L, double s, double trunc,
                                       u32x2 key, vu replica, uint32_t t, uint32_t tag, vd* m,
                                       vd* sz, bool scatter) {
    vd want;
    for (int l = 0; l < LANES; ++l) want[l] = c[l] > 0.0 ? (double)(uint64_t)c[l] : 0.0;
    vd got = VecOps::splat(0.0), s1[D], z0[D];
    for (int i = 0; i < D; ++i) s1[i] = z0[i] = VecOps::splat(0.0);
    for (int k = 0; k < T; ++k) sz[k] = VecOps::splat(0.0);
    LaneNormalSeq<AVX2> zs;
    zs.start(key, t, tag, 0, replica);
    const uint64_t max_normals = 2ull * BLOCK_MAX - (uint64_t)D;
    bool same = trunc <= 0.0;  // every try kept, every lane the same count: no masks
    for (int l = 1; l < LANES; ++l) same = same && want[l] == want[0];
    if (same) {
      const uint64_t count = (uint64_t)want[0];
      uint64_t g = 0;
      for (; g < count && zs.i <= max_normals; ++g) {
        vd z[D];
        for (int i = 0; i < D; ++i) z[i] = zs.next();
        if (g == 0)
          for (int i = 0; i < D; ++i) z0[i] = z[i];
        for (int i = 0, k = 0; i < D; ++i) {
          const vd di = z[i] - z0[i];
          s1[i] += di;
          for (int j = 0; j <= i; ++j, ++k) sz[k] += di * (z[j] - z0[j]);
        }
      }
      got = VecOps::splat((double)g);
    }
    while (!same) {
      const vu active = (vu)(got < want);
      if (!lane_any(active) || zs.i > max_normals) break;
      vd z[D];
      vd r2 = VecOps::splat(0.0);
      for (int i = 0; i < D; ++i) {
        z[i] = zs.next();
        r2 += z[i] * z[i];
      }
      vu keep = active;
      if (trunc > 0.0) keep &= ~(vu)(r2 > trunc * trunc);
      const vu first = keep & (vu)(got == 0.0);
      for (int i = 0; i < D; ++i) z0[i] = lane_select(first, z[i], z0[i]);
      for (int i = 0, k = 0; i < D; ++i) {
        const vd di = z[i] - z0[i];
        s1[i] = lane_select(keep, s1[i] + di, s1[i]);
        for (int j = 0; j <= i; ++j, ++k)
          sz[k] = lane_select(keep, sz[k] + di * (z[j] - z0[j]), sz[k]);
      }
      got = lane_select(keep, got + 1.0, got);
    }
    const vd n = got;
    m[0] = n;
    for (int i = 0, k = 0; i < D; ++i)
      for (int j = 0; j <= i; ++j, ++k) sz[k] -= s1[i] * s1[j] / n;
    vd tmp[D], zz[D];
    for (int i = 0; i < D; ++i) tmp[i] = z0[i] + s1[i] / n;
    tri_mul_vec(L, tmp, zz);
    for (int i = 0; i < D; ++i) m[1 + i] = mu[i] + s * zz[i];
    if (scatter) {  // linalg.hpp::congruence_packed
      vd Tm[D * D];
      for (int i = 0; i < D; ++i)
        for (int q = 0; q < D; ++q) {
          vd v = VecOps::splat(0.0);
          for (int k = 0; k <= i; ++k) v += L[tri_(i, k)] * sz[k >= q ? tri_(k, q) : tri_(q, k)];
          Tm[i * D + q] = v;
        }
      const double scale = s * s;
      for (int i = 0; i < D; ++i)
        for (int j = 0; j <= i; ++j) {
          vd v = VecOps::splat(0.0);
          for (int k = 0; k <= j; ++k) v += Tm[i * D + k] * L[tri_(j, k)];
          m[1 + D + tri_(i, j)] = scale * v;
        }
    } else {
      for (int k = 0; k < T; ++k) m[1 + D + k] = VecOps::splat(0.0);
    }
    const vu none = (vu)(c <= 0.0);
    for (int q = 0; q < MS; ++q) m[q] = lane_select(none, VecOps::splat(0.0), m[q]);
  }

  // GaussianLoop::draw_part; w: F [D * D] (exact) or S_z [T] (samples).
  template <int AVX2>
  MADSIM_LANE static void draw_part(const G::Params& p, bool real, vd c, const vd* mu, const vd* L,
                                    u32x2 key, vu replica, const uint32_t* ids, uint32_t t, vd* m,
                                    vd* w, bool scatter) {
    const double s = real ? 1.0 : p.tau;
    if (p.path == G::EXACT) {
      draw_exact<AVX2>(c, mu, L, s, key, replica, ids, t, real ? TAG_REAL : TAG_SCATTER, m, w,
                       scatter);
    } else {
      draw_samples<AVX2>(c, mu, L, s, real ? 0.0 : p.trunc, key, replica, t,
                         real ? TAG_REAL : TAG_SAMPLES, m, w, scatter);
    }
  }

  // GaussianLoop::fit into st's mean and factor; returns the mask of lanes fitted.
  template <int AVX2, class V>
  MADSIM_LANE static auto fit(const G::Params& p, const V* real, const V* syn, V* st) {
    typedef typename OpsOf<V>::type O;
    const V enough = O::splat(D + 1.0);
    V mu[D], L[T];
    typename O::U ok;
    if (p.weight < 0.0) {
      V pooled[MS];
      for (int q = 0; q < MS; ++q) pooled[q] = real[q];
      pool<AVX2>(pooled, syn);
      ok = ~lanes_less(pooled[0], enough);
      const V div = divisor(p, pooled[0]);
      for (int i = 0; i < D; ++i) mu[i] = pooled[1 + i];
      for (int k = 0; k < T; ++k) L[k] = pooled[1 + D + k] / div;
    } else {
      ok = ~(lanes_less(real[0], enough) | lanes_less(syn[0], enough));
      const double w = p.weight;
      const V dr = divisor(p, real[0]), ds = divisor(p, syn[0]);
      for (int i = 0; i < D; ++i) mu[i] = w * real[1 + i] + (1.0 - w) * syn[1 + i];
      for (int k = 0; k < T; ++k)
        L[k] = w * (real[1 + D + k] / dr) + (1.0 - w) * (syn[1 + D + k] / ds);
    }
    cholesky(L);
    for (int i = 0; i < D; ++i) st[i] = lane_select(ok, mu[i], st[i]);
    for (int k = 0; k < T; ++k) st[D + k] = lane_select(ok, L[k], st[D + k]);
    return ok;
  }

  // GaussianLoop::step_replace (the new factor (tau / sqrt(div)) L G).
  template <int AVX2>
  MADSIM_LANE static vu step_replace(const G::Params& p, vd* st, u32x2 key, vu replica,
                                     const uint32_t* ids, uint32_t t, vd k) {
    vd syn[MS], w[D * D], Gf[T];
    draw_part<AVX2>(p, false, k, st, st + D, key, replica, ids, t, syn, w, false);
    if (p.path == G::EXACT) {
      for (int i = 0; i < D; ++i)
        for (int j = 0; j <= i; ++j) Gf[tri_(i, j)] = w[i * D + j];
    } else {
      for (int q = 0; q < T; ++q) Gf[q] = w[q];
      cholesky(Gf);
    }
    return replace_fit<AVX2>(p, st, syn, Gf, k);
  }

  // The rest of step_replace, once the synthetic part syn and G are drawn:
  // the lanes of k >= D + 1 points take syn's mean and the factor
  // (tau / sqrt(div)) L G; returns their mask.
  template <int AVX2, class V>
  MADSIM_LANE static auto replace_fit(const G::Params& p, V* st, const V* syn, const V* Gf, V k) {
    typedef typename OpsOf<V>::type O;
    const auto ok = ~lanes_less(k, O::splat(D + 1.0));
    const V* L = st + D;
    const V dv = divisor(p, syn[0]);
    const double tau = p.tau;
    const V f = per_group(
        [tau](vd x) {
          return lane_uniform<AVX2>(x) ? VecOps::splat(tau / sqrt(x[0])) : tau / VecOps::sqrt(x);
        },
        dv);
    V LG[T];
    for (int i = 0; i < D; ++i)
      for (int j = 0; j <= i; ++j) {
        V v = O::splat(0.0);
        for (int q = j; q <= i; ++q) v += L[tri_(i, q)] * Gf[tri_(q, j)];
        LG[tri_(i, j)] = f * v;
      }
    for (int i = 0; i < D; ++i) st[i] = lane_select(ok, syn[1 + i], st[i]);
    for (int q = 0; q < T; ++q) st[D + q] = lane_select(ok, LG[q], st[D + q]);
    return ok;
  }

  template <int AVX2>
  MADSIM_LANE static void step(const G::Params& p, vd* st, u32x2 key, vu replica,
                               const uint32_t* ids, uint32_t t, double* scratch) {
    const double m_t = p.counts[2 * (int64_t)(t - 1)], k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    vd k = VecOps::splat(k_t), m = VecOps::splat(p.loop == G::AUGMENT ? 0.0 : m_t);
    if (p.tpr > 0.0 && k_t > 0.0) k = lane_survivors<AVX2>(k_t, p.tpr, key, replica, ids, t, 0);
    if (p.loop != G::AUGMENT && p.fpr > 0.0 && m_t > 0.0)
      m = lane_survivors<AVX2>(m_t, p.fpr, key, replica, ids, t, 1);
    // Parts of 0 < c < D + 1 points: the scalar step (below).
    vu redo = (vu)(k > 0.0) & (vu)(k < D + 1.0);
    if (p.loop == G::FRESH || p.loop == G::ACCUMULATE) redo |= (vu)(m > 0.0) & (vu)(m < D + 1.0);
    const bool any_redo = lane_any(redo);
    const int S = (int)G::state_size(p);
    vd before[G_LANES_STATE];  // kept only for a scalar rerun
    if (any_redo)
      for (int q = 0; q < S; ++q) before[q] = st[q];
    vd* cnt = st + D + T;
    vd* lp = st + D + T + 3;
    vu ok;
    if (p.loop == G::REPLACE) {
      ok = step_replace<AVX2>(p, st, key, replica, ids, t, k);
      cnt[0] = VecOps::splat(0.0);
      cnt[1] = k;
    } else {
      vd syn[MS], real[MS], w[D * D];
      bool drawn = false;
      if constexpr (D == 1 && AVX2 == 2) {
        if (p.path == G::EXACT && p.loop != G::AUGMENT) {  // both parts drawn: side by side
          const uint32_t tags[2] = {TAG_SCATTER, TAG_REAL};
          const uint32_t* const pid[2] = {ids, ids};
          vd2 out[MS], F;
          draw_exact_pair<AVX2>(vd2{k, m}, vd2{st[0], VecOps::splat(p.truth[0])},
                                vd2{st[1], VecOps::splat(p.truth[1])},
                                vd2{VecOps::splat(p.tau), VecOps::splat(1.0)}, tags,
                                vu2{replica, replica}, pid, key, t, out, F, true);
          for (int q = 0; q < MS; ++q) {
            syn[q] = out[q].lo;
            real[q] = out[q].hi;
          }
          drawn = true;
        }
      }
      if (!drawn) {
        draw_part<AVX2>(p, false, k, st, st + D, key, replica, ids, t, syn, w, true);
        if (p.loop == G::AUGMENT) {
          for (int q = 0; q < MS; ++q) real[q] = lp[q];
        } else {
          vd tmu[D], tL[T];
          for (int i = 0; i < D; ++i) tmu[i] = VecOps::splat(p.truth[i]);
          for (int q = 0; q < T; ++q) tL[q] = VecOps::splat(p.truth[D + q]);
          draw_part<AVX2>(p, true, m, tmu, tL, key, replica, ids, t, real, w, true);
        }
      }
      ok = fit_counted<AVX2>(p, st, real, syn);
    }
    cnt[2] = lane_select(ok, cnt[2], cnt[2] + 1.0);
    if (any_redo) rerun(p, st, before, redo, key, ids, t, scratch);
  }

  // The fit of the loops that draw parts (not replace), accumulate's pooling
  // into its state included, and the part counters: one lane group or a
  // pair. Returns the mask of lanes fitted.
  template <int AVX2, class V>
  MADSIM_LANE static auto fit_counted(const G::Params& p, V* st, const V* real, V* syn) {
    typedef typename OpsOf<V>::type O;
    V* cnt = st + D + T;
    V* lp = st + D + T + 3;
    if (p.loop == G::ACCUMULATE) {
      lp[0] += real[0];
      lp[1] += syn[0];
      pool<AVX2>(lp + 2, real);
      pool<AVX2>(lp + 2, syn);
      for (int q = 0; q < MS; ++q) syn[q] = O::splat(0.0);
      cnt[0] = lp[0];
      cnt[1] = lp[1];
      return fit<AVX2>(p, lp + 2, syn, st);
    }
    cnt[0] = real[0];
    cnt[1] = syn[0];
    return fit<AVX2>(p, real, syn, st);
  }

  // GaussianLoop::init of a lane group's rows (state + l * S): the truth and,
  // under augment, the fixed real part drawn in lanes (draw_part at
  // generation 0, the scalar init's streams); a lane whose part has
  // 0 < c < D + 1 points runs the scalar init. An augment run's init cost
  // about nine of its generations in scalar code.
  template <int AVX2>
  MADSIM_LANE static void init(const G::Params& p, double* state, int64_t S, u32x2 key, vu replica,
                               const uint32_t* ids, double* scratch) {
    for (int l = 0; l < LANES; ++l) {
      double* row = state + l * S;
      for (int64_t q = 0; q < S; ++q) row[q] = 0.0;
      for (int q = 0; q < D + T; ++q) row[q] = p.truth[q];
    }
    if (p.loop != G::AUGMENT) return;
    const vd c = lane_survivors<AVX2>(p.real_fixed, p.fpr, key, replica, ids, 0, 1);
    vd tmu[D], tL[T], m[MS], w[D * D];
    for (int i = 0; i < D; ++i) tmu[i] = VecOps::splat(p.truth[i]);
    for (int q = 0; q < T; ++q) tL[q] = VecOps::splat(p.truth[D + q]);
    draw_part<AVX2>(p, true, c, tmu, tL, key, replica, ids, 0, m, w, true);
    const vu redo = (vu)(c > 0.0) & (vu)(c < D + 1.0);
    for (int l = 0; l < LANES; ++l) {
      double* row = state + l * S;
      if (redo[l])
        called(&G::init, p, row, key, ids[l], scratch);
      else
        for (int q = 0; q < MS; ++q) row[D + T + 3 + q] = m[q][l];
    }
  }

  // The lanes in redo take the scalar step from their state before it.
  MADSIM_LANE static void rerun(const G::Params& p, vd* st, const vd* before, vu redo, u32x2 key,
                                const uint32_t* ids, uint32_t t, double* scratch) {
    const int S = (int)G::state_size(p);
    double row[G_LANES_STATE];
    for (int l = 0; l < LANES; ++l) {
      if (!redo[l]) continue;
      for (int q = 0; q < S; ++q) row[q] = before[q][l];
      called(&G::template step<ScalarKit>, p, row, key, ids[l], t, scratch);
      for (int q = 0; q < S; ++q) st[q][l] = row[q];
    }
  }

  // Whether two lane groups step together (step_pair): the exact path at
  // D = 1, compiled for AVX-512 only (pairs_avx512).
  static bool pairs(const G::Params& p) { return D == 1 && p.path == G::EXACT; }

  // step on two lane groups at once, sa (replicas ra, ids) and sb (rb,
  // ids + LANES): every operation runs on the pair vectors of the two, so
  // the groups' dependency chains, which hold one group's generation to the
  // latency of its Box-Muller log, divisions and square roots and its fit,
  // run side by side (the loops that draw one part a generation, augment and
  // replace, had nothing else to overlap). Each lane computes step's
  // operations in its order: the same bits.
  template <int AVX2>
  MADSIM_LANE static void step_pair(const G::Params& p, vd* sa, vd* sb, u32x2 key, vu ra, vu rb,
                                    const uint32_t* ids, uint32_t t, double* scratch) {
    static_assert(D == 1 && AVX2 == 2, "pairs: the exact path at D = 1 with AVX-512");
    typedef VecOps2 O;
    const uint32_t* idb = ids + LANES;
    const double m_t = p.counts[2 * (int64_t)(t - 1)], k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    vd2 k = O::splat(k_t), m = O::splat(p.loop == G::AUGMENT ? 0.0 : m_t);
    if (p.tpr > 0.0 && k_t > 0.0)
      k = vd2{lane_survivors<AVX2>(k_t, p.tpr, key, ra, ids, t, 0),
              lane_survivors<AVX2>(k_t, p.tpr, key, rb, idb, t, 0)};
    if (p.loop != G::AUGMENT && p.fpr > 0.0 && m_t > 0.0)
      m = vd2{lane_survivors<AVX2>(m_t, p.fpr, key, ra, ids, t, 1),
              lane_survivors<AVX2>(m_t, p.fpr, key, rb, idb, t, 1)};
    // Parts of 0 < c < D + 1 points: the scalar step (rerun).
    const vd2 zero = O::splat(0.0), enough = O::splat(D + 1.0);
    vu2 redo = lanes_less(zero, k) & lanes_less(k, enough);
    if (p.loop == G::FRESH || p.loop == G::ACCUMULATE)
      redo |= lanes_less(zero, m) & lanes_less(m, enough);
    const bool any_redo = lane_any(redo);
    const int S = (int)G::state_size(p);
    vd2 st[G_LANES_STATE];
    for (int q = 0; q < S; ++q) st[q] = vd2{sa[q], sb[q]};
    vd2* cnt = st + D + T;
    vd2* lp = st + D + T + 3;
    const uint32_t syn_tags[2] = {TAG_SCATTER, TAG_SCATTER}, real_tags[2] = {TAG_REAL, TAG_REAL};
    const uint32_t* const pid[2] = {ids, idb};
    const vu2 rep{ra, rb};
    vd2 syn[MS], F;
    const bool replace = p.loop == G::REPLACE;
    draw_exact_pair<AVX2>(k, st[0], st[1], O::splat(p.tau), syn_tags, rep, pid, key, t, syn, F,
                          !replace);
    vu2 ok;
    if (replace) {
      ok = replace_fit<AVX2>(p, st, syn, &F, k);
      cnt[0] = zero;
      cnt[1] = k;
    } else {
      vd2 real[MS];
      if (p.loop == G::AUGMENT) {
        for (int q = 0; q < MS; ++q) real[q] = lp[q];
      } else {
        vd2 Fr;
        draw_exact_pair<AVX2>(m, O::splat(p.truth[0]), O::splat(p.truth[1]), O::splat(1.0),
                              real_tags, rep, pid, key, t, real, Fr, true);
      }
      ok = fit_counted<AVX2>(p, st, real, syn);
    }
    cnt[2] = lane_select(ok, cnt[2], cnt[2] + 1.0);
    vd before_a[G_LANES_STATE], before_b[G_LANES_STATE];
    if (any_redo)
      for (int q = 0; q < S; ++q) {
        before_a[q] = sa[q];
        before_b[q] = sb[q];
      }
    for (int q = 0; q < S; ++q) {
      sa[q] = st[q].lo;
      sb[q] = st[q].hi;
    }
    if (!any_redo) return;
    rerun(p, sa, before_a, redo.lo, key, ids, t, scratch);
    rerun(p, sb, before_b, redo.hi, key, idb, t, scratch);
  }

  // The largest state row (Accumulate at D = 3).
  static constexpr int G_LANES_STATE = 24;
  static_assert(D + T + 3 + 2 + MS <= G_LANES_STATE, "state row bound");
};

// GaussianLoop::step_replace on the exact path (replace_lanes_support), LANES
// replicas at once: each lane draws its replica's streams (the mean's
// normals, Bartlett's chi-squares and below-diagonal normals) and computes
// the new mean and the factor (tau / sqrt(div)) L G with the scalar code's
// operations in its order, so it gives the scalar bits. A part of
// c < d + 1 points skips the fit, as the scalar step does (no draw of it is
// used), so no lane reruns the scalar step; a rejected first chi-square try
// (or alpha < 1) reruns that lane's chisquare (lane_chisquares). Its rows
// live on the heap (LaneStep::heap): the state rows, then the work vectors.
struct ReplaceLanes {
  typedef GaussianLoop G;

  // The largest d whose rows and arrays are on the stack (the state rows in
  // LaneStep::STATE); larger d hold the state rows and the Bartlett factor
  // on the heap (LaneStep::heap, step_heap).
  static constexpr int STACK_D = 16;
  static constexpr int STATE = STACK_D + STACK_D * (STACK_D + 1) / 2 + 3;  // mu, L, counters

  // The vectors on the heap after the state rows at d: the Bartlett factor
  // (T + 1: a whole last block).
  static int64_t work_size(int d) { return tri_size(d) + 1; }

  // st: the state rows (mu, L, counters: replace keeps no loop state) of
  // d <= DM; with DM > STACK_D, the Bartlett factor's work_size(d) vectors
  // after them. The small arrays (the mean's normals, the chi-squares and a
  // row of L G) are on the stack, sized for DM.
  template <int AVX2, int DM>
  MADSIM_LANE static void step(const G::Params& p, vd* st, u32x2 key, vu replica,
                               const uint32_t* ids, uint32_t t) {
    constexpr bool heap = DM > STACK_D;
    const int d = p.d, T = tri_size(d);
    const double k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    vd k = VecOps::splat(k_t);
    if (p.tpr > 0.0 && k_t > 0.0) k = lane_survivors<AVX2>(k_t, p.tpr, key, replica, ids, t, 0);
    const vu live = ~(vu)(k < d + 1.0);  // the lanes that fit
    vd* cnt = st + d + T;
    cnt[0] = VecOps::splat(0.0);
    cnt[1] = k;
    cnt[2] = lane_select(live, cnt[2], cnt[2] + 1.0);
    if (!lane_any(live)) return;
    vd* mu = st;
    vd* L = st + d;
    // The mean mu + tau L z / sqrt(c) (draw_exact; L is model t-1's).
    vd z[DM + 1];
    lane_normals<AVX2>(key, t, TAG_SCATTER, 0, replica, d, z);
    const vd rc = VecOps::sqrt(k);
    for (int i = 0; i < d; ++i) {
      vd v = VecOps::splat(0.0);
      for (int q = 0; q <= i; ++q) v += L[tri(i, q)] * z[q];
      mu[i] = lane_select(live, mu[i] + p.tau * v / rc, mu[i]);
    }
    // Bartlett's factor (wishart_factor), packed: sqrt(chi2(c - 1 - i)) on
    // the diagonal (site 2 + i), site 1's normals below it row by row.
    // Normal n = i (i - 1) / 2 + j of site 1 is entry (i, j), packed at
    // tri(i, j) = n + i: drawn in order to the front, then moved up from the
    // last row down (a move never lands on a normal not yet moved).
    vd stack_gf[heap ? 1 : DM * (DM + 1) / 2 + 1], chi[DM];
    vd* const Gf = heap ? st + G::state_size(p) : stack_gf;
    lane_chisquares<AVX2>(key, replica, ids, t, TAG_SCATTER, 2, k - 1.0, live, d, chi);
    lane_normals<AVX2>(key, t, TAG_SCATTER, 1, replica, T - d, Gf);
    for (int i = d - 1; i >= 0; --i) {
      for (int j = i - 1; j >= 0; --j) Gf[tri(i, j)] = Gf[i * (i - 1) / 2 + j];
      Gf[tri(i, i)] = VecOps::sqrt(chi[i]);
    }
    // L <- f L G in place, row by row (row i of L G reads row i of L and rows
    // <= i of G). Entry (i, j) sums L_iq G_qj over q = j .. i upwards from
    // 0.0, as the scalar loop; the row's entries advance together so their
    // sums are independent chains.
    const vd f = p.tau / VecOps::sqrt(p.estimator == G::MLE ? k : k - 1.0);
    for (int i = 0; i < d; ++i) {
      vd* Li = L + tri(i, 0);
      vd v[DM];
      for (int j = 0; j <= i; ++j) v[j] = VecOps::splat(0.0);
      for (int q = 0; q <= i; ++q) {
        const vd lq = Li[q];
        const vd* Gq = Gf + tri(q, 0);
        for (int j = 0; j <= q; ++j) v[j] += lq * Gq[j];
      }
      for (int j = 0; j <= i; ++j) Li[j] = lane_select(live, f * v[j], Li[j]);
    }
  }
};

template <>
struct LaneStep<GaussianLoop> {
  static constexpr bool available = true;
  static constexpr int STATE = LoopLanes<3>::G_LANES_STATE > ReplaceLanes::STATE
                                   ? LoopLanes<3>::G_LANES_STATE
                                   : ReplaceLanes::STATE;
  static bool usable(const GaussianLoop::Params& p) { return gaussian_loop_lanes_support(p); }
  // ReplaceLanes at d > STACK_D: a lane group's state rows (up to 563
  // vectors at d = 32) and Bartlett factor on the heap (step_heap).
  static int64_t heap(const GaussianLoop::Params& p) {
    return p.d > ReplaceLanes::STACK_D ? GaussianLoop::state_size(p) + ReplaceLanes::work_size(p.d)
                                       : 0;
  }
  template <int AVX2>
  MADSIM_LANE static void step_heap(const GaussianLoop::Params& p, vd* rows, u32x2 key, vu replica,
                                    const uint32_t* ids, uint32_t t, double*) {
    ReplaceLanes::step<AVX2, REPLACE_LANES_MAX_D>(p, rows, key, replica, ids, t);
  }
  // d = 1..3: the init in lanes (LoopLanes::init; ReplaceLanes' rows are
  // the truth, nothing to draw).
  static bool lane_init(const GaussianLoop::Params& p) { return p.d <= 3; }
  template <int AVX2>
  MADSIM_LANE static void init(const GaussianLoop::Params& p, double* state, int64_t S, u32x2 key,
                               vu replica, const uint32_t* ids, double* scratch) {
    if (p.d == 1) {
      LoopLanes<1>::init<AVX2>(p, state, S, key, replica, ids, scratch);
    } else if (p.d == 2) {
      LoopLanes<2>::init<AVX2>(p, state, S, key, replica, ids, scratch);
    } else {
      LoopLanes<3>::init<AVX2>(p, state, S, key, replica, ids, scratch);
    }
  }
  // Two lane groups at once with AVX-512 (LoopLanes<1>::step_pair).
  static bool pairs(const GaussianLoop::Params& p) { return p.d == 1 && LoopLanes<1>::pairs(p); }
  template <int AVX2>
  MADSIM_LANE static void step_pair(const GaussianLoop::Params& p, vd* sa, vd* sb, u32x2 key, vu ra,
                                    vu rb, const uint32_t* ids, uint32_t t, double* scratch) {
    LoopLanes<1>::step_pair<AVX2>(p, sa, sb, key, ra, rb, ids, t, scratch);
  }
  template <int AVX2>
  MADSIM_LANE static void step(const GaussianLoop::Params& p, vd* st, u32x2 key, vu replica,
                               const uint32_t* ids, uint32_t t, double* scratch) {
    if (p.d >= 4) {
      ReplaceLanes::step<AVX2, ReplaceLanes::STACK_D>(p, st, key, replica, ids, t);
    } else if (p.d == 1) {
      LoopLanes<1>::step<AVX2>(p, st, key, replica, ids, t, scratch);
    } else if (p.d == 2) {
      LoopLanes<2>::step<AVX2>(p, st, key, replica, ids, t, scratch);
    } else {
      LoopLanes<3>::step<AVX2>(p, st, key, replica, ids, t, scratch);
    }
  }
};

}  // namespace madsim::cpu
