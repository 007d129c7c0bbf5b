// Categorical (unigram) token model over K tokens under every training loop
// (docs/theory/categorical.md): replace, augment (fixed real set), fresh
// real data, accumulate, accumulate-subsample; sampling knobs temperature,
// top-k and top-p; the He-Xu-Cheng weighting, add-alpha smoothing and the
// provenance filter. With MLE refits (smoothing 0) and no knob the replace
// loop is exactly the neutral Wright-Fisher model.
//
// Generation t (model t-1 -> model t) trains on
//   a synthetic part  k_t tokens drawn from q = knobs(p_{t-1}): p^(1/tau)
//                     renormalised, then the top_k most probable tokens,
//                     then the smallest most-probable set with mass >= top_p
//                     (sampling_law; ties broken by the lower token index)
//   a real part       m_t tokens of the truth p0 (Fresh, Accumulate*), or the
//                     fixed real set drawn at generation 0 (Augment)
// after the filter drops each synthetic token with probability tpr and each
// real one with fpr (binomial survivors: the filter ignores values). The fit
// is the empirical frequency of the pooled counts, (c + alpha) / (N + K alpha)
// with add-alpha smoothing, or w * real frequencies + (1 - w) * synthetic
// ones. A generation with nothing to fit keeps model t-1 and counts a
// skipped fit.
//
// Streams (stream.hpp) at counter generation t (0 for the fixed real set):
//   tokens (the samples path; the exact path while n <= 4 x support): token
//     j from uniform52 u_j of words (0,1) (j even) or (2,3) (j odd) of block
//     j/2 of TAG_SAMPLES (synthetic) / TAG_REAL (real) site 0, through
//     Walker's alias table of the law over its support (the S tokens with
//     mass, in token order): column floor(u_j S), mapped back to its token
//     or its alias; cost O(K) compares, O(S + n) (layout 2: layout 1 built
//     the table over all K tokens, column floor(u_j K); the same tokens
//     where S = K)
//   counts (the exact path for n > 4 x support): the count vector by
//     conditional binomials in token order,
//     c_i ~ Binomial(n - c_0 - ... - c_{i-1}, q_i / (q_i + ... + q_{K-1})),
//     token i on site i of TAG_SCATTER (synthetic) / TAG_REAL (real), with
//     its own tries; tokens without mass draw nothing; cost O(K) compares,
//     O(S) binomials, independent of n
//   TAG_FILTER site 0 / 1     synthetic / real survivors (binomial)
//   TAG_SUBSET site 0 block j the j-th pick of the subsample: uniform52 of
//     words (0,1) picks one of the pooled tokens left, without replacement
#pragma once
#include <float.h>
#include <math.h>

#include "../kit.hpp"
#include "../model.hpp"
#include "../samplers.hpp"
#include "../sort.hpp"
#include "../subset.hpp"
#include "../token_metrics.hpp"

namespace madsim {

struct Categorical {
  enum Loop : int32_t { REPLACE = 0, AUGMENT = 1, FRESH = 2, ACCUMULATE = 3, SUBSAMPLE = 4 };
  enum Path : int32_t { EXACT = 0, SAMPLES = 1 };

  struct Params {
    int32_t K, loop, path, top_k;  // top_k: 0 = off
    double tau;                    // temperature: q ~ p^(1/tau)
    double top_p;                  // nucleus mass in (0, 1]; 1 = off
    double smoothing;              // add-alpha on the pooled counts (>= 0)
    double weight;                 // < 0: pooled fit; else w in [0, 1]
    double tpr, fpr;               // filter: drop probability of synthetic / real tokens
    double real_fixed;             // Augment: size of the fixed real set
    int64_t subsample_n;           // AccumulateSubsample: tokens per fit
    const double* truth;           // [K] p0
    const double* rare;            // [K] 1 for the truth's rarest tokens (rare_mass)
    const double* counts;          // [n_counts, 2]: (real, synthetic) of generation t in row t-1
    int64_t n_counts;
  };

  // The Params fields that point at host arrays, and their lengths (the
  // CUDA launcher copies each to the device; model.hpp).
  static constexpr int N_ARRAYS = 3;
  static const double* Params::* array(int i) {
    return i == 0 ? &Params::truth : i == 1 ? &Params::rare : &Params::counts;
  }
  static int64_t array_length(const Params& p, int i) {
    return i < 2 ? (int64_t)p.K : 2 * p.n_counts;
  }

