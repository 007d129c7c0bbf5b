"""Accumulate loops for the Gaussian (docs/theory/accumulate.md).

madsim's convention: the pool starts empty; generation t adds K_t draws of
model t-1 (model 0 is the truth, drawn through the same sampler: temperature
and truncation apply at t = 1 too) and M_t fresh draws of the truth, then
refits on the whole pool. With tau = 1 and no real data stage 1 fits n draws
of the truth, the same as fitting n real points.

Exact recursion (madsim's derivation; with constant counts it reduces to the
explicit recursion of ``accumulate_moments``). Per coordinate
in standardised units, let P be the pool size, Q = sum (x - mu0)^2 and
U = sum (x - mu0) over the pool; the model is mu - mu0 = U/P,
sigma^2 = (Q - U^2/P)/div(P). Adding M real and K synthetic points
(covariance s^2 sigma^2, s^2 = tau^2 v(k)):

    E Q'   = E Q + M + K (d + s^2 v)
    E U'^2 = E U^2 + M + K^2 d + K s^2 v + 2 K E[U (mu - mu0)]

with d = E(mu - mu0)^2 and v = E sigma^2. A provenance filter makes (M, K)
binomial and P random; the recursion is then run jointly with the law of P
(a forward pass over pool sizes, exact: no expected counts). A fit on fewer
than dim + 1 points is skipped (the model is kept).

Closed forms (MLE, tau = 1, K = n every generation, M = 0):
E sigma_t^2 = sigma0^2 prod_{s=1..t}(1 - 1/(n s^2)) -> sigma0^2 sin(pi/sqrt n)/(pi/sqrt n)
(Euler's product), E (mu_t - mu0)^2 = sigma0^2 - E sigma_t^2 (the invariant).

Sources: Kazdan et al., "Collapse or Thrive?" (arXiv 2410.16713) for the
accumulate workflows; Dey & Donoho, "Universality of the pi^2/6 Pathway"
(arXiv 2410.22812) for the asymptotic efficiency; Gerstgrasser et al. (arXiv
2404.01413). The recursions are madsim's own derivations (checked by the
``madsim validate`` cases of docs/theory/accumulate.md).
"""

from __future__ import annotations

import math

import numpy as np

from .. import checks as check
from .common import Setting, loop_counts, pair_law, safe_div

_MASS_FLOOR = 1e-22  # pool sizes whose probability falls below this are dropped (exact to ~1e-20)


def accumulate_series(st: Setting, T: int):
    """(v[0..T], d[0..T]) for Accumulate: any schedules of real and synthetic
    counts, filter, estimator, temperature, truncation."""
    real, syn = loop_counts(st.cfg, T)
    s2, dmin = st.s2, st.dim + 1
    # y[f, j] = E[field f ; P = lo + j], fields: mass, Q, U2, v, d, c = E[U (mu - mu0)]
    lo = 0
    y = np.array([[1.0], [0.0], [0.0], [1.0], [0.0], [0.0]])
    v, d = np.empty(T + 1), np.empty(T + 1)
    v[0], d[0] = 1.0, 0.0
    for t in range(1, T + 1):
        M, K, W = pair_law(real[t - 1], st.fpr, syn[t - 1], st.tpr)
        S = (M + K).astype(np.int64)
        smin, smax = int(S.min()), int(S.max())
        L = y.shape[1]
        p = lo + np.arange(L, dtype=np.float64)
        mass, Q, U2, vv, dd, c = y
        # all survivor pairs at once: [pairs, L]
        Mi, Ki, Si = M[:, None], K[:, None], S[:, None]
        Np = p[None, :] + Si
        Q2 = Q + Mi * mass + Ki * (dd + s2 * vv)
        U22 = U2 + Mi * mass + Ki * Ki * dd + Ki * s2 * vv + 2.0 * Ki * c
        fit = Np >= dmin
        v2 = np.where(fit, safe_div(Q2 - safe_div(U22, Np), st.div(Np)), vv)
        d2 = np.where(fit, safe_div(U22, Np * Np), dd)
        c2 = np.where(fit, safe_div(U22, Np), c + Ki * dd)
        fields = np.stack([np.broadcast_to(mass, Q2.shape), Q2, U22, v2, d2, c2], axis=1)
        new = np.zeros((6, L + smax - smin))
        for s_val in np.unique(S):  # pairs adding the same number of points land together
            sel = S == s_val
            off = int(s_val) - smin
            new[:, off : off + L] += np.tensordot(W[sel], fields[sel], axes=(0, 0))
        lo += smin
        keep = np.nonzero(new[0] > _MASS_FLOOR)[0]
        a, b = int(keep[0]), int(keep[-1]) + 1
        y = new[:, a:b]
        lo += a
        v[t], d[t] = y[3].sum(), y[4].sum()
    return v, d


