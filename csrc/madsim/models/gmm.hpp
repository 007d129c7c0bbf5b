// Gaussian mixture of k components in d dimensions (full, diagonal or
// spherical covariances), refit every generation by EM started from the
// current fit, under the replace, augment (fixed real set), fresh,
// accumulate and accumulate-subsample loops, with temperature and the provenance filter.
// docs/theory/ppca-gmm.md: with full (or any) covariances, tau = 1 and no floor or empty component,
// every M-step leaves the mixture's mean and the trace of its second moment equal to the sample's
// (for full covariances the whole second-moment matrix), so both are martingales.
//
// Generation t (model t-1 -> model t) trains on
//   a synthetic part  k_t draws of model t-1: a component j with probability
//                     w_j, then x = mu_j + tau L_j z (temperature scales
//                     every component's covariance by tau^2)
//   a real part       m_t draws of the truth (Fresh, Accumulate*), or the fixed
//                     real set drawn at generation 0 and kept point by point (Augment)
// after the filter drops each synthetic point with probability tpr and each
// real one with fpr (binomial survivors). Accumulate appends both parts to
// a pool of every point drawn so far (in the state: pool_cap points, the
// run's total count + 1) and fits on the whole pool; AccumulateSubsample
// fits on n of the pool's points drawn uniformly without replacement
// (Floyd, subset.hpp). The fit is EM from model t-1:
//   E-step  r_ij = w_j N(x_i; mu_j, S_j) / sum_l w_l N(x_i; mu_l, S_l), by
//           log-sum-exp (a component of weight 0 gets r = 0); the mean
//           log-likelihood of the current parameters
//   M-step  N_j = sum_i r_ij, w_j = N_j / n; when N_j >= EMPTY_MASS: mu_j and
//           S_j the r-weighted mean and scatter / N_j, projected to the
//           covariance type (diag: off-diagonals 0; spherical: (tr S / d) I),
//           factored with every Cholesky pivot (conditional variance) at
//           least cov_floor (floored: counted). A lighter component keeps
//           its mean and factor (emptied: counted); its weight follows N_j
//           (weight 0 stays 0: a lost component never returns).
//   stop    after em_iters iterations, or at iteration it > 1 when the mean
//           log-likelihood changed by less than em_tol since the previous
//           iteration (sklearn's rule; em_tol = 0: exactly em_iters).
// A generation with no point left keeps model t-1 and counts a skipped fit.
// Never a NaN: the floor keeps every factor regular and every density finite.
//
// Only the samples path exists: the EM fit depends on the points themselves,
// not on a sufficient statistic with a law that could be drawn directly.
//
// Streams (stream.hpp) at counter generation t (0 for the fixed real set),
// tag TAG_SAMPLES (synthetic) / TAG_REAL (real):
//   site 0   point i's component: uniform52 of words (0,1) (i even) or (2,3)
//            (i odd) of block i/2, by inversion of the cumulative weights
//            (Bigram::next_token)
//   site 1   point i's d normals: normals i d .. i d + d - 1 (NormalSeq)
//   TAG_FILTER site 0 / 1: synthetic / real survivors (binomial)
//   TAG_SUBSET site 0, block c: the c-th pick of the subsample (floyd_subset)
#pragma once
#include <math.h>

#include "../linalg.hpp"
#include "../metrics.hpp"
#include "../model.hpp"
#include "../subset.hpp"
#include "bigram.hpp"         // Bigram::next_token
#include "gaussian_loop.hpp"  // NormalSeq, GaussianLoop::survivors

namespace madsim {

struct GaussianMixture {
  enum Loop : int32_t { REPLACE = 0, AUGMENT = 1, FRESH = 2, ACCUMULATE = 3, SUBSAMPLE = 4 };
  enum CovType : int32_t { FULL = 0, DIAG = 1, SPHERICAL = 2 };
  // the counters after the parameters: what the last generation's fit had and did
  enum Counter : int32_t {
    C_REAL,
    C_SYNTHETIC,
    C_SKIPPED,
    C_ITERS,
    C_CAPPED,
    C_FLOORED,
    C_EMPTIED,
    C_LOGLIK,
    N_COUNTERS
  };
  // A component with less responsibility than this (in points) keeps its
  // mean and factor: dividing by it would amplify rounding without bound.
  static constexpr double EMPTY_MASS = 1e-8;
  static constexpr double LOG_2PI = 1.8378770664093454835606594728112;

