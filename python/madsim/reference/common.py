"""Helpers the families' twins share: buffer sizes, the normal sequence,
Floyd's subset, the filter's survivors, the Wishart factor, sequential sums,
draws without replacement from counted classes, a token draw from a
cumulative law, and the singular-fit rule. Each mirrors the C++ function its
docstring names; a family's module imports them from here, never from
another family's module.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from .philox import TAG_FILTER, Stream, block, make_stream
from .samplers import binomial, chisquare, normals_of_block
from .transforms import uniform52

PIVOT_RTOL = (
    1e-10  # Regression::PIVOT_RTOL (and Logistic's): a pivot^2 at rounding level of its diagonal is singular
)


def bucket(k: int) -> int:
    """Smallest power of two >= max(k, 8): buffers come in few sizes (few compiles)."""
    return max(8, 1 << max(0, int(k) - 1).bit_length())


def normals(st: Stream, start, count: int):
    """Normals start .. start + count - 1 of stream st, in order: normal i is the
    cosine (i even) or sine (i odd) of Box-Muller on block i >> 1.

    Mirrors csrc/madsim/models/gaussian_loop.hpp::NormalSeq (all at once).
    """
    start = jnp.asarray(start, jnp.int64)
    nb = count // 2 + 1
    w = block(st, (start >> 1).astype(jnp.uint32) + jnp.arange(nb, dtype=jnp.uint32))
    a, b = normals_of_block(w)
    seq = jnp.stack([a, b], axis=-1).reshape(2 * nb)
    return lax.dynamic_slice(seq, ((start & 1).astype(jnp.int32),), (count,))


def floyd_subset(st: Stream, size, n, nsub: int):
    """[nsub] picks of Floyd's uniform n-subset of 0..size-1 (n <= nsub), -1
    past n: pick c (j = size - n + c) takes r = floor(u_c (j + 1)), u_c from
    block c of ``st``, or j when r is already taken. All of the uniforms at
    once, then the sequential lookups. Mirrors csrc/madsim/subset.hpp::floyd_subset."""
    b = block(st, jnp.arange(nsub, dtype=jnp.uint32))
    u = uniform52(b[..., 0], b[..., 1])

    def pick_one(c, pick):
        jj = (size - n + c).astype(jnp.float64)
        r = jnp.minimum(jnp.floor(u[c] * (jj + 1.0)), jj)
        taken = jnp.any((pick == r) & (jnp.arange(nsub) < c))
        return pick.at[c].set(jnp.where(c < n, jnp.where(taken, jj, r), -1.0))

    return lax.fori_loop(0, nsub, pick_one, jnp.full(nsub, -1.0))


def survivors(c, drop, key, replica, gen, site):
    """Points that survive the filter: Binomial(c, 1 - drop) from stream
    (TAG_FILTER, site); c itself when drop <= 0 or c <= 0. Broadcasts.

    Mirrors csrc/madsim/models/gaussian_loop.hpp::GaussianLoop::survivors
    and csrc/madsim/models/categorical.hpp::Categorical::survivors.
    """
    c = jnp.asarray(c, jnp.float64)
    drop = jnp.asarray(drop, jnp.float64)
    kept, _ = binomial(c, 1.0 - drop, make_stream(key, replica, gen, TAG_FILTER, site))
    return jnp.where((drop <= 0.0) | (c <= 0.0), c, kept)


def wishart_factor(d: int, nu, key, replica, gen, tag):
    """F [d, d] with F F' ~ Wishart_d(nu, I) (nu an integer, traced): Bartlett's
    lower factor when nu >= d (F_ii^2 ~ chi2(nu - i) from site 2 + i, the
    normals below the diagonal from site 1 row by row), else the d x nu
    normals of site 1 row by row in columns j < nu (zero beyond; none when
    nu <= 0).

    Mirrors csrc/madsim/models/gaussian_loop.hpp::wishart_factor.
    """
    nu = jnp.asarray(nu, jnp.float64)
    bartlett = nu >= d
    n_off = max(1, d * (d - 1))  # Bartlett needs d(d-1)/2, the singular factor d nu < d^2 - d
    off = normals(make_stream(key, replica, gen, tag, 1), 0, n_off)
    i = np.arange(d)[:, None]
    j = np.arange(d)[None, :]
    chi, _, _ = chisquare(
        jnp.where(bartlett, nu - jnp.arange(d), 1.0),
        make_stream(key, replica, gen, tag, 2 + jnp.arange(d, dtype=jnp.uint32)),
    )
    lower = jnp.where(j < i, off[np.minimum(i * (i - 1) // 2 + j, n_off - 1)], 0.0)
    F_bartlett = lower + jnp.diag(jnp.sqrt(chi))
    q = jnp.clip(nu, 0.0, float(d)).astype(jnp.int64)
    F_singular = jnp.where(j < q, off[jnp.clip(i * q + j, 0, n_off - 1)], 0.0)
    return jnp.where(bartlett, F_bartlett, F_singular)


def seq_cumsum(x, reverse=False):
    """Cumulative sums in sequential order (the C++ loop's rounding)."""

    def body(acc, v):
        acc = acc + v
        return acc, acc

    _, out = lax.scan(body, jnp.float64(0.0), x, reverse=reverse)
    return out


def draw_subset(pool, n: int, st):
    """n picks without replacement from a pool of counted classes -> the
    picked counts (all of the pool when it holds at most n). Mirrors
    csrc/madsim/subset.hpp::draw_subset (its Fenwick search finds the first
    class whose running count exceeds the pick, as searchsorted does here;
    integer sums are exact in any order)."""
    size = jnp.sum(pool)

    def pick(j, carry):
        left, out = carry
        b = block(st, jnp.uint32(j))
        r = jnp.floor(uniform52(b[0], b[1]) * (size - j))
        r = jnp.minimum(r, size - j - 1.0)
        pos = jnp.searchsorted(jnp.cumsum(left), r, side="right")
        return left.at[pos].add(-1.0), out.at[pos].add(1.0)

    _, out = lax.fori_loop(0, n, pick, (pool, jnp.zeros_like(pool)))
    return jnp.where(size <= n, pool, out)


def next_token(cdf, u):
    """The token drawn by u in a row with cumulative law cdf [K]. Mirrors
    Bigram::next_token."""
    K = cdf.shape[0]
    x = u * cdf[K - 1]
    lo = jnp.searchsorted(cdf, x, side="right")
    rises = jnp.concatenate([jnp.ones(1, bool), cdf[1:] > cdf[:-1]])
    last = K - 1 - jnp.argmax(rises[::-1])
    return jnp.where(lo < K, lo, last)
