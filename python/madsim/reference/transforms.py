"""Raw words -> numbers, in JAX float64.

Mirrors csrc/madsim/transforms.hpp. uniform52 and uniform32 are exact (integer
to double conversions and a multiplication by a power of two), so they agree
bit for bit with the C++; normal_pair and log_factorial call log / sqrt /
cos / sin, which XLA may evaluate differently from libm in the last bits.
"""

from __future__ import annotations

import jax.numpy as jnp

# Mirrors csrc/madsim/transforms.hpp::TWO_PI (the same decimal literal, so the same double)
TWO_PI = 6.283185307179586476925286766559
_TWO_M52 = 2.220446049250313080847263336181640625e-16  # 2^-52
_TWO_M32 = 2.3283064365386962890625e-10  # 2^-32
_HALF_LOG_TWO_PI = 0.91893853320467274178032973640562  # ln(2 pi) / 2

# Mirrors the table of csrc/madsim/transforms.hpp::log_factorial digit for digit
# (the same decimal literals, hence the same doubles, including the entries
# that are not the correctly rounded ln k!).
_LOG_FACTORIAL_TABLE = (
    0.0,
    0.0,
    0.693147180559945,
    1.7917594692280554,
    3.178053830347945,
    4.787491742782047,
    6.579251212010102,
    8.525161361065415,
    10.604602902745249,
    12.801827480081467,
    15.104412573075514,
    17.502307845873887,
    19.987214495661885,
    22.55216385312342,
    25.191221182738683,
    27.89927138384089,
    30.671860106080672,
    33.50507345013689,
    36.39544520803305,
    39.339884187199495,
)


def uniform52(lo, hi):
    """Uniform on (0, 1) open from words (lo, hi): ((hi:lo) >> 12) + 0.5) 2^-52.

    Mirrors csrc/madsim/transforms.hpp::uniform52.
    """
    k = (
        (jnp.asarray(hi, jnp.uint32).astype(jnp.uint64) << jnp.uint64(32))
        | jnp.asarray(lo, jnp.uint32).astype(jnp.uint64)
    ) >> jnp.uint64(12)
    return (k.astype(jnp.float64) + 0.5) * _TWO_M52


def uniform32(w):
    """Uniform on (0, 1) open from one word: (w + 0.5) 2^-32.

    Mirrors csrc/madsim/transforms.hpp::uniform32.
    """
    return (jnp.asarray(w, jnp.uint32).astype(jnp.float64) + 0.5) * _TWO_M32


def normal_pair(u_radius, u_angle):
    """Box-Muller: (r cos a, r sin a), r = sqrt(-2 ln u_radius), a = 2 pi u_angle.

    Mirrors csrc/madsim/transforms.hpp::normal_pair (returns the pair instead
    of writing through references).
    """
    r = jnp.sqrt(-2.0 * jnp.log(u_radius))
    a = TWO_PI * u_angle
    return r * jnp.cos(a), r * jnp.sin(a)


def log_factorial(k):
    """ln k! for integer-valued float64 k >= 0: the table below 20, Stirling beyond.

    Mirrors csrc/madsim/transforms.hpp::log_factorial, operation for operation:
    ln Gamma(x) = (x - 1/2) ln x - x + ln(2 pi)/2 + 1/(12x) - 1/(360x^3)
    + 1/(1260x^5) - 1/(1680x^7), x = k + 1.
    """
    k = jnp.asarray(k, jnp.float64)
    table = jnp.asarray(_LOG_FACTORIAL_TABLE, jnp.float64)
    small = table[jnp.clip(k, 0.0, 19.0).astype(jnp.int32)]
    x = k + 1.0
    x2 = x * x
    series = (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0) / x2) / x2) / x2) / x
    big = (x - 0.5) * jnp.log(x) - x + _HALF_LOG_TWO_PI + series
    return jnp.where(k < 20.0, small, big)


def _two_prod(x, y):
    """(p, e) with p + e = x y exactly (Dekker: Veltkamp splits, no FMA)."""

    def split(v):
        c = 134217729.0 * v  # 2^27 + 1
        hi = c - (c - v)
        return hi, v - hi

    p = x * y
    xh, xl = split(x)
    yh, yl = split(y)
    return p, ((xh * yh - p) + xh * yl + xl * yh) + xl * yl


def div(a, b):
    """a / b correctly rounded, as the C++ divides. XLA's vectorised CPU
    division is only faithful (1 ulp off for about a third of quotients), and
    a quotient that decides something discrete (an alias table's small/large
    split, a sampling law's threshold) must match the C++ bit for bit: one
    correction by the exact residual a - q b (Sterbenz: a - q_hi exact) gives
    the correctly rounded quotient (an exact quotient is never a midpoint).
    Non-finite or zero quotients are returned as they are."""
    a = jnp.asarray(a, jnp.float64)
    q = a / b
    p, e = _two_prod(q, b)
    fixed = q + ((a - p) - e) / b
    return jnp.where(jnp.isfinite(fixed) & (q != 0.0), fixed, q)
