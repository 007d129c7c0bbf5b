"""The metrics against the truth that observe() computes in the kernels
(csrc/madsim/metrics.hpp): each one against its closed form computed here
independently with numpy / scipy from the recorded mean, var or cov; the
collapse detectors against a brute-force pass over every-generation records;
degenerate (collapsed) models; the choice of what is recorded.

The JAX twin's metrics are compared with the kernel's in
tests/test_reference_gaussian*.py (tests/metric_tolerances.py).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.optimize
from scipy import stats

import madsim as ms
from madsim._backend import core
from madsim.families.gaussian import METRICS, METRICS_1D_ONLY

# Closed forms here and in the kernel are different float programs of the
# same formula (scipy's norm.sf / ppf, numpy's inverses and slogdet, scipy's
# sqrtm against erfc, triangular solves and one-sided Jacobi): relative
# agreement to REL, or absolute to ABS times the quantity's natural scale.
REL = 1e-11
ABS = 1e-12
# TV by adaptive quadrature of |p - q| / 2 between the crossings (observed
# <= 3e-14 from the kernel's; quad's own error dominates).
TV_QUAD_ABS = 1e-10
# scipy.linalg.sqrtm (Schur method) of Sigma0^1/2 Sigma Sigma0^1/2 loses
# accuracy with its condition number (the replace run below reaches ~2e8): W2^2
# is compared to 1e-7 of tr(Sigma + Sigma0) + |dmu|^2 (observed <= 5e-14; the
# kernel's own accuracy is checked against mpmath below).
W2_SQRTM_REL = 1e-7

ND_NAMES = [m for m in METRICS if m not in METRICS_1D_ONLY]  # d > 1 metric slots, in order
MU0, VAR0 = 0.7, 2.5
COV3 = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
MEAN3 = np.array([0.5, -1.0, 2.0])


def _cfg_1d(kernel: str, **kw):
    """A collapsing 1-D replace loop on the Gaussian1D kernel, or the same on
    GaussianLoop (a list schedule routes it there)."""
    fam = ms.Gaussian(mean=MU0, var=VAR0)
    loop = ms.Replace(n=4) if kernel == "gaussian1d" else ms.Replace(n=[4] * 400)
    return ms.Config(family=fam, loop=loop, **kw)


def _run_1d(kernel, G=60, R=64, **kw):
    kw.setdefault("metrics", "all")
    ds = ms.simulate(
        _cfg_1d(kernel), replicas=R, generations=G, seed=11, record=ms.every(1), progress=False, **kw
    )
    assert ds.attrs["kernel"] == kernel
    return ds


def _close(got, want, scale, what, rel=REL, abs_=ABS):
    got, want = np.asarray(got, float), np.asarray(want, float)
    same = got == want
    with np.errstate(invalid="ignore"):
        err = np.where(same, 0.0, np.abs(got - want))
    bound = rel * np.abs(want) + abs_ * scale
    bad = ~(err <= bound)
    assert not bad.any(), (
        f"{what}: {int(bad.sum())} values off, e.g. got {got[bad][:3]} "
        f"want {want[bad][:3]} (error {err[bad][:3]})"
    )


def _tv_quad(m, s, m0, s0):
    """TV of N(m, s^2) and N(m0, s0^2) by adaptive quadrature of |p - q| / 2
    over +-40 spreads of each, piecewise between breakpoints at each
    density's centre and +-1, 3, 10 spreads (a narrow peak is never stepped
    over) and at the crossings of the log densities (found here by bisection
    on a fine grid), so every piece is smooth."""
    g = lambda x: stats.norm.logpdf(x, m, s) - stats.norm.logpdf(x, m0, s0)  # noqa: E731
    cuts = sorted({c + k * w for c, w in ((m, s), (m0, s0)) for k in (-40, -10, -3, -1, 0, 1, 3, 10, 40)})
    grid = np.unique(np.concatenate([np.linspace(a, b, 200) for a, b in zip(cuts[:-1], cuts[1:])]))
    gv = g(grid)
    roots = [
        scipy.optimize.brentq(g, grid[i], grid[i + 1], xtol=1e-300, rtol=1e-15)
        for i in np.nonzero(np.sign(gv[:-1]) * np.sign(gv[1:]) < 0)[0]
    ]
    cuts = sorted(set(cuts) | set(roots))
    f = lambda x: abs(stats.norm.pdf(x, m, s) - stats.norm.pdf(x, m0, s0))  # noqa: E731
    total = 0.0
    with warnings.catch_warnings():  # quad warns of roundoff where p ~ q; the sum is what is checked
        warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
        for a, b in zip(cuts[:-1], cuts[1:]):
            total += scipy.integrate.quad(f, a, b, limit=200, epsabs=1e-14, epsrel=1e-12)[0]
    return 0.5 * total


def _tv_mp(m, v, m0, v0):
    """TV at 50 digits beyond the spreads' ratio (mpmath) from the crossings
    of the densities (the roots of the quadratic log p = log q, by the
    textbook formula: no cancellation matters at this precision). For models
    too narrow (or wide) for the quadrature."""
    mp = pytest.importorskip("mpmath")
    with mp.workdps(50 + int(abs(math.log10(v / v0)))):
        M, S, M0, S0 = mp.mpf(m), mp.sqrt(mp.mpf(v)), mp.mpf(m0), mp.sqrt(mp.mpf(v0))
        a = 1 / S0**2 - 1 / S**2
        b = 2 * (M / S**2 - M0 / S0**2)
        c = M0**2 / S0**2 - M**2 / S**2 + 2 * mp.log(S0 / S)
        disc = mp.sqrt(b * b - 4 * a * c)
        r1, r2 = sorted([(-b - disc) / (2 * a), (-b + disc) / (2 * a)])
        mass = lambda mu, sd: mp.ncdf(r2, mu, sd) - mp.ncdf(r1, mu, sd)  # noqa: E731
        return float(abs(mass(M, S) - mass(M0, S0)))


@pytest.mark.parametrize("kernel", ["gaussian1d", "gaussian_loop"])
def test_1d_metrics_match_their_closed_forms(kernel):
    ds = _run_1d(kernel)
    assert set(METRICS) <= set(ds.data_vars)
    mu, var = ds["mean"].values, ds["var"].values
    sd, sd0 = np.sqrt(var), math.sqrt(VAR0)
    assert var.min() < 1e-6 * VAR0 and var.max() > VAR0  # collapsed and spread-out models
    for k in (2, 3, 4):
        want = stats.norm.sf(MU0 + k * sd0, mu, sd) + stats.norm.cdf(MU0 - k * sd0, mu, sd)
        # scipy flushes tails below ~1e-308 to 0; the kernel keeps subnormals
        _close(ds[f"tail{k}"], want, 1.0, f"tail{k}", rel=1e-10, abs_=1e-300)
        truth = ds[f"tail{k}"].attrs["truth_value"]
        assert truth == pytest.approx(2 * stats.norm.sf(k), rel=1e-15)
        assert ds[f"tail{k}"].isel(generation=0).values == pytest.approx(truth, rel=1e-15)
    for q, name in ((1e-3, "q001"), (1 - 1e-3, "q999")):
        _close(ds[name], stats.norm.ppf(q, mu, sd), np.abs(mu) + sd, name)
        assert ds[name].attrs["truth_value"] == pytest.approx(stats.norm.ppf(q, MU0, sd0), rel=1e-15)
    dm = mu - MU0
    _close(ds["w2_sq"], dm**2 + (sd - sd0) ** 2, dm**2 + var + VAR0, "w2_sq")
    rho = var / VAR0
    _close(
        ds["kl_model_truth"],
        0.5 * (rho + dm**2 / VAR0 - 1 - np.log(rho)),
        1.0 + np.abs(np.log(rho)),
        "kl_model_truth",
    )
    _close(
        ds["kl_truth_model"],
        0.5 * (1 / rho + dm**2 / var - 1 + np.log(rho)),
        1.0 + np.abs(np.log(rho)),
        "kl_truth_model",
    )
    _close(ds["logdet_ratio"], np.log(rho), 1.0, "logdet_ratio")
    _close(ds["trace_ratio"], rho, 0.0, "trace_ratio")
    _close(ds["logdet"], np.log(var), 1.0, "logdet")
    _close(ds["mean_sq"], dm**2, dm**2 + 1.0, "mean_sq")
    # TV by quadrature on a subsample (each quad is ~1 ms)
    tv = ds["tv"].values
    for r, g in [(r, g) for r in range(0, 64, 13) for g in range(0, 61, 10)]:
        if sd[r, g] >= 1e-3 * sd0:
            want = _tv_quad(mu[r, g], sd[r, g], MU0, sd0)
            assert abs(tv[r, g] - want) <= TV_QUAD_ABS, (r, g, tv[r, g], want)
        else:
            want = _tv_mp(mu[r, g], var[r, g], MU0, VAR0)
            assert abs(tv[r, g] - want) <= 1e-15, (r, g, tv[r, g], want)
    assert np.all(
        ds.isel(generation=0)[["w2_sq", "kl_model_truth", "kl_truth_model", "tv", "logdet_ratio"]].to_array()
        == 0.0
    )


def test_tv_where_the_crossing_formula_is_delicate():
    """Equal spreads (one crossing), spreads equal to rounding (a root near
    infinity), a far-off narrow model and a wide one: the kernel's TV against
    quadrature; models far narrower or wider than the truth (crossings closer
    to the mean than the spacing of doubles there) against 50 digits."""
    states = [
        (MU0 + 0.3, VAR0),
        (MU0, VAR0 * (1 + 1e-15)),
        (MU0 + 1e-9, VAR0 * (1 - 1e-12)),
        (MU0 - 0.2, VAR0 * 1.3),
        (MU0 + 5.0, VAR0 * 1e-4),
        (MU0, VAR0 * 50.0),
        (MU0 + 40.0, VAR0),
        (MU0, VAR0 * 1e-6),
    ]
    rec = _kernel_records(states)
    tv = rec[:, 4 + list(METRICS).index("tv")]
    for (m, v), got in zip(states, tv):
        assert abs(got - _tv_quad(m, math.sqrt(v), MU0, math.sqrt(VAR0))) <= TV_QUAD_ABS, (m, v, got)
    extreme = [
        (MU0 + 1.0, VAR0 * 1e-30),
        (MU0 + 0.3, 1e-300),
        (MU0 - 2.0, VAR0 * 1e-8),
        (MU0 + 3.0, VAR0 * 1e30),
        (MU0, VAR0 * 1e12),
        (MU0 + 1e-3, VAR0 * 1e-20),
    ]
    rec = _kernel_records(extreme)
    for (m, v), got in zip(extreme, rec[:, 4 + list(METRICS).index("tv")]):
        want = _tv_mp(m, v, MU0, VAR0)
        assert abs(got - want) <= 1e-15, (m, v, got, want)


def _kernel_records(states):
    """Gaussian1D observe rows [R, O] of the given (mean, var) states: a chunk
    that starts at generation 0 records the row it is given (Gaussian1D's
    init keeps the caller's row)."""
    p = core.Gaussian1DParams(4.0, 1.0, 0, 0, MU0, VAR0)
    R = len(states)
    state = np.array([(m, v, 0.0) for m, v in states], dtype=np.float64)  # [mean, v, j = 0]
    rec = np.full((R, 1, p.observe_size), np.nan)
    core.advance_gaussian1d(
        p,
        state,
        np.arange(R, dtype=np.uint32),
        1,
        0,
        0,
        np.array([0], np.uint32),
        0,
        rec,
        np.zeros((0, 3)),
        np.zeros((R, 0), np.int64),
        1,
    )
    return rec[:, 0]


def _loop_observe(mean, cov, mu0=MEAN3, cov0=COV3):
    """GaussianLoop's (state row, observe row) for the model N(mean, cov)
    against the truth N(mu0, cov0): one Augment step with weight 1 fits the
    fixed real set alone, whose moments are set to (mean, c cov) (MLE), so
    the model is exactly (mean, the kernel's Cholesky factor of cov)."""
    d = len(mu0)
    rows, cols = np.tril_indices(d)
    L0 = np.linalg.cholesky(cov0)
    truth = np.concatenate([mu0, L0[rows, cols]])
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
        real_fixed=8.0,
        subsample_n=0,
        pool_cap=0,
        truth=truth,
        counts=np.full((2, 2), [0.0, d + 2.0]),
    )
    c = 8.0
    state = np.concatenate([truth, [0.0, 0.0, 0.0], [c], mean, (c * np.asarray(cov))[rows, cols]])
    state = state[None, :].copy()
    rec = np.full((1, 1, p.observe_size), np.nan)
    core.advance_gaussian_loop(
        p,
        state,
        np.zeros(1, np.uint32),
        1,
        1,
        2,
        np.array([2], np.uint32),
        0,
        rec,
        np.zeros((0, 3)),
        np.zeros((1, 0), np.int64),
        1,
    )
    return state[0], rec[0, 0]


