// Rate metrics of a bigram (Markov chain) token model P [K x K] (row i: the
// law of the token after token i) against the truth P0 [K x K], weighted by
// the truth's stationary law pi0 [K] (fixed: the rates of text drawn from the
// truth), for the observe() of Bigram, host and device. Definitions:
// docs/guide/bigram.md; the JAX twin is python/madsim/reference/bigram.py.
//
// Every value is defined for every model (no NaN): a KL rate whose support
// condition fails in a row of positive weight is +inf.
#pragma once
#include <math.h>

#include "hd.hpp"

namespace madsim {

enum BigramMetric : int32_t {
  B_ENTROPY_RATE = 0,     // sum_i pi0_i H(P[i]) (nats per token)
  B_KL_RATE_TRUTH_MODEL,  // sum_i pi0_i KL(P0[i] || P[i]): excess cross-entropy on real text
  B_KL_RATE_MODEL_TRUTH,  // sum_i pi0_i KL(P[i] || P0[i])
  B_TV_RATE,              // sum_i pi0_i (1/2) sum_j |P[i, j] - P0[i, j]|
  B_EDGES,                // transitions with P[i, j] > 0
  B_TOKENS_ALIVE,         // tokens j with P[i, j] > 0 for some i
  N_BIGRAM_METRICS
};
// Their names (observe_names; madsim.families.bigram.BIGRAM_METRICS).
constexpr const char* BIGRAM_METRIC_NAMES[N_BIGRAM_METRICS] = {
    "entropy_rate", "kl_rate_truth_model", "kl_rate_model_truth", "tv_rate",
    "edges",        "tokens_alive"};

constexpr double BIGRAM_INF = (double)INFINITY;

// One metric (BigramMetric m); needs no scratch.
MADSIM_HD double bigram_metric(int32_t m, const double* P, const double* P0, const double* pi0,
                               int64_t K) {
  double acc = 0.0;
  switch (m) {
    case B_ENTROPY_RATE:
      for (int64_t i = 0; i < K; ++i) {
        if (!(pi0[i] > 0.0)) continue;
        double h = 0.0;
        for (int64_t j = 0; j < K; ++j) {
          const double x = P[i * K + j];
          if (x > 0.0) h -= x * log(x);
        }
        acc += pi0[i] * h;
      }
      return acc;
    case B_KL_RATE_TRUTH_MODEL:
      for (int64_t i = 0; i < K; ++i) {
        if (!(pi0[i] > 0.0)) continue;
        double kl = 0.0;
        for (int64_t j = 0; j < K; ++j) {
          const double a = P0[i * K + j], b = P[i * K + j];
          if (!(a > 0.0)) continue;
          if (!(b > 0.0)) return BIGRAM_INF;
          kl += a * log(a / b);
        }
        acc += pi0[i] * kl;
      }
      return acc;
    case B_KL_RATE_MODEL_TRUTH:
      for (int64_t i = 0; i < K; ++i) {
        if (!(pi0[i] > 0.0)) continue;
        double kl = 0.0;
        for (int64_t j = 0; j < K; ++j) {
          const double a = P[i * K + j], b = P0[i * K + j];
          if (!(a > 0.0)) continue;
          if (!(b > 0.0)) return BIGRAM_INF;
          kl += a * log(a / b);
        }
        acc += pi0[i] * kl;
      }
      return acc;
    case B_TV_RATE:
      for (int64_t i = 0; i < K; ++i) {
        double tv = 0.0;
        for (int64_t j = 0; j < K; ++j) tv += fabs(P[i * K + j] - P0[i * K + j]);
        acc += pi0[i] * 0.5 * tv;
      }
      return acc;
    case B_EDGES:
      for (int64_t i = 0; i < K * K; ++i) acc += P[i] > 0.0 ? 1.0 : 0.0;
      return acc;
    case B_TOKENS_ALIVE:
      for (int64_t j = 0; j < K; ++j) {
        bool alive = false;
        for (int64_t i = 0; i < K && !alive; ++i) alive = P[i * K + j] > 0.0;
        acc += alive ? 1.0 : 0.0;
      }
      return acc;
    default:
      return 0.0;
  }
}

}  // namespace madsim
