// Deterministic log and sin/cos for the host: the same bits on every x86-64
// (SSE2 or AVX2), in scalar code and in SIMD lanes. libm's log/sin/cos differ
// between libm versions and cannot be vectorised by the compiler; these are
// written once over a number type V (double, or a GCC vector of doubles in
// csrc/cpu/lanes.hpp) with only +, -, *, /, sqrt and integer bit operations,
// each rounded per IEEE 754 (built with -ffp-contract=off: no FMA), so every
// instantiation computes the same numbers. The polynomials are fdlibm's
// (Sun Microsystems, 1993, as kept in musl: __log, __sin, __cos kernels).
//
// Accuracy (tests/test_detmath.py, against mpmath):
//   det_log(x)           x normal, x > 0: < 1 ulp (observed 0.86)
//   det_sincos_2pi(u)    cos(2 pi u), sin(2 pi u) for u in [0, 1]: < 2 ulp
//                        (observed 1.71), zeros exact; the reduction is done
//                        on u (4u - q is exact), so no large-argument error.
// libm's cos(2 pi u) rounds 2 pi u first (an absolute error up to 4.4e-16 in
// the angle); this is closer to the exact value than that.
//
// An ops type O (ScalarOps below; cpu::VecOps for lanes) supplies V (the
// floating type), U (64-bit integers, one per value), bit casts between them,
// splat (a constant in every lane), sqrt, and less (a comparison as a mask).
#pragma once
#include <math.h>
#include <string.h>

#include "hd.hpp"

