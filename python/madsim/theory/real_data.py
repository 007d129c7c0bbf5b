"""Loops with real data (docs/theory/real-data.md), and the replace loop as the
special case with no real data), for any schedule of counts, a provenance
filter, temperature/truncation and the He-Xu-Cheng weighting.

All results are first and second moments in the standardised scalars of
``common`` (E Sigma_t = v_t Sigma0, E (mu_t-mu0)(mu_t-mu0)' = d_t Sigma0);
they hold for both paths (exact and samples).

Fresh data (MAD "fresh data" loop; Alemohammad et al., ICLR 2024,
arXiv 2307.01850). Generation t pools M real draws of the truth with K draws
of model t-1 (covariance s^2 Sigma, s^2 = tau^2 v(k)); N = M + K:

    v_t = A (M + K s^2 v_{t-1}) + B d_{t-1}
    d_t = (M + K s^2 v_{t-1}) / N^2 + (K/N)^2 d_{t-1}
    MLE: A = (N-1)/N^2, B = M K/N^2;   unbiased: A = 1/N, B = M K/(N (N-1)).

Under a filter (M, K) ~ Binomial(m_t, 1-fpr) x Binomial(k_t, 1-tpr),
independent of the model, so the recursion stays linear with coefficients
averaged *exactly* over the binomial law (the coefficients are rational in
M, K: expected counts would not do); a generation with N < dim + 1 keeps the
model (madsim skips that fit). The replace loop is M = 0.

Weighted (He, Xu, Cheng, JRSS-B, arXiv 2502.18049): the fit is
w (real-part fit) + (1-w) (synthetic-part fit), each part with the chosen
estimator (dv(c) = (c-1)/div(c)); both parts need dim + 1 points:

    v_t = w dv(M) + (1-w) dv(K) s^2 v_{t-1}
    d_t = w^2 / M + (1-w)^2 (d_{t-1} + s^2 v_{t-1} / K).

Augment (MAD "synthetic augmentation"): the real set R (M points,
M ~ Binomial(m, 1-fpr) screened once at generation 0) is fixed. Tracking
x_t = E[(mu_t - mu0)(rbar - mu0)] (per coordinate, r = rbar - mu0, E r^2 = 1/M)
makes the recursion linear and unconditional:

    d_t = (M + K^2 d + 2 M K x + K s^2 v) / N^2
    x_t = (1 + K x) / N
    v_t = [(M - 1) + s^2 v K (N-1)/N + (M K/N)(d - 2 x + 1/M)] / div(N)

from v_0 = 1, d_0 = x_0 = 0; the conditional form (d measured from
rbar, W_r in place of M - 1) is the same recursion. The law of M is summed
over exactly (M is drawn once, so whole trajectories are averaged).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import checks as check
from ..config import Augment, Config, Fresh, Replace
from .common import Setting, binomial_law, loop_counts, pair_law, safe_div, setting


class FixedPoint(NamedTuple):
    """Limit of the expected moments of a Gaussian loop (docs/theory/real-data.md).

    ``var`` is lim E sigma^2 (1-D) or lim E tr Sigma (d > 1), ``mean_sq`` is
    ``lim E |mu - mu0|^2``, both in the truth's units.

    Examples
    --------
    >>> from madsim import theory
    >>> fp = theory.FixedPoint(var=0.9, mean_sq=0.1)
    >>> fp.var + fp.mean_sq
    1.0
    """

    var: float
    mean_sq: float


# ---------------------------------------------------------------- fresh / replace


def _fresh_matrix(st: Setting, m: float, k: float) -> np.ndarray:
    """The affine map (1, v, d) -> (1, v', d') of one Fresh/Replace generation,
    averaged exactly over the filter's survivor law."""
    M, K, P = pair_law(m, st.fpr, k, st.tpr)
    s2, dmin = st.s2, st.dim + 1
    G = np.zeros((3, 3))
    G[0, 0] = 1.0
    if st.weight is None:
        N = M + K
        ok = N >= dmin
        skip = float(P[~ok].sum())
        w = P * ok
        if st.estimator == "mle":
            A = safe_div(N - 1.0, N * N)
            B = safe_div(M * K, N * N)
        else:
            A = safe_div(1.0, N)
            B = safe_div(M * K, N * (N - 1.0))
        G[1] = (np.sum(w * A * M), s2 * np.sum(w * A * K) + skip, np.sum(w * B))
        G[2] = (
            np.sum(w * safe_div(M, N * N)),
            s2 * np.sum(w * safe_div(K, N * N)),
            np.sum(w * safe_div(K * K, N * N)) + skip,
        )
    else:
        wt = st.weight
        ok = (M >= dmin) & (K >= dmin)
        skip = float(P[~ok].sum())
        w = P * ok
        dvM = safe_div(M - 1.0, st.div(M))
        dvK = safe_div(K - 1.0, st.div(K))
        G[1] = (wt * np.sum(w * dvM), (1 - wt) * s2 * np.sum(w * dvK) + skip, 0.0)
        G[2] = (
            wt * wt * np.sum(w * safe_div(1.0, M)),
            (1 - wt) ** 2 * s2 * np.sum(w * safe_div(1.0, K)),
            (1 - wt) ** 2 * float(w.sum()) + skip,
        )
    return G


