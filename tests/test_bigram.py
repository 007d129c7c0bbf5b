"""The bigram (next-token, Markov chain) token family: configuration errors,
the one-generation law of the transition counts (every outcome, small cases;
brute-force enumeration of all sequences), lost transitions never return,
metrics against their definitions, reproducibility and resume, and the JAX
twin (integers exact, floats to 1e-13).

Statistical assertions use tests/stats.py (ALPHA = 1e-5 per assertion, fixed
seeds: deterministic)."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from scipy import stats

import madsim as ms
from madsim._backend import core
from madsim.families.bigram import BIGRAM_METRICS

from stats import ALPHA, assert_counts

P3 = [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.4, 0.4, 0.2]]


def big(**kw):
    loop = kw.pop("loop", ms.Replace(n=20))
    fam = kw.pop("family", ms.Bigram(tokens=4, length=5))
    kw.setdefault("path", "samples")
    return ms.Config(family=fam, loop=loop, **kw)


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(transition=[[0.5, 0.4], [0.5, 0.5]]), "row 0 sums to 0.9"),
        (dict(transition=[[1.2, -0.2], [0.5, 0.5]]), r"transition\[0\]\[1\] = -0.2"),
        (dict(transition=[[0.5, 0.5]]), "square"),
        (dict(transition=[]), "square|at least one token"),
        (dict(tokens=0), "tokens must be an integer in"),
        (dict(tokens=4097), "tokens must be an integer in"),
        (dict(tokens=3, transition=P3[:2] + [[0, 0, 1]]), "irreducible"),  # token 2 absorbing
        (dict(tokens=2, transition=P3), "tokens = 2 but transition is 3 x 3"),
        (dict(transition=P3, zipf=1.0), "transition or zipf"),
        (dict(length=1), "length must be an integer in"),
        (dict(smoothing=-1.0), "smoothing"),
        (dict(tokens=3, start=[0.5, 0.5]), "K = 3 probabilities"),
        (dict(tokens=2, start=[0.5, 0.6]), "start must sum to 1"),
        (dict(tokens=2, start="uniform"), "'truth' or a probability vector"),
    ],
)
def test_bad_family(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ms.Bigram(**kw)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(path="exact"), "Bigram needs path='samples'.*without walking the chain"),
        (
            dict(loop=ms.AccumulateSubsample(n=2**20, synthetic=4), family=ms.Bigram(tokens=3, length=5000)),
            "picks 5241831424 transitions; at most 2\\*\\*32 - 1",
        ),
        (dict(loop=ms.Fresh(real=3, synthetic=3), weight=0.5), "weight is not available for Bigram"),
        (dict(top_k=5), "top_k must be an integer in"),
        (dict(top_p=0.0), "top_p"),
        (dict(estimator="unbiased"), "estimator must be 'mle'"),
        (dict(filter=ms.Filter(tpr=1.0), loop=ms.Replace(n=5)), "1 sequence after Filter"),
    ],
)
def test_bad_config(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        big(**kw)


def test_truth_stationary_law_and_round_trip():
    fam = ms.Bigram(tokens=5, zipf=1.3)
    P = fam.truth
    w = np.arange(1, 6) ** -1.3
    w /= w.sum()
    for i in range(5):
        for r in range(5):
            assert P[i, (i + 1 + r) % 5] == w[r]
    np.testing.assert_allclose(fam.stationary, np.full(5, 0.2), rtol=1e-14)  # doubly stochastic
    g = ms.Bigram(transition=P3, start=[0.2, 0.3, 0.5], length=3)
    pi = g.stationary
    np.testing.assert_allclose(pi @ np.array(P3), pi, atol=1e-15)
    assert abs(pi.sum() - 1) < 1e-15 and np.all(pi > 0)
    assert ms.Bigram(transition=P3).start_law.tolist() == pi.tolist()
    cfg = big(family=g, top_k=2, temperature=0.7, loop=ms.Augment(real=3, synthetic=4))
    assert ms.Config.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="top_k applies to token families"):
        ms.Config(family=ms.Gaussian(), top_k=3)


def test_toml_run_file():
    from madsim import toml_config

    cfg, _ = toml_config.loads(
        'path = "samples"\ntop_k = 2\n[family]\ntype = "Bigram"\n'
        "transition = [[0.5, 0.5], [0.9, 0.1]]\nlength = 4\n"
        '[loop]\ntype = "Replace"\nn = 30\n'
    )
    assert cfg == ms.Config(
        family=ms.Bigram(transition=[[0.5, 0.5], [0.9, 0.1]], length=4),
        loop=ms.Replace(n=30),
        path="samples",
        top_k=2,
    )
    with pytest.raises(
        toml_config.ConfigFileError, match=r"\[family\]: Bigram.transition rows must sum to 1"
    ):
        toml_config.loads('[family]\ntype = "Bigram"\ntransition = [[0.5, 0.4], [0.5, 0.5]]\n')


def test_params_checked_like_the_kernel():
    pytest.importorskip("jax")
    from madsim.reference import bigram

    good = dict(
        loop=0,
        path=1,
        top_k=0,
        tau=1.0,
        top_p=1.0,
        smoothing=0.0,
        tpr=0.0,
        fpr=0.0,
        real_fixed=0.0,
        length=3,
        truth=np.array([[0.5, 0.5], [0.5, 0.5]]),
        start=np.array([0.5, 0.5]),
        pi0=np.array([0.5, 0.5]),
        counts=np.array([[0.0, 4.0]]),
    )
    # the memory-safety checks (sizes, caps, codes); the numerical domain is
    # Python's (tests/test_param_checks.py)
    bad = [
        dict(loop=4),
        dict(path=0),
        dict(path=2),
        dict(length=1),
        dict(real_fixed=0.5),
        dict(truth=np.array([[0.5, 0.5]])),
        dict(truth=np.zeros((0, 0))),
        dict(top_k=3),
        dict(start=np.array([0.5])),
        dict(pi0=np.array([1.0])),
        dict(counts=np.array([[0.0, 1.5]])),
        dict(length=2**31, counts=np.array([[0.0, 5.0]])),
        dict(loop=5),
        dict(loop=4, subsample_n=2**31, length=4),
    ]
    for change in bad:
        args = {**good, **change}
        with pytest.raises(ValueError) as e1:
            core.BigramParams(**args)
        with pytest.raises(ValueError) as e2:
            bigram._bigram_params(bigram.Params(**args))
        assert str(e1.value) == str(e2.value), change


# --- one generation in law ---------------------------------------------------------------------


def row_law(P, cfg):
    """q = knobs(P) row by row (Categorical's sampling law on each row)."""
    return np.array(
        [
            core.categorical_sampling_law(
                np.asarray(r, float), cfg.temperature, cfg.top_k or 0, cfg.top_p or 1.0
            )
            for r in P
        ]
    )


def first_counts(cfg, R, seed):
    """Transition counts of generation 1's synthetic sequences: the pool of
    Accumulate(synthetic=n) (state row after the matrix and 4 counters)."""
    ds = ms.simulate(cfg, replicas=R, generations=1, seed=seed, record=[1], metrics=["edges"], progress=False)
    K = cfg.family.tokens
    return ds["state"].values[:, K * K + 4 : 2 * K * K + 4].reshape(R, K, K)


@pytest.mark.parametrize("knobs", [dict(), dict(temperature=0.6, top_k=2), dict(top_p=0.6, temperature=1.5)])
def test_one_generation_counts_multinomial_over_cells(knobs):
    """K = 3, L = 2, start law s: the transition counts of n = 3 sequences
    are Multinomial(3, s_i q_ij) over the 9 cells (all 165 outcomes)."""
    start = [0.2, 0.3, 0.5]
    fam = ms.Bigram(transition=P3, length=2, start=start)
    n = 3
    cfg = big(family=fam, loop=ms.Accumulate(synthetic=n), **knobs)
    C = first_counts(cfg, 40000, seed=11).reshape(-1, 9).astype(int)
    cell_p = (np.array(start)[:, None] * row_law(P3, cfg)).reshape(-1)
    cells = [c for c in itertools.product(range(n + 1), repeat=9) if sum(c) == n]
    index = {c: i for i, c in enumerate(cells)}
    obs = np.bincount([index[tuple(c)] for c in C], minlength=len(cells))
    pmf = np.array([stats.multinomial.pmf(c, n, cell_p) for c in cells])
    keep = pmf > 0
    assert obs[~keep].sum() == 0, "a transition outside the sampling law's support was drawn"
    assert_counts(obs[keep], pmf[keep], f"{knobs}: Multinomial(3, s_i q_ij)")


def test_one_sequence_of_four_tokens_by_enumeration():
    """n = 1 sequence of L = 4 tokens (K = 3, start pi0, temperature 0.8):
    the law of its transition-count matrix against the enumeration of all
    3^4 sequences."""
    fam = ms.Bigram(transition=P3, length=4)
    cfg = big(family=fam, loop=ms.Accumulate(synthetic=1), temperature=0.8)
    q, s = row_law(P3, cfg), fam.start_law
    law = Counter()
    for seq in itertools.product(range(3), repeat=4):
        pr = s[seq[0]] * np.prod([q[a, b] for a, b in zip(seq, seq[1:])])
        c = np.zeros((3, 3), int)
        for a, b in zip(seq, seq[1:]):
            c[a, b] += 1
        law[tuple(c.reshape(-1))] += pr
    outcomes = sorted(law)
    index = {c: i for i, c in enumerate(outcomes)}
    C = first_counts(cfg, 40000, seed=5).reshape(-1, 9).astype(int)
    obs = np.bincount([index[tuple(c)] for c in C], minlength=len(outcomes))
    assert_counts(obs, np.array([law[c] for c in outcomes]), "L = 4 count matrix by enumeration")


def test_filter_drops_whole_sequences():
    cfg = big(loop=ms.Fresh(real=30, synthetic=50), filter=ms.Filter(tpr=0.3, fpr=0.1))
    ds = ms.simulate(
        cfg,
        replicas=20000,
        generations=1,
        seed=2,
        record=[1],
        metrics=["points_real", "points_synthetic"],
        progress=False,
    )
    syn, real = ds["points_synthetic"].values[:, 0], ds["points_real"].values[:, 0]
    assert_counts(
        np.bincount(syn.astype(int), minlength=51),
        stats.binom.pmf(np.arange(51), 50, 0.7),
        "synthetic survivors ~ Binomial(50, 0.7)",
        alpha=ALPHA / 2,
    )
    assert_counts(
        np.bincount(real.astype(int), minlength=31),
        stats.binom.pmf(np.arange(31), 30, 0.9),
        "real survivors ~ Binomial(30, 0.9)",
        alpha=ALPHA / 2,
    )


def test_refit_rows_kept_and_smoothing():
    # one sequence of two tokens visits one row: the other K - 1 rows are kept
    fam = ms.Bigram(tokens=5, length=2)
    ds = ms.simulate(
        big(family=fam, loop=ms.Fresh(real=0, synthetic=1)),
        replicas=300,
        generations=20,
        seed=1,
        record=ms.every(1),
        metrics=["transition", "rows_kept", "skipped"],
        progress=False,
    )
    assert np.all(ds["rows_kept"].values[:, 1:] == 4) and np.all(ds["skipped"].values == 0)
    P = ds["transition"].values
    np.testing.assert_allclose(P.sum(-1), 1.0, rtol=0, atol=1e-12)
    # from generation 1 on, exactly one row changed, to a point mass
    changed = np.any(P[:, 1] != P[:, 0], axis=-1)
    assert np.all(changed.sum(-1) == 1)
    assert np.all(np.isin(P[:, 1][changed], [0.0, 1.0]).reshape(300, -1).all(-1))
    # smoothing: every row refit, no transition ever lost, the fit formula
    fam = ms.Bigram(tokens=4, length=3, smoothing=0.5)
    ds = ms.simulate(
        big(family=fam, loop=ms.Replace(n=2)),
        replicas=200,
        generations=30,
        seed=1,
        record=ms.every(1),
        metrics=["transition", "rows_kept", "edges"],
        progress=False,
    )
    assert np.all(ds["rows_kept"].values == 0) and np.all(ds["edges"].values == 16)
    P1 = ds["transition"].values[:, 1]
    # (C + a) / (row + K a): the row's count is recovered from its smallest entry's spacing
    c_times = P1 / P1.min(-1, keepdims=True) * 0.5 - 0.5
    np.testing.assert_allclose(c_times, np.rint(c_times), atol=1e-9)


# --- over generations --------------------------------------------------------------------------


def test_lost_transitions_never_return_and_edges_shrink():
    """Replace loop, no smoothing, no knob: a transition with P_t = 0 is
    never drawn again, so edges and tokens_alive never grow, and
    kl_rate_truth_model is +inf exactly once an edge of the (full) truth is
    lost; E edges falls well below K^2 within 60 generations."""
    fam = ms.Bigram(tokens=5, length=4, zipf=0.5)
    ds = ms.simulate(
        big(family=fam, loop=ms.Replace(n=6)),
        replicas=400,
        generations=60,
        seed=8,
        record=ms.every(1),
        progress=False,
        metrics=["edges", "tokens_alive", "kl_rate_truth_model"],
    )
    e, a = ds["edges"].values, ds["tokens_alive"].values
    assert np.all(np.diff(e, axis=1) <= 0) and np.all(np.diff(a, axis=1) <= 0)
    assert np.all(e[:, 0] == 25)
    assert np.array_equal(np.isinf(ds["kl_rate_truth_model"].values), e < 25)
    m0, m1 = e[:, 1].mean(), e[:, -1].mean()
    se = np.sqrt((e[:, 1].var(ddof=1) + e[:, -1].var(ddof=1)) / e.shape[0])
    assert m0 - m1 > 10 * se and m1 < 15, (m0, m1, se)


def metrics_by_definition(P, P0, pi):
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -np.where(P > 0, P * np.log(np.where(P > 0, P, 1)), 0).sum(1)
        kl_tm = (
            np.inf
            if np.any((P0 > 0) & (P == 0))
            else float(pi @ np.where(P0 > 0, P0 * np.log(P0 / P), 0).sum(1))
        )
        kl_mt = (
            np.inf
            if np.any((P > 0) & (P0 == 0))
            else float(pi @ np.where(P > 0, P * np.log(P / P0), 0).sum(1))
        )
    return dict(
        entropy_rate=float(pi @ H),
        kl_rate_truth_model=kl_tm,
        kl_rate_model_truth=kl_mt,
        tv_rate=float(pi @ (0.5 * np.abs(P - P0).sum(1))),
        edges=float((P > 0).sum()),
        tokens_alive=float((P > 0).any(0).sum()),
    )


def test_metrics_match_definitions():
    P0 = np.array([[0.0, 0.7, 0.3, 0.0], [0.2, 0.0, 0.5, 0.3], [0.25, 0.25, 0.25, 0.25], [1.0, 0, 0, 0]])
    fam = ms.Bigram(transition=P0, length=6)
    ds = ms.simulate(
        big(family=fam, loop=ms.Fresh(real=1, synthetic=3), top_k=3, temperature=1.3),
        replicas=40,
        generations=30,
        seed=2,
        record=ms.every(3),
        metrics=["transition", *BIGRAM_METRICS],
        progress=False,
    )
    pi = fam.stationary
    for r in range(40):
        for g in range(ds.sizes["generation"]):
            want = metrics_by_definition(ds["transition"].values[r, g], P0, pi)
            for name, v in want.items():
                got = ds[name].values[r, g]
                if np.isinf(v):
                    assert got == v, (name, r, g)
                else:
                    assert got == pytest.approx(v, rel=1e-12, abs=1e-13), (name, r, g, got, v)
    for name, v in metrics_by_definition(P0, P0, pi).items():
        assert ds[name].attrs["truth_value"] == pytest.approx(v, rel=1e-12, abs=1e-15), name
    # K > 8: the matrix is recorded only when asked for
    d2 = ms.simulate(big(family=ms.Bigram(tokens=9, length=3)), replicas=2, generations=2, progress=False)
    assert "transition" not in d2 and "entropy_rate" in d2


def test_reproducible_across_threads_chunks_subsets_and_resume():
    cfg = big(
        family=ms.Bigram(tokens=6, length=7),
        loop=ms.Augment(real=5, synthetic=8),
        top_p=0.9,
        filter=ms.Filter(0.1, 0.1),
    )
    kw = dict(generations=30, seed=9, record=ms.every(5), progress=False)
    a = ms.simulate(cfg, replicas=16, threads=1, **kw, metrics="all")
    b = ms.simulate(cfg, replicas=16, threads=3, chunk=7, **kw, metrics="all")
    c = ms.simulate(cfg, replicas=[3, 11], threads=2, **kw, metrics="all")
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values), v
        assert np.array_equal(a[v].values[[3, 11]], c[v].values), v
    for loop in (
        ms.Augment(real=5, synthetic=8),
        ms.Accumulate(synthetic=4, real=2),
        ms.AccumulateSubsample(n=6, synthetic=4, real=2),
    ):
        cfg2 = big(family=ms.Bigram(tokens=6, length=7), loop=loop)
        full = ms.simulate(cfg2, replicas=8, **kw, metrics="all")
        half = ms.simulate(
            cfg2, replicas=8, generations=13, seed=9, record=ms.every(5), progress=False, metrics="all"
        )
        res = ms.resume(half, 30, record=ms.every(5))
        assert np.array_equal(res["state"].values, full["state"].values)
        assert np.array_equal(
            res["transition"].sel(generation=30).values, full["transition"].sel(generation=30).values
        )


