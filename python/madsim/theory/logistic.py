"""Logistic regression under recursive relabelling (docs/theory/logistic.md).

Setting: P(y = 1 | x) = sigmoid(x'w), x ~ N(0, Sigma) in d features, no
intercept, n rows per generation, maximum-likelihood refits (Newton);
generation 1 fits labels of the truth w*. The error is measured in the
Fisher metric of the truth, |w_t - w*|^2_I = (w_t - w*)' I(w*) (w_t - w*),
I(w) = E[p(1 - p) x x'] with p = sigmoid(x'w).

To first order in 1/n (the MLE's asymptotic normality, Dey and Donoho 2024,
"Universality of the pi^2/6 pathway in avoiding model collapse"; the
accumulating workflow of Gerstgrasser et al. 2024, "Is model collapse
inevitable?"):

  replace      E |w_t - w*|^2_I ~ t d / n
  accumulate   E |w_t - w*|^2_I ~ (d / n) sum_{i<=t} 1 / i^2  (< pi^2 d / (6 n))
  fresh        E |w_t - w*|^2_I ~ (d / N) sum_{i<t} rho^(2i), N = m + k,
               rho = k / N (m real and k synthetic rows per generation)

with relative corrections of order d t / n (the MLE's O(1/n) bias and the
Fisher information at w_{t-1} instead of w*): docs/theory/logistic.md,
section "Where it holds".
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import integer


def _gens(t):
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError(f"t must be integer generations >= 0; got {t!r}")
    return t.astype(np.int64)


def _sigmoid_moments(s: float) -> tuple[float, float]:
    """(E p'(u), E p'(u) u^2) for u ~ N(0, s^2), p' = sigmoid (1 - sigmoid),
    by adaptive quadrature (scipy.integrate.quad, absolute error < 1e-13)."""
    from scipy import integrate, special

    def dens(z):
        return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)

    def dp(u):
        e = special.expit(u)
        return e * (1.0 - e)

    kw = dict(epsabs=1e-14, epsrel=1e-13, limit=200)
    a = integrate.quad(lambda z: dp(s * z) * dens(z), -np.inf, np.inf, **kw)[0]
    b = integrate.quad(lambda z: dp(s * z) * (s * z) ** 2 * dens(z), -np.inf, np.inf, **kw)[0]
    return a, b


def logistic_fisher_information(weights, cov) -> np.ndarray:
    """The Fisher information of one row at w, I(w) = E[p(1 - p) x x'],
    x ~ N(0, cov), p = sigmoid(x'w), to ~1e-13.

    Exact reduction to two 1-D integrals: with u = x'w ~ N(0, s^2), s^2 =
    w' cov w, x splits as x = cov w u / s^2 + r with r independent of u, so
    I(w) = a cov + (b / s^2 - a) cov w w' cov / s^2 with a = E p'(u) and
    b = E p'(u) u^2 (computed by scipy.integrate.quad); I(0) = cov / 4.

    Parameters
    ----------
    weights : array_like
        w, d numbers.
    cov : array_like
        Sigma, d x d, symmetric positive definite.

    Returns
    -------
    ndarray [d, d]

    Notes
    -----
    docs/theory/logistic.md, section "The Fisher information".

    Examples
    --------
    >>> import numpy as np
    >>> from madsim import theory
    >>> theory.logistic_fisher_information([0.0, 0.0], np.eye(2))
    array([[0.25, 0.  ],
           [0.  , 0.25]])
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    S = np.asarray(cov, dtype=np.float64)
    if S.shape != (w.size, w.size):
        raise ValueError(f"cov must be {w.size} x {w.size} for {w.size} weights; got shape {S.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(S))):
        raise ValueError("weights and cov must be finite")
    Sw = S @ w
    s2 = float(w @ Sw)
    if s2 <= 0.0:
        return S / 4.0
    a, b = _sigmoid_moments(math.sqrt(s2))
    return a * S + (b / s2 - a) * np.outer(Sw, Sw) / s2


def logistic_replace_fisher_error(t, n: int, d: int):
    """First-order ``E |w_t - w*|^2_I`` of the replace loop: t d / n.

    Each generation's MLE is w_{t-1} plus an increment of covariance
    I^-1 / n (to first order), uncorrelated across generations.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Rows per generation.
    d : int
        Features.

    Returns
    -------
    ndarray

    Notes
    -----
    docs/theory/logistic.md, section "Replace and accumulate" (Dey and
    Donoho 2024). Checked by the validate cases ``logistic-replace-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> float(theory.logistic_replace_fisher_error(10, 1000, 2))
    0.02
    """
    t = _gens(t)
    integer("n", n, 1)
    integer("d", d, 1)
    return t * (d / n)


def logistic_accumulate_fisher_error(t, n: int, d: int):
    """First-order ``E |w_t - w*|^2_I`` of the accumulate loop (n new rows
    labelled by the latest model each generation, all rows kept):
    (d / n) sum_{i<=t} 1 / i^2, below pi^2 d / (6 n) for every t.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Rows added per generation.
    d : int
        Features.

    Returns
    -------
    ndarray

    Notes
    -----
    docs/theory/logistic.md, section "Replace and accumulate" (Dey and
    Donoho 2024; Gerstgrasser et al. 2024). Checked by the validate cases
    ``logistic-accumulate-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(float(theory.logistic_accumulate_fisher_error(2, 1000, 2)), 6)  # (2/1000)(1 + 1/4)
    0.0025
    """
    t = _gens(t)
    integer("n", n, 1)
    integer("d", d, 1)
    tmax = int(t.max(initial=0))
    partial = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, tmax + 1, dtype=np.float64) ** 2)])
    return (d / n) * partial[t]


