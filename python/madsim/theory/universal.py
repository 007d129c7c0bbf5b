"""The invariant of MLE loops (docs/theory/accumulate.md, section "The
invariant of MLE loops").

For any loop (replace, fresh, augment, accumulate, accumulate-subsample),
any schedule, any provenance filter that ignores sample values, with MLE fits
and tau = 1 (no truncation):

    E mu_t = mu0   and   E[Sigma_t + (mu_t - mu0)(mu_t - mu0)'] = Sigma0

at every generation t, so ``E[tr Sigma_t + |mu_t - mu0|^2] = tr Sigma0``.

Why: an MLE Gaussian fit has Sigmahat + (muhat - mu0)(muhat - mu0)' equal to
the average of (x - mu0)(x - mu0)' over its training points, and every real
or synthetic point has E (x - mu0)(x - mu0)' = Sigma0 by induction. A fit
skipped for too few points keeps a model that satisfies it already.

It fails for unbiased estimators, tau != 1, truncation and value-dependent
filters. It also fails for madsim's weighting with 0 < w < 1: the fit
w (real-part MLE) + (1 - w) (synthetic-part MLE) drops the between-part term
of the pooled second moment, so
``E[tr Sigma_t + |mu_t - mu0|^2] = tr Sigma0 - w (1-w) E |rbar_t - sbar_t|^2``
(exact values: ``expected_trace`` + ``expected_mean_sq``). The per-point
weighted likelihood would keep that term; w = 0 and w = 1 are plain MLE
fits of one part and keep the invariant.

The derivation is madsim's own; it holds for PPCA in trace form and for
Gaussian mixtures fitted by EM too (docs/theory/ppca-gmm.md).
"""

from __future__ import annotations

import numpy as np

from ..config import Config
from .common import setting, times, trace_twin


def invariant_holds(cfg: Config):
    """Whether the invariant of MLE loops holds exactly for a configuration.

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian or PPCA configuration.

    Returns
    -------
    tuple of (bool, str)
        ``(True, "")``, or ``(False, reason)`` naming every setting that
        breaks it (estimator, temperature, truncation, weight).

    Notes
    -----
    docs/theory/accumulate.md, section "The invariant of MLE loops".

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> theory.invariant_holds(ms.Config(loop=ms.Fresh(real=5, synthetic=5)))
    (True, '')
    >>> theory.invariant_holds(ms.Config(loop=ms.Fresh(real=5, synthetic=5), temperature=0.9))
    (False, 'Config.temperature is 0.9 (needs 1)')
    """
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
            "E[tr Sigma + |mu - mu0|^2] = tr Sigma0 - w(1-w) E|rbar - sbar|^2"
        )
    return (not reasons), "; ".join(reasons)


def invariant(cfg: Config, t=0):
    """The conserved second moment of MLE loops, ``E[tr Sigma_t + |mu_t - mu0|^2] = tr Sigma0``.

    In 1-D, ``E[sigma_t^2 + (mu_t - mu0)^2] = sigma0^2``. Exact at every
    generation when the invariant holds: MLE, tau = 1, no truncation,
    pooled fit or weight in {0, 1}; any loop including
    ``AccumulateSubsample``, any schedule and value-blind filter; Gaussian
    or PPCA (trace form).

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian or PPCA configuration.
    t : int or array of int, default 0
        Generation(s), >= 0.

    Returns
    -------
    float or ndarray
        ``tr Sigma0`` (shaped like ``t``).

    Raises
    ------
    ValueError
        When the invariant does not hold, naming what breaks it.

    Notes
    -----
    docs/theory/accumulate.md, section "The invariant of MLE loops". Checked
    by the validate cases ``row20-*``, ``ppca-sec7-*``, ``ppca-invariant-*``
    and as a comparison in every case where it holds.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> cfg = ms.Config(loop=ms.AccumulateSubsample(n=10, synthetic=10), path="samples")
    >>> theory.invariant(cfg, 30)
    1.0
    """
    cfg = trace_twin(cfg)
    st = setting(cfg)
    ok, why = invariant_holds(cfg)
    if not ok:
        raise ValueError(f"the invariant of MLE loops does not hold: {why}")
    t_arr, _, scalar = times(t)
    return st.trace0 if scalar else np.full(t_arr.shape, st.trace0)
