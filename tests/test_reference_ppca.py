"""The JAX reference PPCA (madsim.reference.ppca inside gaussian_loop, factors
= q) against the C++ kernel (GaussianLoop with factors = q,
csrc/madsim/ppca.hpp).

One generation from the same state in both, configurations drawn by
hypothesis (tests/strategies.py: every loop x estimator x path x knob,
state and truth scales over six decades), (d, q) in a few buckets (one
compiled reference program each): every field the d-dim Gaussian's test
compares (tests/test_reference_gaussian_loop.py, same tolerances) and the
PPCA columns. A 20-generation trajectory per loop through simulate() on
both backends; a check that the comparison catches tau * (1 + 1e-9).

Tolerances. The projection keeps the fit's top q eigenvectors; a
perturbation of size eps |S| of the fit S moves them by up to
eps |S| / (l_q - l_{q+1}) (Davis-Kahan), so every float field's error is
compared in units of its Gaussian tolerance times the gap factor
g = l_1 / (l_q - l_{q+1}) of the fit being projected (read off the
factors = 0 kernel on the same stream: the same fit, unprojected).
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import madsim as ms
import madsim.reference as ref
from madsim._backend import core
from madsim.reference import backend
from madsim.reference import gaussian_loop as gl

import strategies as S
from test_reference_gaussian_loop import TOLERANCES, _case, _unpack, step_errors

# (d, q) buckets: one reference compile (~15 s) per bucket and path, so CI
# runs (3, 2) and the slow suite the others.
BUCKETS = ((3, 2), pytest.param(2, 1, marks=pytest.mark.slow), pytest.param(5, 2, marks=pytest.mark.slow))
# PPCA columns in units of g: factor_var and noise_var are eigenvalues of the
# projected C (|d lambda| <= |dC|): scale l_1, MOMENT_TOL. subspace_sin2 and
# max_angle move with the eigenvectors: absolute, observed <= 2e-15 g over
# 600 random steps; 1e-12 leaves > 100x.
EIG_TOL = TOLERANCES["moment"]
ANGLE_TOL = 1e-12


def _basis(case, q):
    L0 = _unpack(np.asarray(case.truth)[case.d :], case.d)
    w, V = np.linalg.eigh(L0 @ L0.T)
    return np.ascontiguousarray(V[:, ::-1][:, :q])


def kernel_step(case, q, tau_factor=1.0):
    """core.advance_gaussian_loop over generation t alone (factors = q; q = 0:
    the Gaussian on the same stream): (rows [R, S], observe [R, O])."""
    p = core.GaussianLoopParams(
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
        factors=q,
        basis=_basis(case, q) if q else None,
    )
    R = len(case.replica_ids)
    state = np.tile(np.array(case.state), (R, 1))
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


def _params(d, path, q, arrays):
    (loop, estimator, tau, trunc, weight, tpr, fpr, real_fixed, sub_n, truth, counts, basis) = arrays
    cap = S.LOOP_POOL_CAP if path == gl.SAMPLES else 0
    return gl.Params(
        d,
        loop,
        estimator,
        path,
        tau,
        trunc,
        weight,
        tpr,
        fpr,
        real_fixed,
        sub_n,
        cap,
        truth,
        counts,
        q,
        basis,
    )


@functools.partial(backend.jit, static_argnames=("d", "path", "q"))
def _reference_step_batch(state, ids, key, t, arrays, *, d, path, q):
    p = _params(d, path, q, arrays)
    nmax = gl.Bounds(*S.LOOP_BOUNDS) if path == gl.SAMPLES else gl.Bounds(0, 0, 0)
    return jax.vmap(lambda row, r: (lambda new: (new, gl.observe(p, new)))(gl.step(p, row, key, r, t, nmax)))(
        state, ids
    )


def reference_step(case, q, tau_factor=1.0):
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
        _basis(case, q),
    )
    arrays = tuple(np.asarray(a, np.float64) if isinstance(a, float) else a for a in arrays)
    p = _params(case.d, case.path, q, arrays)
    width = gl.row_size(p._replace(loop=jax.numpy.int32(case.loop)))
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
        q=q,
    )
    rows = np.asarray(rows)
    assert not np.any(rows[:, S_k:]), "reference wrote past the loop's layout"
    return rows[:, :S_k], np.asarray(obs)


def _gap(case, q):
    """g = l_1 / (l_q - l_{q+1}) per replica, of the fit before projection."""
    _, obs = kernel_step(case, 0)
    d = case.d
    C = _unpack(obs[:, d : d + d * (d + 1) // 2], d)
    C = C + np.tril(C, -1).swapaxes(-1, -2)
    w = np.linalg.eigvalsh(C)[:, ::-1]
    with np.errstate(divide="ignore"):
        return np.maximum(1.0, w[:, 0] / (w[:, q - 1] - w[:, q])), w[:, 0]


def ppca_errors(case, q, kern, refe):
    """field -> per-replica error in units of its tolerance; integer fields:
    the number of differing entries (tolerance 0)."""
    g, _ = _gap(case, q)
    out = {}
    for name, (kind, e) in step_errors(case, kern, refe).items():
        out[name] = e if kind == "int" else e / (TOLERANCES[kind] * g)
    k, r = kern[1], refe[1]
    at = k.shape[1] - (q + 3)
    l1 = np.max(np.abs(k[:, at : at + q]), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = lambda c: np.abs(k[:, c] - r[:, c]) / (EIG_TOL * g * l1)  # noqa: E731
        out["obs.factor_var"] = np.max(np.stack([rel(at + j) for j in range(q)]), axis=0)
        out["obs.noise_var"] = rel(at + q)
    delta = ANGLE_TOL * g  # absolute tolerance of a sin^2 (subspace_sin2)
    out["obs.subspace_sin2"] = np.abs(k[:, at + q + 1] - r[:, at + q + 1]) / delta
    # max_angle = asin(sqrt(s)), s the largest sin^2: an error delta in s moves
    # sqrt(s) by delta / (2 sqrt(s)), at most sqrt(delta) as s -> 0 (a model
    # equal to the truth, e.g. a generation whose every fit was skipped: the
    # angle is ~1e-8 of rounding, not 0, and its error is sqrt-conditioned;
    # seen 5.7 x 1e-12 g with random hypothesis seeds)
    # seen 5.7 x 1e-12 g with random hypothesis seeds); asin itself is
    # sqrt-conditioned the same way at 1 (theta -> pi/2)
    theta = np.abs(k[:, at + q + 2])
    with np.errstate(divide="ignore"):
        near0 = np.minimum(np.sqrt(delta), delta / (2.0 * np.sin(theta)))
        near_right = np.minimum(np.sqrt(2.0 * delta), delta / np.cos(theta))
    out["obs.max_angle"] = np.abs(k[:, at + q + 2] - r[:, at + q + 2]) / (delta + near0 + near_right)
    return {n: np.nan_to_num(e, nan=np.inf) for n, e in out.items()}


def worst(errors) -> float:
    return max(float(np.max(e)) for e in errors.values())


def assert_step_agrees(case, q):
    kern, refe = kernel_step(case, q), reference_step(case, q)
    for name, err in ppca_errors(case, q, kern, refe).items():
        for i in np.nonzero(~(err <= 1.0))[0]:  # ints: 0 differing entries pass, 1 fails
            raise AssertionError(
                f"{name}: error {err[i]:.3g} (in tolerances; integers: entries that differ) at "
                f"seed={case.seed} replica={case.replica_ids[i]} generation={case.t} q={q} "
                f"({case.describe()})"
            )


@pytest.mark.parametrize("d, q", BUCKETS)
@pytest.mark.parametrize("path", [gl.EXACT, gl.SAMPLES], ids=["exact", "samples"])
@given(data=st.data())
def test_step_matches_kernel(path, d, q, data):
    assert_step_agrees(data.draw(S.gaussian_loop_cases(d=d, path=path), label="case"), q)


@pytest.mark.parametrize("d, q", BUCKETS)
@pytest.mark.parametrize("path", [gl.EXACT, gl.SAMPLES], ids=["exact", "samples"])
def test_step_every_loop_estimator_and_weighting(path, d, q):
    """Every loop x estimator x (pooled, weighted), filter and (samples)
    truncation on."""
    loops = [gl.REPLACE, gl.AUGMENT, gl.FRESH, gl.ACCUMULATE] + ([gl.SUBSAMPLE] if path else [])
    for loop in loops:
        for estimator in (gl.MLE, gl.UNBIASED):
            for weight in (-1.0, 0.4):
                assert_step_agrees(_case(d, loop, estimator, path, weight=weight), q)


@pytest.mark.parametrize("path", [gl.EXACT, gl.SAMPLES], ids=["exact", "samples"])
def test_step_comparison_detects_tau_perturbed_by_1e_9(path):
    case = _case(3, gl.FRESH, gl.MLE, path)
    kern = kernel_step(case, 2)
    assert worst(ppca_errors(case, 2, kern, reference_step(case, 2))) <= 1.0
    assert worst(ppca_errors(case, 2, kern, reference_step(case, 2, tau_factor=1.0 + 1e-9))) > 100.0


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["replace", "fresh", "accumulate", "subsample"])
def test_trajectory_matches_the_jax_backend(loop):
    """20 generations (init included) through simulate on both backends
    (slow: ~25 s of jit per path)."""
    loops = {
        "replace": ms.Replace(n=9),
        "fresh": ms.Fresh(real=3, synthetic=6),
        "accumulate": ms.Accumulate(synthetic=4, real=1),
        "subsample": ms.AccumulateSubsample(n=7, synthetic=4, real=1),
    }
    fam = ms.PPCA(dim=3, factors=1, spectrum=[3.0], noise=0.4, mean=[0.5, -1.0, 2.0])
    cfg = ms.Config(
        family=fam,
        loop=loops[loop],
        path="samples" if loop == "subsample" else "exact",
        filter=ms.Filter(tpr=0.2, fpr=0.1),
    )
    run = dict(replicas=6, generations=20, seed=9, progress=False, record=ms.every(5))
    a = ms.simulate(cfg, **run, metrics="all")
    b = ms.simulate(cfg, backend="jax", **run, metrics="all")
    for v in ("points_real", "points_synthetic", "skipped"):
        assert np.array_equal(a[v].values, b[v].values), v
    scale = np.abs(a["cov"].values).max(axis=(-2, -1), keepdims=True)
    assert np.max(np.abs(a["cov"].values - b["cov"].values) / scale) < 1e-10
    l1 = a["factor_var"].values[..., :1]
    assert np.max(np.abs(a["factor_var"].values - b["factor_var"].values) / l1) < 1e-10
    assert np.max(np.abs(a["noise_var"].values - b["noise_var"].values) / l1[..., 0]) < 1e-10
    for v in ("subspace_sin2", "max_angle"):
        assert np.max(np.abs(a[v].values - b[v].values)) < 1e-9, v
