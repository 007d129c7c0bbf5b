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

Scenarios (each with its own baselines, all float64, MLE, temperature 1):
  replace d=1    the 1-D replace loop through Gaussian1D (the fast special
                 case) and through the general GaussianLoop kernel (a list
                 schedule Replace(n=[n]*G) forces it): the cost of generality
  replace d=10   10-dim replace, exact path n=20 and samples path n=100
  fresh d=1      Fresh(real=10, synthetic=10), exact and samples paths

Law check: every timed run's final state (madsim's and each baseline's) is
compared with the closed form (E ln var, E ln det Sigma, or E var of the fresh
loop's moment recursion) and with madsim's run at the same generation count;
|z| >= 5 anywhere prints FAIL and makes the exit status 1.

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
from scipy import special

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # `import baselines` from any working directory

import baselines  # noqa: E402
import madsim  # noqa: E402
import paths  # noqa: E402
from madsim import atomic  # noqa: E402
from madsim._backend import core  # noqa: E402

N_SMALL, N_LARGE, N_SAMPLES = 10, 10**6, 100
D_HIGH, N_HIGH_EXACT, N_HIGH_SAMPLES = 10, 20, 100  # the d = 10 replace cases
FRESH_REAL, FRESH_SYN = 10, 10  # the fresh-data cases
N_FRESH = FRESH_REAL + FRESH_SYN  # their key: points per fit

SCENARIOS = {
    "replace1d": "replace d=1",
    "replace10d": f"replace d={D_HIGH}",
    "fresh1d": f"fresh d=1 ({FRESH_REAL} real + {FRESH_SYN} synthetic)",
}
Z_FAIL = 5.0  # law check: |z| at or above this fails

# Sizes per mode. Baselines that hold all samples get R * n small enough to
# fit in memory; throughput is per replica-generation, so sizes may differ.
# The d = 10 and fresh baselines run the same G as the madsim case they are
# checked against (so the law check compares them with madsim directly too).
SIZES = {
    "default": {
        "exact": (100_000, 200),  # (R, G): about 1-2 s per run
        "samples": (10_000, 50),
        "loop_exact": (100_000, 100),  # GaussianLoop on the 1-D replace cases
        "loop_samples": (10_000, 50),
        # d = 10 replace, G = 20 (kept from the first runs; since the replace fit multiplies
        # Cholesky factors instead of re-factorising L F F' L', longer runs stay full rank).
        "high_exact": (20_000, 20),
        "high_samples": (2_000, 20),
        "fresh_exact": (100_000, 50),
        "fresh_samples": (100_000, 20),
        "naive": {N_SMALL: (1000, 20), N_SAMPLES: (100, 20), N_LARGE: (1, 1)},
        "all_samples": {N_SMALL: (100_000, 20), N_SAMPLES: (10_000, 20), N_LARGE: (4, 5)},
        "suffstats": (100_000, 50),
        "jax_suffstats": (100_000, 20),  # jax.random.gamma is slow on CPU
        "jax_backend": (100_000, 50),
        "jax_backend_samples": (10_000, 10),
        "high_numpy_samples": {N_HIGH_EXACT: (5_000, 20), N_HIGH_SAMPLES: (1_000, 20)},
        "high_numpy_suffstats": (20_000, 20),
        "fresh_numpy_samples": (100_000, 20),
        "fresh_numpy_suffstats": (100_000, 50),
        "philox_blocks_per_thread": 20_000_000,
        "memory": (1_000_000, 20),
        "loops1d": (200_000, 50),  # paths.py: the d = 1 mitigation loops, madsim and numpy
    },
    "quick": {
        "exact": (100_000, 20),
        "samples": (10_000, 5),
        "loop_exact": (100_000, 10),
        "loop_samples": (10_000, 5),
        "high_exact": (10_000, 5),
        "high_samples": (1_000, 5),
        "fresh_exact": (100_000, 10),
        "fresh_samples": (100_000, 4),
        "naive": {N_SMALL: (200, 10), N_SAMPLES: (20, 10), N_LARGE: (1, 1)},
        "all_samples": {N_SMALL: (100_000, 4), N_SAMPLES: (10_000, 4), N_LARGE: (2, 2)},
        "suffstats": (100_000, 10),
        "jax_suffstats": (100_000, 4),
        "jax_backend": (10_000, 10),
        "jax_backend_samples": (1_000, 5),
        "high_numpy_samples": {N_HIGH_EXACT: (2_000, 5), N_HIGH_SAMPLES: (500, 5)},
        "high_numpy_suffstats": (10_000, 5),
        "fresh_numpy_samples": (100_000, 4),
        "fresh_numpy_suffstats": (100_000, 10),
        "philox_blocks_per_thread": 5_000_000,
        "memory": (1_000_000, 2),
        "loops1d": (20_000, 5),
    },
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)  # progress on stderr keeps stdout to the table


def timed(fn, repeats: int, keep: list | None = None) -> dict:
    """Times fn() `repeats` times; the last call's return value is appended
    to `keep` (the law check reads it), never stored in the entry."""
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    if keep is not None:
        keep.append(out)
    return {"times_s": times, "min_s": min(times), "median_s": statistics.median(times)}


def with_throughput(entry: dict, R: int, G: int) -> dict:
    entry.update(R=R, G=G, throughput=R * G / entry["min_s"], throughput_median=R * G / entry["median_s"])
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


def cpu_ticks() -> tuple[int, int, float] | None:
    """(all CPU ticks, busy ticks) from /proc/stat and this process's CPU
    seconds (itself and waited-for children), for others_busy()."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    t = os.times()
    total = sum(fields)
    return total, total - fields[3] - fields[4], t.user + t.system + t.children_user + t.children_system


def others_busy(start, end) -> float | None:
    """Fraction of all CPUs that other processes used during the run: busy
    ticks minus this process's own CPU time. Above a few percent, timings taken
    during the run are pessimistic by an unknown amount."""
    if start is None or end is None:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    total = end[0] - start[0]
    own = (end[2] - start[2]) * hz
    return max(0.0, (end[1] - start[1] - own) / total) if total > 0 else None


# ---------------------------------------------------------------- measurements


def philox_rate(threads: int, blocks_per_thread: int, repeats: int) -> dict:
    """The scalar generator (one block at a time, as the GPU and the scalar
    path use it) and the SIMD lane generator of the CPU launcher (lanes.hpp)."""
    entry = {"threads": threads, "blocks_per_thread": blocks_per_thread}
    for key, lanes in (("", False), ("lanes_", True)):
        times = [core.philox_seconds(blocks_per_thread, threads, lanes) for _ in range(repeats)]
        entry.update(
            {
                f"{key}times_s": times,
                f"{key}min_s": min(times),
                f"{key}median_s": statistics.median(times),
                f"{key}blocks_per_s": blocks_per_thread * threads / min(times),
            }
        )
    return entry


def thread_scaling(sizes: dict, threads: int, rounds: int) -> dict:
    """1 -> `threads` threads on the 1-D exact n = N_SMALL case and on Philox
    alone, the runs of each thread count interleaved over `rounds` rounds,
    best of each: on a shared VM the second core's speed drifts within
    seconds (two back-to-back 2-thread runs measured 62M and 84M rg/s), so
    timing the two thread counts minutes apart measures the drift."""
    cfg = madsim_config("replace1d", "Gaussian1D", "exact", N_SMALL, sizes["exact"][1])
    R, G = sizes["exact"]
    blocks = sizes["philox_blocks_per_thread"]
    best = {1: math.inf, threads: math.inf}
    best_philox = {1: math.inf, threads: math.inf}
    for _ in range(rounds):
        for t in (1, threads):
            t0 = time.perf_counter()
            madsim.simulate(
                cfg,
                replicas=R,
                generations=G,
                seed=1,
                record=[G],
                threads=t,
                progress=False,
                metrics=[STAT_COLUMN["replace1d"]],
            )
            best[t] = min(best[t], time.perf_counter() - t0)
            best_philox[t] = min(best_philox[t], core.philox_seconds(blocks, t, True) / t)
    return {
        "threads": threads,
        "rounds": rounds,
        "rg_per_s": {str(t): R * G / best[t] for t in best},
        "speedup": best[1] / best[threads],
        "philox_speedup": best_philox[1] / best_philox[threads],
    }


class lanes_env:
    """MADSIM_LANES for the runs inside (csrc/cpu/lanes.hpp: "off" = the
    scalar path); None leaves the default. The kernel reads it per call."""

    def __init__(self, mode: str | None):
        self.mode = mode

    def __enter__(self):
        self.saved = os.environ.get("MADSIM_LANES")
        if self.mode is not None:
            os.environ["MADSIM_LANES"] = self.mode
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            os.environ.pop("MADSIM_LANES", None)
        else:
            os.environ["MADSIM_LANES"] = self.saved


def mean_gamma_tries(alpha: float) -> float:
    """Philox blocks one Gamma(alpha) draw consumes, measured on madsim's own
    sampler: the Marsaglia-Tsang tries, plus the boost block when alpha < 1."""
    _, _, tries = madsim.rng.gamma(alpha, seed=1, replicas=np.arange(100_000, dtype=np.uint32))
    return float(np.mean(tries)) + (1.0 if alpha < 1 else 0.0)


def exact_blocks_per_generation(n: int) -> float:
    """Gaussian1D's exact path: the chi-square's tries (the first also gives
    the mean's normal)."""
    return mean_gamma_tries((n - 1) / 2)


def loop_exact_blocks(d: int, c: int) -> float:
    """GaussianLoop's exact path, one part of c points (gaussian_loop.hpp):
    the mean's d normals (two per block), Bartlett's d(d-1)/2 normals below
    the diagonal, and the d chi-squares, each on a stream of its own. At d = 1
    (RNG layout 2) the mean's normal is the spare of the chi-square's first
    try, so a part costs its chi-square's tries (one block when c = 1)."""
    if d == 1:
        return mean_gamma_tries((c - 1) / 2) if c > 1 else 1.0
    blocks = math.ceil(d / 2) + math.ceil(d * (d - 1) // 2 / 2)
    return blocks + sum(mean_gamma_tries((c - 1 - i) / 2) for i in range(d))


def blocks_per_replica_generation(scenario: str, kernel: str, path: str, n: int) -> float:
    if scenario == "fresh1d":
        if path == "exact":
            return loop_exact_blocks(1, FRESH_REAL) + loop_exact_blocks(1, FRESH_SYN)
        return float(math.ceil(FRESH_REAL / 2) + math.ceil(FRESH_SYN / 2))
    d = D_HIGH if scenario == "replace10d" else 1
    if path == "samples":
        return float(math.ceil(n * d / 2))
    if kernel == "Gaussian1D":
        return exact_blocks_per_generation(n)
    return loop_exact_blocks(d, n)


def madsim_config(scenario: str, kernel: str, path: str, n: int, G: int) -> madsim.Config:
    if scenario == "replace1d":
        # A list schedule is what sends 1-D replace to GaussianLoop (madsim.families.gaussian.uses_gaussian1d).
        loop = madsim.Replace(n=n) if kernel == "Gaussian1D" else madsim.Replace(n=[n] * G)
        return madsim.Config(family=madsim.Gaussian(), loop=loop, path=path)
    if scenario == "replace10d":
        return madsim.Config(family=madsim.Gaussian(dim=D_HIGH), loop=madsim.Replace(n=n), path=path)
    if scenario == "fresh1d":
        return madsim.Config(
            family=madsim.Gaussian(), loop=madsim.Fresh(real=FRESH_REAL, synthetic=FRESH_SYN), path=path
        )
    raise ValueError(scenario)


KERNEL_NAMES = {"Gaussian1D": "gaussian1d", "GaussianLoop": "gaussian_loop"}


def madsim_case(
    scenario: str,
    kernel: str,
    path: str,
    n: int,
    R: int,
    G: int,
    threads: int,
    repeats: int,
    lanes: str | None = None,
) -> tuple[dict, np.ndarray]:
    """Times one madsim case (MADSIM_LANES=lanes when given); returns the
    entry and the final-generation law statistic of each replica (from the
    last repeat)."""
    cfg = madsim_config(scenario, kernel, path, n, G)
    # Only the law statistic's column is recorded (the baselines compute no
    # metrics either); docs/benchmarks.md gives the cost of recording all.
    run = lambda: madsim.simulate(  # noqa: E731
        cfg,
        replicas=R,
        generations=G,
        seed=1,
        record=[G],
        threads=threads,
        progress=False,
        metrics=[STAT_COLUMN[scenario]],
    )
    keep: list = []
    with lanes_env(lanes):
        entry = with_throughput(timed(run, repeats, keep), R, G)
        entry["lanes"] = core.build_info().get("cpu_lanes", "none (older build)")
    ds = keep[-1]
    if ds.attrs["kernel"] != KERNEL_NAMES[kernel]:
        raise RuntimeError(f"{scenario} {kernel} {path} n={n} ran kernel {ds.attrs['kernel']!r}")
    entry.update(
        scenario=scenario,
        kernel=kernel,
        path=path,
        n=n,
        threads=threads,
        blocks_per_replica_generation=blocks_per_replica_generation(scenario, kernel, path, n),
    )
    return entry, madsim_stat(scenario, ds, G)


# ---------------------------------------------------------------- the law check
#
# Each scenario's statistic of the final model, per replica, and its closed
# form. MLE, temperature 1, truth N(0, I) throughout.
#   replace: ln det Sigma_{t+1} = ln det Sigma_t + ln det(W / n), W ~ Wishart_d(n-1, I)
#            independent of the past (ln var in 1-D), so after G fits
#            E = G sum_i [psi((n-1-i)/2) + ln(2/n)], Var = G sum_i psi'((n-1-i)/2).
#   fresh:   var itself; E var_t and E mu_t^2 follow a linear recursion (below).

STAT_NAMES = {"replace1d": "ln var_G", "replace10d": "ln det Sigma_G", "fresh1d": "var_G"}
STAT_COLUMN = {"replace1d": "var", "replace10d": "logdet", "fresh1d": "var"}  # what madsim_stat reads


def theory(scenario: str, n: int, G: int) -> tuple[float, float | None]:
    """(E stat, per-replica sd of stat or None when only the sample sd is known)."""
    if scenario in ("replace1d", "replace10d"):
        d = D_HIGH if scenario == "replace10d" else 1
        k = (n - 1 - np.arange(d)) / 2
        mean = G * float(np.sum(special.digamma(k) + math.log(2.0 / n)))
        sd = math.sqrt(G * float(np.sum(special.polygamma(1, k))))
        return mean, sd
    if scenario == "fresh1d":
        # Pooled MLE on m points of N(0, 1) and k of N(mu_t, v_t): with V = E v_t, M = E mu_t^2,
        #   E v_{t+1}    = [(m-1) + (k-1) V + m k/(m+k) (V/k + 1/m + M)] / (m+k)
        #   E mu_{t+1}^2 = [m + k V + k^2 M] / (m+k)^2
        m, k = float(FRESH_REAL), float(FRESH_SYN)
        N = m + k
        V, M = 1.0, 0.0
        for _ in range(G):
            V, M = (
                ((m - 1) + (k - 1) * V + m * k / N * (V / k + 1 / m + M)) / N,
                (m + k * V + k * k * M) / N**2,
            )
        return V, None
    raise ValueError(scenario)


def madsim_stat(scenario: str, ds, G: int) -> np.ndarray:
    last = ds.sel(generation=G)
    if scenario == "replace1d":
        return np.log(last["var"].values)
    if scenario == "replace10d":
        return last["logdet"].values
    return last["var"].values


def baseline_stat(scenario: str, result) -> np.ndarray:
    """The statistic from a baseline's final state: (mu, var) arrays, a list of
    (mu, var) pairs (naive Python), or (mu, L) with L lower Cholesky (d > 1)."""
    if isinstance(result, list):
        result = (np.array([r[0] for r in result]), np.array([r[1] for r in result]))
    mu, second = (np.asarray(x, dtype=np.float64) for x in result)
    if scenario == "replace1d":
        return np.log(second)
    if scenario == "replace10d":
        return 2.0 * np.sum(np.log(np.diagonal(second, axis1=1, axis2=2)), axis=1)
    return second


def summarise(stat: np.ndarray, sd_theory: float | None) -> tuple[float, float]:
    """(mean, standard error): the known per-replica sd where there is one
    (valid for R = 1), else the sample sd."""
    R = stat.size
    if sd_theory is not None:
        return float(np.mean(stat)), sd_theory / math.sqrt(R)
    if R < 2:
        return float(np.mean(stat)), float("nan")
    return float(np.mean(stat)), float(np.std(stat, ddof=1)) / math.sqrt(R)


def law_checks(cases: list, case_stats: list, base: dict, base_stats: dict) -> list:
    """One row per timed run: its mean statistic against the closed form and
    against each madsim case of the same scenario, n and G."""
    rows = []

    def zscore(diff, se):
        return diff / se if se > 0 else (0.0 if diff == 0 else float("inf"))

    def row(who, scenario, n, R, G, stat, peers):
        expect, sd = theory(scenario, n, G)
        mean, se = summarise(stat, sd)
        r = {
            "who": who,
            "scenario": scenario,
            "n": n,
            "R": R,
            "G": G,
            "stat": STAT_NAMES[scenario],
            "mean": mean,
            "se": se,
            "theory": expect,
            "z_theory": zscore(mean - expect, se),
            "vs_madsim": [],
        }
        for label, pmean, pse in peers:
            r["vs_madsim"].append(
                {"case": label, "mean": pmean, "z": zscore(mean - pmean, math.hypot(se, pse))}
            )
        zs = [r["z_theory"]] + [p["z"] for p in r["vs_madsim"]]
        r["ok"] = bool(all(math.isfinite(z) and abs(z) < Z_FAIL for z in zs))
        rows.append(r)

    summaries = []
    for c, st in zip(cases, case_stats):
        _, sd = theory(c["scenario"], c["n"], c["G"])
        summaries.append((c, *summarise(st, sd)))
    for c, st in zip(cases, case_stats):
        row(f"madsim {c['label']}", c["scenario"], c["n"], c["R"], c["G"], st, [])
    for scenario, by_name in base.items():
        for name, by_n in by_name.items():
            for n, b in by_n.items():
                peers = [
                    (c["label"], m, se)
                    for c, m, se in summaries
                    if c["scenario"] == scenario and c["n"] == n and c["G"] == b["G"]
                ]
                row(BASELINE_LABELS[name], scenario, n, b["R"], b["G"], base_stats[scenario][name][n], peers)
    return rows


def before_cases(before: Path, plan: list, repeats: int) -> list[dict]:
    """Times the plan's cases with another madsim build (an installed package
    directory, e.g. `pip install --target DIR` of an older commit) in a child
    process of this run: before/after on the same machine, minutes apart at
    most. The child runs without site (so this checkout's editable install
    cannot shadow it), the venv's site-packages after the given directory."""
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(before), *site]))
    env.pop("MADSIM_LANES", None)
    cmd = [
        sys.executable,
        "-S",
        str(Path(__file__).resolve()),
        "--before-child",
        json.dumps([p[:6] for p in plan]),
        str(repeats),
    ]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def before_child(plan_json: str, repeats: int) -> None:
    rows = []
    for scenario, kernel, path, n, (R, G), threads in json.loads(plan_json):
        entry, _ = madsim_case(scenario, kernel, path, n, R, G, threads, repeats)
        rows.append(
            {k: entry[k] for k in ("times_s", "min_s", "median_s", "throughput", "throughput_median")}
            | {"madsim_path": madsim.__file__}
        )
    print(json.dumps(rows))


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
    print(
        json.dumps(
            {
                "R": R,
                "G": G,
                "threads": threads,
                "seconds": seconds,
                "peak_rss_before": before,
                "peak_rss_after": peak_rss_fresh(),
            }
        )
    )


