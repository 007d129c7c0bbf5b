"""The mitigations: weighted regression (He, Xu, Cheng), tail reweighting and
self-correction (Gillman et al.) of the Gaussian (docs/guide/mitigations.md).

Bad input refused before the kernel runs; the kernel against its JAX twin on
drawn configurations (hypothesis; a perturbed twin is caught); the kernel
against numpy on the same draws where the refit is easy to write
(reweighting: the weighted moments of the replica's own normals); the closed
forms of docs/theory/mitigations.md and docs/theory/regression.md by Monte
Carlo (the long runs are ``slow``; ``madsim validate`` has the cases).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import madsim as ms
from madsim import theory
from madsim.theory import mitigations as mt
from madsim.theory import regression as rt

import strategies as S  # noqa: F401  (loads the hypothesis profile)

RTOL = 1e-10
INTEGER_VARS = ("points_real", "points_synthetic", "skipped")


# ---------------------------------------------------------------- errors before the kernel


@pytest.mark.parametrize(
    "kw,err,match",
    [
        (dict(reweight=ms.TailWeight(1.0, 2.0)), ValueError, "path='samples'"),
        (
            dict(
                reweight=ms.TailWeight(1.0, 2.0),
                path="samples",
                loop=ms.AccumulateSubsample(n=10, synthetic=10),
            ),
            ValueError,
            "AccumulateSubsample",
        ),
        (dict(reweight=ms.TailWeight(1.0, 2.0), family=ms.Categorical()), ValueError, "Gaussian only"),
        (
            dict(reweight=ms.TailWeight(1.0, 2.0), family=ms.PPCA(dim=4, factors=1), path="samples"),
            ValueError,
            "Gaussian only",
        ),
        (dict(reweight=(1.0, 2.0)), TypeError, "TailWeight"),
        (dict(reweight={"beta": 1.0, "kk": 2.0}), TypeError, "beta and k"),
        (dict(correction=0.0), ValueError, "Config.correction"),
        (dict(correction=1.5), ValueError, "Config.correction"),
        (dict(correction="half"), TypeError, "Config.correction"),
        (dict(correction=0.5, family=ms.Regression(dim=2)), ValueError, "Gaussian only"),
        (dict(correction=0.5, family=ms.GaussianMixture()), ValueError, "Gaussian only"),
        (
            dict(correction=0.5, loop=ms.AccumulateSubsample(n=10, synthetic=10), path="samples"),
            ValueError,
            "AccumulateSubsample",
        ),
        (
            dict(weight=0.5, family=ms.Regression(dim=2), loop=ms.Accumulate(synthetic=10)),
            ValueError,
            "Fresh or Augment",
        ),
        (
            dict(
                weight="optimal", family=ms.Regression(dim=2, ridge=0.1), loop=ms.Fresh(real=10, synthetic=10)
            ),
            ValueError,
            "ridge",
        ),
        (
            dict(weight="optimal", family=ms.Regression(dim=3), loop=ms.Fresh(real=4, synthetic=10)),
            ValueError,
            "more than dim \\+ 1",
        ),
    ],
)
def test_bad_mitigations_are_refused_naming_the_field(kw, err, match):
    with pytest.raises(err, match=match):
        ms.Config(**kw)


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(beta=0.0), "TailWeight.beta"),
        (dict(beta=-1.0), "TailWeight.beta"),
        (dict(k=-0.5), "TailWeight.k"),
        (dict(beta="x"), "TailWeight.beta"),
    ],
)
def test_tail_weight_checks_its_fields(kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        ms.TailWeight(**kw)


def test_configs_round_trip_and_old_json_is_unchanged():
    cfg = ms.Config(reweight=ms.TailWeight(0.5, 1.5), correction=0.25, path="samples")
    assert ms.Config.from_dict(cfg.to_dict()) == cfg
    assert ms.Config(reweight={"beta": 0.5, "k": 1.5}, path="samples").reweight == ms.TailWeight(0.5, 1.5)
    plain = ms.Config().to_dict()
    assert "reweight" not in plain and "correction" not in plain  # configs without them keep their JSON


def test_toml_reads_the_mitigations():
    from madsim import toml_config

    cfg, _ = toml_config.loads('path = "samples"\ncorrection = 0.3\nreweight = { beta = 2.0, k = 1.0 }\n')
    assert cfg.correction == 0.3 and cfg.reweight == ms.TailWeight(2.0, 1.0)
    with pytest.raises(toml_config.ConfigFileError, match="path='samples'"):
        toml_config.loads("reweight = { beta = 2.0, k = 1.0 }\n")


def test_theory_by_config_refuses_a_mitigated_config():
    with pytest.raises(NotImplementedError, match="mitigations"):
        theory.expected_var(ms.Config(correction=0.5), 3)


# ---------------------------------------------------------------- the kernel's law on the same draws


def test_reweighted_fit_is_the_weighted_mle_of_the_replicas_own_normals():
    """Generation 1 of the replace loop on the samples path: the model's
    normals are the consecutive normals of (TAG_SAMPLES, site 0) at counter
    generation 1 (madsim.rng), so numpy's weighted mean and weighted variance
    of them is what the kernel must fit."""
    n, beta, k, mu0, sd0 = 12, 1.5, 1.2, 0.7, 2.0
    cfg = ms.Config(
        family=ms.Gaussian(mean=mu0, var=sd0**2),
        loop=ms.Replace(n=n),
        path="samples",
        reweight=ms.TailWeight(beta, k),
    )
    ds = ms.simulate(cfg, replicas=[3, 9], generations=1, seed=42, metrics=["mean", "var"], progress=False)
    for i, r in enumerate((3, 9)):
        z = ms.rng.normals(42, replica=r, generation=1, tag="samples", site=0, count=n)
        w = np.where(np.abs(z) > k, 1.0 + beta, 1.0)
        x = mu0 + sd0 * z
        m = np.sum(w * x) / np.sum(w)
        v = np.sum(w * (x - m) ** 2) / np.sum(w)
        assert ds["mean"].values[i, 1] == pytest.approx(m, rel=1e-13)
        assert ds["var"].values[i, 1] == pytest.approx(v, rel=1e-12)


def test_correction_moves_a_one_d_model_as_the_transport_map_says():
    """Generation 2 of the 1-D replace loop: the corrected sample's mean and
    MLE variance from generation 1's model and the same normals (numpy)."""
    n, g, tau = 9, 0.4, 1.3
    cfg = ms.Config(loop=ms.Replace(n=n), path="samples", correction=g, temperature=tau)
    ds = ms.simulate(cfg, replicas=[5], generations=2, seed=7, metrics=["mean", "var"], progress=False)
    mu1, var1 = ds["mean"].values[0, 1], ds["var"].values[0, 1]
    z = ms.rng.normals(7, replica=5, generation=2, tag="samples", site=0, count=n)
    x = mu1 + tau * math.sqrt(var1) * z
    sd1 = math.sqrt(var1)
    y = (1 - g) * x + g * (0.0 + (1.0 / sd1) * (x - mu1))  # T(x) = mu0 + (sigma0 / sigma_1)(x - mu_1)
    assert ds["mean"].values[0, 2] == pytest.approx(y.mean(), rel=1e-12, abs=1e-14)
    assert ds["var"].values[0, 2] == pytest.approx(y.var(), rel=1e-11)


