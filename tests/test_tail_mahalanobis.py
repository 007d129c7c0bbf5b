"""The d > 1 tail masses tail2, tail3, tail4: the model N(mu, Sigma)'s mass
outside the truth's Mahalanobis balls, P(Q > k^2) with Q = (x - mu0)'
Sigma0^-1 (x - mu0) (csrc/madsim/gchisq.hpp, a saddle-point contour integral
on the spectrum of csrc/madsim/metrics.hpp::mahalanobis_spectrum), against
references computed here independently in mpmath at 30+ digits:

- Sigma = s Sigma0: Q / s is a (noncentral) chi-square with d degrees of
  freedom: the regularized incomplete gamma, or for a shifted mean one
  normal direction integrated out over the central chi-square of the rest;
- any spectrum in d = 2 (down to near point masses, 1e10 conditioning):
  one direction integrated out over the other's exact normal tails;
- moderately conditioned anisotropic models in d <= 8: Ruben's series
  (a positive mixture of chi-square tails, so relative accuracy in the
  tails);
- d = 50 with two eigenvalue groups: the convolution of two scaled
  chi-squares;
- collapsed directions (zero Cholesky pivots) and point masses: exact.

Accuracy checked: relative to the smaller of P and 1 - P, 1e-12 plus 50 eps
times the problem's conditioning t (|x0| + K''(x0)^-1/2)
(metric_tolerances.tail_conditioning: the kernel sees Sigma rounded, and P
moves by that much times a relative change of it). Observed maxima are in
the comments. The JAX twin's columns are
compared in tests/test_reference_gaussian_loop.py (and on the extremes here).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import madsim as ms
from madsim._backend import core
from madsim.families.gaussian import METRICS, METRICS_1D_ONLY

from metric_tolerances import TAIL_ND_TOL, metric_errors, tail_conditioning

ND_NAMES = [m for m in METRICS if m not in METRICS_1D_ONLY]
TAILS = [ND_NAMES.index(f"tail{k}") for k in (2, 3, 4)]
REL = 1e-12  # method error, relative to min(P, 1 - P)
COND_REL = 50 * np.finfo(float).eps  # per unit of tail_conditioning (the inputs' rounding)


def _truth(d, seed=0):
    """A random non-diagonal SPD Sigma0 and mean mu0."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    return rng.normal(size=d), A @ A.T / d + 0.5 * np.eye(d)


def _observe(means, covs, mu0, cov0):
    """GaussianLoop's (state rows [R, S], observe rows [R, O]) for the models
    N(means[r], covs[r]) against the truth N(mu0, cov0): one Augment step
    with weight 1 fits the fixed real set alone, whose moments are set to
    (mean, c cov) (MLE), so each model is (mean, the kernel's own Cholesky
    factor of cov)."""
    means = np.atleast_2d(means)
    R, d = means.shape
    rows, cols = np.tril_indices(d)
    L0 = np.linalg.cholesky(cov0)
    truth = np.concatenate([mu0, L0[rows, cols]])
    c = d + 2.0
    p = core.GaussianLoopParams(
        d=d,
        loop=1,
        estimator=0,
        path=0,
        tau=1.0,
        trunc=0.0,
        weight=1.0,
        tpr=0.0,
        fpr=0.0,
        real_fixed=c,
        subsample_n=0,
        pool_cap=0,
        truth=truth,
        counts=np.full((2, 2), [0.0, c]),
    )
    state = np.stack(
        [
            np.concatenate([truth, [0.0, 0.0, 0.0], [c], m, (c * np.asarray(S))[rows, cols]])
            for m, S in zip(means, covs)
        ]
    )
    rec = np.full((R, 1, p.observe_size), np.nan)
    core.advance_gaussian_loop(
        p,
        state,
        np.arange(R, dtype=np.uint32),
        1,
        1,
        2,
        np.array([2], np.uint32),
        0,
        rec,
        np.zeros((0, 3)),
        np.zeros((R, 0), np.int64),
        1,
    )
    return state, rec[:, 0]


