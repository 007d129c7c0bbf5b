"""Linear regression refit by OLS / ridge under every loop, in JAX.

Mirrors csrc/madsim/models/regression.hpp::Regression: replace, augment (a
fixed real set drawn at generation 0), fresh real data, accumulate,
accumulate-subsample (samples path: the pool of rows in the state); fresh
or fixed designs; the provenance filter. State row, observe row and every
stream (tag, site, block) are the C++'s (see the header's comment).

Functions work on one replica; vmap them over replicas. ``Params.d``,
``loop``, ``path`` and ``design`` must be Python ints (they fix shapes and
code paths), and so must ``subsample_n`` and ``pool_cap``; the rest may be
traced. The samples path draws its rows into
buffers of a static size per part (``bound``, the table's largest count
rounded up to a power of two) and masks the rows past the count.

Where the twins part: XLA sums over rows and inner products in another
order than the C++'s loops, and its log / sin / cos differ from libm's, so
floats agree to the tolerances of tests/test_reference_regression.py;
counts and skipped fits exactly.
"""

from __future__ import annotations

import math
import operator
import sys

from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from .backend import advance_model, as_c_array, family_model
from .common import PIVOT_RTOL, bucket, floyd_subset, normals, survivors, wishart_factor
from .linalg import cholesky_packed, cholesky_solve_packed, pack, sym_mul_vec, tri, tri_size, unpack_lower
from .philox import TAG_REAL, TAG_SAMPLES, TAG_SCATTER, TAG_SUBSET, make_stream
from .samplers import chisquare

# Mirrors Regression::Loop, ::Path, ::Design, ::Estimator
REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE = 0, 1, 2, 3, 4
EXACT, SAMPLES = 0, 1
FRESH_DESIGN, FIXED_DESIGN = 0, 1
MLE, UNBIASED = 0, 1


class Params(NamedTuple):
    """Mirrors Regression::Params, holding the truth and the count table
    themselves (n_counts is ``counts.shape[0]``)."""

    d: int  # features (Python int)
    loop: int  # REPLACE .. ACCUMULATE (Python int)
    path: int  # EXACT or SAMPLES (Python int)
    design: int  # FRESH_DESIGN or FIXED_DESIGN (Python int)
    estimator: int  # MLE or UNBIASED
    refit_noise: int  # 1: synthetic labels use model t-1's noise estimate
    ridge: float  # lambda >= 0
    tpr: float  # filter: drop probability of synthetic rows
    fpr: float  # filter: drop probability of real rows
    real_fixed: float  # Augment: rows of the fixed real set
    fixed_real: float  # design FIXED: rows of the real part's fixed design
    fixed_synthetic: float  # design FIXED: rows of the synthetic part's fixed design
    truth: Any  # [d + T + 1]: w*, L0 packed, sigma0^2
    counts: Any  # [n_counts, 2]: (real, synthetic) of generation t in row t-1
    subsample_n: int = 0  # AccumulateSubsample: rows per fit (Python int)
    pool_cap: int = 0  # AccumulateSubsample: rows the pool holds (Python int)
    weight: float = -1.0  # < 0: pooled fit; else w in [0, 1] (Fresh, Augment)


def bound(p: Params) -> tuple[int, int, int]:
    """(real, synthetic, subsample) rows of the samples path's buffers
    (Python ints): each part's largest count (the fixed real set included)
    and subsample_n, rounded up to a power of two; zeros on the exact path.
    Reference only."""
    if p.path != SAMPLES:
        return (0, 0, 0)
    counts = np.asarray(p.counts, np.float64).reshape(-1, 2)
    real = max(counts[:, 0].max(initial=0.0), float(p.real_fixed), float(p.fixed_real))
    syn = max(counts[:, 1].max(initial=0.0), float(p.fixed_synthetic))
    sub = bucket(p.subsample_n) if p.loop == SUBSAMPLE else 0
    return (bucket(real), bucket(syn), sub)


# --- layout (mirrors the static members) ---------------------------------------------------------


