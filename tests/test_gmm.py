"""The Gaussian-mixture family (EM refit): configuration errors, EM against a
plain numpy EM written here, the sampler's law (labels, normals,
temperature), docs/theory/ppca-gmm.md's invariant, the covariance floor and
empty components (never a NaN), skipped fits, the metrics against their
definitions, reproducibility and resume.

Statistical assertions use tests/stats.py (ALPHA = 1e-5 per assertion,
Bonferroni within a test; fixed seeds: deterministic)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp

import madsim as ms
from madsim._backend import core
from madsim.families.gmm import GMM_COUNTERS, gmm_truth

from stats import ALPHA, assert_counts, assert_ks, assert_mean

FAM3 = dict(
    weights=[0.2, 0.5, 0.3],
    means=[[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0]],
    covs=[[[1.0, 0.3], [0.3, 0.5]], [[0.7, 0.0], [0.0, 2.0]], [[1.0, -0.2], [-0.2, 1.0]]],
)


def cfg_of(loop=None, **fam):
    kw = {k: fam.pop(k) for k in ("temperature", "filter") if k in fam}
    return ms.Config(family=ms.GaussianMixture(**fam), loop=loop or ms.Replace(n=50), **kw)


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(weights=[0.5, 0.4]), "weights must sum to 1"),
        (dict(weights=[], means=[]), r"k in \[1, 256\]"),
        (dict(weights=[1.2, -0.2]), r"weights\[0\] = 1.2"),
        (dict(weights=[0.5, 0.5], means=[[0.0], [1.0], [2.0]]), "k = 2 points"),
        (dict(weights=[1.0], means=[[0.0, 0.0]], covs=[[[1.0, 1.0], [1.0, 1.0]]]), "positive definite"),
        (dict(weights=[1.0], means=[[0.0, 0.0]], covs=[[[1.0, 0.5], [0.4, 1.0]]]), "symmetric"),
        (dict(weights=[1.0], means=[[0.0, 0.0]], covs=[[1.0, 1.0]]), r"shape \(1, 2, 2\)"),
        (dict(weights=[1.0], means=[[0.0, 0.0]], covs=[[1.0, 0.0]], cov_type="diag"), "positive definite"),
        (dict(weights=[1.0], means=[[0.0]], covs=[-1.0], cov_type="spherical"), "positive definite"),
        (dict(cov_type="tied"), "cov_type must be one of"),
        (dict(cov_floor=2.0), r"cov_floor = 2.0 must be <= every conditional variance"),
        (dict(cov_floor=0.0), "cov_floor must be"),
        (dict(em_iters=0), "em_iters must be an integer in"),
        (dict(em_tol=-1.0), "em_tol must be"),
        (dict(means=[[float("nan")], [1.0]]), "means must be finite"),
    ],
)
def test_bad_family(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ms.GaussianMixture(**kw)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(path="exact"), "GaussianMixture needs path='samples'"),
        (dict(estimator="unbiased"), "estimator must be 'mle'"),
        (dict(truncation=2.0), "truncation is not available"),
        (dict(loop=ms.Fresh(real=3, synthetic=3), weight=0.5), "weight is not available"),
        (dict(loop=ms.Replace(n=5), filter=ms.Filter(tpr=1.0)), "1 point after Filter"),
        (dict(top_k=2), "top_k applies to token families"),
    ],
)
def test_bad_config(kw, match):
    kw.setdefault("loop", ms.Replace(n=20))
    with pytest.raises((ValueError, TypeError), match=match):
        ms.Config(family=ms.GaussianMixture(), **kw)


def test_defaults_round_trip_and_toml():
    from madsim import toml_config

    fam = ms.GaussianMixture()
    assert (fam.k, fam.dim, fam.second_moment) == (2, 1, 5.0)  # docs/theory/ppca-gmm.md's mixture
    cfg = cfg_of(
        ms.Augment(real=4, synthetic=6),
        cov_type="diag",
        covs=[[1.0, 2.0], [0.5, 0.5]],
        weights=[0.3, 0.7],
        means=[[0, 1], [2, 3]],
        temperature=0.9,
    )
    assert cfg.path == "samples"
    assert ms.Config.from_dict(cfg.to_dict()) == cfg
    got, _ = toml_config.loads(
        '[family]\ntype = "GaussianMixture"\nweights = [0.3, 0.7]\n'
        'means = [[0.0], [4.0]]\ncov_type = "spherical"\ncovs = [1.0, 2.0]\n'
        '[loop]\ntype = "Replace"\nn = 30\n'
    )
    assert got == ms.Config(
        family=ms.GaussianMixture(
            weights=[0.3, 0.7], means=[[0.0], [4.0]], cov_type="spherical", covs=[1.0, 2.0]
        ),
        loop=ms.Replace(n=30),
    )


def test_params_checked_like_the_kernel():
    pytest.importorskip("jax")
    from madsim.reference import gmm

    fam = ms.GaussianMixture()
    good = dict(
        k=2,
        d=1,
        cov_type=0,
        loop=0,
        em_iters=3,
        em_tol=0.0,
        cov_floor=1e-6,
        tau=1.0,
        tpr=0.0,
        fpr=0.0,
        real_fixed=0.0,
        truth=gmm_truth(fam),
        tails=np.array([-5.0, 5.0]),
        counts=np.array([[0.0, 4.0]]),
    )
    # the memory-safety checks (sizes, caps, codes); the numerical domain is
    # Python's (tests/test_param_checks.py)
    bad = [
        dict(k=0),
        dict(d=0),
        dict(cov_type=3),
        dict(loop=3),
        dict(real_fixed=0.5),
        dict(real_fixed=2.0**28 + 1),
        dict(truth=np.array([0.5, 0.5, 0.0])),
        dict(tails=np.array([1.0])),
        dict(counts=np.array([[0.0, 1.5]])),
        dict(counts=np.array([[0.0, 2.0**28]])),
    ]
    for change in bad:
        args = {**good, **change}
        with pytest.raises(ValueError) as e1:
            core.GaussianMixtureParams(**args)
        with pytest.raises(ValueError) as e2:
            gmm._gmm_params(gmm.Params(**args))
        assert str(e1.value) == str(e2.value), change


# --- EM against a plain numpy EM ---------------------------------------------------------------


def numpy_em(w, mu, covs, X, iters, tol, cov_type):
    """Textbook EM (Bishop 9.2.2), stopping as sklearn: |delta mean log-likelihood| < tol."""
    n, d = X.shape
    w, mu, covs = w.copy(), mu.copy(), covs.copy()
    prev = ll = None
    for it in range(1, iters + 1):
        with np.errstate(divide="ignore"):
            logp = np.stack(
                [np.log(w[j]) + stats.multivariate_normal.logpdf(X, mu[j], covs[j]) for j in range(len(w))],
                axis=1,
            ).reshape(n, len(w))
        lse = logsumexp(logp, axis=1)
        r = np.exp(logp - lse[:, None])
        ll = lse.mean()
        N = r.sum(0)
        w = N / n
        for j in range(len(w)):
            mu[j] = r[:, j] @ X / N[j]
            D = X - mu[j]
            S = (r[:, j, None] * D).T @ D / N[j]
            if cov_type == "diag":
                S = np.diag(np.diag(S))
            elif cov_type == "spherical":
                S = np.trace(S) / d * np.eye(d)
            covs[j] = S
        if it > 1 and abs(ll - prev) < tol:
            return w, mu, covs, it, ll
        prev = ll
    return w, mu, covs, iters, ll


def unpack(state, k, d):
    T = d * (d + 1) // 2
    rows, cols = np.tril_indices(d)
    L = np.zeros((k, d, d))
    L[:, rows, cols] = state[k * (1 + d) : k * (1 + d + T)].reshape(k, T)
    return state[:k], state[k : k * (1 + d)].reshape(k, d), L @ np.swapaxes(L, 1, 2)


def gmm_params(fam, cov_type, iters, tol, n):
    return core.GaussianMixtureParams(
        k=fam.k,
        d=fam.dim,
        cov_type=("full", "diag", "spherical").index(cov_type),
        loop=0,
        em_iters=iters,
        em_tol=tol,
        cov_floor=fam.cov_floor,
        tau=1.0,
        tpr=0.0,
        fpr=0.0,
        real_fixed=0.0,
        truth=gmm_truth(fam),
        tails=np.zeros(2 * fam.dim),
        counts=np.array([[0.0, float(n)]]),
    )


def start_row(fam):
    """A replace-loop state row holding the truth (counters 0)."""
    return np.concatenate([gmm_truth(fam), np.zeros(8)])


@pytest.mark.parametrize("cov_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("iters, tol", [(1, 0.0), (7, 0.0), (200, 1e-6)])
def test_em_matches_numpy_em(cov_type, iters, tol):
    rng = np.random.default_rng(5)
    fam = ms.GaussianMixture(**FAM3)
    X = np.concatenate([rng.multivariate_normal(m, c, 40) for m, c in zip(fam.mean_matrix, fam.cov_matrices)])
    out = core.gmm_em(gmm_params(fam, cov_type, iters, tol, X.shape[0]), start_row(fam), X)
    w, mu, covs, used, ll = numpy_em(
        fam.weight_vector, fam.mean_matrix, fam.cov_matrices, X, iters, tol, cov_type
    )
    W, MU, C = unpack(out, 3, 2)
    P = gmm_truth(fam).size
    assert out[P + 3] == used and out[P + 4] == (1.0 if tol == 0.0 else 0.0)  # iterations, capped
    assert out[P + 5] == out[P + 6] == 0.0  # floored, emptied
    assert 1 < used < 200 if tol else used == iters
    np.testing.assert_allclose(W, w, rtol=1e-11)
    np.testing.assert_allclose(MU, mu, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(C, covs, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(out[P + 7], ll, rtol=1e-12)


def test_one_component_is_the_gaussian_mle():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(25, 3)) @ np.array([[1, 0, 0], [0.5, 2, 0], [0, 0.1, 0.3]]) + 4.0
    fam = ms.GaussianMixture(weights=[1.0], means=[[0.0, 0.0, 0.0]])
    out = core.gmm_em(gmm_params(fam, "full", 1, 0.0, 25), start_row(fam), X)
    W, MU, C = unpack(out, 1, 3)
    np.testing.assert_allclose(MU[0], X.mean(0), rtol=1e-13)
    np.testing.assert_allclose(C[0], np.cov(X.T, bias=True), rtol=1e-12)


def test_floor_and_empty_components_never_nan():
    """All points equal: every fitted pivot^2 is the floor; a far component empties."""
    fam = ms.GaussianMixture(
        weights=[0.5, 0.3, 0.2], means=[[0.0, 0.0], [0.1, 0.0], [1e4, 1e4]], cov_floor=1e-4
    )
    X = np.tile([[0.3, -0.2]], (10, 1))
    out = core.gmm_em(gmm_params(fam, "full", 5, 0.0, 10), start_row(fam), X)
    W, MU, C = unpack(out, 3, 2)
    P = gmm_truth(fam).size
    assert np.all(np.isfinite(out))
    assert (out[P + 5], out[P + 6]) == (2.0, 1.0)  # floored, emptied
    np.testing.assert_allclose(C[:2], np.tile(1e-4 * np.eye(2), (2, 1, 1)), rtol=1e-12, atol=1e-20)
    assert W[2] == 0.0 and MU[2].tolist() == [1e4, 1e4]  # emptied: mean kept, weight 0
    np.testing.assert_allclose(MU[:2], [[0.3, -0.2]] * 2, rtol=1e-13)


# --- the sampler -------------------------------------------------------------------------------


def test_draws_follow_the_mixture():
    """Components 40 sd apart: EM's responsibilities are 0 or 1 to 1e-300, so
    generation 1's fit is, per component, the plain Gaussian fit of its draws:
    the count n w_j is Binomial(n, w0_j), the mean N(mu_j, tau^2 s^2 / n_j),
    n_j var_j / (tau^2 s^2) chi-square(n_j - 1) (temperature scales the spread)."""
    tau, n, R = 0.7, 40, 20_000
    fam = ms.GaussianMixture(
        weights=[0.3, 0.7], means=[[-20.0], [20.0]], covs=[[[1.0]], [[0.25]]], em_iters=1, em_tol=0.0
    )
    ds = ms.simulate(
        ms.Config(family=fam, loop=ms.Replace(n=n), temperature=tau),
        replicas=R,
        generations=1,
        seed=11,
        progress=False,
        metrics="all",
    )
    w = ds["weights"].sel(generation=1).values
    cnt = np.rint(w[:, 0] * n)
    alpha = ALPHA / 3
    assert_counts(
        np.bincount(cnt.astype(int), minlength=n + 1),
        stats.binom.pmf(np.arange(n + 1), n, 0.3),
        "component 0's draws",
        alpha=alpha,
    )
    m = ds["means"].sel(generation=1).values[:, 1, 0]
    v = ds["covs"].sel(generation=1).values[:, 1, 0, 0]
    nj = n - cnt
    ok = nj >= 2
    assert_ks((m[ok] - 20.0) / (tau * 0.5 / np.sqrt(nj[ok])), stats.norm.cdf, "component 1's mean", alpha)
    u = stats.chi2.cdf(nj[ok] * v[ok] / (tau**2 * 0.25), nj[ok] - 1)
    assert_ks(u, stats.uniform.cdf, "component 1's scatter", alpha)


# --- docs/theory/ppca-gmm.md -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg, R",
    [
        (cfg_of(ms.Replace(n=50), em_tol=1e-3), 4000),  # docs/theory/ppca-gmm.md's 1-D example
        (
            cfg_of(
                ms.Fresh(real=5, synthetic=15),
                filter=ms.Filter(0.3, 0.2),
                cov_type="diag",
                weights=[0.4, 0.6],
                means=[[0, 1], [3, -1]],
                covs=[[1.0, 0.5], [0.3, 2.0]],
            ),
            3000,
        ),
        (cfg_of(ms.Augment(real=10, synthetic=10), cov_type="spherical", covs=[1.0, 0.5]), 3000),
    ],
)
def test_mixture_moments_are_martingales(cfg, R):
    """E[model mean] and E[model E|x|^2] stay the truth's (MLE EM, tau = 1).
    Every cov type keeps tr S_j, so the trace form holds for all three. The
    floor breaks it only where hit (a component on a single point, as EM
    does): each floored component of a final M-step adds at most d cov_floor
    to the trace, a bias bounded here far below the standard error."""
    ds = ms.simulate(cfg, replicas=R, generations=12, seed=3, progress=False, metrics="all")
    fam = cfg.family
    bias = float(ds["floored"].sum()) * fam.dim * fam.cov_floor / R
    assert bias < 1e-4 * float(ds["second_moment"].values[:, -1].std() / np.sqrt(R))
    alpha = ALPHA / (1 + fam.dim)
    assert_mean(ds["second_moment"].values[:, -1], fam.second_moment, "E second moment", alpha)
    for c in range(fam.dim):
        assert_mean(ds["mix_mean"].values[:, -1, c], float(fam.mixture_mean[c]), f"E mean[{c}]", alpha)


@pytest.mark.slow
def test_theory_section7_gmm_example():
    """docs/theory/ppca-gmm.md: 1-D 2-component GMM, n = 50: E[model E x^2] = 5 at t = 20 (MC 5.010 +- 0.019)."""
    ds = ms.simulate(
        cfg_of(ms.Replace(n=50)),
        replicas=40_000,
        generations=20,
        seed=4,
        progress=False,
        record=[20],
        metrics="all",
    )
    assert_mean(ds["second_moment"].values[:, -1], 5.0, "E second moment at t = 20")


# --- collapse: floor, empty components, skipped fits, detectors --------------------------------


def test_long_collapse_is_finite_and_weights_die_for_good():
    cfg = cfg_of(
        ms.Replace(n=4), weights=[0.25, 0.25, 0.5], means=[[0, 0], [3, 0], [0, 3]], cov_floor=1e-3, em_iters=5
    )
    ds = ms.simulate(
        cfg,
        replicas=200,
        generations=150,
        seed=2,
        progress=False,
        detect=[
            ms.FirstPassage("min_weight", below=1e-6, name="lost"),
            ms.FirstPassage("floored", above=1, name="first_floor"),
        ],
        metrics="all",
    )
    assert all(np.all(np.isfinite(ds[v].values)) for v in ds.data_vars)
    assert (ds["floored"] > 0).any() and (ds["lost"] >= 0).mean() > 0.5
    w = ds["weights"].values  # [R, G, k]
    dead = w[:, :-1, :] == 0.0
    assert np.all(w[:, 1:, :][dead] == 0.0), "a weight that reached 0 came back"
    first = ds["lost"].values
    for r in np.nonzero(first > 0)[0][:20]:
        assert w[r, first[r]].min() <= 1e-6 < w[r, first[r] - 1].min()
    C = ds["covs"].values
    piv = np.linalg.cholesky(C.reshape(-1, 2, 2))[:, [0, 1], [0, 1]] ** 2
    assert piv.min() >= 1e-3 * (1 - 1e-12)


def test_skipped_fit_keeps_the_model():
    cfg = cfg_of(ms.Replace(n=2), filter=ms.Filter(tpr=0.6))  # P(no survivor) = 0.36
    ds = ms.simulate(cfg, replicas=50, generations=10, seed=5, progress=False, metrics="all")
    sk = ds["skipped"].values
    step = np.diff(sk, axis=1) == 1
    assert step.any() and not np.any(np.diff(sk, axis=1) > 1)
    r, g = np.nonzero(step)
    np.testing.assert_array_equal(ds["weights"].values[r, g + 1], ds["weights"].values[r, g])
    np.testing.assert_array_equal(ds["covs"].values[r, g + 1], ds["covs"].values[r, g])
    assert np.all(ds["em_iters"].values[r, g + 1] == 0)


# --- metrics against their definitions ---------------------------------------------------------


def _mix_pdf_1d(w, m, s):
    return lambda x: sum(wj * stats.norm.pdf(x, mj, sj) for wj, mj, sj in zip(w, m, s))


def _quantiles(w, m, s):
    """The 1-D mixture's quantile function on a grid of levels (its CDF inverted by interpolation)."""
    xs = np.linspace(-25, 25, 400001)
    cdf = sum(a * stats.norm.cdf(xs, b, c) for a, b, c in zip(w, m, s))
    return np.interp(np.linspace(0, 1, 20001)[1:-1], cdf, xs)


