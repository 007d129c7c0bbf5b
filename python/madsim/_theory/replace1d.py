"""Closed-form collapse results: the oracles the tests and ``madsim validate``
check Monte Carlo against. Formulas and their derivations: shared/THEORY.md.

Section 1 (replace loop, 1-D Gaussian). Recursion:
sigma^2_{t+1} = tau^2 sigma_t^2 chi^2_{n-1} / div and
mu_{t+1} = mu_t + tau sigma_t Z / sqrt(n), with div = n (MLE) or n - 1
(unbiased). Shorthands: a = tau^2 (n-1)/div,
c = tau sqrt(2/div) Gamma(n/2)/Gamma((n-1)/2),
delta = psi((n-1)/2) + ln(2/div) + 2 ln tau, s^2 = psi'((n-1)/2).
All results are exact for both paths (exact and samples); t counts fits and
may be an array. Sources: Shumailov et al. (arXiv 2305.17493, Nature 2024)
for the setting; the exact expressions are derived in THEORY.md and were
checked there by Monte Carlo.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .. import _validate as check

# Wald/Siegmund overshoot constant for a Gaussian random walk's first passage:
# -zeta(1/2)/sqrt(2 pi) = 0.5826 (Siegmund, Sequential Analysis, 1985).
SIEGMUND_OVERSHOOT = 0.5826


def _div(n, estimator):
    n = check.integer("n", n, 2)
    check.choice("estimator", estimator, ("mle", "unbiased"))
    return n, float(n if estimator == "mle" else n - 1)


def _tau(tau):
    return check.real("tau", tau, 0.0, None, lo_open=True)


def var_factor(n, tau=1.0, estimator="mle"):
    """a = tau^2 (n-1)/div: E sigma^2_{t+1} = a E sigma^2_t."""
    n, div = _div(n, estimator)
    return _tau(tau) ** 2 * (n - 1) / div


def sigma_factor(n, tau=1.0, estimator="mle"):
    """c = tau sqrt(2/div) Gamma(n/2)/Gamma((n-1)/2): E sigma_{t+1} = c E sigma_t."""
    n, div = _div(n, estimator)
    return _tau(tau) * math.sqrt(2.0 / div) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))


def log_var_drift(n, tau=1.0, estimator="mle"):
    """delta = E ln(sigma^2_{t+1}/sigma^2_t) = psi((n-1)/2) + ln(2/div) + 2 ln tau."""
    n, div = _div(n, estimator)
    return float(special.digamma((n - 1) / 2) + math.log(2.0 / div) + 2 * math.log(_tau(tau)))


def log_var_step_variance(n):
    """s^2 = Var ln(sigma^2_{t+1}/sigma^2_t) = psi'((n-1)/2) (any tau, estimator)."""
    n = check.integer("n", n, 2)
    return float(special.polygamma(1, (n - 1) / 2))


def expected_var(t, n, tau=1.0, estimator="mle", var0=1.0):
    """E sigma_t^2 = sigma0^2 a^t."""
    return var0 * var_factor(n, tau, estimator) ** np.asarray(t, dtype=float)


def expected_sigma(t, n, tau=1.0, estimator="mle", var0=1.0):
    """E sigma_t = sigma0 c^t."""
    return math.sqrt(var0) * sigma_factor(n, tau, estimator) ** np.asarray(t, dtype=float)


def expected_var_power(r, t, n, tau=1.0, estimator="mle", var0=1.0):
    """E sigma_t^{2r} = sigma0^{2r} [(2 tau^2/div)^r Gamma((n-1)/2 + r)/Gamma((n-1)/2)]^t,
    for r > -(n-1)/2."""
    n, div = _div(n, estimator)
    r = check.real("r", r)
    if r <= -(n - 1) / 2:
        raise ValueError(f"r must be > -(n-1)/2 = {-(n - 1) / 2}; got {r}")
    log_step = r * math.log(2 * _tau(tau) ** 2 / div) + special.gammaln((n - 1) / 2 + r) - special.gammaln((n - 1) / 2)
    return var0**r * np.exp(np.asarray(t, dtype=float) * log_step)


