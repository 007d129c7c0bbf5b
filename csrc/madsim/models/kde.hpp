// Gaussian kernel density estimate (KDE) in d dimensions, refit every
// generation on its own samples, under the replace, augment (fixed real
// set), fresh, accumulate and accumulate-subsample loops.
// docs/guide/kde.md; the closed forms of the variance are on docs/theory/kde.md.
//
// Model 0 is the truth N(mu0, Sigma0). Model t (t >= 1) is the KDE of the n
// points X_1..X_n its fit had:
//   p_t(x) = (1/n) sum_j N(x; X_j, H_t)
// with the kernel covariance H_t
//   FIXED      h^2 I (the bandwidth h given)
//   SCOTT      f^2 C, f = n^(-1/(d+4))                 (scipy.stats.gaussian_kde's
//   SILVERMAN  f^2 C, f = (n (d+2) / 4)^(-1/(d+4))      scotts_ / silverman_factor)
// where C = (1/(n-1)) sum_j (X_j - Xbar)(X_j - Xbar)' is the unbiased sample
// covariance, as gaussian_kde. A sample of model t-1: a point X_J, J uniform
// on 0..n-1 (with replacement), plus L_H z (z standard normal in d dims);
// model 0: mu0 + L0 z.
//
// Generation t (model t-1 -> model t) fits on
//   a synthetic part  k_t draws of model t-1
//   a real part       m_t draws of the truth (Fresh, Accumulate*), or the fixed
//                     real set drawn at generation 0 (Augment)
// Accumulate appends both parts to a pool of every point drawn so far and the
// model is the KDE of the whole pool (the model's points are the pool);
// AccumulateSubsample fits on n of the pool's points drawn uniformly without
// replacement (Floyd, subset.hpp). A fit that cannot be made keeps model t-1
// and counts a skipped fit: no point, or (SCOTT, SILVERMAN) fewer than 2
// points or a kernel covariance with a Cholesky pivot <= 1e-12 times its
// diagonal entry (the points span fewer than d dimensions; scipy raises
// LinAlgError there). Never a NaN.
//
// Only the samples path exists: the model is its points, with no sufficient
// statistic whose law could be drawn directly.
//
// Streams (stream.hpp; new sites of the existing tags, no existing number
// changes), at counter generation t (0 for the fixed real set and the test set):
//   TAG_SAMPLES / TAG_REAL site 0   point i's pick J: uniform52 of words (0,1)
//            (i even) or (2,3) (i odd) of block i/2, J = min(floor(u n), n - 1)
//            (a KDE's draws only: the truth's draws pick nothing)
//   TAG_SAMPLES / TAG_REAL site 1   point i's d normals: normals i d .. i d + d - 1
//   TAG_REAL site 2, generation 0   the held-out test set of the nll: test
//            point i = mu0 + L0 z from normals i d .. i d + d - 1, the same at
//            every generation of a replica
//   TAG_SUBSET site 0, block c      the c-th pick of the subsample (floyd_subset)
// observe has no key: init stores the run's key and the replica id in the
// state row, so the nll draws its test set there only when it is recorded.
#pragma once
#include <math.h>

#include "../kit.hpp"
#include "../linalg.hpp"
#include "../metrics.hpp"
#include "../model.hpp"
#include "../subset.hpp"