def test_correction_in_d_dims_keeps_the_exact_paths_large_n_limit():
    """n = 1e8 (exact path): Sigma_t follows s_{t+1} = tau ((1 - g) s_t + g)
    times Sigma0 to ~1e-4, the transport map's fixed point (any Sigma0)."""
    cov = [[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]]
    g, tau = 0.5, 1.2
    cfg = ms.Config(
        family=ms.Gaussian(dim=3, cov=cov), loop=ms.Replace(n=10**8), correction=g, temperature=tau
    )
    ds = ms.simulate(cfg, replicas=2, generations=3, seed=1, metrics=["cov"], progress=False)
    s = 1.0
    for t in range(1, 4):
        s = tau * ((1 - g) * s + g) if t > 1 else tau  # generation 1 fits the truth's draws
        np.testing.assert_allclose(ds["cov"].values[:, t], s * s * np.array([cov, cov]), atol=2e-3 * s * s)


# ---------------------------------------------------------------- kernel vs JAX twin


def run(cfg, backend, seed, ids, generations=3):
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
    bad = []
    for v in a.data_vars:
        x, y = a[v].values, b[v].values
        if v in INTEGER_VARS:
            if not np.array_equal(x, y):
                bad.append(f"{v}: integers differ")
            continue
        err = np.nanmax(np.abs(x - y) / np.maximum(np.abs(x), 1.0), initial=0.0)
        if not np.array_equal(np.isnan(x), np.isnan(y)) or err > RTOL:
            bad.append(f"{v}: relative error {err:.3g}")
    return bad


