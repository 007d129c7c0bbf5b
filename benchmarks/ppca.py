"""Benchmark of the PPCA family (issue 9): d = 10, q = 2 factors, replace
loop with n = 100 and n = 1e4, madsim's exact and samples paths against the
vectorised numpy a user would write, all measured in the same run:

- numpy samples: an (R, n, d) array of draws per generation, mean and
  scatter by batched matmul, ``np.linalg.eigh`` over the R covariances, the
  PPCA projection, ``np.linalg.cholesky`` for the next draws;
- numpy sufficient statistics: the same fit from Bartlett's Wishart factor
  (mean ~ N, scatter = L A A' L'), batched eigh, projection, Cholesky.

Each row also checks the runs: E tr C_G against madsim.theory's
expected_trace (PPCA keeps the Gaussian's trace recursion), with z-scores.
Throughput is replica-generations per second (min of repeats); ratios are
what to read, absolute times drift on shared machines. Prints a table and
writes JSON to benchmarks/results/ppca-<host>-<time>.json.

    python benchmarks/ppca.py            # ~1-2 minutes on 2 cores
    python benchmarks/ppca.py --quick    # a smoke run (seconds), no JSON
"""

from __future__ import annotations

import math

import numpy as np

import madsim as ms
from common import parse_args, path_row, timed_with_result, write_results

D, Q = 10, 2
FAM = ms.PPCA(dim=D, factors=Q, spectrum=(4.0, 2.5), noise=0.5)


def madsim_run(n, R, G, path, threads):
    cfg = ms.Config(family=FAM, loop=ms.Replace(n=n), path=path)

    def run():
        ds = ms.simulate(
            cfg,
            replicas=R,
            generations=G,
            seed=1,
            record=[G],
            metrics=["trace"],
            threads=threads,
            progress=False,
            chunk=G,
        )
        return ds["trace"].values[:, 0]

    return run


def _project(S, q):
    """Batched PPCA ML projection of covariances S [R, d, d] -> its Cholesky factors."""
    w, V = np.linalg.eigh(S)  # ascending
    d = S.shape[-1]
    s2 = w[:, : d - q].mean(axis=1)
    lam = w.copy()
    lam[:, : d - q] = s2[:, None]
    C = (V * lam[:, None, :]) @ V.transpose(0, 2, 1)
    return np.linalg.cholesky(C)


def _start(R):
    L0 = np.linalg.cholesky(FAM.cov_matrix)
    return np.zeros((R, D)), np.tile(L0, (R, 1, 1))


def numpy_samples(n, R, G):
    def run():
        rng = np.random.default_rng(1)
        mu, L = _start(R)
        for _ in range(G):
            x = rng.standard_normal((R, n, D)) @ L.transpose(0, 2, 1)
            x += mu[:, None, :]
            mu = x.mean(axis=1)
            x -= mu[:, None, :]
            L = _project(x.transpose(0, 2, 1) @ x / n, Q)
        return np.einsum("rij,rij->r", L, L)

    return run


def numpy_suffstats(n, R, G):
    rows, cols = np.tril_indices(D, -1)
    df = (n - 1 - np.arange(D)).astype(np.float64)

    def run():
        rng = np.random.default_rng(1)
        mu, L = _start(R)
        A = np.zeros((R, D, D))
        for _ in range(G):
            mu = mu + (L @ rng.standard_normal((R, D, 1)))[:, :, 0] / math.sqrt(n)
            A[:, rows, cols] = rng.standard_normal((R, rows.size))
            A[:, np.arange(D), np.arange(D)] = np.sqrt(rng.chisquare(df, (R, D)))
            LA = L @ A
            L = _project(LA @ LA.transpose(0, 2, 1) / n, Q)
        return np.einsum("rij,rij->r", L, L)

    return run


def _z(trace, n, G):
    expect = float(ms.theory.expected_trace(ms.Config(family=FAM, loop=ms.Replace(n=n)), G))
    return (trace.mean() - expect) / (trace.std(ddof=1) / math.sqrt(trace.size)), expect


