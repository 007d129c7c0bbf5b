"""Bertrand et al. (2024), ICLR: iterative retraining is stable when enough
of each generation's data is real."""

from __future__ import annotations

import numpy as np

import madsim as ms
from madsim import theory

from ._base import Paper, Result, Setting, axes, compare, grid

KEY = "bertrand2024"
TOTAL = 100
REAL = (0, 5, 10, 25, 50, 100)        # real points of the TOTAL per generation
SIZES = {"quick": dict(R=3000, G=100, step=2), "full": dict(R=100_000, G=1000, step=20)}


def config(real: int) -> ms.Config:
    """The 1-D Gaussian refit (MLE) on ``real`` fresh real points and
    TOTAL - ``real`` synthetic ones per generation (real = 0: fully synthetic).

    Examples
    --------
    >>> from madsim.repro import bertrand2024
    >>> bertrand2024.config(25).loop.synthetic
    75
    """
    if real == 0:
        return ms.Config(family=ms.Gaussian(), loop=ms.Replace(n=TOTAL))
    return ms.Config(family=ms.Gaussian(), loop=ms.Fresh(real=real, synthetic=TOTAL - real))


def _run(size, threads):
    s = SIZES[size]
    out, rows = {}, []
    for real in REAL:
        cfg = config(real)
        ds = ms.simulate(cfg, replicas=s["R"], generations=s["G"], seed=400 + real, record=grid(s["G"], s["step"]),
                         metrics=["var", "mean_sq"], threads=threads, progress=False)
        out[real] = ds
        G = s["G"]
        if real == 0:
            rows.append(compare("real 0%: E ln sigma_t^2 (collapses)", np.log(ds["var"].sel(generation=G).values),
                                t=G, theory=theory.expected_log_var(cfg, G), source="theory.expected_log_var"))
            continue
        frac = f"real {real / TOTAL:.0%}"
        rows.append(compare(f"{frac}: E sigma_t^2 (stable)", ds["var"].sel(generation=G).values, t=G,
                            theory=theory.expected_var(cfg, G), source="theory.expected_var"))
        rows.append(compare(f"{frac}: E (mu_t - mu_0)^2", ds["mean_sq"].sel(generation=G).values, t=G,
                            theory=theory.expected_mean_sq(cfg, G), source="theory.expected_mean_sq"))
    return Result(KEY, size, out, rows)


def _figure(result, ax=None):
    ax = axes(ax, 2)
    fr, v_mc, v_th, m_mc, m_th = [], [], [], [], []
    for real, ds in result.datasets.items():
        cfg = config(real)
        t = ds["generation"].values
        ax[0].plot(t, ds["var"].mean("replica"), label=f"real {real / TOTAL:.0%}")
        ax[0].plot(t, theory.expected_var(cfg, t), "k--", lw=0.8)
        if real:
            fp = theory.fixed_point(cfg)
            fr.append(real / TOTAL)
            v_mc.append(float(ds["var"].isel(generation=-1).mean()))
            m_mc.append(float(ds["mean_sq"].isel(generation=-1).mean()) * TOTAL)
            v_th.append(fp.var)
            m_th.append(fp.mean_sq * TOTAL)
    ax[0].set(xlabel="generation t", ylabel="E sigma_t^2", yscale="log",
              title="variance: real 0% collapses, every other share holds (dashed: theory)")
    ax[0].legend(fontsize=7)
    ax[1].plot(fr, v_mc, "o", label="E sigma^2, last generation")
    ax[1].plot(fr, v_th, "k--", lw=0.8, label="theory.fixed_point")
    ax[1].plot(fr, m_mc, "s", label="TOTAL x E (mu - mu_0)^2")
    ax[1].plot(fr, m_th, "k:", lw=0.8)
    ax[1].set(xlabel="fraction of real data per generation", title="the stable point against the real fraction")
    ax[1].legend(fontsize=7)
    return ax


PAPER = Paper(
    key=KEY,
    authors="Bertrand, Bose, Duplessis, Jiralerspong, Gidel",
    year=2024,
    title="On the stability of iterative retraining of generative models on their own data",
    venue="ICLR 2024",
    arxiv="2310.00429",
    claim="Retraining on a mix of real and self-generated data is stable (the model stays near the truth) "
          "when the real fraction is large enough; fully synthetic retraining collapses.",
    settings=(
        Setting("model", "1-D Gaussian N(0, 1), MLE refit: the maximum-likelihood setting of the paper's "
                "theorem, where the fit is exact", "paper, stability theorem"),
        Setting("real fraction", "0, 5, 10, 25, 50, 100 % of 100 points per generation",
                "paper's lambda (synthetic share) swept; counts madsim's choice"),
        Setting("replicas x generations", "quick 3,000 x 100; full 100,000 x 1,000", "madsim's choice"),
    ),
    left_out="The paper's normalising flows and diffusion models (CIFAR-10, FFHQ) are neural networks: madsim "
             "has none. For the exact MLE Gaussian every real fraction > 0 is stable (the closed form's fixed "
             "point); the paper's threshold comes from its approximation error, which an exact fit does not have.",
    run_fn=_run, figure_fn=_figure,
    sizes={"quick": "6 configs x 3,000 x 100", "full": "6 configs x 100,000 x 1,000"},
)
