"""Linear regression under recursive relabelling (docs/theory/regression.md).

Setting: y = x'w* + eps, x ~ N(0, Sigma) in d features, noise sigma^2, T rows
per generation, OLS refits; generation 1 fits labels of the truth.
Expectations are over the designs too (for a fixed design: over the design
drawn once). The test error is E (w_t - w*)' Sigma (w_t - w*).

  replace (fixed or fresh design)   sum_{i<=t} s_{i-1}^2 d / (T - d - 1)
      with s_{i-1}^2 the label noise of fit i: sigma^2 (refit_noise False,
      Dohmatob, Feng, Kempe, NeurIPS 2024, arXiv 2402.07712), or
      E s_{i-1}^2 = sigma^2 r^(i-1), r = (T - d) / divisor (refit_noise True:
      RSS_i = s_{i-1}^2 chi2(T - d), independent of the design; divisor T
      for "mle", T - d for "unbiased")
  accumulate, fixed design          sigma^2 d / (T - d - 1) sum_{i<=t} 1 / i^2
      (Gerstgrasser et al., arXiv 2404.01413)
  accumulate, fresh design          sigma^2 sum_{i<=t} d / (i (i T - d - 1))
      (madsim's derivation: the batches are exchangeable in the pooled Gram
      matrix)

  weighted fresh (He, Xu, Cheng)   E_t = w^2 sigma^2 b_n + (1 - w)^2 (E_{t-1}
      + E s_{t-1}^2 b_m), b_c = d / (c - d - 1): the fit is w * OLS(n real
      rows) + (1 - w) * OLS(m synthetic rows); stationary
      sigma^2 (w^2 b_n + (1 - w)^2 b_m) / (w (2 - w)) (labels at the true
      noise), minimised by the root of w^2 + c w - c = 0, c = b_m / b_n =
      (n - d - 1) / (m - d - 1): 1/phi for n = m at every n.

Every formula needs T > d + 1 (E tr(Sigma A^-1) = d / (T - d - 1) for
A ~ Wishart_d(T, Sigma)).
"""

from __future__ import annotations

import numpy as np

from ..checks import choice, integer, real


def _gens(t):
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError(f"t must be integer generations >= 0; got {t!r}")
    return t.astype(np.int64)


def _base(n: int, d: int) -> float:
    integer("n", n, 1)
    integer("d", d, 1)
    if n <= d + 1:
        raise ValueError(f"the closed forms need n > d + 1 rows per generation; got n = {n}, d = {d}")
    return d / (n - d - 1.0)


def noise_factor(n: int, d: int, estimator: str = "mle") -> float:
    """r = E s_t^2 / s_{t-1}^2 = (n - d) / divisor when labels use the fit's
    noise estimate (divisor n for "mle", n - d for "unbiased").
    docs/theory/regression.md, section "Labels with the fitted noise".

    Examples
    --------
    >>> from madsim import theory
    >>> theory.regression.noise_factor(12, 3)
    0.75
    """
    choice("estimator", estimator, ("mle", "unbiased"))
    integer("n", n, d + 1)
    return (n - d) / (n if estimator == "mle" else n - d)


def expected_noise_var(
    t, n: int, d: int, noise: float = 1.0, estimator: str = "mle", refit_noise: bool = False
):
    """Expected noise estimate E s_t^2 of the regression replace loop.

    ``noise r^t`` with ``r = (n - d) / divisor`` when each generation labels
    with the previous fit's estimate (``refit_noise=True``); otherwise every
    fit sees labels with the true noise and ``E s_t^2 = noise r`` for t >= 1
    (``noise`` at t = 0). Either design.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Rows per generation T (> d + 1).
    d : int
        Features.
    noise : float, default 1.0
        The truth's noise variance sigma^2.
    estimator : {"mle", "unbiased"}, default "mle"
        The noise estimate's divisor: n or n - d.
    refit_noise : bool, default False
        Whether labels use the previous fit's noise estimate.

    Returns
    -------
    ndarray

    Notes
    -----
    docs/theory/regression.md, section "Labels with the fitted noise".
    Checked by the validate cases ``sec5b-replace-*`` and
    ``sec5b-refit-noise-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(float(theory.expected_noise_var(10, 12, 3, refit_noise=True)), 6)  # 0.75 ** 10
    0.056314
    """
    t = _gens(t)
    real("noise", noise, 0.0, None, lo_open=True)
    r = noise_factor(n, d, estimator)
    if refit_noise:
        return noise * r ** t.astype(np.float64)
    return np.where(t == 0, noise, noise * r)


