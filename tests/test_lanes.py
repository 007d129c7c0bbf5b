"""The CPU launcher's SIMD lanes (csrc/cpu/lane_driver.hpp) give the scalar
code's numbers bit for bit.

Replicas run in groups of LANES (8) in vectors; a run's leftover replicas, or
a replica run alone, take the scalar path. Rotating the replica list moves
each replica between lanes, groups and the scalar remainder; every position
must give the same bits. MADSIM_LANES=off / baseline / avx2 force the scalar
path / the lanes without AVX2 / AVX2 without AVX-512, in a fresh process or
(read per call) around a call in this one.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import madsim as ms

import strategies as S
from lane_modes import outputs_per_mode

DET = [ms.FirstPassage("var", below=0.2, name="low"), ms.FirstPassage("var", below=1e-3)]


DET_ND = [ms.FirstPassage("trace", below=0.5), ms.FirstPassage("logdet", below=-3.0)]


def _run(cfg, ids, seed, gens):
    det = DET if getattr(cfg.family, "dim", 1) == 1 else DET_ND
    return ms.simulate(
        cfg,
        replicas=list(ids),
        generations=gens,
        seed=seed,
        record=ms.every(1),
        detect=det,
        threads=1,
        progress=False,
    )


def _by_replica(ds):
    cols = [v for v in ds.data_vars if "replica" in ds[v].dims]
    order = np.argsort(ds["replica"].values)
    return {v: ds[v].values[order] for v in cols}


def _scalar_and_lanes(cfg, ids, seed, gens, mode):
    """The run with MADSIM_LANES=off and in `mode` ("default": the widest the CPU has), by replica."""
    with _lanes_mode("off"):
        scalar = _by_replica(_run(cfg, ids, seed, gens))
    if mode == "default":
        return scalar, _by_replica(_run(cfg, ids, seed, gens))
    with _lanes_mode(mode):
        return scalar, _by_replica(_run(cfg, ids, seed, gens))


@given(
    seed=S.seeds,
    ids=st.lists(S.replicas, min_size=5, max_size=5, unique=True),
    n=st.sampled_from([2, 3, 4, 7, 100]),
    path=st.sampled_from(["exact", "samples"]),
    estimator=st.sampled_from(["mle", "unbiased"]),
    tau=st.floats(0.5, 1.5),
)
def test_every_lane_position_gives_the_scalar_bits(seed, ids, n, path, estimator, tau):
    cfg = ms.Config(loop=ms.Replace(n=n), path=path, estimator=estimator, temperature=tau)
    runs = [_by_replica(_run(cfg, ids[k:] + ids[:k], seed, 12)) for k in range(len(ids))]
    alone = _by_replica(_run(cfg, ids[:1], seed, 12))  # one replica: scalar path
    for r in runs[1:]:
        for v in runs[0]:
            assert np.array_equal(runs[0][v], r[v], equal_nan=True), v
    for v in alone:
        assert np.array_equal(
            alone[v],
            runs[0][v][:1] if ids[0] == min(ids) else runs[0][v][[sorted(ids).index(ids[0])]],
            equal_nan=True,
        ), v


def test_squeeze_fallback_is_exercised_and_exact():
    """n = 3 (alpha = 1): the squeeze rejects often, so many lanes rerun the
    scalar sampler; still the same bits as all-scalar runs."""
    cfg = ms.Config(loop=ms.Replace(n=3), path="exact")
    ids = list(range(40))
    together = _run(cfg, ids, 5, 30)
    for k in (0, 17, 39):
        alone = _run(cfg, [k], 5, 30)
        assert np.array_equal(alone["var"].values[0], together["var"].values[k])
        assert np.array_equal(alone["low"].values[0], together["low"].values[k])
    _, _, tries = ms.rng.gamma(1.0, seed=5, replicas=np.arange(10_000, dtype=np.uint32))
    assert np.mean(tries) > 1.01  # rejections do happen at this alpha


# Gaussian1D (replica lanes) and GaussianLoop (LaneKit, d >= 4: lanes over
# one replica's blocks and chi-square sites; replace on the exact path at
# d = 4..32: replica lanes, ReplaceLanes): d and n such that Bartlett's
# chi-squares include alpha = 1 (d = 10, n = 12), alpha < 1 (the boosted
# scalar path: d = 5, n = 6), a partly filled lane group and a scalar rest
# (LaneKit at d = 10: 8 + 2 sites), the singular case c - 1 < d, loops that
# draw both parts, truncation (a rejection over the normal sequence) and a
# filter.
_CHILD = """
import json, sys, numpy as np, madsim as ms
from madsim._backend import core
G = ms.Gaussian
cases = {
    "1d exact": ms.Config(loop=ms.Replace(n=9), path="exact", temperature=1.1),
    "1d samples": ms.Config(loop=ms.Replace(n=9), path="samples", temperature=1.1),
    "d5 exact n6": ms.Config(family=G(dim=5), loop=ms.Replace(n=6), path="exact"),
    "d10 exact n12": ms.Config(family=G(dim=10), loop=ms.Replace(n=12), path="exact"),
    "d10 fresh exact n12": ms.Config(family=G(dim=10), loop=ms.Fresh(real=12, synthetic=12), path="exact"),
    "d5 exact n4 singular": ms.Config(family=G(dim=5), loop=ms.Fresh(real=8, synthetic=4), path="exact"),
    "d10 samples": ms.Config(family=G(dim=10), loop=ms.Replace(n=30), path="samples"),
    "d4 augment exact": ms.Config(family=G(dim=4), loop=ms.Augment(real=7, synthetic=9), path="exact"),
    "d4 trunc samples": ms.Config(family=G(dim=4), loop=ms.Fresh(real=5, synthetic=17), path="samples",
                                  truncation=2.5, filter=ms.Filter(tpr=0.2, fpr=0.1)),
    "1d accumulate exact": ms.Config(loop=ms.Accumulate(real=3, synthetic=5), path="exact"),
    "d2 fresh weighted exact": ms.Config(family=G(dim=2), loop=ms.Fresh(real=6, synthetic=9),
                                         path="exact", weight=0.3, filter=ms.Filter(tpr=0.3, fpr=0.2)),
    "d3 augment trunc samples": ms.Config(family=G(dim=3), loop=ms.Augment(real=8, synthetic=11),
                                          path="samples", truncation=2.0),
    # Categorical (LaneKit's alias tokens, 2 LANES per refill): token counts not a
    # multiple of 16 (a scalar tail), both paths, the exact path's switch to
    # conditional binomials as the support shrinks, knobs, real tokens
    "cat samples n37": ms.Config(family=ms.Categorical(tokens=50), loop=ms.Replace(n=37),
                                 path="samples"),
    "cat exact n200": ms.Config(family=ms.Categorical(zipf=1.1, tokens=60), loop=ms.Replace(n=200),
                                path="exact", temperature=0.8, top_k=40),
    "cat fresh samples": ms.Config(family=ms.Categorical(tokens=30), loop=ms.Fresh(real=21, synthetic=45),
                                   path="samples", top_p=0.9, filter=ms.Filter(tpr=0.3, fpr=0.1)),
}
out = {"lanes": core.build_info()["cpu_lanes"]}
for name, cfg in cases.items():
    ds = ms.simulate(cfg, replicas=[0, 5, 9, 2**32 - 1] + list(range(10, 29)), generations=15,
                     seed=99, record=ms.every(5), progress=False, threads=2)
    cols = [v for v in ("mean", "var", "cov", "logdet", "skipped", "probs", "counts") if v in ds]
    assert cols, list(ds.data_vars)
    out[name] = [float(x).hex() for v in cols for x in np.ravel(ds[v].values)]
