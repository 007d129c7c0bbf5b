"""d-dimensional Gaussian under every training loop and knob, in JAX.

Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop: replace, augment
(a fixed real set drawn at generation 0), fresh real data, accumulate,
accumulate-subsample; temperature, truncation (samples path), the weighted
fit and the provenance filter. The state row, the observe row and every
stream (tag, site, block) are the C++'s:

    exact part, tag TAG_SCATTER (synthetic) / TAG_REAL (real):
        site 0      the mean's d normals (d >= 2; at d = 1 the spare normal
                    of site 2's chi-square, as Gaussian1D)
        site 1      Bartlett's below-diagonal normals row by row, or the
                    d x (c-1) normals of the singular Wishart factor
        site 2 + i  the chi-square of Bartlett's i-th diagonal
    samples part, tag TAG_SAMPLES (synthetic) / TAG_REAL (real), site 0:
        consecutive normals, d per try (truncation: a try is rejected whole)
    TAG_FILTER site 0 / 1     synthetic / real survivors (binomial)
    TAG_SUBSET site 0 block j the j-th pick of the subsample (Floyd)

Functions work on one replica; vmap them over replicas. ``Params.d``,
``path`` and ``pool_cap`` must be Python ints (they fix shapes and code
paths); every other field may be traced, ``loop`` included. A static loop
traces only its own code and uses rows of ``state_size``; a traced loop
traces every loop's code, picks the results with jnp.where, and uses rows of
``row_size`` (the longest layout, zero-padded): one compiled program then
serves all five loops (compiling, seconds per program, is the reference's
main cost).

The samples path draws a data-dependent number of points, which XLA cannot
shape: it draws into buffers of a static size per part (``Bounds``, from the
count table: survivors never exceed the count they thin) and masks the rows
past the count; likewise the subsample's picks (``Bounds.subsample`` >=
subsample_n). Tries come in batches of ``nmax`` in a
``lax.while_loop`` until enough are accepted, so truncation needs no bound
on the number of tries. The C++ also stops after 2**33 normals of one
stream; the reference assumes no run comes near that.

Where the twins part: inner products and sums over points are XLA
reductions (another order than the C++'s sequential loops, possibly fused
multiply-adds) and XLA's log / sin / cos / exp are not libm's, so floats
agree to the tolerances of tests/test_reference_gaussian_loop.py, integers
(counts, survivors, picks, skipped fits) exactly. XLA on CPU also flushes
subnormal doubles to zero (see madsim.reference.gaussian): a state that
collapses below 2.2e-308 parts from the kernel.
"""

from __future__ import annotations

import math
import operator
import sys

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .backend import advance_model, as_c_array, family_model
from .metrics import (
    M_KL_MODEL_TRUTH,
    M_KL_TRUTH_MODEL,
    M_LOGDET_RATIO,
    M_TAIL2,
    M_TAIL3,
    M_TAIL4,
    M_TRACE_RATIO,
    M_W2_SQ,
    N_GAUSS_METRICS,
    gauss1_metrics,
    gaussd_metrics,
)
from .linalg import (
    cholesky_packed,
    congruence_packed,
    outer_packed,
    pack,
    tri,
    tri_mul_dense,
    tri_mul_vec,
    tri_size,
    unpack_lower,
)
from .common import bucket, floyd_subset, normals, survivors, wishart_factor
from .samplers import gamma_spare_normal
from .moments import moments_clear, moments_pool, moments_size
from . import ppca
from .philox import TAG_REAL, TAG_SAMPLES, TAG_SCATTER, TAG_SUBSET, Stream, make_stream

# Mirrors GaussianLoop::Loop, ::Path and ::Estimator
REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE = 0, 1, 2, 3, 4
EXACT, SAMPLES = 0, 1
MLE, UNBIASED = 0, 1


class Params(NamedTuple):
    """Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::Params,
    holding the truth and the count table themselves (n_counts is
    ``counts.shape[0]``)."""

    d: int  # dimension (Python int)
    loop: int  # REPLACE .. SUBSAMPLE (a Python int, or traced: see above)
    estimator: int  # MLE or UNBIASED
    path: int  # EXACT or SAMPLES (Python int)
    tau: float  # temperature: synthetic spread tau * Sigma^(1/2)
    trunc: float  # 0: none; else keep synthetic tries with |z| <= trunc
    weight: float  # < 0: pooled fit; else w in [0, 1]
    tpr: float  # filter: drop probability of synthetic points
    fpr: float  # filter: drop probability of real points
    real_fixed: float  # Augment: size of the fixed real set
    subsample_n: int  # AccumulateSubsample: points per fit (<= Bounds.subsample)
    pool_cap: int  # AccumulateSubsample: points the pool holds (Python int)
    truth: Any  # [d + T]: mu0, then Sigma0's Cholesky factor (packed)
    counts: Any  # [n_counts, 2]: (real, synthetic) of generation t in row t-1
    factors: int = 0  # 0: full covariance; q in [1, d): PPCA (Python int)
    basis: Any = None  # [d, q] (factors > 0): the truth's principal subspace, orthonormal
    reweight_beta: float = 0.0  # 0: off; else synthetic draws with |z| > reweight_k weigh 1 + beta
    reweight_k: float = 0.0
    correction: float = 0.0  # 0: off; else g in (0, 1]: self-correction's strength


