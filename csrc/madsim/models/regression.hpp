// Linear regression y = x'w + noise, x ~ N(0, Sigma), refit by OLS or ridge
// under every training loop (docs/theory/regression.md): replace, augment (a fixed
// real set), fresh real data, accumulate; the provenance filter. Generation 0
// is the truth (w*, sigma0^2).
//
// Generation t (model t-1 -> model t) trains on
//   a synthetic part  k_t rows labelled by model t-1: y = x'w_{t-1} + eps,
//                     eps ~ N(0, s^2) with s^2 = sigma0^2 (refit_noise 0, the
//                     setting of Dohmatob et al. and Gerstgrasser et al.) or
//                     model t-1's noise estimate (refit_noise 1)
//   a real part       m_t rows labelled by the truth (Fresh, Accumulate), or
//                     the fixed real set drawn at generation 0 (Augment)
// with designs x ~ N(0, Sigma) fresh every generation (design FRESH) or drawn
// once at generation 0 and relabelled every generation (design FIXED; one
// fixed design per part, counts constant, no filter). The filter drops each
// synthetic row with probability tpr and each real row with fpr (binomial
// survivors, design FRESH only). The fit on the pooled rows is ridge,
// w_t = (X'X + lambda I)^-1 X'y (OLS at lambda = 0), and the noise estimate
// RSS(w_t) / N (mle) or / (N - d) (unbiased). With a weight w in [0, 1]
// (Fresh, Augment; He, Xu and Cheng) the two parts are fit separately and
// combined, w_t = w * w_real + (1 - w) * w_syn and s_t^2 = w * s_real^2 +
// (1 - w) * s_syn^2, as GaussianLoop's weighted fit (no draw of its own). A
// generation with fewer than min_points rows (per part when weighted) keeps
// model t-1 and counts a skipped fit: never a NaN.
//
// Sufficient statistics ("stats", stats_size = 2 + T + d doubles):
//   [N | A = X'X packed T | g = X'r d | h = r'r], r = y - X w_ref
// referenced at a weight vector w_ref. A part drawn from source w_src is
// referenced at w_src (r = eps); re-referencing (stats_shift) is exact, so the
// parts and the accumulated pool are held at the current model w, where the
// residuals stay at the noise's scale (no cancellation of |y|^2 against
// |X w|^2 when the noise collapses).
//
// Exact path of a part with c rows and noise s^2: A ~ Wishart_d(c, Sigma) =
// Y Y' with Y = L0 F (wishart_factor: Bartlett, or the d x c normals when
// c < d), X'eps | A ~ N(0, s^2 A) = s Y z with z ~ N(0, I_q), q = rank =
// min(c, d), and eps'eps = s^2 (|z|^2 + chi2(c - q)) (eps'P eps = s^2 |z|^2,
// eps'(I - P) eps independent of both): O(d^3), independent of c.
//
// Streams (stream.hpp); part tag T = TAG_SCATTER (synthetic) / TAG_REAL (real):
//   exact part at counter generation t (the fixed real set: 0):
//     site 0       the q normals z of X'eps
//     site 1, 2+i  the design's Wishart factor (wishart_factor); design FIXED:
//                  drawn once at counter generation 0
//     site 2 + d   the chi-square of eps'(I - P)eps (c - q degrees)
//   samples part, tag TAG_SAMPLES (synthetic) / TAG_REAL (real):
//     site 0       the rows' x = L0 z, d consecutive normals per row, at
//                  counter generation t (design FIXED: 0, the same rows again)
//     site 1       the rows' eps / s, one normal per row, at generation t
//   TAG_FILTER site 0 / 1: synthetic / real survivors (binomial)
//   TAG_SUBSET site 0, block j: the j-th pick of the subsample (floyd_subset)
//
// Accumulate-subsample (samples path only: a subset of the rows is not a
// function of their stats) keeps every row drawn, [x d | y | 1 if real], the
// same rows (streams) Accumulate reduces, and fits each generation on n of
// them picked uniformly without replacement. Design FIXED: the pool holds
// each fixed row once per generation, relabelled each time, and a subset
// mixes them: a well-defined loop (Accumulate's, subsampled), though its X'X
// is no longer the fixed design's.
#pragma once
#include <math.h>

