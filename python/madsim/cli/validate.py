"""``madsim validate``: the oracle cases, Monte Carlo against the closed
forms of madsim.theory (the cases and the runner: madsim.validate).
"""

from __future__ import annotations


def command(args) -> int:
    from madsim import validate

    return validate.main(args)


def add(sub) -> None:
    """Declares ``madsim validate`` and its options on the subparsers ``sub``."""
    val = sub.add_parser(
        "validate",
        help="run the oracle cases: Monte Carlo vs the closed forms of madsim.theory (docs/theory/)",
        description="Runs madsim.simulate on each oracle case and compares Monte Carlo with "
        "madsim.theory; prints a table and exits 1 if any comparison fails at the "
        "stated family-wise false-fail rate (Bonferroni over all comparisons).",
    )
    val.add_argument("--quick", action="store_true", help="only the quick subset (CI; well under a minute)")
    val.add_argument(
        "--case", action="append", metavar="NAME", help="run only this case (repeatable; see --list)"
    )
    val.add_argument("--list", action="store_true", help="list the cases and exit")
    val.add_argument(
        "--alpha", type=float, default=1e-4, help="family-wise false-fail rate of the run (default 1e-4)"
    )
    val.add_argument(
        "--seed-offset",
        type=int,
        default=0,
        help="shift every case's seed (a fresh set of replicas; default 0)",
    )
    val.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    val.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    val.add_argument(
        "--aggregate",
        action="store_true",
        help="run each case with aggregated records (statistics over replicas) and compare "
        "the means of recorded variables only",
    )
    val.set_defaults(func=command)
