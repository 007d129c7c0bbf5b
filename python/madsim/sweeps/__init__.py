"""Parameter sweeps: a grid of configs in one call, resumable, on threads or Dask::

    ds = ms.sweep(ms.Config(loop=ms.Fresh(real=20, synthetic=20), weight=0.5),
                  grid={"weight": [0.2, 0.5, 0.8], "loop.synthetic": [10, 40]},
                  replicas=2000, generations=200, seed=1, store="weights.sweep")
    ds["var"].mean("replica")          # dims (weight, loop.synthetic, generation)

The grid (madsim.sweeps.grid) names dataclass fields by dotted paths; the sweep is
the product of its dimensions. Work is split into tasks, one per (grid point,
block of replicas), each a plain ``simulate`` call; every draw is addressed by
(seed, replica id, generation, stream), so results do not depend on the
blocks, the scheduler, the workers or the order tasks finish in.

Streams: ``coupled`` (default) runs every grid point on the same replica ids,
so points share common random numbers (paired comparisons between points
have less noise); ``independent`` gives grid point p (row-major) the ids
p * span + id, span = the largest id + 1, disjoint counters, so points are
independent samples. Either way point p equals ``simulate(config_p,
replicas=its ids, seed=seed, ...)`` bit for bit.

The package is named ``sweeps`` so that ``madsim.sweep`` stays the function:
this module plans and runs a sweep, ``tasks`` runs and stores its tasks
(serial, threads, Dask), ``combine`` joins their results, ``grid`` parses
the grid.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from . import grid as gridmod
from ..run import aggregate as aggmod
from . import tasks as ex
from .. import checks as check
from ..run import records as recmod
from .._backend import RNG_LAYOUT_VERSION, build_info
from .combine import combine, join_blocks
from ..config import Config
from ..run.errors import NonFiniteError, NonFiniteWarning
from ..run.options import (
    MAX_GENERATIONS,
    NONFINITE,
    FirstPassage,
    as_detectors,
    check_bytes,
    check_detectors,
    check_scale,
    chosen_variables,
    madsim_version,
    metrics_spec,
    replica_spec,
)
from ..kernels import BACKENDS, kernel_for

STREAMS = ("coupled", "independent")
TASK_WORK = 2**25  # default block: at most this many replica-generations per task (seconds)
TASK_ROWS = 2**20  # ... and at most this many replica x record rows (memory)
RESERVED = ("replica", "generation", "replica_id", "config", "kernel", "state", "state_index")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep. The finished tasks are in the store (when one
    was given): running the same sweep again does only the rest.

    Examples
    --------
    >>> import madsim as ms
    >>> issubclass(ms.SweepInterrupted, KeyboardInterrupt)
    True
    """

    def __init__(self, done: int, total: int, store):
        self.done, self.total, self.store = done, total, store
        where = (
            f"the finished ones are in {str(store)!r}: run the same sweep again to resume"
            if store is not None
            else "no store was given, so they are lost"
        )
        super().__init__(f"sweep interrupted: {done} of {total} tasks finished; {where}")


@dataclass
class _Plan:
    axes: list
    configs: list  # per grid point, row-major
    ids: np.ndarray  # the replica coordinate (coupled ids)
    offsets: np.ndarray  # per point: added to ids (0 when coupled)
    block: int
    run: dict  # simulate keywords every task shares
    spec: dict  # what the sweep is (provenance; the store's identity)

    def tasks(self) -> list:
        out = []
        for p, cfg in enumerate(self.configs):
            for b, ids in enumerate(ex.block_ids(self.ids + self.offsets[p], self.block)):
                out.append(ex.Task(p, b, cfg, tuple(int(i) for i in ids), self.run))
        return out


