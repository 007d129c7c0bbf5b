// Diversity and distance metrics of a token distribution p [K] against the
// truth p0 [K] (generation 0), for the observe() of the token families,
// host and device. Definitions: docs/guide/categorical.md; the JAX twin is
// python/madsim/reference/token_metrics.py.
//
// Every value is defined for every distribution (no NaN): a KL whose support
// condition fails is +inf, the Zipf exponent of a one-token distribution is
// +inf (the limit of p_r ~ r^-s as all mass goes to rank 1).
#pragma once
#include <math.h>

#include "hd.hpp"
#include "sort.hpp"

namespace madsim {

enum TokenMetric : int32_t {
  C_ENTROPY = 0,     // -sum p ln p (nats)
  C_SUPPORT,         // tokens with p > 0
  C_GINI_SIMPSON,    // 1 - sum p^2
  C_RARE_MASS,       // sum of p over the truth's rarest tokens (Params::rare)
  C_MAX_PROB,        // max p
  C_TV,              // (1/2) sum |p - p0|
  C_KL_MODEL_TRUTH,  // sum p ln(p / p0)
  C_KL_TRUTH_MODEL,  // sum p0 ln(p0 / p)
  C_ZIPF_EXPONENT,   // -(least-squares slope of ln p_(r) on ln r over the support)
  N_TOKEN_METRICS
};
// Their names (observe_names; madsim.families.categorical.TOKEN_METRICS).
constexpr const char* TOKEN_METRIC_NAMES[N_TOKEN_METRICS] = {
    "entropy", "support",        "gini_simpson",   "rare_mass",    "max_prob",
    "tv",      "kl_model_truth", "kl_truth_model", "zipf_exponent"};

constexpr double TOKEN_INF = (double)INFINITY;

// Zipf exponent s of p: sort the positive probabilities descending (p_(1) >=
// p_(2) >= ...), fit ln p_(r) = a - s ln r by ordinary least squares over
// r = 1..S. sorted: K scratch.
MADSIM_HD double zipf_exponent(const double* p, int64_t K, double* sorted) {
  int64_t S = 0;
  for (int64_t i = 0; i < K; ++i)
    if (p[i] > 0.0) sorted[S++] = p[i];
  if (S < 2) return TOKEN_INF;
  heap_sort(sorted, S, Desc());
  double sx = 0.0, sy = 0.0;
  for (int64_t r = 0; r < S; ++r) {
    sx += log((double)(r + 1));
    sy += log(sorted[r]);
  }
  const double mx = sx / (double)S, my = sy / (double)S;
  double sxy = 0.0, sxx = 0.0;
  for (int64_t r = 0; r < S; ++r) {
    const double dx = log((double)(r + 1)) - mx;
    sxy += dx * (log(sorted[r]) - my);
    sxx += dx * dx;
  }
  return 0.0 - sxy / sxx;  // +0, not -0, for a flat distribution
}

// One metric (TokenMetric m). scratch: K doubles (the Zipf fit's sort).
MADSIM_HD double token_metric(int32_t m, const double* p, const double* p0, const double* rare,
                              int64_t K, double* scratch) {
  double acc = 0.0;
  switch (m) {
    case C_ENTROPY:
      for (int64_t i = 0; i < K; ++i)
        if (p[i] > 0.0) acc -= p[i] * log(p[i]);
      return acc;
    case C_SUPPORT:
      for (int64_t i = 0; i < K; ++i) acc += p[i] > 0.0 ? 1.0 : 0.0;
      return acc;
    case C_GINI_SIMPSON:
      for (int64_t i = 0; i < K; ++i) acc += p[i] * p[i];
      return 1.0 - acc;
    case C_RARE_MASS:
      for (int64_t i = 0; i < K; ++i)
        if (rare[i] != 0.0) acc += p[i];
      return acc;
    case C_MAX_PROB:
      for (int64_t i = 0; i < K; ++i) acc = p[i] > acc ? p[i] : acc;
      return acc;
    case C_TV:
      for (int64_t i = 0; i < K; ++i) acc += fabs(p[i] - p0[i]);
      return 0.5 * acc;
    case C_KL_MODEL_TRUTH:
      for (int64_t i = 0; i < K; ++i) {
        if (!(p[i] > 0.0)) continue;
        if (!(p0[i] > 0.0)) return TOKEN_INF;
        acc += p[i] * log(p[i] / p0[i]);
      }
      return acc;
    case C_KL_TRUTH_MODEL:
      for (int64_t i = 0; i < K; ++i) {
        if (!(p0[i] > 0.0)) continue;
        if (!(p[i] > 0.0)) return TOKEN_INF;
        acc += p0[i] * log(p0[i] / p[i]);
      }
      return acc;
    case C_ZIPF_EXPONENT:
      return zipf_exponent(p, K, scratch);
    default:
      return 0.0;
  }
}

}  // namespace madsim
