"""1-D Gaussian refit on its own samples (the replace loop), in JAX.

Mirrors csrc/madsim/models/gaussian1d.hpp::Gaussian1D. State [mean, v, j]
with var = v 4^j (j <= 0 an integer, renormalised by exact powers of 4 so v
stays in [2^-256, 2^256]: a deep collapse does not underflow); generation t
draws n points from N(mean, tau^2 var) and refits by MLE (divide the scatter
by n) or the unbiased estimator (n - 1).

Functions work on one replica (scalars); vmap them over replicas. ``path``
must be a Python int (it picks the code path); on the samples path ``n`` must
be a Python int too (it fixes the number of blocks drawn), so jit with them
static. tau, estimator and, on the exact path, n may be traced.

Where the twins part: XLA on CPU treats subnormal doubles as zero (inputs and
results, |x| < 2.2e-308) and the C++ keeps gradual underflow. A state whose
mean or var is subnormal, or a collapse run long enough for var to sink below
2.2e-308 is flushed to 0 here and not in the kernel. The scaled state (v, j)
never holds one: only ``var`` as observed (v 4^j) underflows in a deep
collapse, where ``logdet`` carries it. The differential tests draw no subnormal
states.
"""

from __future__ import annotations

import math
import operator

from typing import NamedTuple

import jax.numpy as jnp

from .backend import Model, advance_model
from .metrics import N_GAUSS_METRICS, gauss1_metrics
from .philox import TAG_SAMPLES, TAG_SCATTER, Stream, block, make_stream
from .samplers import chisquare, normals_of_block

# Mirrors Gaussian1D::Estimator and Gaussian1D::Path
MLE, UNBIASED = 0, 1
EXACT, SAMPLES = 0, 1


class Params(NamedTuple):
    """Mirrors csrc/madsim/models/gaussian1d.hpp::Gaussian1D::Params."""

    n: float  # samples per generation, >= 2 (a Python int on the samples path)
    tau: float  # temperature: synthetic spread = tau * sigma
    estimator: int  # 0 = mle, 1 = unbiased
    path: int  # 0 = exact, 1 = samples
    mu0: float = 0.0  # the truth N(mu0, var0) the metrics compare with
    var0: float = 1.0


class Moments1(NamedTuple):
    """Mirrors csrc/madsim/moments.hpp::Moments1."""

    count: jnp.ndarray  # number of points
    mean: jnp.ndarray  # their mean
    scatter: jnp.ndarray  # sum of squared deviations from `mean`


def state_size(p: Params) -> int:
    """Mirrors Gaussian1D::state_size: [mean, v, j]."""
    return 3


SCALE_LO, SCALE_HI = 2.0**-256, 2.0**256  # mirrors Gaussian1D::SCALE_LO / SCALE_HI
LN2 = 0.69314718055994530942


def _ilogb(v):
    """ilogb of a positive normal double (frexp's exponent - 1)."""
    return jnp.frexp(v)[1] - 1


def renormalise(v, j):
    """Mirrors Gaussian1D::renormalise: v into [2^-256, 2^256] by exact
    powers of 4 moved into j <= 0 (C++'s truncating integer division)."""
    e = _ilogb(jnp.where(v > 0.0, v, 1.0))
    half = jnp.trunc(e / 2).astype(jnp.int32)
    down = (v < SCALE_LO) & (v > 0.0)
    up = (j < 0.0) & (v > SCALE_HI) & (v <= jnp.finfo(jnp.float64).max)
    k = jnp.where(down, half, jnp.where(up, jnp.minimum(half, (-j).astype(jnp.int32)), 0))
    return jnp.where(down | up, jnp.ldexp(v, -2 * k), v), j + k


def scale_of(j):
    """Mirrors Gaussian1D::scale_of: 2^j."""
    return jnp.where(j == 0.0, 1.0, jnp.ldexp(jnp.float64(1.0), j.astype(jnp.int32)))


def var_of(state):
    """Mirrors Gaussian1D::var_of: v 4^j."""
    return jnp.where(state[2] == 0.0, state[1], jnp.ldexp(state[1], 2 * state[2].astype(jnp.int32)))


