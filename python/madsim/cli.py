"""The ``madsim`` command line.

madsim demo                          a real run checked against theory
madsim init [run.toml]               write a commented run file to start from
madsim run RUN.toml -o result.nc     a run described by a TOML file (madsim.toml_config)
madsim sweep SWEEP.toml -o grid.nc   a parameter grid ([sweep] table), resumable
madsim plot result.nc -o fig.png     a figure of a saved result (tails, metric, survival)
madsim validate [--quick]            Monte Carlo against every closed form of madsim.theory
madsim repro --list | KEY | all      reproduce a paper of the literature (madsim.repro)
madsim bench                         a quick throughput check against numpy and Philox
madsim info                          version, RNG layout and build
madsim --version                     version and build (CUDA on/off, compiler, flags)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from madsim import atomic


def _demo(args) -> int:
    import madsim as ms
    from madsim import theory

    n, R, G, eps = args.n, args.replicas, args.generations, args.eps
    family = type(ms.Config().family).__name__  # the default family: the registry's first
    print(f"madsim {ms.__version__} demo: 1-D {family} refit on its own samples (replace loop)")
    print(
        f"truth N(0, 1), n = {n} samples per generation, MLE, {R} replicas x {G} generations, "
        f"seed {args.seed}\n"
    )
    checks = [t for t in (1, 10, 100, 1000, 10000) if t <= G]
    worst = 0.0
    for path in ("exact", "samples"):
        cfg = ms.Config(loop=ms.Replace(n=n), path=path)
        t0 = time.perf_counter()
        ds = ms.simulate(
            cfg,
            replicas=R,
            generations=G,
            seed=args.seed,
            record=checks,
            detect=[ms.FirstPassage("var", below=eps**2, name="collapse")],
            threads=args.threads,
        )
        wall = time.perf_counter() - t0
        print(f"path = {path}: {wall:.2f} s, {R * G / wall:.3g} replica-generations/s")
        print(f"  {'t':>6} {'quantity':<14} {'Monte Carlo':>22} {'closed form':>12} {'z':>6}")
        for t in checks:
            var = ds["var"].sel(generation=t).values
            rows = [("E ln sigma^2", np.log(var), theory.expected_log_var(t, n))]
            # a mean of sigma^2 (or sigma) is testable only where its CV is small
            if theory.cv2_sigma(t, n) < 1.0:
                rows.insert(0, ("E sigma", np.sqrt(var), theory.expected_sigma(t, n)))
            if theory.cv2_var(t, n) < 1.0:
                rows.insert(0, ("E sigma^2", var, theory.expected_var(t, n)))
            for name, x, exact in rows:
                mean, se = x.mean(), x.std(ddof=1) / np.sqrt(x.size)
                z = (mean - exact) / se
                worst = max(worst, abs(z))
                print(f"  {t:>6} {name:<14} {mean:>12.5f} +- {se:<7.5f} {float(exact):>12.5f} {z:>6.2f}")
        T = ds["collapse"].values
        hit = T >= 0
        approx = theory.collapse_time_wald(eps, n)
        print(
            f"  collapse time (first sigma_t <= {eps} sigma0): reached by {hit.mean():.1%} of replicas; "
            f"mean {T[hit].mean():.2f} +- {T[hit].std(ddof=1) / np.sqrt(hit.sum()):.2f}, "
            f"median {np.median(T[hit]):.0f}; Wald-Siegmund approximation {approx:.2f}\n"
        )
    print(
        f"largest |z| against exact closed forms: {worst:.2f} "
        f"({'consistent' if worst < 4.5 else 'INCONSISTENT'} with theory at the 1e-5 level)"
    )
    return 0 if worst < 4.5 else 1


def _validate(args) -> int:
    from madsim import validate

    return validate.main(args)


def _repro_one(paper, res, out: Path, comparisons: int | None = None) -> None:
    """Writes KEY.json (the table) and KEY.png (the figure) under ``out``, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "paper": {
            "key": paper.key,
            "authors": paper.authors,
            "year": paper.year,
            "title": paper.title,
            "venue": paper.venue,
            "arxiv": paper.arxiv,
            "claim": paper.claim,
        },
        "sizes": paper.sizes,
        **res.to_dict(comparisons),
    }
    atomic.write_text(out / f"{paper.key}.json", json.dumps(doc, indent=1, default=float))
    ax = paper.figure(res)
    fig = (ax[0] if isinstance(ax, (list, tuple, np.ndarray)) else ax).figure
    atomic.write(
        out / f"{paper.key}.png", lambda tmp: fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    )
    plt.close(fig)


