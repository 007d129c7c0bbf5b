"""Streamed results: a run written to a zarr store chunk by chunk.

``simulate(..., out="run.zarr")`` creates the store before the first kernel
call (every variable at its full planned shape; zarr writes no chunk until
it is filled, so the empty store is small) and, after every chunk of
generations, writes that chunk's recorded generations, then the state rows
and detector columns, then the attributes saying how far the run got. So
memory holds the state and one chunk's records, never the whole run.

What a store holds is always a valid run: the state and detector columns
live in two slots (dim ``slot``) written alternately, and
``attrs["state_slot"]`` and ``attrs["generations_completed"]`` are switched
to the new slot only after it and the chunk's records are written. A Ctrl-C
is held back while a chunk is written (the run stops right after it); a
crash leaves the previous chunk's slot and attributes in force, and
generations recorded past ``generations_completed`` are ignored when the
store is opened. ``madsim.resume("run.zarr", generations=...)`` continues
the store in place.

``open_run(path)`` opens a store lazily (dask-backed xarray): the recorded
generations up to ``generations_completed``, with the current slot's
``state`` and detector columns, as ``simulate`` would return them.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

import numpy as np
import xarray as xr

GEN_CHUNK_AGG = 256  # generations per zarr chunk of an aggregated variable
REPLICA_CHUNK = 2**18  # replicas per zarr chunk of a per-replica variable


def _zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError("streamed results (out=) need the zarr package: pip install zarr") from None
    return zarr


def check_out(out) -> Path:
    """The store path, checked before the run: ends in .zarr, the directory
    is writable, nothing is there yet."""
    from .. import atomic

    path = Path(out)
    if path.suffix.lower() != ".zarr":
        raise ValueError(
            f"out must be a path ending in .zarr (a zarr store written chunk by chunk); got {str(out)!r}"
        )
    _zarr()
    atomic.check_writable(path)
    if path.exists():
        raise FileExistsError(
            f"out {str(path)!r} exists; continue it with madsim.resume({str(path)!r}, "
            "generations=...) or choose another path"
        )
    return path


def is_store(path) -> bool:
    return isinstance(path, (str, Path)) and Path(path).suffix.lower() == ".zarr" and Path(path).is_dir()


@contextlib.contextmanager
def held_interrupt():
    """Holds a Ctrl-C (SIGINT) back until the block ends, then raises it:
    a chunk is written whole (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if got:
            raise KeyboardInterrupt


def _slotted(ds: xr.Dataset, slot_vars: list[str]) -> xr.Dataset:
    """ds with each per-replica variable given a leading ``slot`` dim of 2
    (lazy zeros: the store's writer fills slot 0, no copy in memory)."""
    import dask.array as da

    out = ds.copy()
    for name in slot_vars:
        v = ds[name]
        chunks = (1,) + tuple(min(REPLICA_CHUNK, n) if d == "replica" else n for d, n in zip(v.dims, v.shape))
        out[name] = (("slot",) + v.dims, da.zeros((2,) + v.shape, dtype=v.dtype, chunks=chunks), v.attrs)
    return out


class Store:
    """A run's zarr store (see the module's docstring)."""

    def __init__(self, path: Path, offset: int, slot: int):
        self.path = Path(path)
        self.offset = offset  # store index of the run's first recorded generation
        self.slot = slot
        self.group = _zarr().open_group(str(self.path), mode="r+")

    @classmethod
    def create(cls, path: Path, template: xr.Dataset, slot_vars: list[str], aggregated: bool) -> Store:
        """Writes the skeleton: ``template`` holds every variable at its full
        planned shape (dask arrays for the generation-dim ones, computed
        never) and the per-replica state in ``slot_vars``."""
        ds = _slotted(template, slot_vars)
        encoding = {}
        for name, v in ds.data_vars.items():
            if name in slot_vars:
                encoding[name] = {"chunks": v.data.chunksize}
            elif "generation" in v.dims:
                encoding[name] = {
                    "chunks": tuple(
                        (GEN_CHUNK_AGG if aggregated else 1)
                        if d == "generation"
                        else min(REPLICA_CHUNK, n)
                        if d in ("replica", "traced")
                        else n
                        for d, n in zip(v.dims, v.shape)
                    )
                }
        ds.attrs["streamed"] = 1
        ds.attrs["state_slot"] = 0
        # whole or not at all (a temporary directory renamed): a Ctrl-C here leaves no store
        from .. import atomic

        def produce(tmp: Path) -> None:
            ds.to_zarr(str(tmp), mode="w-", compute=False, encoding=encoding, consolidated=False)
            group = _zarr().open_group(str(tmp), mode="r+")
            for name in slot_vars:
                group[name][0] = template[name].values

        atomic.write(path, produce, locked=False)
        return cls(path, 0, 0)

    @classmethod
    def reopen(cls, path: Path, keep: int, new_gens: np.ndarray) -> Store:
        """For a resumed run: the generation axis cut to the ``keep`` completed
        records, then extended by ``new_gens``."""
        zarr = _zarr()
        group = zarr.open_group(str(path), mode="r+")
        size = keep + new_gens.size
        for _name, arr in group.arrays():
            dims = _dims(arr)
            if "generation" in dims:
                ax = dims.index("generation")
                shape = list(arr.shape)
                shape[ax] = size
                arr.resize(tuple(shape))
        group["generation"][keep:] = new_gens
        return cls(path, keep, int(group.attrs["state_slot"]))

    def write_chunk(
        self, chunk: xr.Dataset, lo: int, hi: int, state: np.ndarray, first: dict, attrs: dict
    ) -> None:
        """The recorded generations lo..hi (run indices) of ``chunk``, then the
        state and detector columns in the other slot, then the attrs that
        switch to it."""
        a, b = self.offset + lo, self.offset + hi
        if b > a:
            for name, v in chunk.data_vars.items():
                if "generation" not in v.dims:
                    continue
                arr = self.group[name]
                index = tuple(slice(a, b) if d == "generation" else slice(None) for d in v.dims)
                arr[index] = np.asarray(v.values, dtype=arr.dtype)
        slot = 1 - self.slot
        self.group["state"][slot] = state
        for name, col in first.items():
            self.group[name][slot] = col
        self.group.attrs.update({**attrs, "state_slot": slot})
        self.slot = slot

    def finish(self, attrs: dict) -> None:
        self.group.attrs.update(attrs)


def _dims(arr) -> tuple:
    names = getattr(arr.metadata, "dimension_names", None)
    if names:
        return tuple(names)
    return tuple(arr.attrs.get("_ARRAY_DIMENSIONS", ()))


def open_run(path) -> xr.Dataset:
    """A streamed run's store as a lazy (dask-backed) Dataset: what
    ``simulate`` returns, up to ``generations_completed``.

    Parameters
    ----------
    path
        a store written by ``simulate(..., out=path)`` (or ``madsim run --stream``).

    Returns
    -------
    xarray.Dataset
        Lazy: values are read when used (``.load()`` reads them all).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import madsim as ms
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.zarr"
    >>> _ = ms.simulate(ms.Config(), replicas=100, generations=10, seed=1, metrics=["var"], out=path)
    >>> ds = ms.open_run(path)
    >>> ds["var"].chunks is not None, int(ds.attrs["generations_completed"])
    (True, 10)
    """
    path = Path(path)
    if not is_store(path):
        raise FileNotFoundError(f"no zarr store at {str(path)!r}")
    _zarr()
    ds = xr.open_zarr(str(path), consolidated=False)
    if "streamed" not in ds.attrs:
        raise ValueError(f"{str(path)!r} is not a streamed madsim run (no attrs['streamed'])")
    done = int(ds.attrs["generations_completed"])
    gens = ds["generation"].values
    keep = int(np.searchsorted(gens, done, side="right")) if int(ds.attrs.get("chunks_written", 0)) else 0
    ds = ds.isel(generation=slice(0, keep))
    slot = int(ds.attrs["state_slot"])
    ds = ds.isel(slot=slot).drop_vars("slot", errors="ignore")
    attrs = dict(ds.attrs)
    for key in ("streamed", "state_slot", "chunks_written"):
        attrs.pop(key, None)
    attrs["out"] = str(path)
    ds.attrs = attrs
    return ds
