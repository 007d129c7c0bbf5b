"""``madsim validate``: Monte Carlo against the closed forms of ``madsim.theory``.

Each *case* is one configuration run with ``ms.simulate``; each of its
*comparisons* is a Monte Carlo estimate (mean or variance over replicas at
one generation) against the exact value from ``madsim.theory``:

    z = (MC - theory) / SE

SE is the plain CLT standard error of a mean (sample SD / sqrt(R)) or, for a
variance, the fourth-moment standard error sqrt((m4 - s^4)/R). A comparison
passes when ``|z| < z_crit`` with z_crit Bonferroni-split over every comparison
of the run, so the chance that a correct implementation fails *anywhere*
(family-wise false-fail rate) is at most ``alpha`` (default 1e-4). Seeds are
fixed, so a run is deterministic.

Heavy tails (docs/theory/replace-1d.md, section "Monte Carlo precision"). The replace loop's
sigma^2, sigma, tr Sigma and (mu - mu0)^2 are heavy-tailed (lognormal-like,
or a normal variance mixture): a sample SE of their mean is itself noisy and
biased low, and the mean's law is skewed. So, for the replace loop:

* the SE of such a mean is sqrt(Var/R) with Var the *exact* variance of one
  replica's value (``replace_nd.var_trace``, ``var_mean_sq``,
  E sigma^2 - (E sigma)^2), marked ``*`` in the table;
* it is compared only where the exact CV^2 is at most ``MAX_CV2_LOGNORMAL``
  (``MAX_CV2_MIXTURE`` for (mu - mu0)^2), so the CLT holds at R; elsewhere
  the exact value is listed as skipped, with the reason, and the
  log-moments (sums of iid steps: light-tailed) carry the long-horizon check.

Loops with real data are stationary and light-tailed: sample SEs.

Every case names the section of the theory pages (docs/theory/) that
derives its closed forms (``Case.doc``, printed by ``--list`` and written to
the JSON report); every comparison names the section of its own formula
(``Comparison.source``). The case names are stable labels (their seeds derive
from them); the ``rowN-`` prefixes number the reference values of
docs/theory/index.md, section "Reference values".

Usage: ``madsim validate`` (every case, a few minutes), ``--quick`` (a subset
for CI, well under a minute on 2 cores), ``--case NAME`` (repeatable),
``--list``. From Python: ``madsim.validate.validate(...)`` returns a
``Report``.

The package: ``records`` (what a case, a comparison, a row and a report
are), ``cases/<family>.py`` (each family's cases and its quick subset) and
``runner`` (selection, running, the table and ``main``); the case modules
and the runner import ``records``, the runner imports the cases, nothing
imports back.
"""

from .cases import build_cases
from .records import ALPHA, Case, Comparison, Report, Row, Skip, doc
from .runner import HEADER, cases, list_cases, main, run_case, select, validate, z_crit

__all__ = [
    "ALPHA",
    "Case",
    "Comparison",
    "HEADER",
    "Report",
    "Row",
    "Skip",
    "build_cases",
    "cases",
    "doc",
    "list_cases",
    "main",
    "run_case",
    "select",
    "validate",
    "z_crit",
]


def _case_exports() -> list[str]:
    """Re-exports the names a case module lists in its ``__all__`` (the
    Gaussian cases' section constants, ``QUICK`` and comparison builders, for
    cases written outside the package), so this module names no family."""
    from .cases import modules

    names: list[str] = []
    for mod in modules():
        for name in getattr(mod, "__all__", ()):
            if name in globals() and globals()[name] is not getattr(mod, name):
                raise ImportError(f"{mod.__name__} exports {name!r}, which madsim.validate already has")
            globals()[name] = getattr(mod, name)
            if name not in names and name not in __all__:
                names.append(name)
    return names


__all__ += _case_exports()
