"""The logistic family (csrc/madsim/models/logistic.hpp): the sampler's law,
the Newton fit against scipy.optimize on the same rows, the skipped-fit
policy against an independent separability check (scipy.optimize.linprog),
the Fisher information against Monte Carlo, Monte Carlo against the
first-order laws of docs/theory/logistic.md (madsim.theory.logistic),
reproducibility, and bad input.

Statistical assertions use tests/stats.py (alpha = 1e-5 each, two-sided,
Bonferroni-split inside a test; fixed seeds, so deterministic). The
first-order laws are asymptotic: their comparisons allow the stated
relative tolerance (theory.logistic_first_order_tolerance) on top of the
z-test, as the validate cases do.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

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


def pool_rows(ds, d):
    """The rows [x d | y | real] each replica's Accumulate pool holds (after
    generation 1: the rows of fit 1), from the final state row."""
    st = ds["state"].values
    size = st[:, d + 4].astype(int)
    out = []
    for r in range(st.shape[0]):
        rows = st[r, d + 5 :].reshape(-1, d + 2)[: size[r]]
        out.append(rows)
    return out


def mle(rows, d, ridge=0.0, w0=None):
    """The penalised MLE on rows by scipy.optimize (trust-region Newton with
    the exact gradient and Hessian)."""
    X, y = rows[:, :d], rows[:, d]

    def f(w):
        eta = X @ w
        return np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * ridge * w @ w

    def grad(w):
        return X.T @ (special.expit(X @ w) - y) + ridge * w

    def hess(w):
        p = special.expit(X @ w)
        return (X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(d)

    res = optimize.minimize(
        f,
        np.zeros(d) if w0 is None else w0,
        jac=grad,
        hess=hess,
        method="trust-exact",
        options=dict(gtol=1e-12),
    )
    return res.x


def assert_first_order(x, cfg, t, what, alpha=S.ALPHA):
    """mean(x) against logistic_expected_fisher_error(cfg, t): a z-test beyond the
    stated relative tolerance."""
    th = float(theory.logistic_expected_fisher_error(cfg, t))
    tol = theory.logistic_first_order_tolerance(cfg, t)
    se = x.std(ddof=1) / np.sqrt(x.size)
    dev = max(abs(x.mean() - th) - tol * th, 0.0)
    assert dev < S.z_crit(alpha) * se, (
        f"{what}: Monte Carlo {x.mean():.5g} +- {se:.2g} vs first order {th:.5g} (tolerance {tol:.1%})"
    )


# ---------------------------------------------------------------- the sampler and the fit


def test_rows_follow_the_model():
    """Fit 1's rows (Accumulate's pool after one generation, 20000 rows per
    replica, Sigma correlated): x ~ N(0, Sigma) (each covariance entry, SE
    from the fourth moments) and y ~ Bernoulli(sigmoid(x'w*)) (the residual
    y - p has mean 0 and is uncorrelated with x'w*: z-tests with the exact
    variance sum p(1 - p)). 6 + 2 comparisons, alpha/8 each."""
    fam = ms.Logistic(dim=3, cov=COV3, weights=[1.0, -0.5, 0.3])
    ds = run(ms.Config(family=fam, loop=ms.Accumulate(synthetic=20000)), 1, 1, seed=3)
    rows = pool_rows(ds, 3)[0]
    X, y = rows[:, :3], rows[:, 3]
    assert np.all(rows[:, 4] == 0.0) and set(np.unique(y)) == {0.0, 1.0}
    a = S.ALPHA / 8
    for i in range(3):
        for j in range(i + 1):
            S.assert_mean(X[:, i] * X[:, j], COV3[i][j], f"E x_{i} x_{j}", alpha=a)
    u = X @ fam.weight_vector
    p = special.expit(u)
    res = y - p
    S.assert_mean(res, 0.0, "E (y - p)", alpha=a, se=np.sqrt(np.sum(p * (1 - p))) / y.size)
    S.assert_mean(res * u, 0.0, "E (y - p) x'w*", alpha=a, se=np.sqrt(np.sum(p * (1 - p) * u * u)) / y.size)


@pytest.mark.parametrize("ridge", [0.0, 0.7])
def test_the_fit_is_scipys_mle_on_the_same_rows(ridge):
    """The kernel's w after one generation equals the (penalised) MLE that
    scipy.optimize finds on the same rows, to 1e-8 (the Newton stopping rule
    is 1e-10 relative; scipy's gtol 1e-12)."""
    d = 3
    fam = ms.Logistic(dim=d, cov=COV3, weights=[1.0, -0.5, 0.3], ridge=ridge)
    ds = run(ms.Config(family=fam, loop=ms.Accumulate(synthetic=60)), 6, 1, seed=5)
    assert np.all(ds["skipped"].values == 0)
    for r, rows in enumerate(pool_rows(ds, d)):
        ref = mle(rows, d, ridge)
        assert np.allclose(ds["w"].values[r, -1], ref, rtol=1e-8, atol=1e-8), (r, ds["w"].values[r, -1], ref)


def test_skipped_fits_are_exactly_the_separable_ones():
    """d = 2, 5 rows per fit: the labels are often linearly separable (no MLE).
    The kernel skips a fit (keeps w*) exactly where scipy.optimize.linprog
    finds a w with (2y - 1) x'w >= 1 on every row; the others converge. With
    ridge > 0 no fit is skipped."""
    d = 2
    ds = run(ms.Config(family=ms.Logistic(dim=d), loop=ms.Accumulate(synthetic=5)), 300, 1, seed=2)
    separable = []
    for rows in pool_rows(ds, d):
        s = 2.0 * rows[:, d] - 1.0
        lp = optimize.linprog(
            np.zeros(d),
            A_ub=-(s[:, None] * rows[:, :d]),
            b_ub=-np.ones(len(rows)),
            bounds=[(None, None)] * d,
            method="highs",
        )
        separable.append(lp.status == 0)
    separable = np.array(separable)
    skipped = ds["skipped"].values[:, -1] == 1
    assert 30 < separable.sum() < 270  # both kinds occur
    assert np.array_equal(skipped, separable)
    w = ds["w"].values[:, -1]
    assert np.all(np.isfinite(w)) and np.all(w[skipped] == ds["w"].values[skipped, 0])
    assert np.all(ds["iterations"].values[~skipped, -1] < 50)
    ridge = run(
        ms.Config(family=ms.Logistic(dim=d, ridge=0.5), loop=ms.Accumulate(synthetic=5)), 300, 1, seed=2
    )
    assert np.all(ridge["skipped"].values == 0)


def test_too_few_rows_skip_without_a_nan():
    cfg = ms.Config(family=ms.Logistic(dim=3), loop=ms.Replace(n=4))
    ds = run(cfg, 100, 5, seed=1, record=ms.every(1))
    assert np.all(np.isfinite(ds["w"].values)) and ds["skipped"].values.max() > 0
    # a skipped generation keeps the model
    kept = np.diff(ds["skipped"].values, axis=1) == 1
    w = ds["w"].values
    assert np.array_equal(w[:, 1:][kept], w[:, :-1][kept])


def test_fisher_information_matches_monte_carlo():
    """I(w*) = E[p(1-p) x x'] against 3 x 10^5 draws (numpy, fixed seed): every
    entry within 5 standard errors; I(0) = Sigma / 4 exactly."""
    w = np.array([1.0, -0.5, 0.3])
    info = theory.logistic_fisher_information(w, COV3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3 * 10**5, 3)) @ np.linalg.cholesky(COV3).T
    p = special.expit(x @ w)
    terms = (p * (1 - p))[:, None, None] * x[:, :, None] * x[:, None, :]
    mc, se = terms.mean(axis=0), terms.std(axis=0) / np.sqrt(x.shape[0])
    assert np.all(np.abs(mc - info) < 5 * se)
    assert np.array_equal(theory.logistic_fisher_information(np.zeros(3), COV3), np.array(COV3) / 4)


# ---------------------------------------------------------------- theory (docs/theory/logistic.md)


def test_replace_and_accumulate_follow_the_first_order_law_quick():
    """d = 2, n = 1000, 600 replicas: replace at t = 4 (~ t d / n) and
    accumulate at t = 4 (~ (d / n) sum 1/i^2), each within its stated
    tolerance plus a z-test (alpha/2 each); and accumulate's error is below
    replace's (the pi^2/6 pathway)."""
    fam = ms.Logistic(dim=2)
    rep = ms.Config(family=fam, loop=ms.Replace(n=1000))
    acc = ms.Config(family=fam, loop=ms.Accumulate(synthetic=1000))
    a = run(rep, 600, 4, seed=21)["fisher_error"].values[:, -1]
    b = run(acc, 600, 4, seed=22)["fisher_error"].values[:, -1]
    assert_first_order(a, rep, 4, "replace t=4", alpha=S.ALPHA / 2)
    assert_first_order(b, acc, 4, "accumulate t=4", alpha=S.ALPHA / 2)
    assert b.mean() < 0.6 * a.mean()


@pytest.mark.slow
@pytest.mark.parametrize("design", ["fresh", "fixed"])
def test_first_order_laws_at_many_replicas(design):
    """d = 2, n = 2000, 4000 replicas: replace at t = 1, 5, 10, accumulate at
    t = 10, fresh (m = 1000 real, k = 1000 synthetic) at t = 10, each within
    its stated tolerance plus a z-test; 5 comparisons, alpha/5 each (false-fail
    rate <= 1e-5 per design where the laws hold to the tolerance)."""
    fam = ms.Logistic(dim=2, design=design)
    a = S.ALPHA / 5
    rep = ms.Config(family=fam, loop=ms.Replace(n=2000))
    ds = run(rep, 4000, 10, seed=31, record=[1, 5, 10])
    for t in (1, 5, 10):
        assert_first_order(ds["fisher_error"].sel(generation=t).values, rep, t, f"replace t={t}", a)
    acc = ms.Config(family=fam, loop=ms.Accumulate(synthetic=2000))
    assert_first_order(
        run(acc, 4000, 10, seed=32)["fisher_error"].values[:, -1], acc, 10, "accumulate t=10", a
    )
    fr = ms.Config(family=fam, loop=ms.Fresh(real=1000, synthetic=1000))
    assert_first_order(run(fr, 4000, 10, seed=33)["fisher_error"].values[:, -1], fr, 10, "fresh t=10", a)


def test_the_law_fails_where_stated_small_n():
    """Where the law is not claimed: n = 10 d rows, replace, t = 5. Fits are
    skipped (separation) and the error departs from t d / n by far more than
    any tolerance (here: the mean over unskipped replicas exceeds it by
    > 30 %)."""
    cfg = ms.Config(family=ms.Logistic(dim=2, weights=2.0), loop=ms.Replace(n=20))
    ds = run(cfg, 400, 5, seed=4)
    assert ds["skipped"].values[:, -1].sum() > 0
    ok = ds["skipped"].values[:, -1] == 0
    assert ds["fisher_error"].values[ok, -1].mean() > 1.3 * float(
        theory.logistic_replace_fisher_error(5, 20, 2)
    )


# ---------------------------------------------------------------- reproducibility


def test_threads_chunks_replica_subsets_and_resume_change_no_number():
    cfg = ms.Config(
        family=ms.Logistic(dim=3, cov=COV3, design="fixed"), loop=ms.Accumulate(synthetic=6, real=3)
    )
    a = run(cfg, 6, 8, seed=4, record=ms.every(2), threads=1)
    b = run(cfg, 6, 8, seed=4, record=ms.every(2), threads=3, chunk=3)
    c = run(cfg, [4, 1], 8, seed=4, record=ms.every(2))
    for v in ("w", "state", "iterations", "skipped"):
        assert np.array_equal(a[v].values, b[v].values), v
    assert np.array_equal(a["w"].values[[4, 1]], c["w"].values)
    part = ms.resume(run(cfg, 6, 4, seed=4, record=ms.every(2)), generations=8)
    assert np.array_equal(a["w"].values, part["w"].values)


def test_generation_zero_is_the_truth_and_counts_are_recorded():
    fam = ms.Logistic(dim=2, weights=[3.0, 4.0], ridge=0.1)
    ds = run(ms.Config(family=fam, loop=ms.Fresh(real=30, synthetic=50)), 2, 2, seed=1, record=[0, 2])
    g0 = ds.sel(generation=0)
    assert np.all(g0["w"].values == [3.0, 4.0]) and np.all(g0["w_norm"].values == 5.0)
    assert np.all(g0["fisher_error"].values == 0.0) and np.all(g0["iterations"].values == 0)
    assert np.all(ds["points_real"].sel(generation=2).values == 30)
    assert np.all(ds["points_synthetic"].sel(generation=2).values == 50)
    assert ds["fisher_error"].attrs["truth_value"] == 0.0
    lean = ms.simulate(
        ms.Config(family=fam, loop=ms.Replace(n=20)), replicas=2, generations=1, seed=1, progress=False
    )
    assert set(lean.data_vars) == {"w", "fisher_error", "w_error", "skipped", "state"}


def test_config_round_trips_and_loads_from_toml():
    import json

    from madsim import toml_config

    cfg = ms.Config(
        family=ms.Logistic(
            dim=2,
            weights=[1.0, 2.0],
            cov=[[1.0, 0.3], [0.3, 2.0]],
            design="fixed",
            ridge=0.1,
            tol=1e-9,
            max_iter=30,
        ),
        loop=ms.Accumulate(synthetic=6, real=2),
    )
    assert ms.Config.from_dict(json.loads(cfg.to_json())) == cfg
    text = """
[family]
type = "Logistic"
dim = 2
weights = [1.0, 2.0]
cov = [[1.0, 0.3], [0.3, 2.0]]
design = "fixed"
ridge = 0.1
tol = 1e-9
max_iter = 30
[loop]
type = "Accumulate"
synthetic = 6
real = 2
"""
    assert toml_config.loads(text)[0] == cfg


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs,err,match",
    [
        (dict(dim=0), ValueError, r"Logistic.dim"),
        (dict(dim=2.5), TypeError, r"Logistic.dim"),
        (dict(dim=2, weights=[1.0]), ValueError, r"Logistic.weights must have dim = 2 entries"),
        (dict(dim=2, weights="a"), TypeError, r"Logistic.weights"),
        (dict(dim=2, cov=[[1.0, 2.0], [2.0, 1.0]]), ValueError, r"Logistic.cov must be positive definite"),
        (dict(dim=2, cov=[[1.0]]), ValueError, r"Logistic.cov must be 2 x 2"),
        (dict(ridge=-1.0), ValueError, r"Logistic.ridge"),
        (dict(design="random"), ValueError, r"Logistic.design"),
        (dict(tol=0.0), ValueError, r"Logistic.tol"),
        (dict(tol=0.1), ValueError, r"Logistic.tol"),
        (dict(max_iter=0), ValueError, r"Logistic.max_iter"),
        (dict(max_iter=5.5), TypeError, r"Logistic.max_iter"),
    ],
)
def test_bad_family_raises(kwargs, err, match):
    with pytest.raises(err, match=match):
        ms.Logistic(**kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(loop=ms.Replace(n=5)), r"at least dim \+ 1 = 6 rows"),
        (dict(path="exact"), r"Config.path='exact': Logistic runs path='samples' only"),
        (dict(estimator="unbiased"), r"Config.estimator='unbiased' has no meaning for Logistic"),
        (dict(temperature=2.0), r"Config.temperature is not supported by Logistic"),
        (dict(truncation=2.0), r"Config.truncation is not supported by Logistic"),
        (dict(top_k=2), r"Config.top_k is not supported by Logistic"),
        (dict(filter=ms.Filter(tpr=0.1)), r"Config.filter is not supported by Logistic"),
        (dict(loop=ms.Fresh(real=10, synthetic=10), weight=0.5), r"Config.weight is not supported"),
        (
            dict(family=ms.Logistic(dim=5, design="fixed"), loop=ms.Replace(n=[10, 12])),
            r"Replace.n must be a constant integer",
        ),
        (dict(family=ms.Logistic(dim=5, weights=50.0)), r"signal's standard deviation .* above 40"),
    ],
)
def test_bad_config_raises(kwargs, match):
    kw = {"family": ms.Logistic(dim=5), "loop": ms.Replace(n=20), **kwargs}
    with pytest.raises(ValueError, match=match):
        ms.simulate(ms.Config(**kw), replicas=1, generations=1, progress=False)


