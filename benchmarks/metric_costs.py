"""What each recorded variable costs: per family, the run time with the lean
default set (``metrics=None``), then with the default plus one variable, and
with ``metrics="all"``, recording every generation (metrics are computed only
on recorded generations, and a detector's metric on every one).

    python benchmarks/metric_costs.py            # the table in docs/guide/metrics.md
    python benchmarks/metric_costs.py --quick    # a smoke run

Reported: microseconds per replica-record over the default run (the cost of
computing and storing that variable) and the bytes per replica-record it adds.
"""

from __future__ import annotations

import madsim as ms
from madsim.kernels import kernel_for

from common import parse_args, timed, write_results

FAMILIES = {
    "Gaussian 1-D (Gaussian1D kernel)": ms.Config(loop=ms.Replace(n=100)),
    "Gaussian 1-D, Fresh (GaussianLoop)": ms.Config(loop=ms.Fresh(real=50, synthetic=50)),
    "Gaussian d = 5": ms.Config(family=ms.Gaussian(dim=5), loop=ms.Replace(n=100)),
    "PPCA d = 10, q = 2": ms.Config(family=ms.PPCA(dim=10, factors=2), loop=ms.Replace(n=100)),
    "GMM k = 2, d = 1": ms.Config(family=ms.GaussianMixture(), loop=ms.Replace(n=100)),
    "Regression d = 5": ms.Config(family=ms.Regression(dim=5), loop=ms.Replace(n=100)),
    "Categorical K = 1000": ms.Config(family=ms.Categorical(tokens=1000, zipf=1.0), loop=ms.Replace(n=1000)),
    "Bigram K = 20": ms.Config(family=ms.Bigram(tokens=20, length=50), loop=ms.Replace(n=20)),
}


def main(argv=None) -> None:
    args = parse_args(__doc__, argv)
    R, G = (200, 5) if args.quick else (2000, 50)
    cases = []
    for label, cfg in FAMILIES.items():
        kern = kernel_for(cfg, G, R)
        default = list(kern.default_variables)

        def run(metrics):
            return ms.simulate(
                cfg,
                replicas=R,
                generations=G,
                seed=1,
                record=ms.every(1),
                threads=args.threads,
                progress=False,
                metrics=metrics,
            )

        base = timed(lambda: run(None), args.repeats)["min_s"]
        base_bytes = run(None).nbytes
        rows = []
        for name in ["all"] + [v for v in kern.variables if v not in default]:
            t = timed(lambda: run(default + [name] if name != "all" else "all"), args.repeats)["min_s"]
            ds = run(default + [name] if name != "all" else "all")
            rows.append(
                {
                    "variable": name,
                    "seconds": t,
                    "us_per_replica_record": 1e6 * (t - base) / (R * (G + 1)),
                    "bytes_per_replica_record": (ds.nbytes - base_bytes) / (R * (G + 1)),
                }
            )
        cases.append(
            {
                "family": label,
                "replicas": R,
                "generations": G,
                "default": default,
                "default_seconds": base,
                "default_us_per_replica_record": 1e6 * base / (R * (G + 1)),
                "default_bytes_per_replica_record": base_bytes / (R * (G + 1)),
                "extra": rows,
            }
        )
        print(
            f"\n{label}: default {', '.join(default)}: {1e6 * base / (R * (G + 1)):.2f} us and "
            f"{base_bytes / (R * (G + 1)):.0f} B per replica-record"
        )
        for r in rows:
            print(
                f"  + {r['variable']:<20} {r['us_per_replica_record']:+9.2f} us "
                f"{r['bytes_per_replica_record']:+8.0f} B"
            )
    write_results("metric_costs", args, None, cases)


if __name__ == "__main__":
    main()
