"""THEORY.md section 3: sampling bias (quality over diversity).

Temperature tau scales a synthetic draw's covariance by tau^2; truncation at
k keeps exactly the requested number of draws inside the Mahalanobis ball of
radius k. Both enter every first- and second-moment recursion (sections 1-5)
only through the variance factor of one synthetic draw,

    s^2 = tau^2 v_d(k),

because a fit's expected scatter and mean error need only the draws'
covariance: c iid draws of covariance S give E scatter = (c - 1) S and
E (xbar - mu)(xbar - mu)' = S / c whatever their law. Log-moments (and any
moment needing the law, e.g. E sigma) are not closed-form under truncation.

Source: Alemohammad et al., "Self-Consuming Generative Models Go MAD", ICLR
2024 (arXiv 2307.01850): the sampling-bias knob lambda; THEORY.md section 3
derives v(k) and checks it by Monte Carlo.
"""

from __future__ import annotations

import math

from scipy import special

from .. import _validate as check


def truncation_factor(k, dim: int = 1) -> float:
    """v_d(k) = E[|z|^2 | |z| <= k] / d for z ~ N(0, I_d): the covariance of
    a standard normal truncated to the ball of radius k is v_d(k) I.

    v_d(k) = F_{chi2(d+2)}(k^2) / F_{chi2(d)}(k^2). For d = 1 this is
    THEORY.md section 3's v(k) = 1 - 2 k phi(k) / (2 Phi(k) - 1):
    v(1) = 0.291125, v(1.5) = 0.551524, v(2) = 0.773741, v(3) = 0.973337.
    The d > 1 form (Mahalanobis truncation, what madsim's truncation does)
    is derived the same way (the radial law of N(0, I_d) is chi_d).
    Source: THEORY.md section 3 (Alemohammad et al., arXiv 2307.01850).
    """
    k = check.real("k", k, 0.0, None, lo_open=True)
    d = check.integer("dim", dim, 1)
    if d == 1:  # the closed form of THEORY.md, accurate also for tiny k
        mass = math.erf(k / math.sqrt(2.0))
        return 1.0 - 2.0 * k * math.exp(-0.5 * k * k) / math.sqrt(2.0 * math.pi) / mass
    num = special.gammainc((d + 2) / 2.0, k * k / 2.0)
    den = special.gammainc(d / 2.0, k * k / 2.0)
    if den == 0.0:
        raise ValueError(f"k = {k} keeps no mass in dim {d}")
    return float(num / den)


def truncation_acceptance(k, dim: int = 1) -> float:
    """P(|z| <= k) for z ~ N(0, I_d): the fraction of draws a truncated
    sampler accepts (2 Phi(k) - 1 in 1-D). THEORY.md section 3."""
    k = check.real("k", k, 0.0, None, lo_open=True)
    d = check.integer("dim", dim, 1)
    return float(special.gammainc(d / 2.0, k * k / 2.0))


def synthetic_variance_factor(tau=1.0, k=None, dim: int = 1) -> float:
    """s^2 = tau^2 v_d(k): the covariance of one synthetic draw of a model
    with covariance Sigma is s^2 Sigma (k None: no truncation, v = 1).
    THEORY.md section 3."""
    tau = check.real("tau", tau, 0.0, None, lo_open=True)
    return tau * tau * (1.0 if k is None else truncation_factor(k, dim))