def _tails(means, covs, mu0, cov0):
    """[R, 3] kernel tail2, tail3, tail4 of the models."""
    d = len(mu0)
    _, obs = _observe(means, covs, mu0, cov0)
    base = d + d * (d + 1) // 2 + 6
    return obs[:, [base + j for j in TAILS]]


def _embed(lam, beta, U, mu0, cov0):
    """The model whose whitened law z = L0^-1 (x - mu0) is N(U beta, U diag(lam) U')."""
    L0 = np.linalg.cholesky(cov0)
    B = L0 @ U
    cov = B @ np.diag(lam) @ B.T
    return mu0 + B @ np.asarray(beta), 0.5 * (cov + cov.T)


def _rotation(d, rng):
    Q, R = np.linalg.qr(rng.normal(size=(d, d)))
    return Q * np.sign(np.diag(R))


def _check(got, want, means, covs, mu0, cov0, what):
    """got [R, 3] against want [R, 3] (floats): relative to min(P, 1 - P),
    REL + COND_REL tail_conditioning; returns the largest error in units of that."""
    worst = 0.0
    for j, k in enumerate((2, 3, 4)):
        cond = tail_conditioning(means, covs, mu0, cov0, float(k * k))
        g, w = got[:, j], want[:, j]
        assert np.all((g >= 0.0) & (g <= 1.0)), (what, k, g)
        small = np.minimum(w, 1.0 - w)
        err = np.where(g == w, 0.0, np.abs(g - w))
        bound = (REL + COND_REL * cond) * small + 4 * np.finfo(float).eps * (w > 0.5) + 1e-300
        bad = ~(err <= bound)
        assert not bad.any(), (
            f"{what} tail{k}: got {g[bad][:3]} want {w[bad][:3]} "
            f"(rel. error {(err / np.maximum(small, 1e-300))[bad][:3]}, "
            f"conditioning {cond[bad][:3]})"
        )
        worst = max(worst, float(np.max(err / bound)))
    return worst


# --- mpmath references -----------------------------------------------------------------------


def _mp():
    return pytest.importorskip("mpmath")


def _chi2_sf(n, y):
    """P(chi2_n > y), n >= 1 (mpmath); n = 0: the point mass at 0."""
    mp = _mp()
    if y <= 0:
        return mp.mpf(n > 0 or y < 0)
    if n == 0:
        return mp.mpf(0)
    return mp.gammainc(mp.mpf(n) / 2, mp.mpf(y) / 2, mp.inf, regularized=True)


def _ncx2_sf(n, delta, y):
    """P(chi2_n(delta) > y): the Poisson(delta / 2) mixture of central tails
    P(chi2_{n+2i} > y) (positive terms: relative accuracy at any magnitude),
    those by the upward recurrence Q(a + 1, x) = Q(a, x) + x^a e^-x / Gamma(a + 1)
    (adds positive terms)."""
    mp = _mp()
    delta, x = mp.mpf(delta), mp.mpf(y) / 2
    a = mp.mpf(n) / 2
    q = _chi2_sf(n, y)
    if delta == 0:
        return q
    total, i, logw = mp.mpf(0), 0, -delta / 2
    while True:
        term = mp.exp(logw) * q
        total += term
        if i > delta / 2 + 10 and term < total * mp.mpf(10) ** -mp.mp.dps:
            return total
        q += mp.exp(a * mp.log(x) - x - mp.loggamma(a + 1)) if x > 0 else 0
        a += 1
        i += 1
        logw += mp.log(delta / 2) - mp.log(i)


def _quad_scaled(f, pts):
    """int f over the breakpoints pts, f scaled to O(1) first (mpmath's quad
    converges in absolute terms: a 1e-220 integrand would pass unconverged)."""
    mp = _mp()
    total = mp.mpf(0)
    for a, b in zip(pts[:-1], pts[1:]):
        scale = max(
            f(a + (b - a) * u)
            for u in (mp.mpf(1) / 64, mp.mpf(1) / 8, mp.mpf(1) / 2, mp.mpf(7) / 8, mp.mpf(63) / 64)
        )
        if scale > 0:
            total += scale * mp.quad(lambda x: f(x) / scale, [a, b])  # noqa: B023
    return total