#include "../linalg.hpp"
#include "../model.hpp"
#include "../row_block.hpp"
#include "../samplers.hpp"
#include "../subset.hpp"
#include "gaussian_loop.hpp"  // NormalSeq, wishart_factor, GaussianLoop::survivors

namespace madsim {

struct Regression {
  // A fit is singular (skipped, the model kept) when a Cholesky pivot^2 of
  // A + lambda I is at most PIVOT_RTOL times its diagonal entry: condition
  // numbers past ~1e10, where the solution has no correct digit left anyway.
  static constexpr double PIVOT_RTOL = 1e-10;
  enum Loop : int32_t { REPLACE = 0, AUGMENT = 1, FRESH = 2, ACCUMULATE = 3, SUBSAMPLE = 4 };
  enum Path : int32_t { EXACT = 0, SAMPLES = 1 };
  enum Design : int32_t { FRESH_DESIGN = 0, FIXED_DESIGN = 1 };
  enum Estimator : int32_t { MLE = 0, UNBIASED = 1 };

  struct Params {
    int32_t d, loop, path, design, estimator, refit_noise;
    double ridge;                        // lambda >= 0
    double tpr, fpr;                     // filter: drop probability of synthetic / real rows
    double real_fixed;                   // Augment: rows of the fixed real set
    double fixed_real, fixed_synthetic;  // design FIXED: rows of each part's fixed design
    const double* truth;   // [d + T + 1]: w*, Sigma's Cholesky factor L0 (packed), sigma0^2
    const double* counts;  // [n_counts, 2]: (real, synthetic) of generation t in row t-1
    int64_t n_counts;
    int64_t subsample_n;  // AccumulateSubsample: rows per fit
    int64_t pool_cap;     // AccumulateSubsample: rows the pool can hold
    double weight;        // < 0: pooled fit; else w in [0, 1] (Fresh, Augment)
  };

  // The Params fields that point at host arrays, and their lengths (the
  // CUDA launcher copies each to the device; model.hpp).
  static constexpr int N_ARRAYS = 2;
  static const double* Params::* array(int i) { return i == 0 ? &Params::truth : &Params::counts; }
  static int64_t array_length(const Params& p, int i) {
    return i == 0 ? (int64_t)p.d + tri_size(p.d) + 1 : 2 * p.n_counts;
  }

  MADSIM_HD static int T(const Params& p) { return tri_size(p.d); }
  MADSIM_HD static int stats_size(int d) { return 2 + tri_size(d) + d; }
  MADSIM_HD static double sigma0_sq(const Params& p) { return p.truth[p.d + T(p)]; }
  // Rows a fit needs: d + 1 (an invertible X'X and a residual degree of
  // freedom), or 1 for ridge with the mle noise estimate.
  MADSIM_HD static double min_points(const Params& p) {
    return p.ridge > 0.0 && p.estimator == MLE ? 1.0 : p.d + 1.0;
  }

