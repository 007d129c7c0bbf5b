// d-dimensional Gaussian under every training loop and knob (docs/theory/,
// index.md): replace, augment (fixed real set), fresh real data,
// accumulate, accumulate-subsample; temperature, truncation, the He-Xu-Cheng
// weighting and a provenance filter. Any d >= 1; the 1-D replace loop without
// knobs also has the faster Gaussian1D.
//
// Generation t (model t-1 -> model t) trains on
//   a real part       m_t points of the truth (Fresh, Accumulate*), or the
//                     fixed real set drawn at generation 0 (Augment)
//   a synthetic part  k_t draws of model t-1 from N(mu, tau^2 Sigma),
//                     optionally truncated to the Mahalanobis ball of radius k
// after the filter drops each synthetic point with probability tpr and each
// real point with fpr (binomial survivors: the filter ignores values, so the
// survivors are iid draws of the same law). The fit is the pooled MLE /
// unbiased estimate, or w * real-part fit + (1 - w) * synthetic-part fit.
// A generation with too few points (< d + 1 pooled, or per part when
// weighted) keeps model t-1 and counts a skipped fit: never a NaN.
// Two mitigations (Gaussian only; no draws of their own, so no stream of
// their own either):
//   tail reweighting (reweight_beta > 0, samples path): each synthetic draw
//     z (standard coordinates of the law that drew it) gets the weight
//     w = 1 + beta * 1{|z| > reweight_k}; the part's moments are the weighted
//     mean and the weighted scatter normalised to the part's count,
//     sum_i (c w_i / W)(x_i - xbar_w)(x_i - xbar_w)', W = sum_i w_i, so the fit
//     divides it by the count (mle) or count - 1 as before;
//   self-correction (correction = g > 0; Gillman et al.): each synthetic
//     point moves to (1 - g) x + g T(x), T the optimal transport map from
//     model t-1 N(mu, Sigma) to the truth, T(x) = mu0 + A (x - mu) with
//     A = L^-T (L' Sigma0 L)^(1/2) L^-1 (Sigma = L L'); the map is affine, so
//     it acts on the part's moments (mean and scatter), either path.
// factors = q > 0 makes the model PPCA (ppca.hpp): every fit is projected
// onto q factors plus isotropic noise (no draws of its own, so the streams
// below are PPCA's too), and observe adds its metrics.
//
// Streams (stream.hpp) at counter generation t (0 for the fixed real set):
//   exact part, tag T (TAG_SCATTER synthetic, TAG_REAL real):
//     site 0       the mean's d normals (d >= 2)
//     site 1       Bartlett's below-diagonal normals, row by row; when the
//                  part has fewer than d + 1 points, the d x (c-1) normals
//                  of the (singular) Wishart factor, row by row
//     site 2 + i   the chi-square of Bartlett's i-th diagonal (own tries);
//                  at d = 1 also the mean's normal: the spare normal of the
//                  chi-square's first try (samplers.hpp::gamma_mt), taken
//                  whether or not the chi-square is drawn (c = 1), so a
//                  part usually costs one Philox block (layout 2)
//   samples part, tag TAG_SAMPLES (synthetic) or TAG_REAL (real), site 0:
//     consecutive normals, d per draw (truncation: d per try)
//   TAG_FILTER site 0 / 1: synthetic / real survivors (binomial)
//   TAG_SUBSET site 0, block j: the j-th pick of the subsample (Floyd)
#pragma once
#include <math.h>

#include "../kit.hpp"
#include "../linalg.hpp"
#include "../metrics.hpp"
#include "../model.hpp"
#include "../moments.hpp"
#include "../ppca.hpp"
#include "../samplers.hpp"
#include "../subset.hpp"

namespace madsim {

// A factor F [d, d] (row-major; q columns used) with F F' ~ Wishart_d(nu, I),
// nu >= 1 an integer: Bartlett's lower-triangular factor when nu >= d
// (F_ii^2 ~ chi2(nu - i) from site 2 + i, F_ij ~ N(0, 1) below the diagonal
// from site 1, row by row; q = d), else the d x nu normals themselves from
// site 1, row by row (q = nu < d: the singular Wishart). Returns q. The kit K
// says where the draws come from (ScalarKit, or the CPU's lanes: the same
// numbers); Bartlett's chi-squares wait in row 0 (zero above the diagonal).
template <class K = ScalarKit>
MADSIM_HD int wishart_factor(int d, double nu, u32x2 key, uint32_t replica, uint32_t gen,
                             uint32_t tag, double* F) {
  typename K::Normals off = K::normals(make_stream(key, replica, gen, tag, 1),
                                       nu >= d ? d * (d - 1) / 2 : d * (uint64_t)nu);
  if (nu >= d) {
    K::chisquares(key, replica, gen, tag, 2, nu, d, F);
    for (int i = 1; i < d; ++i)
      for (int j = 0; j < d; ++j) F[i * d + j] = j < i ? off.next() : j == i ? sqrt(F[i]) : 0.0;
    F[0] = sqrt(F[0]);
    for (int j = 1; j < d; ++j) F[j] = 0.0;
    return d;
  }
  const int q = (int)nu;
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < q; ++j) F[i * d + j] = off.next();
  return q;
}

