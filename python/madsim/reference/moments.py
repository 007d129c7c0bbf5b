"""d-dimensional sufficient statistics, in JAX float64.

Mirrors the d-dimensional half of csrc/madsim/moments.hpp: one flat vector
[count | mean[d] | scatter packed (linalg.tri)], pooled exactly
(Chan, Golub, LeVeque 1979). The 1-D ``Moments1`` lives in gaussian.py.
"""

from __future__ import annotations

import jax.numpy as jnp


def moments_size(d: int) -> int:
    """1 + d + d(d+1)/2. Mirrors moments.hpp::moments_size."""
    return 1 + d + d * (d + 1) // 2


def moments_clear(d: int):
    """Empty moments (count 0). Mirrors moments.hpp::moments_clear (returns the vector)."""
    return jnp.zeros(moments_size(d), jnp.float64)


def moments_pool(a, b, d: int):
    """pool(a, b): b empty -> a; a empty -> b; else counts add, means combine
    by b's share, scatters add plus delta delta' na nb / n.

    Mirrors moments.hpp::moments_pool (returns the pooled vector): the scatter
    uses the old means, each entry as a + (b + (delta_i delta_j) w).
    """
    a = jnp.asarray(a, jnp.float64)
    b = jnp.asarray(b, jnp.float64)
    na, nb = a[0], b[0]
    n = na + nb
    safe_n = jnp.where(n == 0.0, 1.0, n)
    w = na * nb / safe_n
    am, bm = a[1 : 1 + d], b[1 : 1 + d]
    delta = bm - am
    rows, cols = jnp.tril_indices(d)
    scatter = a[1 + d :] + (b[1 + d :] + delta[rows] * delta[cols] * w)
    mean = am + delta * (nb / safe_n)
    pooled = jnp.concatenate([n[None], mean, scatter])
    return jnp.where(nb == 0.0, a, jnp.where(na == 0.0, b, pooled))
