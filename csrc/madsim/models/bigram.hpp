// Bigram (next-token, Markov chain) token model over K tokens under the
// replace, augment (fixed real set), fresh, accumulate and accumulate-
// subsample loops, with the
// sampling knobs temperature, top-k and top-p applied to each row, add-alpha
// smoothing and the provenance filter. The model is a K x K row-stochastic
// transition matrix P (row i: the law of the token after token i); the data
// are sequences of L >= 2 tokens (L - 1 transitions each), the loop's counts
// count sequences.
//
// Generation t (model t-1 -> model t) trains on
//   a synthetic part  k_t sequences walked on the chain q = knobs(P_{t-1})
//                     row by row (Categorical::sampling_law on each row:
//                     p^(1/tau) renormalised, top_k, top_p; ties to the lower
//                     token index), first tokens from the start law
//   a real part       m_t sequences of the truth P0 (Fresh, Accumulate), or
//                     the fixed real set walked at generation 0 (Augment)
// after the filter drops each synthetic sequence with probability tpr and
// each real one with fpr (binomial survivors: whole sequences). Every
// sequence's first token comes from the fixed start law (the truth's
// stationary law pi0, or a given vector; knobs are not applied to it). The fit
// is row by row from the pooled transition counts C:
//   P_t[i, j] = (C[i, j] + alpha) / (sum_j C[i, j] + K alpha);
// a row with no visits and alpha = 0 keeps model t-1's row (counted in
// rows_kept); a generation with no sequence at all and alpha = 0 keeps the
// whole model and counts a skipped fit.
//
// AccumulateSubsample fits a uniform subset of n (L - 1) of the pool's
// transitions (n sequences' worth): the unit of data of a next-token model
// is the (token, next token) pair, and pooled pairs of one kind are
// exchangeable, so the subset is drawn from the pool's counts (subset.hpp)
// and the state stays K x K whatever the run's length. (A subset of whole
// sequences would need every sequence kept: a state growing with the run.)
//
// Only the samples path exists: the transition counts given the visits are
// conditionally multinomial, but the visits depend on the transitions drawn,
// so the counts have no law that can be drawn without walking the chain.
//
// Streams (stream.hpp) at counter generation t (0 for the fixed real set):
//   token j of a part (j = s L + l: token l of sequence s, first tokens
//     included) from uniform52 of words (0,1) (j even) or (2,3) (j odd) of
//     block j/2 of TAG_SAMPLES (synthetic) / TAG_REAL (real) site 0, found by
//     binary search in the cumulative law of the start law (l = 0) or of the
//     current token's row (the first token whose cumulative mass exceeds
//     u * total; if rounding puts u * total at the total, the last token whose
//     cumulative mass rises); cost O(n L log K) plus O(K^2) per generation for
//     the rows' cumulative laws (O(K^2 log K) with top-k / top-p)
//   TAG_FILTER site 0 / 1     synthetic / real survivors (binomial)
//   TAG_SUBSET site 0 block j the j-th pick of the subsample (subset.hpp;
//                             classes: real pairs i K + j, then synthetic)
#pragma once
#include <float.h>
#include <math.h>

#include "../bigram_metrics.hpp"
#include "../model.hpp"
#include "../samplers.hpp"
#include "../subset.hpp"
#include "categorical.hpp"

namespace madsim {

struct Bigram {
  enum Loop : int32_t { REPLACE = 0, AUGMENT = 1, FRESH = 2, ACCUMULATE = 3, SUBSAMPLE = 4 };
  enum Path : int32_t { SAMPLES = 1 };

  struct Params {
    int32_t K, loop, top_k;   // top_k: 0 = off
    int64_t length;           // L: tokens per sequence (>= 2)
    double tau, top_p;        // temperature, nucleus mass (1 = off)
    double smoothing;         // add-alpha on each row's pooled counts (>= 0)
    double tpr, fpr;          // filter: drop probability of synthetic / real sequences
    double real_fixed;        // Augment: sequences in the fixed real set
    const double* truth;      // [K * K] P0, row-major
    const double* truth_cdf;  // [K * K] cumulative sums of each row of P0
    const double* start_cdf;  // [K] cumulative sums of the start law
    const double* pi0;        // [K] the truth's stationary law (metric weights)
    const double* counts;  // [n_counts, 2]: (real, synthetic) sequences of generation t in row t-1
    int64_t n_counts;
    int64_t subsample_n;  // AccumulateSubsample: sequences' worth of pairs per fit
  };

