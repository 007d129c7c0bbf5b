"""Benchmark of the categorical token family (issue 8): the replace loop
(neutral Wright-Fisher resampling, MLE refit) at K = n = 1000 and at
K = 1e5, n = 1e6, madsim's exact and samples paths against what a user
writes without it, all measured in the same run on the same machine:

- numpy batched ``Generator.multinomial(n, P)`` with P [R, K] (vectorised
  over replicas: conditional binomials in C);
- a ``np.random.choice`` loop, one replica at a time (the peers' scripts);
- JAX jit: ``jax.random.multinomial`` vmapped over replicas, ``lax.scan``
  over generations, compile time apart;
- the raw Philox4x32-10 block rate of madsim's generator on the same
  threads (the physical limit), with the blocks each path consumes.

Throughput is replica-generations per second (min of repeats); ratios are
what to read, absolute times drift on shared machines. Prints a table and
writes JSON to benchmarks/results/tokens-<host>-<time>.json.

    python benchmarks/tokens.py            # ~1-2 minutes on 2 cores
    python benchmarks/tokens.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import time

import numpy as np

import madsim as ms
from common import parse_args, timed, write_results
from madsim._backend import core


def madsim_run(K, n, R, G, path, threads):
    cfg = ms.Config(family=ms.Categorical(tokens=K), loop=ms.Replace(n=n), path=path)
    return lambda: ms.simulate(
        cfg,
        replicas=R,
        generations=G,
        seed=1,
        record=[G],
        metrics=["support"],
        threads=threads,
        progress=False,
        chunk=G,
    )


def numpy_multinomial(K, n, R, G):
    def run():
        rng = np.random.default_rng(1)
        P = np.full((R, K), 1.0 / K)
        for _ in range(G):
            P = rng.multinomial(n, P) / n
        return P

    return run


def numpy_choice_loop(K, n, R, G):
    def run():
        rng = np.random.default_rng(1)
        out = []
        for _ in range(R):
            p = np.full(K, 1.0 / K)
            for _ in range(G):
                p = np.bincount(rng.choice(K, size=n, p=p), minlength=K) / n
            out.append(p)
        return out

    return run


def jax_multinomial(K, n, R, G):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None, None
    jax.config.update("jax_enable_x64", True)

    def one(key, p):
        def body(p, k):
            c = jax.random.multinomial(k, n, p)
            return c / n, None

        p, _ = jax.lax.scan(body, p, jax.random.split(key, G))
        return p

    f = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.PRNGKey(1), R)
    p0 = jnp.full((R, K), 1.0 / K)
    t = time.perf_counter()
    compiled = f.lower(keys, p0).compile()
    compile_s = time.perf_counter() - t
    return (lambda: compiled(keys, p0).block_until_ready()), compile_s


def blocks_per_generation(K, n, path):
    """Philox blocks one replica-generation consumes: the samples path draws
    one block per two tokens through the alias table, exactly; the exact path
    does so while n <= 4 x support and then one conditional binomial per
    token with mass (~1-1.2 blocks each), so as the Wright-Fisher support
    shrinks its count is not known in advance: None."""
    return n / 2.0 if path == "samples" else None


def main(argv=None):
    args = parse_args(__doc__, argv)
    th, rep = args.threads, args.repeats
    scale = 0.05 if args.quick else 1.0
    # (K, n, R, G for madsim / numpy batched, R, G for the choice loop, R for JAX: the slow
    # baselines run fewer replicas; throughput is per replica-generation either way)
    sizes = [
        (1000, 1000, int(2000 * scale) or 10, 50, 20, 10, int(500 * scale) or 10),
        (100_000, 1_000_000, int(40 * scale) or 2, 5, 2, 2, 2),
    ]
    philox = core.philox_seconds(2_000_000, th)
    philox_rate = 2_000_000 * th / philox
    # the SIMD lane generator the alias draws use (csrc/cpu/lane_kit.hpp): the limit
    philox_lanes_rate = 2_000_000 * th / core.philox_seconds(2_000_000, th, True)
    rows = []
    for K, n, R, G, Rc, Gc, Rj in sizes:
        entry = {"K": K, "n": n, "R": R, "G": G, "threads": th}
        for path in ("exact", "samples"):
            t = timed(madsim_run(K, n, R, G, path, th), rep)
            t["rg_per_s"] = R * G / t["min_s"]
            t["blocks_per_rg"] = blocks_per_generation(K, n, path)
            if t["blocks_per_rg"] is not None:
                t["fraction_of_philox"] = t["rg_per_s"] * t["blocks_per_rg"] / philox_rate
                t["fraction_of_philox_lanes"] = t["rg_per_s"] * t["blocks_per_rg"] / philox_lanes_rate
            entry[f"madsim_{path}"] = t
        t = timed(numpy_multinomial(K, n, R, G), rep)
        t["rg_per_s"] = R * G / t["min_s"]
        entry["numpy_multinomial"] = t
        t = timed(numpy_choice_loop(K, n, Rc, Gc), 1)
        t["rg_per_s"] = Rc * Gc / t["min_s"]
        entry["numpy_choice_loop"] = t
        fn, compile_s = jax_multinomial(K, n, Rj, G)
        if fn is not None:
            fn()
            t = timed(fn, rep)
            t["rg_per_s"] = Rj * G / t["min_s"]
            t["compile_s"] = compile_s
            entry["jax_multinomial"] = t
        rows.append(entry)

    print(
        f"Categorical replace loop, {th} threads; Philox {philox_rate / 1e6:.1f}M blocks/s scalar, "
        f"{philox_lanes_rate / 1e6:.1f}M in SIMD lanes "
        "(replica-generations per second, min of repeats; ratio = madsim best path / baseline)"
    )
    print(
        f"{'K':>7} {'n':>8} | {'exact':>9} {'samples':>9} | {'np multinom':>11} {'np choice':>10} "
        f"{'JAX jit':>9} | {'x multinom':>10} {'x choice':>9} {'x JAX':>7} | {'samples % lanes Philox':>22}"
    )
    for e in rows:
        best = max(e["madsim_exact"]["rg_per_s"], e["madsim_samples"]["rg_per_s"])
        jx = e.get("jax_multinomial", {}).get("rg_per_s", float("nan"))
        print(
            f"{e['K']:>7} {e['n']:>8} | {e['madsim_exact']['rg_per_s']:>9.3g} "
            f"{e['madsim_samples']['rg_per_s']:>9.3g} | {e['numpy_multinomial']['rg_per_s']:>11.3g} "
            f"{e['numpy_choice_loop']['rg_per_s']:>10.3g} {jx:>9.3g} | "
            f"{best / e['numpy_multinomial']['rg_per_s']:>10.1f} "
            f"{best / e['numpy_choice_loop']['rg_per_s']:>9.0f} {best / jx:>7.1f} | "
            f"{100 * e['madsim_samples']['fraction_of_philox_lanes']:>21.1f}%"
        )
    write_results("tokens", args, philox_rate, rows, philox_lanes_blocks_per_s=philox_lanes_rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