  // State row: [w d | s^2 | last real, last synthetic, skipped | loop | factors]
  // loop = Augment: the fixed real set's stats (at w*); Accumulate: the
  // pool's real and synthetic row counts, then its stats (at the current w);
  // AccumulateSubsample: the pool's size, then pool_cap rows [x d | y | real].
  // factors (exact path, design FIXED): Y [d, d] of the synthetic part's
  // fixed design, then of the real part's (Fresh, Accumulate).
  MADSIM_HD static int counts_at(const Params& p) { return p.d + 1; }
  MADSIM_HD static int loop_at(const Params& p) { return p.d + 4; }
  MADSIM_HD static int64_t loop_size(const Params& p) {
    if (p.loop == AUGMENT) return stats_size(p.d);
    if (p.loop == ACCUMULATE) return 2 + stats_size(p.d);
    if (p.loop == SUBSAMPLE) return 1 + p.pool_cap * (p.d + 2);
    return 0;
  }
  MADSIM_HD static bool has_real_part(const Params& p) {
    return p.loop == FRESH || p.loop == ACCUMULATE || p.loop == SUBSAMPLE;
  }
  MADSIM_HD static int n_factors(const Params& p) {
    if (p.design != FIXED_DESIGN || p.path != EXACT) return 0;
    return has_real_part(p) ? 2 : 1;
  }
  MADSIM_HD static int64_t factors_at(const Params& p) { return loop_at(p) + loop_size(p); }
  MADSIM_HD static int64_t state_size(const Params& p) {
    return factors_at(p) + (int64_t)n_factors(p) * p.d * p.d;
  }
  // observe: [w d | noise_var, test_error, w_norm, points_real,
  //           points_synthetic, skipped], one group (O(d^2)).
  MADSIM_HD static int observe_size(const Params& p) { return p.d + 6; }
  // observe()'s column names, in order (host only; model.hpp).
  static ObserveNames observe_names(const Params& p) {
    ObserveNames n;
    add_names(n, "w", p.d);
    for (const char* s :
         {"noise_var", "test_error", "w_norm", "points_real", "points_synthetic", "skipped"})
      add_names(n, s);
    return n;
  }
  MADSIM_HD static int observe_group(const Params&, int) { return 0; }
  MADSIM_HD static int64_t steps_scratch(const Params& p) {
    const int d = p.d;  // step: 3 stats, M, delta, then draw_part's 2 d d + rows_scratch
    return 3 * stats_size(d) + T(p) + d + 2 * (int64_t)d * d + rows_scratch(d);
  }
  // AccumulateSubsample's picks follow the steps' scratch.
  MADSIM_HD static int64_t scratch_size(const Params& p) {
    return steps_scratch(p) + (p.loop == SUBSAMPLE ? p.subsample_n : 0);
  }

  // Re-references stats s from w_a to w_b = w_a - delta: r_b = r_a + X delta,
  // so g += A delta and h += 2 delta'g + delta'A delta. Ad: d scratch.
  MADSIM_HD static void stats_shift(double* s, const double* delta, int d, double* Ad) {
    const double* A = s + 1;
    double* g = s + 1 + tri_size(d);
    sym_mul_vec(A, delta, Ad, d);
    double dg = 0.0, dAd = 0.0;
    for (int i = 0; i < d; ++i) {
      dg += delta[i] * g[i];
      dAd += delta[i] * Ad[i];
    }
    s[stats_size(d) - 1] += 2.0 * dg + dAd;
    for (int i = 0; i < d; ++i) g[i] += Ad[i];
  }

  MADSIM_HD static void stats_add(double* a, const double* b, int d) {
    for (int i = 0; i < stats_size(d); ++i) a[i] += b[i];
  }

  MADSIM_HD static void stats_clear(double* s, int d) {
    for (int i = 0; i < stats_size(d); ++i) s[i] = 0.0;
  }

  // Y = L0 F [d, d], the design's factor (X'X = Y Y'); lower-triangular when
  // q = d (F is Bartlett's).
  MADSIM_HD static void design_factor(const Params& p, const double* F, int q, double* Y) {
    if (q == p.d) {
      tri_mul_lower(p.truth + p.d, F, Y, p.d);
    } else {
      tri_mul_dense(p.truth + p.d, F, Y, p.d, q);
    }
  }

