"""Bigram (next-token, Markov chain) token model under every loop and knob,
in JAX.

Mirrors csrc/madsim/models/bigram.hpp::Bigram: the same state and observe
rows, the same streams

    token j = s L + l of a part (token l of sequence s) from uniform52 of
        words (0,1) (j even) or (2,3) (j odd) of block j/2 of TAG_SAMPLES
        (synthetic) / TAG_REAL (real) site 0, by binary search in the
        cumulative start law (l = 0) or the current token's row
    TAG_FILTER site 0 / 1       synthetic / real survivors
    TAG_SUBSET site 0 block j   the j-th pick of the subsample (classes: real
                                pairs i K + j, then synthetic ones)

Functions work on one replica; vmap them over replicas. ``loop``, ``length``
and the walk's buffer size (``bound``: sequences per part) are Python ints;
the rest may be traced. Cumulative laws are summed in the C++'s order
(``seq_cumsum``), so tokens and counts agree exactly; metrics are XLA
reductions and agree to rounding.
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
from . import categorical
from .common import draw_subset, next_token, seq_cumsum, survivors
from .philox import TAG_REAL, TAG_SAMPLES, TAG_SUBSET, block, make_stream
from .transforms import div, uniform52

# Mirrors Bigram::Loop and ::Path
REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE = 0, 1, 2, 3, 4
SAMPLES = 1
(
    B_ENTROPY_RATE,
    B_KL_RATE_TRUTH_MODEL,
    B_KL_RATE_MODEL_TRUTH,
    B_TV_RATE,
    B_EDGES,
    B_TOKENS_ALIVE,
    N_BIGRAM_METRICS,
) = range(7)


class Params(NamedTuple):
    """Mirrors Bigram::Params, holding the arrays themselves (the cumulative
    laws are computed here, as the C++ holder does)."""

    loop: int
    path: int
    top_k: Any  # 0 = off
    tau: Any
    top_p: Any  # 1 = off
    smoothing: Any
    tpr: Any
    fpr: Any
    real_fixed: Any
    length: int
    truth: Any  # [K, K]
    start: Any  # [K]
    pi0: Any  # [K]
    counts: Any  # [G, 2]
    subsample_n: int = 0  # AccumulateSubsample: sequences' worth of pairs per fit

    @property
    def K(self) -> int:
        return int(jnp.shape(self.truth)[0])


def loop_at(p: Params) -> int:
    return p.K * p.K + 4


def loop_size(p: Params) -> int:
    KK = p.K * p.K
    return {AUGMENT: KK + 1, ACCUMULATE: KK + 2, SUBSAMPLE: 2 * KK}.get(p.loop, 0)


def state_size(p: Params) -> int:
    return loop_at(p) + loop_size(p)


def metrics_at(p: Params) -> int:
    return p.K * p.K + 4


def observe_size(p: Params) -> int:
    return metrics_at(p) + N_BIGRAM_METRICS


def bound(p: Params) -> int:
    """A static buffer for the most sequences one part walks (a power of two
    >= every count in the table and the fixed set)."""
    import numpy as np

    most = max(float(np.max(np.asarray(p.counts), initial=0.0)), float(p.real_fixed), 1.0)
    return 1 << int(most - 1).bit_length()


def walk(K: int, L: int, n, start_cdf, cdf, st, nmax: int):
    """Transition counts [K*K] of n sequences of L tokens (n <= nmax).
    Mirrors Bigram::walk."""
    total = nmax * L
    w = block(st, jnp.arange((total + 1) // 2, dtype=jnp.uint32))
    u = jnp.stack([uniform52(w[:, 0], w[:, 1]), uniform52(w[:, 2], w[:, 3])], axis=1)
    u = u.reshape(-1)[:total].reshape(nmax, L)
    first = jax.vmap(lambda x: next_token(start_cdf, x))(u[:, 0])

    def body(cur, ul):
        nx = jax.vmap(next_token)(cdf[cur], ul)
        return nx, (cur, nx)

    _, (frm, to) = lax.scan(body, first, u[:, 1:].T)  # [L-1, nmax]
    on = (jnp.arange(nmax) < n)[None, :]
    return (
        jnp.zeros(K * K, jnp.float64)
        .at[(frm * K + to).reshape(-1)]
        .add(jnp.broadcast_to(jnp.where(on, 1.0, 0.0), frm.shape).reshape(-1))
    )


def row_laws(p: Params, P):
    """Cumulative laws [K, K] of the rows of knobs(P). Mirrors the loop over
    rows in Bigram::step (Categorical::sampling_law on each row)."""
    K = p.K
    cp = categorical.Params(
        0, 1, p.top_k, p.tau, p.top_p, 0.0, -1.0, 0.0, 0.0, 0.0, 0, jnp.zeros(K), None, None
    )
    q = jax.vmap(lambda row: categorical.sampling_law(cp, row)[0])(P)
    return jax.vmap(seq_cumsum)(q)


def fit(p: Params, c, n, P):
    """-> (model t [K, K], rows kept). Mirrors Bigram::fit."""
    K = p.K
    a = jnp.asarray(p.smoothing, jnp.float64)
    C = c.reshape(K, K)
    row = jnp.sum(C, axis=1)  # integers: exact in any order
    total = row + K * a
    new = div(C + a, jnp.where(total > 0.0, total, 1.0)[:, None])
    new = jnp.where(new >= jnp.finfo(jnp.float64).tiny, new, 0.0)  # subnormal is 0, as the C++
    keep = (row < 1.0) & (a <= 0.0)
    out = jnp.where(keep[:, None], P, new)
    nothing = (n < 1.0) & (a <= 0.0)
    return (jnp.where(nothing, P, out), jnp.where(nothing, jnp.float64(K), jnp.sum(keep).astype(jnp.float64)))


def _cdfs(p: Params):
    truth = jnp.asarray(p.truth, jnp.float64)
    return jnp.asarray(seq_cumsum(jnp.asarray(p.start, jnp.float64))), jax.vmap(seq_cumsum)(truth)


def init(p: Params, key, replica, nmax: int):
    K, KK = p.K, p.K * p.K
    row = jnp.zeros(state_size(p), jnp.float64).at[:KK].set(jnp.asarray(p.truth, jnp.float64).reshape(-1))
    if p.loop == AUGMENT:
        start_cdf, truth_cdf = _cdfs(p)
        c = survivors(p.real_fixed, p.fpr, key, replica, 0, 1)
        fixed = walk(K, p.length, c, start_cdf, truth_cdf, make_stream(key, replica, 0, TAG_REAL, 0), nmax)
        row = row.at[loop_at(p) : loop_at(p) + KK].set(fixed).at[loop_at(p) + KK].set(c)
    return row


def step(p: Params, state, key, replica, t, nmax: int):
    K, KK, L0 = p.K, p.K * p.K, loop_at(p)
    counts = jnp.asarray(p.counts, jnp.float64)
    m_t, k_t = counts[t - 1, 0], counts[t - 1, 1]
    k = survivors(k_t, p.tpr, key, replica, t, 0)
    m = jnp.float64(0.0) if p.loop == AUGMENT else survivors(m_t, p.fpr, key, replica, t, 1)
    P = state[:KK].reshape(K, K)
    start_cdf, truth_cdf = _cdfs(p)
    cdf = row_laws(p, P)
    c = walk(K, p.length, k, start_cdf, cdf, make_stream(key, replica, t, TAG_SAMPLES, 0), nmax)
    lp = state[L0:]
    nr = m
    if p.loop == SUBSAMPLE:
        return _subsample_step(p, state, P, lp, c, m, start_cdf, truth_cdf, key, replica, t, nmax)
    if p.loop == AUGMENT:
        c = c + lp[:KK]
        nr = lp[KK]
    elif p.loop != REPLACE:
        c = c + walk(K, p.length, m, start_cdf, truth_cdf, make_stream(key, replica, t, TAG_REAL, 0), nmax)
    if p.loop == ACCUMULATE:
        pool = lp[:KK] + c
        tot_r, tot_s = lp[KK] + nr, lp[KK + 1] + k
        lp = jnp.concatenate([pool, jnp.stack([tot_r, tot_s])])
        fit_c, cnt0, cnt1 = pool, tot_r, tot_s
    else:
        fit_c, cnt0, cnt1 = c, nr, k
    n = cnt0 + cnt1
    new, kept = fit(p, fit_c, n, P)
    skipped = state[KK + 2] + jnp.where((n < 1.0) & (jnp.asarray(p.smoothing) <= 0.0), 1.0, 0.0)
    return jnp.concatenate([new.reshape(-1), jnp.stack([cnt0, cnt1, skipped, kept]), lp])


def _subsample_step(p: Params, state, P, lp, c, m, start_cdf, truth_cdf, key, replica, t, nmax):
    """AccumulateSubsample: the fit on n (L - 1) pairs drawn from the pool.
    Mirrors the SUBSAMPLE branch of Bigram::step and Bigram::subsample_fit."""
    KK, L = p.K * p.K, p.length
    real = walk(p.K, L, m, start_cdf, truth_cdf, make_stream(key, replica, t, TAG_REAL, 0), nmax)
    lp = jnp.concatenate([lp[:KK] + real, lp[KK:] + c])
    out = draw_subset(lp, p.subsample_n * (L - 1), make_stream(key, replica, t, TAG_SUBSET, 0))
    got_r, got_s = jnp.sum(out[:KK]), jnp.sum(out[KK:])
    n = got_r + got_s
    new, kept = fit(p, out[:KK] + out[KK:], n, P)
    skipped = state[KK + 2] + jnp.where((n < 1.0) & (jnp.asarray(p.smoothing) <= 0.0), 1.0, 0.0)
    cnt = jnp.stack([div(got_r, L - 1.0), div(got_s, L - 1.0), skipped, kept])
    return jnp.concatenate([new.reshape(-1), cnt, lp])


def bigram_metrics(P, P0, pi0):
    """Every BigramMetric of P [K, K] against P0 [K, K] weighted by pi0 [K].
    Mirrors csrc/madsim/bigram_metrics.hpp."""
    w = pi0 > 0.0
    pos, pos0 = P > 0.0, P0 > 0.0
    safe, safe0 = jnp.where(pos, P, 1.0), jnp.where(pos0, P0, 1.0)
    H = -jnp.sum(jnp.where(pos, P * jnp.log(safe), 0.0), axis=1)
    ent = jnp.sum(jnp.where(w, pi0 * H, 0.0))
    both = pos & pos0
    kl_tm_rows = jnp.sum(jnp.where(both, P0 * jnp.log(safe0 / safe), 0.0), axis=1)
    kl_tm = jnp.where(
        jnp.any(w[:, None] & pos0 & ~pos), jnp.inf, jnp.sum(jnp.where(w, pi0 * kl_tm_rows, 0.0))
    )
    kl_mt_rows = jnp.sum(jnp.where(both, P * jnp.log(safe / safe0), 0.0), axis=1)
    kl_mt = jnp.where(
        jnp.any(w[:, None] & pos & ~pos0), jnp.inf, jnp.sum(jnp.where(w, pi0 * kl_mt_rows, 0.0))
    )
    tv = jnp.sum(pi0 * 0.5 * jnp.sum(jnp.abs(P - P0), axis=1))
    edges = jnp.sum(pos).astype(jnp.float64)
    alive = jnp.sum(jnp.any(pos, axis=0)).astype(jnp.float64)
    return jnp.stack([ent, kl_tm, kl_mt, tv, edges, alive])


def observe(p: Params, state):
    """[P K*K | points_real, points_synthetic, skipped, rows_kept | metrics].
    Mirrors Bigram::observe (every column)."""
    K, KK = p.K, p.K * p.K
    mets = bigram_metrics(
        state[:KK].reshape(K, K), jnp.asarray(p.truth, jnp.float64), jnp.asarray(p.pi0, jnp.float64)
    )
    return jnp.concatenate([state[:KK], state[KK : KK + 4], mets])


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def _bigram_params(params) -> Params:
    """Mirrors the checks of _core's BigramParams constructor (make_bigram in
    csrc/bindings/bigram.cpp: sizes, caps and codes, no numerical domain, which
    Config and the family check), in its order and with its messages; returns
    the params with numpy arrays."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a madsim.reference.bigram.Params; got {params!r}")
    p = params
    try:
        loop, path, top_k, length = (
            operator.index(p.loop),
            operator.index(p.path),
            operator.index(p.top_k),
            operator.index(p.length),
        )
        tau, top_p, smoothing, tpr, fpr, real_fixed = map(
            float, (p.tau, p.top_p, p.smoothing, p.tpr, p.fpr, p.real_fixed)
        )
    except TypeError:
        raise TypeError(
            f"params: loop, path, top_k and length must be integers, the rest numbers; got {params!r}"
        ) from None
    if loop < REPLACE or loop > SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if path != SAMPLES:
        raise ValueError("path must be 1 (samples)")
    if length < 2 or length > 4294967296:
        raise ValueError("length must lie in [2, 2**32]")
    cap = math.floor(8589934590.0 / float(length))
    subsample_n = operator.index(p.subsample_n) if loop == SUBSAMPLE else 0
    if loop == SUBSAMPLE and not (1 <= subsample_n and subsample_n * (length - 1) <= 4294967295):
        raise ValueError("subsample_n must be >= 1 with subsample_n * (length - 1) <= 2**32 - 1")
    if not (0.0 <= real_fixed <= cap and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer with real_fixed * length <= 2**33 - 2")
    truth = np.array(as_c_array(p.truth, "truth", (-1, -1)), np.float64)
    K = truth.shape[0]
    if truth.shape[1] != K:
        raise ValueError("truth must be a square K x K matrix")
    if K < 1 or K > 4096:
        raise ValueError("truth must have 1 to 4096 tokens")
    if top_k < 0 or top_k > K:
        raise ValueError("top_k must lie in [0, K] (0: off)")
    start = np.array(as_c_array(p.start, "start", (K,)), np.float64)
    pi0 = np.array(as_c_array(p.pi0, "pi0", (K,)), np.float64)
    counts = np.array(as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError("counts must be integers with counts * length <= 2**33 - 2")
    return Params(
        loop,
        path,
        top_k,
        tau,
        top_p,
        smoothing,
        tpr,
        fpr,
        real_fixed,
        length,
        truth,
        start,
        pi0,
        counts,
        subsample_n,
    )


def _bigram_params_of(static, dyn) -> Params:
    loop, length, subsample_n, _ = static
    return Params(
        loop,
        SAMPLES,
        dyn["top_k"],
        dyn["tau"],
        dyn["top_p"],
        dyn["smoothing"],
        dyn["tpr"],
        dyn["fpr"],
        dyn["real_fixed"],
        length,
        dyn["truth"],
        dyn["start"],
        dyn["pi0"],
        dyn["counts"],
        subsample_n,
    )


def advance_bigram(
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
    """The bigram token model's twin of ``_core.advance_bigram``: arguments as
    in ``advance`` with state [R, state_size(params)] and params a
    ``Params``. Compiled once per (loop, length, buffer size, subsample
    size, shapes)."""
    p = _bigram_params(params)
    static = (p.loop, p.length, p.subsample_n, bound(p))
    model = family_model(sys.modules[__name__], _bigram_params_of, static)
    dyn = dict(
        top_k=jnp.int64(p.top_k),
        tau=jnp.float64(p.tau),
        top_p=jnp.float64(p.top_p),
        smoothing=jnp.float64(p.smoothing),
        tpr=jnp.float64(p.tpr),
        fpr=jnp.float64(p.fpr),
        real_fixed=jnp.float64(p.real_fixed),
        truth=jnp.asarray(p.truth),
        start=jnp.asarray(p.start),
        pi0=jnp.asarray(p.pi0),
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
