"""The replace loop of a d-dim Gaussian, and the replace loop's non-linear
moments for any Config: log-determinant mean and variance, E det, E sigma,
E sigma^{2r}, KL divergences and W2 (1-D).

Replace recursion (Bartlett): Sigma_t = tau^2 Sigma_{t-1}^{1/2} W Sigma_{t-1}^{1/2}/div,
W ~ Wishart_d(K - 1, I), independent of the past, so ln det Sigma_t is a random
walk with iid steps (independent steps when the count K varies with the
generation or is thinned by a filter):

    E step   = sum_{i=1..d} psi((K-i)/2) + d ln(2/div) + 2 d ln tau
    Var step = sum_{i=1..d} psi'((K-i)/2)
    E det factor = tau^{2d} prod_{i=1..d} (K - i)/div^d.

A filter makes K ~ Binomial(n_t, 1 - tpr); the step laws are averaged over it
exactly, and a generation with K < dim + 1 keeps the model (step 0). These
log-moments hold for both paths; under truncation the draws are not Gaussian
and no closed form exists (NotImplementedError).

Derivations and conditions: docs/theory/replace-nd.md and
docs/theory/replace-1d.md (madsim's own, from Bartlett's decomposition and
the Wishart moments, e.g. Muirhead, Aspects of Multivariate Statistical
Theory, 1982); setting of Shumailov et al., "AI models collapse when trained
on recursively generated data", Nature 2024 (arXiv 2305.17493).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .. import checks as check
from ..config import Config
from .common import (
    Setting,
    binomial_law,
    loop_counts,
    pick,
    require_1d,
    require_no_truncation,
    require_replace,
    setting,
    times,
)


# ---------------------------------------------------------------- per-generation factors (constant n)


def _dn(dim, n, estimator):
    d = check.integer("dim", dim, 1)
    n = check.integer("n", n, 2)
    if n <= d:
        raise ValueError(f"n must be > dim = {d} (a full-rank fit needs dim + 1 points); got n={n}")
    check.choice("estimator", estimator, ("mle", "unbiased"))
    return d, n, float(n if estimator == "mle" else n - 1)


def logdet_drift(dim, n, tau=1.0, estimator="mle") -> float:
    """Mean step of the random walk ln det Sigma_t in the d-dim replace loop.

    ``E ln det(Sigma_{t+1} Sigma_t^{-1}) = sum_{i=1..d} psi((n-i)/2) + d ln(2/div) + 2 d ln tau``
    (d = 1: ``log_var_drift``).

    Parameters
    ----------
    dim : int
        Dimension d (>= 1).
    n : int
        Points per fit (> d).
    tau : float, default 1.0
        Temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        The scatter's divisor, n or n - 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Unless n > dim (a full-rank fit needs dim + 1 points).

    Notes
    -----
    docs/theory/replace-nd.md, section "Log-determinant".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.logdet_drift(3, 10), 6)
    -1.080169
    """
    d, n, div = _dn(dim, n, estimator)
    tau = check.real("tau", tau, 0.0, None, lo_open=True)
    i = np.arange(1, d + 1)
    return float(np.sum(special.digamma((n - i) / 2.0)) + d * math.log(2.0 / div) + 2 * d * math.log(tau))


def logdet_step_variance(dim, n) -> float:
    """Variance of one step of ln det Sigma_t in the d-dim replace loop.

    ``Var ln det(Sigma_{t+1} Sigma_t^{-1}) = sum_{i=1..d} psi'((n-i)/2)``
    (any temperature and estimator).

    Parameters
    ----------
    dim : int
        Dimension d (>= 1).
    n : int
        Points per fit (> d).

    Returns
    -------
    float

    Notes
    -----
    docs/theory/replace-nd.md, section "Log-determinant".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.logdet_step_variance(3, 10), 6)
    0.862906
    """
    d, n, _ = _dn(dim, n, "mle")
    i = np.arange(1, d + 1)
    return float(np.sum(special.polygamma(1, (n - i) / 2.0)))


def det_factor(dim, n, tau=1.0, estimator="mle") -> float:
    """Expected determinant factor of one generation of the d-dim replace loop.

    ``E det Sigma_{t+1} / det Sigma_t = tau^{2d} prod_{i=1..d} (n-i)/div``.

    Parameters
    ----------
    dim : int
        Dimension d (>= 1).
    n : int
        Points per fit (> d).
    tau : float, default 1.0
        Temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        The scatter's divisor, n or n - 1.

    Returns
    -------
    float

    Notes
    -----
    docs/theory/replace-nd.md, section "Determinant".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.det_factor(3, 10), 6)
    0.504
    """
    d, n, div = _dn(dim, n, estimator)
    tau = check.real("tau", tau, 0.0, None, lo_open=True)
    return float(tau ** (2 * d) * np.prod((n - np.arange(1, d + 1)) / div))


# ---------------------------------------------------------------- per-generation step laws


def _step_laws(st: Setting, T: int):
    """For each generation 1..T: (K support, probabilities, ok mask) of the
    synthetic survivors of a Replace loop."""
    _, syn = loop_counts(st.cfg, T)
    cache: dict = {}
    out = []
    for t in range(T):
        k = syn[t]
        law = cache.get(k)
        if law is None:
            K, p = binomial_law(k, 1.0 - st.tpr)
            law = cache[k] = (K.astype(np.float64), p, K >= st.dim + 1)
        out.append(law)
    return out


def _logdet_steps(st: Setting, T: int):
    """Per generation: (E step, E step^2 + Var given K) of ln det."""
    d = st.dim
    i = np.arange(1, d + 1, dtype=np.float64)
    means, seconds = np.zeros(T), np.zeros(T)
    cache: dict = {}
    for t, (K, p, ok) in enumerate(_step_laws(st, T)):
        key = id(K)
        if key not in cache:
            Kok = np.where(ok, K, d + 1.0)
            div = st.div(Kok)
            ell = (
                np.sum(special.digamma((Kok[:, None] - i[None, :]) / 2.0), axis=1)
                + d * np.log(2.0 / div)
                + 2 * d * math.log(st.tau)
            )
            s2 = np.sum(special.polygamma(1, (Kok[:, None] - i[None, :]) / 2.0), axis=1)
            ell, s2 = np.where(ok, ell, 0.0), np.where(ok, s2, 0.0)
            cache[key] = (float(p @ ell), float(p @ (s2 + ell * ell)))
        means[t], seconds[t] = cache[key]
    return means, seconds


def expected_logdet(cfg: Config, t):
    """Expected log-determinant of the fitted covariance, E ln det Sigma_t (replace loop).

    In the truth's units: ``ln det Sigma0 + t * logdet_drift`` for a constant
    count; in general the sum over generations of
    ``sum_i psi((K-i)/2) + d ln(2/div) + 2 d ln tau`` averaged over the
    filter's binomial survivors K (a skipped fit adds 0). 1-D: E ln sigma_t^2.

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian replace configuration (any schedule and filter).
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        For other loops (the fitted covariance is then a sum of dependent
        terms) and with truncation (truncated draws are not Gaussian).

    Notes
    -----
    docs/theory/replace-nd.md, section "Log-determinant". Checked by the
    validate cases ``row1-*`` to ``row8-*``, ``sec2-*``,
    ``filter-replace-skips``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(family=ms.Gaussian(dim=3), loop=ms.Replace(n=10))
    >>> round(theory.expected_logdet(cfg, 20), 4)
    -21.6034
    """
    st = setting(cfg)
    require_replace(st, "expected_logdet")
    require_no_truncation(st, "expected_logdet")
    t_arr, T, scalar = times(t)
    means, _ = _logdet_steps(st, T)
    series = st.logdet0 + np.concatenate([[0.0], np.cumsum(means)])
    return pick(series, t_arr, scalar)


def var_logdet(cfg: Config, t):
    """Variance of the log-determinant of the fitted covariance, Var ln det Sigma_t (replace loop).

    The sum over generations of ``sum_i psi'((K-i)/2)``, plus the variance of
    the drift over the filter's survivor law. 1-D: Var ln sigma_t^2.

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian replace configuration (any schedule and filter).
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        For other loops and with truncation.

    Notes
    -----
    docs/theory/replace-nd.md, sections "Log-determinant" and "Schedules,
    filters and skipped fits". Checked by the validate cases ``row1-*`` to
    ``row8-*``, ``sec2-*``, ``filter-replace-skips``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(family=ms.Gaussian(dim=3), loop=ms.Replace(n=10))
    >>> round(theory.var_logdet(cfg, 20), 4)
    17.2581
    """
    st = setting(cfg)
    require_replace(st, "var_logdet")
    require_no_truncation(st, "var_logdet")
    t_arr, T, scalar = times(t)
    means, seconds = _logdet_steps(st, T)
    series = np.concatenate([[0.0], np.cumsum(seconds - means * means)])
    return pick(series, t_arr, scalar)


def _product_series(st: Setting, T: int, factor, what: str):
    """prod over generations of E_K[factor(K)] (1 for a skipped fit)."""
    logs = np.zeros(T)
    cache: dict = {}
    for t, (K, p, ok) in enumerate(_step_laws(st, T)):
        key = id(K)
        if key not in cache:
            f = np.ones_like(K)
            if ok.any():
                f[ok] = factor(K[ok], st.div(K[ok]))
            val = float(p @ f)
            if not (val > 0 and math.isfinite(val)):
                raise ValueError(f"{what} is not finite at generation {t + 1}")
            cache[key] = math.log(val)
        logs[t] = cache[key]
    return np.exp(np.concatenate([[0.0], np.cumsum(logs)]))


def expected_det(cfg: Config, t):
    """Expected determinant of the fitted covariance, E det Sigma_t (replace loop).

    ``det Sigma0 prod_t E[tau^{2d} prod_i (K-i)/div]`` (a skipped fit
    multiplies by 1).

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian replace configuration (any schedule and filter).
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        For other loops and with truncation.

    Notes
    -----
    docs/theory/replace-nd.md, section "Determinant". Heavy-tailed: no
    validate case compares it.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(family=ms.Gaussian(dim=3), loop=ms.Replace(n=10))
    >>> round(theory.expected_det(cfg, 2), 6)  # 0.504 ** 2
    0.254016
    """
    st = setting(cfg)
    require_replace(st, "expected_det")
    require_no_truncation(st, "expected_det")
    t_arr, T, scalar = times(t)
    d, tau = st.dim, st.tau
    i = np.arange(1, d + 1, dtype=np.float64)

    def factor(K, div):
        return tau ** (2 * d) * np.prod((K[:, None] - i[None, :]) / div[:, None], axis=1)

    series = math.exp(st.logdet0) * _product_series(st, T, factor, "E det Sigma_t")
    return pick(series, t_arr, scalar)


def expected_var_power(cfg: Config, r, t):
    """E sigma_t^{2r} (1-D) = sigma0^{2r} prod_t E[(2 tau^2/div)^r
    Gamma((K-1)/2 + r)/Gamma((K-1)/2)], for r > -(K-1)/2 at every count K a
    fit can have. Replace loop, no truncation. Public as
    ``madsim.theory.expected_var_power(cfg, r, t)``; docs/theory/replace-1d.md,
    sections "Variance" and "Schedules and filters (by config)"."""
    st = setting(cfg)
    require_1d(st, "expected_var_power")
    require_replace(st, "expected_var_power")
    require_no_truncation(st, "expected_var_power")
    r = check.real("r", r)
    t_arr, T, scalar = times(t)
    tau = st.tau

    def factor(K, div):
        if np.any(r <= -(K - 1) / 2):
            raise ValueError(
                f"r must be > -(K-1)/2 for every count K a fit can have "
                f"(smallest K = {int(K.min())}); got r = {r}"
            )
        return np.exp(
            r * np.log(2 * tau * tau / div) + special.gammaln((K - 1) / 2 + r) - special.gammaln((K - 1) / 2)
        )

    var0 = float(st.cov0[0, 0])
    series = var0**r * _product_series(st, T, factor, "E sigma^{2r}")
    return pick(series, t_arr, scalar)


def expected_sigma(cfg: Config, t):
    """E sigma_t (1-D) = sigma0 prod_t E[c(K)], c(K) = tau sqrt(2/div)
    Gamma(K/2)/Gamma((K-1)/2). Replace loop, no truncation. Public as
    ``madsim.theory.expected_sigma(cfg, t)``; docs/theory/replace-1d.md,
    section "Standard deviation"."""
    return expected_var_power(cfg, 0.5, t)


def expected_kl_model_truth(cfg: Config, t):
    """E KL(p_t || p0) = (1/2)[d v_t + d d_t - d - E ln det(Sigma_t Sigma0^{-1})],
    with E Sigma_t = v_t Sigma0 and E (mu_t-mu0)(mu_t-mu0)' = d_t Sigma0
    (MLE, tau = 1: -(1/2) E ln det(Sigma_t Sigma0^{-1})). Replace loop, no
    truncation. Public as ``madsim.theory.expected_kl_model_truth(cfg, t)``;
    docs/theory/replace-nd.md, section "Kullback-Leibler divergences (by
    config)"."""
    from .moments import standardized

    st = setting(cfg)
    require_replace(st, "expected_kl_model_truth")
    t_arr, T, scalar = times(t)
    v, dd = standardized(cfg, T)
    ld = np.asarray(expected_logdet(cfg, np.arange(T + 1))) - st.logdet0
    d = st.dim
    series = 0.5 * (d * v + d * dd - d - ld)
    return pick(series, t_arr, scalar)