def _integrate_out(lam, c, rest_sf, t):
    """P(lam (Z + c)^2 + R > t), R >= 0 independent of Z ~ N(0, 1) with
    P(R > u) = rest_sf(u): Z's exact normal tails where lam (Z + c)^2 > t;
    between (lo, hi), int phi(z) rest_sf(t - lam (z + c)^2) dz, on pieces
    split at Z's bulk (0, +-3, +-10, +-40) and -c; a piece that ends at lo or
    hi is taken in v = sqrt(distance to that end), where the integrand is
    smooth (rest_sf has a square-root edge there), on geometric
    breakpoints."""
    mp = _mp()
    lam, c, t = mp.mpf(lam), mp.mpf(c), mp.mpf(t)
    r = mp.sqrt(t / lam)
    lo, hi = -c - r, -c + r
    total = mp.ncdf(lo) + mp.ncdf(-hi)
    f = lambda z: mp.npdf(z) * rest_sf(t - lam * (z + c) ** 2)  # noqa: E731
    cuts = sorted({lo, hi} | {x for x in (-40, -10, -3, 0, 3, 10, 40, -c) if lo < x < hi})
    for a, b in zip(cuts[:-1], cuts[1:]):
        if a == lo or b == hi:  # z = end -+ v^2
            end, sgn = (lo, 1) if a == lo else (hi, -1)
            V = mp.sqrt(b - a)
            g = lambda v: 2 * v * mp.npdf(end + sgn * v * v) * rest_sf(lam * v * v * (2 * r - v * v))  # noqa: E731,B023
            total += _quad_scaled(g, [mp.mpf(0)] + [V * mp.mpf(2) ** -j for j in range(40, -1, -2)])
        else:
            total += _quad_scaled(f, [a, b])
    return total


def _ref_isotropic(d, s, bnorm, t):
    """P(Q > t), Q = s |Z + b / sqrt s|^2 in d dimensions, |b| = bnorm: the
    noncentral chi-square P(chi2_d(|b|^2 / s) > t / s)."""
    mp = _mp()
    return _ncx2_sf(d, mp.mpf(bnorm) ** 2 / mp.mpf(s), mp.mpf(t) / mp.mpf(s))


def _ref_2d(lam, beta, t):
    """P(Q > t), Q = sum_j (sqrt(lam_j) Z_j + beta_j)^2 in 2 dimensions: the
    narrower direction integrated out over the wider one's exact normal
    tails (which then vary smoothly along the integral)."""
    mp = _mp()
    i, o = (0, 1) if lam[0] <= lam[1] else (1, 0)
    lo_, co = mp.mpf(lam[o]), mp.mpf(beta[o]) / mp.sqrt(mp.mpf(lam[o]))

    def rest(u):  # P(lam_o (Z + c_o)^2 > u)
        if u <= 0:
            return mp.mpf(1)
        q = mp.sqrt(u / lo_)
        return mp.ncdf(-q - co) + mp.ncdf(co - q)

    return _integrate_out(lam[i], mp.mpf(beta[i]) / mp.sqrt(mp.mpf(lam[i])), rest, t)


def _ruben(lam, delta, t, rel=1e-20):
    """P(sum_j lam_j chi2_1(delta_j) > t), lam_j > 0 (Ruben 1962): the
    mixture sum_k a_k P(chi2_{n+2k} > t / beta) with beta = min lam and
    a_k >= 0 (sum 1), so the remainder is at most 1 - sum a_k."""
    mp = _mp()
    lam = [mp.mpf(x) for x in lam]
    delta = [mp.mpf(x) for x in delta]
    n, t = len(lam), mp.mpf(t)
    beta = min(lam)
    q = [1 - beta / x for x in lam]
    a0 = mp.exp(-sum(delta) / 2) * mp.fprod([mp.sqrt(beta / x) for x in lam])
    c, b = [None], [mp.mpf(1)]
    total, weight = a0 * _chi2_sf(n, t / beta), a0
    for k in range(1, 20000):
        c.append(
            sum(x**k for x in q) / (2 * k) + sum(dj * (1 - x) * x ** (k - 1) for dj, x in zip(delta, q)) / 2
        )
        b.append(mp.fsum(r * c[r] * b[k - r] for r in range(1, k + 1)) / k)
        a = a0 * b[k]
        weight += a
        total += a * _chi2_sf(n + 2 * k, t / beta)
        if 1 - weight < rel * total:
            return total
    raise AssertionError("Ruben's series did not converge")


