"""The JAX reference 1-D Gaussian (madsim.reference.gaussian / .backend)
against the C++ kernel (madsim._core.advance_gaussian1d).

One step from the same state in both, every output field (the metrics
against the truth included: tests/metric_tolerances.py) compared with a
named tolerance (MJX's recipe); a 20-generation trajectory through the two
launchers; the two ``advance`` contracts side by side on malformed input; and
a check that the comparison is sharp enough to catch a tiny perturbation.
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
from madsim.reference import gaussian

import strategies as S
from metric_tolerances import NAMES_1D, metric_errors

# One step, field "mean": |kernel - reference| / (|mu_{t-1}| + tau sigma_{t-1}),
# the size of the two terms of mu_t = mu_{t-1} + tau sigma_{t-1} zbar (so an
# exact cancellation does not blow the ratio up). Not zero: XLA contracts
# multiply-adds into FMAs inside fused kernels (the C++ is built with
# -ffp-contract=off), its exp and log1p are not libm's, and on the samples
# path it sums the n normals in its own (tree) order, not the C++'s
# sequential one. Observed <= 1.5e-15 over 3000 random steps (n <= 100);
# 1e-13 leaves ~70x.
STEP_MEAN_TOL = 1e-13
# One step, field "var": |kernel - reference| / max(var_t, tau^2 var_{t-1}).
# Not zero for the same reasons; on the samples path the scatter
# s2 - s1^2 / n cancels, which multiplies summation-order differences by up
# to s2 / scatter (a few tens for a far-out first normal). Observed <= 1.1e-14
# over 3000 random steps (samples path, n = 100); 1e-12 leaves ~90x.
STEP_VAR_TOL = 1e-12
# The other record fields: logdet = ln var, to the var tolerance in absolute
# terms (|d ln var| = |d var| / var); mean_sq relative to mean_scale^2; the
# metrics against the truth N(MU0, VAR0) in units of their own tolerances
# (metric_errors), hence 1.
STEP_TOLERANCES = {
    "state.mean": STEP_MEAN_TOL,
    "state.var": STEP_VAR_TOL,
    "record.mean": STEP_MEAN_TOL,
    "record.var": STEP_VAR_TOL,
    "record.logdet": STEP_VAR_TOL,
    "record.mean_sq": 2 * STEP_MEAN_TOL,
    **{"record." + m: 1.0 for m in NAMES_1D},
}
MU0, VAR0 = 0.3, 2.0  # the truth the metrics compare with (any; the state need not start there)
# 20 generations: per-step differences add up (var_t's relative error
# accumulates over generations and feeds sigma_t; mean_t's absolute error
# carries over while the scale may shrink), so the trajectory tolerances are
# the step ones times the number of generations: mean relative to the largest
# |mu_k| + tau sigma_k so far, var relative to var_t itself. Observed <= 4.6e-15
# (mean) and 4.2e-14 (var) over 20 seeds x 64 replicas x 6 configurations.
TRAJ_GENERATIONS = 20


# --- the two implementations of one step ---------------------------------------------------


def kernel_step(case: S.GaussianCase):
    """core.advance_gaussian1d over generation t alone: (state [R, 2], records [R, 1, O])."""
    R = len(case.replica_ids)
    state = np.tile(np.array([case.mean, case.var, 0.0]), (R, 1))
    params = core.Gaussian1DParams(float(case.n), case.tau, case.estimator, case.path, MU0, VAR0)
    records = np.full((R, 1, params.observe_size), np.nan)
    core.advance_gaussian1d(
        params,
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
    return state, records


@functools.partial(jax.jit, static_argnames=("path", "n_static"))
def _reference_step_batch(state, ids, key, t, n, tau, estimator, *, path, n_static):
    p = gaussian.Params(n if n_static is None else n_static, tau, estimator, path, MU0, VAR0)
    return jax.vmap(lambda s, r: gaussian.step(p, s, key, r, t))(state, ids)


@jax.jit
def _reference_observe(state):
    return jax.vmap(lambda s: gaussian.observe(gaussian.Params(2, 1.0, 0, 0, MU0, VAR0), s))(state)


def reference_observe(state):
    """gaussian.observe of each row: [R, O]."""
    return np.asarray(_reference_observe(state))


def reference_step(case: S.GaussianCase, tau_factor: float = 1.0):
    """gaussian.step on every replica: state [R, 2]. tau_factor perturbs tau."""
    R = len(case.replica_ids)
    state = np.tile(np.array([case.mean, case.var, 0.0]), (R, 1))
    out = _reference_step_batch(
        state,
        np.array(case.replica_ids, np.uint32),
        ref.seed_key(case.seed),
        np.uint32(case.t),
        float(case.n),
        case.tau * tau_factor,
        case.estimator,
        path=case.path,
        n_static=case.n if case.path == gaussian.SAMPLES else None,
    )
    return np.asarray(out)


def _scaled(diff, scale):
    """diff / scale, with 0/0 = 0 and x/0 = inf (tau = 0 makes both sides exact)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(diff == 0, 0.0, np.where(scale > 0, diff / scale, np.inf))