@st.composite
def gaussian_configs(draw):
    d = draw(st.sampled_from([1, 2, 3]))
    path = draw(st.sampled_from(["exact", "samples"]))
    loop = draw(
        st.sampled_from(
            [
                ms.Replace(n=6),
                ms.Fresh(real=3, synthetic=5),
                ms.Augment(real=4, synthetic=5),
                ms.Accumulate(synthetic=4, real=1),
            ]
        )
    )
    kw = dict(
        path=path, estimator=draw(st.sampled_from(["mle", "unbiased"])), temperature=draw(st.floats(0.7, 1.4))
    )
    if draw(st.booleans()) or path == "exact":
        kw["correction"] = draw(st.floats(0.05, 1.0))
    if path == "samples" and (draw(st.booleans()) or "correction" not in kw):
        kw["reweight"] = ms.TailWeight(draw(st.floats(0.1, 4.0)), draw(st.floats(0.3, 2.0)))
        if draw(st.booleans()):
            kw["truncation"] = 2.5
    cov = None
    if d > 1:
        a = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=d * d, max_size=d * d))).reshape(d, d)
        cov = (a @ a.T + 0.2 * np.eye(d)).tolist()
    fam = ms.Gaussian(dim=d, cov=cov, mean=draw(st.floats(-2.0, 2.0)))
    try:
        return ms.Config(family=fam, loop=loop, **kw)
    except ValueError:  # too few points for d = 3 in a part: the replace loop
        return ms.Config(family=fam, loop=ms.Replace(n=6), **kw)


@st.composite
def regression_configs(draw):
    d = draw(st.sampled_from([1, 3]))
    loop = draw(st.sampled_from([ms.Fresh(real=6, synthetic=5), ms.Augment(real=7, synthetic=6)]))
    fam = ms.Regression(
        dim=d,
        design=draw(st.sampled_from(["fresh", "fixed"])),
        ridge=draw(st.sampled_from([0.0, 0.3])),
        refit_noise=draw(st.booleans()),
    )
    return ms.Config(
        family=fam,
        loop=loop,
        weight=draw(st.floats(0.0, 1.0)),
        path=draw(st.sampled_from(["exact", "samples"])),
    )


def _agree(cfg, seed, ids):
    a, b = run(cfg, "cpu", seed, ids), run(cfg, "jax", seed, ids)
    bad = disagreements(a, b)
    assert not bad, f"{cfg}, seed {seed}, replicas {ids}: {bad}"