  // State row: [p K | last real, last synthetic, skipped | loop] with loop =
  // Augment: the fixed set's counts K, then its size; Accumulate: the pool's
  // counts K, real total, synthetic total; AccumulateSubsample: the pool's
  // real counts K, then its synthetic counts K.
  MADSIM_HD static int64_t counts_at(const Params& p) { return p.K; }
  MADSIM_HD static int64_t loop_at(const Params& p) { return (int64_t)p.K + 3; }
  MADSIM_HD static int64_t loop_size(const Params& p) {
    if (p.loop == AUGMENT) return (int64_t)p.K + 1;
    if (p.loop == ACCUMULATE) return (int64_t)p.K + 2;
    if (p.loop == SUBSAMPLE) return 2 * (int64_t)p.K;
    return 0;
  }
  MADSIM_HD static int64_t state_size(const Params& p) { return loop_at(p) + loop_size(p); }

  // observe: [p K | points_real, points_synthetic, skipped | TokenMetric...]
  // groups: 0 the counters, 1 the probabilities, 2 + m metric m.
  MADSIM_HD static int metrics_at(const Params& p) { return p.K + 3; }
  MADSIM_HD static int observe_size(const Params& p) { return metrics_at(p) + N_TOKEN_METRICS; }
  // observe()'s column names, in order (host only; model.hpp).
  static ObserveNames observe_names(const Params& p) {
    ObserveNames n;
    add_names(n, "probs", p.K);
    for (const char* s : {"points_real", "points_synthetic", "skipped"}) add_names(n, s);
    for (const char* s : TOKEN_METRIC_NAMES) add_names(n, s);
    return n;
  }
  MADSIM_HD static int observe_group(const Params& p, int col) {
    if (col < p.K) return 1;
    if (col < metrics_at(p)) return 0;
    return 2 + (col - metrics_at(p));
  }
  // step: q, two count vectors, then 4K shared by the sort order (top-k /
  // top-p, done before any draw) and the draws' work (the alias table, its
  // tokens and stack, or the binomials' suffix sums), then the subsample's
  // Fenwick tree (2K + 1) and picked counts (2K).
  MADSIM_HD static int64_t scratch_size(const Params& p) {
    const int64_t K = p.K;
    return 7 * K + (p.loop == SUBSAMPLE ? 4 * K + 1 : 0);
  }

  // The law synthetic tokens are drawn from, unnormalised, into q; returns
  // its total. idx: K scratch (the sort order for top-k / top-p).
  MADSIM_HD static double sampling_law(const Params& p, const double* prob, double* q,
                                       double* idx) {
    const int64_t K = p.K;
    if (p.tau != 1.0) {
      // relative to the largest: (p_i / p_max)^(1/tau) cannot overflow, and
      // underflows only where p_i^(1/tau) is negligible against p_max^(1/tau)
      double pmax = 0.0;
      for (int64_t i = 0; i < K; ++i) pmax = prob[i] > pmax ? prob[i] : pmax;
      const double e = 1.0 / p.tau;
      // below DBL_MIN (subnormal) counts as 0: XLA flushes subnormals, and a
      // token that far down is never drawn in any run anyway
      for (int64_t i = 0; i < K; ++i) {
        const double v = prob[i] > 0.0 ? pow(prob[i] / pmax, e) : 0.0;
        q[i] = v >= DBL_MIN ? v : 0.0;
      }
    } else {
      for (int64_t i = 0; i < K; ++i) q[i] = prob[i];
    }
    const bool top_k = p.top_k > 0 && p.top_k < K, top_p = p.top_p < 1.0;
    if (top_k || top_p) {
      for (int64_t i = 0; i < K; ++i) idx[i] = (double)i;
      heap_sort(idx, K, ByKeyDesc{q});
      if (top_k)
        for (int64_t j = p.top_k; j < K; ++j) q[(int64_t)idx[j]] = 0.0;
      if (top_p) {
        double total = 0.0;
        for (int64_t i = 0; i < K; ++i) total += q[i];
        const double want = p.top_p * total;
        double cum = 0.0;
        int64_t j = 0;
        for (; j < K; ++j) {
          cum += q[(int64_t)idx[j]];
          if (cum >= want) break;
        }
        for (++j; j < K; ++j) q[(int64_t)idx[j]] = 0.0;
      }
    }
    double total = 0.0;
    for (int64_t i = 0; i < K; ++i) total += q[i];
    return total;
  }

