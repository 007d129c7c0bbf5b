#!/usr/bin/env python
"""Scale: the 1-D exact replace loop with aggregated records, its rate and
its peak memory at two replica counts, and what 10^6 replicas x 10^6
generations would take.

    python benchmarks/scale.py                      # 10^5 and 10^6 replicas x 10^3 generations
    python benchmarks/scale.py --replicas 1e5 1e7 --generations 1e4

Each point runs in its own process (so ``ru_maxrss``, the peak resident
memory, is that point's): ``ms.simulate(..., aggregate=...)`` recording every
10th generation's (``--every``) mean, var and logdet (count, mean, variance, min, max,
three quantiles, a 64-bin histogram of logdet) and a first-passage detector
(survival counts). Peak RSS is reported with the process's RSS after
importing madsim and a tiny first run (``baseline``) so that what the run
adds shows. A memory probe runs 20 generations (every one recorded) at
further replica counts: memory does not depend on generations, so its
slope is the run's memory per replica.

Beside it, the numpy a user would write (the exact path's sufficient
statistics, vectorised over replicas, with numpy's own mean/var/quantiles of
each recorded generation: baselines.numpy_suffstats' step) on the smaller
replica count, in the same process kind, for the rate ratio.

Projections (printed, and in the JSON): 10^12 replica-generations at the
measured rate; on a 64-core machine, scaling the kernel's rate by 64 /
threads (it is compute-bound: a chunk keeps each replica's state in
registers across its generations, and replicas are independent) but
capped by the reduction, which runs in one thread of the calling process
(timed alone here: recorded values per second, times ``--every``, over the
3 recorded variables); on a Dask cluster of W such machines, W times that
(blocks of replicas on each worker, each reducing its own; merging their
aggregates needs the same fixed-group Chan merge across workers, not built
yet: each worker's aggregates are exact for its block).

Writes JSON to benchmarks/results/scale-<host>-<timestamp>.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = 1e12  # replica-generations of a 10^6 x 10^6 run

POINT = r"""
import json, resource, sys, time
import numpy as np
import madsim as ms
R, G, threads, n, every = (int(a) for a in sys.argv[1:6])
cfg = ms.Config(loop=ms.Replace(n=n), path="exact")
agg = ms.Aggregate(quantiles=(0.05, 0.5, 0.95), histogram={"logdet": ms.Bins(-200.0, 10.0, 64)})
ms.simulate(cfg, replicas=10, generations=2, aggregate=True, progress=False)  # imports, first call
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
ds = ms.simulate(cfg, replicas=R, generations=G, seed=1, record=ms.every(every), threads=threads,
                 metrics=["mean", "var", "logdet"], aggregate=agg, progress=False,
                 detect=[ms.FirstPassage("var", below=0.01, name="collapsed")])
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"replicas": R, "generations": G, "threads": threads, "wall_s": wall,
                  "rate": R * G / wall, "peak_rss_mib": peak / 1024, "baseline_rss_mib": base / 1024,
                  "logdet_mean_last": float(ds["logdet_mean"].values[-1]),
                  "result_mib": ds.nbytes / 2**20}))
"""

REDUCE = r"""
import json, sys, time
import numpy as np
from madsim.run import aggregate as A
agg = A.Aggregate(quantiles=(0.05, 0.5, 0.95), histogram={"logdet": A.Bins(-200.0, 10.0, 64)})
R, k, C = 2**20, 4, 3  # one chunk: 4 recorded generations of 3 variables
block = np.random.default_rng(1).lognormal(size=(R, k, C))
block[:, :, 2] = np.log(block[:, :, 1])  # a variable of both signs, as logdet
red = A.Reducer(agg, k, C, {"logdet": (2, agg.histogram["logdet"].edges)}, np.zeros(0, np.int64))
best = float("inf")
for _ in range(3):
    t = time.perf_counter()
    red.done = 0
    red.start(k)
    for a in range(0, R, 2**18):
        red.add(block[a:a + 2**18], a)
    red.commit()
    best = min(best, time.perf_counter() - t)
print(json.dumps({"values_per_s": R * k * C / best}))
"""

NUMPY = r"""
import json, resource, sys, time
import numpy as np
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
R, G, n, every = (int(a) for a in sys.argv[1:5])
rng = np.random.default_rng(1)
mu, var = np.zeros(R), np.ones(R)
out = []
t0 = time.perf_counter()
for t in range(1, G + 1):
    sigma = np.sqrt(var)
    mu = mu + sigma * rng.standard_normal(R) / np.sqrt(n)
    var = var * rng.chisquare(n - 1, R) / n
    if t % every == 0 or t == G:
        lv = np.log(var)
        out.append([(x.mean(), x.var(ddof=1), x.min(), x.max(), *np.quantile(x, [0.05, 0.5, 0.95]))
                    for x in (mu, var, lv)])
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"replicas": R, "generations": G, "wall_s": wall, "rate": R * G / wall,
                  "peak_rss_mib": peak / 1024, "baseline_rss_mib": base / 1024}))
