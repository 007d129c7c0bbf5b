"""Suresh, Thangaraj & Khandavally (2025): the rate of collapse of discrete
(Bernoulli, Zipf unigram) and Gaussian models."""

from __future__ import annotations

import numpy as np

import madsim as ms
from madsim import theory

from .base import Paper, Result, Setting, axes, compare, grid

KEY = "suresh2025"
P_RARE = 0.1
SIZES = {
    "quick": dict(
        ns=(10, 20, 40), R=2000, G_per_n=10, surv_R=3000, zipf_R=200, zipf_G=30, gauss_R=4000, gauss_n=50
    ),
    "full": dict(
        ns=(10, 20, 40, 80, 160),
        R=100_000,
        G_per_n=12,
        surv_R=100_000,
        zipf_R=2000,
        zipf_G=100,
        gauss_R=100_000,
        gauss_n=100,
    ),
}
SURV_N, SURV_C, SURV_T = 100, (1, 5), (10, 50)
ZIPF_K, ZIPF_N, ZIPF_S = 1000, 1000, 1.1


def bernoulli_config(n: int, p: float = P_RARE) -> ms.Config:
    """The Bernoulli recursion: a two-symbol categorical (rare symbol
    probability ``p``) refit by frequencies on n draws per generation.

    Examples
    --------
    >>> from madsim.repro import suresh2025
    >>> suresh2025.bernoulli_config(20).loop.n
    20
    """
    return ms.Config(family=ms.Categorical(probs=[p, 1.0 - p]), loop=ms.Replace(n=n))


def zipf_p0() -> np.ndarray:
    """The Zipf unigram truth, p_i proportional to (i + 1)^-1.1, K = 1000.

    Examples
    --------
    >>> from madsim.repro import suresh2025
    >>> round(float(suresh2025.zipf_p0().sum()), 12)
    1.0
    """
    p = (np.arange(ZIPF_K) + 1.0) ** -ZIPF_S
    return p / p.sum()


