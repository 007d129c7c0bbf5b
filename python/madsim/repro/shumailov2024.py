"""Shumailov et al. (2024), Nature: the 1-D Gaussian replace loop (sigma -> 0
while the mean walks) and the two-component Gaussian mixture refit by EM."""

from __future__ import annotations

import numpy as np

import madsim as ms
from madsim import theory

from .base import Paper, Result, Setting, axes, compare, grid

KEY = "shumailov2024"
M = 100  # samples per generation of the Gaussian cell
# The paper's public code (Normals_GMM_experiments.ipynb of the authors' curse_recurse repository) runs the
# Gaussian replace loop with M in {100, 500, 1000, 10000} for 1000 generations, and the mixture with
# sklearn's GaussianMixture (2 components, full covariances, tol 1e-5, max_iter 2000) on 1000 samples.
SIZES = {
    "quick": dict(R=4000, G=200, step=5, gmm_R=40, gmm_G=20),
    "full": dict(R=100_000, G=1000, step=40, gmm_R=500, gmm_G=100),
}
GMM_N = 1000
EM_ITERS, EM_TOL = 2000, 1e-5
T_VAR = 20  # E sigma^2 is heavy-tailed: compared where its CV^2 (0.49 at t = 20) keeps the CLT
T_MU = 50
T_SIGMA = 200  # E sigma likewise: CV^2 = 1.7 at t = 200; its collapse is carried by E ln sigma^2 at G
GMM_SECOND_MOMENT = 6.0  # sum_j w_j (|mu_j|^2 + tr Sigma_j) of the truth below


def gaussian_config() -> ms.Config:
    """The Gaussian cell: truth N(0, 1), M = 100 samples of the previous
    model per generation, mean and unbiased variance refit (the estimators of
    the paper's Gaussian analysis).

    Examples
    --------
    >>> from madsim.repro import shumailov2024
    >>> shumailov2024.gaussian_config().estimator
    'unbiased'
    """
    return ms.Config(family=ms.Gaussian(), loop=ms.Replace(n=M), estimator="unbiased")


def gmm_config() -> ms.Config:
    """The mixture cell: 0.5 N((-2, 0), I) + 0.5 N((2, 0), I) refit by EM
    (full covariances, started from the current fit, at most 2000
    iterations, tolerance 1e-5 as the paper's code) on 1000 of its own
    samples per generation.

    Examples
    --------
    >>> from madsim.repro import shumailov2024
    >>> shumailov2024.gmm_config().loop.n
    1000
    """
    eye = [[1.0, 0.0], [0.0, 1.0]]
    fam = ms.GaussianMixture(
        weights=[0.5, 0.5], means=[[-2.0, 0.0], [2.0, 0.0]], covs=[eye, eye], em_iters=EM_ITERS, em_tol=EM_TOL
    )
    return ms.Config(family=fam, loop=ms.Replace(n=GMM_N))


def _run(size, threads):
    s = SIZES[size]
    cfg = gaussian_config()
    ds = ms.simulate(
        cfg,
        replicas=s["R"],
        generations=s["G"],
        seed=2024,
        record=grid(s["G"], s["step"], T_VAR, T_MU, T_SIGMA),
        threads=threads,
        progress=False,
    )
    gmm = ms.simulate(
        gmm_config(),
        replicas=s["gmm_R"],
        generations=s["gmm_G"],
        seed=2025,
        record=ms.every(1),
        metrics=["second_moment", "min_weight", "loglik"],
        threads=threads,
        progress=False,
    )
    G, var = s["G"], lambda t: ds["var"].sel(generation=t).values
    t_var, t_mu = T_VAR, T_MU
    rows = [
        compare(
            "E sigma_t^2 (a martingale: stays 1)",
            var(t_var),
            t=t_var,
            theory=theory.expected_var(cfg, t_var),
            source="theory.expected_var",
        ),
        compare(
            "E sigma_t (falls to 0)",
            np.sqrt(var(T_SIGMA)),
            t=T_SIGMA,
            theory=theory.expected_sigma(cfg, T_SIGMA),
            source="theory.expected_sigma",
        ),
        compare(
            "E ln sigma_t^2 (drifts down linearly)",
            np.log(var(G)),
            t=G,
            theory=theory.expected_log_var(cfg, G),
            source="theory.expected_log_var",
        ),
        compare(
            "E (mu_t - mu_0)^2 (random walk: t/M)",
            ds["mean"].sel(generation=t_mu).values ** 2,
            t=t_mu,
            theory=theory.expected_mean_sq(cfg, t_mu),
            source="theory.expected_mean_sq",
        ),
        compare(
            "GMM: E model second moment E|x|^2 (EM keeps it)",
            gmm["second_moment"].sel(generation=s["gmm_G"]).values,
            t=s["gmm_G"],
            theory=GMM_SECOND_MOMENT,
            source="the EM invariant (docs/theory/ppca-gmm.md): the truth's E|x|^2 = 4 + 2",
        ),
    ]
    return Result(
        KEY,
        size,
        {"gaussian": ds, "gmm": gmm},
        rows,
        notes=[
            "The GMM's components and weights have no closed form: the right panel is qualitative.",
            "The paper's code fits its Gaussian with np.mean and np.std (the MLE variance, divisor M) while the "
            "paper's analysis uses the unbiased variance; madsim follows the analysis, whose closed forms the rows "
            "test (with the MLE the variance is no longer a martingale: E sigma_t^2 = (1 - 1/M)^t).",
            "The paper's mixture code draws its real data as ONE standard 2-D Gaussian blob (make_blobs with a "
            "single centre) and refits the two-component mixture from sklearn's k-means start every generation; "
            "madsim's EM starts from the current fit, which cannot split a single blob, so the truth here is two "
            "separated components.",
            "No number reported by the paper for these cells was found (its Gaussian and mixture results are "
            "figures of single runs): the reference column is madsim.theory's closed form.",
        ],
    )