def run_baselines(sizes: dict, repeats: int, use_jax: bool) -> tuple[dict, dict, str | None]:
    """Baselines keyed by scenario, name, then n; and each one's law statistic."""
    out = {sc: {} for sc in SCENARIOS}
    stats = {sc: {} for sc in SCENARIOS}

    def measure(scenario, name, n, R, G, fn, what):
        log(f"  {what}")
        keep: list = []
        entry = with_throughput(timed(fn, repeats, keep), R, G)
        out[scenario].setdefault(name, {})[n] = entry
        stats[scenario].setdefault(name, {})[n] = baseline_stat(scenario, keep[-1])
        return entry

    # replace d = 1
    for n in (N_SMALL, N_SAMPLES, N_LARGE):
        R, G = sizes["naive"][n]
        measure(
            "replace1d",
            "naive_python",
            n,
            R,
            G,
            lambda: baselines.naive_python(n, R, G),
            f"naive python  n={n}",
        )
        R, G = sizes["all_samples"][n]
        measure(
            "replace1d",
            "numpy_samples",
            n,
            R,
            G,
            lambda: baselines.numpy_samples(n, R, G),
            f"numpy samples n={n}",
        )
        R, G = sizes["suffstats"]
        measure(
            "replace1d",
            "numpy_suffstats",
            n,
            R,
            G,
            lambda: baselines.numpy_suffstats(n, R, G),
            f"numpy suffstats n={n}",
        )

    jax_skipped = "--no-jax" if not use_jax else baselines.jax_available()
    if jax_skipped is None:
        for n in (N_SMALL, N_SAMPLES, N_LARGE):
            for kind, (R, G) in (("suffstats", sizes["jax_suffstats"]), ("samples", sizes["all_samples"][n])):
                log(f"  jax {kind} n={n}")
                run, compile_s = baselines.jax_program(kind, n, R, G)
                keep: list = []
                entry = with_throughput(timed(run, repeats, keep), R, G)
                entry["compile_s"] = compile_s
                out["replace1d"].setdefault(f"jax_{kind}", {})[n] = entry
                stats["replace1d"].setdefault(f"jax_{kind}", {})[n] = baseline_stat("replace1d", keep[-1])
        # madsim's own JAX backend (the reference twin, simulate(backend="jax")):
        # the kernel/JAX ratio of issue 4. The first call compiles; timed apart.
        for path, n, (R, G) in (
            ("exact", N_SMALL, sizes["jax_backend"]),
            ("samples", N_SAMPLES, sizes["jax_backend_samples"]),
        ):
            log(f"  madsim backend='jax' {path} n={n}")
            cfg = madsim.Config(loop=madsim.Replace(n=n), path=path)

            def run_backend(cfg=cfg, R=R, G=G):
                ds = madsim.simulate(
                    cfg,
                    replicas=R,
                    generations=G,
                    seed=1,
                    record=[G],
                    threads=1,
                    progress=False,
                    backend="jax",
                )
                return ds["mean"].values[:, 0], ds["var"].values[:, 0]

            t0 = time.perf_counter()
            run_backend()
            first = time.perf_counter() - t0
            keep = []
            entry = with_throughput(timed(run_backend, repeats, keep), R, G)
            entry["compile_s"] = max(0.0, first - entry["min_s"])
            out["replace1d"].setdefault(f"madsim_jax_{path}", {})[n] = entry
            stats["replace1d"].setdefault(f"madsim_jax_{path}", {})[n] = baseline_stat("replace1d", keep[-1])
    else:
        log(f"  jax skipped: {jax_skipped}")

    # replace d = 10
    for n in (N_HIGH_EXACT, N_HIGH_SAMPLES):
        R, G = sizes["high_numpy_samples"][n]
        measure(
            "replace10d",
            "numpy_samples",
            n,
            R,
            G,
            lambda: baselines.numpy_samples_nd(D_HIGH, n, R, G),
            f"numpy samples d={D_HIGH} n={n}",
        )
    R, G = sizes["high_numpy_suffstats"]
    measure(
        "replace10d",
        "numpy_suffstats",
        N_HIGH_EXACT,
        R,
        G,
        lambda: baselines.numpy_suffstats_nd(D_HIGH, N_HIGH_EXACT, R, G),
        f"numpy suffstats d={D_HIGH} n={N_HIGH_EXACT}",
    )

    # fresh d = 1
    R, G = sizes["fresh_numpy_samples"]
    measure(
        "fresh1d",
        "numpy_samples",
        N_FRESH,
        R,
        G,
        lambda: baselines.numpy_fresh_samples(FRESH_REAL, FRESH_SYN, R, G),
        "numpy samples fresh",
    )
    R, G = sizes["fresh_numpy_suffstats"]
    measure(
        "fresh1d",
        "numpy_suffstats",
        N_FRESH,
        R,
        G,
        lambda: baselines.numpy_fresh_suffstats(FRESH_REAL, FRESH_SYN, R, G),
        "numpy suffstats fresh",
    )
    return out, stats, jax_skipped


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
        commit = (
            subprocess.run(
                ["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True
            ).stdout.strip()
            or None
        )
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(HERE), "status", "--porcelain"], capture_output=True, text=True
            ).stdout.strip()
        )
    except OSError:
        commit, dirty = None, None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": jax_version,
        "madsim": madsim.__version__,
        "build_info": madsim.build_info(),
        "madsim_path": str(Path(madsim.__file__).parent),
        "madsim_core": core.__file__,
        "git_commit": commit,
        "git_dirty": dirty,
    }


