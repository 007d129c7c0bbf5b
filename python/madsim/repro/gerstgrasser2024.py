"""Gerstgrasser et al. (2024) and Dohmatob, Feng & Kempe (2024): linear
regression's test error grows linearly in t under replace and stays below
pi^2/6 times generation 1's under accumulate."""

from __future__ import annotations

import math

import madsim as ms
from madsim import theory

from .base import Paper, Result, Setting, axes, compare

KEY = "gerstgrasser2024"
D, T, NOISE = 5, 20, 1.0
SIZES = {"quick": dict(R=4000, G=20), "full": dict(R=100_000, G=100)}
UNIT = NOISE * D / (T - D - 1)  # generation 1's test error, sigma^2 d / (T - d - 1)


def config(loop: str) -> ms.Config:
    """The paper's fixed-design regression: d = 5, T = 20 rows relabelled
    every generation, noise 1, OLS; ``loop`` "replace" or "accumulate".

    Examples
    --------
    >>> from madsim.repro import gerstgrasser2024
    >>> gerstgrasser2024.config("accumulate").family.design
    'fixed'
    """
    fam = ms.Regression(dim=D, noise=NOISE, design="fixed")
    if loop == "replace":
        return ms.Config(family=fam, loop=ms.Replace(n=T))
    if loop == "accumulate":
        return ms.Config(family=fam, loop=ms.Accumulate(synthetic=T))
    raise ValueError(f"loop must be replace or accumulate; got {loop!r}")


def _run(size, threads):
    s = SIZES[size]
    out, rows, G = {}, [], s["G"]
    for i, loop in enumerate(("replace", "accumulate")):
        cfg = config(loop)
        ds = ms.simulate(
            cfg,
            replicas=s["R"],
            generations=G,
            seed=700 + i,
            record=ms.every(1),
            metrics=["test_error"],
            threads=threads,
            progress=False,
        )
        out[loop] = ds
        for t in sorted({1, G // 2, G}):
            paper = UNIT * t if loop == "replace" else UNIT * sum(1.0 / i**2 for i in range(1, t + 1))
            rows.append(
                compare(
                    f"{loop}: E test error",
                    ds["test_error"].sel(generation=t).values,
                    t=t,
                    paper=paper,
                    theory=theory.expected_test_error(cfg, t),
                    source="paper's theorem: sigma^2 d/(T-d-1) x (t | sum 1/i^2); theory.expected_test_error",
                )
            )
    return Result(
        KEY,
        size,
        out,
        rows,
        notes=[f"accumulate's bound: pi^2/6 x {UNIT:.4f} = {math.pi**2 / 6 * UNIT:.4f} for every t"],
    )


def _figure(result, ax=None):
    ax = axes(ax)
    for loop, ds in result.datasets.items():
        t = ds["generation"].values
        ax.plot(t, ds["test_error"].mean("replica"), "o", ms=3, label=f"{loop} (madsim)")
        ax.plot(t, theory.expected_test_error(config(loop), t), "k--", lw=0.8)
    ax.axhline(math.pi**2 / 6 * UNIT, color="r", ls=":", label="pi^2/6 sigma^2 d/(T-d-1)")
    ax.set(
        xlabel="generation t",
        ylabel="E test error",
        yscale="log",
        title=f"linear regression d = {D}, T = {T}, fixed design (dashed: theory)",
    )
    ax.legend(fontsize=8)
    return ax


PAPER = Paper(
    key=KEY,
    authors="Gerstgrasser, Schaeffer, Dey, Rafailov, et al.; Dohmatob, Feng, Kempe",
    year=2024,
    title="Is model collapse inevitable? Breaking the curse of recursion by accumulating real and synthetic "
    "data (with: Model collapse demystified: the case of regression, NeurIPS 2024, arXiv 2402.07712)",
    venue="arXiv preprint; NeurIPS 2024",
    arxiv="2404.01413",
    claim="Linear regression refit on its own labels: the test error grows linearly in t when data is "
    "replaced (sigma^2 d t/(T-d-1)) and stays below pi^2/6 times generation 1's when it accumulates.",
    settings=(
        Setting(
            "model",
            "linear regression, fixed design X (T x d) relabelled each generation, OLS, noise "
            "sigma^2 of the truth on synthetic labels",
            "papers' theorems (Dohmatob et al.; Gerstgrasser et al., linear regression section)",
        ),
        Setting(
            "sizes",
            f"d = {D}, T = {T}, sigma^2 = {NOISE}",
            "madsim's choice (the theorems hold for every T > d + 1)",
        ),
        Setting("replicas x generations", "quick 4,000 x 20; full 100,000 x 100", "madsim's choice"),
    ),
    left_out="Gerstgrasser et al.'s language models, diffusion and VAE experiments are neural networks: madsim "
    "has none. Only the linear-regression theorems are reproduced.",
    run_fn=_run,
    figure_fn=_figure,
    sizes={"quick": "2 x 4,000 x 20", "full": "2 x 100,000 x 100"},
)