"""


def _child(code: str, args: list) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent / "python") + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400 * 3:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=float, nargs="+", default=[1e5, 1e6])
    ap.add_argument("--generations", type=float, default=1e3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--every", type=int, default=10, help="record every k-th generation")
    ap.add_argument(
        "--memory-replicas",
        type=float,
        nargs="*",
        default=[1e5, 1e6, 4e6],
        help="replica counts of the memory probe (20 generations each)",
    )
    ap.add_argument("--cores", type=int, default=64, help="the projected machine's cores")
    ap.add_argument("--workers", type=int, default=16, help="the projected Dask cluster's machines")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    G = int(args.generations)
    rows = []
    print(
        f"1-D exact replace, n = {args.n}, aggregated records every {args.every}th generation, "
        f"{args.threads} threads on {os.cpu_count()} cores ({platform.node()})"
    )
    print(
        f"{'replicas':>10} {'gens':>7} {'wall s':>8} {'rep-gen/s':>11} {'peak RSS MiB':>13} "
        f"{'baseline':>9} {'result MiB':>11}"
    )
    for r in args.replicas:
        p = _child(POINT, [int(r), G, args.threads, args.n, args.every])
        rows.append(p)
        print(
            f"{p['replicas']:>10} {G:>7} {p['wall_s']:>8.2f} {p['rate']:>11.3g} {p['peak_rss_mib']:>13.1f} "
            f"{p['baseline_rss_mib']:>9.1f} {p['result_mib']:>11.2f}"
        )
    small = int(min(args.replicas))
    npy = _child(NUMPY, [small, G, args.n, args.every])
    print(
        f"{'numpy':>10} {G:>7} {npy['wall_s']:>8.2f} {npy['rate']:>11.3g} {npy['peak_rss_mib']:>13.1f} "
        f"{npy['baseline_rss_mib']:>9.1f}   (the loop a user would write, {small} replicas)"
    )
    mem = []
    if args.memory_replicas:
        print("\nmemory probe (20 generations, every generation recorded):")
        print(f"{'replicas':>10} {'peak RSS MiB':>13} {'baseline':>9} {'added MiB':>10}")
    for r in args.memory_replicas:
        p = _child(POINT, [int(r), 20, args.threads, args.n, 1])
        mem.append(p)
        print(
            f"{p['replicas']:>10} {p['peak_rss_mib']:>13.1f} {p['baseline_rss_mib']:>9.1f} "
            f"{p['peak_rss_mib'] - p['baseline_rss_mib']:>10.1f}"
        )
    reduce_rate = _child(REDUCE, [])["values_per_s"]
    print(f"\nthe reduction alone (one thread, in the calling process): {reduce_rate:.3g} recorded values/s")
    best = max(p["rate"] for p in rows)
    same = next(p for p in rows if p["replicas"] == small)
    here = TARGET / best
    core_rate = best / args.threads
    # the kernel scales with threads; the reduction does not (it runs in the calling process):
    # it caps the rate at reduce_rate * every / 3 recorded values per replica-generation
    reduce_cap = reduce_rate * args.every / 3
    many = TARGET / min(core_rate * args.cores, reduce_cap)
    cluster = many / args.workers
    probe = mem if len(mem) >= 2 else rows
    if len(probe) < 2:  # one point: no slope to measure
        probe = probe * 2
    per_replica = (
        (probe[-1]["peak_rss_mib"] - probe[-2]["peak_rss_mib"])
        / max(probe[-1]["replicas"] - probe[-2]["replicas"], 1)
        * 2**20
    )
    proj = {
        "rate_best": best,
        "rate_per_thread": core_rate,
        "reduce_values_per_s": reduce_rate,
        "reduce_cap_rate": reduce_cap,
        "speedup_vs_numpy": same["rate"] / npy["rate"],
        "bytes_per_extra_replica": per_replica,
        "1e6x1e6_here_s": here,
        f"1e6x1e6_{args.cores}_cores_s": many,
        f"1e6x1e6_dask_{args.workers}x{args.cores}_s": cluster,
        "1e6x1e6_peak_rss_mib_estimate": probe[-2]["peak_rss_mib"]
        + per_replica * (1e6 - probe[-2]["replicas"]) / 2**20,
    }
    print(f"\nmadsim / numpy at {small} replicas: {proj['speedup_vs_numpy']:.1f}x")
    print(
        f"peak RSS grows {per_replica:.0f} bytes per extra replica between the two largest probes "
        "(state rows x 2, ids, detector columns x 2: kept for resume), not with generations or records"
    )
    print(
        f"10^6 x 10^6 = 1e12 replica-generations: here {_hours(here)} at {best:.3g}/s; "
        f"on {args.cores} cores {_hours(many)} (kernel {core_rate:.3g}/s per thread, linear, capped by "
        f"the reduction at {reduce_cap:.3g}/s when recording every {args.every}th generation); "
        f"on a Dask cluster of {args.workers} x {args.cores} cores {_hours(cluster)}; "
        f"peak RSS about {proj['1e6x1e6_peak_rss_mib_estimate']:.0f} MiB"
    )
    out = args.out or HERE / "results" / f"scale-{platform.node()}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "points": rows,
                "memory": mem,
                "numpy": npy,
                "projection": proj,
                "threads": args.threads,
                "cpus": os.cpu_count(),
                "host": platform.node(),
                "n": args.n,
                "every": args.every,
                "load_avg": os.getloadavg(),
            },
            indent=1,
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
