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
hxc_regression.png    weighted fresh regression (He, Xu, Cheng): a
                      madsim.sweep over the real weight w for two
                      synthetic/real ratios, the stationary test error with
                      madsim.theory's curve and its optimum (1/phi at m = n).

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
    ds = ms.simulate(
        cfg,
        replicas=_replicas(20_000, scale),
        generations=1000,
        seed=2024,
        record=[0, 10, 100, 1000],
        progress=False,
    )
    # one replica: the one with the median sigma_10^2 (a typical path, picked by a rule, not by eye)
    v10 = ds["var"].sel(generation=10).values
    typical = int(ds["replica"].values[np.argsort(v10)[v10.size // 2]])
    fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 5.6), layout="constrained")
    plots.tails(ds, [10, 100, 1000], ax=a, replica=typical)
    a.set_title(
        f"One replica's model (replica {typical}: the median $\\sigma_{{10}}^2$)\nreplace loop, n = {N}, MLE",
        fontsize=10,
    )
    plots.tails(ds, [10, 100, 1000], ax=b, replica="mean", cells=120)
    b.set_title(
        f"Mixture over {ds.sizes['replica']} replicas (a fresh draw from a random replica's model)\n"
        "collapsed replicas are point masses: this is a histogram of their means",
        fontsize=10,
    )
    b.set_ylabel("")
    fig.suptitle(
        "The vanishing tails: each model loses the truth's tails; the population of models does not",
        fontsize=11,
    )
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
        short = ms.simulate(
            cfg, replicas=_replicas(20_000, scale), generations=60, seed=7, record=ms.every(1), progress=False
        )
        plots.metric(short, "var", ax=a, paths=0, log=True, label=label, color=color, legend=False)
        long = ms.simulate(
            cfg, replicas=_replicas(2000, scale), generations=1000, seed=8, record=ms.every(5), progress=False
        )
        plots.metric(long, "log_var", ax=b, paths=0, label=label, color=color, legend=False)
    a.set_title(
        "$E\\,\\sigma_t^2$ (log scale): Monte Carlo mean with 95% CI (bands), theory dashed\n"
        "replace loops: bands widen as CV$^2(\\sigma_t^2) = ((n+1)/(n-1))^t - 1$ "
        "(rare wide replicas carry the mean)",
        fontsize=9.5,
    )
    b.set_title(
        "$E \\ln \\sigma_t^2$: theory (dashed) $= t\\,\\delta$ for the replace loop;\n"
        "fresh and accumulate have no closed form for it (Monte Carlo only)",
        fontsize=9.5,
    )
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
        ds = ms.simulate(
            cfg,
            replicas=_replicas(5000, scale),
            generations=150,
            seed=11,
            record=[0, 150],
            detect=det,
            progress=False,
        )
        plots.survival(ds, "collapse", ax=ax, label=f"{est.upper()}, n = {N}", color=color, legend=False)
    ax.set_title(
        f"Collapse time T = first t with $\\sigma_t \\leq {eps}\\,\\sigma_0$ (replace loop, n = {N}):\n"
        "Kaplan-Meier with right censoring at t = 150; dashed: Wald-Siegmund "
        "approximation of E T (not an exact result)",
        fontsize=9.5,
    )
    ax.legend(fontsize=8, loc="upper right")
    return fig


def hxc_regression_figure(scale: float = 1.0):
    """The figure of hxc_regression.png: E test error after 60 generations of
    the weighted fresh regression loop (d = 3, n = 20 real rows) over w, for
    m = 20 and 60 synthetic rows; ``scale`` multiplies the replicas."""
    from madsim.theory import regression as rt

    d, n, T = 3, 20, 60
    base = ms.Config(family=ms.Regression(dim=d), loop=ms.Fresh(real=n, synthetic=n), weight=0.5)
    weights = np.round(np.linspace(0.1, 1.0, 19), 3)
    ds = ms.sweep(
        base,
        grid={"weight": weights.tolist(), "loop.synthetic": [n, 3 * n]},
        replicas=_replicas(4000, scale),
        generations=T,
        seed=7,
        record=[0, T],
        metrics=["test_error"],
        progress=False,
    )
    err = ds["test_error"].sel(generation=T)
    fig, ax = plt.subplots(figsize=(8.5, 5.0), layout="constrained")
    fine = np.linspace(0.08, 1.0, 300)
    for m, color in ((n, "tab:blue"), (3 * n, "tab:orange")):
        e = err.sel({"loop.synthetic": m})
        mean = e.mean("replica").values
        se = e.std("replica").values / np.sqrt(e.sizes["replica"])
        ax.errorbar(
            weights,
            mean,
            yerr=2 * se,
            fmt="o",
            ms=4,
            color=color,
            label=f"madsim, m = {m} synthetic rows (±2 SE)",
        )
        ax.plot(
            fine,
            [float(rt.weighted_test_error(T, n, m, d, w)) for w in fine],
            color=color,
            lw=1,
            label=f"theory E test error at t = {T}",
        )
        w_star = rt.weighted_optimal_weight(n, m, d)
        ax.axvline(w_star, color=color, ls="--", lw=0.8)
        ax.annotate(
            f"w* = {w_star:.3f}",
            (w_star, 0.97),
            xycoords=("data", "axes fraction"),
            color=color,
            fontsize=8,
            ha="right",
            rotation=90,
            va="top",
        )
    ax.set_xlabel("weight w of the real part's fit")
    ax.set_ylabel(f"E test error at generation {T}")
    ax.set_yscale("log")
    ax.set_title(
        f"Weighted fresh regression (He, Xu, Cheng): d = {d}, n = {n} real rows per generation;\n"
        "the optimum solves w^2 + c w - c = 0, c = (n-d-1)/(m-d-1): 1/phi = 0.618 for m = n",
        fontsize=9.5,
    )
    ax.legend(fontsize=8, loc="upper right")
    return fig


FIGURES = {
    "vanishing_tails.png": vanishing_tails_figure,
    "var_vs_theory.png": var_vs_theory_figure,
    "collapse_survival.png": collapse_survival_figure,
    "hxc_regression.png": hxc_regression_figure,
}


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, pil_kwargs={"optimize": True})
    plt.close(fig)
    return path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "figures",
        help="output folder (default: docs/figures)",
    )
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in FIGURES.items():
        t0 = time.perf_counter()
        path = _save(make(), args.out / name)
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB  {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
