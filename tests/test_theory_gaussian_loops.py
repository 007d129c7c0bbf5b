"""The closed forms of docs/theory/index.md (madsim.theory) for every
Gaussian loop: (a) against the tables of docs/theory/ (pure arithmetic), (b) Monte
Carlo of every loop x estimator x path (and the knobs) against them, (c) the
section-7 invariant for every MLE loop.

Statistical tests follow tests/stats.py: fixed seeds, each assertion at
false-fail rate ALPHA = 1e-5 two-sided, Bonferroni-split over the
comparisons of a test (so each test's false-fail rate is <= 1e-5). Means of
heavy-tailed quantities (sigma^2 of the replace loop) are tested only at
horizons where their CV^2 is small (docs/theory/replace-1d.md, "MC precision").
"""

import math

import numpy as np
import pytest

import madsim as ms
from madsim import theory
from madsim.theory import replace_nd
import stats

C = ms.Config


# ================================================================ (a) the tables of docs/theory/


def approx(x, rel=1e-4, abs=1e-6):
    return pytest.approx(x, rel=rel, abs=abs)


def test_section2_d_dim_replace_table():
    c3 = C(family=ms.Gaussian(dim=3), loop=ms.Replace(n=10))
    assert theory.expected_logdet(c3, 20) == approx(-21.6034)
    assert theory.var_logdet(c3, 20) == approx(17.2581)
    assert theory.expected_trace(c3, 20) == approx(0.364731)
    assert theory.expected_mean_sq(c3, 20) == approx(2.63527)
    c5 = C(family=ms.Gaussian(dim=5), loop=ms.Replace(n=20))
    assert theory.expected_logdet(c5, 30) == approx(-33.962, abs=1e-3)
    assert theory.var_logdet(c5, 30) == approx(18.873, abs=1e-3)
    assert theory.expected_trace(c5, 30) == approx(1.0732, abs=1e-4)
    assert theory.expected_mean_sq(c5, 30) == approx(3.9268, abs=1e-4)
    # MLE, tau = 1: E[Sigma_t + (mu_t-mu0)(mu_t-mu0)'] = Sigma0; E det; KL = -E ln det / 2
    np.testing.assert_allclose(theory.expected_cov(c3, 20) + theory.expected_mean_cov(c3, 20), np.eye(3))
    assert theory.expected_det(c3, 4) == approx((9 * 8 * 7 / 1000) ** 4, rel=1e-12)
    assert theory.det_factor(3, 10) == approx(9 * 8 * 7 / 1000, rel=1e-12)
    assert theory.expected_kl_model_truth(c3, 20) == approx(-0.5 * (-21.603370), rel=1e-6)
    # the section-2 building blocks reduce to section 1 at d = 1
    assert theory.logdet_drift(1, 10) == approx(theory.log_var_drift(10), rel=1e-12)
    assert theory.logdet_step_variance(1, 10) == approx(theory.log_var_step_variance(10), rel=1e-12)


def test_section2_scales_with_a_full_covariance():
    cov = ((2.0, 0.5), (0.5, 1.0))
    cfg = C(family=ms.Gaussian(dim=2, mean=(1.0, -1.0), cov=cov), loop=ms.Replace(n=7), temperature=1.1)
    ident = C(family=ms.Gaussian(dim=2), loop=ms.Replace(n=7), temperature=1.1)
    t = np.arange(6)
    np.testing.assert_allclose(theory.expected_trace(cfg, t), 3.0 / 2.0 * theory.expected_trace(ident, t))
    np.testing.assert_allclose(theory.expected_mean_sq(cfg, t), 1.5 * theory.expected_mean_sq(ident, t))
    ld0 = math.log(2.0 - 0.25)
    np.testing.assert_allclose(theory.expected_logdet(cfg, t), ld0 + theory.expected_logdet(ident, t))
    np.testing.assert_allclose(theory.expected_mean(cfg, 3), [1.0, -1.0])


def test_section3_truncation_table():
    for k, v in ((1, 0.291125), (1.5, 0.551524), (2, 0.773741), (3, 0.973337)):
        assert theory.truncation_factor(k) == approx(v, rel=1e-6)
        # the d-dim (Mahalanobis) form at d = 1 is the same number
        assert replace_nd.special.gammainc(1.5, k * k / 2) / replace_nd.special.gammainc(
            0.5, k * k / 2
        ) == approx(v, rel=1e-6)
    # row 7: E sigma^2 = (0.9 v(2))^10 and Var mu
    cfg = C(loop=ms.Replace(n=10), truncation=2.0, path="samples")
    assert theory.expected_var(cfg, 10) == approx((0.9 * theory.truncation_factor(2.0)) ** 10, rel=1e-12)
    # the founding notes printed 0.026824 for (0.9 * 0.773741)^10; the product is 0.0268153 (a slip there)
    assert theory.expected_var(cfg, 10) == approx(0.0268153, rel=1e-5)
    assert theory.expected_mean_sq(cfg, 10) == approx(0.24799, abs=1e-5)
    cfg = C(loop=ms.Replace(n=20), truncation=1.0, path="samples")
    assert theory.expected_var(cfg, 5) == approx(0.00162, abs=1e-5)
    assert theory.expected_mean_sq(cfg, 5) == approx(0.02009, abs=1e-5)
    # Mahalanobis truncation in d dims: E|z|^2 restricted to the ball, by quadrature
    from scipy import integrate, stats as st

    d, k = 3, 1.5
    num = integrate.quad(lambda r2: r2 * st.chi2.pdf(r2, d), 0, k * k)[0]
    assert theory.truncation_factor(k, d) == approx(num / st.chi2.cdf(k * k, d) / d, rel=1e-9)
    assert theory.truncation_acceptance(2.0) == approx(0.9544997, rel=1e-6)


