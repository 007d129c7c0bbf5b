"""Running a sweep's tasks: the task store and the three schedulers.

A task is one grid point's block of replicas: a plain ``simulate`` call. Its
numbers depend only on (seed, config, replica ids), so the schedulers may run
tasks in any order, on any worker, and the results are the same bit for bit.
Results come back to the calling process, which alone writes the store: a
cluster needs no shared file system, and no two writers meet.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
import zipfile
import zlib
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .. import atomic
from ..config import Config
from ..run.errors import RunInterrupted
from ..run.simulate import simulate
from ..results import array_digest

SCHEDULERS = ("serial", "threads", "dask")
STORE_FORMAT = 1


def sweep_identity(spec: dict) -> str:
    """sha256 of a sweep's spec (its store's identity, written in every task file)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Task:
    point: int  # flat index of the grid point (row-major)
    block: int  # which block of the point's replicas
    cfg: Config
    ids: tuple  # replica ids (counter field ctr[3])
    run: dict  # the simulate keywords every task shares

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
    simulate Dataset, plus ``__meta__``, its dims and attrs as JSON, the
    sha256 of every array, the sweep's identity and the task's key). A file
    is written under a temporary name and renamed, so one that exists is
    complete; reading one back checks its hashes, that it belongs to this
    sweep and is the task its name says (a damaged, swapped or foreign file
    is an error naming it). One sweep at a time may use a store: the store
    is locked while a sweep runs (madsim.atomic). Not netCDF or zarr:
    through xarray those cost 0.3-0.7 s per small file (h5netcdf's
    per-variable dimension lookups, zarr's per-array metadata), more than a
    typical task; npz takes milliseconds. The sweep's result is saved with
    madsim.results (netCDF or zarr)."""

    def __init__(self, path, spec: dict):
        self.path = Path(path)
        self.tasks = self.path / "tasks"
        self.spec = json.loads(json.dumps(spec))  # as it reads back from disk
        self.identity = sweep_identity(self.spec)
        meta = self.path / "sweep.json"
        if self.path.exists() and (
            not self.path.is_dir()
            or (not meta.exists() and any(p.name != ".sweep.json.lock" for p in self.path.iterdir()))
        ):
            raise ValueError(
                f"store {str(self.path)!r} exists and is not a madsim sweep store "
                "(no sweep.json); give a new or empty directory"
            )
        if not self.path.exists():
            atomic.check_writable(self.path)
        self.tasks.mkdir(parents=True, exist_ok=True)
        self._lock = atomic.lock(meta)
        self._lock.__enter__()  # released by close(), or when the process ends
        try:
            if meta.exists():
                _check_same(self.path, json.loads(meta.read_text()), self.spec)
            else:
                atomic.write_text(meta, json.dumps(self.spec, indent=1))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None

    def file(self, key: str) -> Path:
        return self.tasks / f"{key}.npz"

    def done(self, key: str) -> bool:
        return self.file(key).exists()

    def save(self, key: str, ds: xr.Dataset) -> None:
        arrays = _arrays(ds, self.identity, key)

        def produce(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        atomic.write(self.file(key), produce, locked=False)  # under the store's lock

    def load(self, key: str) -> xr.Dataset:
        return read_task(self.file(key), identity=self.identity, key=key)


def read_task(path: Path, identity: str | None = None, key: str | None = None) -> xr.Dataset:
    """A task file as its simulate Dataset, after checking the sha256 of every
    array (and, when given, the sweep's identity and the task's key)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no sweep task file at {str(path)!r}")
    fix = "delete it and run the sweep again to recompute that task"
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:  # closed on any error
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, KeyError, EOFError, TypeError) as exc:
        raise ValueError(
            f"sweep task file {str(path)!r} is damaged ({type(exc).__name__}: {exc}); {fix}"
        ) from None
    hashes = meta.get("sha256")
    if hashes is not None:  # files from before the hashes: accepted unchecked
        for name in sorted(set(hashes) | set(arrays)):
            if name not in arrays or name not in hashes or array_digest(arrays[name]) != hashes[name]:
                raise ValueError(
                    f"sweep task file {str(path)!r} is damaged: array {name!r} does not "
                    f"match the sha256 written with it; {fix}"
                )
    # files from before identities carry none: accepted (as the store's sweep.json says)
    if identity is not None and meta.get("sweep", identity) != identity:
        raise ValueError(
            f"sweep task file {str(path)!r} belongs to another sweep (its sweep identity "
            f"differs from this store's sweep.json); remove it from the store"
        )
    if key is not None and meta.get("task", key) != key:
        raise ValueError(
            f"sweep task file {str(path)!r} holds task {meta.get('task')!r}, not {key!r} "
            "(task files were renamed or swapped); remove it from the store"
        )
    try:
        return _dataset(arrays, meta)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(
            f"sweep task file {str(path)!r} is damaged ({type(exc).__name__}: {exc}); {fix}"
        ) from None


def _arrays(ds: xr.Dataset, identity: str, key: str) -> dict:
    """A Dataset as plain arrays and one JSON text (dims, attrs, the arrays'
    sha256, the sweep's identity and the task's key)."""
    out, meta = {}, {"attrs": ds.attrs, "vars": {}, "sweep": identity, "task": key}
    for kind, items in (("coord", ds.coords.items()), ("var", ds.data_vars.items())):
        for name, v in items:
            out[f"{kind}:{name}"] = np.ascontiguousarray(v.values)
            meta["vars"][f"{kind}:{name}"] = {"dims": list(v.dims), "attrs": v.attrs}
    meta["sha256"] = {k: array_digest(a) for k, a in out.items()}
    out["__meta__"] = np.array(json.dumps(meta, default=_plain))
    return out


def _dataset(arrays: dict, meta: dict) -> xr.Dataset:
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
        f"{_short(want.get(k))}; use another store (or delete this one) to start afresh"
    )


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
    # No dashboard: it would listen on every interface (0.0.0.0) by default;
    # the scheduler and workers listen on 127.0.0.1 only (host=).
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
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
    return [ids[i : i + block] for i in range(0, ids.size, block)]