def _fresh_counts(st: Setting, T: int):
    real, syn = loop_counts(st.cfg, T)
    if isinstance(st.loop, Replace):
        real = np.zeros(T)
    return real, syn


def fresh_series(st: Setting, T: int):
    """(v[0..T], d[0..T]) for Replace and Fresh (any schedule, filter, weight,
    temperature, truncation). docs/theory/real-data.md, sections "Fresh data"
    and "Weighting real against synthetic data"."""
    real, syn = _fresh_counts(st, T)
    x = np.array([1.0, 1.0, 0.0])
    v, d = np.empty(T + 1), np.empty(T + 1)
    v[0], d[0] = 1.0, 0.0
    cache: dict = {}
    for t in range(1, T + 1):
        key = (real[t - 1], syn[t - 1])
        G = cache.get(key)
        if G is None:
            G = cache[key] = _fresh_matrix(st, *key)
        x = G @ x
        v[t], d[t] = x[1], x[2]
    return v, d


# ---------------------------------------------------------------- augment


def _augment_matrices(st: Setting, M: np.ndarray, k: float) -> np.ndarray:
    """[len(M), 4, 4] affine maps (1, v, d, x) -> (1, v', d', x') of one
    Augment generation for each real-set size M, averaged over the synthetic
    survivors K ~ Binomial(k, 1 - tpr)."""
    K, pk = binomial_law(k, 1.0 - st.tpr)
    Mg = M.astype(np.float64)[:, None]
    Kg = K.astype(np.float64)[None, :]
    P = np.broadcast_to(pk[None, :], (M.size, K.size))
    s2, dmin = st.s2, st.dim + 1
    q = safe_div(1.0, Mg)  # E r^2 = 1/M (0 when there is no real set)
    G = np.zeros((M.size, 4, 4))
    G[:, 0, 0] = 1.0
    if st.weight is None:
        N = Mg + Kg
        ok = N >= dmin
        w = P * ok
        skip = np.sum(P * ~ok, axis=1)
        D = st.div(N)
        mk = safe_div(Mg * Kg, N * D)
        G[:, 1, 0] = np.sum(w * safe_div(np.maximum(Mg - 1.0, 0.0), D) + w * mk * q, axis=1)
        G[:, 1, 1] = s2 * np.sum(w * safe_div(Kg * (N - 1.0), N * D), axis=1) + skip
        G[:, 1, 2] = np.sum(w * mk, axis=1)
        G[:, 1, 3] = -2.0 * np.sum(w * mk, axis=1)
        N2 = N * N
        G[:, 2, 0] = np.sum(w * safe_div(Mg * Mg * q, N2), axis=1)
        G[:, 2, 1] = s2 * np.sum(w * safe_div(Kg, N2), axis=1)
        G[:, 2, 2] = np.sum(w * safe_div(Kg * Kg, N2), axis=1) + skip
        G[:, 2, 3] = np.sum(w * safe_div(2.0 * Mg * Kg, N2), axis=1)
        G[:, 3, 0] = np.sum(w * safe_div(Mg * q, N), axis=1)
        G[:, 3, 3] = np.sum(w * safe_div(Kg, N), axis=1) + skip
    else:
        wt = st.weight
        ok = (Mg >= dmin) & (Kg >= dmin)
        w = P * ok
        skip = np.sum(P * ~ok, axis=1)
        pok = np.sum(w, axis=1)
        dvM = safe_div(Mg[:, 0] - 1.0, st.div(Mg[:, 0]))
        G[:, 1, 0] = wt * dvM * pok
        G[:, 1, 1] = (1 - wt) * s2 * np.sum(w * safe_div(Kg - 1.0, st.div(Kg)), axis=1) + skip
        G[:, 2, 0] = wt * wt * q[:, 0] * pok
        G[:, 2, 1] = (1 - wt) ** 2 * s2 * np.sum(w * safe_div(1.0, Kg), axis=1)
        G[:, 2, 2] = (1 - wt) ** 2 * pok + skip
        G[:, 2, 3] = 2 * wt * (1 - wt) * pok
        G[:, 3, 0] = wt * q[:, 0] * pok
        G[:, 3, 3] = (1 - wt) * pok + skip
    return G