def test_section4a_fresh_table():
    fp = theory.fixed_point(C(loop=ms.Fresh(real=10, synthetic=10)))
    assert (fp.var, fp.mean_sq) == (approx(29 / 31, rel=1e-12), approx(2 / 31, rel=1e-12))
    assert tuple(theory.fresh_fixed_point_mle(10, 10)) == (
        approx(29 / 31, rel=1e-12),
        approx(2 / 31, rel=1e-12),
    )
    fp = theory.fresh_fixed_point(10, 10, estimator="unbiased")
    assert (fp.var, fp.mean_sq) == (approx(29 / 28, rel=1e-12), approx(19 / 280, rel=1e-12))
    cfg = C(loop=ms.Fresh(real=5, synthetic=20), temperature=0.8)
    assert theory.expected_var(cfg, 60) == approx(0.39160, abs=1e-5)
    assert theory.expected_mean_sq(cfg, 60) == approx(0.04450, abs=1e-5)
    fp = theory.fixed_point(C(loop=ms.Fresh(real=2, synthetic=30)))
    assert (fp.var, fp.mean_sq) == (approx(0.79222, abs=1e-5), approx(0.20778, abs=1e-5))
    cfg = C(loop=ms.Fresh(real=10, synthetic=10))
    assert theory.expected_var(cfg, 1) == approx(0.95, rel=1e-12)
    assert theory.expected_mean_sq(cfg, 1) == approx(0.05, rel=1e-12)
    # k -> infinity: v* -> 2m/(2m+1), d* -> 1/(2m+1)
    v, d = theory.fresh_fixed_point_mle(3, 10**9)
    assert (v, d) == (approx(6 / 7, rel=1e-7), approx(1 / 7, rel=1e-7))
    # every MLE fixed point against the closed form
    for m, k in ((1, 1), (2, 7), (9, 4), (20, 20)):
        fp = theory.fixed_point(C(loop=ms.Fresh(real=m, synthetic=k)))
        assert tuple(fp) == pytest.approx(tuple(theory.fresh_fixed_point_mle(m, k)), rel=1e-10)


def _theory_augment_conditional(m, k, T, tau=1.0, estimator="mle"):
    """docs/theory/real-data.md's own recursion (unconditional form: W_r -> (m-1), d_0 = 1/m,
    E(mu_t-mu0)^2 = d_t + (1/m)(1 - 2(k/N)^t)), written out independently."""
    N = m + k
    D = N if estimator == "mle" else N - 1
    v, d = 1.0, 1.0 / m
    out = []
    for t in range(1, T + 1):
        v, d = (
            ((m - 1) + tau**2 * k * (N - 1) / N * v + m * k / N * d) / D,
            (k / N) ** 2 * (d + tau**2 * v / k),
        )
        out.append((v, d + (1.0 / m) * (1 - 2 * (k / N) ** t)))
    return np.array(out)


def test_section4b_augment_table_and_theorys_recursion():
    cfg = C(loop=ms.Augment(real=10, synthetic=10))
    assert theory.expected_var(cfg, 60) == approx(27 / 31, rel=1e-10)
    assert theory.expected_mean_sq(cfg, 60) == approx(4 / 31, rel=1e-10)
    assert tuple(theory.augment_fixed_point_mle(10, 10)) == (
        approx(27 / 31, rel=1e-12),
        approx(4 / 31, rel=1e-12),
    )
    fp = theory.fixed_point(C(loop=ms.Augment(real=10, synthetic=40), estimator="unbiased"))
    assert (fp.var, fp.mean_sq) == (approx(0.95294, abs=1e-5), approx(0.14235, abs=1e-5))
    fp = theory.fixed_point(C(loop=ms.Augment(real=10, synthetic=10), temperature=0.9))
    assert (fp.var, fp.mean_sq) == (approx(0.73952, abs=1e-5), approx(0.11997, abs=1e-5))
    assert theory.augment_conditional_fixed_point_mle(0.9, 10, 10) == approx(0.9 * 300 / 310, rel=1e-12)
    # two derivations agree at every generation (the notes' conditional form vs madsim.theory's)
    t = np.arange(1, 41)
    for m, k, tau, est in (
        (10, 10, 1.0, "mle"),
        (10, 40, 1.0, "unbiased"),
        (4, 9, 0.85, "mle"),
        (3, 2, 1.2, "unbiased"),
    ):
        ref = _theory_augment_conditional(m, k, 40, tau, est)
        cfg = C(loop=ms.Augment(real=m, synthetic=k), temperature=tau, estimator=est)
        np.testing.assert_allclose(theory.expected_var(cfg, t), ref[:, 0], rtol=1e-12)
        np.testing.assert_allclose(theory.expected_mean_sq(cfg, t), ref[:, 1], rtol=1e-12)