struct GaussianLoop {
  enum Loop : int32_t { REPLACE = 0, AUGMENT = 1, FRESH = 2, ACCUMULATE = 3, SUBSAMPLE = 4 };
  enum Path : int32_t { EXACT = 0, SAMPLES = 1 };
  enum Estimator : int32_t { MLE = 0, UNBIASED = 1 };

  struct Params {
    int32_t d, loop, estimator, path;
    double tau;            // temperature: synthetic spread tau * Sigma^(1/2)
    double trunc;          // 0: none; else keep synthetic draws with |z| <= trunc
    double weight;         // < 0: pooled fit; else w in [0, 1]
    double tpr, fpr;       // filter: drop probability of synthetic / real points
    double real_fixed;     // Augment: size of the fixed real set
    int64_t subsample_n;   // AccumulateSubsample: points per fit
    int64_t pool_cap;      // AccumulateSubsample: points the pool can hold
    const double* truth;   // [d + d(d+1)/2]: mu0, then Sigma0's Cholesky factor (packed)
    const double* counts;  // [n_counts, 2]: (real, synthetic) of generation t in row t-1
    int64_t n_counts;
    int32_t factors;  // 0: full covariance; q in [1, d): PPCA with q factors
    const double*
        basis;  // [d, q] row-major (factors > 0): the truth's principal subspace, orthonormal
    double reweight_beta;  // 0: off; else synthetic draws with |z| > reweight_k weigh 1 + beta
    double reweight_k;
    double correction;  // 0: off; else g in (0, 1]: the self-correction's strength
  };

  // Whether a mitigation is on (a fast path, e.g. csrc/cpu's lanes, runs
  // only without them).
  MADSIM_HD static bool mitigated(const Params& p) {
    return p.reweight_beta > 0.0 || p.correction > 0.0;
  }

  // The Params fields that point at host arrays, and their lengths (the
  // CUDA launcher copies each to the device; model.hpp).
  static constexpr int N_ARRAYS = 3;
  static const double* Params::* array(int i) {
    return i == 0 ? &Params::truth : i == 1 ? &Params::counts : &Params::basis;
  }
  static int64_t array_length(const Params& p, int i) {  // basis: PPCA's [d, q] (none when q = 0)
    return i == 0   ? (int64_t)p.d + tri_size(p.d)
           : i == 1 ? 2 * p.n_counts
                    : (int64_t)p.d * p.factors;
  }

