"""``madsim demo``: a real run of the replace loop on both paths, checked
against the closed forms of madsim.theory.
"""

from __future__ import annotations

import time

import numpy as np


def command(args) -> int:
    import madsim as ms
    from madsim import theory

    n, R, G, eps = args.n, args.replicas, args.generations, args.eps
    family = type(ms.Config().family).__name__  # the default family: the registry's first
    print(f"madsim {ms.__version__} demo: 1-D {family} refit on its own samples (replace loop)")
    print(
        f"truth N(0, 1), n = {n} samples per generation, MLE, {R} replicas x {G} generations, "
        f"seed {args.seed}\n"
    )
    checks = [t for t in (1, 10, 100, 1000, 10000) if t <= G]
    worst = 0.0
    for path in ("exact", "samples"):
        cfg = ms.Config(loop=ms.Replace(n=n), path=path)
        t0 = time.perf_counter()
        ds = ms.simulate(
            cfg,
            replicas=R,
            generations=G,
            seed=args.seed,
            record=checks,
            detect=[ms.FirstPassage("var", below=eps**2, name="collapse")],
            threads=args.threads,
        )
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
        print(
            f"  collapse time (first sigma_t <= {eps} sigma0): reached by {hit.mean():.1%} of replicas; "
            f"mean {T[hit].mean():.2f} +- {T[hit].std(ddof=1) / np.sqrt(hit.sum()):.2f}, "
            f"median {np.median(T[hit]):.0f}; Wald-Siegmund approximation {approx:.2f}\n"
        )
    print(
        f"largest |z| against exact closed forms: {worst:.2f} "
        f"({'consistent' if worst < 4.5 else 'INCONSISTENT'} with theory at the 1e-5 level)"
    )
    return 0 if worst < 4.5 else 1


def add(sub) -> None:
    """Declares ``madsim demo`` and its options on the subparsers ``sub``."""
    demo = sub.add_parser("demo", help="run the replace loop on both paths and compare with theory")
    demo.add_argument("--n", type=int, default=20, help="samples per generation (default 20)")
    demo.add_argument("--replicas", type=int, default=10_000, help="replicas (default 10000)")
    demo.add_argument("--generations", type=int, default=1_000, help="generations (default 1000)")
    demo.add_argument("--seed", type=int, default=1, help="Philox seed (default 1)")
    demo.add_argument(
        "--eps", type=float, default=0.1, help="collapse threshold on sigma/sigma0 (default 0.1)"
    )
    demo.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    demo.set_defaults(func=command)
