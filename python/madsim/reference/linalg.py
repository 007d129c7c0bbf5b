"""Small dense linear algebra on packed storage, in JAX float64.

Mirrors csrc/madsim/linalg.hpp: symmetric matrices and Cholesky factors are
stored as their packed lower triangle (element (i, j), j <= i, at
``tri(i, j)``), dense matrices as [d, d] arrays. ``d`` is a Python int (it
fixes shapes); the values may be traced. Each function works on one matrix;
vmap it over replicas.

Where the twins part: the C++ sums every inner product sequentially; here
they are XLA dot products (another summation order, possibly fused
multiply-adds), so results agree to rounding, not bit for bit.
"""

from __future__ import annotations

from functools import lru_cache

import jax.numpy as jnp
import numpy as np
from jax import lax


def tri(i: int, j: int) -> int:
    """Index of element (i, j), j <= i, in packed lower storage. Mirrors linalg.hpp::tri."""
    return i * (i + 1) // 2 + j


def tri_size(d: int) -> int:
    """Entries of a packed d x d triangle. Mirrors linalg.hpp::tri_size."""
    return d * (d + 1) // 2


@lru_cache(maxsize=None)
def _tril(d: int):
    """(rows, cols) of the packed entries in storage order (row by row)."""
    return np.tril_indices(d)


def unpack_lower(a, d: int):
    """Packed [T] -> dense lower-triangular [d, d] (zeros above the diagonal)."""
    rows, cols = _tril(d)
    return jnp.zeros((d, d), jnp.float64).at[rows, cols].set(a)


def unpack_sym(a, d: int):
    """Packed symmetric [T] -> dense symmetric [d, d]."""
    low = unpack_lower(a, d)
    return low + jnp.tril(low, -1).T


def pack(A, d: int):
    """Dense [d, d] -> its lower triangle packed [T] (the upper part is ignored)."""
    rows, cols = _tril(d)
    return A[rows, cols]


def cholesky_pivot(A, j, idx):
    """Row j's factor left of the diagonal and column j's pivot
    a_jj - sum_{k<j} L_jk^2. Mirrors linalg.hpp::cholesky_pivot."""
    row_j = jnp.where(idx < j, A[j], 0.0)  # L_jk, k < j
    return row_j, A[j, j] - jnp.sum(row_j * row_j)


def factor_column(A, j, idx, row_j, l):
    """Column j given L_jj = l: L_ij = (a_ij - sum_{k<j} L_ik L_jk) / l below the
    diagonal, the rest unchanged. Mirrors linalg.hpp::cholesky_column."""
    below = A[:, j] - A @ row_j
    return jnp.where(idx > j, below / l, jnp.where(idx == j, l, A[:, j]))


def cholesky_packed(a, d: int):
    """Packed symmetric a [T] -> its lower Cholesky factor, packed [T].

    Column by column (j = 0 .. d-1) as the C++ does: the pivot
    s = a_jj - sum_{k<j} L_jk^2; when s is not > 0 (a collapsed direction, an
    exactly singular matrix, a NaN) column j at and below the diagonal becomes
    exactly 0 and the loop goes on, otherwise L_jj = sqrt(s) and
    L_ij = (a_ij - sum_{k<j} L_ik L_jk) / L_jj below it.
    Mirrors csrc/madsim/linalg.hpp::cholesky_packed (inner sums as dot products).
    """
    A = unpack_lower(jnp.asarray(a, jnp.float64), d)
    idx = jnp.arange(d)

    def column(j, A):
        row_j, s = cholesky_pivot(A, j, idx)
        positive = s > 0.0
        new = factor_column(A, j, idx, row_j, jnp.sqrt(jnp.where(positive, s, 1.0)))
        new = jnp.where(positive, new, jnp.where(idx >= j, 0.0, A[:, j]))
        return A.at[:, j].set(new)

    return pack(lax.fori_loop(0, d, column, A), d)


def cholesky_floor_packed(a, d: int, floor):
    """Packed symmetric a [T] -> (its lower Cholesky factor with every pivot^2
    at least floor, packed [T]; whether a pivot was raised). Column by column
    as cholesky_packed, a pivot s not >= floor becoming floor.
    Mirrors csrc/madsim/linalg.hpp::cholesky_floor_packed."""
    A = unpack_lower(jnp.asarray(a, jnp.float64), d)
    idx = jnp.arange(d)

    def column(j, carry):
        A, raised = carry
        row_j, s = cholesky_pivot(A, j, idx)
        low = ~(s >= floor)
        new = factor_column(A, j, idx, row_j, jnp.sqrt(jnp.where(low, floor, s)))
        return A.at[:, j].set(new), raised | low

    A, raised = lax.fori_loop(0, d, column, (A, jnp.bool_(False)))
    return pack(A, d), raised


def tri_mul_vec(L, x, d: int):
    """y = L x, L packed lower [T], x [d]. Mirrors linalg.hpp::tri_mul_vec."""
    return unpack_lower(L, d) @ x


def tri_mul_dense(L, F, d: int):
    """Y = L F, F dense [d, q] (here q <= d columns, the unused ones zero).

    Mirrors linalg.hpp::tri_mul_dense.
    """
    return unpack_lower(L, d) @ F


def outer_packed(Y, d: int, scale):
    """scale * Y Y', packed. Mirrors linalg.hpp::outer_packed (unused columns of Y are zero)."""
    return scale * pack(Y @ Y.T, d)


def congruence_packed(L, S, d: int, scale):
    """scale * L S L' for packed symmetric S and packed lower L, packed.

    Mirrors linalg.hpp::congruence_packed: T = L S first, then T L'.
    """
    Ld = unpack_lower(L, d)
    return scale * pack((Ld @ unpack_sym(S, d)) @ Ld.T, d)


def cholesky_solve_packed(L, b, d: int):
    """x with L L' x = b, L packed lower with a positive diagonal.

    Mirrors linalg.hpp::cholesky_solve_packed (forward, then back substitution).
    """
    from jax.scipy.linalg import solve_triangular

    Ld = unpack_lower(L, d)
    y = solve_triangular(Ld, b, lower=True)
    return solve_triangular(Ld.T, y, lower=False)


def sym_mul_vec(S, x, d: int):
    """y = S x, S packed symmetric. Mirrors linalg.hpp::sym_mul_vec."""
    return unpack_sym(S, d) @ x
