"""Deep collapse on the 1-D replace kernel: the state [mean, v, j] (var =
v 4^j) follows ln sigma^2 far past the underflow of sigma^2, and the
rescaling by powers of 4 changes no number that a plain double holds."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import madsim as ms
from madsim._backend import core
from madsim.reference import gaussian

K = 300  # truth variance 4^-K: below the rescaling threshold 2^-256 from the start


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_rescaling_is_exact(path):
    """A run from N(0, 4^-K) is the run from N(0, 1) scaled by 2^-K, bit for
    bit: the first rescales its state at once, the second never does."""
    kw = dict(replicas=37, generations=40, seed=11, metrics=["mean", "var", "logdet"], progress=False)
    a = ms.simulate(ms.Config(family=ms.Gaussian(var=1.0), loop=ms.Replace(n=10), path=path), **kw)
    b = ms.simulate(ms.Config(family=ms.Gaussian(var=4.0**-K), loop=ms.Replace(n=10), path=path), **kw)
    assert (a["state"].values[:, 2] == 0).all() and (b["state"].values[:, 2] < 0).all()
    assert np.array_equal(b["mean"].values, np.ldexp(a["mean"].values, -K))
    assert np.array_equal(b["var"].values, np.ldexp(a["var"].values, -2 * K))
    np.testing.assert_allclose(b["logdet"].values, a["logdet"].values - 2 * K * math.log(2), rtol=1e-13)


def test_log_variance_follows_theory_past_underflow():
    """n = 10: ln sigma^2 drifts by delta = psi(4.5) + ln(2/10) ~ -0.22 a
    generation, below ln(smallest double) = -744 by generation ~3400."""
    cfg = ms.Config(loop=ms.Replace(n=10))
    t = 6000
    ds = ms.simulate(
        cfg, replicas=2000, generations=t, seed=5, record=[t], metrics=["var", "logdet"], progress=False
    )
    x = ds["logdet"].sel(generation=t).values
    assert np.isfinite(x).all() and (ds["var"].values == 0).mean() > 0.9  # var itself underflowed
    want, var = ms.theory.expected_logdet(cfg, t), ms.theory.var_logdet(cfg, t)
    assert abs(x.mean() - want) < 5 * math.sqrt(var / x.size)


def test_old_results_resume_with_the_scale_slot_added():
    """A Dataset saved before the third state slot ([mean, var]) resumes as
    j = 0: the same numbers as the uninterrupted run."""
    cfg = ms.Config(loop=ms.Replace(n=20))
    kw = dict(replicas=50, seed=3, metrics=["var"], progress=False)
    whole = ms.simulate(cfg, generations=20, **kw)
    old = ms.simulate(cfg, generations=10, **kw).isel(state_index=[0, 1])
    assert old.sizes["state_index"] == 2
    more = ms.resume(old, generations=20)
    assert np.array_equal(more["var"].values, whole["var"].values)
    assert np.array_equal(more["state"].values, whole["state"].values)


# --- kernel against its JAX twin from deep states -----------------------------------------------


def _one_step(n, path, estimator, states, seed, t, tau=1.0):
    O = core.Gaussian1DParams(float(n), 1.0, 0, 0).observe_size
    R = states.shape[0]
    ids = np.arange(R, dtype=np.uint32) * 7919
    gens = np.array([t], np.uint32)
    k_state = states.copy()
    k_rec = np.full((R, 1, O), np.nan)
    core.advance_gaussian1d(
        core.Gaussian1DParams(float(n), 1.0, estimator, path),
        k_state,
        ids,
        seed,
        t - 1,
        t,
        gens,
        0,
        k_rec,
        np.zeros((0, 3)),
        np.zeros((R, 0), np.int64),
        1,
    )
    r_state = states.copy()
    r_rec = np.full((R, 1, O), np.nan)
    gaussian.advance(
        gaussian.Params(n, tau, estimator, path),
        r_state,
        ids,
        seed,
        t - 1,
        t,
        gens,
        0,
        r_rec,
        np.zeros((0, 3)),
        np.zeros((R, 0), np.int64),
        1,
    )
    return k_state, k_rec[:, 0], r_state, r_rec[:, 0]


def _worst(k_state, k_rec, r_state, r_rec):
    """Largest error in units of the tolerances (v: 1e-12 relative; j exact;
    mean 1e-13 relative; logdet 1e-12 relative)."""
    assert np.array_equal(k_state[:, 2], r_state[:, 2]), "j differs"
    return max(
        np.max(np.abs(k_state[:, 1] / r_state[:, 1] - 1)) / 1e-12,
        np.max(np.abs(k_state[:, 0] - r_state[:, 0]) / np.abs(k_state[:, 0])) / 1e-13,
        np.max(np.abs(k_rec[:, 2] / r_rec[:, 2] - 1)) / 1e-12,
    )


@settings(max_examples=4, deadline=None)
@given(
    n=st.integers(3, 60),
    path=st.sampled_from([0, 1]),
    estimator=st.sampled_from([0, 1]),
    log2v=st.floats(-300, 300),
    j=st.integers(-40_000, -1),
    seed=st.integers(0, 2**64 - 1),
    t=st.integers(1, 2**31),
)
def test_deep_step_matches_twin(n, path, estimator, log2v, j, seed, t):
    states = np.array([[0.7, 2.0**log2v * f, float(j)] for f in (1.0, 1.5, 0.9, 1.1)] * 3)
    k_state, k_rec, r_state, r_rec = _one_step(n, path, estimator, states, seed, t)
    assert _worst(k_state, k_rec, r_state, r_rec) <= 1.0
    assert (k_state[:, 1] >= 2.0**-256).all() and (k_state[:, 2] <= 0).all()


def test_deep_step_comparison_detects_tau_perturbed_by_1e_9():
    states = np.array([[0.7, 0.3, -5000.0]] * 8)
    assert _worst(*_one_step(10, 0, 0, states, 99, 17)) <= 1.0
    assert _worst(*_one_step(10, 0, 0, states, 99, 17, tau=1.0 + 1e-9)) > 100.0


def test_jax_backend_follows_the_scale():
    cfg = ms.Config(loop=ms.Replace(n=5))
    kw = dict(
        replicas=4, generations=600, seed=2, record=[300, 600], metrics=["mean", "logdet"], progress=False
    )
    cpu = ms.simulate(cfg, **kw)
    jx = ms.simulate(cfg, backend="jax", **kw)
    assert (cpu["state"].values[:, 2] < 0).all()
    np.testing.assert_allclose(jx["logdet"].values, cpu["logdet"].values, rtol=1e-11)
    np.testing.assert_array_equal(jx["state"].values[:, 2], cpu["state"].values[:, 2])


@pytest.mark.slow
def test_validate_case_at_a_million_generations(capsys):
    """E and Var ln sigma^2 at t = 10^6, n = 100 (~15 s on 2 loaded cores)."""
    import madsim.cli

    assert madsim.cli.main(["validate", "--case", "deep-collapse-mle-n100-t1e6"]) == 0
