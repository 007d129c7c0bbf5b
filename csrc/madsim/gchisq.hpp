// Upper tail of a generalized (noncentral) chi-square, P(Q > t) for
//   Q = sum_j (sqrt(lam_j) Z_j + beta_j)^2,   Z_j iid N(0, 1), lam_j >= 0,
// host and device, no allocation: the d > 1 tail masses of metrics.hpp (Q is
// the squared Mahalanobis distance of a model draw from the truth's mean, in
// the eigenbasis of the whitened model covariance). lam_j = 0 is exact: the
// term is the constant beta_j^2 (a collapsed direction).
//
// Method: the Laplace inversion integral of the tail,
//   P(Q > t) = 1/(2 pi i) int_C exp(K(s) - s t) ds / s,
//   K(s) = sum_j -1/2 ln(1 - 2 lam_j s) + beta_j^2 s / (1 - 2 lam_j s),
// on a contour C through the saddle point x0 (K'(x0) = t) that wraps the
// branch points 1 / (2 lam_j) to its right, by the trapezoidal rule. Why this
// one: Imhof's / Davies' integrals are exact only to an absolute error
// (1e-10 at best: no use for the vanishing tails 1e-20 .. 1e-300 of a
// collapsing model, whose ratio to the truth's is the point of the metric),
// and Ruben's positive series needs ~lam_max / lam_min terms (unbounded for
// the ill-conditioned models collapse produces). Through the saddle every
// node is a positive multiple of the answer's own size: relative accuracy at
// any magnitude, down to underflow, and no cancellation.
//
//   Contour. s = x0 + D(v), D(v) = a (cosh v - 1) + i b sinh v, v real, with
//   b = K''(x0)^-1/2 (unit curvature: the integrand ~ exp(-v^2 / 2) near v =
//   0) and a = b tan(pi/8) (the hyperbola's asymptotes at 67.5 degrees).
//   With t_j the j-th term's share of K'(x0), each term of
//   K(s) - K(x0) - (s - x0) t splits into -1/2 (Log(1 - z) + z) and
//   gamma_j z^2 / (1 - z), z = 2 lam_j D / w_j (w_j = 1 - 2 lam_j x0), whose
//   real parts are <= 0 wherever |Im z| >= Re z: true on every such
//   hyperbola with a <= b. So |integrand| <= its value at v = 0 along the whole
//   contour for any lam, beta (no blow-up at an essential singularity, however
//   large gamma_j = beta_j^2 / (2 lam_j w_j)), and Re s grows like e^|v|, so
//   exp(-s t) ends the integral double-exponentially.
//   Nodes. The integrand is analytic in a strip |Im v| < omega_max, limited
//   by the asymptotes (Re s must keep growing: pi/8 either side of 67.5
//   degrees), by the pole s = 0 (x0 < 0), and by the branch points, which
//   never come closer (they lie >= b / sqrt 2 from x0). The trapezoidal rule's
//   error is then ~ exp(-2 pi omega / h) with omega = 0.8 omega_max, so
//   h = 2 pi omega / 40 (error ~ e^-40 of the integrand's scale); the sum
//   stops at the first node below 1e-17 of the sum (the tail beyond it is
//   double-exponentially smaller). Typically 50-110 nodes.
//   Saddle. Newton on ln K' against ln w, w = 1 - 2 lam_max s (no
//   cancellation near the branch point: the extreme tail of a narrow model
//   has w ~ lam_max / t), bracketed, bisection when a step leaves the bracket.
//   Near the centre (saddle within K''^-1/2 of 0) the pole at 0 would crowd
//   the contour: there x0 = -K''(saddle)^-1/2 is used instead (any x0 < the
//   branch points gives the same integral) and the
//   lower tail P(Q <= t) is computed (x0 < 0 encloses the pole: the integral
//   is then -P(Q <= t)), as it is wherever the saddle is < 0.
//
// Accuracy: relative to the smaller of P(Q > t) and P(Q <= t), error <=
// 1e-12 + 50 eps c, c = t (|x0| + K''(x0)^-1/2) the problem's own
// conditioning (P moves by c times a relative change of t, lam or beta^2:
// inputs rounded at eps already move it by ~eps c; 1-D: c ~ x^2 / 2, x the
// erfc argument). Observed <= 0.25 of that bound against the mpmath
// references of tests/test_tail_mahalanobis.py (chi-square and noncentral
// chi-square closed forms, Ruben's series, quadrature; d = 2 .. 50, tails
// down to 1e-236 and underflow), and <= 0.07 against a numpy transcription
// over 32000 random spectra (lam 1e-26 .. 1e8, zero terms). Cost
// O(nodes x n), n <= d + 1 terms, on top of the O(d^3) spectrum.
//
// Never NaN: P is clamped to [0, 1] only where the bound allows it (the sum
// is a relative approximation of a positive number; a value past 0 or 1 means
// the conditioning exceeded 1/eps, where every value in [0, 1] is within it).
#pragma once
#include <float.h>
#include <math.h>

