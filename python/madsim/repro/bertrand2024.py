"""Bertrand et al. (2024), ICLR: iterative retraining is stable when enough
of each generation's data is real."""

from __future__ import annotations

import numpy as np

import madsim as ms
from madsim import theory

from .base import Paper, Result, Setting, axes, compare, grid

KEY = "bertrand2024"
TOTAL = 100
REAL = (0, 5, 10, 25, 50, 100)  # real points of the TOTAL per generation
SIZES = {"quick": dict(R=3000, G=100, step=2), "full": dict(R=100_000, G=1000, step=20)}
# The paper's own loop (QB3/gen_models_dont_go_mad, iterative_retraining.py, mix()): every retraining uses the
# whole ORIGINAL real set again plus a share lambda (prop_gen_data) of the freshly generated samples, whose
# count equals the real set's (num_gen). For a Gaussian that is a fixed real set of n plus lambda n synthetic.
LAMBDAS = (0.5, 1.0)


def code_config(lam: float) -> ms.Config:
    """The paper's code's loop for the 1-D Gaussian (MLE): the same TOTAL
    real points every generation (drawn once) plus ``lam`` x TOTAL samples
    of the previous model.

    Examples
    --------
    >>> from madsim.repro import bertrand2024
    >>> bertrand2024.code_config(0.5).loop.synthetic
    50
    """
    return ms.Config(family=ms.Gaussian(), loop=ms.Augment(real=TOTAL, synthetic=round(lam * TOTAL)))


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
        ds = ms.simulate(
            cfg,
            replicas=s["R"],
            generations=s["G"],
            seed=400 + real,
            record=grid(s["G"], s["step"]),
            metrics=["var", "mean_sq"],
            threads=threads,
            progress=False,
        )
        out[real] = ds
        G = s["G"]
        if real == 0:
            rows.append(
                compare(
                    "real 0%: E ln sigma_t^2 (collapses)",
                    np.log(ds["var"].sel(generation=G).values),
                    t=G,
                    theory=theory.expected_log_var(cfg, G),
                    source="theory.expected_log_var",
                )
            )
            continue
        frac = f"real {real / TOTAL:.0%}"
        rows.append(
            compare(
                f"{frac}: E sigma_t^2 (stable)",
                ds["var"].sel(generation=G).values,
                t=G,
                theory=theory.expected_var(cfg, G),
                source="theory.expected_var",
            )
        )
        rows.append(
            compare(
                f"{frac}: E (mu_t - mu_0)^2",
                ds["mean_sq"].sel(generation=G).values,
                t=G,
                theory=theory.expected_mean_sq(cfg, G),
                source="theory.expected_mean_sq",
            )
        )
    for i, lam in enumerate(LAMBDAS):
        cfg, G = code_config(lam), s["G"]
        ds = ms.simulate(
            cfg,
            replicas=s["R"],
            generations=G,
            seed=450 + i,
            record=grid(G, s["step"]),
            metrics=["var", "mean_sq"],
            threads=threads,
            progress=False,
        )
        out[f"code lambda={lam}"] = ds
        for name, key, fn in (
            ("E sigma_t^2", "var", theory.expected_var),
            ("E (mu_t - mu_0)^2", "mean_sq", theory.expected_mean_sq),
        ):
            rows.append(
                compare(
                    f"paper's code loop, fixed real set + lambda={lam}: {name}",
                    ds[key].sel(generation=G).values,
                    t=G,
                    theory=fn(cfg, G),
                    source=f"theory.{fn.__name__}",
                )
            )
    return Result(
        KEY,
        size,
        out,
        rows,
        notes=[
            "The paper's code (iterative_retraining.py, mix()) retrains on the whole original real set every "
            "iteration plus lambda times as many fresh synthetic samples: the 'fixed real set + lambda' rows. The "
            "'real x%' rows are the theorem's setting, a fresh draw of the real distribution each generation.",
            "No number reported by the paper for a Gaussian was found (its experiments are neural networks on "
            "CIFAR-10 / FFHQ): the reference column is madsim.theory's closed form.",
        ],
    )


def _figure(result, ax=None):
    ax = axes(ax, 2)
    fr, v_mc, v_th, m_mc, m_th = [], [], [], [], []
    for real, ds in result.datasets.items():
        if not isinstance(real, int):  # the paper's code's loop: tabulated, not drawn
            continue
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
    ax[0].set(
        xlabel="generation t",
        ylabel="E sigma_t^2",
        yscale="log",
        title="variance: real 0% collapses, every other share holds (dashed: theory)",
    )
    ax[0].legend(fontsize=7)
    ax[1].plot(fr, v_mc, "o", label="E sigma^2, last generation")
    ax[1].plot(fr, v_th, "k--", lw=0.8, label="theory.fixed_point")
    ax[1].plot(fr, m_mc, "s", label="TOTAL x E (mu - mu_0)^2")
    ax[1].plot(fr, m_th, "k:", lw=0.8)
    ax[1].set(
        xlabel="fraction of real data per generation", title="the stable point against the real fraction"
    )
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
        Setting(
            "model",
            "1-D Gaussian N(0, 1), MLE refit: the maximum-likelihood setting of the paper's "
            "theorem, where the fit is exact",
            "paper, stability theorem",
        ),
        Setting(
            "real fraction",
            "0, 5, 10, 25, 50, 100 % of 100 points per generation",
            "paper's lambda (synthetic share) swept; counts madsim's choice",
        ),
        Setting(
            "the paper's code's loop",
            "the whole original real set reused every retraining plus lambda x "
            "its size of fresh synthetic samples (a subsample without replacement of as many generated "
            "samples as real ones); here TOTAL = 100 real points, lambda in {0.5, 1}",
            "paper's code: iterative_retraining.py (mix, iter_retrain) of QB3/gen_models_dont_go_mad; "
            "lambda values madsim's choice within the code's documented range (usually 0 to 1)",
        ),
        Setting("replicas x generations", "quick 3,000 x 100; full 100,000 x 1,000", "madsim's choice"),
    ),
    left_out="The paper's normalising flows and diffusion models (CIFAR-10, FFHQ) are neural networks: madsim "
    "has none. For the exact MLE Gaussian every real fraction > 0 is stable (the closed form's fixed "
    "point); the paper's threshold comes from its approximation error, which an exact fit does not have.",
    run_fn=_run,
    figure_fn=_figure,
    sizes={"quick": "8 configs x 3,000 x 100", "full": "8 configs x 100,000 x 1,000"},
)
