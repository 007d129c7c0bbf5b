"""Baselines for benchmarks/run.py: the 1-D Gaussian replace loop written the
way one would without madsim, all in float64.

Every baseline runs the same model as madsim's kernel: each replica starts at
N(0, 1); each generation draws n points from N(mu, var) and refits (mu, var)
by MLE (scatter / n). They are here to be timed, so they return the final
state but are not checked for law (the test suite does that for madsim).

- ``naive_python``: one replica at a time, one ``random.gauss`` per sample.
- ``numpy_samples``: vectorised over replicas, all R*n samples per generation.
- ``numpy_suffstats``: vectorised over replicas, the exact path's trick: the
  sample mean is mu + sigma Z / sqrt(n) and the scatter is var * chi2(n-1),
  independent (Cochran), so a generation costs O(1) in n.
- ``jax_program``: the last two under ``jax.jit`` with ``lax.scan`` over
  generations, compiled ahead of time so compile time is measured apart.
"""

from __future__ import annotations

import math
import random

import numpy as np


def naive_python(n: int, R: int, G: int, seed: int = 0):
    """Pure Python loops: the floor any vectorised version is measured against."""
    gauss = random.Random(seed).gauss
    final = []
    for _ in range(R):
        mu, var = 0.0, 1.0
        for _ in range(G):
            sigma = math.sqrt(var)
            xs = [gauss(mu, sigma) for _ in range(n)]
            m = sum(xs) / n
            var = sum((x - m) ** 2 for x in xs) / n
            mu = m
        final.append((mu, var))
    return final


def numpy_samples(n: int, R: int, G: int, seed: int = 0):
    """All samples, vectorised over replicas: an (R, n) array per generation."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(R)
    var = np.ones(R)
    for _ in range(G):
        x = rng.standard_normal((R, n))
        x *= np.sqrt(var)[:, None]  # in place: the (R, n) array dominates memory and time
        x += mu[:, None]
        mu = x.mean(axis=1)
        var = x.var(axis=1)  # ddof=0: MLE
    return mu, var


def numpy_suffstats(n: int, R: int, G: int, seed: int = 0):
    """Sufficient statistics, vectorised over replicas: two draws per replica-generation."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(R)
    var = np.ones(R)
    root_n = math.sqrt(n)
    for _ in range(G):
        z = rng.standard_normal(R)
        chi2 = rng.chisquare(n - 1, R)
        mu = mu + np.sqrt(var) * z / root_n  # uses this generation's var, before the refit
        var = var * chi2 / n
    return mu, var


def jax_available() -> str | None:
    """None if JAX imports, else the reason it does not."""
    try:
        import jax  # noqa: F401
    except Exception as e:  # a broken install can raise more than ImportError
        return f"{type(e).__name__}: {e}"
    return None


def jax_program(kind: str, n: int, R: int, G: int, seed: int = 0):
    """Compiles the JAX version ahead of time.

    kind: "suffstats" or "samples". Returns (run, compile_seconds) where
    run() executes the compiled program once and waits for its result.
    """
    import time

    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # float64, like madsim and numpy

    def step_suffstats(carry, key):
        mu, var = carry
        k_mean, k_scatter = jax.random.split(key)
        z = jax.random.normal(k_mean, (R,), dtype=jnp.float64)
        chi2 = 2.0 * jax.random.gamma(k_scatter, (n - 1) / 2, (R,), dtype=jnp.float64)
        return (mu + jnp.sqrt(var) * z / math.sqrt(n), var * chi2 / n), None

    def step_samples(carry, key):
        mu, var = carry
        x = mu[:, None] + jnp.sqrt(var)[:, None] * jax.random.normal(key, (R, n), dtype=jnp.float64)
        return (x.mean(axis=1), x.var(axis=1)), None

    step = {"suffstats": step_suffstats, "samples": step_samples}[kind]

    def run_all(key):
        init = (jnp.zeros(R, dtype=jnp.float64), jnp.ones(R, dtype=jnp.float64))
        (mu, var), _ = jax.lax.scan(step, init, jax.random.split(key, G))
        return mu, var

    key = jax.random.key(seed)
    t0 = time.perf_counter()
    compiled = jax.jit(run_all).lower(key).compile()
    compile_s = time.perf_counter() - t0
    return (lambda: jax.block_until_ready(compiled(key))), compile_s


# ---------------------------------------------------------------- d-dim replace, fresh data
#
# The same conventions as madsim's GaussianLoop kernel (MLE, temperature 1,
# pooled fit): the state is (mu, L) with Sigma = L L' (L lower, the Cholesky
# factor), or (mu, var) in 1-D. Each returns its final state, which
# benchmarks/run.py checks against the closed-form law.