def sweep(
    base: Config,
    grid: Mapping,
    replicas: int | Sequence[int] = 1000,
    generations: int = 100,
    seed: int = 0,
    record=None,
    detect: Sequence[FirstPassage] = (),
    metrics: Sequence[str] | None = None,
    streams: str = "coupled",
    block: int | None = None,
    store=None,
    scheduler: str = "threads",
    workers: int | None = None,
    address=None,
    threads: int | None = None,
    chunk: int | None = None,
    progress: bool | None = None,
    backend: str = "cpu",
    keep_state: bool = False,
    on_nonfinite: str = "warn",
    aggregate=None,
) -> xr.Dataset:
    """Runs ``base`` at every point of ``grid`` and returns one Dataset with
    the grid's dimensions first, then (replica, generation, ...).

    Parameters
    ----------
    base
        the Config every point starts from.
    grid
        {path: [values]} for a product dimension over a field (dotted paths from
        the Config: "temperature", "loop.n", "family.dim", "filter.tpr", "loop"
        for whole loop objects, ...), or {name: {path: [values], path2:
        [values]}} for one dimension ``name`` whose fields move together (zip).
        Dict values build config objects ({"type": "Fresh", "real": 10}). Every
        point is built and checked (config, kernel, metrics, detectors) before
        any task runs.
    replicas, generations, seed, record, detect, metrics, chunk, backend
        as in ``simulate``, the same for every point.
    streams
        "coupled" (every point runs the same replica ids: common random numbers)
        or "independent" (point p runs ids p * span + id).
    block
        replicas per task (default: all of a point's replicas, capped so a task
        does at most 2**25 replica-generations and holds 2**20 replica records).
        Never changes a number; a store remembers it.
    store
        a directory (None: keep nothing on disk). Each finished task is written
        there at once (atomically, with a sha256 of its arrays and the sweep's
        identity, checked when read back); running the same sweep again skips
        them, so a Ctrl-C or a crash loses only the tasks in flight. A store of a
        different sweep is an error, as is a task file that is damaged, swapped
        or from another sweep; a store is locked while a sweep uses it (a second
        sweep on it is refused).
    scheduler
        "threads" (a pool of ``workers`` threads over tasks in this process; the
        kernels release the GIL), "serial" (one task at a time, its replicas
        over ``threads`` threads) or "dask" (dask.distributed: an embedded
        LocalCluster of ``workers`` processes listening on 127.0.0.1 only,
        without the dashboard, or the cluster at ``address``, a scheduler
        address or a distributed.Client; needs ``pip install ".[dask]"``).
        Connecting to a scheduler means trusting it and its workers: Dask
        deserialises (unpickles) what they send, which can run code in this
        process; give only an address you control.
    workers
        pool threads or LocalCluster processes (default: all cores).
    address
        with ``scheduler="dask"``: a Dask scheduler address
        ("tcp://host:8786") or a ``distributed.Client``; None starts an
        embedded LocalCluster.
    threads
        kernel threads per task (default: all cores for "serial", the cores
        shared among the pool's threads for "threads", 1 for "dask").
    progress
        one tqdm bar over tasks, with an ETA; None shows it only on an
        interactive terminal.
    keep_state
        keep each replica's final kernel state (``state``, NaN-padded to the
        widest point); dropped by default to save memory. The store's task files
        always keep it: ``load_task`` reads one back as a complete simulate
        result, which ``madsim.resume`` continues.
    on_nonfinite
        as in ``simulate``, over the whole sweep: "warn" (one
        madsim.NonFiniteWarning naming the grid points whose replicas' state
        became inf or NaN; ``attrs["nonfinite_replicas"]`` counts them),
        "raise" (madsim.NonFiniteError at the first such task, the finished
        tasks stored) or "ignore".
    aggregate
        None, True or a :class:`madsim.Aggregate`: as in ``simulate``, every
        point records statistics over its replicas (dims: the grid, then
        generation, ...), so a grid of many points x many replicas stays
        small. Each point then runs as one task (``block`` is all its
        replicas): its statistics are bit for bit those of its ``simulate``
        call.

    Returns
    -------
    xarray.Dataset
        The grid dimensions first, then (replica, generation, ...).

    Raises
    ------
    SweepInterrupted
        On Ctrl-C (a KeyboardInterrupt), once the tasks that finished are
        stored.

    Examples
    --------
    >>> import madsim as ms
    >>> base = ms.Config(loop=ms.Fresh(real=10, synthetic=10), weight=0.5)
    >>> ds = ms.sweep(base, grid={"weight": [0.2, 0.8], "loop.synthetic": [10, 40]},
    ...               replicas=100, generations=10, seed=1, metrics=["var"], progress=False)
    >>> dict(ds["var"].sizes)
    {'weight': 2, 'loop.synthetic': 2, 'replica': 100, 'generation': 11}
    """
    t0 = time.perf_counter()
    plan = _plan(
        base,
        grid,
        replicas,
        generations,
        seed,
        record,
        detect,
        metrics,
        streams,
        block,
        backend,
        chunk,
        aggmod.as_aggregate(aggregate),
    )
    scheduler, workers = _scheduler(scheduler, workers, address)
    if threads is not None:
        threads = check.integer("threads", threads, 1, 4096)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None; got {progress!r}")
    if not isinstance(keep_state, bool):
        raise TypeError(f"keep_state must be True or False; got {keep_state!r}")
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be None or a directory path; got {store!r}")
    check.choice("on_nonfinite", on_nonfinite, NONFINITE)

    box = ex.Store(store, plan.spec) if store is not None else None
    try:
        return _sweep(
            plan, box, store, scheduler, workers, address, threads, progress, keep_state, t0, on_nonfinite
        )
    finally:
        if box is not None:
            box.close()


