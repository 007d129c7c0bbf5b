// Logistic regression P(y = 1 | x) = sigmoid(x'w), x ~ N(0, Sigma), no
// intercept, refit by Newton's method (IRLS) for the maximum likelihood, with
// an optional ridge penalty lambda |w|^2 / 2, under the loops replace, augment
// (a fixed real set), fresh real data, accumulate and accumulate-subsample
// (docs/guide/logistic.md, docs/theory/logistic.md). Generation 0 is the
// truth w*. Samples path only: the labels' sufficient statistic X'y does not
// determine the fit's Hessian, so every row is drawn.
//
// Generation t (model t-1 -> model t) trains on
//   a synthetic part  k_t rows labelled by model t-1: y ~ Bernoulli(sigmoid(x'w_{t-1}))
//   a real part       m_t rows labelled by the truth (Fresh, Accumulate), or
//                     the fixed real set drawn at generation 0 (Augment)
// with designs x = L0 z ~ N(0, Sigma) fresh every generation (design FRESH)
// or drawn once at counter generation 0 and relabelled every generation
// (design FIXED: one fixed design per part; constant counts).
//
// The fit maximises sum_i [y_i x_i'w - log(1 + e^{x_i'w})] - lambda |w|^2 / 2
// by Newton steps from w_{t-1}: g = X'(y - p) - lambda w, H = X'diag(p(1-p))X
// + lambda I, delta = H^-1 g, halved until the objective does not rise (see
// fit), w += delta, until max_i |delta_i| <= tol (1 + max_i |w_i|)
// (converged), at most max_iter steps. A fit that does not exist or cannot be
// made keeps model t-1 and counts a skipped fit, never a NaN:
//   fewer than min_points rows (d + 1; 1 with ridge > 0);
//   H singular (a Cholesky pivot^2 at most PIVOT_RTOL times its diagonal
//   entry, Regression's rule): what separated data do once the weights of
//   the fitted probabilities p(1 - p) underflow;
//   no convergence within max_iter steps (separation: the likelihood has no
//   maximum and |w| grows without bound), no descent after MAX_HALVINGS
//   halvings, or a non-finite step;
//   (ridge 0) a converged w that classifies every row strictly right: the
//   rows are separable, so no maximum exists, and the iterates stopped only
//   because the fitted probabilities rounded to 0 and 1.
// With ridge > 0 the objective is strictly concave and coercive: the
// maximum always exists.
//
// Rows are [x d | y | 1 if real] (W = d + 2 doubles). Streams (stream.hpp),
// part tag T = TAG_SAMPLES (synthetic) / TAG_REAL (real):
//   site 0   the rows' x = L0 z, d consecutive normals per row (NormalSeq),
//            at counter generation t (design FIXED: 0, the same rows again)
//   site 1   row r's label uniform u (y = 1 iff u < sigmoid(x'w_src)):
//            uniform52 of words (0,1) (r even) or (2,3) (r odd) of block
//            r / 2, at counter generation t
//   Augment's fixed real set: both sites of TAG_REAL at counter generation 0
//   TAG_SUBSET site 0, block c: the c-th pick of the subsample (floyd_subset)
#pragma once
#include <math.h>

#include "../kit.hpp"
#include "../linalg.hpp"
#include "../model.hpp"
#include "../subset.hpp"
#include "../transforms.hpp"
#include "regression.hpp"  // Regression::PIVOT_RTOL

namespace madsim {

struct Logistic {
  // Regression's singular-fit rule: a pivot^2 at rounding level of its
  // diagonal entry.
  static constexpr double PIVOT_RTOL = Regression::PIVOT_RTOL;
  enum Loop : int32_t { REPLACE = 0, AUGMENT = 1, FRESH = 2, ACCUMULATE = 3, SUBSAMPLE = 4 };
  enum Design : int32_t { FRESH_DESIGN = 0, FIXED_DESIGN = 1 };

