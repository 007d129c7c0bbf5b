"""First and second moments of the fitted model for every Gaussian loop
(THEORY.md sections 1-5), as functions of a ``Config`` and the generation t.

    E mu_t                       = mu0                    (every loop and knob)
    E Sigma_t                    = v_t Sigma0
    E (mu_t - mu0)(mu_t - mu0)'  = d_t Sigma0

(v_t, d_t) come from the loop's exact linear recursion:
Replace/Fresh (sections 1, 4a, 4c) and Augment (4b) in ``real_data``,
Accumulate (5a) in ``accumulate``; schedules, filters, temperature,
truncation and weighting are all covered exactly. AccumulateSubsample has no
closed form (THEORY.md 5a) beyond E mu_t = mu0 and, for MLE with tau = 1,
the section-7 invariant (``universal.invariant``).

Sources (settings; the exact recursions are THEORY.md's, Monte Carlo checked
there and by ``madsim validate``): Shumailov et al., Nature 2024 (arXiv
2305.17493) for the replace loop; Alemohammad et al., "Self-Consuming
Generative Models Go MAD", ICLR 2024 (arXiv 2307.01850) for the fresh-data
and augmentation loops and sampling bias; He, Xu, Cheng, JRSS-B (arXiv
2502.18049) for weighting; Kazdan et al. (arXiv 2410.16713) and Dey & Donoho
(arXiv 2410.22812) for accumulation.
"""

from __future__ import annotations

import functools

import numpy as np

from ..config import Accumulate, AccumulateSubsample, Augment, Config, Fresh, Replace
from ._common import pick, require_1d, setting, times, trace_twin


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
            "AccumulateSubsample: no closed form for E Sigma_t or E (mu_t - mu0)^2 (THEORY.md 5a: "
            "none was found or derived); only E mu_t = mu0 and, for MLE with tau = 1, the "
            "section-7 invariant E[tr Sigma_t + |mu_t - mu0|^2] = tr Sigma0 are exact "
            "(madsim.theory.invariant)")
    raise NotImplementedError(f"no closed form for loop {loop!r}")  # pragma: no cover


@functools.lru_cache(maxsize=256)
def _series_cached(cfg: Config, T: int):
    v, d = _series(cfg, T)
    v.setflags(write=False)
    d.setflags(write=False)
    return v, d


def standardized(cfg: Config, T: int):
    """(v[0..T], d[0..T]): E Sigma_t = v_t Sigma0 and
    E (mu_t - mu0)(mu_t - mu0)' = d_t Sigma0 for t = 0..T."""
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
    """E sigma_t^2 (1-D) for any loop: sigma0^2 v_t. Replace: sigma0^2 a^t
    (THEORY.md section 1; a = tau^2 v(k) (n-1)/div, section 3); Fresh: the 2x2
    recursion of 4a (weighted: 4c); Augment: 4b (unconditional); Accumulate:
    5a. Schedules and filters are exact (binomial survivors summed over).
    For dim > 1 use expected_trace / expected_cov. Sources: THEORY.md
    sections 1, 3, 4, 5 (papers in the module docstring)."""
    st = setting(cfg)
    require_1d(st, "expected_var (use expected_trace or expected_cov for dim > 1)")
    return _scaled(cfg, t, 0, lambda s: float(s.cov0[0, 0]))


def expected_trace(cfg: Config, t):
    """E tr Sigma_t = v_t tr Sigma0 (THEORY.md section 2: a^t tr Sigma0 for
    the replace loop; sections 3-5 for the other loops)."""
    cfg = trace_twin(cfg)
    return _scaled(cfg, t, 0, lambda s: s.trace0)


def expected_cov(cfg: Config, t):
    """E Sigma_t = v_t Sigma0 ([..., d, d]; THEORY.md section 2)."""
    st = setting(cfg)
    t_arr, T, scalar = times(t)
    v = standardized(cfg, T)[0][t_arr]
    out = np.multiply.outer(v, st.cov0)
    return out


def expected_mean_sq(cfg: Config, t):
    """E |mu_t - mu0|^2 = d_t tr Sigma0 (the dataset's ``mean_sq``; 1-D:
    E (mu_t - mu0)^2 = Var mu_t). THEORY.md sections 1-5."""
    cfg = trace_twin(cfg)
    return _scaled(cfg, t, 1, lambda s: s.trace0)


def expected_mean_cov(cfg: Config, t):
    """E (mu_t - mu0)(mu_t - mu0)' = d_t Sigma0 = Cov mu_t ([..., d, d])."""
    st = setting(cfg)
    t_arr, T, scalar = times(t)
    d = standardized(cfg, T)[1][t_arr]
    return np.multiply.outer(d, st.cov0)


def expected_second_moment(cfg: Config, t):
    """E[tr Sigma_t + |mu_t - mu0|^2] = (v_t + d_t) tr Sigma0: the quantity of
    THEORY.md section 7 (= tr Sigma0 exactly for MLE, tau = 1, pooled fits;
    see ``invariant``). AccumulateSubsample: only where the invariant holds."""
    cfg = trace_twin(cfg)
    st = setting(cfg)
    if isinstance(st.loop, AccumulateSubsample):
        from .universal import invariant
        return invariant(cfg, t)
    t_arr, T, scalar = times(t)
    v, d = standardized(cfg, T)
    return pick((v + d) * st.trace0, t_arr, scalar)


def expected_mean(cfg: Config, t):
    """E mu_t = mu0 for every loop, estimator, temperature, symmetric
    truncation, filter and weighting: each fitted mean is an average of points
    whose expectations are mu0 or the previous model's mean (induction).
    Returns the d-vector (an array [..., d] for an array t)."""
    cfg = trace_twin(cfg)
    st = setting(cfg)
    t_arr, _, scalar = times(t)
    return st.mu0.copy() if scalar else np.broadcast_to(st.mu0, t_arr.shape + (st.dim,)).copy()
