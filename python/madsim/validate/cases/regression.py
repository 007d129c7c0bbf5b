"""``madsim validate`` cases of the regression family: Monte Carlo of the
kernel against docs/theory/regression.md (``madsim.theory.regression``): the
test error of the replace loop (fixed and fresh designs: n sigma^2 d/(T-d-1)),
of the accumulate loop (fixed design: sigma^2 d/(T-d-1) sum 1/i^2; fresh:
sigma^2 sum d/(i(iT-d-1))), and the noise estimate's collapse with
refit_noise (E s_t^2 = sigma^2 ((T-d)/T)^t for the mle). The test error is a
quadratic form in an inverse Wishart matrix: with T - d - 1 >= 8 its moments
up to the fourth exist, so sample standard errors serve. With refit_noise the
noise estimate is a product of t iid chi-square factors (lognormal-like:
CV^2 = (1 + 2/(T-d))^t - 1), compared only up to t = 10 (CV^2 = 6.4 at
T - d = 9, within validate's MAX_CV2_LOGNORMAL = 7).
"""

from __future__ import annotations

import numpy as np

from ... import theory
from ...config import Accumulate, Config, Fresh, Replace
from ...families.regression import Regression
from ..records import Case, Comparison, doc

DOC_REPLACE = doc("regression", "regression-replace")
DOC_ACCUMULATE = doc("regression", "regression-accumulate")
DOC_NOISE = doc("regression", "regression-refit-noise")
DOC_WEIGHTED = doc("regression", "regression-weighted")


def _at(name):
    return lambda ds, t: np.asarray(ds[name].sel(generation=t).values, dtype=np.float64)


def test_error(cfg, t, src=None):
    if src is None:
        src = DOC_ACCUMULATE if isinstance(cfg.loop, Accumulate) else DOC_REPLACE
    return Comparison(
        "E test_error", t, "mean", _at("test_error"), lambda: float(theory.expected_test_error(cfg, t)), src
    )


def noise_var(cfg, t, src=DOC_NOISE):
    fam, n = cfg.family, cfg.loop.n
    return Comparison(
        "E noise_var",
        t,
        "mean",
        _at("noise_var"),
        lambda: float(theory.expected_noise_var(t, n, fam.dim, fam.noise, cfg.estimator, fam.refit_noise)),
        src,
    )


def build_cases() -> list:
    cases = []
    add = cases.append
    cov5 = (np.eye(5) + 0.3 * np.ones((5, 5))).tolist()
    for design in ("fixed", "fresh"):
        for path in ("exact", "samples"):
            sfx = "" if path == "exact" else "-samples"
            R = 40_000 if path == "exact" else 10_000
            cfg = Config(family=Regression(dim=5, design=design), loop=Replace(n=20), path=path)
            add(
                Case(
                    f"sec5b-replace-{design}-d5-T20{sfx}",
                    f"regression replace, {design} design, d=5, T=20, sigma=1 ({path})",
                    cfg,
                    R,
                    (test_error(cfg, 1), test_error(cfg, 10), noise_var(cfg, 10)),
                    doc=DOC_REPLACE,
                )
            )
            cfg = Config(family=Regression(dim=5, design=design), loop=Accumulate(synthetic=20), path=path)
            add(
                Case(
                    f"sec5b-accumulate-{design}-d5-T20{sfx}",
                    f"regression accumulate, {design} design, d=5, T=20, sigma=1 ({path})",
                    cfg,
                    R,
                    (test_error(cfg, 1), test_error(cfg, 10), test_error(cfg, 30)),
                    doc=DOC_ACCUMULATE,
                )
            )
    cfg = Config(family=Regression(dim=5, cov=cov5, weights=2.0, noise=0.5), loop=Replace(n=30))
    add(
        Case(
            "sec5b-replace-cov-d5-T30",
            "regression replace, correlated Sigma, w* = 2, sigma^2 = 0.5",
            cfg,
            40_000,
            (test_error(cfg, 5), test_error(cfg, 50), noise_var(cfg, 50)),
            doc=DOC_REPLACE,
        )
    )
    for est in ("mle", "unbiased"):
        cfg = Config(family=Regression(dim=3, refit_noise=True), loop=Replace(n=12), estimator=est)
        add(
            Case(
                f"sec5b-refit-noise-{est}-d3-T12",
                f"regression replace, labels with the fit's noise estimate ({est})",
                cfg,
                40_000,
                (noise_var(cfg, 5), noise_var(cfg, 10), test_error(cfg, 10)),
                doc=DOC_NOISE,
            )
        )
    for name, title, fam, loop, w, path in (
        (
            "hxc-regression-optimal-d3-n20-m20",
            "weighted fresh regression, w = optimal = 1/phi, d=3, n=m=20",
            Regression(dim=3),
            Fresh(real=20, synthetic=20),
            "optimal",
            "exact",
        ),
        (
            "hxc-regression-0.3-d3-n20-m40-samples",
            "weighted fresh regression, w=0.3, d=3, n=20, m=40 (samples)",
            Regression(dim=3),
            Fresh(real=20, synthetic=40),
            0.3,
            "samples",
        ),
        (
            "hxc-regression-0.5-refit-noise-d3-n15-m25",
            "weighted fresh regression, w=0.5, labels with the fitted noise, d=3",
            Regression(dim=3, refit_noise=True),
            Fresh(real=15, synthetic=25),
            0.5,
            "exact",
        ),
    ):
        cfg = Config(family=fam, loop=loop, weight=w, path=path)
        R = 40_000 if path == "exact" else 10_000
        add(
            Case(
                name,
                title,
                cfg,
                R,
                tuple(test_error(cfg, t, DOC_WEIGHTED) for t in (1, 5, 60)),
                doc=DOC_WEIGHTED,
            )
        )
    return cases


# The quick subset's regression cases and their replicas (None: the case's own).
QUICK = {
    "sec5b-replace-fixed-d5-T20": 20_000,
    "sec5b-accumulate-fresh-d5-T20": 20_000,
    "sec5b-accumulate-fixed-d5-T20-samples": 5_000,
    "sec5b-refit-noise-mle-d3-T12": 20_000,
    "hxc-regression-optimal-d3-n20-m20": 20_000,
}