BASELINE_LABELS = {
    "naive_python": "naive Python",
    "numpy_samples": "numpy all samples",
    "numpy_suffstats": "numpy suff. stats",
    "jax_samples": "JAX jit all samples",
    "jax_suffstats": "JAX jit suff. stats",
    "madsim_jax_exact": "madsim backend=jax",
    "madsim_jax_samples": "madsim backend=jax",
}


def n_label(scenario: str, n: int) -> str:
    return f"{FRESH_REAL}+{FRESH_SYN}" if scenario == "fresh1d" else str(n)


def target_rows(cases, base, scaling) -> list[dict]:
    """The issue's targets (speed issue, ratios on this machine, same run):
    one row each with the measured value and whether it is met."""
    threads = max(c["threads"] for c in cases)  # the targets are on all threads (--threads)

    def case(path, n):
        return next(
            (
                c
                for c in cases
                if c["kernel"] == "Gaussian1D"
                and c["scenario"] == "replace1d"
                and c["path"] == path
                and c["n"] == n
                and c["lanes"] != "off"
                and c["threads"] == threads
            ),
            None,
        )

    rows = []

    def add(what, value, goal, unit="x"):
        if value is not None:
            rows.append(
                {"target": what, "value": value, "goal": goal, "unit": unit, "met": bool(value >= goal)}
            )

    ex, ex_large, sam = case("exact", N_SMALL), case("exact", N_LARGE), case("samples", N_SAMPLES)
    if ex:
        add(
            f"1-D exact n={N_SMALL}: fraction of the scalar Philox block rate", ex["philox_fraction"], 0.5, ""
        )
        add(f"1-D exact n={N_SMALL}: vs numpy suff. stats", ex["speedup_vs"].get("numpy_suffstats"), 4)
        add(f"1-D exact n={N_SMALL}: vs JAX jit suff. stats", ex["speedup_vs"].get("jax_suffstats"), 30)
    if ex and ex_large:
        add(
            f"1-D exact: n={N_SMALL} and n={N_LARGE} within 10% (min/max of the two)",
            min(ex["throughput"], ex_large["throughput"]) / max(ex["throughput"], ex_large["throughput"]),
            0.9,
            "",
        )
    if sam:
        add(f"1-D samples n={N_SAMPLES}: vs numpy all samples", sam["speedup_vs"].get("numpy_samples"), 5)
    for c in cases:
        if c["scenario"] == "replace10d" and c["path"] == "exact":
            ref = base["replace10d"].get("numpy_samples", {}).get(c["n"])
            if ref:
                add(
                    f"d={D_HIGH} exact n={c['n']}: vs numpy samples path",
                    c["throughput"] / ref["throughput"],
                    10,
                )
    if scaling:
        add(f"threads 1 -> {scaling['threads']} (1-D exact n={N_SMALL})", scaling["speedup"], 1.8)
    return rows