  struct Params {
    int32_t d, loop, design, max_iter;
    double ridge;          // lambda >= 0
    double tol;            // Newton's stopping rule, > 0
    double real_fixed;     // Augment: rows of the fixed real set
    const double* truth;   // [d + 2T]: w*, Sigma's Cholesky factor L0 (packed), the
                           // Cholesky factor F of the Fisher information I(w*) (packed)
    const double* counts;  // [n_counts, 2]: (real, synthetic) of generation t in row t-1
    int64_t n_counts;
    int64_t buf_rows;     // rows of one fit's buffer (Replace, Fresh, Augment, subsample)
    int64_t subsample_n;  // AccumulateSubsample: rows per fit
    int64_t pool_cap;     // Accumulate, AccumulateSubsample: rows the pool can hold
  };

  MADSIM_HD static int T(const Params& p) { return tri_size(p.d); }
  MADSIM_HD static int W(const Params& p) { return p.d + 2; }
  MADSIM_HD static double min_points(const Params& p) { return p.ridge > 0.0 ? 1.0 : p.d + 1.0; }
  MADSIM_HD static bool has_pool(const Params& p) {
    return p.loop == ACCUMULATE || p.loop == SUBSAMPLE;
  }

  // The Params fields that point at host arrays, and their lengths (the
  // CUDA launcher copies each to the device; model.hpp).
  static constexpr int N_ARRAYS = 2;
  static const double* Params::* array(int i) { return i == 0 ? &Params::truth : &Params::counts; }
  static int64_t array_length(const Params& p, int i) {
    return i == 0 ? (int64_t)p.d + 2 * tri_size(p.d) : 2 * p.n_counts;
  }

  // State row: [w d | iterations, points real, points synthetic, skipped | loop]
  // loop = Augment: the fixed real set's rows [real_fixed, W]; Accumulate and
  // AccumulateSubsample: the pool's size, then pool_cap rows [W].
  MADSIM_HD static int counts_at(const Params& p) { return p.d; }
  MADSIM_HD static int loop_at(const Params& p) { return p.d + 4; }
  MADSIM_HD static int64_t loop_size(const Params& p) {
    if (p.loop == AUGMENT) return (int64_t)p.real_fixed * W(p);
    if (has_pool(p)) return 1 + p.pool_cap * W(p);
    return 0;
  }
  MADSIM_HD static int64_t state_size(const Params& p) { return loop_at(p) + loop_size(p); }
  // observe: [w d | fisher_error, w_error, w_norm, iterations, points_real,
  //           points_synthetic, skipped], one group (O(d^2)).
  MADSIM_HD static int observe_size(const Params& p) { return p.d + 7; }
  // observe()'s column names, in order (host only; model.hpp).
  static ObserveNames observe_names(const Params& p) {
    ObserveNames n;
    add_names(n, "w", p.d);
    for (const char* s : {"fisher_error", "w_error", "w_norm", "iterations", "points_real",
                          "points_synthetic", "skipped"})
      add_names(n, s);
    return n;
  }
  MADSIM_HD static int observe_group(const Params&, int) { return 0; }
  // [rows buf_rows * W | H, H2, M T each | g, g2, w, v d each | z d | picks subsample_n]
  MADSIM_HD static int64_t scratch_size(const Params& p) {
    return p.buf_rows * W(p) + 3 * T(p) + 5 * p.d + (p.loop == SUBSAMPLE ? p.subsample_n : 0);
  }

  // p = sigmoid(eta) and its derivative p(1 - p), from e = exp(-|eta|) <= 1:
  // no overflow, and p(1 - p) keeps its relative accuracy in the tails.
  MADSIM_HD static double sigmoid(double eta, double* dp) {
    const double e = exp(-fabs(eta));
    const double q = 1.0 / (1.0 + e);
    *dp = e * q * q;
    return eta >= 0.0 ? q : e * q;
  }

