"""The speed-up of madsim over each paper's own loop (issue 21).

For every paper of the reproduction gallery (madsim.repro), a faithful
re-implementation of the loop as the paper's code runs it: numpy, one
replica per call, a Python loop over generations that draws the samples of
the current model and refits on them (``rng.normal(mu, sigma, n)`` then
``.mean()``/``.var()``, a growing pool for the accumulating loops, EM for the
mixture, ``lstsq`` for regression, token draws for the categorical loops).
Each is timed on the same settings as madsim's run of the same cell, in the
same process, and both rates are reported in replica-generations per second
(rg/s); the speed-up is their ratio. madsim runs on --threads threads (all
cores by default), each paper loop on one (as the papers' scripts do: one
replica per process).

    python benchmarks/repro.py            # a few minutes on 2 cores; writes benchmarks/results/repro-*.json
    python benchmarks/repro.py --quick    # a smoke run (seconds; writes nothing)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import madsim as ms  # noqa: E402
from madsim.repro import (  # noqa: E402
    alemohammad2024,
    bertrand2024,
    deydonoho2024,
    gerstgrasser2024,
    he2025,
    kazdan2024,
    shumailov2024,
    suresh2025,
)


# ------------------------------------------------------------ the papers' loops (one replica per call)


def gaussian_replace(rng, G, n=shumailov2024.M):
    """Shumailov et al.: sample M points of N(mu, sigma^2), refit mean and unbiased variance."""
    mu, sigma = 0.0, 1.0
    for _ in range(G):
        x = rng.normal(mu, sigma, n)
        mu, sigma = x.mean(), x.std(ddof=1)
    return sigma


def gmm_replace(rng, G, n=shumailov2024.GMM_N, iters=shumailov2024.EM_ITERS, tol=shumailov2024.EM_TOL):
    """Shumailov et al.'s mixture cell: sample n points of the current 2-component 2-D mixture,
    refit by EM started from it (the paper code's sklearn cap and tolerance), full covariances."""
    w = np.array([0.5, 0.5])
    mu = np.array([[-2.0, 0.0], [2.0, 0.0]])
    cov = np.array([np.eye(2), np.eye(2)])
    for _ in range(G):
        comp = rng.choice(2, n, p=w)
        x = np.empty((n, 2))
        for j in range(2):
            idx = comp == j
            x[idx] = rng.multivariate_normal(mu[j], cov[j], idx.sum())
        prev = -np.inf
        for it in range(iters):
            logp = np.empty((n, 2))
            for j in range(2):
                L = np.linalg.cholesky(cov[j])
                z = np.linalg.solve(L, (x - mu[j]).T)
                logp[:, j] = (
                    np.log(w[j] + 1e-300)
                    - 0.5 * (z * z).sum(0)
                    - np.log(np.diag(L)).sum()
                    - np.log(2 * np.pi)
                )
            norm = logsumexp(logp, axis=1)
            ll = norm.mean()
            r = np.exp(logp - norm[:, None])
            nk = r.sum(0)
            w = nk / n
            for j in range(2):
                mu[j] = r[:, j] @ x / nk[j]
                dx = x - mu[j]
                cov[j] = (r[:, j, None] * dx).T @ dx / nk[j] + 1e-6 * np.eye(2)
            if it > 0 and abs(ll - prev) < tol:
                break
            prev = ll
    return w


def gaussian_fresh(rng, G, real, synthetic, tau=1.0):
    """Alemohammad et al. / Bertrand et al.: fresh real points plus the model's samples, pooled MLE refit."""
    mu, sigma = 0.0, 1.0
    for _ in range(G):
        x = np.concatenate([rng.normal(0.0, 1.0, real), rng.normal(mu, tau * sigma, synthetic)])
        mu, sigma = x.mean(), x.std()
    return sigma


def gaussian_nd_accumulate(rng, G, d=kazdan2024.D, n=kazdan2024.N):
    """Kazdan et al.: a growing pool of d-dim points, refit (MLE mean and covariance) on all of it."""
    mu, cov = np.zeros(d), np.eye(d)
    pool = np.empty((0, d))
    for _ in range(G):
        pool = np.vstack([pool, rng.multivariate_normal(mu, cov, n)])
        mu, cov = pool.mean(0), np.cov(pool.T, bias=True)
    return cov


def regression_replace(rng, G, d=gerstgrasser2024.D, T=gerstgrasser2024.T):
    """Gerstgrasser et al. / Dohmatob et al.: a fixed design relabelled by the current model, OLS refit."""
    w_star = np.ones(d) / np.sqrt(d)
    X = rng.standard_normal((T, d))
    w = w_star
    for _ in range(G):
        y = X @ w + rng.standard_normal(T)
        w = np.linalg.lstsq(X, y, rcond=None)[0]
    return (w - w_star) @ (w - w_star)


def weighted_fresh(rng, G, n=he2025.N_REAL, m=he2025.N_REAL, w=2 / (1 + 5**0.5), d=he2025.D):
    """He, Xu & Cheng's code (Gaussian_esti): each generation a multivariate normal sample from the fit and
    a fresh real sample, unbiased mean and covariance (np.cov) of each, mixed with weight w."""
    mu, cov = np.zeros(d), np.eye(d)
    for _ in range(G):
        syn = rng.multivariate_normal(mu, cov, m)
        real = rng.multivariate_normal(np.zeros(d), np.eye(d), n)
        mu = (1 - w) * syn.mean(axis=0) + w * real.mean(axis=0)
        cov = (1 - w) * np.cov(syn, rowvar=False) + w * np.cov(real, rowvar=False)
    return mu


def bernoulli_replace(rng, G, n=40, p=suresh2025.P_RARE):
    """Suresh et al.: draw n symbols of the current Bernoulli, refit the frequency."""
    for _ in range(G):
        p = (rng.random(n) < p).mean()
    return p


def gaussian_accumulate(rng, G, n=20):
    """Dey & Donoho: the 1-D accumulate loop, refit on the whole pool."""
    mu, sigma = 0.0, 1.0
    pool = np.empty(0)
    for _ in range(G):
        pool = np.concatenate([pool, rng.normal(mu, sigma, n)])
        mu, sigma = pool.mean(), pool.std()
    return mu


# ------------------------------------------------------------ the cases: (paper, cell, loop, its madsim config, G)


def cases(quick: bool) -> list:
    g = 0.2 if quick else 1.0
    fresh_b = bertrand2024.config(25)
    return [
        (
            "shumailov2024",
            f"1-D Gaussian replace, M = {shumailov2024.M}",
            gaussian_replace,
            shumailov2024.gaussian_config(),
            int(shumailov2024.SIZES["full"]["G"] * g),
        ),
        (
            "shumailov2024",
            f"2-D GMM by EM, n = {shumailov2024.GMM_N}",
            gmm_replace,
            shumailov2024.gmm_config(),
            int(100 * g),
        ),
        (
            "alemohammad2024",
            "fresh data, 20 real + 100 synthetic, tau 0.9",
            lambda rng, G: gaussian_fresh(rng, G, 20, 100, 0.9),
            alemohammad2024.config("fresh data", 0.9),
            int(400 * g),
        ),
        (
            "bertrand2024",
            "fresh, 25% real of 100",
            lambda rng, G: gaussian_fresh(rng, G, 25, 75),
            fresh_b,
            int(1000 * g),
        ),
        (
            "kazdan2024",
            f"Gaussian d = {kazdan2024.D} accumulate, {kazdan2024.N} per generation",
            gaussian_nd_accumulate,
            kazdan2024.gaussian_config("accumulate"),
            int(100 * g),
        ),
        (
            "gerstgrasser2024",
            "regression d = 5, T = 20, replace, fixed design",
            regression_replace,
            gerstgrasser2024.config("replace"),
            int(100 * g),
        ),
        (
            "he2025",
            "weighted fresh, N(0, I_2), n = m = 100, w = 1/phi",
            weighted_fresh,
            he2025.config(0.6180339887498949),
            int(he2025.G * g),
        ),
        (
            "suresh2025",
            "Bernoulli p = 0.1, n = 40",
            bernoulli_replace,
            suresh2025.bernoulli_config(40),
            int(480 * g),
        ),
        (
            "deydonoho2024",
            "1-D accumulate, n = 20",
            gaussian_accumulate,
            deydonoho2024.config(20),
            int(1000 * g),
        ),
    ]


def rate_paper(loop, G, budget_s):
    """rg/s of the paper's loop: whole replicas until ``budget_s`` has passed (at least 3)."""
    rng = np.random.default_rng(1)
    loop(rng, 2)  # warm-up
    t0, reps = time.perf_counter(), 0
    while reps < 3 or time.perf_counter() - t0 < budget_s:
        loop(rng, G)
        reps += 1
    return reps * G / (time.perf_counter() - t0), reps


def rate_madsim(cfg, G, threads, budget_s, repeats):
    """rg/s of madsim on the same cell: replicas sized to take about ``budget_s``, best of ``repeats``."""
    R = 64
    while True:
        t0 = time.perf_counter()
        ms.simulate(cfg, replicas=R, generations=G, seed=1, record=[G], threads=threads, progress=False)
        dt = time.perf_counter() - t0
        if dt > budget_s / 4 or R >= 4_000_000:
            break
        R *= 4
    res = common.timed(
        lambda: ms.simulate(
            cfg, replicas=R, generations=G, seed=1, record=[G], threads=threads, progress=False
        ),
        repeats,
    )
    return R * G / res["min_s"], R


def main(argv=None) -> int:
    args = common.parse_args(__doc__, argv)
    budget = 0.3 if args.quick else 4.0
    rows = []
    print(f"{'paper':<17} {'cell':<48} {'G':>5} {'paper loop rg/s':>16} {'madsim rg/s':>12} {'speed-up':>9}")
    for key, cell, loop, cfg, G in cases(args.quick):
        paper_rate, reps = rate_paper(loop, G, budget)
        ms_rate, R = rate_madsim(cfg, G, args.threads, budget, 1 if args.quick else args.repeats)
        rows.append(
            {
                "paper": key,
                "cell": cell,
                "generations": G,
                "paper_loop_rg_per_s": paper_rate,
                "paper_loop_replicas": reps,
                "madsim_rg_per_s": ms_rate,
                "madsim_replicas": R,
                "madsim_threads": args.threads,
                "speedup": ms_rate / paper_rate,
            }
        )
        print(
            f"{key:<17} {cell:<48} {G:>5} {paper_rate:>16.3g} {ms_rate:>12.3g} {ms_rate / paper_rate:>8.0f}x",
            flush=True,
        )
    common.write_results("repro", args, None, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
