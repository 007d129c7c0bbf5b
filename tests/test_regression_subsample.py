"""AccumulateSubsample for the regression family (csrc/madsim/models/regression.hpp,
Regression::step_subsample): the pool of every row drawn lives in the state
row; each generation refits on a uniform n-subset of it.

Law checks (tests/stats.py, alpha = 1e-5 each, fixed seeds): with n >= the
pool it is Accumulate on the samples path (same streams, to rounding); the
subset's real rows are hypergeometric; generation 1's test error is the OLS
closed form for n rows (docs/theory/regression.md). Resume into a longer run is bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

import madsim as ms

import stats as S

COV3 = [[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]]


def run(cfg, replicas, generations, seed, record=None, **kw):
    return ms.simulate(
        cfg,
        replicas=replicas,
        generations=generations,
        seed=seed,
        record=record or ms.every(1),
        progress=False,
        **kw,
        metrics="all",
    )


@pytest.mark.parametrize("design", ["fresh", "fixed"])
def test_subsample_of_the_whole_pool_is_accumulate(design):
    """n >= every row ever drawn: the fit sees the whole pool, which is
    Accumulate's pool on the same streams (synthetic rows labelled by model
    t-1, refit noise, a filter on the fresh design); equal to rounding (the
    subsample sums the rows in pick order at the current w, Accumulate adds
    per-generation stats and re-references them)."""
    fam = ms.Regression(dim=3, design=design, cov=COV3, noise=0.7, ridge=0.2, refit_noise=True)
    flt = ms.Filter(tpr=0.25, fpr=0.15) if design == "fresh" else None
    kw = dict(family=fam, path="samples", filter=flt)
    acc = ms.Config(loop=ms.Accumulate(synthetic=4, real=2), **kw)
    sub = ms.Config(loop=ms.AccumulateSubsample(n=1000, synthetic=4, real=2), **kw)
    a, b = run(acc, 6, 12, seed=3), run(sub, 6, 12, seed=3)
    for v in ("points_real", "points_synthetic", "skipped"):
        assert np.array_equal(a[v].values, b[v].values), v
    for v in ("w", "noise_var", "test_error"):
        np.testing.assert_allclose(b[v].values, a[v].values, rtol=1e-9, atol=1e-12, err_msg=v)


def test_subsample_picks_real_rows_hypergeometrically():
    """Generation 3's pool: 3 x (4 real + 6 synthetic) rows; a uniform subset
    of 8 holds Hypergeometric(30, 12, 8) real rows (chi-square, alpha 1e-5)."""
    cfg = ms.Config(
        family=ms.Regression(dim=2), path="samples", loop=ms.AccumulateSubsample(n=8, synthetic=6, real=4)
    )
    ds = run(cfg, 4000, 3, seed=11, record=[3])
    real = ds["points_real"].sel(generation=3).values.astype(int)
    assert np.all(real + ds["points_synthetic"].sel(generation=3).values == 8)
    S.assert_counts(
        np.bincount(real, minlength=9), sps.hypergeom.pmf(np.arange(9), 30, 12, 8), "real rows in the subset"
    )


def test_generation_one_test_error_is_ols_on_n_rows():
    """Generation 1 fits OLS on n = 10 of the 40 rows the truth labelled, an
    iid sample of 10 rows: E[test error] = sigma0^2 d / (n - d - 1) (docs/theory/regression.md,
    one generation); the pool's 40 rows would give 3x less."""
    fam = ms.Regression(dim=3, cov=COV3, noise=0.5)
    cfg = ms.Config(family=fam, path="samples", loop=ms.AccumulateSubsample(n=10, synthetic=40))
    ds = run(cfg, 20000, 1, seed=5, record=[1])
    err = ds["test_error"].sel(generation=1).values
    S.assert_mean(err, 0.5 * 3 / (10 - 3 - 1), "generation-1 test error")


@pytest.mark.parametrize("design", ["fresh", "fixed"])
def test_resume_into_a_longer_run_is_bit_for_bit(design):
    """The saved pool (sized for 4 generations) is padded to the 10-generation
    run's capacity: every number equals the uninterrupted run's."""
    cfg = ms.Config(
        family=ms.Regression(dim=3, design=design),
        path="samples",
        loop=ms.AccumulateSubsample(n=9, synthetic=5, real=1),
    )
    full = run(cfg, 4, 10, seed=8)
    part = ms.resume(run(cfg, 4, 4, seed=8), generations=10)
    for v in ("w", "noise_var", "points_real", "skipped"):
        assert np.array_equal(full[v].values, part[v].values), v


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(path="exact"), r"AccumulateSubsample needs path='samples' for Regression"),
        (dict(loop=ms.AccumulateSubsample(n=3, synthetic=10)), r"AccumulateSubsample.n = 3 must be >= "),
        (
            dict(
                family=ms.Regression(dim=3, design="fixed"),
                loop=ms.AccumulateSubsample(n=6, synthetic=10, real=[1, 2]),
            ),
            r"AccumulateSubsample.real must be a constant integer",
        ),
    ],
)
def test_bad_subsample_config_raises(kwargs, match):
    kw = {
        "family": ms.Regression(dim=3),
        "path": "samples",
        "loop": ms.AccumulateSubsample(n=6, synthetic=10),
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        ms.Config(**kw)


def test_kernel_params_refuse_bad_subsample_values():
    from madsim._backend import core

    good = dict(
        d=2,
        loop=4,
        path=1,
        design=0,
        estimator=0,
        refit_noise=0,
        ridge=0.0,
        tpr=0.0,
        fpr=0.0,
        real_fixed=0.0,
        fixed_real=0.0,
        fixed_synthetic=0.0,
        truth=np.array([1.0, 0.0, 1.0, 0.0, 1.0, 1.0]),
        counts=np.array([[0.0, 5.0]]),
        subsample_n=4,
        pool_cap=6,
    )
    assert core.RegressionParams(**good).state_size == 2 + 4 + 1 + 6 * 4
    for change, msg in [
        (dict(path=0), "subsample needs the samples path"),
        (dict(subsample_n=0), "subsample_n must be >= 1"),
        (dict(pool_cap=-1), "pool_cap must lie in"),
        (dict(loop=5), r"loop must be 0..4"),
    ]:
        with pytest.raises(ValueError, match=msg):
            core.RegressionParams(**{**good, **change})
