"""The categorical token family: configuration errors, the sampling knobs
against their definitions (enumeration on small K), the one-generation law
of both paths, the metrics against their definitions, reproducibility.

Statistical assertions use tests/stats.py (ALPHA = 1e-5 per assertion, fixed
seeds: deterministic)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

import madsim as ms
from madsim._backend import core
from madsim.families.categorical import TOKEN_METRICS

from stats import ALPHA, assert_counts, assert_mean


def cat(**kw):
    loop = kw.pop("loop", ms.Replace(n=20))
    fam = kw.pop("family", ms.Categorical(tokens=5, zipf=1.0))
    return ms.Config(family=fam, loop=loop, **kw)


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(probs=[0.5, 0.4]), "sum to 1"),
        (dict(probs=[0.5, 0.6, -0.1]), r"probs\[2\] = -0.1"),
        (dict(probs=[]), "at least one token"),
        (dict(probs=[0.5, float("nan"), 0.5]), "finite"),
        (dict(tokens=0), "tokens must be an integer in"),
        (dict(tokens=2**24 + 1), "tokens must be an integer in"),
        (dict(tokens=3, probs=[0.5, 0.5]), "tokens = 3 but probs has 2"),
        (dict(probs=[1.0], zipf=1.0), "probs or zipf"),
        (dict(zipf=-1.0), "zipf"),
        (dict(smoothing=-1.0), "smoothing"),
        (dict(rare=0.0), "rare"),
    ],
)
def test_bad_family(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ms.Categorical(**kw)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(top_p=0.0), r"top_p must be a finite number in \(0.0, 1.0\]"),
        (dict(top_p=1.5), "top_p"),
        (dict(top_k=0), "top_k must be an integer in"),
        (dict(top_k=6), "top_k must be an integer in"),
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=-1.0), "temperature"),
        (dict(estimator="unbiased"), "estimator must be 'mle'"),
        (dict(truncation=2.0), "top_k or top_p"),
        (
            dict(
                weight=0.5, loop=ms.Fresh(real=5, synthetic=5), family=ms.Categorical(tokens=5, smoothing=1.0)
            ),
            "smoothing",
        ),
        (dict(weight=0.5, loop=ms.Fresh(real=0, synthetic=5)), "Fresh.real can be 0"),
        (dict(filter=ms.Filter(tpr=1.0), loop=ms.Replace(n=5)), "after Filter"),
    ],
)
def test_bad_config(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cat(**kw)


def test_knobs_refused_on_gaussians():
    with pytest.raises(ValueError, match="top_k applies to token families"):
        ms.Config(family=ms.Gaussian(), top_k=3)


def test_truth_and_rare_tokens():
    z = ms.Categorical(tokens=4, zipf=1.0)
    w = 1.0 / np.arange(1, 5)
    np.testing.assert_allclose(z.truth, w / w.sum(), rtol=1e-15)
    assert list(z.rare_tokens) == [3]  # ceil(0.1 * 4) = 1: the last
    u = ms.Categorical(tokens=20, rare=0.25)
    assert list(u.rare_tokens) == [15, 16, 17, 18, 19]  # ties: the higher index is rarer
    p = ms.Categorical(probs=[0.1, 0.4, 0.1, 0.4], rare=0.5)
    assert list(p.rare_tokens) == [0, 2]


def test_config_round_trip():
    cfg = cat(top_k=3, top_p=0.9, temperature=0.7, family=ms.Categorical(probs=[0.2, 0.3, 0.5]))
    back = ms.Config.from_dict(cfg.to_dict())
    assert back == cfg


# --- the sampling law: knobs against their definitions --------------------------------------


def law_by_definition(p, tau, top_k, top_p):
    """q from the definitions, by enumeration: temperature p^(1/tau)
    renormalised; top-k: the k most probable tokens (ties: lower index);
    top-p: among all subsets, the smallest one with mass >= top_p, of the
    largest mass at that size, ties to the lexicographically smallest in rank
    order."""
    p = np.asarray(p, float)
    K = p.size
    q = np.where(p > 0, (p / p.max()) ** (1.0 / tau), 0.0)
    rank = sorted(range(K), key=lambda i: (-q[i], i))
    if top_k:
        q[rank[top_k:]] = 0.0
    if top_p < 1.0:
        total = q.sum()
        best = None
        for size in range(1, K + 1):
            for sub in itertools.combinations(rank, size):  # rank order: lexicographic = preferred
                mass = q[list(sub)].sum()
                if mass >= top_p * total * (1 - 1e-12) and (best is None or mass > best[0] * (1 + 1e-12)):
                    best = (mass, sub)
            if best is not None:
                break
        keep = np.zeros(K, bool)
        keep[list(best[1])] = True
        q = np.where(keep, q, 0.0)
    return q / q.sum()


@pytest.mark.parametrize("seed", range(40))
def test_sampling_law_matches_definition(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 8))
    p = rng.dirichlet(np.full(K, 0.7))
    if seed % 4 == 0:
        p = np.round(p * 4) / 4 if np.round(p * 4).sum() == 4 else p  # ties
    p[rng.random(K) < 0.15] = 0.0
    if p.sum() == 0:
        p[0] = 1.0
    p = p / p.sum()
    tau = float(rng.choice([1.0, 0.5, 2.0, rng.uniform(0.2, 3.0)]))
    top_k = int(rng.integers(0, K + 1))
    top_p = float(rng.choice([1.0, 0.5, 0.9, rng.uniform(0.05, 1.0)]))
    q = core.categorical_sampling_law(p, tau, top_k, top_p)
    np.testing.assert_allclose(
        q,
        law_by_definition(p, tau, top_k, top_p),
        rtol=1e-12,
        atol=1e-15,
        err_msg=f"p={p}, tau={tau}, top_k={top_k}, top_p={top_p}",
    )


def test_sampling_law_cases():
    p = np.array([0.1, 0.4, 0.2, 0.3])
    np.testing.assert_allclose(core.categorical_sampling_law(p, 1.0, 2, 1.0), [0, 4 / 7, 0, 3 / 7])
    np.testing.assert_allclose(core.categorical_sampling_law(p, 1.0, 0, 0.7), [0, 4 / 7, 0, 3 / 7])
    np.testing.assert_allclose(core.categorical_sampling_law(p, 1.0, 0, 0.71), [0, 4 / 9, 2 / 9, 3 / 9])
    q = core.categorical_sampling_law(p, 0.5, 0, 1.0)  # p^2 renormalised
    np.testing.assert_allclose(q, p**2 / (p**2).sum(), rtol=1e-15)
    assert np.array_equal(core.categorical_sampling_law(p, 1e-4, 0, 1.0), [0, 1, 0, 0])  # greedy (underflow)


# --- one generation in law ---------------------------------------------------------------------


def one_generation(cfg, R=40000, seed=11):
    ds = ms.simulate(
        cfg,
        replicas=R,
        generations=1,
        seed=seed,
        record=[1],
        metrics=["probs", "points_real", "points_synthetic"],
        progress=False,
    )
    return ds


def multinomial_cells(n, K):
    return [c for c in itertools.product(range(n + 1), repeat=K) if sum(c) == n]


@pytest.mark.parametrize("path", ["exact", "samples"])
@pytest.mark.parametrize("knobs", [dict(), dict(temperature=0.6, top_k=3), dict(top_p=0.6, temperature=1.7)])
def test_one_generation_is_multinomial(path, knobs):
    """Counts of n = 4 synthetic tokens over K = 4 tokens against the
    multinomial law of q (every one of the 35 outcomes)."""
    fam = ms.Categorical(probs=[0.4, 0.3, 0.2, 0.1])
    n = 4
    cfg = cat(family=fam, loop=ms.Replace(n=n), path=path, **knobs)
    ds = one_generation(cfg)
    counts = np.rint(ds["probs"].values[:, 0, :] * n).astype(int)
    q = core.categorical_sampling_law(fam.truth, cfg.temperature, cfg.top_k or 0, cfg.top_p or 1.0)
    cells = multinomial_cells(n, 4)
    index = {c: i for i, c in enumerate(cells)}
    obs = np.bincount([index[tuple(c)] for c in counts], minlength=len(cells))
    pmf = np.array([stats.multinomial.pmf(c, n, q) for c in cells])
    keep = pmf > 0
    assert obs[~keep].sum() == 0, "a token outside the sampling law's support was drawn"
    assert_counts(obs[keep], pmf[keep], f"{path} {knobs}: multinomial(4, q)")


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_large_counts_marginals(path):
    """n = 10^5 tokens (the exact path's BTRS branch): each token's count is
    Binomial(n, p_i): mean and variance."""
    fam = ms.Categorical(tokens=6, zipf=1.2)
    n = 100_000
    ds = one_generation(cat(family=fam, loop=ms.Replace(n=n), path=path), R=4000)
    c = ds["probs"].values[:, 0, :] * n
    p0 = fam.truth
    for i in range(6):
        assert_mean(c[:, i], n * p0[i], f"{path}: E count of token {i}", alpha=ALPHA / 12)
        v = c[:, i].var(ddof=1)
        se = n * p0[i] * (1 - p0[i]) * math.sqrt(2 / (c.shape[0] - 1))
        z = (v - n * p0[i] * (1 - p0[i])) / se
        assert abs(z) < stats.norm.isf(ALPHA / 24), f"{path}: Var count of token {i}: z = {z:.2f}"


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_filter_and_fresh_real_part(path):
    cfg = cat(loop=ms.Fresh(real=30, synthetic=50), path=path, filter=ms.Filter(tpr=0.3, fpr=0.1))
    ds = one_generation(cfg, R=20000)
    kept_syn = ds["points_synthetic"].values[:, 0]
    kept_real = ds["points_real"].values[:, 0]
    assert_counts(
        np.bincount(kept_syn.astype(int), minlength=51),
        stats.binom.pmf(np.arange(51), 50, 0.7),
        "synthetic survivors ~ Binomial(50, 0.7)",
        alpha=ALPHA / 2,
    )
    assert_counts(
        np.bincount(kept_real.astype(int), minlength=31),
        stats.binom.pmf(np.arange(31), 30, 0.9),
        "real survivors ~ Binomial(30, 0.9)",
        alpha=ALPHA / 2,
    )


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_subsample_of_the_pool(path):
    """Generation 1 of AccumulateSubsample(n=6) on 8 real + 12 synthetic
    tokens: the real tokens in the subsample are Hypergeometric(20, 8, 6),
    and (every pooled token being an iid draw of the truth at generation 1)
    the subsample's counts are Multinomial(6, p0)."""
    fam = ms.Categorical(probs=[0.5, 0.3, 0.2])
    cfg = cat(family=fam, loop=ms.AccumulateSubsample(n=6, synthetic=12, real=8), path=path)
    ds = one_generation(cfg, R=30000)
    real = ds["points_real"].values[:, 0].astype(int)
    assert np.all(real + ds["points_synthetic"].values[:, 0] == 6)
    assert_counts(
        np.bincount(real, minlength=7),
        stats.hypergeom.pmf(np.arange(7), 20, 8, 6),
        "real tokens in the subsample",
        alpha=ALPHA / 2,
    )
    counts = np.rint(ds["probs"].values[:, 0, :] * 6).astype(int)
    cells = multinomial_cells(6, 3)
    index = {c: i for i, c in enumerate(cells)}
    obs = np.bincount([index[tuple(c)] for c in counts], minlength=len(cells))
    assert_counts(
        obs,
        [stats.multinomial.pmf(c, 6, fam.truth) for c in cells],
        "subsample counts ~ Multinomial(6, p0)",
        alpha=ALPHA / 2,
    )


def test_paths_agree_in_law_over_generations():
    """Exact and samples paths after 15 generations with every knob: the
    support size and the entropy have the same law (two-sample tests)."""
    base = dict(
        family=ms.Categorical(tokens=12, zipf=0.8),
        loop=ms.Fresh(real=4, synthetic=25),
        temperature=0.9,
        top_p=0.95,
        filter=ms.Filter(tpr=0.2, fpr=0.0),
    )
    out = {}
    for path in ("exact", "samples"):
        out[path] = ms.simulate(
            cat(path=path, **base),
            replicas=6000,
            generations=15,
            seed=5,
            record=[15],
            metrics=["support", "entropy"],
            progress=False,
        )
    a, b = out["exact"], out["samples"]
    sa, sb = a["support"].values[:, 0], b["support"].values[:, 0]
    table = np.array([np.bincount(sa.astype(int), minlength=13), np.bincount(sb.astype(int), minlength=13)])
    table = table[:, table.sum(0) >= 10]
    assert stats.chi2_contingency(table).pvalue > ALPHA / 2, "support laws differ between paths"
    res = stats.ks_2samp(a["entropy"].values[:, 0], b["entropy"].values[:, 0])
    assert res.pvalue > ALPHA / 2, f"entropy laws differ: KS p = {res.pvalue:.3g}"


# --- metrics against their definitions ---------------------------------------------------------


def metrics_by_definition(p, p0, rare):
    pos = p > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_mt = np.inf if np.any(pos & (p0 == 0)) else float(np.sum(p[pos] * np.log(p[pos] / p0[pos])))
        kl_tm = (
            np.inf if np.any((p0 > 0) & ~pos) else float(np.sum(p0[p0 > 0] * np.log(p0[p0 > 0] / p[p0 > 0])))
        )
    s = np.sort(p[pos])[::-1]
    zipf = -np.polyfit(np.log(np.arange(1, s.size + 1)), np.log(s), 1)[0] if s.size > 1 else np.inf
    return dict(
        entropy=-np.sum(p[pos] * np.log(p[pos])),
        support=pos.sum(),
        gini_simpson=1 - np.sum(p * p),
        rare_mass=p[rare].sum(),
        max_prob=p.max(),
        tv=0.5 * np.abs(p - p0).sum(),
        kl_model_truth=kl_mt,
        kl_truth_model=kl_tm,
        zipf_exponent=zipf,
    )


def test_metrics_match_definitions():
    fam = ms.Categorical(tokens=30, zipf=1.1, rare=0.2)
    cfg = cat(family=fam, loop=ms.Replace(n=40))
    ds = ms.simulate(
        cfg,
        replicas=50,
        generations=30,
        seed=2,
        record=ms.every(3),
        metrics=["probs", *TOKEN_METRICS],
        progress=False,
    )
    p0, rare = fam.truth, fam.rare_tokens
    for r in range(50):
        for g in range(ds.sizes["generation"]):
            p = ds["probs"].values[r, g]
            want = metrics_by_definition(p, p0, rare)
            for name, v in want.items():
                got = ds[name].values[r, g]
                if np.isinf(v):
                    assert got == v, (name, r, g)
                else:
                    assert got == pytest.approx(v, rel=1e-12, abs=1e-13), (name, r, g, got, v)
    for name, v in metrics_by_definition(p0, p0, rare).items():
        assert ds[name].attrs["truth_value"] == pytest.approx(v, rel=1e-12, abs=1e-15), name


def test_collapse_detectors_and_probs_default():
    fam = ms.Categorical(tokens=100)
    cfg = cat(family=fam, loop=ms.Replace(n=100))
    det = [
        ms.FirstPassage("support", below=99, name="first_loss"),
        ms.FirstPassage("support", below=1, name="total_collapse"),
    ]
    ds = ms.simulate(
        cfg,
        replicas=200,
        generations=2000,
        seed=4,
        record=ms.every(1),
        detect=det,
        metrics=["support"],
        progress=False,
    )
    sup = ds["support"].values
    for name, thr in (("first_loss", 99), ("total_collapse", 1)):
        hit = sup <= thr
        brute = np.where(hit.any(1), hit.argmax(1), -1)
        assert np.array_equal(ds[name].values, brute), name
    # K > 64: the probability vector is recorded only when asked for
    d2 = ms.simulate(cfg, replicas=2, generations=3, seed=4, progress=False)
    assert "probs" not in d2 and "entropy" in d2


def test_reproducible_across_threads_chunks_and_subsets():
    cfg = cat(
        family=ms.Categorical(tokens=50, zipf=1.0),
        loop=ms.Augment(real=20, synthetic=30),
        top_k=40,
        filter=ms.Filter(0.1, 0.1),
    )
    kw = dict(generations=40, seed=9, record=ms.every(5), progress=False)
    a = ms.simulate(cfg, replicas=16, threads=1, **kw)
    b = ms.simulate(cfg, replicas=16, threads=3, chunk=7, **kw)
    c = ms.simulate(cfg, replicas=[3, 11], threads=2, **kw)
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values), v
        assert np.array_equal(a[v].values[[3, 11]], c[v].values), v
    half = ms.simulate(cfg, replicas=16, generations=17, seed=9, record=ms.every(5), progress=False)
    full = ms.resume(half, 40, record=ms.every(5))
    assert np.array_equal(full["entropy"].sel(generation=40).values, a["entropy"].sel(generation=40).values)
    assert np.array_equal(full["state"].values, a["state"].values)