def _float(x):
    return float(x)


# --- generation 0 and the truth's value ------------------------------------------------------


@pytest.mark.parametrize("d", [2, 3, 5, 10])
def test_generation_0_is_the_chi_square_tail(d):
    """At generation 0 the model is the truth: its mass outside its own
    Mahalanobis ball of radius k is P(chi2_d > k^2), also the variables'
    attrs["truth_value"]."""
    mu0, cov0 = _truth(d, d)
    ds = ms.simulate(
        ms.Config(family=ms.Gaussian(dim=d, mean=mu0, cov=cov0), loop=ms.Replace(n=d + 3)),
        replicas=3,
        generations=2,
        seed=1,
        record=ms.every(1),
        progress=False,
        metrics="all",
    )
    for k in (2, 3, 4):
        want = special.gammaincc(d / 2, k * k / 2)
        assert ds[f"tail{k}"].attrs["truth_value"] == pytest.approx(want, rel=1e-15)
        np.testing.assert_allclose(ds[f"tail{k}"].isel(generation=0).values, want, rtol=1e-13)
        assert np.all(ds[f"tail{k}"].isel(generation=2).values != want)  # the model moved


# --- closed forms: Sigma = s Sigma0 ----------------------------------------------------------

SCALES = [1e-3, 2.9e-3, 0.0116, 0.03, 0.2, 1.0, 4.0, 30.0, 1e3, 1e6]


@pytest.mark.parametrize("d", [2, 3, 5, 10, 50])
def test_scaled_truth_covariance_gives_the_chi_square_tail(d):
    """Sigma = s Sigma0, mu = mu0: P(chi2_d > k^2 / s), from far below the
    truth's spread (tails down to 1e-300 and underflow) to 1e6 times it.
    Observed <= 0.25 of the bound."""
    mp = _mp()
    mu0, cov0 = _truth(d, 10 + d)
    means = np.tile(mu0, (len(SCALES), 1))
    covs = np.array([s * cov0 for s in SCALES])
    got = _tails(means, covs, mu0, cov0)
    with mp.workdps(30):
        want = np.array([[_float(_ref_isotropic(d, s, 0, k * k)) for k in (2, 3, 4)] for s in SCALES])
    assert (want[0] == 0).any() and ((want > 0) & (want < 1e-250)).any()  # underflow and the edge
    _check(got, want, means, covs, mu0, cov0, f"d={d} central")


@pytest.mark.parametrize("d", [2, 3, 10])
def test_scaled_truth_covariance_with_a_shifted_mean_gives_the_noncentral_chi_square(d):
    """Sigma = s Sigma0, mu = mu0 + shift with (mu - mu0)' Sigma0^-1 (mu - mu0)
    = |b|^2: the noncentral chi-square P(chi2_d(|b|^2 / s) > k^2 / s), from
    narrow models (s = 1e-3: masses down to ~1e-1000, underflowing) to wide
    ones. Observed <= 0.05 of the bound."""
    mp = _mp()
    mu0, cov0 = _truth(d, 20 + d)
    L0 = np.linalg.cholesky(cov0)
    rng = np.random.default_rng(d)
    cases = [
        (1e-3, 0.3),
        (1e-3, 1.0),
        (1e-3, 1.4),
        (0.05, 0.3),
        (0.05, 1.999),
        (0.05, 3.5),
        (1.0, 0.3),
        (1.0, 2.001),
        (1.0, 6.0),
        (20.0, 1.0),
        (20.0, 6.0),
    ]
    means, covs = [], []
    for s, b in cases:
        u = rng.normal(size=d)
        means.append(mu0 + L0 @ (b * u / np.linalg.norm(u)))
        covs.append(s * cov0)
    means, covs = np.array(means), np.array(covs)
    got = _tails(means, covs, mu0, cov0)
    with mp.workdps(30):
        want = np.array([[_float(_ref_isotropic(d, s, b, k * k)) for k in (2, 3, 4)] for s, b in cases])
    assert ((want > 0) & (want < 1e-100)).any() and ((want > 0.01) & (want < 0.99)).any()
    _check(got, want, means, covs, mu0, cov0, f"d={d} noncentral")