def logvar_of(state):
    """Mirrors Gaussian1D::logvar_of: ln var where var is a normal double,
    else ln v + 2 j ln 2."""
    var = var_of(state)
    deep = jnp.log(state[1]) + 2.0 * state[2] * LN2
    return jnp.where((var >= jnp.finfo(jnp.float64).tiny) | ~(state[1] > 0.0), jnp.log(var), deep)


METRICS_AT = 4  # mirrors Gaussian1D::METRICS_AT


def observe_size(p: Params) -> int:
    """Mirrors Gaussian1D::observe_size: [mean, var, logdet, mean_sq | the metrics]."""
    return METRICS_AT + N_GAUSS_METRICS


def draw_exact(n, mu, s, st: Stream, scale=1.0) -> Moments1:
    """(mean, scatter) of n draws from N(mu, (s scale)^2) in law, O(1) in n:
    mean = mu + s Z / sqrt(n) scale, scatter = s^2 chi^2_{n-1} (in v's units),
    Z the spare normal of the chi-square's first try. Mirrors
    csrc/madsim/models/gaussian1d.hpp::Gaussian1D::draw_exact.
    """
    n = jnp.asarray(n, jnp.float64)
    chi2, z, _ = chisquare(n - 1.0, st)
    return Moments1(n, mu + s * z / jnp.sqrt(n) * scale, s * s * chi2)


def draw_samples(n: int, mu, s, st: Stream, scale=1.0) -> Moments1:
    """Draws the n normals of the stream (two per block, all ceil(n/2) blocks at
    once, the last sine masked when n is odd) and reduces them on z - z_0.
    Mirrors csrc/madsim/models/gaussian1d.hpp::Gaussian1D::draw_samples; the
    sums run in XLA's order, not the C++'s sequential one. Memory is O(n) per
    replica (the C++ streams them in O(1)): meant for test-sized n.
    """
    count = int(n)
    if count != n or count < 1:
        raise ValueError(f"draw_samples: n must be a static positive integer; got {n!r}")
    nb = (count + 1) // 2
    w = block(st, jnp.arange(nb, dtype=jnp.uint32))  # [nb, 4]
    a, b = normals_of_block(w)  # [nb] each: normals 2i, 2i+1
    z0 = a[0]
    da = a - z0
    db = b - z0
    if count % 2:  # normal n (the last sine) is not one of the n
        db = jnp.where(jnp.arange(nb) < nb - 1, db, 0.0)
    s1 = jnp.sum(da) + jnp.sum(db)
    s2 = jnp.sum(da * da) + jnp.sum(db * db)
    nf = float(count)
    shift_mean = s1 / nf
    return Moments1(jnp.asarray(nf), mu + s * (z0 + shift_mean) * scale, s * s * (s2 - s1 * shift_mean))


def fit(p: Params, m: Moments1, j):
    """New state [mean, scatter / (count or count - 1), j], renormalised.

    Mirrors csrc/madsim/models/gaussian1d.hpp::Gaussian1D::fit (returns the row).
    """
    denom = jnp.where(jnp.asarray(p.estimator) == MLE, m.count, m.count - 1.0)
    v, j = renormalise(m.scatter / denom, jnp.asarray(j, jnp.float64))
    return jnp.stack([jnp.asarray(m.mean, jnp.float64), v, j])


def step(p: Params, state, key, replica, t):
    """One generation: the model of generation t-1 (state [3]) -> generation t.

    Exact path: stream (replica, t, TAG_SCATTER, site 0); samples path:
    stream (replica, t, TAG_SAMPLES, site 0). Returns the new state [3].
    Mirrors csrc/madsim/models/gaussian1d.hpp::Gaussian1D::step.
    """
    state = jnp.asarray(state, jnp.float64)
    s = p.tau * jnp.sqrt(state[1])
    scale = scale_of(state[2])
    if p.path == EXACT:
        m = draw_exact(p.n, state[0], s, make_stream(key, replica, t, TAG_SCATTER, 0), scale)
    elif p.path == SAMPLES:
        m = draw_samples(p.n, state[0], s, make_stream(key, replica, t, TAG_SAMPLES, 0), scale)
    else:
        raise ValueError(f"path must be 0 (exact) or 1 (samples); got {p.path!r}")
    return fit(p, m, state[2])