  // Writes c rows [x | y | real] at `rows`: x = L0 z from site 0 of counter
  // generation gen_x, y ~ Bernoulli(sigmoid(x'src)) from site 1 of gen.
  // z: d scratch.
  MADSIM_HD static void draw_rows(const Params& p, int64_t c, const double* src, bool real,
                                  u32x2 key, uint32_t replica, uint32_t gen_x, uint32_t gen,
                                  double* rows, double* z) {
    const int d = p.d;
    const uint32_t tag = real ? TAG_REAL : TAG_SAMPLES;
    NormalSeq xs = normal_seq(make_stream(key, replica, gen_x, tag, 0));
    const Stream ys = make_stream(key, replica, gen, tag, 1);
    u32x4 b = {{0, 0, 0, 0}};
    for (int64_t r = 0; r < c; ++r) {
      double* row = rows + r * W(p);
      for (int i = 0; i < d; ++i) z[i] = xs.next();
      tri_mul_vec(p.truth + d, z, row, d);
      double eta = 0.0;
      for (int i = 0; i < d; ++i) eta += row[i] * src[i];
      if ((r & 1) == 0) b = ys.block((uint32_t)(r >> 1));
      const double u = (r & 1) ? uniform52(b.v[2], b.v[3]) : uniform52(b.v[0], b.v[1]);
      double dp;
      row[d] = u < sigmoid(eta, &dp) ? 1.0 : 0.0;
      row[d + 1] = real ? 1.0 : 0.0;
    }
  }

  // One pass over the N rows at w (d doubles): returns the penalised negative
  // log-likelihood sum_i [log(1 + e^eta_i) - y_i eta_i] + lambda |w|^2 / 2
  // (eta_i = x_i'w) and writes its negative gradient g = X'(y - p) - lambda w
  // (d) and Hessian H = X'diag(p(1 - p))X + lambda I (packed T).
  MADSIM_HD static double pass(const Params& p, const double* rows, int64_t N, const double* w,
                               double* g, double* H) {
    switch (p.d) {
      case 1:
        return pass_d<1>(p, rows, N, w, g, H);
      case 2:
        return pass_d<2>(p, rows, N, w, g, H);
      case 3:
        return pass_d<3>(p, rows, N, w, g, H);
      case 4:
        return pass_d<4>(p, rows, N, w, g, H);
      default:
        return pass_d<0>(p, rows, N, w, g, H);
    }
  }

  // pass at d = D known when compiled (D > 0): g and H summed in local
  // arrays, which stay in registers (in g and H, a sum waits on its own store
  // every row); D = 0: any d, in g and H. The same operations in the same
  // order either way.
  template <int D>
  MADSIM_HD static double pass_d(const Params& p, const double* rows, int64_t N, const double* w,
                                 double* g_out, double* H_out) {
    const int d = D > 0 ? D : p.d;
    constexpr int TD = D > 0 ? D * (D + 1) / 2 : 1;
    double g_loc[D > 0 ? D : 1], H_loc[TD];
    double* g = D > 0 ? g_loc : g_out;
    double* H = D > 0 ? H_loc : H_out;
    const int Tn = d * (d + 1) / 2;
    for (int k = 0; k < Tn; ++k) H[k] = 0.0;
    for (int i = 0; i < d; ++i) {
      H[tri(i, i)] = p.ridge;
      g[i] = -p.ridge * w[i];
    }
    double f = 0.0, ww = 0.0;
    for (int64_t r = 0; r < N; ++r) {
      const double* x = rows + r * W(p);
      double eta = 0.0;
      for (int i = 0; i < d; ++i) eta += x[i] * w[i];
      const double e = exp(-fabs(eta));  // sigmoid() inlined: e feeds the objective too
      const double q = 1.0 / (1.0 + e);
      const double dp = e * q * q;
      const double res = x[d] - (eta >= 0.0 ? q : e * q);  // y - sigmoid(eta)
      f += log1p(e) + fmax(eta, 0.0) - x[d] * eta;
      for (int i = 0, k = 0; i < d; ++i) {
        g[i] += res * x[i];
        const double a = dp * x[i];
        for (int j = 0; j <= i; ++j, ++k) H[k] += a * x[j];
      }
    }
    if (D > 0) {
      for (int i = 0; i < d; ++i) g_out[i] = g[i];
      for (int k = 0; k < Tn; ++k) H_out[k] = H[k];
    }
    for (int i = 0; i < d; ++i) ww += w[i] * w[i];
    return f + 0.5 * p.ridge * ww;
  }

