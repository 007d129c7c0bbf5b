"""Each sampler matches its distribution (false-fail rate: stats.ALPHA per
assertion, Bonferroni-split within a test)."""

import numpy as np
import pytest
from scipy import stats as st

import madsim as ms
import stats

SEED = 7


def test_normals_standard_normal_law():
    z = ms.rng.normals(SEED, 2_000_000, tag="test")
    # sized to see a 1% error in the variance: SE of the variance is sqrt(2/N)
    se_var = np.sqrt(2.0 / z.size)
    assert stats.detectable_shift(se_var, stats.ALPHA / 4) < 0.01
    stats.assert_mean(z, 0.0, "normal mean", stats.ALPHA / 4)
    stats.assert_variance(z, 1.0, "normal variance", stats.ALPHA / 4)
    stats.assert_ks(z, "norm", "normal KS", stats.ALPHA / 4)
    # pairs from one block are independent
    r = np.corrcoef(z[0::2], z[1::2])[0, 1]
    assert abs(r) < stats.z_crit(stats.ALPHA / 4) / np.sqrt(z.size / 2), r


@pytest.mark.parametrize("alpha", [0.5, 0.8, 1.0, 4.5, 49.5, 5e5])
def test_gamma_law_and_spare_normal(alpha):
    ids = np.arange(400_000, dtype=np.uint32)
    g, spare, tries = ms.rng.gamma(alpha, SEED, ids, generation=1, tag="test")
    a = stats.ALPHA / 5
    # variance of a Gamma(alpha) sample mean is alpha/N: sized to see a 1% error
    # in the variance of the chi-square it feeds (1 - 2 sigma... relative sd ~ 1/sqrt(N alpha))
    stats.assert_mean(g, alpha, f"gamma({alpha}) mean", a, se=np.sqrt(alpha / ids.size))
    stats.assert_ks(g, st.gamma(alpha).cdf, f"gamma({alpha}) KS", a)
    stats.assert_ks(spare, "norm", f"gamma({alpha}) spare normal KS", a)
    # the spare is independent of the variate (rank correlation ~ 0)
    rho = st.spearmanr(g[:100_000], spare[:100_000]).statistic
    assert abs(rho) < stats.z_crit(a) / np.sqrt(100_000), rho
    # Marsaglia-Tsang accepts with probability > 0.95 for alpha >= 1
    assert tries.mean() < 1.06


def test_gamma_variance_detects_one_percent():
    # chi^2_{n-1}/(n-1) for n = 10 drives the variance recursion: check its
    # variance to 1% (2/(n-1) exactly)
    ids = np.arange(2_000_000, dtype=np.uint32)
    g, _, _ = ms.rng.gamma(4.5, SEED + 1, ids, generation=2, tag="test")
    x = g / 4.5
    se = np.sqrt(((x - 1) ** 4).mean() - (2 / 9) ** 2) / np.sqrt(x.size)
    assert stats.detectable_shift(se, stats.ALPHA / 2) < 0.01 * (2 / 9)
    stats.assert_mean(x, 1.0, "chi2/df mean", stats.ALPHA / 2)
    stats.assert_variance(x, 2 / 9, "chi2/df variance", stats.ALPHA / 2)


BINOMIAL_CASES = [
    (10, 0.3),
    (40, 0.1),
    (100, 0.5),
    (1000, 0.02),
    (50, 0.9),
    (10**6, 0.3),
    (10**9, 1e-8),
    (2**40, 0.25),
    (7, 0.999),
]


@pytest.mark.parametrize("n,p", BINOMIAL_CASES)
def test_binomial_law(n, p):
    ids = np.arange(200_000, dtype=np.uint32)
    k, tries = ms.rng.binomial(n, p, SEED, ids, generation=3, tag="test")
    assert np.all(k == np.floor(k)) and k.min() >= 0 and k.max() <= n
    dist = st.binom(n, p)
    # every value of a small support; ~60 cells of equal probability (by
    # quantile) for a wide one, so the test stays cheap
    if n <= 200:
        edges = np.arange(n, dtype=float)  # cell j holds k == j, the last k == n
    else:
        edges = np.unique(dist.ppf(np.linspace(0, 1, 61)[1:-1]))  # cell j: edge[j-1] < k <= edge[j]
    cells = np.searchsorted(edges, k, side="left")
    observed = np.bincount(cells, minlength=edges.size + 1)
    cdf = np.concatenate([[0.0], dist.cdf(edges), [1.0]])
    probs = np.diff(cdf)
    stats.assert_counts(observed, probs, f"binomial({n}, {p})", stats.ALPHA / 2)
    stats.assert_mean(
        k, n * p, f"binomial({n}, {p}) mean", stats.ALPHA / 2, se=np.sqrt(n * p * (1 - p) / ids.size)
    )


def test_binomial_edges():
    ids = np.arange(10, dtype=np.uint32)
    assert (ms.rng.binomial(0, 0.5, 1, ids)[0] == 0).all()
    assert (ms.rng.binomial(10, 0.0, 1, ids)[0] == 0).all()
    assert (ms.rng.binomial(10, 1.0, 1, ids)[0] == 10).all()