namespace madsim {

namespace detmath_const {
constexpr double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
constexpr double LG1 = 6.666666666666735130e-01, LG2 = 3.999999999940941908e-01,
                 LG3 = 2.857142874366239149e-01, LG4 = 2.222219843214978396e-01,
                 LG5 = 1.818357216161805012e-01, LG6 = 1.531383769920937332e-01,
                 LG7 = 1.479819860511658591e-01;
constexpr double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03,
                 S3 = -1.98412698298579493134e-04, S4 = 2.75573137070700676789e-06,
                 S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
constexpr double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03,
                 C3 = 2.48015872894767294178e-05, C4 = -2.75573143513906633035e-07,
                 C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
constexpr double PI_2 = 1.57079632679489661923;  // pi / 2 rounded
constexpr double ROUND = 6755399441055744.0;     // 1.5 * 2^52: x + ROUND - ROUND rounds to integer
constexpr uint64_t EXP_BIAS = 0x4330000000000000ull;  // bits of 2^52
}  // namespace detmath_const

// Scalar operations; csrc/cpu/lanes.hpp gives the same for vectors.
struct ScalarOps {
  typedef double V;
  typedef uint64_t U;
  MADSIM_HD static U bits(V x) {
    U u;
    memcpy(&u, &x, 8);
    return u;
  }
  MADSIM_HD static V from_bits(U u) {
    V x;
    memcpy(&x, &u, 8);
    return x;
  }
  MADSIM_HD static V splat(double x) { return x; }
  MADSIM_HD static U splat_u(uint64_t x) { return x; }
  MADSIM_HD static V sqrt(V x) { return ::sqrt(x); }
  MADSIM_HD static U less(V a, V b) { return a < b ? ~0ull : 0ull; }  // mask: all ones if a < b
};

// ln x for normal x > 0 (no zero, negative, subnormal, inf or NaN: the
// callers pass uniforms in (0, 1) or values bounded away from both ends).
// x = 2^k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)); ln(1 + f) = f - f^2/2 +
// s (f^2/2 + R(s^2)), s = f / (2 + f).
template <class O>
MADSIM_HD typename O::V det_log_t(typename O::V x) {
  using namespace detmath_const;
  typedef typename O::V V;
  typedef typename O::U U;
  U ix = O::bits(x);
  // Shift the high word so the mantissa range [sqrt(2)/2, sqrt(2)) maps to one exponent.
  U hx = (ix >> 32) + O::splat_u(0x3ff00000u - 0x3fe6a09eu);
  const U k_biased = (hx >> 20) & O::splat_u(0xfff);  // k + 0x3ff, in [1, 0x7fe]
  hx = (hx & O::splat_u(0x000fffffu)) + O::splat_u(0x3fe6a09eu);
  ix = (hx << 32) | (ix & O::splat_u(0xffffffffu));
  const V f = O::from_bits(ix) - O::splat(1.0);
  // k as a double, exactly: 2^52 + (k + 0x3ff) has k + 0x3ff in its low bits.
  const V dk =
      O::from_bits(O::splat_u(EXP_BIAS) | k_biased) - O::splat(4503599627370496.0 + 1023.0);
  const V hfsq = O::splat(0.5) * f * f;
  const V s = f / (O::splat(2.0) + f);
  const V z = s * s;
  const V w = z * z;
  const V t1 = w * (O::splat(LG2) + w * (O::splat(LG4) + w * O::splat(LG6)));
  const V t2 = z * (O::splat(LG1) + w * (O::splat(LG3) + w * (O::splat(LG5) + w * O::splat(LG7))));
  const V R = t2 + t1;
  return s * (hfsq + R) + dk * O::splat(LN2_LO) - hfsq + f + dk * O::splat(LN2_HI);
}

// cos(2 pi u) and sin(2 pi u) for u in [0, 1]. q = round(4u) (the quadrant),
// y = (pi/2)(4u - q) in [-pi/4, pi/4] (4u - q exact), then fdlibm's kernels
// on y and the quadrant's rotation.
template <class O>
MADSIM_HD void det_sincos_2pi_t(typename O::V u, typename O::V& c_out, typename O::V& s_out) {
  using namespace detmath_const;
  typedef typename O::V V;
  typedef typename O::U U;
  const V u4 = O::splat(4.0) * u;
  const V shifted = u4 + O::splat(ROUND);
  const U q = O::bits(shifted) & O::splat_u(3);  // the quadrant mod 4
  const V y = O::splat(PI_2) * (u4 - (shifted - O::splat(ROUND)));
  const V z = y * y;
  const V w = z * z;
  const V rs = O::splat(S2) + z * (O::splat(S3) + z * O::splat(S4)) +
               z * w * (O::splat(S5) + z * O::splat(S6));
  const V sy = y + z * y * (O::splat(S1) + z * rs);
  const V rc = z * (O::splat(C1) + z * (O::splat(C2) + z * O::splat(C3))) +
               w * w * (O::splat(C4) + z * (O::splat(C5) + z * O::splat(C6)));
  const V hz = O::splat(0.5) * z;
  const V one_hz = O::splat(1.0) - hz;
  const V cy = one_hz + (((O::splat(1.0) - one_hz) - hz) + z * rc);
  // Quadrant q: (cos, sin) = (cy, sy), (-sy, cy), (-cy, -sy), (sy, -cy).
  const U odd = O::splat_u(0) - (q & O::splat_u(1));             // all ones in odd quadrants
  const U sign_c = ((q + O::splat_u(1)) & O::splat_u(2)) << 62;  // q = 1, 2: cos negative
  const U sign_s = (q & O::splat_u(2)) << 62;                    // q = 2, 3: sin negative
  const U cb = (O::bits(cy) & ~odd) | (O::bits(sy) & odd);
  const U sb = (O::bits(sy) & ~odd) | (O::bits(cy) & odd);
  c_out = O::from_bits(cb ^ sign_c);
  s_out = O::from_bits(sb ^ sign_s);
}

MADSIM_HD double det_log(double x) { return det_log_t<ScalarOps>(x); }
MADSIM_HD void det_sincos_2pi(double u, double& c, double& s) {
  det_sincos_2pi_t<ScalarOps>(u, c, s);
}

}  // namespace madsim
