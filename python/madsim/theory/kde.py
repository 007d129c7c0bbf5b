"""The Gaussian KDE refit on its own samples, replace loop (docs/theory/kde.md).

Setting: model 0 is N(mu0, Sigma0); model t >= 1 is the KDE (1/n) sum_j
N(x; X_j, H_t) of the n points X_j drawn from model t-1 (``ms.KDE`` under
``ms.Replace(n)``). S_t = (1/n) sum_j (X_j - Xbar)(X_j - Xbar)' is the
fitted points' biased covariance (the recorded ``var`` / ``cov``).

One step: a KDE is a mixture, so its covariance is that of its centres plus
the kernel's, Cov(model t) = S_t + H_t, and n draws of any law with
covariance V have E S = ((n-1)/n) V. Hence, for t >= 1,

    E S_1     = ((n-1)/n) Sigma0
    E S_{t+1} = ((n-1)/n) (E S_t + E H_t).

Fixed bandwidth, H = h^2 I (the "fixed point instead of collapse" of the KDE
loop discussed by Kazdan et al. 2024, "Collapse or Thrive? Perils and
promises of synthetic data in a self-generating world"):

    E S_t = a^t Sigma0 + (n-1) h^2 (1 - a^(t-1)) I,   a = (n-1)/n,

which tends to (n-1) h^2 I whatever Sigma0.

A rule (scipy.stats.gaussian_kde's factor f, H_t = f^2 C_t with C_t = n/(n-1)
S_t the unbiased covariance; Scott 1992, "Multivariate Density Estimation";
Silverman 1986, "Density Estimation for Statistics and Data Analysis"):

    E S_{t+1} = ((n-1)/n + f^2) E S_t = ((n-1)/n) (1 + c^2 n^(-2/(d+4))) E S_t,
    c^2 = f^2 n^(2/(d+4)) n / (n-1),

so E S_t = a Sigma0 g^(t-1) with g = (n-1)/n + f^2 > 1 for every n >= 2:
the variance grows geometrically. Scott: f^2 = n^(-2/(d+4)), c^2 = n/(n-1);
Silverman: f^2 = (n (d+2)/4)^(-2/(d+4)), c^2 = ((d+2)/4)^(-2/(d+4)) n/(n-1)
(1-D: (4/3)^(2/5) n/(n-1), h^2 = c^2 n^(-2/5) S_t).
"""

from __future__ import annotations

import numpy as np

from ..checks import integer


def _gens(t):
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError(f"t must be integer generations >= 0; got {t!r}")
    return t.astype(np.int64)


def _kde(fam):
    from ..families.kde import KDE

    if not isinstance(fam, KDE):
        raise TypeError(f"fam must be a madsim.KDE; got {fam!r}")
    return fam


def _n(fam, n) -> int:
    n = integer("n", n, 1)
    if fam.rule != "fixed" and n < fam.dim + 1:
        raise ValueError(f"n must be >= dim + 1 = {fam.dim + 1} for the {fam.rule} rule; got {n}")
    return n


def kde_var_factor(fam, n: int) -> float:
    """g = (n-1)/n + f^2, the factor E S_{t+1} = g E S_t of a bandwidth rule
    (replace loop, n points per generation). docs/theory/kde.md, section "A bandwidth rule".

    Examples
    --------
    >>> import madsim as ms
    >>> round(ms.theory.kde_var_factor(ms.KDE(bandwidth="silverman"), 100), 6)   # 0.99 + 75^(-2/5)
    1.167818
    """
    fam = _kde(fam)
    n = _n(fam, n)
    return (n - 1.0) / n + fam.factor_sq(n)


