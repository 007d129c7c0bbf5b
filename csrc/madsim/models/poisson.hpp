// Poisson: the data are iid Poisson(lambda), the fit is the MLE, the sample
// mean lambda_hat = S / N of the N points it trains on (docs/theory/poisson.md).
// Generation 0 is the truth lambda_0 (rate0 >= 0). lambda = 0 is absorbing
// for the synthetic part: model t-1 at 0 draws only zeros.
//
// Generation t (model t-1 -> model t) trains on
//   a synthetic part  k_t points of Poisson(lambda_{t-1})
//   a real part       m_t points of Poisson(lambda_0) (Fresh, Accumulate,
//                     AccumulateSubsample), or the fixed real set of
//                     real_fixed points drawn at generation 0 (Augment)
// pooled as the loop says (Replace, Fresh: this generation's; Augment: with
// the fixed set; Accumulate: every point so far; AccumulateSubsample: a
// uniform n-subset of every point so far). A generation with no point keeps
// model t-1 and counts a skipped fit: never a NaN.
//
// Paths. The sum of c iid Poisson(lambda) is Poisson(c lambda) and the MLE
// is a function of the sum, so the exact path draws one Poisson(c lambda)
// per part and generation (cost O(1) in c) for Replace, Augment, Fresh and
// Accumulate. AccumulateSubsample needs the points themselves (a subset's
// sum is not a function of the pool's sum): samples path only. The samples
// path draws every point (the same law).
//
// Streams (stream.hpp): part tag T = TAG_SCATTER (synthetic, exact path),
// TAG_SAMPLES (synthetic, samples path), TAG_REAL (real; the fixed set at
// counter generation 0):
//   exact    site 0 of (t, T): the part's sum, samplers.hpp::poisson
//   samples  site j of (t, T): point j (j < c <= SITE_MAX), one poisson each
//   TAG_SUBSET site 0, block c: the c-th pick of the subsample (floyd_subset)
#pragma once
#include <math.h>

#include "../kit.hpp"
#include "../model.hpp"
#include "../samplers.hpp"
#include "../subset.hpp"

namespace madsim {

// Points j0 .. j0 + count - 1 of a samples-path part, out[i * stride] =
// Poisson(rate) from block 0 of site j0 + i of (gen, tag): samplers.hpp's
// poisson, one stream per point. Kit: the step's kit (kit.hpp); the CPU lanes
// specialise this for cpu::LaneKit (csrc/cpu/poisson_lanes.hpp) with the
// same numbers.
template <class Kit>
struct PoissonPoints {
  MADSIM_HD static void draw(double rate, u32x2 key, uint32_t replica, uint32_t gen, uint32_t tag,
                             int64_t j0, int64_t count, double* out, int64_t stride) {
    for (int64_t i = 0; i < count; ++i) {
      uint32_t tries;
      out[i * stride] =
          poisson(rate, make_stream(key, replica, gen, tag, (uint32_t)(j0 + i)), tries);
    }
  }
};

struct Poisson {
  enum Loop : int32_t { REPLACE = 0, AUGMENT = 1, FRESH = 2, ACCUMULATE = 3, SUBSAMPLE = 4 };
  enum Path : int32_t { EXACT = 0, SAMPLES = 1 };

  struct Params {
    int32_t loop, path;
    double rate0;          // lambda_0 >= 0
    double real_fixed;     // Augment: points of the fixed real set
    const double* counts;  // [n_counts, 2]: (real, synthetic) of generation t in row t-1
    int64_t n_counts;
    int64_t subsample_n;  // AccumulateSubsample: points per fit
    int64_t pool_cap;     // AccumulateSubsample: points the pool can hold
  };

  // The Params fields that point at host arrays, and their lengths (the
  // CUDA launcher copies each to the device; model.hpp).
  static constexpr int N_ARRAYS = 1;
  static const double* Params::* array(int) { return &Params::counts; }
  static int64_t array_length(const Params& p, int) { return 2 * p.n_counts; }

  // State row: [lambda | points_real, points_synthetic, skipped | loop] with
  // loop = Augment: the fixed set's (count, sum); Accumulate: the pool's
  // (real count, synthetic count, sum); AccumulateSubsample: the pool's size,
  // then pool_cap points [value, 1 if real].
  static constexpr int COUNTS_AT = 1;
  static constexpr int LOOP_AT = 4;
  MADSIM_HD static int64_t loop_size(const Params& p) {
    if (p.loop == AUGMENT) return 2;
    if (p.loop == ACCUMULATE) return 3;
    if (p.loop == SUBSAMPLE) return 1 + 2 * p.pool_cap;
    return 0;
  }
  MADSIM_HD static int64_t state_size(const Params& p) { return LOOP_AT + loop_size(p); }
  // observe: [rate, collapsed, points_real, points_synthetic, skipped], one group.
  MADSIM_HD static int observe_size(const Params&) { return 5; }
  MADSIM_HD static int observe_group(const Params&, int) { return 0; }
  // observe()'s column names, in order (host only; model.hpp).
  static ObserveNames observe_names(const Params&) {
    ObserveNames n;
    for (const char* s : {"rate", "collapsed", "points_real", "points_synthetic", "skipped"})
      add_names(n, s);
    return n;
  }
  // AccumulateSubsample's picks.
  MADSIM_HD static int64_t scratch_size(const Params& p) {
    return p.loop == SUBSAMPLE ? p.subsample_n : 0;
  }
  MADSIM_HD static bool has_real_part(const Params& p) {
    return p.loop == FRESH || p.loop == ACCUMULATE || p.loop == SUBSAMPLE;
  }

