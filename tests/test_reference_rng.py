"""The JAX reference RNG (madsim.reference) against the C++ core (madsim.rng).

Layer by layer, as csrc/madsim/ builds them: Philox known-answer vectors, the
raw stream under the counter layout, the word transforms, then the samplers.
Integers (words, try counts, binomial values) must agree exactly; floats
agree bit for bit where the computation is exact (uniform52, uniform32) and
to a named tolerance where it calls transcendental functions.
"""

from __future__ import annotations

import ast
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import madsim.reference as ref
from madsim import rng
from madsim.reference import philox, samplers, transforms

import strategies as S
from kat import PHILOX4X32_10

# Box-Muller normals |z| <= 8.57: r = sqrt(-2 ln u) times cos / sin. Not zero
# because XLA may evaluate log / cos / sin with its own approximations instead
# of libm (on jaxlib 0.10 they agree with glibc bit for bit, but that is not
# promised), and may contract multiply-adds into FMAs inside fused kernels
# (the C++ is built with -ffp-contract=off). Observed 0 (200000 normals);
# 1e-13 is ~100 ulp at |z| = 8.
NORMAL_ATOL = 1e-13
# Gamma(alpha) values: d v^3 with v = 1 + c x, then U^(1/alpha) when alpha < 1.
# Not zero: XLA fuses 1 + c x and the acceptance test into FMAs, and its exp
# differs from libm's by up to 1 ulp; the boost exp(ln(U) / alpha) turns a
# 1-ulp error of its argument (|arg| <= 37 / alpha) into a relative error of
# up to 37 / alpha ulp. Observed <= 3.3e-15 (20000 draws at each of seven
# alphas in [0.1, 1000]); 1e-12 leaves room for that amplification at alpha = 0.1.
GAMMA_RTOL = 1e-12
# ln k!: the exact table below 20 (must match bit for bit), the Stirling
# series above; not zero above 20 because XLA may contract (x - 1/2) ln x - x
# into an FMA. Relative, since ln k! ~ k ln k. Observed <= 2.3e-16 (1 ulp).
LOG_FACTORIAL_RTOL = 1e-14

# Random123's known-answer vectors, the one table every backend runs (tests/kat.py;
# the C++ side runs it in tests/test_rng_kat.py).
KAT = PHILOX4X32_10


def _stream(seed, replica, generation, tag, site):
    return ref.make_stream(ref.seed_key(seed), replica, generation, tag, site)


@jax.jit
def _ref_blocks(key, replica, generation, tag, site, begin):
    """Blocks begin .. begin + COUNT_BUCKET - 1 of a stream, [COUNT_BUCKET, 4]."""
    s = ref.make_stream(key, replica, generation, tag, site)
    return ref.block(s, begin + jnp.arange(S.COUNT_BUCKET, dtype=jnp.uint32))


@jax.jit
def _ref_normals(key, replica, generation, tag, site):
    """The first 2 COUNT_BUCKET normals of a stream (cosine, sine per block)."""
    s = ref.make_stream(key, replica, generation, tag, site)
    a, b = samplers.normals_of_block(ref.block(s, jnp.arange(S.COUNT_BUCKET, dtype=jnp.uint32)))
    return jnp.stack([a, b], axis=-1).reshape(-1)


@jax.jit
def _ref_gamma(alpha, key, replicas, generation, tag, site):
    return samplers.gamma_mt(alpha, ref.make_stream(key, replicas, generation, tag, site))


@jax.jit
def _ref_binomial(n, p, key, replicas, generation, tag, site):
    return samplers.binomial(n, p, ref.make_stream(key, replicas, generation, tag, site))


def _where(seed, replica, generation, tag, site) -> str:
    return f"seed={seed} replica={replica} generation={generation} tag={tag} site={site}"


# --- layer 1: the block function -------------------------------------------------------------