@pytest.mark.parametrize("loop", ["replace", "fresh"])
def test_nd_metrics_match_their_closed_forms(loop):
    fam = ms.Gaussian(dim=3, mean=MEAN3, cov=COV3)
    lp = ms.Replace(n=10) if loop == "replace" else ms.Fresh(real=2, synthetic=6)
    ds = ms.simulate(
        ms.Config(family=fam, loop=lp),
        replicas=24,
        generations=25,
        seed=5,
        record=ms.every(1),
        progress=False,
        metrics="all",
    )
    assert not set(METRICS_1D_ONLY) & set(ds.data_vars)
    mu = ds["mean"].values.reshape(-1, 3)
    cov = ds["cov"].values.reshape(-1, 3, 3)
    d = 3
    inv0 = np.linalg.inv(COV3)
    _, ld0 = np.linalg.slogdet(COV3)
    sq0 = scipy.linalg.sqrtm(COV3).real
    got = {
        m: ds[m].values.ravel()
        for m in ("w2_sq", "kl_model_truth", "kl_truth_model", "logdet_ratio", "trace_ratio")
    }
    conds = np.linalg.cond(cov)
    assert conds.max() > 1e3  # the collapse makes them ill-conditioned (replace: up to ~2e8)
    for i in range(mu.shape[0]):
        S, dm = cov[i], mu[i] - MEAN3
        _, ld = np.linalg.slogdet(S)
        ldr = ld - ld0
        tr = np.trace(inv0 @ S)
        inv = np.linalg.inv(S)
        scale = 1.0 + abs(ldr) + tr
        _close(got["logdet_ratio"][i], ldr, conds[i], "logdet_ratio", rel=0.0, abs_=1e-11)
        _close(got["trace_ratio"][i], tr, 0.0, "trace_ratio")
        _close(
            got["kl_model_truth"][i],
            0.5 * (tr + dm @ inv0 @ dm - d - ldr),
            scale * conds[i],
            "kl_model_truth",
            rel=1e-10,
            abs_=1e-13,
        )
        # numpy inverts the recorded (rounded) Sigma: relative error ~ eps cond(Sigma)
        want = 0.5 * (np.trace(inv @ COV3) + dm @ inv @ dm - d + ldr)
        _close(
            got["kl_truth_model"][i],
            want,
            (scale + abs(want)) * conds[i],
            "kl_truth_model",
            rel=0.0,
            abs_=1e-13,
        )
        cross = scipy.linalg.sqrtm(sq0 @ S @ sq0).real
        w2 = dm @ dm + np.trace(S) + np.trace(COV3) - 2 * np.trace(cross)
        _close(
            got["w2_sq"][i], w2, dm @ dm + np.trace(S) + np.trace(COV3), "w2_sq", rel=0.0, abs_=W2_SQRTM_REL
        )