def replace_test_error(
    t, n: int, d: int, noise: float = 1.0, estimator: str = "mle", refit_noise: bool = False
):
    """Expected test error after t fits of the regression replace loop (fixed or fresh design).

    ``noise d / (n - d - 1)`` times ``t`` (labels at the true noise) or times
    ``sum_{i<t} r^i`` (``refit_noise=True``, ``r = (n - d) / divisor``).

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Rows per generation T (> d + 1).
    d : int
        Features.
    noise : float, default 1.0
        The truth's noise variance sigma^2.
    estimator : {"mle", "unbiased"}, default "mle"
        The noise estimate's divisor (used with ``refit_noise``).
    refit_noise : bool, default False
        Whether labels use the previous fit's noise estimate.

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        Unless n > d + 1.

    Notes
    -----
    docs/theory/regression.md, section "Replace" (Dohmatob, Feng, Kempe,
    "Model collapse demystified: the case of regression", NeurIPS 2024).
    Checked by the validate cases ``sec5b-replace-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(float(theory.replace_test_error(10, 20, 5)), 6)  # 10 * 5 / 14
    3.571429
    >>> round(float(theory.replace_test_error(10, 12, 3, refit_noise=True)), 6)
    1.41553
    """
    t = _gens(t)
    real("noise", noise, 0.0, None, lo_open=True)
    base = _base(n, d)
    if not refit_noise:
        return noise * base * t
    r = noise_factor(n, d, estimator)
    geo = t.astype(np.float64) if r == 1.0 else (1.0 - r ** t.astype(np.float64)) / (1.0 - r)
    return noise * base * geo


def accumulate_test_error(t, n: int, d: int, noise: float = 1.0, design: str = "fresh"):
    """Expected test error after t fits of the regression accumulate loop.

    With n synthetic rows per generation (no real rows, labels at the true
    noise): ``noise d/(n-d-1) sum_{i<=t} 1/i^2`` for one design reused,
    ``noise sum_{i<=t} d/(i (i n - d - 1))`` for a fresh design each
    generation.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Rows per generation T (> d + 1).
    d : int
        Features.
    noise : float, default 1.0
        The truth's noise variance sigma^2.
    design : {"fresh", "fixed"}, default "fresh"
        A new design each generation, or one design reused.

    Returns
    -------
    ndarray

    Notes
    -----
    docs/theory/regression.md, section "Accumulate" (Gerstgrasser et al.,
    arXiv 2404.01413, for the reused design). Checked by the validate cases
    ``sec5b-accumulate-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(float(theory.accumulate_test_error(10, 20, 5, design="fixed")), 6)
    0.553488
    >>> round(float(theory.accumulate_test_error(10, 20, 5)), 6)
    0.511536
    """
    t = _gens(t)
    real("noise", noise, 0.0, None, lo_open=True)
    choice("design", design, ("fresh", "fixed"))
    base = _base(n, d)
    tmax = int(t.max(initial=0))
    i = np.arange(1, tmax + 1, dtype=np.float64)
    terms = base / i**2 if design == "fixed" else d / (i * (i * n - d - 1.0))
    csum = np.concatenate([[0.0], np.cumsum(terms)])
    return noise * csum[t]