namespace madsim {

// Where a KDE step's draws come from, a chunk at a time: uniforms(st, i0,
// count, u): u[r] = uniform i0 + r of st (i0 even), uniform52 of words (0,1)
// (i even) or (2,3) (i odd) of block i / 2; normals(st, i0, count, z): z[r]
// = normal i0 + r of st (i0 even; NormalSeq's order). Kit: the step's kit
// (kit.hpp); the CPU lanes specialise this for cpu::LaneKit
// (csrc/cpu/kde_lanes.hpp) with the same numbers.
template <class Kit>
struct KdeDraws {
  MADSIM_HD static void uniforms(const Stream& st, uint64_t i0, int64_t count, double* u) {
    for (int64_t r = 0; r < count; r += 2) {
      const u32x4 b = st.block((uint32_t)((i0 + (uint64_t)r) >> 1));
      u[r] = uniform52(b.v[0], b.v[1]);
      if (r + 1 < count) u[r + 1] = uniform52(b.v[2], b.v[3]);
    }
  }
  MADSIM_HD static void normals(const Stream& st, uint64_t i0, int64_t count, double* z) {
    for (int64_t r = 0; r < count; r += 2) {
      double spare;
      normals_of_block(st.block((uint32_t)((i0 + (uint64_t)r) >> 1)), z[r], spare);
      if (r + 1 < count) z[r + 1] = spare;
    }
  }
};

struct KDE {
  enum Loop : int32_t { REPLACE = 0, AUGMENT = 1, FRESH = 2, ACCUMULATE = 3, SUBSAMPLE = 4 };
  enum Rule : int32_t { FIXED = 0, SCOTT = 1, SILVERMAN = 2 };
  enum Counter : int32_t { C_REAL, C_SYNTHETIC, C_SKIPPED, N_COUNTERS };
  static constexpr double LOG_2PI = 1.8378770664093454835606594728112;
  static constexpr double SINGULAR = 1e-12;  // least pivot / diagonal of a kernel covariance
  static constexpr uint32_t SITE_TEST = 2;   // TAG_REAL site of the held-out test set

  struct Params {
    int32_t d, loop, rule;
    double h;              // FIXED: the bandwidth (kernel sd along every axis)
    double real_fixed;     // Augment: size of the fixed real set
    int64_t test_points;   // held-out truth draws of the nll
    int64_t model_cap;     // most points a model holds (Accumulate: the pool's capacity)
    const double* truth;   // [d + T]: mean, packed Cholesky factor of Sigma0
    const double* counts;  // [n_counts, 2]: (real, synthetic) of generation t in row t-1
    int64_t n_counts;
    int64_t subsample_n;  // AccumulateSubsample: points per fit
    int64_t pool_cap;     // Accumulate*: points the pool can hold
  };

  // The Params fields that point at host arrays, and their lengths (the
  // CUDA launcher copies each to the device; model.hpp).
  static constexpr int N_ARRAYS = 2;
  static const double* Params::* array(int i) { return i == 0 ? &Params::truth : &Params::counts; }
  static int64_t array_length(const Params& p, int i) {
    return i == 0 ? (int64_t)p.d + tri_size(p.d) : 2 * p.n_counts;
  }

  // State row: [n | L_H T | counters | key0, key1, replica | mean d | S T |
  //             loop head | model points model_cap * d | pool]
  // n: the model's points (0: the truth); L_H: the kernel covariance's packed
  // Cholesky factor; mean, S: the fitted points' mean and biased covariance
  // (1/n) sum (X_j - Xbar)(X_j - Xbar)' (model 0: mu0, Sigma0). loop head:
  // Augment [c | real_fixed points]; Accumulate [pool size, real points in
  // it] (the pool is the model's points, model_cap = pool_cap);
  // AccumulateSubsample [pool size], then after the model's subsample_n
  // points the pool, pool_cap points of (x d, 1 if real). A growing pool is
  // the last block of the row: resume into a longer run pads it.
  MADSIM_HD static int T(const Params& p) { return tri_size(p.d); }
  MADSIM_HD static int64_t counters_at(const Params& p) { return 1 + T(p); }
  MADSIM_HD static int64_t key_at(const Params& p) { return counters_at(p) + N_COUNTERS; }
  MADSIM_HD static int64_t mean_at(const Params& p) { return key_at(p) + 3; }
  MADSIM_HD static int64_t cov_at(const Params& p) { return mean_at(p) + p.d; }
  MADSIM_HD static int64_t loop_at(const Params& p) { return cov_at(p) + T(p); }
  MADSIM_HD static int64_t head_size(const Params& p) {
    if (p.loop == ACCUMULATE) return 2;
    if (p.loop == SUBSAMPLE) return 1;
    return p.loop == AUGMENT ? 1 + (int64_t)p.real_fixed * p.d : 0;
  }
  MADSIM_HD static int64_t points_at(const Params& p) { return loop_at(p) + head_size(p); }
  MADSIM_HD static int64_t pool_at(const Params& p) { return points_at(p) + p.model_cap * p.d; }
  MADSIM_HD static int64_t state_size(const Params& p) {
    return pool_at(p) + (p.loop == SUBSAMPLE ? p.pool_cap * (p.d + 1) : 0);
  }

