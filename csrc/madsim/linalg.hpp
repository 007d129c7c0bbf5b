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

// In place: packed symmetric A -> its lower Cholesky factor. A pivot that is
// not > 0 (a direction collapsed below rounding, or an exactly singular
// scatter) becomes 0 with its column below it: the model keeps no spread
// there, which is the collapsed state, never a NaN.
MADSIM_HD void cholesky_packed(double* a, int d) {
  for (int j = 0; j < d; ++j) {
    double s = a[tri(j, j)];
    for (int k = 0; k < j; ++k) s -= a[tri(j, k)] * a[tri(j, k)];
    if (!(s > 0.0)) {
      for (int i = j; i < d; ++i) a[tri(i, j)] = 0.0;
      continue;
    }
    const double l = sqrt(s);
    a[tri(j, j)] = l;
    for (int i = j + 1; i < d; ++i) {
      double v = a[tri(i, j)];
      for (int k = 0; k < j; ++k) v -= a[tri(i, k)] * a[tri(j, k)];
      a[tri(i, j)] = v / l;
    }
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
MADSIM_HD void congruence_packed(const double* L, const double* S, double* T, double* S_out,
                                 int d, double scale) {
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