  // Whether w classifies every one of the N rows strictly right (y = 1 iff
  // x'w > 0, and no x'w = 0): the rows are then linearly separable.
  MADSIM_HD static bool separates(const Params& p, const double* rows, int64_t N, const double* w) {
    const int d = p.d;
    for (int64_t r = 0; r < N; ++r) {
      const double* x = rows + r * W(p);
      double eta = 0.0;
      for (int i = 0; i < d; ++i) eta += x[i] * w[i];
      if (!(x[d] > 0.5 ? eta > 0.0 : eta < 0.0)) return false;
    }
    return true;
  }

  // Newton's method on the N rows at `rows` from w_{t-1} (state[0..d)); on
  // success writes the fit into state and returns true. iters: the steps
  // taken. Each step delta = H^-1 g is halved (at most MAX_HALVINGS times)
  // until the objective is not above its value at w by more than
  // OBJ_SLACK (1 + |f|): undamped Newton can overshoot and diverge from a
  // start far from the maximum; the slack keeps rounding noise near the
  // maximum from halving a converging step. The pass that checks a step
  // also gives the next step's gradient and Hessian: 1 + steps (+ halvings)
  // passes per fit. s: scratch [H T | H2 T | M T | g d | g2 d | w d | v d].
  static constexpr int MAX_HALVINGS = 30;
  static constexpr double OBJ_SLACK = 1e-12;
  MADSIM_HD static bool fit(const Params& p, const double* rows, int64_t N, double* state,
                            double* iters, double* s) {
    const int d = p.d, Tn = T(p);
    double *H = s, *H2 = s + Tn, *M = s + 2 * Tn, *g = s + 3 * Tn, *g2 = g + d, *w = g2 + d,
           *v = w + d;
    *iters = 0.0;
    if ((double)N < min_points(p)) return false;
    for (int i = 0; i < d; ++i) w[i] = state[i];
    double f = pass(p, rows, N, w, g, H);
    for (int it = 1; it <= p.max_iter; ++it) {
      *iters = it;
      for (int k = 0; k < Tn; ++k) M[k] = H[k];
      cholesky_packed(M, d);
      for (int i = 0; i < d; ++i) {
        const double l = M[tri(i, i)];
        if (!(l > 0.0 && l * l > PIVOT_RTOL * H[tri(i, i)])) return false;
      }
      cholesky_solve_packed(M, g, d);  // g -> the Newton step delta
      const double bar = f + OBJ_SLACK * (1.0 + fabs(f));
      double scale = 1.0, fv;
      for (int h = 0;; ++h) {
        for (int i = 0; i < d; ++i) v[i] = w[i] + scale * g[i];
        fv = pass(p, rows, N, v, g2, H2);
        if (fv <= bar) break;  // a NaN objective halves too
        if (h == MAX_HALVINGS) return false;
        scale *= 0.5;
      }
      double step = 0.0, size = 0.0;
      for (int i = 0; i < d; ++i) {
        step = fmax(step, fabs(scale * g[i]));
        size = fmax(size, fabs(v[i]));
        w[i] = v[i];
      }
      if (!(step <= 1e300 && size <= 1e300)) return false;  // non-finite (NaN fails too)
      if (step <= p.tol * (1.0 + size)) {
        // Without ridge, a w that classifies every row strictly right proves
        // the rows separable, where no maximum exists: the iterates stopped
        // only because the fitted probabilities rounded to 0 and 1.
        if (p.ridge == 0.0 && separates(p, rows, N, w)) return false;
        for (int i = 0; i < d; ++i) state[i] = w[i];
        return true;
      }
      f = fv;
      double* t = g;  // the checked point's gradient and Hessian are the next step's
      g = g2;
      g2 = t;
      t = H;
      H = H2;
      H2 = t;
    }
    return false;  // no convergence
  }