def _augment_real_law(st: Setting):
    M, pm = binomial_law(st.loop.real, 1.0 - st.fpr)
    if M.size > 100_000:  # pragma: no cover - needs a huge real set and a filter
        raise NotImplementedError("Augment: the exact sum over the real set's survivor law is too large")
    return M, pm


def augment_series(st: Setting, T: int):
    """(v[0..T], d[0..T]) for Augment (docs/theory/real-data.md, unconditional on
    the real set), any schedule, filter, weight, temperature, truncation."""
    _, syn = loop_counts(st.cfg, T)
    M, pm = _augment_real_law(st)
    x = np.zeros((M.size, 4))
    x[:, 0] = x[:, 1] = 1.0
    v, d = np.empty(T + 1), np.empty(T + 1)
    v[0], d[0] = 1.0, 0.0
    cache: dict = {}
    for t in range(1, T + 1):
        k = syn[t - 1]
        G = cache.get(k)
        if G is None:
            G = cache[k] = _augment_matrices(st, M, k)
        x = np.einsum("mij,mj->mi", G, x)
        v[t], d[t] = pm @ x[:, 1], pm @ x[:, 2]
    return v, d


# ---------------------------------------------------------------- limits


def _affine_limit(G: np.ndarray, x0: np.ndarray, what: str) -> np.ndarray:
    """lim_t G^t x0 for an affine map (first coordinate is the constant 1), by
    repeated squaring (2^80 steps); raises if it does not settle."""
    P = G.copy()
    x = P @ x0
    for _ in range(80):
        P = P @ P
        if not np.all(np.isfinite(P)):
            break
        y = P @ x0
        if np.allclose(y, x, rtol=1e-13, atol=1e-300):
            return y
        x = y
    raise ValueError(f"{what}: the expected moments have no finite limit (the recursion does not contract)")