def stats_size(d: int) -> int:
    """Mirrors Regression::stats_size: [N | A packed | g d | h]."""
    return 2 + tri_size(d) + d


def counts_at(p: Params) -> int:
    return p.d + 1


def loop_at(p: Params) -> int:
    return p.d + 4


def loop_size(p: Params) -> int:
    if p.loop == AUGMENT:
        return stats_size(p.d)
    if p.loop == ACCUMULATE:
        return 2 + stats_size(p.d)
    if p.loop == SUBSAMPLE:
        return 1 + p.pool_cap * (p.d + 2)
    return 0


def n_factors(p: Params) -> int:
    if p.design != FIXED_DESIGN or p.path != EXACT:
        return 0
    return 2 if p.loop in (FRESH, ACCUMULATE, SUBSAMPLE) else 1


def factors_at(p: Params) -> int:
    return loop_at(p) + loop_size(p)


def state_size(p: Params) -> int:
    """Mirrors Regression::state_size."""
    return factors_at(p) + n_factors(p) * p.d * p.d


def observe_size(p: Params) -> int:
    """Mirrors Regression::observe_size: [w d | noise_var, test_error, w_norm,
    points_real, points_synthetic, skipped]."""
    return p.d + 6


def _sigma0_sq(p: Params):
    return p.truth[p.d + tri_size(p.d)]


def min_points(p: Params):
    """Mirrors Regression::min_points."""
    return jnp.where((p.ridge > 0.0) & (p.estimator == MLE), 1.0, p.d + 1.0)


# --- stats ---------------------------------------------------------------------------------------


def stats_shift(s, delta, d: int):
    """Re-references stats from w_a to w_a - delta: g += A delta,
    h += 2 delta'g + delta'A delta. Mirrors Regression::stats_shift."""
    T = tri_size(d)
    A, g = s[1 : 1 + T], s[1 + T : 1 + T + d]
    Ad = sym_mul_vec(A, delta, d)
    h = s[-1] + 2.0 * jnp.dot(delta, g) + jnp.dot(delta, Ad)
    return jnp.concatenate([s[: 1 + T], g + Ad, h[None]])


def draw_exact(p: Params, c, s2, Yfixed, key, replica, gen, tag):
    """Stats of c rows with noise variance s2 at their source, exact in law:
    A = Y Y' (Y = L0 F, F the Wishart_d(c) factor, or Yfixed), X'eps = s Y z,
    eps'eps = s2 (|z|^2 + chi2(c - q)), q = min(c, d).
    Mirrors Regression::draw_exact."""
    d = p.d
    c = jnp.asarray(c, jnp.float64)
    q = jnp.minimum(c, float(d))
    cols = jnp.arange(d) < q
    if Yfixed is None:
        Y = unpack_lower(p.truth[d : d + tri_size(d)], d) @ wishart_factor(d, c, key, replica, gen, tag)
    else:
        Y = Yfixed
    Y = jnp.where(cols[None, :], Y, 0.0)
    z = jnp.where(cols, normals(make_stream(key, replica, gen, tag, 0), 0, d), 0.0)
    g = jnp.sqrt(s2) * (Y @ z)
    rest, _, _ = chisquare(jnp.maximum(c - q, 1.0), make_stream(key, replica, gen, tag, 2 + d))
    rest = jnp.where(c > q, rest, 0.0)
    out = jnp.concatenate([c[None], pack(Y @ Y.T, d), g, (s2 * (jnp.dot(z, z) + rest))[None]])
    return jnp.where(c > 0.0, out, 0.0)


