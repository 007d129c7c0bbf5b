"""Benchmark of the bigram (next-token) family: the replace loop (n sequences
of L tokens walked on the current chain, refit row by row from the
transition counts), madsim against what a user writes without it, measured
in the same run on the same machine:

- numpy vectorised over replicas and sequences: one ``searchsorted`` per
  token position over all replicas' rows at once (each row's cumulative law
  shifted by its row number, so one sorted array holds them all), counts by
  ``bincount``, refit by row sums: the fastest numpy form we know;
- a per-replica loop of the same numpy walk (vectorised over sequences
  only: the peers' one-replica-per-process scripts);
- the raw Philox4x32-10 block rate of madsim's generator on the same
  threads, with the blocks a replica-generation consumes (one per two
  tokens): the physical limit.

Throughput is replica-generations per second (min of repeats). Prints a
table and writes JSON to benchmarks/results/bigram-<host>-<time>.json.

    python benchmarks/bigram.py            # ~1 minute on 2 cores
    python benchmarks/bigram.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import numpy as np

import madsim as ms
from common import parse_args, path_row, simulate_fn, timed, write_results
from madsim._backend import core


def madsim_run(K, L, n, R, G, threads):
    cfg = ms.Config(family=ms.Bigram(tokens=K, zipf=1.0, length=L), loop=ms.Replace(n=n))
    return simulate_fn(cfg, R, G, threads, ["edges"])


def _walk_fit(rng, P, start_cdf, n, L):
    """One generation for a stack of R models P [R, K, K]: n sequences of L
    tokens each, then the row-by-row refit (rows without visits kept)."""
    R, K, _ = P.shape
    cdf = np.cumsum(P, axis=2)
    cdf[:, :, -1] = 1.0
    flat = (cdf + np.arange(R * K).reshape(R, K, 1)).reshape(-1)  # row r*K+i lives in [r*K+i, +1)
    base = np.repeat(np.arange(R) * K, n)
    cur = np.searchsorted(start_cdf, rng.random(R * n), side="right").clip(max=K - 1)
    cells = []
    for _ in range(L - 1):
        row = base + cur
        nxt = np.searchsorted(flat, row + rng.random(R * n), side="right") - row * K
        nxt = nxt.clip(0, K - 1)
        cells.append(row * K + nxt)
        cur = nxt
    C = np.bincount(np.concatenate(cells), minlength=R * K * K).reshape(R, K, K)
    tot = C.sum(axis=2, keepdims=True)
    return np.where(tot > 0, C / np.where(tot > 0, tot, 1.0), P)


def numpy_vectorised(K, L, n, R, G):
    P0 = ms.Bigram(tokens=K, zipf=1.0, length=L).truth
    start_cdf = np.cumsum(ms.Bigram(tokens=K, zipf=1.0, length=L).stationary)

    def run():
        rng = np.random.default_rng(1)
        P = np.broadcast_to(P0, (R, K, K)).copy()
        for _ in range(G):
            P = _walk_fit(rng, P, start_cdf, n, L)

    return run


def numpy_replica_loop(K, L, n, R, G):
    vec = numpy_vectorised(K, L, n, 1, G)
    return lambda: [vec() for _ in range(R)]


def path_rows(args) -> list[dict]:
    """benchmarks/run.py's rows (paths.py): madsim against the vectorised
    numpy walk (the best numpy form), K = 20, L = 100, n = 50. Goal: the
    issue's floor, 2x."""
    K, L, n, G = 20, 100, 50, 10
    R = 50 if args.quick else 400
    t = timed(madsim_run(K, L, n, R, G, args.threads), args.repeats)
    tb = timed(numpy_vectorised(K, L, n, R, G), args.repeats)
    m, b = R * G / t["min_s"], R * G / tb["min_s"]
    return [path_row("bigram", f"replace K={K} L={L} n={n}", "numpy vectorised walk", m, b)]


def main(argv=None):
    args = parse_args(__doc__, argv)
    th, rep = args.threads, args.repeats
    scale = 0.05 if args.quick else 1.0
    # (K, L, n, R, G; the per-replica loop runs R // 10 replicas)
    sizes = [(20, 100, 50, int(2000 * scale) or 10, 20), (200, 1000, 20, int(200 * scale) or 10, 10)]
    philox_rate = 2_000_000 * th / core.philox_seconds(2_000_000, th)
    rows = []
    for K, L, n, R, G in sizes:
        e = {"K": K, "L": L, "n": n, "R": R, "G": G, "threads": th}
        t = timed(madsim_run(K, L, n, R, G, th), rep)
        t["rg_per_s"] = R * G / t["min_s"]
        t["blocks_per_rg"] = n * L / 2.0
        t["fraction_of_philox"] = t["rg_per_s"] * t["blocks_per_rg"] / philox_rate
        e["madsim"] = t
        t = timed(numpy_vectorised(K, L, n, R, G), rep)
        t["rg_per_s"] = R * G / t["min_s"]
        e["numpy_vectorised"] = t
        Rl = max(R // 10, 1)
        t = timed(numpy_replica_loop(K, L, n, Rl, G), 1)
        t["rg_per_s"] = Rl * G / t["min_s"]
        e["numpy_replica_loop"] = t
        rows.append(e)

    print(
        f"Bigram replace loop, {th} threads; Philox {philox_rate / 1e6:.1f}M blocks/s "
        "(replica-generations per second, min of repeats)"
    )
    print(
        f"{'K':>5} {'L':>5} {'n':>4} | {'madsim':>9} {'np vector':>9} {'np loop':>9} | "
        f"{'x vector':>8} {'x loop':>7} | {'% Philox':>8}"
    )
    for e in rows:
        m = e["madsim"]["rg_per_s"]
        print(
            f"{e['K']:>5} {e['L']:>5} {e['n']:>4} | {m:>9.3g} {e['numpy_vectorised']['rg_per_s']:>9.3g} "
            f"{e['numpy_replica_loop']['rg_per_s']:>9.3g} | "
            f"{m / e['numpy_vectorised']['rg_per_s']:>8.1f} {m / e['numpy_replica_loop']['rg_per_s']:>7.1f} | "
            f"{100 * e['madsim']['fraction_of_philox']:>7.1f}%"
        )
    write_results("bigram", args, philox_rate, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
