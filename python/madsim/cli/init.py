"""``madsim init``: a commented run file to start from, or the reference
of every TOML key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from madsim import atomic


def command(args) -> int:
    from madsim import toml_config

    if args.reference:
        text, default = toml_config.reference_markdown(), "-"
    else:
        text, default = toml_config.template(), "run.toml"
    path = args.path or default
    if path == "-":
        sys.stdout.write(text)
        return 0
    out = Path(path)
    if out.exists() and not args.force:
        raise ValueError(f"{path} exists; pass --force to overwrite it")
    try:
        atomic.write_text(out, text)
    except OSError as exc:
        raise ValueError(f"cannot write {path!r}: {exc.strerror}") from None
    if args.reference:
        print(f"wrote {path}")
    else:
        print(f"wrote {path}: run it with  madsim run {path}")
    return 0


def add(sub) -> None:
    """Declares ``madsim init`` and its options on the subparsers ``sub``."""
    init = sub.add_parser(
        "init",
        help="write a commented run file (TOML) to start from",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Writes a small run file, valid as written (madsim run finishes it in a second "
        "or two), with every key the loader accepts: the live ones set, the others "
        "commented out with their meaning and default. --reference writes the Markdown "
        "reference of every key instead.",
        epilog="examples:\n  madsim init run.toml && madsim run run.toml\n"
        "  madsim init --reference > toml-reference.md",
    )
    init.add_argument(
        "path",
        nargs="?",
        help="where to write (default run.toml; with --reference standard output; - for standard output)",
    )
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    init.add_argument(
        "--reference",
        action="store_true",
        help="write the reference of every TOML key (Markdown) instead of a run file",
    )
    init.set_defaults(func=command)