def step_errors(case, kern_state, kern_records, ref_state) -> dict[str, np.ndarray]:
    """Per field, per replica: |kernel - reference| in the units of STEP_TOLERANCES."""
    mean_scale = abs(case.mean) + case.tau * np.sqrt(case.var)
    var_scale = np.maximum(np.abs(kern_state[:, 1]), case.tau**2 * case.var)
    return {
        "state.mean": _scaled(np.abs(kern_state[:, 0] - ref_state[:, 0]), mean_scale),
        "state.var": _scaled(np.abs(kern_state[:, 1] - ref_state[:, 1]), var_scale),
        **record_errors(kern_records[:, 0], reference_observe(ref_state), mean_scale, var_scale),
    }


def record_errors(k_rec, r_rec, mean_scale, var_scale) -> dict[str, np.ndarray]:
    """Per record field: |kernel - reference| in the units of STEP_TOLERANCES,
    for record rows k_rec, r_rec [..., O]; mean_scale and var_scale [...] as
    in step_errors (the metrics' data scale: mean_scale, or |mean| + sigma
    when larger)."""
    mean, var = k_rec[..., 0], k_rec[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logdet_scale = var_scale / var

    def diff(j):
        with np.errstate(invalid="ignore"):  # equal infinities: 0
            return np.where(k_rec[..., j] == r_rec[..., j], 0.0, np.abs(k_rec[..., j] - r_rec[..., j]))

    data = np.maximum(mean_scale, np.abs(mean) + np.sqrt(var))
    metrics = metric_errors(
        k_rec[..., 4:],
        r_rec[..., 4:],
        mean[..., None],
        var[..., None, None],
        np.array([MU0]),
        np.array([[VAR0]]),
        np.maximum(data, abs(MU0)),
    )
    return {
        "record.mean": _scaled(diff(0), mean_scale),
        "record.var": _scaled(diff(1), var_scale),
        "record.logdet": _scaled(diff(2), logdet_scale),
        "record.mean_sq": _scaled(diff(3), np.maximum(mean_scale, abs(MU0)) ** 2),
        **{"record." + m: e for m, e in metrics.items()},
    }


def worst_step_error(case, tau_factor: float = 1.0):
    """(max over fields and replicas of error / tolerance, field, replica index, error)."""
    kern_state, kern_records = kernel_step(case)
    errs = step_errors(case, kern_state, kern_records, reference_step(case, tau_factor))
    field = max(errs, key=lambda f: np.max(errs[f]) / STEP_TOLERANCES[f])
    r = int(np.argmax(errs[field]))
    return float(errs[field][r] / STEP_TOLERANCES[field]), field, r, float(errs[field][r])


def assert_step_agrees(case: S.GaussianCase):
    kern_state, kern_records = kernel_step(case)
    ref_state = reference_step(case)
    errs = step_errors(case, kern_state, kern_records, ref_state)
    ref_records = reference_observe(ref_state)
    names = ["mean", "var", "logdet", "mean_sq", *NAMES_1D]
    for field, err in errs.items():
        tol = STEP_TOLERANCES[field]
        for r in np.nonzero(~(err <= tol))[0]:
            k = names.index(field.split(".", 1)[1])
            kern = float((kern_state if field.startswith("state") else kern_records[:, 0])[r, k])
            refe = float((ref_state if field.startswith("state") else ref_records)[r, k])
            raise AssertionError(
                f"{field}: kernel {kern!r} reference {refe!r} "
                f"(error {err[r]:.3g} > {tol}) "
                f"at seed={case.seed} replica={case.replica_ids[r]} generation={case.t} "
                f"(n={case.n} tau={case.tau!r} estimator={case.estimator} path={case.path} "
                f"state=[{case.mean!r}, {case.var!r}])"
            )


# --- one step ------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", [gaussian.MLE, gaussian.UNBIASED], ids=["mle", "unbiased"])
@pytest.mark.parametrize("path", [gaussian.EXACT, gaussian.SAMPLES], ids=["exact", "samples"])
@given(data=st.data())
def test_step_matches_kernel(path, estimator, data):
    assert_step_agrees(data.draw(S.gaussian_cases(path=path, estimator=estimator), label="case"))


def test_step_every_n_bucket_path_and_estimator():
    """Every bucket, whatever the draws above happened to pick."""
    for n in S.N_BUCKETS:
        for path in (gaussian.EXACT, gaussian.SAMPLES):
            for estimator in (gaussian.MLE, gaussian.UNBIASED):
                assert_step_agrees(
                    S.GaussianCase(
                        n=n,
                        tau=0.9,
                        estimator=estimator,
                        path=path,
                        seed=0x5EED + n,
                        replica_ids=(3, 1, 4, 1_000_000),
                        t=n + 1,
                        mean=-2.5,
                        var=0.3,
                    )
                )


def test_step_at_generation_one_and_the_last_generation():
    for t in (1, S.GEN_MAX):
        for path in (gaussian.EXACT, gaussian.SAMPLES):
            assert_step_agrees(
                S.GaussianCase(
                    n=3,
                    tau=1.0,
                    estimator=0,
                    path=path,
                    seed=2**64 - 1,
                    replica_ids=(0, 1, 2**32 - 2, 2**32 - 1),
                    t=t,
                    mean=0.0,
                    var=1.0,
                )
            )


# --- the comparison can fail ----------------------------------------------------------------


@pytest.mark.parametrize("path", [gaussian.EXACT, gaussian.SAMPLES], ids=["exact", "samples"])
def test_step_comparison_detects_tau_perturbed_by_1e_9(path):
    """A relative change of 1e-9 in tau (var_t moves by 2e-9) is far outside
    the tolerances, so the differential test is not vacuous."""
    case = S.GaussianCase(
        n=10, tau=1.0, estimator=0, path=path, seed=12345, replica_ids=(0, 1, 2, 3), t=7, mean=0.5, var=2.0
    )
    ratio, _, _, _ = worst_step_error(case)
    assert ratio <= 1.0
    ratio, field, r, err = worst_step_error(case, tau_factor=1.0 + 1e-9)
    assert ratio > 100.0, f"perturbation hidden: {field} replica {r} error {err:.3g}"


# --- a trajectory through both launchers ----------------------------------------------------

TRAJ_IDS = np.array([0, 1, 7, 1000, 65_536, 2**31, 2**32 - 2, 2**32 - 1], np.uint32)
TRAJ_DETECTORS = np.array(
    [
        [1, 1, 0.25],  # var <= 0.25
        [1, 0, 4.0],  # var >= 4
        [0, 0, 0.5],
    ]
)  # mean >= 0.5


@pytest.mark.parametrize(
    "path,n,estimator",
    [
        (gaussian.EXACT, 2, gaussian.MLE),
        (gaussian.EXACT, 100, gaussian.UNBIASED),
        (gaussian.SAMPLES, 3, gaussian.UNBIASED),
        (gaussian.SAMPLES, 33, gaussian.MLE),
    ],
    ids=["exact-n2-mle", "exact-n100-unbiased", "samples-n3-unbiased", "samples-n33-mle"],
)
def test_trajectory_matches_kernel(path, n, estimator):
    """Generations 0..20 of 8 replicas: the kernel in one call, the reference in
    two chunks (0..7, 7..20), every generation recorded and three detectors."""
    seed, tau, G = 0xDEADBEEF_00C0FFEE, 1.0, TRAJ_GENERATIONS
    R, D = TRAJ_IDS.size, TRAJ_DETECTORS.shape[0]
    gens = np.arange(G + 1, dtype=np.uint32)

    O = core.Gaussian1DParams(2.0, 1.0, 0, 0).observe_size
    k_state = np.tile([0.0, 1.0, 0.0], (R, 1))
    k_rec = np.full((R, G + 1, O), np.nan)
    k_first = np.full((R, D), -1, np.int64)
    core.advance_gaussian1d(
        core.Gaussian1DParams(float(n), tau, estimator, path, MU0, VAR0),
        k_state,
        TRAJ_IDS,
        seed,
        0,
        G,
        gens,
        0,
        k_rec,
        TRAJ_DETECTORS,
        k_first,
        1,
    )

    r_state = np.tile([0.0, 1.0, 0.0], (R, 1))
    r_rec = np.full((R, G + 1, O), np.nan)
    r_first = np.full((R, D), -1, np.int64)
    p = gaussian.Params(n, tau, estimator, path, MU0, VAR0)
    gaussian.advance(p, r_state, TRAJ_IDS, seed, 0, 7, gens[:8], 0, r_rec, TRAJ_DETECTORS, r_first, 1)
    gaussian.advance(p, r_state, TRAJ_IDS, seed, 7, G, gens[8:], 8, r_rec, TRAJ_DETECTORS, r_first, 1)

    assert not np.isnan(r_rec).any()
    scale = np.maximum.accumulate(np.abs(k_rec[:, :, 0]) + tau * np.sqrt(k_rec[:, :, 1]), axis=1)
    errs = {
        field: (err, TRAJ_GENERATIONS * STEP_TOLERANCES[field])
        for field, err in record_errors(k_rec, r_rec, scale, k_rec[:, :, 1]).items()
    }
    for field, (err, tol) in errs.items():
        bad = np.argwhere(~(err <= tol))
        assert bad.size == 0, (
            f"{field}: error {err[tuple(bad[0])]:.3g} > {tol} at seed={seed} "
            f"replica={TRAJ_IDS[bad[0][0]]} generation={bad[0][1]} (n={n} path={path})"
        )
    assert np.array_equal(k_state[:, :2], k_rec[:, -1, :2]) and np.array_equal(
        r_state[:, :2], r_rec[:, -1, :2]
    )
    assert r_first.tolist() == k_first.tolist(), f"first passage: kernel {k_first} reference {r_first}"


def test_reference_chunking_changes_no_number():
    """Within the reference backend, chunk boundaries are invisible (bit for bit)."""
    p = gaussian.Params(10, 1.0, gaussian.MLE, gaussian.EXACT)
    ids = TRAJ_IDS[:4]
    gens = np.arange(1, 13, dtype=np.uint32)
    out = []
    for cuts in ([0, 12], [0, 1, 5, 12]):
        state = np.tile([0.0, 1.0, 0.0], (4, 1))
        rec = np.full((4, 12, gaussian.observe_size(p)), np.nan)
        first = np.full((4, 1), -1, np.int64)
        for a, b in zip(cuts[:-1], cuts[1:]):
            lo = np.searchsorted(gens, a, side="right")
            hi = np.searchsorted(gens, b, side="right")
            gaussian.advance(p, state, ids, 9, a, b, gens[lo:hi], int(lo), rec, TRAJ_DETECTORS[:1], first, 1)
        out.append((state, rec, first))
    assert out[0][0].tobytes() == out[1][0].tobytes()
    assert out[0][1].tobytes() == out[1][1].tobytes()
    assert out[0][2].tolist() == out[1][2].tolist()


# --- the advance contract, side by side -----------------------------------------------------


def _advance_args(**overrides):
    R = 2
    a = dict(
        state=np.tile([1.0, 1.0, 0.0], (R, 1)),
        replica_ids=np.arange(R, dtype=np.uint32),
        seed=1,
        gen_begin=0,
        gen_end=3,
        rec_gens=np.array([0, 3], np.uint32),
        rec_offset=0,
        records=np.zeros((R, 2, O_1D)),
        detectors=np.zeros((0, 3)),
        first=np.zeros((R, 0), np.int64),
        threads=1,
    )
    a.update(overrides)
    return a


O_1D = gaussian.observe_size(gaussian.Params(10, 1.0, 0, 0))


def _read_only(a):
    a.flags.writeable = False
    return a


MALFORMED = {
    "state float32": dict(state=np.ones((2, 3), np.float32)),
    "state a list": dict(state=[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]),
    "state 2 columns": dict(state=np.ones((2, 2))),
    "state Fortran order": dict(state=np.asfortranarray(np.arange(6.0).reshape(2, 3))),
    "state read-only": dict(state=_read_only(np.ones((2, 3)))),
    "replica_ids int64": dict(replica_ids=np.arange(2)),
    "replica_ids length": dict(replica_ids=np.arange(3, dtype=np.uint32)),
    "records observe size": dict(records=np.zeros((2, 2, 3))),
    "records replicas": dict(records=np.zeros((3, 2, O_1D))),
    "records not the columns": dict(records=np.zeros((2, 2, O_1D)), columns=np.array([1, 5], np.int32)),
    "columns int64": dict(records=np.zeros((2, 2, 2)), columns=np.array([1, 5])),
    "columns a list": dict(records=np.zeros((2, 2, 2)), columns=[1, 5]),
    "columns 2-D": dict(records=np.zeros((2, 2, 2)), columns=np.array([[1, 5]], np.int32)),
    "columns past observe": dict(records=np.zeros((2, 2, 2)), columns=np.array([1, O_1D], np.int32)),
    "columns negative": dict(records=np.zeros((2, 2, 2)), columns=np.array([-1, 5], np.int32)),
    "first detectors": dict(first=np.zeros((2, 1), np.int64)),
    "first int32": dict(first=np.zeros((2, 0), np.int32)),
    "gen_end < gen_begin": dict(gen_begin=5, gen_end=3, rec_gens=np.array([], np.uint32)),
    "gen_end reserved": dict(gen_end=2**32 - 1),
    "gen_begin too big": dict(gen_begin=2**32),
    "seed negative": dict(seed=-1),
    "seed too big": dict(seed=2**64),
    "seed float": dict(seed=1.0),
    "rec_offset past the end": dict(rec_offset=1),
    "rec_offset negative": dict(rec_offset=-1),
    "rec_gens descending": dict(rec_gens=np.array([3, 0], np.uint32)),
    "rec_gens past the chunk": dict(rec_gens=np.array([0, 4], np.uint32)),
    "rec_gens before the chunk": dict(gen_begin=1, rec_gens=np.array([1, 3], np.uint32)),
    "detector metric O": dict(detectors=np.array([[float(O_1D), 0, 0]]), first=np.zeros((2, 1), np.int64)),
    "detector metric 0.5": dict(detectors=np.array([[0.5, 0, 0]]), first=np.zeros((2, 1), np.int64)),
    "detector metric nan": dict(detectors=np.array([[np.nan, 0, 0]]), first=np.zeros((2, 1), np.int64)),
    "threads 0": dict(threads=0),
}


@pytest.mark.parametrize("what", list(MALFORMED))
def test_reference_advance_rejects_what_the_kernel_rejects(what):
    errors = []
    for impl, params in (
        (core.advance_gaussian1d, core.Gaussian1DParams(10.0, 1.0, 0, 0)),
        (gaussian.advance, gaussian.Params(10, 1.0, 0, 0)),
    ):
        with pytest.raises((TypeError, ValueError)) as info:
            impl(params, **_advance_args(**MALFORMED[what]))
        errors.append(info.value)
    kern, refe = errors
    assert type(refe) is type(kern), f"{what}: kernel {kern!r}, reference {refe!r}"
    if isinstance(kern, ValueError):
        assert str(refe) == str(kern)


@pytest.mark.parametrize(
    "bad",
    [
        dict(n=1.0),
        dict(n=2.5),
        dict(n=2.0**33),
        dict(estimator=2),
        dict(path=-1),
    ],
)
def test_reference_params_checked_like_the_kernel(bad):
    good = dict(n=10.0, tau=1.0, estimator=0, path=0, mu0=0.0, var0=1.0)
    with pytest.raises(ValueError) as kern:
        core.Gaussian1DParams(**{**good, **bad})
    with pytest.raises(ValueError) as refe:
        gaussian.advance(gaussian.Params(**{**good, **bad}), **_advance_args())
    assert str(refe.value) == str(kern.value)
    with pytest.raises(TypeError, match="params"):
        gaussian.advance(None, **_advance_args())


def test_reference_advance_accepts_core_params_and_an_empty_chunk():
    """The _core params struct works too; gen_begin == gen_end > 0 changes nothing."""
    args = _advance_args(gen_begin=3, gen_end=3, rec_gens=np.array([], np.uint32))
    gaussian.advance(core.Gaussian1DParams(10.0, 1.0, 0, 0), **args)
    assert args["state"].tolist() == [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