  // The Params fields that point at host arrays, and their lengths (the
  // CUDA launcher copies each to the device; model.hpp).
  static constexpr int N_ARRAYS = 5;
  static const double* Params::* array(int i) {
    const double* Params::* m[] = {&Params::truth, &Params::truth_cdf, &Params::start_cdf,
                                   &Params::pi0, &Params::counts};
    return m[i];
  }
  static int64_t array_length(const Params& p, int i) {
    return i < 2 ? (int64_t)p.K * p.K : i < 4 ? (int64_t)p.K : 2 * p.n_counts;
  }

  // State row: [P K*K | last real, last synthetic, skipped, rows_kept | loop]
  // with loop = Augment: the fixed set's transition counts K*K, then its
  // size; Accumulate: the pool's transition counts K*K, real total,
  // synthetic total (sequences); AccumulateSubsample: the pool's real
  // transition counts K*K, then its synthetic ones K*K.
  MADSIM_HD static int64_t KK(const Params& p) { return (int64_t)p.K * p.K; }
  MADSIM_HD static int64_t counts_at(const Params& p) { return KK(p); }
  MADSIM_HD static int64_t loop_at(const Params& p) { return KK(p) + 4; }
  MADSIM_HD static int64_t loop_size(const Params& p) {
    if (p.loop == AUGMENT) return KK(p) + 1;
    if (p.loop == ACCUMULATE) return KK(p) + 2;
    if (p.loop == SUBSAMPLE) return 2 * KK(p);
    return 0;
  }
  MADSIM_HD static int64_t state_size(const Params& p) { return loop_at(p) + loop_size(p); }

  // observe: [P K*K | points_real, points_synthetic, skipped, rows_kept | BigramMetric...]
  // groups: 0 the counters, 1 the matrix, 2 + m metric m.
  MADSIM_HD static int metrics_at(const Params& p) { return (int)KK(p) + 4; }
  MADSIM_HD static int observe_size(const Params& p) { return metrics_at(p) + N_BIGRAM_METRICS; }
  // observe()'s column names, in order (host only; model.hpp).
  static ObserveNames observe_names(const Params& p) {
    ObserveNames n;
    add_names(n, "transition", KK(p));
    for (const char* s : {"points_real", "points_synthetic", "skipped", "rows_kept"})
      add_names(n, s);
    for (const char* s : BIGRAM_METRIC_NAMES) add_names(n, s);
    return n;
  }
  MADSIM_HD static int observe_group(const Params& p, int col) {
    if (col < KK(p)) return 1;
    if (col < metrics_at(p)) return 0;
    return 2 + (col - metrics_at(p));
  }
  // the rows' cumulative laws K*K, the transition counts K*K (together the
  // subsample's picked counts), a row of q and the sort order (2K), then the
  // subsample's Fenwick tree (2 K*K + 1).
  MADSIM_HD static int64_t scratch_size(const Params& p) {
    return 2 * KK(p) + 2 * (int64_t)p.K + (p.loop == SUBSAMPLE ? 2 * KK(p) + 1 : 0);
  }

  // The token after x in a row with cumulative law cdf [K] (total cdf[K-1] > 0).
  MADSIM_HD static int64_t next_token(const double* cdf, int64_t K, double u) {
    const double x = u * cdf[K - 1];
    int64_t lo = 0, hi = K;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (cdf[mid] > x)
        hi = mid;
      else
        lo = mid + 1;
    }
    if (lo < K) return lo;
    int64_t last = K - 1;  // x rounded up to the total: the last token whose mass rises
    while (last > 0 && !(cdf[last] > cdf[last - 1])) --last;
    return last;
  }

