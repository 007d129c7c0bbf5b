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
import json
import time
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import aggregate as aggmod
from . import stream as streammod
from .._backend import RNG_LAYOUT_VERSION, build_info
from ..kernels import kernel_for
from .errors import NonFiniteError, NonFiniteWarning, RunInterrupted
from .options import check_bytes, check_detectors, check_scale, chosen_variables, madsim_version

CHUNK_SECONDS = 0.25  # target wall time per chunk: Ctrl-C answers within about this


@dataclass
class Start:
    """Where a resumed run picks up: the last completed generation, the state
    rows and detector columns there, and the Dataset recorded so far."""

    generation: int
    state: np.ndarray
    first: np.ndarray
    previous: xr.Dataset | None


def run_chunks(
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
    start: Start | None = None,
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
            # (the sum first: NaN and inf carry through it, and it allocates nothing; a
            # per-row all(axis=1) over a few columns is slow, and is needed only once a
            # replica diverged, or where finite rows overflow the sum: then it finds none)
            if on_nonfinite != "ignore" and not np.isfinite(work.sum()):
                new = ~np.isfinite(work).all(axis=1) & ~bad
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
                if generations - end <= step + step // 4:  # a short rest joins: one copy and check fewer
                    step = generations - end
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