  // observe: [mean d | S T | counters | trace, bandwidth, model_var |
  //           tail2, tail3, tail4 | w2_sq_lower | nll]
  // groups: 0 up to model_var, 1 the tails (O(n d)), 2 w2_sq_lower
  // (O(d^3)), 3 the nll (O(test_points n d)).
  MADSIM_HD static int metrics_at(const Params& p) { return p.d + T(p) + N_COUNTERS + 3; }
  MADSIM_HD static int observe_size(const Params& p) { return metrics_at(p) + 5; }
  // observe()'s column names, in order (host only; model.hpp). d = 1: mean
  // and var.
  static ObserveNames observe_names(const Params& p) {
    ObserveNames n;
    add_names(n, "mean", p.d);
    add_names(n, p.d == 1 ? "var" : "cov", T(p));
    for (const char* s : {"points_real", "points_synthetic", "skipped", "trace", "bandwidth",
                          "model_var", "tail2", "tail3", "tail4", "w2_sq_lower", "nll"})
      add_names(n, s);
    return n;
  }
  MADSIM_HD static int observe_group(const Params& p, int col) {
    const int m = metrics_at(p);
    return col < m ? 0 : col < m + 3 ? 1 : col == m + 3 ? 2 : 3;
  }
  // step: a fit's candidate points [model_cap, d], (AccumulateSubsample) the
  // picks [subsample_n = model_cap], then work: mean d, S T, factor T, d x d, 2 d
  // (draw, before the fit: PICKS d normals).
  // observe: the whitened points [model_cap, d], the kernels' log densities
  // [model_cap] and the same work.
  MADSIM_HD static int64_t work_size(const Params& p) {
    const int64_t fit = 3 * (int64_t)p.d + 2 * (int64_t)T(p) + (int64_t)p.d * p.d;
    return fit > PICKS * p.d ? fit : PICKS * p.d;
  }
  MADSIM_HD static int64_t scratch_size(const Params& p) {
    return p.model_cap * (p.d + 1) + work_size(p);
  }

  // c points into X (point i at X + i stride) from the streams of `tag`
  // (header): of the truth when `truth`, else of the KDE in `state`, PICKS
  // points at a time: their picks' uniforms and their normals from KdeDraws
  // (Kit: the step's kit), then each point. z: d PICKS scratch.
  static constexpr int64_t PICKS = 64;  // even: a chunk starts a block
  template <class Kit = ScalarKit>
  MADSIM_HD static void draw(const Params& p, const double* state, bool truth, double c, u32x2 key,
                             uint32_t replica, uint32_t gen, uint32_t tag, double* X,
                             int64_t stride, double* z) {
    const int d = p.d;
    const double n = state[0];
    const bool kde = !truth && n > 0.0;
    const double* L = kde ? state + 1 : p.truth + d;
    const double* P = state + points_at(p);
    const Stream pick = make_stream(key, replica, gen, tag, 0);
    const Stream noise = make_stream(key, replica, gen, tag, 1);
    double u[PICKS];
    for (uint64_t i0 = 0; i0 < (uint64_t)c; i0 += PICKS) {
      const int64_t m = (uint64_t)c - i0 < (uint64_t)PICKS ? (int64_t)((uint64_t)c - i0) : PICKS;
      if (kde) KdeDraws<Kit>::uniforms(pick, i0, m, u);
      KdeDraws<Kit>::normals(noise, i0 * (uint64_t)d, m * d, z);
      if (d == 1) {  // the loop below with d = 1 spelt out (tri_mul_vec: 0 + L z)
        const double l = L[0];
        for (int64_t r = 0; r < m; ++r) {
          double centre = p.truth[0];
          if (kde) {
            double j = floor(u[r] * n);
            if (j > n - 1.0) j = n - 1.0;
            centre = P[(int64_t)j];
          }
          X[(int64_t)(i0 + (uint64_t)r) * stride] = centre + (0.0 + l * z[r]);
        }
        continue;
      }
      for (int64_t r = 0; r < m; ++r) {
        const double* centre = p.truth;
        if (kde) {
          double j = floor(u[r] * n);
          if (j > n - 1.0) j = n - 1.0;
          centre = P + (int64_t)j * d;
        }
        double* x = X + (int64_t)(i0 + (uint64_t)r) * stride;
        tri_mul_vec(L, z + r * d, x, d);
        for (int q = 0; q < d; ++q) x[q] = centre[q] + x[q];
      }
    }
  }

