"""Benchmark of the Poisson family: the rate refit by the sample mean,
replace and accumulate loops, n = 100 and 1e4 points per generation;
madsim's exact path (one Poisson(n lambda) draw per part and generation,
cost independent of n) and samples path (every point drawn) against the
numpy a user would write, measured in the same run: rng.poisson(lam[:, None],
(R, n)) for every replica at once, the mean over the points (accumulate: the
pooled sum and count kept per replica), one generation after another.

Throughput is replica-generations per second (min of repeats); ratios are
what to read, absolute times drift on shared machines. Prints a table and
writes JSON to benchmarks/results/poisson-<host>-<time>.json.

    python benchmarks/poisson.py            # ~1 minute on 2 cores
    python benchmarks/poisson.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import numpy as np

import madsim as ms
from common import parse_args, path_row, simulate_fn, timed, write_results

RATE = 3.0


def config(n, loop, path):
    lp = ms.Replace(n=n) if loop == "replace" else ms.Accumulate(synthetic=n)
    return ms.Config(family=ms.Poisson(rate=RATE), loop=lp, path=path)


def madsim_run(n, loop, path, R, G, threads):
    cfg = config(n, loop, path)
    return simulate_fn(cfg, R, G, threads, ["rate"])


def numpy_run(n, loop, R, G):
    """What a user writes with numpy: every replica's n points at once, one
    generation after another; accumulate keeps each replica's pooled sum."""

    def run():
        rng = np.random.default_rng(1)
        lam = np.full(R, RATE)
        pool_sum, pool_n = np.zeros(R), 0
        for _ in range(G):
            s = rng.poisson(lam[:, None], (R, n)).sum(axis=1)
            if loop == "accumulate":
                pool_sum += s
                pool_n += n
                lam = pool_sum / pool_n
            else:
                lam = s / n
        return lam.mean()

    return run


# n: (R, G) of madsim exact, madsim samples, numpy (the slow ones run fewer
# replicas; throughput is per replica-generation either way)
SIZES = {
    100: ((200_000, 20), (20_000, 20), (20_000, 20)),
    10_000: ((200_000, 20), (200, 10), (200, 10)),
}


def path_rows(args) -> list[dict]:
    """benchmarks/run.py's rows (paths.py): both paths at n = 100, replace and
    accumulate, against numpy's batched draws. Goal: the issue's floor, 2x."""
    s = 0.05 if args.quick else 0.25
    rows = []
    for loop in ("replace", "accumulate"):
        Rn = int(20_000 * s)
        tb = timed(numpy_run(100, loop, Rn, 20), args.repeats)
        b = Rn * 20 / tb["min_s"]
        for path, R in (("exact", int(200_000 * s)), ("samples", int(20_000 * s))):
            t = timed(madsim_run(100, loop, path, R, 20, args.threads), args.repeats)
            rows.append(
                path_row("poisson", f"{loop} {path} n=100", "numpy batched draws", R * 20 / t["min_s"], b)
            )
    return rows


def main(argv=None):
    args = parse_args(__doc__, argv)
    th, rep = args.threads, args.repeats
    scale = 0.02 if args.quick else 1.0
    rows = []
    for n, sizes in SIZES.items():
        (Re, Ge), (Rs, Gs), (Rn, Gn) = ((max(2, int(R * scale)), G) for R, G in sizes)
        for loop in ("replace", "accumulate"):
            e = {"n": n, "loop": loop, "rate": RATE, "threads": th}
            for path, R, G in (("exact", Re, Ge), ("samples", Rs, Gs)):
                t = timed(madsim_run(n, loop, path, R, G, th), rep)
                t.update(R=R, G=G, rg_per_s=R * G / t["min_s"])
                e[f"madsim_{path}"] = t
            t = timed(numpy_run(n, loop, Rn, Gn), rep)
            t.update(R=Rn, G=Gn, rg_per_s=Rn * Gn / t["min_s"])
            e["numpy"] = t
            rows.append(e)

    print(
        f"Poisson (rate {RATE}, MLE), {th} threads: replica-generations per second (min of repeats); "
        "x = madsim path / numpy batched"
    )
    print(
        f"{'n':>6} {'loop':>10} | {'exact':>9} {'samples':>9} {'numpy':>9} | {'x exact':>8} {'x samples':>9}"
    )
    for e in rows:
        ex, sa, npy = (e[k]["rg_per_s"] for k in ("madsim_exact", "madsim_samples", "numpy"))
        print(
            f"{e['n']:>6} {e['loop']:>10} | {ex:>9.3g} {sa:>9.3g} {npy:>9.3g} | {ex / npy:>8.1f} "
            f"{sa / npy:>9.2f}"
        )
    write_results("poisson", args, None, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
