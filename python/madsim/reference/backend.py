"""The reference launcher: ``advance`` with exactly the contract of
``madsim._core.advance_gaussian1d``.

Mirrors csrc/bindings/module.cpp::advance_py (argument checks in the same
order with the same exception types, ValueError messages word for word;
where pybind11 cannot convert an argument to its C type this raises its own
TypeError) and
csrc/madsim/driver.hpp::advance_replica (which generations are stepped,
recorded and watched). Generations run as a ``lax.scan`` (in pieces of at
most ``PIECE`` generations, each padded to a power of two so a run of any
length compiles a handful of times), replicas as a ``vmap``. Results are
written back into the caller's numpy arrays, as the C++ does.

``threads`` is checked (>= 1) and ignored: XLA picks its own parallelism.
Results agree with the kernel to the tolerances of
tests/test_reference_gaussian.py, except once a state goes subnormal (XLA
flushes it to zero; see madsim.reference.gaussian).
"""

from __future__ import annotations

import math
import operator
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import gaussian
from .philox import seed_key

PIECE = 256                 # most generations per compiled scan call
OBS_BUDGET = 1 << 22        # most float64 observations a piece returns (32 MiB)
_U32_MAX = 0xFFFFFFFF


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
    """Mirrors module.cpp::checked: dtype, ndim, extents (-1 = any), C order, writability."""
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
    """Mirrors the checks of module.cpp's Gaussian1DParams constructor; accepts a
    reference ``gaussian.Params`` or anything with n, tau, estimator, path (the
    _core struct included)."""
    try:
        n, tau, est, path = params.n, params.tau, params.estimator, params.path
    except AttributeError:
        raise TypeError(
            f"params must have fields n, tau, estimator, path (a madsim.reference.gaussian.Params); "
            f"got {params!r}") from None
    try:
        n, tau = float(n), float(tau)
        est, path = operator.index(est), operator.index(path)
    except TypeError:
        raise TypeError(f"params: n and tau must be numbers, estimator and path integers; "
                        f"got {params!r}") from None
    if not (2.0 <= n <= 4294967296.0 and n == math.floor(n)):
        raise ValueError("n must be an integer in [2, 2**32]")
    if not (tau >= 0.0 and math.isfinite(tau)):
        raise ValueError("tau must be finite and >= 0")
    if est not in (gaussian.MLE, gaussian.UNBIASED):
        raise ValueError("estimator must be 0 (mle) or 1 (unbiased)")
    if path not in (gaussian.EXACT, gaussian.SAMPLES):
        raise ValueError("path must be 0 (exact) or 1 (samples)")
    return gaussian.Params(n, tau, est, path)


def _bucket(k: int) -> int:
    """Smallest power of two >= max(k, 8): scan lengths come in few sizes."""
    return max(8, 1 << max(0, k - 1).bit_length())


@partial(jax.jit, static_argnames=("path", "n_static"))
def _run_piece(state, first, ids, key, ts, valid, n, tau, estimator, metric, below, threshold,
               *, path, n_static):
    """Scans generations ts [L] (t = 0 observes without stepping; valid [L]
    masks the padding) over all replicas. state [R, 2], first [R, D] int64,
    ids [R] uint32, key [2] uint32; detector columns metric [D] int32, below
    [D] bool, threshold [D]. Returns (state, first, obs [L, R, O])."""
    p = gaussian.Params(n if n_static is None else n_static, tau, estimator, path)
    step_all = jax.vmap(lambda s, r, t: gaussian.step(p, s, key, r, t), in_axes=(0, 0, None))
    observe_all = jax.vmap(lambda s: gaussian.observe(p, s))

    def body(carry, x):
        st, fp = carry
        t, ok = x
        st = lax.cond(ok & (t != 0), lambda s: step_all(s, ids, t), lambda s: s, st)
        obs = observe_all(st)                          # [R, O]
        vals = obs[:, metric]                          # [R, D]
        fires = jnp.where(below, vals <= threshold, vals >= threshold)
        fp = jnp.where(ok & (fp < 0) & fires, t.astype(jnp.int64), fp)
        return (st, fp), obs

    (state, first), obs = lax.scan(body, (state, first), (ts, valid))
    return state, first, obs


def advance(params, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records,
            detectors, first, threads):
    """Runs generations gen_begin+1 .. gen_end of every replica, in place.

    state [R, 2] float64 in/out; replica_ids [R] uint32; seed in [0, 2**64);
    rec_gens [n_rec] uint32, ascending, inside (gen_begin, gen_end] (or
    gen_begin itself when it is 0); records [R, K, 2] float64, rows
    rec_offset .. rec_offset + n_rec - 1 written; detectors [D, 3] float64
    rows (metric index, below flag, threshold); first [R, D] int64 in/out,
    -1 = not reached yet; threads >= 1 (ignored).
    Mirrors csrc/bindings/module.cpp::advance_py (advance_gaussian1d).
    """
    p = _params(params)
    seed = _c_integer("seed", seed, 64, False)
    gen_begin = _c_integer("gen_begin", gen_begin, 32, False)
    gen_end = _c_integer("gen_end", gen_end, 32, False)
    rec_offset = _c_integer("rec_offset", rec_offset, 64, True)
    threads = _c_integer("threads", threads, 32, True)

    S, O = gaussian.state_size(p), gaussian.observe_size(p)
    _checked(state, "state", np.float64, (-1, S), True)
    R = state.shape[0]
    _checked(replica_ids, "replica_ids", np.uint32, (R,), False)
    _checked(rec_gens, "rec_gens", np.uint32, (-1,), False)
    _checked(records, "records", np.float64, (R, -1, O), True)
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
    # there), then every stepped generation up to gen_end.
    t0 = 0 if gen_begin == 0 else gen_begin + 1
    looks = gen_end - t0 + 1
    if R == 0 or looks <= 0:
        return

    n_static = int(p.n) if p.path == gaussian.SAMPLES else None
    dyn = dict(n=jnp.float64(p.n), tau=jnp.float64(p.tau), estimator=jnp.int32(p.estimator),
               metric=jnp.asarray(metric.astype(np.int32)),
               below=jnp.asarray(detectors[:, 1] != 0.0),
               threshold=jnp.asarray(detectors[:, 2]))
    key = seed_key(seed)
    ids = jnp.asarray(replica_ids)
    st = jnp.asarray(state)
    fp = jnp.asarray(first)
    piece_max = max(8, min(PIECE, 1 << (max(1, OBS_BUDGET // max(1, R * O)).bit_length() - 1)))
    pos = rg - t0  # look index of each recorded generation
    j0 = 0
    while j0 < looks:
        L = min(piece_max, looks - j0)
        Lp = _bucket(L)
        idx = np.arange(Lp, dtype=np.int64)
        ok = idx < L
        ts = np.where(ok, t0 + j0 + idx, 0).astype(np.uint32)
        st, fp, obs = _run_piece(st, fp, ids, key, jnp.asarray(ts), jnp.asarray(ok), **dyn,
                                 path=p.path, n_static=n_static)
        sel = np.nonzero((pos >= j0) & (pos < j0 + L))[0]
        if sel.size:
            rows = np.asarray(obs)[pos[sel] - j0]             # [len(sel), R, O]
            records[:, rec_offset + sel, :] = np.swapaxes(rows, 0, 1)
        j0 += L
    state[...] = np.asarray(st)
    first[...] = np.asarray(fp)
