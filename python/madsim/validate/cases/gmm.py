"""``madsim validate`` cases of the Gaussian-mixture family (EM refit): the
invariant of docs/theory/ppca-gmm.md, section "Gaussian mixture". Under MLE EM with tau = 1 every M-step
leaves the mixture's mean and the trace of its second moment equal to the
training sample's (full covariances: the whole second-moment matrix; diag
and spherical keep tr S_j), so E[model mean] and E[model E|x|^2] stay the
truth's at every generation, for every loop and the provenance filter
(Accumulate: the training sample is the pool of every point drawn so far,
whose mean the next generation's draws keep in expectation). The
covariance floor breaks it only where hit, by at most d cov_floor per
floored component (1e-6 here: far below any standard error). Both
quantities are light-tailed, so sample standard errors serve.
"""

from __future__ import annotations

import numpy as np

from ...config import Accumulate, Augment, Config, Filter, Fresh, Replace
from ...families.gmm import GaussianMixture
from ..records import Case, Comparison, doc

DOC_GMM = doc("ppca-gmm", "gmm-invariant")


def _second(ds, t):
    return np.asarray(ds["second_moment"].sel(generation=t).values, dtype=np.float64)


def _mean(c):
    return lambda ds, t: np.asarray(ds["mix_mean"].sel(generation=t).values[:, c], dtype=np.float64)


def invariant(cfg, ts, src=DOC_GMM):
    fam = cfg.family
    items = [Comparison("E second_moment", t, "mean", _second, lambda: fam.second_moment, src) for t in ts]
    items += [
        Comparison(f"E mix_mean[{c}]", ts[-1], "mean", _mean(c), lambda c=c: float(fam.mixture_mean[c]), src)
        for c in range(fam.dim)
    ]
    return tuple(items)


def build_cases() -> list:
    cases = []
    add = cases.append
    cfg = Config(family=GaussianMixture(), loop=Replace(n=50))  # the example of docs/theory/ppca-gmm.md
    add(
        Case(
            "sec7-gmm-1d-n50",
            "GMM EM, 1-D 2 components (means -+2, var 1), replace n=50",
            cfg,
            20_000,
            invariant(cfg, (5, 20)),
            doc=DOC_GMM,
        )
    )
    fam = GaussianMixture(
        weights=[0.2, 0.5, 0.3],
        means=[[0, 0], [2, 1], [-1, 3]],
        cov_type="diag",
        covs=[[1.0, 0.5], [0.7, 2.0], [1.0, 1.0]],
    )
    cfg = Config(family=fam, loop=Fresh(real=4, synthetic=16), filter=Filter(0.3, 0.2))
    add(
        Case(
            "sec7-gmm-d2-fresh-filter-diag",
            "GMM EM, d=2 k=3 diag, fresh 4 + 16, Filter(0.3, 0.2)",
            cfg,
            10_000,
            invariant(cfg, (3, 10)),
            doc=DOC_GMM,
        )
    )
    fam = GaussianMixture(
        weights=[0.6, 0.4], means=[[0, 0, 0], [1, 2, 0]], cov_type="spherical", covs=[1.0, 0.5]
    )
    cfg = Config(family=fam, loop=Augment(real=10, synthetic=20))
    add(
        Case(
            "sec7-gmm-d3-augment-spherical",
            "GMM EM, d=3 k=2 spherical, augment 10 fixed + 20",
            cfg,
            10_000,
            invariant(cfg, (3, 10)),
            doc=DOC_GMM,
        )
    )
    fam = GaussianMixture(
        weights=[0.3, 0.7], means=[[-1, 0], [2, 1]], covs=[[[1.0, 0.3], [0.3, 0.5]], [[0.8, 0.0], [0.0, 1.5]]]
    )
    cfg = Config(family=fam, loop=Accumulate(real=2, synthetic=10))
    add(
        Case(
            "sec7-gmm-d2-accumulate",
            "GMM EM, d=2 k=2 full, accumulate 2 real + 10 per generation",
            cfg,
            10_000,
            invariant(cfg, (3, 10)),
            doc=DOC_GMM,
        )
    )
    return cases


# The quick subset's mixture cases and their replicas (None: the case's own).
QUICK = {"sec7-gmm-1d-n50": 5_000}
