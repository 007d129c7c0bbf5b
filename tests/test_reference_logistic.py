"""Differential tests: the logistic kernel (csrc/madsim/models/logistic.hpp)
against its JAX twin (madsim.reference.logistic) on the same Philox
streams, configurations drawn by hypothesis.

Agreement: labels (through every later number), Newton iteration counts,
row counts and skipped fits exactly; every float (w, the metrics, the state
row with its pooled rows) to 1e-10 relative to max(|x|, 1). Why not zero:
XLA sums over rows and inner products in another order than the C++ loops
and its exp / log1p may differ from libm's in the last bit; a Newton solve
carries that through the Hessian's condition number (observed <= 5e-15 on
the configurations below). A label could part only where a uniform falls
within rounding of sigmoid(x'w) (about 1e-16 per row).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import madsim as ms

import strategies as S  # noqa: F401  (loads the hypothesis profile)

pytest.importorskip("jax")

D_BUCKETS = (1, 2, 3)
COUNT_BUCKETS = (0, 5, 14)
INTEGER_VARS = ("iterations", "points_real", "points_synthetic", "skipped")
FLOAT_VARS = ("w", "fisher_error", "w_error", "w_norm", "state")
RTOL = 1e-10
COV3 = [[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]]


def run(cfg, backend, seed, ids, generations):
    return ms.simulate(
        cfg,
        replicas=ids,
        generations=generations,
        seed=seed,
        record=ms.every(1),
        backend=backend,
        progress=False,
        threads=2,
        metrics="all",
    )


def disagreements(a, b):
    """Names (with the worst error) of the variables where the twins part."""
    bad = []
    for v in INTEGER_VARS:
        if not np.array_equal(a[v].values, b[v].values):
            bad.append(f"{v}: integers differ")
    for v in FLOAT_VARS:
        x, y = a[v].values, b[v].values
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            bad.append(f"{v}: non-finite values")
            continue
        err = np.max(np.abs(x - y) / np.maximum(np.abs(x), 1.0), initial=0.0)
        if err > RTOL:
            bad.append(f"{v}: relative error {err:.3g}")
    return bad


@st.composite
def configs(draw):
    d = draw(st.sampled_from(D_BUCKETS))
    design = draw(st.sampled_from(["fresh", "fixed"]))
    syn, real = (draw(st.sampled_from(COUNT_BUCKETS)) for _ in range(2))
    syn = max(syn, 1)
    loop = draw(
        st.sampled_from(
            [
                ms.Replace(n=max(syn, d + 1)),
                ms.Augment(real=real, synthetic=syn),
                ms.Fresh(real=real, synthetic=syn),
                ms.Accumulate(synthetic=syn, real=real),
                ms.AccumulateSubsample(n=draw(st.sampled_from([d + 1, 8])), synthetic=syn, real=real),
            ]
        )
    )
    cov = None
    if draw(st.booleans()):
        a = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=d * d, max_size=d * d))).reshape(d, d)
        cov = (a @ a.T + 0.1 * np.eye(d)).tolist()
    fam = dict(
        dim=d,
        design=design,
        cov=cov,
        weights=draw(st.sampled_from([None, -0.5, 2.0])),
        ridge=draw(st.sampled_from([0.0, 0.0, 0.3])),
        max_iter=draw(st.sampled_from([5, 50])),
    )
    try:
        return ms.Config(family=ms.Logistic(**fam), loop=loop)
    except ValueError:  # too few rows for this loop: the plain replace loop
        return ms.Config(family=ms.Logistic(**fam), loop=ms.Replace(n=d + 4))


def _agree(cfg, seed, ids):
    a, b = run(cfg, "cpu", seed, ids, 4), run(cfg, "jax", seed, ids, 4)
    bad = disagreements(a, b)
    assert not bad, f"{cfg}, seed {seed}, replicas {ids}: {bad}"


# Each drawn config compiles the twin (seconds): a few in CI, more under -m slow.
@settings(max_examples=S.examples(2), deadline=None)
@given(cfg=configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_twins_agree_on_drawn_configs(cfg, seed, ids):
    _agree(cfg, seed, ids)


@pytest.mark.slow
@settings(max_examples=S.examples(40), deadline=None)
@given(cfg=configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_twins_agree_on_many_drawn_configs(cfg, seed, ids):
    _agree(cfg, seed, ids)


LOOPS = (
    ms.Replace(n=30),
    ms.Augment(real=6, synthetic=9),
    ms.Fresh(real=5, synthetic=9),
    ms.Accumulate(synthetic=9, real=3),
    ms.AccumulateSubsample(n=12, synthetic=9, real=3),
)
EVERY = [
    pytest.param(
        loop,
        design,
        ridge,
        marks=()
        if (type(loop), design, ridge)
        in ((ms.Augment, "fresh", 0.0), (ms.AccumulateSubsample, "fixed", 0.0), (ms.Fresh, "fresh", 0.1))
        else pytest.mark.slow,
    )
    for ridge in (0.0, 0.1)
    for design in ("fresh", "fixed")
    for loop in LOOPS
]


@pytest.mark.parametrize(
    "loop,design,ridge", EVERY, ids=lambda x: type(x).__name__ if not isinstance(x, (str, float)) else str(x)
)
def test_twins_agree_every_loop_one_step_then_several(loop, design, ridge):
    """One generation from the truth (every init draw and one step), and six
    (every loop x design x ridge under -m slow; three in CI): d = 3 with a
    correlated Sigma; the small parts separate now and then (ridge 0: the
    skipped fits must match too)."""
    fam = ms.Logistic(dim=3, design=design, cov=COV3, weights=[1.0, -0.5, 0.3], ridge=ridge)
    cfg = ms.Config(family=fam, loop=loop)
    ids = [0, 5, 2**32 - 1, 123]
    a, b = run(cfg, "cpu", 7, ids, 6), run(cfg, "jax", 7, ids, 6)
    for t in (1, 6):  # every generation is recorded: t = 1 is one step from the truth
        bad = disagreements(a.sel(generation=[0, t]), b.sel(generation=[0, t]))
        assert not bad, f"generation {t}: {bad}"
    if ridge == 0.0 and design == "fresh" and isinstance(loop, ms.Augment):
        assert a["skipped"].values[:, -1].sum() > 0  # separated fits of this seed, skipped on both


def test_comparison_detects_a_ridge_of_1e_9():
    """The differential check can fail: a ridge of 1e-9 added in one twin only
    moves w by ~1e-10, which it reports (the configuration of an every-loop
    case above, so the twin's compiled program is reused)."""

    def cfg(ridge):
        fam = ms.Logistic(dim=3, design="fresh", cov=COV3, weights=[1.0, -0.5, 0.3], ridge=ridge)
        return ms.Config(family=fam, loop=ms.Fresh(real=5, synthetic=9))

    ids = [0, 5, 2**32 - 1, 123]
    a, b = run(cfg(0.1), "cpu", 7, ids, 6), run(cfg(0.1 + 1e-9), "jax", 7, ids, 6)
    assert any(s.startswith("w") for s in disagreements(a, b))


def test_reference_params_checked_like_the_kernel():
    from madsim._backend import core
    from madsim.reference import logistic

    truth = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.5, 0.0, 0.5])
    good = dict(
        d=2,
        loop=0,
        design=0,
        max_iter=50,
        ridge=0.0,
        tol=1e-10,
        real_fixed=0.0,
        truth=truth,
        counts=np.array([[0.0, 5.0]]),
    )
    core.LogisticParams(**good)
    logistic._logistic_params(logistic.Params(**good))
    # the memory-safety checks (sizes, caps, codes); the numerical domain is
    # Python's (tests/test_param_checks.py)
    bad = [
        dict(d=0),
        dict(loop=5),
        dict(design=2),
        dict(real_fixed=0.5),
        dict(truth=truth[:5]),
        dict(counts=np.array([[0.0, 1.5]])),
        dict(counts=np.array([[-1.0, 1.0]])),
        dict(loop=2, counts=np.array([[2.0**32, 2.0**32]])),
        dict(loop=4, subsample_n=0, pool_cap=10),
        dict(loop=3, pool_cap=-1),
    ]
    for change in bad:
        args = {**good, **change}
        with pytest.raises(ValueError) as e1:
            core.LogisticParams(**args)
        with pytest.raises(ValueError) as e2:
            logistic._logistic_params(logistic.Params(**args))
        assert str(e1.value) == str(e2.value), change