def test_kernel_params_refuse_bad_values():
    from madsim._backend import core

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
    for change, msg in [
        (dict(loop=5), "loop must be"),
        (dict(design=2), "design must be"),
        (dict(loop=3, pool_cap=-1), "pool_cap must lie"),
        (dict(truth=truth[:3]), "truth: axis 0"),
        (dict(counts=np.array([[0.0, 2.5]])), "counts must be integers"),
    ]:
        with pytest.raises(ValueError, match=msg):
            core.LogisticParams(**{**good, **change})


def test_validate_measures_z_beyond_the_stated_tolerance():
    """Comparison.rel_tol: a Monte Carlo mean inside theory (1 +- rel_tol)
    has z = 0; outside, z counts only the excess; rel_tol = 0 is the plain
    z-test."""
    from madsim.validate.records import Case, Comparison
    from madsim.validate.runner import run_case

    cfg = ms.Config(family=ms.Logistic(dim=2), loop=ms.Replace(n=200))

    def values(ds, t):
        return ds["fisher_error"].sel(generation=t).values

    def case(theory_value, rel_tol):
        return Case(
            "rel-tol",
            "rel_tol",
            cfg,
            200,
            (Comparison("E fisher_error", 1, "mean", values, lambda: theory_value, rel_tol=rel_tol),),
        )

    mc = run_case(case(1.0, 0.0), 4.0)[0][0].mc
    inside, outside, plain = (
        run_case(case(th, tol), 4.0)[0][0] for th, tol in ((mc * 1.2, 0.3), (mc * 3.0, 0.1), (mc * 1.2, 0.0))
    )
    assert inside.z == 0.0 and inside.passed
    assert not outside.passed and outside.z < 0
    assert plain.z == pytest.approx((mc - mc * 1.2) / plain.se)
    assert outside.z == pytest.approx((mc - mc * 3.0 + 0.1 * mc * 3.0) / outside.se)
