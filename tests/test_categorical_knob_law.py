"""An independent oracle for the categorical sampling knobs.

The kernel and its JAX twin share their reading of temperature, top_k and
top_p, so a bug in both would pass the twin tests. Here the law is computed
from its definition with numpy: synthetic tokens are drawn from q =
p0^(1/tau) normalised, restricted to the top_k most probable tokens, then to
the smallest most-probable set whose mass reaches top_p (renormalised each
time). One generation of Replace(n) refits the empirical frequency, so
E p_1 = q exactly; each token is z-tested at the suite's false-fail rate
(tests/stats.py, Bonferroni over every comparison here), and each case checks
that the sample would see the knob being ignored."""

import numpy as np
import pytest

import madsim as ms
from stats import ALPHA, assert_mean, detectable_shift

P0 = np.array([0.38, 0.27, 0.17, 0.11, 0.07])
CASES = [  # (temperature, top_k, top_p)
    (0.5, None, None),
    (2.0, None, None),
    (0.8, None, None),
    (1.0, 3, None),
    (1.5, 2, None),
    (1.0, None, 0.7),
    (0.7, None, 0.9),
    (2.0, 4, 0.8),
]
PATHS = ("exact", "samples")
N, R = 20, 20_000
A = ALPHA / (len(CASES) * len(PATHS) * P0.size)


def knob_law(p0, tau, top_k, top_p) -> np.ndarray:
    q = p0 ** (1.0 / tau)
    q = q / q.sum()
    order = np.argsort(-q, kind="stable")
    keep = np.zeros(q.size, bool)
    keep[order[: top_k or q.size]] = True
    q = np.where(keep, q, 0.0) / q[keep].sum()
    if top_p is not None:
        mass = np.cumsum(q[order])
        n = int(np.searchsorted(mass, top_p - 1e-12)) + 1  # smallest set reaching top_p
        keep = np.zeros(q.size, bool)
        keep[order[:n]] = True
        q = np.where(keep, q, 0.0) / q[keep].sum()
    return q


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("tau, top_k, top_p", CASES)
def test_one_generation_has_the_knobs_law(tau, top_k, top_p, path):
    cfg = ms.Config(
        family=ms.Categorical(probs=P0.tolist()),
        loop=ms.Replace(n=N),
        temperature=tau,
        top_k=top_k,
        top_p=top_p,
        path=path,
    )
    ds = ms.simulate(cfg, replicas=R, generations=1, seed=11, record=[1], metrics=["probs"], progress=False)
    p1 = ds["probs"].values[:, 0, :]
    q = knob_law(P0, tau, top_k, top_p)
    # the sample sees the knob: ignoring it (q = p0) would be a detectable shift
    se = np.sqrt(q * (1 - q) / (N * R))
    assert np.max(np.abs(q - P0) - np.array([detectable_shift(s, A) for s in se])) > 0
    for i in range(P0.size):
        if q[i] == 0.0:
            assert np.all(p1[:, i] == 0.0), f"token {i} is outside the knobs' support but was drawn"
        else:
            assert_mean(
                p1[:, i], q[i], f"E p_1[{i}] (tau={tau}, top_k={top_k}, top_p={top_p}, {path})", alpha=A
            )


def test_the_oracle_itself():
    np.testing.assert_allclose(knob_law(P0, 1.0, None, None), P0)
    q = knob_law(np.array([0.5, 0.3, 0.2]), 0.5, None, None)
    np.testing.assert_allclose(q, np.array([0.25, 0.09, 0.04]) / 0.38)
    np.testing.assert_allclose(knob_law(np.array([0.5, 0.3, 0.2]), 1.0, 2, None), [0.625, 0.375, 0.0])
    np.testing.assert_allclose(knob_law(np.array([0.5, 0.3, 0.2]), 1.0, None, 0.75), [0.625, 0.375, 0.0])
    np.testing.assert_allclose(knob_law(np.array([0.5, 0.3, 0.2]), 1.0, None, 0.5), [1.0, 0.0, 0.0])