  // n sequences of L tokens: the first from start_cdf, each next from the
  // row of cdf [K*K] of the token before; adds their transition counts to c.
  MADSIM_HD static void walk(int64_t K, int64_t L, double n, const double* start_cdf,
                             const double* cdf, double* c, const Stream& st) {
    const uint64_t want = (uint64_t)n;
    u32x4 w = {{0, 0, 0, 0}};
    uint64_t j = 0;
    for (uint64_t s = 0; s < want; ++s) {
      int64_t cur = 0;
      for (int64_t l = 0; l < L; ++l, ++j) {
        if ((j & 1) == 0) w = st.block((uint32_t)(j >> 1));
        const double u = (j & 1) ? uniform52(w.v[2], w.v[3]) : uniform52(w.v[0], w.v[1]);
        if (l == 0) {
          cur = next_token(start_cdf, K, u);
        } else {
          const int64_t nx = next_token(cdf + cur * K, K, u);
          c[cur * K + nx] += 1.0;
          cur = nx;
        }
      }
    }
  }

  // Sequences that survive the filter: Binomial(c, 1 - drop).
  MADSIM_HD static double survivors(double c, double drop, u32x2 key, uint32_t replica,
                                    uint32_t gen, uint32_t site) {
    return Categorical::survivors(c, drop, key, replica, gen, site);
  }

  // Model t from the pooled transition counts c (n sequences in all) into P;
  // returns the rows kept (K when nothing is fit).
  MADSIM_HD static double fit(const Params& p, const double* c, double n, double* P) {
    const int64_t K = p.K;
    const double a = p.smoothing;
    if (n < 1.0 && a <= 0.0) return (double)K;
    double kept = 0.0;
    for (int64_t i = 0; i < K; ++i) {
      const double* ci = c + i * K;
      double row = 0.0;
      for (int64_t j = 0; j < K; ++j) row += ci[j];
      if (row < 1.0 && a <= 0.0) {
        kept += 1.0;
        continue;
      }
      const double total = row + (double)K * a;
      for (int64_t j = 0; j < K; ++j) {  // subnormal is 0, as Categorical::normal_or_zero
        const double v = (ci[j] + a) / total;
        P[i * K + j] = v >= DBL_MIN ? v : 0.0;
      }
    }
    return kept;
  }

