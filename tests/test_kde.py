"""The KDE family (a Gaussian kernel density estimate refit on its own
samples): configuration errors; the fit against scipy.stats.gaussian_kde and
numpy on the same points; the nll against scipy on the same points and test
set, and without underflow; the sampler's law; skipped fits; the kernel
against its JAX twin on hypothesis-drawn configurations (and a perturbed
twin that fails); threads, chunks, subsets and resume; Monte Carlo against
docs/theory/kde.md (a quick test and a slow one); the memory refusals.

Statistical assertions use tests/stats.py (ALPHA = 1e-5 per assertion,
Bonferroni within a test; fixed seeds: deterministic)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logsumexp

import madsim as ms
from madsim import rng, theory
from madsim._backend import core
from madsim.families.kde import KDE_COUNTERS, KDE_METRICS, KDE_SUMMARY, kde_truth

import strategies as S  # noqa: F401  (loads the hypothesis profile)
from stats import ALPHA, assert_ks, assert_mean

COV2 = [[1.0, 0.4], [0.4, 0.5]]


def cfg_of(loop=None, **kw):
    cfg_kw = {
        k: kw.pop(k)
        for k in ("temperature", "filter", "estimator", "path", "truncation", "weight", "top_k")
        if k in kw
    }
    return ms.Config(family=ms.KDE(**kw), loop=loop or ms.Replace(n=20), **cfg_kw)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(dim=0), ValueError, r"KDE.dim must be an integer in \[1, 64\]; got 0"),
        (dict(dim=65), ValueError, "KDE.dim"),
        (dict(dim=2, mean=[0.0]), ValueError, "KDE.mean must have dim = 2 entries; got 1"),
        (dict(var=0.0), ValueError, "KDE.var must be a finite number > 0"),
        (dict(var=2.0, cov=[[1.0]]), ValueError, "either var"),
        (dict(dim=2, cov=[[1.0, 2.0], [2.0, 1.0]]), ValueError, "KDE.cov"),
        (
            dict(bandwidth=0.0),
            ValueError,
            "KDE.bandwidth must be a finite number h > 0 or one of 'scott', 'silverman'; got 0.0",
        ),
        (dict(bandwidth=float("inf")), ValueError, "KDE.bandwidth"),
        (
            dict(bandwidth="normal_reference"),
            ValueError,
            "or one of 'scott', 'silverman'; got 'normal_reference'",
        ),
        (dict(bandwidth=True), TypeError, "KDE.bandwidth must be a finite number h > 0 or one of"),
        (dict(bandwidth=None), TypeError, "KDE.bandwidth"),
        (dict(test_points=0), ValueError, r"KDE.test_points must be an integer in \[1, 4294967296\]; got 0"),
        (dict(test_points=10.0), TypeError, "KDE.test_points"),
        (
            dict(dim=4, test_points=2**30 + 1),
            ValueError,
            r"KDE.test_points must be an integer in \[1, 1073741824\]",
        ),
    ],
)
def test_bad_family(kw, exc, match):
    with pytest.raises(exc, match=match):
        ms.KDE(**kw)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(path="exact"), "KDE needs path='samples'"),
        (dict(estimator="unbiased"), "Config.estimator must be 'mle' for KDE"),
        (dict(temperature=0.9), "Config.temperature must be 1 for KDE"),
        (dict(truncation=2.0), "Config.truncation is not available for KDE"),
        (dict(filter=ms.Filter(0.1, 0.0)), "Config.filter is not available for KDE"),
        (dict(top_k=3), "Config.top_k applies to token families"),
    ],
)
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        cfg_of(**kw)


def test_refused_weight_and_too_few_points():
    with pytest.raises(ValueError, match="Config.weight is not available for KDE"):
        ms.Config(family=ms.KDE(), loop=ms.Fresh(real=5, synthetic=5), weight=0.5)
    with pytest.raises(ValueError, match=r"a fit needs at least dim \+ 1 = 3 points"):
        ms.Config(family=ms.KDE(dim=2, cov=COV2, bandwidth="scott"), loop=ms.Replace(n=2))
    # a fixed bandwidth fits one point
    ds = ms.simulate(
        ms.Config(family=ms.KDE(bandwidth=0.5), loop=ms.Accumulate(synthetic=1)),
        replicas=2,
        generations=3,
        seed=1,
        progress=False,
        metrics="all",
    )
    assert np.all(ds["var"].values[:, 1] == 0.0) and np.all(ds["skipped"].values == 0)
    assert np.all(ds["bandwidth"].values[:, 1:] == 0.5)


def test_params_checked_like_the_kernel():
    args = dict(
        d=1,
        loop=0,
        rule=0,
        h=0.5,
        real_fixed=0.0,
        test_points=10,
        truth=np.array([0.0, 1.0]),
        counts=np.zeros((3, 2)),
    )
    core.KDEParams(**args)
    for bad, match in [
        (dict(d=0), "d must lie"),
        (dict(loop=5), "loop must be"),
        (dict(rule=3), "rule must"),
        (dict(test_points=0), "test_points"),
        (dict(truth=np.array([0.0])), "truth: axis 0"),
        (dict(counts=np.full((3, 2), 0.5)), "counts must be integers"),
        (dict(loop=3, pool_cap=0), "pool_cap"),
        (dict(counts=np.full((2, 2), 2.0**28 + 1)), "2\\*\\*28 doubles"),
    ]:
        with pytest.raises(ValueError, match=match):
            core.KDEParams(**{**args, **bad})
    with pytest.raises(TypeError, match="truth: expected dtype float64"):
        core.KDEParams(**{**args, "truth": np.array([0, 1])})


def test_toml_round_trip():
    cfg = ms.Config(
        family=ms.KDE(dim=2, cov=COV2, bandwidth=0.25, test_points=50),
        loop=ms.Accumulate(synthetic=5, real=1),
    )
    assert ms.Config.from_dict(cfg.to_dict()) == cfg
    fam = ms.Config.from_dict(ms.Config(family=ms.KDE(bandwidth="scott")).to_dict()).family
    assert fam.bandwidth == "scott" and fam.rule == "scott"


# --- the fit against scipy.stats.gaussian_kde and numpy ----------------------------------------


def _unpack(packed, d):
    A = np.zeros((d, d))
    A[np.tril_indices(d)] = packed
    return A


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("rule", ["scott", "silverman"])
def test_fit_is_scipy_gaussian_kde(d, rule):
    X = np.random.default_rng(d).normal(size=(40, d)) @ np.tril(np.ones((d, d)))
    fam = ms.KDE(dim=d, bandwidth=rule)
    p = core.KDEParams(
        d=d,
        loop=0,
        rule={"scott": 1, "silverman": 2}[rule],
        h=0.0,
        real_fixed=0.0,
        test_points=1,
        truth=kde_truth(fam),
        counts=np.full((1, 2), [0.0, 40.0]),
    )
    ok, mean, S, L = core.kde_fit(p, X)
    assert ok
    kde = stats.gaussian_kde(X.T, bw_method=rule)
    Lh = _unpack(L, d)
    np.testing.assert_allclose(Lh @ Lh.T, np.atleast_2d(kde.covariance), rtol=1e-12)
    np.testing.assert_allclose(mean, X.mean(0), rtol=1e-13, atol=1e-14)
    Sd = _unpack(S, d)
    np.testing.assert_allclose(
        np.tril(Sd), np.tril(np.atleast_2d(np.cov(X.T, bias=True))), rtol=1e-12, atol=1e-14
    )
    assert kde.factor**2 == pytest.approx(fam.factor_sq(40), rel=1e-14)


def test_fit_refuses_what_scipy_cannot_fit():
    fam = ms.KDE(dim=2, bandwidth="scott")
    p = core.KDEParams(
        d=2,
        loop=0,
        rule=1,
        h=0.0,
        real_fixed=0.0,
        test_points=1,
        truth=kde_truth(fam),
        counts=np.zeros((1, 2)),
    )
    line = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [-1.0, -2.0]])  # rank 1 in 2-D
    assert not core.kde_fit(p, line)[0]
    with pytest.raises(np.linalg.LinAlgError):
        stats.gaussian_kde(line.T)
    assert not core.kde_fit(p, np.ones((1, 2)))[0]
    assert core.kde_fit(p, line + np.array([[0.0, 0.1], [0.0, 0.0], [0.3, 0.0], [0.0, 0.0]]))[0]


# --- the nll against scipy, and no underflow ---------------------------------------------------


def _model_of(ds, fam, r):
    """(points [n, d], kernel covariance H, test set [m, d]) of replica r's state."""
    d = fam.dim
    row = ds["state"].values[r]
    T = d * (d + 1) // 2
    n = int(row[0])
    Lh = _unpack(row[1 : 1 + T], d)
    pts = row[1 + T + 3 + 3 + d + T :][: n * d].reshape(n, d)
    z = rng.normals(
        int(ds.attrs["seed"]),
        fam.test_points * d,
        replica=int(ds["replica"].values[r]),
        generation=0,
        tag="real",
        site=2,
    ).reshape(-1, d)
    y = fam.mean_vector + z @ np.linalg.cholesky(fam.cov_matrix).T
    return pts, Lh @ Lh.T, y


