"""``madsim validate`` cases of the Poisson family: Monte Carlo of the kernel
against docs/theory/poisson.md (``madsim.theory.poisson``): the mean
E lambda_t = lambda_0 and the variance of every loop's recursion (replace:
t lambda_0 / n), on both paths, and the probability that the replace loop
has collapsed to 0 (the generating-function composition). The rate is a
scaled Poisson sum, light-tailed, so sample standard errors serve for the
mean and the fourth-moment standard error for the variance; the collapse
indicator is Bernoulli (exact standard error from the theory's p).

A run's false-fail rate is validate's ALPHA = 1e-4, Bonferroni-split over
every comparison of the run.
"""

from __future__ import annotations

import numpy as np

from ... import theory
from ...config import Accumulate, Augment, Config, Fresh, Replace
from ...families.poisson import Poisson
from ..records import Case, Comparison, doc

DOC_MEAN = doc("poisson", "poisson-mean")
DOC_VARIANCE = doc("poisson", "poisson-variance")
DOC_COLLAPSE = doc("poisson", "poisson-collapse")


def _at(name):
    return lambda ds, t: np.asarray(ds[name].sel(generation=t).values, dtype=np.float64)


def mean(cfg, t):
    return Comparison(
        "E rate", t, "mean", _at("rate"), lambda: float(theory.poisson_rate_mean(cfg, t)), DOC_MEAN
    )


def variance(cfg, t):
    return Comparison(
        "Var rate", t, "var", _at("rate"), lambda: float(theory.poisson_rate_variance(cfg, t)), DOC_VARIANCE
    )


def collapsed(cfg, t):
    def p():
        return float(theory.poisson_collapse_probability(cfg, t))

    return Comparison(
        "P(rate = 0)", t, "mean", _at("collapsed"), p, DOC_COLLAPSE, exact_var=lambda: p() * (1.0 - p())
    )


def build_cases() -> list:
    cases = []
    add = cases.append
    loops = (
        ("replace", Replace(n=20)),
        ("augment", Augment(real=10, synthetic=20)),
        ("fresh", Fresh(real=5, synthetic=20)),
        ("accumulate", Accumulate(synthetic=20)),
        ("accumulate-real", Accumulate(synthetic=10, real=3)),
    )
    for name, loop in loops:
        for path in ("exact", "samples"):
            sfx = "" if path == "exact" else "-samples"
            cfg = Config(family=Poisson(rate=2.0), loop=loop, path=path)
            add(
                Case(
                    f"poisson-{name}-rate2{sfx}",
                    f"Poisson {name}, rate 2 ({path})",
                    cfg,
                    100_000 if path == "exact" else 20_000,
                    (mean(cfg, 10), variance(cfg, 10), mean(cfg, 50), variance(cfg, 50)),
                    doc=DOC_VARIANCE,
                )
            )
    cfg = Config(family=Poisson(rate=0.1), loop=Replace(n=10))
    add(
        Case(
            "poisson-replace-collapse",
            "Poisson replace, rate 0.1, n = 10: P(collapsed to 0)",
            cfg,
            100_000,
            (collapsed(cfg, 1), collapsed(cfg, 10), collapsed(cfg, 100)),
            doc=DOC_COLLAPSE,
        )
    )
    return cases


# The quick subset's Poisson cases and their replicas (None: the case's own).
QUICK = {
    "poisson-replace-rate2": 40_000,
    "poisson-accumulate-rate2-samples": 10_000,
    "poisson-replace-collapse": 40_000,
}