@pytest.mark.parametrize("ctr,key,expected", KAT, ids=["zeros", "ones", "pi"])
def test_philox_jax_matches_random123_known_answers(ctr, key, expected):
    out = ref.philox4x32_10(jnp.array(ctr, jnp.uint32), jnp.array(key, jnp.uint32))
    assert [int(w) for w in np.asarray(out)] == list(expected)


def test_philox_jax_batches_like_the_scalar_call():
    ctr = np.array([c for c, _, _ in KAT], np.uint32)
    out = np.asarray(jax.jit(ref.philox4x32_10)(ctr, jnp.array(KAT[2][1], jnp.uint32)))
    for i, c in enumerate(ctr):
        assert out[i].tolist() == np.asarray(ref.philox4x32_10(c, jnp.array(KAT[2][1], jnp.uint32))).tolist()
    assert out.tolist() == rng.philox4x32_10(ctr, np.array(KAT[2][1], np.uint32)).tolist()


# --- layer 2: the raw stream under the counter layout --------------------------------------


def test_seed_key_splits_low_and_high_words():
    assert np.asarray(ref.seed_key(0x0123456789ABCDEF)).tolist() == [0x89ABCDEF, 0x01234567]
    assert np.asarray(ref.seed_key(jnp.uint64(0x0123456789ABCDEF))).tolist() == [0x89ABCDEF, 0x01234567]
    assert np.asarray(ref.seed_key(2**64 - 1)).tolist() == rng.seed_key(2**64 - 1).tolist()
    with pytest.raises(ValueError, match="seed"):
        ref.seed_key(2**64)


def test_stream_word_packs_tag_and_site_like_the_core():
    s = ref.make_stream(ref.seed_key(1), 2, 3, 0x1FF, 0xABCDEF)
    assert int(s.stream) == 0xFF | (0xABCDEF << 8)  # tag masked to 8 bits


@given(sl=S.stream_slices())
@example(sl=S.StreamSlice(0, 0, 0, 255, 0, 0))
@example(sl=S.StreamSlice(2**64 - 1, 2**32 - 1, 2**32 - 1, 255, 2**24 - 1, 2**32 - S.COUNT_BUCKET))
def test_stream_blocks_are_bit_identical_to_core(sl):
    core_words = rng.blocks(sl.seed, sl.replica, sl.generation, sl.tag, sl.site, sl.begin, S.COUNT_BUCKET)
    ref_words = np.asarray(
        _ref_blocks(ref.seed_key(sl.seed), sl.replica, sl.generation, sl.tag, sl.site, np.uint32(sl.begin))
    )
    bad = np.nonzero(np.any(core_words != ref_words, axis=1))[0]
    assert bad.size == 0, (
        f"raw words differ at block {sl.begin + int(bad[0])} of "
        f"{_where(sl.seed, sl.replica, sl.generation, sl.tag, sl.site)}: "
        f"core {core_words[bad[0]].tolist()} reference {ref_words[bad[0]].tolist()}"
    )


def test_side_block_max_is_bit_identical_to_core():
    w = rng.blocks(5, 6, 7, 255, 8, ref.BLOCK_MAX, 1)[0]
    assert np.asarray(ref.block(_stream(5, 6, 7, 255, 8), ref.BLOCK_MAX)).tolist() == w.tolist()


# --- layer 3: transforms of words ----------------------------------------------------------


@given(lo=st.lists(S.words, min_size=16, max_size=16), hi=st.lists(S.words, min_size=16, max_size=16))
def test_uniform52_is_bit_identical_to_core(lo, hi):
    lo, hi = np.array(lo, np.uint32), np.array(hi, np.uint32)
    got = np.asarray(jax.jit(transforms.uniform52)(lo, hi))
    want = rng.uniform52(lo, hi)
    assert got.view(np.uint64).tolist() == want.view(np.uint64).tolist(), (lo, hi)
    assert np.all((got > 0) & (got < 1))


@given(w=st.lists(S.words, min_size=16, max_size=16))
def test_uniform32_is_bit_identical_to_core(w):
    w = np.array(w, np.uint32)
    got = np.asarray(jax.jit(transforms.uniform32)(w))
    assert got.view(np.uint64).tolist() == rng.uniform32(w).view(np.uint64).tolist(), w
    assert np.all((got > 0) & (got < 1))