@pytest.mark.parametrize("d, rule", [(1, "silverman"), (2, "scott"), (3, "silverman")])
def test_nll_is_scipy_gaussian_kde_logpdf(d, rule):
    fam = ms.KDE(
        dim=d, cov=np.eye(d) + 0.3 * np.ones((d, d)) if d > 1 else None, bandwidth=rule, test_points=64
    )
    ds = ms.simulate(
        ms.Config(family=fam, loop=ms.Replace(n=25)),
        replicas=[3, 11],
        generations=2,
        seed=5,
        metrics=["nll"],
        progress=False,
    )
    for r in range(2):
        pts, H, y = _model_of(ds, fam, r)
        kde = stats.gaussian_kde(pts.T, bw_method=rule)
        np.testing.assert_allclose(np.atleast_2d(kde.covariance), H, rtol=1e-11)
        want = -float(np.mean(kde.logpdf(y.T)))
        assert float(ds["nll"].values[r, -1]) == pytest.approx(want, rel=1e-11)
    # generation 0 is the truth: the nll of its own draws, near its entropy
    got0 = ds["nll"].values[:, 0]
    _, _, y = _model_of(ds, fam, 0)
    np.testing.assert_allclose(
        got0[0], -stats.multivariate_normal(fam.mean_vector, fam.cov_matrix).logpdf(y).mean(), rtol=1e-12
    )
    assert ds["nll"].attrs["truth_value"] == pytest.approx(fam.entropy)


