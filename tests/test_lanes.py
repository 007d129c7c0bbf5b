"""The CPU launcher's SIMD lanes (csrc/cpu/lane_driver.hpp) give the scalar
code's numbers bit for bit.

Replicas run in groups of LANES (4) in vectors; a run's leftover replicas, or
a replica run alone, take the scalar path. Rotating the replica list moves
each replica between lanes, groups and the scalar remainder; every position
must give the same bits. MADSIM_LANES=off / baseline force the scalar path /
the lanes without AVX2 in a fresh process (the setting is read per call, but
a subprocess keeps this process's environment untouched).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import madsim as ms

import strategies as S

DET = [ms.FirstPassage("var", below=0.2, name="low"), ms.FirstPassage("var", below=1e-3)]


def _run(cfg, ids, seed, gens):
    return ms.simulate(cfg, replicas=list(ids), generations=gens, seed=seed, record=ms.every(1),
                       detect=DET, threads=1, progress=False)


def _by_replica(ds):
    cols = [v for v in ds.data_vars if "replica" in ds[v].dims]
    order = np.argsort(ds["replica"].values)
    return {v: ds[v].values[order] for v in cols}


@given(seed=S.seeds, ids=st.lists(S.replicas, min_size=5, max_size=5, unique=True),
       n=st.sampled_from([2, 3, 4, 7, 100]), path=st.sampled_from(["exact", "samples"]),
       estimator=st.sampled_from(["mle", "unbiased"]), tau=st.floats(0.5, 1.5))
def test_every_lane_position_gives_the_scalar_bits(seed, ids, n, path, estimator, tau):
    cfg = ms.Config(loop=ms.Replace(n=n), path=path, estimator=estimator, temperature=tau)
    runs = [_by_replica(_run(cfg, ids[k:] + ids[:k], seed, 12)) for k in range(len(ids))]
    alone = _by_replica(_run(cfg, ids[:1], seed, 12))  # one replica: scalar path
    for r in runs[1:]:
        for v in runs[0]:
            assert np.array_equal(runs[0][v], r[v], equal_nan=True), v
    for v in alone:
        assert np.array_equal(alone[v], runs[0][v][:1] if ids[0] == min(ids) else
                              runs[0][v][[sorted(ids).index(ids[0])]], equal_nan=True), v


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
# one replica's blocks and chi-square sites): d and n such that Bartlett's
# chi-squares include alpha = 1 (d = 10, n = 12), alpha < 1 (the boosted
# scalar path: d = 5, n = 6), a partly filled lane group and a scalar rest
# (d = 10: 8 + 2 sites), the singular case c - 1 < d, loops that draw both
# parts, truncation (a rejection over the normal sequence) and a filter.
_CHILD = """
import json, sys, numpy as np, madsim as ms
from madsim._backend import core
G = ms.Gaussian
cases = {
    "1d exact": ms.Config(loop=ms.Replace(n=9), path="exact", temperature=1.1),
    "1d samples": ms.Config(loop=ms.Replace(n=9), path="samples", temperature=1.1),
    "d5 exact n6": ms.Config(family=G(dim=5), loop=ms.Replace(n=6), path="exact"),
    "d10 exact n12": ms.Config(family=G(dim=10), loop=ms.Replace(n=12), path="exact"),
    "d5 exact n4 singular": ms.Config(family=G(dim=5), loop=ms.Fresh(real=8, synthetic=4), path="exact"),
    "d10 samples": ms.Config(family=G(dim=10), loop=ms.Replace(n=30), path="samples"),
    "d4 augment exact": ms.Config(family=G(dim=4), loop=ms.Augment(real=7, synthetic=9), path="exact"),
    "d4 trunc samples": ms.Config(family=G(dim=4), loop=ms.Fresh(real=5, synthetic=17), path="samples",
                                  truncation=2.5, filter=ms.Filter(tpr=0.2, fpr=0.1)),
    "1d accumulate exact": ms.Config(loop=ms.Accumulate(real=3, synthetic=5), path="exact"),
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
    res = {}
    for mode in ("off", "baseline", "default"):
        env = {k: v for k, v in os.environ.items() if k != "MADSIM_LANES"}
        if mode != "default":
            env["MADSIM_LANES"] = mode
        p = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                           check=True)
        res[mode] = json.loads(p.stdout)
    assert res["off"]["lanes"] == "off"
    assert res["baseline"]["lanes"].startswith("baseline")
    for mode in ("baseline", "default"):
        for case in res["off"]:
            if case != "lanes":
                assert res[mode][case] == res["off"][case], (mode, case)
