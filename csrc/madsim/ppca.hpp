// Probabilistic PCA (Tipping & Bishop 1999) on a d-dim Gaussian's Cholesky
// factor: the closed-form maximum-likelihood projection onto q factors and
// the subspace metrics. Host and device, no allocation.
//
// PPCA's model is N(mu, C), C = W W' + s2 I with W [d, q], q < d. Its MLE
// from a sample with covariance estimate S (eigenvalues l_1 >= ... >= l_d,
// eigenvectors u_j) is
//   s2 = (l_{q+1} + ... + l_d) / (d - q),   W W' = U_q (L_q - s2 I) U_q',
// so C = U_q L_q U_q' + s2 (I - U_q U_q'): the top q eigenpairs kept, the
// rest averaged. The sample mean is the mean's MLE, tr C = tr S, and
// sampling N(mu, C) through C's Cholesky factor has the law of mu + W z +
// sqrt(s2) e. So PPCA is GaussianLoop (every loop, knob and path) with this
// projection after each fit (GaussianLoop::Params::factors); for q = d - 1
// it is the identity.
#pragma once
#include <math.h>

#include "hd.hpp"
#include "linalg.hpp"
#include "metrics.hpp"

namespace madsim {

// Doubles of scratch ppca_project and ppca_metrics need.
MADSIM_HD int64_t ppca_scratch(int d, int q) {
  return (int64_t)d * d + (int64_t)(q + d) * d + 3 * (int64_t)d + q;
}

// The eigen-decomposition of C = L L' without forming C, in three steps (the
// CPU runs the middle one across replicas: cpu/ppca_lanes.hpp). A = L / c (c:
// L's largest entry, so no square underflows) orthogonalised by one-sided
// Jacobi (metrics.hpp), A V = U diag(sigma); C's eigenvalues are
// (c sigma_j)^2 and its eigenvectors the columns of A normalised.
// ppca_scaled writes A [d, d] and returns c (0 for L = 0, when A is 0 and
// needs no Jacobi); ppca_columns writes lam [d] (in units of c^2) and ord [d]
// (column indices by lam descending; ties keep index order).
MADSIM_HD double ppca_scaled(const double* L, int d, double* A) {
  double c = 0.0;
  for (int k = 0; k < tri_size(d); ++k) c = fmax(c, fabs(L[k]));
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) A[i * d + j] = j <= i && c > 0.0 ? L[tri(i, j)] / c : 0.0;
  return c;
}

MADSIM_HD void ppca_columns(const double* A, int d, double* lam, double* ord) {
  for (int j = 0; j < d; ++j) {
    double n2 = 0.0;
    for (int i = 0; i < d; ++i) n2 += A[i * d + j] * A[i * d + j];
    lam[j] = n2;
    int r = j;  // insertion sort of the column indices by lam descending
    for (; r > 0 && lam[(int)ord[r - 1]] < n2; --r) ord[r] = ord[r - 1];
    ord[r] = (double)j;
  }
}

// The three steps: writes A, lam, ord and returns c.
MADSIM_HD double ppca_eigen(const double* L, int d, double* A, double* lam, double* ord) {
  const double c = ppca_scaled(L, d, A);
  if (c > 0.0) orthogonalize_columns(A, d);
  ppca_columns(A, d, lam, ord);
  return c;
}

// u = column j of A normalised (0 for a zero column), A [d, d].
MADSIM_HD void ppca_unit(const double* A, int d, int j, double* u) {
  double m = 0.0, n2 = 0.0;
  for (int i = 0; i < d; ++i) m = fmax(m, fabs(A[i * d + j]));
  if (!(m > 0.0)) {
    for (int i = 0; i < d; ++i) u[i] = 0.0;
    return;
  }
  for (int i = 0; i < d; ++i) {
    u[i] = A[i * d + j] / m;
    n2 += u[i] * u[i];
  }
  const double f = 1.0 / sqrt(n2);
  for (int i = 0; i < d; ++i) u[i] *= f;
}