def _repro(args) -> int:
    from madsim import repro

    if args.list or args.key is None:
        for p in repro.papers():
            print(f"{p.key:<18} {p.authors} ({p.year}). {p.title}. {p.venue}.")
            print(f"{'':<18} claim: {p.claim}")
        return 0
    size = "full" if args.full else "quick"
    keys = repro.keys() if args.key == "all" else [repro.get(args.key).key]
    if args.alpha is not None and not 0.0 < args.alpha < 1.0:
        raise ValueError(f"--alpha must lie in (0, 1); got {args.alpha}")
    out = Path(args.out)
    results = []
    for key in keys:
        paper = repro.get(key)
        print(f"== {key}: {paper.authors} ({paper.year}), {size} size ({paper.sizes[size]})", flush=True)
        res = paper.run(size, args.threads)
        if args.alpha is not None:
            res.alpha = args.alpha
        results.append((paper, res))
        print(res.table())
    total = sum(len(r.rows) for _, r in results)  # Bonferroni over every comparison of this command
    failed = 0
    for paper, res in results:
        _repro_one(paper, res, out, total)
        failed += len(res.failures(total))
    crit = results[0][1].z_crit(total)
    wall = sum(r.wall_s for _, r in results)
    print(
        f"\n{len(results)} paper(s), {total} comparisons, |z| < {crit:.2f} over all of them; "
        f"{failed} failed; {wall:.1f} s; tables and figures in {out}/"
    )
    return 1 if failed else 0


def _run(args) -> int:
    import madsim as ms
    from madsim import results, toml_config

    cfg, kwargs = toml_config.load(args.config)
    for key in ("replicas", "generations", "seed", "threads"):
        value = getattr(args, key)
        if value is not None:
            kwargs[key] = value
    if args.aggregate:
        kwargs["aggregate"] = True
    progress = None if args.progress is None else args.progress
    stream_to = kwargs.pop("out", None)  # [run] out = "run.zarr": a stream, as --stream
    if args.stream or stream_to is not None:
        from madsim.run import stream

        out = args.output or stream_to or str(Path(args.config).with_suffix(".zarr"))
        if stream.is_store(out):  # a stopped stream: continue it to the run's generations
            ds = ms.resume(
                out,
                generations=kwargs.get("generations", 100),
                threads=kwargs.get("threads"),
                progress=progress,
            )
        else:
            ds = ms.simulate(cfg, progress=progress, out=out, **kwargs)
    else:
        out = args.output or str(Path(args.config).with_suffix(".nc"))
        results.check_output(out)  # a bad extension or directory fails before the run, not after
        with atomic.lock(out):  # a second writer to `out` fails now, not after its run
            ds = ms.simulate(cfg, progress=progress, **kwargs)
            if _save(results, ds, out):
                return 130
    R, G = ds.sizes["replica"], ds.attrs["generations_completed"]
    print(
        f"{R} replicas x {G} generations ({ds.attrs['kernel']} kernel, {ds.attrs['wall_time_s']:.2f} s)"
        f" -> {out}"
    )
    for line in _last_generation_lines(ds):
        print(line)
    if ds.attrs.get("interrupted"):
        print("interrupted: the file holds the completed generations", file=sys.stderr)
        return 130
    return 0