def test_section4c_weighting_table():
    assert theory.optimal_weight(10, 10) == approx(0.618034, rel=1e-6)
    assert theory.optimal_weight(10, 10) == approx(2 / (1 + math.sqrt(5)), rel=1e-14)
    assert 10 * theory.hxc_stationary_mse(0.5, 10, 10) == approx(2 / 3, rel=1e-12)
    assert 10 * theory.hxc_stationary_mse(1.0, 10, 10) == approx(1.0, rel=1e-12)
    assert theory.optimal_weight(10, 40) == approx(0.3904, abs=1e-4)
    assert 10 * theory.hxc_stationary_mse(0.2, 10, 40) == approx(0.5556, abs=1e-4)
    assert theory.optimal_weight(20, 5) == approx(0.8284, abs=1e-4)
    for n, m in ((10, 10), (10, 40), (20, 5), (3, 50)):
        w = theory.optimal_weight(n, m)
        assert theory.hxc_stationary_mse(w, n, m) == approx(w / n, rel=1e-12)  # V* = w*/n exactly
        assert theory.hxc_optimal_mse(n, m) == approx(w / n, rel=1e-12)
        # w* minimises V*(w)
        grid = np.linspace(0.01, 1, 500)
        assert (
            theory.hxc_stationary_mse(w, n, m)
            <= min(theory.hxc_stationary_mse(g, n, m) for g in grid) + 1e-12
        )
        cfg = C(loop=ms.Fresh(real=n, synthetic=m), estimator="unbiased", weight="optimal")
        assert theory.optimal_weight(cfg) == approx(cfg.weight_value, rel=1e-14)
        # the recursion (unbiased pieces, tau = 1) converges to V*(w) with E sigma^2 = 1
        assert theory.expected_mean_sq(cfg, 400) == approx(theory.hxc_stationary_mse(w, n, m), rel=1e-10)
        assert theory.expected_var(cfg, 400) == approx(1.0, rel=1e-12)
        fp = theory.fixed_point(cfg)
        assert fp.mean_sq == approx(theory.hxc_stationary_mse(w, n, m), rel=1e-10)
    # MLE pieces: E sigma^2 -> w(n-1)/n / (1 - (1-w)(m-1)/m), not 1
    cfg = C(loop=ms.Fresh(real=10, synthetic=10), weight=0.5)
    assert theory.fixed_point(cfg).var == approx(0.45 / 0.55, rel=1e-12)


def test_section5a_accumulate_table():
    cfg = C(loop=ms.Accumulate(synthetic=10))
    assert theory.expected_var(cfg, 100) == approx(0.844276, rel=1e-6)
    assert theory.expected_mean_sq(cfg, 100) == approx(0.155724, rel=1e-5)
    cfg = C(loop=ms.Accumulate(synthetic=10), estimator="unbiased")
    assert theory.expected_var(cfg, 100) == approx(0.936072, rel=1e-6)
    assert theory.expected_mean_sq(cfg, 100) == approx(0.161850, rel=1e-5)
    cfg = C(loop=ms.Accumulate(synthetic=4))
    assert theory.expected_var(cfg, 100) == approx(0.63821, abs=1e-5)
    assert theory.expected_mean_sq(cfg, 100) == approx(0.36179, abs=1e-5)
    assert theory.accumulate_limit(10) == approx(0.843436, rel=1e-6)
    assert theory.accumulate_limit(4) == approx(0.636620, rel=1e-6)
    assert theory.dey_donoho_ratio(10) == approx(1.5656, abs=1e-4)
    assert all(theory.dey_donoho_ratio(n) <= math.pi**2 / 6 for n in (2, 3, 10, 100, 10**6))
    fp = theory.fixed_point(C(loop=ms.Accumulate(synthetic=10)))
    assert (fp.var, fp.mean_sq) == (approx(0.843436, rel=1e-6), approx(1 - 0.843436, rel=1e-5))
    # the tau = 0.8 row of docs/theory/real-data.md fits stage 1 on real points: a schedule in madsim
    first_real = C(loop=ms.Accumulate(synthetic=[0] + [10] * 999, real=[10] + [0] * 999), temperature=0.8)
    assert theory.expected_var(first_real, 100) == approx(0.18198, abs=1e-5)
    assert theory.expected_mean_sq(first_real, 100) == approx(0.12801, abs=1e-5)
    assert theory.expected_var(first_real, 1000) == approx(0.07947, abs=1e-5)
    assert theory.expected_mean_sq(first_real, 1000) == approx(0.12809, abs=1e-4)
    # madsim's convention (tau applies at t = 1): everything scales by tau^2 exactly
    own = C(loop=ms.Accumulate(synthetic=10), temperature=0.8)
    t = np.arange(1, 101)
    np.testing.assert_allclose(
        theory.expected_var(own, t), 0.64 * theory.expected_var(first_real, t), rtol=1e-12
    )