def accumulate_test_error_limit(n: int, d: int, noise: float = 1.0, design: str = "fresh") -> float:
    """lim_t of accumulate_test_error: (pi^2/6) noise d/(n-d-1) (fixed design);
    the fresh-design sum converges too (evaluated to 1e-12).
    docs/theory/regression.md, section "Accumulate".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.regression.accumulate_test_error_limit(20, 5, design="fixed"), 6)
    0.587476
    """
    base = _base(n, d)
    choice("design", design, ("fresh", "fixed"))
    if design == "fixed":
        return noise * base * np.pi**2 / 6.0
    i = np.arange(1, 10**6 + 1, dtype=np.float64)
    tail = d / (n * 10**6)  # sum_{i > N} d / (i^2 n) ~ d / (n N)
    return noise * (float(np.sum(d / (i * (i * n - d - 1.0)))) + tail)


def _weighted_parts(n_real: int, n_syn: int, d: int, w: float) -> tuple[float, float]:
    real("w", w, 0.0, 1.0)
    try:
        return _base(n_real, d), _base(n_syn, d)
    except ValueError:
        raise ValueError(
            f"the weighted closed forms need more than d + 1 = {d + 1} rows in each part; "
            f"got n_real = {n_real}, n_syn = {n_syn}"
        ) from None


def weighted_test_error(
    t,
    n_real: int,
    n_syn: int,
    d: int,
    w: float,
    noise: float = 1.0,
    estimator: str = "mle",
    refit_noise: bool = False,
):
    """Expected test error of the weighted fresh loop (He, Xu and Cheng):
    generation t fits w * OLS(n_real rows of the truth) + (1 - w) * OLS(n_syn
    rows labelled by model t-1), either design.

    E_t = w^2 sigma^2 b_n + (1 - w)^2 (E_{t-1} + E s_{t-1}^2 b_m) from E_0 = 0,
    b_c = d / (c - d - 1); E s_t^2 = sigma^2 (labels at the true noise) or,
    with ``refit_noise``, v_t = w r_n + (1 - w) r_m v_{t-1} (v_0 = 1, r_c = (c -
    d) / divisor(c)) in units of sigma^2. docs/theory/regression.md, section
    "Weighted fresh data".

    Examples
    --------
    >>> from madsim import theory
    >>> round(float(theory.regression.weighted_test_error(200, 20, 20, 3, 0.618034)), 4)
    0.1159
    """
    t = _gens(t)
    bn, bm = _weighted_parts(n_real, n_syn, d, w)
    real("noise", noise, 0.0, None, lo_open=True)
    rn = noise_factor(n_real, d, estimator)
    rm = noise_factor(n_syn, d, estimator)
    T = int(t.max()) if t.size else 0
    err = np.zeros(T + 1)
    v = 1.0  # E s_{t-1}^2 / sigma^2 of the labels of generation t's synthetic rows
    for i in range(1, T + 1):
        err[i] = w * w * bn + (1.0 - w) ** 2 * (err[i - 1] + v * bm)
        if refit_noise:
            v = w * rn + (1.0 - w) * rm * v
    return noise * err[t]


def weighted_stationary_test_error(n_real: int, n_syn: int, d: int, w: float, noise: float = 1.0) -> float:
    """lim E test error of the weighted fresh loop (labels at the true noise):
    sigma^2 (w^2 b_n + (1 - w)^2 b_m) / (w (2 - w)), b_c = d / (c - d - 1);
    infinite at w = 0. docs/theory/regression.md, section "Weighted fresh data".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.regression.weighted_stationary_test_error(20, 20, 3, 0.5), 4)
    0.125
    """
    bn, bm = _weighted_parts(n_real, n_syn, d, w)
    if w == 0.0:
        return float("inf")
    return noise * (w * w * bn + (1.0 - w) ** 2 * bm) / (w * (2.0 - w))