  // State row: [mu d | L packed T | last real, last synthetic, skipped | loop]
  // with loop = Augment: the fixed real set's moments; Accumulate: the pool's
  // real count, synthetic count and moments; AccumulateSubsample: size, then
  // pool_cap points of [x d | 1 if real].
  MADSIM_HD static int T(const Params& p) { return tri_size(p.d); }
  MADSIM_HD static int counts_at(const Params& p) { return p.d + T(p); }
  MADSIM_HD static int loop_at(const Params& p) { return p.d + T(p) + 3; }
  MADSIM_HD static int64_t loop_size(const Params& p) {
    if (p.loop == AUGMENT) return moments_size(p.d);
    if (p.loop == ACCUMULATE) return 2 + moments_size(p.d);
    if (p.loop == SUBSAMPLE) return 1 + p.pool_cap * (p.d + 1);
    return 0;
  }
  MADSIM_HD static int64_t state_size(const Params& p) { return loop_at(p) + loop_size(p); }
  // observe: [mu d | Sigma packed T | trace, logdet, mean_sq, points_real,
  //           points_synthetic, skipped | metrics]
  // metrics: every GaussMetric (metrics.hpp) in its order for d = 1; for
  // d > 1 those defined there, in the same order: the tail masses (outside
  // the Mahalanobis balls), W2^2, both KLs, logdet_ratio, trace_ratio (the
  // quantiles and TV are 1-D only).
  MADSIM_HD static int metrics_at(const Params& p) { return p.d + T(p) + 6; }
  MADSIM_HD static int n_metrics(const Params& p) { return p.d == 1 ? N_GAUSS_METRICS : 8; }
  // The GaussMetric in metric slot k.
  MADSIM_HD static int32_t metric_of(const Params& p, int k) {
    const int32_t nd[] = {M_TAIL2,          M_TAIL3,          M_TAIL4,        M_W2_SQ,
                          M_KL_MODEL_TRUTH, M_KL_TRUTH_MODEL, M_LOGDET_RATIO, M_TRACE_RATIO};
    return p.d == 1 ? k : nd[k];
  }
  // PPCA (factors = q > 0): [factor_var q | noise_var, subspace_sin2, max_angle]
  // after the metrics (ppca_metrics), one observe group.
  MADSIM_HD static int ppca_at(const Params& p) { return metrics_at(p) + n_metrics(p); }
  MADSIM_HD static int observe_size(const Params& p) {
    return ppca_at(p) + (p.factors > 0 ? p.factors + 3 : 0);
  }
  // observe()'s column names, in order (host only; model.hpp).
  // d = 1: mean and var; PPCA's after the metrics.
  static ObserveNames observe_names(const Params& p) {
    ObserveNames n;
    add_names(n, "mean", p.d);
    add_names(n, p.d == 1 ? "var" : "cov", T(p));
    for (const char* s :
         {"trace", "logdet", "mean_sq", "points_real", "points_synthetic", "skipped"})
      add_names(n, s);
    for (int k = 0; k < n_metrics(p); ++k) add_names(n, GAUSS_METRIC_NAMES[metric_of(p, k)]);
    if (p.factors > 0) {
      add_names(n, "factor_var", p.factors);
      for (const char* s : {"noise_var", "subspace_sin2", "max_angle"}) add_names(n, s);
    }
    return n;
  }
  static constexpr int PPCA_GROUP = 1 + N_GAUSS_METRICS, LOGDET_GROUP = PPCA_GROUP + 1;
  // Group 0: everything before the metrics (one pass over L) but logdet;
  // metric m: group 1 + m; the PPCA columns: PPCA_GROUP; logdet:
  // LOGDET_GROUP (its logarithm was about half of a 1-D look that records
  // only the variance: perf, augment at G = 1).
  MADSIM_HD static int observe_group(const Params& p, int col) {
    if (col >= ppca_at(p)) return PPCA_GROUP;
    if (col == p.d + T(p) + 1) return LOGDET_GROUP;
    return col < metrics_at(p) ? 0 : 1 + metric_of(p, col - metrics_at(p));
  }
  MADSIM_HD static int64_t scratch_size(const Params& p) {
    const int d = p.d;
    const int64_t steps =
        3 * moments_size(d) + 2 * d * d + 4 * d + T(p) + (p.loop == SUBSAMPLE ? p.subsample_n : 0);
    const int64_t look = p.factors > 0 && ppca_scratch(d, p.factors) > gaussd_scratch(d)
                             ? ppca_scratch(d, p.factors)
                             : gaussd_scratch(d);
    return steps > look ? steps : look;
  }

  // Moments of c draws of N(mu, s^2 L L') into m, exact in law: mean =
  // mu + s L z / sqrt(c), scatter = s^2 L F F' L' with F F' ~ Wishart_d(c-1, I)
  // (Bartlett when c - 1 >= d; at d = 1, F^2 ~ chi2(c - 1) and z is that
  // chi-square's spare normal, as in Gaussian1D). F, Y: d x d scratch. scatter = false leaves
  // m's scatter at zero (F is still drawn): for a fit that reads F itself.
  template <class K = ScalarKit>
  MADSIM_HD static void draw_exact(int d, double c, const double* mu, const double* L, double s,
                                   u32x2 key, uint32_t replica, uint32_t gen, uint32_t tag,
                                   double* m, double* F, double* Y, bool scatter = true) {
    moments_clear(m, d);
    if (c <= 0.0) return;
    m[0] = c;
    const double nu = c - 1.0;
    double chi2 = 0.0;  // d = 1: the chi-square (Bartlett's only entry)
    if (d == 1) {
      // One block a part (as Gaussian1D): the mean's normal is the spare
      // normal of the chi-square's first try (site 2), drawn or not.
      const Stream cs = make_stream(key, replica, gen, tag, 2);
      uint32_t tries;
      if (nu > 0.0) {
        chi2 = chisquare(nu, cs, F[0], tries);
      } else {
        F[0] = gamma_spare_normal(cs);
      }
    } else {
      typename K::Normals zs = K::normals(make_stream(key, replica, gen, tag, 0), d);
      for (int i = 0; i < d; ++i) F[i] = zs.next();  // F row 0 as scratch for z
    }
    tri_mul_vec(L, F, Y, d);
    for (int i = 0; i < d; ++i) m[1 + i] = mu[i] + s * Y[i] / sqrt(c);
    if (nu <= 0.0) return;
    int q = 1;
    if (d == 1) {
      F[0] = sqrt(chi2);
    } else {
      q = wishart_factor<K>(d, nu, key, replica, gen, tag, F);
    }
    if (!scatter) return;
    tri_mul_dense(L, F, Y, d, q);
    outer_packed(Y, m + 1 + d, d, q, s * s);
  }