print(json.dumps(out))
"""


def test_lane_modes_give_the_same_bits():
    res = outputs_per_mode(_CHILD)
    assert res["off"]["lanes"] == "off"
    assert res["baseline"]["lanes"].startswith("baseline")
    for mode in ("baseline", "avx2", "default"):
        for case in res["off"]:
            if case != "lanes":
                assert res[mode][case] == res["off"][case], (mode, case)


# GaussianLoop at d = 1..3: replica lanes (csrc/cpu/gaussian_loop_lanes.hpp)
# against the scalar step in this process (MADSIM_LANES is read per call).
# Small counts with a filter reach parts of 0 < c < d + 1 survivors (the
# lanes' scalar rerun of the step), n = 3 or 4 the boosted / rejected
# chi-squares, truncation the lanes' masked walk over their tries; 11
# replicas fill one lane group and leave a scalar rest, rotated so each
# replica visits both.


class _lanes_mode:
    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.saved = os.environ.get("MADSIM_LANES")
        os.environ["MADSIM_LANES"] = self.mode

    def __exit__(self, *exc):
        os.environ.pop("MADSIM_LANES", None)
        if self.saved is not None:
            os.environ["MADSIM_LANES"] = self.saved


# 27 replicas: with AVX-512 at d = 1 on the exact path two lane groups
# stepped together (step_pair), then one group alone, then 3 in scalar code.
PAIR_IDS = [7, 0, 2**32 - 1, 3, 11, 5, 9, 1, 30, 4, 8, 12, 40, 2**31, 6, 2, 13, 77, 10]
PAIR_IDS += [100 + i for i in range(8)]


def _loop_config(d, loop, real, syn, path, estimator, tau, weight, filt, trunc):
    fam = ms.Gaussian(dim=d) if d > 1 else ms.Gaussian()
    if loop == "replace":
        lp = ms.Replace(n=[syn + d + 1, syn + 2 * d + 3, syn + d + 1, 2 * syn + d + 1] * 3)
    else:
        lp = {"fresh": ms.Fresh, "augment": ms.Augment, "accumulate": ms.Accumulate}[loop](
            real=real + d + 1, synthetic=syn + d + 1
        )
    return ms.Config(
        family=fam,
        loop=lp,
        path=path,
        estimator=estimator,
        temperature=tau,
        weight=weight if loop in ("fresh", "augment") else None,
        filter=ms.Filter(tpr=filt[0], fpr=filt[1]) if filt else None,
        truncation=trunc if path == "samples" else None,
    )


@given(
    seed=S.seeds,
    d=st.sampled_from([1, 2, 3]),
    loop=st.sampled_from(["replace", "fresh", "augment", "accumulate"]),
    real=st.integers(0, 6),
    syn=st.integers(0, 6),
    path=st.sampled_from(["exact", "samples"]),
    estimator=st.sampled_from(["mle", "unbiased"]),
    tau=st.floats(0.5, 1.5),
    weight=st.none() | st.floats(0.0, 1.0),
    filt=st.none() | st.tuples(st.floats(0.0, 0.6), st.floats(0.0, 0.6)),
    trunc=st.none() | st.floats(1.0, 3.0),
    rot=st.integers(0, 10),
)
def test_gaussian_loop_replica_lanes_give_the_scalar_bits(
    seed, d, loop, real, syn, path, estimator, tau, weight, filt, trunc, rot
):
    cfg = _loop_config(d, loop, real, syn, path, estimator, tau, weight, filt, trunc)
    ids = PAIR_IDS[rot:] + PAIR_IDS[:rot]
    with _lanes_mode("off"):
        scalar = _by_replica(_run(cfg, ids, seed, 12))
    lanes = _by_replica(_run(cfg, ids, seed, 12))
    for v in scalar:
        assert np.array_equal(scalar[v], lanes[v], equal_nan=True), v


def test_gaussian_loop_lane_filter_gives_the_scalar_bits():
    """The filter's binomial survivors in lanes: inversion (count x drop < 10,
    one scalar probability sequence for every lane) and BTRS (each lane's
    scalar sampler) at d = 1, 2, on both paths and the replace schedule."""
    ids = PAIR_IDS
    for d, loop, filt, path in [
        (1, ms.Fresh(real=60, synthetic=60), ms.Filter(tpr=0.3, fpr=0.05), "exact"),
        (1, ms.Fresh(real=12, synthetic=40), ms.Filter(tpr=0.1, fpr=0.9), "samples"),
        (2, ms.Accumulate(real=30, synthetic=9), ms.Filter(tpr=0.6, fpr=0.5), "exact"),
        (1, ms.Replace(n=[50, 3, 20, 4]), ms.Filter(tpr=0.45, fpr=0.0), "exact"),
        # one part's counts differ between lanes, the other's agree (the
        # paired draw of the two parts: one half scalar constants, one vector)
        (1, ms.Fresh(real=10, synthetic=12), ms.Filter(tpr=0.3, fpr=0.0), "exact"),
        (1, ms.Accumulate(real=7, synthetic=9), ms.Filter(tpr=0.0, fpr=0.4), "exact"),
    ]:
        fam = ms.Gaussian(dim=d) if d > 1 else ms.Gaussian()
        cfg = ms.Config(family=fam, loop=loop, path=path, filter=filt)
        with _lanes_mode("off"):
            scalar = _by_replica(_run(cfg, ids, 5, 4))
        lanes = _by_replica(_run(cfg, ids, 5, 4))
        for v in scalar:
            assert np.array_equal(scalar[v], lanes[v], equal_nan=True), (d, v)


def test_gaussian_loop_lanes_run_only_where_supported():
    """Accumulate-subsample and PPCA (not in gaussian_loop_lanes_support) and
    d >= 4 (LaneKit) keep their own paths; every one gives the scalar bits."""
    cfgs = [
        ms.Config(loop=ms.AccumulateSubsample(real=5, synthetic=5, n=8), path="samples"),
        ms.Config(
            family=ms.PPCA(dim=3, factors=1, spectrum=(2.0,), noise=0.5), loop=ms.Fresh(real=6, synthetic=6)
        ),
        ms.Config(family=ms.Gaussian(dim=4), loop=ms.Fresh(real=6, synthetic=6)),
    ]
    for cfg in cfgs:
        with _lanes_mode("off"):
            scalar = _by_replica(_run(cfg, range(10), 3, 6))
        lanes = _by_replica(_run(cfg, range(10), 3, 6))
        for v in scalar:
            assert np.array_equal(scalar[v], lanes[v], equal_nan=True), v


# GaussianLoop's replace on the exact path at d = 4..32 (ReplaceLanes: the
# Bartlett factor and L G across replicas, its rows on the heap) against the
# scalar step: every d, odd and even counts of below-diagonal normals, up to
# one past the lanes' largest (33 runs LaneKit), with 16, 17, 32 and 33
# drawn more often; counts of d + 1 (alpha < 1 and = 1 in the last
# chi-squares) and a filter that leaves some lanes too few points (the fit
# skipped in those lanes only), 11 replicas rotated through a lane group and
# the scalar rest, each instruction set.
@given(
    seed=S.seeds,
    d=st.one_of(st.integers(4, 33), st.sampled_from([16, 17, 32, 33])),
    extra=st.lists(st.integers(0, 30), min_size=6, max_size=6),
    estimator=st.sampled_from(["mle", "unbiased"]),
    tau=st.floats(0.5, 1.5),
    tpr=st.sampled_from([0.0, 0.3, 0.7]),
    mode=st.sampled_from(["baseline", "avx2", "default"]),
    rot=st.integers(0, 10),
)
@settings(max_examples=S.examples(100))  # d x instruction set x filter: 25 left AVX-512 at d > 16 out
def test_gaussian_loop_replace_lanes_give_the_scalar_bits(seed, d, extra, estimator, tau, tpr, mode, rot):
    cfg = ms.Config(
        family=ms.Gaussian(dim=d),
        loop=ms.Replace(n=[d + 1 + e for e in extra] * 2),
        path="exact",
        estimator=estimator,
        temperature=tau,
        filter=ms.Filter(tpr=tpr) if tpr else None,
    )
    ids = [7, 0, 2**32 - 1, 3, 11, 5, 9, 1, 30, 4, 8]
    ids = ids[rot:] + ids[:rot]
    scalar, lanes = _scalar_and_lanes(cfg, ids, seed, 12, mode)
    for v in scalar:
        assert np.array_equal(scalar[v], lanes[v], equal_nan=True), v


@given(
    seed=S.seeds,
    d=st.integers(1, 19),
    n=st.integers(0, 40),
    loop=st.sampled_from(["replace", "fresh", "accumulate", "augment", "subsample"]),
    design=st.sampled_from(["fresh", "fixed"]),
    refit=st.booleans(),
    cov=st.booleans(),
    tpr=st.sampled_from([0.0, 0.3]),
)
def test_regression_samples_kit_gives_the_scalar_bits(seed, d, n, loop, design, refit, cov, tpr):
    """The regression samples path with LaneKit's normals (csrc/cpu/
    regression_lanes.hpp) against ScalarKit: row counts on both sides of a
    block of 32 rows (row_block.hpp), d on both sides of the lanes' 16-normal
    refill, of a tile of 8 and of the diagonal form (d >= 8, identity cov)."""
    if design == "fixed":
        tpr = 0.0  # a fixed design takes no filter
    T = n + d + 2
    lp = {
        "replace": ms.Replace(n=T),
        "fresh": ms.Fresh(real=T, synthetic=n + 3),
        "accumulate": ms.Accumulate(synthetic=T),
        "augment": ms.Augment(real=T, synthetic=n + 3),
        # generation 1 fits on its synthetic rows alone: d + 1 at least
        "subsample": ms.AccumulateSubsample(n=T, synthetic=n + d + 1),
    }[loop]
    c = np.eye(d) + 0.3 * np.ones((d, d)) if cov else None
    cfg = ms.Config(
        family=ms.Regression(dim=d, cov=c, design=design, refit_noise=refit),
        loop=lp,
        path="samples",
        filter=ms.Filter(tpr=tpr) if tpr else None,
    )

    def run():
        ds = ms.simulate(
            cfg,
            replicas=[0, 3, 2**32 - 1],
            generations=5,
            seed=seed,
            record=ms.every(1),
            metrics="all",
            threads=1,
            progress=False,
        )
        return {v: ds[v].values for v in ds.data_vars}

    with _lanes_mode("off"):
        scalar = run()
    lanes = run()
    for v in scalar:
        assert np.array_equal(scalar[v], lanes[v], equal_nan=True), v


# PPCA at d >= 4: the step up to the fit per replica (LaneKit), the
# projection's Jacobi across the group's replicas in lanes
# (csrc/cpu/ppca_lanes.hpp), against the scalar step. 11 replicas make a
# group of 8 and a group of 3 (lanes left empty); a filter on small counts
# leaves some replicas of a generation without a fit (no projection due, the
# lane sits out) while others fit; the lanes' replicas need different numbers
# of Jacobi sweeps, so lanes that stopped sweeping must stay as they are.
@given(
    seed=S.seeds,
    d=st.integers(4, 8),
    q=st.integers(1, 3),
    loop=st.sampled_from(["replace", "fresh", "accumulate"]),
    n=st.integers(0, 8),
    path=st.sampled_from(["exact", "samples"]),
    tpr=st.sampled_from([0.0, 0.4]),
    mode=st.sampled_from(["baseline", "avx2", "default"]),
    rot=st.integers(0, 10),
)
def test_ppca_projection_lanes_give_the_scalar_bits(seed, d, q, loop, n, path, tpr, mode, rot):
    fam = ms.PPCA(dim=d, factors=q, spectrum=tuple(3.0 - 0.5 * k for k in range(q)), noise=0.5)
    if loop == "replace":
        lp = ms.Replace(n=[n + d + 1, n + 2 * d + 3, 2 * n + d + 1] * 3)
    else:
        lp = {"fresh": ms.Fresh, "accumulate": ms.Accumulate}[loop](real=n + 2, synthetic=n + d + 1)
    cfg = ms.Config(family=fam, loop=lp, path=path, filter=ms.Filter(tpr=tpr) if tpr else None)
    ids = [7, 0, 2**32 - 1, 3, 11, 5, 9, 1, 30, 4, 8]
    ids = ids[rot:] + ids[:rot]
    scalar, lanes = _scalar_and_lanes(cfg, ids, seed, 9, mode)
    assert "subspace_sin2" in scalar
    for v in scalar:
        assert np.array_equal(scalar[v], lanes[v], equal_nan=True), v


def test_regression_row_blocks_give_the_scalar_bits_in_every_lane_mode():
    """The regression samples path's row products (csrc/madsim/row_block.hpp:
    RowBlock<ScalarKit>, and csrc/cpu/regression_lanes.hpp's tiles compiled
    for the baseline, AVX2 and AVX-512) against the scalar code: d below and
    above one tile of 8 and the diagonal form's DIAGONAL_FROM, a covariance
    (the tiles) and the identity (the diagonal form), 70 rows (two whole
    blocks of 32 and a part), accumulate-subsample's pool and picked rows."""
    cfgs = []
    for d, cov in ((5, False), (5, True), (13, False), (13, True), (19, True)):
        c = np.eye(d) + 0.3 * np.ones((d, d)) if cov else None
        for lp in (ms.Replace(n=70), ms.Accumulate(synthetic=70), ms.AccumulateSubsample(n=70, synthetic=45)):
            cfgs.append(ms.Config(family=ms.Regression(dim=d, cov=c), loop=lp, path="samples"))

    def run(cfg):
        ds = ms.simulate(
            cfg,
            replicas=[0, 7],
            generations=3,
            seed=5,
            record=ms.every(1),
            metrics="all",
            threads=1,
            progress=False,
        )
        return {v: ds[v].values for v in ds.data_vars}

    for cfg in cfgs:
        with _lanes_mode("off"):
            scalar = run(cfg)
        for mode in ("baseline", "avx2", None):
            if mode is None:
                lanes = run(cfg)
            else:
                with _lanes_mode(mode):
                    lanes = run(cfg)
            for v in scalar:
                assert np.array_equal(scalar[v], lanes[v], equal_nan=True), (cfg, mode, v)