def expected_log_var(t, n, tau=1.0, estimator="mle"):
    """E ln(sigma_t^2 / sigma0^2) = t delta."""
    return np.asarray(t, dtype=float) * log_var_drift(n, tau, estimator)


def var_log_var(t, n):
    """Var ln sigma_t^2 = t s^2."""
    return np.asarray(t, dtype=float) * log_var_step_variance(n)


def expected_mean_sq(t, n, tau=1.0, estimator="mle", var0=1.0):
    """E (mu_t - mu0)^2 = (tau^2 sigma0^2 / n) sum_{s<t} a^s."""
    a = var_factor(n, tau, estimator)
    t = np.asarray(t, dtype=float)
    geo = t if a == 1.0 else (1.0 - a**t) / (1.0 - a)
    return _tau(tau) ** 2 * var0 / n * geo


def expected_w2_sq(t, n, tau=1.0, estimator="mle", var0=1.0):
    """E W2^2(p0, p_t) = E(mu_t-mu0)^2 + E sigma_t^2 - 2 sigma0 E sigma_t + sigma0^2."""
    return (expected_mean_sq(t, n, tau, estimator, var0) + expected_var(t, n, tau, estimator, var0)
            - 2 * math.sqrt(var0) * expected_sigma(t, n, tau, estimator, var0) + var0)


def expected_kl_model_truth(t, n, tau=1.0, estimator="mle"):
    """E KL(p_t || p0) = (1/2)[-t delta + a^t + E(mu_t-mu0)^2/sigma0^2 - 1]."""
    t = np.asarray(t, dtype=float)
    return 0.5 * (-t * log_var_drift(n, tau, estimator) + var_factor(n, tau, estimator) ** t
                  + expected_mean_sq(t, n, tau, estimator) - 1.0)


def expected_kl_truth_model(t, n, tau=1.0, estimator="mle"):
    """E KL(p0 || p_t) = (1/2)[t delta + b^t + (tau^2/n) sum_{j=1..t} b^j - 1],
    b = div/(tau^2 (n-3)); finite only for n > 3."""
    n, div = _div(n, estimator)
    if n <= 3:
        raise ValueError(f"E KL(p0 || p_t) is infinite for n <= 3; got n={n}")
    tau = _tau(tau)
    b = div / (tau**2 * (n - 3))
    t = np.asarray(t, dtype=float)
    geo = t if b == 1.0 else b * (b**t - 1.0) / (b - 1.0)
    return 0.5 * (t * log_var_drift(n, tau, estimator) + b**t + tau**2 / n * geo - 1.0)


def cv2_var(t, n):
    """Squared coefficient of variation of sigma_t^2: ((n+1)/(n-1))^t - 1 (any
    tau, estimator). Monte Carlo error of a mean of sigma_t^2 over R replicas
    is sqrt(cv2/R) relative: E sigma^2 is testable only where this is small."""
    n = check.integer("n", n, 2)
    return ((n + 1) / (n - 1)) ** np.asarray(t, dtype=float) - 1.0


def cv2_sigma(t, n, tau=1.0, estimator="mle"):
    """Squared coefficient of variation of sigma_t: (a/c^2)^t - 1."""
    return (var_factor(n, tau, estimator) / sigma_factor(n, tau, estimator) ** 2) ** np.asarray(t, dtype=float) - 1.0


def collapse_time_wald(eps, n, tau=1.0, estimator="mle"):
    """Approximate E T_eps, T_eps = first t with sigma_t <= eps sigma0: the
    Wald identity with Siegmund's overshoot correction for the random walk
    ln sigma_t^2, (2 ln eps - 0.5826 s)/delta. An approximation (within ~2%
    of Monte Carlo at n = 10 and n = 100, THEORY.md section 1), valid when
    delta < 0."""
    eps = check.real("eps", eps, 0.0, 1.0, lo_open=True)
    delta = log_var_drift(n, tau, estimator)
    if delta >= 0:
        raise ValueError(f"the log-variance drift is {delta:.4g} >= 0: no almost-sure collapse to approximate")
    return (2 * math.log(eps) - SIEGMUND_OVERSHOOT * math.sqrt(log_var_step_variance(n))) / delta
