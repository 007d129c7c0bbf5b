"""Every kernel path against the best numpy a user would write for the same
recursion, for benchmarks/run.py's table and JSON (one row each, with its
target):

- the d = 1 mitigation loops through GaussianLoop (fresh, augment,
  accumulate, the He-Xu-Cheng weighted fit, a provenance filter, a replace
  schedule; the replica lanes of csrc/cpu/gaussian_loop_lanes.hpp) against
  numpy on sufficient statistics (baselines.py), and the same runs with the
  lanes off (MADSIM_LANES=off: what the lanes buy);
- the Gaussian mixture, PPCA, bigram and regression families, through the
  measurements of their own benchmarks (gmm.py, ppca.py, bigram.py,
  regression.py) at reduced sizes.

Each madsim run is checked against its baseline: the final generation's mean
variance (or the family benchmark's own z-score), |z| >= 5 fails.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from types import SimpleNamespace

import numpy as np

import baselines
import madsim

REAL, SYN, WEIGHT, TPR, FPR = 10, 10, 0.5, 0.2, 0.1
LOOP_GOAL = 4.0  # issue: every d = 1 loop >= 4x numpy's sufficient statistics
FLOOR_GOAL = 2.0  # issue: no kernel path below 2x the numpy a user would write


def _loop_cases(G: int) -> dict:
    """name -> (madsim config, baseline(R, G, seed) -> (mu, var), baseline name)."""
    fresh = madsim.Fresh(real=REAL, synthetic=SYN)
    return {
        "fresh exact": (
            madsim.Config(loop=fresh, path="exact"),
            lambda R, G, s: baselines.numpy_fresh_suffstats(REAL, SYN, R, G, s),
            "numpy suff. stats",
        ),
        "fresh samples": (
            madsim.Config(loop=fresh, path="samples"),
            lambda R, G, s: baselines.numpy_fresh_samples(REAL, SYN, R, G, s),
            "numpy all samples",
        ),
        "augment exact": (
            madsim.Config(loop=madsim.Augment(real=REAL, synthetic=SYN), path="exact"),
            lambda R, G, s: baselines.numpy_augment_suffstats(REAL, SYN, R, G, s),
            "numpy suff. stats",
        ),
        "accumulate exact": (
            madsim.Config(loop=madsim.Accumulate(real=REAL, synthetic=SYN), path="exact"),
            lambda R, G, s: baselines.numpy_accumulate_suffstats(REAL, SYN, R, G, s),
            "numpy suff. stats",
        ),
        f"weighted w={WEIGHT} exact": (
            madsim.Config(loop=fresh, path="exact", weight=WEIGHT),
            lambda R, G, s: baselines.numpy_weighted_suffstats(REAL, SYN, WEIGHT, R, G, s),
            "numpy suff. stats",
        ),
        f"filter tpr={TPR} fpr={FPR} exact": (
            madsim.Config(loop=fresh, path="exact", filter=madsim.Filter(tpr=TPR, fpr=FPR)),
            lambda R, G, s: baselines.numpy_filter_suffstats(REAL, SYN, TPR, FPR, R, G, s),
            "numpy suff. stats",
        ),
        "replace schedule exact": (
            madsim.Config(loop=madsim.Replace(n=[REAL + SYN] * G), path="exact"),
            lambda R, G, s: baselines.numpy_suffstats(REAL + SYN, R, G, s),
            "numpy suff. stats",
        ),
    }


class _lanes:
    """MADSIM_LANES for the runs inside (None: the default)."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.saved = os.environ.get("MADSIM_LANES")
        if self.mode is not None:
            os.environ["MADSIM_LANES"] = self.mode

    def __exit__(self, *exc):
        os.environ.pop("MADSIM_LANES", None)
        if self.saved is not None:
            os.environ["MADSIM_LANES"] = self.saved


def _time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def _z(a: np.ndarray, b: np.ndarray) -> float:
    se = math.hypot(np.std(a, ddof=1) / math.sqrt(a.size), np.std(b, ddof=1) / math.sqrt(b.size))
    return float((a.mean() - b.mean()) / se) if se > 0 else 0.0


