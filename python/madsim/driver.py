"""The run driver: chunks of generations through the compiled kernel.

Python loops over chunks; each chunk runs in C++ with the GIL released, so a
Ctrl-C between chunks stops the run and returns every completed generation.
Chunk sizes adapt to take about ``CHUNK_SECONDS`` each; they never change a
number (each draw is addressed by seed, replica, generation and stream).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import xarray as xr

from . import _validate as check
from . import record as recmod
from ._backend import RNG_LAYOUT_VERSION, build_info
from .config import Config
from .kernels import BACKENDS, kernel_for

CHUNK_SECONDS = 0.25  # target wall time per chunk: Ctrl-C answers within about this
MAX_GENERATIONS = 2**32 - 2  # counter generation field is 32 bits; one value reserved


class RunInterrupted(UserWarning):
    """Issued when Ctrl-C stops a run; the returned Dataset holds what finished.

    Examples
    --------
    >>> import madsim as ms
    >>> issubclass(ms.RunInterrupted, UserWarning)
    True
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
        if (self.below is None) == (self.above is None):
            raise ValueError(
                f"FirstPassage({self.metric!r}) needs exactly one of below= or above=; "
                f"got below={self.below!r}, above={self.above!r}"
            )
        if self.below is not None:
            check.real("FirstPassage.below", self.below)
        else:
            check.real("FirstPassage.above", self.above)

    @property
    def label(self) -> str:
        if self.name is not None:
            return self.name
        return f"first_{self.metric}_{'below' if self.below is not None else 'above'}"


def _replica_ids(replicas) -> np.ndarray:
    if isinstance(replicas, (str, bytes)) or not (
        hasattr(replicas, "__iter__") or isinstance(replicas, (int, np.integer))
    ):
        raise TypeError(
            f"replicas must be a positive integer or a sequence of replica ids; got {replicas!r}"
        )
    if not hasattr(replicas, "__iter__"):
        r = check.integer("replicas", replicas, 1, 2**32)
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
) -> xr.Dataset:
    """Runs ``generations`` fits of ``cfg`` for each replica.

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
        1000 evenly spaced).
    detect
        ``FirstPassage`` detectors, checked on every generation.
    threads
        CPU threads (default: all cores); never changes a number.
    chunk
        generations per kernel call (default: adaptive, ~0.25 s each); never
        changes a number.
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
        model's parameters and a few cheap summaries: ``madsim.kernels.LEAN``;
        with a filter also its counters). Only the chosen columns are computed
        and stored on recorded generations (memory R x records x chosen);
        detectors may watch any metric, recorded or not.

    Returns
    -------
    xarray.Dataset
        Dims (replica, generation, ...): the recorded variables, one int64
        variable per detector, the kernel state and provenance attrs (see the
        user guide's "Results on disk" page).

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
    ids = _replica_ids(replicas)
    generations = check.integer("generations", generations, 0, MAX_GENERATIONS)
    seed = check.integer("seed", seed, 0, 2**64 - 1)
    rec_gens = recmod.resolve(record, generations)
    threads = _threads(threads)
    if chunk is not None:
        chunk = check.integer("chunk", chunk, 1)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None; got {progress!r}")

    return _run(cfg, ids, generations, seed, rec_gens, list(detect), threads, chunk, progress, backend,
                metrics=metrics)


@dataclass
class _Start:
    """Where a resumed run picks up: the last completed generation, the state
    rows and detector columns there, and the Dataset recorded so far."""

    generation: int
    state: np.ndarray
    first: np.ndarray
    previous: xr.Dataset | None


def _chosen(kern, metrics) -> list[str]:
    """The variables ``metrics`` names, in the kernel's order (all for None)."""
    allowed = kern.variables
    if metrics is None:
        return list(kern.default_variables)
    if isinstance(metrics, str) and metrics == "all":
        return list(allowed)
    if isinstance(metrics, (str, bytes)) or not hasattr(metrics, "__iter__"):
        raise TypeError(f"metrics must be None, \"all\" or a list of variable names; got {metrics!r}")
    names = list(metrics)
    bad = [m for m in names if not isinstance(m, str) or m not in allowed]
    if bad:
        raise ValueError(
            f"metrics: unknown name{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; this "
            f"run ({kern.name} kernel) records {', '.join(map(repr, allowed))}")
    return [m for m in allowed if m in names]