#include "hd.hpp"

namespace madsim {

constexpr double GCHISQ_LAM_POINT = 1e-200;                 // lam_max below: the model is its mean
constexpr double GCHISQ_TAN_PI_8 = 0.41421356237309504880;  // a / b
constexpr double GCHISQ_PI = 3.14159265358979323846;
constexpr double GCHISQ_STRIP = 0.8;  // fraction of the analyticity strip the error estimate uses
constexpr double GCHISQ_LOG_ERR = 40.0;  // -ln(discretisation error / integrand scale)
constexpr double GCHISQ_STOP = 1e-17;    // last node's share of the sum
constexpr int GCHISQ_MAX_NODES = 2000;
constexpr int GCHISQ_MAX_NEWTON = 200;
constexpr double GCHISQ_V_TOL = 1e-10;  // Newton tolerance on ln w (the saddle need not be exact)
constexpr double GCHISQ_V_MAX = 700.0;  // |ln w| bracket: e^700 is finite

// K'(x), K''(x), K'''(x) at the point where term j has w_j = 1 - 2 lam_j x,
// as powers of lam_j / w_j and beta_j^2 / w_j^2, each formed by divisions (w_j^2
// may underflow where a tiny w_j meets beta_j = 0: 0 / 0).
struct GchisqCums {
  double k1, k2, k3;
};

MADSIM_HD GchisqCums gchisq_cums(const double* lam, const double* beta2, const double* w, int n) {
  GchisqCums c = {0.0, 0.0, 0.0};
  for (int j = 0; j < n; ++j) {
    const double lp = lam[j] / w[j], bp = beta2[j] / w[j] / w[j];
    c.k1 += lp + bp;
    c.k2 += 2.0 * lp * lp + 4.0 * lp * bp;
    c.k3 += 8.0 * lp * lp * lp + 24.0 * lp * lp * bp;
  }
  return c;
}

// w_j = (1 - rho_j) + rho_j W, rho_j = lam_j / lam_max: the w's at the point
// where w_max = W, without forming 1 - 2 lam_j s.
MADSIM_HD void gchisq_ws(const double* lam, int n, double lmax, double W, double* w) {
  for (int j = 0; j < n; ++j) {
    const double rho = lam[j] / lmax;
    w[j] = (1.0 - rho) + rho * W;
  }
}

// The saddle point's W = 1 - 2 lam_max x (K'(x) = t, lam_max > 0, t > the
// constant part): root of G(v) = ln K' - ln t in v = ln W, G decreasing with
// slope in [-2, 0]. Safeguarded Newton in [-V_MAX, V_MAX]; w: n scratch.
MADSIM_HD double gchisq_saddle_w(const double* lam, const double* beta2, int n, double lmax,
                                 double t, double* w) {
  double lo = -GCHISQ_V_MAX, hi = GCHISQ_V_MAX, v = 0.0;
  const double lt = log(t);
  for (int it = 0; it < GCHISQ_MAX_NEWTON; ++it) {
    const double W = exp(v);
    gchisq_ws(lam, n, lmax, W, w);
    const GchisqCums c = gchisq_cums(lam, beta2, w, n);
    const double g = log(c.k1) - lt;  // K' overflowed to inf (or NaN): too far right
    const double dg = -(c.k2 / c.k1) * (W / (2.0 * lmax));
    if (!(g <= 0.0))
      lo = v;
    else
      hi = v;
    // Newton where K' and K'' are finite (an overflowed K'' would fake a 0 step)
    double vn = isfinite(g) && isfinite(dg) && dg < 0.0 ? v - g / dg : NAN;
    if (fabs(vn - v) <= GCHISQ_V_TOL) return exp(vn);
    if (!(vn > lo && vn < hi)) vn = 0.5 * (lo + hi);  // NaN or outside the bracket: bisect
    if (hi - lo <= GCHISQ_V_TOL) return exp(vn);
    v = vn;
  }
  return exp(v);
}

// Smallest |Im v| at which D(v) = a (cosh v - 1) + i b sinh v equals the
// real number -x0 (the pole s = 0); pi/2 when none is that close.
MADSIM_HD double gchisq_pole_angle(double x0, double a, double b) {
  const double R = hypot(a, b), psi = atan2(a, b);
  if (x0 < 0.0) {
    const double x = (-x0 + a) / R;
    return x < 1.0 ? asin(x) - psi : GCHISQ_PI / 2;
  }
  const double x = (x0 - a) / R;
  return fabs(x) < 1.0 ? asin(x) + psi : GCHISQ_PI / 2;
}

// P(Q > t) for n terms (lam [n], beta2 [n] = beta_j^2); bsq = sum_j beta_j^2
// (Q's value when every lam_j = 0). w: 3 n doubles of scratch.
MADSIM_HD double gchisq_upper(const double* lam, const double* beta2, int n, double t, double bsq,
                              double* w) {
  double lmax = 0.0, q0 = 0.0;
  for (int j = 0; j < n; ++j) {
    lmax = fmax(lmax, lam[j]);
    if (!(lam[j] > 0.0)) q0 += beta2[j];
  }
  // The model's spread is below 1e-100 of the truth's: the ball's boundary
  // blurs by ~1e-100 |b|, far below the rounding of |b|^2 itself.
  if (!(lmax >= GCHISQ_LAM_POINT)) return bsq > t ? 1.0 : 0.0;
  if (t <= q0) return 1.0;  // Q >= q0 >= t, and Q > q0 almost surely
  double *w0 = w, *eps = w + n, *cc = w + 2 * n;
  const double W = gchisq_saddle_w(lam, beta2, n, lmax, t, w0);
  gchisq_ws(lam, n, lmax, W, w0);
  const double s_hat = (1.0 - W) / (2.0 * lmax);
  const double sig = 1.0 / sqrt(gchisq_cums(lam, beta2, w0, n).k2);
  const bool upper = s_hat >= sig;
  double x0 = s_hat;
  if (!upper && s_hat > -sig) {  // near the centre: keep the pole at 0 a spread away
    x0 = -sig;
    for (int j = 0; j < n; ++j) w0[j] = 1.0 + 2.0 * lam[j] * sig;
  }
  const GchisqCums c = gchisq_cums(lam, beta2, w0, n);
  const double g0 = c.k1 - t;  // 0 at the saddle (to rounding); < 0 at x0 = -sig
  const double b = 1.0 / sqrt(c.k2), a = GCHISQ_TAN_PI_8 * b;
  const double omega = GCHISQ_STRIP * fmin(GCHISQ_PI / 8, gchisq_pole_angle(x0, a, b));
  const double h = 2.0 * GCHISQ_PI * omega / GCHISQ_LOG_ERR;
  double e0 = -x0 * t;  // ln of the integrand's scale, K(x0) - x0 t
  for (int j = 0; j < n; ++j) {
    e0 += -0.5 * log(w0[j]) + beta2[j] * x0 / w0[j];
    eps[j] = 2.0 * lam[j] / w0[j];     // z_j = eps_j D
    cc[j] = beta2[j] / w0[j] / w0[j];  // the noncentral term's weight
  }
  double S = 0.0;
  for (int k = 0; k <= GCHISQ_MAX_NODES; ++k) {
    // one expm1 for sinh v, cosh v and cosh v - 1 = expm1(v)^2 / (2 e^v) (no cancellation)
    const double v = k * h, em = expm1(v), ev = em + 1.0;
    const double ch1 = em * em / (2.0 * ev), sh = 0.5 * (em + em / ev), ch = 1.0 + ch1;
    const double dr = a * ch1, di = b * sh;  // D(v)
    double pr = dr * g0, pi = di * g0;       // Phi = K(s) - K(x0) - (s - x0) t
    for (int j = 0; j < n; ++j) {
      if (!(lam[j] > 0.0)) continue;  // a constant term: all in g0
      const double zr = eps[j] * dr, zi = eps[j] * di;
      const double mr = 1.0 - zr, mi = -zi;  // 1 - z
      // -1/2 (Log(1 - z) + z); ln|1 - z| = log1p(|1 - z|^2 - 1) / 2 (|1 - z|^2 >= 1/2 on C)
      pr += -0.5 * (0.5 * log1p(zr * (zr - 2.0) + zi * zi) + zr);
      pi += -0.5 * (atan2(mi, mr) + zi);
      // cc D z / (1 - z)
      const double den = mr * mr + mi * mi;
      const double qr = (zr * mr + zi * mi) / den, qi = (zi * mr - zr * mi) / den;
      pr += cc[j] * (dr * qr - di * qi);
      pi += cc[j] * (dr * qi + di * qr);
    }
    // F = e^Phi (b cosh v - i a sinh v) / (x0 + D)
    const double mag = exp(pr), er = mag * cos(pi), ei = mag * sin(pi);
    const double nr = er * (b * ch) + ei * (a * sh), ni = ei * (b * ch) - er * (a * sh);
    const double sr = x0 + dr, si = di, sden = sr * sr + si * si;
    const double fr = (nr * sr + ni * si) / sden, fi = (ni * sr - nr * si) / sden;
    S += k == 0 ? fr : 2.0 * fr;
    if (k > 0 && 2.0 * hypot(fr, fi) <= GCHISQ_STOP * fabs(S)) break;
  }
  // P(Q > t) (upper) or P(Q <= t) = -integral (lower) = exp(e0) h S / (2 pi),
  // taken in logs: exp(e0) alone may underflow or overflow.
  const double side = upper ? S : -S;
  const double p = side > 0.0 ? exp(fmin(0.0, e0 + log(h * side / (2.0 * GCHISQ_PI)))) : 0.0;
  return upper ? p : 1.0 - p;
}

}  // namespace madsim