@pytest.mark.parametrize(
    "n,tau,estimator", [(10, 1.0, "mle"), (10, 1.0, "unbiased"), (4, 0.8, "mle"), (3, 1.3, "unbiased")]
)
def test_section5a_two_derivations_agree(n, tau, estimator):
    # docs/theory/accumulate.md's explicit recursion vs the pool recursion of madsim.theory
    t = np.arange(1, 151)
    for first_real in (False, True):
        if first_real:
            loop = ms.Accumulate(synthetic=[0] + [n] * 149, real=[n] + [0] * 149)
        else:
            loop = ms.Accumulate(synthetic=n)
        cfg = C(loop=loop, temperature=tau, estimator=estimator)
        v, d = theory.accumulate_moments(t, n, tau, estimator, first_real=first_real)
        np.testing.assert_allclose(theory.expected_var(cfg, t), v, rtol=1e-11)
        np.testing.assert_allclose(theory.expected_mean_sq(cfg, t), d, rtol=1e-11)
    if tau == 1.0 and estimator == "mle":
        np.testing.assert_allclose(
            theory.accumulate_mle_var(t, n), theory.expected_var(C(loop=ms.Accumulate(n)), t), rtol=1e-12
        )


def test_section9_rows():
    r1 = C(loop=ms.Replace(n=10))
    for f, v in (
        (theory.expected_var, 0.348678),
        (theory.expected_sigma, 0.447528),
        (theory.expected_log_var, -2.20567),
        (theory.var_log_var, 2.48725),
        (theory.expected_mean_sq, 0.651322),
        (theory.expected_w2_sq, 1.10494),
        (theory.expected_kl_model_truth, 1.10283),
        (theory.expected_kl_truth_model, 21.8314),
    ):
        assert f(r1, 10) == approx(v, abs=1e-5), f.__name__
    for f, v in (
        (theory.expected_log_var, -11.0283),
        (theory.var_log_var, 12.4363),
        (theory.expected_sigma, 0.0179514),
        (theory.expected_mean_sq, 0.994846),
        (theory.expected_w2_sq, 1.96410),
        (theory.expected_var, 0.00515378),
    ):
        assert f(r1, 50) == approx(v, rel=1e-5), f.__name__
    assert theory.cv2_var(r1, 50) == approx(2.3e4, rel=0.02)
    r3 = C(loop=ms.Replace(n=100))
    for f, v in (
        (theory.expected_var, 0.366032),
        (theory.expected_sigma, 0.469993),
        (theory.expected_log_var, -2.01854),
        (theory.var_log_var, 2.04075),
        (theory.expected_mean_sq, 0.633968),
        (theory.expected_w2_sq, 1.06001),
        (theory.expected_kl_model_truth, 1.00927),
    ):
        assert f(r3, 100) == approx(v, abs=1e-5), f.__name__
    r5 = C(loop=ms.Replace(n=10), estimator="unbiased")
    for f, v in (
        (theory.expected_var, 1.0),
        (theory.expected_sigma, 0.250056),
        (theory.expected_log_var, -5.76032),
        (theory.var_log_var, 12.4363),
        (theory.expected_mean_sq, 5.0),
        (theory.expected_w2_sq, 6.49989),
    ):
        assert f(r5, 50) == approx(v, abs=1e-5), f.__name__
    r6 = C(loop=ms.Replace(n=10), temperature=0.9)
    for f, v in (
        (theory.expected_var, 0.00179701),
        (theory.expected_sigma, 0.0243495),
        (theory.expected_log_var, -8.62576),
        (theory.var_log_var, 4.97450),
        (theory.expected_mean_sq, 0.298356),
    ):
        assert f(r6, 20) == approx(v, rel=1e-5), f.__name__
    # rows 9-13, 15 are covered above; row 20 below


