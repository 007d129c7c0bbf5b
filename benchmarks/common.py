"""What the family benchmarks (tokens.py, bigram.py, ...) share: timing,
their command line, the machine record and the JSON they write. run.py, the
Gaussian speed benchmark, keeps its own richer versions (thread scaling,
memory, CPU contention)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import madsim as ms
from madsim import atomic

RESULTS = Path(__file__).resolve().parent / "results"


def timed_with_result(fn, repeats):
    """({times_s, min_s, median_s}, the last call's return value)."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return {"times_s": times, "min_s": min(times), "median_s": statistics.median(times)}, out


def timed(fn, repeats):
    return timed_with_result(fn, repeats)[0]


def simulate_fn(cfg, R: int, G: int, threads: int, metrics: list[str]):
    """The timed madsim call of a benchmark: R replicas, G generations in one
    chunk, seed 1, only generation G recorded, no progress bar."""
    import madsim as ms

    return lambda: ms.simulate(
        cfg,
        replicas=R,
        generations=G,
        seed=1,
        record=[G],
        metrics=metrics,
        threads=threads,
        progress=False,
        chunk=G,
    )


def path_row(family: str, path: str, baseline: str, madsim: float, numpy: float, goal: float = 2.0, **extra):
    """One row of benchmarks/run.py's every-kernel-path table (paths.print_rows):
    madsim's and the baseline's replica-generations per second and their ratio
    against the goal."""
    ratio = madsim / numpy
    return dict(
        family=family,
        path=path,
        baseline=baseline,
        madsim_rg_per_s=madsim,
        numpy_rg_per_s=numpy,
        ratio=ratio,
        goal=goal,
        met=bool(ratio >= goal),
        **extra,
    )


def parse_args(doc: str, argv=None) -> argparse.Namespace:
    """--quick, --threads, --repeats, --out."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run (writes no JSON)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    return ap.parse_args(argv)


def write_results(
    name: str, args: argparse.Namespace, philox_rate: float | None, cases: list, **extra
) -> None:
    """benchmarks/results/<name>-<host>-<time>.json with the machine (load
    average included: read rates with it), the build and ``extra`` fields
    (not for --quick runs)."""
    if args.quick:
        return
    out = {
        "benchmark": name,
        "quick": args.quick,
        "philox_blocks_per_s": philox_rate,
        **extra,
        "machine": {
            "hostname": platform.node(),
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
            "build_info": ms.build_info(),
            "numpy": np.__version__,
        },
        "cases": cases,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{name}-{platform.node() or 'host'}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    atomic.write_text(path, json.dumps(out, indent=1, default=float))
    print(f"wrote {path}")