def fixed_point(cfg: Config) -> FixedPoint:
    """Limit of the expected moments of a Gaussian loop as t -> infinity.

    The limits of ``E sigma_t^2`` (1-D) or ``E tr Sigma_t`` and of
    ``E |mu_t - mu0|^2``, starting from the truth:

    * Fresh (constant counts; any filter, weight, estimator, tau,
      truncation): the fixed point of the linear recursion (unique: it
      contracts whenever real data survive); closed form for MLE and tau = 1
      in ``fresh_fixed_point_mle``;
    * Augment (constant synthetic count): likewise, averaged over the real
      set's size;
    * Replace (constant n): E sigma^2 -> 0 when a = tau^2 (n-1)/div < 1 and
      E (mu-mu0)^2 -> tau^2 sigma0^2 / (n (1 - a)); no finite limit when
      a >= 1;
    * Accumulate (MLE, tau = 1, constant synthetic count, no real data, no
      filter, no truncation): the Euler-product limit sin(pi/sqrt n)/(pi/sqrt n).

    Parameters
    ----------
    cfg : madsim.Config
        A Gaussian configuration with constant counts.

    Returns
    -------
    FixedPoint
        ``(var, mean_sq)`` in the truth's units.

    Raises
    ------
    ValueError
        When the moments have no finite limit (e.g. the unbiased replace loop).
    NotImplementedError
        For schedules, AccumulateSubsample, and Accumulate outside the case
        above.

    Notes
    -----
    docs/theory/real-data.md, section "Fixed points by config"; sources:
    Alemohammad et al. (arXiv 2307.01850) for the loops, He, Xu, Cheng (arXiv
    2502.18049) for weighting, Kazdan et al. (arXiv 2410.16713) and Dey &
    Donoho (arXiv 2410.22812) for accumulation. The validate cases
    ``row9-*``, ``row10-*``, ``row11-*`` reach these limits at t = 60.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> fp = theory.fixed_point(ms.Config(loop=ms.Augment(real=10, synthetic=10)))
    >>> round(fp.var, 6), round(fp.mean_sq, 6)  # 27/31, 4/31
    (0.870968, 0.129032)
    >>> fp = theory.fixed_point(ms.Config(loop=ms.Accumulate(synthetic=10)))
    >>> round(fp.var, 6)
    0.843436
    """
    from ..config import Accumulate, AccumulateSubsample

    st = setting(cfg)
    loop = st.loop
    tr = st.trace0
    if isinstance(loop, (Replace, Fresh)):
        fields = ("n",) if isinstance(loop, Replace) else ("real", "synthetic")
        for f in fields:
            if not isinstance(getattr(loop, f), int):
                raise NotImplementedError(
                    f"fixed_point: {type(loop).__name__}.{f} is a schedule; a fixed point needs "
                    "constant counts (evaluate expected_var(cfg, t) at large t instead)"
                )
        m = 0.0 if isinstance(loop, Replace) else float(loop.real)
        k = float(loop.n if isinstance(loop, Replace) else loop.synthetic)
        G = _fresh_matrix(st, m, k)
        lim = _affine_limit(G, np.array([1.0, 1.0, 0.0]), f"fixed_point({type(loop).__name__})")
        return FixedPoint(lim[1] * tr, lim[2] * tr)
    if isinstance(loop, Augment):
        if not isinstance(loop.synthetic, int):
            raise NotImplementedError(
                "fixed_point: Augment.synthetic is a schedule; a fixed point needs a constant count"
            )
        M, pm = _augment_real_law(st)
        G = _augment_matrices(st, M, float(loop.synthetic))
        lims = np.array(
            [
                _affine_limit(G[i], np.array([1.0, 1.0, 0.0, 0.0]), "fixed_point(Augment)")
                for i in range(M.size)
            ]
        )
        return FixedPoint(float(pm @ lims[:, 1]) * tr, float(pm @ lims[:, 2]) * tr)
    if isinstance(loop, Accumulate):
        from .accumulate import accumulate_limit

        ok = (
            st.estimator == "mle"
            and st.tau == 1.0
            and cfg.truncation is None
            and not st.filtered
            and loop.real == 0
            and isinstance(loop.synthetic, int)
        )
        if not ok:
            raise NotImplementedError(
                "fixed_point(Accumulate): closed form only for MLE, tau = 1, no truncation, no "
                "filter, real = 0 and a constant synthetic count (docs/theory/accumulate.md); evaluate "
                "expected_var(cfg, t) at large t otherwise"
            )
        lim = accumulate_limit(loop.synthetic)
        return FixedPoint(lim * tr, (1.0 - lim) * tr)
    if isinstance(loop, AccumulateSubsample):
        raise NotImplementedError(
            "fixed_point(AccumulateSubsample): no closed form (docs/theory/accumulate.md); only the "
            "invariant of MLE loops is exact"
        )
    raise NotImplementedError(f"fixed_point: unsupported loop {loop!r}")  # pragma: no cover