class Bounds(NamedTuple):
    """Static buffer sizes (Python ints) of the samples path; reference only,
    the C++ streams its points instead."""

    real: int  # most real points one part of one generation draws
    synthetic: int  # most synthetic points one generation draws
    subsample: int  # most points a subsampling fit picks (>= subsample_n);
    # 0 declares the loop is not SUBSAMPLE (its code is not traced)


def bounds(p: Params) -> Bounds:
    """The buffer sizes for concrete params with a static loop: the largest
    count of each part in the table (the fixed real set included) and
    subsample_n, each rounded up to a power of two. The exact path draws no
    points: Bounds(0, 0, 0)."""
    if p.path != SAMPLES:
        return Bounds(0, 0, 0)
    counts = np.asarray(p.counts, np.float64).reshape(-1, 2)
    real = counts[:, 0].max(initial=0.0)
    if p.loop == AUGMENT:
        real = max(real, float(p.real_fixed))
    sub = bucket(p.subsample_n) if p.loop == SUBSAMPLE else 0
    return Bounds(bucket(real), bucket(counts[:, 1].max(initial=0.0)), sub)


# --- sizes and layout (mirror the static members) ----------------------------------------------


def T(p: Params) -> int:
    """Mirrors GaussianLoop::T."""
    return tri_size(p.d)


def counts_at(p: Params) -> int:
    """Mirrors GaussianLoop::counts_at."""
    return p.d + T(p)


def loop_at(p: Params) -> int:
    """Mirrors GaussianLoop::loop_at."""
    return p.d + T(p) + 3


def loop_size(p: Params) -> int:
    """Mirrors GaussianLoop::loop_size."""
    if p.loop == AUGMENT:
        return moments_size(p.d)
    if p.loop == ACCUMULATE:
        return 2 + moments_size(p.d)
    if p.loop == SUBSAMPLE:
        return 1 + p.pool_cap * (p.d + 1)
    return 0


def state_size(p: Params) -> int:
    """Mirrors GaussianLoop::state_size."""
    return loop_at(p) + loop_size(p)


def row_size(p: Params) -> int:
    """The state row the functions here take and return: state_size(p) for a
    static loop; for a traced one the longest layout of any loop at p's d and
    pool_cap (the other loops' rows zero-padded to it)."""
    if _static(p.loop):
        return state_size(p)
    return loop_at(p) + max(2 + moments_size(p.d), 1 + p.pool_cap * (p.d + 1))


def _static(loop) -> bool:
    return isinstance(loop, (int, np.integer))


def _may_be(loop, which: int) -> bool:
    """Whether code for loop `which` must be traced: it is the static loop, or the loop is traced."""
    return not _static(loop) or int(loop) == which


def _switch(loop, cases: dict, default):
    """cases[loop] (a pytree), or default when loop has no case. A static loop
    picks in Python (cases of other loops may be absent); a traced one
    selects with jnp.where over the cases given."""
    if _static(loop):
        return cases.get(int(loop), default)
    out = default
    for which, value in cases.items():
        out = jax.tree.map(lambda a, b, w=which: jnp.where(loop == w, a, b), value, out)
    return out


def metrics_at(p: Params) -> int:
    """Mirrors GaussianLoop::metrics_at."""
    return p.d + T(p) + 6


# Mirrors GaussianLoop::metric_of for d > 1: the metrics defined there, in slot order.
ND_METRICS = (
    M_TAIL2,
    M_TAIL3,
    M_TAIL4,
    M_W2_SQ,
    M_KL_MODEL_TRUTH,
    M_KL_TRUTH_MODEL,
    M_LOGDET_RATIO,
    M_TRACE_RATIO,
)


def n_metrics(p: Params) -> int:
    """Mirrors GaussianLoop::n_metrics."""
    return N_GAUSS_METRICS if p.d == 1 else len(ND_METRICS)


def observe_size(p: Params) -> int:
    """Mirrors GaussianLoop::observe_size: [mu d | Sigma packed T | trace, logdet,
    mean_sq, points_real, points_synthetic, skipped | the metrics
    (madsim.reference.metrics; for d > 1 only ND_METRICS) | PPCA (factors =
    q > 0): factor_var q, noise_var, subspace_sin2, max_angle]."""
    return metrics_at(p) + n_metrics(p) + (p.factors + 3 if p.factors else 0)


# --- draws ---------------------------------------------------------------------------------------


