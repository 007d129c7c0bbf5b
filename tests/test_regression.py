"""The regression family (csrc/madsim/models/regression.hpp): Monte Carlo
against the closed forms of docs/theory/regression.md (madsim.theory.regression), the
exact path against the samples path in law, a one-generation law check,
reproducibility, and bad input.

Statistical assertions use tests/stats.py (alpha = 1e-5 each, two-sided,
Bonferroni-split inside a test; fixed seeds, so deterministic).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

import madsim as ms
from madsim import theory

import stats as S

COV3 = [[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]]


def run(cfg, replicas, generations, seed, record=None, **kw):
    return ms.simulate(
        cfg,
        replicas=replicas,
        generations=generations,
        seed=seed,
        record=record or [generations],
        progress=False,
        **kw,
        metrics="all",
    )


# ---------------------------------------------------------------- theory (docs/theory/regression.md)

CASES = [
    (design, loop)
    for design in ("fixed", "fresh")
    for loop in (ms.Replace(n=20), ms.Accumulate(synthetic=20))
]


@pytest.mark.parametrize("path", ["exact", "samples"])
@pytest.mark.parametrize("design,loop", CASES, ids=lambda x: getattr(x, "__name__", str(x)))
def test_test_error_matches_5b(design, loop, path):
    """E ||w_t - w*||^2_Sigma at t = 1, 4, 10 (d = 5, T = 20, sigma = 1, a
    non-identity Sigma: the forms hold for any Sigma) against replace
    t sigma^2 d/(T-d-1) and the two accumulate sums. 3 comparisons, alpha/3 each;
    10000 (samples: 4000) replicas give SE ~ 1.3% (2%) of the value at t = 10: a
    6% (9%) error is detected with power 0.99, e.g. Wishart(T - 1) for Wishart(T) (8%)."""
    d = 5
    cov = np.eye(d) + 0.3 * np.ones((d, d))
    cfg = ms.Config(
        family=ms.Regression(dim=d, design=design, cov=cov.tolist(), weights=0.7), loop=loop, path=path
    )
    R = 10000 if path == "exact" else 4000
    ds = run(cfg, R, 10, seed=5, record=[1, 4, 10])
    for t in (1, 4, 10):
        x = ds["test_error"].sel(generation=t).values
        S.assert_mean(
            x,
            float(theory.expected_test_error(cfg, t)),
            f"{design} {type(loop).__name__} {path} t={t}",
            alpha=S.ALPHA / 3,
        )


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_refit_noise_collapses_like_a_gaussian_variance(estimator):
    """refit_noise: s_t^2 = s_{t-1}^2 chi2(T - d) / divisor, so E s_t^2 =
    sigma^2 ((T - d)/divisor)^t and the test error sums the label noises.
    2 comparisons, alpha/2 each."""
    cfg = ms.Config(
        family=ms.Regression(dim=3, refit_noise=True, noise=2.0), loop=ms.Replace(n=12), estimator=estimator
    )
    ds = run(cfg, 4000, 8, seed=9)
    S.assert_mean(
        ds["noise_var"].sel(generation=8).values,
        float(theory.expected_noise_var(8, 12, 3, 2.0, estimator, True)),
        f"noise_var {estimator}",
        alpha=S.ALPHA / 2,
    )
    S.assert_mean(
        ds["test_error"].sel(generation=8).values,
        float(theory.replace_test_error(8, 12, 3, 2.0, estimator, True)),
        f"test_error {estimator}",
        alpha=S.ALPHA / 2,
    )


def test_one_generation_law():
    """Generation 1 of Replace(n) is OLS on the truth's labels: w_1 - w* ~
    N(0, sigma^2 (X'X)^-1) given X, so (w_1 - w*)'X'X(w_1 - w*)/sigma^2 ~ chi2(d)
    and RSS/sigma^2 ~ chi2(n - d), independent. Checks, per path, the noise
    estimate's law (KS against chi2(n - d) / n) and the test error's mean
    d/(n - d - 1) sigma^2 (Sigma = COV3). 4 comparisons, alpha/4 each."""
    n, d, s2 = 9, 3, 0.5
    for path in ("exact", "samples"):
        cfg = ms.Config(
            family=ms.Regression(dim=d, cov=COV3, noise=s2, weights=[1.0, -2.0, 0.5]),
            loop=ms.Replace(n=n),
            path=path,
        )
        ds = run(cfg, 4000, 1, seed=21)
        nv = ds["noise_var"].sel(generation=1).values
        S.assert_ks(
            nv * n / s2, sps.chi2(n - d).cdf, f"{path}: n s^2 / sigma^2 ~ chi2(n - d)", alpha=S.ALPHA / 4
        )
        S.assert_mean(
            ds["test_error"].sel(generation=1).values,
            s2 * d / (n - d - 1),
            f"{path}: test error at t = 1",
            alpha=S.ALPHA / 4,
        )


@pytest.mark.parametrize(
    "loop",
    [
        ms.Replace(n=4),
        ms.Augment(real=2, synthetic=3),
        ms.Fresh(real=2, synthetic=3),
        ms.Accumulate(synthetic=2, real=1),
    ],
    ids=lambda x: type(x).__name__,
)
def test_exact_and_samples_paths_agree_in_law(loop):
    """The exact path (Wishart / Gaussian / chi-square statistics) and the
    samples path (row by row) give the same law of (test_error, noise_var,
    w_0) after 3 generations, with singular parts (3 rows < d = 4 needs the
    d x c factor), ridge, refit_noise and a filter. Two-sample KS on three
    statistics, alpha/3 each; 3000 replicas detect a CDF shift of ~0.07."""
    fam = ms.Regression(dim=4, ridge=0.3, refit_noise=True, weights=[0.5, -1.0, 0.0, 2.0])
    flt = ms.Filter(tpr=0.2, fpr=0.1)
    a, b = (
        run(ms.Config(family=fam, loop=loop, path=p, filter=flt), 3000, 3, seed=s)
        for p, s in (("exact", 1), ("samples", 2))
    )
    for v in ("test_error", "noise_var"):
        S.assert_same_law(
            a[v].values.ravel(), b[v].values.ravel(), f"{type(loop).__name__} {v}", alpha=S.ALPHA / 3
        )
    S.assert_same_law(a["w"].values[:, -1, 0], b["w"].values[:, -1, 0], "w[0]", alpha=S.ALPHA / 3)


def test_fixed_design_relabels_the_same_rows():
    """Replace: e_t = e_{t-1} + B_t eps_t with B_t = (X_t'X_t)^-1 X_t'. A fixed
    design has one B, so |e_1|^2 and the next increment's |B eps_2|^2 both
    scale with (X'X)^-1: positively correlated over replicas; fresh designs
    give independent increments (Spearman rank correlation 0). Rank
    correlation: no moment conditions; under independence its SE is
    1/sqrt(R - 1). 2 comparisons, alpha/2 each."""
    R = 20000

    def spearman(design):
        cfg = ms.Config(family=ms.Regression(dim=2, design=design), loop=ms.Replace(n=8))
        e = run(cfg, R, 2, seed=3, record=[1, 2])["w"].values - cfg.family.weight_vector
        first, inc = np.sum(e[:, 0] ** 2, axis=1), np.sum((e[:, 1] - e[:, 0]) ** 2, axis=1)
        return sps.spearmanr(first, inc)[0]

    se = 1.0 / np.sqrt(R - 1)
    fresh, fixed = spearman("fresh"), spearman("fixed")
    assert abs(fresh) < S.z_crit(S.ALPHA / 2) * se, f"fresh design: rank correlation {fresh:.4f}"
    assert fixed > S.z_crit(S.ALPHA / 2) * se + S.detectable_shift(se), f"fixed design: {fixed:.4f}"


# ---------------------------------------------------------------- reproducibility


def test_threads_chunks_and_replica_subsets_change_no_number():
    cfg = ms.Config(
        family=ms.Regression(dim=3, ridge=0.2, refit_noise=True),
        loop=ms.Accumulate(synthetic=4, real=2),
        filter=ms.Filter(tpr=0.3),
    )
    a = run(cfg, 6, 12, seed=4, record=ms.every(3), threads=1)
    b = run(cfg, 6, 12, seed=4, record=ms.every(3), threads=3, chunk=5)
    c = run(cfg, [4, 1], 12, seed=4, record=ms.every(3))
    assert np.array_equal(a["w"].values, b["w"].values)
    assert np.array_equal(a["state"].values, b["state"].values)
    assert np.array_equal(a["w"].values[[4, 1]], c["w"].values)
    assert np.array_equal(a["noise_var"].values[[4, 1]], c["noise_var"].values)


def test_generation_zero_is_the_truth_and_counts_are_recorded():
    fam = ms.Regression(dim=2, weights=[3.0, 4.0], noise=0.25)
    ds = run(ms.Config(family=fam, loop=ms.Fresh(real=3, synthetic=5)), 2, 2, seed=1, record=[0, 2])
    g0 = ds.sel(generation=0)
    assert np.all(g0["w"].values == [3.0, 4.0])
    assert np.all(g0["w_norm"].values == 5.0) and np.all(g0["test_error"].values == 0.0)
    assert np.all(g0["noise_var"].values == 0.25)
    assert np.all(ds["points_real"].sel(generation=2).values == 3)
    assert np.all(ds["points_synthetic"].sel(generation=2).values == 5)
    assert ds["test_error"].attrs["truth_value"] == 0.0


def test_too_few_rows_after_the_filter_skip_the_fit():
    """A generation whose rows (after the filter) are <= d keeps the model
    and counts a skipped fit: never a NaN."""
    cfg = ms.Config(family=ms.Regression(dim=3), loop=ms.Replace(n=5), filter=ms.Filter(tpr=0.6))
    ds = run(cfg, 200, 6, seed=2, record=ms.every(1))
    assert np.all(np.isfinite(ds["w"].values)) and np.all(np.isfinite(ds["noise_var"].values))
    skipped = ds["skipped"].values
    assert skipped.max() > 0
    kept = ds["points_synthetic"].values[:, 1:] <= 3
    w = ds["w"].values
    assert np.array_equal(w[:, 1:][kept], w[:, :-1][kept])


def test_config_round_trips_and_loads_from_toml():
    from madsim import toml_config
    import json

    cfg = ms.Config(
        family=ms.Regression(
            dim=2,
            weights=[1.0, 2.0],
            cov=[[1.0, 0.3], [0.3, 2.0]],
            design="fixed",
            ridge=0.1,
            refit_noise=True,
        ),
        loop=ms.Accumulate(synthetic=6, real=2),
    )
    assert ms.Config.from_dict(json.loads(cfg.to_json())) == cfg
    text = """
[family]
type = "Regression"
dim = 2
weights = [1.0, 2.0]
cov = [[1.0, 0.3], [0.3, 2.0]]
design = "fixed"
ridge = 0.1
refit_noise = true
[loop]
type = "Accumulate"
synthetic = 6
real = 2
"""
    assert toml_config.loads(text)[0] == cfg


def test_resume_equals_the_uninterrupted_run():
    cfg = ms.Config(family=ms.Regression(dim=3, design="fixed"), loop=ms.Accumulate(synthetic=5, real=1))
    full = run(cfg, 4, 10, seed=8, record=ms.every(1))
    part = ms.resume(run(cfg, 4, 4, seed=8, record=ms.every(1)), generations=10)
    assert np.array_equal(full["w"].values, part["w"].values)


def test_metric_plot_overlays_the_5b_curve():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from madsim import plots

    cfg = ms.Config(family=ms.Regression(dim=2), loop=ms.Replace(n=6))
    ds = run(cfg, 50, 5, seed=1, record=ms.every(1))
    ax = plots.metric(ds, "test_error")
    theory_lines = [l for l in ax.get_lines() if "expected_test_error" in l.get_label()]
    assert len(theory_lines) == 1
    assert np.allclose(theory_lines[0].get_ydata(), 2 / 3 * np.arange(6))
    matplotlib.pyplot.close(ax.figure)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(dim=0), r"Regression.dim"),
        (dict(dim=2, weights=[1.0]), r"Regression.weights must have dim = 2 entries"),
        (dict(dim=2, cov=[[1.0, 2.0], [2.0, 1.0]]), r"Regression.cov must be positive definite"),
        (dict(dim=2, cov=[[1.0, 0.1], [0.0, 1.0]]), r"Regression.cov must be symmetric"),
        (dict(dim=2, cov=[[1.0]]), r"Regression.cov must be 2 x 2"),
        (dict(noise=0.0), r"Regression.noise"),
        (dict(ridge=-1.0), r"Regression.ridge"),
        (dict(design="random"), r"Regression.design"),
    ],
)
def test_bad_family_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ms.Regression(**kwargs)


def test_refit_noise_must_be_bool():
    with pytest.raises(TypeError, match="refit_noise"):
        ms.Regression(refit_noise="yes")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(loop=ms.Replace(n=5)), r"at least dim \+ 1 = 6 rows \(OLS: n <= dim"),
        (
            dict(loop=ms.Replace(n=3), family=ms.Regression(dim=5, ridge=1.0), estimator="unbiased"),
            r"estimator='unbiased'.*ridge > 0",
        ),
        (dict(temperature=2.0), r"Config.temperature has no meaning for Regression"),
        (dict(truncation=2.0), r"Config.truncation has no meaning for Regression"),
        (dict(top_k=2), r"Config.top_k has no meaning for Regression"),
        (
            dict(loop=ms.Accumulate(synthetic=10), weight=0.5),
            r"Config.weight needs a loop with a real and a synthetic part",
        ),
        (dict(loop=ms.AccumulateSubsample(n=10, synthetic=10)), r"AccumulateSubsample needs path='samples'"),
        (
            dict(family=ms.Regression(design="fixed"), filter=ms.Filter(tpr=0.1)),
            r"Config.filter needs Regression.design='fresh'",
        ),
        (
            dict(family=ms.Regression(design="fixed"), loop=ms.Replace(n=[10, 12])),
            r"Replace.n must be a constant integer",
        ),
    ],
)
def test_bad_config_raises(kwargs, match):
    kw = {"family": ms.Regression(dim=5), "loop": ms.Replace(n=20), **kwargs}
    with pytest.raises(ValueError, match=match):
        ms.Config(**kw)


def test_ridge_fits_with_fewer_rows_than_features():
    """Ridge (mle noise estimate) fits with n <= d: finite, no skipped fit."""
    cfg = ms.Config(family=ms.Regression(dim=5, ridge=0.5), loop=ms.Replace(n=3))
    ds = run(cfg, 50, 5, seed=1)
    assert np.all(np.isfinite(ds["w"].values)) and np.all(ds["skipped"].values == 0)


def test_kernel_params_refuse_bad_values():
    from madsim._backend import core

    good = dict(
        d=2,
        loop=0,
        path=0,
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
    )
    core.RegressionParams(**good)
    for change, msg in [
        (dict(loop=4), "subsample needs the samples path"),
        (dict(truth=np.array([1.0, 0.0, 1.0])), "truth: axis 0"),
        (dict(counts=np.array([[0.0, 2.5]])), "counts must be integers"),
    ]:
        with pytest.raises(ValueError, match=msg):
            core.RegressionParams(**{**good, **change})


# ---------------------------------------------------------------- slow: docs/theory/regression.md's numbers


@pytest.mark.slow
@pytest.mark.parametrize("path", ["exact", "samples"])
def test_theory_5b_table_at_1e5_replicas(path):
    """docs/theory/regression.md's Monte Carlo table (d = 5, T = 20, sigma = 1, R = 1e5,
    i = 10): replace fixed / fresh 3.5714, accumulate fixed 0.5535, fresh
    0.5115. 4 comparisons, alpha/4 each."""
    for design, loop in CASES:
        cfg = ms.Config(family=ms.Regression(dim=5, design=design), loop=loop, path=path)
        ds = run(cfg, 100_000, 10, seed=77)
        S.assert_mean(
            ds["test_error"].values.ravel(),
            float(theory.expected_test_error(cfg, 10)),
            f"{design} {type(loop).__name__} {path}",
            alpha=S.ALPHA / 4,
        )