  // Moments of c draws (truncated to |z| <= trunc when trunc > 0) from the
  // consecutive normals of `st`, reduced on z - z_0 in standard coordinates and
  // mapped by the affine fit equivariance: mean = mu + s L zbar, scatter =
  // s^2 L S_z L' (left at zero when scatter = false; S_z is in w either way).
  // w: 4d + T + d*d scratch.
  template <class K = ScalarKit>
  MADSIM_HD static void draw_samples(int d, double c, const double* mu, const double* L, double s,
                                     double trunc, const Stream& st, double* m, double* w,
                                     bool scatter = true) {
    moments_clear(m, d);
    if (c <= 0.0) return;
    double *z = w, *z0 = w + d, *s1 = w + 2 * d, *tmp = w + 3 * d, *sz = w + 4 * d;
    double* T2 = sz + tri_size(d);
    for (int i = 0; i < d; ++i) s1[i] = 0.0;
    for (int k = 0; k < tri_size(d); ++k) sz[k] = 0.0;
    const uint64_t want = (uint64_t)c;
    typename K::Normals zs = K::normals(st, want * d);
    const uint64_t max_normals = 2ull * BLOCK_MAX - (uint64_t)d;
    uint64_t got = 0;
    while (got < want && zs.i <= max_normals) {
      double r2 = 0.0;
      for (int i = 0; i < d; ++i) {
        z[i] = zs.next();
        r2 += z[i] * z[i];
      }
      if (trunc > 0.0 && r2 > trunc * trunc) continue;
      if (got == 0)
        for (int i = 0; i < d; ++i) z0[i] = z[i];
      for (int i = 0, k = 0; i < d; ++i) {
        const double di = z[i] - z0[i];
        s1[i] += di;
        for (int j = 0; j <= i; ++j, ++k) sz[k] += di * (z[j] - z0[j]);
      }
      ++got;
    }
    const double n = (double)got;
    m[0] = n;
    for (int i = 0, k = 0; i < d; ++i)
      for (int j = 0; j <= i; ++j, ++k) sz[k] -= s1[i] * s1[j] / n;
    for (int i = 0; i < d; ++i) tmp[i] = z0[i] + s1[i] / n;
    tri_mul_vec(L, tmp, z, d);
    for (int i = 0; i < d; ++i) m[1 + i] = mu[i] + s * z[i];
    if (scatter) congruence_packed(L, sz, T2, m + 1 + d, d, s * s);
  }

  // draw_samples with tail weights: draw z (same stream, same tries) gets
  // w = 1 + beta * 1{|z|^2 > k^2}; mean = mu + s L zbar_w, S_z = (c / W) *
  // sum_i w_i (z_i - zbar_w)(z_i - zbar_w)' (reduced on z - z_0 as
  // draw_samples), left in w at the same place, scatter = s^2 L S_z L'.
  MADSIM_HD_CALLED static void draw_samples_weighted(int d, double c, const double* mu,
                                                     const double* L, double s, double trunc,
                                                     double beta, double k, const Stream& st,
                                                     double* m, double* w, bool scatter = true) {
    moments_clear(m, d);
    if (c <= 0.0) return;
    double *z = w, *z0 = w + d, *s1 = w + 2 * d, *tmp = w + 3 * d, *sz = w + 4 * d;
    double* T2 = sz + tri_size(d);
    for (int i = 0; i < d; ++i) s1[i] = 0.0;
    for (int q = 0; q < tri_size(d); ++q) sz[q] = 0.0;
    const uint64_t want = (uint64_t)c;
    NormalSeq zs = normal_seq(st);
    const uint64_t max_normals = 2ull * BLOCK_MAX - (uint64_t)d;
    uint64_t got = 0;
    double W = 0.0;
    while (got < want && zs.i <= max_normals) {
      double r2 = 0.0;
      for (int i = 0; i < d; ++i) {
        z[i] = zs.next();
        r2 += z[i] * z[i];
      }
      if (trunc > 0.0 && r2 > trunc * trunc) continue;
      if (got == 0)
        for (int i = 0; i < d; ++i) z0[i] = z[i];
      const double wt = r2 > k * k ? 1.0 + beta : 1.0;
      for (int i = 0, q = 0; i < d; ++i) {
        const double di = z[i] - z0[i];
        s1[i] += wt * di;
        for (int j = 0; j <= i; ++j, ++q) sz[q] += wt * di * (z[j] - z0[j]);
      }
      W += wt;
      ++got;
    }
    const double n = (double)got;
    m[0] = n;
    for (int i = 0, q = 0; i < d; ++i)
      for (int j = 0; j <= i; ++j, ++q) sz[q] = (sz[q] - s1[i] * s1[j] / W) * (n / W);
    for (int i = 0; i < d; ++i) tmp[i] = z0[i] + s1[i] / W;
    tri_mul_vec(L, tmp, z, d);
    for (int i = 0; i < d; ++i) m[1 + i] = mu[i] + s * z[i];
    if (scatter) congruence_packed(L, sz, T2, m + 1 + d, d, s * s);
  }