  // Stats of c rows with noise variance s2, referenced at their source (r = eps),
  // exact in law. Y: the design's factor [d, d] with q columns (design FIXED:
  // read from the state; else drawn here into Ybuf from counter generation
  // gen). F, z: d*d and d scratch.
  MADSIM_HD static void draw_exact(const Params& p, double c, double s2, const double* Yfixed,
                                   u32x2 key, uint32_t replica, uint32_t gen, uint32_t tag,
                                   double* out, double* Ybuf, double* F, double* z) {
    const int d = p.d;
    stats_clear(out, d);
    if (c <= 0.0) return;
    const int q = c < d ? (int)c : d;
    const double* Y = Yfixed;
    if (Y == nullptr) {
      wishart_factor(d, c, key, replica, gen, tag, F);
      design_factor(p, F, q, Ybuf);
      Y = Ybuf;
    }
    double* A = out + 1;
    double* g = out + 1 + T(p);
    if (q == d) {  // Bartlett: Y lower-triangular
      outer_packed_lower(Y, A, d, 1.0);
    } else {
      outer_packed(Y, A, d, q, 1.0);
    }
    NormalSeq zs = normal_seq(make_stream(key, replica, gen, tag, 0));
    double zz = 0.0;
    for (int j = 0; j < q; ++j) {
      z[j] = zs.next();
      zz += z[j] * z[j];
    }
    const double s = sqrt(s2);
    for (int i = 0; i < d; ++i) {
      double v = 0.0;
      for (int j = 0; j < q; ++j) v += Y[i * d + j] * z[j];
      g[i] = s * v;
    }
    double rest = 0.0;
    if (c > q) {
      double spare;
      uint32_t tries;
      rest = chisquare(c - q, make_stream(key, replica, gen, tag, 2 + d), spare, tries);
    }
    out[0] = c;
    out[stats_size(d) - 1] = s2 * (zz + rest);
  }

  // The samples path's rows go through row_block.hpp in blocks of BLOCK rows
  // (a multiple of 8; the blocking changes no number): the block's design
  // X = Z L0', its noise as column d, and the Gram matrix of [X eps] added to
  // D, the lower triangle of [[X'X, .], [eps'X, eps'eps]] = [A | g | h]. ld:
  // the leading dimension of Lc, X and D (>= d + 1, a multiple of 8).
  static constexpr int BLOCK = 32;
  MADSIM_HD static int row_ld(int d) { return (d + 8) / 8 * 8; }
  // Lc [d, ld], D [ld, ld], X [BLOCK, ld], Z [BLOCK, d], y [BLOCK], diag [d].
  MADSIM_HD static int64_t rows_scratch(int d) {
    const int64_t ld = row_ld(d);
    return (d + ld + BLOCK) * ld + BLOCK * ((int64_t)d + 1) + d;
  }

  struct RowBufs {
    double *Lc, *D, *X, *Z, *y, *diag;
    bool diagonal;  // L0 diagonal (e.g. the identity): X = Z diag(L0), O(d) per row
  };
  // The diagonal form from d = DIAGONAL_FROM on (measured, AVX-512: 20% faster
  // per row at d = 50, slower than the tiles of RowBlock::design at d = 5).
  static constexpr int DIAGONAL_FROM = 8;
  // Lc[k][i] = L0[i][k] (zero above the diagonal and in the padding), diag
  // L0's diagonal; X and D zero. Returns the rows_scratch buffers at w.
  MADSIM_HD static RowBufs rows_setup(const Params& p, double* w) {
    const int d = p.d;
    const int64_t ld = row_ld(d);
    RowBufs b;
    b.Lc = w;
    b.D = b.Lc + d * ld;
    b.X = b.D + ld * ld;
    b.Z = b.X + BLOCK * ld;
    b.y = b.Z + BLOCK * d;
    for (int64_t i = 0; i < (d + ld + BLOCK) * ld; ++i) w[i] = 0.0;
    b.diag = b.y + BLOCK;
    b.diagonal = d >= DIAGONAL_FROM;
    for (int i = 0; i < d; ++i) {
      for (int k = 0; k <= i; ++k) {
        b.Lc[k * ld + i] = p.truth[d + tri(i, k)];
        if (k < i && p.truth[d + tri(i, k)] != 0.0) b.diagonal = false;
      }
      b.diag[i] = p.truth[d + tri(i, i)];
    }
    return b;
  }

