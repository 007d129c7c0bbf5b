"""What a validate case is: its comparisons, the rows of a run and the report.

Shared by the runner (``madsim.validate.runner``) and the family case
modules (``madsim.validate.cases``), which import it, never each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..config import Config

ALPHA = 1e-4  # family-wise false-fail rate of a run (Bonferroni over its comparisons)


def doc(page: str, label: str) -> str:
    """The anchor of a section of the theory pages: "theory/<page>.md#<label>"
    (relative to docs/; tests/test_theory_docs.py checks that the label exists)."""
    return f"theory/{page}.md#{label}"


# ---------------------------------------------------------------- data model


@dataclass(frozen=True)
class Comparison:
    """One Monte Carlo statistic against its closed form."""

    quantity: str  # e.g. "E sigma^2"
    t: int  # generation
    stat: str  # "mean" or "var" (over replicas)
    values: Callable  # (ds, t) -> per-replica values
    theory: Callable[[], float]  # the exact value (evaluated at run time)
    source: str = ""  # docs anchor of the formula, "theory/page.md#label"
    exact_var: Callable | None = None  # exact Var of one value: SE = sqrt(it / R)
    variable: str | None = None  # the recorded variable ``values`` reads as is:
    # what an aggregated run (validate --aggregate) uses
    rel_tol: float = 0.0  # the closed form's own relative accuracy (an
    #   asymptotic law's O(1/n) terms): z is measured
    #   from the band theory (1 +- rel_tol)


@dataclass(frozen=True)
class Skip:
    quantity: str
    t: int
    reason: str


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    cfg: Config
    replicas: int
    comparisons: tuple
    skipped: tuple = ()
    quick: bool = False
    seed: int = 1  # replaced by a hash of the name in cases()
    quick_replicas: int | None = None  # replicas in a --quick run (default: replicas)
    doc: str = ""  # docs anchor of the closed forms it checks, "theory/page.md#label"

    @property
    def generations(self) -> int:
        return max(c.t for c in self.comparisons)


@dataclass(frozen=True)
class Row:
    case: str
    quantity: str
    t: int
    mc: float
    se: float
    theory: float
    z: float
    passed: bool
    source: str = ""
    se_exact: bool = False  # SE from the exact variance (heavy-tailed replace-loop means)
    doc: str = ""  # the case's docs anchor (Case.doc)


@dataclass
class Report:
    """What ``validate`` found: one Row per comparison."""

    rows: list
    skipped: list  # (case, Skip)
    alpha: float
    z_crit: float
    case_seconds: dict = field(default_factory=dict)
    wall_s: float = 0.0
    errors: list = field(default_factory=list)  # (case, message) for cases that raised

    @property
    def passed(self) -> bool:
        return not self.errors and all(r.passed for r in self.rows)

    @property
    def failures(self) -> list:
        return [r for r in self.rows if not r.passed]

    def case_docs(self) -> dict:
        """{case name: its docs anchor} for every case run (errored ones too)."""
        from .runner import cases  # at call time: the runner imports this module

        by = {c.name: c.doc for c in cases()}
        names = [r.case for r in self.rows] + [c for c, _ in self.errors]
        return {n: by.get(n, "") for n in dict.fromkeys(names)}

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "alpha": self.alpha,
            "z_crit": self.z_crit,
            "wall_s": self.wall_s,
            "rows": [r.__dict__ for r in self.rows],
            "skipped": [
                {"case": c, "quantity": s.quantity, "t": s.t, "reason": s.reason} for c, s in self.skipped
            ],
            "errors": [{"case": c, "message": m} for c, m in self.errors],
            "case_seconds": dict(self.case_seconds),
            "case_docs": self.case_docs(),
        }


# ---------------------------------------------------------------- per-replica values
