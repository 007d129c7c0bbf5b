"""``madsim.simulate``: a new run, its arguments checked before the kernel is
built, then advanced by the driver (in memory, or streamed to a zarr store)."""

from __future__ import annotations

import functools
import os
from typing import Sequence

import xarray as xr

from .. import atomic
from .. import checks as check
from . import aggregate as aggmod
from . import records as recmod
from . import stream as streammod
from ..config import Config
from ..kernels import BACKENDS
from .driver import run_chunks
from .options import (
    DTYPES,
    MAX_GENERATIONS,
    NONFINITE,
    FirstPassage,
    as_detectors,
    replica_spec,
    thread_count,
)


def simulate(
    cfg: Config,
    replicas: int | Sequence[int] = 1000,
    generations: int = 100,
    seed: int = 0,
    record=None,
    detect: Sequence[FirstPassage] = (),
    threads: int | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    backend: str = "cpu",
    metrics: Sequence[str] | None = None,
    on_nonfinite: str = "warn",
    dtype: str = "float64",
    aggregate: aggmod.Aggregate | bool | None = None,
    out: str | os.PathLike | None = None,
) -> xr.Dataset:
    """Runs ``generations`` fits of ``cfg`` for each replica.

    Every argument is checked, and the memory the run needs (replica ids,
    state, records, detector columns, the returned Dataset) is compared with
    the machine's RAM, before anything is allocated or run.

    Parameters
    ----------
    cfg
        what to simulate: a :class:`Config`.
    replicas
        a count R (ids 0..R-1) or a sequence of replica ids; replica k gives the
        same numbers whichever others run beside it.
    generations
        number of fits; generation 0 is the truth.
    seed
        the Philox key, an integer in [0, 2**64).
    record
        ``every(k)``, ``logspace(num)``, a list of generations, or None (about
        1000 evenly spaced: ``every(ceil(generations / 1000))``). The rule is
        kept in ``attrs["record"]``; ``resume`` continues with it.
    detect
        ``FirstPassage`` detectors, checked on every generation. Their names
        may not be a name of the result (a variable the kernel can record, a
        coordinate, ``state``).
    threads
        CPU threads (default: all cores); never changes a number.
    chunk
        generations per kernel call (default: adaptive, ~0.25 s each, splitting
        the replicas into blocks where one generation of all of them takes
        longer); never changes a number.
    progress
        a tqdm bar; None shows it only on an interactive terminal.
    backend
        "cpu" (the compiled core) or "jax" (its pure-JAX twin, madsim.reference,
        for checking: the same Dataset, integers exact and floats typically
        within 1e-15 of the core's, at most 1e-11 relative in
        tests/test_simulate_backends.py; several times slower, and compiling for
        seconds per model; needs jax), or "cuda" (the same compiled step
        functions on a GPU, one thread per replica; needs a CUDA build and a
        visible device, else madsim.CudaUnavailableError saying which is
        missing; see the user guide's "Backends" page for how its numbers
        compare).
    metrics
        the variables to record (names as in the Dataset: e.g. ["var", "tail3",
        "kl_model_truth"]), "all", or None for the family's lean default (the
        model's parameters and a few cheap summaries: each family's ``LEAN``;
        with a filter also its counters). Only the chosen columns are computed
        and stored on recorded generations (memory R x records x chosen);
        detectors may watch any metric, recorded or not.
    on_nonfinite
        what happens when a replica's state becomes inf or NaN (a diverging
        run: e.g. temperature > 1 with a small n, whose variance grows past the
        largest double). The state rows are checked after every chunk. "warn"
        (default): the run goes on and a madsim.NonFiniteWarning at the end
        gives the number of such replicas and the chunk of generations where
        the first one appeared (with the first recorded generation holding a
        NaN); ``attrs["nonfinite_replicas"]`` counts them. "raise":
        madsim.NonFiniteError at the first such chunk. "ignore": no check.
        Parameters whose first generation already overflows (a truth variance
        or mean^2 times temperature^2 above 1e150, a smoothing times the token
        count above 1e300) are refused with a ValueError before the kernel
        runs.
    dtype
        "float64" (default) or "float32": the recorded variables' type in the
        returned Dataset (half the memory; the kernel computes in float64, and
        ``state`` stays float64 so that ``resume`` is exact).
    aggregate
        None (default): every replica's records. True or a
        :class:`madsim.Aggregate`: statistics over replicas instead, per
        recorded generation (``x_finite``, ``x_mean``, ``x_var``, ``x_se``,
        ``x_min``, ``x_max``, quantiles ``x_q``, histograms ``x_hist``, and
        ``<detector>_survival``), reduced chunk by chunk so that memory does
        not grow with replicas x records; the same numbers whatever
        ``threads`` and ``chunk`` (see madsim.run.aggregate and the user guide's
        "Runs at scale" page).
    out
        None (default): the result in memory. A path ending in ``.zarr``: the
        run is streamed there, each chunk's records written as it completes
        (memory: the state and one chunk's records), and the store is
        returned opened lazily (``madsim.open_run``); a Ctrl-C leaves a valid
        store of the completed generations, which ``madsim.resume(path,
        generations=...)`` continues in place. Needs the zarr package.

    Returns
    -------
    xarray.Dataset
        Dims (replica, generation, ...): the recorded variables, one int64
        variable per detector, the kernel state and provenance attrs (see the
        user guide's "Results on disk" page). Aggregated: the statistics over
        (generation, ...), the state and detector columns over replica.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Gaussian(), loop=ms.Replace(n=20))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, record=ms.every(5),
    ...                  metrics=["mean", "var"],
    ...                  detect=[ms.FirstPassage("var", below=0.5, name="halved")])
    >>> dict(ds.sizes)
    {'replica': 100, 'generation': 3, ...}
    >>> ds["generation"].values.tolist()
    [0, 5, 10]
    >>> ds["halved"].dtype              # first generation with var <= 0.5, -1 if never
    dtype('int64')
    >>> alone = ms.simulate(cfg, replicas=[3], generations=10, seed=1, metrics=["var"])
    >>> among = ms.simulate(cfg, replicas=5, generations=10, seed=1, metrics=["var"])
    >>> bool(alone["var"].values[0, -1] == among["var"].values[3, -1])   # replica 3 either way
    True
    """
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a madsim.Config; got {cfg!r}")
    check.choice("backend", backend, BACKENDS)
    check.choice("on_nonfinite", on_nonfinite, NONFINITE)
    check.choice("dtype", dtype, DTYPES)
    ids = replica_spec(replicas)
    generations = check.integer("generations", generations, 0, MAX_GENERATIONS)
    seed = check.integer("seed", seed, 0, 2**64 - 1)
    rule = recmod.to_rule(record, generations)
    rec_gens = recmod.resolve(record, generations)
    threads = thread_count(threads)
    if chunk is not None:
        chunk = check.integer("chunk", chunk, 1)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None; got {progress!r}")
    detect = as_detectors(detect)
    agg = aggmod.as_aggregate(aggregate)
    run = functools.partial(
        run_chunks,
        cfg,
        ids,
        generations,
        seed,
        rec_gens,
        detect,
        threads,
        chunk,
        progress,
        backend,
        metrics=metrics,
        on_nonfinite=on_nonfinite,
        dtype=dtype,
        rule=rule,
        agg=agg,
    )
    if out is None:
        return run()
    path = streammod.check_out(out)
    with atomic.lock(path):  # a second writer to the store is refused
        return run(out=path)
