"""Gaussian kernel density estimate (replace, augment, fresh, accumulate,
accumulate-subsample; fixed bandwidth or the Scott / Silverman rules), in JAX.

Mirrors csrc/madsim/models/kde.hpp::KDE: the same state and observe rows,
the same streams

    point i's pick J: uniform52 of words (0,1) (i even) or (2,3) (i odd) of
        block i/2 of site 0 of TAG_SAMPLES (synthetic) / TAG_REAL (real),
        J = min(floor(u n), n - 1) (a KDE's draws only)
    point i's d normals: normals i d .. i d + d - 1 of site 1
    TAG_REAL site 2, generation 0: the held-out test set of the nll
    TAG_SUBSET site 0 block c: the c-th pick of the subsample (floyd_subset)

and the same fit (mean, biased covariance S, kernel factor: h I, or the
Cholesky factor of f^2 n / (n-1) S, refused below KDE::SINGULAR). Functions
work on one replica; vmap them over replicas. d, loop, rule, real_fixed,
model_cap, subsample_n, pool_cap, test_points and the draw buffers
(``bounds``) are Python ints; the rest may be traced. The twins agree to
rounding (XLA sums and solves in another order than the C++ loops); the
picks are integers and agree exactly.
"""

from __future__ import annotations

import math
import operator
import sys
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import solve_triangular

from .backend import advance_model, as_c_array, family_model, pool_sizes
from .common import floyd_subset, normals
from .linalg import cholesky_pivot, factor_column, pack, tri, tri_size, unpack_lower
from .metrics import gauss_w2_sq, normal_lower, normal_upper
from .philox import TAG_REAL, TAG_SAMPLES, TAG_SUBSET, block, make_stream
from .transforms import uniform52

# Mirrors KDE::Loop, ::Rule, ::Counter and the constants
REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE = 0, 1, 2, 3, 4
FIXED, SCOTT, SILVERMAN = 0, 1, 2
C_REAL, C_SYNTHETIC, C_SKIPPED, N_COUNTERS = range(4)
LOG_2PI = 1.8378770664093454835606594728112
SINGULAR = 1e-12
SITE_TEST = 2


class Params(NamedTuple):
    """Mirrors KDE::Params, holding the arrays themselves."""

    d: int
    loop: int
    rule: int
    h: Any
    real_fixed: Any  # a Python number: it sizes Augment's state
    test_points: int
    truth: Any  # [d + T]
    counts: Any  # [G, 2]
    subsample_n: int = 0
    pool_cap: int = 0
    model_cap: int = 0  # set by the launcher's checks (make_kde's cap)


def T(p: Params) -> int:
    return tri_size(p.d)


def counters_at(p: Params) -> int:
    return 1 + T(p)


def key_at(p: Params) -> int:
    return counters_at(p) + N_COUNTERS


def mean_at(p: Params) -> int:
    return key_at(p) + 3


def cov_at(p: Params) -> int:
    return mean_at(p) + p.d


def loop_at(p: Params) -> int:
    return cov_at(p) + T(p)


def head_size(p: Params) -> int:
    if p.loop == ACCUMULATE:
        return 2
    if p.loop == SUBSAMPLE:
        return 1
    return 1 + int(p.real_fixed) * p.d if p.loop == AUGMENT else 0


def points_at(p: Params) -> int:
    return loop_at(p) + head_size(p)


def pool_at(p: Params) -> int:
    return points_at(p) + int(p.model_cap) * p.d


def state_size(p: Params) -> int:
    return pool_at(p) + (int(p.pool_cap) * (p.d + 1) if p.loop == SUBSAMPLE else 0)


def metrics_at(p: Params) -> int:
    return p.d + T(p) + N_COUNTERS + 3


def observe_size(p: Params) -> int:
    return metrics_at(p) + 5


def bounds(p: Params) -> tuple:
    """Static buffer sizes (synthetic points, real points) of a generation:
    powers of two >= the table's largest counts (Augment: the fixed set's size)."""
    counts = np.asarray(p.counts, np.float64)

    def pow2(x):
        return 1 << int(max(x, 1.0) - 1).bit_length()

    syn = pow2(float(np.max(counts[:, 1], initial=0.0)))
    fresh = pow2(float(np.max(counts[:, 0], initial=0.0)))
    real = {FRESH: fresh, ACCUMULATE: fresh, SUBSAMPLE: fresh, AUGMENT: int(p.real_fixed)}.get(p.loop, 0)
    return syn, real