  // In place: packed A -> its Cholesky factor; false when a pivot is not
  // above SINGULAR times its diagonal entry (A is left partly factored).
  MADSIM_HD static bool cholesky_checked(double* a, int d) {
    for (int j = 0; j < d; ++j) {
      const double s = cholesky_pivot(a, j);
      if (!(s > SINGULAR * a[tri(j, j)] && s > 0.0 && isfinite(s))) return false;
      cholesky_column(a, d, j, sqrt(s));
    }
    return true;
  }

  // Fits the KDE of the n points X (stride `stride`) into work (mean d | S T |
  // L_H T); false when the fit cannot be made (header).
  MADSIM_HD static bool fit(const Params& p, const double* X, int64_t n, int64_t stride,
                            double* work) {
    const int d = p.d, Tn = T(p);
    double *m = work, *S = work + d, *L = S + Tn;
    if (n < 1 || (p.rule != FIXED && n < 2)) return false;
    for (int q = 0; q < d; ++q) {
      double a = 0.0;
      for (int64_t i = 0; i < n; ++i) a += X[i * stride + q];
      m[q] = a / (double)n;
    }
    // Each entry's sum over the points in a register (a sum in memory waits
    // on its own store every point); the same additions in the same order.
    for (int a = 0; a < d; ++a)
      for (int c = 0; c <= a; ++c) {
        double acc = 0.0;
        for (int64_t i = 0; i < n; ++i)
          acc += (X[i * stride + a] - m[a]) * (X[i * stride + c] - m[c]);
        S[tri(a, c)] = acc;
      }
    for (int k = 0; k < Tn; ++k) S[k] /= (double)n;
    if (p.rule == FIXED) {
      for (int a = 0; a < d; ++a)
        for (int c = 0; c <= a; ++c) L[tri(a, c)] = a == c ? p.h : 0.0;
      return true;
    }
    const double nn = (double)n, e = -2.0 / (d + 4.0);
    const double f2 = p.rule == SCOTT ? pow(nn, e) : pow(nn * (d + 2.0) / 4.0, e);
    for (int k = 0; k < Tn; ++k) L[k] = f2 * (S[k] * nn / (nn - 1.0));
    return cholesky_checked(L, d);
  }

  // Fits on the n points X and, when the fit is made, makes them model t;
  // else keeps model t-1 and counts a skipped fit. Counters: nr, ns.
  MADSIM_HD static void refit(const Params& p, double* state, const double* X, int64_t n,
                              int64_t stride, double nr, double ns, double* work) {
    const int d = p.d, Tn = T(p);
    double* cnt = state + counters_at(p);
    cnt[C_REAL] = nr;
    cnt[C_SYNTHETIC] = ns;
    if (!fit(p, X, n, stride, work)) {
      cnt[C_SKIPPED] += 1.0;
      return;
    }
    double* P = state + points_at(p);
    if (X != P) {  // the rows past n are zeroed: the row is a function of the model alone
      for (int64_t i = 0; i < n; ++i)
        for (int q = 0; q < d; ++q) P[i * d + q] = X[i * stride + q];
      for (int64_t i = n * d; i < p.model_cap * d; ++i) P[i] = 0.0;
    }
    state[0] = (double)n;
    for (int k = 0; k < Tn; ++k) state[1 + k] = work[d + Tn + k];
    for (int q = 0; q < d; ++q) state[mean_at(p) + q] = work[q];
    for (int k = 0; k < Tn; ++k) state[cov_at(p) + k] = work[d + k];
  }