  // Generation 0: the truth; Augment's fixed real set (counter generation 0).
  MADSIM_HD static void init(const Params& p, double* state, u32x2 key, uint32_t replica,
                             double* scratch) {
    for (int64_t i = 0; i < state_size(p); ++i) state[i] = 0.0;
    for (int i = 0; i < p.d; ++i) state[i] = p.truth[i];
    if (p.loop == AUGMENT)
      draw_rows(p, (int64_t)p.real_fixed, p.truth, true, key, replica, 0, 0, state + loop_at(p),
                scratch);
  }

  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* scratch) {
    const int d = p.d;
    const int64_t Wr = W(p);
    double* buf = scratch;
    double* s = scratch + p.buf_rows * Wr;  // the fit's scratch
    double* z = s + 3 * T(p) + 4 * d;
    const int64_t m = (int64_t)p.counts[2 * (int64_t)(t - 1)];
    const int64_t k = (int64_t)p.counts[2 * (int64_t)(t - 1) + 1];
    const uint32_t gen_x = p.design == FIXED_DESIGN ? 0u : t;
    double* cnt = state + counts_at(p);
    double* lp = state + loop_at(p);
    const double* rows = buf;
    int64_t N;
    double n_real;
    if (has_pool(p)) {  // append: synthetic rows first (labelled by model t-1), then real
      int64_t size = (int64_t)lp[0];
      double* pool = lp + 1;
      const int64_t ks = k < p.pool_cap - size ? k : p.pool_cap - size;
      draw_rows(p, ks, state, false, key, replica, gen_x, t, pool + size * Wr, z);
      size += ks;
      const int64_t ms = m < p.pool_cap - size ? m : p.pool_cap - size;
      draw_rows(p, ms, p.truth, true, key, replica, gen_x, t, pool + size * Wr, z);
      size += ms;
      lp[0] = (double)size;
      if (p.loop == ACCUMULATE) {
        rows = pool;
        N = size;
      } else {  // fit on n of the pooled rows picked uniformly, copied in pick order
        N = size < p.subsample_n ? size : p.subsample_n;
        double* pick = s + 3 * T(p) + 5 * d;
        floyd_subset(size, N, make_stream(key, replica, t, TAG_SUBSET, 0), pick);
        for (int64_t c = 0; c < N; ++c)
          for (int64_t i = 0; i < Wr; ++i) buf[c * Wr + i] = pool[(int64_t)pick[c] * Wr + i];
      }
    } else {
      draw_rows(p, k, state, false, key, replica, gen_x, t, buf, z);
      N = k;
      if (p.loop == FRESH) {
        draw_rows(p, m, p.truth, true, key, replica, gen_x, t, buf + N * Wr, z);
        N += m;
      } else if (p.loop == AUGMENT) {
        const int64_t mr = (int64_t)p.real_fixed;
        for (int64_t i = 0; i < mr * Wr; ++i) buf[N * Wr + i] = lp[i];
        N += mr;
      }
    }
    n_real = 0.0;
    for (int64_t r = 0; r < N; ++r) n_real += rows[r * Wr + d + 1];
    cnt[1] = n_real;
    cnt[2] = (double)N - n_real;
    if (!fit(p, rows, N, state, cnt, s)) cnt[3] += 1.0;
  }

  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t,
                                double*) {
    const int d = p.d;
    const double* w0 = p.truth;
    const double* F = p.truth + d + T(p);
    double fisher = 0.0, err = 0.0, norm = 0.0;
    for (int j = 0; j < d; ++j) {  // |F'(w - w*)|^2 = (w - w*)' I(w*) (w - w*)
      double v = 0.0;
      for (int i = j; i < d; ++i) v += F[tri(i, j)] * (state[i] - w0[i]);
      fisher += v * v;
      err += (state[j] - w0[j]) * (state[j] - w0[j]);
      norm += state[j] * state[j];
      out[j] = state[j];
    }
    const double* cnt = state + counts_at(p);
    out[d] = fisher;
    out[d + 1] = err;
    out[d + 2] = sqrt(norm);
    out[d + 3] = cnt[0];
    out[d + 4] = cnt[1];
    out[d + 5] = cnt[2];
    out[d + 6] = cnt[3];
  }
};

}  // namespace madsim