def test_metrics_against_definitions_1d():
    fam = ms.GaussianMixture(weights=[0.3, 0.7], means=[[-1.0], [2.0]], covs=[[[1.0]], [[0.5]]])
    ds = ms.simulate(
        ms.Config(family=fam, loop=ms.Replace(n=15)),
        replicas=2,
        generations=4,
        seed=9,
        progress=False,
        metrics="all",
    )
    w0, m0, s0 = fam.weight_vector, fam.mean_matrix[:, 0], np.sqrt(fam.cov_matrices[:, 0, 0])
    p0 = _mix_pdf_1d(w0, m0, s0)
    lo, hi = fam.marginal_quantile(0, 1e-3), fam.marginal_quantile(0, 1 - 1e-3)
    assert abs(integrate.quad(p0, -np.inf, lo)[0] - 1e-3) < 1e-12
    for r in range(2):
        for t in (0, 4):
            g = ds.isel(replica=r).sel(generation=t)
            w, m, s = g["weights"].values, g["means"].values[:, 0], np.sqrt(g["covs"].values[:, 0, 0])
            p = _mix_pdf_1d(w, m, s)
            l2 = np.sqrt(
                integrate.quad(
                    lambda x: (p(x) - p0(x)) ** 2, -30, 30, points=list(m) + list(m0), limit=400, epsabs=1e-14
                )[0]
            )
            assert abs(float(g["l2"]) - l2) < 1e-7, (r, t)
            tail = integrate.quad(p, -np.inf, lo)[0] + integrate.quad(p, hi, np.inf)[0]
            assert abs(float(g["tail_mass"]) - tail) < 1e-10
            assert abs(float(g["second_moment"]) - float(w @ (s**2 + m**2))) < 1e-12
            assert float(g["min_weight"]) == w.min()
            # W2^2 exactly in 1-D (quantile functions) <= the bound
            w2 = np.mean((_quantiles(w, m, s) - _quantiles(w0, m0, s0)) ** 2)
            assert w2 <= float(g["w2_sq_bound"]) + 1e-3, (w2, float(g["w2_sq_bound"]))
    g0 = ds.isel(replica=0).sel(generation=0)
    assert float(g0["w2_sq_bound"]) == 0.0 and float(g0["l2"]) < 1e-7


