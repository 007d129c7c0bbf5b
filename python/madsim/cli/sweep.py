"""``madsim sweep``: the parameter grid a TOML file describes, resumable
through its task store, saved as one Dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from madsim import atomic

from .run import save


def command(args) -> int:
    import madsim as ms
    from madsim import results, toml_config

    cfg, kwargs, options = toml_config.load_sweep(args.config)
    kwargs.update(options)
    for key in ("replicas", "generations", "seed", "threads", "scheduler", "workers", "address", "block"):
        value = getattr(args, key)
        if value is not None:
            kwargs[key] = value
    out = args.output or str(Path(args.config).with_suffix(".nc"))
    results.check_output(out)  # a bad extension or directory fails before the sweep, not after
    store = None if args.no_store else (args.store or str(Path(out).with_suffix(".tasks")))
    with atomic.lock(out):
        try:
            ds = ms.sweep(cfg, store=store, progress=args.progress, **kwargs)
        except ms.SweepInterrupted as exc:
            print(f"madsim: {exc}", file=sys.stderr)
            return 130
        if save(results, ds, out):
            return 130
    dims = json.loads(ds.attrs["grid_dims"])
    shape = " x ".join(f"{d} ({ds.sizes[d]})" for d in dims) or "one point"
    print(
        f"sweep over {shape}: {ds.sizes['replica']} replicas x {ds.attrs['generations']} generations, "
        f"{ds.attrs['tasks']} tasks ({ds.attrs['tasks_from_store']} from the store), "
        f"{ds.attrs['scheduler']} scheduler, {ds.attrs['wall_time_s']:.2f} s -> {out}"
    )
    if store is not None:
        print(f"task store: {store} (run the same command again to reuse it)")
    return 0


def add(sub) -> None:
    """Declares ``madsim sweep`` and its options on the subparsers ``sub``."""
    swp = sub.add_parser(
        "sweep",
        help="run a parameter grid described by a TOML file and save one Dataset",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs a TOML sweep file (a run file with a [sweep] table; see "
        "madsim.toml_config) and writes one Dataset with the grid as dimensions. "
        "Finished tasks go to a store directory at once: after a Ctrl-C or a crash, "
        "the same command runs only what is missing.",
        epilog="example:\n  madsim sweep weights.toml -o weights.nc --scheduler dask --workers 8",
    )
    swp.add_argument("config", help="TOML sweep file")
    swp.add_argument("-o", "--output", help="result path (.nc or .zarr; default: CONFIG with .nc)")
    swp.add_argument("--store", help="task store directory (default: OUTPUT with .tasks)")
    swp.add_argument("--no-store", action="store_true", help="keep no task store (not resumable)")
    swp.add_argument("--replicas", type=int, help="override [run] replicas")
    swp.add_argument("--generations", type=int, help="override [run] generations")
    swp.add_argument("--seed", type=int, help="override [run] seed")
    swp.add_argument("--threads", type=int, help="kernel threads per task")
    swp.add_argument(
        "--scheduler",
        choices=("serial", "threads", "dask"),
        help="override [sweep] scheduler (default threads)",
    )
    swp.add_argument("--workers", type=int, help="threads or Dask worker processes")
    swp.add_argument("--address", help="Dask scheduler address (with --scheduler dask)")
    swp.add_argument("--block", type=int, help="override [sweep] block: replicas per task")
    swp.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar over tasks (default: only on a terminal)",
    )
    swp.set_defaults(func=command)
