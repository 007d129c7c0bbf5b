#!/usr/bin/env python
"""Throughput of madsim's CPU backend against baselines, on this machine.

    python benchmarks/run.py            # default, about 2 minutes on 2 cores
    python benchmarks/run.py --quick    # smoke test, about 30 s

Throughput is replica-generations per second: R * G / wall seconds (best of
--repeats; the median is reported too). Everything runs in this one process
(except the memory probe), so madsim and the baselines share the machine and
its state. The physical limit is the raw Philox4x32-10 block rate of madsim's
own generator on the same threads: a replica-generation cannot be cheaper
than the blocks it consumes.

Prints a table on stdout and writes JSON to
benchmarks/results/<label>-<timestamp>.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # `import baselines` from any working directory

import baselines  # noqa: E402
import madsim  # noqa: E402
from madsim._backend import core  # noqa: E402

N_SMALL, N_LARGE, N_SAMPLES = 10, 10**6, 100

# Sizes per mode. Baselines that hold all samples get R * n small enough to
# fit in memory; throughput is per replica-generation, so sizes may differ.
SIZES = {
    "default": {
        "exact": (100_000, 200),      # (R, G): about 1-2 s per run
        "samples": (10_000, 50),
        "naive": {N_SMALL: (1000, 20), N_SAMPLES: (100, 20), N_LARGE: (1, 1)},
        "all_samples": {N_SMALL: (100_000, 20), N_SAMPLES: (10_000, 20), N_LARGE: (4, 5)},
        "suffstats": (100_000, 50),
        "jax_suffstats": (100_000, 20),  # jax.random.gamma is slow on CPU
        "philox_blocks_per_thread": 20_000_000,
        "memory": (1_000_000, 20),
    },
    "quick": {
        "exact": (100_000, 20),
        "samples": (10_000, 5),
        "naive": {N_SMALL: (200, 10), N_SAMPLES: (20, 10), N_LARGE: (1, 1)},
        "all_samples": {N_SMALL: (100_000, 4), N_SAMPLES: (10_000, 4), N_LARGE: (2, 2)},
        "suffstats": (100_000, 10),
        "jax_suffstats": (100_000, 4),
        "philox_blocks_per_thread": 5_000_000,
        "memory": (1_000_000, 2),
    },
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)  # progress on stderr keeps stdout to the table


def timed(fn, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"times_s": times, "min_s": min(times), "median_s": statistics.median(times)}


def with_throughput(entry: dict, R: int, G: int) -> dict:
    entry.update(R=R, G=G, throughput=R * G / entry["min_s"],
                 throughput_median=R * G / entry["median_s"])
    return entry


def maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def peak_rss_fresh() -> int:
    """Peak RSS of this process image. Linux's ru_maxrss survives exec, so a
    child started from this (large) process would report the parent's peak;
    VmHWM belongs to the new image. Falls back to getrusage elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return maxrss_bytes()


