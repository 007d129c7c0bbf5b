// Raw words -> numbers. Each transform is a pure function of its words, exposed
// through madsim.rng and re-derived from the raw stream in tests/test_rng_*.
#pragma once
#include <math.h>

#include "detmath.hpp"
#include "hd.hpp"

namespace madsim {

constexpr double TWO_PI = 6.283185307179586476925286766559;

// Uniform on the OPEN interval (0, 1) from two words: the top 52 bits of
// (hi:lo) as k, u = (k + 0.5) 2^-52. k + 0.5 is exact in a double, so u is
// never 0 or 1 (log(u) and log(1-u) are always finite); min 2^-53.
MADSIM_HD double uniform52(uint32_t lo, uint32_t hi) {
  const uint64_t k = ((((uint64_t)hi) << 32) | lo) >> 12;
  return ((double)k + 0.5) * 2.220446049250313080847263336181640625e-16;  // 2^-52
}

// The same over an ops type O (detmath.hpp), words in the low 32 bits of U:
// k + 0.5 as 2^52 + k (k in the mantissa, exact) minus 2^52 - 1/2 (exact), so
// no 64-bit integer to double conversion (which SIMD before AVX-512 lacks).
template <class O>
MADSIM_HD typename O::V uniform52_t(typename O::U lo, typename O::U hi) {
  const typename O::U k = ((hi << 32) | lo) >> 12;
  return (O::from_bits(O::splat_u(detmath_const::EXP_BIAS) | k) - O::splat(4503599627370495.5)) *
         O::splat(2.220446049250313080847263336181640625e-16);
}

// Uniform on (0, 1) open from one word: (w + 0.5) 2^-32. For acceptance tests
// and angles, where 32 bits are plenty.
MADSIM_HD double uniform32(uint32_t w) {
  return ((double)w + 0.5) * 2.3283064365386962890625e-10;  // 2^-32
}

template <class O>
MADSIM_HD typename O::V uniform32_t(typename O::U w) {
  return (O::from_bits(O::splat_u(detmath_const::EXP_BIAS) | w) - O::splat(4503599627370495.5)) *
         O::splat(2.3283064365386962890625e-10);
}

// Box-Muller: two independent N(0,1) from a radius uniform and an angle
// uniform. The radius uniform carries 52 bits, so |z| reaches 8.57. ln, cos
// and sin are detmath.hpp's, the angle reduced on u_angle: the same bits in
// scalar code, SIMD lanes, any x86-64 and CUDA device code (--fmad=false).
template <class O>
MADSIM_HD void normal_pair_t(typename O::V u_radius, typename O::V u_angle, typename O::V& z_cos,
                             typename O::V& z_sin) {
  const typename O::V r = O::sqrt(O::splat(-2.0) * det_log_t<O>(u_radius));
  typename O::V c, s;
  det_sincos_2pi_t<O>(u_angle, c, s);
  z_cos = r * c;
  z_sin = r * s;
}

MADSIM_HD void normal_pair(double u_radius, double u_angle, double& z_cos, double& z_sin) {
  normal_pair_t<ScalarOps>(u_radius, u_angle, z_cos, z_sin);
}

// ln k! exactly from a table below 20, by the Stirling series beyond
// (truncation error < 1.2e-15 for k >= 20). Own implementation because
// std::lgamma writes the global `signgam` (a data race across threads) and
// the device and JAX twins must compute the same thing.
MADSIM_HD double log_factorial(double k) {
  const double table[20] = {0.0,
                            0.0,
                            0.693147180559945,
                            1.7917594692280554,
                            3.178053830347945,
                            4.787491742782047,
                            6.579251212010102,
                            8.525161361065415,
                            10.604602902745249,
                            12.801827480081467,
                            15.104412573075514,
                            17.502307845873887,
                            19.987214495661885,
                            22.55216385312342,
                            25.191221182738683,
                            27.89927138384089,
                            30.671860106080672,
                            33.50507345013689,
                            36.39544520803305,
                            39.339884187199495};
  if (k < 20.0) return table[(int)k];
  const double x = k + 1.0, x2 = x * x;
  // ln Gamma(x) = (x - 1/2) ln x - x + ln(2 pi)/2 + 1/(12x) - 1/(360x^3) + 1/(1260x^5) -
  // 1/(1680x^7)
  const double series =
      (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0) / x2) / x2) / x2) / x;
  return (x - 0.5) * log(x) - x + 0.91893853320467274178032973640562 + series;
}

}  // namespace madsim
