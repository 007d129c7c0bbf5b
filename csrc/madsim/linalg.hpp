// Small dense linear algebra on per-replica scratch, host and device: packed
// lower-triangular storage for symmetric matrices and Cholesky factors
// (element (i, j), j <= i, at tri(i, j)), dense row-major d x d elsewhere.
// O(d^3) loops, no allocation, no exceptions.
#pragma once
#include <math.h>

#include "hd.hpp"

namespace madsim {

MADSIM_HD int tri(int i, int j) { return i * (i + 1) / 2 + j; }
MADSIM_HD int tri_size(int d) { return d * (d + 1) / 2; }

// Column j of an in-place packed Cholesky factorisation (columns < j done):
// the pivot a_jj - sum_{k<j} L_jk^2, and the column given L_jj = l,
// L_ij = (a_ij - sum_{k<j} L_ik L_jk) / l below the diagonal.
MADSIM_HD double cholesky_pivot(const double* a, int j) {
  double s = a[tri(j, j)];
  for (int k = 0; k < j; ++k) s -= a[tri(j, k)] * a[tri(j, k)];
  return s;
}

MADSIM_HD void cholesky_column(double* a, int d, int j, double l) {
  a[tri(j, j)] = l;
  for (int i = j + 1; i < d; ++i) {
    double v = a[tri(i, j)];
    for (int k = 0; k < j; ++k) v -= a[tri(i, k)] * a[tri(j, k)];
    a[tri(i, j)] = v / l;
  }
}

// In place: packed symmetric A -> its lower Cholesky factor. A pivot that is
// not > 0 (a direction collapsed below rounding, or an exactly singular
// scatter) becomes 0 with its column below it: the model keeps no spread
// there, which is the collapsed state, never a NaN.
MADSIM_HD void cholesky_packed(double* a, int d) {
  for (int j = 0; j < d; ++j) {
    const double s = cholesky_pivot(a, j);
    if (s > 0.0) {
      cholesky_column(a, d, j, sqrt(s));
    } else {
      for (int i = j; i < d; ++i) a[tri(i, j)] = 0.0;
    }
  }
}

// In place: packed symmetric A -> its lower Cholesky factor with every pivot
// (conditional variance) at least `floor` > 0: a pivot below it, rounding
// noise or a collapsed direction, is raised to it, so the factor is never
// singular. Returns whether any pivot was raised.
MADSIM_HD bool cholesky_floor_packed(double* a, int d, double floor) {
  bool raised = false;
  for (int j = 0; j < d; ++j) {
    double s = cholesky_pivot(a, j);
    if (!(s >= floor)) {
      s = floor;
      raised = true;
    }
    cholesky_column(a, d, j, sqrt(s));
  }
  return raised;
}

// S = L L' packed (S may not alias L): the covariance of a Cholesky factor.
MADSIM_HD void lower_gram_packed(const double* L, double* S, int d) {
  for (int i = 0; i < d; ++i)
    for (int j = 0; j <= i; ++j) {
      double v = 0.0;
      for (int k = 0; k <= j; ++k) v += L[tri(i, k)] * L[tri(j, k)];
      S[tri(i, j)] = v;
    }
}

// y = L x, L packed lower (y may not alias x).
MADSIM_HD void tri_mul_vec(const double* L, const double* x, double* y, int d) {
  for (int i = 0; i < d; ++i) {
    double v = 0.0;
    for (int k = 0; k <= i; ++k) v += L[tri(i, k)] * x[k];
    y[i] = v;
  }
}

// Y = L F for dense F [d, q] (row-major, row stride d); Y [d, q] same layout.
MADSIM_HD void tri_mul_dense(const double* L, const double* F, double* Y, int d, int q) {
  for (int i = 0; i < d; ++i)
    for (int c = 0; c < q; ++c) {
      double v = 0.0;
      for (int k = 0; k <= i; ++k) v += L[tri(i, k)] * F[k * d + c];
      Y[i * d + c] = v;
    }
}

// S = scale * Y Y' packed, Y dense [d, q] (row stride d).
MADSIM_HD void outer_packed(const double* Y, double* S, int d, int q, double scale) {
  for (int i = 0; i < d; ++i)
    for (int j = 0; j <= i; ++j) {
      double v = 0.0;
      for (int c = 0; c < q; ++c) v += Y[i * d + c] * Y[j * d + c];
      S[tri(i, j)] = scale * v;
    }
}

// S_out = scale * L S L' (S packed symmetric, L packed lower); T dense [d, d] scratch.
MADSIM_HD void congruence_packed(const double* L, const double* S, double* T, double* S_out, int d,
                                 double scale) {
  for (int i = 0; i < d; ++i)  // T = L S
    for (int c = 0; c < d; ++c) {
      double v = 0.0;
      for (int k = 0; k <= i; ++k) v += L[tri(i, k)] * S[k >= c ? tri(k, c) : tri(c, k)];
      T[i * d + c] = v;
    }
  for (int i = 0; i < d; ++i)  // S_out = T L'
    for (int j = 0; j <= i; ++j) {
      double v = 0.0;
      for (int k = 0; k <= j; ++k) v += T[i * d + k] * L[tri(j, k)];
      S_out[tri(i, j)] = scale * v;
    }
}

// Packed lower L with L L' = M' M, for dense M [m, d] (row-major, m >= d),
// destroyed: Householder QR of M (M = Q R), L = R' with rows of R signed so
// that diag(L) >= 0. M' M is never formed, so a factor whose columns span
// scales 1 and 1e-10 keeps the small one to ~eps relative to the large one's
// square root rather than its square (the Cholesky of M'M would lose it).
// Each reflector is built on its column scaled by the column's largest
// entry (no underflow or overflow of the squares); a column that is already
// zero at and below the diagonal gives a zero pivot (column of L = 0).
MADSIM_HD void qr_lower_factor(double* M, int m, int d, double* L) {
  for (int k = 0; k < d; ++k) {
    double scale = 0.0;
    for (int i = k; i < m; ++i) scale = fmax(scale, fabs(M[i * d + k]));
    double diag = 0.0;
    if (scale > 0.0) {
      double nu = 0.0;
      for (int i = k; i < m; ++i) {
        M[i * d + k] /= scale;  // v = the scaled column, then v_k -= alpha
        nu += M[i * d + k] * M[i * d + k];
      }
      nu = sqrt(nu);
      const double alpha = M[k * d + k] >= 0.0 ? -nu : nu;
      M[k * d + k] -= alpha;
      const double vv = 2.0 * nu * (nu + fabs(M[k * d + k] + alpha));  // |v|^2
      for (int j = k + 1; j < d; ++j) {
        double dot = 0.0;
        for (int i = k; i < m; ++i) dot += M[i * d + k] * M[i * d + j];
        const double f = 2.0 * dot / vv;
        for (int i = k; i < m; ++i) M[i * d + j] -= f * M[i * d + k];
      }
      diag = alpha * scale;
    }
    const double sg = diag < 0.0 ? -1.0 : 1.0;
    L[tri(k, k)] = sg * diag;
    for (int j = k + 1; j < d; ++j) L[tri(j, k)] = sg * M[k * d + j];
  }
}

// Solves L L' x = b in place (b -> x), L packed lower with a positive
// diagonal (cholesky_packed of a positive definite matrix).
MADSIM_HD void cholesky_solve_packed(const double* L, double* b, int d) {
  for (int i = 0; i < d; ++i) {  // L y = b
    double v = b[i];
    for (int k = 0; k < i; ++k) v -= L[tri(i, k)] * b[k];
    b[i] = v / L[tri(i, i)];
  }
  for (int i = d - 1; i >= 0; --i) {  // L' x = y
    double v = b[i];
    for (int k = i + 1; k < d; ++k) v -= L[tri(k, i)] * b[k];
    b[i] = v / L[tri(i, i)];
  }
}

// y = S x, S packed symmetric (y may not alias x).
MADSIM_HD void sym_mul_vec(const double* S, const double* x, double* y, int d) {
  for (int i = 0; i < d; ++i) {
    double v = 0.0;
    for (int k = 0; k < d; ++k) v += S[k <= i ? tri(i, k) : tri(k, i)] * x[k];
    y[i] = v;
  }
}

// Y = L F for F dense lower-triangular [d, d] (row stride d, as Bartlett's
// factor): Y is lower-triangular (zeros above). The same numbers as
// tri_mul_dense(L, F, Y, d, d) (the skipped terms are exact zeros) in a third
// of the work.
MADSIM_HD void tri_mul_lower(const double* L, const double* F, double* Y, int d) {
  for (int i = 0; i < d; ++i)
    for (int c = 0; c < d; ++c) {
      double v = 0.0;
      for (int k = c; k <= i; ++k) v += L[tri(i, k)] * F[k * d + c];
      Y[i * d + c] = v;
    }
}

// S = scale * Y Y' packed for Y dense lower-triangular [d, d]: as
// outer_packed(Y, S, d, d, scale) in a third of the work.
MADSIM_HD void outer_packed_lower(const double* Y, double* S, int d, double scale) {
  for (int i = 0; i < d; ++i)
    for (int j = 0; j <= i; ++j) {
      double v = 0.0;
      for (int c = 0; c <= j; ++c) v += Y[i * d + c] * Y[j * d + c];
      S[tri(i, j)] = scale * v;
    }
}

}  // namespace madsim
