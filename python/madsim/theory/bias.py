"""Sampling bias (quality over diversity): temperature and truncation.

Temperature tau scales a synthetic draw's covariance by tau^2; truncation at
k keeps exactly the requested number of draws inside the Mahalanobis ball of
radius k. Both enter every first- and second-moment recursion only through
the variance factor of one synthetic draw,

    s^2 = tau^2 v_d(k),

because a fit's expected scatter and mean error need only the draws'
covariance: c iid draws of covariance S give E scatter = (c - 1) S and
E (xbar - mu)(xbar - mu)' = S / c whatever their law. Log-moments (and any
moment needing the law, e.g. E sigma) are not closed-form under truncation.

Derivation and conditions: docs/theory/bias.md. Source of the knob:
Alemohammad et al., "Self-Consuming Generative Models Go MAD", ICLR 2024
(arXiv 2307.01850).
"""

from __future__ import annotations

import math

from scipy import special

from .. import checks as check


def truncation_factor(k, dim: int = 1) -> float:
    """Covariance factor of a standard normal truncated to the ball of radius k.

    ``v_d(k) = E[|z|^2 | |z| <= k] / d`` for ``z ~ N(0, I_d)``, so that the
    truncated normal has covariance ``v_d(k) I``:
    ``v_d(k) = F_{chi2(d+2)}(k^2) / F_{chi2(d)}(k^2)``; in 1-D
    ``v(k) = 1 - 2 k phi(k) / (2 Phi(k) - 1)``.

    Parameters
    ----------
    k : float
        Truncation radius (> 0), in standard deviations (Mahalanobis radius
        for d > 1, what madsim's ``Config.truncation`` does).
    dim : int, default 1
        Dimension d.

    Returns
    -------
    float
        In (0, 1).

    Raises
    ------
    ValueError
        If k keeps no mass in double precision.

    Notes
    -----
    docs/theory/bias.md, section "Truncation" (derived from the radial law
    chi_d of N(0, I_d)). Checked by the validate cases
    ``row7-truncation-k2-n10-t10``, ``trunc-fresh-k1.5``,
    ``trunc-d2-accumulate``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.truncation_factor(2), 6)
    0.773741
    >>> round(theory.truncation_factor(1.5, dim=2), 6)
    0.459191
    """
    k = check.real("k", k, 0.0, None, lo_open=True)
    d = check.integer("dim", dim, 1)
    if d == 1:  # the 1-D closed form, accurate also for tiny k
        mass = math.erf(k / math.sqrt(2.0))
        return 1.0 - 2.0 * k * math.exp(-0.5 * k * k) / math.sqrt(2.0 * math.pi) / mass
    num = special.gammainc((d + 2) / 2.0, k * k / 2.0)
    den = special.gammainc(d / 2.0, k * k / 2.0)
    if den == 0.0:
        raise ValueError(f"k = {k} keeps no mass in dim {d}")
    return float(num / den)


def truncation_acceptance(k, dim: int = 1) -> float:
    """Fraction of draws a truncated sampler accepts, ``P(|z| <= k)`` for ``z ~ N(0, I_d)``.

    ``F_{chi2(d)}(k^2)``; ``2 Phi(k) - 1`` in 1-D.

    Parameters
    ----------
    k : float
        Truncation radius (> 0).
    dim : int, default 1
        Dimension d.

    Returns
    -------
    float

    Notes
    -----
    docs/theory/bias.md, section "Truncation".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.truncation_acceptance(2), 6)
    0.9545
    """
    k = check.real("k", k, 0.0, None, lo_open=True)
    d = check.integer("dim", dim, 1)
    return float(special.gammainc(d / 2.0, k * k / 2.0))


def synthetic_variance_factor(tau=1.0, k=None, dim: int = 1) -> float:
    """Variance factor of one synthetic draw, s^2 = tau^2 v_d(k).

    One synthetic draw from a model with covariance Sigma has covariance
    ``s^2 Sigma``; every recursion of the first and second moments uses it.

    Parameters
    ----------
    tau : float, default 1.0
        Temperature (> 0).
    k : float or None, default None
        Truncation radius; None for no truncation (``v = 1``).
    dim : int, default 1
        Dimension d.

    Returns
    -------
    float

    Notes
    -----
    docs/theory/bias.md, section "The variance factor of a synthetic draw".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.synthetic_variance_factor(0.9, k=2), 6)
    0.62673
    >>> round(theory.synthetic_variance_factor(0.9), 6)
    0.81
    """
    tau = check.real("tau", tau, 0.0, None, lo_open=True)
    return tau * tau * (1.0 if k is None else truncation_factor(k, dim))