def draw_samples(p: Params, c, s2, key, replica, gen_x, gen, tag, nmax: int):
    """Stats of c <= nmax rows: x = L0 z from site 0 of counter generation
    gen_x (d normals per row), eps = s * normal from site 1 of generation gen.
    Mirrors Regression::draw_samples (sums over rows as XLA reductions)."""
    d = p.d
    c = jnp.asarray(c, jnp.float64)
    if nmax == 0:
        return jnp.zeros(stats_size(d))
    valid = jnp.arange(nmax) < c
    Z = normals(make_stream(key, replica, gen_x, tag, 0), 0, nmax * d).reshape(nmax, d)
    X = jnp.where(valid[:, None], Z @ unpack_lower(p.truth[d : d + tri_size(d)], d).T, 0.0)
    eps = jnp.where(valid, jnp.sqrt(s2) * normals(make_stream(key, replica, gen, tag, 1), 0, nmax), 0.0)
    out = jnp.concatenate([c[None], pack(X.T @ X, d), X.T @ eps, jnp.dot(eps, eps)[None]])
    return jnp.where(c > 0.0, out, 0.0)


def draw_part(p: Params, real: bool, c, s2, state, key, replica, gen, nmax):
    """One part of generation gen's data, its stats at the part's source.
    ``gen`` 0 is the set-up (a fixed design draws its own factor then).
    Mirrors Regression::draw_part."""
    d = p.d
    if p.path == EXACT:
        Y = None
        if p.design == FIXED_DESIGN and not (isinstance(gen, int) and gen == 0):
            at = factors_at(p) + (d * d if real else 0)
            Y = state[at : at + d * d].reshape(d, d)
        return draw_exact(p, c, s2, Y, key, replica, gen, TAG_REAL if real else TAG_SCATTER)
    gen_x = 0 if p.design == FIXED_DESIGN else gen
    return draw_samples(
        p, c, s2, key, replica, gen_x, gen, TAG_REAL if real else TAG_SAMPLES, nmax[0] if real else nmax[1]
    )


def fit(p: Params, pool, w):
    """(ok, w_t, s2_t, delta): ridge step delta = (A + lambda I)^-1 (g - lambda w)
    from the pooled stats at w; RSS = h - 2 delta'g + delta'A delta (clamped at
    0), s2 = RSS / (N or N - d). Not ok (model kept) with too few rows or a
    singular A + lambda I. Mirrors Regression::fit."""
    d = p.d
    T = tri_size(d)
    N, A, g, h = pool[0], pool[1 : 1 + T], pool[1 + T : 1 + T + d], pool[-1]
    diag = np.array([tri(i, i) for i in range(d)])
    M = cholesky_packed(A.at[diag].add(p.ridge), d)
    piv = M[diag]
    ok = (N >= min_points(p)) & jnp.all((piv > 0.0) & (piv * piv > PIVOT_RTOL * (A[diag] + p.ridge)))
    M = jnp.where(ok, M, pack(jnp.eye(d), d))
    delta = cholesky_solve_packed(M, g - p.ridge * w, d)
    rss = jnp.maximum(h - 2.0 * jnp.dot(delta, g) + jnp.dot(delta, sym_mul_vec(A, delta, d)), 0.0)
    div = jnp.where(p.estimator == MLE, N, N - d)
    s2 = rss / jnp.where(ok, div, 1.0)
    return ok, w + delta, s2, delta


def fit_weighted(p: Params, real, syn, w):
    """(ok, w_t, s2_t): each part fit on its own from its source (the real
    stats at w*, the synthetic at w_{t-1}), then weight * real-part fit +
    (1 - weight) * synthetic-part fit, weights and noise alike; not ok when
    either fit fails. Mirrors Regression::fit_weighted."""
    ok_r, w_r, s2_r, _ = fit(p, real, jnp.asarray(p.truth[: p.d], jnp.float64))
    ok_s, w_s, s2_s, _ = fit(p, syn, w)
    a = jnp.asarray(p.weight, jnp.float64)
    return ok_r & ok_s, a * w_r + (1.0 - a) * w_s, a * s2_r + (1.0 - a) * s2_s