def test_smoothing_and_weighting_fits():
    # smoothing: no token is ever lost, and the exact fit formula on the first generation
    fam = ms.Categorical(tokens=8, smoothing=0.5)
    ds = ms.simulate(
        cat(family=fam, loop=ms.Replace(n=10)),
        replicas=200,
        generations=50,
        seed=1,
        record=ms.every(1),
        metrics=["probs", "support"],
        progress=False,
    )
    assert np.all(ds["support"].values == 8)
    c = ds["probs"].values[:, 1, :] * (10 + 8 * 0.5) - 0.5
    np.testing.assert_allclose(c, np.rint(c), atol=1e-9)
    # weighting: p = w real freq + (1 - w) synthetic freq: E p_t = p0 (MLE parts, tau = 1)
    fam = ms.Categorical(probs=[0.6, 0.3, 0.1])
    ds = ms.simulate(
        cat(family=fam, loop=ms.Fresh(real=5, synthetic=10), weight=0.3),
        replicas=20000,
        generations=10,
        seed=3,
        record=[10],
        metrics=["probs"],
        progress=False,
    )
    for i in range(3):
        assert_mean(ds["probs"].values[:, 0, i], fam.truth[i], f"weighted fit: E p_10[{i}]", alpha=ALPHA / 3)


def test_toml_run_file():
    from madsim import toml_config

    cfg, kw = toml_config.loads(
        'temperature = 0.8\ntop_p = 0.9\n[family]\ntype = "Categorical"\n'
        'tokens = 50\nzipf = 1.1\n[loop]\ntype = "Fresh"\nreal = 10\nsynthetic = 90\n'
    )
    assert cfg == ms.Config(
        family=ms.Categorical(tokens=50, zipf=1.1),
        loop=ms.Fresh(real=10, synthetic=90),
        temperature=0.8,
        top_p=0.9,
    )
    with pytest.raises(toml_config.ConfigFileError, match=r"\[family\]: Categorical.probs must sum to 1"):
        toml_config.loads('[family]\ntype = "Categorical"\nprobs = [0.5, 0.4]\n')
    with pytest.raises(toml_config.ConfigFileError, match="unknown key 'k'"):
        toml_config.loads('[family]\ntype = "Categorical"\nk = 5\n')


