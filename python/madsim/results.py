"""Results on disk and summaries across replicas.

``save(ds, path)`` writes netCDF-4 (``.nc``, through h5netcdf: int64 detector
columns and list attributes survive, which netCDF-3 cannot hold) or zarr
(``.zarr``, needs the ``zarr`` package); ``load(path)`` reads either back
into memory. ``summary(ds)`` reduces over replicas: mean, its standard error
and quantiles of every recorded metric, and for first-passage detectors the
share of replicas that reached the threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

FORMATS = {".nc": "netcdf", ".zarr": "zarr"}


def _format(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"path must end in .nc (netCDF-4) or .zarr (zarr); got {str(path)!r}")
    return FORMATS[suffix]


def save(ds: xr.Dataset, path) -> Path:
    """Writes a simulate() Dataset with its provenance attrs; returns the path.

    Parameters
    ----------
    ds
        a ``madsim.simulate`` (or ``sweep``) result.
    path
        ending in ``.nc`` (netCDF-4 through h5netcdf) or ``.zarr`` (needs the
        ``zarr`` package).

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import madsim as ms
    >>> from madsim import results
    >>> ds = ms.simulate(ms.Config(), replicas=100, generations=10, seed=1, metrics=["var"])
    >>> path = results.save(ds, pathlib.Path(tempfile.mkdtemp()) / "run.nc")
    >>> path.name
    'run.nc'
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be an xarray.Dataset from madsim.simulate; got {type(ds).__name__}")
    path = Path(path)
    fmt = _format(path)
    if fmt == "netcdf":
        ds.to_netcdf(path, engine="h5netcdf")
    else:
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise ImportError("saving as .zarr needs the zarr package: pip install zarr") from None
        ds.to_zarr(path, mode="w")
    return path


def load(path) -> xr.Dataset:
    """Reads a Dataset written by ``save`` (fully into memory; the file is closed).

    Parameters
    ----------
    path
        a ``.nc`` or ``.zarr`` path written by :func:`save` or ``madsim run``.

    Returns
    -------
    xarray.Dataset
        The result, in memory.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import madsim as ms
    >>> from madsim import results
    >>> ds = ms.simulate(ms.Config(), replicas=100, generations=10, seed=1, metrics=["var"])
    >>> back = results.load(results.save(ds, pathlib.Path(tempfile.mkdtemp()) / "run.nc"))
    >>> bool((back["var"] == ds["var"]).all())
    True
    """
    path = Path(path)
    fmt = _format(path)
    if not path.exists():
        raise FileNotFoundError(f"no madsim result at {str(path)!r}")
    if fmt == "netcdf":
        return xr.load_dataset(path, engine="h5netcdf")
    return xr.open_zarr(path).load()


def summary(ds: xr.Dataset, quantiles=(0.05, 0.5, 0.95)) -> xr.Dataset:
    """Across replicas: for each metric ``x`` over (replica, generation, ...),
    ``x_mean``, ``x_se`` (standard error of the mean, ddof = 1) and ``x_q``
    (dim ``quantile``), over the replicas where x is finite (``x_finite``
    counts them); for each detector ``first_*`` (per replica, -1 = not
    reached), ``first_*_reached`` (share reached) and ``first_*_mean`` (mean
    over those that reached it: a censored mean, see madsim.plots.survival
    for the Kaplan-Meier curve).

    Parameters
    ----------
    ds
        a ``madsim.simulate`` result.
    quantiles
        the quantile levels of ``x_q``, numbers in [0, 1].

    Returns
    -------
    xarray.Dataset
        The reductions over replicas, with the run's attrs.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import results
    >>> ds = ms.simulate(ms.Config(), replicas=100, generations=10, seed=1, metrics=["var"],
    ...                  detect=[ms.FirstPassage("var", below=0.5, name="halved")])
    >>> s = results.summary(ds)
    >>> sorted(s.data_vars)
    ['halved_mean', 'halved_reached', 'var_finite', 'var_mean', 'var_q', 'var_se']
    """
    if not isinstance(ds, xr.Dataset) or "replica" not in ds.dims:
        raise TypeError("ds must be a madsim.simulate Dataset (with a replica dimension)")
    q = np.asarray(quantiles, dtype=float)
    if q.ndim != 1 or np.any((q < 0) | (q > 1)):
        raise ValueError(f"quantiles must be numbers in [0, 1]; got {quantiles!r}")
    out = {}
    for name, var in ds.data_vars.items():
        if "replica" not in var.dims:
            continue
        if "generation" in var.dims:
            finite = var.where(np.isfinite(var))
            n = np.isfinite(var).sum("replica")
            out[f"{name}_mean"] = finite.mean("replica")
            out[f"{name}_se"] = finite.std("replica", ddof=1) / np.sqrt(n)
            out[f"{name}_q"] = finite.quantile(q, dim="replica")
            out[f"{name}_finite"] = n
        elif np.issubdtype(var.dtype, np.integer):
            reached = var >= 0
            out[f"{name}_reached"] = reached.mean("replica")
            out[f"{name}_mean"] = var.where(reached).mean("replica")
    res = xr.Dataset(out)
    res.attrs.update(ds.attrs)
    res.attrs["replicas"] = int(ds.sizes["replica"])
    return res