def test_nll_never_underflows():
    """A tiny fixed bandwidth puts every test point thousands of kernel widths
    from the points: exp(-|z|^2 / 2) is 0 in float64 for every kernel, the
    log-sum-exp keeps the nll finite and exact."""
    fam = ms.KDE(bandwidth=1e-3, test_points=16)
    ds = ms.simulate(
        ms.Config(family=fam, loop=ms.Replace(n=4)),
        replicas=1,
        generations=1,
        seed=2,
        metrics=["nll"],
        progress=False,
    )
    pts, H, y = _model_of(ds, fam, 0)
    l = -0.5 * (y[:, None, 0] - pts[None, :, 0]) ** 2 / H[0, 0]
    assert np.all(np.exp(l) == 0.0)
    want = -np.mean(logsumexp(l, axis=1) - np.log(4) - 0.5 * np.log(2 * np.pi * H[0, 0]))
    got = float(ds["nll"].values[0, -1])
    assert np.isfinite(got) and got > 1e4
    assert got == pytest.approx(want, rel=1e-12)


# --- the metrics against their definitions -----------------------------------------------------


def test_tails_and_w2_bound_against_definitions():
    fam = ms.KDE(dim=2, mean=[1.0, -1.0], cov=COV2, bandwidth=0.3)
    ds = ms.simulate(
        ms.Config(family=fam, loop=ms.Fresh(real=3, synthetic=9)),
        replicas=1,
        generations=3,
        seed=4,
        metrics="all",
        progress=False,
    )
    pts, H, _ = _model_of(ds, fam, 0)
    mu0, s0 = fam.mean_vector, np.sqrt(np.diag(fam.cov_matrix))
    s = np.sqrt(np.diag(H))
    for k in (2, 3, 4):
        mass = stats.norm.cdf((mu0 - k * s0 - pts) / s) + stats.norm.sf((mu0 + k * s0 - pts) / s)
        assert float(ds[f"tail{k}"].values[0, -1]) == pytest.approx(mass.mean(), rel=1e-12)
        assert ds[f"tail{k}"].values[0, 0] == pytest.approx(2 * stats.norm.sf(k), rel=1e-12)
    C = np.cov(pts.T, bias=True) + H
    m = pts.mean(0)
    from scipy.linalg import sqrtm

    r0 = np.real(sqrtm(fam.cov_matrix))
    w2 = np.sum((m - mu0) ** 2) + np.trace(C + fam.cov_matrix - 2 * np.real(sqrtm(r0 @ C @ r0)))
    assert float(ds["w2_sq_lower"].values[0, -1]) == pytest.approx(w2, rel=1e-9)
    assert float(ds["bandwidth"].values[0, -1]) == pytest.approx(0.3, rel=1e-15)
    assert float(ds["model_var"].values[0, -1]) == pytest.approx(np.trace(C), rel=1e-12)
    np.testing.assert_allclose(ds["cov"].values[0, -1], np.cov(pts.T, bias=True), rtol=1e-12)
    assert ds["points_real"].values[0, -1] == 3 and ds["points_synthetic"].values[0, -1] == 9


