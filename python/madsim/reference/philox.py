"""Philox4x32-10 and the counter layout, in JAX uint32 arithmetic.

Mirrors csrc/madsim/philox.hpp (the block function) and csrc/madsim/stream.hpp
(key from seed, counter from replica / generation / tag / site / block).
Every function takes and returns jnp arrays, works under jit and vmap, and
broadcasts over leading axes; a block is the trailing axis of length 4.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# Mirrors csrc/madsim/philox.hpp::philox_const
M0 = 0xD2511F53  # round multipliers
M1 = 0xCD9E8D57
W0 = 0x9E3779B9  # Weyl key bumps
W1 = 0xBB67AE85

# Mirrors csrc/madsim/stream.hpp
RNG_LAYOUT_VERSION = 2
TAG_SAMPLES = 1  # synthetic samples of the samples path
TAG_SCATTER = 2  # chi-square (gamma) tries of the exact path
TAG_REAL = 3  # real data
TAG_FILTER = 4  # provenance filter decisions
TAG_SUBSET = 5  # which pooled points a subsampling fit picks
TAG_TEST = 255  # free for tests
SITE_MAX = (1 << 24) - 1
BLOCK_MAX = 0xFFFFFFFF  # reserved: a sampler's side block

_U32 = jnp.uint32
_U64 = jnp.uint64


def _mulhilo(m: int, x):
    """(hi, lo) words of the 64-bit product m * x, x uint32."""
    p = _U64(m) * x.astype(_U64)
    return (p >> _U64(32)).astype(_U32), p.astype(_U32)


def philox_round(c, k, m0=None, m1=None):
    """One round on words c = (c0, c1, c2, c3), key k = (k0, k1); multipliers
    m0, m1 default to M0, M1.

    Mirrors csrc/madsim/philox.hpp::philox_round.
    """
    hi0, lo0 = _mulhilo(M0 if m0 is None else m0, c[0])
    hi1, lo1 = _mulhilo(M1 if m1 is None else m1, c[2])
    return (hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0)


def philox4x32_10(ctr, key):
    """Philox4x32-10: ctr [..., 4] uint32, key [..., 2] uint32 -> [..., 4] uint32.

    Ten rounds, the key bumped by the Weyl constants between consecutive rounds.
    Mirrors csrc/madsim/philox.hpp::philox4x32_10.
    """
    return _philox4x32_10(ctr, key, M0, M1, W0, W1)


@partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _philox4x32_10(ctr, key, m0, m1, w0, w1):
    """philox4x32_10 with its constants as static arguments: jitted on its own,
    so a model calling it at many sites traces the ten rounds once per shape
    (tracing them dominated the reference's compile time), and a changed
    module constant is a new trace, not a stale cached one."""
    ctr = jnp.asarray(ctr, dtype=_U32)
    key = jnp.asarray(key, dtype=_U32)
    c = tuple(ctr[..., j] for j in range(4))
    k = (key[..., 0], key[..., 1])
    for r in range(10):
        if r > 0:
            k = (k[0] + _U32(w0), k[1] + _U32(w1))  # uint32 addition wraps mod 2^32
        c = philox_round(c, k, m0, m1)
    return jnp.stack(jnp.broadcast_arrays(*c), axis=-1)


def seed_key(seed):
    """The Philox key of a 64-bit seed: [seed mod 2^32, seed >> 32] uint32 [2].

    ``seed`` is a Python int in [0, 2**64) or a uint64 array (then [..., 2]).
    Mirrors csrc/madsim/stream.hpp::seed_key.
    """
    if isinstance(seed, (int, np.integer)):
        seed = int(seed)
        if not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an integer in [0, 2**64); got {seed}")
        return jnp.array([seed & 0xFFFFFFFF, seed >> 32], dtype=_U32)
    s = jnp.asarray(seed, dtype=_U64)
    return jnp.stack([s.astype(_U32), (s >> _U64(32)).astype(_U32)], axis=-1)


class Stream(NamedTuple):
    """One stream of the counter layout. Mirrors csrc/madsim/stream.hpp::Stream.

    key [..., 2] uint32; generation, stream (tag | site << 8), replica uint32.
    """

    key: jnp.ndarray
    generation: jnp.ndarray
    stream: jnp.ndarray
    replica: jnp.ndarray


def make_stream(key, replica, generation, tag, site) -> Stream:
    """Mirrors csrc/madsim/stream.hpp::make_stream: stream word = (tag & 0xFF) | site << 8."""
    tag = jnp.asarray(tag, dtype=_U32)
    site = jnp.asarray(site, dtype=_U32)
    return Stream(
        key=jnp.asarray(key, dtype=_U32),
        generation=jnp.asarray(generation, dtype=_U32),
        stream=(tag & _U32(0xFF)) | (site << _U32(8)),
        replica=jnp.asarray(replica, dtype=_U32),
    )


def block(s: Stream, b):
    """Block b of stream s: philox4x32_10((b, generation, stream, replica), key) -> [..., 4].

    ``b`` may be an array of block indices (the result gains its shape).
    Mirrors csrc/madsim/stream.hpp::Stream::block.
    """
    b = jnp.asarray(b, dtype=_U32)
    ctr = jnp.stack(jnp.broadcast_arrays(b, s.generation, s.stream, s.replica), axis=-1)
    return philox4x32_10(ctr, s.key)