def si(x: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def ratio(r: float) -> str:
    return f"{r:.3g}".replace("e+0", "e").replace("e+", "e")  # 2.51e+05 -> 2.51e5


def loadavg() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def cpu_busy(seconds: float = 1.0) -> float | None:
    """Fraction of all CPUs busy over `seconds` (from /proc/stat), measured
    before the benchmark starts: others' work skews every timing. The load
    average lags by minutes, so it is recorded but not used for this."""
    def ticks():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle
    try:
        total0, idle0 = ticks()
        time.sleep(seconds)
        total1, idle1 = ticks()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


# ---------------------------------------------------------------- measurements


def philox_rate(threads: int, blocks_per_thread: int, repeats: int) -> dict:
    times = [core.philox_seconds(blocks_per_thread, threads) for _ in range(repeats)]
    entry = {"threads": threads, "blocks_per_thread": blocks_per_thread, "times_s": times,
             "min_s": min(times), "median_s": statistics.median(times)}
    entry["blocks_per_s"] = blocks_per_thread * threads / entry["min_s"]
    return entry


def exact_blocks_per_generation(n: int) -> float:
    """Philox blocks one exact-path generation consumes, measured: the
    chi-square's Marsaglia-Tsang tries (one block each, the first also gives
    the mean's normal), plus the boost block when (n-1)/2 < 1."""
    alpha = (n - 1) / 2
    _, _, tries = madsim.rng.gamma(alpha, seed=1, replicas=np.arange(100_000, dtype=np.uint32))
    return float(np.mean(tries)) + (1.0 if alpha < 1 else 0.0)


def madsim_case(path: str, n: int, R: int, G: int, threads: int, repeats: int) -> dict:
    cfg = madsim.Config(family=madsim.Gaussian(), loop=madsim.Replace(n=n), path=path)
    run = lambda: madsim.simulate(cfg, replicas=R, generations=G, seed=1, record=[G],  # noqa: E731
                                  threads=threads, progress=False)
    entry = with_throughput(timed(run, repeats), R, G)
    blocks = exact_blocks_per_generation(n) if path == "exact" else float(math.ceil(n / 2))
    entry.update(path=path, n=n, threads=threads, blocks_per_replica_generation=blocks)
    return entry


def memory_probe(R: int, G: int, threads: int) -> dict:
    """Runs one exact case in a fresh process (peak RSS is a high-water mark,
    so the baselines' big arrays here would hide it); bytes per replica is
    the rise of the peak over the same process after a tiny warm-up run."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(R), str(G), str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    probe["bytes_per_replica"] = (probe["peak_rss_after"] - probe["peak_rss_before"]) / R
    return probe


def memory_child(R: int, G: int, threads: int) -> None:
    cfg = madsim.Config(loop=madsim.Replace(n=N_SMALL))
    madsim.simulate(cfg, replicas=1000, generations=2, record=[2], threads=threads, progress=False)
    before = peak_rss_fresh()
    t0 = time.perf_counter()
    madsim.simulate(cfg, replicas=R, generations=G, seed=1, record=[G], threads=threads, progress=False)
    seconds = time.perf_counter() - t0
    print(json.dumps({"R": R, "G": G, "threads": threads, "seconds": seconds,
                      "peak_rss_before": before, "peak_rss_after": peak_rss_fresh()}))


def run_baselines(sizes: dict, repeats: int, use_jax: bool) -> tuple[dict, str | None]:
    """Baselines keyed by name, then by n."""
    out = {"naive_python": {}, "numpy_samples": {}, "numpy_suffstats": {},
           "jax_suffstats": {}, "jax_samples": {}}
    for n in (N_SMALL, N_SAMPLES, N_LARGE):
        R, G = sizes["naive"][n]
        log(f"  naive python  n={n}")
        out["naive_python"][n] = with_throughput(
            timed(lambda: baselines.naive_python(n, R, G), repeats), R, G)
        R, G = sizes["all_samples"][n]
        log(f"  numpy samples n={n}")
        out["numpy_samples"][n] = with_throughput(
            timed(lambda: baselines.numpy_samples(n, R, G), repeats), R, G)
        R, G = sizes["suffstats"]
        log(f"  numpy suffstats n={n}")
        out["numpy_suffstats"][n] = with_throughput(
            timed(lambda: baselines.numpy_suffstats(n, R, G), repeats), R, G)

    jax_skipped = "--no-jax" if not use_jax else baselines.jax_available()
    if jax_skipped is None:
        for n in (N_SMALL, N_SAMPLES, N_LARGE):
            for kind, (R, G) in (("suffstats", sizes["jax_suffstats"]),
                                 ("samples", sizes["all_samples"][n])):
                log(f"  jax {kind} n={n}")
                run, compile_s = baselines.jax_program(kind, n, R, G)
                entry = with_throughput(timed(run, repeats), R, G)
                entry["compile_s"] = compile_s
                out[f"jax_{kind}"][n] = entry
    else:
        log(f"  jax skipped: {jax_skipped}")
    return out, jax_skipped


# ---------------------------------------------------------------- reporting


def machine_info() -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import jax
        jax_version = jax.__version__
    except Exception:
        jax_version = None
    try:  # which source was measured; None outside a git checkout
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "-C", str(HERE), "status", "--porcelain"],
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        commit, dirty = None, None
    return {
        "hostname": platform.node(), "platform": platform.platform(), "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model, "python": platform.python_version(), "numpy": np.__version__,
        "jax": jax_version, "madsim": madsim.__version__, "build_info": madsim.build_info(),
        "git_commit": commit, "git_dirty": dirty,
    }


BASELINE_LABELS = {
    "naive_python": "naive Python",
    "numpy_samples": "numpy all samples",
    "numpy_suffstats": "numpy suff. stats",
    "jax_samples": "JAX jit all samples",
    "jax_suffstats": "JAX jit suff. stats",
}


def print_report(info, params, philox, cases, base, scaling, memory, peak_rss, busy):
    print(f"madsim {info['madsim']} benchmark | {info['cpu_model']} | {info['cpu_count']} cpus | "
          f"python {info['python']} numpy {info['numpy']} jax {info['jax']} | "
          f"repeats {params['repeats']} ({params['mode']})")
    print("throughput = replica-generations/s from the best of the repeats; times min/median in s")
    if busy is not None:
        warn = " (others were using the CPUs: timings are pessimistic)" if busy > 0.1 else ""
        print(f"CPUs busy before the start: {busy:.0%}{warn}")

    print("\nPhilox4x32-10 raw block rate (the physical limit)")
    for t, p in philox.items():
        print(f"  {t} thread(s): {si(p['blocks_per_s'])} blocks/s  "
              f"({p['min_s']:.3f}/{p['median_s']:.3f} s for {si(p['blocks_per_thread'])} blocks/thread)")

    print("\nBaselines (float64; numpy is single-threaded, XLA uses its own CPU threads)")
    print(f"  {'baseline':<22}{'n':>8}{'R':>9}{'G':>6}{'min s':>9}{'median s':>10}"
          f"{'rg/s':>10}{'compile s':>11}")
    for name, by_n in base.items():
        for n, b in sorted(by_n.items()):
            comp = f"{b['compile_s']:.2f}" if "compile_s" in b else ""
            print(f"  {BASELINE_LABELS[name]:<22}{n:>8}{b['R']:>9}{b['G']:>6}{b['min_s']:>9.3f}"
                  f"{b['median_s']:>10.3f}{si(b['throughput']):>10}{comp:>11}")

    print("\nmadsim (backend cpu)")
    print(f"  {'case':<26}{'R':>9}{'G':>6}{'thr':>5}{'min s':>9}{'median s':>10}{'rg/s':>10}"
          f"{'blocks/rg':>11}{'of Philox':>11}")
    for c in cases:
        print(f"  {c['label']:<26}{c['R']:>9}{c['G']:>6}{c['threads']:>5}{c['min_s']:>9.3f}"
              f"{c['median_s']:>10.3f}{si(c['throughput']):>10}"
              f"{c['blocks_per_replica_generation']:>11.4g}{c['philox_fraction']:>10.1%}")
    print("  of Philox = rg/s * blocks/rg / Philox blocks/s on the same threads")

    print("\nSpeedup of madsim over each baseline at the same n (madsim rg/s / baseline rg/s)")
    names = [k for k in BASELINE_LABELS if base.get(k)]
    print(f"  {'case':<26}" + "".join(f"{BASELINE_LABELS[k]:>21}" for k in names))
    for c in cases:
        cells = []
        for k in names:
            r = c["speedup_vs"].get(k)
            cells.append(f"{ratio(r):>20}x" if r is not None else f"{'-':>21}")
        print(f"  {c['label']:<26}" + "".join(cells))

    print("\nThread scaling")
    if scaling:
        print(f"  exact n={N_SMALL}: {scaling['threads']} threads vs 1: {scaling['speedup']:.2f}x; "
              f"Philox alone: {scaling['philox_speedup']:.2f}x")
    else:
        print("  skipped (--threads 1)")

    print("\nMemory")
    print(f"  peak RSS of this process after all runs: {peak_rss / 2**20:.0f} MiB")
    print(f"  exact n={N_SMALL}, R={memory['R']}, G={memory['G']} in a fresh process: peak RSS "
          f"{memory['peak_rss_before'] / 2**20:.0f} -> {memory['peak_rss_after'] / 2**20:.0f} MiB, "
          f"about {memory['bytes_per_replica']:.0f} bytes per replica")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 repeat: a ~30 s smoke test")
    ap.add_argument("--repeats", type=int, default=None, help="timings per case (default 3, quick 1)")
    ap.add_argument("--threads", type=int, default=None, help="threads for 'all cores' (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/...)")
    ap.add_argument("--label", default=None, help="name in the JSON file name (default: hostname)")
    ap.add_argument("--no-jax", action="store_true", help="skip the JAX baselines")
    ap.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)  # internal
    args = ap.parse_args(argv)

    if args.memory_child:
        memory_child(*args.memory_child)
        return 0

    mode = "quick" if args.quick else "default"
    sizes = SIZES[mode]
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        ap.error("--repeats must be >= 1")
    all_threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                   else os.cpu_count() or 1)
    if all_threads < 1:
        ap.error("--threads must be >= 1")
    params = {"mode": mode, "repeats": repeats, "threads": all_threads, "jax": not args.no_jax,
              "sizes": sizes, "seed": 1}
    t_start = time.perf_counter()
    busy_start = cpu_busy()
    load_start = loadavg()

    log("Philox block rate")
    thread_counts = sorted({1, all_threads})
    philox = {t: philox_rate(t, sizes["philox_blocks_per_thread"], repeats) for t in thread_counts}

    log("madsim")
    R, G = sizes["exact"]
    plan = [("exact", N_SMALL, R, G, all_threads), ("exact", N_LARGE, R, G, all_threads)]
    if all_threads > 1:
        plan.append(("exact", N_SMALL, R, G, 1))
    plan.append(("samples", N_SAMPLES, *sizes["samples"], all_threads))
    cases = []
    for path, n, R, G, threads in plan:
        label = f"{path} n={n}" + (" (1 thread)" if threads == 1 and all_threads > 1 else "")
        log(f"  {label}")
        c = madsim_case(path, n, R, G, threads, repeats)
        c["label"] = label
        cases.append(c)

    log("baselines")
    base, jax_skipped = run_baselines(sizes, repeats, use_jax=not args.no_jax)

    # Derived numbers: fraction of the Philox limit and speedups over baselines.
    for c in cases:
        limit = philox[c["threads"]]["blocks_per_s"]
        c["philox_blocks_per_s"] = limit
        c["philox_fraction"] = c["throughput"] * c["blocks_per_replica_generation"] / limit
        c["replica_generations_per_philox_block"] = c["throughput"] / limit
        c["speedup_vs"] = {name: c["throughput"] / by_n[c["n"]]["throughput"]
                           for name, by_n in base.items() if c["n"] in by_n}

    scaling = None
    if all_threads > 1:
        one = next(c for c in cases if c["path"] == "exact" and c["n"] == N_SMALL and c["threads"] == 1)
        many = next(c for c in cases if c["path"] == "exact" and c["n"] == N_SMALL and c["threads"] > 1)
        scaling = {"threads": all_threads, "speedup": many["throughput"] / one["throughput"],
                   "philox_speedup": philox[all_threads]["blocks_per_s"] / philox[1]["blocks_per_s"]}

    log("memory probe")
    memory = memory_probe(*sizes["memory"], all_threads)
    peak_rss = maxrss_bytes()

    info = machine_info()
    load_end = loadavg()
    print_report(info, params, philox, cases, base, scaling, memory, peak_rss, busy_start)

    result = {
        "machine": info, "params": params, "philox": {str(t): p for t, p in philox.items()},
        "madsim": cases,
        "baselines": {name: {str(n): b for n, b in by_n.items()} for name, by_n in base.items()},
        "jax_skipped": jax_skipped, "thread_scaling": scaling,
        "memory": {"peak_rss_bytes": peak_rss, "probe": memory},
        "total_seconds": time.perf_counter() - t_start,
        "cpu_busy_before_start": busy_start,
        "loadavg_1_5_15min": {"start": load_start, "end": load_end},
        "notes": {
            "throughput": "replica-generations per second, R*G / best wall time",
            "philox_fraction": "throughput * blocks_per_replica_generation / Philox blocks per second "
                               "on the same thread count",
            "baseline_rngs": "numpy default_rng (PCG64), jax.random default (threefry), "
                             "Python random (MT19937)",
            "baseline_threads": "naive Python and numpy: 1 thread; JAX: XLA CPU defaults",
        },
    }
    if args.out is not None:
        out = args.out
    else:
        label = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in (args.label or platform.node() or "host"))
        out = HERE / "results" / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"\nJSON: {out}")
    log(f"done in {result['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