def _sweep(plan, box, store, scheduler, workers, address, threads, progress, keep_state, t0, on_nonfinite):
    tasks = plan.tasks()
    todo = [t for t in tasks if box is None or not box.done(t.key)]
    workers = min(workers, max(1, len(todo)))
    threads = threads or _task_threads(scheduler, workers)
    run = dict(plan.run, threads=threads)
    todo = [dataclasses.replace(t, run=run) for t in todo]

    found = {}
    bar = _progress_bar(progress, len(todo))

    def on_result(task, ds):
        n = _nonfinite(ds)
        if box is not None:
            box.save(task.key, ds)
        if on_nonfinite == "raise" and n:
            raise NonFiniteError(
                f"sweep: {n} replicas of grid point {task.point} "
                f"({_point_text(plan, task.point)}) have a non-finite (inf or NaN) state"
            )
        found[task.key] = ds if keep_state else ds.drop_vars("state")
        if bar is not None:
            bar.update(1)

    try:
        ex.execute(todo, on_result, scheduler, workers, address)
    except KeyboardInterrupt:
        done = len(tasks) - len(todo) + len(found)
        raise SweepInterrupted(done, len(tasks), store) from None
    finally:
        if bar is not None:
            bar.close()

    for t in tasks:
        if t.key not in found:
            ds = box.load(t.key)
            _nonfinite(ds)
            found[t.key] = ds if keep_state else ds.drop_vars("state")
    bad = {}
    for t in tasks:
        n = int(found[t.key].attrs["nonfinite_replicas"])
        if n:
            bad[t.point] = bad.get(t.point, 0) + n
    if bad and on_nonfinite == "warn":
        shown = "; ".join(f"{n} at ({_point_text(plan, p)})" for p, n in list(bad.items())[:5])
        warnings.warn(
            f"sweep: {sum(bad.values())} replicas in {len(bad)} grid points have a non-finite "
            f"(inf or NaN) state, the run diverged: {shown}{' ...' if len(bad) > 5 else ''}",
            NonFiniteWarning,
            stacklevel=3,
        )
    return _result(
        plan,
        tasks,
        found,
        keep_state,
        scheduler,
        workers,
        threads,
        from_store=len(tasks) - len(todo),
        wall=time.perf_counter() - t0,
    )


# ------------------------------------------------------------ planning and checks


