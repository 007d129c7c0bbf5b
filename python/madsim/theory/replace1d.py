"""The replace loop of a 1-D Gaussian, by numbers (constant sample size).

Generation t + 1 fits n draws of N(mu_t, tau^2 sigma_t^2) with the mean and
the scatter divided by ``div`` (n for "mle", n - 1 for "unbiased"). By
Cochran's theorem
``sigma_{t+1}^2 = sigma_t^2 tau^2 chi2_{n-1} / div`` and
``mu_{t+1} = mu_t + tau sigma_t Z / sqrt(n)`` with independent factors, so
every moment of sigma_t^2 is a power of one factor's moment and
ln sigma_t^2 is a random walk. All results are exact for both paths (exact
and samples); ``t`` counts fits and may be an array.

Derivations, conditions and sources: docs/theory/replace-1d.md (setting of
Shumailov et al., "AI models collapse when trained on recursively generated
data", Nature 2024, arXiv 2305.17493). The by-config forms (schedules,
filters, any loop) are in ``moments`` and ``replace_nd``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .. import checks as check

#: Siegmund's overshoot constant for a Gaussian random walk's first passage,
#: -zeta(1/2)/sqrt(2 pi) = 0.5826 (Siegmund, Sequential Analysis, 1985); used by
#: ``collapse_time_wald`` (docs/theory/replace-1d.md, section "Collapse time").
SIEGMUND_OVERSHOOT = 0.5826


def _div(n, estimator):
    n = check.integer("n", n, 2)
    check.choice("estimator", estimator, ("mle", "unbiased"))
    return n, float(n if estimator == "mle" else n - 1)


def _tau(tau):
    return check.real("tau", tau, 0.0, None, lo_open=True)


def var_factor(n, tau=1.0, estimator="mle"):
    """Expected variance factor of one generation of the 1-D replace loop.

    ``a = tau^2 (n - 1) / div``, so that ``E sigma_{t+1}^2 = a E sigma_t^2``.

    Parameters
    ----------
    n : int
        Points per fit (>= 2).
    tau : float
        Temperature (> 0).
    estimator : {"mle", "unbiased"}
        Divisor of the scatter: n or n - 1.

    Returns
    -------
    float

    Notes
    -----
    docs/theory/replace-1d.md, section "Variance".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.var_factor(10), 6)
    0.9
    >>> theory.var_factor(10, estimator="unbiased")
    1.0
    """
    n, div = _div(n, estimator)
    return _tau(tau) ** 2 * (n - 1) / div


def sigma_factor(n, tau=1.0, estimator="mle"):
    """Expected standard-deviation factor of one generation of the 1-D replace loop.

    ``c = tau sqrt(2/div) Gamma(n/2) / Gamma((n-1)/2)``, so that
    ``E sigma_{t+1} = c E sigma_t``.

    Parameters
    ----------
    n : int
        Points per fit (>= 2).
    tau : float
        Temperature (> 0).
    estimator : {"mle", "unbiased"}
        Divisor of the scatter: n or n - 1.

    Returns
    -------
    float

    Notes
    -----
    docs/theory/replace-1d.md, section "Standard deviation".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.sigma_factor(10), 6)
    0.922746
    """
    n, div = _div(n, estimator)
    return _tau(tau) * math.sqrt(2.0 / div) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))


def log_var_drift(n, tau=1.0, estimator="mle"):
    """Mean step of the random walk ln sigma_t^2 in the 1-D replace loop.

    ``delta = E ln(sigma_{t+1}^2 / sigma_t^2) = psi((n-1)/2) + ln(2/div) + 2 ln tau``
    (psi: digamma).

    Parameters
    ----------
    n : int
        Points per fit (>= 2).
    tau : float
        Temperature (> 0).
    estimator : {"mle", "unbiased"}
        Divisor of the scatter: n or n - 1.

    Returns
    -------
    float
        Negative whenever ``var_factor <= 1``: sigma_t -> 0 almost surely.

    Notes
    -----
    docs/theory/replace-1d.md, section "Log-variance: drift and spread".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.log_var_drift(10), 6)
    -0.220567
    """
    n, div = _div(n, estimator)
    return float(special.digamma((n - 1) / 2) + math.log(2.0 / div) + 2 * math.log(_tau(tau)))


def log_var_step_variance(n):
    """Variance of one step of the random walk ln sigma_t^2 (1-D replace loop).

    ``s^2 = Var ln(sigma_{t+1}^2 / sigma_t^2) = psi'((n-1)/2)`` (trigamma),
    the same for every temperature and estimator.

    Parameters
    ----------
    n : int
        Points per fit (>= 2).

    Returns
    -------
    float

    Notes
    -----
    docs/theory/replace-1d.md, section "Log-variance: drift and spread".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.log_var_step_variance(10), 6)
    0.248725
    """
    n = check.integer("n", n, 2)
    return float(special.polygamma(1, (n - 1) / 2))


def expected_var(t, n, tau=1.0, estimator="mle", var0=1.0):
    """E sigma_t^2 = sigma0^2 a^t (``a = var_factor(n, tau, estimator)``).

    docs/theory/replace-1d.md, section "Variance". Public as
    ``madsim.theory.expected_var(t, n, ...)``.
    """
    return var0 * var_factor(n, tau, estimator) ** np.asarray(t, dtype=float)


def expected_sigma(t, n, tau=1.0, estimator="mle", var0=1.0):
    """E sigma_t = sigma0 c^t (``c = sigma_factor(n, tau, estimator)``).

    docs/theory/replace-1d.md, section "Standard deviation". Public as
    ``madsim.theory.expected_sigma(t, n, ...)``.
    """
    return math.sqrt(var0) * sigma_factor(n, tau, estimator) ** np.asarray(t, dtype=float)


def expected_var_power(r, t, n, tau=1.0, estimator="mle", var0=1.0):
    """E sigma_t^{2r} = sigma0^{2r} [(2 tau^2/div)^r Gamma((n-1)/2 + r)/Gamma((n-1)/2)]^t.

    Finite for r > -(n-1)/2 (``ValueError`` otherwise).
    docs/theory/replace-1d.md, section "Variance". Public as
    ``madsim.theory.expected_var_power(r, t, n, ...)``.
    """
    n, div = _div(n, estimator)
    r = check.real("r", r)
    if r <= -(n - 1) / 2:
        raise ValueError(f"r must be > -(n-1)/2 = {-(n - 1) / 2}; got {r}")
    log_step = (
        r * math.log(2 * _tau(tau) ** 2 / div)
        + special.gammaln((n - 1) / 2 + r)
        - special.gammaln((n - 1) / 2)
    )
    return var0**r * np.exp(np.asarray(t, dtype=float) * log_step)


def expected_log_var(t, n, tau=1.0, estimator="mle"):
    """E ln(sigma_t^2 / sigma0^2) = t delta (``delta = log_var_drift``).

    docs/theory/replace-1d.md, section "Log-variance: drift and spread".
    Public as ``madsim.theory.expected_log_var(t, n, ...)``.
    """
    return np.asarray(t, dtype=float) * log_var_drift(n, tau, estimator)


def var_log_var(t, n):
    """Var ln sigma_t^2 = t s^2 (``s^2 = log_var_step_variance``).

    docs/theory/replace-1d.md, section "Log-variance: drift and spread".
    Public as ``madsim.theory.var_log_var(t, n)``.
    """
    return np.asarray(t, dtype=float) * log_var_step_variance(n)


def expected_mean_sq(t, n, tau=1.0, estimator="mle", var0=1.0):
    """E (mu_t - mu0)^2 = (tau^2 sigma0^2 / n) sum_{s<t} a^s.

    docs/theory/replace-1d.md, section "Error of the mean". Public as
    ``madsim.theory.expected_mean_sq(t, n, ...)``.
    """
    a = var_factor(n, tau, estimator)
    t = np.asarray(t, dtype=float)
    geo = t if a == 1.0 else (1.0 - a**t) / (1.0 - a)
    return _tau(tau) ** 2 * var0 / n * geo


def expected_w2_sq(t, n, tau=1.0, estimator="mle", var0=1.0):
    """E W2^2(p0, p_t) = E(mu_t-mu0)^2 + E sigma_t^2 - 2 sigma0 E sigma_t + sigma0^2.

    docs/theory/replace-1d.md, section "Wasserstein-2 distance to the truth".
    Public as ``madsim.theory.expected_w2_sq(t, n, ...)``.
    """
    return (
        expected_mean_sq(t, n, tau, estimator, var0)
        + expected_var(t, n, tau, estimator, var0)
        - 2 * math.sqrt(var0) * expected_sigma(t, n, tau, estimator, var0)
        + var0
    )


def expected_kl_model_truth(t, n, tau=1.0, estimator="mle"):
    """E KL(p_t || p0) = (1/2)[-t delta + a^t + E(mu_t-mu0)^2/sigma0^2 - 1].

    docs/theory/replace-1d.md, section "Kullback-Leibler divergences".
    Public as ``madsim.theory.expected_kl_model_truth(t, n, ...)``.
    """
    t = np.asarray(t, dtype=float)
    return 0.5 * (
        -t * log_var_drift(n, tau, estimator)
        + var_factor(n, tau, estimator) ** t
        + expected_mean_sq(t, n, tau, estimator)
        - 1.0
    )


def expected_kl_truth_model(t, n, tau=1.0, estimator="mle"):
    """E KL(p0 || p_t) = (1/2)[t delta + b^t + (tau^2/n) sum_{j=1..t} b^j - 1].

    ``b = div / (tau^2 (n-3))``; finite only for n > 3 (``ValueError``
    otherwise). docs/theory/replace-1d.md, section "Kullback-Leibler
    divergences". Public as ``madsim.theory.expected_kl_truth_model(t, n, ...)``.
    """
    n, div = _div(n, estimator)
    if n <= 3:
        raise ValueError(f"E KL(p0 || p_t) is infinite for n <= 3; got n={n}")
    tau = _tau(tau)
    b = div / (tau**2 * (n - 3))
    t = np.asarray(t, dtype=float)
    geo = t if b == 1.0 else b * (b**t - 1.0) / (b - 1.0)
    return 0.5 * (t * log_var_drift(n, tau, estimator) + b**t + tau**2 / n * geo - 1.0)


def cv2_var(t, n):
    """CV^2 of sigma_t^2: ((n+1)/(n-1))^t - 1 (any tau, either estimator).

    The Monte Carlo error of a mean of sigma_t^2 over R replicas is
    sqrt(cv2/R) relative. docs/theory/replace-1d.md, section "Monte Carlo
    precision". Public as ``madsim.theory.cv2_var(t, n)``.
    """
    n = check.integer("n", n, 2)
    return ((n + 1) / (n - 1)) ** np.asarray(t, dtype=float) - 1.0


def cv2_sigma(t, n, tau=1.0, estimator="mle"):
    """CV^2 of sigma_t: (a/c^2)^t - 1.

    docs/theory/replace-1d.md, section "Monte Carlo precision". Public as
    ``madsim.theory.cv2_sigma(t, n, ...)``.
    """
    return (var_factor(n, tau, estimator) / sigma_factor(n, tau, estimator) ** 2) ** np.asarray(
        t, dtype=float
    ) - 1.0


def collapse_time_wald(eps, n, tau=1.0, estimator="mle"):
    """Approximate mean collapse time of the 1-D replace loop.

    ``E T_eps ~ (2 ln eps - 0.5826 s) / delta``, where ``T_eps`` is the first
    generation with ``sigma_t <= eps sigma0``: Wald's identity for the random
    walk ln sigma_t^2 with Siegmund's correction for the overshoot of the
    barrier (``SIEGMUND_OVERSHOOT`` = 0.5826).

    Parameters
    ----------
    eps : float
        The collapse level, in (0, 1).
    n : int
        Points per fit (>= 2).
    tau : float
        Temperature (> 0).
    estimator : {"mle", "unbiased"}
        Divisor of the scatter: n or n - 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the log-variance drift ``delta`` is >= 0 (no almost-sure collapse).

    Notes
    -----
    An approximation, not exact: it treats the skewed log-steps as Gaussian
    (within about 2 % of Monte Carlo at n = 10 and n = 100, eps = 0.1).
    docs/theory/replace-1d.md, section "Collapse time (an approximation)";
    Siegmund (1985), Sequential Analysis.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.collapse_time_wald(0.1, n=10), 2)
    22.2
    >>> round(theory.collapse_time_wald(0.1, n=100), 1)
    232.3
    """
    eps = check.real("eps", eps, 0.0, 1.0, lo_open=True)
    delta = log_var_drift(n, tau, estimator)
    if delta >= 0:
        raise ValueError(
            f"the log-variance drift is {delta:.4g} >= 0: no almost-sure collapse to approximate"
        )
    return (2 * math.log(eps) - SIEGMUND_OVERSHOOT * math.sqrt(log_var_step_variance(n))) / delta