def accepted_tries(st: Stream, want, d: int, trunc, nmax: int):
    """The first min(want, nmax) accepted tries of st as rows of z [nmax, d]
    (rows past the count are zero) and their number (int64).

    Try i is normals i*d .. i*d + d - 1; it is rejected when trunc > 0 and
    its squared norm exceeds trunc^2. Tries are made nmax at a time until
    enough are accepted (one batch without truncation). The loops of
    GaussianLoop::draw_samples and ::step_subsample.
    """
    want = jnp.minimum(jnp.asarray(want, jnp.float64), float(nmax)).astype(jnp.int64)
    B = max(1, nmax)
    # A Python trunc <= 0 (the real part) accepts every try: no rejection code
    # (XLA would otherwise constant-fold the all-true cumsum, slowly, per replica).
    truncating = not (isinstance(trunc, (int, float)) and trunc <= 0.0)
    trunc = jnp.asarray(trunc, jnp.float64)

    def body(carry):
        tries, got, z = carry
        x = normals(st, tries * d, B * d).reshape(B, d)
        if not truncating:
            accept = jnp.ones(B, bool)
            pos = got + jnp.arange(B)
        else:
            r2 = x[:, 0] * x[:, 0]
            for i in range(1, d):  # sequential, as the C++ adds them
                r2 = r2 + x[:, i] * x[:, i]
            accept = jnp.logical_not((trunc > 0.0) & (r2 > trunc * trunc))
            pos = got + jnp.cumsum(accept) - 1
        keep = accept & (pos < want)
        z = z.at[jnp.where(keep, pos, nmax)].set(x, mode="drop")
        return tries + B, got + jnp.sum(keep), z

    init = (jnp.int64(0), jnp.int64(0), jnp.zeros((nmax, d), jnp.float64))
    _, got, z = lax.while_loop(lambda c: c[1] < want, body, init)
    return z, got


def draw_exact(d: int, c, mu, L, s, key, replica, gen, tag, factor: bool = False):
    """Moments of c draws of N(mu, s^2 L L'), exact in law: mean =
    mu + s L z / sqrt(c), scatter = s^2 L F F' L' with F F' ~ Wishart_d(c-1, I),
    F by Bartlett when c - 1 >= d, else the d x (c-1) normals themselves. At
    d = 1, z is the spare normal of the chi-square's first try (site 2).

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::draw_exact
    (returns the moments vector; with factor=True also Bartlett's F packed,
    which GaussianLoop::step_replace reads back from the C++ scratch).
    """
    c = jnp.asarray(c, jnp.float64)
    if d == 1:  # one block a part: the mean's normal is the spare of the chi-square (site 2)
        zs = gamma_spare_normal(make_stream(key, replica, gen, tag, 2))[None]
    else:
        zs = normals(make_stream(key, replica, gen, tag, 0), 0, d)
    mean = mu + s * tri_mul_vec(L, zs, d) / jnp.sqrt(jnp.where(c > 0.0, c, 1.0))
    nu = c - 1.0
    F = wishart_factor(d, nu, key, replica, gen, tag)
    scatter = outer_packed(tri_mul_dense(L, F, d), d, s * s)
    m = jnp.concatenate([c[None], mean, jnp.where(nu > 0.0, scatter, 0.0)])
    m = jnp.where(c > 0.0, m, moments_clear(d))
    return (m, pack(F, d)) if factor else m


def draw_samples(d: int, c, mu, L, s, trunc, st: Stream, nmax: int, factor: bool = False, beta=0.0, k=0.0):
    """Moments of c draws (truncated to |z| <= trunc when trunc > 0) from the
    consecutive normals of st, reduced on z - z_0 in standard coordinates and
    mapped by the fit's affine equivariance: mean = mu + s L zbar, scatter =
    s^2 L S_z L'. c <= nmax (static buffer rows; see Bounds).

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::draw_samples
    (sums over points as XLA reductions). With factor=True also returns
    chol(S_z) packed (GaussianLoop::step_replace's G on the samples path).
    beta > 0 (may be traced): tail weights, as
    GaussianLoop::draw_samples_weighted (``weighted_moments``).
    """
    c = jnp.asarray(c, jnp.float64)
    z, got = accepted_tries(st, c, d, trunc, nmax)
    if _off(beta):
        n, zbar, sz = shifted_moments(z, jnp.arange(nmax) < got, d)
    else:
        n, zbar, sz = weighted_moments(z, jnp.arange(nmax) < got, d, beta, k)
    mean = mu + s * tri_mul_vec(L, zbar, d)
    m = jnp.concatenate([n[None], mean, congruence_packed(L, sz, d, s * s)])
    m = jnp.where(c > 0.0, m, moments_clear(d))
    return (m, cholesky_packed(sz, d)) if factor else m


def shifted_moments(x, valid, d: int):
    """(count, mean, scatter packed) of the rows of x [N, d] where valid [N]
    (a prefix), reduced on x - x_0 as the C++ loops do: sums s1 of the shifted
    rows and of their outer products, then scatter -= s1 s1' / n and mean =
    x_0 + s1 / n (zeros when no row is valid). The reductions of
    GaussianLoop::draw_samples and ::step_subsample."""
    n = jnp.sum(valid).astype(jnp.float64)
    safe_n = jnp.where(n > 0.0, n, 1.0)
    x0 = x[0]
    dx = jnp.where(valid[:, None], x - x0, 0.0)
    s1 = jnp.sum(dx, axis=0)
    rows, cols = np.tril_indices(d)
    scatter = jnp.where(n > 0.0, pack(dx.T @ dx, d) - s1[rows] * s1[cols] / safe_n, 0.0)
    return n, jnp.where(n > 0.0, x0 + s1 / safe_n, 0.0), scatter