def test_w2_nuclear_norm_is_accurate_for_tiny_singular_values():
    """W2^2 of nearly singular models down to near point masses: the nuclear
    norm of L0' L by one-sided Jacobi keeps the small singular values (a
    square root of eigenvalues would lose half their digits), against mpmath
    at 50 digits on the kernel's own factor L."""
    mp = pytest.importorskip("mpmath")
    rng = np.random.default_rng(3)
    d = 3
    L0 = np.linalg.cholesky(COV3)
    rows, cols = np.tril_indices(d)
    for scale in (1.0, 1e-4, 1e-8):
        F = np.tril(rng.uniform(-1, 1, (d, d)), -1) + np.diag([1.0, 1e-3, 1e-6])
        F = scale * F
        dmean = rng.uniform(-1, 1, d)
        state, obs = _loop_observe(MEAN3 + dmean, F @ F.T)
        L = np.zeros((d, d))
        L[rows, cols] = state[d : d + 6]
        mu = state[:d]
        got = obs[d + 6 + 6 + ND_NAMES.index("w2_sq")]
        with mp.workdps(50):
            A = mp.matrix(L0.T.tolist()) * mp.matrix(L.tolist())
            nuc = sum(mp.svd_r(A, compute_uv=False))
            dm = [mp.mpf(x) - mp.mpf(y) for x, y in zip(mu, MEAN3)]
            want = (
                sum(x * x for x in dm)
                + sum(mp.mpf(x) ** 2 for x in L.ravel())
                + sum(mp.mpf(x) ** 2 for x in L0.ravel())
                - 2 * nuc
            )
        size = float(sum(x * x for x in dm)) + np.sum(L * L) + np.trace(COV3)
        assert abs(got - float(want)) <= 1e-15 * size, (scale, got, float(want))