def _plan(
    base, grid, replicas, generations, seed, record, detect, metrics, streams, block, backend, chunk, agg=None
) -> _Plan:
    """Checks every argument and builds every grid point: all errors come
    from here, before any task runs."""
    if not isinstance(base, Config):
        raise TypeError(f"base must be a madsim.Config; got {base!r}")
    check.choice("streams", streams, STREAMS)
    check.choice("backend", backend, BACKENDS)
    ids = replica_spec(replicas)
    if isinstance(ids, int):
        check_bytes(12 * ids, f"the sweep's {ids} replica ids")
        ids = np.arange(ids, dtype=np.int64)
    ids = ids.astype(np.int64)
    generations = check.integer("generations", generations, 0, MAX_GENERATIONS)
    seed = check.integer("seed", seed, 0, 2**64 - 1)
    rec = recmod.resolve(record, generations)
    if chunk is not None:
        chunk = check.integer("chunk", chunk, 1)
    detect = as_detectors(detect)
    metrics = metrics_spec(metrics)
    if agg is not None:
        if block is not None and check.integer("block", block, 1) < ids.size:
            raise ValueError(
                f"block={block}: an aggregated sweep runs each point's {ids.size} replicas "
                "as one task (its statistics over replicas); leave block=None"
            )
        block = ids.size
    if block is None:
        block = max(1, min(ids.size, TASK_WORK // max(1, generations), TASK_ROWS // rec.size))
    block = check.integer("block", block, 1)

    axes = gridmod.parse(grid)
    configs = gridmod.points(base, axes)
    names, columns = _check_points(axes, configs, generations, min(block, ids.size), backend, metrics, detect)
    # the points' records, held twice at the end (the tasks' and the combined Dataset)
    if agg is None:
        check_bytes(
            16.0 * ids.size * rec.size * columns,
            f"the sweep's records ({len(configs)} points x {ids.size} replicas x {rec.size} records)",
        )
    _check_names(axes, names | {d.label for d in detect})
    offsets = _offsets(streams, ids, len(configs))
    # on_nonfinite="ignore" in the tasks: the sweep counts non-finite states
    # itself as results arrive (a warning in a thread or Dask worker is lost)
    # the record rule itself (every(k), logspace(num) or the list), not its
    # resolved list: a task's result is a simulate result that madsim.resume
    # continues with the same rule (attrs["record"])
    rule = recmod.from_rule(recmod.to_rule(record, generations), generations)
    run = dict(
        generations=generations,
        seed=seed,
        record=rule,
        detect=detect,
        metrics=metrics,
        chunk=chunk,
        backend=backend,
        on_nonfinite="ignore",
    )
    if agg is not None:
        run["aggregate"] = agg
    counted = ids.size > 0 and np.array_equal(ids, np.arange(ids.size))
    spec = {
        "format": ex.STORE_FORMAT,
        "base": base.to_dict(),
        "grid": gridmod.spec_json(axes),
        "replicas": {"count": int(ids.size)} if counted else ids.tolist(),
        "generations": generations,
        "seed": str(seed),
        "record": rec.tolist(),
        "detect": [dataclasses.asdict(d) for d in detect],
        "metrics": metrics,
        "streams": streams,
        "block": block,
        "backend": backend,
        "rng_layout_version": RNG_LAYOUT_VERSION,
    }
    if agg is not None:  # (absent otherwise: the identity of existing stores stays)
        spec["aggregate"] = json.loads(agg.to_json())
    return _Plan(axes, configs, ids, offsets, block, run, spec)


def _check_points(axes, configs, generations, replicas, backend, metrics, detect) -> set:
    """What simulate would check per point (scale, kernel, metrics,
    detectors); returns every variable name the points record and the
    record columns of all points together."""
    names, columns = set(), 0
    for p, cfg in enumerate(configs):
        try:
            check_scale(cfg)
            kern = kernel_for(cfg, generations, replicas, backend=backend)
            chosen = chosen_variables(kern, metrics)
            names.update(chosen)
            columns += int(kern.record_columns(chosen).size)
            check_detectors(kern, detect)
        except (TypeError, ValueError) as exc:
            index = np.unravel_index(p, gridmod.shape(axes)) if axes else ()
            raise gridmod.at_point(exc, gridmod.assignments(axes, index)) from None
    return names, columns


def _check_names(axes, variables: set) -> None:
    """Grid dimensions and coordinates must not shadow the Dataset's own names."""
    taken = set(RESERVED) | variables
    for a in axes:
        for name in dict.fromkeys((a.name,) + a.fields):
            if name in taken:
                raise ValueError(
                    f"grid: {name!r} would name a grid dimension or coordinate and also a variable "
                    f"or dimension of the result (reserved: {', '.join(sorted(taken))})"
                )


def _offsets(streams: str, ids: np.ndarray, points: int) -> np.ndarray:
    if streams == "coupled":
        return np.zeros(points, dtype=np.int64)
    span = int(ids.max()) + 1
    if points * span > 2**32:
        raise ValueError(
            f"streams='independent' gives each of the {points} grid points {span} replica ids of "
            f"its own, {points * span} in all, more than the 2**32 the counter holds; use "
            "streams='coupled' or fewer replicas"
        )
    return np.arange(points, dtype=np.int64) * span


def _scheduler(scheduler, workers, address):
    check.choice("scheduler", scheduler, ex.SCHEDULERS)
    if workers is None:
        workers = os.cpu_count() or 1
    workers = check.integer("workers", workers, 1, 4096)
    if address is not None and scheduler != "dask":
        raise ValueError(f"address is for scheduler='dask'; got scheduler={scheduler!r}")
    if scheduler == "dask":
        try:
            import distributed
        except ImportError:
            raise ImportError("scheduler='dask' needs dask.distributed: pip install 'madsim[dask]'") from None
        if address is not None and not isinstance(address, (str, distributed.Client)):
            raise TypeError(
                f"address must be a scheduler address (str) or a distributed.Client; got {address!r}"
            )
    return scheduler, workers


def _task_threads(scheduler: str, workers: int) -> int:
    cores = os.cpu_count() or 1
    if scheduler == "serial":
        return cores
    if scheduler == "threads":
        return max(1, cores // workers)
    return 1


def _progress_bar(progress, total):
    if progress is False or total == 0:
        return None
    from tqdm.auto import tqdm

    # disable=None: only on a terminal; tqdm's bar shows the ETA
    return tqdm(
        total=total, unit="task", desc="sweep", disable=None if progress is None else False, leave=False
    )


# ------------------------------------------------------------ the result


def _result(plan, tasks, found, keep_state, scheduler, workers, threads, from_store, wall):
    per_point = [[] for _ in plan.configs]
    for t in tasks:
        per_point[t.point].append(found[t.key])
    points = [join_blocks(blocks) for blocks in per_point]
    independent = plan.spec["streams"] == "independent"
    replica_ids = plan.ids[None, :] + plan.offsets[:, None] if independent else None
    ds = combine(plan.axes, points, plan.ids, replica_ids, keep_state)
    first = points[0].attrs
    ds.attrs.update(
        madsim_version=madsim_version(),
        sweep=json.dumps(plan.spec, sort_keys=True),
        grid_dims=json.dumps([a.name for a in plan.axes]),
        seed=str(plan.spec["seed"]),
        generations=plan.spec["generations"],
        generations_completed=plan.spec["generations"],
        detectors=first["detectors"],
        metrics=json.dumps(plan.spec["metrics"]),
        streams=plan.spec["streams"],
        block=plan.block,
        tasks=len(tasks),
        tasks_from_store=from_store,
        scheduler=scheduler,
        workers=workers,
        threads=threads,
        backend=plan.spec["backend"],
        rng="philox4x32-10",
        rng_layout_version=RNG_LAYOUT_VERSION,
        build_info=json.dumps(build_info(), sort_keys=True),
        task_time_s=float(sum(found[t.key].attrs["wall_time_s"] for t in tasks)),
        wall_time_s=wall,
    )
    ds.attrs["nonfinite_replicas"] = int(
        sum(int(found[t.key].attrs.get("nonfinite_replicas", 0)) for t in tasks)
    )
    return ds


def _nonfinite(ds) -> int:
    """Replicas of a task whose state is not finite (counted here, in the
    calling process: warnings from threads or Dask workers would be lost)."""
    n = int((~np.isfinite(ds["state"].values).all(axis=1)).sum())
    ds.attrs["nonfinite_replicas"] = n
    return n


def _point_text(plan, p: int) -> str:
    if not plan.axes:
        return "the only point"
    index = np.unravel_index(p, gridmod.shape(plan.axes))
    return ", ".join(f"{k} = {v!r}" for k, v in gridmod.assignments(plan.axes, index).items())


def load_task(path) -> xr.Dataset:
    """One task file of a store (``STORE/tasks/p{point}-b{block}.npz``) as the
    task's ``simulate`` result: variables, state and attrs, so that
    ``madsim.resume`` can continue it. The sha256 of every array is checked
    (a damaged file raises ValueError naming it).

    Parameters
    ----------
    path
        a task file of a sweep's store.

    Returns
    -------
    xarray.Dataset
        The task's complete ``simulate`` result.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import madsim as ms
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "store"
    >>> ds = ms.sweep(ms.Config(), grid={"temperature": [0.9, 1.0]}, replicas=100, generations=10,
    ...               seed=1, metrics=["var"], store=store, progress=False)
    >>> task = ms.sweeps.load_task(sorted((store / "tasks").glob("*.npz"))[0])
    >>> task.attrs["generations_completed"]
    10
    >>> ms.resume(task, generations=20).sizes["generation"]
    21
    """
    return ex.read_task(Path(path))
