"""Two mitigations of the Gaussian replace loop (docs/theory/mitigations.md).

Tail reweighting (``Config(reweight=TailWeight(beta, k))``): each synthetic
draw z (standard coordinates of the law that drew it) weighs
w = 1 + beta * 1{norm(z) > k} in the refit, the weighted mean and the weighted
scatter over the sum of the weights. Conditional on the number J of the n
draws outside the radius k the sum of the weights is W = n + beta J, fixed, and
the draws inside and outside are iid from N(0, I) restricted to each side,
with E zz' = (m_in / d) I and (m_out / d) I, m_in = E[r^2 | r <= k], m_out =
E[r^2 | r > k] (r^2 ~ chi2_d; E[r^2 1{r > k}] = d P(chi2_{d+2} > k^2)). The
signs are independent of the radii, so the cross terms of the weighted mean
vanish and

    E Sigma_{t+1} = tau^2 f Sigma_t,
    f = E_J [ S1 / (d W) - S2 / (d W^2) ],  J ~ Binomial(n, P(chi2_d > k^2)),
    S1 = (n - J) m_in + (1 + beta) J m_out,  S2 = (n - J) m_in + (1 + beta)^2 J m_out

(times n / (n - 1) for estimator "unbiased"). As n grows, f -> (1 + beta q)
/ (1 + beta p) with p = P(chi2_d > k^2), q = P(chi2_{d+2} > k^2).

Self-correction (``Config(correction=gamma)``, Gillman et al. 2024): the
synthetic points x ~ N(mu, tau^2 Sigma) move to (1 - g) x + g T(x), T the
optimal transport map from N(mu, Sigma) to the truth N(mu0, Sigma0), so the
corrected sample is N((1 - g) mu + g mu0, tau^2 M Sigma M), M = (1 - g) I + g A,
A Sigma A = Sigma0. In 1-D the corrected scale is tau ((1 - g) sigma + g
sigma0), and the refit gives sigma_{t+1} = tau c_t ((1 - g) sigma_t + g sigma0)
with c_t^2 = chi2_{n-1} / div: a linear recursion in E sigma and E sigma^2.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import optimize, special, stats

from .. import checks as check


def _estimator(estimator: str) -> str:
    return check.choice("estimator", estimator, ("mle", "unbiased"))


# ---------------------------------------------------------------- tail reweighting


def _tail_moments(k: float, d: int) -> tuple[float, float, float]:
    """(p, m_in, m_out): P(r > k) and E[r^2 | r <= k], E[r^2 | r > k] (r = norm(z))
    for z ~ N(0, I_d) (a side with no mass gets 0)."""
    k2 = k * k
    p = float(stats.chi2.sf(k2, d))
    q = float(stats.chi2.sf(k2, d + 2))  # E[r^2 1{r > k}] / d
    m_out = d * q / p if p > 0.0 else 0.0
    m_in = d * (1.0 - q) / (1.0 - p) if p < 1.0 else 0.0
    return p, m_in, m_out


def tail_weight_factor(n: int, beta: float, k: float, dim: int = 1, estimator: str = "mle") -> float:
    """The expected variance factor of one tail-reweighted refit:
    E Sigma_{t+1} = tau^2 f Sigma_t for n synthetic draws each weighing
    1 + beta * 1{norm(z) > k}, exact for every n (a sum over the binomial number
    of draws beyond k). beta = 0 gives the MLE's (n - 1) / n.

    Parameters
    ----------
    n : int
        Synthetic draws per fit (>= 2).
    beta : float
        The tail's extra weight (>= 0).
    k : float
        The radius, in standard deviations (Mahalanobis for dim > 1).
    dim : int
        The dimension d.
    estimator : {"mle", "unbiased"}
        "unbiased" multiplies by n / (n - 1).

    Notes
    -----
    docs/theory/mitigations.md, section "Tail reweighting"; validate cases
    ``mit-tail-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.mitigations.tail_weight_factor(100, 0.0, 2.0), 6)
    0.99
    >>> round(theory.mitigations.tail_weight_factor(100, 1.0, 2.0), 4)
    1.1866
    """
    n = check.integer("n", n, 2, 10**7)
    beta = check.real("beta", beta, 0.0, None)
    k = check.real("k", k, 0.0, None)
    d = check.integer("dim", dim, 1, 256)
    p, m_in, m_out = _tail_moments(k, d)
    J = np.arange(n + 1, dtype=np.float64)
    pmf = stats.binom.pmf(J, n, p)
    W = n + beta * J
    S1 = (n - J) * m_in + (1.0 + beta) * J * m_out
    S2 = (n - J) * m_in + (1.0 + beta) ** 2 * J * m_out
    f = float(np.sum(pmf * (S1 / (d * W) - S2 / (d * W * W))))
    return f * n / (n - 1.0) if _estimator(estimator) == "unbiased" else f


def tail_weight_factor_limit(beta: float, k: float, dim: int = 1) -> float:
    """The large-n factor (1 + beta q) / (1 + beta p), p = P(chi2_d > k^2),
    q = P(chi2_{d+2} > k^2): the weighted second moment E[w r^2] / (d E[w]).
    The finite-n factor is about (n - 1) / n of it (tail_weight_factor).
    docs/theory/mitigations.md, section "Tail reweighting".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.mitigations.tail_weight_factor_limit(1.0, 2.0), 6)
    1.206565
    """
    beta = check.real("beta", beta, 0.0, None)
    k = check.real("k", k, 0.0, None)
    d = check.integer("dim", dim, 1, 256)
    p = float(stats.chi2.sf(k * k, d))
    q = float(stats.chi2.sf(k * k, d + 2))
    return (1.0 + beta * q) / (1.0 + beta * p)


def cancelling_beta(n: int, k: float, dim: int = 1, exact: bool = True) -> float:
    """The beta whose tail reweighting cancels the MLE's shrink: E Sigma_{t+1}
    = Sigma_t at temperature 1, i.e. tail_weight_factor(n, beta, k, dim) = 1
    (``exact``), or its large-n form (1 + beta q)(n - 1) = n (1 + beta p),
    beta = 1 / ((n - 1) q - n p) (``exact=False``). ValueError when no beta
    does (k so large that too few draws fall beyond it).
    docs/theory/mitigations.md, section "The beta that cancels the shrink".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.mitigations.cancelling_beta(100, 2.0), 4)
    0.0479
    >>> round(theory.mitigations.cancelling_beta(100, 2.0, exact=False), 4)
    0.0469
    """
    n = check.integer("n", n, 2, 10**7)
    k = check.real("k", k, 0.0, None)
    d = check.integer("dim", dim, 1, 256)
    if not exact:
        p = float(stats.chi2.sf(k * k, d))
        q = float(stats.chi2.sf(k * k, d + 2))
        den = (n - 1) * q - n * p
        if not den > 0.0:
            raise ValueError(
                f"no beta cancels the shrink at n = {n}, k = {k}, dim = {d} "
                "(the large-n factor stays below n / (n - 1))"
            )
        return 1.0 / den
    hi = 1.0
    while tail_weight_factor(n, hi, k, d) < 1.0:
        hi *= 4.0
        if hi > 1e9:
            raise ValueError(
                f"no beta cancels the shrink at n = {n}, k = {k}, dim = {d} (too few draws beyond k)"
            )
    return float(
        optimize.brentq(lambda b: tail_weight_factor(n, b, k, d) - 1.0, 0.0, hi, xtol=1e-14, rtol=1e-12)
    )


def tail_weight_expected_var(
    t,
    n: int,
    beta: float,
    k: float,
    dim: int = 1,
    tau: float = 1.0,
    estimator: str = "mle",
    var0: float = 1.0,
):
    """E sigma_t^2 (per coordinate: E Sigma_t = this / var0 * Sigma0) of the
    replace loop with tail reweighting: var0 (tau^2 f)^t, f = tail_weight_factor.
    No truncation (its draws would change m_in and m_out). docs/theory/mitigations.md,
    section "Tail reweighting".

    Examples
    --------
    >>> from madsim import theory
    >>> round(float(theory.mitigations.tail_weight_expected_var(10, 100, 1.0, 2.0)), 4)
    5.5358
    """
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError(f"t must be integer generations >= 0; got {t!r}")
    tau = check.real("tau", tau, 0.0, None, lo_open=True)
    var0 = check.real("var0", var0, 0.0, None, lo_open=True)
    return var0 * (tau * tau * tail_weight_factor(n, beta, k, dim, estimator)) ** t


# ---------------------------------------------------------------- self-correction


class CorrectionMoments(NamedTuple):
    """E sigma_t, E sigma_t^2 and E (mu_t - mu0)^2 of the 1-D replace loop
    with self-correction (arrays over t, or numbers for the stationary law);
    docs/theory/mitigations.md, section "Self-correction".

    Examples
    --------
    >>> from madsim import theory
    >>> theory.CorrectionMoments(sd=0.9, var=0.85, mean_sq=0.1).var
    0.85
    """

    sd: np.ndarray
    var: np.ndarray
    mean_sq: np.ndarray


def _chi_moments(n: int, estimator: str) -> tuple[float, float]:
    """(E c, E c^2) of c = sqrt(chi2_{n-1} / div), div = n or n - 1."""
    div = n if _estimator(estimator) == "mle" else n - 1.0
    a1 = math.exp(0.5 * math.log(2.0 / div) + special.gammaln(n / 2.0) - special.gammaln((n - 1) / 2.0))
    return a1, (n - 1.0) / div


def _correction_args(n, gamma, tau, var0):
    n = check.integer("n", n, 2, 2**40)
    gamma = check.real("gamma", gamma, 0.0, 1.0)
    tau = check.real("tau", tau, 0.0, None, lo_open=True)
    var0 = check.real("var0", var0, 0.0, None, lo_open=True)
    return n, gamma, tau, var0


def correction_moments(
    t, n: int, gamma: float, tau: float = 1.0, estimator: str = "mle", var0: float = 1.0
) -> CorrectionMoments:
    """The 1-D replace loop with self-correction, exactly: with s = sigma_t,
    s' = (1 - g) s + g sigma0 the corrected scale and c = sqrt(chi2_{n-1}/div),

        E s_{t+1}   = tau E c ((1 - g) E s_t + g sigma0)
        E s_{t+1}^2 = tau^2 E c^2 ((1 - g)^2 E s_t^2 + 2 g (1 - g) sigma0 E s_t + g^2 sigma0^2)
        D_{t+1}     = (1 - g)^2 D_t + tau^2 E s'^2 / n,   D = E (mu - mu0)^2

    from s_0 = sigma0, D_0 = 0. docs/theory/mitigations.md, section
    "Self-correction".

    Examples
    --------
    >>> from madsim import theory
    >>> m = theory.mitigations.correction_moments([0, 1, 50], 10, 0.5)
    >>> [round(float(v), 4) for v in m.var]
    [1.0, 0.9, 0.7877]
    """
    n, g, tau, var0 = _correction_args(n, gamma, tau, var0)
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError(f"t must be integer generations >= 0; got {t!r}")
    a1, a2 = _chi_moments(n, estimator)
    s0 = math.sqrt(var0)
    T = int(t.max()) if t.size else 0
    m1, m2, D = np.empty(T + 1), np.empty(T + 1), np.empty(T + 1)
    m1[0], m2[0], D[0] = s0, var0, 0.0
    for i in range(1, T + 1):
        corr2 = (1 - g) ** 2 * m2[i - 1] + 2 * g * (1 - g) * s0 * m1[i - 1] + g * g * var0
        m1[i] = tau * a1 * ((1 - g) * m1[i - 1] + g * s0)
        m2[i] = tau * tau * a2 * corr2
        D[i] = (1 - g) ** 2 * D[i - 1] + tau * tau * corr2 / n
    return CorrectionMoments(m1[t], m2[t], D[t])


def correction_stationary(
    n: int, gamma: float, tau: float = 1.0, estimator: str = "mle", var0: float = 1.0
) -> CorrectionMoments:
    """The stationary E sigma, E sigma^2, E (mu - mu0)^2 of the 1-D replace loop
    with self-correction gamma > 0, the fixed point of correction_moments'
    recursion:

        E s   = g tau a1 sigma0 / (1 - (1 - g) tau a1)
        E s^2 = tau^2 a2 (2 g (1 - g) sigma0 E s + g^2 sigma0^2) / (1 - tau^2 a2 (1 - g)^2)
        D     = tau^2 E s'^2 / (n (1 - (1 - g)^2)),  E s'^2 = E s^2 / (tau^2 a2)

    with a1 = E c, a2 = E c^2; it exists when tau^2 a2 (1 - g)^2 < 1 (always
    at tau = 1: a2 <= 1), and E s >= g tau a1 sigma0 / (1 - ...) > 0: no
    collapse. docs/theory/mitigations.md, section "Self-correction".

    Examples
    --------
    >>> from madsim import theory
    >>> fp = theory.mitigations.correction_stationary(10, 0.5)
    >>> round(fp.var, 4), round(fp.mean_sq, 4)
    (0.7877, 0.1167)
    """
    n, g, tau, var0 = _correction_args(n, gamma, tau, var0)
    if not g > 0.0:
        raise ValueError("gamma must be > 0 for a stationary law (gamma = 0 is the collapsing loop)")
    a1, a2 = _chi_moments(n, estimator)
    s0 = math.sqrt(var0)
    if not (tau * a1 * (1 - g) < 1.0 and tau * tau * a2 * (1 - g) ** 2 < 1.0):
        raise ValueError(
            f"no stationary second moment at tau = {tau}, gamma = {g}: tau^2 E c^2 (1 - gamma)^2 must be < 1"
        )
    m1 = g * tau * a1 * s0 / (1.0 - (1 - g) * tau * a1)
    m2 = tau * tau * a2 * (2 * g * (1 - g) * s0 * m1 + g * g * var0) / (1.0 - tau * tau * a2 * (1 - g) ** 2)
    D = (m2 / a2) / (n * (1.0 - (1 - g) ** 2))
    return CorrectionMoments(float(m1), float(m2), float(D))


def correction_limit_scale(gamma: float, tau: float = 1.0) -> float:
    """The large-n fixed point of self-correction in any dimension: the fit is
    then the corrected law itself, Sigma_{t+1} = tau^2 M Sigma_t M, which keeps
    Sigma_t = s_t^2 Sigma0 with s_{t+1} = tau ((1 - g) s_t + g), so s_t ->
    g tau / (1 - (1 - g) tau) (needs (1 - g) tau < 1). docs/theory/mitigations.md,
    section "Self-correction in d dimensions".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.mitigations.correction_limit_scale(0.5, 1.2), 4)
    1.5
    """
    g = check.real("gamma", gamma, 0.0, 1.0, lo_open=True)
    tau = check.real("tau", tau, 0.0, None, lo_open=True)
    if not (1.0 - g) * tau < 1.0:
        raise ValueError(f"(1 - gamma) tau = {(1 - g) * tau} must be < 1 for a fixed point")
    return g * tau / (1.0 - (1.0 - g) * tau)
