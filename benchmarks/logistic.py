"""Benchmark of the logistic family: maximum-likelihood refits (Newton's
method) on rows labelled by the previous fit, replace and accumulate loops,
fresh design, d = 2 and 10 features, n = 200 to 1000 rows per generation
(n >= 40 d: at d = 10, n = 100 the replace loop's walk drifts outward
until the labels separate, and the baseline's batched solve would fail);
madsim (samples path, row by row, O(n d^2) per Newton step) against the
numpy a user would write, measured in the same run: every replica's rows at
once (X [R, n, d]; accumulate: the pool [R, t n, d]), labels by comparing
uniforms with the sigmoid, and Newton steps batched over replicas
(np.linalg.solve on the stacked Hessians) until every replica's largest step
is below 1e-10 (1 + max |w|), at most 50 steps. The baseline does no step
halving and no separation check (none happens at these sizes), so it does
less work per step than madsim.

Throughput is replica-generations per second (min of repeats); ratios are
what to read, absolute times drift on shared machines. Prints a table and
writes JSON to benchmarks/results/logistic-<host>-<time>.json.

    python benchmarks/logistic.py            # ~1-2 minutes on 2 cores
    python benchmarks/logistic.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import numpy as np
from scipy import special

import madsim as ms
from common import parse_args, path_row, simulate_fn, timed, write_results

TOL, MAX_ITER = 1e-10, 50


def config(d, n, loop):
    lp = ms.Replace(n=n) if loop == "replace" else ms.Accumulate(synthetic=n)
    return ms.Config(family=ms.Logistic(dim=d), loop=lp)


def madsim_run(d, n, loop, R, G, threads):
    cfg = config(d, n, loop)
    return simulate_fn(cfg, R, G, threads, ["fisher_error"])


def newton(X, y, w):
    """Newton's method batched over replicas: X [R, N, d], y [R, N], w [R, d]."""
    for _ in range(MAX_ITER):
        p = special.expit(np.einsum("rnd,rd->rn", X, w))
        g = np.einsum("rnd,rn->rd", X, y - p)
        H = np.einsum("rnd,rn,rne->rde", X, p * (1.0 - p), X)
        step = np.linalg.solve(H, g[..., None])[..., 0]
        w = w + step
        if np.all(np.abs(step).max(axis=1) <= TOL * (1.0 + np.abs(w).max(axis=1))):
            break
    return w


def numpy_run(d, n, loop, R, G):
    w_star = np.full(d, 1.0 / np.sqrt(d))

    def run():
        rng = np.random.default_rng(1)
        w = np.tile(w_star, (R, 1))
        for g in range(G):
            X = rng.standard_normal((R, n, d))
            y = (rng.random((R, n)) < special.expit(np.einsum("rnd,rd->rn", X, w))).astype(np.float64)
            if loop == "accumulate":
                Xp = X if g == 0 else np.concatenate([Xp, X], axis=1)
                yp = y if g == 0 else np.concatenate([yp, y], axis=1)
                w = newton(Xp, yp, w)
            else:
                w = newton(X, y, w)
        e = w - w_star
        return np.einsum("rd,rd->r", e, e).mean()

    return run


# (d, n): (R, G) of madsim and of numpy (throughput is per replica-generation)
SIZES = {
    (2, 200): ((2000, 10), (2000, 10)),
    (2, 1000): ((800, 10), (800, 10)),
    (10, 400): ((400, 10), (400, 10)),
    (10, 1000): ((200, 5), (200, 5)),
}


def path_rows(args) -> list[dict]:
    """benchmarks/run.py's rows (paths.py): the Newton refit at d = 2 and 10,
    replace, against numpy's Newton batched over replicas. Goal: the issue's
    floor, 2x."""
    rows = []
    for d, n in ((2, 200), (10, 400)):
        R = 100 if args.quick else 800
        t = timed(madsim_run(d, n, "replace", R, 5, args.threads), args.repeats)
        tb = timed(numpy_run(d, n, "replace", R, 5), args.repeats)
        rows.append(
            path_row(
                "logistic",
                f"replace d={d} n={n}",
                "numpy batched Newton",
                R * 5 / t["min_s"],
                R * 5 / tb["min_s"],
            )
        )
    return rows


def main(argv=None):
    args = parse_args(__doc__, argv)
    th, rep = args.threads, args.repeats
    scale = 0.02 if args.quick else 1.0
    rows = []
    for (d, n), sizes in SIZES.items():
        (Rm, Gm), (Rn, Gn) = ((max(2, int(R * scale)), G) for R, G in sizes)
        for loop in ("replace", "accumulate"):
            e = {"d": d, "n": n, "loop": loop, "threads": th}
            t = timed(madsim_run(d, n, loop, Rm, Gm, th), rep)
            t.update(R=Rm, G=Gm, rg_per_s=Rm * Gm / t["min_s"])
            e["madsim"] = t
            t = timed(numpy_run(d, n, loop, Rn, Gn), rep)
            t.update(R=Rn, G=Gn, rg_per_s=Rn * Gn / t["min_s"])
            e["numpy"] = t
            rows.append(e)

    print(
        f"Logistic (Newton MLE, fresh design), {th} threads: replica-generations per second "
        "(min of repeats); x = madsim / numpy batched"
    )
    print(f"{'d':>3} {'n':>6} {'loop':>10} | {'madsim':>9} {'numpy':>9} | {'x':>6}")
    for e in rows:
        m, npy = e["madsim"]["rg_per_s"], e["numpy"]["rg_per_s"]
        print(f"{e['d']:>3} {e['n']:>6} {e['loop']:>10} | {m:>9.3g} {npy:>9.3g} | {m / npy:>6.2f}")
    write_results("logistic", args, None, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
