"""``madsim validate`` cases of the categorical token family: Monte Carlo of
the kernel against the closed forms of docs/theory/categorical.md: the
neutral Wright-Fisher replace loop (Gini-Simpson decay, surviving tokens,
total collapse), the fresh-data loop (the distance recursion) and the
martingale E p_t = p0 of every MLE loop. The exact values come from
``madsim.theory`` (module ``madsim.theory.categorical``); token metrics are
light-tailed (bounded), so sample standard errors serve.
"""

from __future__ import annotations

import numpy as np

from ... import theory
from ...config import Accumulate, AccumulateSubsample, Augment, Config, Filter, Fresh, Replace
from ...families.categorical import Categorical
from ..records import Case, Comparison, doc

P5 = (0.5, 0.2, 0.15, 0.1, 0.05)  # the truth of docs/theory/categorical.md's fresh-data example

DOC_WF = doc("categorical", "categorical-summary")
DOC_GINI = doc("categorical", "categorical-gini-simpson")
DOC_SURVIVAL = doc("categorical", "categorical-survival")
DOC_ONE_LEFT = doc("categorical", "categorical-one-left")
DOC_MARTINGALE = doc("categorical", "categorical-martingale")
DOC_FRESH = doc("categorical", "categorical-fresh")


def _at(name):
    return lambda ds, t: np.asarray(ds[name].sel(generation=t).values, dtype=np.float64)


def _dist_sq(p_star):
    p_star = np.asarray(p_star)
    return lambda ds, t: ((ds["probs"].sel(generation=t).values - p_star) ** 2).sum(-1)


def _one_left(ds, t):
    return (_at("support")(ds, t) == 1.0).astype(np.float64)


def gini(cfg, t, src=DOC_GINI):
    fam, n = cfg.family, cfg.loop.n
    return Comparison(
        "E gini_simpson",
        t,
        "mean",
        _at("gini_simpson"),
        lambda: float(theory.gini_simpson(t, n, fam.truth)),
        src,
    )


def survivors(cfg, t, src=DOC_SURVIVAL):
    fam, n = cfg.family, cfg.loop.n
    return Comparison(
        "E support", t, "mean", _at("support"), lambda: float(theory.expected_survivors(t, n, fam.truth)), src
    )


def one_left(cfg, t, src=DOC_ONE_LEFT):
    fam, n = cfg.family, cfg.loop.n
    return Comparison(
        "P(one token left)", t, "mean", _one_left, lambda: float(theory.prob_one_left(t, n, fam.truth)), src
    )


def rare_mass(cfg, t, src=DOC_MARTINGALE):
    fam = cfg.family
    return Comparison(
        "E rare_mass", t, "mean", _at("rare_mass"), lambda: float(fam.truth[fam.rare_tokens].sum()), src
    )


def fresh(cfg, t, src=DOC_FRESH):
    loop, p = cfg.loop, cfg.family.truth
    return (
        Comparison(
            "E |p_t - p*|^2",
            t,
            "mean",
            _dist_sq(p),
            lambda: float(theory.fresh_distance(t, loop.real, loop.synthetic, p)),
            src,
        ),
        Comparison(
            "E gini_simpson",
            t,
            "mean",
            _at("gini_simpson"),
            lambda: float(theory.fresh_gini_simpson(t, loop.real, loop.synthetic, p)),
            src,
        ),
    )


def build_cases() -> list:
    cases = []
    add = cases.append
    for path in ("exact", "samples"):
        cfg = Config(family=Categorical(tokens=5), loop=Replace(n=50), path=path)
        sfx = "" if path == "exact" else "-samples"
        add(
            Case(
                f"sec6-wf-n50-k5{sfx}",
                f"categorical replace (Wright-Fisher), n=50, K=5 equal ({path})",
                cfg,
                40_000,
                (
                    gini(cfg, 1),
                    gini(cfg, 10),
                    gini(cfg, 100),
                    survivors(cfg, 100),
                    one_left(cfg, 100),
                    rare_mass(cfg, 100),
                ),
                doc=DOC_WF,
            )
        )
    cfg = Config(family=Categorical(tokens=100), loop=Replace(n=100))
    add(
        Case(
            "sec6-wf-n100-100-distinct",
            "categorical replace, n=100 from 100 distinct tokens",
            cfg,
            20_000,
            (survivors(cfg, 10), survivors(cfg, 100), gini(cfg, 100)),
            doc=DOC_SURVIVAL,
        )
    )
    cfg = Config(family=Categorical(tokens=40, zipf=1.2, rare=0.25), loop=Replace(n=30))
    add(
        Case(
            "sec6-wf-zipf-n30",
            "categorical replace, n=30, K=40 Zipf(1.2): decay, survivors, martingale",
            cfg,
            20_000,
            (gini(cfg, 5), gini(cfg, 40), survivors(cfg, 40), rare_mass(cfg, 40)),
            doc=DOC_WF,
        )
    )
    for m, k, n_rep in ((10, 10, 40_000), (5, 40, 40_000)):
        cfg = Config(family=Categorical(probs=P5), loop=Fresh(real=m, synthetic=k))
        add(
            Case(
                f"sec4d-fresh-m{m}-k{k}",
                f"categorical fresh data, m={m} real + k={k} synthetic",
                cfg,
                n_rep,
                fresh(cfg, 5) + fresh(cfg, 100),
                doc=DOC_FRESH,
            )
        )
    mart = [
        ("sec7-tokens-augment-weighted", Augment(real=8, synthetic=12), dict(weight=0.4)),
        ("sec7-tokens-accumulate-filter", Accumulate(synthetic=10, real=2), dict(filter=Filter(0.3, 0.3))),
        ("sec7-tokens-subsample", AccumulateSubsample(n=10, synthetic=10, real=1), {}),
        (
            "sec7-tokens-fresh-filter-samples",
            Fresh(real=3, synthetic=12),
            dict(filter=Filter(0.5, 0.2), path="samples"),
        ),
    ]
    for name, loop, kw in mart:
        cfg = Config(family=Categorical(tokens=20, zipf=1.0, rare=0.2), loop=loop, **kw)
        add(
            Case(
                name,
                f"categorical martingale E p_t = p0: {type(loop).__name__} {kw or ''}",
                cfg,
                20_000,
                (rare_mass(cfg, 5), rare_mass(cfg, 30)),
                doc=DOC_MARTINGALE,
            )
        )
    return cases


# The quick subset's token cases and their replicas (None: the case's own).
QUICK = {
    "sec6-wf-n50-k5": 20_000,
    "sec6-wf-n50-k5-samples": 10_000,
    "sec4d-fresh-m5-k40": 20_000,
    "sec7-tokens-accumulate-filter": 10_000,
}
