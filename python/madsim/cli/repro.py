"""``madsim repro``: a paper of the model-collapse literature reproduced
(madsim.repro): its table and figure, checked at a family-wise false-fail
rate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from madsim import atomic


def _repro_one(paper, res, out: Path, comparisons: int | None = None) -> None:
    """Writes KEY.json (the table) and KEY.png (the figure) under ``out``, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "paper": {
            "key": paper.key,
            "authors": paper.authors,
            "year": paper.year,
            "title": paper.title,
            "venue": paper.venue,
            "arxiv": paper.arxiv,
            "claim": paper.claim,
        },
        "sizes": paper.sizes,
        **res.to_dict(comparisons),
    }
    atomic.write_text(out / f"{paper.key}.json", json.dumps(doc, indent=1, default=float))
    ax = paper.figure(res)
    fig = (ax[0] if isinstance(ax, (list, tuple, np.ndarray)) else ax).figure
    atomic.write(
        out / f"{paper.key}.png", lambda tmp: fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    )
    plt.close(fig)


def command(args) -> int:
    from madsim import repro

    if args.list or args.key is None:
        for p in repro.papers():
            print(f"{p.key:<18} {p.authors} ({p.year}). {p.title}. {p.venue}.")
            print(f"{'':<18} claim: {p.claim}")
        return 0
    size = "full" if args.full else "quick"
    keys = repro.keys() if args.key == "all" else [repro.get(args.key).key]
    if args.alpha is not None and not 0.0 < args.alpha < 1.0:
        raise ValueError(f"--alpha must lie in (0, 1); got {args.alpha}")
    out = Path(args.out)
    results = []
    for key in keys:
        paper = repro.get(key)
        print(f"== {key}: {paper.authors} ({paper.year}), {size} size ({paper.sizes[size]})", flush=True)
        res = paper.run(size, args.threads)
        if args.alpha is not None:
            res.alpha = args.alpha
        results.append((paper, res))
        print(res.table())
    total = sum(len(r.rows) for _, r in results)  # Bonferroni over every comparison of this command
    failed = 0
    for paper, res in results:
        _repro_one(paper, res, out, total)
        failed += len(res.failures(total))
    crit = results[0][1].z_crit(total)
    wall = sum(r.wall_s for _, r in results)
    print(
        f"\n{len(results)} paper(s), {total} comparisons, |z| < {crit:.2f} over all of them; "
        f"{failed} failed; {wall:.1f} s; tables and figures in {out}/"
    )
    return 1 if failed else 0


def add(sub) -> None:
    """Declares ``madsim repro`` and its options on the subparsers ``sub``."""
    rep = sub.add_parser(
        "repro",
        help="reproduce a paper of the model-collapse literature (list, one, all)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs a paper's reproduction (madsim.repro): prints its table (the paper's number "
        "and/or the closed form against madsim's Monte Carlo mean +- SE, z) and writes "
        "KEY.png (the figure) and KEY.json (the table) under --out. Exits 1 if any "
        "comparison fails: |z| above the Bonferroni bound over every comparison of the "
        "command at the family-wise false-fail rate --alpha.",
        epilog="examples:\n  madsim repro --list\n  madsim repro shumailov2024 --out repro/\n"
        "  madsim repro all --quick\n  madsim repro all --full",
    )
    rep.add_argument("key", nargs="?", help="a paper's key (see --list) or 'all'")
    rep.add_argument(
        "--list", action="store_true", help="list every paper (key, authors, year, title, claim)"
    )
    size = rep.add_mutually_exclusive_group()
    size.add_argument(
        "--full",
        action="store_true",
        help="the full size: the paper's own setting or 1000x its replicas (minutes)",
    )
    size.add_argument(
        "--quick", action="store_true", help="the quick size, a few seconds per paper (default)"
    )
    rep.add_argument(
        "--out", default="repro", metavar="DIR", help="where KEY.png and KEY.json go (default ./repro)"
    )
    rep.add_argument(
        "--alpha", type=float, default=None, help="family-wise false-fail rate of the command (default 1e-4)"
    )
    rep.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    rep.set_defaults(func=command)
