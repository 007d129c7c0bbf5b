"""The Poisson family (csrc/madsim/models/poisson.hpp, madsim.families.poisson):
bad input; the sampler's law (samplers.hpp::poisson, inversion and PTRS);
the fit against numpy on the same draws; the kernel against its JAX twin
(madsim.reference.poisson) on hypothesis-drawn configurations, with a
perturbed twin shown to fail; reproducibility across threads, chunks,
replica subsets and resume; Monte Carlo against docs/theory/poisson.md.

False-fail rate: each statistical assertion at tests/stats.py's ALPHA = 1e-5
(two-sided), Bonferroni-split where a test makes several comparisons; the
seeds are fixed, so the default run is deterministic.

Kernel vs twin: the points are integers, so the sums, counts and skipped
fits agree exactly; the rate is the sum over the count, which XLA may
divide a last bit differently (RTOL = 1e-14 relative)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

import madsim as ms

import stats
import strategies as S

RTOL = 1e-14
INTEGER_VARS = ("collapsed", "points_real", "points_synthetic", "skipped")


def run(cfg, seed=1, replicas=2000, generations=10, backend="cpu", **kw):
    kw.setdefault("progress", False)
    return ms.simulate(cfg, replicas=replicas, generations=generations, seed=seed, backend=backend, **kw)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kw,err,match",
    [
        (dict(rate=-1.0), ValueError, "Poisson.rate"),
        (dict(rate=float("nan")), ValueError, "Poisson.rate"),
        (dict(rate="2"), TypeError, "Poisson.rate"),
        (dict(rate=True), TypeError, "Poisson.rate"),
    ],
)
def test_bad_family_arguments_are_refused(kw, err, match):
    with pytest.raises(err, match=match):
        ms.Poisson(**kw)


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(temperature=0.5), "Config.temperature"),
        (dict(estimator="unbiased"), "Config.estimator"),
        (dict(filter=ms.Filter(tpr=0.5)), "Config.filter"),
        (dict(weight=0.5, loop=ms.Fresh(real=5, synthetic=5)), "Config.weight"),
        (dict(truncation=2.0, path="samples"), "Config.truncation"),
        (dict(top_k=3), "Config.top_k"),
        (dict(loop=ms.AccumulateSubsample(n=5, synthetic=5), path="exact"), "AccumulateSubsample needs"),
    ],
)
def test_bad_configs_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        ms.Config(family=ms.Poisson(rate=2.0), **kw)


def test_counts_the_samples_path_cannot_address_are_refused():
    cfg = ms.Config(family=ms.Poisson(), loop=ms.Replace(n=2**24), path="samples")
    with pytest.raises(ValueError, match="use path='exact'"):
        run(cfg, replicas=1, generations=1)
    with pytest.raises(ValueError, match="exceeds 2\\*\\*50"):
        run(ms.Config(family=ms.Poisson(rate=1e12), loop=ms.Replace(n=10**4)), replicas=1, generations=1)


def test_the_twin_checks_params_like_the_kernel():
    pytest.importorskip("jax")
    from madsim._backend import core
    from madsim.reference import poisson

    good = dict(loop=0, path=0, rate0=1.0, real_fixed=0.0, counts=np.array([[0.0, 5.0]]))
    bad = [
        dict(loop=5),
        dict(path=2),
        dict(real_fixed=0.5),
        dict(counts=np.array([[0.0, 1.5]])),
        dict(path=1, counts=np.array([[0.0, 2.0**24]])),
        dict(loop=4),
        dict(loop=4, path=1, subsample_n=0),
    ]
    for change in bad:
        args = {**good, **change}
        with pytest.raises(ValueError) as e1:
            core.PoissonParams(**args)
        with pytest.raises(ValueError) as e2:
            poisson.check_params(poisson.Params(**args))
        assert str(e1.value) == str(e2.value), change


# ---------------------------------------------------------------- the sampler's law

MEANS = (0.7, 9.5, 10.0, 37.0, 1e5)  # inversion below 10, PTRS from 10 on


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_the_sampler_draws_poisson(path):
    """Fresh(real=0, synthetic=1): lambda_1 is one Poisson(lambda_0) draw of
    samplers.hpp::poisson (exact path: site 0 of TAG_SCATTER; samples: of
    TAG_SAMPLES). A chi-square goodness-of-fit over 40 000 replicas per mean
    (cells of expectation >= 20) and the mean, 2 comparisons x 5 means at
    ALPHA / 10 each."""
    alpha = stats.ALPHA / (2 * len(MEANS))
    for mean in MEANS:
        cfg = ms.Config(family=ms.Poisson(rate=mean), loop=ms.Fresh(real=0, synthetic=1), path=path)
        x = run(cfg, seed=11, replicas=40_000, generations=1)["rate"].sel(generation=1).values
        assert np.all(x == np.floor(x)) and np.all(x >= 0)
        lo, hi = int(sps.poisson.ppf(1e-7, mean)), int(sps.poisson.isf(1e-7, mean)) + 1
        observed = np.bincount(np.clip(x.astype(np.int64), lo, hi) - lo, minlength=hi - lo + 1)
        probs = sps.poisson.pmf(np.arange(lo, hi + 1), mean)
        probs[0] += sps.poisson.cdf(lo - 1, mean)
        probs[-1] += sps.poisson.sf(hi, mean)
        stats.assert_counts(observed, probs, f"poisson({mean}) ({path})", alpha)
        stats.assert_mean(x, mean, f"poisson({mean}) mean ({path})", alpha, se=np.sqrt(mean / x.size))


def test_rate_zero_draws_only_zeros_and_stays_there():
    ds = run(
        ms.Config(family=ms.Poisson(rate=0.0), loop=ms.Replace(n=5)),
        replicas=50,
        generations=5,
        metrics="all",
    )
    assert np.all(ds["rate"].values == 0.0) and np.all(ds["collapsed"].values == 1.0)


# ---------------------------------------------------------------- the fit on the same draws


def test_the_fit_is_the_sample_mean_of_the_drawn_points():
    """Samples path, Replace(n=7): the kernel's lambda_1 equals numpy's mean
    of the seven points it drew (each point j re-drawn here from its own
    stream, site j of (generation 1, TAG_SAMPLES), by the twin's sampler)."""
    pytest.importorskip("jax")
    from madsim.reference import philox, samplers

    ids = [0, 3, 2**32 - 1]
    cfg = ms.Config(family=ms.Poisson(rate=4.5), loop=ms.Replace(n=7), path="samples")
    rate = run(cfg, seed=5, replicas=ids, generations=1)["rate"].sel(generation=1).values
    key = philox.seed_key(5)
    for r, got in zip(ids, rate):
        pts = [
            float(samplers.poisson(4.5, philox.make_stream(key, r, 1, philox.TAG_SAMPLES, j))[0])
            for j in range(7)
        ]
        assert got == np.mean(pts)


# ---------------------------------------------------------------- kernel vs twin


def disagreements(a, b):
    bad = [f"{v}: integers differ" for v in INTEGER_VARS if not np.array_equal(a[v].values, b[v].values)]
    for v in ("rate", "state"):
        x, y = a[v].values, b[v].values
        err = np.max(np.abs(x - y) / np.maximum(np.abs(x), 1.0), initial=0.0)
        if not err <= RTOL:
            bad.append(f"{v}: relative error {err:.3g}")
    return bad


def twin_run(cfg, backend, seed, ids):
    return run(
        cfg,
        seed=seed,
        replicas=ids,
        generations=4,
        backend=backend,
        record=ms.every(1),
        metrics="all",
        threads=2,
    )


@st.composite
def configs(draw):
    syn, real = draw(st.sampled_from([1, 3, 9])), draw(st.sampled_from([0, 2, 9]))
    loop = draw(
        st.sampled_from(
            [
                ms.Replace(n=max(syn, 2)),
                ms.Augment(real=real, synthetic=syn),
                ms.Fresh(real=real, synthetic=syn),
                ms.Accumulate(synthetic=syn, real=real),
                ms.AccumulateSubsample(n=draw(st.sampled_from([2, 5])), synthetic=syn, real=real),
            ]
        )
    )
    path = (
        "samples" if isinstance(loop, ms.AccumulateSubsample) else draw(st.sampled_from(["exact", "samples"]))
    )
    rate = draw(st.sampled_from([0.0, 0.05, 3.0, 12.0]) | st.floats(0.0, 40.0, allow_subnormal=False))
    return ms.Config(family=ms.Poisson(rate=rate), loop=loop, path=path)


# Each drawn config compiles the twin (a few seconds): a few in CI, more under -m slow.
@settings(max_examples=S.examples(3))
@given(cfg=configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_twins_agree_on_drawn_configs(cfg, seed, ids):
    pytest.importorskip("jax")
    bad = disagreements(twin_run(cfg, "cpu", seed, ids), twin_run(cfg, "jax", seed, ids))
    assert not bad, f"{cfg}, seed {seed}, replicas {ids}: {bad}"


@pytest.mark.slow
@settings(max_examples=S.examples(40))
@given(cfg=configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_twins_agree_on_many_drawn_configs(cfg, seed, ids):
    pytest.importorskip("jax")
    bad = disagreements(twin_run(cfg, "cpu", seed, ids), twin_run(cfg, "jax", seed, ids))
    assert not bad, f"{cfg}, seed {seed}, replicas {ids}: {bad}"


def test_a_twin_reading_the_wrong_site_fails(monkeypatch):
    """The comparison can fail: a twin whose samples-path point j reads site
    j + 1 (an off-by-one in the stream layout) parts from the kernel. (The
    compiled twins are dropped before and after, so neither run reuses the
    other's program.)"""
    pytest.importorskip("jax")
    import jax

    from madsim.reference import poisson

    cfg = ms.Config(family=ms.Poisson(rate=3.0), loop=ms.Replace(n=9), path="samples")
    ids = [0, 5, 2**32 - 1, 123456]
    kernel = twin_run(cfg, "cpu", 77, ids)
    assert not disagreements(kernel, twin_run(cfg, "jax", 77, ids))
    real_stream = poisson.make_stream
    try:
        with monkeypatch.context() as m:
            m.setattr(
                poisson,
                "make_stream",
                lambda key, replica, gen, tag, site: real_stream(key, replica, gen, tag, site + 1),
            )
            jax.clear_caches()
            assert disagreements(kernel, twin_run(cfg, "jax", 77, ids))
    finally:
        jax.clear_caches()


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_threads_chunks_subsets_and_resume_change_no_number(path):
    cfg = ms.Config(family=ms.Poisson(rate=2.5), loop=ms.Accumulate(synthetic=6, real=2), path=path)
    whole = run(cfg, seed=3, replicas=64, generations=9, record=ms.every(1), metrics="all", threads=1)
    other = run(
        cfg, seed=3, replicas=64, generations=9, record=ms.every(1), metrics="all", threads=3, chunk=2
    )
    assert whole["rate"].equals(other["rate"]) and whole["state"].equals(other["state"])
    part = run(cfg, seed=3, replicas=[5, 60], generations=9, record=ms.every(1), metrics="all")
    assert np.array_equal(part["rate"].values, whole["rate"].values[[5, 60]])
    first = run(cfg, seed=3, replicas=64, generations=4, record=ms.every(1), metrics="all")
    assert ms.resume(first, generations=9)["rate"].equals(whole["rate"])


# ---------------------------------------------------------------- Monte Carlo against theory

LOOPS = [
    ms.Replace(n=20),
    ms.Augment(real=10, synthetic=20),
    ms.Fresh(real=5, synthetic=20),
    ms.Accumulate(synthetic=20),
    ms.Accumulate(synthetic=10, real=3),
]


@pytest.mark.parametrize("loop", LOOPS, ids=lambda lp: type(lp).__name__)
def test_mean_and_variance_of_the_rate_match_theory(loop):
    """E lambda_t = lambda_0 and Var lambda_t by docs/theory/poisson.md at
    t = 10 (exact path, 40 000 replicas; 2 comparisons at ALPHA / 2 each)."""
    cfg = ms.Config(family=ms.Poisson(rate=1.5), loop=loop)
    x = run(cfg, seed=21, replicas=40_000, generations=10)["rate"].sel(generation=10).values
    stats.assert_mean(x, float(ms.theory.poisson_rate_mean(cfg, 10)), "E rate", stats.ALPHA / 2)
    stats.assert_variance(x, float(ms.theory.poisson_rate_variance(cfg, 10)), "Var rate", stats.ALPHA / 2)


def test_collapse_probability_under_replace_matches_theory():
    """P(lambda_t = 0) under Replace (the generating-function composition),
    also with a growing schedule; 3 comparisons at ALPHA / 3 each, Bernoulli
    standard errors from the theory's p."""
    for loop, t in ((ms.Replace(n=10), 5), (ms.Replace(n=10), 40), (ms.Replace(n=[10, 20, 40, 80]), 4)):
        cfg = ms.Config(family=ms.Poisson(rate=0.1), loop=loop)
        x = run(cfg, seed=4, replicas=40_000, generations=t, metrics=["collapsed"])["collapsed"]
        x = x.sel(generation=t).values
        p = float(ms.theory.poisson_collapse_probability(cfg, t))
        stats.assert_mean(x, p, f"P(collapsed at {t})", stats.ALPHA / 3, se=np.sqrt(p * (1 - p) / x.size))


def test_a_detector_finds_the_first_generation_at_zero_and_plots_draw_the_theory():
    """FirstPassage("rate", below=0.0) is the first generation the model sits
    at 0 (absorbing under Replace: collapsed from then on); plots.metric
    draws the theory curves the family's spec gives."""
    pytest.importorskip("matplotlib")
    from madsim import plots

    cfg = ms.Config(family=ms.Poisson(rate=0.2), loop=ms.Replace(n=5))
    ds = run(
        cfg,
        seed=2,
        replicas=200,
        generations=30,
        record=ms.every(1),
        metrics="all",
        detect=[ms.FirstPassage("rate", below=0.0, name="at_zero")],
    )
    collapsed = ds["collapsed"].values == 1.0
    first = np.where(collapsed.any(axis=1), collapsed.argmax(axis=1), -1)
    assert np.array_equal(ds["at_zero"].values, first) and (first > 0).any()
    assert all(collapsed[i, f:].all() for i, f in enumerate(first) if f >= 0)
    ax = plots.metric(ds, "collapsed")
    assert any("theory" in (line.get_label() or "") for line in ax.get_lines())


def test_theory_refuses_what_it_does_not_cover():
    with pytest.raises(NotImplementedError, match="AccumulateSubsample"):
        ms.theory.poisson_rate_variance(
            ms.Config(family=ms.Poisson(), path="samples", loop=ms.AccumulateSubsample(n=5, synthetic=5)), 3
        )
    with pytest.raises(NotImplementedError, match="Replace only"):
        ms.theory.poisson_collapse_probability(ms.Config(family=ms.Poisson(), loop=ms.Fresh()), 3)
    with pytest.raises(TypeError, match="Poisson family"):
        ms.theory.poisson_rate_variance(ms.Config(), 3)
    # Replace: Var = t lambda_0 / n exactly
    cfg = ms.Config(family=ms.Poisson(rate=2.0), loop=ms.Replace(n=50))
    assert np.allclose(ms.theory.poisson_rate_variance(cfg, np.arange(5)), np.arange(5) * 2.0 / 50)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["exact", "samples"])
def test_every_loop_long_runs_match_theory(path):
    """100 generations, 100 000 replicas, every loop but AccumulateSubsample
    (5 loops x 2 comparisons at ALPHA / 10)."""
    for loop in LOOPS:
        cfg = ms.Config(family=ms.Poisson(rate=3.0), loop=loop, path=path)
        x = run(cfg, seed=8, replicas=100_000, generations=100)["rate"].sel(generation=100).values
        stats.assert_mean(x, 3.0, f"E rate {loop}", stats.ALPHA / 10)
        stats.assert_variance(
            x, float(ms.theory.poisson_rate_variance(cfg, 100)), f"Var rate {loop}", stats.ALPHA / 10
        )
