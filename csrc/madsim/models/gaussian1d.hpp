// 1-D Gaussian refit on its own samples (the replace loop; docs/theory/replace-1d.md).
// State [mean, v, j]: the variance is var = v 4^j; generation t draws n points
// from N(mean, tau^2 var) and refits by MLE (divide the scatter by n) or the
// unbiased estimator (n - 1).
//
// Deep collapse: var shrinks by about e^delta a generation (delta < 0), and
// a double underflows below 2^-1074 (ln var = -744). So the fit keeps v in
// [2^-256, 2^256] by moving powers of 4 into the integer j <= 0 (renormalise):
// a multiplication by a power of two is exact, so every number equals the one
// computed without j as long as that one is a normal double (j stays 0 until
// var drops below 2^-256, and a growing var is never rescaled past j = 0, so
// overflow happens where it always did). logdet = ln v + 2 j ln 2 follows the
// collapse far past the underflow of var itself.
#pragma once
#include <float.h>
#include <math.h>

#include "../metrics.hpp"
#include "../model.hpp"
#include "../moments.hpp"
#include "../samplers.hpp"

namespace madsim {

struct Gaussian1D {
  enum Path : int32_t { EXACT = 0, SAMPLES = 1 };
  enum Estimator : int32_t { MLE = 0, UNBIASED = 1 };

  struct Params {
    double n;           // samples per generation, >= 2
    double tau;         // temperature: synthetic spread = tau * sigma
    int32_t estimator;  // Estimator
    int32_t path;       // Path
    double mu0, var0;   // the truth N(mu0, var0) the metrics compare with (var0 > 0)
  };

  // observe: [mean, var, logdet, mean_sq | the GaussMetric values (metrics.hpp)]
  static constexpr int METRICS_AT = 4;
  // The CUDA launcher keeps the state row (exactly REG_STATE doubles) and
  // observe's row (at most REG_OBSERVE) in registers (model.hpp).
  static constexpr int REG_STATE = 3;
  static constexpr int REG_OBSERVE = METRICS_AT + N_GAUSS_METRICS;
  MADSIM_HD static int64_t state_size(const Params&) { return 3; }
  MADSIM_HD static int observe_size(const Params&) { return METRICS_AT + N_GAUSS_METRICS; }
  // observe()'s column names, in order (host only; model.hpp).
  static ObserveNames observe_names(const Params&) {
    ObserveNames n;
    for (const char* s : {"mean", "var", "logdet", "mean_sq"}) add_names(n, s);
    for (const char* s : GAUSS_METRIC_NAMES) add_names(n, s);
    return n;
  }
  // Column k is group k: observe computes exactly the columns asked for.
  MADSIM_HD static int observe_group(const Params&, int col) { return col; }
  MADSIM_HD static int64_t scratch_size(const Params&) { return 0; }
  // The state row [mean, var, 0] of generation 0 comes from the caller (any truth).
  MADSIM_HD static void init(const Params&, double*, u32x2, uint32_t, double*) {}

  // Exact path: (mean, scatter) of n draws from N(mu, s^2) in law, cost O(1)
  // in n: mean = mu + s Z / sqrt(n), scatter = s^2 chi^2_{n-1}, independent
  // (Cochran). Z is the spare normal of the chi-square's first try.
  // With a scaled state the spread is s * scale (scale = 2^j, see the top):
  // the mean moves by the increment times scale, the scatter stays in v's units.
  MADSIM_HD static Moments1 draw_exact(double n, double mu, double s, const Stream& st,
                                       double scale = 1.0) {
    double z;
    uint32_t tries;
    const double chi2 = chisquare(n - 1.0, st, z, tries);
    Moments1 m = {n, mu + s * z / sqrt(n) * scale, s * s * chi2};
    return m;
  }

  // Samples path: draw the n normals (normal i of the stream, see
  // normals_of_block) and reduce them. Sums run on z - z_0 (shifted data) so
  // a tiny spread among nearly equal samples keeps its relative precision;
  // the fit is affine-equivariant, so reducing standardised draws and scaling
  // by (mu, s) equals fitting the samples mu + s z.
  MADSIM_HD static Moments1 draw_samples(double n, double mu, double s, const Stream& st,
                                         double scale = 1.0) {
    Moments1 m = {n, 0.0, 0.0};
    reduce_samples(n, mu, s, scale, BlockNormals{st}, m.mean, m.scatter);
    return m;
  }

  // Normals 2b and 2b + 1 of a stream.
  struct BlockNormals {
    Stream st;
    MADSIM_HD void operator()(uint32_t b, double& a, double& c) const {
      normals_of_block(st.block(b), a, c);
    }
  };

