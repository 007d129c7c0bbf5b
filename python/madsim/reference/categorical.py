"""Categorical (unigram) token model under every loop and knob, in JAX.

Mirrors csrc/madsim/models/categorical.hpp::Categorical: the same state and
observe rows, the same streams

    tokens   (samples path; exact path while n <= 4 x support) token j
             from uniform52 u_j of words (0,1) (j even) or (2,3) (j odd) of
             block j/2 of TAG_SAMPLES / TAG_REAL site 0, through Walker's
             alias table over the support (the S tokens with mass; built by
             Vose's method, step for step as the C++): column floor(u_j S),
             mapped back to its token or its alias
    counts   (exact path otherwise) token i's conditional binomial on site i
             of TAG_SCATTER (synthetic) / TAG_REAL (real), in token order
    TAG_FILTER site 0 / 1       synthetic / real survivors
    TAG_SUBSET site 0 block j   the j-th pick of the subsample

Functions work on one replica; vmap them over replicas. ``Params.K``,
``loop``, ``path``, ``subsample_n`` and the samples path's buffer size
(``bound``) are Python ints (they fix shapes and code paths); the rest may
be traced.

Where discrete decisions hang on sums (the alias table's total, the
conditional binomials' suffix sums, top-p's running mass) the sums run in
the C++'s order (``lax.scan``), so the counts agree exactly; XLA's
``pow`` (temperature) is not libm's, which could move a token across a
boundary with probability ~1e-16 per draw. Metrics are XLA reductions and
agree to rounding.
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
from .philox import TAG_FILTER, TAG_REAL, TAG_SAMPLES, TAG_SCATTER, TAG_SUBSET, block, make_stream
from .samplers import binomial
from .common import draw_subset, seq_cumsum, survivors
from .token_metrics import N_TOKEN_METRICS, token_metrics
from .transforms import div, uniform52

# Mirrors Categorical::Loop and ::Path
REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE = 0, 1, 2, 3, 4
EXACT, SAMPLES = 0, 1


class Params(NamedTuple):
    """Mirrors Categorical::Params, holding the arrays themselves."""

    loop: int
    path: int
    top_k: Any  # 0 = off
    tau: Any
    top_p: Any  # 1 = off
    smoothing: Any
    weight: Any  # < 0: pooled
    tpr: Any
    fpr: Any
    real_fixed: Any
    subsample_n: int
    truth: Any  # [K]
    rare: Any  # [K]
    counts: Any  # [G, 2]

    @property
    def K(self) -> int:
        return int(jnp.shape(self.truth)[0])


def loop_at(p: Params) -> int:
    return p.K + 3


def loop_size(p: Params) -> int:
    return {AUGMENT: p.K + 1, ACCUMULATE: p.K + 2, SUBSAMPLE: 2 * p.K}.get(p.loop, 0)


def state_size(p: Params) -> int:
    return loop_at(p) + loop_size(p)


def metrics_at(p: Params) -> int:
    return p.K + 3


def observe_size(p: Params) -> int:
    return metrics_at(p) + N_TOKEN_METRICS


def bound(p: Params) -> int:
    """A static buffer for the most tokens one alias draw takes: a power of
    two >= every count in the table and the fixed set (the exact path draws
    tokens only while n <= 4 K, so at most that)."""

    most = max(float(np.max(np.asarray(p.counts), initial=0.0)), float(p.real_fixed), 1.0)
    if p.path == EXACT:
        most = min(most, 4.0 * p.K)
    return 1 << int(most - 1).bit_length()


def sampling_law(p: Params, prob):
    """The law synthetic tokens are drawn from, unnormalised, and its total.
    Mirrors Categorical::sampling_law."""
    K = p.K
    tau = jnp.asarray(p.tau, jnp.float64)
    pmax = jnp.max(prob)
    hot = jnp.where(prob > 0.0, jnp.power(div(prob, jnp.where(pmax > 0, pmax, 1.0)), div(1.0, tau)), 0.0)
    tiny = jnp.finfo(jnp.float64).tiny  # subnormal counts as 0, as in the C++
    q = jnp.where(tau != 1.0, jnp.where(hot >= tiny, hot, 0.0), prob)
    idx = jnp.arange(K)
    order = jnp.lexsort((idx, -q))  # q descending, ties by index ascending
    rank = jnp.zeros(K, jnp.int64).at[order].set(idx)
    top_k = jnp.asarray(p.top_k)
    q = jnp.where((top_k > 0) & (top_k < K) & (rank >= top_k), 0.0, q)
    top_p = jnp.asarray(p.top_p, jnp.float64)
    want = top_p * seq_cumsum(q)[-1]
    cum = seq_cumsum(q[order])
    hit = cum >= want
    j = jnp.where(jnp.any(hit), jnp.argmax(hit), K)
    q = jnp.where((top_p < 1.0) & (rank > j), 0.0, q)
    return q, seq_cumsum(q)[-1]


def counts_exact(K: int, n, q, key, replica, gen, tag):
    """Conditional binomials in token order. Mirrors Categorical::counts_exact."""
    suffix = seq_cumsum(q, reverse=True)

    def body(left, i):
        qi, si = q[i], suffix[i]
        pr = div(qi, jnp.where(si > 0, si, 1.0))
        draw, _ = binomial(left, pr, make_stream(key, replica, gen, tag, i.astype(jnp.uint32)))
        x = jnp.where(pr >= 1.0, left, draw)
        x = jnp.where((left <= 0.0) | ~(qi > 0.0), 0.0, x)
        return left - x, x

    _, c = lax.scan(body, jnp.asarray(n, jnp.float64), jnp.arange(K))
    return c


def alias_table(K: int, q):
    """Walker's alias table over the support of q by Vose's method -> (S,
    prob [K], tok [K] int, alias [K] int); columns s < S are the table (the
    tokens with q > 0 in token order, tok[s] keeps column s with probability
    prob[s], else alias[s] takes it), the rest padding. Mirrors
    Categorical::alias_table step for step (the same stacks in one work
    array, the same float operations), so the tables are identical."""
    idx = jnp.arange(K)
    live = q > 0.0
    S = jnp.sum(live)
    # the support in token order, then padding (token K - 1: never picked)
    tok = jnp.full(K, K - 1, jnp.int64).at[jnp.where(live, jnp.cumsum(live) - 1, K)].set(idx, mode="drop")
    col = idx < S
    qs = jnp.where(col, q[tok], 0.0)
    total = seq_cumsum(qs)[-1]  # the C++ sums the support only: zeros change nothing
    scale = div(S.astype(jnp.float64), total)
    prob = qs * scale
    small = col & (prob < 1.0)
    large = col & ~small
    pos = jnp.where(small, jnp.cumsum(small) - 1, jnp.where(large, S - jnp.cumsum(large), K))
    work = jnp.zeros(K, jnp.int64).at[pos].set(idx, mode="drop")
    ns, nl = jnp.sum(small), jnp.sum(large)
    alias = tok

    def cond(c):
        return (c[3] > 0) & (c[4] > 0)

    def body(c):
        prob, alias, work, ns, nl = c
        sm, lg = work[ns - 1], work[S - nl]
        ns, nl = ns - 1, nl - 1
        alias = alias.at[sm].set(tok[lg])
        pl = (prob[lg] + prob[sm]) - 1.0
        prob = prob.at[lg].set(pl)
        to_small = pl < 1.0
        work = work.at[jnp.where(to_small, ns, S - 1 - nl)].set(lg)
        return prob, alias, work, ns + to_small, nl + ~to_small

    prob, alias, work, ns, nl = lax.while_loop(cond, body, (prob, alias, work, ns, nl))
    # what is left is 1 up to rounding, and every column has mass: kept whole
    left = (idx < ns) | ((idx >= S - nl) & (idx < S))
    prob = prob.at[jnp.where(left, work, K)].set(1.0, mode="drop")
    return S, prob, tok, alias


def counts_tokens(K: int, n, q, st, nmax: int):
    """Tokens drawn one by one through the alias table over the support.
    Mirrors Categorical::counts_tokens."""
    S, prob, tok, alias = alias_table(K, q)
    w = block(st, jnp.arange((nmax + 1) // 2, dtype=jnp.uint32))  # [nmax/2, 4]
    u = jnp.stack([uniform52(w[:, 0], w[:, 1]), uniform52(w[:, 2], w[:, 3])], axis=1).reshape(-1)[:nmax]
    Sd = S.astype(jnp.float64)
    x = u * Sd
    col = jnp.minimum(jnp.floor(x), Sd - 1.0)
    i = col.astype(jnp.int64)
    pick = jnp.where(x - col < prob[i], tok[i], alias[i])
    on = jnp.arange(nmax) < n
    return jnp.zeros(K, jnp.float64).at[pick].add(jnp.where(on, 1.0, 0.0))


def by_tokens(n, q):
    """Mirrors Categorical::by_tokens: alias draws while n <= 4 x support."""
    return n <= 4.0 * jnp.sum(q > 0.0).astype(jnp.float64)


def draw_counts(p: Params, real: bool, n, q, key, replica, gen, nmax: int):
    st = make_stream(key, replica, gen, TAG_REAL if real else TAG_SAMPLES, 0)
    if p.path == SAMPLES:
        return counts_tokens(p.K, n, q, st, nmax)
    tag = TAG_REAL if real else TAG_SCATTER
    return lax.cond(
        by_tokens(n, q),
        lambda: counts_tokens(p.K, n, q, st, nmax),
        lambda: counts_exact(p.K, n, q, key, replica, gen, tag),
    )


def fit(p: Params, real, nr, syn, ns, prob):
    """-> (model t, ok); model t-1 kept when not ok. Mirrors Categorical::fit."""
    w = jnp.asarray(p.weight, jnp.float64)
    a = jnp.asarray(p.smoothing, jnp.float64)
    nz = lambda x: jnp.where(x == 0.0, 1.0, x)  # noqa: E731 (a failed fit discards the value)
    weighted = w * div(real, nz(nr)) + (1.0 - w) * div(syn, nz(ns))
    total = nr + ns + p.K * a
    pooled = div(real + syn + a, nz(total))
    ok = jnp.where(w >= 0.0, (nr >= 1.0) & (ns >= 1.0), ~((nr + ns < 1.0) & (a <= 0.0)))
    new = jnp.where(w >= 0.0, weighted, pooled)
    new = jnp.where(new >= jnp.finfo(jnp.float64).tiny, new, 0.0)  # Categorical::normal_or_zero
    return jnp.where(ok, new, prob), ok


def init(p: Params, key, replica, nmax: int):
    K = p.K
    row = jnp.zeros(state_size(p), jnp.float64).at[:K].set(jnp.asarray(p.truth, jnp.float64))
    if p.loop == AUGMENT:
        c = survivors(p.real_fixed, p.fpr, key, replica, 0, 1)
        fixed = draw_counts(p, True, c, jnp.asarray(p.truth, jnp.float64), key, replica, 0, nmax)
        row = row.at[loop_at(p) : loop_at(p) + K].set(fixed).at[loop_at(p) + K].set(c)
    return row


def subsample(p: Params, pool, key, replica, t):
    """n picks from the pool's 2K classes (real, then synthetic) -> (real,
    syn, got_real, got_syn). Mirrors Categorical::subsample."""
    K = p.K
    out = draw_subset(pool, p.subsample_n, make_stream(key, replica, t, TAG_SUBSET, 0))
    return out[:K], out[K:], jnp.sum(out[:K]), jnp.sum(out[K:])


def step(p: Params, state, key, replica, t, nmax: int):
    K, L = p.K, loop_at(p)
    counts = jnp.asarray(p.counts, jnp.float64)
    m_t, k_t = counts[t - 1, 0], counts[t - 1, 1]
    k = survivors(k_t, p.tpr, key, replica, t, 0)
    m = jnp.float64(0.0) if p.loop == AUGMENT else survivors(m_t, p.fpr, key, replica, t, 1)
    prob = state[:K]
    q, _ = sampling_law(p, prob)
    syn = jnp.where(k > 0.0, draw_counts(p, False, k, q, key, replica, t, nmax), 0.0)
    lp = state[L:]
    zeros = jnp.zeros(K, jnp.float64)
    if p.loop == AUGMENT:
        real, nr = lp[:K], lp[K]
    elif p.loop == REPLACE:
        real, nr = zeros, m
    else:
        real, nr = draw_counts(p, True, m, jnp.asarray(p.truth, jnp.float64), key, replica, t, nmax), m
    if p.loop == ACCUMULATE:
        pool = lp[:K] + (real + syn)
        tot_r, tot_s = lp[K] + nr, lp[K + 1] + k
        new, ok = fit(p, pool, tot_r + tot_s, zeros, jnp.float64(0.0), prob)
        lp = jnp.concatenate([pool, jnp.stack([tot_r, tot_s])])
        cnt = (tot_r, tot_s)
    elif p.loop == SUBSAMPLE:
        lp = jnp.concatenate([lp[:K] + real, lp[K:] + syn])
        sr, ss, gr, gs = subsample(p, lp, key, replica, t)
        new, ok = fit(p, sr, gr, ss, gs, prob)
        cnt = (gr, gs)
    else:
        new, ok = fit(p, real, nr, syn, k, prob)
        cnt = (nr, k)
    skipped = state[K + 2] + jnp.where(ok, 0.0, 1.0)
    return jnp.concatenate([new, jnp.stack([cnt[0], cnt[1], skipped]), lp])


def observe(p: Params, state):
    """[p K | points_real, points_synthetic, skipped | metrics]. Mirrors
    Categorical::observe (every column)."""
    K = p.K
    prob = state[:K]
    mets = token_metrics(prob, jnp.asarray(p.truth, jnp.float64), jnp.asarray(p.rare, jnp.float64))
    return jnp.concatenate([prob, state[K : K + 3], mets])


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def _cat_params(params) -> Params:
    """Mirrors the checks of _core's CategoricalParams constructor
    (make_categorical in csrc/bindings/categorical.cpp: sizes, caps and codes,
    no numerical domain, which Config and the family check), in its order and
    with its messages; returns the params with numpy arrays (subsample_n = 0
    unless the loop is SUBSAMPLE)."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a madsim.reference.categorical.Params; got {params!r}")
    p = params
    try:
        loop, path, top_k, sub_n = (
            operator.index(p.loop),
            operator.index(p.path),
            operator.index(p.top_k),
            operator.index(p.subsample_n),
        )
        tau, top_p, smoothing, weight, tpr, fpr, real_fixed = map(
            float, (p.tau, p.top_p, p.smoothing, p.weight, p.tpr, p.fpr, p.real_fixed)
        )
    except TypeError:
        raise TypeError(
            f"params: loop, path, top_k and subsample_n must be integers, the rest numbers; got {params!r}"
        ) from None
    if loop < REPLACE or loop > SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if path not in (EXACT, SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    if not (0.0 <= real_fixed <= 1099511627776.0 and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer in [0, 2**40]")
    if loop == SUBSAMPLE:
        if sub_n < 1 or sub_n > 0xFFFFFFFF:
            raise ValueError("subsample_n must lie in [1, 2**32 - 1]")
    else:
        sub_n = 0
    truth = np.array(as_c_array(p.truth, "truth", (-1,)), np.float64)
    K = truth.shape[0]
    if K < 1 or K > (1 << 24):
        raise ValueError("truth must have 1 to 2**24 tokens")
    if top_k < 0 or top_k > K:
        raise ValueError("top_k must lie in [0, K] (0: off)")
    rare = np.array(as_c_array(p.rare, "rare", (K,)), np.float64)
    counts = np.array(as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    cap = 8589934590.0 if path == SAMPLES else 1099511627776.0
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError(
            "counts must be integers in [0, 2**33 - 2] on the samples path"
            if path == SAMPLES
            else "counts must be integers in [0, 2**40]"
        )
    if path == SAMPLES and real_fixed > cap:
        raise ValueError("real_fixed must be <= 2**33 - 2 on the samples path")
    return Params(
        loop, path, top_k, tau, top_p, smoothing, weight, tpr, fpr, real_fixed, sub_n, truth, rare, counts
    )


def _cat_params_of(static, dyn) -> Params:
    loop, path, sub_n, _ = static
    return Params(
        loop,
        path,
        dyn["top_k"],
        dyn["tau"],
        dyn["top_p"],
        dyn["smoothing"],
        dyn["weight"],
        dyn["tpr"],
        dyn["fpr"],
        dyn["real_fixed"],
        sub_n,
        dyn["truth"],
        dyn["rare"],
        dyn["counts"],
    )


def advance_categorical(
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
    """The categorical token model's twin of ``_core.advance_categorical``:
    arguments as in ``advance`` with state [R, state_size(params)]
    and params a ``Params``. Compiled once per (loop, path,
    subsample_n, buffer size, shapes)."""
    p = _cat_params(params)
    static = (p.loop, p.path, p.subsample_n, bound(p))
    model = family_model(sys.modules[__name__], _cat_params_of, static)
    dyn = dict(
        top_k=jnp.int64(p.top_k),
        tau=jnp.float64(p.tau),
        top_p=jnp.float64(p.top_p),
        smoothing=jnp.float64(p.smoothing),
        weight=jnp.float64(p.weight),
        tpr=jnp.float64(p.tpr),
        fpr=jnp.float64(p.fpr),
        real_fixed=jnp.float64(p.real_fixed),
        truth=jnp.asarray(p.truth),
        rare=jnp.asarray(p.rare),
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