def init(p: Params, key, replica, nmax):
    """Generation 0: the truth, the fixed real set (Augment) and the fixed
    designs' factors (exact path), at counter generation 0. Mirrors Regression::init."""
    d = p.d
    state = jnp.zeros(state_size(p))
    state = state.at[:d].set(p.truth[:d]).at[d].set(_sigma0_sq(p))
    if p.loop == AUGMENT:
        c = survivors(p.real_fixed, p.fpr, key, replica, 0, 1)
        part = draw_part(p, True, c, _sigma0_sq(p), state, key, replica, 0, nmax)
        state = state.at[loop_at(p) : loop_at(p) + stats_size(d)].set(part)
    L0 = unpack_lower(p.truth[d : d + tri_size(d)], d)
    for f in range(n_factors(p)):
        c = jnp.asarray(p.fixed_real if f else p.fixed_synthetic, jnp.float64)
        Y = L0 @ wishart_factor(d, c, key, replica, 0, TAG_REAL if f else TAG_SCATTER)
        Y = jnp.where((jnp.arange(d) < jnp.minimum(c, float(d)))[None, :] & (c > 0.0), Y, 0.0)
        at = factors_at(p) + f * d * d
        state = state.at[at : at + d * d].set(Y.reshape(-1))
    return state


def step(p: Params, state, key, replica, t, nmax):
    """One generation. Mirrors Regression::step."""
    d = p.d
    S = stats_size(d)
    t = jnp.asarray(t, jnp.uint32)
    row = p.counts[(t - 1).astype(jnp.int64)]
    k = survivors(row[1], p.tpr, key, replica, t, 0)
    m = survivors(row[0], p.fpr, key, replica, t, 1) if p.loop != AUGMENT else 0.0
    w = state[:d]
    s2 = jnp.where(p.refit_noise != 0, state[d], _sigma0_sq(p))
    lp = loop_at(p)
    if p.loop == SUBSAMPLE:
        state, ok, w_new, s2_new = step_subsample(p, state, key, replica, t, m, k, s2, nmax)
        state = state.at[:d].set(jnp.where(ok, w_new, w)).at[d].set(jnp.where(ok, s2_new, state[d]))
        return state.at[counts_at(p) + 2].add(jnp.where(ok, 0.0, 1.0))
    syn = draw_part(p, False, k, s2, state, key, replica, t, nmax)
    if p.loop == AUGMENT:
        real = state[lp : lp + S]
    elif p.loop in (FRESH, ACCUMULATE):
        real = draw_part(p, True, m, _sigma0_sq(p), state, key, replica, t, nmax)
    else:
        real = jnp.zeros(S)
    if p.loop in (FRESH, AUGMENT):
        weighted = fit_weighted(p, real, syn, w)
    real = stats_shift(real, p.truth[:d] - w, d)
    parts = syn + real
    cnt = counts_at(p)
    if p.loop == ACCUMULATE:
        n_real = state[lp] + real[0]
        n_syn = state[lp + 1] + parts[0] - real[0]
        pool = state[lp + 2 : lp + 2 + S] + parts
        ok, w_new, s2_new, delta = fit(p, pool, w)
        pool = jnp.where(ok, stats_shift(pool, -delta, d), pool)
        state = state.at[lp].set(n_real).at[lp + 1].set(n_syn).at[lp + 2 : lp + 2 + S].set(pool)
        state = state.at[cnt].set(n_real).at[cnt + 1].set(n_syn)
    else:
        ok, w_new, s2_new, _ = fit(p, parts, w)
        if p.loop in (FRESH, AUGMENT):
            is_weighted = jnp.asarray(p.weight) >= 0.0
            ok, w_new, s2_new = (jnp.where(is_weighted, a, b) for a, b in zip(weighted, (ok, w_new, s2_new)))
        state = state.at[cnt].set(real[0]).at[cnt + 1].set(parts[0] - real[0])
    state = state.at[:d].set(jnp.where(ok, w_new, w)).at[d].set(jnp.where(ok, s2_new, state[d]))
    return state.at[cnt + 2].add(jnp.where(ok, 0.0, 1.0))


