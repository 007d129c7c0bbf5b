"""Writes the reproduction gallery's pages, docs/repro/index.md and
docs/repro/<key>.md, from the registry (madsim.repro), the full run's tables
(docs/figures/repro/<key>.json and .png, written by
``madsim repro all --full --out docs/figures/repro``) and the newest
benchmark results (benchmarks/results/repro-*.json, written by
``python benchmarks/repro.py``).

    python docs/make_repro_pages.py

Run it after either of those; the pages are committed (the docs build does
not rerun the full sizes: it stays fast)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "python"))

from madsim import atomic, repro  # noqa: E402

FIGS = DOCS / "figures" / "repro"
OUT = DOCS / "repro"


def _bench():
    files = sorted((ROOT / "benchmarks" / "results").glob("repro-*.json"))
    if not files:
        return None, []
    doc = json.loads(files[-1].read_text())
    return files[-1].relative_to(ROOT).as_posix(), doc["cases"]


def short(authors: str) -> str:
    """ "Shumailov et al.", "Dey & Donoho", "Gerstgrasser et al.; Dohmatob et al." """
    out = []
    for group in authors.split(";"):
        names = [n.strip() for n in group.split(",") if n.strip() and n.strip() != "et al."]
        out.append(
            names[0] if len(names) == 1 else " & ".join(names) if len(names) == 2 else f"{names[0]} et al."
        )
    return "; ".join(out)


def _num(x, digits=5):
    return "" if x is None else f"{x:.{digits}g}"


def _table(doc) -> list[str]:
    lines = ["| quantity | t | paper | theory | madsim (mean +- SE) | z |", "|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        q = r["quantity"].replace("|", "\\|")
        lines.append(
            f"| {q} | {'' if r['t'] is None else r['t']} | {_num(r['paper'])} | {_num(r['theory'])} | "
            f"{r['mc']:.5g} +- {r['se']:.2g} | {r['z']:.2f} |"
        )
    return lines


def _bench_table(cases, key) -> list[str]:
    mine = [c for c in cases if c["paper"] == key]
    if not mine:
        return ["(no benchmark results yet: `python benchmarks/repro.py`)"]
    lines = [
        "| cell | generations | paper's loop (rg/s) | madsim (rg/s) | speed-up |",
        "|---|---|---|---|---|",
    ]
    for c in mine:
        lines.append(
            f"| {c['cell']} | {c['generations']} | {c['paper_loop_rg_per_s']:.3g} | "
            f"{c['madsim_rg_per_s']:.3g} | {c['speedup']:.0f}x |"
        )
    return lines


def page(p, bench_file, cases) -> str:
    jf = FIGS / f"{p.key}.json"
    doc = json.loads(jf.read_text()) if jf.exists() else None
    lines = [
        f"({p.key})=",
        f"# {short(p.authors)} {p.year}",
        "",
        f"**Paper.** {p.authors} ({p.year}). *{p.title}*. {p.venue}. arXiv {p.arxiv}.",
        "",
        f"**Claim reproduced.** {p.claim}",
        "",
        "```bash",
        f"madsim repro {p.key}            # the quick size ({p.sizes['quick']}): seconds",
        f"madsim repro {p.key} --full     # the full size ({p.sizes['full']})",
        "```",
        "",
        "## Settings and where they come from",
        "",
        "| setting | value | source |",
        "|---|---|---|",
    ]
    lines += [f"| {s.name} | {s.value} | {s.source} |" for s in p.settings]
    lines += ["", "## What is left out", "", p.left_out, "", "## Figure", ""]
    if (FIGS / f"{p.key}.png").exists():
        lines += [
            f"```{{image}} ../figures/repro/{p.key}.png",
            f":alt: {p.key}: the full run's figure",
            "```",
            "",
            f"*The full run (`madsim repro {p.key} --full`); dashed lines are the closed forms of "
            "`madsim.theory` where one exists.*",
            "",
        ]
    lines += ["## Paper and theory against madsim", ""]
    if doc is None:
        lines += ["(no full run yet: `madsim repro all --full --out docs/figures/repro`)"]
    else:
        lines += [
            f"The full run: {doc['sizes']['full']}, **{doc['wall_s']:.1f} s** of wall time on 2 shared "
            f"cores. A comparison passes when |z| < {doc['z_crit']:.2f}: the Bonferroni bound over every "
            "comparison of the run that wrote this table (`madsim repro all --full`: all papers together) "
            "at the family-wise false-fail rate 1e-4. *paper* is the paper's own number or formula where "
            "it states one; *theory* is `madsim.theory`'s closed form; z is taken against the closed form where there is one.",
            "",
        ]
        lines += _table(doc)
        if doc["notes"]:
            lines += [""] + [f"- {n}" for n in doc["notes"]]
    lines += [
        "",
        "## Speed against the paper's own loop",
        "",
        "The paper's loop re-implemented the way the papers' scripts run it (numpy, one replica per call, "
        "a Python loop over generations that draws the samples and refits on them; `benchmarks/repro.py`), "
        "timed on the same settings in the same process as madsim (madsim on 2 threads, the loop on one); "
        "rates in replica-generations per second (rg/s)" + (f" (`{bench_file}`)." if bench_file else "."),
        "",
    ]
    lines += _bench_table(cases, p.key)
    return "\n".join(lines) + "\n"


def index(papers, cases) -> str:
    lines = [
        "# Reproductions",
        "",
        "The papers of the model-collapse literature, re-run with madsim: each page has the paper, the "
        "claim reproduced, the settings and where they come from, what madsim cannot express, the figure "
        "(with the closed forms of `madsim.theory` overlaid), the paper's numbers and the closed forms "
        "against madsim's Monte Carlo (mean +- SE, z), the full run's wall time and the speed-up over "
        "the paper's own loop.",
        "",
        "```bash",
        "madsim repro --list                 # every paper: key, authors, year, title, claim",
        "madsim repro KEY [--full] [--out DIR]   # one paper: its table; KEY.png and KEY.json in DIR",
        "madsim repro all [--quick | --full] # all of them; exit 1 if any comparison fails",
        "```",
        "",
        "From Python: `madsim.repro` ({doc}`../api/repro`). A comparison passes when |z| is below the "
        "Bonferroni bound over every comparison of the command at a family-wise false-fail rate of 1e-4 "
        "(as `madsim validate`). The quick size runs every paper in seconds (the tests run it); the full "
        "size is the paper's own setting, or about 1000x its replicas where that is cheap.",
        "",
        "| paper | claim | comparisons (full run) | largest abs z | wall time (full) | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for p in papers:
        jf = FIGS / f"{p.key}.json"
        doc = json.loads(jf.read_text()) if jf.exists() else None
        sp = [c["speedup"] for c in cases if c["paper"] == p.key]
        spd = ", ".join(f"{s:.0f}x" for s in sp)
        if doc:
            n, zmax, wall = len(doc["rows"]), max(abs(r["z"]) for r in doc["rows"]), f"{doc['wall_s']:.1f} s"
        else:
            n, zmax, wall = "", float("nan"), ""
        lines.append(
            f"| {{doc}}`{short(p.authors)} {p.year} <{p.key}>` | {p.claim} | {n} | "
            f"{zmax:.2f} | {wall} | {spd} |"
        )
    lines += ["", "```{toctree}", ":maxdepth: 1", ":hidden:", ""] + [p.key for p in papers] + ["```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    bench_file, cases = _bench()
    papers = repro.papers()
    atomic.write_text(OUT / "index.md", index(papers, cases))
    for p in papers:
        atomic.write_text(OUT / f"{p.key}.md", page(p, bench_file, cases))
    print(f"wrote {OUT}/index.md and {len(papers)} pages")


if __name__ == "__main__":
    main()
