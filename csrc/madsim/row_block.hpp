// Products of a block of rows (the regression samples path's inner loops),
// every entry one chain of additions in a fixed order: rows in order, and a
// row's entries in index order, exactly as row-by-row loops compute them. The
// order of additions, not the loop nest, fixes the bits: RowBlock<K> is the
// scalar reference, and the CPU launcher's LaneKit specialisation
// (cpu/regression_lanes.hpp) computes the same chains tile by tile in SIMD
// registers (a tile of entries held over the rows of a block), so how the rows
// are blocked changes no number.
//
// Layouts (row-major, leading dimensions ld*): Z [nb, d] normals, Lc [d, ldl]
// the transposed Cholesky factor (Lc[k][i] = L[i][k], zero for i < k and in
// the padding), X [nb, ldx], D [n, ldd] the lower triangle of a symmetric
// accumulator. The SIMD forms read and write whole tiles: they need the
// padding columns of Lc and X zero (finite), ldl, ldx, ldd multiples of 8
// with n <= ldd and d <= ldx, and D's and X's padding rows and columns
// (up to the multiples of 8) allocated; the scalar forms touch only the
// entries named.
#pragma once
#include "linalg.hpp"

namespace madsim {

template <class K>
struct RowBlock {
  // X[r][i] = 0 + sum_{k <= i} L[i][k] Z[r][k], k = 0, 1, ... (tri_mul_vec's
  // order), for rows r < nb, i < d.
  MADSIM_HD static void design(const double* Lc, int ldl, const double* Z, int ldz, int nb, int d,
                               double* X, int ldx) {
    for (int r = 0; r < nb; ++r) {
      const double* z = Z + (int64_t)r * ldz;
      double* x = X + (int64_t)r * ldx;
      for (int i = 0; i < d; ++i) {
        double v = 0.0;
        for (int k = 0; k <= i; ++k) v += Lc[(int64_t)k * ldl + i] * z[k];
        x[i] = v;
      }
    }
  }

  // design() for a diagonal L (l its diagonal): X[r][i] = 0 + l[i] Z[r][i],
  // the same bits (the chain's other terms are +-0, and a sum that starts at
  // +0 is never -0, so adding them changes nothing).
  MADSIM_HD static void design_diagonal(const double* l, const double* Z, int ldz, int nb, int d,
                                        double* X, int ldx) {
    for (int r = 0; r < nb; ++r)
      for (int i = 0; i < d; ++i) X[(int64_t)r * ldx + i] = 0.0 + l[i] * Z[(int64_t)r * ldz + i];
  }

  // D[i][j] += X[r][i] X[r][j] for j <= i < n, rows r = 0 .. nb - 1 in order.
  MADSIM_HD static void gram(const double* X, int ldx, int nb, int n, double* D, int ldd) {
    for (int r = 0; r < nb; ++r) {
      const double* x = X + (int64_t)r * ldx;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j <= i; ++j) D[(int64_t)i * ldd + j] += x[i] * x[j];
    }
  }

  // out[r] = out[r] + sum_i X[r][i] v[i], i = 0, 1, ..., d - 1, for r < nb.
  MADSIM_HD static void dots(const double* X, int ldx, int nb, int d, const double* v,
                             double* out) {
    for (int r = 0; r < nb; ++r) {
      const double* x = X + (int64_t)r * ldx;
      double s = out[r];
      for (int i = 0; i < d; ++i) s += x[i] * v[i];
      out[r] = s;
    }
  }
};

}  // namespace madsim
