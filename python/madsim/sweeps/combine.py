"""Joining a sweep's task results into one Dataset with the grid as dimensions.

Every grid point's variables are placed, unchanged, at its position of the
grid; nothing is recomputed, so each value equals the point's ``simulate``
call bit for bit. Points need not record the same variables or shapes (a
sweep over ``family.dim`` or the loop type): a variable absent from a point
is NaN there, a dimension a point lacks is inserted with size 1 (the 1-D
``mean`` is ``mean[dim = 0]``), and shorter dimensions are padded with NaN
(integers that need padding become float64).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import grid as gridmod
from .grid import Axis

PER_POINT = {
    "config": "the grid point's Config as JSON (madsim.Config.from_dict)",
    "kernel": "the compiled kernel that ran the grid point",
}


def join_blocks(blocks: list[xr.Dataset]) -> xr.Dataset:
    """A grid point's replica blocks, in order, as one Dataset."""
    if len(blocks) == 1:
        return blocks[0]
    first = blocks[0]  # every variable of a simulate result has the replica dimension
    data = {
        n: (v.dims, np.concatenate([b[n].values for b in blocks], axis=v.dims.index("replica")), v.attrs)
        for n, v in first.data_vars.items()
    }
    coords = dict(first.coords)
    coords["replica"] = np.concatenate([b["replica"].values for b in blocks])
    return xr.Dataset(data, coords=coords, attrs=first.attrs)


def combine(
    axes: list[Axis],
    point_ds: list[xr.Dataset],
    replica: np.ndarray,
    replica_ids: np.ndarray | None,
    keep_state: bool,
) -> xr.Dataset:
    """One Dataset over (grid dims..., replica, generation, ...) from the
    points' Datasets (row-major order). ``replica`` is the replica coordinate;
    ``replica_ids`` [points, R] the counter ids each point ran when they differ
    (independent streams)."""
    grid_dims = tuple(a.name for a in axes)
    grid_shape = gridmod.shape(axes)
    if not keep_state:
        point_ds = [ds.drop_vars("state", errors="ignore") for ds in point_ds]
    names = list(dict.fromkeys(n for ds in point_ds for n in ds.data_vars))
    out = {}
    for name in names:
        out[name] = _stack(name, [ds[name] if name in ds else None for ds in point_ds], grid_dims, grid_shape)
    coords = {"replica": ("replica", replica), "generation": point_ds[0]["generation"].values}
    for a in axes:
        coords.update(a.coords())
    ds = xr.Dataset(out, coords=coords)
    for p in point_ds:  # other coordinates (a family's labels): from a point of full size
        for c, var in p.coords.items():
            if c not in ds.coords and all(ds.sizes.get(d) == n for d, n in var.sizes.items()):
                ds = ds.assign_coords({c: var.variable})
    if replica_ids is not None:
        ds["replica_id"] = (
            grid_dims + ("replica",),
            replica_ids.reshape(grid_shape + (-1,)),
            {"long_name": "replica id each point ran (counter field ctr[3]; streams='independent')"},
        )
    for name, what in PER_POINT.items():  # object dtype: variable-length text on disk
        text = np.array([p.attrs[name] for p in point_ds], dtype=object).reshape(grid_shape)
        ds[name] = (grid_dims, text, {"long_name": what})
    return ds


def _stack(name: str, parts: list, grid_dims: tuple, grid_shape: tuple) -> xr.Variable:
    """One variable over the grid: each point's array at its position."""
    have = [p for p in parts if p is not None]
    dims = list(max((p.dims for p in have), key=len))
    for p in have:  # any dimension the longest lacks, in first-seen order
        dims += [d for d in p.dims if d not in dims]
    sizes = {d: max(p.sizes.get(d, 1) for p in have) for d in dims}
    full = all(p is not None and dict(p.sizes) == sizes for p in parts)
    dtype = have[0].dtype
    if not full and not np.issubdtype(dtype, np.floating):
        dtype = np.float64
    data = np.full(
        grid_shape + tuple(sizes[d] for d in dims),
        np.nan if np.issubdtype(dtype, np.floating) else 0,
        dtype=dtype,
    )
    flat = data.reshape((-1,) + data.shape[len(grid_shape) :])
    for i, p in enumerate(parts):
        if p is None:
            continue
        arr = p.transpose(*[d for d in dims if d in p.dims]).values
        arr = arr.reshape([p.sizes.get(d, 1) for d in dims])
        flat[(i,) + tuple(slice(0, n) for n in arr.shape)] = arr
    return xr.Variable(grid_dims + tuple(dims), data, _common_attrs(have))


def _common_attrs(parts: list) -> dict:
    """The attributes every point agrees on (e.g. long_name; a truth_value
    that depends on a swept family parameter is dropped)."""
    attrs = dict(parts[0].attrs)
    for p in parts[1:]:
        attrs = {k: v for k, v in attrs.items() if k in p.attrs and _same(p.attrs[k], v)}
    return attrs


def _same(a, b) -> bool:
    try:
        return bool(np.array_equal(a, b))
    except (TypeError, ValueError):
        return a == b