def _last_generation_lines(ds) -> list[str]:
    """What `madsim run` prints of a result: for each scalar variable, its
    mean and standard error over the replicas at the last recorded
    generation (over the finite values: a variable that is NaN or inf in
    some replicas says how many were finite, with no numpy warning), and for
    each detector the share of replicas that fired."""
    last = int(ds["generation"].values[-1])
    R = ds.sizes["replica"]
    lines = []
    for name, var in ds.data_vars.items():
        if "aggregate" in ds.attrs and var.dims == ("generation",) and name.endswith("_mean"):
            x = name[: -len("_mean")]
            n = int(ds[f"{x}_finite"].sel(generation=last))
            some = f" ({n} of {R} replicas finite)" if n < R else ""
            lines.append(
                f"  E {x:<18} at t = {last}: {float(var.sel(generation=last)):.6g} +- "
                f"{float(ds[f'{x}_se'].sel(generation=last)):.2g}{some}"
            )
        elif var.dims == ("replica", "generation"):
            x = var.sel(generation=last).values.astype(np.float64)
            x = x[np.isfinite(x)]
            if x.size == 0:
                lines.append(f"  E {name:<18} at t = {last}: no finite value in {R} replicas")
                continue
            se = f"{x.std(ddof=1) / np.sqrt(x.size):.2g}" if x.size > 1 else "n/a"
            some = f" ({x.size} of {R} replicas finite)" if x.size < R else ""
            lines.append(f"  E {name:<18} at t = {last}: {x.mean():.6g} +- {se}{some}")
        elif var.dims == ("replica",) and np.issubdtype(var.dtype, np.integer):
            lines.append(f"  {name}: reached by {float((var.values >= 0).mean()):.1%} of replicas")
    return lines


def _init(args) -> int:
    from madsim import toml_config

    if args.reference:
        text, default = toml_config.reference_markdown(), "-"
    else:
        text, default = toml_config.template(), "run.toml"
    path = args.path or default
    if path == "-":
        sys.stdout.write(text)
        return 0
    out = Path(path)
    if out.exists() and not args.force:
        raise ValueError(f"{path} exists; pass --force to overwrite it")
    try:
        atomic.write_text(out, text)
    except OSError as exc:
        raise ValueError(f"cannot write {path!r}: {exc.strerror}") from None
    if args.reference:
        print(f"wrote {path}")
    else:
        print(f"wrote {path}: run it with  madsim run {path}")
    return 0


def _save(results, ds, out) -> bool:
    """Saves (atomically); True if a Ctrl-C stopped it (nothing written)."""
    try:
        results.save(ds, out)
    except KeyboardInterrupt:
        print(f"madsim: interrupted while saving: {out} was not written (no partial file)", file=sys.stderr)
        return True
    return False


def _sweep(args) -> int:
    import madsim as ms
    from madsim import results, toml_config

    cfg, kwargs, options = toml_config.load_sweep(args.config)
    kwargs.update(options)
    for key in ("replicas", "generations", "seed", "threads", "scheduler", "workers", "address", "block"):
        value = getattr(args, key)
        if value is not None:
            kwargs[key] = value
    out = args.output or str(Path(args.config).with_suffix(".nc"))
    results.check_output(out)  # a bad extension or directory fails before the sweep, not after
    store = None if args.no_store else (args.store or str(Path(out).with_suffix(".tasks")))
    with atomic.lock(out):
        try:
            ds = ms.sweep(cfg, store=store, progress=args.progress, **kwargs)
        except ms.SweepInterrupted as exc:
            print(f"madsim: {exc}", file=sys.stderr)
            return 130
        if _save(results, ds, out):
            return 130
    dims = json.loads(ds.attrs["grid_dims"])
    shape = " x ".join(f"{d} ({ds.sizes[d]})" for d in dims) or "one point"
    print(
        f"sweep over {shape}: {ds.sizes['replica']} replicas x {ds.attrs['generations']} generations, "
        f"{ds.attrs['tasks']} tasks ({ds.attrs['tasks_from_store']} from the store), "
        f"{ds.attrs['scheduler']} scheduler, {ds.attrs['wall_time_s']:.2f} s -> {out}"
    )
    if store is not None:
        print(f"task store: {store} (run the same command again to reuse it)")
    return 0


def _plot(args) -> int:
    from madsim import plots, results

    ds = results.load(args.result)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.kind == "tails":
        from madsim.families import spec_named

        family = json.loads(ds.attrs.get("config", "{}")).get("family", {}).get("type")
        spec = spec_named(family) if isinstance(family, str) else None
        ax = plots.token_ranks(ds) if spec is not None and "token_ranks" in spec.plots else plots.tails(ds)
    elif args.kind == "survival":
        name = args.name
        if not name:
            dets = plots.detector_names(ds)
            if len(dets) != 1:
                raise ValueError(f"madsim plot survival needs --name DETECTOR; {plots.detectors_text(dets)}")
            name = dets[0]  # the run's only detector
        ax = plots.survival(ds, name)
    else:
        ax = plots.metric(ds, args.name or "var")
    out = args.output or str(Path(args.result).with_suffix(f".{args.kind}.png"))
    fmt = Path(out).suffix.lstrip(".").lower() or "png"
    atomic.write(out, lambda tmp: ax.figure.savefig(tmp, dpi=110, bbox_inches="tight", format=fmt))
    plt.close(ax.figure)
    print(out)
    return 0


