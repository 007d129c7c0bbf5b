"""First and second moments of the fitted model for every Gaussian loop, as
functions of a ``Config`` and the generation t (docs/theory/replace-nd.md,
section "First and second moments of every loop").

    E mu_t                       = mu0                    (every loop and knob)
    E Sigma_t                    = v_t Sigma0
    E (mu_t - mu0)(mu_t - mu0)'  = d_t Sigma0

(v_t, d_t) come from the loop's exact linear recursion: Replace and Fresh
(with weighting) and Augment in ``real_data`` (docs/theory/real-data.md),
Accumulate in ``accumulate`` (docs/theory/accumulate.md); schedules,
filters, temperature, truncation and weighting are all covered exactly.
AccumulateSubsample has no closed form beyond E mu_t = mu0 and, for MLE with
tau = 1, the invariant (``universal.invariant``).

Sources of the settings (the recursions are madsim's own derivations):
Shumailov et al., Nature 2024 (arXiv 2305.17493) for the replace loop;
Alemohammad et al., "Self-Consuming Generative Models Go MAD", ICLR 2024
(arXiv 2307.01850) for the fresh-data and augmentation loops and sampling
bias; He, Xu, Cheng, JRSS-B (arXiv 2502.18049) for weighting; Kazdan et al.
(arXiv 2410.16713) and Dey & Donoho (arXiv 2410.22812) for accumulation.
"""

from __future__ import annotations

import functools

import numpy as np

from ..config import Accumulate, AccumulateSubsample, Augment, Config, Fresh, Replace
from .common import pick, require_1d, setting, times, trace_twin


def _series(cfg: Config, T: int):
    st = setting(cfg)
    loop = st.loop
    if isinstance(loop, (Replace, Fresh)):
        from .real_data import fresh_series

        return fresh_series(st, T)
    if isinstance(loop, Augment):
        from .real_data import augment_series

        return augment_series(st, T)
    if isinstance(loop, Accumulate):
        from .accumulate import accumulate_series

        return accumulate_series(st, T)
    if isinstance(loop, AccumulateSubsample):
        raise NotImplementedError(
            "AccumulateSubsample: no closed form for E Sigma_t or E (mu_t - mu0)^2 (none is known; "
            "docs/theory/accumulate.md, section Accumulate-subsample); only E mu_t = mu0 and, for "
            "MLE with tau = 1, the invariant E[tr Sigma_t + |mu_t - mu0|^2] = tr Sigma0 are exact "
            "(madsim.theory.invariant)"
        )
    raise NotImplementedError(f"no closed form for loop {loop!r}")  # pragma: no cover


@functools.lru_cache(maxsize=256)
def _series_cached(cfg: Config, T: int):
    v, d = _series(cfg, T)
    v.setflags(write=False)
    d.setflags(write=False)
    return v, d


def standardized(cfg: Config, T: int):
    """The standardised moments (v_0..v_T, d_0..d_T) of a Gaussian loop.

    ``E Sigma_t = v_t Sigma0`` and ``E (mu_t - mu0)(mu_t - mu0)' = d_t Sigma0``
    for t = 0..T, from the loop's exact linear recursion (any loop but
    AccumulateSubsample, any schedule, filter, estimator, temperature,
    truncation and weighting).

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian configuration.
    T : int
        Last generation.

    Returns
    -------
    tuple of ndarray
        ``(v, d)``, each of length T + 1 (read-only when cached).

    Raises
    ------
    NotImplementedError
        For AccumulateSubsample or PPCA.

    Notes
    -----
    docs/theory/replace-nd.md, section "First and second moments of every loop".

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> v, d = theory.standardized(ms.Config(loop=ms.Replace(n=10)), 3)
    >>> v.round(6).tolist(), d.round(6).tolist()
    ([1.0, 0.9, 0.81, 0.729], [0.0, 0.1, 0.19, 0.271])
    """
    setting(cfg)
    try:
        return _series_cached(cfg, int(T))
    except TypeError:  # an unhashable config (e.g. a schedule object): no cache
        return _series(cfg, int(T))


def _scaled(cfg, t, which: int, scale_of):
    st = setting(cfg)
    t_arr, T, scalar = times(t)
    series = standardized(cfg, T)[which] * scale_of(st)
    return pick(series, t_arr, scalar)


def expected_var(cfg: Config, t):
    """E sigma_t^2 (1-D) for any loop: sigma0^2 v_t.

    Replace: sigma0^2 a^t (a = tau^2 v(k) (n-1)/div); Fresh, weighted, Augment
    (unconditional) and Accumulate: their exact recursions. Schedules and
    filters are exact (binomial survivors summed over). For dim > 1 use
    expected_trace / expected_cov. Public as ``madsim.theory.expected_var(cfg, t)``;
    docs/theory/replace-1d.md, section "Variance", and
    docs/theory/replace-nd.md, section "First and second moments of every loop".
    """
    st = setting(cfg)
    require_1d(st, "expected_var (use expected_trace or expected_cov for dim > 1)")
    return _scaled(cfg, t, 0, lambda s: float(s.cov0[0, 0]))


