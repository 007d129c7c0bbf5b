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

A second table times collapsed models (the alias table is built over the
support, the tokens with mass): a law with S = 10 live tokens out of K
(K = 10 .. 10^4, n = 1000, samples path) against numpy's batched
multinomial on the same law, and a Wright-Fisher collapse from K = n = 1000
(cost per replica-generation over stretches of the run, with the mean
support at their ends). Its target comes from a measured limit: the K = 10
row, where every O(K) pass is negligible and what is left is the n alias
picks from a tiny table; a model collapsed onto 10 of K <= 1000 tokens
should cost at most 1.5x that limit.

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
from common import parse_args, simulate_fn, timed, timed_with_result, write_results
from madsim._backend import core


def madsim_run(K, n, R, G, path, threads):
    cfg = ms.Config(family=ms.Categorical(tokens=K), loop=ms.Replace(n=n), path=path)
    return simulate_fn(cfg, R, G, threads, ["support"])


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


def live_law(K: int, S: int) -> np.ndarray:
    """S tokens of equal mass spread over K, the rest dead (probability 0)."""
    p = np.zeros(K)
    p[np.arange(S) * (K // S)] = 1.0 / S
    p[(S - 1) * (K // S)] += 1.0 - p.sum()
    return p


def collapsed_run(p, n, R, G, path, threads):
    cfg = ms.Config(family=ms.Categorical(probs=p.tolist()), loop=ms.Replace(n=n), path=path)
    return simulate_fn(cfg, R, G, threads, ["support"])


def numpy_multinomial_from(p, n, R, G):
    def run():
        rng = np.random.default_rng(1)
        P = np.tile(p, (R, 1))
        for _ in range(G):
            P = rng.multinomial(n, P) / n
        return P

    return run


# the target for a collapsed model: its cost over the K = S limit (the n picks from a tiny table)
COLLAPSED_TARGET = 1.5


def support_rows(args, scale):
    """Fixed support S = 10 over K tokens, and a collapse trajectory from K = n = 1000."""
    th, rep, n, S = args.threads, args.repeats, 1000, 10
    R, G = int(400 * scale) or 10, 20
    fixed = []
    for K in (10, 100, 1000, 10_000):
        r = R if K < 10_000 else max(R // 8, 4)
        e = {"K": K, "support": S, "n": n, "R": r, "G": G}
        for path in ("samples", "exact"):
            t = timed(collapsed_run(live_law(K, S), n, r, G, path, th), rep)
            e[f"madsim_{path}_rg_per_s"] = r * G / t["min_s"]
        t = timed(numpy_multinomial_from(live_law(K, S), n, r, G), rep)
        e["numpy_multinomial_rg_per_s"] = r * G / t["min_s"]
        fixed.append(e)
    limit = fixed[0]["madsim_samples_rg_per_s"]
    for e in fixed:
        e["cost_over_limit"] = limit / e["madsim_samples_rg_per_s"]
    # Wright-Fisher from a uniform truth: time the first G generations for growing G and
    # difference them (the cost of each stretch, the call's fixed cost cancelled), with the
    # mean support where each stretch ends
    Rt, ends = int(100 * scale) or 4, (2, 10, 50, 200, 800, 2000)
    total, support = {}, {}
    for G_end in ends:
        fn = collapsed_run(np.full(1000, 1e-3), n, Rt, G_end, "samples", th)
        t, ds = timed_with_result(fn, rep)
        total[G_end], support[G_end] = t["min_s"], float(ds["support"].values.mean())
    trajectory, start = [], ends[0]
    for G_end in ends[1:]:
        us = 1e6 * (total[G_end] - total[start]) / (Rt * (G_end - start))
        trajectory.append({"generations": [start, G_end], "us_per_rg": us, "support_at_end": support[G_end]})
        start = G_end
    return fixed, trajectory


def print_support(fixed, trajectory, threads):
    print(
        f"\nCollapsed models: support {fixed[0]['support']} of K tokens, n = {fixed[0]['n']}, "
        f"replace loop, {threads} threads (rg/s; limit = the K = {fixed[0]['K']} samples row; "
        f"target: cost over limit <= {COLLAPSED_TARGET} for K <= 1000)"
    )
    print(
        f"{'K':>7} | {'samples':>9} {'exact':>9} | {'np multinom':>11} | {'x multinom':>10} | {'over limit':>10}"
    )
    for e in fixed:
        best = max(e["madsim_samples_rg_per_s"], e["madsim_exact_rg_per_s"])
        print(
            f"{e['K']:>7} | {e['madsim_samples_rg_per_s']:>9.3g} {e['madsim_exact_rg_per_s']:>9.3g} | "
            f"{e['numpy_multinomial_rg_per_s']:>11.3g} | {best / e['numpy_multinomial_rg_per_s']:>10.1f} | "
            f"{e['cost_over_limit']:>10.2f}"
        )
    print("Wright-Fisher collapse from K = n = 1000 (samples path): cost per stretch of generations")
    for r in trajectory:
        g0, g1 = r["generations"]
        print(
            f"  generations {g0:>4}-{g1:<4} {r['us_per_rg']:>7.2f} us/rg   mean support at {g1}: {r['support_at_end']:.0f}"
        )


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
    fixed, trajectory = support_rows(args, scale)
    print_support(fixed, trajectory, th)
    write_results(
        "tokens",
        args,
        philox_rate,
        rows,
        philox_lanes_blocks_per_s=philox_lanes_rate,
        collapsed=fixed,
        collapse_trajectory=trajectory,
        collapsed_target=COLLAPSED_TARGET,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