# --- collapse detectors on the metrics -------------------------------------------------------

DETECT_1D = [
    ms.FirstPassage("tail3", below=1e-4),
    ms.FirstPassage("kl_model_truth", above=2.0),
    ms.FirstPassage("kl_truth_model", above=50.0),
    ms.FirstPassage("w2_sq", above=1.0),
    ms.FirstPassage("tv", above=0.9),
    ms.FirstPassage("q999", below=MU0 + 2.0),
    ms.FirstPassage("logdet_ratio", below=-5.0),
    ms.FirstPassage("trace_ratio", below=0.1),
    ms.FirstPassage("tail4", above=1e-3),
]
DETECT_ND = [
    ms.FirstPassage("w2_sq", above=2.0),
    ms.FirstPassage("kl_model_truth", above=3.0),
    ms.FirstPassage("kl_truth_model", above=100.0),
    ms.FirstPassage("logdet_ratio", below=-8.0),
    ms.FirstPassage("trace_ratio", below=0.5),
    ms.FirstPassage("tail3", below=1e-6),
    ms.FirstPassage("tail2", above=0.5),
]


def _brute_first(ds, det):
    """First recorded generation whose value crosses det's threshold, -1 if none."""
    v = ds[det.metric].values
    hit = v <= det.below if det.below is not None else v >= det.above
    return np.where(hit.any(axis=1), ds["generation"].values[np.argmax(hit, axis=1)], -1)


