"""The ``madsim`` command line: ``madsim demo`` (a real run checked against
theory), ``madsim validate`` (Monte Carlo against every closed form of
THEORY.md) and ``madsim info`` (build and layout)."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _demo(args) -> int:
    import madsim as ms
    from madsim import theory

    n, R, G, eps = args.n, args.replicas, args.generations, args.eps
    print(f"madsim {ms.__version__} demo: 1-D Gaussian refit on its own samples (replace loop)")
    print(f"truth N(0, 1), n = {n} samples per generation, MLE, {R} replicas x {G} generations, "
          f"seed {args.seed}\n")
    checks = [t for t in (1, 10, 100, 1000, 10000) if t <= G]
    worst = 0.0
    for path in ("exact", "samples"):
        cfg = ms.Config(family=ms.Gaussian(), loop=ms.Replace(n=n), path=path)
        t0 = time.perf_counter()
        ds = ms.simulate(cfg, replicas=R, generations=G, seed=args.seed, record=checks,
                         detect=[ms.FirstPassage("var", below=eps**2, name="collapse")],
                         threads=args.threads)
        wall = time.perf_counter() - t0
        print(f"path = {path}: {wall:.2f} s, {R * G / wall:.3g} replica-generations/s")
        print(f"  {'t':>6} {'quantity':<14} {'Monte Carlo':>22} {'closed form':>12} {'z':>6}")
        for t in checks:
            var = ds["var"].sel(generation=t).values
            rows = [("E ln sigma^2", np.log(var), theory.expected_log_var(t, n))]
            # a mean of sigma^2 (or sigma) is testable only where its CV is small
            if theory.cv2_sigma(t, n) < 1.0:
                rows.insert(0, ("E sigma", np.sqrt(var), theory.expected_sigma(t, n)))
            if theory.cv2_var(t, n) < 1.0:
                rows.insert(0, ("E sigma^2", var, theory.expected_var(t, n)))
            for name, x, exact in rows:
                mean, se = x.mean(), x.std(ddof=1) / np.sqrt(x.size)
                z = (mean - exact) / se
                worst = max(worst, abs(z))
                print(f"  {t:>6} {name:<14} {mean:>12.5f} +- {se:<7.5f} {float(exact):>12.5f} {z:>6.2f}")
        T = ds["collapse"].values
        hit = T >= 0
        approx = theory.collapse_time_wald(eps, n)
        print(f"  collapse time (first sigma_t <= {eps} sigma0): reached by {hit.mean():.1%} of replicas; "
              f"mean {T[hit].mean():.2f} +- {T[hit].std(ddof=1) / np.sqrt(hit.sum()):.2f}, "
              f"median {np.median(T[hit]):.0f}; Wald-Siegmund approximation {approx:.2f}\n")
    print(f"largest |z| against exact closed forms: {worst:.2f} "
          f"({'consistent' if worst < 4.5 else 'INCONSISTENT'} with theory at the 1e-5 level)")
    return 0 if worst < 4.5 else 1


def _validate(args) -> int:
    from madsim import validate

    return validate.main(args)


def _info(args) -> int:
    import madsim as ms

    print(json.dumps({"madsim_version": ms.__version__, "rng_layout_version": ms.RNG_LAYOUT_VERSION,
                      "build_info": ms.build_info()}, indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="madsim", description="Monte Carlo of model collapse")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the replace loop on both paths and compare with theory")
    demo.add_argument("--n", type=int, default=20, help="samples per generation (default 20)")
    demo.add_argument("--replicas", type=int, default=10_000)
    demo.add_argument("--generations", type=int, default=1_000)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--eps", type=float, default=0.1, help="collapse threshold on sigma/sigma0")
    demo.add_argument("--threads", type=int, default=None)
    demo.set_defaults(func=_demo)
    val = sub.add_parser(
        "validate", help="run the oracle cases: Monte Carlo vs the closed forms of THEORY.md",
        description="Runs madsim.simulate on each oracle case and compares Monte Carlo with "
                    "madsim.theory; prints a table and exits 1 if any comparison fails at the "
                    "stated family-wise false-fail rate (Bonferroni over all comparisons).")
    val.add_argument("--quick", action="store_true", help="only the quick subset (CI; well under a minute)")
    val.add_argument("--case", action="append", metavar="NAME",
                     help="run only this case (repeatable; see --list)")
    val.add_argument("--list", action="store_true", help="list the cases and exit")
    val.add_argument("--alpha", type=float, default=1e-4,
                     help="family-wise false-fail rate of the run (default 1e-4)")
    val.add_argument("--seed-offset", type=int, default=0,
                     help="shift every case's seed (a fresh set of replicas; default 0)")
    val.add_argument("--threads", type=int, default=None)
    val.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    val.set_defaults(func=_validate)
    info = sub.add_parser("info", help="print version, RNG layout and build information")
    info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (TypeError, ValueError) as exc:
        print(f"madsim: error: {exc}", file=sys.stderr)
        return 2
