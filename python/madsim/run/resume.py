"""``madsim.resume``: a run continued from its Dataset (or its zarr store)
to more generations or with more replicas, bit for bit as the
uninterrupted run."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr

from .. import atomic
from .._backend import RNG_LAYOUT_VERSION
from .. import checks as check
from . import aggregate as aggmod
from . import records as recmod
from . import stream as streammod
from ..config import Config
from .driver import Start, run_chunks
from .options import MAX_GENERATIONS, NONFINITE, FirstPassage, replica_ids, thread_count


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
    # A run continued under another stream layout would mix two layouts' numbers
    # in one result, silently: refused (results made before the attribute existed
    # are layout 1).
    made = int(ds.attrs.get("rng_layout_version", 1))
    if made != RNG_LAYOUT_VERSION:
        raise ValueError(
            f"resume: ds was made with RNG layout version {made} and this madsim uses "
            f"{RNG_LAYOUT_VERSION}; continuing it would mix the two layouts' numbers. Rerun it "
            f"from the start (simulate), or resume it with the madsim version that made it "
            f"({ds.attrs.get('madsim_version', 'see ds.attrs')})"
        )
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
    threads = thread_count(threads)
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
            new_ids = replica_ids(replicas)
        if np.intersect1d(new_ids, have).size:
            raise ValueError("resume: replicas must be new ids, not ones the run already has")
        more = run_chunks(
            cfg,
            replica_ids(new_ids.tolist()),
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
    start = Start(done, np.ascontiguousarray(ds["state"].values), first, None if stored else ds)
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
