"""The reference launcher, shared by every family's JAX twin: the twin of
each ``madsim._core.advance_<kernel>`` lives in its family's reference
module (``madsim.reference.<module>.advance_<kernel>``, named by the
family's FamilySpec ``reference``), a family being a ``Model`` run by
``advance_model`` and ``_run_piece``.

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
Results agree with the kernel to the tolerances of the differential tests
(tests/test_reference_*.py), except once a state goes subnormal (XLA
flushes it to zero; see madsim.reference.gaussian).
"""

from __future__ import annotations

import operator
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .philox import seed_key

PIECE = 32  # generations per compiled scan call (fewer when OBS_BUDGET says so)
OBS_BUDGET = 1 << 22  # most float64 observations a piece returns (32 MiB)
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


def c_integer(name, value, bits, signed):
    """An argument that pybind11 converts to a C integer: TypeError when it cannot."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"advance: {name} must be an integer; got {value!r}") from None
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= v <= hi:
        raise TypeError(f"advance: {name} must fit a {'' if signed else 'u'}int{bits}; got {v}")
    return v


def checked(a, name, dtype, shape, writable):
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


class Model(NamedTuple):
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


def pool_sizes(subsample: bool, pooled: bool, subsample_n: int, pool_cap: int, d: int) -> tuple[int, int]:
    """(subsample_n, pool_cap) of a loop that keeps its points (GMM, KDE), checked as their
    C++ Params constructors do: each only where its loop uses it (else 0)."""
    if subsample:
        if not 1 <= subsample_n <= 0xFFFFFFFF:
            raise ValueError("subsample_n must lie in [1, 2**32 - 1]")
    else:
        subsample_n = 0
    if pooled:
        if not 1 <= pool_cap <= (1 << 36) // (d + 1):
            raise ValueError("pool_cap must lie in [1, 2**36 / (d + 1)] for the accumulating loops")
    else:
        pool_cap = 0
    return subsample_n, pool_cap


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
            lambda r: model.init(model.static, dyn, key, r)
        )(ids)
    step_all = lambda s, t: jax.vmap(  # noqa: E731
        lambda row, r: model.step(model.static, dyn, row, key, r, t)
    )(s, ids)
    observe_all = jax.vmap(lambda row: model.observe(model.static, dyn, row))

    def body(carry, x):
        st, fp = carry
        t, ok = x
        branch = jnp.where(ok, jnp.where(t == 0, 1, 2), 0)
        st = lax.switch(branch, (keep, init_all, step_all), st, t)
        obs = observe_all(st)  # [R, O]
        vals = obs[:, metric]  # [R, D]
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


def family_model(module, params_of, static) -> Model:
    """The Model of a family whose reference module has init(p, key,
    replica, bound), step(p, row, key, replica, t, bound) and observe(p,
    row), with params_of(static, dyn) -> its Params and the buffer bound
    last in ``static`` (module and function are hashable: static under jit)."""
    return Model(_family_init, _family_step, _family_observe, (module, params_of, static))


def _columns(columns, O):
    """Mirrors module.cpp::advance_py's columns argument: None (all O, in
    order) or a 1-D int32 array of observe columns in [0, O)."""
    if columns is None:
        return np.arange(O, dtype=np.int64)
    if not isinstance(columns, np.ndarray):
        raise TypeError("columns: expected a numpy.ndarray of int32 or None")
    checked(columns, "columns", np.int32, (-1,), False)
    if np.any((columns < 0) | (columns >= O)):
        raise ValueError(f"columns must be observe() columns in [0, {O})")
    return columns.astype(np.int64)


def advance_model(
    model,
    dyn,
    S,
    O,
    max_gen,
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
    width=None,
):
    """The launcher both families share: module.cpp::advance_py's checks (after
    the family's own: gen_end <= max_gen unless None), then the pieces. The
    model's rows are ``width`` >= S long (zero-padded; S when None)."""
    seed = c_integer("seed", seed, 64, False)
    gen_begin = c_integer("gen_begin", gen_begin, 32, False)
    gen_end = c_integer("gen_end", gen_end, 32, False)
    rec_offset = c_integer("rec_offset", rec_offset, 64, True)
    threads = c_integer("threads", threads, 32, True)
    if max_gen is not None and gen_end > max_gen:
        raise ValueError("gen_end exceeds the generations the counts schedule covers")

    checked(state, "state", np.float64, (-1, S), True)
    R = state.shape[0]
    checked(replica_ids, "replica_ids", np.uint32, (R,), False)
    checked(rec_gens, "rec_gens", np.uint32, (-1,), False)
    cols = _columns(columns, O)
    checked(records, "records", np.float64, (R, -1, cols.size), True)
    checked(detectors, "detectors", np.float64, (-1, 3), False)
    D = detectors.shape[0]
    checked(first, "first", np.int64, (R, D), True)
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

    det = dict(
        metric=jnp.asarray(metric.astype(np.int32)),
        below=jnp.asarray(detectors[:, 1] != 0.0),
        threshold=jnp.asarray(detectors[:, 2]),
    )
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
        st, fp, obs = _run_piece(st, fp, ids, key, jnp.asarray(ts), jnp.asarray(ok), dyn, **det, model=model)
        sel = np.nonzero((pos >= j0) & (pos < j0 + L))[0]
        if sel.size:
            rows = np.asarray(obs)[pos[sel] - j0]  # [len(sel), R, O]
            records[:, rec_offset + sel, :] = np.swapaxes(rows, 0, 1)[..., cols]
        j0 += L
    state[...] = np.asarray(st)[:, :S]
    first[...] = np.asarray(fp)


# --- shared by the families' adapters (madsim.reference.<family>) ----------------------------


def as_c_array(a, name, shape):
    """A py::array argument: array-likes convert (numpy's default dtype), then
    module.cpp::checked's dtype / ndim / extent checks (read-only)."""
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected an array of float64; got {a!r}") from None
    return checked(a, name, np.float64, shape, False)