def weighted_moments(z, valid, d: int, beta, k):
    """(count, weighted mean, weighted scatter normalised to the count) of
    the rows of z [N, d] where valid, row i weighing 1 + beta * 1{|z_i|^2 > k^2}:
    sums s1 of w (z - z_0) and of w (z - z_0)(z - z_0)' then scatter = (s1s -
    s1 s1' / W) * n / W, mean = z_0 + s1 / W, W = sum w. Mirrors the reduction
    of GaussianLoop::draw_samples_weighted."""
    n = jnp.sum(valid).astype(jnp.float64)
    r2 = z[:, 0] * z[:, 0]
    for i in range(1, d):  # sequential, as the C++ adds them
        r2 = r2 + z[:, i] * z[:, i]
    k = jnp.asarray(k, jnp.float64)
    wt = jnp.where(valid, jnp.where(r2 > k * k, 1.0 + beta, 1.0), 0.0)
    W = jnp.sum(wt)
    safe_W = jnp.where(W > 0.0, W, 1.0)
    dx = jnp.where(valid[:, None], z - z[0], 0.0)
    s1 = jnp.sum(wt[:, None] * dx, axis=0)
    rows, cols = np.tril_indices(d)
    scatter = (pack((wt[:, None] * dx).T @ dx, d) - s1[rows] * s1[cols] / safe_W) * (n / safe_W)
    return n, jnp.where(n > 0.0, z[0] + s1 / safe_W, 0.0), jnp.where(n > 0.0, scatter, 0.0)


