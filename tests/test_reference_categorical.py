"""Differential tests: the categorical kernel (csrc/madsim/models/categorical.hpp)
against its JAX twin (madsim.reference.categorical) on the same Philox
streams, configurations drawn by hypothesis.

Agreement: every integer (token counts, survivors, subsample picks, skipped
fits, support sizes) exactly; probabilities to 2 ulp (XLA may divide by a
broadcast count through its reciprocal); metrics to 1e-13 relative (XLA
reductions sum in another order than the C++ loops; observed <= 2e-15).
Shapes come in buckets so the twin compiles a few dozen programs at most.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import madsim as ms
from madsim.families.categorical import TOKEN_METRICS

import strategies as S  # noqa: F401  (loads the hypothesis profile)

pytest.importorskip("jax")

K_BUCKETS = (1, 3, 9)
COUNT_BUCKETS = (0, 3, 10, 33)
GENERATIONS = 5
INTEGER_VARS = ("points_real", "points_synthetic", "skipped", "support")
PROB_RTOL = 4.5e-16
METRIC_RTOL = 1e-13


def run(cfg, backend, seed, ids):
    return ms.simulate(
        cfg,
        replicas=ids,
        generations=GENERATIONS,
        seed=seed,
        record=ms.every(1),
        metrics=["probs", "points_real", "points_synthetic", "skipped", *TOKEN_METRICS],
        backend=backend,
        progress=False,
        threads=2,
    )


def disagreements(a, b):
    """Names (with the worst error) of the variables where the twins part."""
    bad = []
    for v in INTEGER_VARS:
        if not np.array_equal(a[v].values, b[v].values):
            bad.append(f"{v}: integers differ")
    x, y = a["probs"].values, b["probs"].values
    err = np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-300), initial=0.0)
    if err > PROB_RTOL:
        bad.append(f"probs: relative error {err:.3g}")
    for v in TOKEN_METRICS:
        x, y = a[v].values, b[v].values
        if not np.array_equal(np.isinf(x), np.isinf(y)) or np.any(np.isnan(x)) or np.any(np.isnan(y)):
            bad.append(f"{v}: infinities or NaNs differ")
            continue
        fin = np.isfinite(x)
        err = np.abs(x[fin] - y[fin]) / np.maximum(np.abs(x[fin]), 1.0)
        if err.size and err.max() > METRIC_RTOL:
            bad.append(f"{v}: error {err.max():.3g}")
    if not np.allclose(a["state"].values, b["state"].values, rtol=PROB_RTOL, atol=0.0):
        bad.append("state rows differ")
    return bad


def loops(syn, real):
    syn = max(syn, 1)
    return st.sampled_from(
        [
            ms.Replace(n=max(syn, 2)),
            ms.Augment(real=real, synthetic=syn),
            ms.Fresh(real=real, synthetic=syn),
            ms.Accumulate(synthetic=syn, real=real),
            ms.AccumulateSubsample(n=max(syn // 2, 2), synthetic=syn, real=real),
        ]
    )


@st.composite
def configs(draw):
    K = draw(st.sampled_from(K_BUCKETS))
    truth = draw(st.sampled_from(["uniform", "zipf", "probs"]))
    if truth == "probs":
        w = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=K, max_size=K)))
        w[w < 1e-300] = 0.0  # no subnormal probability (refused by Categorical)
        if w.sum() <= 0:
            w[0] = 1.0
        w = w / w.sum()
        w[w < 1e-300] = 0.0
        w[-1] = max(0.0, 1.0 - w[:-1].sum())  # sums to 1 within rounding
        if 0.0 < w[-1] < 1e-300:
            w[-1] = 0.0
            w[0] += 1.0 - w.sum()
        fam = ms.Categorical(probs=w.tolist())
    else:
        fam = ms.Categorical(tokens=K, zipf=1.1 if truth == "zipf" else None)
    loop = draw(loops(draw(st.sampled_from(COUNT_BUCKETS)), draw(st.sampled_from(COUNT_BUCKETS))))
    kw = dict(path=draw(st.sampled_from(["exact", "samples"])))
    if draw(st.booleans()):
        kw["temperature"] = draw(st.sampled_from([0.5, 2.0]) | st.floats(0.2, 3.0))
    if draw(st.booleans()):
        kw["top_k"] = draw(st.integers(1, K))
    if draw(st.booleans()):
        kw["top_p"] = draw(st.floats(0.05, 1.0))
    if draw(st.booleans()):
        kw["filter"] = ms.Filter(tpr=draw(st.floats(0.0, 0.9)), fpr=draw(st.floats(0.0, 0.9)))
    if (
        isinstance(loop, (ms.Fresh, ms.Augment))
        and draw(st.booleans())
        and min(loop.real, loop.synthetic) >= 1
    ):
        kw["weight"] = draw(st.floats(0.0, 1.0))
    elif draw(st.booleans()):
        fam = ms.Categorical(**{**_fields(fam), "smoothing": draw(st.floats(0.0, 2.0))})
    try:
        return ms.Config(family=fam, loop=loop, **kw)
    except ValueError:
        return ms.Config(family=fam, loop=ms.Replace(n=10), path=kw["path"])


def _fields(fam):
    return dict(
        tokens=None if fam.probs else fam.tokens,
        zipf=fam.zipf,
        probs=fam.probs,
        smoothing=fam.smoothing,
        rare=fam.rare,
    )


@settings(max_examples=S.examples(10))
@given(cfg=configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_twins_agree_on_drawn_configs(cfg, seed, ids):
    a, b = run(cfg, "cpu", seed, ids), run(cfg, "jax", seed, ids)
    bad = disagreements(a, b)
    assert not bad, f"{cfg}, seed {seed}, replicas {ids}: {bad}"


@pytest.mark.parametrize("path", ["exact", "samples"])
@pytest.mark.parametrize(
    "loop",
    [
        ms.Replace(n=12),
        ms.Augment(real=7, synthetic=9),
        ms.Fresh(real=3, synthetic=11),
        ms.Accumulate(synthetic=6, real=2),
        ms.AccumulateSubsample(n=8, synthetic=6, real=3),
    ],
    ids=lambda x: type(x).__name__,
)
def test_twins_agree_every_loop_with_every_knob(loop, path):
    cfg = ms.Config(
        family=ms.Categorical(tokens=9, zipf=0.9),
        loop=loop,
        path=path,
        temperature=0.8,
        top_k=7,
        top_p=0.93,
        filter=ms.Filter(tpr=0.25, fpr=0.15),
    )
    ids = [0, 5, 2**32 - 1, 123456]
    bad = disagreements(run(cfg, "cpu", 77, ids), run(cfg, "jax", 77, ids))
    assert not bad, bad


def test_failing_example_subnormal_probability_refused():
    """Found by hypothesis in CI: a truth with a subnormal probability parted
    the twins (XLA flushes it, so the support differed). It is now refused."""
    with pytest.raises(ValueError, match=r"probs\[1\] = 5e-324 is subnormal"):
        ms.Categorical(probs=[0.0, 5e-324, 1.0])


def test_failing_example_subnormal_smoothing():
    """Found by hypothesis in CI: smoothing 1.1e-308 made unseen tokens' probabilities
    subnormal (XLA flushes them: the support differed). Fits now give 0 there."""
    cfg = ms.Config(family=ms.Categorical(tokens=3, smoothing=1.1125369292536007e-308), loop=ms.Replace(n=2))
    ids = [0, 1, 2, 3]
    assert not disagreements(run(cfg, "cpu", 0, ids), run(cfg, "jax", 0, ids))


def test_comparison_detects_a_smoothing_of_1e_9():
    """The differential check can fail: a 1e-9 add-alpha in one twin only
    moves every probability by ~1e-10, which it reports."""
    cfg = ms.Config(family=ms.Categorical(tokens=3), loop=ms.Replace(n=10))
    cfg2 = ms.Config(family=ms.Categorical(tokens=3, smoothing=1e-9), loop=ms.Replace(n=10))
    a, b = run(cfg, "cpu", 1, [0, 1, 2, 3]), run(cfg2, "jax", 1, [0, 1, 2, 3])
    assert any(s.startswith("probs") for s in disagreements(a, b))


def test_reference_params_checked_like_the_kernel():
    from madsim.reference import categorical
    from madsim._backend import core

    good = dict(
        loop=0,
        path=0,
        top_k=0,
        tau=1.0,
        top_p=1.0,
        smoothing=0.0,
        weight=-1.0,
        tpr=0.0,
        fpr=0.0,
        real_fixed=0.0,
        subsample_n=0,
        truth=np.array([0.5, 0.5]),
        rare=np.array([0.0, 1.0]),
        counts=np.array([[0.0, 4.0]]),
    )
    # the memory-safety checks (sizes, caps, codes); the numerical domain is
    # Python's (tests/test_param_checks.py)
    bad = [
        dict(top_k=3),
        dict(loop=7),
        dict(path=2),
        dict(counts=np.array([[0.0, 1.5]])),
        dict(truth=np.array([])),
        dict(rare=np.array([1.0])),
    ]
    for change in bad:
        args = {**good, **change}
        with pytest.raises(ValueError) as e1:
            core.CategoricalParams(**args)
        with pytest.raises(ValueError) as e2:
            categorical._cat_params(categorical.Params(**args))
        assert str(e1.value) == str(e2.value), change


# --- the alias table over the support: runs whose support shrinks ---------------------------------

SHRINK_K = 12
SHRINK_N = (6, 40)  # 40 > 4 x support (support <= 9) draws the exact path's binomials


def _with_dead_tokens(live: list[bool], weights: list[float]) -> list[float]:
    """A truth whose dead tokens (live False) have probability 0 exactly."""
    w = np.where(live, weights, 0.0)
    w = w / w.sum()
    last = int(np.flatnonzero(live)[-1])
    w[last] = 0.0
    w[last] = 1.0 - w.sum()
    return w.tolist()


@st.composite
def shrinking_configs(draw):
    """A truth with dead tokens and samples small enough that the support
    keeps shrinking: every alias table is built over fewer columns than K,
    and the column count changes along the run (and across replicas)."""
    live = draw(
        st.lists(st.booleans(), min_size=SHRINK_K, max_size=SHRINK_K).filter(lambda v: 0 < sum(v) < SHRINK_K)
    )
    weights = draw(st.lists(st.floats(0.05, 1.0), min_size=SHRINK_K, max_size=SHRINK_K))
    fam = ms.Categorical(probs=_with_dead_tokens(live, weights))
    n = draw(st.sampled_from(SHRINK_N))
    loop = draw(st.sampled_from([ms.Replace(n=n), ms.Fresh(real=3, synthetic=n)]))
    kw = dict(path=draw(st.sampled_from(["exact", "samples"])))
    if draw(st.booleans()):
        kw["top_k"] = draw(st.integers(1, SHRINK_K))
    return ms.Config(family=fam, loop=loop, **kw)


@settings(max_examples=S.examples(6))
@given(cfg=shrinking_configs(), seed=S.seeds, ids=S.replica_id_sets)
def test_twins_agree_where_the_support_shrinks(cfg, seed, ids):
    a, b = run(cfg, "cpu", seed, ids), run(cfg, "jax", seed, ids)
    assert np.all(a["support"].values < SHRINK_K)  # every table smaller than K
    bad = disagreements(a, b)
    assert not bad, f"{cfg}, seed {seed}, replicas {ids}: {bad}"


def test_comparison_detects_columns_not_mapped_back_to_tokens(monkeypatch):
    """The check can fail: a twin that draws column floor(u S) of the table
    over the support but forgets to map it back to its token id (token s
    instead of the s-th live token) parts from the kernel."""
    import jax
    import jax.numpy as jnp

    from madsim.reference import categorical

    def unmapped(K, n, q, st, nmax):
        S, prob, tok, alias = categorical.alias_table(K, q)
        w = categorical.block(st, jnp.arange((nmax + 1) // 2, dtype=jnp.uint32))
        u = jnp.stack(
            [categorical.uniform52(w[:, 0], w[:, 1]), categorical.uniform52(w[:, 2], w[:, 3])], axis=1
        )
        x = u.reshape(-1)[:nmax] * S.astype(jnp.float64)
        col = jnp.minimum(jnp.floor(x), S - 1.0)
        i = col.astype(jnp.int64)
        pick = jnp.where(x - col < prob[i], i, alias[i])  # the perturbation: i, not tok[i]
        return jnp.zeros(K, jnp.float64).at[pick].add(jnp.where(jnp.arange(nmax) < n, 1.0, 0.0))

    live = [False, True] * (SHRINK_K // 2)
    cfg = ms.Config(
        family=ms.Categorical(probs=_with_dead_tokens(live, [1.0] * SHRINK_K)), loop=ms.Replace(n=5)
    )
    ids = [0, 1, 2, 3]
    jax.clear_caches()  # the compiled twin must trace the patched function, and only here
    monkeypatch.setattr(categorical, "counts_tokens", unmapped)
    try:
        bad = disagreements(run(cfg, "cpu", 3, ids), run(cfg, "jax", 3, ids))
    finally:
        jax.clear_caches()
    assert any(s.startswith("points") or s.startswith("probs") or s.startswith("support") for s in bad), bad
