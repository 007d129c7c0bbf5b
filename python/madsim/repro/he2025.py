"""He, Xu & Cheng (2025), JRSS-B: weighting the real and synthetic fits of
the fresh-data loop; the optimal real weight 1/phi for equal counts."""

from __future__ import annotations

import numpy as np

import madsim as ms
from madsim import theory

from ._base import Paper, Result, Setting, axes, compare

KEY = "he2025"
N_REAL = 10
RATIOS = (1, 4)                        # synthetic / real
PHI = (1 + 5 ** 0.5) / 2
WEIGHTS = (0.2, 0.4, 0.5, 1 / PHI, 0.8, 1.0)
SIZES = {"quick": dict(R=3000, G=60), "full": dict(R=100_000, G=100)}


def config(w, ratio: int) -> ms.Config:
    """The weighted fresh loop: N(0, 1), 10 real and 10 x ``ratio`` synthetic
    points per generation, unbiased pieces, fit w x real + (1 - w) x synthetic
    (``w`` a float or "optimal").

    Examples
    --------
    >>> from madsim.repro import he2025
    >>> he2025.config("optimal", 1).weight
    'optimal'
    """
    return ms.Config(family=ms.Gaussian(), loop=ms.Fresh(real=N_REAL, synthetic=N_REAL * ratio),
                     estimator="unbiased", weight=w)


def _run(size, threads):
    s = SIZES[size]
    out, rows, G = {}, [], s["G"]
    for j, ratio in enumerate(RATIOS):
        opt = theory.optimal_weight(N_REAL, N_REAL * ratio)
        ws = sorted({round(w, 9) for w in WEIGHTS} | {round(opt, 9)})
        for i, w in enumerate(ws):
            cfg = config(float(w), ratio)
            ds = ms.simulate(cfg, replicas=s["R"], generations=G, seed=800 + 50 * j + i, record=[G],
                             metrics=["mean_sq"], threads=threads, progress=False)
            out[(ratio, float(w))] = ds
            star = abs(w - opt) < 1e-8
            # the paper's optimum for m = n: w* = 1/phi, and the error it gives there
            paper = theory.hxc_stationary_mse(1 / PHI, N_REAL, N_REAL) if (star and ratio == 1) else None
            label = f"m/n = {ratio}, w = {w:.4f}" + (" (optimal)" if star else "")
            rows.append(compare(f"{label}: E (mu_t - mu_0)^2", ds["mean_sq"].sel(generation=G).values, t=G,
                                paper=paper, theory=theory.hxc_stationary_mse(float(w), N_REAL, N_REAL * ratio),
                                source="theory.hxc_stationary_mse"))
    return Result(KEY, size, out, rows)


def _figure(result, ax=None):
    ax = axes(ax)
    grid = np.linspace(0.05, 1.0, 200)
    for ratio in RATIOS:
        pts = sorted((w, float(ds["mean_sq"].isel(generation=-1).mean()))
                     for (r, w), ds in result.datasets.items() if r == ratio)
        line, = ax.plot([p[0] for p in pts], [N_REAL * p[1] for p in pts], "o", label=f"m/n = {ratio} (madsim)")
        ax.plot(grid, [N_REAL * theory.hxc_stationary_mse(w, N_REAL, N_REAL * ratio) for w in grid],
                "--", color=line.get_color(), lw=0.8)
        ax.axvline(theory.optimal_weight(N_REAL, N_REAL * ratio), color=line.get_color(), ls=":", lw=0.8)
    ax.set(xlabel="weight of the real fit w", ylabel="n E (mu - mu_0)^2 (stationary)", ylim=(0.3, 2.5),
           title="weighted fresh loop (dashed: theory; dotted: optimal w, 1/phi for m = n)")
    ax.legend(fontsize=8)
    return ax


PAPER = Paper(
    key=KEY,
    authors="He, Xu, Cheng",
    year=2025,
    title="Recursive learning without collapse: a weighting-based stabilization framework",
    venue="Journal of the Royal Statistical Society Series B",
    arxiv="2502.18049",
    claim="Weighting the fit on fresh real data against the fit on the previous model's samples, the "
          "stationary error is minimised at a weight that depends only on the synthetic/real ratio; for "
          "equal counts it is 1/phi = 0.618, the reciprocal of the golden ratio.",
    settings=(
        Setting("model", "Gaussian mean estimation N(0, 1), fresh real + synthetic data each generation, "
                "weighted unbiased fits", "paper, Gaussian section"),
        Setting("counts", f"n = {N_REAL} real, m = n or 4n synthetic", "madsim's choice (the result depends "
                "on m/n only)"),
        Setting("weights", "0.2 ... 1 and the optimal w*", "paper's weight sweep; grid madsim's choice"),
        Setting("replicas x generations", "quick 3,000 x 60; full 100,000 x 100 (stationary by then)",
                "madsim's choice"),
    ),
    left_out="The paper's generalised linear models, nonparametric estimators and its real tabular data set "
             "are not madsim families; the Gaussian part is reproduced.",
    run_fn=_run, figure_fn=_figure,
    sizes={"quick": "13 configs x 3,000 x 60", "full": "13 configs x 100,000 x 100"},
)