# --- AccumulateSubsample: a subset of the pool's transitions ----------------------------------


def test_subsample_picks_pairs_hypergeometrically():
    """Generation 1: the pool holds 2 real + 3 synthetic sequences of L = 3
    (4 real and 6 synthetic pairs); n = 2 sequences' worth picks 4 of the 10
    pairs, so the real pairs picked are Hypergeometric(10, 4, 4) (points_real
    counts them in sequences: pairs / 2), and the pool in the state keeps all."""
    cfg = big(family=ms.Bigram(tokens=3, length=3), loop=ms.AccumulateSubsample(n=2, synthetic=3, real=2))
    R = 20000
    ds = ms.simulate(cfg, replicas=R, generations=1, seed=5, record=[1], progress=False, metrics="all")
    got = (2 * ds["points_real"].sel(generation=1).values).round().astype(int)
    assert np.all(2 * ds["points_real"].sel(generation=1).values == got)
    assert np.all(ds["points_real"].values[:, -1] + ds["points_synthetic"].values[:, -1] == 2)
    assert_counts(
        np.bincount(got, minlength=5),
        stats.hypergeom.pmf(np.arange(5), 10, 4, 4),
        "real pairs picked ~ Hypergeometric(10, 4, 4)",
    )
    pool = ds["state"].values[:, 9 + 4 :].reshape(R, 2, 9)
    assert np.all(pool[:, 0].sum(axis=1) == 4) and np.all(pool[:, 1].sum(axis=1) == 6)