def truth_parts(p: Params):
    """(mu0 [d], dense L0 [d, d])."""
    truth = jnp.asarray(p.truth, jnp.float64)
    return truth[: p.d], unpack_lower(truth[p.d :], p.d)


def draw(p: Params, state, truth: bool, key, replica, gen, tag, B: int):
    """B points [B, d]; the first c are what the C++ draws for c points: of
    the truth when ``truth``, else of the KDE in ``state`` (the truth while
    it has no point). Mirrors KDE::draw."""
    d = p.d
    if B == 0:
        return jnp.zeros((0, d), jnp.float64)
    mu0, L0 = truth_parts(p)
    z = normals(make_stream(key, replica, gen, tag, 1), 0, B * d).reshape(B, d)
    if truth:
        return mu0 + z @ L0.T
    n = state[0]
    wb = block(make_stream(key, replica, gen, tag, 0), jnp.arange((B + 1) // 2, dtype=jnp.uint32))
    u = jnp.stack([uniform52(wb[:, 0], wb[:, 1]), uniform52(wb[:, 2], wb[:, 3])], axis=1).reshape(-1)[:B]
    j = jnp.minimum(jnp.floor(u * n), n - 1.0).astype(jnp.int64)
    P = state[points_at(p) : pool_at(p)].reshape(int(p.model_cap), d)
    L = unpack_lower(state[1 : 1 + T(p)], d)
    kde = n > 0.0
    centre = jnp.where(kde, P[jnp.clip(j, 0, max(int(p.model_cap) - 1, 0))], mu0)
    return centre + z @ jnp.where(kde, L, L0).T


def cholesky_checked(a, d: int):
    """(factor of packed a [T], ok): column by column; not ok when a pivot is
    not above SINGULAR times its diagonal entry. Mirrors KDE::cholesky_checked."""
    A = unpack_lower(jnp.asarray(a, jnp.float64), d)
    idx = jnp.arange(d)

    def column(j, carry):
        A, ok = carry
        row_j, s = cholesky_pivot(A, j, idx)
        good = (s > SINGULAR * A[j, j]) & (s > 0.0) & jnp.isfinite(s)
        new = factor_column(A, j, idx, row_j, jnp.sqrt(jnp.where(good, s, 1.0)))
        return A.at[:, j].set(new), ok & good

    A, ok = lax.fori_loop(0, d, column, (A, jnp.bool_(True)))
    return pack(A, d), ok


def fit(p: Params, X, mask):
    """(ok, mean [d], S [T], L_H [T]) of the KDE of the points X [B, d] where
    mask. Mirrors KDE::fit."""
    d = p.d
    n = jnp.sum(mask).astype(jnp.float64)
    ns = jnp.maximum(n, 1.0)
    Xm = jnp.where(mask[:, None], X, 0.0)
    m = jnp.sum(Xm, axis=0) / ns
    D = jnp.where(mask[:, None], X - m, 0.0)
    S = pack(D.T @ D, d) / ns
    if p.rule == FIXED:
        return n >= 1.0, m, S, pack(jnp.asarray(p.h, jnp.float64) * jnp.eye(d), d)
    e = -2.0 / (d + 4.0)
    f2 = jnp.power(ns, e) if p.rule == SCOTT else jnp.power(ns * (d + 2.0) / 4.0, e)
    L, ok = cholesky_checked(f2 * (S * ns / jnp.maximum(ns - 1.0, 1.0)), d)
    return ok & (n >= 2.0), m, S, L


def refit(p: Params, state, X, mask, nr, ns, points=None):
    """The row after fitting on X where mask (kept, skipped counted, when the
    fit cannot be made); ``points`` [model_cap, d]: the model's points when it
    is made (default: X compacted, which it already is). Mirrors KDE::refit."""
    ok, m, S, L = fit(p, X, mask)
    n = jnp.sum(mask).astype(jnp.float64)
    P = X if points is None else points
    c0 = counters_at(p)
    new = (
        state.at[0]
        .set(n)
        .at[1 : 1 + T(p)]
        .set(L)
        .at[mean_at(p) : mean_at(p) + p.d]
        .set(m)
        .at[cov_at(p) : cov_at(p) + T(p)]
        .set(S)
        .at[points_at(p) : pool_at(p)]
        .set(P.reshape(-1))
    )
    row = jnp.where(ok, new, state)
    return (
        row.at[c0 + C_REAL]
        .set(nr)
        .at[c0 + C_SYNTHETIC]
        .set(ns)
        .at[c0 + C_SKIPPED]
        .add(jnp.where(ok, 0.0, 1.0))
    )


def init(p: Params, key, replica, bnds):
    d = p.d
    mu0, L0 = truth_parts(p)
    row = jnp.zeros(state_size(p), jnp.float64)
    k = key_at(p)
    row = (
        row.at[k]
        .set(jnp.asarray(key[0], jnp.float64))
        .at[k + 1]
        .set(jnp.asarray(key[1], jnp.float64))
        .at[k + 2]
        .set(jnp.asarray(replica, jnp.float64))
    )
    row = (
        row.at[mean_at(p) : mean_at(p) + d].set(mu0).at[cov_at(p) : cov_at(p) + T(p)].set(pack(L0 @ L0.T, d))
    )
    if p.loop == AUGMENT:
        B = int(p.real_fixed)
        X = draw(p, row, True, key, replica, 0, TAG_REAL, B)
        row = row.at[loop_at(p)].set(float(B)).at[loop_at(p) + 1 : points_at(p)].set(X.reshape(-1))
    return row


def _scatter(P, X, start, c):
    """P with rows start .. start + c - 1 set to X's first c rows."""
    j = jnp.arange(X.shape[0])
    start = jnp.asarray(start).astype(jnp.int64)
    return P.at[jnp.where(j < jnp.asarray(c).astype(jnp.int64), start + j, P.shape[0])].set(X, mode="drop")


def step(p: Params, state, key, replica, t, bnds):
    nsyn, nreal = bnds
    d, cap = p.d, int(p.model_cap)
    counts = jnp.asarray(p.counts, jnp.float64)
    m_t, k_t = counts[t - 1, 0], counts[t - 1, 1]
    Xs = draw(p, state, False, key, replica, t, TAG_SAMPLES, nsyn)
    if p.loop in (FRESH, ACCUMULATE, SUBSAMPLE):
        nr = m_t
        Xr = draw(p, state, True, key, replica, t, TAG_REAL, nreal)
    elif p.loop == AUGMENT:
        nr = state[loop_at(p)]
        Xr = state[loop_at(p) + 1 : points_at(p)].reshape(nreal, d)
    else:
        nr, Xr = jnp.float64(0.0), jnp.zeros((0, d), jnp.float64)
    if p.loop == ACCUMULATE:
        lat = loop_at(p)
        size = state[lat]
        pool = state[points_at(p) : pool_at(p)].reshape(cap, d)
        cs = jnp.minimum(k_t, cap - size)
        pool = _scatter(pool, Xs, size, cs)
        size = size + cs
        cr = jnp.minimum(nr, cap - size)
        pool = _scatter(pool, Xr, size, cr)
        size = size + cr
        real = state[lat + 1] + cr
        state = state.at[lat].set(size).at[lat + 1].set(real)
        # the pool is the model's points: it grows even when the fit is skipped
        row = refit(p, state, pool, jnp.arange(cap) < size, real, size - real)
        return row.at[points_at(p) : pool_at(p)].set(pool.reshape(-1))
    if p.loop == SUBSAMPLE:
        lat, pc, nsub = loop_at(p), int(p.pool_cap), int(p.subsample_n)
        size = state[lat]
        pts = state[pool_at(p) :].reshape(pc, d + 1)
        for X, c, flag in ((Xs, k_t, 0.0), (Xr, nr, 1.0)):
            c = jnp.minimum(c, pc - size)
            rows = jnp.concatenate([X, jnp.full((X.shape[0], 1), flag)], axis=1)
            pts = _scatter(pts, rows, size, c)
            size = size + c
        state = state.at[lat].set(size).at[pool_at(p) :].set(pts.reshape(-1))
        n = jnp.minimum(size, float(nsub))
        pick = floyd_subset(
            make_stream(key, replica, t, TAG_SUBSET, 0), size.astype(jnp.int64), n.astype(jnp.int64), nsub
        )
        mask = jnp.arange(nsub) < n
        chosen = jnp.where(mask[:, None], pts[jnp.where(mask, pick, 0.0).astype(jnp.int64)], 0.0)
        nr_fit = jnp.sum(chosen[:, d])
        return refit(p, state, chosen[:, :d], mask, nr_fit, n - nr_fit)
    # replace, fresh, augment: the synthetic points, then the real ones, compacted
    X = _scatter(jnp.zeros((cap, d), jnp.float64), Xs, 0.0, k_t)
    X = _scatter(X, Xr, k_t, nr)
    return refit(p, state, X, jnp.arange(cap) < k_t + nr, nr, k_t)


def tails(p: Params, state):
    """[tail2, tail3, tail4]. Mirrors KDE::tails."""
    d, cap = p.d, int(p.model_cap)
    mu0, L0 = truth_parts(p)
    s0 = jnp.sqrt(jnp.sum(L0 * L0, axis=1))
    n = state[0]
    L = unpack_lower(state[1 : 1 + T(p)], d)
    s = jnp.sqrt(jnp.sum(L * L, axis=1))
    P = state[points_at(p) : pool_at(p)].reshape(cap, d)
    mask = jnp.arange(cap) < n
    out = []
    for k in (2.0, 3.0, 4.0):
        lo, hi = mu0 - k * s0, mu0 + k * s0
        mass = normal_lower((lo - P) / s) + normal_upper((hi - P) / s)  # [cap, d]
        kde = jnp.sum(jnp.where(mask[:, None], mass, 0.0), axis=0) / jnp.maximum(n, 1.0)
        gauss = normal_lower(-k) + normal_upper(k)
        out.append(jnp.sum(jnp.where(n > 0.0, kde, gauss)) / d)
    return jnp.stack(out)


def w2_sq_lower(p: Params, state):
    """Mirrors KDE::w2_sq_lower."""
    d = p.d
    S = state[cov_at(p) : cov_at(p) + T(p)]
    Lh = unpack_lower(state[1 : 1 + T(p)], d)
    C = S + jnp.where(state[0] > 0.0, pack(Lh @ Lh.T, d), 0.0)
    from .linalg import cholesky_packed

    truth = jnp.asarray(p.truth, jnp.float64)
    return gauss_w2_sq(state[mean_at(p) : mean_at(p) + d], cholesky_packed(C, d), truth[:d], truth[d:], d)


def nll(p: Params, state):
    """Mirrors KDE::nll (the test set from the key and replica in the row)."""
    d, cap, m = p.d, int(p.model_cap), int(p.test_points)
    mu0, L0 = truth_parts(p)
    k = key_at(p)
    key = jnp.stack([state[k], state[k + 1]]).astype(jnp.uint32)
    replica = state[k + 2].astype(jnp.uint32)
    z = normals(make_stream(key, replica, 0, TAG_REAL, SITE_TEST), 0, m * d).reshape(m, d)
    y = mu0 + z @ L0.T
    n = state[0]
    kde = n > 0.0
    L = jnp.where(kde, unpack_lower(state[1 : 1 + T(p)], d), L0)
    half_logdet = jnp.sum(jnp.log(jnp.diag(L)))
    cst = -half_logdet - 0.5 * d * LOG_2PI - jnp.where(kde, jnp.log(jnp.maximum(n, 1.0)), 0.0)
    zy = solve_triangular(L, (y - jnp.where(kde, 0.0, mu0)).T, lower=True).T  # [m, d]
    P = state[points_at(p) : pool_at(p)].reshape(cap, d)
    W = solve_triangular(L, P.T, lower=True).T  # [cap, d]
    diff = zy[:, None, :] - W[None, :, :]
    lg = jnp.where(jnp.arange(cap) < n, -0.5 * jnp.sum(diff * diff, axis=-1), -jnp.inf)
    mx = jnp.max(lg, axis=1)
    lse = mx + jnp.log(jnp.sum(jnp.exp(lg - mx[:, None]), axis=1))
    truth_ll = -0.5 * jnp.sum(zy * zy, axis=1)
    return -jnp.sum(cst + jnp.where(kde, lse, truth_ll)) / m


def observe(p: Params, state):
    """[mean d | S T | counters | trace, bandwidth, model_trace | tail2..4 |
    w2_sq_lower | nll]. Mirrors KDE::observe (every column)."""
    d, Tn = p.d, T(p)
    S = state[cov_at(p) : cov_at(p) + Tn]
    tr = jnp.sum(S[np.array([tri(q, q) for q in range(d)])])
    Lh = state[1 : 1 + Tn]
    trh = jnp.where(state[0] > 0.0, jnp.sum(Lh * Lh), 0.0)
    c0 = counters_at(p)
    return jnp.concatenate(
        [
            state[mean_at(p) : mean_at(p) + d],
            S,
            state[c0 : c0 + N_COUNTERS],
            jnp.stack([tr, jnp.sqrt(trh / d), tr + trh]),
            tails(p, state),
            jnp.stack([w2_sq_lower(p, state), nll(p, state)]),
        ]
    )


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def _kde_params(params) -> Params:
    """Mirrors the checks of csrc/bindings/kde.cpp's KDEParams constructor
    (make_kde: sizes, caps and codes, no numerical domain, which the family
    checks), in its order and with its messages; returns the params with
    numpy arrays and model_cap set (h = 0 unless the rule is FIXED,
    real_fixed = 0 unless the loop is AUGMENT, as there)."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a madsim.reference.kde.Params; got {params!r}")
    p = params
    try:
        d, loop, rule, test_points = (
            operator.index(p.d),
            operator.index(p.loop),
            operator.index(p.rule),
            operator.index(p.test_points),
        )
        h, real_fixed = float(p.h), float(p.real_fixed)
        subsample_n, pool_cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
    except TypeError:
        raise TypeError(
            f"params: d, loop, rule, test_points, subsample_n and pool_cap must be integers, "
            f"h and real_fixed numbers; got {params!r}"
        ) from None
    if d < 1 or d > 64:
        raise ValueError("d must lie in [1, 64]")
    if loop < REPLACE or loop > SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if rule not in (FIXED, SCOTT, SILVERMAN):
        raise ValueError("rule must be 0 (fixed), 1 (scott) or 2 (silverman)")
    if rule != FIXED:
        h = 0.0
    if not 1 <= test_points <= (1 << 32) // d:
        raise ValueError("test_points must lie in [1, 2**32 / d]")
    subsample_n, pool_cap = pool_sizes(
        loop == SUBSAMPLE, loop in (ACCUMULATE, SUBSAMPLE), subsample_n, pool_cap, d
    )
    if not (0.0 <= real_fixed <= 268435456.0 and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer in [0, 2**28]")
    if loop != AUGMENT:
        real_fixed = 0.0
    T = d * (d + 1) // 2
    truth = np.array(as_c_array(p.truth, "truth", (d + T,)), np.float64)
    counts = np.array(as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts == np.floor(counts))):
        raise ValueError("counts must be integers >= 0")
    real = {AUGMENT: np.full(counts.shape[0], real_fixed), FRESH: counts[:, 0]}.get(
        loop, np.zeros(counts.shape[0])
    )
    cap = {ACCUMULATE: float(pool_cap), SUBSAMPLE: float(subsample_n)}.get(
        loop, float(np.max(real + counts[:, 1], initial=0.0))
    )
    if cap * d > 268435456.0:
        raise ValueError(
            "a model's points need more than 2**28 doubles per replica (most points x d; "
            "Accumulate: the whole pool); use fewer points per generation (or "
            "AccumulateSubsample)"
        )
    return Params(
        d, loop, rule, h, int(real_fixed), test_points, truth, counts, subsample_n, pool_cap, int(cap)
    )


def _kde_params_of(static, dyn) -> Params:
    d, loop, rule, real_fixed, test_points, subsample_n, pool_cap, model_cap, _ = static
    return Params(
        d,
        loop,
        rule,
        dyn["h"],
        real_fixed,
        test_points,
        dyn["truth"],
        dyn["counts"],
        subsample_n,
        pool_cap,
        model_cap,
    )


def advance_kde(
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
    """The KDE's twin of ``_core.advance_kde``: arguments as in
    ``madsim.reference.gaussian.advance`` with state [R, state_size(params)]
    and params a ``Params``. Compiled once per (d, loop, rule, real_fixed, test_points, subsample_n,
    pool_cap, model_cap, draw buffers, shapes); h, the truth and the counts
    are traced."""
    p = _kde_params(params)
    static = (
        p.d,
        p.loop,
        p.rule,
        p.real_fixed,
        p.test_points,
        p.subsample_n,
        p.pool_cap,
        p.model_cap,
        bounds(p),
    )
    model = family_model(sys.modules[__name__], _kde_params_of, static)
    dyn = dict(h=jnp.float64(p.h), truth=jnp.asarray(p.truth), counts=jnp.asarray(p.counts))
    advance_model(
        model,
        dyn,
        state_size(p),
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
    )