def fresh_fixed_point(m, k, tau=1.0, estimator="mle", var0=1.0) -> FixedPoint:
    """Fixed point of the 1-D fresh-data loop with m real and k synthetic points per generation.

    Solves the linear recursion's fixed point (pooled fit) for any estimator
    and temperature; for MLE and tau = 1 it equals the closed form
    ``d* = N sigma0^2/(m(N+k) + k)``, ``v* = sigma0^2 - d*`` (N = m + k).

    Parameters
    ----------
    m : int
        Real points per generation (>= 1).
    k : int
        Synthetic points per generation (>= 0).
    tau : float, default 1.0
        Temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        The scatter's divisor.
    var0 : float, default 1.0
        The truth's variance sigma0^2.

    Returns
    -------
    FixedPoint
        ``(var, mean_sq)``: lim E sigma_t^2 and lim E (mu_t - mu0)^2.

    Notes
    -----
    docs/theory/real-data.md, section "Fresh data" (the MAD fresh-data loop
    of Alemohammad et al., arXiv 2307.01850). The validate cases ``row9-*``,
    ``row10-*``, ``sec4a-*`` compare E sigma^2 and E (mu - mu0)^2 at t = 60,
    where the recursion has settled at this fixed point.

    Examples
    --------
    >>> from madsim import theory
    >>> fp = theory.fresh_fixed_point(10, 10)
    >>> round(float(fp.var), 6), round(float(fp.mean_sq), 6)  # 29/31, 2/31
    (0.935484, 0.064516)
    >>> fp = theory.fresh_fixed_point(10, 10, estimator="unbiased")
    >>> round(float(fp.var), 6), round(float(fp.mean_sq), 6)  # 29/28, 19/280
    (1.035714, 0.067857)
    """
    m = check.integer("m", m, 1)
    k = check.integer("k", k, 0)
    check.real("var0", var0, 0.0, None, lo_open=True)
    cfg = Config(loop=Fresh(real=m, synthetic=k), estimator=estimator, temperature=tau)
    fp = fixed_point(cfg)
    return FixedPoint(fp.var * var0, fp.mean_sq * var0)


def fresh_fixed_point_mle(m, k, var0=1.0) -> FixedPoint:
    """Closed-form fixed point of the fresh-data loop for MLE at temperature 1.

    ``d* = N sigma0^2/(m(N+k)+k)`` and ``v* = sigma0^2 m(N+k-1)/(m(N+k)+k)``,
    N = m + k. As k -> infinity: v* -> 2m/(2m+1), d* -> 1/(2m+1).

    Parameters
    ----------
    m : int
        Real points per generation (>= 1).
    k : int
        Synthetic points per generation (>= 0).
    var0 : float, default 1.0
        The truth's variance sigma0^2.

    Returns
    -------
    FixedPoint

    Notes
    -----
    docs/theory/real-data.md, section "Fresh data". The validate cases
    ``row9-*`` reach it at t = 60.

    Examples
    --------
    >>> from madsim import theory
    >>> fp = theory.fresh_fixed_point_mle(10, 10)
    >>> round(fp.var, 6), round(fp.mean_sq, 6)
    (0.935484, 0.064516)
    """
    m = check.integer("m", m, 1)
    k = check.integer("k", k, 0)
    var0 = check.real("var0", var0, 0.0, None, lo_open=True)
    N = m + k
    den = m * (N + k) + k
    return FixedPoint(var0 * m * (N + k - 1) / den, var0 * N / den)


