"""Calibrated statistical assertions (after TensorFlow Probability's
statistical_testing): each test states its false-fail rate, uses fixed seeds,
and checks that its sample is large enough to see the error it guards against.

Budget: every assertion runs at ALPHA = 1e-5 two-sided (Bonferroni-split when
one test makes several comparisons). With ~150 statistical assertions in the
suite, the chance that a correct implementation fails somewhere at a fresh
seed is below 1.5e-3. At the fixed seeds used (and the hypothesis "ci"
profile, which is derandomized) the suite is deterministic; under the
"dev" or "explore" profiles (tests/strategies.py) hypothesis draws new
examples every run, so a tolerance that is too tight for some draw can
surface there first.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

ALPHA = 1e-5


def z_crit(alpha: float = ALPHA) -> float:
    return float(stats.norm.isf(alpha / 2))


def detectable_shift(se: float, alpha: float = ALPHA, power: float = 0.99) -> float:
    """Smallest true shift a z-test with standard error `se` detects with the
    given power: (z_{alpha/2} + z_{power}) se."""
    return (z_crit(alpha) + float(stats.norm.isf(1 - power))) * se


def assert_mean(x, expected: float, what: str, alpha: float = ALPHA, se: float | None = None):
    """z-test of mean(x) against `expected` (CLT standard error unless given)."""
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)):
        raise AssertionError(f"{what}: non-finite values in the sample")
    m = x.mean()
    se = x.std(ddof=1) / np.sqrt(x.size) if se is None else se
    z = (m - expected) / se
    assert abs(z) < z_crit(alpha), (
        f"{what}: Monte Carlo {m:.6g} +- {se:.3g} vs expected {expected:.6g} (z = {z:.2f}, alpha = {alpha:g})"
    )


def assert_variance(x, expected: float, what: str, alpha: float = ALPHA):
    """z-test of the sample variance, SE from the sample's fourth moment."""
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    v = d.var(ddof=1)
    se = np.sqrt(max((d**4).mean() - v**2, 0.0) / x.size)
    z = (v - expected) / se
    assert abs(z) < z_crit(alpha), (
        f"{what}: sample variance {v:.6g} +- {se:.3g} vs expected {expected:.6g} (z = {z:.2f})"
    )


def assert_ks(x, cdf, what: str, alpha: float = ALPHA):
    res = stats.kstest(np.asarray(x, dtype=float), cdf)
    assert res.pvalue > alpha, f"{what}: KS statistic {res.statistic:.4g}, p = {res.pvalue:.3g} < {alpha:g}"


def assert_same_law(x, y, what: str, alpha: float = ALPHA):
    res = stats.ks_2samp(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    assert res.pvalue > alpha, (
        f"{what}: two-sample KS statistic {res.statistic:.4g}, p = {res.pvalue:.3g} < {alpha:g}"
    )


def assert_counts(observed, probs, what: str, alpha: float = ALPHA, min_expected: float = 20.0):
    """Chi-square goodness of fit; cells with small expectation are pooled into
    their neighbours so the chi-square approximation holds."""
    observed = np.asarray(observed, dtype=float)
    probs = np.asarray(probs, dtype=float)
    expected = probs / probs.sum() * observed.sum()
    obs_cells, exp_cells, o_acc, e_acc = [], [], 0.0, 0.0
    for o, e in zip(observed, expected):
        o_acc += o
        e_acc += e
        if e_acc >= min_expected:
            obs_cells.append(o_acc)
            exp_cells.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 and obs_cells:
        obs_cells[-1] += o_acc
        exp_cells[-1] += e_acc
    o, e = np.array(obs_cells), np.array(exp_cells)
    chi2 = ((o - e) ** 2 / e).sum()
    p = stats.chi2.sf(chi2, len(o) - 1)
    assert p > alpha, f"{what}: chi-square {chi2:.2f} on {len(o) - 1} df, p = {p:.3g} < {alpha:g}"
