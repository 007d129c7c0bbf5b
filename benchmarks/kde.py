"""Benchmark of the KDE family (a Gaussian kernel density estimate refit on
its own samples): the replace loop in 1-D with n points per generation,
Silverman's rule, against the numpy a user writes without madsim, measured
in the same run on the same machine:

- sampling: per generation, ``rng.integers`` picks (a uniform choice with
  replacement) of every replica's points plus ``rng.standard_normal`` kernel
  noise, batched over replicas [R, n], then the refit's mean, variance and
  Silverman bandwidth (scipy.stats.gaussian_kde's factor times the unbiased
  sd, in numpy);
- the nll of m held-out truth draws per replica under every replica's KDE:
  numpy log-sum-exp over [R, m, n] (scipy.special.logsumexp), recorded at
  the last generation only in both; and ``scipy.stats.gaussian_kde(...).logpdf``
  looped over replicas (the scipy a user would call).

Every timed run is checked against docs/theory/kde.md: E var_G =
a g^(G-1) (z-score printed). Throughput is replica-generations per second
(rg/s, min of repeats); the nll rows are replicas per second.

    python benchmarks/kde.py            # ~1 minute on 2 cores
    python benchmarks/kde.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import numpy as np
from common import parse_args, path_row, timed_with_result, write_results
from scipy import stats
from scipy.special import logsumexp

import madsim as ms
from madsim import theory

N, M = 100, 200  # points per generation, test points of the nll
FAM = ms.KDE(bandwidth="silverman", test_points=M)


def z_theory(var, G):
    se = var.std(ddof=1) / np.sqrt(var.size)
    return float((var.mean() - theory.kde_expected_var(FAM, N, G)) / se)


def run_madsim(R, G, threads, nll):
    cfg = ms.Config(family=FAM, loop=ms.Replace(n=N))
    metrics = ["var", "bandwidth"] + (["nll"] if nll else [])
    ds = ms.simulate(
        cfg,
        replicas=R,
        generations=G,
        seed=1,
        record=[0, G],
        metrics=metrics,
        threads=threads,
        progress=False,
        chunk=G,
    )
    return ds["var"].values[:, -1]


def silverman_sd(X):
    """scipy.stats.gaussian_kde's Silverman bandwidth in 1-D: factor * unbiased sd."""
    n = X.shape[1]
    return (n * 3.0 / 4.0) ** (-1.0 / 5.0) * X.std(axis=1, ddof=1)


def run_numpy(R, G, nll, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((R, N))  # generation 1: the truth's draws
    h = silverman_sd(X)
    rows = np.arange(R)[:, None]
    for _ in range(G - 1):
        j = rng.integers(0, N, size=(R, N))
        X = X[rows, j] + h[:, None] * rng.standard_normal((R, N))
        h = silverman_sd(X)
    if nll:
        y = rng.standard_normal((R, M))
        lg = -0.5 * ((y[:, :, None] - X[:, None, :]) / h[:, None, None]) ** 2
        ll = logsumexp(lg, axis=2) - np.log(N) - np.log(h)[:, None] - 0.5 * np.log(2 * np.pi)
        _ = -ll.mean(1)
    return X.var(axis=1)


def run_scipy_nll(R, seed=2):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((R, N)), rng.standard_normal((R, M))
    return np.array([-stats.gaussian_kde(X[r], bw_method="silverman").logpdf(y[r]).mean() for r in range(R)])


def path_rows(args) -> list[dict]:
    """benchmarks/run.py's rows (paths.py): the replace loop's sampling and the
    nll against their batched numpy forms. Goal: the issue's floor, 2x."""
    R, Rn, G = (200, 50, 5) if args.quick else (2000, 500, 10)
    t, var = timed_with_result(lambda: run_madsim(R, G, args.threads, False), args.repeats)
    tb, var_b = timed_with_result(lambda: run_numpy(R, G, False), args.repeats)
    rows = [
        path_row(
            "kde",
            f"replace samples silverman n={N}",
            "numpy choice + noise batched",
            R * G / t["min_s"],
            R * G / tb["min_s"],
            z=z_theory(var, G),
            z_baseline=z_theory(var_b, G),
            ok=bool(abs(z_theory(var, G)) < 5 and abs(z_theory(var_b, G)) < 5),
        )
    ]
    t = timed_with_result(lambda: run_madsim(Rn, 1, args.threads, True), args.repeats)[0]
    tb = timed_with_result(lambda: run_numpy(Rn, 1, True), args.repeats)[0]
    rows.append(
        path_row("kde", f"nll m={M} n={N}", "numpy log-sum-exp [R, m, n]", Rn / t["min_s"], Rn / tb["min_s"])
    )
    return rows


def main():
    args = parse_args(__doc__.splitlines()[0])
    q = args.quick
    R, G = (200, 5) if q else (4000, 20)
    Rn = 50 if q else 1000
    reps = 1 if q else args.repeats
    rows = []
    for name, fn, r, g, kind in [
        (f"madsim ({args.threads} threads)", lambda: run_madsim(R, G, args.threads, False), R, G, "sample"),
        ("madsim (1 thread)", lambda: run_madsim(R, G, 1, False), R, G, "sample"),
        (
            "numpy: choice + normal noise batched over replicas",
            lambda: run_numpy(R, G, False),
            R,
            G,
            "sample",
        ),
        (
            f"madsim nll, m = {M} ({args.threads} threads)",
            lambda: run_madsim(Rn, 1, args.threads, True),
            Rn,
            1,
            "nll",
        ),
        ("numpy log-sum-exp nll [R, m, n]", lambda: run_numpy(Rn, 1, True), Rn, 1, "nll"),
        ("scipy gaussian_kde(...).logpdf per replica", lambda: run_scipy_nll(Rn), Rn, 1, "nll"),
    ]:
        t, var = timed_with_result(fn, reps)
        z = z_theory(var, g) if kind == "sample" else None
        rows.append(
            dict(
                case=name, kind=kind, replicas=r, generations=g, rg_per_s=r * g / t["min_s"], z_theory=z, **t
            )
        )
    print(
        f"KDE replace loop, 1-D, Silverman, n = {N}; sampling {G} generations, nll with m = {M} test points"
    )
    print(f"{'case':52s} {'rg/s':>11s} {'madsim x':>9s} {'z (theory)':>10s}")
    base = {"sample": rows[0]["rg_per_s"], "nll": rows[3]["rg_per_s"]}
    for r in rows:
        z = "" if r["z_theory"] is None else f"{r['z_theory']:.2f}"
        print(f"{r['case']:52s} {r['rg_per_s']:11.4g} {base[r['kind']] / r['rg_per_s']:9.2f} {z:>10s}")
    write_results("kde", args, None, rows, n=N, test_points=M, generations=G)


if __name__ == "__main__":
    main()