def augment_fixed_point_mle(m, k, var0=1.0) -> FixedPoint:
    """Fixed point of the augmentation loop (one fixed real set) for MLE at temperature 1.

    Unconditional on the real set: ``v* = sigma0^2 (m-1)(N+k)/(m(N+k)+k)``
    and, by the invariant, ``E (mu - mu0)^2 -> sigma0^2 - v*`` (N = m + k).

    Parameters
    ----------
    m : int
        Size of the real set (>= 1).
    k : int
        Synthetic points per generation (>= 0).
    var0 : float, default 1.0
        The truth's variance sigma0^2.

    Returns
    -------
    FixedPoint

    Notes
    -----
    docs/theory/real-data.md, section "Synthetic augmentation" (the MAD
    synthetic augmentation loop, arXiv 2307.01850). The validate cases
    ``row11-*`` reach it at t = 60.

    Examples
    --------
    >>> from madsim import theory
    >>> fp = theory.augment_fixed_point_mle(10, 10)
    >>> round(fp.var, 6), round(fp.mean_sq, 6)  # 27/31, 4/31
    (0.870968, 0.129032)
    """
    m = check.integer("m", m, 1)
    k = check.integer("k", k, 0)
    var0 = check.real("var0", var0, 0.0, None, lo_open=True)
    N = m + k
    v = (m - 1) * (N + k) / (m * (N + k) + k)
    return FixedPoint(var0 * v, var0 * (1.0 - v))


def augment_conditional_fixed_point_mle(real_var_mle, m, k) -> float:
    """Fixed point of the augmentation loop conditional on the real set, MLE at temperature 1.

    ``v* = sigmahat^2_R m(N+k)/(m(N+k)+k)``, with sigmahat^2_R the MLE
    variance of the real set R and N = m + k: the model does not collapse,
    it settles around the real fit.

    Parameters
    ----------
    real_var_mle : float
        The MLE variance of the real set (>= 0).
    m : int
        Size of the real set (>= 1).
    k : int
        Synthetic points per generation (>= 0).

    Returns
    -------
    float

    Notes
    -----
    docs/theory/real-data.md, section "Synthetic augmentation".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.augment_conditional_fixed_point_mle(0.8, 10, 10), 6)
    0.774194
    """
    s = check.real("real_var_mle", real_var_mle, 0.0, None)
    m = check.integer("m", m, 1)
    k = check.integer("k", k, 0)
    N = m + k
    return s * m * (N + k) / (m * (N + k) + k)


def augment_mean_sq_from_conditional(d_t, t, m, k, var0=1.0):
    """Converts the augmentation loop's conditional mean error to the error about the truth.

    ``E (mu_t - mu0)^2 = d_t + (sigma0^2/m)(1 - 2 (k/N)^t)``, with
    ``d_t = E (mu_t - rbar)^2`` of the recursion conditional on the real set
    (started from ``d_0 = sigma0^2/m``).

    Parameters
    ----------
    d_t : float or array
        The conditional error E (mu_t - rbar)^2.
    t : int or array of int
        Generation(s).
    m : int
        Size of the real set (>= 1).
    k : int
        Synthetic points per generation (>= 0).
    var0 : float, default 1.0
        The truth's variance sigma0^2.

    Returns
    -------
    ndarray

    Notes
    -----
    docs/theory/real-data.md, section "Synthetic augmentation".

    Examples
    --------
    >>> from madsim import theory
    >>> round(float(theory.augment_mean_sq_from_conditional(0.05, 3, 10, 10)), 6)
    0.125
    """
    m = check.integer("m", m, 1)
    k = check.integer("k", k, 0)
    return np.asarray(d_t) + var0 / m * (1.0 - 2.0 * (k / (m + k)) ** np.asarray(t, dtype=float))


# ---------------------------------------------------------------- He-Xu-Cheng weighting


def _ratio(n_real, n_syn):
    n = check.integer("n_real", n_real, 1)
    m = check.integer("n_syn", n_syn, 1)
    return n, m, n / m