def expected_kl_truth_model(cfg: Config, t):
    """E KL(p0 || p_t) = (1/2)[E tr(Sigma_t^{-1} Sigma0) + E D_t - d + E ln det(Sigma_t Sigma0^{-1})],
    D_t = (mu_t-mu0)' Sigma_t^{-1} (mu_t-mu0). With E W^{-1} = I/(K-d-2) for
    W ~ Wishart_d(K-1, I) and b(K) = div/(tau^2 (K-d-2)):
    E tr(...) = d prod_t E b(K_t) and E D_t = E b(K_t)(E D_{t-1}) + tau^2 d E[b(K_t)/K_t].
    1-D constant n: (1/2)[t delta + b^t + (tau^2/n) sum_{j<=t} b^j - 1].
    The d > 1 form is derived the same way (inverse-Wishart mean). Finite
    only when every count a fit can have exceeds d + 2. Replace loop, no
    truncation. Public as ``madsim.theory.expected_kl_truth_model(cfg, t)``;
    docs/theory/replace-nd.md, section "Kullback-Leibler divergences (by
    config)"."""
    st = setting(cfg)
    require_replace(st, "expected_kl_truth_model")
    require_no_truncation(st, "expected_kl_truth_model")
    t_arr, T, scalar = times(t)
    d, tau2 = st.dim, st.tau**2
    tr = np.empty(T + 1)
    D = np.empty(T + 1)
    tr[0], D[0] = float(d), 0.0
    for t_i, (K, p, ok) in enumerate(_step_laws(st, T)):
        if np.any(ok & (K <= d + 2)):
            raise ValueError(
                f"E KL(p0 || p_t) is infinite: a fit at generation {t_i + 1} can have "
                f"K = {int(K[ok].min())} <= dim + 2 = {d + 2} points"
            )
        Kc = np.where(ok, K, d + 3.0)
        b = np.where(ok, st.div(Kc) / (tau2 * (Kc - d - 2)), 0.0)
        skip = float(p[~ok].sum())
        Eb = float(p @ b)
        tr[t_i + 1] = (Eb + skip) * tr[t_i]
        D[t_i + 1] = (Eb + skip) * D[t_i] + tau2 * d * float(p @ (b / Kc))
    ld = np.asarray(expected_logdet(cfg, np.arange(T + 1))) - st.logdet0
    series = 0.5 * (tr + D - d + ld)
    return pick(series, t_arr, scalar)