  // X = Z L0' for the block's nb rows of Z (Z's rows past nb zeroed first:
  // RowBlock's SIMD design reads whole tiles of rows).
  template <class K>
  MADSIM_HD static void rows_design(const RowBufs& b, int nb, int d) {
    if (b.diagonal) {
      RowBlock<K>::design_diagonal(b.diag, b.Z, d, nb, d, b.X, row_ld(d));
      return;
    }
    for (int i = nb * d; i < BLOCK * d; ++i) b.Z[i] = 0.0;
    RowBlock<K>::design(b.Lc, row_ld(d), b.Z, d, nb, d, b.X, row_ld(d));
  }

  // out's [A | g | h] from D (N left to the caller).
  MADSIM_HD static void stats_from_gram(const double* D, int d, double* out) {
    const int64_t ld = row_ld(d);
    double* A = out + 1;
    double* g = out + 1 + tri_size(d);
    for (int i = 0; i < d; ++i)
      for (int j = 0; j <= i; ++j) A[tri(i, j)] = D[i * ld + j];
    for (int i = 0; i < d; ++i) g[i] = D[d * ld + i];
    out[stats_size(d) - 1] = D[d * ld + d];
  }

  // Stats of c rows: x = L0 z from site 0 of counter generation gen_x (d
  // consecutive normals per row), eps = s * normal from site 1 of generation
  // gen. Every sum over the rows runs in row order (row_block.hpp), as a
  // row-by-row loop: A += x x', g += x eps, h += eps^2. K: where the normals
  // and the row products come from (kit.hpp, row_block.hpp).
  // w: rows_scratch(d).
  template <class K = ScalarKit>
  MADSIM_HD static void draw_samples(const Params& p, double c, double s2, u32x2 key,
                                     uint32_t replica, uint32_t gen_x, uint32_t gen, uint32_t tag,
                                     double* out, double* w) {
    const int d = p.d, ld = row_ld(d);
    stats_clear(out, d);
    if (c <= 0.0) return;
    const double s = sqrt(s2);
    typename K::Normals xs = K::normals(make_stream(key, replica, gen_x, tag, 0), (uint64_t)c * d);
    typename K::Normals es = K::normals(make_stream(key, replica, gen, tag, 1), (uint64_t)c);
    const RowBufs b = rows_setup(p, w);
    for (double r0 = 0.0; r0 < c; r0 += BLOCK) {
      const int nb = c - r0 < BLOCK ? (int)(c - r0) : BLOCK;
      for (int i = 0; i < nb * d; ++i) b.Z[i] = xs.next();
      rows_design<K>(b, nb, d);
      for (int r = 0; r < nb; ++r) b.X[r * ld + d] = s * es.next();
      RowBlock<K>::gram(b.X, ld, nb, d + 1, b.D, ld);
    }
    out[0] = c;
    stats_from_gram(b.D, d, out);
  }

  // One part of generation gen's data (its stats at the part's source).
  // w: 2*d*d + rows_scratch(d).
  template <class K = ScalarKit>
  MADSIM_HD static void draw_part(const Params& p, bool real, double c, double s2,
                                  const double* state, u32x2 key, uint32_t replica, uint32_t gen,
                                  double* out, double* w) {
    const int d = p.d;
    const uint32_t fixed_gen = p.design == FIXED_DESIGN ? 0u : gen;
    if (p.path == EXACT) {
      const double* Y = nullptr;
      if (p.design == FIXED_DESIGN && gen > 0)
        Y = state + factors_at(p) + (real ? (int64_t)d * d : 0);
      draw_exact(p, c, s2, Y, key, replica, gen, real ? TAG_REAL : TAG_SCATTER, out, w, w + d * d,
                 w + 2 * d * d);
    } else {
      draw_samples<K>(p, c, s2, key, replica, fixed_gen, gen, real ? TAG_REAL : TAG_SAMPLES, out,
                      w + 2 * d * d);
    }
  }

