"""The PPCA family (ms.PPCA: GaussianLoop with factors = q, csrc/madsim/ppca.hpp).

- bad input: clear errors before any kernel runs (config and _core params);
- q = d - 1 is the d-dim Gaussian: the same numbers to rounding, every loop
  and path, on the same stream;
- generation 1 (drawn from the truth, the same draws as the Gaussian's) is
  the numpy eigendecomposition's PPCA projection of the Gaussian fit, and
  the PPCA metrics are numpy's / scipy's (subspace_angles) on it;
- docs/theory/ppca-gmm.md in trace form: E[tr C_t + |mu_t - mu0|^2] = tr C0
  (MLE, tau = 1), and E tr C_t, E |mu_t - mu0|^2 equal the Gaussian's
  closed forms where the invariant does not hold (unbiased, temperature,
  truncation, filter);
- bit-identical whatever the threads, chunking or replica subset.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import subspace_angles

import madsim as ms
from madsim._backend import core

import stats as S

LOOPS = {
    "replace": ms.Replace(n=7),
    "augment": ms.Augment(real=5, synthetic=4),
    "fresh": ms.Fresh(real=3, synthetic=6),
    "accumulate": ms.Accumulate(synthetic=4, real=1),
    "subsample": ms.AccumulateSubsample(n=8, synthetic=4, real=1),
}
CASES = [
    (name, path)
    for name in LOOPS
    for path in ("exact", "samples")
    if not (name == "subsample" and path == "exact")
]
FAM = ms.PPCA(
    dim=4,
    factors=2,
    loadings=[[1.5, 0.2], [0.3, -1.1], [0.4, 0.5], [-0.2, 0.1]],
    noise=0.3,
    mean=[1.0, -2.0, 0.5, 3.0],
)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, err, match",
    [
        (dict(dim=1), ValueError, r"PPCA.dim must be an integer in \[2, 256\]; got 1"),
        (dict(dim=4, factors=0), ValueError, r"PPCA.factors must be an integer in \[1, 3\]; got 0"),
        (dict(dim=4, factors=4), ValueError, r"PPCA.factors must be an integer in \[1, 3\]; got 4"),
        (dict(dim=4, factors=1.5), TypeError, r"PPCA.factors must be an integer"),
        (dict(dim=3, noise=0.0), ValueError, r"PPCA.noise must be a finite number > 0.0; got 0.0"),
        (dict(dim=3, noise=-1.0), ValueError, r"PPCA.noise must be"),
        (
            dict(dim=3, factors=1, loadings=[[1, 0], [0, 1], [0, 0]]),
            ValueError,
            r"PPCA.loadings must be dim x factors = 3 x 1; got shape \(3, 2\)",
        ),
        (
            dict(dim=3, factors=2, loadings=[[1, 2], [1, 2], [0, 0]]),
            ValueError,
            r"PPCA.loadings must have rank factors = 2",
        ),
        (dict(dim=3, factors=1, loadings=[[1], [float("nan")], [0]]), ValueError, r"finite"),
        (dict(dim=3, factors=1, loadings="abc"), TypeError, r"PPCA.loadings must be a 3 x 1 matrix"),
        (dict(dim=3, factors=2, spectrum=[2.0]), ValueError, r"PPCA.spectrum must list factors = 2"),
        (
            dict(dim=3, factors=1, spectrum=[0.5], noise=1.0),
            ValueError,
            r"PPCA.spectrum\[0\] = 0.5 must be finite and > noise = 1.0",
        ),
        (
            dict(dim=3, factors=1, spectrum=[2.0], loadings=[[1], [0], [0]]),
            ValueError,
            r"give loadings or spectrum, not both",
        ),
        (dict(dim=3, mean=[1.0, 2.0]), ValueError, r"PPCA.mean must have dim = 3 entries; got 2"),
    ],
)
def test_bad_family_raises(kw, err, match):
    with pytest.raises(err, match=match):
        ms.PPCA(**kw)


def test_too_few_points_raises_before_the_kernel():
    with pytest.raises(ValueError, match=r"Replace: a fit needs at least dim \+ 1 = 5 points"):
        ms.Config(family=ms.PPCA(dim=4), loop=ms.Replace(n=4))
    with pytest.raises(ValueError, match=r"AccumulateSubsample needs path='samples'"):
        ms.Config(family=ms.PPCA(dim=3), loop=ms.AccumulateSubsample(n=8), path="exact")
    with pytest.raises(ValueError, match=r"generation 2 has 0 real \+ 3 synthetic points"):
        ms.simulate(
            ms.Config(family=ms.PPCA(dim=3), loop=ms.Replace(n=lambda t: 8 - 5 * (t - 1))),
            replicas=2,
            generations=2,
            progress=False,
            metrics="all",
        )


def _core_args(**kw):
    d = 3
    args = dict(
        d=d,
        loop=0,
        estimator=0,
        path=0,
        tau=1.0,
        trunc=0.0,
        weight=-1.0,
        tpr=0.0,
        fpr=0.0,
        real_fixed=0.0,
        subsample_n=0,
        pool_cap=0,
        truth=np.array([0.0] * d + [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]),
        counts=np.full((4, 2), 10.0),
        factors=1,
        basis=np.eye(d)[:, :1].copy(),
    )
    args.update(kw)
    return args


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(factors=3), r"factors must be 0 \(full covariance\) or lie in \[1, d - 1\] = \[1, 2\], got 3"),
        (dict(factors=-1), r"factors must be 0"),
        (dict(basis=None), r"factors > 0 needs basis"),
        (dict(basis=np.eye(3)[:, :2].copy()), r"basis: axis 1 has length 2, expected 1"),
        (dict(factors=0), r"basis is for factors > 0"),
    ],
)
def test_core_params_reject(kw, match):
    with pytest.raises(ValueError, match=match):
        core.GaussianLoopParams(**_core_args(**kw))


# --- q = d - 1 is the Gaussian -------------------------------------------------------------


@pytest.mark.parametrize("loop, path", CASES)
def test_d_minus_1_factors_is_the_gaussian(loop, path):
    """The projection keeps all but one eigenvalue and 'averages' the last
    alone: the identity. Same stream, so the same replicas to rounding
    (observed <= 2e-14 relative over 40 generations, collapse to tr 1e-9
    included)."""
    fam = ms.PPCA(
        dim=3, factors=2, loadings=[[1.0, 0.5], [0.2, -1.0], [0.3, 0.4]], noise=0.5, mean=[1.0, 2.0, 3.0]
    )
    gauss = ms.Gaussian(dim=3, mean=fam.mean, cov=fam.cov_matrix)
    run = dict(replicas=40, generations=40, seed=11, progress=False, record=ms.every(1))
    a = ms.simulate(ms.Config(family=fam, loop=LOOPS[loop], path=path), **run, metrics="all")
    b = ms.simulate(ms.Config(family=gauss, loop=LOOPS[loop], path=path), **run, metrics="all")
    for v in ("points_real", "points_synthetic", "skipped"):
        assert np.array_equal(a[v].values, b[v].values), v
    scale = np.abs(b["cov"].values).max(axis=(-2, -1), keepdims=True)
    assert np.max(np.abs(a["cov"].values - b["cov"].values) / scale) < 1e-11
    spread = np.sqrt(scale[..., 0])
    assert np.max(np.abs(a["mean"].values - b["mean"].values) / (spread + 3.0)) < 1e-12
    logdet = b["logdet"].values
    assert np.max(np.abs(a["logdet"].values - logdet) / np.maximum(1.0, np.abs(logdet))) < 1e-10


# --- generation 1 against numpy ------------------------------------------------------------


def _numpy_ppca(C, q):
    """(projection of C, top q eigenvalues, s2, U_q, gap factor l1 / (l_q - l_{q+1}))."""
    w, V = np.linalg.eigh(C)
    w, V = w[..., ::-1], V[..., ::-1]
    s2 = w[..., q:].mean(axis=-1)
    Uq = V[..., :q]
    lam = np.concatenate([w[..., :q], np.repeat(s2[..., None], C.shape[-1] - q, -1)], -1)
    proj = (V * lam[..., None, :]) @ np.swapaxes(V, -1, -2)
    gap = w[..., 0] / (w[..., q - 1] - w[..., q])
    return proj, w[..., :q], s2, Uq, gap


@pytest.mark.parametrize("loop, path", CASES)
def test_first_fit_is_the_projected_gaussian_fit(loop, path):
    """Generation 1 draws from the truth, the same draws for PPCA and the
    Gaussian: PPCA's model must be numpy's PPCA projection of the Gaussian's
    fit, and its metrics numpy's and scipy's. Tolerances: eps-level relative
    errors in C amplified by the eigengap factor l1 / (l_q - l_{q+1})
    (Davis-Kahan) for the subspace, x 1e3 headroom."""
    q, d = FAM.factors, FAM.dim
    gauss = ms.Gaussian(dim=d, mean=FAM.mean, cov=FAM.cov_matrix)
    run = dict(replicas=64, generations=1, seed=5, progress=False, record=[0, 1])
    a = ms.simulate(ms.Config(family=FAM, loop=LOOPS[loop], path=path), **run, metrics="all")
    b = ms.simulate(ms.Config(family=gauss, loop=LOOPS[loop], path=path), **run, metrics="all")
    fit = b["cov"].sel(generation=1).values
    proj, top, s2, Uq, gap = _numpy_ppca(fit, q)
    C = a["cov"].sel(generation=1).values
    l1 = top[:, 0]
    assert np.all(np.abs(C - proj).max(axis=(1, 2)) <= 1e-12 * l1 * gap)
    assert np.allclose(np.trace(C, axis1=1, axis2=2), np.trace(fit, axis1=1, axis2=2), rtol=1e-13)
    assert np.array_equal(a["mean"].values, b["mean"].values)  # the mean is the Gaussian fit's
    assert np.all(np.abs(a["factor_var"].sel(generation=1).values - top) <= 1e-13 * l1[:, None])
    assert np.all(np.abs(a["noise_var"].sel(generation=1).values - s2) <= 1e-13 * l1)
    angles = np.array([subspace_angles(U, FAM.basis) for U in Uq])  # descending
    sin2 = np.sum(np.sin(angles) ** 2, axis=1)
    assert np.all(np.abs(a["subspace_sin2"].sel(generation=1).values - sin2) <= 1e-12 * gap)
    assert np.all(np.abs(a["max_angle"].sel(generation=1).values - angles[:, 0]) <= 1e-11 * gap)


def test_generation_0_is_the_truth():
    ds = ms.simulate(
        ms.Config(family=FAM, loop=ms.Replace(n=10)),
        replicas=2,
        generations=1,
        seed=0,
        progress=False,
        record=[0],
        metrics="all",
    )
    g0 = ds.sel(generation=0)
    assert np.allclose(g0["cov"].values, FAM.cov_matrix, rtol=0, atol=1e-14)
    assert np.allclose(g0["factor_var"].values, FAM.principal_variances, rtol=1e-14)
    assert np.allclose(ds["factor_var"].attrs["truth_value"], FAM.principal_variances, rtol=1e-14)
    assert np.allclose(g0["noise_var"].values, FAM.noise, rtol=1e-14)
    assert np.all(g0["subspace_sin2"].values < 1e-28) and np.all(g0["max_angle"].values < 1e-14)
    # spectrum= puts the factors on the first axes
    f = ms.PPCA(dim=3, factors=2, spectrum=[4.0, 2.0], noise=0.5)
    assert np.allclose(f.cov_matrix, np.diag([4.0, 2.0, 0.5]))
    assert np.allclose(ms.PPCA(dim=3, factors=2, noise=0.5).principal_variances, [2.5, 1.5])


def test_model_is_ppca_form():
    """After each fit: d - q equal bottom eigenvalues, equal to noise_var."""
    ds = ms.simulate(
        ms.Config(family=FAM, loop=ms.Fresh(real=4, synthetic=5)),
        replicas=30,
        generations=15,
        seed=2,
        progress=False,
        record=[15],
        metrics="all",
    )
    C = ds["cov"].values[:, 0]
    w = np.linalg.eigvalsh(C)[:, ::-1]
    nv = ds["noise_var"].values[:, 0]
    assert np.allclose(w[:, FAM.factors :], nv[:, None], rtol=1e-10, atol=0)
    assert np.allclose(w[:, : FAM.factors], ds["factor_var"].values[:, 0], rtol=1e-10)


# --- theory: docs/theory/ppca-gmm.md (trace form) ----------------------------------------------


def test_trace_invariant_theory_example():
    """docs/theory/ppca-gmm.md's PPCA example: d = 4, q = 1, n = 20, truth tr C0 =
    5.75; E[tr C_20 + |mu_20 - mu0|^2] = 5.75 (docs/theory/ppca-gmm.md's MC: 5.730 +- 0.055).
    z-test at the suite's alpha (false-fail 1e-5); 12000 replicas give SE
    ~0.085: an error of 0.6 (10%) is seen with power 0.99
    (stats.detectable_shift), which the test asserts."""
    fam = ms.PPCA(dim=4, factors=1, spectrum=[5.0], noise=0.25)
    cfg = ms.Config(family=fam, loop=ms.Replace(n=20))
    assert ms.theory.invariant(cfg, 20) == pytest.approx(5.75)
    ds = ms.simulate(cfg, replicas=12000, generations=20, seed=7, progress=False, record=[20], metrics="all")
    x = (ds["trace"] + ds["mean_sq"]).values[:, 0]
    S.assert_mean(x, 5.75, "PPCA d=4 q=1 n=20 E[tr C_20 + |mu_20 - mu0|^2]")
    assert S.detectable_shift(x.std(ddof=1) / np.sqrt(x.size)) < 0.6


THEORY_CASES = {  # (config, what): invariant where it holds, else expected_trace / mean_sq
    "augment": ms.Config(family=FAM, loop=ms.Augment(real=6, synthetic=6)),
    "fresh-filter": ms.Config(
        family=FAM, loop=ms.Fresh(real=3, synthetic=8), filter=ms.Filter(tpr=0.3, fpr=0.1), path="samples"
    ),
    "accumulate": ms.Config(family=FAM, loop=ms.Accumulate(synthetic=5, real=0)),
    "subsample": ms.Config(family=FAM, loop=ms.AccumulateSubsample(n=6, synthetic=4, real=1), path="samples"),
    "replace-unbiased-tau": ms.Config(
        family=FAM, loop=ms.Replace(n=8), estimator="unbiased", temperature=0.9
    ),
    "fresh-truncation": ms.Config(
        family=FAM, loop=ms.Fresh(real=4, synthetic=6), truncation=2.0, path="samples"
    ),
    "fresh-weighted": ms.Config(family=FAM, loop=ms.Fresh(real=6, synthetic=8), weight=0.4),
}


@pytest.mark.parametrize("name", list(THEORY_CASES))
def test_first_moments_match_the_gaussian_closed_forms(name):
    """E tr C_t and E |mu_t - mu0|^2 (sum: the invariant where it holds) at
    t = 10 against madsim.theory (PPCA's are the Gaussian's: theory/common.py
    trace_twin). Two z-tests per case, each at alpha / 2."""
    cfg = THEORY_CASES[name]
    t = 10
    ds = ms.simulate(cfg, replicas=4000, generations=t, seed=3, progress=False, record=[t], metrics="all")
    tr, msq = ds["trace"].values[:, 0], ds["mean_sq"].values[:, 0]
    if isinstance(cfg.loop, ms.AccumulateSubsample):  # no closed form but the invariant
        S.assert_mean(tr + msq, ms.theory.invariant(cfg, t), f"{name}: invariant at t = {t}")
        return
    S.assert_mean(tr, ms.theory.expected_trace(cfg, t), f"{name}: E tr C_{t}", alpha=S.ALPHA / 2)
    S.assert_mean(msq, ms.theory.expected_mean_sq(cfg, t), f"{name}: E |mu_{t} - mu0|^2", alpha=S.ALPHA / 2)
    ok, _ = ms.theory.invariant_holds(cfg)
    if ok:
        assert ms.theory.expected_second_moment(cfg, t) == pytest.approx(np.trace(FAM.cov_matrix))


def test_theory_refuses_what_depends_on_the_projection():
    cfg = ms.Config(family=FAM, loop=ms.Replace(n=10))
    with pytest.raises(NotImplementedError, match="family is PPCA"):
        ms.theory.expected_logdet(cfg, 3)
    with pytest.raises(NotImplementedError, match="family is PPCA"):
        ms.theory.expected_cov(cfg, 3)


# --- reproducibility -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_threads_chunks_subsets_change_no_number(path):
    cfg = ms.Config(family=FAM, loop=ms.Fresh(real=3, synthetic=6), path=path)
    run = dict(generations=12, seed=2**40 + 3, progress=False, record=ms.every(3))
    base = ms.simulate(cfg, replicas=50, threads=1, chunk=12, **run, metrics="all")
    for kw in (dict(threads=2), dict(chunk=5), dict(chunk=1, threads=3)):
        other = ms.simulate(cfg, replicas=50, **kw, **run, metrics="all")
        for v in ("cov", "factor_var", "noise_var", "subspace_sin2", "max_angle"):
            assert np.array_equal(base[v].values, other[v].values), (kw, v)
    sub = ms.simulate(cfg, replicas=[7, 31, 2], **run, metrics="all")
    assert np.array_equal(sub["cov"].values, base["cov"].values[[7, 31, 2]])


def test_toml_and_json_round_trip():
    from madsim import toml_config

    cfg, run = toml_config.loads(
        '[family]\ntype = "PPCA"\ndim = 3\nfactors = 1\nloadings = [[2.0], [0.5], [0.0]]\n'
        'noise = 0.25\n[loop]\ntype = "Replace"\nn = 10\n'
    )
    assert cfg.family == ms.PPCA(dim=3, factors=1, loadings=[[2.0], [0.5], [0.0]], noise=0.25)
    assert ms.Config.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="family.factors|PPCA.factors"):
        toml_config.loads('[family]\ntype = "PPCA"\ndim = 3\nfactors = 3\n')