@given(sl=S.stream_slices())
def test_normal_pair_of_core_words_matches_core(sl):
    words = rng.blocks(sl.seed, sl.replica, sl.generation, sl.tag, sl.site, sl.begin, S.COUNT_BUCKET)
    ur, ua = rng.uniform52(words[:, 0], words[:, 1]), rng.uniform52(words[:, 2], words[:, 3])
    want_c, want_s = rng.normal_pair(ur, ua)
    got_c, got_s = map(np.asarray, jax.jit(transforms.normal_pair)(ur, ua))
    err = max(np.max(np.abs(got_c - want_c)), np.max(np.abs(got_s - want_s)))
    assert err <= NORMAL_ATOL, (
        f"normal_pair max |diff| {err:.3g} > {NORMAL_ATOL} at block words {words.tolist()}"
    )


def test_log_factorial_matches_core():
    k = np.concatenate([np.arange(0.0, 200.0), np.floor(np.exp(np.linspace(5.0, 36.0, 500)))])
    want = rng.log_factorial(k)
    got = np.asarray(jax.jit(transforms.log_factorial)(k))
    small = k < 20
    assert got[small].tolist() == want[small].tolist(), "the table part must match exactly"
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    worst = int(np.argmax(rel))
    assert rel[worst] <= LOG_FACTORIAL_RTOL, f"log_factorial({k[worst]}): rel diff {rel[worst]:.3g}"


# --- layer 4: samplers ---------------------------------------------------------------------


@given(sl=S.stream_slices())
def test_normals_match_core(sl):
    count = 2 * S.COUNT_BUCKET - 1  # odd: the last sine is dropped
    want = rng.normals(sl.seed, count, sl.replica, sl.generation, sl.tag, sl.site)
    got = np.asarray(_ref_normals(ref.seed_key(sl.seed), sl.replica, sl.generation, sl.tag, sl.site))[:count]
    err = np.abs(got - want)
    i = int(np.argmax(err))
    assert err[i] <= NORMAL_ATOL, (
        f"normal {i} differs by {err[i]:.3g} (> NORMAL_ATOL {NORMAL_ATOL}) at "
        f"{_where(sl.seed, sl.replica, sl.generation, sl.tag, sl.site)}"
    )


@given(
    alpha=S.alphas,
    seed=S.seeds,
    ids=S.replica_id_sets,
    generation=S.counter_generations,
    tag=S.tags,
    site=S.sites,
)
@example(alpha=0.5, seed=0, ids=[0, 1, 2, 3], generation=1, tag=2, site=0)
def test_gamma_matches_core_tries_exactly(alpha, seed, ids, generation, tag, site):
    ids = np.array(ids, np.uint32)
    want_v, want_sp, want_tr = rng.gamma(alpha, seed, ids, generation, tag, site)
    got_v, got_sp, got_tr = map(np.asarray, _ref_gamma(alpha, ref.seed_key(seed), ids, generation, tag, site))
    for r in range(ids.size):
        where = f"alpha={alpha} " + _where(seed, int(ids[r]), generation, tag, site)
        assert got_tr[r] == want_tr[r], f"gamma tries: core {want_tr[r]} reference {got_tr[r]} at {where}"
        rel = abs(got_v[r] - want_v[r]) / want_v[r] if want_v[r] else abs(got_v[r])
        assert rel <= GAMMA_RTOL, f"gamma value rel diff {rel:.3g} > GAMMA_RTOL at {where}"
        assert abs(got_sp[r] - want_sp[r]) <= NORMAL_ATOL, f"gamma spare normal differs at {where}"


