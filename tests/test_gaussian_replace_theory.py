"""Replace-loop Monte Carlo against the closed forms of docs/theory/replace-1d.md
(madsim.theory), both paths, both estimators, tau != 1.

Tolerances are Monte Carlo standard errors (stats.py, false-fail rate ALPHA
per assertion, Bonferroni-split per test). E sigma^2 is only tested where its
CV^2 = ((n+1)/(n-1))^t - 1 is small (docs/theory/replace-1d.md (MC precision))."""

import numpy as np
import pytest

import madsim as ms
from madsim import theory
import stats


def _run(n, t, estimator="mle", tau=1.0, path="exact", R=100_000, seed=11):
    cfg = ms.Config(
        family=ms.Gaussian(), loop=ms.Replace(n=n), estimator=estimator, temperature=tau, path=path
    )
    ds = ms.simulate(cfg, replicas=R, generations=t, seed=seed, record=[t], progress=False)
    return ds["mean"].values[:, 0], ds["var"].values[:, 0]


def _check(mu, var, n, t, estimator, tau, alpha):
    checks = [
        ("E sigma", np.sqrt(var), theory.expected_sigma(t, n, tau, estimator)),
        ("E ln sigma^2", np.log(var), theory.expected_log_var(t, n, tau, estimator)),
        ("E (mu-mu0)^2", mu**2, theory.expected_mean_sq(t, n, tau, estimator)),
    ]
    if theory.cv2_var(t, n) < 2.0:
        checks.append(("E sigma^2", var, theory.expected_var(t, n, tau, estimator)))
    if n > 3 and theory.cv2_var(t, n) < 2.0:
        kl = 0.5 * (var + mu**2 - 1 - np.log(var))
        checks.append(("E KL(p_t||p0)", kl, theory.expected_kl_model_truth(t, n, tau, estimator)))
    a = alpha / (len(checks) + 1)
    what = f"n={n} t={t} {estimator} tau={tau}"
    for name, x, exact in checks:
        stats.assert_mean(x, float(exact), f"{what}: {name}", a)
    stats.assert_variance(np.log(var), float(theory.var_log_var(t, n)), f"{what}: Var ln sigma^2", a)


# docs/theory/index.md, cases 1, 2, 3, 5, 6
@pytest.mark.parametrize(
    "n,t,estimator,tau",
    [
        (10, 10, "mle", 1.0),
        (10, 50, "mle", 1.0),
        (100, 100, "mle", 1.0),
        (10, 50, "unbiased", 1.0),
        (10, 20, "mle", 0.9),
        (2, 5, "unbiased", 1.3),
    ],
)
def test_exact_path_matches_theory(n, t, estimator, tau):
    mu, var = _run(n, t, estimator, tau, "exact")
    _check(mu, var, n, t, estimator, tau, stats.ALPHA)


@pytest.mark.parametrize(
    "n,t,estimator,tau", [(10, 10, "mle", 1.0), (10, 20, "unbiased", 0.9), (3, 8, "mle", 1.1)]
)
def test_samples_path_matches_theory(n, t, estimator, tau):
    mu, var = _run(n, t, estimator, tau, "samples", R=50_000)
    _check(mu, var, n, t, estimator, tau, stats.ALPHA)


def test_theory_table_values():
    # the exact numbers of docs/theory/index.md (cases 1, 3, 5, 6)
    assert theory.expected_var(10, 10) == pytest.approx(0.348678, abs=1e-6)
    assert theory.expected_sigma(10, 10) == pytest.approx(0.447528, abs=1e-6)
    assert theory.expected_log_var(10, 10) == pytest.approx(-2.20567, abs=1e-5)
    assert theory.var_log_var(10, 10) == pytest.approx(2.48725, abs=1e-5)
    assert theory.expected_mean_sq(10, 10) == pytest.approx(0.651322, abs=1e-6)
    assert theory.expected_w2_sq(10, 10) == pytest.approx(1.10494, abs=1e-5)
    assert theory.expected_kl_model_truth(10, 10) == pytest.approx(1.10283, abs=1e-5)
    assert theory.expected_kl_truth_model(10, 10) == pytest.approx(21.8314, abs=1e-4)
    assert theory.expected_var(100, 100) == pytest.approx(0.366032, abs=1e-6)
    assert theory.expected_kl_model_truth(100, 100) == pytest.approx(1.00927, abs=1e-5)
    assert theory.expected_sigma(50, 10, estimator="unbiased") == pytest.approx(0.250056, abs=1e-6)
    assert theory.expected_mean_sq(50, 10, estimator="unbiased") == pytest.approx(5.0)
    assert theory.expected_w2_sq(50, 10, estimator="unbiased") == pytest.approx(6.49989, abs=1e-5)
    assert theory.expected_var(20, 10, tau=0.9) == pytest.approx(0.00179701, rel=1e-5)
    assert theory.expected_log_var(20, 10, tau=0.9) == pytest.approx(-8.62576, abs=1e-5)
    assert theory.expected_mean_sq(20, 10, tau=0.9) == pytest.approx(0.298356, abs=1e-6)
    assert theory.collapse_time_wald(0.1, 10) == pytest.approx(22.2, abs=0.05)
    assert theory.collapse_time_wald(0.1, 100) == pytest.approx(232.3, abs=0.1)
    # MLE, tau = 1: E sigma^2 + E(mu - mu0)^2 = sigma0^2 (docs/theory/accumulate.md)
    t = np.arange(0, 200)
    np.testing.assert_allclose(theory.expected_var(t, 7) + theory.expected_mean_sq(t, 7), 1.0, rtol=1e-12)
    assert theory.expected_var_power(1, 10, 10) == pytest.approx(theory.expected_var(10, 10))
    assert theory.expected_var_power(0.5, 10, 10) == pytest.approx(theory.expected_sigma(10, 10))


def test_w2_and_kl_truth_model_against_monte_carlo():
    n, t = 100, 20
    mu, var = _run(n, t, R=200_000, seed=5)
    w2 = mu**2 + (np.sqrt(var) - 1) ** 2
    kl = 0.5 * (1 / var + mu**2 / var - 1 + np.log(var))
    stats.assert_mean(w2, float(theory.expected_w2_sq(t, n)), "E W2^2", stats.ALPHA / 2)
    stats.assert_mean(kl, float(theory.expected_kl_truth_model(t, n)), "E KL(p0||p_t)", stats.ALPHA / 2)


def test_collapse_time_near_the_reference_monte_carlo():
    # docs/theory/replace-1d.md: exact-law MC, R = 1e5, eps = 0.1, n = 10: E T = 22.64 +- 0.03
    cfg = ms.Config(loop=ms.Replace(n=10))
    ds = ms.simulate(
        cfg,
        replicas=100_000,
        generations=400,
        seed=3,
        record=[400],
        detect=[ms.FirstPassage("var", below=0.01, name="T")],
        progress=False,
    )
    T = ds["T"].values
    assert (T > 0).all()  # every replica collapses well within 400 generations
    se = np.hypot(T.std(ddof=1) / np.sqrt(T.size), 0.03)
    stats.assert_mean(T, 22.64, "collapse time n=10 eps=0.1", se=se)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["exact", "samples"])
def test_long_horizon_log_moments(path):
    n, t = 20, 2000
    mu, var = _run(n, t, path=path, R=20_000 if path == "samples" else 200_000)
    stats.assert_mean(np.log(var), float(theory.expected_log_var(t, n)), "E ln sigma^2", stats.ALPHA / 2)
    stats.assert_variance(np.log(var), float(theory.var_log_var(t, n)), "Var ln", stats.ALPHA / 2)
