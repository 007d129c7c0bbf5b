"""He, Xu & Cheng (2025), JRSS-B: weighting the real and synthetic fits of
the fresh-data loop; the optimal real weight 1/phi for equal counts.

The settings follow the authors' public simulation code
(github.com/MukaiCodes/Model_Collapse_Codes): its ``Scenario2`` sweeps the
weight at equal counts, its ``Scenario3`` compares the naive weight with
the optimal one as the synthetic set grows. Both use the bivariate
Gaussian N(0, I_2), n = 100 fresh real points per generation, unbiased
fits (``np.cov``, ddof = 1), 200 generations, and report the mean error
over generations 150-199.
"""

from __future__ import annotations

import numpy as np

import madsim as ms
from madsim import theory

from .base import Paper, Result, Setting, axes, compare

KEY = "he2025"
N_REAL = 100  # fresh real points per generation (the code's n)
D = 2  # the code's p: N(0, I_2)
G = 200  # the code's T
START = 150  # the error is averaged over generations START .. G - 1
PHI = (1 + 5**0.5) / 2
WEIGHTS = tuple(np.round(np.arange(0.20, 0.80, 0.02), 2))  # Scenario2's grid
RATIOS_K = tuple(np.round(np.arange(0.01, 0.2, 0.02), 4))  # Scenario3's k = n/m
SIZES = {"quick": dict(R=300), "full": dict(R=20_000)}


def synthetic_count(k: float) -> int:
    """Synthetic points per generation for the code's ratio ``k = n/m``: ``max(1, int(n/k))``.

    Examples
    --------
    >>> from madsim.repro import he2025
    >>> he2025.synthetic_count(1.0), he2025.synthetic_count(0.03)
    (100, 3333)
    """
    return max(1, int(N_REAL / k))


def naive_weight(k: float) -> float:
    """The weight proportional to sample size, ``k/(1+k)`` (real share of all points)."""
    return k / (1.0 + k)


def config(w, m: int = N_REAL) -> ms.Config:
    """The weighted fresh loop: N(0, I_2), 100 real and ``m`` synthetic
    points per generation, unbiased pieces, fit w x real + (1 - w) x synthetic
    (``w`` a float or "optimal").

    Examples
    --------
    >>> from madsim.repro import he2025
    >>> he2025.config("optimal").weight
    'optimal'
    """
    return ms.Config(
        family=ms.Gaussian(dim=D), loop=ms.Fresh(real=N_REAL, synthetic=m), estimator="unbiased", weight=w
    )


def stationary_error(w: float, m: int) -> float:
    """E ||mu_t - mu_0||^2 at stationarity: D times the 1-D closed form (the
    coordinates' mean errors are independent and each has the 1-D law)."""
    return D * theory.hxc_stationary_mse(w, N_REAL, m)


def window_error(w: float, m: int) -> float:
    """The closed form of what the code reports: E ||mu_t - mu_0||^2 averaged
    over generations START .. G - 1 (``theory.expected_mean_sq``; from a
    start at the truth the error is ``stationary_error (1 - (1 - w)^(2t))``,
    which matters only for tiny weights such as the naive w at k = 0.01)."""
    cfg = config(float(w), m)
    return float(np.mean([theory.expected_mean_sq(cfg, t) for t in range(START, G)]))


def _error(cfg, R, seed, threads):
    """Per replica: ||mu_t - mu_0||^2 averaged over generations START .. G - 1, as the code reports."""
    ds = ms.simulate(
        cfg,
        replicas=R,
        generations=G - 1,
        seed=seed,
        record=list(range(START, G)),
        metrics=["mean"],
        threads=threads,
        progress=False,
    )
    return (ds["mean"] ** 2).sum("dim").mean("generation").values


def _run(size, threads):
    R = SIZES[size]["R"]
    out, rows = {}, []
    ws = sorted(set(float(w) for w in WEIGHTS) | {1 / PHI})
    for i, w in enumerate(ws):
        err = _error(config(w), R, 800 + i, threads)
        out[("sweep", w)] = err
        star = abs(w - 1 / PHI) < 1e-12
        rows.append(
            compare(
                f"m = n, w = {w:.4f}" + (" (1/phi)" if star else "") + ": mean over t of ||mu_t - mu_0||^2",
                err,
                t=G - 1,
                theory=window_error(w, N_REAL),
                paper=stationary_error(1 / PHI, N_REAL) if star else None,
                source="theory.expected_mean_sq over t = 150..199; paper: its w* error",
            )
        )
    for j, k in enumerate(RATIOS_K):
        m = synthetic_count(float(k))
        for scheme, w in (("naive", naive_weight(float(k))), ("optimal", theory.optimal_weight(N_REAL, m))):
            err = _error(config(w, m), R, 900 + 2 * j + (scheme == "optimal"), threads)
            out[(scheme, float(k))] = err
            rows.append(
                compare(
                    f"k = n/m = {k:g} (m = {m}), {scheme} w = {w:.4f}: mean over t of ||mu_t - mu_0||^2",
                    err,
                    t=G - 1,
                    theory=window_error(w, m),
                    source="theory.expected_mean_sq over t = 150..199",
                )
            )
    return Result(KEY, size, out, rows)