def _bench(args) -> int:
    """A quick, self-contained throughput check (the full suite with JSON output
    is benchmarks/run.py in a source checkout): the 1-D exact path against a
    vectorised numpy loop on sufficient statistics and the raw Philox rate,
    all measured now, on this machine, best of --repeats."""
    import os

    import madsim as ms
    from madsim._backend import core

    threads = args.threads or os.cpu_count() or 1
    n, R, G = 10, args.replicas, args.generations
    cfg = ms.Config(loop=ms.Replace(n=n))

    def best(fn):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def numpy_suffstats():
        rng = np.random.default_rng(0)
        mu, var = np.zeros(R), np.ones(R)
        for _ in range(G):
            mu = mu + np.sqrt(var) * rng.standard_normal(R) / np.sqrt(n)
            var = var * rng.chisquare(n - 1, R) / n

    rows = []
    for thr in sorted({1, threads}):
        t = best(
            lambda: ms.simulate(
                cfg, replicas=R, generations=G, seed=1, record=[G], threads=thr, progress=False
            )
        )
        rows.append((f"madsim exact n={n}, {thr} thread(s)", R * G / t))
    rows.append(("numpy suff. stats, 1 thread", R * G / best(numpy_suffstats)))
    blocks = 5_000_000
    philox = blocks * threads / min(core.philox_seconds(blocks, threads) for _ in range(args.repeats))
    print(f"madsim {ms.__version__} bench: R = {R}, G = {G}, best of {args.repeats}")
    print(f"  {'case':<34} {'replica-gen/s':>14} {'vs numpy':>9}")
    ref = rows[-1][1]
    for name, rate in rows:
        print(f"  {name:<34} {rate:>14.3g} {rate / ref:>8.2f}x")
    print(
        f"  {'Philox4x32-10 blocks/s, ' + str(threads) + ' thread(s)':<34} {philox:>14.3g}"
        f"   (the limit: ~1 block per replica-generation on the exact path)"
    )
    return 0


def _info(args) -> int:
    import madsim as ms

    print(
        json.dumps(
            {
                "madsim_version": ms.__version__,
                "rng_layout_version": ms.RNG_LAYOUT_VERSION,
                "build_info": ms.build_info(),
            },
            indent=2,
        )
    )
    return 0