  // The sum of c points of Poisson(rate) of one part at counter generation
  // gen, added in point order; the samples path's points come through the
  // kit's PoissonPoints, CHUNK at a time.
  static constexpr int64_t CHUNK = 256;
  template <class Kit = ScalarKit>
  MADSIM_HD static double draw_sum(const Params& p, double c, double rate, u32x2 key,
                                   uint32_t replica, uint32_t gen, bool real) {
    if (c <= 0.0) return 0.0;
    if (p.path == EXACT) {
      uint32_t tries;
      return poisson(c * rate, make_stream(key, replica, gen, real ? TAG_REAL : TAG_SCATTER, 0),
                     tries);
    }
    double s = 0.0, buf[CHUNK];
    const uint32_t tag = real ? TAG_REAL : TAG_SAMPLES;
    for (int64_t j = 0; j < (int64_t)c; j += CHUNK) {
      const int64_t n = (int64_t)c - j < CHUNK ? (int64_t)c - j : CHUNK;
      PoissonPoints<Kit>::draw(rate, key, replica, gen, tag, j, n, buf, 1);
      for (int64_t i = 0; i < n; ++i) s += buf[i];
    }
    return s;
  }

  // Generation 0: the truth; Augment's fixed real set at counter generation 0.
  MADSIM_HD static void init(const Params& p, double* state, u32x2 key, uint32_t replica, double*) {
    for (int64_t i = 0; i < state_size(p); ++i) state[i] = 0.0;
    state[0] = p.rate0;
    if (p.loop == AUGMENT) {
      state[LOOP_AT] = p.real_fixed;
      state[LOOP_AT + 1] = draw_sum(p, p.real_fixed, p.rate0, key, replica, 0, true);
    }
  }

  // Kit: where the samples path's points come from (PoissonPoints; the CPU
  // passes its lanes).
  template <class Kit = ScalarKit>
  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* scratch) {
    const double m = has_real_part(p) ? p.counts[2 * (int64_t)(t - 1)] : 0.0;
    const double k = p.counts[2 * (int64_t)(t - 1) + 1];
    double* cnt = state + COUNTS_AT;
    double* lp = state + LOOP_AT;
    const double rate = state[0];
    if (p.loop == SUBSAMPLE) {
      step_subsample<Kit>(p, state, key, replica, t, m, k, scratch);
      return;
    }
    const double syn = draw_sum<Kit>(p, k, rate, key, replica, t, false);
    const double real = draw_sum<Kit>(p, m, p.rate0, key, replica, t, true);
    double n_real = m, n_syn = k, sum = syn + real;
    if (p.loop == AUGMENT) {
      n_real = lp[0];
      sum += lp[1];
    } else if (p.loop == ACCUMULATE) {
      lp[0] += m;
      lp[1] += k;
      lp[2] += sum;
      n_real = lp[0];
      n_syn = lp[1];
      sum = lp[2];
    }
    cnt[0] = n_real;
    cnt[1] = n_syn;
    const double n = n_real + n_syn;
    if (n > 0.0) {
      state[0] = sum / n;
    } else {
      cnt[2] += 1.0;
    }
  }

  // Accumulate-subsample: append generation t's points to the pool
  // (synthetic first, then real), then fit on n = min(size, subsample_n) of
  // them picked by floyd_subset.
  template <class Kit>
  MADSIM_HD static void step_subsample(const Params& p, double* state, u32x2 key, uint32_t replica,
                                       uint32_t t, double m, double k, double* pick) {
    double* lp = state + LOOP_AT;
    double* rows = lp + 1;
    int64_t size = (int64_t)lp[0];
    const double rate = state[0];
    for (int part = 0; part < 2; ++part) {
      const bool real = part == 1;
      const int64_t c = (int64_t)(real ? m : k);
      const int64_t n = c < p.pool_cap - size ? c : p.pool_cap - size;
      PoissonPoints<Kit>::draw(real ? p.rate0 : rate, key, replica, t,
                               real ? TAG_REAL : TAG_SAMPLES, 0, n, rows + 2 * size, 2);
      for (int64_t j = 0; j < n; ++j) rows[2 * (size + j) + 1] = real ? 1.0 : 0.0;
      size += n;
    }
    lp[0] = (double)size;
    const int64_t n = size < p.subsample_n ? size : p.subsample_n;
    floyd_subset(size, n, make_stream(key, replica, t, TAG_SUBSET, 0), pick);
    double sum = 0.0, n_real = 0.0;
    for (int64_t c = 0; c < n; ++c) {
      const double* row = rows + 2 * (int64_t)pick[c];
      sum += row[0];
      n_real += row[1];
    }
    double* cnt = state + COUNTS_AT;
    cnt[0] = n_real;
    cnt[1] = (double)n - n_real;
    if (n > 0) {
      state[0] = sum / (double)n;
    } else {
      cnt[2] += 1.0;
    }
  }

  MADSIM_HD static void observe(const Params&, const double* state, double* out, uint32_t,
                                double*) {
    out[0] = state[0];
    out[1] = state[0] == 0.0 ? 1.0 : 0.0;
    out[2] = state[COUNTS_AT];
    out[3] = state[COUNTS_AT + 1];
    out[4] = state[COUNTS_AT + 2];
  }
};

}  // namespace madsim
