"""The data model of the reproduction gallery: a paper's record, one
comparison of a Monte Carlo mean with the paper's number or a closed form,
and the result of a run. The papers themselves are the sibling modules."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import stats

ALPHA = 1e-4  # family-wise false-fail rate of a run (Bonferroni over its comparisons), as validate
SIZES = ("quick", "full")


@dataclass(frozen=True)
class Setting:
    """One setting of a reproduction and where it comes from (the paper's
    section or its public code, or "madsim's choice" where the paper leaves
    it open).

    Examples
    --------
    >>> from madsim.repro import Setting
    >>> Setting("n", "100 points per generation", "paper, Sec. 3").source
    'paper, Sec. 3'
    """

    name: str
    value: str
    source: str


@dataclass(frozen=True)
class Row:
    """One comparison: the Monte Carlo mean of a per-replica quantity (with
    its standard error) against the paper's reported number and/or the
    closed form of ``madsim.theory``. z is taken against the closed form where
    there is one, else against the paper's number.

    Examples
    --------
    >>> from madsim.repro import Row
    >>> r = Row("E sigma^2", 10, mc=0.99, se=0.01, paper=None, theory=1.0)
    >>> round(r.z, 6), r.reference
    (-1.0, 1.0)
    """

    quantity: str
    t: int | None
    mc: float
    se: float
    paper: float | None = None
    theory: float | None = None
    source: str = ""  # where the reference number comes from (paper section / theory function)

    @property
    def reference(self) -> float:
        return self.theory if self.theory is not None else self.paper

    @property
    def z(self) -> float:
        if self.se <= 0.0:
            return 0.0 if self.mc == self.reference else math.copysign(math.inf, self.mc - self.reference)
        return (self.mc - self.reference) / self.se


def compare(
    quantity: str,
    values,
    *,
    t: int | None = None,
    paper: float | None = None,
    theory: float | None = None,
    source: str = "",
) -> Row:
    """A :class:`Row` from per-replica ``values``: their mean, its standard
    error (sample SD / sqrt(R)) and the reference number(s).

    Parameters
    ----------
    quantity : str
        What is compared, e.g. ``"E sigma_t^2"``.
    values : array_like
        One value per replica (finite).
    t : int, optional
        The generation.
    paper, theory : float, optional
        The paper's reported number and the closed form (at least one).
    source : str
        Where the reference comes from.

    Examples
    --------
    >>> from madsim.repro import compare
    >>> r = compare("E x", [0.9, 1.1, 1.0, 1.0], theory=1.0)
    >>> round(r.mc, 6), round(abs(r.z), 6)
    (1.0, 0.0)
    """
    if paper is None and theory is None:
        raise ValueError(f"compare({quantity!r}): give the paper's number, the closed form or both")
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(
            f"compare({quantity!r}): needs at least 2 finite values; got {x.size} "
            f"({int(np.sum(~np.isfinite(x)))} not finite)"
        )
    return Row(
        quantity,
        t,
        float(x.mean()),
        float(x.std(ddof=1) / math.sqrt(x.size)),
        None if paper is None else float(paper),
        None if theory is None else float(theory),
        source,
    )


def z_crit(alpha: float, comparisons: int) -> float:
    """The Bonferroni bound on ``abs(z)``: a correct simulator fails any of
    ``comparisons`` two-sided comparisons with probability at most ``alpha``.

    Examples
    --------
    >>> from madsim.repro import z_crit
    >>> round(z_crit(1e-4, 10), 3)
    4.417
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha!r}")
    return float(stats.norm.isf(alpha / (2 * max(comparisons, 1))))