def test_config_style_matches_section1_style():
    t = np.arange(0, 40)
    for n, tau, est in ((10, 1.0, "mle"), (7, 0.9, "unbiased"), (3, 1.2, "mle")):
        cfg = C(loop=ms.Replace(n=n), temperature=tau, estimator=est)
        for name in (
            "expected_var",
            "expected_sigma",
            "expected_log_var",
            "expected_mean_sq",
            "expected_w2_sq",
            "expected_kl_model_truth",
        ):
            f = getattr(theory, name)
            np.testing.assert_allclose(f(cfg, t), f(t, n, tau, est), rtol=1e-10, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(theory.var_log_var(cfg, t), theory.var_log_var(t, n), rtol=1e-12)
        np.testing.assert_allclose(theory.cv2_var(cfg, t), theory.cv2_var(t, n), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            theory.cv2_sigma(cfg, t), theory.cv2_sigma(t, n, tau, est), rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(
            theory.expected_var_power(cfg, 1.5, t), theory.expected_var_power(1.5, t, n, tau, est), rtol=1e-10
        )
        if n > 3:
            np.testing.assert_allclose(
                theory.expected_kl_truth_model(cfg, t),
                theory.expected_kl_truth_model(t, n, tau, est),
                rtol=1e-10,
            )
    assert theory.expected_var(C(loop=ms.Replace(n=10)), 10) == theory.expected_var(
        cfg=C(loop=ms.Replace(n=10)), t=10
    )


def test_schedules_reduce_to_sums():
    # growing sample sizes, unbiased: E(mu_t - mu0)^2 = sum_{i<=t} 1/M_i (docs/theory/replace-1d.md)
    sizes = [3, 5, 8, 13, 21, 34, 55]
    cfg = C(loop=ms.Replace(n=sizes), estimator="unbiased")
    t = np.arange(len(sizes) + 1)
    np.testing.assert_allclose(
        theory.expected_mean_sq(cfg, t), np.concatenate([[0], np.cumsum(1 / np.array(sizes))]), rtol=1e-13
    )
    np.testing.assert_allclose(theory.expected_var(cfg, t), 1.0, rtol=1e-13)
    # a callable schedule and the equal list give the same numbers
    f = C(loop=ms.Fresh(real=lambda t: 2 + t % 3, synthetic=lambda t: 10 - t % 4), estimator="unbiased")
    lst = C(
        loop=ms.Fresh(real=[2 + t % 3 for t in range(1, 31)], synthetic=[10 - t % 4 for t in range(1, 31)]),
        estimator="unbiased",
    )
    np.testing.assert_allclose(theory.expected_var(f, np.arange(31)), theory.expected_var(lst, np.arange(31)))
    # log-moments with a varying n are sums of the per-generation steps
    cfg = C(loop=ms.Replace(n=[5, 10, 20]), temperature=0.9)
    want = sum(theory.log_var_drift(n, 0.9) for n in (5, 10, 20))
    assert theory.expected_log_var(cfg, 3) == approx(want, rel=1e-13)
    assert theory.var_log_var(cfg, 3) == approx(
        sum(theory.log_var_step_variance(n) for n in (5, 10, 20)), rel=1e-13
    )


def test_filter_sums_over_the_binomial_law():
    # E over K ~ Binomial(n, 1-tpr) of the section-1 step, with K < 2 a skipped fit
    from scipy import special, stats as st

    n, tpr = 5, 0.3
    cfg = C(loop=ms.Replace(n=n), filter=ms.Filter(tpr=tpr))
    K = np.arange(n + 1)
    p = st.binom.pmf(K, n, 1 - tpr)
    ok = K >= 2
    a = np.sum(p[ok] * (K[ok] - 1) / K[ok]) + p[~ok].sum()
    assert theory.expected_var(cfg, 4) == approx(a**4, rel=1e-12)
    drift = np.sum(p[ok] * (special.digamma((K[ok] - 1) / 2) + np.log(2 / K[ok])))
    assert theory.expected_log_var(cfg, 7) == approx(7 * drift, rel=1e-12)
    # the expected-count shortcut would be wrong: E[(K-1)/K] != (EK-1)/EK
    EK = n * (1 - tpr)
    assert abs(a - (EK - 1) / EK) > 1e-3
    # no filter is the degenerate law
    assert theory.expected_var(C(loop=ms.Fresh(6, 4), filter=ms.Filter(0.0, 0.0)), 9) == approx(
        theory.expected_var(C(loop=ms.Fresh(6, 4)), 9), rel=1e-14
    )


# ---------------------------------------------------------------- section 7 in the formulas

INVARIANT_LOOPS = [
    ms.Replace(n=6),
    ms.Replace(n=[3, 9, 4, 12] * 10),
    ms.Fresh(real=3, synthetic=12),
    ms.Fresh(real=lambda t: t % 3, synthetic=5),
    ms.Augment(real=5, synthetic=7),
    ms.Augment(real=2, synthetic=[1, 8] * 20),
    ms.Accumulate(synthetic=3, real=1),
    ms.Accumulate(synthetic=[3, 0, 2] * 14, real=[0, 1] * 20),
]


@pytest.mark.parametrize("loop", INVARIANT_LOOPS, ids=lambda lp: type(lp).__name__)
@pytest.mark.parametrize("filt", [None, ms.Filter(0.35, 0.2)])
@pytest.mark.parametrize("dim", [1, 2])
def test_section7_invariant_holds_in_every_recursion(loop, filt, dim):
    cfg = C(family=ms.Gaussian(dim=dim, var=2.0), loop=loop, filter=filt)
    t = np.arange(0, 40)
    total = theory.expected_trace(cfg, t) + theory.expected_mean_sq(cfg, t)
    np.testing.assert_allclose(total, 2.0 * dim, rtol=1e-12)
    np.testing.assert_allclose(theory.expected_second_moment(cfg, t), 2.0 * dim, rtol=1e-12)
    assert theory.invariant(cfg, 7) == 2.0 * dim


@pytest.mark.parametrize("w", [0.0, 1.0])
def test_section7_invariant_weighted_endpoints(w):
    for loop in (ms.Fresh(real=4, synthetic=6), ms.Augment(real=5, synthetic=3)):
        cfg = C(loop=loop, weight=w)
        t = np.arange(0, 30)
        np.testing.assert_allclose(
            theory.expected_var(cfg, t) + theory.expected_mean_sq(cfg, t), 1.0, rtol=1e-12
        )


def test_section7_invariant_fails_where_theory_says():
    for cfg, word in (
        (C(loop=ms.Fresh(5, 5), estimator="unbiased"), "estimator"),
        (C(loop=ms.Fresh(5, 5), temperature=0.9), "temperature"),
        (C(loop=ms.Fresh(5, 5), truncation=2.0, path="samples"), "truncation"),
        (C(loop=ms.Fresh(5, 5), weight=0.5), "weight"),
    ):
        ok, why = theory.invariant_holds(cfg)
        assert not ok and word in why
        with pytest.raises(ValueError, match=word):
            theory.invariant(cfg, 3)
        total = theory.expected_var(cfg, 30) + theory.expected_mean_sq(cfg, 30)
        assert abs(total - 1.0) > 1e-3
    # madsim's weighting drops w(1-w)(rbar - sbar)^2 exactly: at t = 1 (model 0 = truth)
    # E(rbar - sbar)^2 = 1/m + 1/k
    w, m, k = 0.3, 5, 8
    cfg = C(loop=ms.Fresh(real=m, synthetic=k), weight=w)
    assert theory.expected_var(cfg, 1) + theory.expected_mean_sq(cfg, 1) == approx(
        1 - w * (1 - w) * (1 / m + 1 / k), rel=1e-12
    )


# ---------------------------------------------------------------- argument checks


def test_errors_name_the_argument_or_the_missing_closed_form():
    cfg = C(loop=ms.Fresh(5, 5))
    with pytest.raises(TypeError, match="cfg must be a madsim.Config"):
        theory.expected_trace("nope", 3)
    with pytest.raises(ValueError, match="t must be >= 0"):
        theory.expected_var(cfg, -1)
    with pytest.raises(TypeError, match="t must be"):
        theory.expected_var(cfg, 1.5)
    with pytest.raises(ValueError, match="dim is 2"):
        theory.expected_var(C(family=ms.Gaussian(dim=2), loop=ms.Replace(5)), 3)
    sub = C(loop=ms.AccumulateSubsample(n=10, synthetic=10), path="samples")
    with pytest.raises(NotImplementedError, match="AccumulateSubsample"):
        theory.expected_var(sub, 3)
    assert theory.invariant(sub, 3) == 1.0 and theory.expected_second_moment(sub, 3) == 1.0
    with pytest.raises(NotImplementedError, match="truncation"):
        theory.expected_log_var(C(loop=ms.Replace(10), truncation=2.0, path="samples"), 3)
    with pytest.raises(NotImplementedError, match="Replace loop"):
        theory.expected_logdet(cfg, 3)
    with pytest.raises(NotImplementedError, match="schedule"):
        theory.fixed_point(C(loop=ms.Fresh(real=[5, 6], synthetic=5)))
    with pytest.raises(NotImplementedError, match="Accumulate"):
        theory.fixed_point(C(loop=ms.Accumulate(10), estimator="unbiased"))
    with pytest.raises(ValueError, match="no finite limit"):
        theory.fixed_point(C(loop=ms.Replace(10), estimator="unbiased"))
    with pytest.raises(ValueError, match="infinite"):
        theory.expected_kl_truth_model(C(family=ms.Gaussian(dim=2), loop=ms.Replace(4)), 3)
    with pytest.raises(ValueError, match="r must be"):
        theory.expected_var_power(C(loop=ms.Replace(4)), -2, 3)
    with pytest.raises(TypeError, match="k must be"):
        theory.truncation_factor("2")
    with pytest.raises(ValueError, match="w must be"):
        theory.hxc_stationary_mse(1.5, 10, 10)
    with pytest.raises(ValueError, match="n must be > dim"):
        theory.logdet_drift(3, 3)
    with pytest.raises(ValueError, match="optimal_weight"):
        theory.optimal_weight(C(loop=ms.Replace(10)))


# ================================================================ (b) Monte Carlo vs theory


def _sim(cfg, t, R, seed):
    return ms.simulate(
        cfg, replicas=R, generations=max(t), seed=seed, record=sorted(set(t)), progress=False, metrics="all"
    )


def _values(ds, name, t):
    return np.asarray(ds[name].sel(generation=t).values, dtype=float)


def _var_like(ds, t):
    return _values(ds, "var" if "var" in ds else "trace", t)


def _mean_sq(ds, t, cfg):
    if "mean_sq" in ds:  # GaussianLoop writes it; the fast 1-D replace kernel does not
        return _values(ds, "mean_sq", t)
    return (_values(ds, "mean", t) - float(cfg.family.mean_vector[0])) ** 2


def _check_moments(cfg, ts, R, seed, what, invariant=None):
    """E Sigma (trace), E|mu - mu0|^2 and E mu at each t; ALPHA split over all."""
    ds = _sim(cfg, ts, R, seed)
    checks = []
    for t in ts:
        checks.append((f"E tr Sigma_{t}", _var_like(ds, t), theory.expected_trace(cfg, t)))
        checks.append((f"E |mu-mu0|^2_{t}", _mean_sq(ds, t, cfg), theory.expected_mean_sq(cfg, t)))
    mu = ds["mean"].sel(generation=ts[-1]).values
    mu = mu if mu.ndim == 1 else mu[:, 0]
    checks.append(("E mu[0]", mu, float(theory.expected_mean(cfg, ts[-1])[0])))
    if invariant:
        checks.append(
            (
                "E[tr Sigma + |mu-mu0|^2]",
                _var_like(ds, ts[-1]) + _mean_sq(ds, ts[-1], cfg),
                theory.invariant(cfg, ts[-1]),
            )
        )
    a = stats.ALPHA / len(checks)
    for name, x, exact in checks:
        stats.assert_mean(x, float(exact), f"{what}: {name}", a)


LOOPS = {
    # moderate sizes: every test < ~1 s on 2 cores; ts where replace's sigma^2 is light-tailed
    "replace": (ms.Replace(n=10), (1, 5)),
    "fresh": (ms.Fresh(real=4, synthetic=8), (1, 15)),
    "augment": (ms.Augment(real=6, synthetic=5), (1, 15)),
    "accumulate": (ms.Accumulate(synthetic=5, real=1), (1, 15)),
}


@pytest.mark.parametrize("path", ["exact", "samples"])
@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
@pytest.mark.parametrize("loop", list(LOOPS))
def test_every_loop_estimator_path_matches_theory(loop, estimator, path):
    lp, ts = LOOPS[loop]
    cfg = C(loop=lp, estimator=estimator, path=path)
    _check_moments(cfg, ts, 20_000, 7, f"{loop} {estimator} {path}", invariant=estimator == "mle")


KNOBS = {
    "fresh-tau-filter": C(loop=ms.Fresh(real=5, synthetic=6), temperature=0.8, filter=ms.Filter(0.3, 0.4)),
    "augment-fpr-unbiased": C(
        loop=ms.Augment(real=6, synthetic=4), estimator="unbiased", filter=ms.Filter(0.2, 0.5)
    ),
    "accumulate-filter-tau": C(
        loop=ms.Accumulate(synthetic=3, real=1), temperature=1.2, filter=ms.Filter(0.5, 0.3)
    ),
    "replace-filter-skips": C(loop=ms.Replace(n=3), filter=ms.Filter(tpr=0.3)),
    "fresh-weighted-mle": C(loop=ms.Fresh(real=5, synthetic=7), weight=0.35),
    "fresh-weighted-unbiased-filter": C(
        loop=ms.Fresh(real=6, synthetic=8), weight="optimal", estimator="unbiased", filter=ms.Filter(0.2, 0.2)
    ),
    "augment-weighted-unbiased": C(loop=ms.Augment(real=7, synthetic=5), weight=0.6, estimator="unbiased"),
    "fresh-truncation": C(loop=ms.Fresh(real=3, synthetic=8), truncation=1.2, path="samples"),
    "accumulate-truncation-d2": C(
        family=ms.Gaussian(dim=2), loop=ms.Accumulate(synthetic=6), truncation=1.5, path="samples"
    ),
    "fresh-schedule-d3-cov": C(
        family=ms.Gaussian(
            dim=3, mean=(1.0, 0.0, -1.0), cov=((1.0, 0.3, 0.0), (0.3, 2.0, 0.1), (0.0, 0.1, 0.5))
        ),
        loop=ms.Fresh(real=[6, 4] * 5, synthetic=lambda t: 4 + t % 5),
        temperature=1.1,
    ),
    "augment-weighted-d2-samples": C(
        family=ms.Gaussian(dim=2), loop=ms.Augment(real=6, synthetic=4), weight=0.4, path="samples"
    ),
}


@pytest.mark.parametrize("name", list(KNOBS))
def test_knobs_match_theory(name):
    cfg = KNOBS[name]
    _check_moments(cfg, (1, 2, 10), 20_000, 11, name)


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_replace_log_moments_with_a_filter_and_schedule(path):
    cfg = C(loop=ms.Replace(n=[4, 6, 3] * 10), filter=ms.Filter(tpr=0.25), temperature=1.1, path=path)
    t = 30
    ds = _sim(cfg, (t,), 20_000, 5)
    lv = np.log(_values(ds, "var", t))
    a = stats.ALPHA / 2
    stats.assert_mean(lv, float(theory.expected_log_var(cfg, t)), "E ln sigma^2", a)
    stats.assert_variance(lv, float(theory.var_log_var(cfg, t)), "Var ln sigma^2", a)


def test_d_dim_replace_log_det_and_det():
    cfg = C(family=ms.Gaussian(dim=3, var=0.5), loop=ms.Replace(n=8), estimator="unbiased", temperature=1.05)
    ds = _sim(cfg, (3, 12), 30_000, 9)
    ld = _values(ds, "logdet", 12)
    a = stats.ALPHA / 5
    stats.assert_mean(ld, float(theory.expected_logdet(cfg, 12)), "E ln det", a)
    stats.assert_variance(ld, float(theory.var_logdet(cfg, 12)), "Var ln det", a)
    stats.assert_mean(np.exp(_values(ds, "logdet", 3)), float(theory.expected_det(cfg, 3)), "E det", a)
    # the Monte Carlo precision formulas used by `madsim validate` for its exact SEs
    stats.assert_variance(_values(ds, "trace", 3), float(replace_nd.var_trace(cfg, 3)), "Var tr", a)
    stats.assert_variance(
        _values(ds, "mean_sq", 3), float(replace_nd.var_mean_sq(cfg, 3)), "Var |mu-mu0|^2", a
    )


def test_kl_truth_model_d_dim():
    # the d-dim E KL(p0 || p_t) (inverse-Wishart mean), light-tailed at n >> d
    cfg = C(family=ms.Gaussian(dim=2), loop=ms.Replace(n=60))
    t = 10
    ds = ms.simulate(cfg, replicas=20_000, generations=t, seed=4, record=[t], progress=False, metrics="all")
    mu = ds["mean"].values[:, 0, :]
    cov = ds["cov"].values[:, 0, :, :]
    inv = np.linalg.inv(cov)
    kl = 0.5 * (
        np.trace(inv, axis1=1, axis2=2)
        + np.einsum("ri,rij,rj->r", mu, inv, mu)
        - 2
        + np.linalg.slogdet(cov)[1]
    )
    stats.assert_mean(kl, float(theory.expected_kl_truth_model(cfg, t)), "E KL(p0||p_t) d=2")


# ================================================================ (c) section 7 invariant by Monte Carlo

INVARIANT_MC = {
    "replace": C(loop=ms.Replace(n=10)),
    "fresh": C(loop=ms.Fresh(real=3, synthetic=9)),
    "augment": C(loop=ms.Augment(real=4, synthetic=6)),
    "accumulate": C(loop=ms.Accumulate(synthetic=4, real=1)),
    "accumulate-subsample": C(loop=ms.AccumulateSubsample(n=8, synthetic=6), path="samples"),
    "accumulate-subsample-real-filter-d2": C(
        family=ms.Gaussian(dim=2, var=0.5),
        loop=ms.AccumulateSubsample(n=5, synthetic=3, real=1),
        filter=ms.Filter(0.3, 0.3),
        path="samples",
    ),
    "filter-fresh": C(loop=ms.Fresh(real=4, synthetic=6), filter=ms.Filter(0.5, 0.25)),
    "filter-augment-samples": C(
        loop=ms.Augment(real=5, synthetic=5), filter=ms.Filter(0.3, 0.4), path="samples"
    ),
    "filter-accumulate": C(loop=ms.Accumulate(synthetic=3, real=2), filter=ms.Filter(0.5, 0.5)),
    "weighted-w1": C(loop=ms.Fresh(real=5, synthetic=5), weight=1.0),
    "weighted-w0-samples": C(loop=ms.Augment(real=5, synthetic=5), weight=0.0, path="samples"),
}


@pytest.mark.parametrize("name", list(INVARIANT_MC))
def test_section7_invariant_by_monte_carlo(name):
    cfg = INVARIANT_MC[name]
    ts = (3, 10) if isinstance(cfg.loop, ms.Replace) else (3, 20)
    R = 10_000 if cfg.path == "samples" and isinstance(cfg.loop, ms.AccumulateSubsample) else 20_000
    ds = _sim(cfg, ts, R, 13)
    a = stats.ALPHA / len(ts)
    for t in ts:
        x = _var_like(ds, t) + _mean_sq(ds, t, cfg)
        stats.assert_mean(x, float(theory.invariant(cfg, t)), f"{name}: E[tr Sigma + |mu-mu0|^2]_{t}", a)


def test_weighted_mle_breaks_the_invariant_by_the_predicted_amount():
    # madsim's w * (real fit) + (1-w) * (synthetic fit) is not the weighted MLE (module
    # madsim.theory.universal): the deficit is visible and matches the recursion
    cfg = C(loop=ms.Fresh(real=5, synthetic=5), weight=0.5)
    t = 20
    ds = _sim(cfg, (t,), 40_000, 17)
    x = _values(ds, "var", t) + _values(ds, "mean_sq", t)
    exact = float(theory.expected_second_moment(cfg, t))
    assert exact < 0.9
    stats.assert_mean(x, exact, "weighted w=0.5: E[sigma^2 + (mu-mu0)^2]")


# ================================================================ larger runs (pytest -m slow)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["exact", "samples"])
@pytest.mark.parametrize(
    "loop,cfg_kw,t",
    [
        ("fresh", dict(loop=ms.Fresh(real=10, synthetic=10)), 60),
        ("fresh-unbiased", dict(loop=ms.Fresh(real=10, synthetic=10), estimator="unbiased"), 60),
        ("augment", dict(loop=ms.Augment(real=10, synthetic=10)), 60),
        ("accumulate", dict(loop=ms.Accumulate(synthetic=10)), 100),
        ("accumulate-unbiased", dict(loop=ms.Accumulate(synthetic=10), estimator="unbiased"), 100),
        (
            "hxc-optimal",
            dict(loop=ms.Fresh(real=10, synthetic=10), estimator="unbiased", weight="optimal"),
            80,
        ),
    ],
)
def test_section9_rows_at_scale(loop, cfg_kw, t, path):
    cfg = C(path=path, **cfg_kw)
    _check_moments(cfg, (t,), 200_000 if path == "exact" else 50_000, 21, f"{loop} {path} (validate table)")