def hxc_stationary_mse(w, n_real, n_syn, var0=1.0) -> float:
    """Stationary mean error of the weighted fresh loop (He, Xu and Cheng's setting).

    ``V*(w) = (sigma0^2/n)(w^2 + c (1-w)^2)/(w (2-w))``, ``c = n/m``, for the
    fit w (real part) + (1 - w) (synthetic part) with unbiased pieces and
    tau = 1, n real and m synthetic points per generation. Infinite at w = 0.

    Parameters
    ----------
    w : float
        Weight of the real part, in [0, 1].
    n_real : int
        Real points per generation (>= 1).
    n_syn : int
        Synthetic points per generation (>= 1).
    var0 : float, default 1.0
        The truth's variance sigma0^2.

    Returns
    -------
    float

    Notes
    -----
    docs/theory/real-data.md, section "Weighting real against synthetic
    data"; He, Xu, Cheng, "Recursive learning without collapse: a
    weighting-based stabilization framework", JRSS-B (arXiv 2502.18049).
    The validate cases ``row15-*`` compare E (mu - mu0)^2 at t = 80, where
    it has settled at this value.

    Examples
    --------
    >>> from madsim import theory
    >>> round(10 * theory.hxc_stationary_mse(0.5, 10, 10), 6)  # pooled fit: 2/3
    0.666667
    """
    w = check.real("w", w, 0.0, 1.0)
    n, m, c = _ratio(n_real, n_syn)
    var0 = check.real("var0", var0, 0.0, None, lo_open=True)
    if w == 0.0:
        return math.inf
    return var0 / n * (w * w + c * (1 - w) ** 2) / (w * (2 - w))


def optimal_weight(n_real, n_syn=None) -> float:
    """Weight of the real part that minimises the stationary mean error of the weighted fresh loop.

    The root of ``w^2 + c w - c = 0``, ``c = n/m``:
    ``w* = (sqrt(c^2 + 4c) - c)/2``. Equal sizes: w* = 1/phi = 0.618034, the
    reciprocal of the golden ratio. Optimal for unbiased pieces and tau = 1
    (He, Xu and Cheng's setting); ``Config(weight="optimal")`` uses it.

    Parameters
    ----------
    n_real : int or madsim.Config
        Real points per generation (>= 1), or a Config with a ``Fresh`` loop
        of constant counts (then ``n_syn`` must be omitted; no synthetic
        points gives 1).
    n_syn : int, optional
        Synthetic points per generation (>= 1).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        When ``n_syn`` is missing (numbers) or given with a Config.
    ValueError
        For a Config whose loop is not Fresh with constant counts.

    Notes
    -----
    docs/theory/real-data.md, section "Weighting real against synthetic
    data"; He, Xu, Cheng, JRSS-B (arXiv 2502.18049). The validate cases
    ``row15-weighted-optimal-*`` run at this weight.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(theory.optimal_weight(10, 10), 6)
    0.618034
    >>> round(theory.optimal_weight(10, 40), 4)
    0.3904
    >>> round(theory.optimal_weight(ms.Config(loop=ms.Fresh(real=10, synthetic=10))), 6)
    0.618034
    """
    if isinstance(n_real, Config):
        if n_syn is not None:
            raise TypeError("optimal_weight(cfg) takes no n_syn")
        loop = n_real.loop
        if not (isinstance(loop, Fresh) and isinstance(loop.real, int) and isinstance(loop.synthetic, int)):
            raise ValueError("optimal_weight(cfg) needs Fresh with constant real and synthetic counts")
        if loop.synthetic == 0:
            return 1.0
        n_real, n_syn = loop.real, loop.synthetic
    if n_syn is None:
        raise TypeError("optimal_weight needs n_real and n_syn (or a Config)")
    _, _, c = _ratio(n_real, n_syn)
    return (math.sqrt(c * c + 4.0 * c) - c) / 2.0


def hxc_optimal_mse(n_real, n_syn, var0=1.0) -> float:
    """Stationary mean error of the weighted fresh loop at the optimal weight, V* = w* sigma0^2 / n.

    Parameters
    ----------
    n_real : int
        Real points per generation (>= 1).
    n_syn : int
        Synthetic points per generation (>= 1).
    var0 : float, default 1.0
        The truth's variance sigma0^2.

    Returns
    -------
    float

    Notes
    -----
    docs/theory/real-data.md, section "Weighting real against synthetic data".

    Examples
    --------
    >>> from madsim import theory
    >>> round(10 * theory.hxc_optimal_mse(10, 10), 6)
    0.618034
    """
    n, _, _ = _ratio(n_real, n_syn)
    return optimal_weight(n_real, n_syn) * check.real("var0", var0, 0.0, None, lo_open=True) / n