  struct Params {
    int32_t k, d, cov_type, loop;
    int32_t em_iters;      // EM iteration cap (>= 1)
    double em_tol;         // stop when |delta mean log-likelihood| < em_tol (0: never early)
    double cov_floor;      // least Cholesky pivot^2 of a fitted component (> 0)
    double tau;            // temperature: synthetic spread tau * L_j
    double tpr, fpr;       // filter: drop probability of synthetic / real points
    double real_fixed;     // Augment: size of the fixed real set
    int64_t n_max;         // most points one generation fits (the holder's, from counts)
    const double* truth;   // [k + k d + k T]: weights, means, packed Cholesky factors
    const double* tails;   // [2 d]: the truth's marginal 1e-3 quantiles, then its 1 - 1e-3 ones
    const double* counts;  // [n_counts, 2]: (real, synthetic) of generation t in row t-1
    int64_t n_counts;
    int64_t subsample_n;  // AccumulateSubsample: points per fit
    int64_t pool_cap;     // Accumulate*: points the pool can hold
  };

  // The Params fields that point at host arrays, and their lengths (the
  // CUDA launcher copies each to the device; model.hpp).
  static constexpr int N_ARRAYS = 3;
  static const double* Params::* array(int i) {
    return i == 0 ? &Params::truth : i == 1 ? &Params::tails : &Params::counts;
  }
  static int64_t array_length(const Params& p, int i) {
    return i == 0 ? params_size(p) : i == 1 ? 2 * (int64_t)p.d : 2 * p.n_counts;
  }

  // State row: [w k | mu k*d | L k*T | counters N_COUNTERS | loop] with loop
  // = Augment: the fixed set's size c, then its c points (room for real_fixed);
  // Accumulate*: the pool's size, then pool_cap points of [x d | 1 if real]
  // (the last block of the row: resume into a longer run pads it).
  MADSIM_HD static int T(const Params& p) { return tri_size(p.d); }
  MADSIM_HD static int64_t means_at(const Params& p) { return p.k; }
  MADSIM_HD static int64_t factors_at(const Params& p) { return (int64_t)p.k * (1 + p.d); }
  MADSIM_HD static int64_t params_size(const Params& p) {
    return factors_at(p) + (int64_t)p.k * T(p);
  }
  MADSIM_HD static int64_t counters_at(const Params& p) { return params_size(p); }
  MADSIM_HD static int64_t loop_at(const Params& p) { return params_size(p) + N_COUNTERS; }
  MADSIM_HD static bool pooled(const Params& p) {
    return p.loop == ACCUMULATE || p.loop == SUBSAMPLE;
  }
  MADSIM_HD static int64_t loop_size(const Params& p) {
    if (pooled(p)) return 1 + p.pool_cap * (p.d + 1);
    return p.loop == AUGMENT ? 1 + (int64_t)p.real_fixed * p.d : 0;
  }
  MADSIM_HD static int64_t state_size(const Params& p) { return loop_at(p) + loop_size(p); }

  // observe: [w k | mu k*d | Sigma k*T (packed) | counters | mix_mean d |
  //           second_moment, min_weight, tail_mass | l2, w2_sq_bound]
  // groups: 0 everything before l2, 1 l2, 2 w2_sq_bound.
  MADSIM_HD static int summary_at(const Params& p) { return (int)params_size(p) + N_COUNTERS; }
  MADSIM_HD static int metrics_at(const Params& p) { return summary_at(p) + p.d + 3; }
  MADSIM_HD static int observe_size(const Params& p) { return metrics_at(p) + 2; }
  // observe()'s column names, in order (host only; model.hpp).
  static ObserveNames observe_names(const Params& p) {
    ObserveNames n;
    add_names(n, "weights", p.k);
    add_names(n, "means", (int64_t)p.k * p.d);
    add_names(n, "covs", (int64_t)p.k * T(p));
    for (const char* s : {"points_real", "points_synthetic", "skipped", "em_iters", "em_capped",
                          "floored", "emptied", "loglik"})  // Counter's order
      add_names(n, s);
    add_names(n, "mix_mean", p.d);
    for (const char* s : {"second_moment", "min_weight", "tail_mass", "l2", "w2_sq_bound"})
      add_names(n, s);
    return n;
  }
  MADSIM_HD static int observe_group(const Params& p, int col) {
    return col < metrics_at(p) ? 0 : 1 + (col - metrics_at(p));
  }
  // work shared by step and observe: observe's 2k covariances, a sum of two,
  // two d-vectors, a d x d matrix and the coupling k x k (step needs less)
  MADSIM_HD static int64_t work_size(const Params& p) {
    const int64_t k = p.k, d = p.d;
    return (2 * k + 1) * T(p) + 2 * d + d * d + k * k + k;
  }
  // step: the fit's points X [n_max, d] and responsibilities [n_max, k], then
  // work, then (AccumulateSubsample) the picks [subsample_n]
  MADSIM_HD static int64_t scratch_size(const Params& p) {
    return p.n_max * (p.d + p.k) + work_size(p) + (p.loop == SUBSAMPLE ? p.subsample_n : 0);
  }