def accumulate_moments(t, n, tau=1.0, estimator="mle", first_real=False):
    """Expected variance and mean error of the 1-D accumulate loop with n synthetic points per generation.

    The explicit recursion, for s >= 1 (sigma0 = 1)::

        MLE:      E sigma^2_{s+1} = E sigma^2_s (s n + tau^2 (n - 1/(s+1)))/((s+1) n)
        unbiased: E sigma^2_{s+1} = E sigma^2_s (s n - 1 + tau^2 (n - 1/(s+1)))/((s+1) n - 1)
        mean:     E (mu_{s+1}-mu0)^2 = E (mu_s-mu0)^2 + tau^2 E sigma^2_s/(n (s+1)^2)

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 1 (the first fit).
    n : int
        Synthetic points per generation (>= 2).
    tau : float, default 1.0
        Temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        The scatter's divisor.
    first_real : bool, default False
        False (madsim's convention): stage 1 fits n draws of the truth
        through the sampler, ``E sigma_1^2 = tau^2 (n-1)/div``,
        ``E (mu_1-mu0)^2 = tau^2/n``. True: stage 1 fits n real points,
        ``E sigma_1^2 = (n-1)/div``, ``E (mu_1-mu0)^2 = 1/n``; madsim runs
        this as ``Accumulate(synthetic=[0, n, n, ...], real=[n, 0, 0, ...])``.

    Returns
    -------
    tuple
        ``(E sigma_t^2, E (mu_t - mu0)^2)``, floats or arrays shaped like t.

    Notes
    -----
    docs/theory/accumulate.md, section "The explicit recursion for constant
    n" (Kazdan et al., arXiv 2410.16713, for the workflow). The validate
    cases ``row12-*``, ``row13-*``, ``sec5a-*`` check the same values through
    the pool recursion (``expected_var(cfg, t)``); the unit tests compare
    the two recursions.

    Examples
    --------
    >>> from madsim import theory
    >>> v, m = theory.accumulate_moments(100, 10)
    >>> round(v, 6), round(m, 6)
    (0.844276, 0.155724)
    >>> v, m = theory.accumulate_moments(100, 10, tau=0.8, first_real=True)
    >>> round(v, 5), round(m, 5)
    (0.18198, 0.12801)
    """
    n = check.integer("n", n, 2)
    tau = check.real("tau", tau, 0.0, None, lo_open=True)
    check.choice("estimator", estimator, ("mle", "unbiased"))
    t_arr = np.asarray(t, dtype=np.int64)
    if np.any(t_arr < 1):
        raise ValueError(f"t must be >= 1 (the first fit); got {t!r}")
    T = int(t_arr.max())
    g = 1.0 if first_real else tau * tau
    div = n if estimator == "mle" else n - 1
    var = np.empty(T + 1)
    msq = np.empty(T + 1)
    var[1] = g * (n - 1) / div
    msq[1] = g / n
    for s in range(1, T):
        if estimator == "mle":
            f = (s * n + tau * tau * (n - 1.0 / (s + 1))) / ((s + 1) * n)
        else:
            f = (s * n - 1 + tau * tau * (n - 1.0 / (s + 1))) / ((s + 1) * n - 1)
        var[s + 1] = var[s] * f
        msq[s + 1] = msq[s] + tau * tau * var[s] / (n * (s + 1) ** 2)
    out_v, out_m = var[t_arr], msq[t_arr]
    if np.ndim(t) == 0:
        return float(out_v), float(out_m)
    return out_v, out_m


def accumulate_mle_var(t, n, var0=1.0):
    """Expected variance of the accumulate loop for MLE at temperature 1.

    ``E sigma_t^2 = sigma0^2 prod_{s=1..t} (1 - 1/(n s^2))`` with n synthetic
    points per generation (no real data, no filter).

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Points added per generation (>= 2).
    var0 : float, default 1.0
        The truth's variance sigma0^2.

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/accumulate.md, section "MLE at temperature 1". The validate
    cases ``row12-*`` and ``sec5a-accumulate-n4-mle`` check the same values
    through ``expected_var(cfg, t)``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.accumulate_mle_var(100, 10), 6)
    0.844276
    """
    n = check.integer("n", n, 2)
    t_arr = np.asarray(t, dtype=np.int64)
    if np.any(t_arr < 0):
        raise ValueError(f"t must be >= 0; got {t!r}")
    T = int(t_arr.max())
    s = np.arange(1, T + 1, dtype=np.float64)
    prod = np.concatenate([[1.0], np.cumprod(1.0 - 1.0 / (n * s * s))])
    out = var0 * prod[t_arr]
    return float(out) if np.ndim(t) == 0 else out


def accumulate_limit(n) -> float:
    """Limit of the accumulate loop's expected variance for MLE at temperature 1.

    ``lim_t E sigma_t^2 / sigma0^2 = prod_{s>=1}(1 - 1/(n s^2)) = sin(pi/sqrt n)/(pi/sqrt n)``
    (Euler's sine product).

    Parameters
    ----------
    n : int
        Points added per generation (>= 2).

    Returns
    -------
    float

    Notes
    -----
    docs/theory/accumulate.md, section "The limit: Euler's sine product".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.accumulate_limit(10), 6)
    0.843436
    >>> round(theory.accumulate_limit(4), 6)  # 2 / pi
    0.63662
    """
    n = check.integer("n", n, 2)
    x = math.pi / math.sqrt(n)
    return math.sin(x) / x


def dey_donoho_ratio(n) -> float:
    """Limit of the accumulate loop's mean error relative to the real-only error.

    ``lim_t E (mu_t - mu0)^2 / (sigma0^2/n) = n (1 - sin(pi/sqrt n)/(pi/sqrt n))``
    for accumulate, MLE, tau = 1; never above pi^2/6: the relative efficiency
    of accumulating against real data only is at least 6/pi^2.

    Parameters
    ----------
    n : int
        Points added per generation (>= 2).

    Returns
    -------
    float

    Notes
    -----
    docs/theory/accumulate.md, section "The limit: Euler's sine product";
    Dey & Donoho, "Universality of the pi^2/6 pathway in avoiding model
    collapse" (arXiv 2410.22812).

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.dey_donoho_ratio(10), 4)
    1.5656
    """
    n = check.integer("n", n, 2)
    return n * (1.0 - accumulate_limit(n))
