#!/usr/bin/env python
"""A sweep benchmark: the He-Xu-Cheng weight figure as one madsim.sweep.

    python benchmarks/sweep.py            # 30 weights x 10 ratios, 2000 replicas, 200 generations
    python benchmarks/sweep.py --quick    # 6 x 3, 200 replicas, 50 generations (smoke test)

The figure (He, Xu, Cheng, JRSS-B, arXiv 2502.18049; docs/theory/real-data.md): each
generation fits n = 20 fresh real points and m = ratio * n synthetic ones,
unbiased, as w * (real-part fit) + (1 - w) * (synthetic-part fit); the curve
is E (mu_T - mu0)^2 against w, one per ratio. Their reproduction of one such
figure costs ~15 CPU-hours (multiprocessing.Pool(10) appending CSV chunks).

The same sweep runs four ways, each compared bit for bit with the first:
  serial, 1 thread     the figure's CPU time
  serial, T threads    one task at a time, its replicas over T threads
  threads, T workers   T tasks at a time (the default scheduler)
  Dask, T workers      a LocalCluster of T single-threaded worker processes,
                       started first (its start-up is reported apart)
T = --workers (default 2). Wall time and CPU time (this process's; for Dask
the client's plus the workers'). Law check: the Monte Carlo E (mu_T - mu0)^2 against
madsim.theory.expected_mean_sq, |z| below the Bonferroni bound for a
family-wise false-fail rate of 1e-3 (exit 1 otherwise), at every point where
a mean of 2000 replicas is testable: the variance follows a Kesten recursion
sigma_t^2 = A sigma_{t-1}^2 + w s_real^2, A = (1 - w) chi^2_k / k (k = m - 1,
unbiased), whose stationary law has a power tail; the test needs E A^4 < 1
(a finite fourth moment of (mu - mu0)^2, so its standard error is
consistent). Small w with few synthetic points fails that (w = 0: the
unanchored random walk, E (mu_T - mu0)^2 = T/m carried by rare replicas).
Per ratio, the weight with the smallest Monte Carlo mean against the grid's
theory argmin and HXC's w*.

Prints a table and writes JSON to benchmarks/results/sweep-<label>-<timestamp>.json.
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

import numpy as np
from scipy import stats

import madsim as ms
from madsim import atomic, theory
from madsim.sweeps import tasks as sweep_tasks

HERE = Path(__file__).resolve().parent
PEER_CPU_HOURS = 15.0  # the peer's cost of one such figure (issue 10)
N_REAL = 20
ALPHA = 1e-3  # family-wise false-fail rate of the law check


def sizes(quick: bool) -> dict:
    if quick:
        return dict(weights=np.linspace(0.0, 1.0, 6), ratios=[0.5, 1.0, 4.0], R=200, G=50)
    return dict(
        weights=np.linspace(0.0, 1.0, 30),
        ratios=[0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0],
        R=2000,
        G=200,
    )


def sweep_args(sz: dict) -> tuple:
    base = ms.Config(loop=ms.Fresh(real=N_REAL, synthetic=N_REAL), weight=0.5, estimator="unbiased")
    grid = {
        "weight": [float(w) for w in sz["weights"]],
        "ratio": {"loop.synthetic": [int(round(N_REAL * r)) for r in sz["ratios"]]},
    }
    run = dict(
        replicas=sz["R"],
        generations=sz["G"],
        seed=2025,
        record=[0, sz["G"]],
        metrics=["mean_sq", "var"],
        progress=False,
    )
    return base, grid, run


def timed(label, fn, log):
    """The result, wall seconds and this process's CPU seconds."""
    log(f"  {label} ...")
    t0, c0 = time.perf_counter(), time.process_time()
    ds = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    log(f"  {label}: {wall:.2f} s wall, {cpu:.2f} s CPU here")
    return ds, wall, cpu