def test_subsample_of_a_small_pool_is_accumulate():
    """While the pool holds at most n sequences the subset is the whole pool:
    the same streams give Accumulate's models exactly."""
    fam = ms.Bigram(tokens=4, length=5)
    kw = dict(replicas=6, generations=5, seed=8, record=ms.every(1), progress=False)
    a = ms.simulate(big(family=fam, loop=ms.Accumulate(synthetic=3, real=2)), **kw, metrics="all")
    b = ms.simulate(
        big(family=fam, loop=ms.AccumulateSubsample(n=25, synthetic=3, real=2)), **kw, metrics="all"
    )
    assert np.array_equal(a["transition"].values, b["transition"].values)
    c = ms.simulate(
        big(family=fam, loop=ms.AccumulateSubsample(n=7, synthetic=3, real=2)), **kw, metrics="all"
    )
    assert not np.array_equal(a["transition"].values[:, 2:], c["transition"].values[:, 2:])
    assert np.all(c["points_real"].values[:, 2:] + c["points_synthetic"].values[:, 2:] == 7)


# --- the JAX twin ------------------------------------------------------------------------------

TWIN_VARS = ("points_real", "points_synthetic", "skipped", "rows_kept", "edges", "tokens_alive")


@pytest.mark.parametrize(
    "case",
    [
        dict(loop=ms.Replace(n=6), temperature=0.8, top_k=3, top_p=0.9),
        dict(
            loop=ms.Augment(real=3, synthetic=4),
            filter=ms.Filter(0.2, 0.1),
            top_p=0.8,
            family=ms.Bigram(transition=P3, length=5, smoothing=0.3),
        ),
        dict(
            loop=ms.Accumulate(synthetic=3, real=1),
            temperature=1.7,
            family=ms.Bigram(tokens=4, length=3, start=[0.1, 0.2, 0.3, 0.4]),
        ),
        dict(
            loop=ms.AccumulateSubsample(n=3, synthetic=3, real=2),
            filter=ms.Filter(0.2, 0.1),
            family=ms.Bigram(tokens=3, length=4, smoothing=0.1),
        ),
    ],
    ids=["replace-knobs", "augment-filter-smoothing", "accumulate-start", "subsample-filter"],
)
def test_twins_agree(case):
    pytest.importorskip("jax")
    case = dict(case)
    case.setdefault("family", ms.Bigram(tokens=4, length=5))
    cfg = big(**case)
    kw = dict(replicas=[0, 5, 2**32 - 1], generations=6, seed=3, record=ms.every(1), progress=False)
    a, b = ms.simulate(cfg, **kw, metrics="all"), ms.simulate(cfg, backend="jax", **kw, metrics="all")
    for v in TWIN_VARS:
        assert np.array_equal(a[v].values, b[v].values), v
    for v in ("transition", "state", *BIGRAM_METRICS):
        x, y = a[v].values, b[v].values
        assert np.array_equal(np.isinf(x), np.isinf(y)), v
        fin = np.isfinite(x)
        assert np.all(np.abs(x[fin] - y[fin]) <= 1e-13 * np.maximum(np.abs(x[fin]), 1.0)), v