def test_plots_headless(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from madsim import plots

    cfg = cat(family=ms.Categorical(tokens=80, zipf=1.1), loop=ms.Replace(n=100))
    ds = ms.simulate(
        cfg,
        replicas=40,
        generations=60,
        seed=1,
        record=ms.every(10),
        metrics=["probs", "gini_simpson", "support"],
        progress=False,
    )
    for name, ax in (
        ("ranks", plots.token_ranks(ds)),
        ("gini", plots.metric(ds, "gini_simpson")),
        ("support", plots.metric(ds, "support")),
    ):
        f = tmp_path / f"{name}.png"
        ax.figure.savefig(f)
        assert f.stat().st_size > 10_000
        if name != "ranks":
            labels = [line.get_label() for line in ax.get_lines()]
            assert any("theory" in lab for lab in labels), (
                labels
            )  # the docs/theory/categorical.md curve is drawn
        matplotlib.pyplot.close(ax.figure)
    with pytest.raises(ValueError, match="needs the probability vector"):
        plots.token_ranks(ds[["support"]].assign_attrs(ds.attrs))
    with pytest.raises(ValueError, match="tails draws Gaussian models"):
        plots.tails(ds)


@pytest.mark.parametrize("path", ["exact", "samples"])
def test_lost_tokens_never_return(path):
    """Zero-mass tokens never draw (the alias table gives their columns
    away, whatever the rounding): the support never grows under replace."""
    cfg = cat(family=ms.Categorical(tokens=300, zipf=0.5), loop=ms.Replace(n=40), path=path, top_p=0.97)
    ds = ms.simulate(
        cfg, replicas=100, generations=150, seed=8, record=ms.every(1), metrics=["support"], progress=False
    )
    assert np.all(np.diff(ds["support"].values, axis=1) <= 0)
    assert ds["support"].values[:, -1].max() < 300