def test_lean_default_and_all():
    ds = ms.simulate(cfg_of(), replicas=2, generations=2, seed=1, progress=False)
    assert set(ds.data_vars) - {"state"} == {"mean", "var", "bandwidth", "model_var"}
    ds = ms.simulate(cfg_of(dim=2), replicas=2, generations=2, seed=1, progress=False)
    assert set(ds.data_vars) - {"state"} == {"mean", "cov", "trace", "bandwidth", "model_var"}
    ds = ms.simulate(cfg_of(), replicas=2, generations=2, seed=1, progress=False, metrics="all")
    assert {*KDE_COUNTERS, *KDE_SUMMARY, *KDE_METRICS} <= set(ds.data_vars)


# --- the sampler's law, skipped fits -----------------------------------------------------------


def test_draws_follow_the_kde():
    """Generation 2's points are draws of model 1: their PIT under replica r's
    model-1 KDE is uniform (pooled over replicas)."""
    fam = ms.KDE(bandwidth="silverman")
    cfg = ms.Config(family=fam, loop=ms.Replace(n=30))
    one = ms.simulate(cfg, replicas=400, generations=1, seed=9, progress=False)
    two = ms.resume(one, 2, progress=False)
    T = 1
    u = []
    for r in range(400):
        a, b = one["state"].values[r], two["state"].values[r]
        h = a[1]
        pa = a[1 + T + 6 + 1 + T :][:30]
        pb = b[1 + T + 6 + 1 + T :][:30]
        u.append(stats.norm.cdf((pb[:, None] - pa[None, :]) / h).mean(1))
    assert_ks(np.concatenate(u), "uniform", "PIT of generation 2's points under model 1")


def one_point(t):
    return 1


def test_skipped_fit_keeps_the_model():
    """Accumulate with one point a generation under a rule (a callable
    schedule, checked only per generation): generation 1's pool of one point
    cannot be fitted (the truth is kept, its draw counted), generation 2's can."""
    cfg = ms.Config(family=ms.KDE(bandwidth="scott"), loop=ms.Accumulate(synthetic=one_point, real=0))
    ds = ms.simulate(cfg, replicas=3, generations=3, seed=1, metrics="all", progress=False)
    np.testing.assert_array_equal(ds["skipped"].values, [[0, 1, 1, 1]] * 3)
    np.testing.assert_array_equal(ds["bandwidth"].values[:, 1], 0.0)
    np.testing.assert_array_equal(ds["var"].values[:, 1], 1.0)  # the truth's, kept
    assert np.all(ds["bandwidth"].values[:, 2:] > 0) and np.all(ds["points_synthetic"].values[:, 3] == 3)
    assert all(np.all(np.isfinite(ds[v].values)) for v in ds.data_vars)


# --- the kernel against its JAX twin -----------------------------------------------------------

RTOL = 1e-9  # parameters, metrics: XLA sums and solves in another order (observed < 1e-12)
NLL_RTOL = 1e-9
EXACT = ("points_real", "points_synthetic", "skipped")
GENERATIONS = 3


def _close(x, y, rtol):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.max(np.abs(x - y) / np.maximum(np.abs(x), 1.0), initial=0.0) <= rtol


