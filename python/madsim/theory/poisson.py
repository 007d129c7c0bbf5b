"""Poisson counts refit by the sample mean (docs/theory/poisson.md).

Setting: the truth Poisson(lambda_0); generation t fits lambda_t = S_t / N_t,
the mean of the N_t points it trains on: k_t synthetic points of
Poisson(lambda_{t-1}) and the loop's real points of Poisson(lambda_0). The
sum of c iid Poisson(lambda) points is Poisson(c lambda), so the exact and
samples paths have the same law and these formulas hold for both.

  mean       E lambda_t = lambda_0 under every loop (Replace, Accumulate:
             lambda_t is a martingale)
  variance   V_t = Var lambda_t by the loop's recursion (V_0 = 0):
               Replace     V_t = V_{t-1} + lambda_0 / n_t   (= t lambda_0 / n)
               Fresh       V_t = (k_t / N_t)^2 V_{t-1} + lambda_0 / N_t, N_t = m_t + k_t
               Augment     V_t = (r^2 Var A + k_t^2 V_{t-1} + 2 r k_t C_{t-1}
                                  + k_t lambda_0) / N_t^2,
                           C_t = (r Var A + k_t C_{t-1}) / N_t,  N_t = r + k_t,
                           A the fixed set's mean (Var A = lambda_0 / r), C_t = Cov(A, lambda_t)
               Accumulate  V_t = ((P_{t-1} + k_t)^2 V_{t-1} + (k_t + m_t) lambda_0) / P_t^2,
                           P_t = P_{t-1} + m_t + k_t the pool  (no real data:
                           V_t = lambda_0 sum_{s<=t} k_s / P_s^2 -> lambda_0 pi^2 / (6 k))
             (a generation with no point keeps the model: V_t = V_{t-1})
  collapse   Replace: n_t lambda_t = S_t is a branching process, S_t | S_{t-1} ~
             Poisson(r_t S_{t-1}), r_t = n_t / n_{t-1}; its generating function gives
             P(lambda_t = 0) = phi_1(phi_2(... phi_t(0))), phi_1(s) = exp(n_1 lambda_0 (s - 1)),
             phi_j(s) = exp(r_j (s - 1)) (for constant n: a critical Galton-Watson
             process with Poisson(1) offspring, 1 - P(lambda_t = 0) ~ 2 n lambda_0 / t
             for large t, Kolmogorov's estimate).
"""

from __future__ import annotations

import numpy as np

from ..config import Accumulate, AccumulateSubsample, Augment, Config, Fresh, Replace


def _gens(t):
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.integer) or np.any(t < 0):
        raise ValueError(f"t must be integer generations >= 0; got {t!r}")
    return t.astype(np.int64)


def _poisson_cfg(cfg) -> Config:
    if not isinstance(cfg, Config) or type(cfg.family).__name__ != "Poisson":
        raise TypeError(f"cfg must be a madsim.Config of the Poisson family; got {cfg!r}")
    return cfg


def _per_generation(cfg: Config, t, step) -> np.ndarray:
    """step(state, real, synthetic) -> (state, value) run over generations 1..max(t)."""
    t = _gens(t)
    T = int(t.max(initial=0))
    real, syn = cfg.loop.counts(T)
    values = [0.0]
    state = None
    for g in range(T):
        state, v = step(state, float(real[g]), float(syn[g]))
        values.append(v)
    return np.asarray(values)[t]


def poisson_rate_mean(cfg: Config, t):
    """E lambda_t = lambda_0, every loop (docs/theory/poisson.md, section
    "The mean").

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Poisson(rate=2.0), loop=ms.Accumulate(synthetic=10))
    >>> float(ms.theory.poisson_rate_mean(cfg, 30))
    2.0
    """
    _poisson_cfg(cfg)
    return np.full(np.shape(_gens(t)), float(cfg.family.rate))[()]


