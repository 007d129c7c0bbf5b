"""Makes the figures in docs/figures/ from real madsim runs (a few seconds each
on 2 cores):

    python docs/make_figures.py            # needs: pip install ".[plot]"
    python docs/make_figures.py --out DIR  # somewhere else

vanishing_tails.png   1-D replace loop, n = 20: one replica's fitted model at
                      generations 10, 100, 1000 over the truth (log density),
                      and the mixture over replicas.
var_vs_theory.png     E sigma_t^2 and E ln sigma_t^2 vs generation for the
                      replace loop (MLE, unbiased), fresh data and accumulate,
                      with the madsim.theory curves.
collapse_survival.png Kaplan-Meier survival of the collapse time
                      T = first t with sigma_t <= 0.1 sigma_0, with the
                      Wald-Siegmund approximation of E T.

Seeds are fixed: the same madsim build redraws the same figures. The docs'
gallery (docs/gallery/index.md) draws the same figures at a fraction of the
replicas (``scale``) while the site builds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import madsim as ms  # noqa: E402
from madsim import plots  # noqa: E402

DPI = 110
N = 20  # sample size per generation of the replace loops


def _replicas(full: int, scale: float) -> int:
    return max(100, round(full * scale))


def vanishing_tails_figure(scale: float = 1.0):
    """The figure of vanishing_tails.png; ``scale`` multiplies the replicas."""
    cfg = ms.Config(family=ms.Gaussian(), loop=ms.Replace(n=N))
    ds = ms.simulate(cfg, replicas=_replicas(20_000, scale), generations=1000, seed=2024,
                     record=[0, 10, 100, 1000], progress=False)
    # one replica: the one with the median sigma_10^2 (a typical path, picked by a rule, not by eye)
    v10 = ds["var"].sel(generation=10).values
    typical = int(ds["replica"].values[np.argsort(v10)[v10.size // 2]])
    fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 5.6), layout="constrained")
    plots.tails(ds, [10, 100, 1000], ax=a, replica=typical)
    a.set_title(f"One replica's model (replica {typical}: the median $\\sigma_{{10}}^2$)\n"
                f"replace loop, n = {N}, MLE", fontsize=10)
    plots.tails(ds, [10, 100, 1000], ax=b, replica="mean", cells=120)
    b.set_title(f"Mixture over {ds.sizes['replica']} replicas (a fresh draw from a random replica's model)\n"
                "collapsed replicas are point masses: this is a histogram of their means", fontsize=10)
    b.set_ylabel("")
    fig.suptitle("The vanishing tails: each model loses the truth's tails; the population of models does not",
                 fontsize=11)
    return fig


def var_vs_theory_figure(scale: float = 1.0):
    """The figure of var_vs_theory.png; ``scale`` multiplies the replicas."""
    runs = [
        (f"replace, n = {N}, MLE", ms.Config(loop=ms.Replace(n=N))),
        (f"replace, n = {N}, unbiased", ms.Config(loop=ms.Replace(n=N), estimator="unbiased")),
        (f"fresh: 10 real + {N} synthetic", ms.Config(loop=ms.Fresh(real=10, synthetic=N))),
        (f"accumulate: + {N} synthetic", ms.Config(loop=ms.Accumulate(synthetic=N))),
    ]
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 5.0), layout="constrained")
    for (label, cfg), color in zip(runs, colors):
        short = ms.simulate(cfg, replicas=_replicas(20_000, scale), generations=60, seed=7, record=ms.every(1),
                            progress=False)
        plots.metric(short, "var", ax=a, paths=0, log=True, label=label, color=color, legend=False)
        long = ms.simulate(cfg, replicas=_replicas(2000, scale), generations=1000, seed=8, record=ms.every(5),
                           progress=False)
        plots.metric(long, "log_var", ax=b, paths=0, label=label, color=color, legend=False)
    a.set_title("$E\\,\\sigma_t^2$ (log scale): Monte Carlo mean with 95% CI (bands), theory dashed\n"
                "replace loops: bands widen as CV$^2(\\sigma_t^2) = ((n+1)/(n-1))^t - 1$ "
                "(rare wide replicas carry the mean)",
                fontsize=9.5)
    b.set_title("$E \\ln \\sigma_t^2$: theory (dashed) $= t\\,\\delta$ for the replace loop;\n"
                "fresh and accumulate have no closed form for it (Monte Carlo only)", fontsize=9.5)
    for ax in (a, b):
        ax.legend(fontsize=8, loc="lower left")
    return fig


def collapse_survival_figure(scale: float = 1.0):
    """The figure of collapse_survival.png; ``scale`` multiplies the replicas."""
    eps = 0.1
    det = [ms.FirstPassage("var", below=0.01, name="collapse")]  # sigma_t^2 <= (eps sigma_0)^2
    fig, ax = plt.subplots(figsize=(8.5, 5.0), layout="constrained")
    for est, color in (("mle", "tab:blue"), ("unbiased", "tab:orange")):
        cfg = ms.Config(loop=ms.Replace(n=N), estimator=est)
        ds = ms.simulate(cfg, replicas=_replicas(5000, scale), generations=150, seed=11, record=[0, 150], detect=det,
                         progress=False)
        plots.survival(ds, "collapse", ax=ax, label=f"{est.upper()}, n = {N}", color=color,
                       legend=False)
    ax.set_title(f"Collapse time T = first t with $\\sigma_t \\leq {eps}\\,\\sigma_0$ (replace loop, n = {N}):\n"
                 "Kaplan-Meier with right censoring at t = 150; dashed: Wald-Siegmund "
                 "approximation of E T (not an exact result)", fontsize=9.5)
    ax.legend(fontsize=8, loc="upper right")
    return fig


FIGURES = {
    "vanishing_tails.png": vanishing_tails_figure,
    "var_vs_theory.png": var_vs_theory_figure,
    "collapse_survival.png": collapse_survival_figure,
}


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, pil_kwargs={"optimize": True})
    plt.close(fig)
    return path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "figures",
                   help="output folder (default: docs/figures)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in FIGURES.items():
        t0 = time.perf_counter()
        path = _save(make(), args.out / name)
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB  {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