  // Fits model t on `pool` (stats at the current w, which the fit moves):
  // delta = (A + lambda I)^-1 (g - lambda w), w += delta, s^2 = RSS / divisor
  // with RSS = h - 2 delta'g + delta'A delta. False (model kept) with too few
  // rows or a singular A + lambda I. M: T scratch; Ad: d scratch.
  MADSIM_HD static bool fit(const Params& p, const double* pool, double* state, double* delta,
                            double* M, double* Ad) {
    const int d = p.d;
    const double N = pool[0];
    if (N < min_points(p)) return false;
    const double* A = pool + 1;
    const double* g = pool + 1 + T(p);
    for (int k = 0; k < T(p); ++k) M[k] = A[k];
    for (int i = 0; i < d; ++i) M[tri(i, i)] += p.ridge;
    cholesky_packed(M, d);
    // Singular: a pivot^2 (what is left of a column of A + lambda I once the
    // earlier columns are projected out) at rounding level of its diagonal.
    // A rank-deficient A (e.g. a fixed design's rows picked twice by
    // AccumulateSubsample) leaves a pivot of +-eps, not 0: testing only
    // "> 0" accepted half of those, and the solve returned rounding noise.
    for (int i = 0; i < d; ++i) {
      const double l = M[tri(i, i)];
      if (!(l > 0.0 && l * l > PIVOT_RTOL * (A[tri(i, i)] + p.ridge))) return false;
    }
    for (int i = 0; i < d; ++i) delta[i] = g[i] - p.ridge * state[i];
    cholesky_solve_packed(M, delta, d);
    sym_mul_vec(A, delta, Ad, d);
    double dg = 0.0, dAd = 0.0;
    for (int i = 0; i < d; ++i) {
      dg += delta[i] * g[i];
      dAd += delta[i] * Ad[i];
    }
    double rss = pool[stats_size(d) - 1] - 2.0 * dg + dAd;
    if (rss < 0.0) rss = 0.0;  // rounding only: RSS >= 0
    for (int i = 0; i < d; ++i) state[i] += delta[i];
    state[d] = rss / (p.estimator == MLE ? N : N - d);
    return true;
  }

  // The weighted fit: each part fit on its own from its source (the real
  // part's stats at w*, the synthetic part's at w_{t-1}), then w * real-part
  // fit + (1 - w) * synthetic-part fit, weights and noise alike. False (model
  // kept) when either part's fit fails. rows: 2 (d + 1) scratch.
  MADSIM_HD static bool fit_weighted(const Params& p, const double* real, const double* syn,
                                     double* state, double* rows, double* delta, double* M,
                                     double* Ad) {
    const int d = p.d;
    double *wr = rows, *ws = rows + d + 1;
    for (int i = 0; i < d; ++i) {
      wr[i] = p.truth[i];
      ws[i] = state[i];
    }
    if (!fit(p, real, wr, delta, M, Ad) || !fit(p, syn, ws, delta, M, Ad)) return false;
    for (int i = 0; i <= d; ++i) state[i] = p.weight * wr[i] + (1.0 - p.weight) * ws[i];
    return true;
  }

  // Generation 0: the truth; the fixed real set (Augment) and the fixed
  // designs' factors (exact path), all at counter generation 0.
  MADSIM_HD static void init(const Params& p, double* state, u32x2 key, uint32_t replica,
                             double* scratch) {
    const int d = p.d;
    for (int64_t i = 0; i < state_size(p); ++i) state[i] = 0.0;
    for (int i = 0; i < d; ++i) state[i] = p.truth[i];
    state[d] = sigma0_sq(p);
    if (p.loop == AUGMENT) {
      const double c = GaussianLoop::survivors(p.real_fixed, p.fpr, key, replica, 0, 1);
      draw_part(p, true, c, sigma0_sq(p), state, key, replica, 0, state + loop_at(p), scratch);
    }
    for (int f = 0; f < n_factors(p); ++f) {  // f = 0 synthetic, 1 real
      const double c = f ? p.fixed_real : p.fixed_synthetic;
      if (c <= 0.0) continue;
      const int q = wishart_factor(d, c, key, replica, 0, f ? TAG_REAL : TAG_SCATTER, scratch);
      design_factor(p, scratch, q, state + factors_at(p) + (int64_t)f * d * d);
    }
  }

