"""Poisson counts refit by the sample mean under every loop, in JAX.

Mirrors csrc/madsim/models/poisson.hpp::Poisson: replace, augment (a fixed
real set drawn at generation 0), fresh real data, accumulate,
accumulate-subsample (samples path: the pool of points in the state). State
row, observe row and every stream (tag, site, block) are the C++'s (see the
header's comment).

Functions work on one replica; vmap them over replicas. ``Params.loop``,
``path``, ``subsample_n`` and ``pool_cap`` must be Python ints (they fix
shapes and code paths); the rest may be traced. The samples path draws its
points into buffers of a static size per part (``bound``, the table's
largest count rounded up to a power of two) and masks the points past the
count.

Where the twins part: nowhere but the log and exp of the sampler (XLA's and
libm's may differ in a last bit, which moves a Poisson draw only when a
uniform falls within rounding of an acceptance bound); the values are
integers, so the sums and the counts agree exactly and the rates to
rounding (tests/test_poisson.py).
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from .backend import advance_model, as_c_array, c_integer, family_model
from .common import bucket, floyd_subset
from .philox import TAG_REAL, TAG_SAMPLES, TAG_SCATTER, TAG_SUBSET, make_stream
from .samplers import poisson

# Mirrors Poisson::Loop, ::Path
REPLACE, AUGMENT, FRESH, ACCUMULATE, SUBSAMPLE = 0, 1, 2, 3, 4
EXACT, SAMPLES = 0, 1
SITE_MAX = (1 << 24) - 1
COUNTS_AT, LOOP_AT = 1, 4


class Params(NamedTuple):
    """Mirrors Poisson::Params, holding the count table itself (n_counts is
    ``counts.shape[0]``)."""

    loop: int  # REPLACE .. SUBSAMPLE (Python int)
    path: int  # EXACT or SAMPLES (Python int)
    rate0: float  # lambda_0 >= 0
    real_fixed: float  # Augment: points of the fixed real set
    counts: Any  # [n_counts, 2]: (real, synthetic) of generation t in row t-1
    subsample_n: int = 0  # AccumulateSubsample: points per fit (Python int)
    pool_cap: int = 0  # AccumulateSubsample: points the pool holds (Python int)


def bound(p: Params) -> tuple[int, int, int]:
    """(real, synthetic, subsample) points of the samples path's buffers
    (Python ints): each part's largest count (the fixed real set included)
    and subsample_n, rounded up to a power of two; zeros on the exact path.
    Reference only."""
    if p.path != SAMPLES:
        return (0, 0, 0)
    counts = np.asarray(p.counts, np.float64).reshape(-1, 2)
    real = max(counts[:, 0].max(initial=0.0), float(p.real_fixed))
    sub = bucket(p.subsample_n) if p.loop == SUBSAMPLE else 0
    return (bucket(real), bucket(counts[:, 1].max(initial=0.0)), sub)


# --- layout (mirrors the static members) ---------------------------------------------------------


def loop_size(p: Params) -> int:
    if p.loop == AUGMENT:
        return 2
    if p.loop == ACCUMULATE:
        return 3
    if p.loop == SUBSAMPLE:
        return 1 + 2 * p.pool_cap
    return 0


def state_size(p: Params) -> int:
    """Mirrors Poisson::state_size: [rate | points_real, points_synthetic, skipped | loop]."""
    return LOOP_AT + loop_size(p)


def observe_size(p: Params) -> int:
    """Mirrors Poisson::observe_size: [rate, collapsed, points_real, points_synthetic, skipped]."""
    return 5


def has_real_part(p: Params) -> bool:
    return p.loop in (FRESH, ACCUMULATE, SUBSAMPLE)


# --- draws ---------------------------------------------------------------------------------------


def points(rate, key, replica, gen, tag, nm: int):
    """[nm] points 0..nm-1 of a samples-path part: point j is poisson(rate)
    from site j. Mirrors PoissonPoints::draw."""
    j = jnp.arange(nm, dtype=jnp.uint32)
    value, _ = poisson(
        jnp.broadcast_to(jnp.asarray(rate, jnp.float64), (nm,)), make_stream(key, replica, gen, tag, j)
    )
    return value


def draw_sum(p: Params, c, rate, key, replica, gen, real: bool, nm: int):
    """The sum of c points of Poisson(rate) of one part at counter generation
    gen (nm: the samples path's buffer). Mirrors Poisson::draw_sum."""
    c = jnp.asarray(c, jnp.float64)
    if p.path == EXACT:
        tag = TAG_REAL if real else TAG_SCATTER
        value, _ = poisson(c * rate, make_stream(key, replica, gen, tag, 0))
        return jnp.where(c > 0.0, value, 0.0)
    if nm == 0:
        return jnp.float64(0.0)
    x = points(rate, key, replica, gen, TAG_REAL if real else TAG_SAMPLES, nm)
    return jnp.sum(jnp.where(jnp.arange(nm) < c, x, 0.0))


# --- the model -----------------------------------------------------------------------------------


def init(p: Params, key, replica, nmax):
    """Generation 0: the truth; Augment's fixed real set at counter
    generation 0. Mirrors Poisson::init."""
    state = jnp.zeros(state_size(p)).at[0].set(p.rate0)
    if p.loop == AUGMENT:
        s = draw_sum(p, p.real_fixed, p.rate0, key, replica, jnp.uint32(0), True, nmax[0])
        state = state.at[LOOP_AT].set(p.real_fixed).at[LOOP_AT + 1].set(s)
    return state


def step(p: Params, state, key, replica, t, nmax):
    """One generation. Mirrors Poisson::step."""
    t = jnp.asarray(t, jnp.uint32)
    row = p.counts[(t - 1).astype(jnp.int64)]
    m = row[0] if has_real_part(p) else jnp.float64(0.0)
    k = row[1]
    rate = state[0]
    if p.loop == SUBSAMPLE:
        return step_subsample(p, state, key, replica, t, m, k, nmax)
    syn = draw_sum(p, k, rate, key, replica, t, False, nmax[1])
    real = draw_sum(p, m, p.rate0, key, replica, t, True, nmax[0]) if has_real_part(p) else 0.0
    n_real, n_syn, total = m, k, syn + real
    if p.loop == AUGMENT:
        n_real = state[LOOP_AT]
        total = total + state[LOOP_AT + 1]
    elif p.loop == ACCUMULATE:
        n_real = state[LOOP_AT] + m
        n_syn = state[LOOP_AT + 1] + k
        total = state[LOOP_AT + 2] + total
        state = state.at[LOOP_AT].set(n_real).at[LOOP_AT + 1].set(n_syn).at[LOOP_AT + 2].set(total)
    return fit(state, n_real, n_syn, total)


def fit(state, n_real, n_syn, total):
    """The sample mean of n_real + n_syn points summing to total, or model
    t-1 kept and a skipped fit counted when there is none."""
    n = n_real + n_syn
    ok = n > 0.0
    state = state.at[0].set(jnp.where(ok, total / jnp.where(ok, n, 1.0), state[0]))
    state = state.at[COUNTS_AT].set(n_real).at[COUNTS_AT + 1].set(n_syn)
    return state.at[COUNTS_AT + 2].add(jnp.where(ok, 0.0, 1.0))


def step_subsample(p: Params, state, key, replica, t, m, k, nmax):
    """Accumulate-subsample: append generation t's points [value, 1 if real]
    (synthetic first, then real) while the pool has room, then fit on n =
    min(size, subsample_n) of them picked by floyd_subset (TAG_SUBSET).
    Mirrors Poisson::step_subsample."""
    cap = p.pool_cap
    size = state[LOOP_AT].astype(jnp.int64)
    rows = state[LOOP_AT + 1 : LOOP_AT + 1 + 2 * cap].reshape(cap, 2)
    for real, c, rate, nm in ((False, k, state[0], nmax[1]), (True, m, p.rate0, nmax[0])):
        if nm == 0:
            continue
        got = jnp.minimum(jnp.asarray(c, jnp.float64), (cap - size).astype(jnp.float64)).astype(jnp.int64)
        x = points(rate, key, replica, t, TAG_REAL if real else TAG_SAMPLES, nm)
        new = jnp.stack([x, jnp.full(nm, 1.0 if real else 0.0)], axis=1)
        j = jnp.arange(nm)
        rows = rows.at[jnp.where(j < got, size + j, cap)].set(new, mode="drop")
        size = size + got
    nsub = max(1, nmax[2])
    n = jnp.minimum(size, jnp.asarray(p.subsample_n, jnp.int64))
    pick = floyd_subset(make_stream(key, replica, t, TAG_SUBSET, 0), size, n, nsub)
    use = jnp.arange(nsub) < n
    padded = jnp.concatenate([rows, jnp.zeros((1, 2))])  # pool_cap may be 0
    chosen = jnp.where(use[:, None], padded[jnp.where(use, pick, 0.0).astype(jnp.int64)], 0.0)
    n_real = jnp.sum(chosen[:, 1])
    state = state.at[LOOP_AT].set(size.astype(jnp.float64))
    state = state.at[LOOP_AT + 1 : LOOP_AT + 1 + 2 * cap].set(rows.reshape(-1))
    return fit(state, n_real, n.astype(jnp.float64) - n_real, jnp.sum(chosen[:, 0]))


def observe(p: Params, state):
    """[rate, collapsed, points_real, points_synthetic, skipped]. Mirrors Poisson::observe."""
    c = state[COUNTS_AT : COUNTS_AT + 3]
    return jnp.concatenate([jnp.stack([state[0], jnp.where(state[0] == 0.0, 1.0, 0.0)]), c])


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def check_params(params) -> Params:
    """Mirrors the checks of csrc/bindings/poisson.cpp's PoissonParams
    constructor (make_poisson: caps and codes; rate0 is checked by the family),
    in its order and with its messages; returns
    the params with a numpy count table."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be a madsim.reference.poisson.Params; got {params!r}")
    p = params
    loop = c_integer("loop", p.loop, 32, True)
    path = c_integer("path", p.path, 32, True)
    rate0, real_fixed = float(p.rate0), float(p.real_fixed)
    if loop < REPLACE or loop > SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if path not in (EXACT, SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    sub_n = c_integer("subsample_n", p.subsample_n, 64, True)
    pool_cap = c_integer("pool_cap", p.pool_cap, 64, True)
    if loop == SUBSAMPLE:
        if path != SAMPLES:
            raise ValueError("subsample needs the samples path")
        if sub_n < 1:
            raise ValueError("subsample_n must be >= 1")
        if pool_cap < 0 or pool_cap > (1 << 35):
            raise ValueError("pool_cap must lie in [0, 2**35]")
    else:
        sub_n, pool_cap = 0, 0
    samples = path == SAMPLES
    cap = float(SITE_MAX) if samples else 1099511627776.0
    cap_msg = (
        "counts must be integers in [0, 2**24 - 1] on the samples path"
        if samples
        else "counts must be integers in [0, 2**40]"
    )
    if not (0.0 <= real_fixed <= cap and real_fixed == np.floor(real_fixed)):
        raise ValueError(cap_msg)
    counts = np.array(as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError(cap_msg)
    return Params(loop, path, rate0, real_fixed, counts, sub_n, pool_cap)


def _params_of(static, dyn) -> Params:
    loop, path, sub_n, pool_cap, _ = static
    return Params(loop, path, dyn["rate0"], dyn["real_fixed"], dyn["counts"], sub_n, pool_cap)


def advance_poisson(
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
    """The twin of ``_core.advance_poisson``: arguments as in
    ``madsim.reference.gaussian.advance`` with state [R, state_size(params)]
    and params a ``Params``. Compiled once per (loop, path, buffer sizes,
    shapes)."""
    p = check_params(params)
    static = (p.loop, p.path, p.subsample_n, p.pool_cap, bound(p))
    model = family_model(sys.modules[__name__], _params_of, static)
    dyn = dict(rate0=jnp.float64(p.rate0), real_fixed=jnp.float64(p.real_fixed), counts=jnp.asarray(p.counts))
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