def step_subsample(p: Params, state, key, replica, t, m, k, s2, nmax):
    """Accumulate-subsample: append generation t's rows [x | y | 1 if real]
    (synthetic first, y = x'w_{t-1} + sqrt(s2) eps, then real, labelled by
    the truth; draw_samples' streams) while the pool has room, then fit on
    n = min(size, subsample_n) of them picked by floyd_subset (TAG_SUBSET),
    their stats referenced at the current w. Returns (the row with the pool
    and the points counts updated, ok, w_t, s2_t).
    Mirrors Regression::step_subsample."""
    d, W, lat, cap = p.d, p.d + 2, loop_at(p), p.pool_cap
    T = tri_size(d)
    size = state[lat].astype(jnp.int64)
    rows = state[lat + 1 : lat + 1 + cap * W].reshape(cap, W)
    gen_x = 0 if p.design == FIXED_DESIGN else t
    L0 = unpack_lower(p.truth[d : d + T], d)
    w = state[:d]
    for real, c, src, var, nm in ((False, k, w, s2, nmax[1]), (True, m, p.truth[:d], _sigma0_sq(p), nmax[0])):
        if nm == 0:
            continue
        tag = TAG_REAL if real else TAG_SAMPLES
        got = jnp.minimum(jnp.asarray(c, jnp.float64), (cap - size).astype(jnp.float64)).astype(jnp.int64)
        X = normals(make_stream(key, replica, gen_x, tag, 0), 0, nm * d).reshape(nm, d) @ L0.T
        y = X @ src + jnp.sqrt(var) * normals(make_stream(key, replica, t, tag, 1), 0, nm)
        new = jnp.concatenate([X, y[:, None], jnp.full((nm, 1), 1.0 if real else 0.0)], axis=1)
        j = jnp.arange(nm)
        rows = rows.at[jnp.where(j < got, size + j, cap)].set(new, mode="drop")
        size = size + got
    nsub = max(1, nmax[2])
    n = jnp.minimum(size, jnp.asarray(p.subsample_n, jnp.int64))
    pick = floyd_subset(make_stream(key, replica, t, TAG_SUBSET, 0), size, n, nsub)
    use = jnp.arange(nsub) < n
    padded = jnp.concatenate([rows, jnp.zeros((1, W))])  # pool_cap may be 0
    chosen = jnp.where(use[:, None], padded[jnp.where(use, pick, 0.0).astype(jnp.int64)], 0.0)
    X, flag = chosen[:, :d], chosen[:, d + 1]
    r = chosen[:, d] - X @ w
    nn = n.astype(jnp.float64)
    stats = jnp.concatenate([nn[None], pack(X.T @ X, d), X.T @ r, jnp.dot(r, r)[None]])
    ok, w_new, s2_new, _ = fit(p, stats, w)
    n_real = jnp.sum(flag)
    cnt = counts_at(p)
    state = state.at[lat].set(size.astype(jnp.float64)).at[lat + 1 : lat + 1 + cap * W].set(rows.reshape(-1))
    state = state.at[cnt].set(n_real).at[cnt + 1].set(nn - n_real)
    return state, ok, w_new, s2_new