def print_report(
    info,
    params,
    philox,
    cases,
    base,
    checks,
    scaling,
    memory,
    peak_rss,
    busy,
    busy_others=None,
    issue_targets=(),
):
    print(
        f"madsim {info['madsim']} benchmark | {info['cpu_model']} | {info['cpu_count']} cpus | "
        f"python {info['python']} numpy {info['numpy']} jax {info['jax']} | "
        f"repeats {params['repeats']} ({params['mode']})"
    )
    print("throughput = replica-generations/s (rg/s) from the best of the repeats; times min/median in s")
    if busy is not None:
        warn = " (others were using the CPUs: timings are pessimistic)" if busy > 0.1 else ""
        print(f"CPUs busy before the start: {busy:.0%}{warn}")
    if busy_others is not None:
        warn = " (timings are pessimistic: rerun on a quiet machine)" if busy_others > 0.05 else ""
        print(f"CPUs used by other processes during the run: {busy_others:.0%}{warn}")

    print(
        "\nPhilox4x32-10 raw block rate (the physical limit): scalar, and the SIMD lanes of the CPU launcher"
    )
    for t, p in philox.items():
        print(
            f"  {t} thread(s): scalar {si(p['blocks_per_s'])} blocks/s "
            f"({p['min_s']:.3f}/{p['median_s']:.3f} s), lanes {si(p['lanes_blocks_per_s'])} blocks/s "
            f"({p['lanes_min_s']:.3f}/{p['lanes_median_s']:.3f} s) for "
            f"{si(p['blocks_per_thread'])} blocks/thread"
        )

    print("\nBaselines (float64; numpy is single-threaded, XLA uses its own CPU threads)")
    print(
        f"  {'scenario':<13}{'baseline':<22}{'n':>8}{'R':>9}{'G':>6}{'min s':>9}{'median s':>10}"
        f"{'rg/s':>10}{'med rg/s':>10}{'compile s':>11}"
    )
    for scenario, by_name in base.items():
        for name, by_n in by_name.items():
            for n, b in sorted(by_n.items()):
                comp = f"{b['compile_s']:.2f}" if "compile_s" in b else ""
                print(
                    f"  {SCENARIOS[scenario].split(' (')[0]:<13}{BASELINE_LABELS[name]:<22}"
                    f"{n_label(scenario, n):>8}{b['R']:>9}{b['G']:>6}{b['min_s']:>9.3f}"
                    f"{b['median_s']:>10.3f}{si(b['throughput']):>10}"
                    f"{si(b['throughput_median']):>10}{comp:>11}"
                )

    print("\nmadsim (backend cpu)")
    print(
        f"  {'case':<56}{'R':>9}{'G':>6}{'thr':>5}{'min s':>9}{'median s':>10}{'rg/s':>10}"
        f"{'med rg/s':>10}{'blocks/rg':>11}{'of Philox':>11}{'of lanes':>10}"
    )
    for c in cases:
        print(
            f"  {c['label']:<56}{c['R']:>9}{c['G']:>6}{c['threads']:>5}{c['min_s']:>9.3f}"
            f"{c['median_s']:>10.3f}{si(c['throughput']):>10}{si(c['throughput_median']):>10}"
            f"{c['blocks_per_replica_generation']:>11.4g}{c['philox_fraction']:>10.1%}"
            f"{c['philox_lanes_fraction']:>10.1%}"
        )
    print(
        "  of Philox / of lanes = rg/s * blocks/rg / (scalar / SIMD lane) Philox blocks/s on the same threads"
    )

    print(
        "\nSpeedup of madsim over each baseline of the same scenario and n "
        "(madsim rg/s / baseline rg/s; min-time / median-time)"
    )
    names = [k for k in BASELINE_LABELS if any(base[sc].get(k) for sc in base)]
    print(f"  {'case':<47}" + "".join(f"{BASELINE_LABELS[k]:>21}" for k in names))
    for c in cases:
        cells = []
        for k in names:
            r, rm = c["speedup_vs"].get(k), c["speedup_vs_median"].get(k)
            cells.append(f"{ratio(r) + 'x / ' + ratio(rm) + 'x':>21}" if r is not None else f"{'-':>21}")
        print(f"  {c['label']:<47}" + "".join(cells))

    gen = [
        (c, g)
        for c in cases
        if c["kernel"] == "Gaussian1D" and c["scenario"] == "replace1d" and c["threads"] == params["threads"]
        for g in cases
        if g["kernel"] == "GaussianLoop"
        and g["scenario"] == "replace1d"
        and g["path"] == c["path"]
        and g["n"] == c["n"]
        and g["threads"] == c["threads"]
    ]
    if gen:
        print("\nCost of generality: the 1-D replace loop through GaussianLoop vs Gaussian1D")
        for c, g in gen:
            print(
                f"  {c['path']} n={c['n']}: Gaussian1D {si(c['throughput'])} rg/s, GaussianLoop "
                f"{si(g['throughput'])} rg/s: Gaussian1D is {c['throughput'] / g['throughput']:.2f}x "
                f"faster ({c['blocks_per_replica_generation']:.3g} vs "
                f"{g['blocks_per_replica_generation']:.3g} blocks/rg)"
            )

    targets = [
        (c, base["replace10d"].get("numpy_samples", {}).get(c["n"]))
        for c in cases
        if c["scenario"] == "replace10d" and c["path"] == "exact"
    ]
    if any(ref for _, ref in targets):
        print(f"\nTarget (issue): d={D_HIGH} exact >= 10x the vectorised numpy samples path at the same n")
        for tgt, ref in targets:
            if not ref:
                continue
            r = tgt["throughput"] / ref["throughput"]
            line = f"  n={tgt['n']}: {r:.3g}x -> {'met' if r >= 10 else 'NOT met'}"
            suff = base["replace10d"].get("numpy_suffstats", {}).get(tgt["n"])
            if suff:
                line += (
                    f"; vs numpy on sufficient statistics (Bartlett): "
                    f"{tgt['throughput'] / suff['throughput']:.3g}x"
                )
            print(line)

    print(
        f"\nLaw check: the final generation's statistic, mean +- standard error, against the "
        f"closed form and madsim (same scenario, n, G); FAIL at |z| >= {Z_FAIL:g}"
    )
    print(
        f"  {'run':<54}{'stat':<15}{'n':>8}{'R':>8}{'G':>5}{'mean':>12}{'se':>9}{'theory':>12}"
        f"{'z':>7}  vs madsim z"
    )
    for r in checks:
        vs = ", ".join(f"{p['z']:+.2f}" for p in r["vs_madsim"]) or "-"
        who = (
            r["who"]
            if r["who"].startswith("madsim")
            else f"{SCENARIOS[r['scenario']].split(' (')[0]}: {r['who']}"
        )
        print(
            f"  {who:<54}{r['stat']:<15}{n_label(r['scenario'], r['n']):>8}{r['R']:>8}{r['G']:>5}"
            f"{r['mean']:>12.5g}{r['se']:>9.2g}{r['theory']:>12.5g}{r['z_theory']:>+7.2f}  {vs}"
            f"{'' if r['ok'] else '   FAIL'}"
        )
    bad = [r for r in checks if not r["ok"]]
    print(
        f"  {'all ' + str(len(checks)) + ' runs agree with the law' if not bad else str(len(bad)) + ' FAILED'}"
    )

    print("\nThread scaling")
    if scaling:
        print(
            f"  exact n={N_SMALL}: {scaling['threads']} threads vs 1: {scaling['speedup']:.2f}x; "
            f"Philox lanes alone: {scaling['philox_speedup']:.2f}x (best of {scaling['rounds']} "
            "interleaved rounds each)"
        )
    else:
        print("  skipped (--threads 1)")

    before = [c for c in cases if "before" in c]
    if before:
        print(
            f"\nBefore/after: the same cases with the build in {params['before']} (child process, same run)"
        )
        print(f"  {'case':<56}{'before rg/s':>12}{'after rg/s':>12}{'speedup':>9}{'(median)':>10}")
        for c in before:
            b = c["before"]
            print(
                f"  {c['label']:<56}{si(b['throughput']):>12}{si(c['throughput']):>12}"
                f"{c['throughput'] / b['throughput']:>8.2f}x{c['throughput_median'] / b['throughput_median']:>9.2f}x"
            )

    if issue_targets:
        print("\nTargets of the speed issue (measured in this run)")
        for r in issue_targets:
            print(
                f"  {r['target']:<66}{r['value']:>9.3g}{r['unit']:<2} goal >= {r['goal']:g}{r['unit']}: "
                f"{'met' if r['met'] else 'NOT met'}"
            )

    print("\nMemory")
    print(f"  peak RSS of this process after all runs: {peak_rss / 2**20:.0f} MiB")
    print(
        f"  exact n={N_SMALL}, R={memory['R']}, G={memory['G']} in a fresh process: peak RSS "
        f"{memory['peak_rss_before'] / 2**20:.0f} -> {memory['peak_rss_after'] / 2**20:.0f} MiB, "
        f"about {memory['bytes_per_replica']:.0f} bytes per replica"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 repeat: a ~30 s smoke test")
    ap.add_argument("--repeats", type=int, default=None, help="timings per case (default 3, quick 1)")
    ap.add_argument("--threads", type=int, default=None, help="threads for 'all cores' (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/...)")
    ap.add_argument("--label", default=None, help="name in the JSON file name (default: hostname)")
    ap.add_argument("--no-jax", action="store_true", help="skip the JAX baselines")
    ap.add_argument(
        "--no-paths",
        action="store_true",
        help="skip the d=1 loops and the GMM / PPCA / bigram / regression rows (paths.py)",
    )
    ap.add_argument(
        "--before",
        type=Path,
        default=None,
        help="a madsim build (package directory) to time the same cases with, in this run",
    )
    ap.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)  # internal
    ap.add_argument("--before-child", nargs=2, help=argparse.SUPPRESS)  # internal
    args = ap.parse_args(argv)

    if args.memory_child:
        memory_child(*args.memory_child)
        return 0
    if args.before_child:
        before_child(args.before_child[0], int(args.before_child[1]))
        return 0

    mode = "quick" if args.quick else "default"
    sizes = SIZES[mode]
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        ap.error("--repeats must be >= 1")
    all_threads = args.threads or (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    if all_threads < 1:
        ap.error("--threads must be >= 1")
    params = {
        "mode": mode,
        "repeats": repeats,
        "threads": all_threads,
        "jax": not args.no_jax,
        "sizes": sizes,
        "seed": 1,
        "before": str(args.before) if args.before else None,
    }
    t_start = time.perf_counter()
    busy_start = cpu_busy()
    load_start = loadavg()
    ticks_start = cpu_ticks()

    log("Philox block rate")
    thread_counts = sorted({1, all_threads})
    philox = {t: philox_rate(t, sizes["philox_blocks_per_thread"], repeats) for t in thread_counts}

    log("madsim")
    plan = []  # (scenario, kernel, path, n, (R, G), threads[, MADSIM_LANES])
    for n in (N_SMALL, N_LARGE):
        plan.append(("replace1d", "Gaussian1D", "exact", n, sizes["exact"], all_threads))
    if all_threads > 1:
        plan.append(("replace1d", "Gaussian1D", "exact", N_SMALL, sizes["exact"], 1))
    plan.append(("replace1d", "Gaussian1D", "samples", N_SAMPLES, sizes["samples"], all_threads))
    # The scalar path (no SIMD lanes) in the same run: what the lanes buy.
    plan.append(("replace1d", "Gaussian1D", "exact", N_SMALL, sizes["exact"], all_threads, "off"))
    plan.append(("replace1d", "Gaussian1D", "samples", N_SAMPLES, sizes["samples"], all_threads, "off"))
    for n in (N_SMALL, N_LARGE):
        plan.append(("replace1d", "GaussianLoop", "exact", n, sizes["loop_exact"], all_threads))
    plan.append(("replace1d", "GaussianLoop", "samples", N_SAMPLES, sizes["loop_samples"], all_threads))
    plan.append(("replace10d", "GaussianLoop", "exact", N_HIGH_EXACT, sizes["high_exact"], all_threads))
    # The exact path at the samples case's n: its cost does not grow with n, the baseline's does.
    plan.append(("replace10d", "GaussianLoop", "exact", N_HIGH_SAMPLES, sizes["high_exact"], all_threads))
    plan.append(("replace10d", "GaussianLoop", "samples", N_HIGH_SAMPLES, sizes["high_samples"], all_threads))
    plan.append(("fresh1d", "GaussianLoop", "exact", N_FRESH, sizes["fresh_exact"], all_threads))
    plan.append(("fresh1d", "GaussianLoop", "samples", N_FRESH, sizes["fresh_samples"], all_threads))
    # Round-robin: one repeat of every case per round, so a drift of the shared
    # machine's speed during the run (minutes long) lands on every case alike
    # instead of setting one case's best time.
    cases, case_stats = [None] * len(plan), [None] * len(plan)
    for rnd in range(repeats):
        for k, (scenario, kernel, path, n, (R, G), threads, *lanes) in enumerate(plan):
            lanes = lanes[0] if lanes else None
            d = D_HIGH if scenario == "replace10d" else 1
            label = (
                f"d={d} {'fresh' if scenario == 'fresh1d' else 'replace'} {path} "
                f"n={n_label(scenario, n)} [{kernel}]"
                + (" (1 thr)" if threads == 1 and all_threads > 1 else "")
                + (f" (lanes {lanes})" if lanes else "")
            )
            log(f"  round {rnd + 1}/{repeats}: {label}")
            c, st = madsim_case(scenario, kernel, path, n, R, G, threads, 1, lanes)
            if cases[k] is not None:
                times = cases[k]["times_s"] + c["times_s"]
                c.update(times_s=times, min_s=min(times), median_s=statistics.median(times))
                with_throughput(c, R, G)
            c["label"] = label
            c["plan"] = [scenario, kernel, path, n, [R, G], threads]
            cases[k], case_stats[k] = c, st

    if args.before is not None:
        log(f"the same cases with the build in {args.before}")
        timed_plan = [p for p in plan if len(p) == 6]  # default lanes only
        for p, b in zip(timed_plan, before_cases(args.before, timed_plan, repeats)):
            c = next(c for c in cases if c["plan"] == json.loads(json.dumps(p[:6])) and c["lanes"] != "off")
            c["before"] = b

    log("baselines")
    base, base_stats, jax_skipped = run_baselines(sizes, repeats, use_jax=not args.no_jax)

    # Derived numbers: fraction of the Philox limit and speedups over baselines.
    for c in cases:
        limit = philox[c["threads"]]["blocks_per_s"]
        c["philox_blocks_per_s"] = limit
        c["philox_fraction"] = c["throughput"] * c["blocks_per_replica_generation"] / limit
        c["philox_lanes_blocks_per_s"] = philox[c["threads"]]["lanes_blocks_per_s"]
        c["philox_lanes_fraction"] = (
            c["throughput"] * c["blocks_per_replica_generation"] / c["philox_lanes_blocks_per_s"]
        )
        c["replica_generations_per_philox_block"] = c["throughput"] / limit
        by_name = base[c["scenario"]]
        c["speedup_vs"] = {
            name: c["throughput"] / by_n[c["n"]]["throughput"]
            for name, by_n in by_name.items()
            if c["n"] in by_n
        }
        c["speedup_vs_median"] = {
            name: c["throughput_median"] / by_n[c["n"]]["throughput_median"]
            for name, by_n in by_name.items()
            if c["n"] in by_n
        }

    checks = law_checks(cases, case_stats, base, base_stats)

    path_rows = []
    if not args.no_paths:
        log("every kernel path against its numpy baseline (paths.py)")
        path_rows = paths.loop_rows(*sizes["loops1d"], all_threads, repeats, log=log)
        path_rows += paths.family_rows(args.quick, all_threads, repeats, log=log)

    scaling = None
    if all_threads > 1:
        log("thread scaling (interleaved)")
        scaling = thread_scaling(sizes, all_threads, rounds=max(3, 2 * repeats))

    log("memory probe")
    memory = memory_probe(*sizes["memory"], all_threads)
    peak_rss = maxrss_bytes()

    info = machine_info()
    load_end = loadavg()
    busy_others = others_busy(ticks_start, cpu_ticks())
    targets = target_rows(cases, base, scaling)
    targets += [
        {
            "target": f"{r['family']} {r['path']}: vs {r['baseline']}",
            "value": r["ratio"],
            "goal": r["goal"],
            "unit": "x",
            "met": r["met"],
        }
        for r in path_rows
    ]
    print_report(
        info, params, philox, cases, base, checks, scaling, memory, peak_rss, busy_start, busy_others, targets
    )
    if path_rows:
        paths.print_rows(path_rows)

    result = {
        "machine": info,
        "params": params,
        "philox": {str(t): p for t, p in philox.items()},
        "madsim": cases,
        "baselines": {
            sc: {name: {str(n): b for n, b in by_n.items()} for name, by_n in by_name.items()}
            for sc, by_name in base.items()
        },
        "scenarios": SCENARIOS,
        "law_checks": checks,
        "targets": targets,
        "law_checks_ok": all(r["ok"] for r in checks) and all(r.get("ok", True) for r in path_rows),
        "paths": path_rows,
        "jax_skipped": jax_skipped,
        "thread_scaling": scaling,
        "memory": {"peak_rss_bytes": peak_rss, "probe": memory},
        "total_seconds": time.perf_counter() - t_start,
        "cpu_busy_before_start": busy_start,
        "cpu_busy_others_during_run": busy_others,
        "loadavg_1_5_15min": {"start": load_start, "end": load_end},
        "notes": {
            "throughput": "replica-generations per second, R*G / best wall time",
            "philox_fraction": "throughput * blocks_per_replica_generation / Philox blocks per second "
            "on the same thread count",
            "baseline_rngs": "numpy default_rng (PCG64), jax.random default (threefry), "
            "Python random (MT19937)",
            "baseline_threads": "naive Python and numpy: 1 thread; JAX: XLA CPU defaults",
            "schema": "2: madsim cases carry scenario and kernel; baselines are keyed "
            "scenario -> name -> n (fresh1d: n = real + synthetic); law_checks "
            "compare each run's final statistic with the closed form and madsim",
            "speedup_vs_median": "the same ratio from median times",
        },
    }
    if args.out is not None:
        out = args.out
    else:
        label = "".join(
            ch if ch.isalnum() or ch in "-_." else "_" for ch in (args.label or platform.node() or "host")
        )
        out = HERE / "results" / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out, json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"\nJSON: {out}")
    log(f"done in {result['total_seconds']:.0f} s")
    if not result["law_checks_ok"]:
        log("law check FAILED: a baseline or madsim run does not match the closed form (see table)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