def numpy_samples_nd(d: int, n: int, R: int, G: int, seed: int = 0):
    """d-dim replace loop, all samples, vectorised over replicas: an (R, n, d)
    array per generation, x_i = mu + L z_i, refit by the sample mean and the
    scatter / n, then a batched Cholesky (np.linalg.cholesky on R d x d).
    Batched matmul beats np.einsum several-fold here, so it is used."""
    rng = np.random.default_rng(seed)
    mu = np.zeros((R, d))
    L = np.tile(np.eye(d), (R, 1, 1))
    for _ in range(G):
        x = rng.standard_normal((R, n, d))
        x = x @ L.transpose(0, 2, 1)  # rows x_i' = z_i' L'
        x += mu[:, None, :]
        mu = x.mean(axis=1)
        x -= mu[:, None, :]
        S = x.transpose(0, 2, 1) @ x
        S /= n
        L = np.linalg.cholesky(S)
    return mu, L


def numpy_suffstats_nd(d: int, n: int, R: int, G: int, seed: int = 0):
    """d-dim replace loop on sufficient statistics (Bartlett), vectorised over
    replicas: the mean is mu + L z / sqrt(n) and the scatter is L A A' L' with
    A lower, A_ii = sqrt(chi2(n-1-i)), A_ij ~ N(0, 1) below the diagonal
    (Wishart_d(n-1, I) = A A'). L A is lower with a positive diagonal, so it
    is the scatter's Cholesky factor itself: the refit L <- L A / sqrt(n) needs
    no factorisation. Needs n - 1 >= d."""
    if n - 1 < d:
        raise ValueError(f"Bartlett needs n - 1 >= d; got n = {n}, d = {d}")
    rng = np.random.default_rng(seed)
    mu = np.zeros((R, d))
    L = np.tile(np.eye(d), (R, 1, 1))
    rows, cols = np.tril_indices(d, -1)
    below = rows * d + cols  # flat indices: a 2-D fancy assignment is ~2x faster
    diag = np.arange(d) * (d + 1)
    df = (n - 1 - np.arange(d)).astype(np.float64)[:, None]
    root_n = math.sqrt(n)
    A = np.zeros((R, d, d))
    A_flat = A.reshape(R, d * d)  # a view of A
    for _ in range(G):
        z = rng.standard_normal((R, d, 1))
        mu = mu + (L @ z)[:, :, 0] / root_n  # this generation's L, before the refit
        A_flat[:, below] = rng.standard_normal((R, below.size))
        A_flat[:, diag] = np.sqrt(rng.chisquare(df, (d, R))).T
        L = L @ A
        L /= root_n
    return mu, L