def test_lane_groups_detect_and_record_as_scalar():
    """The lane driver asks lookers[0] when a record is due and keeps whether
    any replica of the group still watches a detector: with sparse records
    and detectors that fire at different generations in different lanes
    (every lane, so the groups stop watching; or some never), records and
    first passages are the scalar driver's, for both lane families
    (Gaussian1D; GaussianLoop at d = 1 without a filter: its lanes' scalar
    divisions of the counts; with a filter: the vector ones)."""
    cases = [  # config, a variance every replica falls below within the run
        (ms.Config(loop=ms.Replace(n=6), path="exact"), 0.4),
        (ms.Config(loop=ms.Fresh(real=4, synthetic=5), path="exact", temperature=0.8), 0.4),
        (ms.Config(loop=ms.Replace(n=[5, 9, 4, 7] * 10), path="exact"), 0.4),
        (
            ms.Config(
                loop=ms.Accumulate(real=4, synthetic=6),
                path="exact",
                temperature=0.5,
                filter=ms.Filter(tpr=0.3, fpr=0.2),
            ),
            0.6,
        ),
    ]
    ids = list(range(3, 22))  # a lane group, a partial group, a scalar rest

    def run(cfg, det):
        ds = ms.simulate(
            cfg, replicas=ids, generations=40, seed=4, record=[7, 40], detect=det, threads=1, progress=False
        )
        return _by_replica(ds)

    for cfg, low in cases:
        every = [ms.FirstPassage("var", below=low, name="first")]
        some = every + [
            ms.FirstPassage("var", above=1.5, name="wide"),
            ms.FirstPassage("var", below=1e-9, name="never"),
        ]
        for det in (every, some):
            with _lanes_mode("off"):
                scalar = run(cfg, det)
            lanes = run(cfg, det)
            first = scalar["first"]
            assert len(set(first.tolist())) > 2, first  # lanes fire at different generations
            assert (first[:8] >= 0).all(), first  # the first group stops watching (one detector)
            for v in scalar:
                assert np.array_equal(scalar[v], lanes[v], equal_nan=True), v