def _run(cfg, ids, generations, seed, rec_gens, detect, threads, chunk, progress, backend,
         start: _Start | None = None, metrics=None) -> xr.Dataset:
    kern = kernel_for(cfg, generations, int(ids.size), backend=backend)
    chosen = _chosen(kern, metrics)
    cols = kern.record_columns(chosen)  # [C] int32: what the kernel copies into a record row
    slot = np.full(max([0] + [int(c) + 1 for c in cols]), -1, dtype=np.int64)
    slot[cols] = np.arange(cols.size)   # observe column -> position in a record row
    det = np.zeros((len(detect), 3), dtype=np.float64)
    labels = []
    for j, d in enumerate(detect):
        if not isinstance(d, FirstPassage):
            raise TypeError(f"detect[{j}] must be a madsim.FirstPassage; got {d!r}")
        if d.metric not in kern.observed:
            raise ValueError(
                f"detect[{j}].metric must be one of {', '.join(map(repr, kern.observed))}; "
                f"got {d.metric!r}"
            )
        below = d.below is not None
        det[j] = (kern.columns[d.metric], 1.0 if below else 0.0, d.below if below else d.above)
        labels.append(d.label)
    if len(set(labels)) != len(labels):
        raise ValueError(f"detect: labels must be distinct; got {labels}")

    R = ids.size
    gen0 = 0 if start is None else start.generation
    if start is None:
        state = np.tile(kern.initial_state, (R, 1))  # [R, S], writable, C-contiguous
        first = np.full((R, len(detect)), -1, dtype=np.int64)
    else:
        # Only AccumulateSubsample's state grows with the run (its point pool,
        # the last block of the row): pad it to the longer run's capacity.
        state = np.zeros((R, kern.initial_state.size), dtype=np.float64)
        if start.state.shape[1] > state.shape[1]:
            raise ValueError("resume: the saved state is larger than this run's; was the config changed?")
        state[:, :start.state.shape[1]] = start.state
        first = np.ascontiguousarray(start.first, dtype=np.int64)
    rec_gens = rec_gens[rec_gens > gen0] if gen0 > 0 else rec_gens
    # Uninitialised: the kernel writes every row of a completed generation and
    # rows past the completed generations are dropped below, so the memory
    # is committed only as generations are recorded (a Ctrl-C'd long run never
    # touches most of it).
    records = np.empty((R, rec_gens.size, cols.size), dtype=np.float64)
    rec_u32 = rec_gens.astype(np.uint32)

    t0 = time.perf_counter()
    done = gen0       # generations completed and safely in `records`
    interrupted = False
    bar = _progress_bar(progress, generations - gen0)
    try:
        step = chunk or 1
        gen = gen0
        while True:
            end = min(generations, gen + step)
            lo = np.searchsorted(rec_gens, gen, side="left" if gen == 0 else "right")
            hi = np.searchsorted(rec_gens, end, side="right")
            tc = time.perf_counter()
            kern.advance(kern.params, state, ids, seed, gen, end, rec_u32[lo:hi], int(lo),
                         records, det, first, threads, cols)
            per_gen = (time.perf_counter() - tc) / max(1, end - gen)
            if bar is not None:
                bar.update(end - gen)
            gen = done = end
            if gen >= generations:
                break
            if chunk is None:  # aim for CHUNK_SECONDS per call, growing at most 2x
                step = int(min(max(1.0, CHUNK_SECONDS / max(per_gen, 1e-12)), 2 * step))
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(
            f"run interrupted after {done} of {generations} generations; "
            "returning the completed generations",
            RunInterrupted,
            stacklevel=2,
        )
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0

    keep = rec_gens <= done
    records = records[:, keep, :]
    variables = {}
    for name in chosen:
        attrs = {"long_name": kern.units[name]}
        if name in kern.truth:
            attrs["truth_value"] = kern.truth[name]
        if name in kern.arrays:
            index, dims = kern.arrays[name]
            variables[name] = (("replica", "generation") + dims, records[:, :, slot[index]], attrs)
        else:
            variables[name] = (("replica", "generation"), records[:, :, slot[kern.columns[name]]], attrs)
    ds = xr.Dataset(variables, coords={"replica": ids.astype(np.int64), "generation": rec_gens[keep]})
    ds["state"] = (("replica", "state_index"), state, {
        "long_name": "kernel state row after the last completed generation (madsim.resume continues "
                     "from it)"})
    if kern.counts is not None:
        ds.attrs["real_added"] = kern.counts[:done, 0].tolist() if _varies(kern.counts[:, 0]) else (
            float(kern.counts[0, 0]) if done else 0.0)
        ds.attrs["synthetic_added"] = kern.counts[:done, 1].tolist() if _varies(kern.counts[:, 1]) else (
            float(kern.counts[0, 1]) if done else 0.0)
    for j, label in enumerate(labels):
        d = detect[j]
        rule = f"{d.metric} <= {d.below}" if d.below is not None else f"{d.metric} >= {d.above}"
        ds[label] = (("replica",), first[:, j], {
            "long_name": f"first generation with {rule}",
            "censored": f"-1: not reached by generation {done}",
        })
    ds.attrs.update(
        madsim_version=_version(),
        config=cfg.to_json(),
        seed=str(seed),  # netCDF has no uint64 attribute
        generations=generations,
        generations_completed=done,
        detectors=json.dumps([dataclasses.asdict(d) for d in detect]),
        metrics=json.dumps(chosen),
        interrupted=int(interrupted),
        backend=backend,
        kernel=kern.name,
        threads=threads,
        rng="philox4x32-10",
        rng_layout_version=RNG_LAYOUT_VERSION,
        build_info=json.dumps(build_info(), sort_keys=True),
        wall_time_s=wall,
    )
    if start is not None and start.previous is not None:
        ds = _join(start.previous, ds)
    return ds