def _figure(result, ax=None):
    ax = axes(ax, 2)
    ds, gmm = result.datasets["gaussian"], result.datasets["gmm"]
    cfg = gaussian_config()
    t = ds["generation"].values
    sig = np.sqrt(ds["var"])
    ax[0].plot(t, sig.mean("replica"), label="E sigma_t (madsim)")
    ax[0].plot(t, theory.expected_sigma(cfg, t), "k--", lw=1, label="theory")
    ax[0].plot(t, (ds["mean"] ** 2).mean("replica"), label="E (mu_t - mu_0)^2 (madsim)")
    ax[0].plot(t, theory.expected_mean_sq(cfg, t), "k:", lw=1, label="theory: t / M")
    for r in range(3):
        ax[0].plot(t, sig.isel(replica=r), lw=0.6, alpha=0.5, color="grey")
    ax[0].set(
        xlabel="generation t",
        yscale="log",
        title=f"1-D Gaussian, replace, M = {M} (grey: 3 replicas' sigma_t)",
    )
    ax[0].legend(fontsize=8)
    g = gmm["generation"].values
    mw = gmm["min_weight"]
    ax[1].plot(g, mw.mean("replica"), label="E smaller weight")
    ax[1].fill_between(
        g, mw.quantile(0.1, "replica"), mw.quantile(0.9, "replica"), alpha=0.3, label="10-90% of replicas"
    )
    ax[1].plot(g, gmm["second_moment"].mean("replica") / 10, label="E|x|^2 / 10 (theory: 0.6)")
    ax[1].axhline(0.6, color="k", ls="--", lw=1)
    ax[1].set(xlabel="generation t", title=f"2-D two-component GMM by EM, n = {GMM_N} (qualitative)")
    ax[1].legend(fontsize=8)
    return ax


PAPER = Paper(
    key=KEY,
    authors="Shumailov, Shumaylov, Zhao, Papernot, Anderson, Gal",
    year=2024,
    title="AI models collapse when trained on recursively generated data",
    venue="Nature 631",
    arxiv="2305.17493",
    claim="Refit on its own samples, a Gaussian's sigma goes to 0 while its mean performs a random walk "
    "(E (mu_t - mu_0)^2 = t sigma_0^2 / M); a Gaussian mixture refit by EM drifts away from the truth.",
    settings=(
        Setting("Gaussian truth", "N(0, 1)", "paper, Gaussian analysis (any truth; the loop is scale-free)"),
        Setting("fit", "sample mean and unbiased sample variance", "paper, Gaussian analysis"),
        Setting(
            "samples per generation M",
            "100",
            "paper's code: Normals_GMM_experiments.ipynb of the authors' curse_recurse repository "
            "(numpoints in {100, 500, 1000, 10000}); the smallest, where collapse is fastest",
        ),
        Setting("generations (Gaussian)", "1,000 (quick 200)", "paper's code: evols = 1000"),
        Setting(
            "GMM",
            "two components in 2-D, full covariances, EM refit on its own samples, at most 2,000 EM "
            "iterations, tolerance 1e-5",
            "paper, GMM experiment; EM settings from the paper's code "
            "(sklearn GaussianMixture, n_components 2, covariance_type full, tol 1e-5, max_iter 2000)",
        ),
        Setting("GMM samples per generation n", "1,000", "paper's code: ns = [1000]"),
        Setting(
            "GMM truth",
            "0.5 N((+-2, 0), I)",
            "madsim's choice (the paper's code uses one standard 2-D "
            "blob with k-means restarts; see the notes)",
        ),
        Setting(
            "replicas x generations",
            "quick 4,000 x 200; full 100,000 x 1,000 (GMM 500 x 100; the paper's "
            "code runs 2,050 generations of one replica)",
            "madsim's choice (the paper shows single runs)",
        ),
    ),
    left_out="The paper's VAE and OPT-125m language-model experiments are neural networks: madsim has no "
    "such family. The GMM cell is the same loop at a madsim-chosen truth and sample size.",
    run_fn=_run,
    figure_fn=_figure,
    sizes={"quick": "4,000 x 200 (GMM 40 x 20)", "full": "100,000 x 1,000 (GMM 500 x 100)"},
)