  // draw_samples' reduction over a number type V: double, or the CPU's SIMD
  // lanes (cpu/gaussian1d_lanes.hpp, one replica per lane, the same operations
  // in the same order). pairs(b, a, c) gives normals 2b and 2b + 1; the mean
  // moves by scale (2^j) times the increment in v's units.
  template <class V, class Pairs>
  MADSIM_HD static void reduce_samples(double n, V mu, V s, V scale, const Pairs& pairs, V& mean,
                                       V& scatter) {
    const uint64_t count = (uint64_t)n;
    V z0 = V{}, s1 = V{}, s2 = V{};
    for (uint64_t i = 0; i < count; i += 2) {
      V a, b;
      pairs((uint32_t)(i >> 1), a, b);
      if (i == 0) z0 = a;
      const V da = a - z0;
      s1 += da;
      s2 += da * da;
      if (i + 1 < count) {
        const V db = b - z0;
        s1 += db;
        s2 += db * db;
      }
    }
    const V shift_mean = s1 / n;
    mean = mu + s * (z0 + shift_mean) * scale;
    scatter = s * s * (s2 - s1 * shift_mean);
  }

  MADSIM_HD static void fit(const Params& p, Moments1 m, double* state) {
    state[0] = m.mean;
    state[1] = m.scatter / (p.estimator == MLE ? m.count : m.count - 1.0);
    renormalise(state[1], state[2]);
  }

  // v in [SCALE_LO, SCALE_HI] by exact powers of 4 moved into j <= 0 (top of
  // the file). Rarely taken: a branch, no cost on the usual path.
  static constexpr double SCALE_LO = 0x1p-256, SCALE_HI = 0x1p256;
  MADSIM_HD static void renormalise(double& v, double& j) {
    if (v < SCALE_LO && v > 0.0) {
      const int k = ilogb(v) / 2;  // < 0: v 4^-k is within a factor 4 of 1
      v = ldexp(v, -2 * k);
      j += k;
    } else if (j < 0.0 && v > SCALE_HI && v <= DBL_MAX) {
      const int half = ilogb(v) / 2;
      const int k = half < (int)-j ? half : (int)-j;  // never past j = 0
      v = ldexp(v, -2 * k);
      j += k;
    }
  }

  // 2^j (0 once it underflows: the mean's increment is then far below its ulp).
  MADSIM_HD static double scale_of(double j) { return j == 0.0 ? 1.0 : ldexp(1.0, (int)j); }

  // var = v 4^j (underflows to 0 in a deep collapse: logdet keeps it).
  MADSIM_HD static double var_of(const double* state) {
    return state[2] == 0.0 ? state[1] : ldexp(state[1], 2 * (int)state[2]);
  }

  // ln var: ln v + 2 j ln 2, or ln var itself where var is a normal double
  // (the same bits as without the scale).
  MADSIM_HD static double logvar_of(const double* state) {
    const double var = var_of(state);
    if (var >= DBL_MIN || !(state[1] > 0.0)) return log(var);
    return log(state[1]) + 2.0 * state[2] * 0.69314718055994530942;
  }

  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* = nullptr) {
    const double s = p.tau * sqrt(state[1]);
    const double scale = scale_of(state[2]);
    Moments1 m;
    if (p.path == EXACT) {
      m = draw_exact(p.n, state[0], s, make_stream(key, replica, t, TAG_SCATTER, 0), scale);
    } else {
      m = draw_samples(p.n, state[0], s, make_stream(key, replica, t, TAG_SAMPLES, 0), scale);
    }
    fit(p, m, state);
  }

  // Writes mean and var, and each other column whose group bit is set in
  // `need`: logdet = ln var, mean_sq = (mean - mu0)^2, then the metrics
  // against the truth (metrics.hpp::gauss1_metric).
  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t need,
                                double* = nullptr) {
    out[0] = state[0];
    out[1] = var_of(state);
    if (need & (1u << 2)) out[2] = logvar_of(state);
    if (need & (1u << 3)) out[3] = (state[0] - p.mu0) * (state[0] - p.mu0);
    if (need >> METRICS_AT) observe_metrics(p, state, out, need >> METRICS_AT);
  }

  // The metrics whose bit is set in `metrics`, out of line: the driver's
  // generation loop inlines observe, and keeps only this call of it.
  MADSIM_HD_NOINLINE static void observe_metrics(const Params& p, const double* state, double* out,
                                                 uint32_t metrics) {
    const Gauss1 g = gauss1(state[0], var_of(state), p.mu0, p.var0);
    for (int32_t m = 0; m < N_GAUSS_METRICS; ++m)
      if ((metrics >> m) & 1u) out[METRICS_AT + m] = gauss1_metric(m, g);
  }
};

}  // namespace madsim