@st.composite
def configs(draw):
    d = draw(st.sampled_from([1, 2]))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = r.normal(size=(d, d))
    fam = ms.KDE(
        dim=d,
        mean=r.normal(0.0, 2.0, d).tolist(),
        cov=(A @ A.T + 0.3 * np.eye(d)).tolist(),
        bandwidth=draw(st.sampled_from(["scott", "silverman"]) | st.floats(0.05, 2.0)),
        test_points=8,
    )
    loop = draw(
        st.sampled_from(
            [
                ms.Replace(n=12),
                ms.Fresh(real=3, synthetic=9),
                ms.Augment(real=4, synthetic=8),
                ms.Accumulate(real=1, synthetic=5),
                ms.AccumulateSubsample(n=10, real=2, synthetic=5),
            ]
        )
    )
    return ms.Config(family=fam, loop=loop)


def run(cfg, backend, seed, ids):
    return ms.simulate(
        cfg,
        replicas=ids,
        generations=GENERATIONS,
        seed=seed,
        record=ms.every(1),
        metrics="all",
        backend=backend,
        progress=False,
        threads=2,
    )


def assert_twins_agree(cfg, seed, ids):
    a, b = run(cfg, "cpu", seed, ids), run(cfg, "jax", seed, ids)
    bad = [v for v in EXACT if not np.array_equal(a[v].values, b[v].values)]
    for v in a.data_vars:
        if v not in EXACT and not _close(a[v].values, b[v].values, NLL_RTOL if v == "nll" else RTOL):
            bad.append(f"{v}: {np.abs(a[v].values - b[v].values).max():.3g}")
    assert not bad, f"twins differ ({cfg}, seed {seed}, replicas {ids}): {bad}"
    assert all(np.all(np.isfinite(a[v].values)) for v in a.data_vars), "a NaN or inf"


