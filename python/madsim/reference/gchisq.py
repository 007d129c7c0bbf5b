"""Upper tail of a generalized (noncentral) chi-square, in JAX.

Mirrors csrc/madsim/gchisq.hpp: P(Q > t) for Q = sum_j (sqrt(lam_j) Z_j +
beta_j)^2 by the trapezoidal rule on the Laplace inversion integral along the
hyperbola through the saddle point (the method, its constants and its
accuracy are documented there). The same steps in the same order: the
point-mass and constant-part shortcuts, the safeguarded Newton for the saddle
in ln w (a ``lax.while_loop`` with the C++'s bracket, tolerance and
iteration cap), the shift of x0 near the centre, the node spacing, and the
sequential sum with the C++'s stopping rule (another ``lax.while_loop``).
The three radii run in lockstep, each with its own stop.

Where the twins part: XLA's log1p, exp, expm1, atan2 are not libm's and
XLA may fuse multiply-adds; the sums over terms are XLA reductions. So
values agree to the tolerance of tests/metric_tolerances.py (relative, times
the problem's conditioning), not bit for bit.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import lax

# Mirror csrc/madsim/gchisq.hpp.
LAM_POINT = 1e-200
TAN_PI_8 = 0.41421356237309504880
STRIP = 0.8
LOG_ERR = 40.0
STOP = 1e-17
MAX_NODES = 2000
MAX_NEWTON = 200
V_TOL = 1e-10
V_MAX = 700.0


def cums(lam, beta2, w):
    """K', K'', K''' from w [..., n] (gchisq_cums), summed over the last axis."""
    lp = lam / w
    bp = beta2 / w / w
    return (
        jnp.sum(lp + bp, -1),
        jnp.sum(2.0 * lp * lp + 4.0 * lp * bp, -1),
        jnp.sum(8.0 * lp * lp * lp + 24.0 * lp * lp * bp, -1),
    )


def _ws(lam, lmax, W):
    rho = lam / lmax
    return (1.0 - rho) + rho * W[..., None]


def saddle_w(lam, beta2, lmax, t):
    """The saddle's W = 1 - 2 lam_max x for each t [K] (gchisq_saddle_w)."""
    lt = jnp.log(t)
    K = t.shape[0]

    def body(c):
        it, v, lo, hi, done = c
        W = jnp.exp(v)
        k1, k2, _ = cums(lam, beta2, _ws(lam, lmax, W))
        g = jnp.log(k1) - lt
        dg = -(k2 / k1) * (W / (2.0 * lmax))
        right = ~(g <= 0.0)  # K' overflowed to inf (or NaN): too far right
        lo2 = jnp.where(right, v, lo)
        hi2 = jnp.where(right, hi, v)
        ok = jnp.isfinite(g) & jnp.isfinite(dg) & (dg < 0.0)
        vn = jnp.where(ok, v - g / jnp.where(ok, dg, -1.0), jnp.nan)
        newton = jnp.abs(vn - v) <= V_TOL
        vn = jnp.where(newton | ((vn > lo2) & (vn < hi2)), vn, 0.5 * (lo2 + hi2))
        stop = newton | (hi2 - lo2 <= V_TOL)
        keep = lambda new, old: jnp.where(done, old, new)  # noqa: E731
        return it + 1, keep(vn, v), keep(lo2, lo), keep(hi2, hi), done | stop

    init = (0, jnp.zeros(K), jnp.full(K, -V_MAX), jnp.full(K, V_MAX), jnp.zeros(K, bool))
    _, v, _, _, _ = lax.while_loop(lambda c: (c[0] < MAX_NEWTON) & ~jnp.all(c[4]), body, init)
    return jnp.exp(v)


def pole_angle(x0, a, b):
    """Smallest |Im v| at which D(v) = -x0 (gchisq_pole_angle)."""
    R, psi = jnp.hypot(a, b), jnp.arctan2(a, b)
    xn = (-x0 + a) / R
    xp = (x0 - a) / R
    neg = jnp.where(xn < 1.0, jnp.arcsin(jnp.minimum(xn, 1.0)) - psi, math.pi / 2)
    pos = jnp.where(jnp.abs(xp) < 1.0, jnp.arcsin(jnp.clip(xp, -1.0, 1.0)) + psi, math.pi / 2)
    return jnp.where(x0 < 0.0, neg, pos)