def loop_rows(R: int, G: int, threads: int, repeats: int, log=print) -> list[dict]:
    """One row per d = 1 loop: madsim (lanes, and lanes off) and its numpy
    baseline, rg/s from the best of `repeats`, interleaved per round."""
    rows = []
    madsim.simulate(
        madsim.Config(loop=madsim.Fresh(real=REAL, synthetic=SYN)), replicas=64, generations=2, progress=False
    )  # warm-up: imports, first-call costs
    for name, (cfg, base, base_name) in _loop_cases(G).items():
        log(f"  d=1 {name}")
        entry = {
            "family": "gaussian d=1",
            "path": name,
            "baseline": base_name,
            "R": R,
            "G": G,
            "threads": threads,
            "goal": LOOP_GOAL,
        }

        def run(cfg=cfg):
            ds = madsim.simulate(
                cfg,
                replicas=R,
                generations=G,
                seed=1,
                record=[G],
                threads=threads,
                progress=False,
                metrics=["var"],
            )
            if ds.attrs["kernel"] != "gaussian_loop":
                raise RuntimeError(f"{name} ran kernel {ds.attrs['kernel']!r}")
            return ds["var"].values[:, -1]

        best = {"madsim": math.inf, "lanes_off": math.inf, "numpy": math.inf}
        out = {}
        for _ in range(repeats):  # interleaved: a drift of the shared machine hits all three
            for key, fn in (("madsim", run), ("numpy", lambda: base(R, G, 1)[1])):
                t, _, out[key] = _time(fn, 1)
                best[key] = min(best[key], t)
            with _lanes("off"):
                t, _, _ = _time(run, 1)
            best["lanes_off"] = min(best["lanes_off"], t)
        entry.update({f"{k}_rg_per_s": R * G / v for k, v in best.items()})
        entry["ratio"] = entry["madsim_rg_per_s"] / entry["numpy_rg_per_s"]
        entry["lanes_speedup"] = entry["madsim_rg_per_s"] / entry["lanes_off_rg_per_s"]
        entry["z_vs_numpy"] = _z(out["madsim"], out["numpy"])
        entry["ok"] = bool(abs(entry["z_vs_numpy"]) < 5.0)
        entry["met"] = bool(entry["ratio"] >= entry["goal"])
        rows.append(entry)
    return rows


def family_rows(quick: bool, threads: int, repeats: int, log=print) -> list[dict]:
    """The other families: their benchmarks' measurements (the path_rows of
    gmm.py, ppca.py, bigram.py, regression.py, poisson.py, kde.py and
    logistic.py, at reduced sizes), one row per kernel path against the best
    numpy baseline (and sklearn for GMM, when installed)."""
    import bigram
    import gmm
    import kde
    import logistic
    import poisson
    import ppca
    import regression

    args = SimpleNamespace(quick=quick, threads=threads, repeats=repeats)
    rows = []
    for module in (gmm, ppca, bigram, regression, poisson, kde, logistic):
        log(f"  {module.__name__}")
        rows.extend(module.path_rows(args))
    return rows


def print_rows(rows: list[dict]) -> None:
    print(
        "\nEvery kernel path against the best numpy a user would write for the same recursion "
        "(madsim rg/s / baseline rg/s)"
    )
    print(
        f"  {'family':<14}{'path':<34}{'baseline':<32}{'madsim rg/s':>12}{'base rg/s':>11}"
        f"{'ratio':>8}{'goal':>6}  {'lanes x':>8}{'z':>7}"
    )
    for r in rows:
        lanes = f"{r['lanes_speedup']:.2f}" if "lanes_speedup" in r else "-"
        z = r.get("z_vs_numpy", r.get("z"))
        zs = f"{z:+.2f}" if z is not None else "-"
        print(
            f"  {r['family']:<14}{r['path']:<34}{r['baseline']:<32}{r['madsim_rg_per_s']:>12.3g}"
            f"{r['numpy_rg_per_s']:>11.3g}{r['ratio']:>7.2f}x{r['goal']:>5g}x  {lanes:>8}{zs:>7}"
            f"  {'met' if r['met'] else 'NOT met'}{'' if r.get('ok', True) else '  FAIL (law)'}"
        )
    print(
        "  lanes x = madsim with its SIMD lanes / MADSIM_LANES=off; z = madsim's final statistic "
        "against the baseline's (or the theory's)"
    )