@pytest.mark.parametrize(
    "cfg",
    [
        _cfg_1d("gaussian1d"),
        _cfg_1d("gaussian_loop"),
        ms.Config(family=ms.Gaussian(dim=3, mean=MEAN3, cov=COV3), loop=ms.Replace(n=10)),
    ],
    ids=["gaussian1d", "gaussian_loop-d1", "gaussian_loop-d3"],
)
def test_detectors_match_a_brute_force_pass_over_every_generation(cfg):
    """Each detector's first passage equals the first generation at which the
    every-generation record crosses; the same with only the last generation
    recorded, or other variables recorded (detectors watch any metric)."""
    det = DETECT_1D if cfg.family.dim == 1 else DETECT_ND
    G, R = 80, 200
    full = ms.simulate(
        cfg, replicas=R, generations=G, seed=7, record=ms.every(1), detect=det, progress=False, metrics="all"
    )
    for d in det:
        got = full[d.label].values
        want = _brute_first(full, d)
        assert np.array_equal(got, want), (d.label, np.nonzero(got != want)[0][:5])
        assert (got >= 0).any() and (got < 0).any() or (got > 0).all(), d.label  # not vacuous
    sparse = ms.simulate(
        cfg, replicas=R, generations=G, seed=7, record=[G], detect=det, progress=False, metrics=["logdet"]
    )
    assert list(sparse.data_vars) == ["logdet", "state", *[d.label for d in det]]
    for d in det:
        assert np.array_equal(sparse[d.label].values, full[d.label].values), d.label


# --- degenerate models -----------------------------------------------------------------------


def _degenerate_expectations(mu, mu0, sd0):
    """The defined values of a point mass at mu against N(mu0, sd0^2)."""
    dm = mu - mu0
    return {
        "tail2": float(abs(dm) > 2 * sd0),
        "tail3": float(abs(dm) > 3 * sd0),
        "tail4": float(abs(dm) > 4 * sd0),
        "q001": mu,
        "q999": mu,
        "w2_sq": dm * dm + sd0 * sd0,
        "kl_model_truth": np.inf,
        "kl_truth_model": np.inf,
        "tv": 1.0,
        "logdet_ratio": -np.inf,
        "trace_ratio": 0.0,
    }