# --- anisotropic models ----------------------------------------------------------------------


# d = 2 spectra (lam, beta) and P(Q > k^2) for k = 2, 3, 4 by _ref_2d at 30
# digits (~150 s, so stored; test_stored_2d_references_match_mpmath, slow,
# recomputes them): conditioning up to 1e10, near point masses (lam 1e-12)
# inside, on and outside the balls, huge spreads (1e8), masses down to 1e-236
# and underflowing ones.
REF_2D = [
    ((1.0, 0.3), (0.5, -0.2), (0.09077613949492883, 0.007835934082332857, 0.0002860540205981989)),
    ((0.2, 0.002), (1.0, 0.5), (0.018213789604885157, 6.0189521719409745e-06, 1.6012422884332822e-11)),
    ((0.01, 1e-12), (1.5, 0.0), (2.866515718829108e-07, 3.670966199404938e-51, 3.056696706478255e-138)),
    ((0.01, 1e-12), (0.0, 2.5), (1.0, 9.23033194698936e-62, 4.8801542089456144e-214)),
    ((0.003, 1e-09), (0.2, 0.1), (1.647313735701216e-236, 0.0, 0.0)),
    ((0.005, 0.004), (0.0, 0.0), (1.2095956069739586e-175, 0.0, 0.0)),
    ((1e-06, 1e-08), (1.9995, 0.0), (0.30853841889097516, 0.0, 0.0)),
    ((1e-06, 1e-08), (0.0, 2.0005), (0.9999997169969039, 0.0, 0.0)),
    ((1e8, 1.0), (3.0, 1.0), (0.9998896308855794, 0.99979332897077, 0.9997030364643135)),
    ((1e4, 1e-06), (0.1, 1.0), (0.9861809349580263, 0.9774354381737204, 0.9691058041216563)),
    ((2.0, 2.000000001), (1.0, 1.0), (0.5301303622489854, 0.22586050976755287, 0.06354088276273671)),
    ((0.04, 0.01), (2.5, -2.5), (1.0, 0.9997751093431136, 0.0021000618255321464)),
]


def test_anisotropic_2d_models_against_quadrature():
    """d = 2, any spectrum (REF_2D), on the axes of a diagonal truth, so the
    kernel sees each lam_j to an ulp: a rotated model with conditioning
    1e10 is known only to eps times that (its small eigenvalues are lost in
    the rounding of Sigma), which the rotated cases of the other tests keep
    moderate. Observed <= 0.03 of the bound."""
    mu0, var0 = np.array([0.3, -0.7]), np.array([2.0, 0.5])
    means = np.array([mu0 + np.sqrt(var0) * np.array(beta) for _, beta, _ in REF_2D])
    covs = np.array([np.diag(var0 * np.array(lam)) for lam, _, _ in REF_2D])
    got = _tails(means, covs, mu0, np.diag(var0))
    _check(got, np.array([w for _, _, w in REF_2D]), means, covs, mu0, np.diag(var0), "2-D")


@pytest.mark.slow
def test_stored_2d_references_match_mpmath():
    mp = _mp()
    with mp.workdps(30):
        for lam, beta, want in REF_2D:
            got = [_float(_ref_2d(lam, beta, k * k)) for k in (2, 3, 4)]
            np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