def _run(size, threads):
    s = SIZES[size]
    out, rows = {}, []
    for n in s["ns"]:  # time to lose a symbol, linear in n
        G = s["G_per_n"] * n
        ds = ms.simulate(
            bernoulli_config(n),
            replicas=s["R"],
            generations=G,
            seed=900 + n,
            record=[G],
            detect=[ms.FirstPassage("support", below=1, name="lost")],
            threads=threads,
            progress=False,
        )
        out[f"bernoulli n={n}"] = ds
        T = ds["lost"].values
        exact = sum(1.0 - theory.prob_one_left(t, n, [P_RARE, 1 - P_RARE]) for t in range(G))
        rows.append(
            compare(
                f"Bernoulli p={P_RARE}, n={n}: E min(T_lose, {G})",
                np.where(T < 0, G, T),
                t=G,
                theory=float(exact),
                source="theory.prob_one_left (Wright-Fisher chain)",
            )
        )
    for c in SURV_C:  # survival of a symbol of count c
        cfg = bernoulli_config(SURV_N, c / SURV_N)
        ds = ms.simulate(
            cfg,
            replicas=s["surv_R"],
            generations=max(SURV_T),
            seed=950 + c,
            record=list(SURV_T),
            metrics=["probs"],
            threads=threads,
            progress=False,
        )
        out[f"survival c={c}"] = ds
        for t in SURV_T:
            alive = ds["probs"].sel(generation=t).values[:, 0] > 0
            rows.append(
                compare(
                    f"P(symbol of count {c} alive), n={SURV_N}",
                    alive.astype(float),
                    t=t,
                    paper=float(theory.survival_suresh(t, c)),
                    theory=float(theory.survival(t, SURV_N, p=c / SURV_N)),
                    source="paper: the lower bound 1 - exp(-c/t); theory.survival (exact)",
                )
            )
    cfg = ms.Config(family=ms.Categorical(probs=zipf_p0()), loop=ms.Replace(n=ZIPF_N))
    G = s["zipf_G"]
    ds = ms.simulate(
        cfg,
        replicas=s["zipf_R"],
        generations=G,
        seed=970,
        record=grid(G, max(1, G // 30)),
        metrics=["support", "gini_simpson"],
        threads=threads,
        progress=False,
    )
    out["zipf"] = ds
    rows.append(
        compare(
            f"Zipf({ZIPF_S}) unigram K={ZIPF_K}, n={ZIPF_N}: E surviving tokens",
            ds["support"].sel(generation=G).values,
            t=G,
            theory=float(theory.expected_survivors(G, ZIPF_N, zipf_p0())),
            source="theory.expected_survivors",
        )
    )
    rows.append(
        compare(
            "Zipf unigram: E Gini-Simpson",
            ds["gini_simpson"].sel(generation=G).values,
            t=G,
            theory=float(theory.gini_simpson(G, ZIPF_N, zipf_p0())),
            source="theory.gini_simpson",
        )
    )
    n = s["gauss_n"]
    gcfg = ms.Config(family=ms.Gaussian(), loop=ms.Replace(n=n))
    G = 5 * n
    ds = ms.simulate(
        gcfg,
        replicas=s["gauss_R"],
        generations=G,
        seed=990,
        record=grid(G, n // 10, n),
        threads=threads,
        progress=False,
    )
    out["gaussian"] = ds
    for t in (n, G):
        rows.append(
            compare(
                f"Gaussian n={n}: E ln sigma_t^2",
                np.log(ds["var"].sel(generation=t).values),
                t=t,
                theory=theory.expected_log_var(gcfg, t),
                source="theory.expected_log_var",
            )
        )
    return Result(KEY, size, out, rows)


def _figure(result, ax=None):
    ax = axes(ax, 3, width=4.5)
    ns = sorted(int(k.split("=")[1]) for k in result.datasets if k.startswith("bernoulli"))
    mc = []
    for n in ns:
        T = result.datasets[f"bernoulli n={n}"]["lost"].values
        mc.append(float(T[T >= 0].mean()))  # the few censored replicas (none at the full size) left out
    ax[0].plot(ns, mc, "o", label="madsim: mean time a symbol is lost")
    ax[0].plot(ns, [theory.absorption_time(n, P_RARE) for n in ns], "k--", lw=0.8, label="theory (exact)")
    ax[0].set(
        xlabel="n (draws per generation)", ylabel="generations", title=f"Bernoulli p = {P_RARE}: linear in n"
    )
    ax[0].legend(fontsize=7)
    t = np.arange(1, max(SURV_T) + 1)
    for c in SURV_C:
        ds = result.datasets[f"survival c={c}"]
        ts = ds["generation"].values
        (line,) = ax[1].plot(
            ts, (ds["probs"].isel(token=0) > 0).mean("replica"), "o", label=f"c = {c} (madsim)"
        )
        ax[1].plot(t, theory.survival(t, SURV_N, p=c / SURV_N), "--", color=line.get_color(), lw=0.8)
        ax[1].plot(t, theory.survival_suresh(t, c), ":", color=line.get_color(), lw=0.8)
    ax[1].set(
        xlabel="generation t", ylabel="P(alive)", title="survival: exact (dashed), bound 1-e^(-c/t) (dotted)"
    )
    ax[1].legend(fontsize=7)
    ds = result.datasets["zipf"]
    ts = ds["generation"].values
    ax[2].plot(ts, ds["support"].mean("replica"), label="madsim")
    ax[2].plot(ts, theory.expected_survivors(ts, ZIPF_N, zipf_p0()), "k--", lw=0.8, label="theory")
    ax[2].set(
        xlabel="generation t", ylabel="surviving tokens", title=f"Zipf unigram, K = {ZIPF_K}, n = {ZIPF_N}"
    )
    ax[2].legend(fontsize=7)
    return ax


PAPER = Paper(
    key=KEY,
    authors="Suresh, Thangaraj, Khandavally",
    year=2025,
    title="Rate of model collapse in recursive training",
    venue="AISTATS 2025",
    arxiv="2412.17646",
    claim="Under maximum-likelihood refitting, the time to forget a symbol grows about linearly with its "
    "count in the original corpus (so with n at a fixed probability); a Gaussian's sigma reaches 0 "
    "only after on the order of n generations.",
    settings=(
        Setting(
            "discrete model",
            "Bernoulli / categorical refit by empirical frequencies on n draws",
            "paper, discrete distributions",
        ),
        Setting("Bernoulli", f"rare-symbol probability {P_RARE}, n in 10 ... 160", "madsim's choice"),
        Setting(
            "survival",
            f"a symbol of count c in {SURV_C} out of n = {SURV_N}",
            "paper's survival bound; counts madsim's choice",
        ),
        Setting(
            "Zipf unigram",
            f"p_i ~ (i + 1)^-{ZIPF_S}, K = {ZIPF_K}, n = {ZIPF_N}",
            "madsim's choice, standing in for the paper's n-gram experiment: its code (ngram_sim.sh, "
            "ngram_sim.py of berserank/rate-of-model-collapse) refits an NLTK MLE bigram model for 10 "
            "generations, each generated corpus as many tokens as the one it was fit on, from a text "
            "sample (train_sampled.txt) that madsim does not ship",
        ),
        Setting(
            "Gaussian",
            "N(0, 1), MLE, n = 50 (quick) / 100 (full) points, 5n generations",
            "paper, Gaussian section; n madsim's choice",
        ),
    ),
    left_out="The paper's Bernoulli, Poisson and Gaussian simulations live in its authors' notebook "
    "(simulations.ipynb of berserank/rate-of-model-collapse); their exact sample sizes and trajectory "
    "counts are not confirmed here, so the sizes are madsim's. Its language-data experiments use a real "
    "corpus, replaced here by a Zipf unigram.",
    run_fn=_run,
    figure_fn=_figure,
    sizes={
        "quick": "Bernoulli 3 x 2,000, survival 2 x 3,000, Zipf 200 x 30, Gaussian 4,000 x 250",
        "full": "Bernoulli 5 x 100,000, survival 2 x 100,000, Zipf 2,000 x 100, Gaussian 100,000 x 500",
    },
)