@given(
    n=S.binomial_ns,
    p=S.binomial_ps,
    seed=S.seeds,
    ids=S.replica_id_sets,
    generation=S.counter_generations,
    tag=S.tags,
    site=S.sites,
)
@example(n=100, p=0.3, seed=1, ids=[0, 1, 2, 3], generation=1, tag=4, site=0)  # BTRS
@example(n=100, p=0.95, seed=1, ids=[0, 1, 2, 3], generation=1, tag=4, site=0)  # inversion, mirrored
@example(n=0, p=0.5, seed=1, ids=[0, 1, 2, 3], generation=1, tag=4, site=0)
@example(n=7, p=1.0, seed=1, ids=[0, 1, 2, 3], generation=1, tag=4, site=0)
@example(n=1, p=2.225073858507203e-309, seed=0, ids=[0, 1, 2, 3], generation=0, tag=1, site=0)  # subnormal p
def test_binomial_matches_core_exactly(n, p, seed, ids, generation, tag, site):
    ids = np.array(ids, np.uint32)
    want_v, want_tr = rng.binomial(n, p, seed, ids, generation, tag, site)
    got_v, got_tr = map(
        np.asarray, _ref_binomial(float(n), p, ref.seed_key(seed), ids, generation, tag, site)
    )
    where = f"n={n} p={p!r} " + _where(seed, ids.tolist(), generation, tag, site)
    assert got_v.tolist() == want_v.tolist(), f"binomial values: core {want_v} reference {got_v} at {where}"
    assert got_tr.tolist() == want_tr.tolist(), (
        f"binomial tries: core {want_tr} reference {got_tr} at {where}"
    )


# --- the suite can fail ---------------------------------------------------------------------


def test_a_perturbed_philox_multiplier_is_detected(monkeypatch):
    """The bit-identity test is not vacuous: one flipped bit in M0 changes every block."""
    monkeypatch.setattr(philox, "M0", philox.M0 ^ 1)
    got = np.asarray(jax.jit(lambda: ref.block(_stream(1, 2, 3, 255, 0), jnp.arange(4, dtype=jnp.uint32)))())
    want = rng.blocks(1, 2, 3, 255, 0, 0, 4)
    assert np.all(np.any(got != want, axis=1))
    ctr, key, expected = KAT[0]
    assert [
        int(w) for w in np.asarray(ref.philox4x32_10(jnp.array(ctr, jnp.uint32), jnp.array(key, jnp.uint32)))
    ] != list(expected)


def test_a_shifted_gamma_stream_is_detected():
    """Tries compared exactly catch a sampler reading the wrong blocks: the
    same draws one generation later disagree somewhere among 64 replicas."""
    ids = np.arange(64, dtype=np.uint32)
    _, _, want_tr = rng.gamma(0.5, 3, ids, 1, 2, 0)
    _, _, got_tr = _ref_gamma(0.5, ref.seed_key(3), ids, 2, 2, 0)
    assert np.any(np.asarray(got_tr) != want_tr)


def _imported_modules(path, package="madsim.reference"):
    """Absolute names a module's imports refer to (relative imports resolved;
    for `from m import x` both m and m.x, since x may be a submodule)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            mod = ".".join(x for x in (base, node.module or "") if x)
            yield mod
            yield from (f"{mod}.{a.name}" for a in node.names)


_BANNED = {"madsim._core", "madsim._backend", "madsim.rng"}


def test_reference_imports_nothing_of_the_core():
    """The twin is independent: no module under madsim/reference imports the
    compiled core, its loader or madsim.rng (it shares only the counter layout)."""
    files = sorted(pathlib.Path(ref.__file__).parent.glob("*.py"))
    assert len(files) >= 6
    for path in files:
        found = set(_imported_modules(path)) & _BANNED
        assert not found, f"madsim/reference/{path.name} imports {sorted(found)}"


def test_import_scan_sees_relative_imports(tmp_path):
    """The scan above is not vacuous: it resolves the relative forms."""
    for line in (
        "from .._backend import core",
        "from .. import rng",
        "from ..._core import x",
        "import madsim._core",
    ):
        f = tmp_path / "m.py"
        f.write_text(line + "\n")
        assert (
            set(_imported_modules(f, "madsim.reference.sub" if "..." in line else "madsim.reference"))
            & _BANNED
        ), line