def observe(p: Params, state):
    """What records and detectors see: [mean, var, ln var, (mean - mu0)^2,
    then the metrics against the truth (madsim.reference.metrics)], every
    column (the C++ computes only those asked for; the values are the same).

    Mirrors csrc/madsim/models/gaussian1d.hpp::Gaussian1D::observe.
    """
    state = jnp.asarray(state, jnp.float64)
    mean, var = state[0], var_of(state)
    dm = mean - p.mu0
    head = jnp.stack([mean, var, logvar_of(state), dm * dm])
    return jnp.concatenate([head, gauss1_metrics(mean, var, p.mu0, p.var0)])


# --- the launcher's adapter: _core's params checks, and advance_<kernel> ------------------------


def _params(params):
    """Mirrors the checks of csrc/bindings/gaussian1d.cpp's Gaussian1DParams constructor (n and
    the codes; tau, mu0 and var0 are checked by Config and the family); accepts a
    reference ``Params`` or anything with n, tau, estimator, path (the
    _core struct included)."""
    try:
        n, tau, est, path = params.n, params.tau, params.estimator, params.path
        mu0, var0 = params.mu0, params.var0
    except AttributeError:
        raise TypeError(
            f"params must have fields n, tau, estimator, path, mu0, var0 (a "
            f"madsim.reference.gaussian.Params); got {params!r}"
        ) from None
    try:
        n, tau, mu0, var0 = float(n), float(tau), float(mu0), float(var0)
        est, path = operator.index(est), operator.index(path)
    except TypeError:
        raise TypeError(
            f"params: n, tau, mu0 and var0 must be numbers, estimator and path integers; got {params!r}"
        ) from None
    if not (2.0 <= n <= 4294967296.0 and n == math.floor(n)):
        raise ValueError("n must be an integer in [2, 2**32]")
    if est not in (MLE, UNBIASED):
        raise ValueError("estimator must be 0 (mle) or 1 (unbiased)")
    if path not in (EXACT, SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    return Params(n, tau, est, path, mu0, var0)


def _gaussian_params(static, dyn):
    path, n_static = static
    return Params(
        dyn["n"] if n_static is None else n_static,
        dyn["tau"],
        dyn["estimator"],
        path,
        dyn["mu0"],
        dyn["var0"],
    )


def _gaussian_step(static, dyn, row, key, replica, t):
    return step(_gaussian_params(static, dyn), row, key, replica, t)


def _gaussian_observe(static, dyn, row):
    return observe(_gaussian_params(static, dyn), row)


def advance(
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
    """Runs generations gen_begin+1 .. gen_end of every replica, in place.

    state [R, 2] float64 in/out; replica_ids [R] uint32; seed in [0, 2**64);
    rec_gens [n_rec] uint32, ascending, inside (gen_begin, gen_end] (or
    gen_begin itself when it is 0); records [R, K, C] float64, rows
    rec_offset .. rec_offset + n_rec - 1 written; detectors [D, 3] float64
    rows (metric index: an observe column, below flag, threshold); first
    [R, D] int64 in/out, -1 = not reached yet; threads >= 1 (ignored);
    columns [C] int32, the observe columns a record row holds (None: all O
    of them, in order).
    Mirrors csrc/bindings/common.hpp::advance_py (advance_gaussian1d).
    """
    p = _params(params)
    n_static = int(p.n) if p.path == SAMPLES else None
    model = Model(None, _gaussian_step, _gaussian_observe, (p.path, n_static))
    dyn = dict(
        n=jnp.float64(p.n),
        tau=jnp.float64(p.tau),
        estimator=jnp.int32(p.estimator),
        mu0=jnp.float64(p.mu0),
        var0=jnp.float64(p.var0),
    )
    advance_model(
        model,
        dyn,
        state_size(p),
        observe_size(p),
        None,
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