// In place: packed lower L (C = L L') -> the Cholesky factor of C's PPCA
// projection onto q factors (above). The factor is built from
//   B = [ sigma_1 u_1 .. sigma_q u_q | sqrt(s2) P ],  P = I - U_q U_q',
// whose B B' is the projection (P is symmetric and idempotent), by QR
// (qr_lower_factor): never forming C keeps small eigenvalues accurate, as
// GaussianLoop::step_replace does. s2 = 0 (a model of rank <= q) makes the
// P block zero, so a zero column (no direction) is never needed.
// ppca_project_from finishes it from the first d * d doubles of w holding
// ppca_scaled's A after the Jacobi, c its scale.
// w: ppca_scratch(d, q) doubles.
MADSIM_HD void ppca_project_from(double* L, int d, int q, double* w, double c) {
  if (!(c > 0.0)) return;
  double *A = w, *M = w + d * d, *lam = M + (q + d) * d, *ord = lam + d;
  ppca_columns(A, d, lam, ord);
  double s2 = 0.0;
  for (int r = q; r < d; ++r) s2 += lam[(int)ord[r]];
  s2 /= (double)(d - q);
  const double s = sqrt(s2);
  double* P = M + q * d;  // rows q .. q + d - 1: sqrt(s2) P
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) P[i * d + j] = i == j ? 1.0 : 0.0;
  for (int r = 0; r < q; ++r) {
    const int j = (int)ord[r];
    for (int i = 0; i < d; ++i) M[r * d + i] = A[i * d + j];
    ppca_unit(A, d, j, lam);  // lam is spent: reuse as u (ord still holds the order)
    for (int i = 0; i < d; ++i)
      for (int k = 0; k < d; ++k) P[i * d + k] -= lam[i] * lam[k];
  }
  for (int k = 0; k < d * d; ++k) P[k] *= s;
  qr_lower_factor(M, q + d, d, L);
  for (int k = 0; k < tri_size(d); ++k) L[k] *= c;
}

MADSIM_HD_CALLED void ppca_project(double* L, int d, int q, double* w) {
  const double c = ppca_scaled(L, d, w);
  if (c > 0.0) orthogonalize_columns(w, d);
  ppca_project_from(L, d, q, w, c);
}

// The PPCA metrics of the model C = L L' against the truth's principal
// subspace (orthonormal basis U0 [d, q], row-major), into out [q + 3]:
//   out[0 .. q-1]  factor_var: C's top q eigenvalues, descending (the
//                  variance the model keeps along its principal directions)
//   out[q]         noise_var: the mean of the other d - q (s2 for a PPCA model)
//   out[q + 1]     subspace_sin2: sum_i sin^2 theta_i over the principal angles
//                  between span(U_q) and span(U0) = |(I - U0 U0') U_q|_F^2
//                  (= q - |U0' U_q|_F^2, computed without that cancellation)
//   out[q + 2]     max_angle: the largest theta_i (radians), asin of the
//                  largest singular value of (I - U0 U0') U_q (accurate for
//                  small angles, where acos of U0' U_q's would not be)
// A direction of zero variance (a model of rank < q, collapsed) has no
// eigenvector: it counts as orthogonal to the truth (sin^2 = 1).
// w: ppca_scratch(d, q) doubles.
MADSIM_HD void ppca_metrics(const double* L, const double* U0, int d, int q, double* out,
                            double* w) {
  double *A = w, *R = w + d * d, *g = R + d * d, *lam = g + q, *ord = lam + d, *u = ord + d;
  const double c = ppca_eigen(L, d, A, lam, ord);
  double s2 = 0.0;
  for (int r = 0; r < d; ++r) {
    const double l = (c * c) * lam[(int)ord[r]];
    if (r < q)
      out[r] = l;
    else
      s2 += l;
  }
  out[q] = s2 / (double)(d - q);
  for (int k = 0; k < d * d; ++k) R[k] = 0.0;
  double sin2 = 0.0;
  for (int r = 0; r < q; ++r) {
    const int j = (int)ord[r];
    if (!(lam[j] > 0.0)) {  // no direction: one unit of sin^2, angle pi / 2
      R[r] = 1.0;
      sin2 += 1.0;
      continue;
    }
    ppca_unit(A, d, j, u);
    for (int a = 0; a < q; ++a) {  // g = U0' u
      g[a] = 0.0;
      for (int k = 0; k < d; ++k) g[a] += U0[k * q + a] * u[k];
    }
    double v2 = 0.0;
    for (int i = 0; i < d; ++i) {  // column r of R = u - U0 g
      double x = u[i];
      for (int a = 0; a < q; ++a) x -= U0[i * q + a] * g[a];
      R[i * d + r] = x;
      v2 += x * x;
    }
    sin2 += v2;
  }
  orthogonalize_columns(R, d);
  double smax = 0.0;
  for (int j = 0; j < d; ++j) {
    double n2 = 0.0;
    for (int i = 0; i < d; ++i) n2 += R[i * d + j] * R[i * d + j];
    smax = fmax(smax, sqrt(n2));
  }
  out[q + 1] = sin2;
  out[q + 2] = asin(fmin(1.0, smax));
}

}  // namespace madsim