def weighted_optimal_weight(n_real: int, n_syn: int, d: int | None = None) -> float:
    """The weight minimising the stationary test error: the root in (0, 1] of
    w^2 + c w - c = 0, w* = (sqrt(c^2 + 4c) - c) / 2, with c = (n_real - d - 1) /
    (n_syn - d - 1) (d = None: the asymptotic c = n_real / n_syn of He, Xu and
    Cheng's proportional regime). Equal counts: 1/phi = 0.618034 at every n.
    At the optimum the stationary error is w* sigma^2 d / (n_real - d - 1).
    docs/theory/regression.md, section "Weighted fresh data".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.regression.weighted_optimal_weight(20, 20, 3), 6)
    0.618034
    >>> round(theory.regression.weighted_optimal_weight(20, 40), 6)     # c = 1/2
    0.5
    """
    if d is None:
        integer("n_real", n_real, 1)
        integer("n_syn", n_syn, 1)
        c = n_real / n_syn
    else:
        bn, bm = _weighted_parts(n_real, n_syn, d, 0.5)
        c = bm / bn
    return float((np.sqrt(c * c + 4.0 * c) - c) / 2.0)


def expected_test_error(cfg, t):
    """Expected test error of a regression configuration after t fits.

    Covers ``Replace(n)`` (either design, ``refit_noise`` either way) and
    ``Accumulate(synthetic=n, real=0)`` without ``refit_noise``, with a
    constant count, OLS (ridge 0), temperature 1 and no filter.

    Parameters
    ----------
    cfg : madsim.Config
        A Config with a ``Regression`` family.
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    ndarray

    Raises
    ------
    TypeError
        If ``cfg`` is not a Regression Config.
    NotImplementedError
        For other loops, schedules, ridge, a filter.

    Notes
    -----
    docs/theory/regression.md, section "By config". Checked by the validate
    cases ``sec5b-*``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(family=ms.Regression(dim=5), loop=ms.Replace(n=20))
    >>> round(float(theory.expected_test_error(cfg, 10)), 6)
    3.571429
    """
    from ..config import Accumulate, Config, Fresh, Replace
    from ..families.regression import Regression

    if not isinstance(cfg, Config) or not isinstance(cfg.family, Regression):
        raise TypeError(f"cfg must be a Config with a Regression family; got {cfg!r}")
    fam, loop = cfg.family, cfg.loop
    if fam.ridge != 0.0 or cfg.filter is not None:
        raise NotImplementedError("closed forms exist for OLS without a filter only (ridge = 0, filter None)")
    d = fam.dim  # the forms hold for any Sigma: E tr(Sigma A^-1) = d / (T - d - 1)
    if isinstance(loop, Replace) and isinstance(loop.n, int):
        return replace_test_error(t, loop.n, d, fam.noise, cfg.estimator, fam.refit_noise)
    if (
        isinstance(loop, Accumulate)
        and isinstance(loop.synthetic, int)
        and loop.real == 0
        and not fam.refit_noise
    ):
        return accumulate_test_error(t, loop.synthetic, d, fam.noise, fam.design)
    if (
        isinstance(loop, Fresh)
        and cfg.weight is not None
        and isinstance(loop.real, int)
        and isinstance(loop.synthetic, int)
    ):
        return weighted_test_error(
            t, loop.real, loop.synthetic, d, cfg.weight_value, fam.noise, cfg.estimator, fam.refit_noise
        )
    raise NotImplementedError(
        "expected_test_error covers Replace(n) (either design, refit_noise either), "
        "Accumulate(synthetic=n, real=0) (refit_noise False) and the weighted Fresh(real, synthetic) "
        f"with constant counts; got {type(loop).__name__} with refit_noise={fam.refit_noise}, "
        f"weight={cfg.weight!r}"
    )


# What madsim.theory re-exports (the family registry: FamilySpec.theory).
__all__ = [
    "accumulate_test_error",
    "expected_noise_var",
    "expected_test_error",
    "replace_test_error",
    "weighted_optimal_weight",
    "weighted_stationary_test_error",
    "weighted_test_error",
]