  // Counts of n draws from the law q (unnormalised) by conditional
  // binomials. A token without mass gets no count and adds nothing to the
  // suffix sums, so both chains run over the support (the S tokens with
  // q > 0, in token order: O(K) compares, then O(S)), with the same numbers
  // as over all K. work: 2K (the support, then its suffix sums).
  MADSIM_HD static void counts_exact(int64_t K, double n, const double* q, double* c, double* work,
                                     u32x2 key, uint32_t replica, uint32_t gen, uint32_t tag) {
    double *tok = work, *suffix = work + K;
    int64_t S = 0;
    for (int64_t i = 0; i < K; ++i) {
      tok[S] = (double)i;
      S += q[i] > 0.0 ? 1 : 0;
    }
    double s = 0.0;
    for (int64_t k = S - 1; k >= 0; --k) {
      s += q[(int64_t)tok[k]];
      suffix[k] = s;
    }
    for (int64_t i = 0; i < K; ++i) c[i] = 0.0;
    double left = n;
    for (int64_t k = 0; k < S && left > 0.0; ++k) {
      const int64_t i = (int64_t)tok[k];
      const double pr = q[i] / suffix[k];
      uint32_t tries;
      // the last token with mass takes the rest (pr == 1 exactly there)
      const double x =
          pr >= 1.0 ? left
                    : binomial(left, pr, make_stream(key, replica, gen, tag, (uint32_t)i), tries);
      c[i] = x;
      left -= x;
    }
  }

  // Walker's alias table of the law q (unnormalised) over its support, by
  // Vose's method: the support is the S tokens with q > 0, in token order;
  // column s < S belongs to token tok[s], which keeps it with probability
  // prob[s], else gives it to token alias[s]. Finding the support is one
  // compare per token (no branch); the table itself is O(S), so a collapsed
  // model pays for its support, not for K. With full support (S = K) this
  // is the table over all K tokens. work: S (the small stack grows up from
  // 0, the large one down from S - 1; together they never hold more than
  // S). Returns S.
  MADSIM_HD static int64_t alias_table(int64_t K, const double* q, double* prob, double* tok,
                                       double* alias, double* work) {
    int64_t S = 0;
    for (int64_t i = 0; i < K; ++i) {
      tok[S] = (double)i;
      S += q[i] > 0.0 ? 1 : 0;
    }
    // the total over the support only: adding the zeros would not change it
    double total = 0.0;
    for (int64_t s = 0; s < S; ++s) total += q[(int64_t)tok[s]];
    const double scale = (double)S / total;
    int64_t ns = 0, nl = 0;
    for (int64_t s = 0; s < S; ++s) {
      prob[s] = q[(int64_t)tok[s]] * scale;
      alias[s] = tok[s];
      if (prob[s] < 1.0)
        work[ns++] = (double)s;
      else
        work[S - 1 - nl++] = (double)s;
    }
    while (ns > 0 && nl > 0) {
      const int64_t sm = (int64_t)work[--ns], lg = (int64_t)work[S - nl];
      --nl;
      alias[sm] = tok[lg];
      prob[lg] = (prob[lg] + prob[sm]) - 1.0;
      if (prob[lg] < 1.0)
        work[ns++] = (double)lg;
      else
        work[S - 1 - nl++] = (double)lg;
    }
    // what is left is 1 up to rounding (Vose), and every column has mass:
    // it keeps its own column whole
    while (nl > 0) prob[(int64_t)work[S - nl--]] = 1.0;
    while (ns > 0) prob[(int64_t)work[--ns]] = 1.0;
    return S;
  }

  // Counts of n tokens drawn one by one from the law q (unnormalised) by
  // the alias method over its support: token j uses the uniform u_j (words
  // (0,1) of block j/2 for j even, (2,3) for j odd): x = u_j S, column
  // floor(x), its token kept when x - floor(x) < prob, else its alias
  // (kit.hpp::alias_pick). O(K) compares and O(S) for the table, O(1) per
  // token. work: 4K. Kit: where the tokens are drawn (kit.hpp).
  template <class Kit = ScalarKit>
  MADSIM_HD static void counts_tokens(int64_t K, double n, const double* q, double* c, double* work,
                                      const Stream& st) {
    double *prob = work, *tok = work + K, *alias = work + 2 * K;
    const int64_t S = alias_table(K, q, prob, tok, alias, work + 3 * K);
    for (int64_t i = 0; i < K; ++i) c[i] = 0.0;
    // full support: column i is token i, and the picks skip the map (its
    // loads cost up to ~10% at K = 10^4 where every token lives)
    Kit::alias_tokens(S, (uint64_t)n, prob, S == K ? nullptr : tok, alias, c, st);
  }