def poisson_rate_variance(cfg: Config, t):
    """Var lambda_t by the loop's recursion (docs/theory/poisson.md, section
    "The variance"); AccumulateSubsample has none here (NotImplementedError).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Poisson(rate=2.0), loop=ms.Replace(n=50))
    >>> round(float(ms.theory.poisson_rate_variance(cfg, 10)), 12)     # t lambda_0 / n
    0.4
    >>> acc = ms.Config(family=ms.Poisson(rate=2.0), loop=ms.Accumulate(synthetic=50))
    >>> round(float(ms.theory.poisson_rate_variance(acc, 1000)), 5)   # -> lambda_0 pi^2 / (6 n)
    0.06576
    """
    cfg = _poisson_cfg(cfg)
    lam, loop = float(cfg.family.rate), cfg.loop
    if isinstance(loop, AccumulateSubsample):
        raise NotImplementedError("poisson_rate_variance: no closed form for AccumulateSubsample")

    if isinstance(loop, Replace):

        def step(v, m, k):
            v = v or 0.0
            return (v + lam / k, v + lam / k) if k > 0 else (v, v)
    elif isinstance(loop, Fresh):

        def step(v, m, k):
            v, n = v or 0.0, m + k
            new = (k / n) ** 2 * v + lam / n if n > 0 else v
            return new, new
    elif isinstance(loop, Augment):
        r = float(loop.real)
        var_a = lam / r if r > 0 else 0.0

        def step(s, m, k):
            v, c = s or (0.0, 0.0)
            n = r + k
            if n <= 0:
                return (v, c), v
            new_v = (r * r * var_a + k * k * v + 2.0 * r * k * c + k * lam) / (n * n)
            return (new_v, (r * var_a + k * c) / n), new_v
    elif isinstance(loop, Accumulate):

        def step(s, m, k):
            v, pool = s or (0.0, 0.0)
            new_pool = pool + m + k
            if new_pool <= 0:
                return (v, pool), v
            new_v = ((pool + k) ** 2 * v + (k + m) * lam) / new_pool**2
            return (new_v, new_pool), new_v
    else:  # pragma: no cover - Config admits only the loops above
        raise NotImplementedError(f"poisson_rate_variance: {type(loop).__name__}")
    return _per_generation(cfg, t, step)[()]


def poisson_collapse_probability(cfg: Config, t):
    """P(lambda_t = 0) under Replace (any schedule n_t), by composing the
    generating functions (docs/theory/poisson.md, section "Collapse to 0");
    other loops have real data that keep 0 from absorbing
    (NotImplementedError).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Poisson(rate=0.1), loop=ms.Replace(n=10))
    >>> round(float(ms.theory.poisson_collapse_probability(cfg, 1)), 6)   # exp(-n lambda_0)
    0.367879
    >>> round(float(ms.theory.poisson_collapse_probability(cfg, 100)), 4)
    0.9806
    """
    cfg = _poisson_cfg(cfg)
    if not isinstance(cfg.loop, Replace):
        raise NotImplementedError(
            f"poisson_collapse_probability: Replace only (under {type(cfg.loop).__name__} the "
            "real points make 0 non-absorbing)"
        )
    lam = float(cfg.family.rate)
    t = _gens(t)
    T = int(t.max(initial=0))
    n = cfg.loop.counts(T)[1].astype(np.float64)
    out = []
    for tt in t.ravel().tolist():
        if tt == 0:
            out.append(float(lam == 0.0))
            continue
        s = 0.0
        for j in range(tt - 1, 0, -1):  # phi_{j+1}, ..., phi_2 (generation j + 1 of 1-based)
            s = float(np.exp(n[j] / n[j - 1] * (s - 1.0)))
        out.append(float(np.exp(n[0] * lam * (s - 1.0))))
    return np.asarray(out).reshape(t.shape)[()]


__all__ = ["poisson_collapse_probability", "poisson_rate_mean", "poisson_rate_variance"]
