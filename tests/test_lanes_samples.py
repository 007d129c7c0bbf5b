"""The samples paths of Poisson and KDE on the CPU's LaneKit (csrc/cpu/
poisson_lanes.hpp, kde_lanes.hpp) give ScalarKit's numbers bit for bit:
Poisson's points LANES sites at a time with the inversion search in lanes,
KDE's normals and picks' uniforms 8 Philox blocks at a time.

MADSIM_LANES is read per kernel call, so each test runs the same
configuration with the scalar code (off) and the default lanes in this
process; the instruction sets (baseline SSE2, AVX2, AVX-512) are compared in
fresh processes, as tests/test_lanes.py does for the other families.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import madsim as ms

import strategies as S
from lane_modes import outputs_per_mode


class _lanes_mode:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        self.saved = os.environ.get("MADSIM_LANES")
        os.environ["MADSIM_LANES"] = self.mode

    def __exit__(self, *exc: object) -> None:
        os.environ.pop("MADSIM_LANES", None)
        if self.saved is not None:
            os.environ["MADSIM_LANES"] = self.saved


def _off_and_lanes(cfg: ms.Config, seed: int, gens: int) -> tuple[dict, dict]:
    def run() -> dict:
        ds = ms.simulate(
            cfg,
            replicas=[0, 3, 2**32 - 1],
            generations=gens,
            seed=seed,
            record=ms.every(1),
            metrics="all",
            threads=1,
            progress=False,
        )
        return {v: ds[v].values for v in ds.data_vars}

    with _lanes_mode("off"):
        scalar = run()
    return scalar, run()


def _assert_same(scalar: dict, lanes: dict) -> None:
    for v in scalar:
        assert np.array_equal(scalar[v], lanes[v], equal_nan=True), v


# Rates on both sides of the inversion / PTRS switch at 10 (the lanes take
# rate < 10), tiny rates (most points 0, rate collapsing to 0), counts around
# LANES = 8 and past the part's 256-point chunk.
@settings(max_examples=25, deadline=None)
@given(
    seed=S.seeds,
    rate=st.sampled_from([0.01, 0.7, 3.0, 9.99, 10.0, 25.0]),
    n=st.sampled_from([2, 7, 8, 9, 17, 300]),
    loop=st.sampled_from(["replace", "fresh", "accumulate", "augment", "subsample"]),
)
def test_poisson_samples_lanes_give_the_scalar_bits(seed, rate, n, loop):
    lp = {
        "replace": ms.Replace(n=n),
        "fresh": ms.Fresh(real=n + 3, synthetic=n),
        "accumulate": ms.Accumulate(real=2, synthetic=n),
        "augment": ms.Augment(real=n + 1, synthetic=n),
        "subsample": ms.AccumulateSubsample(n=n, real=1, synthetic=n),
    }[loop]
    cfg = ms.Config(family=ms.Poisson(rate=rate), loop=lp, path="samples")
    _assert_same(*_off_and_lanes(cfg, seed, 6))


@settings(max_examples=25, deadline=None)
@given(
    seed=S.seeds,
    d=st.integers(1, 3),
    n=st.sampled_from([2, 7, 16, 17, 33, 70]),
    loop=st.sampled_from(["replace", "fresh", "accumulate", "augment", "subsample"]),
    bandwidth=st.sampled_from(["silverman", "scott", 0.4]),
)
def test_kde_lanes_give_the_scalar_bits(seed, d, n, loop, bandwidth):
    n = max(n, d + 1)  # a rule's fit needs d + 1 points
    lp = {
        "replace": ms.Replace(n=n),
        "fresh": ms.Fresh(real=n + 3, synthetic=n),
        "accumulate": ms.Accumulate(real=2, synthetic=n),
        "augment": ms.Augment(real=n + 1, synthetic=n),
        "subsample": ms.AccumulateSubsample(n=n, real=1, synthetic=n),
    }[loop]
    fam = ms.KDE(dim=d, bandwidth=bandwidth, test_points=5)
    _assert_same(*_off_and_lanes(ms.Config(family=fam, loop=lp), seed, 4))


_CHILD = """
import json, numpy as np, madsim as ms
from madsim._backend import core
cases = {
    "poisson r3": ms.Config(family=ms.Poisson(rate=3.0), loop=ms.Replace(n=37), path="samples"),
    "poisson r0.2 accumulate": ms.Config(family=ms.Poisson(rate=0.2),
                                         loop=ms.Accumulate(real=5, synthetic=21), path="samples"),
    "kde 1d": ms.Config(family=ms.KDE(bandwidth="silverman", test_points=5), loop=ms.Replace(n=37)),
    "kde 2d fresh": ms.Config(family=ms.KDE(dim=2, bandwidth="scott", test_points=5),
                              loop=ms.Fresh(real=9, synthetic=23)),
}
out = {"lanes": core.build_info()["cpu_lanes"]}
for name, cfg in cases.items():
    ds = ms.simulate(cfg, replicas=[0, 5, 2**32 - 1] + list(range(10, 19)), generations=8,
                     seed=99, record=ms.every(2), metrics="all", progress=False, threads=2)
    out[name] = [float(x).hex() for v in sorted(ds.data_vars) if "replica" in ds[v].dims
                 for x in np.ravel(ds[v].values)]
print(json.dumps(out))
"""


@pytest.mark.slow  # four fresh processes, ~15 s
def test_lane_modes_give_the_same_bits():
    res = outputs_per_mode(_CHILD)
    assert res["off"]["lanes"] == "off"
    for mode in ("baseline", "avx2", "default"):
        for case in res["off"]:
            if case != "lanes":
                assert res[mode][case] == res["off"][case], (mode, case)