# Each drawn config compiles the twin (seconds): a few in CI, more under -m slow.
@settings(max_examples=S.examples(2), deadline=None)
@given(cfg=gaussian_configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_gaussian_twins_agree_on_drawn_mitigations(cfg, seed, ids):
    _agree(cfg, seed, ids)


@settings(max_examples=S.examples(1), deadline=None)
@given(cfg=regression_configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_regression_twins_agree_on_drawn_weights(cfg, seed, ids):
    _agree(cfg, seed, ids)


@pytest.mark.slow
@settings(max_examples=S.examples(30), deadline=None)
@given(cfg=gaussian_configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_gaussian_twins_agree_on_many_drawn_mitigations(cfg, seed, ids):
    _agree(cfg, seed, ids)


@pytest.mark.slow
@settings(max_examples=S.examples(20), deadline=None)
@given(cfg=regression_configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_regression_twins_agree_on_many_drawn_weights(cfg, seed, ids):
    _agree(cfg, seed, ids)


def test_a_perturbed_twin_is_caught():
    """Both mitigations on; the twin's correction off by 1e-8 (relative) is
    reported (the same comparison passes the unperturbed twins above)."""
    fam = ms.Gaussian(dim=2, cov=[[1.5, 0.4], [0.4, 0.8]])

    def cfg(g):
        return ms.Config(
            family=fam,
            loop=ms.Fresh(real=3, synthetic=5),
            path="samples",
            reweight=ms.TailWeight(1.0, 1.0),
            correction=g,
        )

    ids = [0, 7, 2**32 - 1, 99]
    assert disagreements(run(cfg(0.3), "cpu", 5, ids), run(cfg(0.3 * (1 + 1e-8)), "jax", 5, ids))


def test_a_perturbed_regression_twin_is_caught():
    cfg = lambda w: ms.Config(family=ms.Regression(dim=3), loop=ms.Fresh(real=6, synthetic=5), weight=w)  # noqa: E731
    ids = [0, 7, 2**32 - 1, 99]
    assert disagreements(run(cfg(0.4), "cpu", 5, ids), run(cfg(0.4 + 1e-8), "jax", 5, ids))


# ---------------------------------------------------------------- theory


def test_tail_factor_exact_sum_against_numpy_monte_carlo():
    """The binomial sum against the weighted variance of numpy's normals
    (1-D and 2-D; 2e5 samples, 5 standard errors)."""
    rng = np.random.default_rng(3)
    for d, n, beta, k in ((1, 8, 2.0, 1.0), (2, 6, 0.7, 1.8)):
        z = rng.standard_normal((200_000, n, d))
        w = np.where(np.sum(z * z, axis=2) > k * k, 1.0 + beta, 1.0)
        W = w.sum(1)
        m = np.einsum("rn,rnd->rd", w, z) / W[:, None]
        v = np.einsum("rn,rnd->r", w, (z - m[:, None, :]) ** 2) / W / d
        assert abs(v.mean() - mt.tail_weight_factor(n, beta, k, d)) < 5 * v.std() / math.sqrt(len(v))


def test_tail_factor_limits_and_the_cancelling_beta():
    assert mt.tail_weight_factor(50, 0.0, 1.0) == pytest.approx(49 / 50, rel=1e-12)
    assert mt.tail_weight_factor(50, 3.0, 1.0, estimator="unbiased") == pytest.approx(
        mt.tail_weight_factor(50, 3.0, 1.0) * 50 / 49, rel=1e-12
    )
    big = mt.tail_weight_factor(200_000, 1.0, 1.5)
    assert big == pytest.approx(mt.tail_weight_factor_limit(1.0, 1.5) * (1 - 1 / 200_000), rel=1e-4)
    for n, k, d in ((20, 1.5, 1), (50, 2.0, 3)):
        b = mt.cancelling_beta(n, k, d)
        assert mt.tail_weight_factor(n, b, k, d) == pytest.approx(1.0, abs=1e-10)
        assert mt.cancelling_beta(n, k, d, exact=False) == pytest.approx(b, rel=0.2)  # O(1/n) apart
    with pytest.raises(ValueError, match="no beta"):
        mt.cancelling_beta(5, 6.0)


def test_correction_stationary_is_the_limit_of_its_recursion():
    for n, g, tau, est in ((10, 0.5, 1.0, "mle"), (6, 0.1, 1.1, "unbiased"), (30, 1.0, 0.9, "mle")):
        fp = mt.correction_stationary(n, g, tau, est)
        m = mt.correction_moments(2000, n, g, tau, est)
        assert (m.sd, m.var, m.mean_sq) == pytest.approx(tuple(fp), rel=1e-9)
        assert fp.sd > 0.0  # no collapse
    with pytest.raises(ValueError, match="gamma must be > 0"):
        mt.correction_stationary(10, 0.0)


def test_weighted_regression_optimum_is_the_golden_ratio_and_minimises():
    from scipy.optimize import minimize_scalar

    phi = (1 + math.sqrt(5)) / 2
    for n in (5, 20, 1000):
        assert rt.weighted_optimal_weight(n, n, 3) == pytest.approx(1 / phi, rel=1e-14)
    for n, m, d in ((20, 40, 3), (50, 12, 2)):
        w = rt.weighted_optimal_weight(n, m, d)
        best = minimize_scalar(
            lambda x: rt.weighted_stationary_test_error(n, m, d, x),
            bounds=(1e-3, 1.0),
            method="bounded",
            options={"xatol": 1e-10},
        )
        assert best.x == pytest.approx(w, abs=1e-6)
        assert rt.weighted_stationary_test_error(n, m, d, w) == pytest.approx(w * d / (n - d - 1), rel=1e-12)
    cfg = ms.Config(family=ms.Regression(dim=3), loop=ms.Fresh(real=20, synthetic=20), weight="optimal")
    assert cfg.weight_value == pytest.approx(1 / phi)
    assert float(theory.expected_test_error(cfg, 500)) == pytest.approx(
        rt.weighted_stationary_test_error(20, 20, 3, 1 / phi), rel=1e-12
    )


def _z(values, expected):
    return (values.mean() - expected) / (values.std() / math.sqrt(len(values)))


def test_quick_monte_carlo_of_the_three():
    """A few thousand replicas each (|z| < 5): the tail factor at t = 1, the
    corrected loop at t = 20, the weighted regression at t = 20."""
    rw = ms.Config(loop=ms.Replace(n=15), path="samples", reweight=ms.TailWeight(1.0, 1.5))
    ds = ms.simulate(rw, replicas=20_000, generations=1, seed=1, metrics=["var"], progress=False)
    assert abs(_z(ds["var"].values[:, 1], mt.tail_weight_factor(15, 1.0, 1.5))) < 5
    co = ms.Config(loop=ms.Replace(n=10), correction=0.5)
    ds = ms.simulate(co, replicas=20_000, generations=20, seed=1, metrics=["var"], progress=False)
    assert abs(_z(ds["var"].values[:, -1], float(mt.correction_moments(20, 10, 0.5).var))) < 5
    wr = ms.Config(family=ms.Regression(dim=3), loop=ms.Fresh(real=20, synthetic=20), weight=0.3)
    ds = ms.simulate(wr, replicas=20_000, generations=20, seed=1, metrics=["test_error"], progress=False)
    assert abs(_z(ds["test_error"].values[:, -1], float(theory.expected_test_error(wr, 20)))) < 5


@pytest.mark.slow
def test_correction_stationary_law_by_monte_carlo():
    """The stationary E sigma, E sigma^2, E (mu - mu0)^2 after 200 generations
    (both paths, 200k replicas each)."""
    for path in ("exact", "samples"):
        cfg = ms.Config(loop=ms.Replace(n=8), correction=0.3, path=path)
        ds = ms.simulate(
            cfg,
            replicas=200_000,
            generations=200,
            seed=2,
            metrics=["var", "mean_sq"],
            record=[0, 200],
            progress=False,
        )
        fp = mt.correction_stationary(8, 0.3)
        v = ds["var"].values[:, -1]
        assert abs(_z(np.sqrt(v), fp.sd)) < 5 and abs(_z(v, fp.var)) < 5
        assert abs(_z(ds["mean_sq"].values[:, -1], fp.mean_sq)) < 5


@pytest.mark.slow
def test_cancelling_beta_keeps_the_variance_by_monte_carlo():
    b = mt.cancelling_beta(20, 1.5)
    cfg = ms.Config(loop=ms.Replace(n=20), path="samples", reweight=ms.TailWeight(b, 1.5))
    ds = ms.simulate(
        cfg, replicas=200_000, generations=10, seed=3, metrics=["var"], record=[0, 1, 10], progress=False
    )
    assert abs(_z(ds["var"].values[:, 1], 1.0)) < 5 and abs(_z(ds["var"].values[:, 2], 1.0)) < 5


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_lane_eligible_loops_keep_the_mitigations(dim):
    """At d = 1..3 the plain fresh loop runs the CPU replica lanes, which do not
    compute the mitigations: a mitigated run must take the scalar step (whose
    result differs from the plain loop's), never the lanes."""
    loop = ms.Fresh(real=5, synthetic=20)
    plain = ms.Config(family=ms.Gaussian(dim=dim), loop=loop, path="samples")
    var = "var" if dim == 1 else "cov"
    base = ms.simulate(plain, replicas=16, generations=3, seed=3, progress=False)[var].values
    for kw in (dict(correction=0.5), dict(reweight=ms.TailWeight(0.3, 1.0))):
        cfg = ms.Config(family=ms.Gaussian(dim=dim), loop=loop, path="samples", **kw)
        got = ms.simulate(cfg, replicas=16, generations=3, seed=3, progress=False)[var].values
        assert not np.array_equal(got[:, 1:], base[:, 1:]), kw