def expected_trace(cfg: Config, t):
    """Expected trace of the fitted covariance, E tr Sigma_t = v_t tr Sigma0.

    ``a^t tr Sigma0`` for the replace loop; the exact recursions of the
    other loops otherwise. PPCA configs are accepted (E tr C_t equals the
    Gaussian's of the same truth).

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian or PPCA configuration.
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        For AccumulateSubsample.

    Notes
    -----
    docs/theory/replace-nd.md, section "First and second moments of every
    loop"; PPCA: docs/theory/ppca-gmm.md. Checked by the validate cases
    ``row8-*``, ``sec2-*``, ``d3-fresh-cov``, ``trunc-d2-accumulate``,
    ``ppca-*``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(family=ms.Gaussian(dim=3), loop=ms.Replace(n=10))
    >>> round(theory.expected_trace(cfg, 20), 6)
    0.36473
    """
    cfg = trace_twin(cfg)
    return _scaled(cfg, t, 0, lambda s: s.trace0)


def expected_cov(cfg: Config, t):
    """Expected fitted covariance matrix, E Sigma_t = v_t Sigma0.

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian configuration.
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    ndarray
        Shape ``t.shape + (d, d)``.

    Notes
    -----
    docs/theory/replace-nd.md, section "First and second moments of every loop".

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(family=ms.Gaussian(dim=2, cov=((2.0, 0.5), (0.5, 1.0))), loop=ms.Replace(n=10))
    >>> theory.expected_cov(cfg, 5).round(6).tolist()
    [[1.18098, 0.295245], [0.295245, 0.59049]]
    """
    st = setting(cfg)
    t_arr, T, scalar = times(t)
    v = standardized(cfg, T)[0][t_arr]
    out = np.multiply.outer(v, st.cov0)
    return out


def expected_mean_sq(cfg: Config, t):
    """``E |mu_t - mu0|^2 = d_t tr Sigma0`` (the dataset's ``mean_sq``; 1-D:
    E (mu_t - mu0)^2 = Var mu_t), for any loop but AccumulateSubsample.

    Public as ``madsim.theory.expected_mean_sq(cfg, t)``;
    docs/theory/replace-nd.md, section "First and second moments of every loop".
    """
    cfg = trace_twin(cfg)
    return _scaled(cfg, t, 1, lambda s: s.trace0)


def expected_mean_cov(cfg: Config, t):
    """Expected error matrix of the fitted mean, E (mu_t - mu0)(mu_t - mu0)' = d_t Sigma0 = Cov mu_t.

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian configuration.
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    ndarray
        Shape ``t.shape + (d, d)``.

    Notes
    -----
    docs/theory/replace-nd.md, section "First and second moments of every loop".

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(family=ms.Gaussian(dim=2, cov=((2.0, 0.5), (0.5, 1.0))), loop=ms.Replace(n=10))
    >>> theory.expected_mean_cov(cfg, 5).round(6).tolist()
    [[0.81902, 0.204755], [0.204755, 0.40951]]
    """
    st = setting(cfg)
    t_arr, T, scalar = times(t)
    d = standardized(cfg, T)[1][t_arr]
    return np.multiply.outer(d, st.cov0)


def expected_second_moment(cfg: Config, t):
    """Expected second moment of the model about the truth's mean, ``E[tr Sigma_t + |mu_t - mu0|^2]``.

    ``(v_t + d_t) tr Sigma0``: the quantity of the invariant (``tr Sigma0``
    exactly for MLE, tau = 1, pooled fits; see ``invariant``). For
    AccumulateSubsample only where the invariant holds.

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian or PPCA configuration.
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    float or ndarray

    Raises
    ------
    ValueError
        For AccumulateSubsample where the invariant does not hold.

    Notes
    -----
    docs/theory/replace-nd.md, section "First and second moments of every
    loop", and docs/theory/accumulate.md, section "The invariant of MLE
    loops".

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(loop=ms.Fresh(real=5, synthetic=5), estimator="unbiased")
    >>> round(theory.expected_second_moment(cfg, 30), 6)
    1.215385
    """
    cfg = trace_twin(cfg)
    st = setting(cfg)
    if isinstance(st.loop, AccumulateSubsample):
        from .universal import invariant

        return invariant(cfg, t)
    t_arr, T, scalar = times(t)
    v, d = standardized(cfg, T)
    return pick((v + d) * st.trace0, t_arr, scalar)


def expected_mean(cfg: Config, t):
    """Expected fitted mean, E mu_t = mu0.

    Holds for every loop, estimator, temperature, symmetric truncation,
    filter and weighting: each fitted mean is an average of points whose
    expectations are mu0 or the previous model's mean (induction).

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian or PPCA configuration.
    t : int or array of int
        Generation(s), >= 0.

    Returns
    -------
    ndarray
        The d-vector mu0 (shape ``t.shape + (d,)`` for an array t).

    Notes
    -----
    docs/theory/replace-nd.md, section "The mean is unbiased". Compared in
    every Gaussian and PPCA validate case.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(family=ms.Gaussian(dim=2, mean=(1.0, -2.0)), loop=ms.Fresh(real=5, synthetic=5))
    >>> theory.expected_mean(cfg, 7).tolist()
    [1.0, -2.0]
    """
    cfg = trace_twin(cfg)
    st = setting(cfg)
    t_arr, _, scalar = times(t)
    return st.mu0.copy() if scalar else np.broadcast_to(st.mu0, t_arr.shape + (st.dim,)).copy()
