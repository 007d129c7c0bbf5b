"""``madsim bench``: a quick throughput check against numpy and the Philox
rate.
"""

from __future__ import annotations

import time

import numpy as np


def command(args) -> int:
    """A quick, self-contained throughput check (the full suite with JSON output
    is benchmarks/run.py in a source checkout): the 1-D exact path against a
    vectorised numpy loop on sufficient statistics and the raw Philox rate,
    all measured now, on this machine, best of --repeats."""
    import os

    import madsim as ms
    from madsim._backend import core

    threads = args.threads or os.cpu_count() or 1
    n, R, G = 10, args.replicas, args.generations
    cfg = ms.Config(loop=ms.Replace(n=n))

    def best(fn):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def numpy_suffstats():
        rng = np.random.default_rng(0)
        mu, var = np.zeros(R), np.ones(R)
        for _ in range(G):
            mu = mu + np.sqrt(var) * rng.standard_normal(R) / np.sqrt(n)
            var = var * rng.chisquare(n - 1, R) / n

    rows = []
    for thr in sorted({1, threads}):
        t = best(
            lambda: ms.simulate(
                cfg, replicas=R, generations=G, seed=1, record=[G], threads=thr, progress=False
            )
        )
        rows.append((f"madsim exact n={n}, {thr} thread(s)", R * G / t))
    rows.append(("numpy suff. stats, 1 thread", R * G / best(numpy_suffstats)))
    blocks = 5_000_000
    philox = blocks * threads / min(core.philox_seconds(blocks, threads) for _ in range(args.repeats))
    print(f"madsim {ms.__version__} bench: R = {R}, G = {G}, best of {args.repeats}")
    print(f"  {'case':<34} {'replica-gen/s':>14} {'vs numpy':>9}")
    ref = rows[-1][1]
    for name, rate in rows:
        print(f"  {name:<34} {rate:>14.3g} {rate / ref:>8.2f}x")
    print(
        f"  {'Philox4x32-10 blocks/s, ' + str(threads) + ' thread(s)':<34} {philox:>14.3g}"
        f"   (the limit: ~1 block per replica-generation on the exact path)"
    )
    return 0


def add(sub) -> None:
    """Declares ``madsim bench`` and its options on the subparsers ``sub``."""
    bench = sub.add_parser("bench", help="quick throughput check against numpy and the Philox rate")
    bench.add_argument(
        "--replicas", type=int, default=100_000, help="replicas of each timed run (default 100000)"
    )
    bench.add_argument(
        "--generations", type=int, default=100, help="generations of each timed run (default 100)"
    )
    bench.add_argument(
        "--repeats", type=int, default=3, help="runs of each case; the best is reported (default 3)"
    )
    bench.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the multi-threaded rows and the Philox rate (default: all cores)",
    )
    bench.set_defaults(func=command)
