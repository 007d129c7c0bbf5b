"""The exact path (sufficient statistics) and the samples path (every draw)
are the same law: two-sample KS at fixed seeds (false-fail rate stats.ALPHA
per assertion, Bonferroni-split)."""

import numpy as np
import pytest

import madsim as ms
import stats


@pytest.mark.parametrize(
    "n,t,estimator,tau",
    [(2, 3, "mle", 1.0), (5, 1, "unbiased", 1.0), (10, 10, "mle", 0.8), (101, 4, "mle", 1.0)],
)
def test_exact_and_samples_paths_agree_in_law(n, t, estimator, tau):
    out = {}
    for path, seed in (("exact", 1), ("samples", 2)):
        cfg = ms.Config(loop=ms.Replace(n=n), estimator=estimator, temperature=tau, path=path)
        out[path] = ms.simulate(cfg, replicas=40_000, generations=t, seed=seed, record=[t], progress=False)
    for field in ("mean", "var"):
        stats.assert_same_law(
            out["exact"][field].values[:, 0],
            out["samples"][field].values[:, 0],
            f"{field}, n={n} t={t} {estimator} tau={tau}",
            stats.ALPHA / 2,
        )


def test_samples_path_keeps_precision_for_nearly_equal_samples():
    # n = 2: the scatter is (z1 - z0)^2 / 2 exactly; shifted sums keep it even
    # when the two draws nearly coincide (a naive sum of squares would not)
    cfg = ms.Config(loop=ms.Replace(n=2), path="samples")
    ds = ms.simulate(cfg, replicas=2000, generations=1, seed=9, record=[1], progress=False)
    z = np.stack([ms.rng.normals(9, 2, replica=r, generation=1, tag="samples") for r in range(2000)])
    expected = (z[:, 1] - z[:, 0]) ** 2 / 4  # MLE: scatter / n
    np.testing.assert_allclose(ds["var"].values[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(ds["mean"].values[:, 0], z.mean(axis=1), rtol=1e-12, atol=1e-15)
