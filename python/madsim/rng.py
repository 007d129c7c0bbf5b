"""The random stream, exposed layer by layer so every number can be re-derived.

Layers (csrc/madsim/philox.hpp, stream.hpp, transforms.hpp, samplers.hpp):

1. ``philox4x32_10(ctr, key)``: the raw block function, [N, 4] uint32 words.
2. ``blocks(seed, replica, generation, tag, site, begin, count)``: the blocks
   of one stream under the counter layout (docs/dev/rng.md):
   key = (seed mod 2^32, seed >> 32); ctr = (block, generation,
   tag | site << 8, replica).
3. Transforms of words: ``uniform52(lo, hi)`` in (0, 1) open, 52 bits;
   ``uniform32(w)`` in (0, 1) open, 32 bits; ``normal_pair(u_radius,
   u_angle)`` (Box-Muller).
4. Samplers: ``normals`` (two per block), ``gamma`` (Marsaglia-Tsang, try i
   on block i), ``binomial`` (inversion below mean 10, BTRS above).

Examples
--------
>>> from madsim import rng
>>> rng.blocks(seed=1, replica=0, generation=1, tag="samples", count=2).shape   # two 4-word blocks
(2, 4)
>>> u = rng.uniform52(*rng.blocks(seed=1, count=3)[:, :2].T)   # words 0-1 of each block
>>> bool(((0 < u) & (u < 1)).all())
True
>>> rng.normals(seed=1, count=4).shape
(4,)
"""

from __future__ import annotations

import numpy as np

from . import checks as check
from ._backend import RNG_LAYOUT_VERSION, core

TAGS = {
    "samples": int(core.TAG_SAMPLES),
    "scatter": int(core.TAG_SCATTER),
    "real": int(core.TAG_REAL),
    "filter": int(core.TAG_FILTER),
    "test": int(core.TAG_TEST),
}
LAYOUT_VERSION = RNG_LAYOUT_VERSION


def _u32(name, x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "ui":
        raise TypeError(f"{name} must hold integers; got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > 0xFFFFFFFF):
        raise ValueError(f"{name} must hold values in [0, 2**32); got range [{a.min()}, {a.max()}]")
    return np.ascontiguousarray(a, dtype=np.uint32)


def _tag(tag) -> int:
    if isinstance(tag, str):
        return TAGS[check.choice("tag", tag, TAGS)]
    return check.integer("tag", tag, 0, 255)


def seed_key(seed: int) -> np.ndarray:
    """The Philox key of a seed: [seed mod 2^32, seed >> 32]."""
    seed = check.integer("seed", seed, 0, 2**64 - 1)
    return np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=np.uint32)


def philox4x32_10(ctr, key) -> np.ndarray:
    """Raw Philox4x32-10: ctr [N, 4] (or [4]) uint32, key [2] -> [N, 4]."""
    c = _u32("ctr", ctr)
    squeeze = c.ndim == 1
    c = np.ascontiguousarray(c.reshape(-1, 4))
    out = core.philox4x32_10(c, _u32("key", key).reshape(2))
    return out[0] if squeeze else out


def blocks(
    seed: int,
    replica: int = 0,
    generation: int = 0,
    tag="test",
    site: int = 0,
    begin: int = 0,
    count: int = 1,
) -> np.ndarray:
    """Blocks begin..begin+count-1 of a stream, [count, 4] uint32."""
    return core.stream_blocks(
        check.integer("seed", seed, 0, 2**64 - 1),
        check.integer("replica", replica, 0, 2**32 - 1),
        check.integer("generation", generation, 0, 2**32 - 1),
        _tag(tag),
        check.integer("site", site, 0, 2**24 - 1),
        check.integer("begin", begin, 0, 2**32 - 1),
        check.integer("count", count, 0, 2**32 - begin),
    )


def uniform52(lo, hi) -> np.ndarray:
    """(floor((hi:lo) / 2^12) + 0.5) / 2^52: uniform on (0, 1), never 0 or 1."""
    return core.uniform52(_u32("lo", lo).ravel(), _u32("hi", hi).ravel())


def uniform32(words) -> np.ndarray:
    """(w + 0.5) / 2^32: uniform on (0, 1)."""
    return core.uniform32(_u32("words", words).ravel())


def normal_pair(u_radius, u_angle) -> tuple[np.ndarray, np.ndarray]:
    """Box-Muller: (r cos a, r sin a), r = sqrt(-2 ln u_radius), a = 2 pi u_angle."""
    ur = np.ascontiguousarray(u_radius, dtype=np.float64).ravel()
    ua = np.ascontiguousarray(u_angle, dtype=np.float64).ravel()
    if ur.size and not (np.all(ur > 0) and np.all(ur < 1)):
        raise ValueError("u_radius must lie in (0, 1)")
    return core.normal_pair(ur, ua)


def normals(
    seed: int, count: int, replica: int = 0, generation: int = 0, tag="test", site: int = 0
) -> np.ndarray:
    """The first ``count`` standard normals of a stream (two per block)."""
    return core.normals(
        check.integer("seed", seed, 0, 2**64 - 1),
        check.integer("replica", replica, 0, 2**32 - 1),
        check.integer("generation", generation, 0, 2**32 - 1),
        _tag(tag),
        check.integer("site", site, 0, 2**24 - 1),
        check.integer("count", count, 0, 2**33),
    )


def gamma(alpha: float, seed: int, replicas, generation: int = 0, tag="test", site: int = 0):
    """Gamma(alpha, 1) draws, one per replica id (each its own stream).

    Returns (values, spare_normals, tries): the spare is the sine of try 0,
    independent of the value; tries counts the blocks the draw used.
    """
    return core.gamma(
        check.real("alpha", alpha, 0.0, None, lo_open=True),
        check.integer("seed", seed, 0, 2**64 - 1),
        _u32("replicas", replicas).ravel(),
        check.integer("generation", generation, 0, 2**32 - 1),
        _tag(tag),
        check.integer("site", site, 0, 2**24 - 1),
    )


def binomial(n: int, p: float, seed: int, replicas, generation: int = 0, tag="test", site: int = 0):
    """Binomial(n, p) draws, one per replica id. Returns (values, tries)."""
    return core.binomial(
        float(check.integer("n", n, 0, 2**53)),
        check.real("p", p, 0.0, 1.0),
        check.integer("seed", seed, 0, 2**64 - 1),
        _u32("replicas", replicas).ravel(),
        check.integer("generation", generation, 0, 2**32 - 1),
        _tag(tag),
        check.integer("site", site, 0, 2**24 - 1),
    )


def log_factorial(k) -> np.ndarray:
    """ln k! as the binomial sampler computes it (table below 20, Stirling above)."""
    return core.log_factorial(np.ascontiguousarray(k, dtype=np.float64).ravel())