def test_l2_and_w2_bound_2d_against_numpy():
    fam = ms.GaussianMixture(**FAM3)
    ds = ms.simulate(
        ms.Config(family=fam, loop=ms.Replace(n=30)),
        replicas=2,
        generations=3,
        seed=1,
        progress=False,
        metrics="all",
    )
    w0, m0, C0 = fam.weight_vector, fam.mean_matrix, fam.cov_matrices
    g = ds.isel(replica=1).sel(generation=3)
    w, m, C = g["weights"].values, g["means"].values, g["covs"].values

    def cross(wa, ma, Ca, wb, mb, Cb):
        return sum(
            wa[i] * wb[j] * stats.multivariate_normal.pdf(ma[i], mb[j], Ca[i] + Cb[j])
            for i in range(3)
            for j in range(3)
        )

    l2 = np.sqrt(cross(w, m, C, w, m, C) + cross(w0, m0, C0, w0, m0, C0) - 2 * cross(w, m, C, w0, m0, C0))
    assert abs(float(g["l2"]) - l2) < 1e-9

    def w2g(ma, Ca, mb, Cb):
        rb = np.real(__import__("scipy.linalg").linalg.sqrtm(Cb))
        return np.sum((ma - mb) ** 2) + np.trace(
            Ca + Cb - 2 * np.real(__import__("scipy.linalg").linalg.sqrtm(rb @ Ca @ rb))
        )

    both = np.minimum(w, w0)
    ra, rb = w - both, w0 - both
    bound = sum(both[i] * w2g(m[i], C[i], m0[i], C0[i]) for i in range(3))
    bound += sum(ra[i] * rb[j] / ra.sum() * w2g(m[i], C[i], m0[j], C0[j]) for i in range(3) for j in range(3))
    np.testing.assert_allclose(float(g["w2_sq_bound"]), bound, rtol=1e-9)