  // c points of the mixture (w, mu, L) with spread s into X (point i at
  // X + i stride) from the streams of `tag` (header). cdf: k, z: d scratch.
  MADSIM_HD static void draw(const Params& p, double c, const double* w, const double* mu,
                             const double* L, double s, u32x2 key, uint32_t replica, uint32_t gen,
                             uint32_t tag, double* X, int64_t stride, double* cdf, double* z) {
    const int k = p.k, d = p.d, Tn = T(p);
    double acc = 0.0;
    for (int j = 0; j < k; ++j) cdf[j] = acc += w[j];
    const Stream lab = make_stream(key, replica, gen, tag, 0);
    NormalSeq zs = normal_seq(make_stream(key, replica, gen, tag, 1));
    u32x4 b = {{0, 0, 0, 0}};
    for (uint64_t i = 0; i < (uint64_t)c; ++i) {
      if ((i & 1) == 0) b = lab.block((uint32_t)(i >> 1));
      const double u = (i & 1) ? uniform52(b.v[2], b.v[3]) : uniform52(b.v[0], b.v[1]);
      const int64_t j = Bigram::next_token(cdf, k, u);
      for (int q = 0; q < d; ++q) z[q] = zs.next();
      double* x = X + i * stride;
      tri_mul_vec(L + j * Tn, z, x, d);
      for (int q = 0; q < d; ++q) x[q] = mu[j * d + q] + s * x[q];
    }
  }

  // E-step: responsibilities R [n, k] of the points X [n, d] under the
  // mixture in `state`; returns the mean log-likelihood. cst: k, v: 2d scratch.
  MADSIM_HD static double e_step(const Params& p, const double* state, const double* X, int64_t n,
                                 double* R, double* cst, double* v) {
    const int k = p.k, d = p.d, Tn = T(p);
    const double *w = state, *mu = state + means_at(p), *L = state + factors_at(p);
    for (int j = 0; j < k; ++j) {
      double half_logdet = 0.0;
      for (int q = 0; q < d; ++q) half_logdet += log(L[j * Tn + tri(q, q)]);
      cst[j] = log(w[j]) - half_logdet - 0.5 * d * LOG_2PI;  // -inf for weight 0
    }
    double ll = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double* x = X + i * d;
      double* r = R + i * k;
      double mx = -INFINITY;
      for (int j = 0; j < k; ++j) {
        double l = -INFINITY;
        if (w[j] > 0.0) {
          for (int q = 0; q < d; ++q) v[q] = x[q] - mu[j * d + q];
          tri_solve_vec(L + j * Tn, v, v + d, d);
          double m2 = 0.0;
          for (int q = 0; q < d; ++q) m2 += v[d + q] * v[d + q];
          l = cst[j] - 0.5 * m2;
        }
        r[j] = l;
        mx = l > mx ? l : mx;
      }
      double s = 0.0;
      for (int j = 0; j < k; ++j) s += exp(r[j] - mx);
      const double lse = mx + log(s);
      for (int j = 0; j < k; ++j) r[j] = exp(r[j] - lse);
      ll += lse;
    }
    return ll / (double)n;
  }

