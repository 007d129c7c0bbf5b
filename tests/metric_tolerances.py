"""Named tolerances for the metrics against the truth (csrc/madsim/metrics.hpp,
madsim.reference.metrics) in the differential tests
(tests/test_reference_gaussian.py, tests/test_reference_gaussian_loop.py).

Each metric's |kernel - reference| is divided by a scale named below and
compared with its tolerance; equal values (infinities included) count 0. The
errors are not zero for the reasons of the moments' tolerances (XLA's erf /
erfc / log are not libm's, XLA fuses multiply-adds and sums in its own
order; d > 1 uses LAPACK's SVD and XLA's triangular solves against the C++'s
one-sided Jacobi and forward substitution) and because each side computes
the metrics from its own state, which already differs by the moments'
tolerances. Observed maxima: 1500 random one-step cases of the 1-D kernel
and 300 per d in 1, 2, 3, 5 of the loop kernel (tests/strategies.py); each
tolerance leaves >= 30x.
"""

from __future__ import annotations

import numpy as np

from madsim.families.gaussian import METRICS, METRICS_1D_ONLY

NAMES_1D = tuple(METRICS)  # slot order, d = 1
NAMES_ND = tuple(m for m in METRICS if m not in METRICS_1D_ONLY)  # slot order, d > 1
TINY = 1e-280  # below this a tail mass is compared absolutely (XLA flushes subnormals)
EPS = float(np.finfo(np.float64).eps)

# The least accurate input is the 1-D kernel's samples-path variance (its
# scatter cancels: observed 1.5e-14 relative, tests/test_reference_gaussian.py
# STEP_VAR_TOL 1e-12); the metrics inherit it, so the observed maxima below
# are those of test_reference_gaussian.py's cases (the loop kernel's are
# <= 2e-15 in the same units).
#
# Tail masses: scale |value| (1 + x^2) + TINY, x the smaller erfc argument
# (k sigma0 -+ dm) / sigma: a relative error delta of the state moves
# erfc(x / sqrt 2) by a relative ~ x^2 delta. Observed <= 5.3e-15.
TAIL_TOL = 5e-13
# Quantiles mu -+ 3.09 sigma: scale = the data magnitude (|mean| + sigma),
# as the means. Observed <= 1.6e-14.
QUANTILE_TOL = 1e-12
# W2^2: scale (data magnitude^2 + tr Sigma + tr Sigma0) cond(Sigma): a
# difference of terms of that size, the nuclear norm as sensitive as the
# factor. Observed <= 2.2e-15.
W2_TOL = 1e-13
# KL(model || truth), KL(truth || model), trace_ratio: scale (|value| + d)
# cond(Sigma) cond(Sigma0) (the triangular solves with L0 and L; a relative
# error of Sigma moves KL(truth || model) ~ tr(Sigma^-1 Sigma0) / 2 by as
# much, relative). Observed <= 1.5e-14.
KL_TOL = 5e-13
# logdet_ratio: scale d cond(Sigma), as logdet. Observed <= 1.5e-14.
LOGDET_RATIO_TOL = 1e-12
# TV: absolute, scale 1 + data magnitude / sigma0 (TV is Lipschitz in the
# standardised mean and in ln sigma). Observed <= 1.2e-15.
TV_TOL = 5e-14
# Tail masses for d > 1 (csrc/madsim/gchisq.hpp against
# madsim.reference.gchisq: the same contour integral, Jacobi against
# LAPACK's SVD for the spectrum): relative to the smaller side min(P, 1 - P),
# times 1 + the tail's conditioning (tail_conditioning: ~x^2 / 2 of the 1-D
# scale), absolutely below TINY, and to 4 eps near 1 (P = 1 - P(Q <= t)).
# Observed <= 1.1e-12 (6000 one-step cases of the loop kernel, d = 2, 3, 5;
# the largest seen in 1 - P of ill-conditioned models, whose small
# eigenvalues the two eigensolvers round differently).
TAIL_ND_TOL = 5e-11

TOLERANCES = {
    "tail2": TAIL_TOL,
    "tail3": TAIL_TOL,
    "tail4": TAIL_TOL,
    "q001": QUANTILE_TOL,
    "q999": QUANTILE_TOL,
    "w2_sq": W2_TOL,
    "kl_model_truth": KL_TOL,
    "kl_truth_model": KL_TOL,
    "tv": TV_TOL,
    "logdet_ratio": LOGDET_RATIO_TOL,
    "trace_ratio": KL_TOL,
}


def _ratio(diff, scale):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(diff == 0, 0.0, np.where(scale > 0, diff / scale, np.inf))


def _diff(k, r):
    """|k - r|, 0 where equal (equal infinities included), inf where one is NaN."""
    with np.errstate(invalid="ignore"):
        d = np.where(k == r, 0.0, np.abs(k - r))
    return np.nan_to_num(d, nan=np.inf)


def _cond(S):
    w = np.linalg.eigvalsh(S)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.maximum(1.0, np.where(w[..., 0] > 0, w[..., -1] / w[..., 0], np.inf))