def expected_w2_sq(cfg: Config, t):
    """E W2^2(p0, p_t) = E(mu_t-mu0)^2 + E sigma_t^2 - 2 sigma0 E sigma_t + sigma0^2
    (1-D). Replace loop, no truncation. Public as
    ``madsim.theory.expected_w2_sq(cfg, t)``; docs/theory/replace-1d.md,
    section "Wasserstein-2 distance to the truth"."""
    from .moments import expected_mean_sq, expected_var

    st = setting(cfg)
    require_1d(st, "expected_w2_sq")
    require_replace(st, "expected_w2_sq")
    require_no_truncation(st, "expected_w2_sq")
    var0 = float(st.cov0[0, 0])
    return (
        expected_mean_sq(cfg, t) + expected_var(cfg, t) - 2 * math.sqrt(var0) * expected_sigma(cfg, t) + var0
    )


# ---------------------------------------------------------------- Monte Carlo precision


def var_trace(cfg: Config, t):
    """Var tr Sigma_t for the replace loop (1-D: Var sigma_t^2), exact: with
    c = tau^2/div and W ~ Wishart_d(nu = K-1, I), E[(tr W S)^2] = nu^2 (tr S)^2
    + 2 nu tr S^2 and E tr(W S W S) = nu (nu+1) tr S^2 + nu (tr S)^2, so
    X = E (tr Sigma)^2 and Y = E tr Sigma^2 obey
    X' = c^2 (nu^2 X + 2 nu Y),  Y' = c^2 (nu (nu+1) Y + nu X)
    (averaged over the filter's survivors; a skipped fit keeps both). The
    Monte Carlo precision of E tr Sigma_t (1-D: CV^2 = ((n+1)/(n-1))^t - 1,
    ``madsim.theory.cv2_var``). Derived from the Bartlett recursion. Replace
    loop, no truncation. docs/theory/replace-nd.md, section "Monte Carlo
    precision".

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(theory.replace_nd.var_trace(ms.Config(loop=ms.Replace(n=10)), 10), 6)
    0.782805
    """
    from .moments import standardized

    st = setting(cfg)
    require_replace(st, "var_trace")
    require_no_truncation(st, "var_trace")
    t_arr, T, scalar = times(t)
    X = np.empty(T + 1)
    Y = np.empty(T + 1)
    X[0], Y[0] = st.trace0**2, float(np.trace(st.cov0 @ st.cov0))
    tau2 = st.tau**2
    for i, (K, p, ok) in enumerate(_step_laws(st, T)):
        nu = K - 1.0
        c2 = np.where(ok, (tau2 / st.div(np.where(ok, K, 2.0))) ** 2, 0.0)
        skip = float(p[~ok].sum())
        a_xx = float(p @ (c2 * nu * nu)) + skip
        a_xy = float(p @ (c2 * 2 * nu))
        a_yy = float(p @ (c2 * nu * (nu + 1))) + skip
        a_yx = float(p @ (c2 * nu))
        X[i + 1] = a_xx * X[i] + a_xy * Y[i]
        Y[i + 1] = a_yy * Y[i] + a_yx * X[i]
    mean = standardized(cfg, T)[0] * st.trace0
    return pick(X - mean**2, t_arr, scalar)


