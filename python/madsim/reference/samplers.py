"""Samplers built on the transforms, in JAX.

Mirrors csrc/madsim/samplers.hpp. Each rejection sampler takes try i from
block i of its own stream, exactly as the C++ does, so the number of tries is
a pure function of the stream and agrees exactly between the twins. Loops are
``lax.while_loop``s; under vmap they run until every lane has accepted (a
lane that accepted keeps its result). The rejection samplers are jitted on
their own: a model calling them at several sites (and every model compiled
in one process) traces each once per argument shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .philox import BLOCK_MAX, Stream, block
from .transforms import log_factorial, normal_pair, uniform32, uniform52


def normals_of_block(w):
    """Two standard normals from one block w [..., 4]: Box-Muller with radius
    uniform52(w0, w1) and angle uniform52(w2, w3); normal 2b is the cosine,
    2b+1 the sine. Mirrors csrc/madsim/samplers.hpp::normals_of_block.
    """
    return normal_pair(uniform52(w[..., 0], w[..., 1]), uniform52(w[..., 2], w[..., 3]))


@jax.jit
def gamma_mt(alpha, s: Stream):
    """Gamma(alpha, 1) by Marsaglia & Tsang -> (value, spare_normal, tries).

    Try i uses block i: normal = Box-Muller cosine of uniform52(w0, w1) and
    uniform32(w2); acceptance uniform uniform32(w3). spare_normal is the sine
    of try 0. alpha < 1 runs Gamma(alpha + 1) and multiplies by U^(1/alpha),
    U = uniform52 of words (0, 1) of block BLOCK_MAX. tries is uint32.
    Mirrors csrc/madsim/samplers.hpp::gamma_mt.
    """
    alpha = jnp.asarray(alpha, jnp.float64)
    boosted = jnp.where(alpha < 1.0, alpha + 1.0, alpha)
    d = boosted - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)

    def one_try(i):
        w = block(s, i)
        x, spare = normal_pair(uniform52(w[..., 0], w[..., 1]), uniform32(w[..., 2]))
        v = 1.0 + c * x
        positive = v > 0.0
        v = v * v * v
        u = uniform32(w[..., 3])
        x2 = x * x
        squeeze = u < 1.0 - 0.0331 * x2 * x2
        safe_v = jnp.where(positive, v, 1.0)  # log(v) only matters where v > 0
        exact = jnp.log(u) < 0.5 * x2 + d * (1.0 - safe_v + jnp.log(safe_v))
        return positive & (squeeze | exact), d * v, spare

    # Try 0 is peeled off: it also yields the spare normal.
    acc0, val0, spare = one_try(jnp.uint32(0))
    shape = jnp.shape(acc0)

    def cond(carry):
        i, done, _, _ = carry
        return jnp.logical_not(jnp.all(done))

    def body(carry):
        i, done, result, tries = carry
        acc, val, _ = one_try(i)
        take = acc & jnp.logical_not(done)
        return (
            i + jnp.uint32(1),
            done | acc,
            jnp.where(take, val, result),
            jnp.where(take, i + jnp.uint32(1), tries),
        )

    init = (
        jnp.uint32(1),
        acc0,
        jnp.where(acc0, val0, 0.0),
        jnp.where(acc0, jnp.uint32(1), jnp.zeros(shape, jnp.uint32)),
    )
    _, _, result, tries = lax.while_loop(cond, body, init)

    w = block(s, jnp.uint32(BLOCK_MAX))
    boost = jnp.exp(jnp.log(uniform52(w[..., 0], w[..., 1])) / alpha)
    result = jnp.where(alpha < 1.0, result * boost, result)
    return result, spare, tries


def gamma_spare_normal(s: Stream):
    """The spare normal gamma_mt hands out for s (the sine of try 0), without
    the variate. Mirrors csrc/madsim/samplers.hpp::gamma_spare_normal.
    """
    w = block(s, jnp.uint32(0))
    return normal_pair(uniform52(w[..., 0], w[..., 1]), uniform32(w[..., 2]))[1]


def chisquare(k, s: Stream):
    """Chi-square with k > 0 degrees of freedom = 2 Gamma(k / 2) -> (value, spare_normal, tries).

    Mirrors csrc/madsim/samplers.hpp::chisquare.
    """
    g, spare, tries = gamma_mt(0.5 * jnp.asarray(k, jnp.float64), s)
    return 2.0 * g, spare, tries


@jax.jit
def binomial(n, p, s: Stream):
    """Binomial(n, p) -> (value, tries), value float64, tries uint32.

    With m = min(p, 1 - p) (the result mirrored when p > 1/2): n m < 10 ->
    inversion by sequential search on uniform52 of words (0, 1) of block 0
    (tries = 1); otherwise BTRS (Hormann 1993), try i on block i. n <= 0,
    p <= 0 give (0, 0); p >= 1 gives (n, 0).
    Mirrors csrc/madsim/samplers.hpp::binomial.
    """
    n = jnp.asarray(n, jnp.float64)
    p = jnp.asarray(p, jnp.float64)
    n, p = jnp.broadcast_arrays(n, p)
    shape = jnp.broadcast_shapes(
        n.shape, jnp.shape(s.replica), jnp.shape(s.generation), jnp.shape(s.stream), jnp.shape(s.key)[:-1]
    )
    n = jnp.broadcast_to(n, shape)
    p = jnp.broadcast_to(p, shape)
    # p <= 0 decided on the bits: XLA on CPU treats subnormal inputs as zero
    # (denormals-are-zero), the C++ does not, and a subnormal p > 0 must take
    # the inversion branch (tries = 1) as it does there.
    p_nonpos = lax.bitcast_convert_type(p, jnp.int64) <= 0
    trivial = (n <= 0.0) | p_nonpos | (p >= 1.0)
    flip = p > 0.5
    pp = jnp.where(flip, 1.0 - p, p)
    q = 1.0 - pp
    inversion = jnp.logical_not(trivial) & (n * pp < 10.0)
    btrs = jnp.logical_not(trivial) & jnp.logical_not(n * pp < 10.0)

    # --- inversion (sequential search), one block
    w = block(s, jnp.uint32(0))
    u0 = uniform52(w[..., 0], w[..., 1])
    ratio = pp / q
    prob0 = jnp.exp(n * jnp.log1p(-pp))  # P(K = 0)

    def inv_go(u, prob, k):
        return inversion & (u > prob) & (k < n) & (prob >= 1e-300)

    def inv_cond(carry):
        u, prob, k = carry
        return jnp.any(inv_go(u, prob, k))

    def inv_body(carry):
        u, prob, k = carry
        go = inv_go(u, prob, k)
        u2 = u - prob
        k2 = k + 1.0
        prob2 = prob * (ratio * (n - k2 + 1.0) / k2)
        return jnp.where(go, u2, u), jnp.where(go, prob2, prob), jnp.where(go, k2, k)

    _, _, k_inv = lax.while_loop(inv_cond, inv_body, (u0, prob0, jnp.zeros(shape, jnp.float64)))

    # --- BTRS, try i on block i (constants computed on safe inputs off-branch)
    npq = jnp.where(btrs, n, 100.0)
    ppb = jnp.where(btrs, pp, 0.5)
    qb = 1.0 - ppb
    spq = jnp.sqrt(npq * ppb * qb)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * ppb
    c = npq * ppb + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = jnp.log(ppb / qb)
    m = jnp.floor((npq + 1.0) * ppb)
    h = log_factorial(m) + log_factorial(npq - m)

    def btrs_try(i):
        w = block(s, i)
        u = uniform52(w[..., 0], w[..., 1]) - 0.5
        v = uniform52(w[..., 2], w[..., 3])
        us = 0.5 - jnp.abs(u)
        kk = jnp.floor((2.0 * a / us + b) * u + c)
        inside = (kk >= 0.0) & (kk <= npq)
        quick = (us >= 0.07) & (v <= v_r)
        kc = jnp.clip(kk, 0.0, npq)
        lv = jnp.log(v * alpha / (a / (us * us) + b))
        exact = lv <= h - log_factorial(kc) - log_factorial(npq - kc) + (kc - m) * lpq
        return inside & (quick | exact), kk

    def btrs_cond(carry):
        _, done, _, _ = carry
        return jnp.any(jnp.logical_not(done))

    def btrs_body(carry):
        i, done, k, tries = carry
        acc, kk = btrs_try(i)
        take = acc & jnp.logical_not(done)
        return (
            i + jnp.uint32(1),
            done | acc,
            jnp.where(take, kk, k),
            jnp.where(take, i + jnp.uint32(1), tries),
        )

    init = (jnp.uint32(0), jnp.logical_not(btrs), jnp.zeros(shape, jnp.float64), jnp.zeros(shape, jnp.uint32))
    _, _, k_btrs, tries_btrs = lax.while_loop(btrs_cond, btrs_body, init)

    k = jnp.where(inversion, k_inv, k_btrs)
    value = jnp.where(flip, n - k, k)
    value = jnp.where(trivial, jnp.where(p >= 1.0, n, 0.0), value)
    value = jnp.where((n <= 0.0) | p_nonpos, 0.0, value)
    tries = jnp.where(inversion, jnp.uint32(1), tries_btrs)
    tries = jnp.where(trivial, jnp.uint32(0), tries)
    return value, tries


@jax.jit
def poisson(mean, s: Stream):
    """Poisson(mean) -> (value, tries), value float64, tries uint32.

    mean < 10: inversion by sequential search on uniform52 of words (0, 1) of
    block 0 (tries = 1); otherwise PTRS (Hormann 1993), try i on block i:
    u = uniform52(w0, w1) - 1/2, v = uniform52(w2, w3). mean <= 0 gives
    (0, 0). Mirrors csrc/madsim/samplers.hpp::poisson.
    """
    mean = jnp.asarray(mean, jnp.float64)
    shape = jnp.broadcast_shapes(
        mean.shape, jnp.shape(s.replica), jnp.shape(s.generation), jnp.shape(s.stream), jnp.shape(s.key)[:-1]
    )
    mean = jnp.broadcast_to(mean, shape)
    # mean <= 0 decided on the bits (XLA on CPU treats subnormals as zero; the C++ does not)
    trivial = lax.bitcast_convert_type(mean, jnp.int64) <= 0
    inversion = jnp.logical_not(trivial) & (mean < 10.0)
    ptrs = jnp.logical_not(trivial) & jnp.logical_not(mean < 10.0)

    # --- inversion (sequential search), one block
    w = block(s, jnp.uint32(0))
    u0 = uniform52(w[..., 0], w[..., 1])
    prob0 = jnp.exp(-jnp.where(inversion, mean, 0.0))  # P(K = 0)

    def inv_go(u, prob):
        return inversion & (u > prob) & (prob >= 1e-300)

    def inv_cond(carry):
        u, prob, _ = carry
        return jnp.any(inv_go(u, prob))

    def inv_body(carry):
        u, prob, k = carry
        go = inv_go(u, prob)
        k2 = k + 1.0
        return (jnp.where(go, u - prob, u), jnp.where(go, prob * (mean / k2), prob), jnp.where(go, k2, k))

    _, _, k_inv = lax.while_loop(inv_cond, inv_body, (u0, prob0, jnp.zeros(shape, jnp.float64)))

    # --- PTRS, try i on block i (constants computed on safe inputs off-branch)
    lam = jnp.where(ptrs, mean, 100.0)
    slam = jnp.sqrt(lam)
    loglam = jnp.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2.0)

    def ptrs_try(i):
        w = block(s, i)
        u = uniform52(w[..., 0], w[..., 1]) - 0.5
        v = uniform52(w[..., 2], w[..., 3])
        us = 0.5 - jnp.abs(u)
        kk = jnp.floor((2.0 * a / us + b) * u + lam + 0.43)
        quick = (us >= 0.07) & (v <= v_r)
        rejected = (kk < 0.0) | ((us < 0.013) & (v > us))
        kc = jnp.maximum(kk, 0.0)
        exact = jnp.log(v * inv_alpha / (a / (us * us) + b)) <= -lam + kc * loglam - log_factorial(kc)
        return quick | (jnp.logical_not(rejected) & exact), kk

    def ptrs_cond(carry):
        _, done, _, _ = carry
        return jnp.any(jnp.logical_not(done))

    def ptrs_body(carry):
        i, done, k, tries = carry
        acc, kk = ptrs_try(i)
        take = acc & jnp.logical_not(done)
        return (
            i + jnp.uint32(1),
            done | acc,
            jnp.where(take, kk, k),
            jnp.where(take, i + jnp.uint32(1), tries),
        )

    init = (jnp.uint32(0), jnp.logical_not(ptrs), jnp.zeros(shape, jnp.float64), jnp.zeros(shape, jnp.uint32))
    _, _, k_ptrs, tries_ptrs = lax.while_loop(ptrs_cond, ptrs_body, init)

    value = jnp.where(inversion, k_inv, k_ptrs)
    value = jnp.where(trivial, 0.0, value)
    tries = jnp.where(inversion, jnp.uint32(1), tries_ptrs)
    tries = jnp.where(trivial, jnp.uint32(0), tries)
    return value, tries