# Spectra for Ruben's series: spread over a factor <= 4 (its cost grows with
# lam_max / lam_min), tails down to ~1e-31.
RUBEN_CASES = [
    ([0.555, 0.1949], [0.5068, 1.133]),
    ([0.05, 0.08, 0.12], [0.3, -0.2, 0.1]),
    ([0.2736, 0.2878, 0.2936, 0.5539], [-0.0405, 0.429, 0.4605, -0.2411]),
    ([1.442, 4.813, 3.235, 4.399, 2.319], [-2.394, 1.235, -0.9383, -0.8189, -2.026]),
    ([0.02, 0.03, 0.05, 0.04, 0.06, 0.08], [0.5, -0.4, 0.3, 0.2, -0.1, 0.6]),
    (
        [0.8691, 1.405, 0.5939, 0.5463, 1.487, 1.479, 0.7758],
        [1.619, 1.748, 1.645, 3.382, 0.2788, 0.003126, 0.9047],
    ),
    (
        [1.585, 1.236, 1.011, 2.406, 2.096, 0.7791, 1.183, 1.942],
        [-0.00492, 0.06714, 0.1229, 0.02309, 0.06127, -0.1095, -0.1176, 0.02362],
    ),
]


def test_anisotropic_models_against_ruben_series():
    """Random rotations of RUBEN_CASES (d = 2..8) in the truth's whitened
    frame: Ruben's positive series. Observed <= 0.05 of the bound."""
    mp = _mp()
    rng = np.random.default_rng(11)
    for i, (lam, beta) in enumerate(RUBEN_CASES):
        d = len(lam)
        mu0, cov0 = _truth(d, 30 + i)
        m, S = _embed(lam, beta, _rotation(d, rng), mu0, cov0)
        got = _tails(m, S[None], mu0, cov0)
        want = []
        for j, k in enumerate((2, 3, 4)):  # enough digits for 1 - sum a_k below 1e-20 P
            with mp.workdps(30 + int(-np.log10(min(got[0, j], 1.0)))):
                want.append(_float(_ruben(lam, [mp.mpf(b) ** 2 / x for b, x in zip(beta, lam)], k * k)))
        _check(got, np.array([want]), m[None], S[None], mu0, cov0, f"Ruben d={d}")


def test_d50_two_eigenvalue_groups_against_the_convolution():
    """d = 50, M's spectrum 0.02 (x10) and 0.2 (x40), central, rotated: the
    convolution of the two scaled chi-squares, P(a X + b Y > t) = P(a X > t)
    + int_0^{t/a} f_X(x) P(b Y > t - a x) dx. Observed <= 0.1 of the bound."""
    mp = _mp()
    d = 50
    mu0, cov0 = _truth(d, 50)
    lam = np.r_[np.full(10, 0.02), np.full(40, 0.2)]
    m, S = _embed(lam, np.zeros(d), _rotation(d, np.random.default_rng(50)), mu0, cov0)
    got = _tails(m, S[None], mu0, cov0)
    with mp.workdps(30):
        a, b = mp.mpf("0.02"), mp.mpf("0.2")
        want = []
        for k in (2, 3, 4):
            t = mp.mpf(k * k)
            f = lambda x: (  # noqa: E731
                x**4 * mp.exp(-x / 2) / (2**5 * mp.gamma(5)) * _chi2_sf(40, (t - a * x) / b)
            )
            want.append(_float(_chi2_sf(10, t / a) + mp.quad(f, [0, 10, 50, t / a])))
    assert 1e-5 < want[2] < want[0] < 0.999  # a tail, not a certainty
    _check(got, np.array([want]), m[None], S[None], mu0, cov0, "d=50 groups")


# --- collapsed directions, point masses, extremes --------------------------------------------


