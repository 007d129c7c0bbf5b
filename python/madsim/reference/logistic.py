"""Logistic regression refit by Newton's method under every loop, in JAX.

Mirrors csrc/madsim/models/logistic.hpp::Logistic: replace, augment (a fixed
real set of rows drawn at generation 0), fresh real data, accumulate and
accumulate-subsample (the pool of rows in the state); fresh or fixed
designs; samples path only. State row, observe row and every stream (tag,
site, block) are the C++'s (see the header's comment).

Functions work on one replica; vmap them over replicas. ``Params.d``,
``loop``, ``design``, ``real_fixed``, ``subsample_n`` and ``pool_cap`` must be
Python ints (they fix shapes and code paths); the rest may be traced. Each
part's rows are drawn into a buffer of a static size (``bound``: the table's
largest count rounded up to a power of two) and the rows past the count are
masked out of every sum.

Where the twins part: XLA sums over rows and inner products in another
order than the C++'s loops and its exp may differ from libm's in the last
bit, so w and the metrics agree to the tolerance of
tests/test_reference_logistic.py; labels (a uniform against sigmoid(x'w),
equal unless they fall within rounding of each other), Newton iteration
counts, row counts and skipped fits exactly.
"""

from __future__ import annotations

import math
import operator
import sys
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax

from .backend import advance_model, as_c_array, family_model
from .common import PIVOT_RTOL, bucket, floyd_subset, normals  # PIVOT_RTOL: Regression's singular-fit rule
from .linalg import cholesky_packed, cholesky_solve_packed, pack, tri, tri_size, unpack_lower
from .philox import TAG_REAL, TAG_SAMPLES, TAG_SUBSET, block, make_stream
from .transforms import uniform52

# Mirrors Logistic::Loop and ::Design
REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE = 0, 1, 2, 3, 4
FRESH_DESIGN, FIXED_DESIGN = 0, 1


class Params(NamedTuple):
    """Mirrors Logistic::Params, holding the truth and the count table
    themselves (n_counts is ``counts.shape[0]``; buf_rows is the C++'s
    scratch size only)."""

    d: int  # features (Python int)
    loop: int  # REPLACE .. SUBSAMPLE (Python int)
    design: int  # FRESH_DESIGN or FIXED_DESIGN (Python int)
    max_iter: Any  # Newton steps before a fit is declared not converged
    ridge: Any  # lambda >= 0
    tol: Any  # stopping rule: max |step| <= tol (1 + max |w|)
    real_fixed: int  # Augment: rows of the fixed real set (Python int)
    truth: Any  # [d + 2T]: w*, L0 packed, F packed (I(w*) = F F')
    counts: Any  # [n_counts, 2]: (real, synthetic) of generation t in row t-1
    subsample_n: int = 0  # AccumulateSubsample: rows per fit (Python int)
    pool_cap: int = 0  # Accumulate, AccumulateSubsample: rows the pool holds (Python int)


def bound(p: Params) -> tuple[int, int, int]:
    """(real, synthetic, subsample) rows of the buffers (Python ints): each
    part's largest count and subsample_n, rounded up to a power of two.
    Reference only."""
    counts = np.asarray(p.counts, np.float64).reshape(-1, 2)
    sub = bucket(p.subsample_n) if p.loop == SUBSAMPLE else 0
    return (bucket(counts[:, 0].max(initial=0.0)), bucket(counts[:, 1].max(initial=0.0)), sub)


# --- layout (mirrors the static members) ---------------------------------------------------------


def W(p: Params) -> int:
    return p.d + 2


def counts_at(p: Params) -> int:
    return p.d


def loop_at(p: Params) -> int:
    return p.d + 4


def loop_size(p: Params) -> int:
    if p.loop == AUGMENT:
        return p.real_fixed * W(p)
    if p.loop in (ACCUMULATE, SUBSAMPLE):
        return 1 + p.pool_cap * W(p)
    return 0


def state_size(p: Params) -> int:
    """Mirrors Logistic::state_size."""
    return loop_at(p) + loop_size(p)


def observe_size(p: Params) -> int:
    """Mirrors Logistic::observe_size: [w d | fisher_error, w_error, w_norm,
    iterations, points_real, points_synthetic, skipped]."""
    return p.d + 7


def min_points(p: Params):
    """Mirrors Logistic::min_points."""
    return jnp.where(p.ridge > 0.0, 1.0, p.d + 1.0)


def sigmoid(eta):
    """(p, p(1 - p)) from e = exp(-|eta|). Mirrors Logistic::sigmoid."""
    e = jnp.exp(-jnp.abs(eta))
    q = 1.0 / (1.0 + e)
    return jnp.where(eta >= 0.0, q, e * q), e * q * q


# --- rows ----------------------------------------------------------------------------------------


