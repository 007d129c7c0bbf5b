"""``madsim run``: the run a TOML file describes, saved (netCDF or zarr) or
streamed; also the interruptible save ``madsim sweep`` shares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from madsim import atomic


def command(args) -> int:
    import madsim as ms
    from madsim import results, toml_config

    cfg, kwargs = toml_config.load(args.config)
    for key in ("replicas", "generations", "seed", "threads"):
        value = getattr(args, key)
        if value is not None:
            kwargs[key] = value
    if args.aggregate:
        kwargs["aggregate"] = True
    progress = None if args.progress is None else args.progress
    stream_to = kwargs.pop("out", None)  # [run] out = "run.zarr": a stream, as --stream
    if args.stream or stream_to is not None:
        from madsim.run import stream

        out = args.output or stream_to or str(Path(args.config).with_suffix(".zarr"))
        if stream.is_store(out):  # a stopped stream: continue it to the run's generations
            ds = ms.resume(
                out,
                generations=kwargs.get("generations", 100),
                threads=kwargs.get("threads"),
                progress=progress,
            )
        else:
            ds = ms.simulate(cfg, progress=progress, out=out, **kwargs)
    else:
        out = args.output or str(Path(args.config).with_suffix(".nc"))
        results.check_output(out)  # a bad extension or directory fails before the run, not after
        with atomic.lock(out):  # a second writer to `out` fails now, not after its run
            ds = ms.simulate(cfg, progress=progress, **kwargs)
            if save(results, ds, out):
                return 130
    R, G = ds.sizes["replica"], ds.attrs["generations_completed"]
    print(
        f"{R} replicas x {G} generations ({ds.attrs['kernel']} kernel, {ds.attrs['wall_time_s']:.2f} s)"
        f" -> {out}"
    )
    for line in _last_generation_lines(ds):
        print(line)
    if ds.attrs.get("interrupted"):
        print("interrupted: the file holds the completed generations", file=sys.stderr)
        return 130
    return 0


def _last_generation_lines(ds) -> list[str]:
    """What `madsim run` prints of a result: for each scalar variable, its
    mean and standard error over the replicas at the last recorded
    generation (over the finite values: a variable that is NaN or inf in
    some replicas says how many were finite, with no numpy warning), and for
    each detector the share of replicas that fired."""
    last = int(ds["generation"].values[-1])
    R = ds.sizes["replica"]
    lines = []
    for name, var in ds.data_vars.items():
        if "aggregate" in ds.attrs and var.dims == ("generation",) and name.endswith("_mean"):
            x = name[: -len("_mean")]
            n = int(ds[f"{x}_finite"].sel(generation=last))
            some = f" ({n} of {R} replicas finite)" if n < R else ""
            lines.append(
                f"  E {x:<18} at t = {last}: {float(var.sel(generation=last)):.6g} +- "
                f"{float(ds[f'{x}_se'].sel(generation=last)):.2g}{some}"
            )
        elif var.dims == ("replica", "generation"):
            x = var.sel(generation=last).values.astype(np.float64)
            x = x[np.isfinite(x)]
            if x.size == 0:
                lines.append(f"  E {name:<18} at t = {last}: no finite value in {R} replicas")
                continue
            se = f"{x.std(ddof=1) / np.sqrt(x.size):.2g}" if x.size > 1 else "n/a"
            some = f" ({x.size} of {R} replicas finite)" if x.size < R else ""
            lines.append(f"  E {name:<18} at t = {last}: {x.mean():.6g} +- {se}{some}")
        elif var.dims == ("replica",) and np.issubdtype(var.dtype, np.integer):
            lines.append(f"  {name}: reached by {float((var.values >= 0).mean()):.1%} of replicas")
    return lines


def save(results, ds, out) -> bool:
    """Saves (atomically); True if a Ctrl-C stopped it (nothing written)."""
    try:
        results.save(ds, out)
    except KeyboardInterrupt:
        print(f"madsim: interrupted while saving: {out} was not written (no partial file)", file=sys.stderr)
        return True
    return False


def add(sub) -> None:
    """Declares ``madsim run`` and its options on the subparsers ``sub``."""
    run = sub.add_parser(
        "run",
        help="run the simulation described by a TOML file and save the result",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs a TOML run file (madsim init writes one; madsim init --reference lists "
        "every key) and writes the Dataset (netCDF-4 .nc or .zarr).",
        epilog="example:\n  madsim init fresh.toml\n  madsim run fresh.toml -o fresh.nc --replicas 100000\n"
        "  madsim plot fresh.nc metric --name var",
    )
    run.add_argument("config", help="TOML run file")
    run.add_argument("-o", "--output", help="result path (.nc or .zarr; default: CONFIG with .nc)")
    run.add_argument("--replicas", type=int, help="override [run] replicas")
    run.add_argument("--generations", type=int, help="override [run] generations")
    run.add_argument("--seed", type=int, help="override [run] seed")
    run.add_argument("--threads", type=int, help="override [run] threads")
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: only on a terminal)",
    )
    run.add_argument(
        "--aggregate",
        action="store_true",
        help="record statistics over replicas (madsim.Aggregate defaults), not every replica",
    )
    run.add_argument(
        "--stream",
        action="store_true",
        help="write each chunk to the .zarr output as it completes (runs larger than "
        "memory); an existing stream is continued to the run's generations",
    )
    run.set_defaults(func=command)