def testable(w: float, m: int) -> bool:
    """E A^4 < 1 for A = (1 - w) chi^2_k / k, k = m - 1 (see the docstring)."""
    k = m - 1
    return (1 - w) ** 4 * (k + 2) * (k + 4) * (k + 6) / k**3 < 1


def law_check(ds, sz) -> dict:
    """MC E (mu_T - mu0)^2 against theory at every point, and the argmins."""
    G = sz["G"]
    x = ds["mean_sq"].sel(generation=G)
    mean, se = x.mean("replica").values, (x.std("replica", ddof=1) / np.sqrt(x.sizes["replica"])).values
    exact = np.empty_like(mean)
    for i, w in enumerate(ds["weight"].values):
        for j, m in enumerate(ds["loop.synthetic"].values):
            cfg = ms.Config(
                loop=ms.Fresh(real=N_REAL, synthetic=int(m)), weight=float(w), estimator="unbiased"
            )
            exact[i, j] = theory.expected_mean_sq(cfg, G)
    ok = np.array(
        [[testable(float(w), int(m)) for m in ds["loop.synthetic"].values] for w in ds["weight"].values]
    )
    z = ((mean - exact) / se)[ok]
    bound = float(stats.norm.isf(ALPHA / (2 * z.size)))
    per_ratio = []
    for j, m in enumerate(ds["loop.synthetic"].values):
        per_ratio.append(
            {
                "synthetic": int(m),
                "ratio": int(m) / N_REAL,
                "w_star": theory.optimal_weight(N_REAL, int(m)),
                "w_argmin_theory": float(ds["weight"].values[np.argmin(exact[:, j])]),
                "w_argmin_mc": float(ds["weight"].values[np.argmin(mean[:, j])]),
                "mse_at_argmin_mc": float(mean[np.argmin(mean[:, j]), j]),
            }
        )
    return {
        "max_abs_z": float(np.max(np.abs(z))),
        "bound": bound,
        "comparisons": int(z.size),
        "untestable": int(ok.size - z.size),
        "passed": bool(np.max(np.abs(z)) < bound),
        "per_ratio": per_ratio,
    }


