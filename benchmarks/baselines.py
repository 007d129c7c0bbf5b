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
    below = rows * d + cols          # flat indices: a 2-D fancy assignment is ~2x faster
    diag = np.arange(d) * (d + 1)
    df = (n - 1 - np.arange(d)).astype(np.float64)[:, None]
    root_n = math.sqrt(n)
    A = np.zeros((R, d, d))
    A_flat = A.reshape(R, d * d)     # a view of A
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