def resume(
    ds: xr.Dataset,
    generations: int,
    record=None,
    replicas: int | Sequence[int] | None = None,
    threads: int | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    cfg: Config | None = None,
) -> xr.Dataset:
    """Continues a run (a ``simulate`` or earlier ``resume`` result, finished
    or interrupted, in memory or loaded from disk) up to ``generations``.

    The result equals the uninterrupted run bit for bit at every generation
    both record: every draw is addressed by (seed, replica, generation), and
    the Dataset carries each replica's kernel state (``state``) and detector
    columns.

    Parameters
    ----------
    ds
        the run to continue.
    generations
        the generation to run to (at least the completed one).
    record
        what to record in the new generations (as in ``simulate``; those <=
        the completed generation are ignored).
    replicas
        extra replicas (a count of new ids after the largest, or a sequence
        of new ids), first brought to the completed generation with the same
        record.
    threads, chunk, progress
        as in ``simulate``; never change a number.
    cfg
        needed only when the config had a callable schedule (not stored).

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
    if not isinstance(ds, xr.Dataset) or "state" not in ds or "config" not in ds.attrs:
        raise TypeError("resume needs a Dataset returned by madsim.simulate (with its state and attrs)")
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
    detect = [FirstPassage(**d) for d in json.loads(ds.attrs.get("detectors", "[]"))]
    # The same variables as the run recorded (attrs["metrics"]; a Dataset
    # from before that attribute: the per-generation variables it holds).
    if "metrics" in ds.attrs:
        metrics = json.loads(ds.attrs["metrics"])
    else:
        metrics = [v for v in ds.data_vars if "generation" in ds[v].dims]
    threads = _threads(threads)
    if chunk is not None:
        chunk = check.integer("chunk", chunk, 1)
    if replicas is not None:
        have = ds["replica"].values
        if isinstance(replicas, (int, np.integer)) and not isinstance(replicas, bool):
            n_new = check.integer("replicas", replicas, 1, 2**32)
            new_ids = np.arange(int(have.max()) + 1, int(have.max()) + 1 + n_new)
        else:
            new_ids = _replica_ids(replicas)
        if np.intersect1d(new_ids, have).size:
            raise ValueError("resume: replicas must be new ids, not ones the run already has")
        more = _run(cfg, _replica_ids(new_ids.tolist()), done, seed, ds["generation"].values, detect,
                    threads, chunk, progress, backend, metrics=metrics)
        ds = xr.concat([ds, more], dim="replica", data_vars="all", coords="minimal",
                       combine_attrs="override")
    first = np.stack([ds[d.label].values for d in detect], axis=1) if detect else \
        np.zeros((ds.sizes["replica"], 0), dtype=np.int64)
    start = _Start(done, np.ascontiguousarray(ds["state"].values), first, ds)
    rec_gens = recmod.resolve(record, generations)
    ids = ds["replica"].values.astype(np.uint32)
    return _run(cfg, ids, generations, seed, rec_gens, detect, threads, chunk, progress, backend,
                start=start, metrics=metrics)


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
        int(prev.attrs["generations_completed"])]
    return joined


def _varies(col: np.ndarray) -> bool:
    return col.size > 0 and bool(np.any(col != col[0]))


def _progress_bar(progress, total):
    if progress is False:
        return None
    from tqdm.auto import tqdm

    # disable=None: tqdm shows itself only on a terminal (quiet in CI and pipes)
    return tqdm(total=total, unit="gen", disable=None if progress is None else False, leave=False)


def _version() -> str:
    from . import __version__

    return __version__