def observe(p: Params, state):
    """[w d | noise_var, test_error = |L0'(w - w*)|^2, w_norm, points_real,
    points_synthetic, skipped]. Mirrors Regression::observe."""
    d = p.d
    w = state[:d]
    v = unpack_lower(p.truth[d : d + tri_size(d)], d).T @ (w - p.truth[:d])
    c = counts_at(p)
    return jnp.concatenate(
        [
            w,
            jnp.stack(
                [state[d], jnp.dot(v, v), jnp.sqrt(jnp.dot(w, w)), state[c], state[c + 1], state[c + 2]]
            ),
        ]
    )


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def _reg_params(params) -> Params:
    """Mirrors the checks of _core's RegressionParams constructor
    (make_regression in csrc/bindings/regression.cpp: sizes, caps and codes,
    no numerical domain, which the family and Config check), in its order and
    with its messages; returns the params with numpy arrays."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a madsim.reference.regression.Params; got {params!r}")
    p = params
    try:
        d, loop, path, design, est, refit = (
            operator.index(p.d),
            operator.index(p.loop),
            operator.index(p.path),
            operator.index(p.design),
            operator.index(p.estimator),
            operator.index(p.refit_noise),
        )
        ridge, tpr, fpr, real_fixed, fixed_real, fixed_syn, weight = map(
            float, (p.ridge, p.tpr, p.fpr, p.real_fixed, p.fixed_real, p.fixed_synthetic, p.weight)
        )
    except TypeError:
        raise TypeError(
            f"params: d, loop, path, design, estimator and refit_noise must be "
            f"integers, the rest numbers; got {params!r}"
        ) from None
    if d < 1 or d > 256:
        raise ValueError("d must lie in [1, 256]")
    if loop < REPLACE or loop > SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if path not in (EXACT, SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    if design not in (FRESH_DESIGN, FIXED_DESIGN):
        raise ValueError("design must be 0 (fresh) or 1 (fixed)")
    if est not in (MLE, UNBIASED):
        raise ValueError("estimator must be 0 (mle) or 1 (unbiased)")
    if refit not in (0, 1):
        raise ValueError("refit_noise must be 0 or 1")
    sub_n, pool_cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
    if loop == SUBSAMPLE:
        if path != SAMPLES:
            raise ValueError("subsample needs the samples path")
        if sub_n < 1:
            raise ValueError("subsample_n must be >= 1")
        if pool_cap < 0 or pool_cap > (1 << 36) // (d + 2):
            raise ValueError("pool_cap must lie in [0, 2**36 / (d + 2)]")
    else:
        sub_n, pool_cap = 0, 0
    samples = path == SAMPLES
    cap = math.floor(8589934590.0 / d) if samples else 1099511627776.0
    cap_msg = (
        "counts must be integers with counts * d <= 2**33 - 2 on the samples path"
        if samples
        else "counts must be integers in [0, 2**40]"
    )
    for c in (real_fixed, fixed_real, fixed_syn):
        if not (0.0 <= c <= cap and c == math.floor(c)):
            raise ValueError(cap_msg)
    T = d * (d + 1) // 2
    truth = np.array(as_c_array(p.truth, "truth", (d + T + 1,)), np.float64)
    counts = np.array(as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError(cap_msg)
    return Params(
        d,
        loop,
        path,
        design,
        est,
        refit,
        ridge,
        tpr,
        fpr,
        real_fixed,
        fixed_real,
        fixed_syn,
        truth,
        counts,
        sub_n,
        pool_cap,
        weight,
    )


def _reg_params_of(static, dyn) -> Params:
    d, loop, path, design, sub_n, pool_cap, _ = static
    return Params(
        d,
        loop,
        path,
        design,
        dyn["estimator"],
        dyn["refit_noise"],
        dyn["ridge"],
        dyn["tpr"],
        dyn["fpr"],
        dyn["real_fixed"],
        dyn["fixed_real"],
        dyn["fixed_synthetic"],
        dyn["truth"],
        dyn["counts"],
        sub_n,
        pool_cap,
        dyn["weight"],
    )


def advance_regression(
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
    """The regression family's twin of ``_core.advance_regression``: arguments
    as in ``advance`` with state [R, state_size(params)] and params
    a ``Params``. Compiled once per (d, loop, path, design, buffer
    sizes, shapes)."""
    p = _reg_params(params)
    static = (p.d, p.loop, p.path, p.design, p.subsample_n, p.pool_cap, bound(p))
    model = family_model(sys.modules[__name__], _reg_params_of, static)
    dyn = dict(
        estimator=jnp.int32(p.estimator),
        refit_noise=jnp.int32(p.refit_noise),
        ridge=jnp.float64(p.ridge),
        tpr=jnp.float64(p.tpr),
        fpr=jnp.float64(p.fpr),
        real_fixed=jnp.float64(p.real_fixed),
        fixed_real=jnp.float64(p.fixed_real),
        fixed_synthetic=jnp.float64(p.fixed_synthetic),
        truth=jnp.asarray(p.truth),
        counts=jnp.asarray(p.counts),
        weight=jnp.float64(p.weight),
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