  // Which exact method draws n tokens from q: token by token (alias) while
  // that is cheaper than one conditional binomial per token with mass
  // (measured: a binomial costs about as much as 4-8 alias draws plus the
  // table; with both over the support, the binomials win from n ~ 8-30 x
  // support on, so 4 x support costs at most ~1.3x in between and is kept);
  // a pure function of (n, support), so both twins agree.
  MADSIM_HD static bool by_tokens(double n, const double* q, int64_t K) {
    double support = 0.0;
    for (int64_t i = 0; i < K; ++i) support += q[i] > 0.0 ? 1.0 : 0.0;
    return n <= 4.0 * support;
  }

  template <class Kit = ScalarKit>
  MADSIM_HD static void draw_counts(const Params& p, bool real, double n, const double* q,
                                    double* c, double* work, u32x2 key, uint32_t replica,
                                    uint32_t gen) {
    const Stream tokens = make_stream(key, replica, gen, real ? TAG_REAL : TAG_SAMPLES, 0);
    if (p.path == SAMPLES || by_tokens(n, q, p.K)) {
      counts_tokens<Kit>(p.K, n, q, c, work, tokens);
    } else {
      counts_exact(p.K, n, q, c, work, key, replica, gen, real ? TAG_REAL : TAG_SCATTER);
    }
  }

  // Tokens that survive the filter: Binomial(c, 1 - drop).
  MADSIM_HD static double survivors(double c, double drop, u32x2 key, uint32_t replica,
                                    uint32_t gen, uint32_t site) {
    if (drop <= 0.0 || c <= 0.0) return c;
    uint32_t tries;
    return binomial(c, 1.0 - drop, make_stream(key, replica, gen, TAG_FILTER, site), tries);
  }

  // A probability below DBL_MIN (subnormal: only a tiny smoothing gets
  // there) is 0: XLA flushes subnormals, and the twins must agree on which
  // tokens are alive.
  MADSIM_HD static double normal_or_zero(double v) { return v >= DBL_MIN ? v : 0.0; }

  // Model t from the real and synthetic counts (totals nr, ns); false (model
  // kept) when there is nothing to fit.
  MADSIM_HD static bool fit(const Params& p, const double* real, double nr, const double* syn,
                            double ns, double* prob) {
    const int64_t K = p.K;
    if (p.weight >= 0.0) {
      if (nr < 1.0 || ns < 1.0) return false;
      const double w = p.weight;
      for (int64_t i = 0; i < K; ++i)
        prob[i] = normal_or_zero(w * (real[i] / nr) + (1.0 - w) * (syn[i] / ns));
      return true;
    }
    const double a = p.smoothing, total = nr + ns + (double)K * a;
    if (nr + ns < 1.0 && a <= 0.0) return false;
    for (int64_t i = 0; i < K; ++i) prob[i] = normal_or_zero((real[i] + syn[i] + a) / total);
    return true;
  }

  MADSIM_HD static void init(const Params& p, double* state, u32x2 key, uint32_t replica,
                             double* scratch) {
    const int64_t K = p.K, S = state_size(p);
    for (int64_t i = 0; i < S; ++i) state[i] = 0.0;
    for (int64_t i = 0; i < K; ++i) state[i] = p.truth[i];
    if (p.loop == AUGMENT) {
      double* lp = state + loop_at(p);
      const double c = survivors(p.real_fixed, p.fpr, key, replica, 0, 1);
      draw_counts(p, true, c, p.truth, lp, scratch, key, replica, 0);
      lp[K] = c;
    }
  }

