"""Distances and tail statistics of a Gaussian model against the truth, in JAX.

Mirrors csrc/madsim/metrics.hpp: the metrics the observe() of both Gaussian
kernels writes after its moments, in the order of ``GaussMetric``. Functions
work on one model (scalars, or one mean vector and packed factor); vmap them
over replicas. Degenerate models (a variance or Cholesky pivot of 0) give the
C++'s defined values, never a NaN.

Where the twins part: XLA's erf, erfc and log are not libm's, XLA fuses
multiply-adds, and the d > 1 metrics use XLA's triangular solves and LAPACK's
SVD (the C++: forward substitution and one-sided Jacobi; the d > 1 tail
masses: madsim.reference.gchisq, the same algorithm), so floats agree to
the tolerances of tests/test_reference_gaussian.py and
tests/test_reference_gaussian_loop.py, not bit for bit.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import solve_triangular

from . import gchisq
from .linalg import tri, unpack_lower

# Mirrors GaussMetric
(
    M_TAIL2,
    M_TAIL3,
    M_TAIL4,
    M_Q001,
    M_Q999,
    M_W2_SQ,
    M_KL_MODEL_TRUTH,
    M_KL_TRUTH_MODEL,
    M_TV,
    M_LOGDET_RATIO,
    M_TRACE_RATIO,
    N_GAUSS_METRICS,
) = range(12)
NAMES = (
    "tail2",
    "tail3",
    "tail4",
    "q001",
    "q999",
    "w2_sq",
    "kl_model_truth",
    "kl_truth_model",
    "tv",
    "logdet_ratio",
    "trace_ratio",
)

Z_Q999 = 3.0902323061678135  # Phi^-1(1 - 1e-3); mirrors metrics.hpp::Z_Q999
SQRT1_2 = 0.70710678118654752440
DBL_MIN = float(np.finfo(np.float64).tiny)


def normal_upper(x):
    """P(Z > x). Mirrors metrics.hpp::normal_upper."""
    return 0.5 * lax.erfc(x * SQRT1_2)


def normal_lower(x):
    """P(Z < x). Mirrors metrics.hpp::normal_lower."""
    return 0.5 * lax.erfc(-x * SQRT1_2)


def normal_mass(a, b):
    """P(a < Z < b), a <= b, from the nearer tails. Mirrors metrics.hpp::normal_mass."""
    return jnp.where(
        a >= 0.0,
        normal_upper(a) - normal_upper(b),
        jnp.where(b <= 0.0, normal_lower(b) - normal_lower(a), 1.0 - normal_lower(a) - normal_upper(b)),
    )


def tv_standard(m, r):
    """Total variation between N(m, r^2) and N(0, 1): the masses between the
    density crossings, each from the roots in its own units. Mirrors
    metrics.hpp::tv_standard (its branches as selects)."""
    pos = r > 0.0
    rs = jnp.where(pos, r, 2.0)
    one = rs == 1.0
    A = rs * rs - 1.0
    lr = jnp.log(rs)
    D = jnp.sqrt(jnp.maximum(0.0, m * m + 2.0 * A * lr))
    qz = -(m + jnp.where(m >= 0.0, rs * D, -(rs * D)))
    qu = -(m * rs + jnp.where(m >= 0.0, D, -D))
    degenerate = (qz == 0.0) | (qu == 0.0)
    Ad = jnp.where(one, 1.0, A)
    qz_, qu_ = jnp.where(degenerate, 1.0, qz), jnp.where(degenerate, 1.0, qu)
    z1, z2 = qz_ / Ad, -(m * m + 2.0 * rs * rs * lr) / qz_
    u1, u2 = qu_ / Ad, (m * m - 2.0 * lr) / qu_
    tv = jnp.abs(
        normal_mass(jnp.minimum(u1, u2), jnp.maximum(u1, u2))
        - normal_mass(jnp.minimum(z1, z2), jnp.maximum(z1, z2))
    )
    tv = jnp.where(degenerate, 0.0, tv)
    tv = jnp.where(one, lax.erf(jnp.abs(m) * (0.5 * SQRT1_2)), tv)
    return jnp.where(pos, tv, 1.0)


def gauss1_metrics(mu, var, mu0, var0):
    """[N_GAUSS_METRICS] metrics of N(mu, var) against N(mu0, var0), var0 > 0.

    Mirrors metrics.hpp::gauss1 and ::gauss1_metric (every metric at once).
    """
    mu, var = jnp.asarray(mu, jnp.float64), jnp.asarray(var, jnp.float64)
    dm = mu - mu0
    sd, sd0 = jnp.sqrt(var), jnp.sqrt(var0)
    rho = var / var0
    log_ratio = jnp.where(rho >= DBL_MIN, jnp.log(rho), jnp.log(var) - jnp.log(var0))
    alive = var > 0.0
    a = 1.0 / sd

    def tail(k):
        return jnp.where(
            sd > 0.0,
            normal_upper((k * sd0 - dm) * a) + normal_upper((k * sd0 + dm) * a),
            jnp.where(jnp.abs(dm) > k * sd0, 1.0, 0.0),
        )

    ds = sd - sd0
    kl_mt = jnp.where(alive, jnp.maximum(0.0, 0.5 * ((rho - 1.0 - log_ratio) + dm * dm / var0)), jnp.inf)
    kl_tm = 0.5 * ((var0 / var - 1.0 + log_ratio) + dm * dm / var)
    kl_tm = jnp.where(alive & ~jnp.isnan(kl_tm), jnp.maximum(0.0, kl_tm), jnp.inf)
    return jnp.stack(
        [
            tail(2.0),
            tail(3.0),
            tail(4.0),
            mu - Z_Q999 * sd,
            mu + Z_Q999 * sd,
            dm * dm + ds * ds,
            kl_mt,
            kl_tm,
            tv_standard(dm / sd0, sd / sd0),
            jnp.where(alive, log_ratio, -jnp.inf),
            rho,
        ]
    )


def mahalanobis_spectrum(X, b, d: int):
    """(lam [d], beta2 [d]): Q = (x - mu0)' Sigma0^-1 (x - mu0), x ~ model, as
    sum_j (sqrt(lam_j) Z_j + beta_j)^2, from X = L0^-1 L (dense lower) and b =
    L0^-1 (mu - mu0): lam the squared singular values of X, beta = U' b.

    Mirrors metrics.hpp::mahalanobis_spectrum with LAPACK's SVD for the
    one-sided Jacobi: as there, the directions of X's exactly zero columns
    (zero pivots of L) get lam = 0 exactly (here: the smallest singular
    values, one per zero column), so their beta^2 are Q's constant part."""
    n0 = jnp.sum(jnp.all(X == 0.0, axis=0))
    U, sv, _ = jnp.linalg.svd(X)
    lam = jnp.where(jnp.arange(d) >= d - n0, 0.0, sv * sv)
    beta = U.T @ b
    return lam, beta * beta


