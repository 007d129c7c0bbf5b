"""Token-distribution metrics in JAX. Mirrors csrc/madsim/token_metrics.hpp
(the TokenMetric order and every definition); sums are XLA reductions, so
values agree with the C++ to rounding (tests/test_reference_categorical.py)."""

from __future__ import annotations

import jax.numpy as jnp

(
    C_ENTROPY,
    C_SUPPORT,
    C_GINI_SIMPSON,
    C_RARE_MASS,
    C_MAX_PROB,
    C_TV,
    C_KL_MODEL_TRUTH,
    C_KL_TRUTH_MODEL,
    C_ZIPF_EXPONENT,
    N_TOKEN_METRICS,
) = range(10)


def zipf_exponent(p):
    """Minus the least-squares slope of ln p_(r) on ln r over the support;
    +inf with fewer than two tokens. Mirrors token_metrics.hpp::zipf_exponent."""
    K = p.shape[-1]
    S = jnp.sum(p > 0.0)
    s = -jnp.sort(-p)  # descending: the support first
    r = jnp.arange(K)
    on = r < S
    x = jnp.log((r + 1).astype(jnp.float64))
    y = jnp.log(jnp.where(on, s, 1.0))
    n = jnp.maximum(S, 1).astype(jnp.float64)
    mx = jnp.sum(jnp.where(on, x, 0.0)) / n
    my = jnp.sum(jnp.where(on, y, 0.0)) / n
    dx = jnp.where(on, x - mx, 0.0)
    sxy = jnp.sum(dx * jnp.where(on, y - my, 0.0))
    sxx = jnp.sum(dx * dx)
    return jnp.where(S < 2, jnp.inf, 0.0 - sxy / jnp.where(S < 2, 1.0, sxx))


def token_metrics(p, p0, rare):
    """Every TokenMetric of p [K] against p0 [K] -> [N_TOKEN_METRICS]."""
    pos, pos0 = p > 0.0, p0 > 0.0
    safe = jnp.where(pos, p, 1.0)
    safe0 = jnp.where(pos0, p0, 1.0)
    entropy = -jnp.sum(jnp.where(pos, p * jnp.log(safe), 0.0))
    support = jnp.sum(pos).astype(jnp.float64)
    gini = 1.0 - jnp.sum(p * p)
    rare_mass = jnp.sum(jnp.where(rare != 0.0, p, 0.0))
    max_prob = jnp.maximum(jnp.max(p), 0.0)
    tv = 0.5 * jnp.sum(jnp.abs(p - p0))
    kl_mt = jnp.where(
        jnp.any(pos & ~pos0), jnp.inf, jnp.sum(jnp.where(pos & pos0, p * jnp.log(safe / safe0), 0.0))
    )
    kl_tm = jnp.where(
        jnp.any(pos0 & ~pos), jnp.inf, jnp.sum(jnp.where(pos & pos0, p0 * jnp.log(safe0 / safe), 0.0))
    )
    return jnp.stack([entropy, support, gini, rare_mass, max_prob, tv, kl_mt, kl_tm, zipf_exponent(p)])
