"""Benchmark of the mitigations (issue 20): madsim against the numpy a user
would write for the same recursion, measured in the same run.

  weighted   Regression, Fresh(real=n, synthetic=n), weight = 1/phi, d = 5:
             numpy draws every replica's two designs at once and solves the
             two stacked normal equations (np.linalg.solve), then mixes.
  tail       1-D Gaussian replace loop, samples path, TailWeight(beta, k):
             numpy draws [R, n] normals, weights them and takes the weighted
             mean and variance per replica.
  correct    1-D Gaussian replace loop, correction = 0.5: numpy draws
             [R, n] points, moves them along the transport map and refits.
  correct-d3 the same in d = 3 (numpy: batched Cholesky, eigh for the
             square root, the affine map and the batched scatter).

madsim runs each on both paths where it has them (tail: samples only), and
the same loop through the same kernel without the mitigation on the first
of them ("plain", plain_config), for the mitigation's own cost. (A mitigated
1-D replace loop cannot take the Gaussian1D kernel, 5-10x faster than
GaussianLoop: that is the price against the plain 1-D replace loop.)
"cost" is plain / mitigated throughput (the slowdown the mitigation causes).
Throughput is replica-generations per second (min of repeats); ratios are
what to read, absolute times drift on shared machines. Writes JSON to
benchmarks/results/mitigations-<host>-<time>.json.

    python benchmarks/mitigations.py            # ~1 minute on 2 cores
    python benchmarks/mitigations.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import math

import numpy as np

import madsim as ms
from common import parse_args, simulate_fn, timed, write_results

PHI_INV = (math.sqrt(5.0) - 1.0) / 2.0


def madsim_run(cfg, R, G, threads, metric):
    return simulate_fn(cfg, R, G, threads, [metric])


def numpy_weighted(d, n, R, G, w=PHI_INV):
    w_star = np.full(d, 1.0 / np.sqrt(d))

    def ols(rng, labels_w):
        X = rng.standard_normal((R, n, d))
        y = np.einsum("rtd,rd->rt", X, labels_w) + rng.standard_normal((R, n))
        return np.linalg.solve(X.transpose(0, 2, 1) @ X, np.einsum("rtd,rt->rd", X, y)[..., None])[..., 0]

    def run():
        rng = np.random.default_rng(1)
        wt = np.tile(w_star, (R, 1))
        for _ in range(G):
            wt = w * ols(rng, np.tile(w_star, (R, 1))) + (1.0 - w) * ols(rng, wt)
        e = wt - w_star
        return np.einsum("rd,rd->r", e, e).mean()

    return run


def numpy_tail(n, beta, k, R, G):
    def run():
        rng = np.random.default_rng(1)
        mu, sd = np.zeros(R), np.ones(R)
        for _ in range(G):
            z = rng.standard_normal((R, n))
            wt = np.where(np.abs(z) > k, 1.0 + beta, 1.0)
            x = mu[:, None] + sd[:, None] * z
            W = wt.sum(1)
            mu = (wt * x).sum(1) / W
            sd = np.sqrt((wt * (x - mu[:, None]) ** 2).sum(1) / W)
        return (sd**2).mean()

    return run


def numpy_correct(n, g, R, G):
    def run():
        rng = np.random.default_rng(1)
        mu, sd = np.zeros(R), np.ones(R)
        for _ in range(G):
            x = mu[:, None] + sd[:, None] * rng.standard_normal((R, n))
            y = (1 - g) * x + g * (0.0 + (1.0 / sd)[:, None] * (x - mu[:, None]))
            mu, sd = y.mean(1), y.std(1)
        return (sd**2).mean()

    return run


def numpy_correct_nd(d, n, g, R, G):
    def run():
        rng = np.random.default_rng(1)
        mu, cov = np.zeros((R, d)), np.tile(np.eye(d), (R, 1, 1))
        for _ in range(G):
            L = np.linalg.cholesky(cov)
            x = mu[:, None, :] + rng.standard_normal((R, n, d)) @ L.transpose(0, 2, 1)
            lam, V = np.linalg.eigh(cov)  # A = cov^-1/2 (cov^1/2 I cov^1/2)^1/2 cov^-1/2 = cov^-1/2
            A = (V / np.sqrt(lam)[:, None, :]) @ V.transpose(0, 2, 1)
            M = (1 - g) * np.eye(d) + g * A
            y = (1 - g) * mu[:, None, :] + (x - mu[:, None, :]) @ M  # + g mu0 with mu0 = 0 (M symmetric)
            mu = y.mean(1)
            dy = y - mu[:, None, :]
            cov = dy.transpose(0, 2, 1) @ dy / n
        return np.trace(cov, axis1=1, axis2=2).mean()

    return run


def plain_config(cfg, path):
    """cfg without its mitigation, on ``path``, through the same kernel: a
    Gaussian replace loop as Fresh(real=0, synthetic=n), the same law, which
    runs GaussianLoop's general step as the mitigated loop does (the plain
    Replace would take the faster Gaussian1D kernel or GaussianLoop's
    factor-product step instead); the weighted regression as the pooled fit."""
    d = {k: v for k, v in cfg.to_dict().items() if k not in ("reweight", "correction")}
    d.update(weight=None, path=path)
    if isinstance(cfg.family, ms.Gaussian):
        d["loop"] = {"type": "Fresh", "real": 0, "synthetic": cfg.loop.n}
    return ms.Config.from_dict(d)


def cases(scale):
    """(name, config, madsim paths, metric, numpy baseline, numpy R, madsim R exact, R samples, G)."""
    R = lambda r: max(4, int(r * scale))  # noqa: E731
    n, G = 20, 10
    yield (
        "weighted d=5 n=m=20",
        ms.Config(family=ms.Regression(dim=5), loop=ms.Fresh(real=n, synthetic=n), weight=PHI_INV),
        ("exact", "samples"),
        "test_error",
        numpy_weighted,
        (5, n),
        R(4000),
        R(40_000),
        R(4000),
        G,
    )
    yield (
        "tail n=20 beta=0.156 k=1.5",
        ms.Config(loop=ms.Replace(n=n), reweight=ms.TailWeight(0.156, 1.5), path="samples"),
        ("samples",),
        "var",
        numpy_tail,
        (n, 0.156, 1.5),
        R(20_000),
        None,
        R(40_000),
        G,
    )
    yield (
        "correct n=20 g=0.5",
        ms.Config(loop=ms.Replace(n=n), correction=0.5),
        ("exact", "samples"),
        "var",
        numpy_correct,
        (n, 0.5),
        R(20_000),
        R(200_000),
        R(40_000),
        G,
    )
    yield (
        "correct d=3 n=20 g=0.5",
        ms.Config(family=ms.Gaussian(dim=3), loop=ms.Replace(n=n), correction=0.5),
        ("exact", "samples"),
        "trace",
        numpy_correct_nd,
        (3, n, 0.5),
        R(5000),
        R(100_000),
        R(20_000),
        G,
    )


def main(argv=None):
    args = parse_args(__doc__, argv)
    th, rep = args.threads, args.repeats
    scale = 0.02 if args.quick else 1.0
    rows = []
    for name, cfg, paths, metric, baseline, bargs, Rn, R_exact, R_samples, G in cases(scale):
        e = {"case": name, "threads": th}
        for path in paths:
            R = R_exact if path == "exact" else R_samples
            c = cfg if cfg.path == path else ms.Config.from_dict({**cfg.to_dict(), "path": path})
            t = timed(madsim_run(c, R, G, th, metric), rep)
            t.update(R=R, G=G, rg_per_s=R * G / t["min_s"])
            e[f"madsim_{path}"] = t
        plain = plain_config(cfg, paths[0])
        R = R_exact if paths[0] == "exact" else R_samples
        t = timed(madsim_run(plain, R, G, th, metric), rep)
        t.update(R=R, G=G, rg_per_s=R * G / t["min_s"])
        e["madsim_plain"] = t
        t = timed(baseline(*bargs, Rn, G), rep)
        t.update(R=Rn, G=G, rg_per_s=Rn * G / t["min_s"])
        e["numpy"] = t
        rows.append(e)
    print(
        f"Mitigations, {th} threads: replica-generations per second (min of repeats); x = madsim path / numpy"
    )
    print(
        f"{'case':>26} | {'exact':>9} {'samples':>9} {'numpy':>9} | {'x exact':>8} {'x samples':>9} | "
        f"{'plain':>9} {'cost':>5}"
    )
    for e in rows:
        npy, plain = e["numpy"]["rg_per_s"], e["madsim_plain"]["rg_per_s"]
        ex, sa = (e[k]["rg_per_s"] if k in e else float("nan") for k in ("madsim_exact", "madsim_samples"))
        first = ex if ex == ex else sa  # the plain run's path: exact where it exists
        print(
            f"{e['case']:>26} | {ex:>9.3g} {sa:>9.3g} {npy:>9.3g} | {ex / npy:>8.1f} {sa / npy:>9.2f} | "
            f"{plain:>9.3g} {plain / first:>5.2f}"
        )
    write_results("mitigations", args, None, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
