"""``madsim validate`` cases of the KDE family: Monte Carlo of the kernel
against docs/theory/kde.md (``madsim.theory.kde``), replace loop. With a
fixed bandwidth h, E S_t = a^t Sigma0 + (n-1) h^2 (1 - a^(t-1)) I (a =
(n-1)/n), which tends to (n-1) h^2 I; with scipy's Scott or Silverman rule,
E S_t = a Sigma0 g^(t-1), g = (n-1)/n + f^2. The fitted variance (trace)
is a sum of squares of n kernel-smoothed draws: with a fixed bandwidth its
relative variance is bounded (about 2/n per coordinate at the fixed point);
under a rule it is a product of per-generation factors whose CV^2 grows
like (1 + 2/n)^t, compared up to t = 10 at n >= 30 (CV^2 < 1), where sample
standard errors serve. Each run's family-wise false-fail rate is validate's
alpha (1e-4, Bonferroni over every comparison).
"""

from __future__ import annotations

import numpy as np

from ... import theory
from ...config import Config, Replace
from ...families.kde import KDE
from ..records import Case, Comparison, doc

DOC_FIXED = doc("kde", "kde-fixed")
DOC_RULE = doc("kde", "kde-rule")


def _trace(ds, t):
    name = "var" if "var" in ds else "trace"
    return np.asarray(ds[name].sel(generation=t).values, dtype=np.float64)


def _model_var(ds, t):
    return np.asarray(ds["model_var"].sel(generation=t).values, dtype=np.float64)


def comparisons(cfg, ts):
    fam, n = cfg.family, cfg.loop.n
    src = DOC_FIXED if fam.rule == "fixed" else DOC_RULE
    name = "E var" if fam.dim == 1 else "E trace"
    items = [
        Comparison(name, t, "mean", _trace, lambda t=t: float(theory.kde_expected_var(fam, n, t)), src)
        for t in ts
    ]
    items.append(
        Comparison(
            "E model_var",
            ts[-1],
            "mean",
            _model_var,
            lambda: float(theory.kde_expected_model_var(fam, n, ts[-1])),
            src,
        )
    )
    return tuple(items)


def build_cases() -> list:
    cases = []
    add = cases.append
    cfg = Config(family=KDE(bandwidth=0.3), loop=Replace(n=20))
    add(
        Case(
            "kde-fixed-1d-n20-h0.3",
            "KDE 1-D, fixed h = 0.3, replace n=20 (fixed point 19 h^2 = 1.71)",
            cfg,
            20_000,
            comparisons(cfg, (1, 10, 60)),
            doc=DOC_FIXED,
        )
    )
    fam = KDE(dim=3, cov=[[1.0, 0.3, 0.0], [0.3, 2.0, 0.5], [0.0, 0.5, 0.5]], bandwidth=0.2)
    cfg = Config(family=fam, loop=Replace(n=10))
    add(
        Case(
            "kde-fixed-d3-n10-h0.2",
            "KDE d=3, fixed h = 0.2, replace n=10",
            cfg,
            10_000,
            comparisons(cfg, (1, 5, 30)),
            doc=DOC_FIXED,
        )
    )
    cfg = Config(family=KDE(bandwidth="silverman"), loop=Replace(n=50))
    add(
        Case(
            "kde-silverman-1d-n50",
            "KDE 1-D, Silverman's rule, replace n=50 (g = 0.98 + 37.5^-0.4)",
            cfg,
            20_000,
            comparisons(cfg, (1, 5, 10)),
            doc=DOC_RULE,
        )
    )
    fam = KDE(dim=2, mean=[1.0, -1.0], cov=[[1.0, 0.4], [0.4, 0.5]], bandwidth="scott")
    cfg = Config(family=fam, loop=Replace(n=30))
    add(
        Case(
            "kde-scott-d2-n30",
            "KDE d=2, Scott's rule, replace n=30",
            cfg,
            20_000,
            comparisons(cfg, (1, 5, 10)),
            doc=DOC_RULE,
        )
    )
    return cases


# The quick subset's KDE cases and their replicas (None: the case's own).
QUICK = {"kde-fixed-1d-n20-h0.3": 5_000, "kde-silverman-1d-n50": 5_000}