def upper(lam, beta2, t, bsq):
    """P(Q > t_k) for each t [K] (gchisq_upper): lam, beta2 [n], bsq = sum beta2."""
    lam, beta2, t = jnp.asarray(lam), jnp.asarray(beta2), jnp.asarray(t)
    lmax = jnp.max(jnp.maximum(lam, 0.0))
    q0 = jnp.sum(jnp.where(lam > 0.0, 0.0, beta2))
    point = ~(lmax >= LAM_POINT)
    sure = t <= q0
    # the general path on harmless inputs where a shortcut answers
    gen = ~point
    lam_g = jnp.where(gen, lam, 1.0)
    beta2_g = jnp.where(gen, beta2, 0.0)
    lmax_g = jnp.where(gen, lmax, 1.0)
    t_g = jnp.where(sure | point, 1.0 + jnp.sum(lam_g), t)
    W = saddle_w(lam_g, beta2_g, lmax_g, t_g)
    w0 = _ws(lam_g, lmax_g, W)  # [K, n]
    s_hat = (1.0 - W) / (2.0 * lmax_g)
    sig = 1.0 / jnp.sqrt(cums(lam_g, beta2_g, w0)[1])
    up = s_hat >= sig
    shift = ~up & (s_hat > -sig)
    x0 = jnp.where(shift, -sig, s_hat)
    w0 = jnp.where(shift[:, None], 1.0 + 2.0 * lam_g * sig[:, None], w0)
    k1, k2, _ = cums(lam_g, beta2_g, w0)
    g0 = k1 - t_g
    b = 1.0 / jnp.sqrt(k2)
    a = TAN_PI_8 * b
    omega = STRIP * jnp.minimum(math.pi / 8, pole_angle(x0, a, b))
    h = 2.0 * math.pi * omega / LOG_ERR
    e0 = -x0 * t_g + jnp.sum(-0.5 * jnp.log(w0) + beta2_g * x0[:, None] / w0, -1)
    eps = 2.0 * lam_g / w0
    cc = beta2_g / w0 / w0
    live = lam_g > 0.0

    def node(k):
        v = k * h
        em = jnp.expm1(v)
        ev = em + 1.0
        ch1 = em * em / (2.0 * ev)
        sh, ch = 0.5 * (em + em / ev), 1.0 + ch1
        dr, di = a * ch1, b * sh
        zr, zi = eps * dr[:, None], eps * di[:, None]
        mr, mi = 1.0 - zr, -zi
        den = mr * mr + mi * mi
        qr, qi = (zr * mr + zi * mi) / den, (zi * mr - zr * mi) / den
        tr = -0.5 * (0.5 * jnp.log1p(zr * (zr - 2.0) + zi * zi) + zr) + cc * (
            dr[:, None] * qr - di[:, None] * qi
        )
        ti = -0.5 * (jnp.arctan2(mi, mr) + zi) + cc * (dr[:, None] * qi + di[:, None] * qr)
        pr = dr * g0 + jnp.sum(jnp.where(live, tr, 0.0), -1)
        pi = di * g0 + jnp.sum(jnp.where(live, ti, 0.0), -1)
        mag = jnp.exp(pr)
        er, ei = mag * jnp.cos(pi), mag * jnp.sin(pi)
        nr, ni = er * (b * ch) + ei * (a * sh), ei * (b * ch) - er * (a * sh)
        sr, si = x0 + dr, di
        sden = sr * sr + si * si
        return (nr * sr + ni * si) / sden, (ni * sr - nr * si) / sden

    def body(c):
        k, S, done = c
        fr, fi = node(k)
        S2 = S + jnp.where(k == 0, fr, 2.0 * fr)
        stop = (k > 0) & (2.0 * jnp.hypot(fr, fi) <= STOP * jnp.abs(S2))
        return k + 1, jnp.where(done, S, S2), done | stop

    init = (0, jnp.zeros_like(t_g), jnp.zeros(t_g.shape, bool))
    _, S, _ = lax.while_loop(lambda c: (c[0] <= MAX_NODES) & ~jnp.all(c[2]), body, init)
    side = jnp.where(up, S, -S)
    ok = side > 0.0
    p = jnp.where(
        ok, jnp.exp(jnp.minimum(0.0, e0 + jnp.log(jnp.where(ok, h * side, 1.0) / (2.0 * math.pi)))), 0.0
    )
    p = jnp.where(up, p, 1.0 - p)
    p = jnp.where(sure, 1.0, p)
    return jnp.where(point, jnp.where(bsq > t, 1.0, 0.0), p)