  // Self-correction of a synthetic part's moments m (drawn from model t-1 =
  // state's [mu | L]): the affine map x -> (1 - g) mu + g mu0 + M (x - mu),
  // M = (1 - g) I + g A, A the transport map's matrix (header comment), so
  // mean -> (1 - g) mu + g mu0 + M (mean - mu), scatter -> M scatter M.
  // (L' Sigma0 L)^(1/2) = sum_j c_j c_j' / |c_j| over the orthogonalised
  // columns c_j of C = L' L0 (C C' = L' Sigma0 L; metrics.hpp). A model with
  // a zero pivot (collapsed below rounding) has no map and is left as drawn.
  // w: 2 d^2 + d scratch.
  MADSIM_HD_CALLED static void correct(const Params& p, const double* state, double* m, double* w) {
    const int d = p.d;
    const double g = p.correction;
    const double *mu = state, *L = state + d, *mu0 = p.truth, *L0 = p.truth + d;
    if (m[0] <= 0.0) return;
    for (int i = 0; i < d; ++i)
      if (!(L[tri(i, i)] > 0.0)) return;
    double *C = w, *R = w + d * d, *v = w + 2 * d * d;
    for (int i = 0; i < d; ++i)  // C = L' L0, dense
      for (int j = 0; j < d; ++j) {
        double x = 0.0;
        for (int q = (i > j ? i : j); q < d; ++q) x += L[tri(q, i)] * L0[tri(q, j)];
        C[i * d + j] = x;
      }
    orthogonalize_columns(C, d);
    for (int i = 0; i < d * d; ++i) R[i] = 0.0;
    for (int j = 0; j < d; ++j) {  // R = (L' Sigma0 L)^(1/2)
      double n2 = 0.0;
      for (int i = 0; i < d; ++i) n2 += C[i * d + j] * C[i * d + j];
      if (!(n2 > 0.0)) continue;
      const double inv = 1.0 / sqrt(n2);
      for (int a = 0; a < d; ++a)
        for (int b = 0; b < d; ++b) R[a * d + b] += C[a * d + j] * C[b * d + j] * inv;
    }
    for (int a = 0; a < d; ++a)  // R <- R L^-1: solve X L = R row by row (back substitution)
      for (int j = d - 1; j >= 0; --j) {
        double x = R[a * d + j];
        for (int q = j + 1; q < d; ++q) x -= R[a * d + q] * L[tri(q, j)];
        R[a * d + j] = x / L[tri(j, j)];
      }
    for (int b = 0; b < d; ++b)  // R <- L^-T R: solve L' X = R column by column
      for (int i = d - 1; i >= 0; --i) {
        double x = R[i * d + b];
        for (int q = i + 1; q < d; ++q) x -= L[tri(q, i)] * R[q * d + b];
        R[i * d + b] = x / L[tri(i, i)];
      }
    for (int a = 0; a < d; ++a)  // M = (1 - g) I + g A, symmetrised against rounding
      for (int b = 0; b <= a; ++b) {
        const double x = 0.5 * g * (R[a * d + b] + R[b * d + a]);
        R[a * d + b] = R[b * d + a] = x + (a == b ? 1.0 - g : 0.0);
      }
    double* mean = m + 1;
    for (int i = 0; i < d; ++i) v[i] = mean[i] - mu[i];
    for (int i = 0; i < d; ++i) {
      double x = 0.0;
      for (int j = 0; j < d; ++j) x += R[i * d + j] * v[j];
      mean[i] = (1.0 - g) * mu[i] + g * mu0[i] + x;
    }
    double* S = m + 1 + d;
    for (int i = 0; i < d; ++i)  // C = M S (dense)
      for (int j = 0; j < d; ++j) {
        double x = 0.0;
        for (int q = 0; q < d; ++q) x += R[i * d + q] * S[q >= j ? tri(q, j) : tri(j, q)];
        C[i * d + j] = x;
      }
    for (int i = 0; i < d; ++i)  // S = C M (packed)
      for (int j = 0; j <= i; ++j) {
        double x = 0.0;
        for (int q = 0; q < d; ++q) x += C[i * d + q] * R[q * d + j];
        S[tri(i, j)] = x;
      }
  }