  MADSIM_HD static void init(const Params& p, double* state, u32x2 key, uint32_t replica,
                             double* scratch) {
    const int64_t K = p.K, KK_ = KK(p), S = state_size(p);
    (void)scratch;
    for (int64_t i = 0; i < S; ++i) state[i] = 0.0;
    for (int64_t i = 0; i < KK_; ++i) state[i] = p.truth[i];
    if (p.loop == AUGMENT) {
      double* lp = state + loop_at(p);
      const double c = survivors(p.real_fixed, p.fpr, key, replica, 0, 1);
      walk(K, p.length, c, p.start_cdf, p.truth_cdf, lp, make_stream(key, replica, 0, TAG_REAL, 0));
      lp[KK_] = c;
    }
  }

  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* scratch) {
    const int64_t K = p.K, KK_ = KK(p);
    double *cdf = scratch, *c = scratch + KK_, *q = scratch + 2 * KK_, *idx = q + K;
    const double m_t = p.counts[2 * (int64_t)(t - 1)], k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    const double k = survivors(k_t, p.tpr, key, replica, t, 0);
    const double m = p.loop == AUGMENT ? 0.0 : survivors(m_t, p.fpr, key, replica, t, 1);
    double* cnt = state + counts_at(p);
    double* lp = state + loop_at(p);
    for (int64_t i = 0; i < KK_; ++i) c[i] = 0.0;
    // synthetic sequences come from model t-1: walk them before the fit
    if (k > 0.0) {
      Categorical::Params cp{};
      cp.K = p.K;
      cp.tau = p.tau;
      cp.top_k = p.top_k;
      cp.top_p = p.top_p;
      for (int64_t i = 0; i < K; ++i) {
        Categorical::sampling_law(cp, state + i * K, q, idx);
        double s = 0.0;
        for (int64_t j = 0; j < K; ++j) {
          s += q[j];
          cdf[i * K + j] = s;
        }
      }
      walk(K, p.length, k, p.start_cdf, cdf, c, make_stream(key, replica, t, TAG_SAMPLES, 0));
    }
    double nr = m;
    if (p.loop == SUBSAMPLE) {  // real pairs walk into the pool, synthetic ones join them
      if (m > 0.0)
        walk(K, p.length, m, p.start_cdf, p.truth_cdf, lp,
             make_stream(key, replica, t, TAG_REAL, 0));
      for (int64_t i = 0; i < KK_; ++i) lp[KK_ + i] += c[i];
      subsample_fit(p, state, lp, scratch, key, replica, t);
      return;
    }
    if (p.loop == AUGMENT) {
      for (int64_t i = 0; i < KK_; ++i) c[i] += lp[i];
      nr = lp[KK_];
    } else if (p.loop != REPLACE && m > 0.0) {
      walk(K, p.length, m, p.start_cdf, p.truth_cdf, c, make_stream(key, replica, t, TAG_REAL, 0));
    }
    if (p.loop == ACCUMULATE) {
      for (int64_t i = 0; i < KK_; ++i) lp[i] += c[i];
      lp[KK_] += nr;
      lp[KK_ + 1] += k;
      cnt[0] = lp[KK_];
      cnt[1] = lp[KK_ + 1];
    } else {
      cnt[0] = nr;
      cnt[1] = k;
    }
    const double n = cnt[0] + cnt[1];
    cnt[3] = fit(p, p.loop == ACCUMULATE ? lp : c, n, state);
    if (n < 1.0 && p.smoothing <= 0.0) cnt[2] += 1.0;
  }

  // The fit on n (L - 1) pairs drawn from the pool (real K*K, then
  // synthetic K*K); counters: the real and synthetic pairs picked, in
  // sequences (pairs / (L - 1)).
  MADSIM_HD static void subsample_fit(const Params& p, double* state, const double* pool,
                                      double* scratch, u32x2 key, uint32_t replica, uint32_t t) {
    const int64_t KK_ = KK(p);
    double *out = scratch, *w = scratch + 2 * KK_ + 2 * (int64_t)p.K;
    const double pairs = (double)p.subsample_n * (double)(p.length - 1);
    draw_subset(pool, 2 * KK_, pairs, out, w, make_stream(key, replica, t, TAG_SUBSET, 0));
    double got_real = 0.0, got_syn = 0.0;
    for (int64_t i = 0; i < KK_; ++i) {
      got_real += out[i];
      got_syn += out[KK_ + i];
      out[i] += out[KK_ + i];
    }
    double* cnt = state + counts_at(p);
    cnt[0] = got_real / (double)(p.length - 1);
    cnt[1] = got_syn / (double)(p.length - 1);
    const double n = got_real + got_syn;  // pairs: fit() only asks whether there is any
    cnt[3] = fit(p, out, n, state);
    if (n < 1.0 && p.smoothing <= 0.0) cnt[2] += 1.0;
  }

  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t need,
                                double* scratch) {
    (void)scratch;
    const int64_t KK_ = KK(p);
    if (need & 2u)
      for (int64_t i = 0; i < KK_; ++i) out[i] = state[i];
    if (need & 1u) {
      const double* cnt = state + counts_at(p);
      for (int k = 0; k < 4; ++k) out[KK_ + k] = cnt[k];
    }
    if (need >> 2) observe_metrics(p, state, out + metrics_at(p), need >> 2);
  }

  MADSIM_HD_NOINLINE static void observe_metrics(const Params& p, const double* state, double* o,
                                                 uint32_t metrics) {
    for (int32_t m = 0; m < N_BIGRAM_METRICS; ++m)
      if ((metrics >> m) & 1u) o[m] = bigram_metric(m, state, p.truth, p.pi0, p.K);
  }
};

}  // namespace madsim
