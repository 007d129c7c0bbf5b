"""Probabilistic PCA on a packed Cholesky factor, in JAX float64.

Mirrors csrc/madsim/ppca.hpp: the maximum-likelihood projection of a
covariance C = L L' onto q factors (top q eigenpairs kept, the other d - q
eigenvalues replaced by their mean s2) and the subspace metrics against the
truth's principal subspace. One replica per call (vmap over replicas);
``d`` and ``q`` are Python ints.

Where the twins part: C's eigenvectors come from XLA's SVD of L (the C++
orthogonalises L's columns by one-sided Jacobi) and the new factor from
XLA's QR (the C++'s own Householder loop): the same matrices to rounding,
not bit for bit. At an exact tie between the q-th and (q+1)-th eigenvalue
(measure zero for fitted covariances) the two may keep different
directions of the tied eigenspace.
"""

from __future__ import annotations

import jax.numpy as jnp

from .linalg import pack, unpack_lower


def _eigen(L, d: int):
    """(c, U [d, d], sigma [d] descending): C = L L' = c^2 U diag(sigma^2) U',
    c = L's largest entry (1 for L = 0). Mirrors ppca.hpp::ppca_eigen."""
    c = jnp.max(jnp.abs(L))
    c = jnp.where(c > 0.0, c, 1.0)
    U, sv, _ = jnp.linalg.svd(unpack_lower(L / c, d))
    return c, U, sv


def project(L, d: int, q: int):
    """Packed L [T] -> the packed Cholesky factor of C's PPCA projection
    U_q L_q U_q' + s2 (I - U_q U_q'), s2 = mean of the d - q smallest
    eigenvalues, built as the QR of B' with B = [sigma_1 u_1 .. sigma_q u_q |
    sqrt(s2) (I - U_q U_q')] (diagonal made >= 0). L = 0 stays 0.
    Mirrors csrc/madsim/ppca.hpp::ppca_project."""
    c, U, sv = _eigen(L, d)
    s2 = jnp.mean(sv[q:] ** 2)
    Uq = U[:, :q]
    B = jnp.concatenate([Uq * sv[:q], jnp.sqrt(s2) * (jnp.eye(d) - Uq @ Uq.T)], axis=1)
    R = jnp.linalg.qr(B.T, mode="r")  # [d, d] upper
    R = R * jnp.where(jnp.diag(R) < 0.0, -1.0, 1.0)[:, None]
    return jnp.where(jnp.max(jnp.abs(L)) > 0.0, c * pack(R.T, d), L)


def metrics(L, U0, d: int, q: int):
    """[factor_var q | noise_var, subspace_sin2, max_angle] of C = L L' against
    the orthonormal basis U0 [d, q]: C's top q eigenvalues (descending), the
    mean of the others, sum sin^2 of the principal angles = |(I - U0 U0')
    U_q|_F^2 and the largest angle asin(|(I - U0 U0') U_q|_2). A direction
    of zero variance counts as orthogonal (sin^2 = 1, angle pi/2).
    Mirrors csrc/madsim/ppca.hpp::ppca_metrics."""
    c, U, sv = _eigen(L, d)
    lam = (c * sv) ** 2
    lost = ~(sv[:q] > 0.0)
    Uq = U[:, :q]
    R = jnp.where(lost[None, :], 0.0, Uq - U0 @ (U0.T @ Uq))
    sin2 = jnp.sum(R * R) + jnp.sum(lost)
    smax = jnp.linalg.svd(R, compute_uv=False)[0]
    angle = jnp.where(jnp.any(lost), jnp.pi / 2, jnp.arcsin(jnp.minimum(1.0, smax)))
    return jnp.concatenate([lam[:q], jnp.stack([jnp.mean(lam[q:]), sin2, angle])])
