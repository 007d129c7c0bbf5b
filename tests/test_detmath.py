"""csrc/madsim/detmath.hpp against mpmath: the log and sin/cos behind every
host normal (Box-Muller), written once for scalar code and SIMD lanes.

Errors are in ulps of the correctly rounded value (mpmath at 40 digits).
Bounds: det_log < 1 ulp (fdlibm's kernel; observed 0.86 over 2e7 draws in a
C++ sweep against long double), cos / sin of 2 pi u < 2 ulp (observed 1.71
over 2e4 uniforms against mpmath: the reduction 4u - q is exact, what is
left is the rounding of (pi/2)(4u - q) and the kernels' < 1 ulp).
Deterministic inputs (fixed seed), so no false-fail rate.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from madsim._backend import core

mpmath.mp.dps = 40


def _ulps(got: np.ndarray, exact: list) -> np.ndarray:
    ref = np.array([float(x) for x in exact])
    ulp = np.spacing(np.abs(ref))
    err = np.array([abs(mpmath.mpf(float(g)) - x) for g, x in zip(got, exact)], dtype=float)
    return err / ulp


def _uniforms(rng, n):
    k = rng.integers(0, 2**52, n, dtype=np.uint64)
    u = (k.astype(np.float64) + 0.5) * 2.0**-52
    scale = 2.0 ** -rng.integers(0, 40, n)  # small radii uniforms too
    return np.concatenate([u, u * scale, [2.0**-53, 1 - 2.0**-53, 0.5, 0.25]])


def test_log_within_one_ulp():
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [
            _uniforms(rng, 3000),
            np.ldexp(1 + rng.random(1000), rng.integers(-1000, 1000, 1000)),
            [
                1.0,
                2.0,
                np.sqrt(2.0),
                np.sqrt(0.5),
                1 + 2**-52,
                1 - 2**-53,
                np.finfo(float).tiny,
                np.finfo(float).max,
            ],
        ]
    )
    got = core.det_log(x)
    exact = [mpmath.log(mpmath.mpf(float(v))) for v in x]
    ok = x != 1.0  # ln 1 = 0 exactly: compare absolutely
    assert np.all(got[~ok] == 0.0)
    assert _ulps(got[ok], [e for e, o in zip(exact, ok) if o]).max() < 1.0


def test_sincos_2pi_within_two_ulp_everywhere():
    rng = np.random.default_rng(2)
    u = _uniforms(rng, 3000)
    # near the quadrant boundaries, where one of the two is near zero
    q = rng.integers(0, 5, 1000) / 4.0
    u = np.concatenate([u, np.clip(q + rng.normal(0, 1e-9, 1000), 0, 1), [0.0, 1.0]])
    c, s = core.det_sincos_2pi(u)
    two_pi_u = [2 * mpmath.pi * mpmath.mpf(float(v)) for v in u]
    exact_c = [mpmath.cos(a) for a in two_pi_u]
    exact_s = [mpmath.sin(a) for a in two_pi_u]
    # exact zeros (u a multiple of 1/4) show as ~1e-40 at 40 digits
    nz_c = np.array([abs(x) > 1e-30 for x in exact_c])
    nz_s = np.array([abs(x) > 1e-30 for x in exact_s])
    assert _ulps(c[nz_c], [x for x, k in zip(exact_c, nz_c) if k]).max() < 2.0
    assert _ulps(s[nz_s], [x for x, k in zip(exact_s, nz_s) if k]).max() < 2.0
    # the zeros land on (signed) zero exactly; cos(0) = 1
    assert np.all(s[~nz_s] == 0.0) and np.all(c[~nz_c] == 0.0) and np.all(c[u == 0.0] == 1.0)


def test_sincos_is_odd_and_periodic_in_u():
    u = (np.arange(1, 4096) + 0.5) / 8192.0
    c, s = core.det_sincos_2pi(u)
    c2, s2 = core.det_sincos_2pi(1.0 - u)  # 1 - u exact here
    assert np.array_equal(c, c2) and np.array_equal(s, -s2)
    assert np.allclose(c**2 + s**2, 1.0, rtol=0, atol=4.5e-16)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan, 1e-310])
def test_log_domain_errors(bad):
    with pytest.raises(ValueError, match="det_log"):
        core.det_log(np.array([1.0, bad]))


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_sincos_domain_errors(bad):
    with pytest.raises(ValueError, match="det_sincos_2pi"):
        core.det_sincos_2pi(np.array([bad]))
