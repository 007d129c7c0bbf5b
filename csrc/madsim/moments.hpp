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