  // M-step into `state` from R (header); S: T scratch. Adds the components
  // floored and emptied to the counts.
  MADSIM_HD static void m_step(const Params& p, double* state, const double* X, int64_t n,
                               const double* R, double* S, double& floored, double& emptied) {
    const int k = p.k, d = p.d, Tn = T(p);
    double *w = state, *mu = state + means_at(p), *L = state + factors_at(p);
    for (int j = 0; j < k; ++j) {
      double N = 0.0;
      for (int64_t i = 0; i < n; ++i) N += R[i * k + j];
      w[j] = N / (double)n;
      if (!(N >= EMPTY_MASS)) {
        emptied += 1.0;
        continue;
      }
      double* m = mu + j * d;
      for (int q = 0; q < d; ++q) {
        double a = 0.0;
        for (int64_t i = 0; i < n; ++i) a += R[i * k + j] * X[i * d + q];
        m[q] = a / N;
      }
      for (int q = 0; q < Tn; ++q) S[q] = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double r = R[i * k + j];
        const double* x = X + i * d;
        for (int a = 0; a < d; ++a)
          for (int b = 0; b <= a; ++b) S[tri(a, b)] += r * ((x[a] - m[a]) * (x[b] - m[b]));
      }
      for (int q = 0; q < Tn; ++q) S[q] /= N;
      if (p.cov_type != FULL) {
        double tr = 0.0;
        for (int a = 0; a < d; ++a) tr += S[tri(a, a)];
        for (int a = 0; a < d; ++a)
          for (int b = 0; b <= a; ++b)
            S[tri(a, b)] = a != b ? 0.0 : p.cov_type == SPHERICAL ? tr / d : S[tri(a, a)];
      }
      if (cholesky_floor_packed(S, d, p.cov_floor)) floored += 1.0;
      for (int q = 0; q < Tn; ++q) L[j * Tn + q] = S[q];
    }
  }

  // EM on the n points X from the model in `state` (header); writes the
  // EM counters. R: [n, k]; work: k + 2d + T.
  MADSIM_HD static void em(const Params& p, double* state, const double* X, int64_t n, double* R,
                           double* work) {
    double* cnt = state + counters_at(p);
    double prev = 0.0, ll = 0.0, floored = 0.0, emptied = 0.0;
    int32_t used = 0;
    bool converged = false;
    for (int32_t it = 1; it <= p.em_iters; ++it) {
      ll = e_step(p, state, X, n, R, work, work + p.k);
      floored = emptied = 0.0;
      m_step(p, state, X, n, R, work + p.k + 2 * p.d, floored, emptied);
      used = it;
      if (it > 1 && fabs(ll - prev) < p.em_tol) {
        converged = true;
        break;
      }
      prev = ll;
    }
    cnt[C_ITERS] = used;
    cnt[C_CAPPED] = converged ? 0.0 : 1.0;
    cnt[C_FLOORED] = floored;
    cnt[C_EMPTIED] = emptied;
    cnt[C_LOGLIK] = ll;
  }

  MADSIM_HD static void init(const Params& p, double* state, u32x2 key, uint32_t replica,
                             double* scratch) {
    const int64_t S = state_size(p), P = params_size(p);
    for (int64_t i = 0; i < S; ++i) state[i] = 0.0;
    for (int64_t i = 0; i < P; ++i) state[i] = p.truth[i];
    if (p.loop == AUGMENT) {
      double* lp = state + loop_at(p);
      const double c = GaussianLoop::survivors(p.real_fixed, p.fpr, key, replica, 0, 1);
      draw(p, c, p.truth, p.truth + means_at(p), p.truth + factors_at(p), 1.0, key, replica, 0,
           TAG_REAL, lp + 1, p.d, scratch, scratch + p.k);
      lp[0] = c;
    }
  }

  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* scratch) {
    const int d = p.d;
    double *X = scratch, *R = scratch + p.n_max * d, *work = R + p.n_max * p.k;
    const double m_t = p.counts[2 * (int64_t)(t - 1)], k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    const double ks = GaussianLoop::survivors(k_t, p.tpr, key, replica, t, 0);
    const double mr = p.loop == FRESH || pooled(p)
                          ? GaussianLoop::survivors(m_t, p.fpr, key, replica, t, 1)
                          : 0.0;
    if (pooled(p)) return step_pool(p, state, key, replica, t, mr, ks, scratch);
    // synthetic points come from model t-1: draw them before the fit
    draw(p, ks, state, state + means_at(p), state + factors_at(p), p.tau, key, replica, t,
         TAG_SAMPLES, X, d, work, work + p.k);
    double nr = mr;
    double* Xr = X + (int64_t)ks * d;
    if (p.loop == AUGMENT) {
      const double* lp = state + loop_at(p);
      nr = lp[0];
      for (int64_t i = 0; i < (int64_t)nr * d; ++i) Xr[i] = lp[1 + i];
    } else if (p.loop == FRESH) {
      draw(p, mr, p.truth, p.truth + means_at(p), p.truth + factors_at(p), 1.0, key, replica, t,
           TAG_REAL, Xr, d, work, work + p.k);
    }
    fit(p, state, X, (int64_t)(ks + nr), nr, ks);
  }

  // EM on the n points at the start of scratch (nr real, ns synthetic), or
  // with no point keep model t-1 and count a skipped fit.
  MADSIM_HD static void fit(const Params& p, double* state, double* scratch, int64_t n, double nr,
                            double ns) {
    double* cnt = state + counters_at(p);
    cnt[C_REAL] = nr;
    cnt[C_SYNTHETIC] = ns;
    if (n < 1) {
      cnt[C_SKIPPED] += 1.0;
      cnt[C_ITERS] = cnt[C_CAPPED] = cnt[C_FLOORED] = cnt[C_EMPTIED] = 0.0;
      return;
    }
    double* R = scratch + p.n_max * p.d;
    em(p, state, scratch, n, R, R + p.n_max * p.k);
  }

  // Accumulate*: append the generation's ks synthetic points (from model
  // t-1) then its mr real ones to the pool, then fit on the whole pool
  // (Accumulate) or on min(size, subsample_n) of its points picked by
  // floyd_subset (AccumulateSubsample). Counters: the fit's real and
  // synthetic points (Accumulate: the pool's).
  MADSIM_HD static void step_pool(const Params& p, double* state, u32x2 key, uint32_t replica,
                                  uint32_t t, double mr, double ks, double* scratch) {
    const int d = p.d;
    double* lp = state + loop_at(p);
    double* pts = lp + 1;
    double* work = scratch + p.n_max * (d + p.k);
    int64_t size = (int64_t)lp[0];
    for (int part = 0; part < 2; ++part) {
      const bool real = part == 1;
      const double* par = real ? p.truth : state;
      double c = real ? mr : ks;
      if (c > (double)(p.pool_cap - size))
        c = (double)(p.pool_cap - size);  // never: pool_cap > total
      draw(p, c, par, par + means_at(p), par + factors_at(p), real ? 1.0 : p.tau, key, replica, t,
           real ? TAG_REAL : TAG_SAMPLES, pts + size * (d + 1), d + 1, work, work + p.k);
      for (int64_t i = 0; i < (int64_t)c; ++i) pts[(size + i) * (d + 1) + d] = real ? 1.0 : 0.0;
      size += (int64_t)c;
    }
    lp[0] = (double)size;
    int64_t n = size;
    double* pick = work + work_size(p);
    if (p.loop == SUBSAMPLE) {
      n = size < p.subsample_n ? size : p.subsample_n;
      floyd_subset(size, n, make_stream(key, replica, t, TAG_SUBSET, 0), pick);
    }
    double nr = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double* x = pts + (p.loop == SUBSAMPLE ? (int64_t)pick[i] : i) * (d + 1);
      for (int q = 0; q < d; ++q) scratch[i * d + q] = x[q];
      nr += x[d];
    }
    fit(p, state, scratch, n, nr, (double)n - nr);
  }

  // Writes the columns of the groups set in `need`. scratch: work_size(p).
  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t need,
                                double* scratch) {
    if (need & 1u) observe_params(p, state, out);
    if (need & 2u) out[metrics_at(p)] = l2_distance(p, state, scratch);
    if (need & 4u) out[metrics_at(p) + 1] = w2_sq_bound(p, state, scratch);
  }

  MADSIM_HD static void observe_params(const Params& p, const double* state, double* out) {
    const int k = p.k, d = p.d, Tn = T(p);
    const double *w = state, *mu = state + means_at(p), *L = state + factors_at(p);
    for (int64_t i = 0; i < factors_at(p); ++i) out[i] = state[i];
    double* cov = out + factors_at(p);
    for (int j = 0; j < k; ++j) lower_gram_packed(L + j * Tn, cov + j * Tn, d);
    for (int c = 0; c < N_COUNTERS; ++c) out[params_size(p) + c] = state[counters_at(p) + c];
    double* o = out + summary_at(p);
    double second = 0.0, wmin = INFINITY, tail = 0.0;
    for (int q = 0; q < d; ++q) o[q] = 0.0;
    for (int j = 0; j < k; ++j) {
      wmin = w[j] < wmin ? w[j] : wmin;
      double s2 = 0.0;
      for (int q = 0; q < d; ++q) {
        const double m = mu[j * d + q], var = cov[j * Tn + tri(q, q)];
        o[q] += w[j] * m;
        s2 += var + m * m;
        const double sd = sqrt(var);
        tail +=
            w[j] * (normal_lower((p.tails[q] - m) / sd) + normal_upper((p.tails[d + q] - m) / sd));
      }
      second += w[j] * s2;
    }
    o[d] = second;
    o[d + 1] = wmin;
    o[d + 2] = tail / d;
  }

  // ln N(x; m, S1 + S2) for the difference x - m = dm [d] and packed
  // covariances S1, S2; S: T, v: 2d scratch.
  MADSIM_HD static double log_normal_sum(const double* dm, const double* S1, const double* S2,
                                         int d, double* S, double* v) {
    for (int q = 0; q < tri_size(d); ++q) S[q] = S1[q] + S2[q];
    cholesky_packed(S, d);
    tri_solve_vec(S, dm, v, d);
    double m2 = 0.0, half_logdet = 0.0;
    for (int q = 0; q < d; ++q) {
      m2 += v[q] * v[q];
      half_logdet += log(S[tri(q, q)]);
    }
    return -0.5 * (d * LOG_2PI + m2) - half_logdet;
  }

  // The L2 distance (int (p_t - p_0)^2 dx)^1/2 in closed form:
  // int N(x; a, A) N(x; b, B) dx = N(a - b; 0, A + B), so the integral is
  // sum_ij over the pairs (model, model), (truth, truth) and twice minus
  // (model, truth) of w_i w_j N(mu_i - mu_j; 0, S_i + S_j). Clamped at 0:
  // the three sums cancel near the truth, so its absolute accuracy is about
  // sqrt(eps * max density) (~1e-8 in the truth's units), not its relative one.
  MADSIM_HD_NOINLINE static double l2_distance(const Params& p, const double* state, double* work) {
    const int k = p.k, d = p.d, Tn = T(p);
    double *C = work, *S = C + 2 * k * Tn, *v = S + Tn, *dm = v + 2 * d;
    const double* par[2] = {state, p.truth};
    for (int s = 0; s < 2; ++s)
      for (int j = 0; j < k; ++j)
        lower_gram_packed(par[s] + factors_at(p) + j * Tn, C + (s * k + j) * Tn, d);
    double total = 0.0;
    for (int a = 0; a < 2; ++a)
      for (int b = a; b < 2; ++b) {
        const double sign = a == b ? 1.0 : -2.0;
        for (int i = 0; i < k; ++i)
          for (int j = 0; j < k; ++j) {
            const double wij = par[a][i] * par[b][j];
            if (!(wij > 0.0)) continue;
            for (int q = 0; q < d; ++q)
              dm[q] = par[a][means_at(p) + i * d + q] - par[b][means_at(p) + j * d + q];
            total += sign * wij *
                     exp(log_normal_sum(dm, C + (a * k + i) * Tn, C + (b * k + j) * Tn, d, S, v));
          }
      }
    return sqrt(fmax(0.0, total));
  }

  // An upper bound on W2^2(model, truth): any coupling pi of the component
  // weights gives W2^2 <= sum_ij pi_ij W2^2(N_i, N0_j) (couple the labels by
  // pi, then each pair of Gaussians optimally). pi keeps min(w_i, w0_i) on
  // component i and its descendant (EM starts from the previous fit, so
  // component i stays matched to truth component i), the rest of the mass by
  // the product of the leftovers: pi = 0 cost at the truth, an upper bound on
  // the mixture-Wasserstein MW2 (Delon & Desolneux 2020), which itself bounds W2.
  MADSIM_HD_NOINLINE static double w2_sq_bound(const Params& p, const double* state, double* work) {
    const int k = p.k, d = p.d, Tn = T(p);
    double *A = work, *ra = A + d * d, *rb = ra + k;
    const double *w = state, *w0 = p.truth;
    const double *mu = state + means_at(p), *mu0 = p.truth + means_at(p);
    const double *L = state + factors_at(p), *L0 = p.truth + factors_at(p);
    double total = 0.0, rest = 0.0;
    for (int i = 0; i < k; ++i) {
      const double both = w[i] < w0[i] ? w[i] : w0[i];
      ra[i] = w[i] - both;
      rb[i] = w0[i] - both;
      rest += ra[i];
      if (both > 0.0)
        total += both * gauss_w2_sq(mu + i * d, L + i * Tn, mu0 + i * d, L0 + i * Tn, d, A);
    }
    if (rest > 0.0)
      for (int i = 0; i < k; ++i)
        for (int j = 0; j < k; ++j) {
          const double pij = ra[i] * rb[j] / rest;
          if (pij > 0.0)
            total += pij * gauss_w2_sq(mu + i * d, L + i * Tn, mu0 + j * d, L0 + j * Tn, d, A);
        }
    return total;
  }
};

}  // namespace madsim