def kde_rule_constant(fam, n: int) -> float:
    """c^2 in E S_{t+1} = ((n-1)/n)(1 + c^2 n^(-2/(d+4))) E S_t for the rule of ``fam``
    (Silverman, 1-D: (4/3)^(2/5) n / (n-1)). docs/theory/kde.md, section "A bandwidth rule".

    Examples
    --------
    >>> import madsim as ms
    >>> round(ms.theory.kde_rule_constant(ms.KDE(bandwidth="scott"), 50), 6)         # n / (n - 1)
    1.020408
    >>> round(ms.theory.kde_rule_constant(ms.KDE(bandwidth="silverman"), 50), 6)     # (4/3)^(2/5) n / (n - 1)
    1.144852
    """
    fam = _kde(fam)
    n = _n(fam, n)
    return fam.factor_sq(n) * n ** (2.0 / (fam.dim + 4)) * n / (n - 1.0)


def kde_fixed_point(fam, n: int) -> float:
    """(n-1) h^2: the limit of E S_t (per coordinate) with a fixed bandwidth h.
    docs/theory/kde.md, section "A fixed bandwidth".

    Examples
    --------
    >>> import madsim as ms
    >>> ms.theory.kde_fixed_point(ms.KDE(bandwidth=0.5), 10)
    2.25
    """
    fam = _kde(fam)
    if fam.rule != "fixed":
        raise ValueError(
            f"kde_fixed_point needs a fixed bandwidth; this KDE uses the {fam.rule} rule, "
            "whose variance grows without bound (kde_var_factor)"
        )
    n = _n(fam, n)
    return (n - 1.0) * float(fam.bandwidth) ** 2


def kde_expected_cov(fam, n: int, t):
    """E S_t [..., d, d], the fitted points' expected biased covariance at
    generation(s) t under ``ms.Replace(n)`` (t = 0: Sigma0). docs/theory/kde.md.

    Examples
    --------
    >>> import madsim as ms
    >>> fam = ms.KDE(dim=2, cov=[[1.0, 0.5], [0.5, 2.0]], bandwidth=0.3)
    >>> ms.theory.kde_expected_cov(fam, 10, 1)          # ((n - 1) / n) Sigma0
    array([[0.9 , 0.45],
           [0.45, 1.8 ]])
    """
    fam = _kde(fam)
    n = _n(fam, n)
    t = _gens(t)
    a = (n - 1.0) / n
    S0, eye = fam.cov_matrix, np.eye(fam.dim)
    tt = t.astype(np.float64)[..., None, None]
    if fam.rule == "fixed":
        h2 = float(fam.bandwidth) ** 2
        out = a**tt * S0 + (n - 1.0) * h2 * (1.0 - a ** np.maximum(tt - 1.0, 0.0)) * eye
    else:
        g = kde_var_factor(fam, n)
        out = a * S0 * g ** np.maximum(tt - 1.0, 0.0)
    return np.where(tt == 0, S0, out)


def kde_expected_var(fam, n: int, t):
    """E tr S_t (1-D: E var_t), replace loop; shaped like t. docs/theory/kde.md.

    Examples
    --------
    >>> import madsim as ms
    >>> fam = ms.KDE(bandwidth=0.5)
    >>> ms.theory.kde_expected_var(fam, 10, [0, 1, 2]).round(6).tolist()   # 1, 0.9, 0.9 (0.9 + 0.25)
    [1.0, 0.9, 1.035]
    """
    return np.trace(kde_expected_cov(fam, n, t), axis1=-2, axis2=-1)


def kde_expected_model_var(fam, n: int, t):
    """E tr(S_t + H_t), the model's expected variance (its trace for d > 1; the
    recorded ``model_var``), replace loop: n/(n-1) E tr S_{t+1} for t >= 1,
    tr Sigma0 at t = 0. docs/theory/kde.md.

    Examples
    --------
    >>> import madsim as ms
    >>> float(ms.theory.kde_expected_model_var(ms.KDE(bandwidth=0.5), 10, 1))   # 0.9 + h^2
    1.15
    """
    fam = _kde(fam)
    n = _n(fam, n)
    t = _gens(t)
    nxt = kde_expected_var(fam, n, t + 1) * n / (n - 1.0)
    return np.where(t == 0, float(np.trace(fam.cov_matrix)), nxt)


__all__ = [
    "kde_expected_cov",
    "kde_expected_model_var",
    "kde_expected_var",
    "kde_fixed_point",
    "kde_rule_constant",
    "kde_var_factor",
]