def cv2_trace(cfg: Config, t):
    """Squared coefficient of variation of tr Sigma_t (replace loop): a mean
    of tr Sigma_t over R replicas has relative standard error sqrt(CV^2/R).
    docs/theory/replace-nd.md, section "Monte Carlo precision".

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(theory.replace_nd.cv2_trace(ms.Config(loop=ms.Replace(n=10)), 10), 4)
    6.4388
    """
    from .moments import expected_trace

    return var_trace(cfg, t) / expected_trace(cfg, t) ** 2


def var_mean_sq(cfg: Config, t):
    """``Var |mu_t - mu0|^2`` for the replace loop, exact, with Sigma0 = var I
    (any dim; 1-D: Var (mu_t - mu0)^2). With m = mu - mu0, S = Sigma,
    c = tau^2/div, nu = K - 1, m' = m + tau S^{1/2} z/sqrt(K) and
    S' = c S^{1/2} W S^{1/2} (z, W independent: Cochran/Bartlett), the
    expectations ``a = E|m|^4``, ``b = E|m|^2 tr S``, ``e = E m'Sm``,
    ``f = E (tr S)^2``, ``g = E tr S^2`` obey the linear recursion::

        a' = a + 2 (tau^2/K) b + 4 (tau^2/K) e + (tau^2/K)^2 (f + 2 g)
        b' = c nu (b + (tau^2/K) f),   e' = c nu (e + (tau^2/K) g)
        f' = c^2 (nu^2 f + 2 nu g),    g' = c^2 (nu (nu+1) g + nu f)

    (using E (z'Sz)^2 = (tr S)^2 + 2 tr S^2 and the Wishart moments of
    ``var_trace``), averaged over the filter's survivors (a skipped fit keeps
    everything). The Monte Carlo precision of ``E |mu_t - mu0|^2``: mu_t is a
    variance mixture of normals, heavy-tailed. Derived from the recursions of
    docs/theory/replace-1d.md and replace-nd.md (section "Monte Carlo
    precision"). Replace loop, no truncation, Sigma0 proportional to I.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(theory.replace_nd.var_mean_sq(ms.Config(loop=ms.Replace(n=10)), 10), 6)
    1.69178
    """
    from .moments import standardized

    st = setting(cfg)
    require_replace(st, "var_mean_sq")
    require_no_truncation(st, "var_mean_sq")
    d = st.dim
    var0 = float(st.cov0[0, 0])
    if not np.allclose(st.cov0, var0 * np.eye(d), rtol=0, atol=0):
        raise NotImplementedError("var_mean_sq: closed form here only for Sigma0 = var * I")
    t_arr, T, scalar = times(t)
    x = np.array([0.0, 0.0, 0.0, (d * var0) ** 2, d * var0**2])  # a, b, e, f, g
    a = np.empty(T + 1)
    a[0] = 0.0
    tau2 = st.tau**2
    for i, (K, p, ok) in enumerate(_step_laws(st, T)):
        Kc = np.where(ok, K, d + 1.0)
        nu = Kc - 1.0
        c = np.where(ok, tau2 / st.div(Kc), 0.0)
        h = np.where(ok, tau2 / Kc, 0.0)
        skip = float(p[~ok].sum())

        def E(v):
            return float(p @ v)

        G = np.zeros((5, 5))
        G[0] = (1.0, E(2 * h), E(4 * h), E(h * h), E(2 * h * h))
        G[1] = (0.0, E(c * nu) + skip, 0.0, E(c * nu * h), 0.0)
        G[2] = (0.0, 0.0, E(c * nu) + skip, 0.0, E(c * nu * h))
        G[3] = (0.0, 0.0, 0.0, E(c * c * nu * nu) + skip, E(c * c * 2 * nu))
        G[4] = (0.0, 0.0, 0.0, E(c * c * nu), E(c * c * nu * (nu + 1)) + skip)
        x = G @ x
        a[i + 1] = x[0]
    mean = standardized(cfg, T)[1] * st.trace0
    return pick(a - mean**2, t_arr, scalar)
