"""Each transform equals its re-derivation from the raw words in numpy/math."""

import math

import numpy as np

import madsim as ms

SEED = 20261123


def _words(count=4096):
    return ms.rng.blocks(SEED, replica=3, generation=9, tag="test", site=1, begin=0, count=count)


def test_uniform52_rederived():
    w = _words()
    k = ((w[:, 1].astype(np.uint64) << np.uint64(32)) | w[:, 0].astype(np.uint64)) >> np.uint64(12)
    expected = (k.astype(np.float64) + 0.5) * 2.0**-52
    np.testing.assert_array_equal(ms.rng.uniform52(w[:, 0], w[:, 1]), expected)


def test_uniform52_open_interval_at_the_extremes():
    lo = np.array([0, 0xFFFFFFFF], dtype=np.uint32)
    hi = np.array([0, 0xFFFFFFFF], dtype=np.uint32)
    u = ms.rng.uniform52(lo, hi)
    assert u[0] == 2.0**-53 and u[1] == 1.0 - 2.0**-53
    assert 0.0 < u[0] and u[1] < 1.0


def test_uniform32_rederived_and_open():
    w = _words()[:, 2]
    np.testing.assert_array_equal(ms.rng.uniform32(w), (w.astype(np.float64) + 0.5) * 2.0**-32)
    ext = ms.rng.uniform32(np.array([0, 0xFFFFFFFF], dtype=np.uint32))
    assert 0.0 < ext[0] and ext[1] < 1.0


def test_normals_rederived_by_box_muller():
    w = _words(1000)
    ur = ms.rng.uniform52(w[:, 0], w[:, 1])
    ua = ms.rng.uniform52(w[:, 2], w[:, 3])
    r = np.array([math.sqrt(-2.0 * math.log(u)) for u in ur])
    a = 2.0 * math.pi * ua
    expected = np.empty(2000)
    expected[0::2] = r * np.array([math.cos(x) for x in a])
    expected[1::2] = r * np.array([math.sin(x) for x in a])
    got = ms.rng.normals(SEED, 2000, replica=3, generation=9, tag="test", site=1)
    # The core's log and cos/sin are detmath.hpp's (< 1 and < 2 ulp, the angle
    # reduced on u exactly); libm's cos(2 pi u) here first rounds 2 pi u (up to
    # 4.4e-16 off in the angle), so near a zero of cos or sin the two differ by
    # up to about r * 4.4e-16 absolutely. Observed <= 7.4e-16 r (1e5 pairs).
    err = np.abs(got - expected)
    assert np.all(err <= 4e-16 * np.abs(expected) + 1e-15 * np.repeat(r, 2)), err.max()
    c, s = ms.rng.normal_pair(ur, ua)
    np.testing.assert_array_equal(c, got[0::2])
    np.testing.assert_array_equal(s, got[1::2])


def _gamma_rederived(alpha, seed, replica, generation, tag, site):
    """Marsaglia-Tsang from raw blocks, written from the docstring of
    csrc/madsim/samplers.hpp::gamma_mt."""
    boosted = alpha + 1.0 if alpha < 1.0 else alpha
    d = boosted - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    i = 0
    while True:
        w = ms.rng.blocks(seed, replica, generation, tag, site, begin=i, count=1)[0]
        ur = float(ms.rng.uniform52(w[:1], w[1:2])[0])
        ua = float(ms.rng.uniform32(w[2:3])[0])
        r = math.sqrt(-2.0 * math.log(ur))
        x, s = r * math.cos(2 * math.pi * ua), r * math.sin(2 * math.pi * ua)
        if i == 0:
            spare = s
        i += 1
        v = 1.0 + c * x
        if v <= 0:
            continue
        v = v**3
        u = float(ms.rng.uniform32(w[3:4])[0])
        if u < 1 - 0.0331 * x**4 or math.log(u) < 0.5 * x * x + d * (1 - v + math.log(v)):
            g = d * v
            break
    if alpha < 1.0:
        w = ms.rng.blocks(seed, replica, generation, tag, site, begin=2**32 - 1, count=1)[0]
        g *= math.exp(math.log(float(ms.rng.uniform52(w[:1], w[1:2])[0])) / alpha)
    return g, spare, i


def test_gamma_rederived_from_raw_blocks():
    replicas = np.arange(200, dtype=np.uint32)
    for alpha in (0.5, 0.9, 1.0, 4.5, 49.5):
        vals, spares, tries = ms.rng.gamma(alpha, SEED, replicas, generation=4, tag="test", site=2)
        for r in range(0, 200, 7):
            g, s, n = _gamma_rederived(alpha, SEED, r, 4, ms.rng.TAGS["test"], 2)
            assert tries[r] == n, (alpha, r)
            assert math.isclose(vals[r], g, rel_tol=1e-14), (alpha, r, vals[r], g)
            # abs_tol: libm's sin(2 pi u) here is off by up to r * 4.4e-16 < 3.8e-15
            # near its zeros (test_normals_rederived_by_box_muller)
            assert math.isclose(spares[r], s, rel_tol=1e-14, abs_tol=4e-15), (alpha, r)
    # rejections happen (the test exercises the retry path) at small alpha
    assert (ms.rng.gamma(1.0, SEED, np.arange(2000, dtype=np.uint32))[2] > 1).any()


def test_binomial_inversion_rederived():
    n, p = 40, 0.1  # mean 4 < 10: inversion on uniform52 of block 0
    vals, tries = ms.rng.binomial(n, p, SEED, np.arange(300, dtype=np.uint32), generation=1)
    assert (tries == 1).all()
    for r in range(0, 300, 11):
        w = ms.rng.blocks(SEED, r, 1, "test", 0, begin=0, count=1)[0]
        u = float(ms.rng.uniform52(w[:1], w[1:2])[0])
        k, prob = 0, math.exp(n * math.log1p(-p))
        while u > prob and k < n:
            u -= prob
            k += 1
            prob *= (p / (1 - p)) * (n - k + 1) / k
        assert vals[r] == k


def test_log_factorial_matches_lgamma():
    k = np.concatenate([np.arange(0, 200), [1e3, 1e6, 1e9, 2.0**50]])
    expected = np.array([math.lgamma(x + 1) for x in k])
    np.testing.assert_allclose(ms.rng.log_factorial(k), expected, rtol=2e-15, atol=2e-15)