  template <class K = ScalarKit>
  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* scratch) {
    const int d = p.d, S = stats_size(d);
    double *syn = scratch, *real = scratch + S, *pool = scratch + 2 * S;
    double* M = pool + S;
    double* v = M + T(p);  // d: delta
    double* w = v + d;     // 2*d*d + draw_samples' w: draws, then Ad
    const double m_t = p.counts[2 * (int64_t)(t - 1)], k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    const double k = GaussianLoop::survivors(k_t, p.tpr, key, replica, t, 0);
    const double m =
        p.loop == AUGMENT ? 0.0 : GaussianLoop::survivors(m_t, p.fpr, key, replica, t, 1);
    const double s2 = p.refit_noise ? state[d] : sigma0_sq(p);
    double* cnt = state + counts_at(p);
    double* lp = state + loop_at(p);
    if (p.loop == SUBSAMPLE) {
      if (!step_subsample<K>(p, state, key, replica, t, m, k, s2, scratch)) cnt[2] += 1.0;
      return;
    }
    // Synthetic rows are labelled by model t-1: draw them before the fit.
    draw_part<K>(p, false, k, s2, state, key, replica, t, syn, w);
    if (p.loop == AUGMENT) {
      for (int i = 0; i < S; ++i) real[i] = lp[i];
    } else if (has_real_part(p)) {
      draw_part<K>(p, true, m, sigma0_sq(p), state, key, replica, t, real, w);
    } else {
      stats_clear(real, d);
    }
    if (p.weight >= 0.0) {  // Fresh or Augment (Config refuses the other loops)
      const bool ok = fit_weighted(p, real, syn, state, pool, v, M, w);
      cnt[0] = real[0];
      cnt[1] = syn[0];
      if (!ok) cnt[2] += 1.0;
      return;
    }
    for (int i = 0; i < d; ++i) v[i] = p.truth[i] - state[i];  // real rows: from w* to w
    stats_shift(real, v, d, w);
    stats_add(syn, real, d);
    bool ok;
    if (p.loop == ACCUMULATE) {
      lp[0] += real[0];
      lp[1] += syn[0] - real[0];
      stats_add(lp + 2, syn, d);
      ok = fit(p, lp + 2, state, v, M, w);
      if (ok) {  // keep the pool at the new model: shift by -delta
        for (int i = 0; i < d; ++i) v[i] = -v[i];
        stats_shift(lp + 2, v, d, w);
      }
      cnt[0] = lp[0];
      cnt[1] = lp[1];
    } else {
      for (int i = 0; i < S; ++i) pool[i] = syn[i];
      ok = fit(p, pool, state, v, M, w);
      cnt[0] = real[0];
      cnt[1] = syn[0] - real[0];
    }
    if (!ok) cnt[2] += 1.0;
  }

