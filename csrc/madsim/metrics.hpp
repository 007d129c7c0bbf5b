// Distances and tail statistics of a Gaussian model N(mu, Sigma) against the
// truth N(mu0, Sigma0) (generation 0), for the observe() of both Gaussian
// kernels (models/gaussian1d.hpp, models/gaussian_loop.hpp), host and device:
// no allocation, dense d x d work on the caller's scratch. Formulas: docs/theory/replace-1d.md
// (W2, KL) and the metric list of docs/guide/gaussian.md.
//
// Degenerate models (a variance or a Cholesky pivot that underflowed to 0:
// the collapsed point mass) give defined values, never a NaN: tail masses 0
// or 1, quantiles mu, KL(truth || model) = KL(model || truth) = +inf (a point
// mass has no density), TV = 1, logdet_ratio = -inf.
#pragma once
#include <float.h>
#include <math.h>

#include "gchisq.hpp"
#include "hd.hpp"
#include "linalg.hpp"

namespace madsim {

// The metrics, in the order of their observe() slots in both kernels.
enum GaussMetric : int32_t {
  M_TAIL2 = 0,       // model mass outside the truth's ball of radius 2 sigma0 (Mahalanobis)
  M_TAIL3,           // ... 3 sigma0
  M_TAIL4,           // ... 4 sigma0
  M_Q001,            // model quantile 1e-3 (1-D)
  M_Q999,            // model quantile 1 - 1e-3 (1-D)
  M_W2_SQ,           // squared 2-Wasserstein distance to the truth
  M_KL_MODEL_TRUTH,  // KL(model || truth)
  M_KL_TRUTH_MODEL,  // KL(truth || model)
  M_TV,              // total variation distance (1-D)
  M_LOGDET_RATIO,    // ln det Sigma - ln det Sigma0
  M_TRACE_RATIO,     // tr(Sigma0^-1 Sigma)
  N_GAUSS_METRICS
};
// Their names (observe_names; madsim.families.gaussian.METRICS).
constexpr const char* GAUSS_METRIC_NAMES[N_GAUSS_METRICS] = {
    "tail2",          "tail3",          "tail4", "q001",         "q999",       "w2_sq",
    "kl_model_truth", "kl_truth_model", "tv",    "logdet_ratio", "trace_ratio"};

// Phi^-1(1 - 1e-3) (40 digits: 3.090232306167813541540399830107379205492).
constexpr double Z_Q999 = 3.0902323061678135;
constexpr double SQRT1_2 = 0.70710678118654752440;  // 1 / sqrt 2

// P(Z > x) and P(Z < x), Z ~ N(0, 1), to full relative precision in the tails.
MADSIM_HD double normal_upper(double x) { return 0.5 * erfc(x * SQRT1_2); }
MADSIM_HD double normal_lower(double x) { return 0.5 * erfc(-x * SQRT1_2); }

// P(a < Z < b), a <= b (either may be infinite), from the nearer tails.
MADSIM_HD double normal_mass(double a, double b) {
  if (a >= 0.0) return normal_upper(a) - normal_upper(b);
  if (b <= 0.0) return normal_lower(b) - normal_lower(a);
  return 1.0 - normal_lower(a) - normal_upper(b);
}

// --- d = 1: the model N(mu, var) against the truth N(mu0, var0), var0 > 0 --------------------

struct Gauss1 {
  double mu, dm;     // model mean, mu - mu0
  double var, sd;    // model variance (>= 0) and standard deviation
  double var0, sd0;  // the truth's
};

MADSIM_HD Gauss1 gauss1(double mu, double var, double mu0, double var0) {
  Gauss1 g;
  g.mu = mu;
  g.dm = mu - mu0;
  g.var = var;
  g.sd = sqrt(var);
  g.var0 = var0;
  g.sd0 = sqrt(var0);
  return g;
}

// ln(var / var0), from the ratio while it is a normal number (exact 0 at the
// truth), else from the logs (a variance far below var0 stays finite).
MADSIM_HD double gauss1_log_ratio(const Gauss1& g) {
  const double rho = g.var / g.var0;
  return rho >= DBL_MIN ? log(rho) : log(g.var) - log(g.var0);
}

// Total variation between N(m, r^2) and N(0, 1) (the model in the truth's
// standard units): the difference of the two masses between the crossings
// of the densities. The crossings solve, in the truth's units z,
//   (r^2 - 1) z^2 + 2 m z - (m^2 + 2 r^2 ln r) = 0
// and in the model's units u = (z - m) / r,
//   (r^2 - 1) u^2 + 2 m r u + (m^2 - 2 ln r) = 0,
// both with discriminant / 4 = r^2 D resp. D, D = m^2 + 2 (r^2 - 1) ln r >= 0.
// Each mass is taken between the roots in its own units (cancellation-free
// quadratic formula), so a model far narrower than the truth keeps its
// crossings at +-r sqrt(2 ln(1/r)) around m even below the spacing of
// doubles near m. r = 1: one crossing at m / 2, TV = erf(|m| / (2 sqrt 2)).
MADSIM_HD double tv_standard(double m, double r) {
  if (!(r > 0.0)) return 1.0;
  if (r == 1.0) return erf(fabs(m) * (0.5 * SQRT1_2));
  const double A = r * r - 1.0, lr = log(r);
  const double D = sqrt(fmax(0.0, m * m + 2.0 * A * lr));
  const double qz = -(m + (m >= 0.0 ? r * D : -(r * D)));
  const double qu = -(m * r + (m >= 0.0 ? D : -D));
  if (qz == 0.0 || qu == 0.0) return 0.0;  // m = 0 and r = 1 to rounding
  const double z1 = qz / A, z2 = -(m * m + 2.0 * r * r * lr) / qz;
  const double u1 = qu / A, u2 = (m * m - 2.0 * lr) / qu;
  return fabs(normal_mass(fmin(u1, u2), fmax(u1, u2)) - normal_mass(fmin(z1, z2), fmax(z1, z2)));
}

MADSIM_HD double gauss1_metric(int32_t which, const Gauss1& g) {
  switch (which) {
    case M_TAIL2:
    case M_TAIL3:
    case M_TAIL4: {
      const double k = 2.0 + (which - M_TAIL2);
      if (!(g.sd > 0.0)) return fabs(g.dm) > k * g.sd0 ? 1.0 : 0.0;
      const double a = 1.0 / g.sd;
      return normal_upper((k * g.sd0 - g.dm) * a) + normal_upper((k * g.sd0 + g.dm) * a);
    }
    case M_Q001:
      return g.mu - Z_Q999 * g.sd;
    case M_Q999:
      return g.mu + Z_Q999 * g.sd;
    case M_W2_SQ: {
      const double ds = g.sd - g.sd0;
      return g.dm * g.dm + ds * ds;
    }
    case M_KL_MODEL_TRUTH: {
      if (!(g.var > 0.0)) return INFINITY;
      const double rho = g.var / g.var0;
      return fmax(0.0, 0.5 * ((rho - 1.0 - gauss1_log_ratio(g)) + g.dm * g.dm / g.var0));
    }
    case M_KL_TRUTH_MODEL: {
      if (!(g.var > 0.0)) return INFINITY;
      const double kl = 0.5 * ((g.var0 / g.var - 1.0 + gauss1_log_ratio(g)) + g.dm * g.dm / g.var);
      return kl == kl ? fmax(0.0, kl) : INFINITY;
    }
    case M_TV:
      return tv_standard(g.dm / g.sd0, g.sd / g.sd0);
    case M_LOGDET_RATIO:
      return g.var > 0.0 ? gauss1_log_ratio(g) : -INFINITY;
    case M_TRACE_RATIO:
      return g.var / g.var0;
  }
  return NAN;
}

// --- any d: packed lower factors L (model) and L0 (truth) -----------------------------------

// x = L^-1 b by forward substitution (x may not alias b).
MADSIM_HD void tri_solve_vec(const double* L, const double* b, double* x, int d) {
  for (int i = 0; i < d; ++i) {
    double v = b[i];
    for (int k = 0; k < i; ++k) v -= L[tri(i, k)] * x[k];
    x[i] = v / L[tri(i, i)];
  }
}

// X = L^-1 M for packed lower M; X packed lower (may not alias M).
MADSIM_HD void tri_solve_tri(const double* L, const double* M, double* X, int d) {
  for (int j = 0; j < d; ++j)
    for (int i = j; i < d; ++i) {
      double v = M[tri(i, j)];
      for (int k = j; k < i; ++k) v -= L[tri(i, k)] * X[tri(k, j)];
      X[tri(i, j)] = v / L[tri(i, i)];
    }
}

// In place: one-sided Jacobi (Hestenes) on dense A [d, d] (row-major) rotates
// column pairs until all are orthogonal to rounding: A -> A V = U diag(sigma)
// (V orthogonal), so the columns are sigma_j u_j, A's singular triplets. Each
// sigma_j is its column's norm, accurate to ~eps times the largest (no square
// root of an eigenvalue of A'A, which would lose half the digits of the small
// ones); an exactly zero column stays exactly zero.
MADSIM_HD void orthogonalize_columns(double* A, int d) {
  for (int sweep = 0; sweep < 60; ++sweep) {
    bool rotated = false;
    for (int p = 0; p < d - 1; ++p)
      for (int q = p + 1; q < d; ++q) {
        double alpha = 0.0, beta = 0.0, gamma = 0.0;
        for (int i = 0; i < d; ++i) {
          const double ap = A[i * d + p], aq = A[i * d + q];
          alpha += ap * ap;
          beta += aq * aq;
          gamma += ap * aq;
        }
        if (!(fabs(gamma) > DBL_EPSILON * sqrt(alpha) * sqrt(beta))) continue;
        rotated = true;
        const double zeta = (beta - alpha) / (2.0 * gamma);
        const double t = (zeta >= 0.0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
        const double c = 1.0 / sqrt(1.0 + t * t), s = c * t;
        for (int i = 0; i < d; ++i) {
          const double ap = A[i * d + p], aq = A[i * d + q];
          A[i * d + p] = c * ap - s * aq;
          A[i * d + q] = s * ap + c * aq;
        }
      }
    if (!rotated) break;
  }
}

// Sum of the singular values (nuclear norm) of dense A [d, d], destroyed.
MADSIM_HD double nuclear_norm(double* A, int d) {
  orthogonalize_columns(A, d);
  double sum = 0.0;
  for (int j = 0; j < d; ++j) {
    double n2 = 0.0;
    for (int i = 0; i < d; ++i) n2 += A[i * d + j] * A[i * d + j];
    sum += sqrt(n2);
  }
  return sum;
}

// The law of Q = (x - mu0)' Sigma0^-1 (x - mu0) for a model draw x ~ N(mu, L L'):
// z = L0^-1 (x - mu0) ~ N(b, M), b = L0^-1 (mu - mu0) (given), M = A A' with
// A = L0^-1 L (X, packed lower), so Q = |z|^2 = sum_j (sqrt(lam_j) Z_j + beta_j)^2
// over M's eigenpairs (lam_j, u_j), beta_j = u_j' b. A's orthogonalised columns
// (A V = U diag(sigma)) are M's eigenvectors times sigma_j, lam_j = sigma_j^2:
// M is never formed, so lam_j >= 0 exactly and small lam_j keep A's accuracy
// rather than M's. Writes lam [n], beta2 [n] = beta_j^2 and returns n: one
// term per nonzero column, plus, when a column is exactly zero (a zero pivot
// of L: the model is flat along a direction), one lam = 0 term holding |r|^2,
// r = b minus its projection on A's range (Q's constant part), computed as a
// residual rather than |b|^2 - sum beta_j^2 (no cancellation). Columns are
// scaled by their largest entry first, so tiny ones lose no digits (a
// lam_j that underflows to 0 is a constant term, as it should be).
// A: d * d doubles, r: d doubles of scratch.
MADSIM_HD int mahalanobis_spectrum(const double* X, const double* b, int d, double* A, double* lam,
                                   double* beta2, double* r) {
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) A[i * d + j] = j <= i ? X[tri(i, j)] : 0.0;
  orthogonalize_columns(A, d);
  for (int i = 0; i < d; ++i) r[i] = b[i];
  int n = 0;
  bool flat = false;
  for (int j = 0; j < d; ++j) {
    double m = 0.0;
    for (int i = 0; i < d; ++i) m = fmax(m, fabs(A[i * d + j]));
    if (!(m > 0.0)) {
      flat = true;
      continue;
    }
    double n2 = 0.0, dot = 0.0;
    for (int i = 0; i < d; ++i) {
      const double u = A[i * d + j] / m;
      n2 += u * u;
      dot += u * b[i];
    }
    lam[n] = (m * m) * n2;
    beta2[n] = dot * (dot / n2);
    const double c = dot / n2;  // r -= u_j beta_j, u_j = column / (m sqrt n2)
    for (int i = 0; i < d; ++i) r[i] -= (A[i * d + j] / m) * c;
    ++n;
  }
  if (flat) {
    double q = 0.0;
    for (int i = 0; i < d; ++i) q += r[i] * r[i];
    lam[n] = 0.0;
    beta2[n] = q;
    ++n;
  }
  return n;
}

// W2^2 between N(mu, L L') and N(mu0, L0 L0') (packed lower factors), any d:
// |mu - mu0|^2 + tr Sigma + tr Sigma0 - 2 tr (Sigma0^1/2 Sigma Sigma0^1/2)^1/2,
// the last trace being the nuclear norm of L0' L (the same eigenvalues
// squared), clamped at 0 against rounding. A: d * d scratch.
MADSIM_HD double gauss_w2_sq(const double* mu, const double* L, const double* mu0, const double* L0,
                             int d, double* A) {
  double msq = 0.0, tr = 0.0, tr0 = 0.0;
  for (int i = 0; i < d; ++i) msq += (mu[i] - mu0[i]) * (mu[i] - mu0[i]);
  for (int k = 0; k < tri_size(d); ++k) {
    tr += L[k] * L[k];
    tr0 += L0[k] * L0[k];
  }
  for (int i = 0; i < d; ++i)  // A = L0' L: A_ij = sum_{k >= max(i, j)} L0_ki L_kj
    for (int j = 0; j < d; ++j) {
      double a = 0.0;
      for (int k = i > j ? i : j; k < d; ++k) a += L0[tri(k, i)] * L[tri(k, j)];
      A[i * d + j] = a;
    }
  return fmax(0.0, msq + ((tr + tr0) - 2.0 * nuclear_norm(A, d)));
}

// Doubles of scratch gaussd_metrics needs: X, Y [T], A [d, d], v, r [d], the
// tail spectrum's lam, beta2 [d + 1] and gchisq_upper's 3 (d + 1).
MADSIM_HD int64_t gaussd_scratch(int d) {
  return 2 * (int64_t)tri_size(d) + (int64_t)d * d + 2 * d + 5 * ((int64_t)d + 1);
}

// The d > 1 metrics (the tail masses, W2^2, both KLs, logdet_ratio,
// trace_ratio) of the model (mu, L) against (mu0, L0), each written to
// out[metric] when bit (1 << metric) of `need` is set. w: gaussd_scratch(d) doubles.
//   tail2..4       P(Q > k^2), Q = (x - mu0)' Sigma0^-1 (x - mu0), x ~ model:
//                  gchisq_upper (gchisq.hpp) on mahalanobis_spectrum's terms,
//                  the spectrum computed once for the three
//   trace_ratio    |L0^-1 L|_F^2
//   logdet_ratio   2 sum_i (ln L_ii - ln L0_ii)
//   KL(model||truth) = (trace_ratio + |L0^-1 (mu - mu0)|^2 - d - logdet_ratio) / 2
//   KL(truth||model) = (|L^-1 L0|_F^2 + |L^-1 (mu - mu0)|^2 - d + logdet_ratio) / 2
//   W2^2           |mu - mu0|^2 + tr Sigma + tr Sigma0 - 2 tr (Sigma0^1/2 Sigma Sigma0^1/2)^1/2,
//                  the last trace being the nuclear norm of L0' L (the same
//                  eigenvalues squared), clamped at 0 against rounding
MADSIM_HD void gaussd_metrics(const double* mu, const double* L, const double* mu0,
                              const double* L0, int d, uint32_t need, double* out, double* w) {
  const int Tn = tri_size(d);
  double *X = w, *Y = w + Tn, *A = w + 2 * Tn, *v = A + d * d, *r = v + d;
  double *lam = r + d, *beta2 = lam + d + 1, *gw = beta2 + d + 1;
  const auto wants = [&](int32_t m) { return (need >> m) & 1u; };
  bool singular = false;
  double ldr = 0.0;
  for (int i = 0; i < d; ++i) {
    singular = singular || !(L[tri(i, i)] > 0.0);
    ldr += log(L[tri(i, i)]) - log(L0[tri(i, i)]);
  }
  ldr = singular ? -INFINITY : 2.0 * ldr;
  for (int i = 0; i < d; ++i) Y[i] = mu[i] - mu0[i];  // Y: dm until the KL(truth||model) block
  if (wants(M_LOGDET_RATIO)) out[M_LOGDET_RATIO] = ldr;
  if (wants(M_TRACE_RATIO) || wants(M_KL_MODEL_TRUTH)) {
    tri_solve_tri(L0, L, X, d);
    double tr = 0.0;
    for (int k = 0; k < Tn; ++k) tr += X[k] * X[k];
    out[M_TRACE_RATIO] = tr;
    if (wants(M_KL_MODEL_TRUTH)) {
      tri_solve_vec(L0, Y, v, d);
      double maha = 0.0;
      for (int i = 0; i < d; ++i) maha += v[i] * v[i];
      out[M_KL_MODEL_TRUTH] = singular ? INFINITY : fmax(0.0, 0.5 * ((tr + maha - d) - ldr));
    }
  }
  if (wants(M_TAIL2) || wants(M_TAIL3) || wants(M_TAIL4)) {  // overwrites X, A, v
    tri_solve_tri(L0, L, X, d);
    tri_solve_vec(L0, Y, v, d);
    double bsq = 0.0;
    for (int i = 0; i < d; ++i) bsq += v[i] * v[i];
    const int n = mahalanobis_spectrum(X, v, d, A, lam, beta2, r);
    for (int32_t m = M_TAIL2; m <= M_TAIL4; ++m) {
      const double k = 2.0 + (m - M_TAIL2);
      if (wants(m)) out[m] = gchisq_upper(lam, beta2, n, k * k, bsq, gw);
    }
  }
  if (wants(M_W2_SQ)) out[M_W2_SQ] = gauss_w2_sq(mu, L, mu0, L0, d, A);
  if (wants(M_KL_TRUTH_MODEL)) {
    double kl = INFINITY;
    if (!singular) {
      tri_solve_tri(L, L0, X, d);
      tri_solve_vec(L, Y, v, d);
      double tr = 0.0, maha = 0.0;
      for (int k = 0; k < Tn; ++k) tr += X[k] * X[k];
      for (int i = 0; i < d; ++i) maha += v[i] * v[i];
      kl = 0.5 * ((tr + maha - d) + ldr);
      kl = kl == kl ? fmax(0.0, kl) : INFINITY;  // NaN: inf - inf from a factor near underflow
    }
    out[M_KL_TRUTH_MODEL] = kl;
  }
}

}  // namespace madsim
