"""The run driver: chunks of generations through the compiled kernel.

Python loops over chunks; each chunk runs in C++ with the GIL released, so a
Ctrl-C stops the run within about a chunk and returns every completed
generation. Chunk sizes adapt to take about ``CHUNK_SECONDS`` each, in
generations and, where one generation of every replica takes longer, in
blocks of replicas; they never change a number (each draw is addressed by
seed, replica, generation and stream).

Interrupt safety: a chunk advances a copy of the state rows and detector
columns, and is committed (one assignment) only after every call of it
returned; a Ctrl-C (or any error) anywhere before that drops the chunk
whole. So the state, detector columns and records a run returns are always
those of ``generations_completed``, and ``resume`` continues it exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr

from .. import atomic
from .. import checks as check
from . import aggregate as aggmod
from . import stream as streammod
from . import records as recmod
from .._backend import RNG_LAYOUT_VERSION, build_info
from ..config import Config, spec_for
from ..kernels import BACKENDS, MEMORY_FRACTION, kernel_for

CHUNK_SECONDS = 0.25  # target wall time per chunk: Ctrl-C answers within about this
MAX_GENERATIONS = 2**32 - 2  # counter generation field is 32 bits; one value reserved


NONFINITE = ("warn", "raise", "ignore")
DTYPES = ("float64", "float32")
# Names every result has, or may have, besides the kernel's variables: a
# detector (or anything user-named) may not take them.
RESERVED = ("replica", "generation", "state", "state_index", "quantile", "replica_id", "config", "kernel")


class RunInterrupted(UserWarning):
    """Issued when Ctrl-C stops a run; the returned Dataset holds what finished.

    Examples
    --------
    >>> import madsim as ms
    >>> issubclass(ms.RunInterrupted, UserWarning)
    True
    """


class NonFiniteWarning(RuntimeWarning):
    """Issued when replicas' state became inf or NaN (the run diverged);
    ``simulate(..., on_nonfinite="raise")`` raises NonFiniteError instead.

    Examples
    --------
    >>> import warnings
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Replace(n=100), temperature=1.5)   # the variance grows 2.25x a generation
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     ds = ms.simulate(cfg, replicas=100, generations=1000, seed=1, progress=False)
    >>> any(issubclass(w.category, ms.NonFiniteWarning) for w in caught)
    True
    >>> int(ds.attrs["nonfinite_replicas"])
    100
    """


class NonFiniteError(FloatingPointError):
    """Raised by ``simulate(..., on_nonfinite="raise")`` when a replica's state becomes inf or NaN.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Replace(n=100), temperature=1.5)
    >>> try:
    ...     ms.simulate(cfg, replicas=100, generations=1000, seed=1, on_nonfinite="raise")
    ... except ms.NonFiniteError:
    ...     print("diverged")
    diverged
    """


@dataclass(frozen=True)
class FirstPassage:
    """A collapse detector: the first generation at which ``metric`` is
    ``<= below`` (or ``>= above``). Checked on every generation inside the
    kernel, not only recorded ones; -1 when not reached (censored).

    Parameters
    ----------
    metric
        the variable watched (any metric of the family, recorded or not).
    below, above
        the threshold: exactly one of them.
    name
        the detector's variable in the Dataset (default
        ``first_<metric>_below`` / ``_above``).

    Examples
    --------
    >>> import madsim as ms
    >>> det = ms.FirstPassage("var", below=0.5, name="halved")
    >>> ds = ms.simulate(ms.Config(loop=ms.Replace(n=5)), replicas=100, generations=10, seed=1,
    ...                  metrics=["var"], detect=[det])
    >>> int(ds["halved"].min()) >= -1
    True
    >>> ms.FirstPassage("var", below=0.5).label
    'first_var_below'
    """

    metric: str
    below: float | None = None
    above: float | None = None
    name: str | None = None

    def __post_init__(self):
        if not isinstance(self.metric, str):
            raise TypeError(f"FirstPassage.metric must be a metric name (str); got {self.metric!r}")
        if (self.below is None) == (self.above is None):
            raise ValueError(
                f"FirstPassage({self.metric!r}) needs exactly one of below= or above=; "
                f"got below={self.below!r}, above={self.above!r}"
            )
        if self.below is not None:
            object.__setattr__(self, "below", check.real("FirstPassage.below", self.below))
        else:
            object.__setattr__(self, "above", check.real("FirstPassage.above", self.above))
        if self.name is not None:
            if not isinstance(self.name, str) or not self.name.strip():
                raise TypeError(f"FirstPassage.name must be None or a non-empty str; got {self.name!r}")
            if self.name in RESERVED:
                raise ValueError(
                    f"FirstPassage.name {self.name!r} is reserved (the result's own names: "
                    f"{', '.join(RESERVED)})"
                )

    @property
    def label(self) -> str:
        if self.name is not None:
            return self.name
        return f"first_{self.metric}_{'below' if self.below is not None else 'above'}"


def replica_spec(replicas) -> int | np.ndarray:
    """A count (ids 0..R-1, allocated only after the memory check) or the ids."""
    if isinstance(replicas, (str, bytes)) or not (
        hasattr(replicas, "__iter__") or isinstance(replicas, (int, np.integer))
    ):
        raise TypeError(f"replicas must be a positive integer or a sequence of replica ids; got {replicas!r}")
    if not hasattr(replicas, "__iter__"):
        return check.integer("replicas", replicas, 1, 2**32)
    return _replica_ids(replicas)


def _replica_ids(replicas) -> np.ndarray:
    if isinstance(replicas, (str, bytes)) or not (
        hasattr(replicas, "__iter__") or isinstance(replicas, (int, np.integer))
    ):
        raise TypeError(f"replicas must be a positive integer or a sequence of replica ids; got {replicas!r}")
    if not hasattr(replicas, "__iter__"):
        r = check.integer("replicas", replicas, 1, 2**32)
        check_bytes(4 * r, f"{r} replica ids")
        return np.arange(r, dtype=np.uint32)
    ids = [check.integer("replicas[]", i, 0, 2**32 - 1) for i in replicas]
    if not ids:
        raise ValueError("replicas must name at least one replica id; got an empty sequence")
    if len(set(ids)) != len(ids):
        raise ValueError("replicas must not repeat a replica id")
    return np.asarray(ids, dtype=np.uint32)


def _threads(threads) -> int:
    if threads is None:
        return os.cpu_count() or 1
    return check.integer("threads", threads, 1, 4096)


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
    threads = _threads(threads)
    if chunk is not None:
        chunk = check.integer("chunk", chunk, 1)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None; got {progress!r}")
    detect = as_detectors(detect)
    agg = aggmod.as_aggregate(aggregate)
    run = functools.partial(
        _run,
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


def as_detectors(detect) -> list:
    if isinstance(detect, (str, bytes, FirstPassage)) or not hasattr(detect, "__iter__"):
        raise TypeError(f"detect must be a list of madsim.FirstPassage; got {detect!r}")
    detect = list(detect)
    for j, d in enumerate(detect):
        if not isinstance(d, FirstPassage):
            raise TypeError(f"detect[{j}] must be a madsim.FirstPassage; got {d!r}")
    return detect


@dataclass
class _Start:
    """Where a resumed run picks up: the last completed generation, the state
    rows and detector columns there, and the Dataset recorded so far."""

    generation: int
    state: np.ndarray
    first: np.ndarray
    previous: xr.Dataset | None


def metrics_spec(metrics) -> None | str | list:
    """``metrics`` checked for its type: None, "all", or a list of names
    (the names themselves are checked against a kernel by chosen_variables)."""
    if metrics is None or (isinstance(metrics, str) and metrics == "all"):
        return metrics
    if isinstance(metrics, (str, bytes)) or not hasattr(metrics, "__iter__"):
        raise TypeError(f'metrics must be None, "all" or a list of variable names; got {metrics!r}')
    return list(metrics)


def chosen_variables(kern, metrics) -> list[str]:
    """The variables ``metrics`` names, in the kernel's order (the lean
    default for None, every one for "all")."""
    allowed = kern.variables
    names = metrics_spec(metrics)
    if names is None:
        return list(kern.default_variables)
    if names == "all":
        return list(allowed)
    bad = [m for m in names if not isinstance(m, str) or m not in allowed]
    if bad:
        raise ValueError(
            f"metrics: unknown name{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; this "
            f"run ({kern.name} kernel) records {', '.join(map(repr, allowed))}"
        )
    return [m for m in allowed if m in names]


def reserved_names(kern) -> set:
    """Every name a result of ``kern`` has or may have: what the kernel can
    record, its array dimensions, the coordinates and ``state``."""
    names = set(RESERVED) | set(kern.variables)
    for _index, dims in kern.arrays.values():
        names.update(dims)
    return names


def check_detectors(kern, detect) -> list[str]:
    """Detector labels, checked against the kernel (metric) and the result's
    names (no collision, none twice); raises before any kernel runs."""
    labels = []
    taken = reserved_names(kern)
    for j, d in enumerate(detect):
        if d.metric not in kern.observed:
            raise ValueError(
                f"detect[{j}].metric must be one of {', '.join(map(repr, kern.observed))}; got {d.metric!r}"
            )
        if d.label in taken:
            raise ValueError(
                f"detect[{j}]: the name {d.label!r} is taken by the result ({kern.name} kernel: its "
                f"variables, coordinates and state); give FirstPassage(..., name=) another name"
            )
        labels.append(d.label)
    if len(set(labels)) != len(labels):
        raise ValueError(f"detect: labels must be distinct; got {labels}")
    return labels


def check_scale(cfg: Config) -> None:
    """Refuses parameters whose first generation already overflows float64
    (a ValueError naming them), before any kernel runs: the family's own
    check (its spec's ``check_scale``; limit ``SCALE_LIMIT``)."""
    spec_for(cfg.family).check_scale(cfg)


def check_bytes(need: float, what: str) -> None:
    """MemoryError (with the estimate) if ``need`` bytes exceed
    MEMORY_FRACTION of the machine's RAM."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return
    if need > MEMORY_FRACTION * ram:
        raise MemoryError(
            f"{what} need {need / 2**30:.2f} GiB, more than {MEMORY_FRACTION:.0%} of this machine's "
            f"{ram / 2**30:.1f} GiB of RAM; run fewer replicas, record fewer generations or metrics "
            "(record=, metrics=), or use dtype='float32'"
        )


def _run(
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
    start: _Start | None = None,
    metrics=None,
    on_nonfinite: str = "warn",
    dtype: str = "float64",
    rule: dict | None = None,
    agg: aggmod.Aggregate | None = None,
    out=None,
    store_keep: int | None = None,
) -> xr.Dataset:
    """The run (see simulate). ``out``: stream to that zarr store, new, or
    (``store_keep`` = its completed records) the store being resumed."""
    R = ids if isinstance(ids, int) else int(ids.size)
    check_scale(cfg)
    # the provenance text, made before the run: nothing that could fail may
    # wait until after it
    provenance = dict(
        config=cfg.to_json(),
        detectors=json.dumps([dataclasses.asdict(d) for d in detect]),
        build_info=json.dumps(build_info(), sort_keys=True),
    )
    # (a run of 0 generations is checked as one of 1: the schedules' checks
    # need a generation to look at; nothing past generation 0 runs)
    kern = kernel_for(cfg, max(generations, 1), R, backend=backend)
    chosen = chosen_variables(kern, metrics)
    cols = kern.record_columns(chosen)  # [C] int32: what the kernel copies into a record row
    slot = np.full(max([0] + [int(c) + 1 for c in cols]), -1, dtype=np.int64)
    slot[cols] = np.arange(cols.size)  # observe column -> position in a record row
    labels = check_detectors(kern, detect)
    det = np.zeros((len(detect), 3), dtype=np.float64)
    for j, d in enumerate(detect):
        below = d.below is not None
        det[j] = (kern.columns[d.metric], 1.0 if below else 0.0, d.below if below else d.above)

    gen0 = 0 if start is None else start.generation
    rec_gens = rec_gens[rec_gens > gen0] if gen0 > 0 else rec_gens
    S, D, C, n_rec = kern.initial_state.size, len(detect), int(cols.size), int(rec_gens.size)
    # Everything the run holds at its peak, before any of it is allocated:
    # ids, two state buffers (the committed one and the chunk's copy),
    # detector columns (two), the records, and a float32 copy of them.
    layout = _layout(kern, chosen, slot)
    if agg is None and out is not None:
        need = R * (4 + 16 * S + 16 * D) + max(aggmod.BLOCK_BYTES, 8 * R * C)
        check_bytes(
            need,
            f"this streamed run's arrays ({R} replicas: ids, state rows of {S} doubles x 2, "
            f"a chunk's records of {C} columns)",
        )
    elif agg is None:
        need = R * (4 + 16 * S + 16 * D) + 8 * R * n_rec * C * (1.5 if dtype == "float32" else 1.0)
        check_bytes(
            need,
            f"this run's arrays ({R} replicas: ids, state rows of {S} doubles x 2, "
            f"{n_rec} records of {C} columns)",
        )
    else:
        hist = aggmod.hist_columns(agg, layout)
        n_traced = 0 if agg.replicas is None else len(agg.replicas)
        per_rec = C * 8 * (6 + len(agg.quantiles) + n_traced) + sum(
            8 * (e.size + 1) for _c, e in hist.values()
        )
        need = R * (4 + 16 * S + 16 * D) + aggmod.BLOCK_BYTES + n_rec * per_rec
        check_bytes(
            need,
            f"this aggregated run's arrays ({R} replicas: ids, state rows of {S} doubles x "
            f"2; a chunk's records; {n_rec} records of {C} columns' statistics)",
        )
    if isinstance(ids, int):
        ids = np.arange(R, dtype=np.uint32)
    red = None
    if agg is not None:
        red = aggmod.Reducer(agg, n_rec, C, hist, aggmod.traced_positions(agg, ids))
        # recorded generations per chunk: a block of min(R, GROUP) replicas' records fits BLOCK_BYTES
        max_recs = max(1, aggmod.BLOCK_BYTES // (8 * max(C, 1) * min(R, aggmod.GROUP)))
    if start is None:
        state = np.tile(kern.initial_state, (R, 1))  # [R, S], writable, C-contiguous
        first = np.full((R, D), -1, dtype=np.int64)
    else:
        # Only AccumulateSubsample's state grows with the run (its point pool,
        # the last block of the row): pad it to the longer run's capacity.
        state = np.zeros((R, S), dtype=np.float64)
        if start.state.shape[1] > state.shape[1]:
            raise ValueError("resume: the saved state is larger than this run's; was the config changed?")
        state[:, : start.state.shape[1]] = start.state
        first = np.ascontiguousarray(start.first, dtype=np.int64)
    # Uninitialised: the kernel writes every row of a completed generation and
    # rows past the completed generations are dropped below, so the memory
    # is committed only as generations are recorded (a Ctrl-C'd long run never
    # touches most of it).
    records = np.empty((R if red is None and out is None else 0, n_rec, C), dtype=np.float64)
    rec_u32 = rec_gens.astype(np.uint32)
    if out is not None and red is None:  # recorded generations per chunk: one chunk's records bounded
        max_recs = max(1, aggmod.BLOCK_BYTES // (8 * max(C, 1) * R))

    def build(
        recs, gens: np.ndarray, sl: slice, state, first, done: int, wall: float, interrupted: bool
    ) -> xr.Dataset:
        """The Dataset of records ``recs`` [R, len(gens), C] (aggregated: the
        reducer's records ``sl``), the state and detector columns."""
        return _dataset(
            kern,
            chosen,
            slot,
            layout,
            red,
            agg,
            recs,
            gens,
            sl,
            ids,
            state,
            first,
            labels,
            detect,
            done,
            dtype,
            dict(
                madsim_version=madsim_version(),
                config=provenance["config"],
                seed=str(seed),  # netCDF has no uint64 attribute
                generations=generations,
                generations_completed=done,
                detectors=provenance["detectors"],
                metrics=json.dumps(chosen),
                record=json.dumps(rule if rule is not None else {"generations": rec_gens.tolist()}),
                dtype=dtype,
                on_nonfinite=on_nonfinite,
                nonfinite_replicas=int(bad.sum()),
                interrupted=int(interrupted),
                backend=backend,
                kernel=kern.name,
                threads=threads,
                rng="philox4x32-10",
                rng_layout_version=RNG_LAYOUT_VERSION,
                build_info=provenance["build_info"],
                wall_time_s=wall,
            ),
        )

    bad = np.zeros(R, dtype=bool)  # replicas whose state is not finite
    store = None
    if out is not None:
        if store_keep is None:
            import dask.array as da

            template = build(
                da.zeros((R, n_rec, C), chunks=(min(R, streammod.REPLICA_CHUNK), 1, C)),
                rec_gens,
                slice(0, n_rec),
                state,
                first,
                gen0,
                0.0,
                False,
            )
            store = streammod.Store.create(out, template, ["state", *labels], red is not None)
        else:
            store = streammod.Store.reopen(out, store_keep, rec_gens)

    t0 = time.perf_counter()
    # (state, detector columns, generation, whether a chunk ran): the last
    # completed generation. Rebound in one assignment after a chunk's every
    # call returned.
    committed = (state, first, gen0, False)
    spare = np.empty_like(state)
    bad_chunk = None  # (gen, end) of the chunk where the first appeared
    interrupted = False
    bar = _progress_bar(progress, generations - gen0)
    try:
        step = chunk or 1
        # replicas per kernel call: all with chunk= (and on the JAX twin, which
        # compiles once per shape); adaptive otherwise, from a small first
        # block, so that even a first generation costing minutes per replica
        # answers Ctrl-C within about CHUNK_SECONDS
        rows = R if chunk is not None or backend == "jax" else min(R, 4 * threads)
        while True:  # at least one call: a run from generation 0 records the truth there
            cur, cur_first, gen, _ran = committed
            end = min(generations, gen + step)
            lo = int(np.searchsorted(rec_gens, gen, side="left" if gen == 0 else "right"))
            hi = int(np.searchsorted(rec_gens, end, side="right"))
            if (red is not None or out is not None) and hi - lo > max_recs:
                # fewer generations: one block's records stay bounded
                end = max(gen + 1, int(rec_gens[lo + max_recs - 1]))
                hi = int(np.searchsorted(rec_gens, end, side="right"))
            if out is not None and red is None:
                chunk_rec = np.empty((R, hi - lo, C), dtype=np.float64)
            if red is not None:
                red.start(hi - lo)
                # replicas per call: whole groups (the reduction's fixed order), and records
                # of at most BLOCK_BYTES
                cap = max(aggmod.GROUP, aggmod.BLOCK_BYTES // (8 * max(C, 1) * max(hi - lo, 1)))
                rows = _group_rows(rows, cap, R)
            t_over = time.perf_counter()
            work, work_first = spare, cur_first.copy()
            np.copyto(work, cur)
            t_over = time.perf_counter() - t_over
            per_rg = 0.0
            a = 0
            while a < R:
                b = min(R, a + rows)
                tc = time.perf_counter()
                if red is None and out is None:
                    kern.advance(
                        kern.params,
                        work[a:b],
                        ids[a:b],
                        seed,
                        gen,
                        end,
                        rec_u32[lo:hi],
                        lo,
                        records[a:b],
                        det,
                        work_first[a:b],
                        threads,
                        cols,
                    )
                elif red is None:
                    kern.advance(
                        kern.params,
                        work[a:b],
                        ids[a:b],
                        seed,
                        gen,
                        end,
                        rec_u32[lo:hi],
                        0,
                        chunk_rec[a:b],
                        det,
                        work_first[a:b],
                        threads,
                        cols,
                    )
                else:
                    block = np.empty((b - a, hi - lo, C), dtype=np.float64)
                    kern.advance(
                        kern.params,
                        work[a:b],
                        ids[a:b],
                        seed,
                        gen,
                        end,
                        rec_u32[lo:hi],
                        0,
                        block,
                        det,
                        work_first[a:b],
                        threads,
                        cols,
                    )
                    red.add(block, a)
                    del block
                per_rg = (time.perf_counter() - tc) / ((b - a) * max(1, end - gen))
                a = b
                if chunk is None and backend != "jax":  # next block: ~CHUNK_SECONDS, growing <= 8x
                    rows = int(
                        min(
                            R,
                            max(
                                threads, min(8 * rows, CHUNK_SECONDS / max(per_rg * max(1, end - gen), 1e-12))
                            ),
                        )
                    )
                if red is not None:
                    rows = _group_rows(rows, cap, R)
            if store is not None:
                with streammod.held_interrupt():  # the chunk counts in memory and on disk together
                    if red is not None:
                        red.commit()
                    piece = build(
                        chunk_rec if red is None else None,
                        rec_gens[lo:hi],
                        slice(lo, hi),
                        work,
                        work_first,
                        end,
                        time.perf_counter() - t0,
                        False,
                    )
                    store.write_chunk(
                        piece,
                        lo,
                        hi,
                        work,
                        {lab: work_first[:, j] for j, lab in enumerate(labels)},
                        {
                            "generations_completed": end,
                            "chunks_written": 1,
                            "nonfinite_replicas": int(bad.sum()),
                        },
                    )
                    committed = (work, work_first, end, True)
                    del piece
            else:
                if red is not None:
                    red.commit()  # (dropped below unless the next line runs: keep counts generations)
                committed = (work, work_first, end, True)  # the chunk counts only now, whole
            spare = cur
            if bar is not None:
                bar.update(end - gen)
            tc = time.perf_counter()
            fin = np.isfinite(work) if on_nonfinite != "ignore" else None
            # (the whole array first: a flat all() is fast, a per-row all(axis=1) over a few
            # columns is not, and is needed only once a replica diverged)
            if fin is not None and not fin.all():
                new = ~fin.all(axis=1) & ~bad
                if new.any():
                    bad |= new
                    bad_chunk = bad_chunk or (gen, end)
                    if on_nonfinite == "raise":
                        raise NonFiniteError(_nonfinite_text(bad, bad_chunk, ids, None))
            t_over += time.perf_counter() - tc
            if end >= generations:
                break
            if chunk is None and rows >= R:  # whole generations: aim for CHUNK_SECONDS, growing at most 2x,
                # and for at least 20x the chunk's copy and check of the state (a large
                # state, e.g. AccumulateSubsample's pool: <= 5% overhead, longer chunks)
                per_gen = max(per_rg * R, 1e-12)
                step = int(max(min(max(1.0, CHUNK_SECONDS / per_gen), 2 * step), 20.0 * t_over / per_gen))
            elif chunk is None:
                step = 1
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(
            f"run interrupted after {committed[2]} of {generations} generations; "
            "returning the completed generations",
            RunInterrupted,
            stacklevel=3,
        )
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    state, first, done, ran = committed
    del spare

    # Completed records are a prefix of the record axis (rec_gens ascending):
    # the variables are views of `records`, not copies. Generation 0 is
    # recorded by the first call: none if no chunk completed.
    keep = int(np.searchsorted(rec_gens, done, side="right")) if ran else 0
    if store is not None:
        final = build(
            None if red is not None else np.empty((R, 0, C)),
            rec_gens[:0],
            slice(0, 0),
            state,
            first,
            done,
            wall,
            interrupted,
        )
        attrs = {k: v for k, v in final.attrs.items() if k != "generations_completed"}
        if store_keep is not None:
            attrs["resumed_at"] = list(store.group.attrs.get("resumed_at", [])) + [int(start.generation)]
        store.finish(attrs)
        ds = streammod.open_run(out)
    else:
        ds = build(
            records[:, :keep, :] if red is None else None,
            rec_gens[:keep],
            slice(0, keep),
            state,
            first,
            done,
            wall,
            interrupted,
        )
    if bad.any() and on_nonfinite == "warn":
        warnings.warn(
            _nonfinite_text(bad, bad_chunk, ids, ds if red is None and store is None else None),
            NonFiniteWarning,
            stacklevel=3,
        )
    if start is not None and start.previous is not None:
        ds = _join(start.previous, ds)
    return ds


def _dataset(
    kern,
    chosen,
    slot,
    layout,
    red,
    agg,
    records,
    gens,
    sl,
    ids,
    state,
    first,
    labels,
    detect,
    done,
    dtype,
    attrs,
) -> xr.Dataset:
    """A run's Dataset: the recorded variables (per replica: views of
    ``records`` [R, len(gens), C], not copies; aggregated: the reducer's
    records ``sl``), the state, detector columns (and their survival) and
    ``attrs``."""
    variables = {}
    for name in chosen if red is None else ():
        v_attrs = {"long_name": kern.units[name]}
        if name in kern.truth:
            v_attrs["truth_value"] = kern.truth[name]
        if name in kern.arrays:
            index, dims = kern.arrays[name]
            at = slot[index]
            flat = at.ravel()
            if flat.size and np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
                # consecutive columns: a view, reshaped (no copy)
                data = records[:, :, int(flat[0]) : int(flat[0]) + flat.size].reshape(
                    records.shape[:2] + at.shape
                )
            else:
                data = records[:, :, at]
            variables[name] = (("replica", "generation") + dims, data, v_attrs)
        else:
            data = records[:, :, slot[kern.columns[name]]]
            variables[name] = (("replica", "generation"), data, v_attrs)
    if dtype != "float64":
        variables = {n: (v[0], v[1].astype(dtype), v[2]) for n, v in variables.items()}
    extra = {}
    if red is not None:
        variables = aggmod.variables(red, layout, kern.units, sl, dtype)
        extra = aggmod.coords(red, ids)
    ds = xr.Dataset(variables, coords={"replica": ids.astype(np.int64), "generation": gens, **extra})
    ds["state"] = (
        ("replica", "state_index"),
        state,
        {
            "long_name": "kernel state row after the last completed generation (madsim.resume continues "
            "from it)"
        },
    )
    if kern.counts is not None:
        attrs["real_added"] = (
            kern.counts[:done, 0].tolist()
            if _varies(kern.counts[:, 0])
            else (float(kern.counts[0, 0]) if done and kern.counts.size else 0.0)
        )
        attrs["synthetic_added"] = (
            kern.counts[:done, 1].tolist()
            if _varies(kern.counts[:, 1])
            else (float(kern.counts[0, 1]) if done and kern.counts.size else 0.0)
        )
    for j, label in enumerate(labels):
        d = detect[j]
        rule_text = f"{d.metric} <= {d.below}" if d.below is not None else f"{d.metric} >= {d.above}"
        ds[label] = (
            ("replica",),
            first[:, j],
            {
                "long_name": f"first generation with {rule_text}",
                "censored": f"-1: not reached by generation {done}",
            },
        )
    if red is not None and labels:
        surv = aggmod.survival(first, gens)
        for j, label in enumerate(labels):
            ds[f"{label}_survival"] = (
                ("generation",),
                surv[:, j],
                {"long_name": f"replicas that have not reached {label} by the generation"},
            )
    ds.attrs.update(attrs)
    if red is not None:
        ds.attrs["aggregate"] = agg.to_json()
    return ds


def _group_rows(rows: int, cap: int, R: int) -> int:
    """Replicas per kernel call of an aggregated run: all of them, or whole
    groups of the reduction (aggregate.GROUP), at most ``cap`` where it allows."""
    rows = min(rows, cap)
    return R if rows >= R else min(R, max(aggmod.GROUP, rows // aggmod.GROUP * aggmod.GROUP))


def _layout(kern, chosen: list[str], slot: np.ndarray) -> dict:
    """name -> (record-row column, or the columns' index array, and the
    variable's extra dims) of the chosen variables."""
    out = {}
    for name in chosen:
        if name in kern.arrays:
            index, dims = kern.arrays[name]
            out[name] = (slot[index], tuple(dims))
        else:
            out[name] = (int(slot[kern.columns[name]]), ())
    return out


def _nonfinite_text(bad, chunk, ids, ds) -> str:
    gen, end = chunk
    text = (
        f"{int(bad.sum())} of {bad.size} replicas have a non-finite (inf or NaN) state: the run "
        f"diverged; the first appeared in the chunk of generations {gen + 1}..{end} (checked per "
        f"chunk; first replica id {int(ids[np.argmax(bad)])})"
    )
    if ds is not None:
        rec = [v for v in ds.data_vars if "generation" in ds[v].dims]
        gens = ds["generation"].values
        first = None
        for v in rec:
            x = ds[v].values[bad]
            hit = np.isnan(x).reshape(x.shape[0], x.shape[1], -1).any(axis=(0, 2)) & (gens > gen)
            if hit.any():
                g = int(gens[np.argmax(hit)])
                first = g if first is None else min(first, g)
        if first is not None:
            text += f"; the first recorded generation with a NaN among them is {first}"
    return text + ". on_nonfinite='raise' stops at once, 'ignore' silences this"


def resume(
    ds: xr.Dataset | str | os.PathLike,
    generations: int,
    record=None,
    replicas: int | Sequence[int] | None = None,
    threads: int | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    cfg: Config | None = None,
    on_nonfinite: str | None = None,
) -> xr.Dataset:
    """Continues a run (a ``simulate`` or earlier ``resume`` result, finished
    or interrupted, in memory or loaded from disk) up to ``generations``.

    The result equals the uninterrupted run bit for bit at every generation
    both record: every draw is addressed by (seed, replica, generation), and
    the Dataset carries each replica's kernel state (``state``) and detector
    columns. A Dataset saved by ``madsim.results.save`` is checked against
    the sha256 stored with it first (ValueError naming what differs). The
    recorded variables keep the run's dtype (``attrs["dtype"]``).

    Parameters
    ----------
    ds
        the run to continue, or the path of a streamed run's zarr store
        (``simulate(..., out=path)``), which is continued in place and
        returned opened lazily.
    generations
        the generation to run to (at least the completed one).
    record
        None (default) keeps the run's own rule (``attrs["record"]``: every(k),
        logspace(num) or its explicit list, as the uninterrupted run to
        ``generations`` would record); a new spec (as in ``simulate``) only
        when given. Generations <= the completed one are ignored.
    replicas
        extra replicas (a count of new ids after the largest, or a sequence
        of new ids), first brought to the completed generation with the same
        record.
    threads, chunk, progress
        as in ``simulate``; never change a number.
    cfg
        needed only when the config had a callable schedule (not stored).
    on_nonfinite
        as in ``simulate`` (None: the run's own setting).

    Returns
    -------
    xarray.Dataset
        The whole run: the recorded generations of ``ds`` followed by the new
        ones.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Replace(n=20))
    >>> first = ms.simulate(cfg, replicas=100, generations=5, seed=1, metrics=["var"])
    >>> more = ms.resume(first, generations=10)
    >>> whole = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var"])
    >>> bool((more["var"].sel(generation=10) == whole["var"].sel(generation=10)).all())
    True
    """
    from ..results import verify

    store_path = None
    if isinstance(ds, (str, os.PathLike)):
        store_path = Path(ds)
        ds = streammod.open_run(store_path)
        if replicas is not None:
            raise ValueError(
                "resume: replicas= cannot add replicas to a streamed store; stream the new "
                "replicas to a store of their own"
            )
    if not isinstance(ds, xr.Dataset) or "state" not in ds or "config" not in ds.attrs:
        raise TypeError("resume needs a Dataset returned by madsim.simulate (with its state and attrs)")
    verify(ds, "resume: ds")
    if cfg is None:
        try:
            cfg = Config.from_dict(json.loads(ds.attrs["config"]))
        except ValueError as exc:
            raise ValueError(f"resume: cannot rebuild the run's config ({exc}); pass cfg=") from None
    elif not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a madsim.Config; got {cfg!r}")
    elif json.loads(cfg.to_json()) != json.loads(ds.attrs["config"]):
        raise ValueError("resume: cfg differs from the run's config; resume the run that made ds")
    done = int(ds.attrs["generations_completed"])
    generations = check.integer("generations", generations, done, MAX_GENERATIONS)
    seed = int(ds.attrs["seed"])
    backend = ds.attrs.get("backend", "cpu")
    dtype = str(ds.attrs.get("dtype", "float64"))
    if on_nonfinite is None:
        on_nonfinite = str(ds.attrs.get("on_nonfinite", "warn"))
    check.choice("on_nonfinite", on_nonfinite, NONFINITE)
    detect = [FirstPassage(**d) for d in json.loads(ds.attrs.get("detectors", "[]"))]
    # The same variables as the run recorded (attrs["metrics"]; a Dataset
    # from before that attribute: the per-generation variables it holds).
    if "metrics" in ds.attrs:
        metrics = json.loads(ds.attrs["metrics"])
    else:
        metrics = [v for v in ds.data_vars if "generation" in ds[v].dims]
    if record is None and "record" in ds.attrs:
        record = recmod.from_rule(json.loads(ds.attrs["record"]), generations)
    rule = recmod.to_rule(record, generations)
    rec_gens = recmod.resolve(record, generations)
    threads = _threads(threads)
    if chunk is not None:
        chunk = check.integer("chunk", chunk, 1)
    agg = aggmod.Aggregate.from_json(ds.attrs["aggregate"]) if "aggregate" in ds.attrs else None
    if agg is not None and replicas is not None:
        raise ValueError(
            "resume: replicas= cannot add replicas to an aggregated run (its statistics "
            "over replicas are final); simulate the new replicas on their own"
        )
    if replicas is not None:
        have = ds["replica"].values
        if isinstance(replicas, (int, np.integer)) and not isinstance(replicas, bool):
            n_new = check.integer("replicas", replicas, 1, 2**32)
            new_ids = np.arange(int(have.max()) + 1, int(have.max()) + 1 + n_new)
        else:
            new_ids = _replica_ids(replicas)
        if np.intersect1d(new_ids, have).size:
            raise ValueError("resume: replicas must be new ids, not ones the run already has")
        more = _run(
            cfg,
            _replica_ids(new_ids.tolist()),
            done,
            seed,
            ds["generation"].values,
            detect,
            threads,
            chunk,
            progress,
            backend,
            metrics=metrics,
            on_nonfinite=on_nonfinite,
            dtype=dtype,
        )
        ds = xr.concat([ds, more], dim="replica", data_vars="all", coords="minimal", combine_attrs="override")
    first = (
        np.stack([ds[d.label].values for d in detect], axis=1)
        if detect
        else np.zeros((ds.sizes["replica"], 0), dtype=np.int64)
    )
    ids = ds["replica"].values.astype(np.uint32)
    stored = store_path is not None
    # A streamed run continues its store in place; otherwise the records so far come from ds.
    start = _Start(done, np.ascontiguousarray(ds["state"].values), first, None if stored else ds)
    run = functools.partial(
        _run,
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
        start=start,
        metrics=metrics,
        on_nonfinite=on_nonfinite,
        dtype=dtype,
        rule=rule,
        agg=agg,
    )
    if stored:
        with atomic.lock(store_path):
            return run(out=store_path, store_keep=int(ds.sizes["generation"]))
    return run()


def _join(prev: xr.Dataset, new: xr.Dataset) -> xr.Dataset:
    """The records of ``prev`` followed by those of ``new``; per-replica
    columns (state, detectors) and attrs from ``new``."""
    gen_vars = [n for n in new.data_vars if "generation" in new[n].dims]
    joined = xr.concat([prev[gen_vars], new[gen_vars]], dim="generation", combine_attrs="override")
    for n in new.data_vars:
        if n not in gen_vars:
            joined[n] = new[n]
    joined.attrs = dict(new.attrs)
    joined.attrs["wall_time_s"] = float(prev.attrs.get("wall_time_s", 0.0)) + float(new.attrs["wall_time_s"])
    joined.attrs["resumed_at"] = list(np.atleast_1d(prev.attrs.get("resumed_at", []))) + [
        int(prev.attrs["generations_completed"])
    ]
    return joined


def _varies(col: np.ndarray) -> bool:
    return col.size > 0 and bool(np.any(col != col[0]))


def _progress_bar(progress, total):
    if progress is False:
        return None
    from tqdm.auto import tqdm

    # disable=None: tqdm shows itself only on a terminal (quiet in CI and pipes)
    return tqdm(total=total, unit="gen", disable=None if progress is None else False, leave=False)


def madsim_version() -> str:
    from .. import __version__

    return __version__
