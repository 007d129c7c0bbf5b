"""Alemohammad et al. (2024), ICLR: the fully synthetic, synthetic
augmentation and fresh data loops, with and without sampling bias, and the
vanishing tails."""

from __future__ import annotations


import madsim as ms
from madsim import theory

from .base import Paper, Result, Setting, axes, compare, grid

KEY = "alemohammad2024"
N, REAL = 100, 20
TAUS = (1.0, 0.9)
LOOPS = {
    "fully synthetic": lambda: ms.Replace(n=N),
    "synthetic augmentation": lambda: ms.Augment(real=REAL, synthetic=N),
    "fresh data": lambda: ms.Fresh(real=REAL, synthetic=N),
}
SIZES = {"quick": dict(R=3000, G=40, step=2), "full": dict(R=100_000, G=400, step=10)}
T_REPLACE = 40  # the replace loop's sigma^2 is heavy-tailed: compared at t = 40 (CV^2 <= 0.5)


def config(loop: str, tau: float) -> ms.Config:
    """The 1-D Gaussian cell of one loop (``"fully synthetic"``, ``"synthetic
    augmentation"`` or ``"fresh data"``) at temperature ``tau`` (tau < 1 is
    the paper's sampling bias toward quality).

    Examples
    --------
    >>> from madsim.repro import alemohammad2024
    >>> alemohammad2024.config("fresh data", 0.9).temperature
    0.9
    """
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {list(LOOPS)}; got {loop!r}")
    return ms.Config(family=ms.Gaussian(), loop=LOOPS[loop](), temperature=tau)


def _run(size, threads):
    s = SIZES[size]
    out, rows = {}, []
    for i, (loop, tau) in enumerate((lp, tau) for lp in LOOPS for tau in TAUS):
        cfg = config(loop, tau)
        ds = ms.simulate(
            cfg,
            replicas=s["R"],
            generations=s["G"],
            seed=300 + i,
            record=grid(s["G"], s["step"], T_REPLACE),
            metrics=["var", "mean_sq", "tail3"],
            threads=threads,
            progress=False,
        )
        out[f"{loop}, tau={tau}"] = ds
        t = T_REPLACE if loop == "fully synthetic" else s["G"]
        rows.append(
            compare(
                f"{loop}, tau={tau}: E sigma_t^2",
                ds["var"].sel(generation=t).values,
                t=t,
                theory=theory.expected_var(cfg, t),
                source="theory.expected_var",
            )
        )
        if loop != "fully synthetic":
            rows.append(
                compare(
                    f"{loop}, tau={tau}: E (mu_t - mu_0)^2",
                    ds["mean_sq"].sel(generation=t).values,
                    t=t,
                    theory=theory.expected_mean_sq(cfg, t),
                    source="theory.expected_mean_sq",
                )
            )
    return Result(
        KEY,
        size,
        out,
        rows,
        notes=[
            "The tail mass outside 3 sigma_0 (right panel) has no closed form over replicas: qualitative."
        ],
    )


def _figure(result, ax=None):
    ax = axes(ax, 2)
    for name, ds in result.datasets.items():
        loop, tau = name.split(", tau=")
        cfg = config(loop, float(tau))
        t = ds["generation"].values
        (line,) = ax[0].plot(t, ds["var"].mean("replica"), label=name)
        ax[0].plot(t, theory.expected_var(cfg, t), "k--", lw=0.8)
        tail = ds["tail3"]
        # the median replica: the mean over replicas is held up by the few whose mean wandered far
        ax[1].plot(t, tail.median("replica") / tail.attrs["truth_value"], color=line.get_color(), label=name)
    # the fully synthetic loop at tau = 0.9 falls as 0.81^t: the axes stop at 1e-6 so the others stay legible
    ax[0].set(
        xlabel="generation t",
        ylabel="E sigma_t^2",
        yscale="log",
        ylim=(1e-6, 2),
        title="variance (dashed: theory)",
    )
    ax[1].set(
        xlabel="generation t",
        ylabel="median mass beyond 3 sigma_0 / truth's",
        yscale="log",
        ylim=(1e-6, 2),
        title="the vanishing tails (qualitative)",
    )
    ax[0].legend(fontsize=7)
    return ax


PAPER = Paper(
    key=KEY,
    authors="Alemohammad, Casco-Rodriguez, Luzi, Humayun, Babaei, LeJeune, Siahkoohi, Baraniuk",
    year=2024,
    title="Self-consuming generative models go MAD",
    venue="ICLR 2024",
    arxiv="2307.01850",
    claim="Without enough fresh real data every generation, a self-consuming loop loses quality or "
    "diversity (MAD); sampling bias toward quality (tau < 1) speeds the loss of diversity; a fixed "
    "real set only slows it; fresh real data holds the model at a fixed point.",
    settings=(
        Setting(
            "loops",
            "fully synthetic, synthetic augmentation (a fixed real set), fresh data",
            "paper, the three loop families",
        ),
        Setting(
            "sampling bias",
            "temperature tau in {1, 0.9} (synthetic spread tau sigma)",
            "paper's lambda knob, as a Gaussian temperature",
        ),
        Setting("model", "1-D Gaussian N(0, 1), MLE refit", "paper's Gaussian analysis"),
        Setting("counts", f"{N} synthetic, {REAL} real points per generation", "madsim's choice"),
        Setting("replicas x generations", "quick 3,000 x 40; full 100,000 x 400", "madsim's choice"),
    ),
    left_out="The paper's image generators (DDPM, StyleGAN, WGAN on MNIST/FFHQ) are neural networks: madsim "
    "has none. The Gaussian-mixture version of the loops is shown in shumailov2024's GMM cell, not "
    "repeated here.",
    run_fn=_run,
    figure_fn=_figure,
    sizes={"quick": "6 configs x 3,000 x 40", "full": "6 configs x 100,000 x 400"},
)