# --- reproducibility ---------------------------------------------------------------------------


def assert_threads_chunks_subsets_resume_same(cfg, replicas, generations, chunk, subset, half):
    """A run on 1 thread equals one on 2 threads in chunks, a subset of its
    replicas run alone, and a run of `half` generations resumed to the end,
    bit for bit on every variable."""
    kw = dict(generations=generations, seed=8, progress=False)
    a = ms.simulate(cfg, replicas=replicas, threads=1, **kw, metrics="all")
    b = ms.simulate(cfg, replicas=replicas, threads=2, chunk=chunk, **kw, metrics="all")
    c = ms.simulate(cfg, replicas=subset, **kw, metrics="all")
    d = ms.resume(
        ms.simulate(cfg, replicas=replicas, **{**kw, "generations": half}, metrics="all"),
        generations,
        progress=False,
    )
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
        np.testing.assert_array_equal(a[v].values[subset], c[v].values, err_msg=v)
        np.testing.assert_array_equal(a[v].values, d[v].values, err_msg=v)


def test_threads_chunks_subsets_and_resume_change_no_number():
    cfg = cfg_of(ms.Fresh(real=3, synthetic=12), filter=ms.Filter(0.2, 0.1), **FAM3, em_tol=1e-4)
    assert_threads_chunks_subsets_resume_same(cfg, replicas=6, generations=12, chunk=5, subset=[4, 1], half=5)


