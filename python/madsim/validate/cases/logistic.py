"""``madsim validate`` cases of the logistic family: Monte Carlo of the
kernel against the first-order laws of docs/theory/logistic.md
(``madsim.theory.logistic``; Dey and Donoho 2024, Gerstgrasser et al.
2024): E |w_t - w*|^2_I ~ t d / n under replace, (d / n) sum_{i<=t} 1/i^2
under accumulate, (d / N) sum_{i<t} rho^(2i) under fresh data.

The laws are asymptotic in n: each comparison allows the stated relative
tolerance ``theory.logistic_first_order_tolerance(cfg, t)`` (10 t d / n
replace, 20 d / n accumulate, 10 d / (N (1 - rho)) fresh; about twice the
O(d t / n) excess measured at |w*| = 1, d = 2) and runs validate's z-test
beyond it (``Comparison.rel_tol``). The settings are where the law is
claimed: d = 2, n = 2000 rows per generation, |w*| = 1, t d / n <= 0.01;
no fit separates there (P(separation) is astronomically small at n = 1000 d).
The error is a sum of t squared Gaussian-like increments (a scaled
chi-square with 2 t degrees of freedom to first order): light-tailed, so
sample standard errors serve.
"""

from __future__ import annotations

import numpy as np

from ... import theory
from ...config import Accumulate, Config, Fresh, Replace
from ...families.logistic import Logistic
from ..records import Case, Comparison, doc

DOC_LAWS = doc("logistic", "logistic-laws")


def fisher_error(cfg, t):
    return Comparison(
        "E fisher_error",
        t,
        "mean",
        lambda ds, t: np.asarray(ds["fisher_error"].sel(generation=t).values, dtype=np.float64),
        lambda: float(theory.logistic_expected_fisher_error(cfg, t)),
        DOC_LAWS,
        variable="fisher_error",
        rel_tol=theory.logistic_first_order_tolerance(cfg, t),
    )


def build_cases() -> list:
    cases = []
    add = cases.append
    for design in ("fresh", "fixed"):
        fam = Logistic(dim=2, design=design)
        cfg = Config(family=fam, loop=Replace(n=2000))
        add(
            Case(
                f"logistic-replace-{design}-d2-n2000",
                f"logistic replace, {design} design, d=2, n=2000",
                cfg,
                3000,
                (fisher_error(cfg, 1), fisher_error(cfg, 5), fisher_error(cfg, 10)),
                doc=DOC_LAWS,
            )
        )
        cfg = Config(family=fam, loop=Accumulate(synthetic=2000))
        add(
            Case(
                f"logistic-accumulate-{design}-d2-n2000",
                f"logistic accumulate, {design} design, d=2, n=2000 per generation",
                cfg,
                2000,
                (fisher_error(cfg, 2), fisher_error(cfg, 6)),
                doc=DOC_LAWS,
            )
        )
    cov = [[1.0, 0.4], [0.4, 2.0]]
    cfg = Config(family=Logistic(dim=2, weights=[0.8, -0.6], cov=cov), loop=Fresh(real=1000, synthetic=1000))
    add(
        Case(
            "logistic-fresh-cov-d2-N2000",
            "logistic fresh data, correlated Sigma, m = k = 1000",
            cfg,
            3000,
            (fisher_error(cfg, 1), fisher_error(cfg, 8)),
            doc=DOC_LAWS,
        )
    )
    return cases


# The quick subset's logistic cases and their replicas (None: the case's own).
QUICK = {
    "logistic-replace-fresh-d2-n2000": 600,
}