def test_collapsed_1d_models_give_defined_values_never_nan():
    """var = 0 (a point mass): tail mass 0 or 1, quantiles at the mean, both
    KLs +inf, TV 1, logdet_ratio -inf; subnormal variances: finite or +inf.
    Both kernels, and the JAX twin of Gaussian1D."""
    from madsim.reference import gaussian

    sd0 = math.sqrt(VAR0)
    states = [(MU0, 0.0), (MU0 + 10.0, 0.0), (MU0 - 2.5 * sd0, 0.0), (MU0 + 3.5 * sd0, 0.0)]
    tiny = [(MU0, 5e-324), (MU0 + 1.0, 1e-310), (MU0 - 0.1, 1e-300)]
    names = ["mean", "var", "logdet", "mean_sq", *METRICS]
    rec = _kernel_records(states + tiny)
    assert not np.isnan(rec).any()
    for (mu, _), row in zip(states, rec):
        for name, want in _degenerate_expectations(mu, MU0, sd0).items():
            assert row[names.index(name)] == want, (mu, name, row[names.index(name)], want)
        assert row[names.index("logdet")] == -np.inf
    for (mu, var), row in zip(tiny, rec[len(states) :]):
        got = dict(zip(names, row))
        assert got["kl_truth_model"] > 1e290 and got["kl_model_truth"] > 300  # ~ -ln(var) / 2
        assert np.isfinite(got["logdet_ratio"]) and got["logdet_ratio"] < -690
        assert got["tv"] == 1.0 and got["trace_ratio"] == var / VAR0
    # the JAX twin on the zero-variance states (XLA flushes the subnormal ones to 0)
    p = gaussian.Params(4, 1.0, 0, 0, MU0, VAR0)
    st = np.array([(m, v, 0.0) for m, v in states], dtype=np.float64)
    ref = np.full((len(states), 1, gaussian.observe_size(p)), np.nan)
    gaussian.advance(
        p,
        st,
        np.arange(len(states), dtype=np.uint32),
        1,
        0,
        0,
        np.array([0], np.uint32),
        0,
        ref,
        np.zeros((0, 3)),
        np.zeros((len(states), 0), np.int64),
        1,
    )
    assert np.array_equal(ref[:, 0], rec[: len(states)])


def test_collapsed_loop_models_give_defined_values_never_nan():
    """GaussianLoop: a zero 1-D factor, and a d = 3 factor with a zero pivot
    (rank 2): KLs +inf, logdet_ratio -inf, W2^2 and trace_ratio finite."""
    state, obs = _loop_observe(np.array([MU0 + 10.0]), np.array([[0.0]]), np.array([MU0]), np.array([[VAR0]]))
    assert state[1] == 0.0 and not np.isnan(obs).any()
    want = _degenerate_expectations(MU0 + 10.0, MU0, math.sqrt(VAR0))
    base = 1 + 1 + 6
    for j, name in enumerate(METRICS):
        assert obs[base + j] == pytest.approx(want[name], rel=1e-15), name
    S = np.array([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 9.0]])  # Cholesky pivots 2, 0, 3
    state, obs = _loop_observe(MEAN3 + 0.5, S)
    assert state[3 + 2] == 0.0 and not np.isnan(obs).any()
    got = dict(zip(ND_NAMES, obs[3 + 6 + 6 :]))
    assert got["kl_model_truth"] == np.inf and got["kl_truth_model"] == np.inf
    assert got["logdet_ratio"] == -np.inf
    assert got["trace_ratio"] == pytest.approx(np.trace(np.linalg.solve(COV3, S)), rel=1e-13)
    sq0 = scipy.linalg.sqrtm(COV3).real
    w2 = 0.75 + np.trace(S) + np.trace(COV3) - 2 * np.trace(scipy.linalg.sqrtm(sq0 @ S @ sq0).real)
    assert got["w2_sq"] == pytest.approx(w2, rel=1e-7)


def test_a_run_that_collapses_to_exactly_zero_has_no_nan():
    """n = 2 with the MLE: var reaches exactly 0 within ~400 generations."""
    ds = ms.simulate(
        ms.Config(family=ms.Gaussian(mean=MU0, var=VAR0), loop=ms.Replace(n=2)),
        replicas=50,
        generations=1000,
        seed=2,
        record=ms.every(50),
        progress=False,
        metrics="all",
    )
    zero = ds["var"].values == 0.0
    assert zero.mean() > 0.5
    for name in METRICS:
        assert not np.isnan(ds[name].values).any(), name
    assert np.all(ds["kl_truth_model"].values[zero] == np.inf)
    assert np.all(ds["tv"].values[zero] == 1.0)
    assert np.all(ds["q001"].values[zero] == ds["mean"].values[zero])


# --- what is recorded ------------------------------------------------------------------------


def _record_shapes(monkeypatch):
    """Captures the records array each kernel call writes."""
    import madsim.run.driver as sim

    real, shapes = sim.kernel_for, []

    def spying(*args, **kwargs):
        kern = real(*args, **kwargs)

        def advance(*a):
            shapes.append(a[8].shape)
            return kern.advance(*a)

        return kern.__class__(**{**kern.__dict__, "advance": advance})

    monkeypatch.setattr(sim, "kernel_for", spying)
    return shapes


