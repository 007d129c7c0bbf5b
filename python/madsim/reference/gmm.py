"""Gaussian mixture refit by EM (replace, augment, fresh, accumulate,
accumulate-subsample; temperature, the filter; full, diagonal or spherical covariances), in JAX.

Mirrors csrc/madsim/models/gmm.hpp::GaussianMixture: the same state and
observe rows, the same streams

    point i's component: uniform52 of words (0,1) (i even) or (2,3) (i odd)
        of block i/2 of site 0 of TAG_SAMPLES (synthetic) / TAG_REAL (real),
        by inversion of the cumulative weights (bigram.next_token)
    point i's d normals: normals i d .. i d + d - 1 of site 1
    TAG_FILTER site 0 / 1       synthetic / real survivors
    TAG_SUBSET site 0 block c   the c-th pick of the subsample (floyd_subset)

and the same EM (log-sum-exp E-step, M-step with the covariance floor, the
empty-component rule, the stopping rule). Functions work on one replica;
vmap them over replicas. k, d, loop, real_fixed, subsample_n, pool_cap and
the point buffers' sizes (``bounds``) are Python ints; the rest (cov_type included) may be traced. The
twins agree to rounding (XLA's dot products and reductions sum in another
order), and run the same EM iterations except where the stopping test
|delta log-likelihood| < em_tol falls within rounding of the tolerance
(em_tol = 0 runs exactly em_iters in both).
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
from jax.scipy.linalg import solve_triangular

from .backend import advance_model, as_c_array, family_model, pool_sizes
from .common import floyd_subset, next_token, normals, seq_cumsum, survivors
from .linalg import cholesky_floor_packed, pack, tri, tri_size, unpack_lower
from .metrics import gauss_w2_sq, normal_lower, normal_upper
from .philox import TAG_REAL, TAG_SAMPLES, TAG_SUBSET, block, make_stream
from .transforms import uniform52

# Mirrors GaussianMixture::Loop, ::CovType, ::Counter
REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE = 0, 1, 2, 3, 4
FULL, DIAG, SPHERICAL = 0, 1, 2
(C_REAL, C_SYNTHETIC, C_SKIPPED, C_ITERS, C_CAPPED, C_FLOORED, C_EMPTIED, C_LOGLIK, N_COUNTERS) = range(9)
EMPTY_MASS = 1e-8
LOG_2PI = 1.8378770664093454835606594728112


class Params(NamedTuple):
    """Mirrors GaussianMixture::Params, holding the arrays themselves."""

    k: int
    d: int
    cov_type: int
    loop: int
    em_iters: Any
    em_tol: Any
    cov_floor: Any
    tau: Any
    tpr: Any
    fpr: Any
    real_fixed: Any  # a Python number: it sizes Augment's state
    truth: Any  # [k + k d + k T]
    tails: Any  # [2 d]
    counts: Any  # [G, 2]
    subsample_n: int = 0  # AccumulateSubsample: points per fit
    pool_cap: int = 0  # Accumulate*: points the pool can hold (sizes the state)


def T(p: Params) -> int:
    return tri_size(p.d)


def means_at(p: Params) -> int:
    return p.k


def factors_at(p: Params) -> int:
    return p.k * (1 + p.d)


def params_size(p: Params) -> int:
    return factors_at(p) + p.k * T(p)


def counters_at(p: Params) -> int:
    return params_size(p)


def loop_at(p: Params) -> int:
    return params_size(p) + N_COUNTERS


def pooled(p: Params) -> bool:
    return p.loop in (ACCUMULATE, SUBSAMPLE)


def loop_size(p: Params) -> int:
    if pooled(p):
        return 1 + int(p.pool_cap) * (p.d + 1)
    return 1 + int(p.real_fixed) * p.d if p.loop == AUGMENT else 0


def state_size(p: Params) -> int:
    return loop_at(p) + loop_size(p)


def summary_at(p: Params) -> int:
    return params_size(p) + N_COUNTERS


def metrics_at(p: Params) -> int:
    return summary_at(p) + p.d + 3


def observe_size(p: Params) -> int:
    return metrics_at(p) + 2


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


def unpack(p: Params, row):
    """(weights [k], means [k, d], packed factors [k, T]) of a state or truth row."""
    k, d = p.k, p.d
    return (
        row[:k],
        row[k : factors_at(p)].reshape(k, d),
        row[factors_at(p) : params_size(p)].reshape(k, T(p)),
    )


def draw(p: Params, w, mu, L, s, key, replica, gen, tag, B: int):
    """B points [B, d] of the mixture (w, mu, L) with spread s; the first c
    are what the C++ draws for c points. Mirrors GaussianMixture::draw."""
    d = p.d
    if B == 0:
        return jnp.zeros((0, d), jnp.float64)
    wb = block(make_stream(key, replica, gen, tag, 0), jnp.arange((B + 1) // 2, dtype=jnp.uint32))
    u = jnp.stack([uniform52(wb[:, 0], wb[:, 1]), uniform52(wb[:, 2], wb[:, 3])], axis=1)
    cdf = seq_cumsum(jnp.asarray(w, jnp.float64))
    lab = jax.vmap(lambda x: next_token(cdf, x))(u.reshape(-1)[:B])
    z = normals(make_stream(key, replica, gen, tag, 1), 0, B * d).reshape(B, d)
    Ld = jax.vmap(lambda l: unpack_lower(l, d))(L)
    return mu[lab] + s * jnp.einsum("bij,bj->bi", Ld[lab], z)


def e_step(p: Params, w, mu, L, X, mask):
    """(mean log-likelihood, responsibilities [n, k] (0 on masked rows)).
    Mirrors GaussianMixture::e_step."""
    d = p.d
    diag = np.array([tri(q, q) for q in range(d)])
    cst = jnp.log(w) - jnp.sum(jnp.log(L[:, diag]), axis=1) - 0.5 * d * LOG_2PI
    Ld = jax.vmap(lambda l: unpack_lower(l, d))(L)
    z = jax.vmap(lambda Lj, mj: solve_triangular(Lj, (X - mj).T, lower=True).T, out_axes=1)(
        Ld, mu
    )  # [n, k, d]
    lg = jnp.where(w > 0.0, cst - 0.5 * jnp.sum(z * z, axis=-1), -jnp.inf)
    mx = jnp.max(lg, axis=1)
    lse = mx + jnp.log(jnp.sum(jnp.exp(lg - mx[:, None]), axis=1))
    r = jnp.where(mask[:, None], jnp.exp(lg - lse[:, None]), 0.0)
    n = jnp.sum(mask)
    return jnp.sum(jnp.where(mask, lse, 0.0)) / n, r


def m_step(p: Params, w, mu, L, X, r, n):
    """(w, mu, L, floored, emptied). Mirrors GaussianMixture::m_step."""
    d = p.d
    N = jnp.sum(r, axis=0)
    ok = N >= EMPTY_MASS
    Ns = jnp.where(ok, N, 1.0)
    m = (r.T @ X) / Ns[:, None]
    diff = X[:, None, :] - m[None]  # [n, k, d]
    S = jnp.einsum("nk,nka,nkb->kab", r, diff, diff) / Ns[:, None, None]
    eye = jnp.eye(d)
    sph = (jnp.trace(S, axis1=1, axis2=2) / d)[:, None, None] * eye
    S = jnp.where(p.cov_type == DIAG, S * eye, jnp.where(p.cov_type == SPHERICAL, sph, S))
    Lnew, raised = jax.vmap(lambda s: cholesky_floor_packed(pack(s, d), d, p.cov_floor))(S)
    return (
        N / n,
        jnp.where(ok[:, None], m, mu),
        jnp.where(ok[:, None], Lnew, L),
        jnp.sum(raised & ok).astype(jnp.float64),
        jnp.sum(~ok).astype(jnp.float64),
    )


def em(p: Params, w, mu, L, X, mask):
    """EM from (w, mu, L) on the points X [n, d] where mask: (w, mu, L,
    [iterations, capped, floored, emptied, loglik]). Mirrors GaussianMixture::em."""
    n = jnp.sum(mask).astype(jnp.float64)
    cap = jnp.asarray(p.em_iters, jnp.int64)
    tol = jnp.asarray(p.em_tol, jnp.float64)

    def cond(c):
        it, done = c[0], c[1]
        return (it < cap) & ~done

    def body(c):
        it, _, prev, _, w, mu, L, _, _ = c
        ll, r = e_step(p, w, mu, L, X, mask)
        w, mu, L, fl, em_ = m_step(p, w, mu, L, X, r, n)
        it = it + 1
        done = (it > 1) & (jnp.abs(ll - prev) < tol)
        return it, done, ll, ll, w, mu, L, fl, em_

    z = jnp.float64(0.0)
    it, done, _, ll, w, mu, L, fl, em_ = lax.while_loop(
        cond, body, (jnp.int64(0), jnp.bool_(False), z, z, w, mu, L, z, z)
    )
    return w, mu, L, jnp.stack([it.astype(jnp.float64), jnp.where(done, 0.0, 1.0), fl, em_, ll])


def em_row(p: Params, state, X):
    """EM on the points X [n, d] from a state row: the row after the fit
    (the twin of madsim._core.gmm_em)."""
    X = jnp.asarray(X, jnp.float64)
    w, mu, L = unpack(p, state)
    w, mu, L, c = em(p, w, mu, L, X, jnp.ones(X.shape[0], bool))
    c0 = counters_at(p)
    return (
        state.at[: params_size(p)]
        .set(jnp.concatenate([w, mu.reshape(-1), L.reshape(-1)]))
        .at[c0 + C_ITERS : c0 + C_LOGLIK + 1]
        .set(c)
    )


def init(p: Params, key, replica, bnds):
    row = jnp.zeros(state_size(p), jnp.float64).at[: params_size(p)].set(jnp.asarray(p.truth, jnp.float64))
    if p.loop == AUGMENT:
        B = int(p.real_fixed)
        c = survivors(p.real_fixed, p.fpr, key, replica, 0, 1)
        w0, mu0, L0 = unpack(p, jnp.asarray(p.truth, jnp.float64))
        X = draw(p, w0, mu0, L0, 1.0, key, replica, 0, TAG_REAL, B)
        X = jnp.where((jnp.arange(B) < c)[:, None], X, 0.0)
        row = row.at[loop_at(p)].set(c).at[loop_at(p) + 1 :].set(X.reshape(-1))
    return row


def pool_fit_points(p: Params, state, Xs, ks, Xr, nr, key, replica, t):
    """Accumulate*: the row with the ks synthetic then the nr real points
    appended to the pool, the fit's points, their mask and (real, synthetic)
    counts: the whole pool (Accumulate) or floyd_subset's min(size,
    subsample_n) of its points (AccumulateSubsample). Mirrors
    GaussianMixture::step_pool."""
    d, cap, lat = p.d, int(p.pool_cap), loop_at(p)
    size = state[lat].astype(jnp.int64)
    pts = state[lat + 1 :].reshape(cap, d + 1)
    for X, c, flag in ((Xs, ks, 0.0), (Xr, nr, 1.0)):
        j = jnp.arange(X.shape[0])
        c = jnp.minimum(c.astype(jnp.int64), cap - size)
        rows = jnp.concatenate([X, jnp.full((X.shape[0], 1), flag)], axis=1)
        pts = pts.at[jnp.where(j < c, size + j, cap)].set(rows, mode="drop")
        size = size + c
    state = state.at[lat].set(size.astype(jnp.float64)).at[lat + 1 :].set(pts.reshape(-1))
    if p.loop == ACCUMULATE:
        chosen, mask = pts, jnp.arange(cap) < size
    else:
        nsub = int(p.subsample_n)
        n = jnp.minimum(size, nsub)
        pick = floyd_subset(make_stream(key, replica, t, TAG_SUBSET, 0), size, n, nsub)
        mask = jnp.arange(nsub) < n
        chosen = pts[jnp.where(mask, pick, 0.0).astype(jnp.int64)]
    nr_fit = jnp.sum(jnp.where(mask, chosen[:, d], 0.0))
    return state, chosen[:, :d], mask, nr_fit, jnp.sum(mask).astype(jnp.float64) - nr_fit


def step(p: Params, state, key, replica, t, bnds):
    nsyn, nreal = bnds
    d, c0 = p.d, counters_at(p)
    counts = jnp.asarray(p.counts, jnp.float64)
    m_t, k_t = counts[t - 1, 0], counts[t - 1, 1]
    ks = survivors(k_t, p.tpr, key, replica, t, 0)
    w, mu, L = unpack(p, state)
    Xs = draw(p, w, mu, L, p.tau, key, replica, t, TAG_SAMPLES, nsyn)
    if p.loop == AUGMENT:
        lp = state[loop_at(p) :]
        nr = lp[0]
        Xr = lp[1:].reshape(nreal, d)
    elif p.loop == FRESH or pooled(p):
        nr = survivors(m_t, p.fpr, key, replica, t, 1)
        w0, mu0, L0 = unpack(p, jnp.asarray(p.truth, jnp.float64))
        Xr = draw(p, w0, mu0, L0, 1.0, key, replica, t, TAG_REAL, nreal)
    else:
        nr, Xr = jnp.float64(0.0), jnp.zeros((0, d), jnp.float64)
    if pooled(p):
        state, X, mask, nr, ks = pool_fit_points(p, state, Xs, ks, Xr, nr, key, replica, t)
    else:
        X = jnp.concatenate([Xs, Xr])
        mask = jnp.concatenate([jnp.arange(nsyn) < ks, jnp.arange(Xr.shape[0]) < nr])
    n = ks + nr
    w2, mu2, L2, c = em(p, w, mu, L, X, mask)
    fit = n >= 1.0
    par = jnp.where(fit, jnp.concatenate([w2, mu2.reshape(-1), L2.reshape(-1)]), state[: params_size(p)])
    cnt = state[c0 : c0 + N_COUNTERS]
    em_cnt = jnp.where(fit, c, jnp.stack([0.0, 0.0, 0.0, 0.0, cnt[C_LOGLIK]]))
    cnt = jnp.concatenate([jnp.stack([nr, ks, cnt[C_SKIPPED] + jnp.where(fit, 0.0, 1.0)]), em_cnt])
    return jnp.concatenate([par, cnt, state[loop_at(p) :]])


def _log_normal_sum(dm, S):
    """ln N(dm; 0, S). Mirrors GaussianMixture::log_normal_sum."""
    Lc = jnp.linalg.cholesky(S)
    v = solve_triangular(Lc, dm, lower=True)
    return -0.5 * (dm.shape[0] * LOG_2PI + jnp.sum(v * v)) - jnp.sum(jnp.log(jnp.diag(Lc)))


def l2_distance(p: Params, w, mu, C, w0, mu0, C0):
    """Mirrors GaussianMixture::l2_distance (C, C0: dense covariances [k, d, d])."""
    ws, ms, Cs = (w, w0), (mu, mu0), (C, C0)
    total = jnp.float64(0.0)
    for a in range(2):
        for b in range(a, 2):
            wij = ws[a][:, None] * ws[b][None, :]
            G = jax.vmap(
                lambda mi, Ci: jax.vmap(lambda mj, Cj: _log_normal_sum(mi - mj, Ci + Cj))(ms[b], Cs[b])
            )(ms[a], Cs[a])
            part = jnp.sum(jnp.where(wij > 0.0, wij * jnp.exp(G), 0.0))
            total = total + (1.0 if a == b else -2.0) * part
    return jnp.sqrt(jnp.maximum(0.0, total))


def w2_sq_bound(p: Params, w, mu, L, w0, mu0, L0):
    """Mirrors GaussianMixture::w2_sq_bound."""
    d = p.d
    W = jax.vmap(lambda m, l: jax.vmap(lambda m0, l0: gauss_w2_sq(m, l, m0, l0, d))(mu0, L0))(mu, L)
    both = jnp.minimum(w, w0)
    ra, rb = w - both, w0 - both
    rest = seq_cumsum(ra)[-1]
    pij = ra[:, None] * rb[None, :] / jnp.where(rest > 0.0, rest, 1.0)
    off = jnp.where((rest > 0.0) & (pij > 0.0), pij * W, 0.0)
    return jnp.sum(jnp.where(both > 0.0, both * jnp.diag(W), 0.0)) + jnp.sum(off)


def observe(p: Params, state):
    """[w k | mu k d | Sigma k T | counters | mix_mean d | second_moment,
    min_weight, tail_mass | l2, w2_sq_bound]. Mirrors GaussianMixture::observe
    (every column)."""
    d = p.d
    w, mu, L = unpack(p, state)
    truth = jnp.asarray(p.truth, jnp.float64)
    w0, mu0, L0 = unpack(p, truth)
    dense = jax.vmap(lambda l: unpack_lower(l, d))
    Ld, L0d = dense(L), dense(L0)
    C, C0 = Ld @ jnp.swapaxes(Ld, 1, 2), L0d @ jnp.swapaxes(L0d, 1, 2)
    cov = jax.vmap(lambda c: pack(c, d))(C)
    var = jnp.diagonal(C, axis1=1, axis2=2)  # [k, d]
    sd = jnp.sqrt(var)
    tails = jnp.asarray(p.tails, jnp.float64)
    tail = (
        jnp.sum(
            w[:, None]
            * (normal_lower((tails[None, :d] - mu) / sd) + normal_upper((tails[None, d:] - mu) / sd))
        )
        / d
    )
    summary = jnp.concatenate(
        [
            w @ mu,
            jnp.stack(
                [
                    jnp.sum(w * (jnp.sum(var, 1) + jnp.sum(mu * mu, 1))),
                    jnp.min(w),
                    tail,
                    l2_distance(p, w, mu, C, w0, mu0, C0),
                    w2_sq_bound(p, w, mu, L, w0, mu0, L0),
                ]
            ),
        ]
    )
    c0 = counters_at(p)
    return jnp.concatenate([state[: factors_at(p)], cov.reshape(-1), state[c0 : c0 + N_COUNTERS], summary])


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def _gmm_params(params) -> Params:
    """Mirrors the checks of _core's GaussianMixtureParams constructor
    (make_gmm in csrc/bindings/gmm.cpp: sizes, caps and codes, no numerical
    domain, which the family and Config check), in its order and with its
    messages; returns the params with
    numpy arrays (real_fixed = 0 unless the loop is AUGMENT, as there)."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a madsim.reference.gmm.Params; got {params!r}")
    p = params
    try:
        k, d, cov_type, loop, iters = (
            operator.index(p.k),
            operator.index(p.d),
            operator.index(p.cov_type),
            operator.index(p.loop),
            operator.index(p.em_iters),
        )
        tol, floor, tau, tpr, fpr, real_fixed = map(
            float, (p.em_tol, p.cov_floor, p.tau, p.tpr, p.fpr, p.real_fixed)
        )
        subsample_n, pool_cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
    except TypeError:
        raise TypeError(
            f"params: k, d, cov_type, loop and em_iters must be integers, the rest numbers; got {params!r}"
        ) from None
    if k < 1 or k > 256:
        raise ValueError("k must lie in [1, 256]")
    if d < 1 or d > 64:
        raise ValueError("d must lie in [1, 64]")
    if cov_type not in (FULL, DIAG, SPHERICAL):
        raise ValueError("cov_type must be 0 (full), 1 (diag) or 2 (spherical)")
    if loop not in (REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE):
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    subsample_n, pool_cap = pool_sizes(
        loop == SUBSAMPLE, loop in (ACCUMULATE, SUBSAMPLE), subsample_n, pool_cap, d
    )
    if not (0.0 <= real_fixed <= 268435456.0 and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer in [0, 2**28]")
    if loop != AUGMENT:
        real_fixed = 0.0
    T = d * (d + 1) // 2
    truth = np.array(as_c_array(p.truth, "truth", (k * (1 + d + T),)), np.float64)
    tails = np.array(as_c_array(p.tails, "tails", (2 * d,)), np.float64)
    counts = np.array(as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts == np.floor(counts))):
        raise ValueError("counts must be integers >= 0")
    real = {AUGMENT: np.full(counts.shape[0], real_fixed), FRESH: counts[:, 0]}.get(
        loop, np.zeros(counts.shape[0])
    )
    n_max = {ACCUMULATE: float(pool_cap), SUBSAMPLE: float(subsample_n)}.get(
        loop, float(np.max(real + counts[:, 1], initial=0.0))
    )
    if n_max * (d + k) > 268435456.0:
        raise ValueError(
            "a fit's points need more than 2**28 doubles of scratch per thread "
            "(most points x (d + k); Accumulate: the whole pool); use fewer points "
            "per generation (or AccumulateSubsample)"
        )
    return Params(
        k,
        d,
        cov_type,
        loop,
        iters,
        tol,
        floor,
        tau,
        tpr,
        fpr,
        int(real_fixed),
        truth,
        tails,
        counts,
        subsample_n,
        pool_cap,
    )


