#!/usr/bin/env python
"""Throughput of madsim's CUDA backend on this machine's GPU.

    python benchmarks/gpu.py            # R up to 1e7, a few minutes on an H100
    python benchmarks/gpu.py --quick    # smoke run, seconds
    python benchmarks/gpu.py --target   # also the issue's target run: 1e6 replicas x 1e6
                                        # generations of the 1-D exact path (timed, in chunks)

Throughput is replica-generations per second (R * G / wall seconds of one
advance call, best of --repeats, host<->device copies of the state included;
no records, so it measures the kernel). The limit is the device's own raw
Philox4x32-10 block rate (core.philox_seconds_cuda: one thread per counter
stream, no memory traffic): a replica-generation cannot cost less than the
blocks it consumes (exact path ~1.02 blocks, samples path n/2, categorical
exact path ~support). The issue's target: >= 0.5 x that rate on the exact
path. Each case is also run on the CPU kernel (--cpu-threads, default 2: the
CI machine's cores) at a smaller R for the speed-up.

Law check: the 1-D exact case's E ln sigma_G^2 over the replicas against
madsim.theory (z-score; |z| >= 5 prints FAIL and exits 1).

Needs a CUDA build of madsim and a visible device; without one it says which
is missing on stderr and exits 2 (nothing is written). Writes JSON to
benchmarks/results/<label>-<timestamp>.json, label "h100"/"h200"/... from the
device name (or --label), unless --quick.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

import madsim as ms  # noqa: E402
from madsim import atomic, theory  # noqa: E402
from madsim._backend import core, cuda_unavailable_reason  # noqa: E402
from madsim.kernels import kernel_for  # noqa: E402


def advance_seconds(kern, R, G, seed, threads, repeats):
    """Best and median wall seconds of one advance call over generations 1..G."""
    ids = np.arange(R, dtype=np.uint32)
    rec = np.zeros(0, dtype=np.uint32)
    cols = np.zeros(0, dtype=np.int32)
    det = np.zeros((0, 3))
    times = []
    state = None
    for _ in range(repeats):
        state = np.tile(kern.initial_state, (R, 1))
        records = np.empty((R, 0, 0))
        first = np.zeros((R, 0), dtype=np.int64)
        t0 = time.perf_counter()
        kern.advance(kern.params, state, ids, seed, 0, G, rec, 0, records, det, first, threads, cols)
        times.append(time.perf_counter() - t0)
    return {"min_s": min(times), "median_s": float(np.median(times)), "repeats": repeats}, state


def case(name, cfg, R, G, blocks_per_rg, philox_rate, args, R_cpu):
    gpu_k = kernel_for(cfg, G, R, backend="cuda")
    advance_seconds(gpu_k, min(R, 1024), 2, 1, 1, 1)  # warm-up (context, module load)
    t, state = advance_seconds(gpu_k, R, G, 1, 1, args.repeats)
    t["rg_per_s"] = R * G / t["min_s"]
    t["blocks_per_rg"] = blocks_per_rg
    t["fraction_of_philox"] = t["rg_per_s"] * blocks_per_rg / philox_rate
    cpu_k = kernel_for(cfg, G, R_cpu, backend="cpu")
    tc, _ = advance_seconds(cpu_k, R_cpu, G, 1, args.cpu_threads, 1)
    tc["rg_per_s"] = R_cpu * G / tc["min_s"]
    entry = {
        "case": name,
        "R": R,
        "G": G,
        "gpu": t,
        "cpu": {**tc, "R": R_cpu, "threads": args.cpu_threads},
        "speedup_vs_cpu": t["rg_per_s"] / tc["rg_per_s"],
    }
    return entry, state


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run, writes nothing")
    ap.add_argument(
        "--target", action="store_true", help="also run 1e6 replicas x 1e6 generations of the 1-D exact path"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpu-threads", type=int, default=2)
    ap.add_argument("--label", default=None, help="file name label (default: from the device name)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)

    reason = cuda_unavailable_reason()
    if reason is not None:
        print(
            f"benchmarks/gpu.py needs madsim's CUDA backend, which cannot run here: {reason}", file=sys.stderr
        )
        return 2
    rt = dict(core.cuda_runtime())
    label = args.label or next(
        (k for k in ("h200", "h100", "a100", "l40s", "l4") if k in rt.get("device_name", "").lower()), "gpu"
    )

    # The limit: raw Philox blocks per second on the device.
    threads_p = 1 << 20
    bpt = 256 if args.quick else 4096
    core.philox_seconds_cuda(8, threads_p, 256)
    philox_rate = (
        bpt * threads_p / min(core.philox_seconds_cuda(bpt, threads_p, 256) for _ in range(args.repeats))
    )

    q = args.quick
    R_big = [10**5] if q else [10**5, 10**6, 10**7]
    G_exact = 50 if q else 1000
    R_cpu = 10**4
    n = 10
    rows = []
    exact_cfg = ms.Config(loop=ms.Replace(n=n), path="exact")
    last_state = None
    for R in R_big:
        e, last_state = case(f"gaussian1d-exact n={n}", exact_cfg, R, G_exact, 1.02, philox_rate, args, R_cpu)
        rows.append(e)
    R_last = R_big[-1]
    # law check on the largest exact run: E ln sigma_G^2 against theory
    lv = np.log(last_state[:, 1])
    mc = float(lv.mean())
    want = float(theory.expected_log_var(G_exact, n))
    se = math.sqrt(float(theory.var_log_var(G_exact, n)) / R_last)
    z = (mc - want) / se
    law = {
        "case": f"gaussian1d-exact n={n}",
        "R": R_last,
        "G": G_exact,
        "E_ln_var_mc": mc,
        "E_ln_var_theory": want,
        "se": se,
        "z": z,
        "ok": abs(z) < 5,
    }

    n_s = 100
    for R in [10**5] if q else [10**5, 10**6]:
        e, _ = case(
            f"gaussian1d-samples n={n_s}",
            ms.Config(loop=ms.Replace(n=n_s), path="samples"),
            R,
            20 if q else 200,
            n_s / 2,
            philox_rate,
            args,
            R_cpu // 10,
        )
        rows.append(e)
    K, n_t = 1000, 1000
    tok = ms.Config(family=ms.Categorical(tokens=K), loop=ms.Replace(n=n_t))
    for R in [10**4] if q else [10**4, 10**5]:
        e, _ = case(
            f"categorical-exact K={K} n={n_t}", tok, R, 10 if q else 100, float(K), philox_rate, args, 200
        )
        rows.append(e)
    tok_s = ms.Config(family=ms.Categorical(tokens=K), loop=ms.Replace(n=n_t), path="samples")
    for R in [10**4] if q else [10**4, 10**5]:
        e, _ = case(
            f"categorical-samples K={K} n={n_t}", tok_s, R, 10 if q else 100, n_t / 2, philox_rate, args, 200
        )
        rows.append(e)

    target = None
    if args.target:
        R_t, G_t = 10**6, 10**6
        kern = kernel_for(exact_cfg, G_t, R_t, backend="cuda")
        ids = np.arange(R_t, dtype=np.uint32)
        state = np.tile(kern.initial_state, (R_t, 1))
        first = np.zeros((R_t, 0), dtype=np.int64)
        t0 = time.perf_counter()
        step = 50_000
        for g in range(0, G_t, step):
            kern.advance(
                kern.params,
                state,
                ids,
                3,
                g,
                min(G_t, g + step),
                np.zeros(0, np.uint32),
                0,
                np.empty((R_t, 0, 0)),
                np.zeros((0, 3)),
                first,
                1,
                np.zeros(0, np.int32),
            )
        wall = time.perf_counter() - t0
        target = {
            "R": R_t,
            "G": G_t,
            "wall_s": wall,
            "rg_per_s": R_t * G_t / wall,
            "under_60_s": wall < 60.0,
            "chunk_generations": step,
        }

    print(
        f"device: {rt.get('device_name')} (CUDA runtime {rt['runtime_version']}, driver "
        f"{rt['driver_version']}); Philox {philox_rate / 1e9:.2f}G blocks/s"
    )
    print(
        f"{'case':<34} {'R':>9} {'G':>6} | {'GPU rg/s':>10} {'% Philox':>8} | {'CPU rg/s':>10} {'x CPU':>8}"
    )
    for e in rows:
        print(
            f"{e['case']:<34} {e['R']:>9.0e} {e['G']:>6} | {e['gpu']['rg_per_s']:>10.3g} "
            f"{100 * e['gpu']['fraction_of_philox']:>7.1f}% | {e['cpu']['rg_per_s']:>10.3g} "
            f"{e['speedup_vs_cpu']:>8.1f}"
        )
    print(
        f"law: E ln var_{G_exact} = {mc:.5f} vs theory {want:.5f} (z = {z:+.2f})"
        f"{'' if law['ok'] else '  FAIL'}"
    )
    if target:
        print(
            f"target 1e6 x 1e6 exact: {target['wall_s']:.1f} s "
            f"({'under' if target['under_60_s'] else 'OVER'} 60 s)"
        )
    out = {
        "benchmark": "gpu",
        "quick": q,
        "philox_blocks_per_s": philox_rate,
        "device": rt,
        "machine": {"hostname": platform.node(), "cpu_count": os.cpu_count(), "build_info": ms.build_info()},
        "cases": rows,
        "law": law,
        "target": target,
    }
    if not q:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        atomic.write_text(path, json.dumps(out, indent=1))
        print(f"wrote {path}")
    return 0 if law["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