def machine() -> dict:
    try:
        commit = (
            subprocess.run(
                ["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True
            ).stdout.strip()
            or None
        )
    except OSError:
        commit = None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": list(os.getloadavg()),
        "python": platform.python_version(),
        "madsim": ms.__version__,
        "build_info": ms.build_info(),
        "git_commit": commit,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 6 x 3 grid, small runs (smoke test)")
    ap.add_argument("--workers", type=int, default=2, help="threads / Dask workers (default 2)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/...)")
    ap.add_argument("--label", default=None, help="name in the JSON file name (default: hostname)")
    args = ap.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    sz = sizes(args.quick)
    base, grid, run = sweep_args(sz)
    T = args.workers
    points = len(grid["weight"]) * len(grid["ratio"]["loop.synthetic"])
    work = points * sz["R"] * sz["G"]
    log(
        f"sweep benchmark: {len(grid['weight'])} weights x {len(sz['ratios'])} ratios = {points} "
        f"points, {sz['R']} replicas x {sz['G']} generations ({work:.3g} replica-generations)"
    )

    ms.sweep(base, {"weight": [0.5]}, replicas=10, generations=2, progress=False)  # first-call costs
    rows = []
    ref, wall, cpu = timed(
        "serial, 1 thread", lambda: ms.sweep(base, grid, scheduler="serial", threads=1, **run), log
    )
    rows.append({"case": "serial, 1 thread", "wall_s": wall, "cpu_s": cpu, "startup_s": 0.0})
    cases = [
        (f"serial, {T} threads", dict(scheduler="serial", threads=T)),
        (f"threads, {T} workers", dict(scheduler="threads", workers=T)),
    ]
    results = []
    for label, kw in cases:
        ds, wall, cpu = timed(label, lambda: ms.sweep(base, grid, **kw, **run), log)
        rows.append({"case": label, "wall_s": wall, "cpu_s": cpu, "startup_s": 0.0})
        results.append(ds)
    t0 = time.perf_counter()
    client, close = sweep_tasks.dask_client(None, T)  # the LocalCluster sweep(scheduler="dask") starts
    startup = time.perf_counter() - t0
    try:
        before = client.run(time.process_time)  # the workers' CPU seconds, per worker
        ds, wall, cpu = timed(
            f"Dask LocalCluster, {T} workers",
            lambda: ms.sweep(base, grid, scheduler="dask", address=client, **run),
            log,
        )
        after = client.run(time.process_time)
    finally:
        close()
    workers_cpu = sum(after[w] - before[w] for w in before)
    rows.append(
        {
            "case": f"Dask LocalCluster, {T} workers",
            "wall_s": wall,
            "cpu_s": cpu + workers_cpu,
            "client_cpu_s": cpu,
            "startup_s": startup,
        }
    )
    results.append(ds)
    for row, ds in zip(rows[1:], results):
        row["identical_to_serial"] = all(
            np.array_equal(ref[v].values, ds[v].values, equal_nan=True) for v in ("mean_sq", "var")
        )
    rows[0]["identical_to_serial"] = True
    for row in rows:
        row["replica_generations_per_s"] = work / row["wall_s"]
        row["peer_speedup"] = PEER_CPU_HOURS * 3600 / (row["wall_s"] + row["startup_s"])
    law = law_check(ref, sz)

    print(
        f"\nmadsim {ms.__version__} sweep benchmark: He-Xu-Cheng weight figure, {len(grid['weight'])} "
        f"weights x {len(sz['ratios'])} ratios, {sz['R']} replicas x {sz['G']} generations, "
        f"{rows[0]['case']} first; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"  {'case':<32}{'wall s':>9}{'CPU s':>9}{'start-up s':>12}{'rg/s':>10}"
        f"{'vs peer 15 CPU-h':>18}{'same bits':>11}"
    )
    for r in rows:
        print(
            f"  {r['case']:<32}{r['wall_s']:>9.2f}{r['cpu_s']:>9.2f}{r['startup_s']:>12.2f}"
            f"{r['replica_generations_per_s']:>10.3g}{r['peer_speedup']:>17.0f}x"
            f"{'yes' if r['identical_to_serial'] else 'NO':>11}"
        )
    print(f"  (vs peer: 15 CPU-hours over this case's wall time, start-up included)")
    print(
        f"\n  law: E (mu_T - mu0)^2 at T = {sz['G']} vs theory at {law['comparisons']} points "
        f"({law['untestable']} heavy-tailed points skipped): max |z| = {law['max_abs_z']:.2f} "
        f"(Bonferroni bound {law['bound']:.2f}) {'ok' if law['passed'] else 'FAIL'}"
    )
    print(f"  {'m/n':>6}{'w* (HXC)':>10}{'argmin theory':>15}{'argmin MC':>11}")
    for p in law["per_ratio"]:
        print(
            f"  {p['ratio']:>6.2f}{p['w_star']:>10.3f}{p['w_argmin_theory']:>15.3f}{p['w_argmin_mc']:>11.3f}"
        )

    out = args.out
    if out is None:
        label = "".join(
            ch if ch.isalnum() or ch in "-_." else "_" for ch in (args.label or platform.node() or "host")
        )
        out = HERE / "results" / f"sweep-{label}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "sweep",
        "quick": args.quick,
        "grid": {k: list(map(float, v)) if k == "weight" else v for k, v in grid.items()},
        "replicas": sz["R"],
        "generations": sz["G"],
        "points": points,
        "replica_generations": work,
        "peer_cpu_hours": PEER_CPU_HOURS,
        "rows": rows,
        "law": law,
        "machine": machine(),
    }
    atomic.write_text(out, json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {out}")
    ok = law["passed"] and all(r["identical_to_serial"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
