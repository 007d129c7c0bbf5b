// Sufficient statistics of 1-D training data: the currency between the loops
// (which data a generation trains on) and the fits. Pooling is exact
// (Chan, Golub, LeVeque 1979), so real and synthetic parts, or an accumulated
// pool, combine without revisiting samples.
#pragma once
#include "hd.hpp"

namespace madsim {

struct Moments1 {
  double count;    // number of points
  double mean;     // their mean
  double scatter;  // sum of squared deviations from `mean`
};

MADSIM_HD Moments1 pool(Moments1 a, Moments1 b) {
  const double n = a.count + b.count;
  const double delta = b.mean - a.mean;
  Moments1 out;
  out.count = n;
  out.mean = a.mean + delta * (b.count / n);
  out.scatter = a.scatter + b.scatter + delta * delta * (a.count * b.count / n);
  return out;
}

}  // namespace madsim

// d-dimensional sufficient statistics, stored flat as
//   [count | mean[d] | scatter, packed lower triangle (linalg.hpp)]
// so they live in a state row or in scratch. Pooling as above (Chan et al.).
MADSIM_HD int moments_size(int d) { return 1 + d + d * (d + 1) / 2; }

MADSIM_HD void moments_clear(double* m, int d) {
  for (int i = 0; i < moments_size(d); ++i) m[i] = 0.0;
}

// a <- pool(a, b); b may be empty (count 0), a may be empty.
MADSIM_HD void moments_pool(double* a, const double* b, int d) {
  const double na = a[0], nb = b[0];
  if (nb == 0.0) return;
  if (na == 0.0) {
    for (int i = 0; i < moments_size(d); ++i) a[i] = b[i];
    return;
  }
  const double n = na + nb, w = na * nb / n;
  double* am = a + 1;
  const double* bm = b + 1;
  double* as = a + 1 + d;
  const double* bs = b + 1 + d;
  for (int i = 0, k = 0; i < d; ++i)
    for (int j = 0; j <= i; ++j, ++k) as[k] += bs[k] + (bm[i] - am[i]) * (bm[j] - am[j]) * w;
  for (int i = 0; i < d; ++i) am[i] += (bm[i] - am[i]) * (nb / n);
  a[0] = n;
}