def test_collapsed_directions_and_point_masses_are_exact():
    """A zero Cholesky pivot (the model is flat along a direction): Q = Q0 +
    a 2-D generalized chi-square, Q0 the squared whitened distance of the
    mean from the model's plane (reference: the spectrum of the kernel's own
    factor at 40 digits, Ruben's series; observed <= 0.01 of the bound);
    Q0 >= k^2 gives exactly 1. A point mass
    (cov 0) or a model spread below 1e-100 of the truth's: 1 or 0 as the
    mean lies outside the ball or not."""
    mp = _mp()
    mu0, cov0 = _truth(3, 3)
    L0 = np.linalg.cholesky(cov0)
    S = np.array([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 9.0]]) / 16  # pivots 1/2, 0, 3/4
    LS = np.array([[2.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 3.0]]) / 4  # S's factor, exactly
    A = np.linalg.solve(L0, LS)  # the whitened factor: its range is the model's plane
    U = np.linalg.svd(A)[0]
    n = U[:, 2]  # the flat whitened direction
    cases = [(0.2, 0.1, 0.5), (1.0, -0.3, 2.5), (0.0, 0.0, 3.0), (0.1, 0.0, 4.5), (0.3, 0.3, 1.9)]
    means = np.array([mu0 + L0 @ (b1 * U[:, 0] + b2 * U[:, 1] + q * n) for b1, b2, q in cases])
    covs = np.array([S for _ in cases])
    state, obs = _observe(means, covs, mu0, cov0)
    assert np.all(state[:, 3 + 2] == 0.0)  # the second pivot is exactly 0
    got = obs[:, [3 + 6 + 6 + j for j in TAILS]]
    want = []
    with mp.workdps(40):  # the spectrum of the kernel's own factor, at 40 digits
        for r, (b1, b2, q) in enumerate(cases):
            Lk = np.zeros((3, 3))
            Lk[np.tril_indices(3)] = state[r, 3:9]
            X = mp.inverse(mp.matrix(L0.tolist())) * mp.matrix(Lk.tolist())
            lam, V = mp.eigsy(X * X.T)
            bw = mp.lu_solve(mp.matrix(L0.tolist()), mp.matrix((means[r] - mu0).tolist()))
            beta = [mp.fdot([V[i, j] for i in range(3)], [bw[i] for i in range(3)]) for j in range(3)]
            keep = [j for j in range(3) if lam[j] > mp.mpf(10) ** -30]
            q0 = sum(beta[j] ** 2 for j in range(3) if j not in keep)
            row = []
            for k in (2, 3, 4):
                t = k * k - q0
                if t <= 0:
                    row.append(1.0)
                    continue
                with mp.workdps(60):  # Ruben's series (the plane's spread is within 6x)
                    row.append(
                        _float(_ruben([lam[j] for j in keep], [beta[j] ** 2 / lam[j] for j in keep], t))
                    )
            want.append(row)
    want = np.array(want)
    assert (want == 1.0).any() and (want < 1.0).any()
    _check(got, want, means, covs, mu0, cov0, "flat direction")
    # point masses and spreads below 1e-100 (lam < 1e-200): the indicator of |b| > k
    pts = [(1.5, 0.0), (2.5, 0.0), (3.5, 1e-210), (4.5, 1e-250), (1.0, 1e-210)]
    means = np.array([mu0 + L0 @ np.array([b, 0.0, 0.0]) for b, _ in pts])
    covs = np.array([s * cov0 for _, s in pts])
    got = _tails(means, covs, mu0, cov0)
    want = np.array([[float(b > k) for k in (2, 3, 4)] for b, _ in pts])
    assert np.array_equal(got, want), (got, want)


