"""``madsim validate`` cases of the PPCA family (ms.PPCA): Monte Carlo of the
kernel against the invariant in trace form (docs/theory/ppca-gmm.md),
E[tr C_t + |mu_t - mu0|^2] = tr C0 (MLE, tau = 1, every loop), and against
the first moments E tr C_t, E |mu_t - mu0|^2 that PPCA shares with the
d-dim Gaussian where the invariant does not hold (``madsim.theory.common.trace_twin``).
Loops with real data are light-tailed; the replace case stays at n = 20,
t <= 20 (tr C_t's CV^2 ~ 2: sample standard errors serve).
"""

from __future__ import annotations

from ...config import Accumulate, AccumulateSubsample, Augment, Config, Filter, Fresh, Replace
from ...families.ppca import PPCA
from ..records import Case, doc
from .gaussian import c_invariant, c_mean, c_mean_sq, c_var

SEC7 = PPCA(dim=4, factors=1, spectrum=(5.0,), noise=0.25)  # docs/theory/ppca-gmm.md's example: tr C0 = 5.75
D5 = PPCA(
    dim=5,
    factors=2,
    loadings=((2.0, 0.3), (0.5, -1.5), (0.2, 0.4), (-0.3, 0.1), (0.0, 0.6)),
    noise=0.2,
    mean=(1.0, 0.0, -1.0, 2.0, 0.5),
)


DOC_INVARIANT = doc("ppca-gmm", "ppca-invariant")
DOC_MOMENTS = doc("ppca-gmm", "ppca-moments")


def _case(name, title, cfg, ts, R, invariant=True, moments=()):
    items = [c_invariant(cfg, t, DOC_INVARIANT) for t in (ts if invariant else ())]
    for t in moments:
        items += [c_var(cfg, t, DOC_MOMENTS), c_mean_sq(cfg, t, DOC_MOMENTS)]
    items.append(c_mean(cfg, max(ts + tuple(moments))))
    return Case(name, "PPCA " + title, cfg, R, tuple(items), doc=DOC_INVARIANT if invariant else DOC_MOMENTS)


def build_cases() -> list:
    return [
        _case(
            "ppca-sec7-replace-d4-q1-n20",
            "d=4 q=1 replace n=20",
            Config(family=SEC7, loop=Replace(n=20)),
            (5, 20),
            50_000,
            moments=(20,),
        ),
        _case(
            "ppca-invariant-fresh-filter-d5-q2",
            "d=5 q=2 fresh m=3 k=8, Filter(0.3, 0.1), samples",
            Config(family=D5, loop=Fresh(real=3, synthetic=8), filter=Filter(0.3, 0.1), path="samples"),
            (5, 30),
            40_000,
        ),
        _case(
            "ppca-invariant-augment-d5-q2",
            "d=5 q=2 augment m=6 k=6",
            Config(family=D5, loop=Augment(real=6, synthetic=6)),
            (5, 30),
            40_000,
        ),
        _case(
            "ppca-invariant-accumulate-d4-q1",
            "d=4 q=1 accumulate 5 syn + 1 real",
            Config(family=SEC7, loop=Accumulate(synthetic=5, real=1)),
            (5, 30),
            40_000,
        ),
        _case(
            "ppca-invariant-subsample-d4-q1",
            "d=4 q=1 accumulate-subsample n=8, 4 syn + 1 real (samples)",
            Config(family=SEC7, loop=AccumulateSubsample(n=8, synthetic=4, real=1), path="samples"),
            (5, 20),
            10_000,
        ),
        _case(
            "ppca-moments-fresh-unbiased-tau-d5-q2",
            "d=5 q=2 fresh m=4 k=10, unbiased, tau=0.9",
            Config(family=D5, loop=Fresh(real=4, synthetic=10), estimator="unbiased", temperature=0.9),
            (3,),
            40_000,
            invariant=False,
            moments=(3, 20),
        ),
        _case(
            "ppca-moments-fresh-truncation-d4-q1",
            "d=4 q=1 fresh m=4 k=8, truncation k=1.5 (samples)",
            Config(family=SEC7, loop=Fresh(real=4, synthetic=8), truncation=1.5, path="samples"),
            (3,),
            20_000,
            invariant=False,
            moments=(3, 15),
        ),
    ]


# The quick subset (CI) and its replicas (None: the case's own).
QUICK = {
    "ppca-sec7-replace-d4-q1-n20": 20_000,
    "ppca-invariant-fresh-filter-d5-q2": 10_000,
}
