"""The validate runner: selects the cases, runs each with ``ms.simulate``,
compares its Monte Carlo estimates with the closed forms and reports."""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Sequence

import numpy as np

from . import cases as case_modules
from .records import ALPHA, Case, Report, Row, Skip

_CASES: list | None = None


def cases() -> list:
    global _CASES
    if _CASES is None:
        import zlib

        # each case its own seed (from its name: stable when cases are added), so no two cases
        # share their real draws; the quick flag and replicas from each module's QUICK
        quick = case_modules.quick()
        _CASES = [
            dataclasses.replace(
                c, seed=zlib.crc32(c.name.encode()), quick=c.name in quick, quick_replicas=quick.get(c.name)
            )
            for c in case_modules.build_cases()
        ]
        unknown = set(quick) - {c.name for c in _CASES}
        assert not unknown, f"QUICK names unknown cases: {unknown}"
        names = [c.name for c in _CASES]
        assert len(names) == len(set(names)), "case names must be unique"
        undocumented = [c.name for c in _CASES if not c.doc]
        assert not undocumented, f"cases without a docs anchor: {undocumented}"
    return _CASES


def select(names: Sequence[str] | None = None, quick: bool = False) -> list:
    """The cases to run: by name (each must exist), the quick subset, or all."""
    allc = cases()
    if names:
        by = {c.name: c for c in allc}
        unknown = [n for n in names if n not in by]
        if unknown:
            raise ValueError(f"unknown case {unknown[0]!r}; `madsim validate --list` lists them")
        return [by[n] for n in names]
    return [c for c in allc if c.quick] if quick else list(allc)


# ---------------------------------------------------------------- running


def _estimate(x: np.ndarray, stat: str):
    if stat == "mean":
        return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))
    d = x - x.mean()
    v = float(d.var(ddof=1))
    return v, float(math.sqrt(max(float((d**4).mean()) - v * v, 0.0) / x.size))


def z_crit(alpha: float, comparisons: int) -> float:
    from scipy import stats

    return float(stats.norm.isf(alpha / (2.0 * max(comparisons, 1))))


HEADER = f"{'case':<44} {'quantity':<26} {'t':>4} {'MC':>12} {'SE':>11} {'theory':>12} {'z':>7}  result"


def _line(r: Row) -> str:
    se = f"{r.se:.3g}" + ("*" if r.se_exact else " ")
    return (
        f"{r.case:<44} {r.quantity:<26} {r.t:>4} {r.mc:>12.6g} {se:>11} {r.theory:>12.6g} "
        f"{r.z:>7.2f}  {'pass' if r.passed else 'FAIL'}"
    )


def aggregable(c) -> bool:
    """Whether a comparison runs from aggregated records: a mean of a recorded variable."""
    return c.variable is not None and c.stat == "mean"


def run_case(
    case: Case, zc: float, threads=None, seed_offset: int = 0, quick: bool = False, aggregate: bool = False
) -> tuple:
    """Runs one case; returns (rows, seconds). ``aggregate``: from an
    aggregated run (``simulate(..., aggregate=...)``), the comparisons that
    allow it (``aggregable``) only."""
    from ..run.aggregate import Aggregate
    from ..run.simulate import simulate

    if aggregate:
        case = dataclasses.replace(case, comparisons=tuple(c for c in case.comparisons if aggregable(c)))
        if not case.comparisons:
            return [], 0.0
    ts = sorted({c.t for c in case.comparisons})
    R = case.quick_replicas if (quick and case.quick_replicas) else case.replicas
    t0 = time.perf_counter()
    exact = [float(c.theory()) for c in case.comparisons]  # first: a broken oracle fails fast
    exact_var = [None if c.exact_var is None else float(c.exact_var()) for c in case.comparisons]
    ds = simulate(
        case.cfg,
        replicas=R,
        generations=case.generations,
        seed=case.seed + seed_offset,
        record=ts,
        threads=threads,
        progress=False,
        metrics="all",
        aggregate=Aggregate(quantiles=()) if aggregate else None,
    )
    rows = []
    for c, th, ev in zip(case.comparisons, exact, exact_var):
        if aggregate:
            at = {"generation": c.t}
            n = int(ds[f"{c.variable}_finite"].sel(at))
            mc, se = float(ds[f"{c.variable}_mean"].sel(at)), float(ds[f"{c.variable}_se"].sel(at))
            if n < R:
                mc, se = float("nan"), float("nan")
            elif ev is not None:
                se = math.sqrt(ev / n)
        else:
            x = c.values(ds, c.t)
            if not np.all(np.isfinite(x)):
                mc, se = float("nan"), float("nan")
            else:
                mc, se = _estimate(x, c.stat)
                if ev is not None:
                    se = math.sqrt(ev / x.size)
        dev = mc - th
        if c.rel_tol > 0.0:  # an asymptotic law: only a deviation beyond its stated accuracy counts
            excess = abs(dev) - c.rel_tol * abs(th)
            dev = math.copysign(excess, dev) if excess > 0.0 else (dev if math.isnan(dev) else 0.0)
        z = dev / se if se > 0 else (0.0 if dev == 0.0 else math.inf)
        ok = bool(np.isfinite(z) and abs(z) < zc)
        rows.append(
            Row(case.name, c.quantity, c.t, mc, se, th, float(z), ok, c.source, ev is not None, case.doc)
        )
    return rows, time.perf_counter() - t0