def version_text() -> str:
    """`madsim --version`: the package version and how the compiled core was
    built (CUDA on or off, compiler, flags)."""
    import madsim as ms

    info = ms.build_info()
    if info.get("cuda"):
        cuda = (
            f"CUDA on (nvcc {info.get('cuda_version')}, architectures "
            f"{info.get('cuda_architectures')}, flags {info.get('cuda_flags')})"
        )
    else:
        cuda = "CUDA off (CPU only)"
    return "\n".join(
        [
            f"madsim {ms.__version__}",
            f"build: {cuda}",
            f"compiler: {info.get('compiler')}, flags {info.get('flags')}, CPU lanes {info.get('cpu_lanes')}",
            f"RNG: {info.get('rng')}, layout version {ms.RNG_LAYOUT_VERSION}",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``madsim`` argument parser, every subcommand and option with its help."""
    parser = argparse.ArgumentParser(
        prog="madsim",
        description="Monte Carlo of model collapse",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # --version's lines
    parser.add_argument(
        "--version",
        action="version",
        version=version_text(),
        help="print the version and the build (CUDA on/off, compiler, flags) and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the replace loop on both paths and compare with theory")
    demo.add_argument("--n", type=int, default=20, help="samples per generation (default 20)")
    demo.add_argument("--replicas", type=int, default=10_000, help="replicas (default 10000)")
    demo.add_argument("--generations", type=int, default=1_000, help="generations (default 1000)")
    demo.add_argument("--seed", type=int, default=1, help="Philox seed (default 1)")
    demo.add_argument(
        "--eps", type=float, default=0.1, help="collapse threshold on sigma/sigma0 (default 0.1)"
    )
    demo.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    demo.set_defaults(func=_demo)
    val = sub.add_parser(
        "validate",
        help="run the oracle cases: Monte Carlo vs the closed forms of madsim.theory (docs/theory/)",
        description="Runs madsim.simulate on each oracle case and compares Monte Carlo with "
        "madsim.theory; prints a table and exits 1 if any comparison fails at the "
        "stated family-wise false-fail rate (Bonferroni over all comparisons).",
    )
    val.add_argument("--quick", action="store_true", help="only the quick subset (CI; well under a minute)")
    val.add_argument(
        "--case", action="append", metavar="NAME", help="run only this case (repeatable; see --list)"
    )
    val.add_argument("--list", action="store_true", help="list the cases and exit")
    val.add_argument(
        "--alpha", type=float, default=1e-4, help="family-wise false-fail rate of the run (default 1e-4)"
    )
    val.add_argument(
        "--seed-offset",
        type=int,
        default=0,
        help="shift every case's seed (a fresh set of replicas; default 0)",
    )
    val.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    val.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    val.add_argument(
        "--aggregate",
        action="store_true",
        help="run each case with aggregated records (statistics over replicas) and compare "
        "the means of recorded variables only",
    )
    val.set_defaults(func=_validate)
    run = sub.add_parser(
        "run",
        help="run the simulation described by a TOML file and save the result",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs a TOML run file (madsim init writes one; madsim init --reference lists "
        "every key) and writes the Dataset (netCDF-4 .nc or .zarr).",
        epilog="example:\n  madsim init fresh.toml\n  madsim run fresh.toml -o fresh.nc --replicas 100000\n"
        "  madsim plot fresh.nc metric --name var",
    )
    run.add_argument("config", help="TOML run file")
    run.add_argument("-o", "--output", help="result path (.nc or .zarr; default: CONFIG with .nc)")
    run.add_argument("--replicas", type=int, help="override [run] replicas")
    run.add_argument("--generations", type=int, help="override [run] generations")
    run.add_argument("--seed", type=int, help="override [run] seed")
    run.add_argument("--threads", type=int, help="override [run] threads")
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: only on a terminal)",
    )
    run.add_argument(
        "--aggregate",
        action="store_true",
        help="record statistics over replicas (madsim.Aggregate defaults), not every replica",
    )
    run.add_argument(
        "--stream",
        action="store_true",
        help="write each chunk to the .zarr output as it completes (runs larger than "
        "memory); an existing stream is continued to the run's generations",
    )
    run.set_defaults(func=_run)
    swp = sub.add_parser(
        "sweep",
        help="run a parameter grid described by a TOML file and save one Dataset",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs a TOML sweep file (a run file with a [sweep] table; see "
        "madsim.toml_config) and writes one Dataset with the grid as dimensions. "
        "Finished tasks go to a store directory at once: after a Ctrl-C or a crash, "
        "the same command runs only what is missing.",
        epilog="example:\n  madsim sweep weights.toml -o weights.nc --scheduler dask --workers 8",
    )
    swp.add_argument("config", help="TOML sweep file")
    swp.add_argument("-o", "--output", help="result path (.nc or .zarr; default: CONFIG with .nc)")
    swp.add_argument("--store", help="task store directory (default: OUTPUT with .tasks)")
    swp.add_argument("--no-store", action="store_true", help="keep no task store (not resumable)")
    swp.add_argument("--replicas", type=int, help="override [run] replicas")
    swp.add_argument("--generations", type=int, help="override [run] generations")
    swp.add_argument("--seed", type=int, help="override [run] seed")
    swp.add_argument("--threads", type=int, help="kernel threads per task")
    swp.add_argument(
        "--scheduler",
        choices=("serial", "threads", "dask"),
        help="override [sweep] scheduler (default threads)",
    )
    swp.add_argument("--workers", type=int, help="threads or Dask worker processes")
    swp.add_argument("--address", help="Dask scheduler address (with --scheduler dask)")
    swp.add_argument("--block", type=int, help="override [sweep] block: replicas per task")
    swp.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar over tasks (default: only on a terminal)",
    )
    swp.set_defaults(func=_sweep)
    plot = sub.add_parser(
        "plot",
        help='draw a figure of a saved result (needs matplotlib: pip install "madsim[plot]", '
        'or pip install ".[plot]" in a source checkout)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  madsim plot run.nc tails -o tails.png\n"
        "  madsim plot run.nc metric --name log_var\n"
        "  madsim plot run.nc survival --name collapse",
    )
    plot.add_argument("result", help="a file written by madsim run or madsim.results.save")
    plot.add_argument(
        "kind",
        nargs="?",
        default="metric",
        choices=("metric", "tails", "survival"),
        help="metric: a variable's mean with its CI and quantile band (default); tails: "
        "the model's density against the truth's (token runs: probability by rank); "
        "survival: Kaplan-Meier curve of a detector",
    )
    plot.add_argument(
        "--name",
        help="metric: the variable (default var; log_var works); survival: the "
        "detector (default: the run's only one)",
    )
    plot.add_argument("-o", "--output", help="PNG path (default: RESULT.KIND.png)")
    plot.set_defaults(func=_plot)
    rep = sub.add_parser(
        "repro",
        help="reproduce a paper of the model-collapse literature (list, one, all)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Runs a paper's reproduction (madsim.repro): prints its table (the paper's number "
        "and/or the closed form against madsim's Monte Carlo mean +- SE, z) and writes "
        "KEY.png (the figure) and KEY.json (the table) under --out. Exits 1 if any "
        "comparison fails: |z| above the Bonferroni bound over every comparison of the "
        "command at the family-wise false-fail rate --alpha.",
        epilog="examples:\n  madsim repro --list\n  madsim repro shumailov2024 --out repro/\n"
        "  madsim repro all --quick\n  madsim repro all --full",
    )
    rep.add_argument("key", nargs="?", help="a paper's key (see --list) or 'all'")
    rep.add_argument(
        "--list", action="store_true", help="list every paper (key, authors, year, title, claim)"
    )
    size = rep.add_mutually_exclusive_group()
    size.add_argument(
        "--full",
        action="store_true",
        help="the full size: the paper's own setting or 1000x its replicas (minutes)",
    )
    size.add_argument(
        "--quick", action="store_true", help="the quick size, a few seconds per paper (default)"
    )
    rep.add_argument(
        "--out", default="repro", metavar="DIR", help="where KEY.png and KEY.json go (default ./repro)"
    )
    rep.add_argument(
        "--alpha", type=float, default=None, help="family-wise false-fail rate of the command (default 1e-4)"
    )
    rep.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    rep.set_defaults(func=_repro)
    bench = sub.add_parser("bench", help="quick throughput check against numpy and the Philox rate")
    bench.add_argument(
        "--replicas", type=int, default=100_000, help="replicas of each timed run (default 100000)"
    )
    bench.add_argument(
        "--generations", type=int, default=100, help="generations of each timed run (default 100)"
    )
    bench.add_argument(
        "--repeats", type=int, default=3, help="runs of each case; the best is reported (default 3)"
    )
    bench.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the multi-threaded rows and the Philox rate (default: all cores)",
    )
    bench.set_defaults(func=_bench)
    init = sub.add_parser(
        "init",
        help="write a commented run file (TOML) to start from",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Writes a small run file, valid as written (madsim run finishes it in a second "
        "or two), with every key the loader accepts: the live ones set, the others "
        "commented out with their meaning and default. --reference writes the Markdown "
        "reference of every key instead.",
        epilog="examples:\n  madsim init run.toml && madsim run run.toml\n"
        "  madsim init --reference > toml-reference.md",
    )
    init.add_argument(
        "path",
        nargs="?",
        help="where to write (default run.toml; with --reference standard output; - for standard output)",
    )
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    init.add_argument(
        "--reference",
        action="store_true",
        help="write the reference of every TOML key (Markdown) instead of a run file",
    )
    init.set_defaults(func=_init)
    info = sub.add_parser("info", help="print version, RNG layout and build information")
    info.set_defaults(func=_info)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (TypeError, ValueError, OSError, MemoryError, ImportError) as exc:
        print(f"madsim: error: {exc}", file=sys.stderr)
        return 2