  // Kit: where token draws come from (kit.hpp; the CPU passes its lanes).
  template <class Kit = ScalarKit>
  MADSIM_HD static void step(const Params& p, double* state, u32x2 key, uint32_t replica,
                             uint32_t t, double* scratch) {
    const int64_t K = p.K;
    // work (4K) starts at idx: the sort order is spent once q is built
    double *q = scratch, *syn = scratch + K, *real = scratch + 2 * K, *idx = scratch + 3 * K,
           *work = idx;
    const double m_t = p.counts[2 * (int64_t)(t - 1)], k_t = p.counts[2 * (int64_t)(t - 1) + 1];
    const double k = survivors(k_t, p.tpr, key, replica, t, 0);
    const double m = p.loop == AUGMENT ? 0.0 : survivors(m_t, p.fpr, key, replica, t, 1);
    double* cnt = state + counts_at(p);
    double* lp = state + loop_at(p);
    // synthetic tokens come from model t-1: draw them before the fit
    if (k > 0.0) {
      sampling_law(p, state, q, idx);
      draw_counts<Kit>(p, false, k, q, syn, work, key, replica, t);
    } else {
      for (int64_t i = 0; i < K; ++i) syn[i] = 0.0;
    }
    if (p.loop == AUGMENT) {
      for (int64_t i = 0; i < K; ++i) real[i] = lp[i];
    } else if (p.loop != REPLACE) {
      draw_counts<Kit>(p, true, m, p.truth, real, work, key, replica, t);
    } else {
      for (int64_t i = 0; i < K; ++i) real[i] = 0.0;
    }
    const double nr = p.loop == AUGMENT ? lp[K] : m;
    bool ok;
    if (p.loop == ACCUMULATE) {
      for (int64_t i = 0; i < K; ++i) {
        lp[i] += real[i] + syn[i];
        real[i] = 0.0;
      }
      lp[K] += nr;
      lp[K + 1] += k;
      ok = fit(p, lp, lp[K] + lp[K + 1], real, 0.0, state);
      cnt[0] = lp[K];
      cnt[1] = lp[K + 1];
    } else if (p.loop == SUBSAMPLE) {
      for (int64_t i = 0; i < K; ++i) {
        lp[i] += real[i];
        lp[K + i] += syn[i];
      }
      double got_real, got_syn;
      subsample(p, lp, real, syn, got_real, got_syn, scratch + 7 * K, key, replica, t);
      ok = fit(p, real, got_real, syn, got_syn, state);
      cnt[0] = got_real;
      cnt[1] = got_syn;
    } else {
      ok = fit(p, real, nr, syn, k, state);
      cnt[0] = nr;
      cnt[1] = k;
    }
    if (!ok) cnt[2] += 1.0;
  }

  // n picks without replacement from the pool's 2K classes (pool: real
  // counts K, then synthetic K) into real / syn counts (subset.hpp; picks on
  // TAG_SUBSET site 0, block j the j-th). w: 2K + 1 scratch, then 2K more.
  MADSIM_HD static void subsample(const Params& p, const double* pool, double* real, double* syn,
                                  double& got_real, double& got_syn, double* w, u32x2 key,
                                  uint32_t replica, uint32_t t) {
    const int64_t K = p.K;
    double* out = w + 2 * K + 1;
    draw_subset(pool, 2 * K, (double)p.subsample_n, out, w,
                make_stream(key, replica, t, TAG_SUBSET, 0));
    got_real = got_syn = 0.0;
    for (int64_t i = 0; i < K; ++i) {
      real[i] = out[i];
      syn[i] = out[K + i];
      got_real += real[i];
      got_syn += syn[i];
    }
  }

  MADSIM_HD static void observe(const Params& p, const double* state, double* out, uint32_t need,
                                double* scratch) {
    const int64_t K = p.K;
    if (need & 2u)
      for (int64_t i = 0; i < K; ++i) out[i] = state[i];
    if (need & 1u) {
      const double* cnt = state + counts_at(p);
      for (int k = 0; k < 3; ++k) out[K + k] = cnt[k];
    }
    if (need >> 2) observe_metrics(p, state, out + metrics_at(p), need >> 2, scratch);
  }

  MADSIM_HD_NOINLINE static void observe_metrics(const Params& p, const double* state, double* o,
                                                 uint32_t metrics, double* scratch) {
    for (int32_t m = 0; m < N_TOKEN_METRICS; ++m)
      if ((metrics >> m) & 1u) o[m] = token_metric(m, state, p.truth, p.rare, p.K, scratch);
  }
};

}  // namespace madsim
