"""THEORY.md section 7: the universal exact invariant.

For any loop (replace, fresh, augment, accumulate, accumulate-subsample),
any schedule, any provenance filter that ignores sample values, with MLE fits
and tau = 1 (no truncation):

    E mu_t = mu0   and   E[Sigma_t + (mu_t - mu0)(mu_t - mu0)'] = Sigma0

at every generation t, so E[tr Sigma_t + |mu_t - mu0|^2] = tr Sigma0.

Why: an MLE Gaussian fit has Sigmahat + (muhat - mu0)(muhat - mu0)' equal to
the average of (x - mu0)(x - mu0)' over its training points, and every real
or synthetic point has E (x - mu0)(x - mu0)' = Sigma0 by induction. A fit
skipped for too few points keeps a model that satisfies it already.

It fails for unbiased estimators, tau != 1, truncation and value-dependent
filters (THEORY.md section 7). It also fails for madsim's weighting with
0 < w < 1: the fit w (real-part MLE) + (1 - w) (synthetic-part MLE) drops the
between-part term of the weighted MLE, so
E[tr Sigma_t + |mu_t - mu0|^2] = tr Sigma0 - w (1-w) E |rbar_t - sbar_t|^2
(exact values: ``expected_trace`` + ``expected_mean_sq``). THEORY.md's
"weighted MLE with weights summing to 1" is the per-point weighted
likelihood, whose variance keeps that term; w = 0 and w = 1 are plain MLE
fits of one part and keep the invariant.

Source: THEORY.md section 7 (derived there; Monte Carlo checked for every
loop). Loops: Alemohammad et al. (arXiv 2307.01850), Kazdan et al. (arXiv
2410.16713), He-Xu-Cheng (arXiv 2502.18049).
"""

from __future__ import annotations

import numpy as np

from ..config import Config
from ._common import setting, times, trace_twin


def invariant_holds(cfg: Config):
    """(True, "") when the section-7 invariant holds exactly for ``cfg``, else
    (False, the reason)."""
    cfg = trace_twin(cfg)
    st = setting(cfg)
    reasons = []
    if st.estimator != "mle":
        reasons.append(f"Config.estimator is {st.estimator!r} (needs 'mle')")
    if st.tau != 1.0:
        reasons.append(f"Config.temperature is {st.tau} (needs 1)")
    if cfg.truncation is not None:
        reasons.append(f"Config.truncation is {cfg.truncation} (needs None)")
    if st.weight is not None and 0.0 < st.weight < 1.0:
        reasons.append(
            f"Config.weight is {st.weight:g}: madsim's w * (real-part fit) + (1-w) * (synthetic-part "
            "fit) is not the weighted MLE (it drops w(1-w)(rbar - sbar)^2), so "
            "E[tr Sigma + |mu - mu0|^2] = tr Sigma0 - w(1-w) E|rbar - sbar|^2")
    return (not reasons), "; ".join(reasons)


def invariant(cfg: Config, t=0):
    """E[tr Sigma_t + |mu_t - mu0|^2] = tr Sigma0 (1-D: E[sigma_t^2 + (mu_t -
    mu0)^2] = sigma0^2) for every generation t, exactly, when the section-7
    invariant holds (MLE, tau = 1, no truncation, pooled or w in {0, 1}; any
    loop including AccumulateSubsample, any schedule and filter). Raises
    ValueError naming what breaks it otherwise. Source: THEORY.md section 7."""
    cfg = trace_twin(cfg)
    st = setting(cfg)
    ok, why = invariant_holds(cfg)
    if not ok:
        raise ValueError(f"the section-7 invariant does not hold: {why}")
    t_arr, _, scalar = times(t)
    return st.trace0 if scalar else np.full(t_arr.shape, st.trace0)
