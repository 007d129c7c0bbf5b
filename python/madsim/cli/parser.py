"""The ``madsim`` argument parser and the entry point: one subcommand per
module of this package, each declaring its options (``add``) and running
them (``command``), in the order ``madsim --help`` lists them."""

from __future__ import annotations

import argparse
import sys

from . import bench, demo, info, init, plot, repro, run, sweep, validate

COMMANDS = (demo, validate, run, sweep, plot, repro, bench, init, info)


def build_parser() -> argparse.ArgumentParser:
    """The ``madsim`` argument parser, every subcommand and option with its help."""
    parser = argparse.ArgumentParser(
        prog="madsim",
        description="Monte Carlo of model collapse",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # --version's lines
    parser.add_argument(
        "--version",
        action="version",
        version=info.version_text(),
        help="print the version and the build (CUDA on/off, compiler, flags) and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (TypeError, ValueError, OSError, MemoryError, ImportError) as exc:
        print(f"madsim: error: {exc}", file=sys.stderr)
        return 2
