"""The JAX reference GaussianLoop (madsim.reference.gaussian_loop / .backend)
against the C++ kernel (madsim._core.advance_gaussian_loop).

One generation from the same state in both, for every loop x estimator x
path x knob (temperature, truncation, weight, filter) and d in 1, 2, 3, 5:
every field of the state row and of the observe row (the metrics against
the truth included: tests/metric_tolerances.py) compared, integers exactly,
floats within the named tolerances below; a 20-generation
trajectory per loop through both launchers (init at generation 0 included);
the reference's params checks side by side with the kernel's; and a check
that the comparison is sharp enough to catch tau * (1 + 1e-9).

The reference runs with the loop, estimator and every knob traced, so one
compiled program per (d, path) serves every example (tests/strategies.py).
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import madsim.reference as ref
from madsim._backend import core
from madsim.reference import backend
from madsim.reference import gaussian_loop as gl

import strategies as S
from metric_tolerances import NAMES_1D, NAMES_ND, metric_errors

# --- tolerances ----------------------------------------------------------------------------
#
# Floats are compared as |kernel - reference| / scale, the scale named per
# field. None is zero: XLA's log / sin / cos / exp are not libm's (normals
# and chi-squares differ in the last bits), XLA sums points and inner
# products in its own order (tree reductions, dot products) where the C++
# runs sequential loops, and it may fuse multiply-adds (the C++ is built with
# -ffp-contract=off).
#
# Observed maxima below: 2000 random steps (tests/strategies.py,
# 250 per (d, path)); each tolerance leaves ~50x.
#
# Means (model mean, pooled means, pool points): scale = the data's
# magnitude, max over the sources of a generation (model t-1, the truth, the
# loop's stored sets) of |mean|_inf + spread (sqrt of the largest variance,
# times tau for the model). A mean is a sum of those with weights <= 1.
# Observed <= 3.3e-16.
MEAN_TOL = 2e-14
# Second moments (Sigma = L L', the stored scatters, trace): scale = the
# field's largest entry in the kernel's value. Scatters are reduced in
# standard coordinates, so no mean / spread cancellation reaches them, except
# through Chan's pooling term (the parts' mean difference is absolutely
# accurate to ~eps |mean|; the cases keep means within ~300 truth spreads).
# Observed <= 1.7e-15.
MOMENT_TOL = 1e-13
# The Cholesky factor L: scale = its largest entry times cond(Sigma) (a
# perturbation of Sigma reaches the factor amplified by up to the condition
# number; near-singular fits from d + 1 points are common here). Observed
# <= 4.5e-16.
FACTOR_TOL = 3e-14
# logdet = 2 sum ln L_ii: scale = d cond(Sigma) (|d logdet| <= d cond
# |dSigma| / |Sigma|), cond >= 1. Observed <= 1.8e-15.
LOGDET_TOL = 1e-13
# mean_sq = |mu - mu0|^2: scale = the data magnitude squared. Observed <= 5e-16.
MEAN_SQ_TOL = 3e-14
# The metrics against the truth: errors come from metric_errors already in
# units of their own tolerances (tests/metric_tolerances.py), hence 1.
TOLERANCES = {
    "mean": MEAN_TOL,
    "moment": MOMENT_TOL,
    "factor": FACTOR_TOL,
    "logdet": LOGDET_TOL,
    "mean_sq": MEAN_SQ_TOL,
    "metric": 1.0,
}


# --- the two implementations of one generation ---------------------------------------------


def kernel_params(case: S.GaussianLoopCase, tau_factor: float = 1.0):
    return core.GaussianLoopParams(
        d=case.d,
        loop=case.loop,
        estimator=case.estimator,
        path=case.path,
        tau=case.tau * tau_factor,
        trunc=case.trunc,
        weight=case.weight,
        tpr=case.tpr,
        fpr=case.fpr,
        real_fixed=case.real_fixed,
        subsample_n=case.subsample_n,
        pool_cap=case.pool_cap,
        truth=np.array(case.truth),
        counts=np.array(case.counts),
    )


def kernel_step(case: S.GaussianLoopCase, tau_factor: float = 1.0):
    """core.advance_gaussian_loop over generation t alone: (rows [R, S], observe [R, O])."""
    p = kernel_params(case, tau_factor)
    R = len(case.replica_ids)
    state = np.tile(np.array(case.state), (R, 1))
    assert state.shape[1] == p.state_size
    records = np.full((R, 1, p.observe_size), np.nan)
    core.advance_gaussian_loop(
        p,
        state,
        np.array(case.replica_ids, np.uint32),
        case.seed,
        case.t - 1,
        case.t,
        np.array([case.t], np.uint32),
        0,
        records,
        np.zeros((0, 3)),
        np.zeros((R, 0), np.int64),
        1,
    )
    return state, records[:, 0]


def _union_params(d, path, arrays):
    """The reference params of the (d, path) program: loop and knobs traced."""
    (loop, estimator, tau, trunc, weight, tpr, fpr, real_fixed, sub_n, truth, counts) = arrays
    cap = S.LOOP_POOL_CAP if path == gl.SAMPLES else 0
    return gl.Params(
        d, loop, estimator, path, tau, trunc, weight, tpr, fpr, real_fixed, sub_n, cap, truth, counts
    )


@functools.partial(backend.jit, static_argnames=("d", "path"))
def _reference_step_batch(state, ids, key, t, arrays, *, d, path):
    p = _union_params(d, path, arrays)
    nmax = gl.Bounds(*S.LOOP_BOUNDS) if path == gl.SAMPLES else gl.Bounds(0, 0, 0)

    def one(row, r):
        new = gl.step(p, row, key, r, t, nmax)
        return new, gl.observe(p, new)

    return jax.vmap(one)(state, ids)


def reference_step(case: S.GaussianLoopCase, tau_factor: float = 1.0):
    """gaussian_loop.step + observe on every replica: (rows [R, S], observe [R, O])."""
    R = len(case.replica_ids)
    arrays = (
        np.int32(case.loop),
        np.int32(case.estimator),
        case.tau * tau_factor,
        case.trunc,
        case.weight,
        case.tpr,
        case.fpr,
        case.real_fixed,
        np.int64(case.subsample_n),
        np.array(case.truth),
        np.array(case.counts),
    )
    arrays = tuple(np.asarray(a, np.float64) if isinstance(a, float) else a for a in arrays)
    p = _union_params(case.d, case.path, arrays)
    width = gl.row_size(p._replace(loop=jax.numpy.int32(case.loop)))  # the traced loop's row
    S_k = len(case.state)
    state = np.zeros((R, width))
    state[:, :S_k] = case.state
    rows, obs = _reference_step_batch(
        state,
        np.array(case.replica_ids, np.uint32),
        ref.seed_key(case.seed),
        np.uint32(case.t),
        arrays,
        d=case.d,
        path=case.path,
    )
    rows = np.asarray(rows)
    # The padding past the kernel's layout is another loop's slot: zero in, zero out.
    assert not np.any(rows[:, S_k:]), "reference wrote past the loop's layout"
    return rows[:, :S_k], np.asarray(obs)


# --- fields and their errors ---------------------------------------------------------------


def _fields(case: S.GaussianLoopCase):
    """name -> (kind, source, index array) over the state row ('state') and the
    observe row ('obs'). kind: 'int' (exact), 'mean', 'moment', 'logdet',
    'mean_sq', 'metric' (tests/metric_tolerances.py)."""
    d, T = case.d, case.d * (case.d + 1) // 2
    head, lat, ms = d + T, d + T + 3, 1 + d + T
    ar = np.arange
    f = {
        "state.mu": ("mean", "state", ar(d)),
        "state.L": ("factor", "state", ar(d, head)),
        "state.points_real": ("int", "state", [head]),
        "state.points_synthetic": ("int", "state", [head + 1]),
        "state.skipped": ("int", "state", [head + 2]),
    }
    if case.loop == gl.AUGMENT:
        f.update(
            {
                "state.fixed.count": ("int", "state", [lat]),
                "state.fixed.mean": ("mean", "state", ar(lat + 1, lat + 1 + d)),
                "state.fixed.scatter": ("moment", "state", ar(lat + 1 + d, lat + ms)),
            }
        )
    elif case.loop == gl.ACCUMULATE:
        f.update(
            {
                "state.pool.real": ("int", "state", [lat]),
                "state.pool.synthetic": ("int", "state", [lat + 1]),
                "state.pool.count": ("int", "state", [lat + 2]),
                "state.pool.mean": ("mean", "state", ar(lat + 3, lat + 3 + d)),
                "state.pool.scatter": ("moment", "state", ar(lat + 3 + d, lat + 2 + ms)),
            }
        )
    elif case.loop == gl.SUBSAMPLE:
        pts = lat + 1 + ar(case.pool_cap * (d + 1)).reshape(case.pool_cap, d + 1)
        f.update(
            {
                "state.pool.size": ("int", "state", [lat]),
                "state.pool.x": ("mean", "state", pts[:, :d].ravel()),
                "state.pool.is_real": ("int", "state", pts[:, d]),
            }
        )
    f.update(
        {
            "obs.mu": ("mean", "obs", ar(d)),
            "obs.sigma": ("moment", "obs", ar(d, head)),
            "obs.trace": ("moment", "obs", [head]),
            "obs.logdet": ("logdet", "obs", [head + 1]),
            "obs.mean_sq": ("mean_sq", "obs", [head + 2]),
            "obs.points_real": ("int", "obs", [head + 3]),
            "obs.points_synthetic": ("int", "obs", [head + 4]),
            "obs.skipped": ("int", "obs", [head + 5]),
        }
    )
    for j, name in enumerate(NAMES_1D if d == 1 else NAMES_ND):
        f["obs." + name] = ("metric", "obs", [head + 6 + j])
    return f


def _sym(packed, d):
    """Packed lower [..., T] -> dense symmetric [..., d, d]."""
    low = _unpack(packed, d)
    return low + np.tril(low, -1).swapaxes(-1, -2)


def _metric_errors(d, truth, k_obs, r_obs, xs):
    """obs.<metric> -> error / tolerance (metric_errors on the kernel's moments)."""
    head = d + d * (d + 1) // 2
    L0 = _unpack(np.asarray(truth)[d:], d)
    n = len(NAMES_1D if d == 1 else NAMES_ND)
    errs = metric_errors(
        k_obs[..., head + 6 : head + 6 + n],
        r_obs[..., head + 6 : head + 6 + n],
        k_obs[..., :d],
        _sym(k_obs[..., d:head], d),
        np.asarray(truth)[:d],
        L0 @ L0.T,
        xs,
    )
    return {"obs." + name: e for name, e in errs.items()}


def _unpack(packed, d):
    M = np.zeros(packed.shape[:-1] + (d, d))
    rows, cols = np.tril_indices(d)
    M[..., rows, cols] = packed
    return M


def data_scale(case: S.GaussianLoopCase) -> float:
    """The magnitude of a generation's data: max over its sources of |mean|_inf + spread."""
    d, T = case.d, case.d * (case.d + 1) // 2
    s = np.array(case.state)
    truth = np.array(case.truth)

    def size(mean, factor, spread=1.0):
        F = _unpack(factor, d)
        return np.max(np.abs(mean)) + spread * np.sqrt(np.max(np.sum(F * F, axis=-1)))

    scale = max(size(s[:d], s[d : d + T], case.tau), size(truth[:d], truth[d:]))
    lat = d + T + 3
    if case.loop in (gl.AUGMENT, gl.ACCUMULATE):
        m = s[lat + (2 if case.loop == gl.ACCUMULATE else 0) :]
        if m[0] > 0:
            sc = np.diag(_unpack(m[1 + d : 1 + d + T], d)) / m[0]
            scale = max(scale, np.max(np.abs(m[1 : 1 + d])) + np.sqrt(np.max(sc)))
    elif case.loop == gl.SUBSAMPLE and s[lat] > 0:
        pts = s[lat + 1 :].reshape(case.pool_cap, d + 1)[: int(s[lat]), :d]
        scale = max(scale, np.max(np.abs(pts)))
    return float(scale)


def _cond(obs, d):
    """cond(Sigma) per replica (>= 1; inf when singular)."""
    sig = _unpack(obs[:, d : d + d * (d + 1) // 2], d)
    sig = sig + np.tril(sig, -1).swapaxes(-1, -2)
    w = np.linalg.eigvalsh(sig)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.maximum(1.0, np.where(w[:, 0] > 0, w[:, -1] / w[:, 0], np.inf))


def step_errors(case, kern, refe):
    """field -> (kind, per-replica error in the units of TOLERANCES, or the
    number of differing entries for kind 'int')."""
    out = {}
    xs = data_scale(case)
    cond = _cond(kern[1], case.d)
    metrics = _metric_errors(case.d, case.truth, kern[1], refe[1], xs)
    for name, (kind, src, idx) in _fields(case).items():
        if kind == "metric":
            out[name] = (kind, metrics[name])
            continue
        k = (kern[0] if src == "state" else kern[1])[:, idx]
        r = (refe[0] if src == "state" else refe[1])[:, idx]
        if kind == "int":
            out[name] = (kind, np.sum(~((k == r) | (np.isnan(k) & np.isnan(r))), axis=1))
            continue
        with np.errstate(invalid="ignore"):
            diff = np.where(k == r, 0.0, np.abs(k - r))  # equal infinities: 0
        diff = np.max(np.nan_to_num(diff, nan=np.inf), axis=1)
        if kind == "mean":
            scale = np.full(diff.shape, xs)
        elif kind == "moment":
            scale = np.max(np.abs(k), axis=1)
        elif kind == "factor":
            scale = np.max(np.abs(k), axis=1) * cond
        elif kind == "logdet":
            scale = case.d * cond
        else:
            scale = np.full(diff.shape, xs * xs)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = (kind, np.where(diff == 0, 0.0, np.where(scale > 0, diff / scale, np.inf)))
    return out


def worst_step_error(case, tau_factor: float = 1.0):
    """(max over float fields and replicas of error / tolerance, field, replica
    index, error, integer fields that differ)."""
    errs = step_errors(case, kernel_step(case), reference_step(case, tau_factor))
    floats = {f: e for f, (kind, e) in errs.items() if kind != "int"}
    field = max(floats, key=lambda f: np.max(floats[f]) / TOLERANCES[errs[f][0]])
    r = int(np.argmax(floats[field]))
    ints = [f for f, (kind, e) in errs.items() if kind == "int" and np.any(e)]
    return float(floats[field][r] / TOLERANCES[errs[field][0]]), field, r, float(floats[field][r]), ints


def assert_step_agrees(case: S.GaussianLoopCase):
    kern = kernel_step(case)
    refe = reference_step(case)
    fields = _fields(case)
    for name, (kind, err) in step_errors(case, kern, refe).items():
        _, src, idx = fields[name]
        tol = 0 if kind == "int" else TOLERANCES[kind]
        for r in np.nonzero(~(err <= tol))[0]:
            k = (kern[0] if src == "state" else kern[1])[r, idx]
            v = (refe[0] if src == "state" else refe[1])[r, idx]
            what = (
                f"{int(err[r])} entries differ" if kind == "int" else f"error {err[r]:.3g} > {tol} ({kind})"
            )
            raise AssertionError(
                f"{name}: kernel {k.tolist()} reference {v.tolist()} ({what}) at "
                f"seed={case.seed} replica={case.replica_ids[r]} generation={case.t} "
                f"({case.describe()})"
            )


# --- one generation ------------------------------------------------------------------------


@pytest.mark.parametrize("d", S.LOOP_D_BUCKETS)
@pytest.mark.parametrize("path", [gl.EXACT, gl.SAMPLES], ids=["exact", "samples"])
@given(data=st.data())
def test_step_matches_kernel(path, d, data):
    assert_step_agrees(data.draw(S.gaussian_loop_cases(d=d, path=path), label="case"))


def _case(d, loop, estimator, path, **kw):
    """A deterministic one-step case: every knob on unless overridden."""
    rng = np.random.default_rng(1000 * d + 10 * loop + 2 * estimator + path)
    mu0 = rng.uniform(-2.0, 2.0, d)
    truth = (*mu0, *S._spd_factor(rng, d, 1.5))
    counts = [(0.0 if loop in (gl.REPLACE, gl.AUGMENT) else 9.0, 12.0)] * S.LOOP_ROWS
    head = [*(mu0 + 0.3), *S._spd_factor(rng, d, 0.8), 7.0, 9.0, 1.0]
    tail, real_fixed, sub_n, cap = [], 0.0, 0, 0
    if loop == gl.AUGMENT:
        real_fixed = 11.0
        tail = S._moments(rng, d, 11, mu0, 1.5)
    elif loop == gl.ACCUMULATE:
        tail = [20.0, 30.0, *S._moments(rng, d, 50, mu0, 1.5)]
    elif loop == gl.SUBSAMPLE:
        sub_n, cap = 2 * d + 5, S.LOOP_POOL_CAP
        pts = np.zeros((cap, d + 1))
        pts[:30, :d] = mu0 + rng.standard_normal((30, d))
        pts[:30, d] = np.arange(30) % 3 == 0
        tail = [30.0, *pts.ravel()]
    args = dict(
        d=d,
        loop=loop,
        estimator=estimator,
        path=path,
        tau=0.8,
        trunc=2.5 if path == gl.SAMPLES else 0.0,
        weight=-1.0,
        tpr=0.3,
        fpr=0.2,
        real_fixed=real_fixed,
        subsample_n=sub_n,
        pool_cap=cap,
        truth=tuple(truth),
        counts=tuple(counts),
        seed=0x5EED + d,
        replica_ids=(3, 1, 4, 1_000_000),
        t=5,
        state=tuple(map(float, [*head, *tail])),
    )
    args.update(kw)
    return S.GaussianLoopCase(**args)


@pytest.mark.parametrize("path", [gl.EXACT, gl.SAMPLES], ids=["exact", "samples"])
def test_step_every_loop_estimator_and_weighting(path):
    """Every loop x estimator x (pooled, weighted) at each d, with the filter
    and (samples path) truncation on, whatever the draws above picked."""
    loops = [gl.REPLACE, gl.AUGMENT, gl.FRESH, gl.ACCUMULATE] + ([gl.SUBSAMPLE] if path else [])
    for d in S.LOOP_D_BUCKETS:
        for loop in loops:
            for estimator in (gl.MLE, gl.UNBIASED):
                for weight in (-1.0, 0.4):
                    assert_step_agrees(_case(d, loop, estimator, path, weight=weight))


def test_step_skipped_fits_and_the_singular_exact_factor():
    """Starved generations (fewer than d + 1 points, or a filter that drops
    everything) keep the model and count a skip; the exact path's singular
    Wishart factor (c - 1 < d points) feeds a pooled fit that has enough."""
    for path in (gl.EXACT, gl.SAMPLES):
        for real, syn, tpr in (
            (0.0, 3.0, 0.0),
            (1.0, 40.0, 1.0),
            (2.0, 3.0, 0.0),  # skipped
            (2.0, 5.0, 0.0),
            (3.0, 3.0, 0.0),  # fits on two singular parts
            (0.0, 6.0, 0.0),
            (1.0, 5.0, 0.0),
        ):  # Bartlett at c - 1 = d
            case = _case(5, gl.FRESH, gl.MLE, path, tpr=tpr, fpr=0.0, counts=((real, syn),) * S.LOOP_ROWS)
            assert_step_agrees(case)
            rows, _ = kernel_step(case)
            skipped = real + syn * (tpr < 1.0) < 6
            assert np.all(rows[:, 5 + 15 + 2] == case.state[5 + 15 + 2] + skipped)


def test_step_subsample_pool_full_and_tiny_subsample():
    """A pool with less room than the generation adds (the C++ stops appending
    at pool_cap), and subsample_n from 1 to more than the pool holds."""
    for size in (S.LOOP_POOL_CAP, S.LOOP_POOL_CAP - 3, 0):
        for sub_n in (1, 4, S.LOOP_SUBSAMPLE_MAX):
            d = 2
            rng = np.random.default_rng(size + sub_n)
            pts = np.zeros((S.LOOP_POOL_CAP, d + 1))
            pts[:size, :d] = rng.standard_normal((size, d))
            pts[:size, d] = rng.integers(0, 2, size)
            base = _case(d, gl.SUBSAMPLE, gl.UNBIASED, gl.SAMPLES, subsample_n=sub_n)
            state = (*base.state[: d + 3 + 3], float(size), *pts.ravel())
            assert_step_agrees(
                _case(d, gl.SUBSAMPLE, gl.UNBIASED, gl.SAMPLES, subsample_n=sub_n, state=state)
            )


def test_step_zero_pivots_like_the_kernel():
    """A singular covariance (weight 1 on a fixed set whose scatter has exact
    zero pivots) zeroes the same Cholesky columns in both, bit for bit, with
    a positive pivot after a zeroed one, and logdet -inf in both."""
    d = 3
    scatter = np.array([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 9.0]])  # pivots 2, 0, 3
    base = _case(d, gl.AUGMENT, gl.MLE, gl.EXACT, weight=1.0, tpr=0.0)
    head = list(base.state[: d + 6 + 3])
    fixed = [4.0, 1.0, -2.0, 0.5, *scatter[np.tril_indices(d)]]
    case = _case(d, gl.AUGMENT, gl.MLE, gl.EXACT, weight=1.0, tpr=0.0, state=tuple(head + fixed))
    (k_rows, k_obs), (r_rows, r_obs) = kernel_step(case), reference_step(case)
    L = k_rows[:, d : d + 6]
    assert np.all(L == [1.0, 0.5, 0.0, 0.0, 0.0, 1.5]), L  # scatter / 4, factored
    assert np.array_equal(k_rows, r_rows)
    assert np.all(k_obs[:, d + 6 + 1] == -np.inf) and np.all(r_obs[:, d + 6 + 1] == -np.inf)
    head = d + 6 + 6
    assert np.array_equal(k_obs[:, :head], r_obs[:, :head])
    # the metrics of the singular model: the same infinities, the rest to tolerance
    for name in ("kl_model_truth", "kl_truth_model"):
        j = head + NAMES_ND.index(name)
        assert np.all(k_obs[:, j] == np.inf) and np.all(r_obs[:, j] == np.inf)
    j = head + NAMES_ND.index("logdet_ratio")
    assert np.all(k_obs[:, j] == -np.inf) and np.all(r_obs[:, j] == -np.inf)
    assert_step_agrees(case)


# --- the comparison can fail ----------------------------------------------------------------


@pytest.mark.parametrize("path", [gl.EXACT, gl.SAMPLES], ids=["exact", "samples"])
def test_step_comparison_detects_tau_perturbed_by_1e_9(path):
    """A relative change of 1e-9 in tau (the synthetic part's spread) is far
    outside the tolerances, so the differential test is not vacuous."""
    case = _case(3, gl.FRESH, gl.MLE, path)
    ratio, field, r, err, ints = worst_step_error(case)
    assert ratio <= 1.0 and not ints, (field, err, ints)
    ratio, field, r, err, ints = worst_step_error(case, tau_factor=1.0 + 1e-9)
    assert ratio > 100.0, f"perturbation hidden: {field} replica {r} error {err:.3g}"


# --- trajectories through both launchers ----------------------------------------------------

TRAJ_GENERATIONS = 20
TRAJ_IDS = np.array([0, 1, 7, 1000, 65_536, 2**31, 2**32 - 2, 2**32 - 1], np.uint32)


def _traj_params(name):
    """(params as keyword arguments, truth, counts) of each trajectory. The
    four exact-path loops (d = 3) share one compiled reference program; the
    subsample loop runs the samples path (d = 3, truncated, filtered). The
    shapes match tests/test_simulate_backends.py's d = 3 runs (8 replicas,
    20 generations, 3 detectors), which then compile nothing new."""
    G = TRAJ_GENERATIONS
    t = np.arange(1, G + 1)
    d = 3
    L0 = np.array([[1.5, 0.0, 0.0], [0.4, 0.8, 0.0], [-0.2, 0.3, 0.6]])
    truth = np.concatenate([[0.5, -1.0, 2.0], L0[np.tril_indices(d)]])
    kw = dict(
        d=d,
        path=gl.EXACT,
        tau=1.0,
        trunc=0.0,
        weight=-1.0,
        tpr=0.0,
        fpr=0.0,
        real_fixed=0.0,
        subsample_n=0,
        pool_cap=0,
    )
    if name == "replace":  # a growing schedule, unbiased, tempered
        kw.update(loop=gl.REPLACE, estimator=gl.UNBIASED, tau=0.9)
        counts = np.stack([0 * t, 8 + t % 5], 1)
    elif name == "augment":  # weighted fit; the fixed set screened once at generation 0
        kw.update(loop=gl.AUGMENT, estimator=gl.MLE, real_fixed=9.0, weight=0.6, tpr=0.1, fpr=0.2)
        counts = np.stack([0 * t, 0 * t + 6], 1)
    elif name == "fresh":  # filter on both parts
        kw.update(loop=gl.FRESH, estimator=gl.UNBIASED, tpr=0.3, fpr=0.1, tau=1.1)
        counts = np.stack([0 * t + 4, 0 * t + 8], 1)
    elif name == "accumulate":  # a real point every other generation
        kw.update(loop=gl.ACCUMULATE, estimator=gl.MLE, tau=0.95)
        counts = np.stack([t % 2, 0 * t + 3], 1)
    else:  # subsample: Floyd picks from the pool, sized as kernels.py sizes it
        counts = np.stack([0 * t + 1, 0 * t + 4], 1)
        kw.update(
            loop=gl.SUBSAMPLE,
            estimator=gl.UNBIASED,
            path=gl.SAMPLES,
            trunc=2.0,
            tpr=0.2,
            subsample_n=6,
            pool_cap=int(counts.sum()) + 1,
        )
    return kw, truth, np.ascontiguousarray(counts, np.float64)


def _traj_detectors(d):
    c = d + d * (d + 1) // 2  # trace, logdet, mean_sq columns
    return np.array(
        [
            [c + 1, 1, -1.0],  # logdet <= -1
            [c, 0, 6.0],  # trace >= 6
            [c + 2, 0, 1.0],
        ]
    )  # mean_sq >= 1


def _trajectory_errors(d, k_rec, r_rec, truth):
    """field -> (kind, error [R, G + 1]) over the records of every generation."""
    T = d * (d + 1) // 2
    head = d + T
    sig = _unpack(k_rec[..., d:head], d)
    spread = np.sqrt(np.max(np.diagonal(sig, axis1=-2, axis2=-1), axis=-1))
    size = np.maximum(
        np.max(np.abs(k_rec[..., :d]), axis=-1) + spread,
        np.max(np.abs(truth[:d])) + np.sqrt(np.max(np.sum(_unpack(truth[d:], d) ** 2, -1))),
    )
    xs = np.maximum.accumulate(size, axis=1)
    full = sig + np.tril(sig, -1).swapaxes(-1, -2)
    w = np.linalg.eigvalsh(full)
    cond = np.maximum(1.0, w[..., -1] / w[..., 0])
    # A fit inherits its input's error amplified by the previous factor's
    # conditioning (one-step tests start from exact inputs; here inputs carry
    # the earlier generations' errors): second moments are scaled by the
    # running maximum of cond(Sigma), which collapsing loops drive to 1e8 in
    # 20 generations (observed: replace, 10 seeds: error / that scale
    # <= 1.2e-16, against <= 1.1e-12 unscaled).
    runcond = np.maximum.accumulate(cond, axis=1)
    out = {}
    sigma_scale = np.max(np.abs(k_rec[..., d:head]), axis=-1) * runcond
    specs = {
        "obs.mu": ("mean", np.arange(d), xs),
        "obs.sigma": ("moment", np.arange(d, head), sigma_scale),
        "obs.trace": ("moment", [head], np.abs(k_rec[..., head]) * runcond),
        "obs.logdet": ("logdet", [head + 1], d * cond),
        "obs.mean_sq": ("mean_sq", [head + 2], xs * xs),
        "obs.points_real": ("int", [head + 3], None),
        "obs.points_synthetic": ("int", [head + 4], None),
        "obs.skipped": ("int", [head + 5], None),
    }
    for name, (kind, idx, scale) in specs.items():
        k, r = k_rec[..., idx], r_rec[..., idx]
        if kind == "int":
            out[name] = (kind, np.sum(k != r, axis=-1))
            continue
        diff = np.max(np.where(k == r, 0.0, np.abs(k - r)), axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = (kind, np.where(diff == 0, 0.0, diff / scale))
    # The metrics: their one-step scales (tests/metric_tolerances.py) with the
    # running conditioning, as the second moments above.
    for name, err in _metric_errors(d, truth, k_rec, r_rec, xs * runcond).items():
        out[name] = ("metric", err)
    return out


@pytest.mark.parametrize("name", S.LOOP_NAMES)
def test_trajectory_matches_kernel(name):
    """Generations 0..20 of 8 replicas: the kernel in one call, the reference in
    two chunks (0..7, 7..20) and in one; every generation recorded, three
    detectors. Records within G times the one-step tolerances (errors carry
    from generation to generation), first passages and integers exact, the
    final state rows within the same tolerances (the loop's stored sets
    included), and the reference's chunking invisible (bit for bit)."""
    kw, truth, counts = _traj_params(name)
    d, G, R = kw["d"], TRAJ_GENERATIONS, TRAJ_IDS.size
    seed = 0xDEADBEEF_00C0FFEE
    det = _traj_detectors(d)
    gens = np.arange(G + 1, dtype=np.uint32)
    kp = core.GaussianLoopParams(**kw, truth=truth, counts=counts)
    rp = gl.Params(**kw, truth=truth, counts=counts)
    O, S_k = kp.observe_size, kp.state_size

    def fresh():
        return np.zeros((R, S_k)), np.full((R, G + 1, O), np.nan), np.full((R, 3), -1, np.int64)

    k_state, k_rec, k_first = fresh()
    core.advance_gaussian_loop(kp, k_state, TRAJ_IDS, seed, 0, G, gens, 0, k_rec, det, k_first, 1)
    r_state, r_rec, r_first = fresh()
    gl.advance_gaussian_loop(rp, r_state, TRAJ_IDS, seed, 0, 7, gens[:8], 0, r_rec, det, r_first, 1)
    gl.advance_gaussian_loop(rp, r_state, TRAJ_IDS, seed, 7, G, gens[8:], 8, r_rec, det, r_first, 1)
    o_state, o_rec, o_first = fresh()
    gl.advance_gaussian_loop(rp, o_state, TRAJ_IDS, seed, 0, G, gens, 0, o_rec, det, o_first, 1)
    assert o_state.tobytes() == r_state.tobytes() and o_rec.tobytes() == r_rec.tobytes()
    assert o_first.tolist() == r_first.tolist()

    assert not np.isnan(r_rec).any()
    for field, (kind, err) in _trajectory_errors(d, k_rec, r_rec, truth).items():
        tol = 0 if kind == "int" else G * TOLERANCES[kind]
        bad = np.argwhere(~(err <= tol))
        assert bad.size == 0, (
            f"{field}: error {err[tuple(bad[0])]:.3g} > {tol} at seed={seed} "
            f"replica={TRAJ_IDS[bad[0][0]]} generation={bad[0][1]} ({name}: {kw})"
        )
    assert r_first.tolist() == k_first.tolist(), f"first passage: kernel {k_first} reference {r_first}"
    # The final rows: every field, the loop's stored sets included.
    case = S.GaussianLoopCase(
        **{
            **kw,
            "truth": tuple(truth),
            "counts": tuple(map(tuple, counts)),
            "seed": seed,
            "replica_ids": tuple(TRAJ_IDS.tolist()),
            "t": G,
            "state": tuple(k_state[0]),
        }
    )
    for r in range(R):
        case = S.GaussianLoopCase(**{**case.__dict__, "state": tuple(k_state[r])})
        errs = step_errors(
            case, (k_state[r : r + 1], k_rec[r : r + 1, G]), (r_state[r : r + 1], r_rec[r : r + 1, G])
        )
        for field, (kind, err) in errs.items():
            if field.startswith("obs."):
                continue
            tol = 0 if kind == "int" else G * TOLERANCES[kind]
            assert np.all(err <= tol), (
                f"final {field}: error {float(np.max(err)):.3g} > {tol} at seed={seed} "
                f"replica={TRAJ_IDS[r]} generation={G} ({name})"
            )


# --- params and the advance contract --------------------------------------------------------

GOOD = dict(
    d=2,
    loop=gl.FRESH,
    estimator=0,
    path=gl.SAMPLES,
    tau=1.0,
    trunc=0.0,
    weight=-1.0,
    tpr=0.0,
    fpr=0.0,
    real_fixed=0.0,
    subsample_n=0,
    pool_cap=0,
    truth=np.array([0.0, 0.0, 1.0, 0.0, 1.0]),
    counts=np.full((4, 2), 5.0),
)
BAD_PARAMS = {
    "d 0": dict(d=0),
    "d 257": dict(d=257),
    "loop 5": dict(loop=5),
    "loop -1": dict(loop=-1),
    "estimator 2": dict(estimator=2),
    "path 2": dict(path=2),
    "real_fixed 1.5": dict(real_fixed=1.5),
    "real_fixed 2**41": dict(real_fixed=2.0**41),
    "subsample on the exact path": dict(loop=gl.SUBSAMPLE, path=gl.EXACT, subsample_n=3, pool_cap=9),
    "subsample_n 0": dict(loop=gl.SUBSAMPLE, subsample_n=0, pool_cap=9),
    "pool_cap negative": dict(loop=gl.SUBSAMPLE, subsample_n=3, pool_cap=-1),
    "pool_cap huge": dict(loop=gl.SUBSAMPLE, subsample_n=3, pool_cap=2**36),
    "truth length": dict(truth=np.zeros(4)),
    "truth float32": dict(truth=np.ones(5, np.float32)),
    "counts 1.5": dict(counts=np.full((4, 2), 1.5)),
    "counts negative": dict(counts=-np.ones((4, 2))),
    "counts 3 columns": dict(counts=np.ones((4, 3))),
}


@pytest.mark.parametrize("what", list(BAD_PARAMS))
def test_reference_params_checked_like_the_kernel(what):
    """The reference advance rejects, with the constructor's message, every
    params the kernel's GaussianLoopParams constructor rejects."""
    args = {**GOOD, **BAD_PARAMS[what]}
    with pytest.raises((TypeError, ValueError)) as kern:
        core.GaussianLoopParams(**args)
    R = 2
    with pytest.raises((TypeError, ValueError)) as refe:
        gl.advance_gaussian_loop(
            gl.Params(**args),
            np.zeros((R, 1)),
            np.arange(R, dtype=np.uint32),
            1,
            0,
            1,
            np.array([1], np.uint32),
            0,
            np.zeros((R, 1, 1)),
            np.zeros((0, 3)),
            np.zeros((R, 0), np.int64),
            1,
        )
    assert type(refe.value) is type(kern.value), f"{what}: kernel {kern.value!r}, reference {refe.value!r}"
    assert str(refe.value) == str(kern.value)


@pytest.mark.parametrize("impl", ["kernel", "reference"])
def test_advance_contract_of_the_loop(impl):
    """gen_end past the count table and a state row of the wrong width fail
    alike; gen_begin == gen_end > 0 changes nothing; params of the other kind
    are refused."""
    p = core.GaussianLoopParams(**GOOD) if impl == "kernel" else gl.Params(**GOOD)
    advance = core.advance_gaussian_loop if impl == "kernel" else gl.advance_gaussian_loop
    S_k, O = 2 + 3 + 3, 2 + 3 + 6 + len(NAMES_ND)
    R = 2

    def call(state=None, gen_begin=0, gen_end=4, rec=(4,)):
        st_ = np.ones((R, S_k)) if state is None else state
        advance(
            p,
            st_,
            np.arange(R, dtype=np.uint32),
            1,
            gen_begin,
            gen_end,
            np.array(rec, np.uint32),
            0,
            np.zeros((R, len(rec), O)),
            np.zeros((0, 3)),
            np.zeros((R, 0), np.int64),
            1,
        )
        return st_

    with pytest.raises(ValueError, match="gen_end exceeds the generations the counts schedule covers"):
        call(gen_end=5, rec=())
    with pytest.raises(ValueError, match=f"state: axis 1 has length {S_k + 1}, expected {S_k}"):
        call(state=np.ones((R, S_k + 1)))
    assert call(gen_begin=3, gen_end=3, rec=()).tolist() == np.ones((R, S_k)).tolist()
    with pytest.raises(TypeError):
        other = gl.Params(**GOOD) if impl == "kernel" else core.GaussianLoopParams(**GOOD)
        (core.advance_gaussian_loop if impl == "kernel" else gl.advance_gaussian_loop)(
            other,
            np.ones((R, S_k)),
            np.arange(R, dtype=np.uint32),
            1,
            0,
            1,
            np.array([1], np.uint32),
            0,
            np.zeros((R, 1, O)),
            np.zeros((0, 3)),
            np.zeros((R, 0), np.int64),
            1,
        )