def logistic_fresh_fisher_error(t, real: int, synthetic: int, d: int):
    """First-order ``E |w_t - w*|^2_I`` of the fresh loop (m real rows of the
    truth and k synthetic rows of model t-1 each generation):
    (d / N) sum_{i<t} rho^(2i), N = m + k, rho = k / N; the limit is
    d / (N (1 - rho^2)).

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    real, synthetic : int
        m and k.
    d : int
        Features.

    Returns
    -------
    ndarray

    Notes
    -----
    docs/theory/logistic.md, section "Fresh real data".

    Examples
    --------
    >>> from madsim import theory
    >>> float(theory.logistic_fresh_fisher_error(1, 500, 500, 2))
    0.002
    """
    t = _gens(t)
    m = integer("real", real, 0)
    k = integer("synthetic", synthetic, 0)
    integer("d", d, 1)
    N = m + k
    if N < 1:
        raise ValueError("logistic_fresh_fisher_error needs real + synthetic >= 1")
    r2 = (k / N) ** 2
    tf = t.astype(np.float64)
    geo = tf if r2 == 1.0 else (1.0 - r2**tf) / (1.0 - r2)
    return (d / N) * geo


def logistic_expected_fisher_error(cfg, t):
    """First-order ``E |w_t - w*|^2_I`` for a ``Logistic`` config with constant
    counts: Replace (``logistic_replace_fisher_error``), Accumulate with real = 0
    (``logistic_accumulate_fisher_error``), Fresh (``logistic_fresh_fisher_error``).

    Raises
    ------
    NotImplementedError
        For other loops, schedules, or ridge > 0 (the penalised fit is biased
        towards 0 at order ridge / n).

    Notes
    -----
    docs/theory/logistic.md, section "Summary" (the relative accuracy:
    ``logistic_first_order_tolerance``, section "Where it holds").

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Logistic(dim=2), loop=ms.Replace(n=1000))
    >>> float(ms.theory.logistic_expected_fisher_error(cfg, 10))
    0.02
    """
    from ..config import Accumulate, Fresh, Replace, is_const
    from ..families.logistic import Logistic

    fam, loop = cfg.family, cfg.loop
    if not isinstance(fam, Logistic):
        raise TypeError(f"logistic_expected_fisher_error needs a Logistic config; got {type(fam).__name__}")
    if fam.ridge > 0:
        raise NotImplementedError(
            "logistic_expected_fisher_error: the first-order law is for the MLE (ridge = 0)"
        )
    if isinstance(loop, Replace) and is_const(loop.n):
        return logistic_replace_fisher_error(t, loop.n, fam.dim)
    if isinstance(loop, Accumulate) and is_const(loop.synthetic) and loop.real == 0:
        return logistic_accumulate_fisher_error(t, loop.synthetic, fam.dim)
    if isinstance(loop, Fresh) and is_const(loop.real) and is_const(loop.synthetic):
        return logistic_fresh_fisher_error(t, loop.real, loop.synthetic, fam.dim)
    raise NotImplementedError(
        f"logistic_expected_fisher_error: no closed form for {type(loop).__name__} with these counts (Replace, "
        "Accumulate(real=0) and Fresh with constant counts have one)"
    )


def logistic_first_order_tolerance(cfg, t) -> float:
    """The relative accuracy madsim states for ``logistic_expected_fisher_error(cfg,
    t)``: 10 t d / n (Replace), 20 d / n (Accumulate), 10 d / (N (1 - rho))
    (Fresh: its memory is 1 / (1 - rho) generations).

    The first-order laws drop terms of relative order d t / n (replace: the
    MLE's O(1/n) bias, outward, adds up over generations, and each step's
    increment has covariance I(w_{t-1})^-1 / n rather than I(w*)^-1 / n). At
    ``|w*| = 1``, d = 2, n = 1000 the measured excess was about 4.7 t d / n under
    replace (t <= 20) and within 3 % under accumulate (t <= 10); the tolerance
    is about twice that. It is a statement for ``w*' Sigma w* <= ~4``, d t / n
    <= ~0.05 and n >= ~100 d; outside that the law is not claimed
    (docs/theory/logistic.md, section "Where it holds").

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Logistic(dim=2), loop=ms.Replace(n=2000))
    >>> ms.theory.logistic_first_order_tolerance(cfg, 5)
    0.05
    """
    from ..config import Accumulate, Fresh, Replace

    logistic_expected_fisher_error(cfg, t)  # the same refusals
    d, loop, t = cfg.family.dim, cfg.loop, int(t)
    if isinstance(loop, Replace):
        return 10.0 * t * d / loop.n
    if isinstance(loop, Accumulate):
        return 20.0 * d / loop.synthetic
    assert isinstance(loop, Fresh)
    N = loop.real + loop.synthetic
    return 10.0 * d / (N * (1.0 - loop.synthetic / N)) if loop.real > 0 else 10.0 * t * d / N


__all__ = [
    "logistic_accumulate_fisher_error",
    "logistic_expected_fisher_error",
    "logistic_first_order_tolerance",
    "logistic_fisher_information",
    "logistic_fresh_fisher_error",
    "logistic_replace_fisher_error",
]
