"""The reference launcher: ``advance`` and ``advance_gaussian_loop`` with
exactly the contracts of ``madsim._core.advance_gaussian1d`` and
``madsim._core.advance_gaussian_loop``; both families run through one shared
launcher (``_advance``, ``_run_piece``), a family being a ``_Model``.

Mirrors csrc/bindings/common.hpp::advance_py (argument checks in the same
order with the same exception types, ValueError messages word for word;
where pybind11 cannot convert an argument to its C type this raises its own
TypeError) and
csrc/madsim/driver.hpp::advance_replica (which generations are stepped,
recorded and watched). Generations run as a ``lax.scan`` in pieces of
``PIECE`` generations (the last padded, so a run of any length and any
chunking compiles once per model and replica count), replicas as a
``vmap``. Results are written back into the caller's numpy arrays, as the
C++ does.

``threads`` is checked (>= 1) and ignored: XLA picks its own parallelism.
Results agree with the kernel to the tolerances of
tests/test_reference_gaussian.py and tests/test_reference_gaussian_loop.py,
except once a state goes subnormal (XLA flushes it to zero; see
madsim.reference.gaussian).
"""

from __future__ import annotations

import math
import operator
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import bigram, categorical, gaussian, gaussian_loop, gmm, logistic, regression
from .philox import seed_key

PIECE = 32                  # generations per compiled scan call (fewer when OBS_BUDGET says so)
OBS_BUDGET = 1 << 22        # most float64 observations a piece returns (32 MiB)
_U32_MAX = 0xFFFFFFFF
# XLA's CPU compile time dominates the reference (seconds per model; a
# generation runs in microseconds): LLVM at optimisation level 0 and the
# classic fusion emitters compile 2-4x faster. Neither turns on fast-math;
# code generation may still round a last bit differently from a default
# compile (whether a multiply-add fuses), far inside the differential tests'
# tolerances. Applied by ``jit`` below to every compiled piece.
XLA_CPU_OPTIONS = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}


def jit(fun=None, **kwargs):
    """jax.jit with XLA_CPU_OPTIONS (where this jax's jit takes compiler_options)."""
    if fun is None:
        return partial(jit, **kwargs)
    try:
        return jax.jit(fun, compiler_options=XLA_CPU_OPTIONS, **kwargs)
    except TypeError:  # pragma: no cover - a jax whose jit has no compiler_options
        return jax.jit(fun, **kwargs)


def _c_integer(name, value, bits, signed):
    """An argument that pybind11 converts to a C integer: TypeError when it cannot."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"advance: {name} must be an integer; got {value!r}") from None
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= v <= hi:
        raise TypeError(f"advance: {name} must fit a {'' if signed else 'u'}int{bits}; got {v}")
    return v


def _checked(a, name, dtype, shape, writable):
    """Mirrors csrc/bindings/common.hpp::checked: dtype, ndim, extents (-1 = any), C order, writability."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != np.dtype(dtype):
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {a.dtype}")
    if a.ndim != len(shape):
        raise ValueError(f"{name}: expected {len(shape)} dimensions, got {a.ndim}")
    for k, e in enumerate(shape):
        if e >= 0 and a.shape[k] != e:
            raise ValueError(f"{name}: axis {k} has length {a.shape[k]}, expected {e}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name}: must be writable")
    return a