def tail_conditioning(mean, cov, mu0, cov0, t):
    """t (|x0| + K''(x0)^-1/2) [...], the relative sensitivity of P(Q > t) (or
    of P(Q <= t), the smaller) to a relative change of t, equivalently of
    the model's spread: Q = (x - mu0)' Sigma0^-1 (x - mu0), x ~ N(mean, cov),
    K its cumulant generating function, x0 the saddle point (K'(x0) = t). In
    a tail P ~ exp(K(x0) - x0 t) moves by |x0| t; near the centre (x0 ~ 0) by
    t times the density, ~ t / sd(Q) = t K''^-1/2. By bisection on
    ln(1 - 2 lam_max x0) over the whitened spectrum (numpy, independent of
    both twins); 0 where the model is a point mass."""
    L0 = np.linalg.cholesky(cov0)
    A = np.linalg.solve(L0, cov)
    M = np.linalg.solve(L0, np.swapaxes(A, -1, -2))
    M = 0.5 * (M + np.swapaxes(M, -1, -2))
    lam, U = np.linalg.eigh(M)
    lam = np.maximum(lam, 0.0)
    b = np.linalg.solve(L0, (mean - mu0)[..., None])[..., 0]
    beta2 = np.einsum("...ij,...i->...j", U, b) ** 2
    lmax = lam[..., -1:]
    ok = lmax[..., 0] > 1e-200
    lmax = np.where(lmax > 1e-200, lmax, 1.0)
    lo, hi = np.full(lmax.shape[:-1], -700.0), np.full(lmax.shape[:-1], 700.0)
    with np.errstate(all="ignore"):
        for _ in range(80):
            v = 0.5 * (lo + hi)
            w = (1 - lam / lmax) + lam / lmax * np.exp(v)[..., None]
            k1 = np.sum(lam / w + beta2 / w**2, axis=-1)
            above = ~(k1 <= t)  # K' > t (or overflowed): the root lies at larger v
            lo, hi = np.where(above, v, lo), np.where(above, hi, v)
        W = np.exp(0.5 * (lo + hi))
        x0 = (1 - W) / (2 * lmax[..., 0])
        w = (1 - lam / lmax) + lam / lmax * W[..., None]
        k2 = np.sum(2 * (lam / w) ** 2 + 4 * (lam / w) * (beta2 / w / w), axis=-1)
        cond = np.where(ok, (np.abs(x0) + 1 / np.sqrt(k2)) * t, 0.0)
    # no saddle (Q's constant part, from directions the model lacks, exceeds t):
    # P = 1 exactly, nothing to be sensitive
    return np.nan_to_num(cond, nan=0.0, posinf=0.0)


def metric_errors(k, r, mean, cov, mu0, cov0, data_scale):
    """name -> error / tolerance for the metric columns k, r [..., n_metrics]
    (slot order: NAMES_1D for d = 1, NAMES_ND for d > 1) of models with
    kernel means [..., d] and covariances [..., d, d] against the truth
    (mu0 [d], cov0 [d, d]); data_scale [...] the magnitude of the data
    (|mean| + spread, as the moments' mean tolerance uses)."""
    d = mu0.shape[0]
    names = NAMES_1D if d == 1 else NAMES_ND
    dm = mean - mu0
    tr, tr0 = np.trace(cov, axis1=-2, axis2=-1), np.trace(cov0)
    cond, cond0 = _cond(cov), _cond(cov0)
    out = {}
    for j, name in enumerate(names):
        kv, rv = k[..., j], r[..., j]
        diff = _diff(kv, rv)
        if name.startswith("tail") and d > 1:
            small = np.minimum(np.abs(kv), np.abs(1.0 - kv))
            tc = tail_conditioning(mean, cov, mu0, cov0, float(name[-1]) ** 2)
            ulp = np.where(np.abs(kv) > 0.5, 4 * EPS / TAIL_ND_TOL, 0.0)  # 1 - P below eps
            out[name] = _ratio(diff, small * (1.0 + tc) + ulp + TINY) / TAIL_ND_TOL
            continue
        if name.startswith("tail"):
            kk = float(name[-1])
            sd, sd0 = np.sqrt(cov[..., 0, 0]), np.sqrt(cov0[0, 0])
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(
                    sd > 0, np.minimum(np.abs(kk * sd0 - dm[..., 0]), np.abs(kk * sd0 + dm[..., 0])) / sd, 0.0
                )
            scale = np.abs(kv) * (1.0 + np.minimum(x * x, 1e300)) + TINY
        elif name in ("q001", "q999"):
            scale = data_scale
        elif name == "w2_sq":
            scale = (data_scale**2 + tr + tr0) * cond
        elif name in ("kl_model_truth", "kl_truth_model", "trace_ratio"):
            scale = (np.where(np.isfinite(kv), np.abs(kv), 0.0) + d) * cond * cond0
        elif name == "logdet_ratio":
            scale = d * cond
        else:  # tv
            scale = 1.0 + data_scale / np.sqrt(cov0[0, 0])
        out[name] = _ratio(diff, scale) / TOLERANCES[name]
    return out
