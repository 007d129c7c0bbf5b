// 1-D Gaussian refit on its own samples (the replace loop; docs/theory/replace-1d.md).
// State [mean, var]; generation t draws n points from N(mean, tau^2 var) and
// refits by MLE (divide the scatter by n) or the unbiased estimator (n - 1).
#pragma once
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
  static constexpr int REG_STATE = 2;
  static constexpr int REG_OBSERVE = METRICS_AT + N_GAUSS_METRICS;
  MADSIM_HD static int64_t state_size(const Params&) { return 2; }
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
  // The state row [mean, var] of generation 0 comes from the caller (any truth).
  MADSIM_HD static void init(const Params&, double*, u32x2, uint32_t, double*) {}

  // Exact path: (mean, scatter) of n draws from N(mu, s^2) in law, cost O(1)
  // in n: mean = mu + s Z / sqrt(n), scatter = s^2 chi^2_{n-1}, independent
  // (Cochran). Z is the spare normal of the chi-square's first try.
  MADSIM_HD static Moments1 draw_exact(double n, double mu, double s, const Stream& st) {
    double z;
    uint32_t tries;
    const double chi2 = chisquare(n - 1.0, st, z, tries);
    Moments1 m = {n, mu + s * z / sqrt(n), s * s * chi2};
    return m;
  }

  // Samples path: draw the n normals (normal i of the stream, see
  // normals_of_block) and reduce them. Sums run on z - z_0 (shifted data) so
  // a tiny spread among nearly equal samples keeps its relative precision;
  // the fit is affine-equivariant, so reducing standardised draws and scaling
  // by (mu, s) equals fitting the samples mu + s z.
  MADSIM_HD static Moments1 draw_samples(double n, double mu, double s, const Stream& st) {
    Moments1 m = {n, 0.0, 0.0};
    reduce_samples(n, mu, s, BlockNormals{st}, m.mean, m.scatter);
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
  // in the same order). pairs(b, a, c) gives normals 2b and 2b + 1.
  template <class V, class Pairs>
  MADSIM_HD static void reduce_samples(double n, V mu, V s, const Pairs& pairs, V& mean,
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
    mean = mu + s * (z0 + shift_mean);
    scatter = s * s * (s2 - s1 * shift_mean);
  }

  MADSIM_HD static void fit(const Params& p, Moments1 m, double* state) {
    state[0] = m.mean;
    state[1] = m.scatter / (p.estimator == MLE ? m.count : m.count - 1.0);
  }

  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* = nullptr) {
    const double s = p.tau * sqrt(state[1]);
    Moments1 m;
    if (p.path == EXACT) {
      m = draw_exact(p.n, state[0], s, make_stream(key, replica, t, TAG_SCATTER, 0));
    } else {
      m = draw_samples(p.n, state[0], s, make_stream(key, replica, t, TAG_SAMPLES, 0));
    }
    fit(p, m, state);
  }

  // Writes mean and var, and each other column whose group bit is set in
  // `need`: logdet = ln var, mean_sq = (mean - mu0)^2, then the metrics
  // against the truth (metrics.hpp::gauss1_metric).
  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t need,
                                double* = nullptr) {
    out[0] = state[0];
    out[1] = state[1];
    if (need & (1u << 2)) out[2] = log(state[1]);
    if (need & (1u << 3)) out[3] = (state[0] - p.mu0) * (state[0] - p.mu0);
    if (need >> METRICS_AT) observe_metrics(p, state, out, need >> METRICS_AT);
  }

  // The metrics whose bit is set in `metrics`, out of line: the driver's
  // generation loop inlines observe, and keeps only this call of it.
  MADSIM_HD_NOINLINE static void observe_metrics(const Params& p, const double* state, double* out,
                                                 uint32_t metrics) {
    const Gauss1 g = gauss1(state[0], state[1], p.mu0, p.var0);
    for (int32_t m = 0; m < N_GAUSS_METRICS; ++m)
      if ((metrics >> m) & 1u) out[METRICS_AT + m] = gauss1_metric(m, g);
  }
};

}  // namespace madsim
