"""``madsim plot``: a figure of a saved result (a metric, the tails, a
detector's survival).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from madsim import atomic


def command(args) -> int:
    from madsim import plots, results

    ds = results.load(args.result)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.kind == "tails":
        from madsim.families import spec_named

        family = json.loads(ds.attrs.get("config", "{}")).get("family", {}).get("type")
        spec = spec_named(family) if isinstance(family, str) else None
        ax = plots.token_ranks(ds) if spec is not None and "token_ranks" in spec.plots else plots.tails(ds)
    elif args.kind == "survival":
        name = args.name
        if not name:
            dets = plots.detector_names(ds)
            if len(dets) != 1:
                raise ValueError(f"madsim plot survival needs --name DETECTOR; {plots.detectors_text(dets)}")
            name = dets[0]  # the run's only detector
        ax = plots.survival(ds, name)
    else:
        ax = plots.metric(ds, args.name or "var")
    out = args.output or str(Path(args.result).with_suffix(f".{args.kind}.png"))
    fmt = Path(out).suffix.lstrip(".").lower() or "png"
    atomic.write(out, lambda tmp: ax.figure.savefig(tmp, dpi=110, bbox_inches="tight", format=fmt))
    plt.close(ax.figure)
    print(out)
    return 0


def add(sub) -> None:
    """Declares ``madsim plot`` and its options on the subparsers ``sub``."""
    plot = sub.add_parser(
        "plot",
        help='draw a figure of a saved result (needs matplotlib: pip install "madsim[plot]", '
        'or pip install ".[plot]" in a source checkout)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  madsim plot run.nc tails -o tails.png\n"
        "  madsim plot run.nc metric --name log_var\n"
        "  madsim plot run.nc survival --name collapse",
    )
    plot.add_argument("result", help="a file written by madsim run or madsim.results.save")
    plot.add_argument(
        "kind",
        nargs="?",
        default="metric",
        choices=("metric", "tails", "survival"),
        help="metric: a variable's mean with its CI and quantile band (default); tails: "
        "the model's density against the truth's (token runs: probability by rank); "
        "survival: Kaplan-Meier curve of a detector",
    )
    plot.add_argument(
        "--name",
        help="metric: the variable (default var; log_var works); survival: the "
        "detector (default: the run's only one)",
    )
    plot.add_argument("-o", "--output", help="PNG path (default: RESULT.KIND.png)")
    plot.set_defaults(func=command)