def draw_rows(p: Params, c, src, real: bool, key, replica, gen_x, gen, nmax: int):
    """[nmax, W] rows [x | y | real]: x = L0 z from site 0 of counter
    generation gen_x (d normals per row), y = 1 iff u_r < sigmoid(x'src) with
    u_r uniform52 of words (0,1) / (2,3) of block r / 2 of site 1 at gen;
    rows at and past c are zero. Mirrors Logistic::draw_rows."""
    d = p.d
    if nmax == 0:
        return jnp.zeros((0, W(p)))
    tag = TAG_REAL if real else TAG_SAMPLES
    valid = jnp.arange(nmax) < jnp.asarray(c, jnp.float64)
    Z = normals(make_stream(key, replica, gen_x, tag, 0), 0, nmax * d).reshape(nmax, d)
    X = Z @ unpack_lower(p.truth[d : d + tri_size(d)], d).T
    b = block(make_stream(key, replica, gen, tag, 1), jnp.arange((nmax + 1) // 2, dtype=jnp.uint32))
    u = jnp.stack([uniform52(b[:, 0], b[:, 1]), uniform52(b[:, 2], b[:, 3])], axis=1).reshape(-1)[:nmax]
    prob, _ = sigmoid(X @ src)
    y = jnp.where(u < prob, 1.0, 0.0)
    rows = jnp.concatenate([X, y[:, None], jnp.full((nmax, 1), 1.0 if real else 0.0)], axis=1)
    return jnp.where(valid[:, None], rows, 0.0)


# --- the fit -------------------------------------------------------------------------------------


MAX_HALVINGS = 30  # Logistic::MAX_HALVINGS
OBJ_SLACK = 1e-12  # Logistic::OBJ_SLACK


def newton_pass(p: Params, X, y, m, w):
    """(f, g, H) at w over the masked rows: the penalised negative
    log-likelihood sum m_i [log(1 + e^eta_i) - y_i eta_i] + lambda |w|^2 / 2,
    g = X'(m (y - p)) - lambda w and H = X' diag(m p (1 - p)) X + lambda I
    (packed). Mirrors Logistic::pass."""
    d = p.d
    diag = np.array([tri(i, i) for i in range(d)])
    eta = X @ w
    prob, dp = sigmoid(eta)
    f = jnp.sum(m * (jnp.log1p(jnp.exp(-jnp.abs(eta))) + jnp.maximum(eta, 0.0) - y * eta))
    g = X.T @ ((y - prob) * m) - p.ridge * w
    H = pack(X.T @ (X * (dp * m)[:, None]), d).at[diag].add(p.ridge)
    return f + 0.5 * p.ridge * jnp.dot(w, w), g, H


def separates(X, y, m, w):
    """Whether w classifies every masked row strictly right (y = 1 iff
    x'w > 0). Mirrors Logistic::separates."""
    eta = X @ w
    right = jnp.where(y > 0.5, eta > 0.0, eta < 0.0)
    return jnp.all(right | (m == 0.0))


def fit(p: Params, rows, mask, w0):
    """(ok, w, iterations): Newton's method on the rows where mask holds,
    from w0, each step halved until the objective is at most f(w) + OBJ_SLACK
    (1 + |f(w)|), the pass that checks a step giving the next step's gradient
    and Hessian; stops when max |step| <= tol (1 + max |w|) (ok), on a
    singular Hessian, a step with no descent after MAX_HALVINGS halvings, a
    non-finite step or (ridge 0) a converged w that separates the rows (not
    ok), or after max_iter steps (not ok). Mirrors Logistic::fit."""
    d = p.d
    diag = np.array([tri(i, i) for i in range(d)])
    X, y = rows[:, :d], rows[:, d]
    m = mask.astype(jnp.float64)
    enough = jnp.sum(m) >= min_points(p)

    def halve(w, delta, bar, g, H):
        """(scale, descent, f, g, H): the first scale 2^-h, h <= MAX_HALVINGS,
        whose objective is <= bar, with its pass (the last one tried when none)."""

        def cond(c):
            return ~c[2] & (c[0] <= MAX_HALVINGS)

        def body(c):
            h, scale, _, _, _, _ = c
            scale = jnp.where(h == 0, 1.0, 0.5 * scale)
            f, g, H = newton_pass(p, X, y, m, w + scale * delta)
            return h + 1, scale, f <= bar, f, g, H

        c = (jnp.asarray(0, jnp.int64), 1.0, jnp.bool_(False), bar, g, H)
        _, scale, ok, f, g, H = lax.while_loop(cond, body, c)
        return scale, ok, f, g, H

    def body(carry):
        it, w, status, f, g, H = carry
        M = cholesky_packed(H, d)
        piv = M[diag]
        regular = jnp.all((piv > 0.0) & (piv * piv > PIVOT_RTOL * H[diag]))
        delta = cholesky_solve_packed(jnp.where(regular, M, pack(jnp.eye(d), d)), g, d)
        scale, descent, fv, gv, Hv = halve(w, delta, f + OBJ_SLACK * (1.0 + jnp.abs(f)), g, H)
        w_new = w + scale * delta
        step, size = jnp.max(jnp.abs(scale * delta)), jnp.max(jnp.abs(w_new))
        good = regular & descent & (step <= 1e300) & (size <= 1e300)
        done = step <= p.tol * (1.0 + size)
        good = good & ~(done & (p.ridge == 0.0) & separates(X, y, m, w_new))
        status = jnp.where(~good, 2, jnp.where(done, 1, 0))
        return it + 1, jnp.where(good, w_new, w), status, fv, gv, Hv

    def cond(carry):
        it, _, status = carry[:3]
        return (status == 0) & (it < p.max_iter)

    f, g, H = newton_pass(p, X, y, m, w0)
    it0 = jnp.asarray(0, jnp.int64)
    it, w, status, _, _, _ = lax.while_loop(cond, body, (it0, w0, jnp.where(enough, 0, 2), f, g, H))
    ok = status == 1
    return ok, jnp.where(ok, w, w0), it.astype(jnp.float64)


# --- init, step, observe -------------------------------------------------------------------------


def init(p: Params, key, replica, nmax):
    """Generation 0: the truth; Augment's fixed real set (counter generation
    0). Mirrors Logistic::init."""
    d = p.d
    state = jnp.zeros(state_size(p)).at[:d].set(p.truth[:d])
    if p.loop == AUGMENT and p.real_fixed > 0:
        rows = draw_rows(p, p.real_fixed, p.truth[:d], True, key, replica, 0, 0, p.real_fixed)
        state = state.at[loop_at(p) :].set(rows.reshape(-1))
    return state


def step(p: Params, state, key, replica, t, nmax):
    """One generation. Mirrors Logistic::step."""
    d, Wr = p.d, W(p)
    t = jnp.asarray(t, jnp.uint32)
    row = p.counts[(t - 1).astype(jnp.int64)]
    m, k = row[0], row[1]
    gen_x = jnp.uint32(0) if p.design == FIXED_DESIGN else t
    w = state[:d]
    lp = loop_at(p)
    nreal, nsyn, nsub = nmax
    if p.loop in (ACCUMULATE, SUBSAMPLE):
        cap = p.pool_cap
        size = state[lp].astype(jnp.int64)
        pool = state[lp + 1 : lp + 1 + cap * Wr].reshape(cap, Wr)
        for real, c, src, nm in ((False, k, w, nsyn), (True, m, p.truth[:d], nreal)):
            if nm == 0:
                continue
            got = jnp.minimum(c, (cap - size).astype(jnp.float64)).astype(jnp.int64)
            new = draw_rows(p, c, src, real, key, replica, gen_x, t, nm)
            j = jnp.arange(nm)
            pool = pool.at[jnp.where(j < got, size + j, cap)].set(new, mode="drop")
            size = size + got
        state = (
            state.at[lp].set(size.astype(jnp.float64)).at[lp + 1 : lp + 1 + cap * Wr].set(pool.reshape(-1))
        )
        if p.loop == ACCUMULATE:
            rows, mask = pool, jnp.arange(cap) < size
        else:
            nb = max(1, nsub)
            n = jnp.minimum(size, jnp.asarray(p.subsample_n, jnp.int64))
            pick = floyd_subset(make_stream(key, replica, t, TAG_SUBSET, 0), size, n, nb)
            mask = jnp.arange(nb) < n
            padded = jnp.concatenate([pool, jnp.zeros((1, Wr))])  # pool_cap may be 0
            rows = jnp.where(mask[:, None], padded[jnp.where(mask, pick, 0.0).astype(jnp.int64)], 0.0)
    else:
        parts = [draw_rows(p, k, w, False, key, replica, gen_x, t, nsyn)]
        masks = [jnp.arange(nsyn) < k]
        if p.loop == FRESH and nreal > 0:
            parts.append(draw_rows(p, m, p.truth[:d], True, key, replica, gen_x, t, nreal))
            masks.append(jnp.arange(nreal) < m)
        elif p.loop == AUGMENT and p.real_fixed > 0:
            parts.append(state[lp : lp + p.real_fixed * Wr].reshape(p.real_fixed, Wr))
            masks.append(jnp.ones(p.real_fixed, bool))
        rows, mask = jnp.concatenate(parts), jnp.concatenate(masks)
    ok, w_new, iters = fit(p, rows, mask, w)
    N = jnp.sum(mask.astype(jnp.float64))
    n_real = jnp.sum(jnp.where(mask, rows[:, d + 1], 0.0))
    c = counts_at(p)
    state = state.at[:d].set(w_new).at[c].set(iters).at[c + 1].set(n_real).at[c + 2].set(N - n_real)
    return state.at[c + 3].add(jnp.where(ok, 0.0, 1.0))


def observe(p: Params, state):
    """[w d | fisher_error = |F'(w - w*)|^2, w_error, w_norm, iterations,
    points_real, points_synthetic, skipped]. Mirrors Logistic::observe."""
    d = p.d
    T = tri_size(d)
    w = state[:d]
    e = w - p.truth[:d]
    v = unpack_lower(p.truth[d + T : d + 2 * T], d).T @ e
    c = counts_at(p)
    return jnp.concatenate(
        [
            w,
            jnp.stack(
                [
                    jnp.dot(v, v),
                    jnp.dot(e, e),
                    jnp.sqrt(jnp.dot(w, w)),
                    state[c],
                    state[c + 1],
                    state[c + 2],
                    state[c + 3],
                ]
            ),
        ]
    )


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def _logistic_params(params) -> Params:
    """Mirrors the checks of csrc/bindings/logistic.cpp's LogisticParams
    constructor (make_logistic: sizes, caps and codes, no numerical domain,
    which the family and Config check), in its order and with its messages; returns
    the params with numpy arrays (real_fixed 0 unless Augment, subsample_n 0
    unless AccumulateSubsample, pool_cap 0 unless a pooling loop, as there)."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a madsim.reference.logistic.Params; got {params!r}")
    p = params
    try:
        d, loop, design, max_iter = (
            operator.index(p.d),
            operator.index(p.loop),
            operator.index(p.design),
            operator.index(p.max_iter),
        )
        ridge, tol, real_fixed = float(p.ridge), float(p.tol), float(p.real_fixed)
        sub_n, pool_cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
    except TypeError:
        raise TypeError(
            f"params: d, loop, design, max_iter, subsample_n and pool_cap must be integers, "
            f"the rest numbers; got {params!r}"
        ) from None
    if d < 1 or d > 256:
        raise ValueError("d must lie in [1, 256]")
    if loop < REPLACE or loop > SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if design not in (FRESH_DESIGN, FIXED_DESIGN):
        raise ValueError("design must be 0 (fresh) or 1 (fixed)")
    cap = math.floor(8589934590.0 / d)
    cap_msg = "counts must be integers with counts * d <= 2**33 - 2"
    if not (0.0 <= real_fixed <= cap and real_fixed == math.floor(real_fixed)):
        raise ValueError(cap_msg)
    if loop != AUGMENT:
        real_fixed = 0.0
    T = d * (d + 1) // 2
    truth = np.array(as_c_array(p.truth, "truth", (d + 2 * T,)), np.float64)
    counts = np.array(as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError(cap_msg)
    if loop == AUGMENT and counts.shape[0] and counts[:, 1].max() + real_fixed > cap:
        raise ValueError(cap_msg)
    if loop == FRESH and counts.shape[0] and counts.sum(axis=1).max() > cap:
        raise ValueError(cap_msg)
    if loop in (ACCUMULATE, SUBSAMPLE):
        if loop == SUBSAMPLE and sub_n < 1:
            raise ValueError("subsample_n must be >= 1")
        if pool_cap < 0 or pool_cap > (1 << 36) // (d + 2):
            raise ValueError("pool_cap must lie in [0, 2**36 / (d + 2)]")
    else:
        pool_cap = 0
    if loop != SUBSAMPLE:
        sub_n = 0
    return Params(d, loop, design, max_iter, ridge, tol, int(real_fixed), truth, counts, sub_n, pool_cap)


def _logistic_params_of(static, dyn) -> Params:
    d, loop, design, real_fixed, sub_n, pool_cap, _ = static
    return Params(
        d,
        loop,
        design,
        dyn["max_iter"],
        dyn["ridge"],
        dyn["tol"],
        real_fixed,
        dyn["truth"],
        dyn["counts"],
        sub_n,
        pool_cap,
    )


def advance_logistic(
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
    """The logistic family's twin of ``_core.advance_logistic``: arguments as
    in ``advance`` with state [R, state_size(params)] and params a
    ``Params``. Compiled once per (d, loop, design, fixed set, pool,
    buffer sizes, shapes)."""
    p = _logistic_params(params)
    static = (p.d, p.loop, p.design, p.real_fixed, p.subsample_n, p.pool_cap, bound(p))
    model = family_model(sys.modules[__name__], _logistic_params_of, static)
    dyn = dict(
        max_iter=jnp.int64(p.max_iter),
        ridge=jnp.float64(p.ridge),
        tol=jnp.float64(p.tol),
        truth=jnp.asarray(p.truth),
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