def _off(x) -> bool:
    """A knob given as a Python number <= 0: its code is not traced."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not x > 0.0


def correct(p: Params, head, m):
    """Self-correction of a synthetic part's moments m drawn from model t-1
    (head = [mu | L]): mean -> (1 - g) mu + g mu0 + M (mean - mu), scatter ->
    M scatter M, M = (1 - g) I + g A, A = L^-T (L' Sigma0 L)^(1/2) L^-1 (the
    transport map from N(mu, L L') to the truth; the square root by eigh
    here, by one-sided Jacobi in the C++). Unchanged when the part is empty
    or L has a zero pivot. Mirrors GaussianLoop::correct."""
    d = p.d
    g = jnp.asarray(p.correction, jnp.float64)
    truth = jnp.asarray(p.truth, jnp.float64)
    mu, Lt = head[:d], unpack_lower(head[d:], d)
    L0 = unpack_lower(truth[d:], d)
    diag = jnp.diagonal(Lt)
    usable = (m[0] > 0.0) & jnp.all(diag > 0.0)
    Ls = jnp.where(usable, Lt, jnp.eye(d))
    C = Ls.T @ L0
    lam, V = jnp.linalg.eigh(C @ C.T)
    R = (V * jnp.sqrt(jnp.maximum(lam, 0.0))) @ V.T
    Linv = jax.scipy.linalg.solve_triangular(Ls, jnp.eye(d), lower=True)
    A = Linv.T @ R @ Linv
    M = (1.0 - g) * jnp.eye(d) + g * 0.5 * (A + A.T)
    mean = (1.0 - g) * mu + g * truth[:d] + M @ (m[1 : 1 + d] - mu)
    S = unpack_lower(m[1 + d :], d)
    S = S + jnp.tril(S, -1).T
    out = jnp.concatenate([m[:1], mean, pack(M @ S @ M, d)])
    return jnp.where(usable, out, m)


def draw_part(p: Params, real, c, mu, L, key, replica, gen, nmax: int, factor: bool = False):
    """One part of generation gen's data (real: spread 1, tag TAG_REAL;
    synthetic: spread tau, tags TAG_SCATTER / TAG_SAMPLES, truncated).
    ``real`` may be traced (``draw_parts`` vmaps over it).

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::draw_part.
    """
    s = _pick(real, 1.0, p.tau)
    if p.path == EXACT:
        return draw_exact(p.d, c, mu, L, s, key, replica, gen, _pick(real, TAG_REAL, TAG_SCATTER), factor)
    if p.path == SAMPLES:
        beta = 0.0 if _off(p.reweight_beta) else _pick(real, 0.0, p.reweight_beta)
        return draw_samples(
            p.d,
            c,
            mu,
            L,
            s,
            _pick(real, 0.0, p.trunc),
            make_stream(key, replica, gen, _pick(real, TAG_REAL, TAG_SAMPLES), 0),
            nmax,
            factor,
            beta,
            p.reweight_k,
        )
    raise ValueError(f"path must be 0 (exact) or 1 (samples); got {p.path!r}")


def _pick(real, a, b):
    """a if real else b: in Python for a Python bool, else jnp.where."""
    if isinstance(real, (bool, np.bool_)):
        return a if real else b
    return jnp.where(real, a, b)


def draw_parts(p: Params, k, m, model, key, replica, gen, nmax: Bounds, factor: bool = False):
    """(synthetic, real) moments of generation gen: draw_part for k points of
    the model [mu | L] and for m of the truth, as one vmapped call (half the
    code to compile; the two parts use independent streams, so drawing them
    together changes no number)."""
    d = p.d
    truth = jnp.asarray(p.truth, jnp.float64)
    both = jax.vmap(
        lambda real, c, row: draw_part(
            p, real, c, row[:d], row[d:], key, replica, gen, max(nmax.real, nmax.synthetic), factor
        )
    )
    out = both(jnp.array([False, True]), jnp.stack([k, m]), jnp.stack([model, truth]))
    if factor:  # ((m_syn, m_real), (G_syn, G_real)) -> (m_syn, m_real, G_syn)
        return out[0][0], out[0][1], out[1][0]
    return out[0], out[1]


def divisor(p: Params, count):
    """count (MLE) or count - 1 (unbiased). Mirrors GaussianLoop::divisor."""
    return jnp.where(jnp.asarray(p.estimator) == MLE, count, count - 1.0)


def fit(p: Params, real, syn, head):
    """Model t from the real and synthetic moments -> (new [mu | L] row, ok).
    Pooled (weight < 0): mean and scatter / divisor of both parts together,
    needing >= d + 1 points; weighted: w * real-part fit + (1 - w) *
    synthetic-part fit, each part needing >= d + 1. When not ok the model
    ``head`` ([d + T], model t-1) is returned unchanged.

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::fit.
    """
    d = p.d
    pooled = moments_pool(real, syn, d)
    ok_pooled = jnp.logical_not(pooled[0] < d + 1.0)
    mu_pooled = pooled[1 : 1 + d]
    cov_pooled = pooled[1 + d :] / _nonzero(divisor(p, pooled[0]))
    ok_weighted = jnp.logical_not((real[0] < d + 1.0) | (syn[0] < d + 1.0))
    w = jnp.asarray(p.weight, jnp.float64)
    mu_weighted = w * real[1 : 1 + d] + (1.0 - w) * syn[1 : 1 + d]
    cov_weighted = w * (real[1 + d :] / _nonzero(divisor(p, real[0]))) + (1.0 - w) * (
        syn[1 + d :] / _nonzero(divisor(p, syn[0]))
    )
    is_pooled = w < 0.0
    ok = jnp.where(is_pooled, ok_pooled, ok_weighted)
    mu = jnp.where(is_pooled, mu_pooled, mu_weighted)
    L = cholesky_packed(jnp.where(is_pooled, cov_pooled, cov_weighted), d)
    return jnp.where(ok, jnp.concatenate([mu, L]), head), ok


def _nonzero(x):
    """x, with 0 replaced by 1 (for divisions whose result a failed fit discards)."""
    return jnp.where(x == 0.0, 1.0, x)


# --- generations ---------------------------------------------------------------------------------


def init(p: Params, key, replica, nmax: Bounds):
    """Generation 0: the state row holding the truth, and for Augment the
    fixed real set's moments (real_fixed points thinned by the filter,
    counter generation 0). Returns the row [row_size(p)].

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::init.
    """
    d, head, ms = p.d, p.d + T(p), moments_size(p.d)
    truth = jnp.asarray(p.truth, jnp.float64)
    state = jnp.zeros(row_size(p), jnp.float64).at[:head].set(truth)
    cases = {}
    if _may_be(p.loop, AUGMENT):
        c = survivors(p.real_fixed, p.fpr, key, replica, 0, 1)
        m = draw_part(p, True, c, truth[:d], truth[d:], key, replica, 0, nmax.real)
        cases[AUGMENT] = state.at[loop_at(p) : loop_at(p) + ms].set(m)
    return _switch(p.loop, cases, state)


def step(p: Params, state, key, replica, t, nmax: Bounds):
    """One generation: the row of model t-1 -> the row of model t (as long as
    the row given). Generation t's counts are row t-1 of p.counts, thinned by
    the filter (synthetic: TAG_FILTER site 0, real: site 1; Augment draws no
    real part here). Synthetic draws come from model t-1, real ones from the
    truth; Augment fits on its fixed set and the synthetic part, Accumulate
    on its pool after adding both, AccumulateSubsample on its subsample. A
    fit with too few points keeps model t-1 and counts a skipped fit.

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::step.
    """
    d, head = p.d, p.d + T(p)
    ms, lat = moments_size(d), loop_at(p)
    state = jnp.asarray(state, jnp.float64)
    n_in = state.shape[0]
    if n_in < row_size(p):  # a static loop's own row; the other loops' slices read zeros
        state = jnp.concatenate([state, jnp.zeros(row_size(p) - n_in, jnp.float64)])
    t = jnp.asarray(t, jnp.uint32)
    m_t, k_t = jnp.asarray(p.counts, jnp.float64)[t.astype(jnp.int64) - 1]
    # Both filters in one binomial call (synthetic: site 0, real: site 1).
    k, m = survivors(
        jnp.stack([k_t, m_t]), jnp.stack([p.tpr, p.fpr]), key, replica, t, jnp.arange(2, dtype=jnp.uint32)
    )
    m = _switch(p.loop, {AUGMENT: jnp.float64(0.0)}, m)
    empty = moments_clear(d)
    fit_on, rows, counts = {}, {}, {}  # per loop: moments to fit, new row, (real, synthetic)
    if any(_may_be(p.loop, x) for x in (REPLACE, AUGMENT, FRESH, ACCUMULATE)):
        # Synthetic draws come from model t-1 (the row before the fit).
        real = state[lat : lat + ms]  # Augment: the fixed real set
        if any(_may_be(p.loop, x) for x in (REPLACE, FRESH, ACCUMULATE)):
            syn, drawn, G = draw_parts(p, k, m, state[:head], key, replica, t, nmax, factor=True)
            real = _switch(p.loop, {AUGMENT: real}, drawn)
        else:
            syn = draw_part(p, False, k, state[:d], state[d:head], key, replica, t, nmax.synthetic)
        if not _off(p.correction):
            syn = correct(p, state[:head], syn)
        for x in (REPLACE, AUGMENT, FRESH):
            fit_on[x], rows[x], counts[x] = (real, syn), state, jnp.stack([real[0], syn[0]])
        if _may_be(p.loop, ACCUMULATE):
            n_parts = state[lat : lat + 2] + jnp.stack([real[0], syn[0]])
            pool = moments_pool(moments_pool(state[lat + 2 : lat + 2 + ms], real, d), syn, d)
            fit_on[ACCUMULATE] = (pool, empty)
            rows[ACCUMULATE] = state.at[lat : lat + 2 + ms].set(jnp.concatenate([n_parts, pool]))
            counts[ACCUMULATE] = n_parts
    if _may_be(p.loop, SUBSAMPLE) and p.path == SAMPLES and nmax.subsample > 0:
        rows[SUBSAMPLE], mom = step_subsample(p, state, key, replica, t, m, k, nmax)
        fit_on[SUBSAMPLE], counts[SUBSAMPLE] = (mom, empty), rows[SUBSAMPLE][head : head + 2]
    any_loop = next(iter(fit_on))
    a, b = _switch(p.loop, fit_on, fit_on[any_loop])
    new, ok = fit(p, a, b, state[:head])
    if _may_be(p.loop, REPLACE) and _off(p.correction):  # with correction Replace fits as Fresh
        new, ok = _switch(p.loop, {REPLACE: replace_fit(p, syn, G, state[:head])}, (new, ok))
    if p.factors:  # PPCA: every fit projected (a kept model is already PPCA)
        new = jnp.where(ok, new.at[d:].set(ppca.project(new[d:], d, p.factors)), new)
    state = _switch(p.loop, rows, rows[any_loop])
    state = state.at[:head].set(new).at[head : head + 2].set(_switch(p.loop, counts, counts[any_loop]))
    return state.at[head + 2].add(jnp.where(ok, 0.0, 1.0))[:n_in]


def replace_fit(p: Params, syn, G, head):
    """Replace: new mean = the synthetic mean, new Cholesky factor =
    (tau / sqrt(div)) L G with G the part's factor in standard coordinates
    (never forming the scatter, so the condition number does not square).
    Returns (new [mu | L] row, ok); ok needs >= d + 1 points.

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::step_replace.
    """
    d = p.d
    ok = jnp.logical_not(syn[0] < d + 1.0)
    f = jnp.asarray(p.tau, jnp.float64) / jnp.sqrt(_nonzero(divisor(p, syn[0])))
    LG = f * (unpack_lower(head[d:], d) @ unpack_lower(G, d))
    new = jnp.concatenate([syn[1 : 1 + d], pack(LG, d)])
    return jnp.where(ok, new, head), ok


def step_subsample(p: Params, state, key, replica, t, m, k, nmax: Bounds):
    """Accumulate-subsample: append generation t's synthetic points (from
    model t-1, stream TAG_SAMPLES) then its real ones (TAG_REAL) to the pool
    as rows [x | 1 if real] while it has room, then pick n = min(size,
    subsample_n) of them without replacement by Floyd's algorithm (pick c:
    r = floor(u (j + 1)), u from block c of TAG_SUBSET, j = size - n + c; r
    becomes j when already taken) and reduce them, shifted by the first pick.
    Returns (the row with the pool and the points counts updated, the
    moments to fit); ``step`` makes the fit the C++ makes at the end.

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::step_subsample.
    """
    d, head, lat = p.d, p.d + T(p), loop_at(p)
    cap, nsub = p.pool_cap, max(1, nmax.subsample)
    truth = jnp.asarray(p.truth, jnp.float64)
    size = state[lat].astype(jnp.int64)
    pts = state[lat + 1 : lat + 1 + cap * (d + 1)].reshape(cap, d + 1)
    # Synthetic first (from model t-1, before anything changes), then real.
    for real, want, mu, L, s, trunc, nm in (
        (False, k, state[:d], state[d:head], p.tau, p.trunc, nmax.synthetic),
        (True, m, truth[:d], truth[d:], 1.0, 0.0, nmax.real),
    ):
        room = (cap - size).astype(jnp.float64)
        z, got = accepted_tries(
            make_stream(key, replica, t, TAG_REAL if real else TAG_SAMPLES, 0),
            jnp.minimum(want, room),
            d,
            trunc,
            nm,
        )
        x = mu + s * (z @ unpack_lower(L, d).T)
        rows = jnp.concatenate([x, jnp.full((nm, 1), 1.0 if real else 0.0)], axis=1)
        j = jnp.arange(nm)
        pts = pts.at[jnp.where(j < got, size + j, cap)].set(rows, mode="drop")
        size = size + got
    n = jnp.minimum(size, jnp.asarray(p.subsample_n, jnp.int64))
    pick = floyd_subset(make_stream(key, replica, t, TAG_SUBSET, 0), size, n, nsub)
    use = jnp.arange(nsub) < n
    padded = jnp.concatenate([pts, jnp.zeros((1, d + 1))])  # pool_cap may be 0
    chosen = padded[jnp.where(use, pick, 0.0).astype(jnp.int64)]  # [nsub, d + 1]
    nn, mean, sc = shifted_moments(chosen[:, :d], use, d)
    n_real = jnp.sum(jnp.where(use, chosen[:, d], 0.0))
    state = state.at[lat].set(size.astype(jnp.float64))
    state = state.at[lat + 1 : lat + 1 + cap * (d + 1)].set(pts.reshape(-1))
    state = state.at[head : head + 2].set(jnp.stack([n_real, nn - n_real]))
    return state, jnp.concatenate([nn[None], mean, sc])


def observe(p: Params, state):
    """What records and detectors see: [mu | Sigma = L L' packed | tr Sigma,
    ln det Sigma (2 sum ln L_ii), |mu - mu0|^2, points_real,
    points_synthetic, skipped | the metrics against the truth: d = 1
    metrics.gauss1_metrics of (mu, L^2) and (mu0, L0^2), d > 1 the
    ND_METRICS of metrics.gaussd_metrics], every column (the C++ computes only those asked
    for; the values are the same).

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::observe.
    """
    d, head = p.d, p.d + T(p)
    state = jnp.asarray(state, jnp.float64)
    mu = state[:d]
    Ld = unpack_lower(state[d:head], d)
    sigma = pack(Ld @ Ld.T, d)
    diag = np.array([tri(i, i) for i in range(d)])
    trace = jnp.sum(sigma[diag])
    logdet = jnp.sum(2.0 * jnp.log(state[d + diag]))
    truth = jnp.asarray(p.truth, jnp.float64)
    dm = mu - truth[:d]
    tail = jnp.stack([trace, logdet, jnp.sum(dm * dm)])
    if d == 1:
        L, L0 = state[1], truth[1]
        metrics = gauss1_metrics(mu[0], L * L, truth[0], L0 * L0)
    else:
        metrics = gaussd_metrics(mu, state[d:head], truth[:d], truth[d:], d)[np.array(ND_METRICS)]
    out = [mu, sigma, tail, state[head : head + 3], metrics]
    if p.factors:
        out.append(ppca.metrics(state[d:head], jnp.asarray(p.basis, jnp.float64), d, p.factors))
    return jnp.concatenate(out)


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def _loop_params(params) -> Params:
    """Mirrors the checks of _core's GaussianLoopParams constructor
    (make_gaussian_loop in csrc/bindings/gaussian_loop.cpp: sizes, caps and
    codes, no numerical domain, which Config and the family check), in its
    order and with its messages, on a reference
    ``Params``; returns it with numpy truth and counts (and
    subsample_n = pool_cap = 0 unless the loop is SUBSAMPLE, as there)."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a madsim.reference.gaussian_loop.Params; got {params!r}")
    p = params
    try:
        d, loop, est, path = (
            operator.index(p.d),
            operator.index(p.loop),
            operator.index(p.estimator),
            operator.index(p.path),
        )
        sub_n, cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
        tau, trunc, weight, tpr, fpr, real_fixed, beta, rk, corr = map(
            float,
            (
                p.tau,
                p.trunc,
                p.weight,
                p.tpr,
                p.fpr,
                p.real_fixed,
                p.reweight_beta,
                p.reweight_k,
                p.correction,
            ),
        )
    except TypeError:
        raise TypeError(
            f"params: d, loop, estimator, path, subsample_n and pool_cap must be "
            f"integers, the rest numbers; got {params!r}"
        ) from None
    if d < 1 or d > 256:
        raise ValueError("d must lie in [1, 256]")
    if loop < REPLACE or loop > SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if est not in (MLE, UNBIASED):
        raise ValueError("estimator must be 0 (mle) or 1 (unbiased)")
    if path not in (EXACT, SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    if not (0.0 <= real_fixed <= 1099511627776.0 and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer in [0, 2**40]")
    if loop == SUBSAMPLE:
        if path != SAMPLES:
            raise ValueError("subsample needs the samples path")
        if sub_n < 1:
            raise ValueError("subsample_n must be >= 1")
        if cap < 0 or cap > (1 << 36) // (d + 1):
            raise ValueError("pool_cap must lie in [0, 2**36 / (d + 1)]")
    else:
        sub_n = cap = 0
    T = d * (d + 1) // 2
    truth = np.array(as_c_array(p.truth, "truth", (d + T,)), np.float64)
    counts = np.array(as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts <= 1099511627776.0) & (counts == np.floor(counts))):
        raise ValueError("counts must be integers in [0, 2**40]")
    factors, basis = _ppca_params(p, d)
    return Params(
        d,
        loop,
        est,
        path,
        tau,
        trunc,
        weight,
        tpr,
        fpr,
        real_fixed,
        sub_n,
        cap,
        truth,
        counts,
        factors,
        basis,
        beta,
        rk,
        corr,
    )


def _ppca_params(p, d):
    """(factors, basis) of PPCA params, checked as make_gaussian_loop does."""
    try:
        q = operator.index(p.factors)
    except TypeError:
        raise TypeError(f"params: factors must be an integer; got {p.factors!r}") from None
    if q == 0:
        if p.basis is not None:
            raise ValueError("basis is for factors > 0 (PPCA); got factors = 0")
        return 0, None
    if q < 1 or q >= d:
        raise ValueError(f"factors must be 0 (full covariance) or lie in [1, d - 1] = [1, {d - 1}], got {q}")
    if p.basis is None:
        raise ValueError("factors > 0 needs basis, the truth's [d, q] subspace")
    return q, np.array(as_c_array(p.basis, "basis", (d, q)), np.float64)


def _loop_params_of(static, dyn) -> Params:
    d, path, cap, factors, (beta, rk, corr), _ = static
    return Params(
        d,
        dyn["loop"],
        dyn["estimator"],
        path,
        dyn["tau"],
        dyn["trunc"],
        dyn["weight"],
        dyn["tpr"],
        dyn["fpr"],
        dyn["real_fixed"],
        dyn["subsample_n"],
        cap,
        dyn["truth"],
        dyn["counts"],
        factors,
        dyn.get("basis"),
        beta,
        rk,
        corr,
    )


def advance_gaussian_loop(
    params,
    state,
    replica_ids,
    seed,
    gen_begin,
    gen_end,
    rec_gens,
    rec_offset,
    records,
    detectors,
    first,
    threads,
    columns=None,
):
    """Runs generations gen_begin+1 .. gen_end of every replica of the
    d-dimensional Gaussian loop, in place; when gen_begin == 0 each state row
    is first (re)initialised (the truth, and Augment's fixed real set) and
    generation 0 observed. Arguments as in ``advance`` with state
    [R, state_size(params)] and records [R, K, C] (C =
    len(columns), or observe_size(params) when columns is
    None); params is a
    ``Params``, and gen_end may not pass the count table.

    Mirrors csrc/bindings/module.cpp's advance_gaussian_loop (the params
    checks of its GaussianLoopParams constructor first).

    Compiled once per (d, path, pool_cap, buffer sizes, shapes), not per
    loop: the loop and every knob are traced (gaussian_loop's traced-loop
    mode; rows are zero-padded to ``row_size`` inside), so a
    sweep over loops and knobs compiles once, at the price of tracing every
    loop's code into each step. On the samples path each part's points go
    through a buffer sized by the largest count in the whole table (rounded
    up to a power of two: ``bounds``), so memory and work per
    generation follow that maximum, not the generation's own count.
    """
    p = _loop_params(params)
    # the mitigations are static (Python numbers): their code is traced only when on
    static = (p.d, p.path, p.pool_cap, p.factors, (p.reweight_beta, p.reweight_k, p.correction), bounds(p))
    model = family_model(sys.modules[__name__], _loop_params_of, static)
    dyn = dict(
        loop=jnp.int32(p.loop),
        estimator=jnp.int32(p.estimator),
        tau=jnp.float64(p.tau),
        trunc=jnp.float64(p.trunc),
        weight=jnp.float64(p.weight),
        tpr=jnp.float64(p.tpr),
        fpr=jnp.float64(p.fpr),
        real_fixed=jnp.float64(p.real_fixed),
        subsample_n=jnp.int64(p.subsample_n),
        truth=jnp.asarray(p.truth),
        counts=jnp.asarray(p.counts),
    )
    if p.factors:
        dyn["basis"] = jnp.asarray(p.basis)
    S = state_size(p)
    width = row_size(_loop_params_of(static, dyn))
    advance_model(
        model,
        dyn,
        S,
        observe_size(p),
        p.counts.shape[0],
        state,
        replica_ids,
        seed,
        gen_begin,
        gen_end,
        rec_gens,
        rec_offset,
        records,
        detectors,
        first,
        threads,
        columns,
        width=width,
    )