def path_rows(args) -> list[dict]:
    """benchmarks/run.py's rows (paths.py): the exact path against numpy on
    sufficient statistics and the samples path against numpy's samples, at
    n = 100. Goal: the issue's floor, 2x."""
    s = 0.05 if args.quick else 0.25
    n, G = 100, 10
    rows = []
    for path, base_name, base, R_m, R_b in (
        ("exact", "numpy suff. stats", numpy_suffstats, int(20000 * s), int(4000 * s)),
        ("samples", "numpy all samples", numpy_samples, int(4000 * s), int(2000 * s)),
    ):
        t, trace = timed_with_result(madsim_run(n, R_m, G, path, args.threads), args.repeats)
        tb, trace_b = timed_with_result(base(n, R_b, G), args.repeats)
        m, b = R_m * G / t["min_s"], R_b * G / tb["min_s"]
        z, zb = _z(trace, n, G)[0], _z(trace_b, n, G)[0]
        rows.append(
            path_row(
                "ppca",
                f"replace {path} d={D} q={Q} n={n}",
                base_name,
                m,
                b,
                z=z,
                z_baseline=zb,
                ok=bool(abs(z) < 5 and abs(zb) < 5),
            )
        )
    return rows


def main(argv=None):
    args = parse_args(__doc__, argv)
    th, rep = args.threads, args.repeats
    s = 0.05 if args.quick else 1.0
    # (n, G, R for madsim exact, madsim samples, numpy suffstats, numpy samples): the slower
    # runs get fewer replicas; throughput is per replica-generation either way
    sizes = [
        (100, 20, int(20000 * s) or 50, int(4000 * s) or 50, int(4000 * s) or 50, int(2000 * s) or 20),
        (10_000, 5, int(20000 * s) or 50, int(100 * s) or 5, int(4000 * s) or 50, int(40 * s) or 4),
    ]
    rows = []
    for n, G, r_ex, r_sm, r_ns, r_np in sizes:
        entry = {"d": D, "q": Q, "n": n, "G": G, "threads": th}
        for name, R, fn in (
            ("madsim_exact", r_ex, madsim_run(n, r_ex, G, "exact", th)),
            ("madsim_samples", r_sm, madsim_run(n, r_sm, G, "samples", th)),
            ("numpy_suffstats", r_ns, numpy_suffstats(n, r_ns, G)),
            ("numpy_samples", r_np, numpy_samples(n, r_np, G)),
        ):
            t, trace = timed_with_result(fn, rep)
            t["R"] = R
            t["rg_per_s"] = R * G / t["min_s"]
            t["z_trace"], t["expected_trace"] = _z(trace, n, G)
            t["mean_trace"] = float(trace.mean())
            entry[name] = t
        rows.append(entry)

    print(
        f"PPCA d={D} q={Q}, replace loop, {th} threads (replica-generations per second, min of "
        f"{rep}; z: E tr C_G against theory)"
    )
    print(
        f"{'n':>6} {'G':>3} | {'exact':>9} {'samples':>9} | {'np suffst':>9} {'np samples':>10} | "
        f"{'exact/np suffst':>15} {'samples/np samples':>18} | z: ex, sm, np, np"
    )
    for e in rows:
        r = {
            k: e[k]["rg_per_s"]
            for k in ("madsim_exact", "madsim_samples", "numpy_suffstats", "numpy_samples")
        }
        zs = ", ".join(f"{e[k]['z_trace']:.1f}" for k in r)
        print(
            f"{e['n']:>6} {e['G']:>3} | {r['madsim_exact']:>9.3g} {r['madsim_samples']:>9.3g} | "
            f"{r['numpy_suffstats']:>9.3g} {r['numpy_samples']:>10.3g} | "
            f"{r['madsim_exact'] / r['numpy_suffstats']:>15.1f} "
            f"{r['madsim_samples'] / r['numpy_samples']:>18.1f} | {zs}"
        )
    write_results(
        "ppca",
        args,
        None,
        rows,
        family={"dim": D, "factors": Q, "spectrum": list(FAM.spectrum), "noise": FAM.noise},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