def test_only_the_chosen_variables_are_recorded_and_stored(monkeypatch):
    shapes = _record_shapes(monkeypatch)
    cfg = _cfg_1d("gaussian1d")
    ds = ms.simulate(
        cfg,
        replicas=5,
        generations=30,
        seed=1,
        record=ms.every(1),
        progress=False,
        metrics=["tail3", "var", "tail3"],
    )
    assert [v for v in ds.data_vars] == ["var", "tail3", "state"]
    assert ds.attrs["metrics"] == '["var", "tail3"]'
    assert shapes and all(s == (5, 31, 2) for s in shapes)  # R x records x chosen, never all
    full = ms.simulate(
        cfg, replicas=5, generations=30, seed=1, record=ms.every(1), progress=False, metrics="all"
    )
    assert shapes[-1] == (5, 31, 4 + len(METRICS))
    for v in ("var", "tail3"):
        assert np.array_equal(ds[v].values, full[v].values)
        assert ds[v].attrs == full[v].attrs
    shapes.clear()
    cfg3 = ms.Config(family=ms.Gaussian(dim=3, mean=MEAN3, cov=COV3), loop=ms.Replace(n=10))
    ds3 = ms.simulate(
        cfg3, replicas=4, generations=6, seed=1, record=[6], progress=False, metrics=["cov", "w2_sq"]
    )
    assert list(ds3.data_vars) == ["cov", "w2_sq", "state"]
    assert shapes and all(s == (4, 1, 6 + 1) for s in shapes)  # 6 packed cov entries, 1 metric
    full3 = ms.simulate(cfg3, replicas=4, generations=6, seed=1, record=[6], progress=False, metrics="all")
    assert np.array_equal(ds3["cov"].values, full3["cov"].values)
    assert np.array_equal(ds3["w2_sq"].values, full3["w2_sq"].values)
    none = ms.simulate(
        cfg,
        replicas=3,
        generations=4,
        seed=1,
        progress=False,
        metrics=[],
        detect=[ms.FirstPassage("tv", above=0.1)],
    )
    assert list(none.data_vars) == ["state", "first_tv_above"]


@pytest.mark.parametrize("dim", [1, 3])
def test_logdet_is_computed_where_asked_and_the_same_bits(dim):
    # logdet has its own observe group (a look that records the variance
    # alone skips its logarithms): recorded alone, beside the moments, as a
    # detector's metric or under "all", the same bits
    fam = ms.Gaussian() if dim == 1 else ms.Gaussian(dim=3, mean=MEAN3, cov=COV3)
    cfg = ms.Config(family=fam, loop=ms.Augment(real=6, synthetic=6))
    kw = dict(replicas=21, generations=25, seed=3, record=ms.every(5), progress=False)
    full = ms.simulate(cfg, metrics="all", **kw)
    assert np.isfinite(full["logdet"].values).all()
    alone = ms.simulate(cfg, metrics=["logdet"], **kw)
    both = ms.simulate(cfg, metrics=["logdet", "mean_sq", "mean"], **kw)
    for ds in (alone, both):
        assert np.array_equal(ds["logdet"].values, full["logdet"].values)
    assert np.array_equal(both["mean_sq"].values, full["mean_sq"].values)
    level = float(np.median(full["logdet"].values[:, -1]))
    det = [ms.FirstPassage("logdet", below=level)]
    watched = ms.simulate(cfg, metrics=["mean_sq"], detect=det, **kw)
    every = ms.simulate(cfg, metrics="all", detect=det, **kw)
    first = watched["first_logdet_below"].values
    assert np.array_equal(first, every["first_logdet_below"].values)
    assert (first > 0).any() and (first < 0).any()  # some replicas crossed, some not