  // Accumulate-subsample: append generation t's rows to the pool (synthetic
  // first, labelled by model t-1 with noise variance s2, then real; the
  // streams of draw_samples), then fit on n = min(size, subsample_n) of them
  // picked by floyd_subset, their stats referenced at the current w. The rows
  // go through row_block.hpp in blocks, in the row-by-row order: y = x'src +
  // s eps, the residual r = y - x'w (= y + x'(-w), bit for bit), A += x x',
  // g += x r, h += r^2 over the picks in order.
  template <class K = ScalarKit>
  MADSIM_HD static bool step_subsample(const Params& p, double* state, u32x2 key, uint32_t replica,
                                       uint32_t t, double m, double k, double s2, double* scratch) {
    const int d = p.d, S = stats_size(d), W = d + 2, ld = row_ld(d);
    double* lp = state + loop_at(p);
    double* rows = lp + 1;
    double *st = scratch, *M = scratch + S, *v = M + T(p), *Ad = v + d, *nw = Ad + d;
    const RowBufs b = rows_setup(p, nw + d);
    double* pick = scratch + steps_scratch(p);
    int64_t size = (int64_t)lp[0];
    const uint32_t gen_x = p.design == FIXED_DESIGN ? 0u : t;
    for (int part = 0; part < 2; ++part) {
      const bool real = part == 1;
      const double room = (double)(p.pool_cap - size);
      const double c = real ? (m < room ? m : room) : (k < room ? k : room);
      if (c <= 0.0) continue;
      const double* src = real ? p.truth : state;
      const double s = sqrt(real ? sigma0_sq(p) : s2);
      const uint32_t tag = real ? TAG_REAL : TAG_SAMPLES;
      typename K::Normals xs =
          K::normals(make_stream(key, replica, gen_x, tag, 0), (uint64_t)c * d);
      typename K::Normals es = K::normals(make_stream(key, replica, t, tag, 1), (uint64_t)c);
      for (double r0 = 0.0; r0 < c; r0 += BLOCK) {
        const int nb = c - r0 < BLOCK ? (int)(c - r0) : BLOCK;
        for (int i = 0; i < nb * d; ++i) b.Z[i] = xs.next();
        rows_design<K>(b, nb, d);
        for (int r = 0; r < nb; ++r) b.y[r] = 0.0;
        RowBlock<K>::dots(b.X, ld, nb, d, src, b.y);
        for (int r = 0; r < nb; ++r, ++size) {
          double* row = rows + size * W;
          for (int i = 0; i < d; ++i) row[i] = b.X[r * ld + i];
          row[d] = b.y[r] + s * es.next();
          row[d + 1] = real ? 1.0 : 0.0;
        }
      }
    }
    lp[0] = (double)size;
    const int64_t n = size < p.subsample_n ? size : p.subsample_n;
    floyd_subset(size, n, make_stream(key, replica, t, TAG_SUBSET, 0), pick);
    for (int i = 0; i < d; ++i) nw[i] = -state[i];
    double n_real = 0.0;
    for (int64_t c0 = 0; c0 < n; c0 += BLOCK) {
      const int nb = n - c0 < BLOCK ? (int)(n - c0) : BLOCK;
      for (int r = 0; r < nb; ++r) {
        const double* row = rows + (int64_t)pick[c0 + r] * W;
        for (int i = 0; i < d; ++i) b.X[r * ld + i] = row[i];
        b.y[r] = row[d];
        n_real += row[d + 1];
      }
      RowBlock<K>::dots(b.X, ld, nb, d, nw, b.y);
      for (int r = 0; r < nb; ++r) b.X[r * ld + d] = b.y[r];
      RowBlock<K>::gram(b.X, ld, nb, d + 1, b.D, ld);
    }
    st[0] = (double)n;
    stats_from_gram(b.D, d, st);
    double* cnt = state + counts_at(p);
    cnt[0] = n_real;
    cnt[1] = (double)n - n_real;
    return fit(p, st, state, v, M, Ad);
  }

  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t,
                                double*) {
    const int d = p.d;
    const double* w0 = p.truth;
    const double* L0 = p.truth + d;
    double test = 0.0, norm = 0.0;
    for (int j = 0; j < d; ++j) {  // test error |L0'(w - w*)|^2 = (w - w*)'Sigma(w - w*)
      double v = 0.0;
      for (int i = j; i < d; ++i) v += L0[tri(i, j)] * (state[i] - w0[i]);
      test += v * v;
      norm += state[j] * state[j];
      out[j] = state[j];
    }
    const double* cnt = state + counts_at(p);
    out[d] = state[d];
    out[d + 1] = test;
    out[d + 2] = sqrt(norm);
    out[d + 3] = cnt[0];
    out[d + 4] = cnt[1];
    out[d + 5] = cnt[2];
  }
};

}  // namespace madsim