  // One part of generation t's data (real or synthetic) into m (scatter:
  // as draw_exact / draw_samples).
  template <class K = ScalarKit>
  MADSIM_HD static void draw_part(const Params& p, bool real, double c, const double* mu,
                                  const double* L, u32x2 key, uint32_t replica, uint32_t gen,
                                  double* m, double* w, bool scatter = true) {
    const int d = p.d;
    const double s = real ? 1.0 : p.tau;
    if (p.path == EXACT) {
      draw_exact<K>(d, c, mu, L, s, key, replica, gen, real ? TAG_REAL : TAG_SCATTER, m, w,
                    w + d * d, scatter);
    } else if (!real && p.reweight_beta > 0.0) {
      draw_samples_weighted(d, c, mu, L, s, p.trunc, p.reweight_beta, p.reweight_k,
                            make_stream(key, replica, gen, TAG_SAMPLES, 0), m, w, scatter);
    } else {
      draw_samples<K>(d, c, mu, L, s, real ? 0.0 : p.trunc,
                      make_stream(key, replica, gen, real ? TAG_REAL : TAG_SAMPLES, 0), m, w,
                      scatter);
    }
  }

  // Points that survive the filter: Binomial(c, 1 - drop).
  MADSIM_HD static double survivors(double c, double drop, u32x2 key, uint32_t replica,
                                    uint32_t gen, uint32_t site) {
    if (drop <= 0.0 || c <= 0.0) return c;
    uint32_t tries;
    return binomial(c, 1.0 - drop, make_stream(key, replica, gen, TAG_FILTER, site), tries);
  }

  MADSIM_HD static double divisor(const Params& p, double count) {
    return p.estimator == MLE ? count : count - 1.0;
  }

  // Fits model t from the real and synthetic moments; false (model kept) when
  // there are too few points.
  MADSIM_HD static bool fit(const Params& p, const double* real, const double* syn, double* state,
                            double* pooled) {
    const int d = p.d, Tn = T(p);
    double* mu = state;
    double* L = state + d;
    if (p.weight < 0.0) {
      for (int i = 0; i < moments_size(d); ++i) pooled[i] = real[i];
      moments_pool(pooled, syn, d);
      if (pooled[0] < d + 1.0) return false;
      const double div = divisor(p, pooled[0]);
      for (int i = 0; i < d; ++i) mu[i] = pooled[1 + i];
      for (int k = 0; k < Tn; ++k) L[k] = pooled[1 + d + k] / div;
    } else {
      if (real[0] < d + 1.0 || syn[0] < d + 1.0) return false;
      const double w = p.weight, dr = divisor(p, real[0]), ds = divisor(p, syn[0]);
      for (int i = 0; i < d; ++i) mu[i] = w * real[1 + i] + (1.0 - w) * syn[1 + i];
      for (int k = 0; k < Tn; ++k)
        L[k] = w * (real[1 + d + k] / dr) + (1.0 - w) * (syn[1 + d + k] / ds);
    }
    cholesky_packed(L, d);
    return true;
  }

  // Generation 0: the truth, and the loop's set-up draws (the fixed real set).
  MADSIM_HD static void init(const Params& p, double* state, u32x2 key, uint32_t replica,
                             double* scratch) {
    const int d = p.d, Tn = T(p);
    const int64_t S = state_size(p);
    for (int64_t i = 0; i < S; ++i) state[i] = 0.0;
    for (int i = 0; i < d + Tn; ++i) state[i] = p.truth[i];
    if (p.loop == AUGMENT) {
      const double c = survivors(p.real_fixed, p.fpr, key, replica, 0, 1);
      draw_part(p, true, c, p.truth, p.truth + d, key, replica, 0, state + loop_at(p), scratch);
    }
  }