def _gmm_params_of(static, dyn) -> Params:
    k, d, loop, real_fixed, subsample_n, pool_cap, _ = static
    return Params(
        k,
        d,
        dyn["cov_type"],
        loop,
        dyn["em_iters"],
        dyn["em_tol"],
        dyn["cov_floor"],
        dyn["tau"],
        dyn["tpr"],
        dyn["fpr"],
        real_fixed,
        dyn["truth"],
        dyn["tails"],
        dyn["counts"],
        subsample_n,
        pool_cap,
    )


def advance_gmm(
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
    """The Gaussian mixture's twin of ``_core.advance_gmm``: arguments as in
    ``advance`` with state [R, state_size(params)] and params a
    ``Params``. Compiled once per (k, d, loop, real_fixed, subsample_n, pool_cap, point buffers,
    shapes); the covariance type, EM cap, tolerance, floor and knobs are traced."""
    p = _gmm_params(params)
    static = (p.k, p.d, p.loop, p.real_fixed, p.subsample_n, p.pool_cap, bounds(p))
    model = family_model(sys.modules[__name__], _gmm_params_of, static)
    dyn = dict(
        cov_type=jnp.int32(p.cov_type),
        em_iters=jnp.int64(p.em_iters),
        em_tol=jnp.float64(p.em_tol),
        cov_floor=jnp.float64(p.cov_floor),
        tau=jnp.float64(p.tau),
        tpr=jnp.float64(p.tpr),
        fpr=jnp.float64(p.fpr),
        truth=jnp.asarray(p.truth),
        tails=jnp.asarray(p.tails),
        counts=jnp.asarray(p.counts),
    )
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