def numpy_fresh_samples(real: int, synthetic: int, R: int, G: int, seed: int = 0):
    """1-D fresh-data loop, all samples: each generation fits (pooled MLE) on
    `real` new draws of the truth N(0, 1) and `synthetic` draws of the
    previous model N(mu, var); an (R, real + synthetic) array per generation."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(R)
    var = np.ones(R)
    for _ in range(G):
        x = rng.standard_normal((R, real + synthetic))
        syn = x[:, real:]
        syn *= np.sqrt(var)[:, None]
        syn += mu[:, None]
        mu = x.mean(axis=1)
        var = x.var(axis=1)
    return mu, var


def numpy_fresh_suffstats(real: int, synthetic: int, R: int, G: int, seed: int = 0):
    """1-D fresh-data loop on sufficient statistics: each part's mean and
    scatter (normal and chi-square, as in numpy_suffstats), pooled exactly
    (Chan et al.: scatter_r + scatter_s + (mean_s - mean_r)^2 m k / (m + k))."""
    if real < 2 or synthetic < 2:
        raise ValueError("each part needs >= 2 points for a chi-square scatter")
    rng = np.random.default_rng(seed)
    mu = np.zeros(R)
    var = np.ones(R)
    m, k = float(real), float(synthetic)
    N = m + k
    for _ in range(G):
        mean_r = rng.standard_normal(R) / math.sqrt(m)
        scat_r = rng.chisquare(real - 1, R)
        mean_s = mu + np.sqrt(var) * rng.standard_normal(R) / math.sqrt(k)
        scat_s = var * rng.chisquare(synthetic - 1, R)
        mu = (m * mean_r + k * mean_s) / N
        var = (scat_r + scat_s + (mean_s - mean_r) ** 2 * (m * k / N)) / N
    return mu, var


# ---------------------------------------------------------------- d = 1 mitigation loops
#
# The loops of docs/theory (GaussianLoop at d = 1) on sufficient statistics,
# vectorised over replicas: each part of c points of N(mean, var) is its
# sample mean mean + sqrt(var) Z / sqrt(c) and scatter var * chi2(c - 1)
# (Cochran), the parts pooled exactly (Chan et al.). MLE, temperature 1,
# truth N(0, 1), as the kernel's defaults. Each returns (mu, var).


def _part(rng, mu, var, c: float, R: int):
    """(mean, scatter) of c >= 2 draws of N(mu, var) per replica."""
    return mu + np.sqrt(var) * rng.standard_normal(R) / math.sqrt(c), var * rng.chisquare(c - 1, R)


def _pool(n_a, mean_a, scat_a, n_b, mean_b, scat_b):
    n = n_a + n_b
    return (
        n,
        mean_a + (mean_b - mean_a) * (n_b / n),
        scat_a + scat_b + (mean_b - mean_a) ** 2 * (n_a * n_b / n),
    )


def numpy_augment_suffstats(real: int, synthetic: int, R: int, G: int, seed: int = 0):
    """Augment: one fixed real set of `real` points per replica (drawn once),
    plus `synthetic` draws of the previous model each generation, pooled."""
    rng = np.random.default_rng(seed)
    mean_r, scat_r = _part(rng, np.zeros(R), np.ones(R), real, R)
    mu, var = np.zeros(R), np.ones(R)
    for _ in range(G):
        mean_s, scat_s = _part(rng, mu, var, synthetic, R)
        n, mu, scat = _pool(real, mean_r, scat_r, synthetic, mean_s, scat_s)
        var = scat / n
    return mu, var


def numpy_accumulate_suffstats(real: int, synthetic: int, R: int, G: int, seed: int = 0):
    """Accumulate: every point kept; generation t adds `real` fresh points of
    the truth and `synthetic` of the previous model to the pool, then fits on
    the pool."""
    rng = np.random.default_rng(seed)
    mu, var = np.zeros(R), np.ones(R)
    n, mean, scat = 0.0, np.zeros(R), np.zeros(R)
    for _ in range(G):
        mean_r, scat_r = _part(rng, np.zeros(R), np.ones(R), real, R)
        mean_s, scat_s = _part(rng, mu, var, synthetic, R)
        if n == 0.0:
            n, mean, scat = real, mean_r, scat_r
        else:
            n, mean, scat = _pool(n, mean, scat, real, mean_r, scat_r)
        n, mean, scat = _pool(n, mean, scat, synthetic, mean_s, scat_s)
        mu, var = mean, scat / n
    return mu, var


def numpy_weighted_suffstats(real: int, synthetic: int, weight: float, R: int, G: int, seed: int = 0):
    """The He-Xu-Cheng weighted fit on fresh data: mean and variance are
    w * (real part's fit) + (1 - w) * (synthetic part's fit)."""
    rng = np.random.default_rng(seed)
    mu, var = np.zeros(R), np.ones(R)
    for _ in range(G):
        mean_r, scat_r = _part(rng, np.zeros(R), np.ones(R), real, R)
        mean_s, scat_s = _part(rng, mu, var, synthetic, R)
        mu = weight * mean_r + (1.0 - weight) * mean_s
        var = weight * (scat_r / real) + (1.0 - weight) * (scat_s / synthetic)
    return mu, var


def numpy_filter_suffstats(real: int, synthetic: int, tpr: float, fpr: float, R: int, G: int, seed: int = 0):
    """Fresh data through a provenance filter: Binomial(synthetic, 1 - tpr)
    synthetic and Binomial(real, 1 - fpr) real points survive per replica; a
    generation with fewer than 2 pooled points keeps the model."""
    rng = np.random.default_rng(seed)
    mu, var = np.zeros(R), np.ones(R)
    for _ in range(G):
        k = rng.binomial(synthetic, 1.0 - tpr, R).astype(np.float64)
        m = rng.binomial(real, 1.0 - fpr, R).astype(np.float64)
        ks, ms = np.maximum(k, 1.0), np.maximum(m, 1.0)
        mean_r = rng.standard_normal(R) / np.sqrt(ms)
        scat_r = rng.chisquare(np.maximum(m - 1.0, 1.0)) * (m >= 2)
        mean_s = mu + np.sqrt(var) * rng.standard_normal(R) / np.sqrt(ks)
        scat_s = var * rng.chisquare(np.maximum(k - 1.0, 1.0)) * (k >= 2)
        n = m + k
        ok = n >= 2
        nn = np.where(ok, n, 1.0)
        mean = np.where(m > 0, mean_r, 0.0) * (m / nn) + np.where(k > 0, mean_s, 0.0) * (k / nn)
        scat = scat_r + scat_s + (mean_s - mean_r) ** 2 * (m * k / nn)
        mu = np.where(ok, mean, mu)
        var = np.where(ok, scat / nn, var)
    return mu, var