def test_tails_are_probabilities_decreasing_in_k_on_extreme_models():
    """Random models from near-collapse (factor entries 1e-160) to huge
    spreads (1e150), with zero pivots and far-off means: never NaN, within
    [0, 1], tail2 >= tail3 >= tail4 (to rounding). The JAX twin agrees to
    tests/metric_tolerances.py's TAIL_ND_TOL on the same models (d = 2, 5;
    those within XLA's normal range)."""
    rng = np.random.default_rng(5)
    rows = []
    for d in (2, 3, 5, 8):
        mu0, cov0 = _truth(d, 60 + d)
        L0 = np.linalg.cholesky(cov0)
        for i in range(40):
            span = (-160, 150) if i % 2 else (-8, 2)  # rows from a point mass to 1e150 wide
            F = np.tril(rng.normal(size=(d, d))) * 10 ** rng.uniform(*span, (d, 1))
            if rng.random() < 0.2:
                F[:, rng.integers(d)] = 0.0
            u = rng.normal(size=d)
            dm = u / np.linalg.norm(u) * rng.uniform(0, 6)  # whitened: inside and outside the balls
            rows.append((d, mu0, cov0, mu0 + L0 @ dm, L0 @ F @ F.T @ L0.T))
    for d in (2, 3, 5, 8):
        sel = [r for r in rows if r[0] == d]
        mu0, cov0 = sel[0][1], sel[0][2]
        means = np.array([r[3] for r in sel])
        covs = np.array([r[4] for r in sel])
        state, obs = _observe(means, covs, mu0, cov0)
        base = d + d * (d + 1) // 2 + 6
        got = obs[:, [base + j for j in TAILS]]
        assert np.all((got >= 0.0) & (got <= 1.0)), got[~((got >= 0.0) & (got <= 1.0))]
        assert np.all(got[:, 1] <= got[:, 0] * (1 + 1e-10) + 1e-15)
        assert np.all(got[:, 2] <= got[:, 1] * (1 + 1e-10) + 1e-15)
        assert (got == 0.0).any() and (got == 1.0).any() and ((got > 0) & (got < 1)).any()
        if d in (2, 5):  # (each d compiles the twin's observe: seconds)
            _jax_agrees(d, mu0, cov0, state, obs)


def _jax_agrees(d, mu0, cov0, state, obs):
    """The JAX twin's observe on the kernel's state rows: the tail columns
    within TAIL_ND_TOL (metric_errors), for models XLA represents (it
    flushes subnormals; entries below 1e-150 square into them)."""
    import jax

    from madsim.reference import gaussian_loop as gl

    rows, cols = np.tril_indices(d)
    L0 = np.linalg.cholesky(cov0)
    T = d * (d + 1) // 2
    c = d + 2.0
    p = gl.Params(
        d,
        1,
        0,
        0,
        1.0,
        0.0,
        1.0,
        0.0,
        0.0,
        c,
        0,
        0,
        np.concatenate([mu0, L0[rows, cols]]),
        np.full((2, 2), [0.0, c]),
    )
    head = d + T
    Lk = state[:, d:head]
    normal = np.all((Lk == 0) | (np.abs(Lk) > 1e-150), axis=1) & np.all(np.abs(Lk) < 1e150, axis=1)
    ref = np.asarray(jax.jit(jax.vmap(lambda row: gl.observe(p, row)))(state[normal]))
    base = head + 6
    k_m, r_m = obs[normal, base : base + len(ND_NAMES)], ref[:, base : base + len(ND_NAMES)]
    sig = np.zeros((int(normal.sum()), d, d))
    sig[:, rows, cols] = obs[normal, d:head]
    sig = sig + np.tril(sig, -1).swapaxes(-1, -2)
    with np.errstate(all="ignore"):  # the other metrics of extreme models overflow harmlessly
        errs = metric_errors(k_m, r_m, obs[normal, :d], sig, mu0, cov0, np.ones(int(normal.sum())))
    for k in (2, 3, 4):
        e = errs[f"tail{k}"]
        assert np.all(e <= 1.0), (
            d,
            k,
            np.max(e) * TAIL_ND_TOL,
            k_m[e > 1.0, TAILS[k - 2]],
            r_m[e > 1.0, TAILS[k - 2]],
        )


def test_the_comparison_is_sharp():
    """A relative change of 1e-9 in the model's spread moves the tail by far
    more than the tolerance: the checks above would see such an error."""
    mp = _mp()
    mu0, cov0 = _truth(3, 1)
    s = 0.05
    m, S = mu0[None], (s * cov0)[None]
    got = _tails(m, S, mu0, cov0)
    with mp.workdps(30):
        off = np.array([[_float(_ref_isotropic(3, s * (1 + 1e-9), 0, k * k)) for k in (2, 3, 4)]])
    with pytest.raises(AssertionError, match="tail"):
        _check(got, off, m, S, mu0, cov0, "perturbed")
