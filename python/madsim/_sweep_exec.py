"""Running a sweep's tasks: the task store and the three schedulers.

A task is one grid point's block of replicas: a plain ``simulate`` call. Its
numbers depend only on (seed, config, replica ids), so the schedulers may run
tasks in any order, on any worker, and the results are the same bit for bit.
Results come back to the calling process, which alone writes the store: a
cluster needs no shared file system, and no two writers meet.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .config import Config
from .driver import RunInterrupted, simulate

SCHEDULERS = ("serial", "threads", "dask")
STORE_FORMAT = 1


@dataclass(frozen=True)
class Task:
    point: int          # flat index of the grid point (row-major)
    block: int          # which block of the point's replicas
    cfg: Config
    ids: tuple          # replica ids (counter field ctr[3])
    run: dict           # the simulate keywords every task shares

    @property
    def key(self) -> str:
        return f"p{self.point}-b{self.block}"


def run_task(task: Task) -> xr.Dataset:
    """One task: a plain simulate call (module level, so Dask can ship it)."""
    return simulate(task.cfg, replicas=list(task.ids), progress=False, **task.run)


# ------------------------------------------------------------ the store

class Store:
    """A directory: ``sweep.json`` (what the sweep is; a re-run must match
    it) and ``tasks/p{point}-b{block}.npz``, one file per finished task
    (numpy's zip of arrays: every variable and coordinate of the task's
    simulate Dataset, plus ``__meta__``, its dims and attrs as JSON). A file
    is written under a temporary name and renamed, so one that exists is
    complete. Not netCDF or zarr: through xarray those cost 0.3-0.7 s per
    small file (h5netcdf's per-variable dimension lookups, zarr's per-array
    metadata), more than a typical task; npz takes milliseconds. The sweep's
    result is saved with madsim.results (netCDF or zarr)."""

    def __init__(self, path, spec: dict):
        self.path = Path(path)
        self.tasks = self.path / "tasks"
        self.spec = json.loads(json.dumps(spec))  # as it reads back from disk
        meta = self.path / "sweep.json"
        if meta.exists():
            _check_same(self.path, json.loads(meta.read_text()), self.spec)
            self.tasks.mkdir(exist_ok=True)
        elif self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise ValueError(f"store {str(self.path)!r} exists and is not a madsim sweep store "
                             "(no sweep.json); give a new or empty directory")
        else:
            self.tasks.mkdir(parents=True, exist_ok=True)
            _write_atomic(meta, lambda f: f.write(json.dumps(self.spec, indent=1).encode()))

    def file(self, key: str) -> Path:
        return self.tasks / f"{key}.npz"

    def done(self, key: str) -> bool:
        return self.file(key).exists()

    def save(self, key: str, ds: xr.Dataset) -> None:
        _write_atomic(self.file(key), lambda f: np.savez(f, **_arrays(ds)))

    def load(self, key: str) -> xr.Dataset:
        return read_task(self.file(key))


def read_task(path: Path) -> xr.Dataset:
    if not path.exists():
        raise FileNotFoundError(f"no sweep task file at {str(path)!r}")
    with np.load(path, allow_pickle=False) as z:
        return _dataset({k: z[k] for k in z.files})


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


def _arrays(ds: xr.Dataset) -> dict:
    """A Dataset as plain arrays and one JSON text (dims and attrs)."""
    out, meta = {}, {"attrs": ds.attrs, "vars": {}}
    for kind, items in (("coord", ds.coords.items()), ("var", ds.data_vars.items())):
        for name, v in items:
            out[f"{kind}:{name}"] = v.values
            meta["vars"][f"{kind}:{name}"] = {"dims": list(v.dims), "attrs": v.attrs}
    out["__meta__"] = np.array(json.dumps(meta, default=_plain))
    return out


def _dataset(arrays: dict) -> xr.Dataset:
    meta = json.loads(str(arrays.pop("__meta__")))
    parts = {"coord": {}, "var": {}}
    for key, info in meta["vars"].items():
        kind, name = key.split(":", 1)
        parts[kind][name] = (tuple(info["dims"]), arrays[key], info["attrs"])
    return xr.Dataset(parts["var"], coords=parts["coord"], attrs=meta["attrs"])


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {value!r} in a task file")


def _check_same(path: Path, have: dict, want: dict) -> None:
    if have == want:
        return
    keys = sorted(set(have) | set(want))
    diff = [k for k in keys if have.get(k) != want.get(k)]
    k = diff[0]
    raise ValueError(
        f"store {str(path)!r} holds a different sweep: {k} there is {_short(have.get(k))}, here "
        f"{_short(want.get(k))}; use another store (or delete this one) to start afresh")


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


# ------------------------------------------------------------ schedulers

def execute(tasks, on_result, scheduler: str, workers: int, address=None) -> None:
    """Runs ``tasks``, calling ``on_result(task, ds)`` in this thread as each
    finishes. On an error or Ctrl-C, tasks not started are cancelled and
    tasks in flight are dropped."""
    if not tasks:
        return
    if scheduler == "serial":
        _serial(tasks, on_result)
    elif scheduler == "threads":
        _threads(tasks, on_result, workers)
    else:
        _dask(tasks, on_result, workers, address)


def _serial(tasks, on_result) -> None:
    for task in tasks:
        # A Ctrl-C lands in this thread's simulate, which then returns the
        # generations it finished: a partial task, dropped here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunInterrupted)
            ds = run_task(task)
        if ds.attrs.get("interrupted"):
            raise KeyboardInterrupt
        on_result(task, ds)


def _threads(tasks, on_result, workers: int) -> None:
    # The kernels release the GIL, so threads over tasks use the cores.
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="madsim-sweep")
    try:
        pending = {pool.submit(run_task, t): t for t in tasks}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                on_result(pending.pop(fut), fut.result())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def dask_client(address, workers: int):
    """(client, close): the given distributed.Client, one connected to the
    scheduler ``address``, or an embedded LocalCluster of ``workers``
    single-threaded worker processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("scheduler='dask' needs dask.distributed: pip install 'madsim[dask]'") from None
    if isinstance(address, Client):
        return address, lambda: None
    if address is not None:
        client = Client(address)
        return client, client.close
    # dashboard on a free port: the default 8787 warns when it is taken
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)

    def close():
        client.close()
        cluster.close()

    return client, close


def _dask(tasks, on_result, workers: int, address) -> None:
    from distributed import as_completed

    client, close = dask_client(address, workers)
    run = uuid.uuid4().hex[:8]  # keys unique on a shared, long-lived scheduler
    futures = {}
    try:
        for t in tasks:
            futures[client.submit(run_task, t, key=f"madsim-sweep-{run}-{t.key}", pure=False)] = t
        for fut in as_completed(list(futures)):
            on_result(futures.pop(fut), fut.result())
            fut.release()
    finally:
        if futures:  # an error or Ctrl-C: stop what is left
            client.cancel(list(futures))
        close()


def block_ids(ids: np.ndarray, block: int) -> list[np.ndarray]:
    return [ids[i:i + block] for i in range(0, ids.size, block)]
