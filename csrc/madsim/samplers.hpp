// Samplers built on the transforms. Each rejection sampler owns its stream:
// try i uses block i, so the number of rejections never shifts another draw.
#pragma once
#include "stream.hpp"
#include "transforms.hpp"

namespace madsim {

// Standard normals of a stream, two per block: normal 2b is the cosine and
// 2b+1 the sine of Box-Muller on block b, radius from words (0,1), angle from
// words (2,3), both uniform52.
MADSIM_HD void normals_of_block(u32x4 w, double& z0, double& z1) {
  normal_pair(uniform52(w.v[0], w.v[1]), uniform52(w.v[2], w.v[3]), z0, z1);
}

// One Marsaglia-Tsang try on block words w0..w3 (low 32 bits of O::U), with
// d = alpha - 1/3, c = 1 / sqrt(9 d): x and the spare normal, v1 = 1 + c x,
// v = v1^3, the acceptance uniform u, value = d v, and `squeezed`, the mask of
// tries accepted by the squeeze (v1 > 0 and u < 1 - 0.0331 x^4); the rest go
// to gamma_accept_t. One definition for scalar code and SIMD lanes
// (cpu/lanes.hpp), so both give the same bits.
template <class O>
MADSIM_HD void gamma_try_t(typename O::V d, typename O::V c, typename O::U w0, typename O::U w1,
                           typename O::U w2, typename O::U w3, typename O::V& x,
                           typename O::V& spare, typename O::V& v1, typename O::V& v,
                           typename O::V& u, typename O::V& value, typename O::U& squeezed) {
  typedef typename O::V V;
  normal_pair_t<O>(uniform52_t<O>(w0, w1), uniform32_t<O>(w2), x, spare);
  v1 = O::splat(1.0) + c * x;
  v = v1 * v1 * v1;
  u = uniform32_t<O>(w3);
  const V x2 = x * x;
  value = d * v;
  squeezed = O::less(O::splat(0.0), v1) & O::less(u, O::splat(1.0) - O::splat(0.0331) * x2 * x2);
}

// The exact acceptance test of a try (v1 > 0 and ln u < x^2/2 + d (1 - v + ln v)).
template <class O>
MADSIM_HD typename O::U gamma_accept_t(typename O::V d, typename O::V x, typename O::V v1,
                                       typename O::V v, typename O::V u) {
  return O::less(O::splat(0.0), v1) &
         O::less(det_log_t<O>(u),
                 O::splat(0.5) * (x * x) + d * (O::splat(1.0) - v + det_log_t<O>(v)));
}

// Gamma(alpha, 1) by Marsaglia & Tsang (ACM TOMS 26(3), 2000), alpha > 0.
// Try i uses block i of `s`: its normal is the Box-Muller cosine of radius
// uniform52(w0,w1) and angle uniform32(w2); its acceptance uniform is
// uniform32(w3). The sine of try 0 is independent of the returned variate
// (the variate is a function of the cosines and acceptance uniforms only) and
// is handed out in `spare_normal`, so one block usually buys a chi-square and
// a normal. alpha < 1 uses Gamma(alpha+1) U^(1/alpha) with U = uniform52 of
// words (0,1) of block BLOCK_MAX. `tries` returns the blocks used. `first`:
// the tries before it are known rejected (a SIMD lane ran try 0) and are not
// rerun: the same variate, spare_normal then not written.
MADSIM_HD double gamma_mt(double alpha, const Stream& s, double& spare_normal, uint32_t& tries,
                          uint32_t first = 0) {
  const double boosted = alpha < 1.0 ? alpha + 1.0 : alpha;
  const double d = boosted - 1.0 / 3.0;
  const double c = 1.0 / sqrt(9.0 * d);
  double result = 0.0;
  for (uint32_t i = first; i < BLOCK_MAX; ++i) {
    const u32x4 w = s.block(i);
    double x, spare, v1, v, u, value;
    uint64_t squeezed;
    gamma_try_t<ScalarOps>(d, c, w.v[0], w.v[1], w.v[2], w.v[3], x, spare, v1, v, u, value,
                           squeezed);
    if (i == 0) spare_normal = spare;
    // Squeeze first (no log); then the exact test.
    if (squeezed || gamma_accept_t<ScalarOps>(d, x, v1, v, u)) {
      result = value;
      tries = i + 1;
      break;
    }
  }
  if (alpha < 1.0) {
    const u32x4 w = s.block(BLOCK_MAX);
    result *= exp(log(uniform52(w.v[0], w.v[1])) / alpha);
  }
  return result;
}

// The spare normal gamma_mt hands out for stream s (the sine of try 0), without
// the variate: for a caller that needs it where no variate is drawn.
MADSIM_HD double gamma_spare_normal(const Stream& s) {
  const u32x4 w = s.block(0);
  double x, spare;
  normal_pair_t<ScalarOps>(uniform52_t<ScalarOps>(w.v[0], w.v[1]), uniform32_t<ScalarOps>(w.v[2]),
                           x, spare);
  return spare;
}

// Chi-square with k > 0 degrees of freedom = 2 Gamma(k/2).
MADSIM_HD double chisquare(double k, const Stream& s, double& spare_normal, uint32_t& tries) {
  return 2.0 * gamma_mt(0.5 * k, s, spare_normal, tries);
}

// chisquare's variate where its first try (k / 2 >= 1, not boosted) was
// rejected, from try 1 on: the SIMD lanes' rerun of a rejected lane, which
// then does not repeat try 0's Philox block, logarithms and sincos.
MADSIM_HD double chisquare_after_first(double k, const Stream& s) {
  double spare;
  uint32_t tries;
  return 2.0 * gamma_mt(0.5 * k, s, spare, tries, 1);
}

// Binomial(n, p), exact. With m = min(p, 1-p) (the result mirrored when
// p > 1/2): n m < 10 -> inversion by sequential search on uniform52 of words
// (0,1) of block 0 (one try, expected n m + 1 steps); otherwise BTRS, the
// transformed rejection with squeeze of Hormann (J. Stat. Comput. Simul. 46,
// 1993), try i on block i: u = uniform52(w0,w1) - 1/2, v = uniform52(w2,w3).
// Cost O(1) in n. n up to 2^53.
MADSIM_HD double binomial(double n, double p, const Stream& s, uint32_t& tries) {
  tries = 0;
  if (n <= 0.0 || p <= 0.0) return 0.0;
  if (p >= 1.0) return n;
  const bool flip = p > 0.5;
  const double pp = flip ? 1.0 - p : p;
  const double q = 1.0 - pp;
  double k = 0.0;
  if (n * pp < 10.0) {
    const u32x4 w = s.block(0);
    double u = uniform52(w.v[0], w.v[1]);
    const double ratio = pp / q;
    double prob = exp(n * log1p(-pp));  // P(K = 0)
    tries = 1;
    // prob < 1e-300: the tail left is below any u the search can still hold
    // (rounding residue); stop instead of walking toward n.
    while (u > prob && k < n && prob >= 1e-300) {
      u -= prob;
      k += 1.0;
      prob *= ratio * (n - k + 1.0) / k;
    }
  } else {
    const double spq = sqrt(n * pp * q);
    const double b = 1.15 + 2.53 * spq;
    const double a = -0.0873 + 0.0248 * b + 0.01 * pp;
    const double c = n * pp + 0.5;
    const double v_r = 0.92 - 4.2 / b;
    const double alpha = (2.83 + 5.1 / b) * spq;
    const double lpq = log(pp / q);
    const double m = floor((n + 1.0) * pp);
    const double h = log_factorial(m) + log_factorial(n - m);
    for (uint32_t i = 0; i < BLOCK_MAX; ++i) {
      const u32x4 w = s.block(i);
      const double u = uniform52(w.v[0], w.v[1]) - 0.5;
      double v = uniform52(w.v[2], w.v[3]);
      const double us = 0.5 - fabs(u);
      const double kk = floor((2.0 * a / us + b) * u + c);
      if (kk < 0.0 || kk > n) continue;
      if (us >= 0.07 && v <= v_r) {
        k = kk;
        tries = i + 1;
        break;
      }
      v = log(v * alpha / (a / (us * us) + b));
      if (v <= h - log_factorial(kk) - log_factorial(n - kk) + (kk - m) * lpq) {
        k = kk;
        tries = i + 1;
        break;
      }
    }
  }
  return flip ? n - k : k;
}

// Poisson(mean), exact, mean >= 0. mean < 10: inversion by sequential search
// on uniform52 of words (0,1) of block 0 (one try, expected mean + 1 steps);
// otherwise PTRS, the transformed rejection with squeeze of Hormann ("The
// transformed rejection method for generating Poisson random variables",
// Insurance: Mathematics and Economics 12, 1993), try i on block i:
// u = uniform52(w0,w1) - 1/2, v = uniform52(w2,w3); acceptance ~ 0.9 or more,
// cost O(1) in the mean. `tries` returns the blocks used. Values are exact
// integers for means up to ~2^52.
MADSIM_HD double poisson(double mean, const Stream& s, uint32_t& tries) {
  tries = 0;
  if (!(mean > 0.0)) return 0.0;
  double k = 0.0;
  if (mean < 10.0) {
    const u32x4 w = s.block(0);
    double u = uniform52(w.v[0], w.v[1]);
    double prob = exp(-mean);  // P(K = 0) > 4.5e-5
    tries = 1;
    // prob < 1e-300: the tail left is below any u the search can still hold
    // (rounding residue); stop instead of walking on.
    while (u > prob && prob >= 1e-300) {
      u -= prob;
      k += 1.0;
      prob *= mean / k;
    }
    return k;
  }
  const double slam = sqrt(mean);
  const double loglam = log(mean);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  const double v_r = 0.9277 - 3.6224 / (b - 2.0);
  for (uint32_t i = 0; i < BLOCK_MAX; ++i) {
    const u32x4 w = s.block(i);
    const double u = uniform52(w.v[0], w.v[1]) - 0.5;
    const double v = uniform52(w.v[2], w.v[3]);
    const double us = 0.5 - fabs(u);
    const double kk = floor((2.0 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= v_r) {  // the squeeze: accepted without a log
      k = kk;
      tries = i + 1;
      break;
    }
    if (kk < 0.0 || (us < 0.013 && v > us)) continue;
    if (log(v * inv_alpha / (a / (us * us) + b)) <= -mean + kk * loglam - log_factorial(kk)) {
      k = kk;
      tries = i + 1;
      break;
    }
  }
  return k;
}

}  // namespace madsim