def _figure(result, ax=None):
    ax = axes(ax)
    grid = np.linspace(0.15, 0.85, 200)
    pts = sorted((w, float(np.mean(v))) for (s, w), v in result.datasets.items() if s == "sweep")
    (line,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", ms=4, label="madsim, m = n (Scenario 2)")
    ax.plot(
        grid,
        [stationary_error(w, N_REAL) for w in grid],
        "--",
        color=line.get_color(),
        lw=0.8,
        label="closed form",
    )
    ax.axvline(1 / PHI, color="0.4", ls=":", lw=0.8)
    ax.annotate(
        "w = 1/phi",
        (1 / PHI, stationary_error(1 / PHI, N_REAL)),
        xytext=(0.45, 0.3),
        textcoords="axes fraction",
        fontsize=8,
        arrowprops=dict(arrowstyle="->", lw=0.6),
    )
    ax.set(
        xlabel="weight of the real fit w",
        ylabel="mean over t = 150..199 of ||mu_t - mu_0||^2",
        title="He, Xu & Cheng: weighted fresh loop, N(0, I_2), n = m = 100",
    )
    inset = ax.inset_axes([0.55, 0.52, 0.42, 0.4])
    for scheme, marker in (("naive", "s"), ("optimal", "o")):
        ks = sorted(k for (s, k) in result.datasets if s == scheme)
        ys = [float(np.mean(result.datasets[(scheme, k)])) for k in ks]
        inset.plot(ks, ys, marker, ms=3, label=scheme)
        ws = [
            naive_weight(k) if scheme == "naive" else theory.optimal_weight(N_REAL, synthetic_count(k))
            for k in ks
        ]
        inset.plot(
            ks,
            [window_error(w, synthetic_count(k)) for w, k in zip(ws, ks)],
            "--",
            lw=0.6,
            color=inset.lines[-1].get_color(),
        )
    inset.set_xlabel("k = n/m (Scenario 3)", fontsize=7)
    inset.tick_params(labelsize=6)
    inset.legend(fontsize=6)
    ax.legend(fontsize=8, loc="upper left")
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
    "equal counts it is 1/phi = 0.618, the reciprocal of the golden ratio, and it beats the naive "
    "weight proportional to sample size at every ratio.",
    settings=(
        Setting(
            "model",
            "bivariate Gaussian N(0, I_2); each generation n = 100 fresh real points and m "
            "synthetic points from the current fit; unbiased mean and covariance of each part, mixed "
            "w x real + (1 - w) x synthetic",
            "authors' code, Scenario2/Frameworks/D_Fresh_Data.py (Gaussian_esti)",
        ),
        Setting(
            "generations and error",
            "200 generations; ||mu_t - mu_0||^2 averaged over generations 150-199",
            "authors' code, Scenario2/S2_GoldenRatio.py (T = 200, start = 150)",
        ),
        Setting(
            "weight sweep",
            "w = 0.20, 0.22, ..., 0.78 at m = n (plus w = 1/phi)",
            "authors' code, S2_GoldenRatio.py",
        ),
        Setting(
            "ratio sweep",
            "k = n/m = 0.01, 0.03, ..., 0.19 (m = int(n/k)); naive w = k/(1+k) against the optimal w",
            "authors' code, Scenario3/S3_Large_M.py",
        ),
        Setting(
            "replicas",
            "quick 300; full 20,000 per cell (the code: 2,000 and 1,000)",
            "madsim's choice (10x and 20x the code's)",
        ),
    ),
    left_out="The paper's variance error, random-design linear, logistic and Poisson regressions, the "
    "nonparametric CDF estimator and its real tabular data set are not reproduced here; the "
    "Gaussian mean part is. madsim starts every replica at the truth, the code at a fit to the "
    "first real sample; by generation 150 the start is forgotten (the error contracts by "
    "(1 - w)^2 per generation).",
    run_fn=_run,
    figure_fn=_figure,
    sizes={"quick": "51 configs x 300 x 200", "full": "51 configs x 20,000 x 200"},
)