# each example compiles a twin (~2 s): two in the default run, more under -m slow
@settings(max_examples=S.examples(2), deadline=None)
@given(cfg=configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_kernel_and_twin_agree_on_drawn_configs(cfg, seed, ids):
    pytest.importorskip("jax")
    assert_twins_agree(cfg, seed, ids)


@pytest.mark.slow
@settings(max_examples=S.examples(16), deadline=None)
@given(cfg=configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_kernel_and_twin_agree_on_many_drawn_configs(cfg, seed, ids):
    pytest.importorskip("jax")
    assert_twins_agree(cfg, seed, ids)


def test_a_perturbed_twin_fails(monkeypatch):
    """The comparison can fail: a twin whose kernel factor is 1e-4 too wide."""
    jax = pytest.importorskip("jax")
    from madsim.reference import kde

    cfg = ms.Config(family=ms.KDE(bandwidth="silverman", test_points=8), loop=ms.Replace(n=12))
    a = run(cfg, "cpu", 3, [0, 1, 2, 3])
    real = kde.fit

    def wrong(p, X, mask):
        ok, m, S, L = real(p, X, mask)
        return ok, m, S, L * 1.0001

    monkeypatch.setattr(kde, "fit", wrong)
    jax.clear_caches()  # an earlier test may have compiled this very configuration
    try:
        b = run(cfg, "jax", 3, [0, 1, 2, 3])
    finally:
        jax.clear_caches()  # no later test may reuse the perturbed program
    assert not _close(a["bandwidth"].values, b["bandwidth"].values, RTOL)
    assert not _close(a["nll"].values, b["nll"].values, NLL_RTOL)


# --- reproducibility ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loop",
    [
        ms.Fresh(real=3, synthetic=9),
        ms.Accumulate(real=1, synthetic=4),
        ms.AccumulateSubsample(n=8, real=1, synthetic=4),
    ],
)
def test_threads_chunks_subsets_and_resume_change_no_number(loop):
    cfg = ms.Config(family=ms.KDE(dim=2, cov=COV2, bandwidth="scott", test_points=16), loop=loop)
    kw = dict(generations=8, seed=8, progress=False, metrics="all")
    a = ms.simulate(cfg, replicas=6, threads=1, **kw)
    b = ms.simulate(cfg, replicas=6, threads=2, chunk=3, **kw)
    c = ms.simulate(cfg, replicas=[4, 1], **kw)
    d = ms.resume(ms.simulate(cfg, replicas=6, **{**kw, "generations": 3}), 8, progress=False)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
        np.testing.assert_array_equal(a[v].values[[4, 1]], c[v].values, err_msg=v)
        np.testing.assert_array_equal(a[v].values, d[v].values, err_msg=v)


def test_accumulate_model_is_the_whole_pool():
    cfg = ms.Config(family=ms.KDE(bandwidth=0.2), loop=ms.Accumulate(real=2, synthetic=3))
    ds = ms.simulate(cfg, replicas=2, generations=4, seed=3, metrics="all", progress=False)
    np.testing.assert_array_equal(ds["points_real"].values[:, 1:], [[2, 4, 6, 8]] * 2)
    np.testing.assert_array_equal(ds["points_synthetic"].values[:, 1:], [[3, 6, 9, 12]] * 2)
    row = ds["state"].values[0]
    pool = row[1 + 1 + 6 + 1 + 1 + 2 :][:20]
    assert row[0] == 20 and ds["var"].values[0, -1] == pytest.approx(pool.var(), rel=1e-12)


def test_memory_refusals():
    big = ms.Config(family=ms.KDE(dim=64, bandwidth=0.1), loop=ms.Replace(n=2**22 + 1))
    with pytest.raises(ValueError, match=r"2\*\*28 doubles per replica"):
        ms.simulate(big, replicas=1, generations=1, seed=1, progress=False)
    cfg = ms.Config(family=ms.KDE(bandwidth=0.1), loop=ms.Accumulate(synthetic=10**5, real=0))
    with pytest.raises(MemoryError, match="Accumulate keeps every point"):
        ms.simulate(cfg, replicas=10**5, generations=100, seed=1, progress=False)


# --- Monte Carlo against docs/theory/kde.md ----------------------------------------------------


def test_fixed_bandwidth_variance_settles_at_its_fixed_point():
    """E S_t = a^t + (n-1) h^2 (1 - a^(t-1)), n = 10, h = 0.5 (fixed point 2.25), 4000 replicas."""
    fam = ms.KDE(bandwidth=0.5)
    ds = ms.simulate(
        ms.Config(family=fam, loop=ms.Replace(n=10)), replicas=4000, generations=40, seed=11, progress=False
    )
    for t in (1, 5, 40):
        assert_mean(
            ds["var"].sel(generation=t).values,
            float(theory.kde_expected_var(fam, 10, t)),
            f"E var_{t}",
            alpha=ALPHA / 4,
        )
    assert_mean(
        ds["model_var"].sel(generation=40).values,
        float(theory.kde_expected_model_var(fam, 10, 40)),
        "E model_var_40",
        alpha=ALPHA / 4,
    )
    assert theory.kde_fixed_point(fam, 10) == pytest.approx(2.25)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fam, n",
    [
        (ms.KDE(bandwidth="silverman"), 40),
        (ms.KDE(dim=2, cov=COV2, bandwidth="scott"), 30),
        (ms.KDE(dim=3, bandwidth=0.3), 15),
    ],
)
def test_theory_by_monte_carlo(fam, n):
    """E S_t at t = 1, 4, 8 over 40,000 replicas; false-fail rate ALPHA (1e-5) for the test,
    Bonferroni over its 3 comparisons."""
    ds = ms.simulate(
        ms.Config(family=fam, loop=ms.Replace(n=n)), replicas=40_000, generations=8, seed=12, progress=False
    )
    name = "var" if fam.dim == 1 else "trace"
    for t in (1, 4, 8):
        assert_mean(
            ds[name].sel(generation=t).values,
            float(theory.kde_expected_var(fam, n, t)),
            f"E {name}_{t}",
            alpha=ALPHA / 3,
        )


def test_theory_constants():
    sil, sco = ms.KDE(bandwidth="silverman"), ms.KDE(bandwidth="scott")
    n = 50
    assert theory.kde_rule_constant(sil, n) == pytest.approx((4 / 3) ** 0.4 * n / (n - 1), rel=1e-14)
    assert theory.kde_rule_constant(sco, n) == pytest.approx(n / (n - 1), rel=1e-14)
    for fam in (sil, sco, ms.KDE(dim=3, bandwidth="silverman")):
        c2 = theory.kde_rule_constant(fam, n)
        g = (n - 1) / n * (1 + c2 * n ** (-2 / (fam.dim + 4)))
        assert theory.kde_var_factor(fam, n) == pytest.approx(g, rel=1e-14)
    with pytest.raises(ValueError, match="fixed bandwidth"):
        theory.kde_fixed_point(sil, 10)
    with pytest.raises(ValueError, match="n must be >= dim \\+ 1"):
        theory.kde_var_factor(ms.KDE(dim=3, bandwidth="scott"), 3)
    with pytest.raises(TypeError, match="madsim.KDE"):
        theory.kde_expected_var(ms.Gaussian(), 10, 1)