def gauss_w2_sq(mu, L, mu0, L0, d: int):
    """W2^2 between N(mu, L L') and N(mu0, L0 L0') (packed lower factors),
    with the nuclear norm of L0' L, clamped at 0. Mirrors metrics.hpp::gauss_w2_sq."""
    dm = mu - mu0
    nuc = jnp.sum(jnp.linalg.svd(unpack_lower(L0, d).T @ unpack_lower(L, d), compute_uv=False))
    return jnp.maximum(0.0, jnp.sum(dm * dm) + ((jnp.sum(L * L) + jnp.sum(L0 * L0)) - 2.0 * nuc))


def gaussd_metrics(mu, L, mu0, L0, d: int):
    """[N_GAUSS_METRICS] metrics of the model (mu [d], packed lower L) against
    (mu0, L0), d > 1 (a Python int): the tail masses, W2^2, both KLs,
    logdet_ratio, trace_ratio; the 1-D-only slots NaN (the C++ leaves them
    unwritten).

    Mirrors metrics.hpp::gaussd_metrics: the tail masses gchisq.upper on
    mahalanobis_spectrum's terms, trace_ratio |L0^-1 L|_F^2,
    logdet_ratio 2 sum (ln L_ii - ln L0_ii), the KLs from them and the
    Mahalanobis terms, W2^2 with the nuclear norm of L0' L (singular values
    from LAPACK here, one-sided Jacobi there), clamped at 0.
    """
    mu, L = jnp.asarray(mu, jnp.float64), jnp.asarray(L, jnp.float64)
    mu0, L0 = jnp.asarray(mu0, jnp.float64), jnp.asarray(L0, jnp.float64)
    diag = np.array([tri(i, i) for i in range(d)])
    Ld, L0d = unpack_lower(L, d), unpack_lower(L0, d)
    singular = jnp.any(~(L[diag] > 0.0))
    ldr = jnp.where(singular, -jnp.inf, 2.0 * jnp.sum(jnp.log(L[diag]) - jnp.log(L0[diag])))
    dm = mu - mu0
    X = solve_triangular(L0d, Ld, lower=True)
    v = solve_triangular(L0d, dm, lower=True)
    tr = jnp.sum(X * X)
    kl_mt = jnp.where(singular, jnp.inf, jnp.maximum(0.0, 0.5 * ((tr + jnp.sum(v * v) - d) - ldr)))
    nuc = jnp.sum(jnp.linalg.svd(L0d.T @ Ld, compute_uv=False))
    w2 = jnp.maximum(0.0, jnp.sum(dm * dm) + ((jnp.sum(L * L) + jnp.sum(L0 * L0)) - 2.0 * nuc))
    Ls = jnp.where(singular, jnp.eye(d), Ld)
    Y = solve_triangular(Ls, L0d, lower=True)
    w = solve_triangular(Ls, dm, lower=True)
    kl = 0.5 * ((jnp.sum(Y * Y) + jnp.sum(w * w) - d) + ldr)
    kl_tm = jnp.where(singular | jnp.isnan(kl), jnp.inf, jnp.maximum(0.0, kl))
    lam, beta2 = mahalanobis_spectrum(X, v, d)
    tails = gchisq.upper(lam, beta2, jnp.array([4.0, 9.0, 16.0]), jnp.sum(v * v))
    out = jnp.full(N_GAUSS_METRICS, jnp.nan).at[M_TAIL2 : M_TAIL4 + 1].set(tails)
    return (
        out.at[M_W2_SQ]
        .set(w2)
        .at[M_KL_MODEL_TRUTH]
        .set(kl_mt)
        .at[M_KL_TRUTH_MODEL]
        .set(kl_tm)
        .at[M_LOGDET_RATIO]
        .set(ldr)
        .at[M_TRACE_RATIO]
        .set(tr)
    )