def test_gmm_em_refuses_malformed_input():
    fam = ms.GaussianMixture()
    p = gmm_params(fam, "full", 1, 0.0, 4)
    row, X = start_row(fam), np.zeros((4, 1))
    for state, pts, exc in [
        (row.astype(np.float32), X, TypeError),
        (row[:-1], X, ValueError),
        (row, np.zeros((4, 2)), ValueError),
        (row, np.zeros((0, 1)), ValueError),
        (row, X[::2], ValueError),
    ]:
        with pytest.raises(exc):
            core.gmm_em(p, state, pts)
    assert np.all(np.isfinite(core.gmm_em(p, row, X)))


# --- the accumulating loops: the pool in the state --------------------------------------------


def pool_of(ds, fam):
    """[R, size, d + 1] pools (x | 1 if real) of the final states, and their sizes."""
    k, d = len(fam.weights), fam.dim
    at = k * (1 + d + d * (d + 1) // 2) + len(GMM_COUNTERS)
    st = ds["state"].values
    sizes = st[:, at].astype(int)
    return st[:, at + 1 :].reshape(st.shape[0], -1, d + 1), sizes


def test_accumulate_fits_the_whole_pool_and_keeps_its_moments():
    """docs/theory/ppca-gmm.md's invariant under Accumulate, per replica: EM (full
    covariances, tau = 1, floor never hit) leaves the model's mean and second
    moment equal to the pool's, which holds every point drawn so far."""
    cfg = cfg_of(ms.Accumulate(real=5, synthetic=25), filter=ms.Filter(0.2, 0.1), **FAM3, em_iters=5)
    G = 7
    ds = ms.simulate(cfg, replicas=5, generations=G, seed=11, progress=False, metrics="all")
    pools, sizes = pool_of(ds, cfg.family)
    assert float(ds["floored"].sum()) == 0.0 and float(ds["emptied"].sum()) == 0.0
    for r in range(5):
        P = pools[r, : sizes[r]]
        assert sizes[r] == ds["points_real"].values[r, -1] + ds["points_synthetic"].values[r, -1]
        assert ds["points_real"].values[r, -1] == P[:, -1].sum()
        assert 0 < sizes[r] <= 30 * G and np.all(pools[r, sizes[r] :] == 0.0)
        np.testing.assert_allclose(ds["mix_mean"].values[r, -1], P[:, :-1].mean(0), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            ds["second_moment"].values[r, -1], (P[:, :-1] ** 2).sum(1).mean(), rtol=1e-10
        )
    # the pool grows generation by generation: points_* never decrease
    assert np.all(np.diff(ds["points_synthetic"].values, axis=1) >= 0)


def test_accumulate_moments_are_martingales():
    """E[model mean], E[model E|x|^2] stay the truth's under Accumulate (the
    pool's mean is kept in expectation by every generation's draws)."""
    cfg = cfg_of(ms.Accumulate(real=1, synthetic=8), **FAM3)
    R = 3000
    ds = ms.simulate(cfg, replicas=R, generations=8, seed=5, progress=False, record=[8], metrics="all")
    fam = cfg.family
    alpha = ALPHA / (1 + fam.dim)
    assert_mean(ds["second_moment"].values[:, -1], fam.second_moment, "E second moment", alpha)
    for c in range(fam.dim):
        assert_mean(ds["mix_mean"].values[:, -1, c], float(fam.mixture_mean[c]), f"E mean[{c}]", alpha)


def test_subsample_fits_min_of_pool_size_and_n():
    cfg = cfg_of(ms.AccumulateSubsample(n=10, real=2, synthetic=6), **FAM3)
    ds = ms.simulate(cfg, replicas=4, generations=6, seed=2, progress=False, metrics="all")
    _, sizes = pool_of(ds, cfg.family)
    assert np.all(sizes == 8 * 6)
    n = ds["points_real"].values + ds["points_synthetic"].values
    assert np.all(n[:, 1] == 8) and np.all(n[:, 2:] == 10)  # min(pool size, n); column 0: generation 0
    assert np.all(np.isfinite(ds["state"].values))


@pytest.mark.parametrize(
    "loop", [ms.Accumulate(real=2, synthetic=6), ms.AccumulateSubsample(n=9, real=2, synthetic=6)]
)
def test_accumulating_resume_threads_chunks_subsets_change_no_number(loop):
    """Resume into a longer run (the pool padded to its capacity) equals the
    uninterrupted run bit for bit; so do threads, chunks and replica subsets."""
    cfg = cfg_of(loop, filter=ms.Filter(0.2, 0.1), **FAM3, em_tol=1e-4)
    assert_threads_chunks_subsets_resume_same(cfg, replicas=5, generations=10, chunk=3, subset=[3, 0], half=4)


def test_accumulate_refuses_pools_too_large_for_memory():
    # the state (the pool of every replica) beyond half the RAM
    with pytest.raises(MemoryError, match=r"Accumulate keeps every point: 50000000 points"):
        ms.simulate(
            cfg_of(ms.Accumulate(synthetic=500_000)),
            replicas=10_000,
            generations=100,
            progress=False,
            metrics="all",
        )
    # one fit's points (the whole pool) beyond the per-thread scratch
    with pytest.raises(ValueError, match=r"a fit's points need more than 2\*\*28 doubles"):
        ms.simulate(
            cfg_of(ms.Accumulate(synthetic=1_000_000)),
            replicas=1,
            generations=100,
            progress=False,
            metrics="all",
        )