  template <class K = ScalarKit>
  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* scratch) {
    if (step_fit<K>(p, state, key, replica, t, scratch) && p.factors > 0)
      ppca_project(state + p.d, p.d, p.factors, scratch);
  }

  // step up to PPCA's projection: returns whether the fit ran (and so, for
  // PPCA, whether the projection is due). The CPU projects LANES replicas'
  // fits at once (cpu/ppca_lanes.hpp).
  template <class K = ScalarKit>
  MADSIM_HD static bool step_fit(const Params& p, double* state, u32x2 key, uint32_t replica,
                                 uint32_t t, double* scratch) {
    const int d = p.d;
    const int ms = moments_size(d);
    double *real = scratch, *syn = scratch + ms, *pooled = scratch + 2 * ms, *w = scratch + 3 * ms;
    const double* truth = p.truth;
    const double m_t = p.counts[2 * (int64_t)(t - 1)], k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    const double k = survivors(k_t, p.tpr, key, replica, t, 0);
    const double m = p.loop == AUGMENT ? 0.0 : survivors(m_t, p.fpr, key, replica, t, 1);
    double* cnt = state + counts_at(p);
    double* lp = state + loop_at(p);
    bool ok;
    if (p.loop == SUBSAMPLE) {
      ok = step_subsample(p, state, key, replica, t, m, k, scratch);
    } else if (p.loop == REPLACE && p.correction <= 0.0) {
      ok = step_replace<K>(p, state, key, replica, t, k, scratch);
      cnt[0] = 0.0;
      cnt[1] = k;
    } else {
      // Synthetic draws come from model t-1, so draw them before the fit.
      draw_part<K>(p, false, k, state, state + d, key, replica, t, syn, w);
      if (p.correction > 0.0) correct(p, state, syn, w);
      if (p.loop == AUGMENT) {
        for (int i = 0; i < ms; ++i) real[i] = lp[i];
      } else {
        draw_part<K>(p, true, m, truth, truth + d, key, replica, t, real, w);
      }
      if (p.loop == ACCUMULATE) {
        lp[0] += real[0];
        lp[1] += syn[0];
        moments_pool(lp + 2, real, d);
        moments_pool(lp + 2, syn, d);
        moments_clear(syn, d);
        ok = fit(p, lp + 2, syn, state, pooled);
        cnt[0] = lp[0];
        cnt[1] = lp[1];
      } else {
        ok = fit(p, real, syn, state, pooled);
        cnt[0] = real[0];
        cnt[1] = syn[0];
      }
    }
    if (!ok) cnt[2] += 1.0;
    return ok;
  }

  // Replace: the new Cholesky factor is (tau / sqrt(div)) L G, with G the
  // part's lower-triangular factor in standard coordinates (Bartlett's F on
  // the exact path, chol(S_z) of the standardised draws on the samples path):
  // L G G' L' is the scatter and a product of lower-triangular factors with
  // non-negative diagonals is its Cholesky factor. Never forming the scatter
  // keeps the condition number from squaring, so a collapsing d > 1 model
  // (cond(Sigma) beyond 1e16 after a few dozen generations) keeps full
  // precision instead of losing pivots.
  template <class K = ScalarKit>
  MADSIM_HD static bool step_replace(const Params& p, double* state, u32x2 key, uint32_t replica,
                                     uint32_t t, double k, double* scratch) {
    const int d = p.d, ms = moments_size(d);
    double *G = scratch, *syn = scratch + ms, *LG = scratch + 2 * ms, *w = scratch + 3 * ms;
    // The fit multiplies factors (F or chol S_z, left in w): the scatter is not needed.
    draw_part<K>(p, false, k, state, state + d, key, replica, t, syn, w, false);
    if (k < d + 1.0) return false;
    if (p.path == EXACT) {
      for (int i = 0; i < d; ++i)
        for (int j = 0; j <= i; ++j) G[tri(i, j)] = w[i * d + j];  // F, left in w by draw_exact
    } else {
      const double* sz = w + 4 * d;  // S_z, left in w by draw_samples
      for (int q = 0; q < T(p); ++q) G[q] = sz[q];
      cholesky_packed(G, d);
    }
    double* L = state + d;
    const double f = p.tau / sqrt(divisor(p, syn[0]));
    for (int i = 0; i < d; ++i)
      for (int j = 0; j <= i; ++j) {
        double v = 0.0;
        for (int q = j; q <= i; ++q) v += L[tri(i, q)] * G[tri(q, j)];
        LG[tri(i, j)] = f * v;
      }
    for (int i = 0; i < d; ++i) state[i] = syn[1 + i];
    for (int q = 0; q < T(p); ++q) L[q] = LG[q];
    return true;
  }

  // Accumulate-subsample: append generation t's points to the pool, fit on
  // n of them drawn without replacement (Floyd's algorithm, O(n^2) lookups).
  MADSIM_HD_CALLED static bool step_subsample(const Params& p, double* state, u32x2 key,
                                              uint32_t replica, uint32_t t, double m, double k,
                                              double* scratch) {
    const int d = p.d;
    const int ms = moments_size(d);
    double* lp = state + loop_at(p);
    double* pts = lp + 1;
    double* cnt = state + counts_at(p);
    double *mom = scratch, *w = scratch + 3 * ms;
    double* z = w;
    double* pick = w + 4 * d + T(p) + 2 * d * d;
    int64_t size = (int64_t)lp[0];
    // Synthetic first (from model t-1, before anything changes), then real.
    for (int part = 0; part < 2; ++part) {
      const bool real = part == 1;
      const double want = real ? m : k;
      const double* mu = real ? p.truth : state;
      const double* L = real ? p.truth + d : state + d;
      const double s = real ? 1.0 : p.tau;
      const double trunc = real ? 0.0 : p.trunc;
      NormalSeq zs = normal_seq(make_stream(key, replica, t, real ? TAG_REAL : TAG_SAMPLES, 0));
      const uint64_t max_normals = 2ull * BLOCK_MAX - (uint64_t)d;  // as in draw_samples
      for (double got = 0.0; got < want && size < p.pool_cap && zs.i <= max_normals;) {
        double r2 = 0.0;
        for (int i = 0; i < d; ++i) {
          z[d + i] = zs.next();
          r2 += z[d + i] * z[d + i];
        }
        if (trunc > 0.0 && r2 > trunc * trunc) continue;
        double* x = pts + size * (d + 1);
        tri_mul_vec(L, z + d, x, d);
        for (int i = 0; i < d; ++i) x[i] = mu[i] + s * x[i];
        x[d] = real ? 1.0 : 0.0;
        ++size;
        got += 1.0;
      }
    }
    lp[0] = (double)size;
    const int64_t n = size < p.subsample_n ? size : p.subsample_n;
    floyd_subset(size, n, make_stream(key, replica, t, TAG_SUBSET, 0), pick);
    // Moments of the picked points, shifted by the first.
    double* mean = mom + 1;
    double* sc = mom + 1 + d;
    double* x0 = w + 2 * d;
    moments_clear(mom, d);
    double n_real = 0.0;
    for (int64_t c = 0; c < n; ++c) {
      const double* x = pts + (int64_t)pick[c] * (d + 1);
      if (c == 0)
        for (int i = 0; i < d; ++i) x0[i] = x[i];
      n_real += x[d];
      for (int i = 0, kk = 0; i < d; ++i) {
        const double di = x[i] - x0[i];
        mean[i] += di;
        for (int jj = 0; jj <= i; ++jj, ++kk) sc[kk] += di * (x[jj] - x0[jj]);
      }
    }
    const double nn = (double)n;
    mom[0] = nn;
    if (n > 0) {
      for (int i = 0, kk = 0; i < d; ++i)
        for (int jj = 0; jj <= i; ++jj, ++kk) sc[kk] -= mean[i] * mean[jj] / nn;
      for (int i = 0; i < d; ++i) mean[i] = x0[i] + mean[i] / nn;
    }
    cnt[0] = n_real;
    cnt[1] = nn - n_real;
    double* empty = scratch + ms;
    moments_clear(empty, d);
    return fit(p, mom, empty, state, scratch + 2 * ms);
  }

  // Writes the columns of the groups set in `need` (observe_group): group 0
  // the moments and counters, the metrics each on their own
  // (metrics.hpp: gauss1_metric for d = 1, gaussd_metrics for d > 1).
  // scratch: scratch_size(p) doubles.
  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t need,
                                double* scratch) {
    if (need & (1u | (1u << LOGDET_GROUP)))
      observe_moments(p, state, out, (need >> LOGDET_GROUP) & 1u);
    const uint32_t metrics = (need >> 1) & ((1u << N_GAUSS_METRICS) - 1u);
    if (metrics) observe_metrics(p, state, out, metrics, scratch);
    if (p.factors > 0 && ((need >> PPCA_GROUP) & 1u))
      ppca_metrics(state + p.d, p.basis, p.d, p.factors, out + ppca_at(p), scratch);
  }

  // The metrics whose bit is set in `metrics` (bit m: GaussMetric m), out of line.
  MADSIM_HD_NOINLINE static void observe_metrics(const Params& p, const double* state, double* out,
                                                 uint32_t metrics, double* scratch) {
    const int d = p.d;
    double* o = out + metrics_at(p);
    if (d == 1) {
      const double L = state[1], L0 = p.truth[1];
      const Gauss1 g = gauss1(state[0], L * L, p.truth[0], L0 * L0);
      for (int32_t m = 0; m < N_GAUSS_METRICS; ++m)
        if ((metrics >> m) & 1u) o[m] = gauss1_metric(m, g);
      return;
    }
    double all[N_GAUSS_METRICS];
    gaussd_metrics(state, state + d, p.truth, p.truth + d, d, metrics, all, scratch);
    for (int k = 0; k < n_metrics(p); ++k)
      if ((metrics >> metric_of(p, k)) & 1u) o[k] = all[metric_of(p, k)];
  }

  // Group 0's columns, and logdet where `logdet` (else it is not written).
  MADSIM_HD static void observe_moments(const Params& p, const double* state, double* out,
                                        bool logdet_too) {
    const int d = p.d, Tn = T(p);
    const double* mu = state;
    const double* L = state + d;
    double trace = 0.0, logdet = 0.0, msq = 0.0;
    for (int i = 0; i < d; ++i) {
      out[i] = mu[i];
      const double dm = mu[i] - p.truth[i];
      msq += dm * dm;
      if (logdet_too) logdet += 2.0 * log(L[tri(i, i)]);
      for (int j = 0; j <= i; ++j) {
        double v = 0.0;
        for (int k = 0; k <= j; ++k) v += L[tri(i, k)] * L[tri(j, k)];
        out[d + tri(i, j)] = v;
      }
      trace += out[d + tri(i, i)];
    }
    double* o = out + d + Tn;
    const double* cnt = state + counts_at(p);
    o[0] = trace;
    if (logdet_too) o[1] = logdet;
    o[2] = msq;
    o[3] = cnt[0];
    o[4] = cnt[1];
    o[5] = cnt[2];
  }
};

}  // namespace madsim