  MADSIM_HD static void init(const Params& p, double* state, u32x2 key, uint32_t replica,
                             double* scratch) {
    const int d = p.d;
    for (int64_t i = 0; i < state_size(p); ++i) state[i] = 0.0;
    double* k = state + key_at(p);
    k[0] = key.v[0];
    k[1] = key.v[1];
    k[2] = replica;
    for (int q = 0; q < d; ++q) state[mean_at(p) + q] = p.truth[q];
    lower_gram_packed(p.truth + d, state + cov_at(p), d);
    if (p.loop == AUGMENT) {
      double* lp = state + loop_at(p);
      lp[0] = p.real_fixed;
      draw(p, state, true, p.real_fixed, key, replica, 0, TAG_REAL, lp + 1, d, scratch);
    }
  }

  // Kit: where the draws come from (draw).
  template <class Kit = ScalarKit>
  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* scratch) {
    const int d = p.d;
    const double m_t = p.counts[2 * (int64_t)(t - 1)], k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    const double mr = p.loop == FRESH || p.loop == ACCUMULATE || p.loop == SUBSAMPLE ? m_t : 0.0;
    if (p.loop == ACCUMULATE)
      return step_accumulate<Kit>(p, state, key, replica, t, mr, k_t, scratch);
    if (p.loop == SUBSAMPLE)
      return step_subsample<Kit>(p, state, key, replica, t, mr, k_t, scratch);
    double* X = scratch;
    double* work = scratch + p.model_cap * d;
    // synthetic points come from model t-1: draw them before the fit
    draw<Kit>(p, state, false, k_t, key, replica, t, TAG_SAMPLES, X, d, work);
    double nr = mr;
    double* Xr = X + (int64_t)k_t * d;
    if (p.loop == AUGMENT) {
      const double* lp = state + loop_at(p);
      nr = lp[0];
      for (int64_t i = 0; i < (int64_t)nr * d; ++i) Xr[i] = lp[1 + i];
    } else if (p.loop == FRESH) {
      draw<Kit>(p, state, true, mr, key, replica, t, TAG_REAL, Xr, d, work);
    }
    refit(p, state, X, (int64_t)(k_t + nr), d, nr, k_t, work);
  }

  // Accumulate: the k_t synthetic points (from model t-1, the pool's first
  // n points) then the m_t real ones are appended to the pool, and the model
  // is refit on the whole pool. Counters: the pool's real and synthetic points.
  template <class Kit>
  MADSIM_HD static void step_accumulate(const Params& p, double* state, u32x2 key, uint32_t replica,
                                        uint32_t t, double mr, double ks, double* scratch) {
    const int d = p.d;
    double* lp = state + loop_at(p);
    double* P = state + points_at(p);
    double* work = scratch + p.model_cap * d;
    int64_t size = (int64_t)lp[0];
    const double cs = fmin(ks, (double)(p.pool_cap - size));  // never: pool_cap >= total
    draw<Kit>(p, state, false, cs, key, replica, t, TAG_SAMPLES, P + size * d, d, work);
    size += (int64_t)cs;
    const double cr = fmin(mr, (double)(p.pool_cap - size));
    draw<Kit>(p, state, true, cr, key, replica, t, TAG_REAL, P + size * d, d, work);
    size += (int64_t)cr;
    lp[0] = (double)size;
    lp[1] += cr;
    refit(p, state, P, size, d, lp[1], (double)size - lp[1], work);
  }