@pytest.mark.parametrize(
    "cfg,lean",
    [
        (ms.Config(loop=ms.Replace(n=10)), ["mean", "var"]),
        (ms.Config(loop=ms.Fresh(real=5, synthetic=5)), ["mean", "var"]),
        (
            ms.Config(loop=ms.Fresh(real=5, synthetic=5), filter=ms.Filter(tpr=0.5, fpr=0.1)),
            ["mean", "var", "points_real", "points_synthetic", "skipped"],
        ),
        (ms.Config(family=ms.Gaussian(dim=3), loop=ms.Replace(n=10)), ["mean", "cov"]),
        (
            ms.Config(family=ms.PPCA(dim=4, factors=2), loop=ms.Replace(n=10)),
            ["mean", "factor_var", "noise_var", "subspace_sin2", "max_angle"],
        ),
        (
            ms.Config(family=ms.Categorical(tokens=5), loop=ms.Replace(n=10)),
            ["probs", "entropy", "support", "gini_simpson"],
        ),
        (
            ms.Config(family=ms.Categorical(tokens=100), loop=ms.Replace(n=10)),
            ["entropy", "support", "gini_simpson"],
        ),
        (ms.Config(family=ms.Regression(dim=2), loop=ms.Replace(n=10)), ["w", "noise_var", "test_error"]),
    ],
)
def test_the_default_records_the_lean_set_and_all_records_every_variable(cfg, lean, monkeypatch):
    """metrics=None records the model's parameters and cheap summaries
    (each family's LEAN), in Dataset order, computing no other column; "all"
    records every variable; the shared ones are the same bits."""
    shapes = _record_shapes(monkeypatch)
    ds = ms.simulate(cfg, replicas=3, generations=4, seed=2, progress=False)
    assert [v for v in ds.data_vars if v != "state"] == lean
    assert json.loads(ds.attrs["metrics"]) == lean
    lean_cols = shapes[-1][2]
    full = ms.simulate(cfg, replicas=3, generations=4, seed=2, progress=False, metrics="all")
    assert set(lean) < set(full.data_vars)
    assert shapes[-1][2] > lean_cols
    for v in lean:
        assert np.array_equal(ds[v].values, full[v].values), v


def test_resume_keeps_the_metric_selection():
    cfg = _cfg_1d("gaussian_loop")
    det = [ms.FirstPassage("tail3", below=1e-3)]
    part = ms.simulate(
        cfg,
        replicas=6,
        generations=20,
        seed=3,
        record=ms.every(5),
        detect=det,
        progress=False,
        metrics=["kl_model_truth", "mean"],
    )
    done = ms.resume(part, generations=40, record=ms.every(5), replicas=2)
    whole = ms.simulate(
        cfg,
        replicas=8,
        generations=40,
        seed=3,
        record=ms.every(5),
        detect=det,
        progress=False,
        metrics=["mean", "kl_model_truth"],
    )
    assert (
        list(done.data_vars)
        == list(whole.data_vars)
        == ["mean", "kl_model_truth", "state", "first_tail3_below"]
    )
    for v in whole.data_vars:
        assert np.array_equal(done[v].values, whole[v].values), v
    assert done.attrs["metrics"] == whole.attrs["metrics"]


def test_jax_backend_records_the_same_chosen_variables():
    cfg = _cfg_1d("gaussian1d")
    kw = dict(
        replicas=4,
        generations=12,
        seed=9,
        record=ms.every(3),
        progress=False,
        metrics=["tv", "q001", "kl_truth_model"],
        detect=[ms.FirstPassage("w2_sq", above=0.5)],
    )
    cpu, jx = ms.simulate(cfg, **kw), ms.simulate(cfg, backend="jax", **kw)
    assert (
        list(cpu.data_vars)
        == list(jx.data_vars)
        == ["q001", "kl_truth_model", "tv", "state", "first_w2_sq_above"]
    )
    for v in cpu.data_vars:
        np.testing.assert_allclose(jx[v].values, cpu[v].values, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "cfg,bad,exc,words",
    [
        (_cfg_1d("gaussian1d"), ["sigma"], ValueError, ["'sigma'", "'tail3'", "'kl_truth_model'"]),
        (_cfg_1d("gaussian_loop"), ["var", "sd", 3], ValueError, ["'sd'", "3", "'points_real'"]),
        (
            ms.Config(family=ms.Gaussian(dim=2), loop=ms.Replace(n=5)),
            ["tail3", "q001"],
            ValueError,
            ["'q001'", "'tail3'", "'w2_sq'", "'cov'"],
        ),
        (_cfg_1d("gaussian1d"), "var", TypeError, ["metrics", "'var'"]),
    ],
)
def test_bad_metric_names_are_refused_naming_the_allowed_ones(cfg, bad, exc, words):
    with pytest.raises(exc) as info:
        ms.simulate(cfg, replicas=2, generations=2, progress=False, metrics=bad)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_a_toml_run_file_chooses_the_metrics():
    from madsim import toml_config

    cfg, kw = toml_config.loads('[run]\nreplicas = 3\ngenerations = 4\nmetrics = ["tv", "var"]\n')
    ds = ms.simulate(cfg, progress=False, **kw)
    assert list(ds.data_vars) == ["var", "tv", "state"]
