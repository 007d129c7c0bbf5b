"""``madsim validate`` cases of the bigram family: Monte Carlo of the kernel
against the martingale of docs/theory/categorical.md, section "Bigram:
sequences of one transition". With sequences of length 2 each row's visits
come from the fixed start law, independent of the transitions drawn, so a
visited row's refit is unbiased for model t-1's row and an unvisited row
keeps it: E P_t = P_0 at every generation (MLE, temperature 1, no
top-k/top-p, no smoothing). The entries are bounded, so sample standard
errors serve.
"""

from __future__ import annotations

import numpy as np

from ...config import Accumulate, Config, Fresh, Replace
from ...families.bigram import Bigram
from ..records import Case, Comparison, doc

DOC_PAIRS = doc("categorical", "bigram-pairs")


def transition(cfg, i: int, j: int, t: int, src=DOC_PAIRS) -> Comparison:
    """E P_t[i, j] = P_0[i, j]."""
    p0 = float(cfg.family.truth[i, j])
    return Comparison(
        f"E transition[{i},{j}]",
        t,
        "mean",
        lambda ds, t: np.asarray(ds["transition"].sel(generation=t).values[:, i, j], dtype=np.float64),
        lambda: p0,
        src,
    )


def build_cases() -> list:
    cases = []
    for name, loop in (
        ("sec7-bigram-pairs-replace", Replace(n=20)),
        ("sec7-bigram-pairs-fresh", Fresh(real=5, synthetic=15)),
        ("sec7-bigram-pairs-accumulate", Accumulate(synthetic=10)),
    ):
        cfg = Config(family=Bigram(tokens=4, length=2), loop=loop)
        comps = tuple(transition(cfg, i, j, t) for t in (5, 30) for i, j in ((0, 1), (1, 3), (2, 2)))
        cases.append(
            Case(
                name,
                f"bigram martingale E P_t = P_0, sequences of length 2: {type(loop).__name__}",
                cfg,
                20_000,
                comps,
                doc=DOC_PAIRS,
            )
        )
    return cases


# The quick subset's bigram cases and their replicas (None: the case's own).
QUICK = {"sec7-bigram-pairs-replace": 10_000}