  // AccumulateSubsample: the parts are appended to the pool (x, 1 if real),
  // then the model is refit on min(size, subsample_n) of its points picked
  // by floyd_subset. Counters: the real and synthetic points picked.
  template <class Kit>
  MADSIM_HD static void step_subsample(const Params& p, double* state, u32x2 key, uint32_t replica,
                                       uint32_t t, double mr, double ks, double* scratch) {
    const int d = p.d;
    double* lp = state + loop_at(p);
    double* pts = state + pool_at(p);
    double* X = scratch;
    double* pick = scratch + p.model_cap * d;
    double* work = pick + p.subsample_n;
    int64_t size = (int64_t)lp[0];
    for (int part = 0; part < 2; ++part) {
      const bool real = part == 1;
      const double c = fmin(real ? mr : ks, (double)(p.pool_cap - size));
      draw<Kit>(p, state, real, c, key, replica, t, real ? TAG_REAL : TAG_SAMPLES,
                pts + size * (d + 1), d + 1, work);
      for (int64_t i = 0; i < (int64_t)c; ++i) pts[(size + i) * (d + 1) + d] = real ? 1.0 : 0.0;
      size += (int64_t)c;
    }
    lp[0] = (double)size;
    const int64_t n = size < p.subsample_n ? size : p.subsample_n;
    floyd_subset(size, n, make_stream(key, replica, t, TAG_SUBSET, 0), pick);
    double nr = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double* x = pts + (int64_t)pick[i] * (d + 1);
      for (int q = 0; q < d; ++q) X[i * d + q] = x[q];
      nr += x[d];
    }
    refit(p, state, X, n, d, nr, (double)n - nr, work);
  }

  // Writes the columns of the groups set in `need`. scratch: scratch_size(p).
  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t need,
                                double* scratch) {
    const int m = metrics_at(p);
    if (need & 1u) observe_summary(p, state, out);
    if (need & 2u) tails(p, state, out + m);
    if (need & 4u) out[m + 3] = w2_sq_lower(p, state, scratch);
    if (need & 8u) out[m + 4] = nll(p, state, scratch);
  }

  MADSIM_HD static void observe_summary(const Params& p, const double* state, double* out) {
    const int d = p.d, Tn = T(p);
    for (int q = 0; q < d; ++q) out[q] = state[mean_at(p) + q];
    for (int k = 0; k < Tn; ++k) out[d + k] = state[cov_at(p) + k];
    for (int c = 0; c < N_COUNTERS; ++c) out[d + Tn + c] = state[counters_at(p) + c];
    double tr = 0.0, trh = 0.0;
    for (int q = 0; q < d; ++q) tr += state[cov_at(p) + tri(q, q)];
    if (state[0] > 0.0)
      for (int k = 0; k < Tn; ++k) trh += state[1 + k] * state[1 + k];
    double* o = out + d + Tn + N_COUNTERS;
    o[0] = tr;
    o[1] = sqrt(trh / d);
    o[2] = tr + trh;
  }

  // Model mass beyond mu0_q -+ k sigma0_q along each coordinate q, averaged
  // over the coordinates, for k = 2, 3, 4 (the KDE's marginal along q is a
  // mixture of N(X_jq, H_qq)).
  MADSIM_HD static void tails(const Params& p, const double* state, double* out) {
    const int d = p.d;
    const int64_t n = (int64_t)state[0];
    const double* P = state + points_at(p);
    for (int k = 2; k <= 4; ++k) {
      double total = 0.0;
      for (int q = 0; q < d; ++q) {
        const double* L0 = p.truth + d;
        double s0 = 0.0;
        for (int c = 0; c <= q; ++c) s0 += L0[tri(q, c)] * L0[tri(q, c)];
        s0 = sqrt(s0);
        const double lo = p.truth[q] - k * s0, hi = p.truth[q] + k * s0;
        if (n == 0) {
          total += normal_lower(-(double)k) + normal_upper((double)k);
          continue;
        }
        double s = 0.0;
        for (int c = 0; c <= q; ++c) s += state[1 + tri(q, c)] * state[1 + tri(q, c)];
        s = sqrt(s);
        double a = 0.0;
        for (int64_t j = 0; j < n; ++j) {
          const double x = P[j * d + q];
          a += normal_lower((lo - x) / s) + normal_upper((hi - x) / s);
        }
        total += a / (double)n;
      }
      out[k - 2] = total / d;
    }
  }

  // Gelbrich's lower bound on W2^2(model, truth): the W2^2 between the
  // Gaussians with the model's and the truth's means and covariances (the
  // model's: S + H). scratch: work_size(p).
  MADSIM_HD static double w2_sq_lower(const Params& p, const double* state, double* scratch) {
    const int d = p.d, Tn = T(p);
    double *C = scratch, *A = C + Tn;
    const double* S = state + cov_at(p);
    for (int k = 0; k < Tn; ++k) C[k] = S[k];
    if (state[0] > 0.0) {
      double* H = A;  // H = L_H L_H' (A is free until gauss_w2_sq)
      lower_gram_packed(state + 1, H, d);
      for (int k = 0; k < Tn; ++k) C[k] += H[k];
    }
    cholesky_packed(C, d);
    return gauss_w2_sq(state + mean_at(p), C, p.truth, p.truth + d, d, A);
  }

  // The negative log-likelihood of the replica's held-out test set (header)
  // under the model, -(1/m) sum_i ln p_t(y_i), each ln p_t(y_i) by
  // log-sum-exp over the n kernels: ln p = max_j l_j + ln sum_j exp(l_j -
  // max) - ln n - ln det L_H - d/2 ln 2 pi, l_j = -|L_H^-1 (y - X_j)|^2 / 2.
  // scratch: model_cap (d + 1) + work_size(p).
  MADSIM_HD static double nll(const Params& p, const double* state, double* scratch) {
    const int d = p.d;
    const double* k = state + key_at(p);
    const u32x2 key = {{(uint32_t)k[0], (uint32_t)k[1]}};
    const int64_t n = (int64_t)state[0];
    const bool kde = n > 0;
    const double* L = kde ? state + 1 : p.truth + d;
    double* W = scratch;                     // whitened points L^-1 X_j
    double* lg = scratch + p.model_cap * d;  // each kernel's log density, up to a constant
    double* z = lg + p.model_cap;
    double* y = z + d;
    const double* P = state + points_at(p);
    for (int64_t j = 0; j < n; ++j) tri_solve_vec(L, P + j * d, W + j * d, d);
    double half_logdet = 0.0;
    for (int q = 0; q < d; ++q) half_logdet += log(L[tri(q, q)]);
    const double cst = -half_logdet - 0.5 * d * LOG_2PI - (kde ? log((double)n) : 0.0);
    NormalSeq zs = normal_seq(make_stream(key, (uint32_t)k[2], 0, TAG_REAL, SITE_TEST));
    double total = 0.0;
    for (int64_t i = 0; i < p.test_points; ++i) {
      for (int q = 0; q < d; ++q) z[q] = zs.next();
      tri_mul_vec(p.truth + d, z, y, d);
      for (int q = 0; q < d; ++q) y[q] += p.truth[q];
      if (!kde) {
        for (int q = 0; q < d; ++q) y[q] -= p.truth[q];
        tri_solve_vec(L, y, z, d);
        double m2 = 0.0;
        for (int q = 0; q < d; ++q) m2 += z[q] * z[q];
        total += cst - 0.5 * m2;
        continue;
      }
      tri_solve_vec(L, y, z, d);
      double mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        double m2 = 0.0;
        for (int q = 0; q < d; ++q) {
          const double v = z[q] - W[j * d + q];
          m2 += v * v;
        }
        lg[j] = -0.5 * m2;
        mx = lg[j] > mx ? lg[j] : mx;
      }
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += exp(lg[j] - mx);
      total += cst + mx + log(s);
    }
    return -total / (double)p.test_points;
  }
};

}  // namespace madsim