@dataclass
class Result:
    """What a reproduction returns: its Datasets (by name), its comparison
    rows, its wall time and notes. ``passed`` applies the Bonferroni bound
    over this result's rows (``madsim repro all`` applies it over every
    paper's rows together).

    Examples
    --------
    >>> from madsim.repro import Result, Row
    >>> res = Result("demo", "quick", {}, [Row("E x", 1, 1.0, 0.1, theory=1.0)])
    >>> res.passed, res.failures()
    (True, [])
    """

    key: str
    size: str
    datasets: dict
    rows: list
    wall_s: float = 0.0
    notes: list = field(default_factory=list)
    alpha: float = ALPHA

    def z_crit(self, comparisons: int | None = None) -> float:
        return z_crit(self.alpha, len(self.rows) if comparisons is None else comparisons)

    def failures(self, comparisons: int | None = None) -> list:
        crit = self.z_crit(comparisons)
        return [r for r in self.rows if not abs(r.z) < crit]

    @property
    def passed(self) -> bool:
        return not self.failures()

    def table(self, comparisons: int | None = None) -> str:
        """The comparison table as text (the one ``madsim repro KEY`` prints)."""
        crit = self.z_crit(comparisons)
        head = f"{'quantity':<44} {'t':>5} {'paper':>10} {'theory':>10} {'madsim (mean +- SE)':>24} {'z':>7}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            paper = "" if r.paper is None else f"{r.paper:.5g}"
            theory = "" if r.theory is None else f"{r.theory:.5g}"
            flag = "" if abs(r.z) < crit else "  FAIL"
            lines.append(
                f"{r.quantity:<44} {'' if r.t is None else r.t:>5} {paper:>10} {theory:>10} "
                f"{f'{r.mc:.5g} +- {r.se:.2g}':>24} {r.z:>7.2f}{flag}"
            )
        lines.append(
            f"{len(self.rows)} comparisons, |z| < {crit:.2f} (Bonferroni, family-wise "
            f"false-fail rate {self.alpha:g}); wall time {self.wall_s:.2f} s"
        )
        return "\n".join(lines)

    def to_dict(self, comparisons: int | None = None) -> dict:
        crit = self.z_crit(comparisons)
        return {
            "key": self.key,
            "size": self.size,
            "wall_s": self.wall_s,
            "alpha": self.alpha,
            "z_crit": crit,
            "passed": all(abs(r.z) < crit for r in self.rows),
            "notes": list(self.notes),
            "rows": [
                {
                    "quantity": r.quantity,
                    "t": r.t,
                    "paper": r.paper,
                    "theory": r.theory,
                    "mc": r.mc,
                    "se": r.se,
                    "z": r.z,
                    "passed": bool(abs(r.z) < crit),
                    "source": r.source,
                }
                for r in self.rows
            ],
        }


@dataclass(frozen=True)
class Paper:
    """A paper of the gallery: who, what, the claim or figure reproduced, its
    settings with their sources, what madsim leaves out, and the functions
    that run it (``run(size, threads) -> Result``) and draw its figure
    (``figure(result, ax=None) -> Axes``).

    Examples
    --------
    >>> from madsim import repro
    >>> p = repro.get("shumailov2024")
    >>> p.year, p.venue
    (2024, 'Nature 631')
    """

    key: str
    authors: str
    year: int
    title: str
    venue: str
    arxiv: str
    claim: str
    settings: tuple
    left_out: str
    run_fn: Callable
    figure_fn: Callable
    sizes: dict  # {"quick": "...", "full": "..."}: replicas x generations in words

    def run(self, size: str = "quick", threads: int | None = None) -> Result:
        """Runs the reproduction at ``size`` ("quick" or "full") and times it."""
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}; got {size!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive int or None; got {threads!r}")
        t0 = time.perf_counter()
        res = self.run_fn(size, threads)
        res.wall_s = time.perf_counter() - t0
        return res

    def figure(self, result: Result, ax=None):
        """Draws the paper's figure from ``result`` (on ``ax``, or new axes)."""
        if result.key != self.key:
            raise ValueError(f"{self.key}.figure needs a result of {self.key!r}; got one of {result.key!r}")
        return self.figure_fn(result, ax)

    @property
    def citation(self) -> str:
        return f"{self.authors} ({self.year}). {self.title}. {self.venue}. arXiv {self.arxiv}."


def axes(ax, ncols: int = 1, width: float = 6.0):
    """``ax`` (a single Axes or a sequence of ``ncols``) or a new figure's."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    fig, out = plt.subplots(1, ncols, figsize=(width * ncols, 4), layout="constrained", squeeze=False)
    return out[0] if ncols > 1 else out[0, 0]


def grid(G: int, step: int, *extra: int) -> list:
    """The generations to record: 0, step, 2 step, ..., G and ``extra``."""
    return sorted(set(range(0, G + 1, max(1, step))) | {G} | set(extra))


def mean_se(da, dim: str = "replica"):
    """Mean and standard error of a DataArray over ``dim``."""
    n = da.sizes[dim]
    return da.mean(dim), da.std(dim, ddof=1) / math.sqrt(n)