def _params(params):
    """Mirrors the checks of csrc/bindings/gaussian1d.cpp's Gaussian1DParams constructor; accepts a
    reference ``gaussian.Params`` or anything with n, tau, estimator, path (the
    _core struct included)."""
    try:
        n, tau, est, path = params.n, params.tau, params.estimator, params.path
        mu0, var0 = params.mu0, params.var0
    except AttributeError:
        raise TypeError(
            f"params must have fields n, tau, estimator, path, mu0, var0 (a "
            f"madsim.reference.gaussian.Params); got {params!r}") from None
    try:
        n, tau, mu0, var0 = float(n), float(tau), float(mu0), float(var0)
        est, path = operator.index(est), operator.index(path)
    except TypeError:
        raise TypeError(f"params: n, tau, mu0 and var0 must be numbers, estimator and path "
                        f"integers; got {params!r}") from None
    if not (2.0 <= n <= 4294967296.0 and n == math.floor(n)):
        raise ValueError("n must be an integer in [2, 2**32]")
    if not (tau >= 0.0 and math.isfinite(tau)):
        raise ValueError("tau must be finite and >= 0")
    if est not in (gaussian.MLE, gaussian.UNBIASED):
        raise ValueError("estimator must be 0 (mle) or 1 (unbiased)")
    if path not in (gaussian.EXACT, gaussian.SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    if not math.isfinite(mu0):
        raise ValueError("mu0 must be finite")
    if not (var0 > 0.0 and math.isfinite(var0)):
        raise ValueError("var0 must be finite and > 0")
    return gaussian.Params(n, tau, est, path, mu0, var0)


class _Model(NamedTuple):
    """One family for the shared launcher; hashable, so it is static under jit.

    init(static, dyn, key, replica) -> state row, or None (the caller's row is
    kept: generation 0 is whatever the caller put there); step(static, dyn,
    state, key, replica, t) -> state row; observe(static, dyn, state) -> row.
    ``static`` holds the Python values that fix shapes and code paths, ``dyn``
    (a dict of arrays, traced) the rest.
    """

    init: Callable | None
    step: Callable
    observe: Callable
    static: tuple


@jit(static_argnames=("model",))
def _run_piece(state, first, ids, key, ts, valid, dyn, metric, below, threshold, *, model):
    """Scans generations ts [L] (t = 0 runs model.init, if any, and observes;
    valid [L] masks the padding) over all replicas. state [R, S], first [R, D]
    int64, ids [R] uint32, key [2] uint32; detector columns metric [D] int32,
    below [D] bool, threshold [D]. Returns (state, first, obs [L, R, O]).
    Mirrors the loop of csrc/madsim/driver.hpp::advance_replica."""
    keep = lambda s, t: s  # noqa: E731
    init_all = keep
    if model.init is not None:
        init_all = lambda s, t: jax.vmap(  # noqa: E731
            lambda r: model.init(model.static, dyn, key, r))(ids)
    step_all = lambda s, t: jax.vmap(  # noqa: E731
        lambda row, r: model.step(model.static, dyn, row, key, r, t))(s, ids)
    observe_all = jax.vmap(lambda row: model.observe(model.static, dyn, row))

    def body(carry, x):
        st, fp = carry
        t, ok = x
        branch = jnp.where(ok, jnp.where(t == 0, 1, 2), 0)
        st = lax.switch(branch, (keep, init_all, step_all), st, t)
        obs = observe_all(st)                          # [R, O]
        vals = obs[:, metric]                          # [R, D]
        fires = jnp.where(below, vals <= threshold, vals >= threshold)
        fp = jnp.where(ok & (fp < 0) & fires, t.astype(jnp.int64), fp)
        return (st, fp), obs

    (state, first), obs = lax.scan(body, (state, first), (ts, valid))
    return state, first, obs


def _family_init(static, dyn, key, replica):
    module, params_of, st = static
    return module.init(params_of(st, dyn), key, replica, st[-1])


def _family_step(static, dyn, row, key, replica, t):
    module, params_of, st = static
    return module.step(params_of(st, dyn), row, key, replica, t, st[-1])


def _family_observe(static, dyn, row):
    module, params_of, st = static
    return module.observe(params_of(st, dyn), row)


def _family_model(module, params_of, static) -> _Model:
    """The _Model of a family whose reference module has init(p, key,
    replica, bound), step(p, row, key, replica, t, bound) and observe(p,
    row), with params_of(static, dyn) -> its Params and the buffer bound
    last in ``static`` (module and function are hashable: static under jit)."""
    return _Model(_family_init, _family_step, _family_observe, (module, params_of, static))


def _gaussian_params(static, dyn):
    path, n_static = static
    return gaussian.Params(dyn["n"] if n_static is None else n_static, dyn["tau"],
                           dyn["estimator"], path, dyn["mu0"], dyn["var0"])


def _gaussian_step(static, dyn, row, key, replica, t):
    return gaussian.step(_gaussian_params(static, dyn), row, key, replica, t)


def _gaussian_observe(static, dyn, row):
    return gaussian.observe(_gaussian_params(static, dyn), row)


def advance(params, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records,
            detectors, first, threads, columns=None):
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
    n_static = int(p.n) if p.path == gaussian.SAMPLES else None
    model = _Model(None, _gaussian_step, _gaussian_observe, (p.path, n_static))
    dyn = dict(n=jnp.float64(p.n), tau=jnp.float64(p.tau), estimator=jnp.int32(p.estimator),
               mu0=jnp.float64(p.mu0), var0=jnp.float64(p.var0))
    _advance(model, dyn, gaussian.state_size(p), gaussian.observe_size(p), None, state,
             replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records, detectors,
             first, threads, columns)


def _columns(columns, O):
    """Mirrors module.cpp::advance_py's columns argument: None (all O, in
    order) or a 1-D int32 array of observe columns in [0, O)."""
    if columns is None:
        return np.arange(O, dtype=np.int64)
    if not isinstance(columns, np.ndarray):
        raise TypeError("columns: expected a numpy.ndarray of int32 or None")
    _checked(columns, "columns", np.int32, (-1,), False)
    if np.any((columns < 0) | (columns >= O)):
        raise ValueError(f"columns must be observe() columns in [0, {O})")
    return columns.astype(np.int64)


def _advance(model, dyn, S, O, max_gen, state, replica_ids, seed, gen_begin, gen_end, rec_gens,
             rec_offset, records, detectors, first, threads, columns=None, width=None):
    """The launcher both families share: module.cpp::advance_py's checks (after
    the family's own: gen_end <= max_gen unless None), then the pieces. The
    model's rows are ``width`` >= S long (zero-padded; S when None)."""
    seed = _c_integer("seed", seed, 64, False)
    gen_begin = _c_integer("gen_begin", gen_begin, 32, False)
    gen_end = _c_integer("gen_end", gen_end, 32, False)
    rec_offset = _c_integer("rec_offset", rec_offset, 64, True)
    threads = _c_integer("threads", threads, 32, True)
    if max_gen is not None and gen_end > max_gen:
        raise ValueError("gen_end exceeds the generations the counts schedule covers")

    _checked(state, "state", np.float64, (-1, S), True)
    R = state.shape[0]
    _checked(replica_ids, "replica_ids", np.uint32, (R,), False)
    _checked(rec_gens, "rec_gens", np.uint32, (-1,), False)
    cols = _columns(columns, O)
    _checked(records, "records", np.float64, (R, -1, cols.size), True)
    _checked(detectors, "detectors", np.float64, (-1, 3), False)
    D = detectors.shape[0]
    _checked(first, "first", np.int64, (R, D), True)
    if gen_end < gen_begin:
        raise ValueError("gen_end must be >= gen_begin")
    if gen_end == _U32_MAX:
        raise ValueError("gen_end must be < 2**32 - 1")
    n_rec, total = rec_gens.shape[0], records.shape[1]
    if rec_offset < 0 or rec_offset > total - n_rec:
        raise ValueError("rec_offset + len(rec_gens) exceeds the record axis")
    rg = rec_gens.astype(np.int64)
    in_chunk = (rg > gen_begin) | ((gen_begin == 0) & (rg == 0))
    if n_rec and (not np.all(in_chunk) or np.any(rg > gen_end) or np.any(np.diff(rg) <= 0)):
        raise ValueError("rec_gens must be ascending and inside the chunk")
    metric = detectors[:, 0]
    if not np.all((metric >= 0) & (metric < O) & (metric == np.floor(metric))):
        raise ValueError("detector metric index out of range")
    if threads < 1 or threads > 4096:
        raise ValueError("threads must lie in [1, 4096]")

    # The looks of advance_replica, in order: t0 (= 0 only when the chunk starts
    # there: init, then observe), then every stepped generation up to gen_end.
    t0 = 0 if gen_begin == 0 else gen_begin + 1
    looks = gen_end - t0 + 1
    if R == 0 or looks <= 0:
        return

    det = dict(metric=jnp.asarray(metric.astype(np.int32)),
               below=jnp.asarray(detectors[:, 1] != 0.0),
               threshold=jnp.asarray(detectors[:, 2]))
    key = seed_key(seed)
    ids = jnp.asarray(replica_ids)
    width = S if width is None else width
    st = jnp.asarray(np.pad(state, ((0, 0), (0, width - S))) if width > S else state)
    fp = jnp.asarray(first)
    Lp = min(PIECE, 1 << (max(1, OBS_BUDGET // max(1, R * O)).bit_length() - 1))
    pos = rg - t0  # look index of each recorded generation
    j0 = 0
    while j0 < looks:
        L = min(Lp, looks - j0)
        idx = np.arange(Lp, dtype=np.int64)
        ok = idx < L
        ts = np.where(ok, t0 + j0 + idx, 0).astype(np.uint32)
        st, fp, obs = _run_piece(st, fp, ids, key, jnp.asarray(ts), jnp.asarray(ok), dyn, **det,
                                 model=model)
        sel = np.nonzero((pos >= j0) & (pos < j0 + L))[0]
        if sel.size:
            rows = np.asarray(obs)[pos[sel] - j0]             # [len(sel), R, O]
            records[:, rec_offset + sel, :] = np.swapaxes(rows, 0, 1)[..., cols]
        j0 += L
    state[...] = np.asarray(st)[:, :S]
    first[...] = np.asarray(fp)


# --- GaussianLoop ------------------------------------------------------------------------------


def _as_c_array(a, name, shape):
    """A py::array argument: array-likes convert (numpy's default dtype), then
    module.cpp::checked's dtype / ndim / extent checks (read-only)."""
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected an array of float64; got {a!r}") from None
    return _checked(a, name, np.float64, shape, False)


def _loop_params(params) -> gaussian_loop.Params:
    """Mirrors the checks of module.cpp's GaussianLoopParams constructor
    (make_gaussian_loop), in its order and with its messages, on a reference
    ``gaussian_loop.Params``; returns it with numpy truth and counts (and
    subsample_n = pool_cap = 0 unless the loop is SUBSAMPLE, as there)."""
    if not isinstance(params, gaussian_loop.Params):
        raise TypeError(f"params must be a madsim.reference.gaussian_loop.Params; got {params!r}")
    p = params
    try:
        d, loop, est, path = (operator.index(p.d), operator.index(p.loop),
                              operator.index(p.estimator), operator.index(p.path))
        sub_n, cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
        tau, trunc, weight, tpr, fpr, real_fixed = map(
            float, (p.tau, p.trunc, p.weight, p.tpr, p.fpr, p.real_fixed))
    except TypeError:
        raise TypeError(f"params: d, loop, estimator, path, subsample_n and pool_cap must be "
                        f"integers, the rest numbers; got {params!r}") from None
    if d < 1 or d > 256:
        raise ValueError("d must lie in [1, 256]")
    if loop < gaussian_loop.REPLACE or loop > gaussian_loop.SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if est not in (gaussian_loop.MLE, gaussian_loop.UNBIASED):
        raise ValueError("estimator must be 0 (mle) or 1 (unbiased)")
    if path not in (gaussian_loop.EXACT, gaussian_loop.SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    if not (tau > 0.0 and math.isfinite(tau)):
        raise ValueError("tau must be finite and > 0")
    if not (trunc >= 0.0 and math.isfinite(trunc)):
        raise ValueError("trunc must be finite and >= 0")
    if trunc > 0.0 and path != gaussian_loop.SAMPLES:
        raise ValueError("trunc needs the samples path")
    if not (weight <= 1.0) or not (weight >= 0.0 or weight == -1.0):
        raise ValueError("weight must be -1 (pooled) or lie in [0, 1]")
    if not (0.0 <= tpr <= 1.0) or not (0.0 <= fpr <= 1.0):
        raise ValueError("tpr and fpr must lie in [0, 1]")
    if not (0.0 <= real_fixed <= 1099511627776.0 and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer in [0, 2**40]")
    if loop == gaussian_loop.SUBSAMPLE:
        if path != gaussian_loop.SAMPLES:
            raise ValueError("subsample needs the samples path")
        if sub_n < 1:
            raise ValueError("subsample_n must be >= 1")
        if cap < 0 or cap > (1 << 36) // (d + 1):
            raise ValueError("pool_cap must lie in [0, 2**36 / (d + 1)]")
    else:
        sub_n = cap = 0
    T = d * (d + 1) // 2
    truth = np.array(_as_c_array(p.truth, "truth", (d + T,)), np.float64)
    counts = np.array(_as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts <= 1099511627776.0) & (counts == np.floor(counts))):
        raise ValueError("counts must be integers in [0, 2**40]")
    if not np.all(np.isfinite(truth)):
        raise ValueError("truth must be finite")
    if not np.all(truth[d + np.array([i * (i + 1) // 2 + i for i in range(d)])] > 0.0):
        raise ValueError("truth: the Cholesky factor needs a positive diagonal")
    factors, basis = _ppca_params(p, d)
    return gaussian_loop.Params(d, loop, est, path, tau, trunc, weight, tpr, fpr, real_fixed,
                                sub_n, cap, truth, counts, factors, basis)


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
        raise ValueError(f"factors must be 0 (full covariance) or lie in [1, d - 1] = [1, {d - 1}], "
                         f"got {q}")
    if p.basis is None:
        raise ValueError("factors > 0 needs basis, the truth's [d, q] subspace")
    U = np.array(_as_c_array(p.basis, "basis", (d, q)), np.float64)
    if not np.all(np.abs(U.T @ U - np.eye(q)) <= 1e-9):
        raise ValueError("basis must have orthonormal columns (|U'U - I| <= 1e-9)")
    return q, U


def _loop_params_of(static, dyn) -> gaussian_loop.Params:
    d, path, cap, factors, _ = static
    return gaussian_loop.Params(d, dyn["loop"], dyn["estimator"], path, dyn["tau"], dyn["trunc"],
                                dyn["weight"], dyn["tpr"], dyn["fpr"], dyn["real_fixed"],
                                dyn["subsample_n"], cap, dyn["truth"], dyn["counts"], factors,
                                dyn.get("basis"))



def advance_gaussian_loop(params, state, replica_ids, seed, gen_begin, gen_end, rec_gens,
                          rec_offset, records, detectors, first, threads, columns=None):
    """Runs generations gen_begin+1 .. gen_end of every replica of the
    d-dimensional Gaussian loop, in place; when gen_begin == 0 each state row
    is first (re)initialised (the truth, and Augment's fixed real set) and
    generation 0 observed. Arguments as in ``advance`` with state
    [R, gaussian_loop.state_size(params)] and records [R, K, C] (C =
    len(columns), or gaussian_loop.observe_size(params) when columns is
    None); params is a
    ``gaussian_loop.Params``, and gen_end may not pass the count table.

    Mirrors csrc/bindings/module.cpp's advance_gaussian_loop (the params
    checks of its GaussianLoopParams constructor first).

    Compiled once per (d, path, pool_cap, buffer sizes, shapes), not per
    loop: the loop and every knob are traced (gaussian_loop's traced-loop
    mode; rows are zero-padded to ``gaussian_loop.row_size`` inside), so a
    sweep over loops and knobs compiles once, at the price of tracing every
    loop's code into each step. On the samples path each part's points go
    through a buffer sized by the largest count in the whole table (rounded
    up to a power of two: ``gaussian_loop.bounds``), so memory and work per
    generation follow that maximum, not the generation's own count.
    """
    p = _loop_params(params)
    static = (p.d, p.path, p.pool_cap, p.factors, gaussian_loop.bounds(p))
    model = _family_model(gaussian_loop, _loop_params_of, static)
    dyn = dict(loop=jnp.int32(p.loop), estimator=jnp.int32(p.estimator), tau=jnp.float64(p.tau),
               trunc=jnp.float64(p.trunc), weight=jnp.float64(p.weight),
               tpr=jnp.float64(p.tpr), fpr=jnp.float64(p.fpr),
               real_fixed=jnp.float64(p.real_fixed), subsample_n=jnp.int64(p.subsample_n),
               truth=jnp.asarray(p.truth), counts=jnp.asarray(p.counts))
    if p.factors:
        dyn["basis"] = jnp.asarray(p.basis)
    S = gaussian_loop.state_size(p)
    width = gaussian_loop.row_size(_loop_params_of(static, dyn))
    _advance(model, dyn, S, gaussian_loop.observe_size(p), p.counts.shape[0], state,
             replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records, detectors,
             first, threads, columns, width=width)


# --- Categorical -------------------------------------------------------------------------------


def _cat_params(params) -> categorical.Params:
    """Mirrors the checks of module.cpp's CategoricalParams constructor
    (make_categorical), in its order and with its messages; returns the
    params with numpy arrays (subsample_n = 0 unless the loop is SUBSAMPLE)."""
    if not isinstance(params, categorical.Params):
        raise TypeError(f"params must be a madsim.reference.categorical.Params; got {params!r}")
    p = params
    try:
        loop, path, top_k, sub_n = (operator.index(p.loop), operator.index(p.path),
                                    operator.index(p.top_k), operator.index(p.subsample_n))
        tau, top_p, smoothing, weight, tpr, fpr, real_fixed = map(
            float, (p.tau, p.top_p, p.smoothing, p.weight, p.tpr, p.fpr, p.real_fixed))
    except TypeError:
        raise TypeError(f"params: loop, path, top_k and subsample_n must be integers, the rest "
                        f"numbers; got {params!r}") from None
    if loop < categorical.REPLACE or loop > categorical.SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if path not in (categorical.EXACT, categorical.SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    if not (tau > 0.0 and math.isfinite(tau)):
        raise ValueError("tau must be finite and > 0")
    if not (0.0 < top_p <= 1.0):
        raise ValueError("top_p must lie in (0, 1]")
    if not (smoothing >= 0.0 and math.isfinite(smoothing)):
        raise ValueError("smoothing must be finite and >= 0")
    if not (weight <= 1.0) or not (weight >= 0.0 or weight == -1.0):
        raise ValueError("weight must be -1 (pooled) or lie in [0, 1]")
    if weight >= 0.0 and smoothing > 0.0:
        raise ValueError("smoothing needs the pooled fit (weight -1)")
    if not (0.0 <= tpr <= 1.0) or not (0.0 <= fpr <= 1.0):
        raise ValueError("tpr and fpr must lie in [0, 1]")
    if not (0.0 <= real_fixed <= 1099511627776.0 and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer in [0, 2**40]")
    if loop == categorical.SUBSAMPLE:
        if sub_n < 1 or sub_n > 0xFFFFFFFF:
            raise ValueError("subsample_n must lie in [1, 2**32 - 1]")
    else:
        sub_n = 0
    truth = np.array(_as_c_array(p.truth, "truth", (-1,)), np.float64)
    K = truth.shape[0]
    if K < 1 or K > (1 << 24):
        raise ValueError("truth must have 1 to 2**24 tokens")
    if top_k < 0 or top_k > K:
        raise ValueError("top_k must lie in [0, K] (0: off)")
    rare = np.array(_as_c_array(p.rare, "rare", (K,)), np.float64)
    counts = np.array(_as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((truth >= 0.0) & (truth <= 1.0)):
        raise ValueError("truth: probabilities must lie in [0, 1]")
    if not abs(float(np.sum(truth)) - 1.0) <= 1e-9:
        raise ValueError("truth: probabilities must sum to 1")
    cap = 8589934590.0 if path == categorical.SAMPLES else 1099511627776.0
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError("counts must be integers in [0, 2**33 - 2] on the samples path"
                         if path == categorical.SAMPLES else "counts must be integers in [0, 2**40]")
    if path == categorical.SAMPLES and real_fixed > cap:
        raise ValueError("real_fixed must be <= 2**33 - 2 on the samples path")
    return categorical.Params(loop, path, top_k, tau, top_p, smoothing, weight, tpr, fpr,
                              real_fixed, sub_n, truth, rare, counts)


def _cat_params_of(static, dyn) -> categorical.Params:
    loop, path, sub_n, _ = static
    return categorical.Params(loop, path, dyn["top_k"], dyn["tau"], dyn["top_p"], dyn["smoothing"],
                              dyn["weight"], dyn["tpr"], dyn["fpr"], dyn["real_fixed"], sub_n,
                              dyn["truth"], dyn["rare"], dyn["counts"])



def advance_categorical(params, state, replica_ids, seed, gen_begin, gen_end, rec_gens,
                        rec_offset, records, detectors, first, threads, columns=None):
    """The categorical token model's twin of ``_core.advance_categorical``:
    arguments as in ``advance`` with state [R, categorical.state_size(params)]
    and params a ``categorical.Params``. Compiled once per (loop, path,
    subsample_n, buffer size, shapes)."""
    p = _cat_params(params)
    static = (p.loop, p.path, p.subsample_n, categorical.bound(p))
    model = _family_model(categorical, _cat_params_of, static)
    dyn = dict(top_k=jnp.int64(p.top_k), tau=jnp.float64(p.tau), top_p=jnp.float64(p.top_p),
               smoothing=jnp.float64(p.smoothing), weight=jnp.float64(p.weight),
               tpr=jnp.float64(p.tpr), fpr=jnp.float64(p.fpr),
               real_fixed=jnp.float64(p.real_fixed), truth=jnp.asarray(p.truth),
               rare=jnp.asarray(p.rare), counts=jnp.asarray(p.counts))
    _advance(model, dyn, categorical.state_size(p), categorical.observe_size(p), p.counts.shape[0],
             state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records,
             detectors, first, threads, columns)


# --- Bigram ------------------------------------------------------------------------------------


def _check_probs(x, what):
    """Mirrors module.cpp::check_probs."""
    if not np.all((x >= 0.0) & (x <= 1.0)):
        raise ValueError(f"{what}: probabilities must lie in [0, 1]")
    if not abs(_seq_sum(x) - 1.0) <= 1e-9:
        raise ValueError(f"{what}: probabilities must sum to 1")


def _seq_sum(x):
    s = 0.0
    for v in np.asarray(x, np.float64).tolist():
        s += v
    return s


def _bigram_params(params) -> bigram.Params:
    """Mirrors the checks of module.cpp's BigramParams constructor
    (make_bigram), in its order and with its messages; returns the params with
    numpy arrays."""
    if not isinstance(params, bigram.Params):
        raise TypeError(f"params must be a madsim.reference.bigram.Params; got {params!r}")
    p = params
    try:
        loop, path, top_k, length = (operator.index(p.loop), operator.index(p.path),
                                     operator.index(p.top_k), operator.index(p.length))
        tau, top_p, smoothing, tpr, fpr, real_fixed = map(
            float, (p.tau, p.top_p, p.smoothing, p.tpr, p.fpr, p.real_fixed))
    except TypeError:
        raise TypeError(f"params: loop, path, top_k and length must be integers, the rest "
                        f"numbers; got {params!r}") from None
    if loop < bigram.REPLACE or loop > bigram.SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if path == 0:
        raise ValueError("path 0 (exact) does not exist for the bigram model: the visit counts "
                         "depend on the transitions drawn, so the transition counts cannot be "
                         "drawn without walking the chain; use 1 (samples)")
    if path != bigram.SAMPLES:
        raise ValueError("path must be 1 (samples)")
    if not (tau > 0.0 and math.isfinite(tau)):
        raise ValueError("tau must be finite and > 0")
    if not (0.0 < top_p <= 1.0):
        raise ValueError("top_p must lie in (0, 1]")
    if not (smoothing >= 0.0 and math.isfinite(smoothing)):
        raise ValueError("smoothing must be finite and >= 0")
    if not (0.0 <= tpr <= 1.0) or not (0.0 <= fpr <= 1.0):
        raise ValueError("tpr and fpr must lie in [0, 1]")
    if length < 2 or length > 4294967296:
        raise ValueError("length must lie in [2, 2**32]")
    cap = math.floor(8589934590.0 / float(length))
    subsample_n = operator.index(p.subsample_n) if loop == bigram.SUBSAMPLE else 0
    if loop == bigram.SUBSAMPLE and not (1 <= subsample_n
                                         and subsample_n * (length - 1) <= 4294967295):
        raise ValueError("subsample_n must be >= 1 with subsample_n * (length - 1) <= 2**32 - 1")
    if not (0.0 <= real_fixed <= cap and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer with real_fixed * length <= 2**33 - 2")
    truth = np.array(_as_c_array(p.truth, "truth", (-1, -1)), np.float64)
    K = truth.shape[0]
    if truth.shape[1] != K:
        raise ValueError("truth must be a square K x K matrix")
    if K < 1 or K > 4096:
        raise ValueError("truth must have 1 to 4096 tokens")
    if top_k < 0 or top_k > K:
        raise ValueError("top_k must lie in [0, K] (0: off)")
    start = np.array(_as_c_array(p.start, "start", (K,)), np.float64)
    pi0 = np.array(_as_c_array(p.pi0, "pi0", (K,)), np.float64)
    counts = np.array(_as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    for i in range(K):
        _check_probs(truth[i], f"truth: row {i}")
    _check_probs(start, "start")
    _check_probs(pi0, "pi0")
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError("counts must be integers with counts * length <= 2**33 - 2")
    return bigram.Params(loop, path, top_k, tau, top_p, smoothing, tpr, fpr, real_fixed, length,
                         truth, start, pi0, counts, subsample_n)


def _bigram_params_of(static, dyn) -> bigram.Params:
    loop, length, subsample_n, _ = static
    return bigram.Params(loop, bigram.SAMPLES, dyn["top_k"], dyn["tau"], dyn["top_p"],
                         dyn["smoothing"], dyn["tpr"], dyn["fpr"], dyn["real_fixed"], length,
                         dyn["truth"], dyn["start"], dyn["pi0"], dyn["counts"], subsample_n)


def advance_bigram(params, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset,
                   records, detectors, first, threads, columns=None):
    """The bigram token model's twin of ``_core.advance_bigram``: arguments as
    in ``advance`` with state [R, bigram.state_size(params)] and params a
    ``bigram.Params``. Compiled once per (loop, length, buffer size, subsample
    size, shapes)."""
    p = _bigram_params(params)
    static = (p.loop, p.length, p.subsample_n, bigram.bound(p))
    model = _family_model(bigram, _bigram_params_of, static)
    dyn = dict(top_k=jnp.int64(p.top_k), tau=jnp.float64(p.tau), top_p=jnp.float64(p.top_p),
               smoothing=jnp.float64(p.smoothing), tpr=jnp.float64(p.tpr), fpr=jnp.float64(p.fpr),
               real_fixed=jnp.float64(p.real_fixed), truth=jnp.asarray(p.truth),
               start=jnp.asarray(p.start), pi0=jnp.asarray(p.pi0), counts=jnp.asarray(p.counts))
    _advance(model, dyn, bigram.state_size(p), bigram.observe_size(p), p.counts.shape[0], state,
             replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records, detectors,
             first, threads, columns)


# --- GaussianMixture ---------------------------------------------------------------------------


def _gmm_params(params) -> gmm.Params:
    """Mirrors the checks of module.cpp's GaussianMixtureParams constructor
    (make_gmm), in its order and with its messages; returns the params with
    numpy arrays (real_fixed = 0 unless the loop is AUGMENT, as there)."""
    if not isinstance(params, gmm.Params):
        raise TypeError(f"params must be a madsim.reference.gmm.Params; got {params!r}")
    p = params
    try:
        k, d, cov_type, loop, iters = (operator.index(p.k), operator.index(p.d),
                                       operator.index(p.cov_type), operator.index(p.loop),
                                       operator.index(p.em_iters))
        tol, floor, tau, tpr, fpr, real_fixed = map(
            float, (p.em_tol, p.cov_floor, p.tau, p.tpr, p.fpr, p.real_fixed))
        subsample_n, pool_cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
    except TypeError:
        raise TypeError(f"params: k, d, cov_type, loop and em_iters must be integers, the rest "
                        f"numbers; got {params!r}") from None
    if k < 1 or k > 256:
        raise ValueError("k must lie in [1, 256]")
    if d < 1 or d > 64:
        raise ValueError("d must lie in [1, 64]")
    if cov_type not in (gmm.FULL, gmm.DIAG, gmm.SPHERICAL):
        raise ValueError("cov_type must be 0 (full), 1 (diag) or 2 (spherical)")
    if loop not in (gmm.REPLACE, gmm.AUGMENT, gmm.FRESH, gmm.ACCUMULATE, gmm.SUBSAMPLE):
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if loop == gmm.SUBSAMPLE:
        if not 1 <= subsample_n <= 0xFFFFFFFF:
            raise ValueError("subsample_n must lie in [1, 2**32 - 1]")
    else:
        subsample_n = 0
    if loop in (gmm.ACCUMULATE, gmm.SUBSAMPLE):
        if not 1 <= pool_cap <= (1 << 36) // (d + 1):
            raise ValueError("pool_cap must lie in [1, 2**36 / (d + 1)] for the accumulating loops")
    else:
        pool_cap = 0
    if iters < 1:
        raise ValueError("em_iters must be >= 1")
    if not (tol >= 0.0 and math.isfinite(tol)):
        raise ValueError("em_tol must be finite and >= 0")
    if not (floor > 0.0 and math.isfinite(floor)):
        raise ValueError("cov_floor must be finite and > 0")
    if not (tau > 0.0 and math.isfinite(tau)):
        raise ValueError("tau must be finite and > 0")
    if not (0.0 <= tpr <= 1.0) or not (0.0 <= fpr <= 1.0):
        raise ValueError("tpr and fpr must lie in [0, 1]")
    if not (0.0 <= real_fixed <= 268435456.0 and real_fixed == math.floor(real_fixed)):
        raise ValueError("real_fixed must be an integer in [0, 2**28]")
    if loop != gmm.AUGMENT:
        real_fixed = 0.0
    T = d * (d + 1) // 2
    truth = np.array(_as_c_array(p.truth, "truth", (k * (1 + d + T),)), np.float64)
    tails = np.array(_as_c_array(p.tails, "tails", (2 * d,)), np.float64)
    counts = np.array(_as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all(np.isfinite(truth)):
        raise ValueError("truth must be finite")
    if not np.all((truth[:k] >= 0.0) & (truth[:k] <= 1.0)):
        raise ValueError("truth: weights must lie in [0, 1]")
    if not abs(_seq_sum(truth[:k]) - 1.0) <= 1e-9:
        raise ValueError("truth: weights must sum to 1")
    piv = truth[k * (1 + d):].reshape(k, T)[:, [i * (i + 1) // 2 + i for i in range(d)]]
    if not np.all((piv > 0.0) & (piv * piv >= floor)):
        raise ValueError("truth: every Cholesky pivot^2 must be >= cov_floor")
    if not np.all(np.isfinite(tails)):
        raise ValueError("tails must be finite")
    if not np.all((counts >= 0.0) & (counts == np.floor(counts))):
        raise ValueError("counts must be integers >= 0")
    real = {gmm.AUGMENT: np.full(counts.shape[0], real_fixed), gmm.FRESH: counts[:, 0]}.get(
        loop, np.zeros(counts.shape[0]))
    n_max = {gmm.ACCUMULATE: float(pool_cap), gmm.SUBSAMPLE: float(subsample_n)}.get(
        loop, float(np.max(real + counts[:, 1], initial=0.0)))
    if n_max * (d + k) > 268435456.0:
        raise ValueError("a fit's points need more than 2**28 doubles of scratch per thread "
                         "(most points x (d + k); Accumulate: the whole pool); use fewer points "
                         "per generation (or AccumulateSubsample)")
    return gmm.Params(k, d, cov_type, loop, iters, tol, floor, tau, tpr, fpr, int(real_fixed),
                      truth, tails, counts, subsample_n, pool_cap)


def _gmm_params_of(static, dyn) -> gmm.Params:
    k, d, loop, real_fixed, subsample_n, pool_cap, _ = static
    return gmm.Params(k, d, dyn["cov_type"], loop, dyn["em_iters"], dyn["em_tol"], dyn["cov_floor"],
                      dyn["tau"], dyn["tpr"], dyn["fpr"], real_fixed, dyn["truth"], dyn["tails"],
                      dyn["counts"], subsample_n, pool_cap)


def advance_gmm(params, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset,
                records, detectors, first, threads, columns=None):
    """The Gaussian mixture's twin of ``_core.advance_gmm``: arguments as in
    ``advance`` with state [R, gmm.state_size(params)] and params a
    ``gmm.Params``. Compiled once per (k, d, loop, real_fixed, subsample_n, pool_cap, point buffers,
    shapes); the covariance type, EM cap, tolerance, floor and knobs are traced."""
    p = _gmm_params(params)
    static = (p.k, p.d, p.loop, p.real_fixed, p.subsample_n, p.pool_cap, gmm.bounds(p))
    model = _family_model(gmm, _gmm_params_of, static)
    dyn = dict(cov_type=jnp.int32(p.cov_type), em_iters=jnp.int64(p.em_iters), em_tol=jnp.float64(p.em_tol),
               cov_floor=jnp.float64(p.cov_floor), tau=jnp.float64(p.tau), tpr=jnp.float64(p.tpr),
               fpr=jnp.float64(p.fpr), truth=jnp.asarray(p.truth), tails=jnp.asarray(p.tails),
               counts=jnp.asarray(p.counts))
    _advance(model, dyn, gmm.state_size(p), gmm.observe_size(p), p.counts.shape[0], state,
             replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records, detectors,
             first, threads, columns)


# --- Regression --------------------------------------------------------------------------------


def _reg_params(params) -> regression.Params:
    """Mirrors the checks of module.cpp's RegressionParams constructor
    (make_regression), in its order and with its messages; returns the params
    with numpy arrays."""
    if not isinstance(params, regression.Params):
        raise TypeError(f"params must be a madsim.reference.regression.Params; got {params!r}")
    p = params
    try:
        d, loop, path, design, est, refit = (operator.index(p.d), operator.index(p.loop),
                                             operator.index(p.path), operator.index(p.design),
                                             operator.index(p.estimator),
                                             operator.index(p.refit_noise))
        ridge, tpr, fpr, real_fixed, fixed_real, fixed_syn = map(
            float, (p.ridge, p.tpr, p.fpr, p.real_fixed, p.fixed_real, p.fixed_synthetic))
    except TypeError:
        raise TypeError(f"params: d, loop, path, design, estimator and refit_noise must be "
                        f"integers, the rest numbers; got {params!r}") from None
    if d < 1 or d > 256:
        raise ValueError("d must lie in [1, 256]")
    if loop < regression.REPLACE or loop > regression.SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if path not in (regression.EXACT, regression.SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    if design not in (regression.FRESH_DESIGN, regression.FIXED_DESIGN):
        raise ValueError("design must be 0 (fresh) or 1 (fixed)")
    if est not in (regression.MLE, regression.UNBIASED):
        raise ValueError("estimator must be 0 (mle) or 1 (unbiased)")
    if refit not in (0, 1):
        raise ValueError("refit_noise must be 0 or 1")
    if not (ridge >= 0.0 and math.isfinite(ridge)):
        raise ValueError("ridge must be finite and >= 0")
    if not (0.0 <= tpr <= 1.0) or not (0.0 <= fpr <= 1.0):
        raise ValueError("tpr and fpr must lie in [0, 1]")
    sub_n, pool_cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
    if loop == regression.SUBSAMPLE:
        if path != regression.SAMPLES:
            raise ValueError("subsample needs the samples path")
        if sub_n < 1:
            raise ValueError("subsample_n must be >= 1")
        if pool_cap < 0 or pool_cap > (1 << 36) // (d + 2):
            raise ValueError("pool_cap must lie in [0, 2**36 / (d + 2)]")
    else:
        sub_n, pool_cap = 0, 0
    if design == regression.FIXED_DESIGN and (tpr > 0.0 or fpr > 0.0):
        raise ValueError("a fixed design takes no filter (tpr = fpr = 0)")
    samples = path == regression.SAMPLES
    cap = math.floor(8589934590.0 / d) if samples else 1099511627776.0
    cap_msg = ("counts must be integers with counts * d <= 2**33 - 2 on the samples path"
               if samples else "counts must be integers in [0, 2**40]")
    for c in (real_fixed, fixed_real, fixed_syn):
        if not (0.0 <= c <= cap and c == math.floor(c)):
            raise ValueError(cap_msg)
    T = d * (d + 1) // 2
    truth = np.array(_as_c_array(p.truth, "truth", (d + T + 1,)), np.float64)
    counts = np.array(_as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError(cap_msg)
    if design == regression.FIXED_DESIGN and not np.all(counts == [fixed_real, fixed_syn]):
        raise ValueError("a fixed design needs every counts row = (fixed_real, fixed_synthetic)")
    if not np.all(np.isfinite(truth)):
        raise ValueError("truth must be finite")
    if not np.all(truth[d + np.array([i * (i + 1) // 2 + i for i in range(d)])] > 0.0):
        raise ValueError("truth: the Cholesky factor needs a positive diagonal")
    if not truth[d + T] > 0.0:
        raise ValueError("truth: the noise variance must be > 0")
    return regression.Params(d, loop, path, design, est, refit, ridge, tpr, fpr, real_fixed,
                             fixed_real, fixed_syn, truth, counts, sub_n, pool_cap)


def _reg_params_of(static, dyn) -> regression.Params:
    d, loop, path, design, sub_n, pool_cap, _ = static
    return regression.Params(d, loop, path, design, dyn["estimator"], dyn["refit_noise"],
                             dyn["ridge"], dyn["tpr"], dyn["fpr"], dyn["real_fixed"],
                             dyn["fixed_real"], dyn["fixed_synthetic"], dyn["truth"], dyn["counts"],
                             sub_n, pool_cap)


def advance_regression(params, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset,
                       records, detectors, first, threads, columns=None):
    """The regression family's twin of ``_core.advance_regression``: arguments
    as in ``advance`` with state [R, regression.state_size(params)] and params
    a ``regression.Params``. Compiled once per (d, loop, path, design, buffer
    sizes, shapes)."""
    p = _reg_params(params)
    static = (p.d, p.loop, p.path, p.design, p.subsample_n, p.pool_cap, regression.bound(p))
    model = _family_model(regression, _reg_params_of, static)
    dyn = dict(estimator=jnp.int32(p.estimator), refit_noise=jnp.int32(p.refit_noise),
               ridge=jnp.float64(p.ridge), tpr=jnp.float64(p.tpr), fpr=jnp.float64(p.fpr),
               real_fixed=jnp.float64(p.real_fixed), fixed_real=jnp.float64(p.fixed_real),
               fixed_synthetic=jnp.float64(p.fixed_synthetic), truth=jnp.asarray(p.truth),
               counts=jnp.asarray(p.counts))
    _advance(model, dyn, regression.state_size(p), regression.observe_size(p), p.counts.shape[0],
             state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records,
             detectors, first, threads, columns)


# --- Logistic ----------------------------------------------------------------------------------


def _log_params(params) -> logistic.Params:
    """Mirrors the checks of csrc/bindings/logistic.cpp's LogisticParams
    constructor (make_logistic), in its order and with its messages; returns
    the params with numpy arrays (real_fixed 0 unless Augment, subsample_n 0
    unless AccumulateSubsample, pool_cap 0 unless a pooling loop, as there)."""
    if not isinstance(params, logistic.Params):
        raise TypeError(f"params must be a madsim.reference.logistic.Params; got {params!r}")
    p = params
    try:
        d, loop, design, max_iter = (operator.index(p.d), operator.index(p.loop),
                                     operator.index(p.design), operator.index(p.max_iter))
        ridge, tol, real_fixed = float(p.ridge), float(p.tol), float(p.real_fixed)
        sub_n, pool_cap = operator.index(p.subsample_n), operator.index(p.pool_cap)
    except TypeError:
        raise TypeError(f"params: d, loop, design, max_iter, subsample_n and pool_cap must be integers, "
                        f"the rest numbers; got {params!r}") from None
    if d < 1 or d > 256:
        raise ValueError("d must lie in [1, 256]")
    if loop < logistic.REPLACE or loop > logistic.SUBSAMPLE:
        raise ValueError("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)")
    if design not in (logistic.FRESH_DESIGN, logistic.FIXED_DESIGN):
        raise ValueError("design must be 0 (fresh) or 1 (fixed)")
    if max_iter < 1 or max_iter > 10000:
        raise ValueError("max_iter must lie in [1, 10000]")
    if not (ridge >= 0.0 and math.isfinite(ridge)):
        raise ValueError("ridge must be finite and >= 0")
    if not (0.0 < tol < 1.0):
        raise ValueError("tol must lie in (0, 1)")
    cap = math.floor(8589934590.0 / d)
    cap_msg = "counts must be integers with counts * d <= 2**33 - 2"
    if not (0.0 <= real_fixed <= cap and real_fixed == math.floor(real_fixed)):
        raise ValueError(cap_msg)
    if loop != logistic.AUGMENT:
        real_fixed = 0.0
    T = d * (d + 1) // 2
    truth = np.array(_as_c_array(p.truth, "truth", (d + 2 * T,)), np.float64)
    counts = np.array(_as_c_array(p.counts, "counts", (-1, 2)), np.float64)
    if not np.all((counts >= 0.0) & (counts <= cap) & (counts == np.floor(counts))):
        raise ValueError(cap_msg)
    if design == logistic.FIXED_DESIGN and counts.shape[0] > 1 and not np.all(counts == counts[0]):
        raise ValueError("a fixed design needs the same counts row every generation")
    if loop == logistic.AUGMENT and counts.shape[0] and counts[:, 1].max() + real_fixed > cap:
        raise ValueError(cap_msg)
    if loop == logistic.FRESH and counts.shape[0] and counts.sum(axis=1).max() > cap:
        raise ValueError(cap_msg)
    if loop in (logistic.ACCUMULATE, logistic.SUBSAMPLE):
        if loop == logistic.SUBSAMPLE and sub_n < 1:
            raise ValueError("subsample_n must be >= 1")
        if pool_cap < 0 or pool_cap > (1 << 36) // (d + 2):
            raise ValueError("pool_cap must lie in [0, 2**36 / (d + 2)]")
    else:
        pool_cap = 0
    if loop != logistic.SUBSAMPLE:
        sub_n = 0
    if not np.all(np.isfinite(truth)):
        raise ValueError("truth must be finite")
    if not np.all(truth[d + np.array([i * (i + 1) // 2 + i for i in range(d)])] > 0.0):
        raise ValueError("truth: the Cholesky factor needs a positive diagonal")
    return logistic.Params(d, loop, design, max_iter, ridge, tol, int(real_fixed), truth, counts,
                           sub_n, pool_cap)


def _log_params_of(static, dyn) -> logistic.Params:
    d, loop, design, real_fixed, sub_n, pool_cap, _ = static
    return logistic.Params(d, loop, design, dyn["max_iter"], dyn["ridge"], dyn["tol"], real_fixed,
                           dyn["truth"], dyn["counts"], sub_n, pool_cap)


def advance_logistic(params, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset,
                     records, detectors, first, threads, columns=None):
    """The logistic family's twin of ``_core.advance_logistic``: arguments as
    in ``advance`` with state [R, logistic.state_size(params)] and params a
    ``logistic.Params``. Compiled once per (d, loop, design, fixed set, pool,
    buffer sizes, shapes)."""
    p = _log_params(params)
    static = (p.d, p.loop, p.design, p.real_fixed, p.subsample_n, p.pool_cap, logistic.bound(p))
    model = _family_model(logistic, _log_params_of, static)
    dyn = dict(max_iter=jnp.int64(p.max_iter), ridge=jnp.float64(p.ridge), tol=jnp.float64(p.tol),
               truth=jnp.asarray(p.truth), counts=jnp.asarray(p.counts))
    _advance(model, dyn, logistic.state_size(p), logistic.observe_size(p), p.counts.shape[0],
             state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records,
             detectors, first, threads, columns)