def validate(
    names: Sequence[str] | None = None,
    quick: bool = False,
    alpha: float = ALPHA,
    threads: int | None = None,
    seed_offset: int = 0,
    out=None,
    aggregate: bool = False,
) -> Report:
    """Runs the selected cases (all by default; ``quick``: the CI subset;
    ``names``: those cases) and returns a Report. With ``out`` (a text
    stream) the table is printed as the cases finish. ``seed_offset`` shifts
    every case's seed (a fresh set of replicas). ``aggregate``: each case
    from an aggregated run, comparing only the means of recorded variables
    (the others are listed as skipped)."""
    from .. import checks as check

    alpha = check.real("alpha", alpha, 0.0, 1.0, lo_open=True)
    seed_offset = check.integer("seed_offset", seed_offset, 0, 2**32)
    chosen = select(names, quick)
    n_comp = sum(sum(1 for c in case.comparisons if not aggregate or aggregable(c)) for case in chosen)
    zc = z_crit(alpha, n_comp)
    report = Report(rows=[], skipped=[], alpha=alpha, z_crit=zc)
    t_start = time.perf_counter()
    if out is not None:
        print(
            f"madsim validate: {len(chosen)} cases, {n_comp} comparisons; family-wise false-fail rate "
            f"{alpha:g} (Bonferroni: pass when |z| < {zc:.2f})",
            file=out,
        )
        print(HEADER, file=out)
        print("-" * len(HEADER), file=out)
    for case in chosen:
        try:
            rows, secs = run_case(case, zc, threads, seed_offset, quick, aggregate)
        except Exception as exc:  # a theory or run error fails the case, reported, not raised
            report.errors.append((case.name, f"{type(exc).__name__}: {exc}"))
            if out is not None:
                print(f"{case.name:<44} ERROR {type(exc).__name__}: {exc}", file=out)
            continue
        report.rows += rows
        report.case_seconds[case.name] = secs
        skipped = list(case.skipped)
        if aggregate:
            skipped += [
                Skip(c.quantity, c.t, "needs per-replica values (run without --aggregate)")
                for c in case.comparisons
                if not aggregable(c)
            ]
        report.skipped += [(case.name, s) for s in skipped]
        if out is not None:
            for r in rows:
                print(_line(r), file=out)
            for s in skipped:
                print(f"{case.name:<44} {s.quantity:<26} {s.t:>4} skipped: {s.reason}", file=out)
            out.flush()
    report.wall_s = time.perf_counter() - t_start
    if out is not None:
        nf = len(report.failures) + len(report.errors)
        print("-" * len(HEADER), file=out)
        worst = max((abs(r.z) for r in report.rows), default=0.0)
        print(
            f"{len(report.rows)} comparisons, {len(report.failures)} failed, {len(report.errors)} cases "
            f"errored, {len(report.skipped)} skipped; largest |z| = {worst:.2f} (z_crit {zc:.2f}); "
            f"{report.wall_s:.1f} s",
            file=out,
        )
        if any(r.se_exact for r in report.rows):
            print(
                "SE*: from the exact variance of one replica's value (replace loop, heavy-tailed); "
                "other SEs: sample SD / sqrt(R) (a variance: fourth-moment SE)",
                file=out,
            )
        print("PASS" if nf == 0 else "FAIL", file=out)
    return report


def list_cases(out=sys.stdout, quick: bool = False):
    """One line per case: name, quick mark, size, its docs anchor (under
    docs/) and title."""
    for c in select(None, quick):
        mark = "quick" if c.quick else ""
        R = c.quick_replicas if (quick and c.quick_replicas) else c.replicas
        print(
            f"{c.name:<48} {mark:<6} {len(c.comparisons):>3} comparisons, R={R:<7} "
            f"t<={c.generations:<4} {c.doc:<48} {c.title}",
            file=out,
        )


def main(args) -> int:
    """The ``madsim validate`` subcommand (args from the parser of madsim.cli.validate)."""
    if args.list:
        list_cases(sys.stdout, quick=args.quick)
        return 0
    report = validate(
        args.case or None,
        quick=args.quick,
        alpha=args.alpha,
        threads=args.threads,
        seed_offset=args.seed_offset,
        out=sys.stdout,
        aggregate=args.aggregate,
    )
    if args.json:
        import json

        from .. import atomic

        atomic.write_text(args.json, json.dumps(report.to_dict(), indent=1))
    return 0 if report.passed else 1
