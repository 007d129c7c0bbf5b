"""Results on disk and summaries across replicas.

``save(ds, path)`` writes netCDF-4 (``.nc``, through h5netcdf: int64 detector
columns and list attributes survive, which netCDF-3 cannot hold; numeric
variables compressed with zlib and the shuffle filter) or zarr (``.zarr``,
needs the ``zarr`` package; its default compressor). The file is written
under a temporary name and renamed (madsim.atomic), so a Ctrl-C or a crash
leaves the previous file or none, never a partial one; a second writer to
the same path is refused. ``dtype="float32"`` stores the recorded
variables in single precision (half the size; ``state`` stays float64, so
``madsim.resume`` stays exact).

Integrity: ``save`` stores a sha256 of every variable (and of the attrs) in
``attrs["content_sha256"]``; ``load`` recomputes it and raises naming the
file and the variable that differs, and ``madsim.resume`` checks it again.
``load`` reads only plain arrays: numbers and text, stored in the file itself
(HDF5 external storage, virtual datasets, links and compound or reference
types are refused).

``summary(ds)`` reduces over replicas: mean, its standard error and
quantiles of every recorded metric, and for first-passage detectors the
share of replicas that reached the threshold.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from . import atomic

FORMATS = {".nc": "netcdf", ".zarr": "zarr"}
DTYPES = ("float64", "float32")
HASH_ATTR = "content_sha256"
NETCDF_COMPRESSION = {"zlib": True, "complevel": 4, "shuffle": True}


def _format(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"path must end in .nc (netCDF-4) or .zarr (zarr); got {str(path)!r}")
    return FORMATS[suffix]


def check_output(path) -> Path:
    """The checks ``save`` would fail on, made before a run: the extension,
    that the directory exists and can be written."""
    _format(path)
    return atomic.check_writable(path)


# ------------------------------------------------------------ content hashes


def array_digest(values) -> str:
    """sha256 of an array's type, shape and values (text element by element)."""
    a = np.asarray(values)
    h = hashlib.sha256()
    if a.dtype.kind in "OUS":  # text: element by element, as UTF-8 (object and <U alike)
        h.update(f"str{a.shape}".encode())
        for x in a.reshape(-1):
            b = (x.decode() if isinstance(x, bytes) else str(x)).encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    else:
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _plain_attr(value):
    """An attribute as JSON the same before and after a netCDF round trip
    (lists come back as arrays, a one-element list as a scalar)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        value = [_plain_attr(v) for v in value]
        return value[0] if len(value) == 1 else value
    if isinstance(value, np.generic):
        return value.item()
    return value


def content_hashes(ds: xr.Dataset) -> dict:
    """sha256 of every variable and coordinate (name -> hex), and of the
    attrs (key "@attrs"), as ``save`` stores them."""
    out = {str(name): array_digest(var.values) for name, var in ds.variables.items()}
    attrs = {k: _plain_attr(v) for k, v in ds.attrs.items() if k != HASH_ATTR}
    out["@attrs"] = hashlib.sha256(json.dumps(attrs, sort_keys=True, default=str).encode()).hexdigest()
    return out


def verify(ds: xr.Dataset, where: str, names=None) -> None:
    """Raises ValueError if ``ds`` differs from the hashes stored at save
    time (``names``: only these variables; None: all, and the attrs). A
    Dataset without stored hashes (from before they existed) passes."""
    if HASH_ATTR not in ds.attrs:
        return
    try:
        stored = json.loads(ds.attrs[HASH_ATTR])
    except (TypeError, ValueError):
        raise ValueError(f"{where}: attrs[{HASH_ATTR!r}] is damaged (not JSON)") from None
    now = content_hashes(ds)
    check = stored if names is None else {n: stored[n] for n in names if n in stored}
    for name, digest in check.items():
        if name not in now:
            if names is None and name != "@attrs":
                raise ValueError(f"{where}: variable {name!r} was saved but is missing")
            continue
        if now[name] != digest:
            what = "the attributes (config, seed, ...)" if name == "@attrs" else f"variable {name!r}"
            raise ValueError(
                f"{where}: {what} does not match the sha256 stored when it was saved: the file is "
                f"damaged or was changed after saving (if you changed the Dataset on purpose, "
                f"delete ds.attrs[{HASH_ATTR!r}])"
            )


# ------------------------------------------------------------ save and load


def save(ds: xr.Dataset, path, dtype: str | None = None) -> Path:
    """Writes a simulate() Dataset with its provenance attrs atomically
    (a temporary name in the same directory, then a rename; a second writer
    to the same path is refused), compressed, with the sha256 of every
    variable and of the attrs; returns the path.

    Parameters
    ----------
    ds
        a ``madsim.simulate`` (or ``sweep``) result.
    path
        ending in ``.nc`` (netCDF-4 through h5netcdf) or ``.zarr`` (needs the
        ``zarr`` package).
    dtype
        None (as in ds), "float64" or "float32" for the recorded variables
        (``state`` and integer columns are never cast).

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
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"dtype must be None, 'float64' or 'float32'; got {dtype!r}")
    if fmt == "zarr":
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise ImportError("saving as .zarr needs the zarr package: pip install zarr") from None
    ds = ds.copy(deep=False)
    if dtype is not None:
        for name, var in ds.data_vars.items():
            if "generation" in var.dims and var.dtype.kind == "f" and var.dtype != dtype:
                ds[name] = var.astype(dtype)
        ds.attrs["dtype"] = dtype
    ds.attrs.pop(HASH_ATTR, None)
    ds.attrs[HASH_ATTR] = json.dumps(content_hashes(ds), sort_keys=True)
    if fmt == "netcdf":
        encoding = {
            name: dict(NETCDF_COMPRESSION)
            for name, var in ds.variables.items()
            if var.dtype.kind in "biuf" and var.ndim > 0
        }
        atomic.write(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding))
    else:
        # consolidated=False: zarr 3 warns that consolidated metadata is outside its format
        atomic.write(path, lambda tmp: ds.to_zarr(tmp, mode="w-", consolidated=False))
    return path


def _check_hdf5(path: Path) -> None:
    """Refuses what a madsim result never holds and a crafted file could use
    to read other files or run filters: external storage, virtual datasets,
    soft or external links, types other than numbers and text."""
    import h5py

    where = str(path)

    def walk(group, prefix):
        for name in group:
            link = group.get(name, getlink=True)
            if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
                raise ValueError(f"{where!r}: {prefix}{name} is an HDF5 link; madsim results hold none")
            obj = group[name]
            if isinstance(obj, h5py.Group):
                walk(obj, f"{prefix}{name}/")
                continue
            if not isinstance(obj, h5py.Dataset):
                raise ValueError(f"{where!r}: {prefix}{name} is not a dataset or group")
            if obj.external:
                raise ValueError(
                    f"{where!r}: variable {prefix}{name} uses HDF5 external storage "
                    f"(data in {obj.external[0][0]!r}); refused"
                )
            if obj.is_virtual:
                raise ValueError(f"{where!r}: variable {prefix}{name} is an HDF5 virtual dataset; refused")
            dt = obj.dtype
            text = h5py.check_string_dtype(dt) is not None
            if not (text or (dt.kind in "biuf" and dt.fields is None and h5py.check_enum_dtype(dt) is None)):
                raise ValueError(
                    f"{where!r}: variable {prefix}{name} has type {dt}; madsim reads only "
                    "plain numeric and text arrays"
                )

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{where!r} is not a netCDF-4 (HDF5) file madsim can read: {exc}") from None
    with f:
        walk(f, "")


def load(path) -> xr.Dataset:
    """Reads a Dataset written by ``save`` (fully into memory; the file is
    closed), after checking it holds only plain arrays (no HDF5 external
    storage, links or compound types) and that its content matches the
    sha256 stored at save time (ValueError naming the file and what differs).

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
        _check_hdf5(path)
        try:
            ds = xr.load_dataset(path, engine="h5netcdf")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{str(path)!r}: cannot read it as a madsim result: {exc}") from None
    else:
        from .run.stream import open_run

        try:
            import zarr

            streamed = "streamed" in zarr.open_group(str(path), mode="r").attrs
            ds = open_run(path).load() if streamed else xr.open_zarr(path, consolidated=False).load()
        except Exception as exc:  # zarr raises many kinds: name the file whatever it is
            raise ValueError(f"{str(path)!r}: cannot read it as a madsim result: {exc}") from None
        for name, var in ds.variables.items():
            if var.dtype.kind not in "biufOUS":
                raise ValueError(
                    f"{str(path)!r}: variable {name!r} has type {var.dtype}; madsim reads "
                    "only plain numeric and text arrays"
                )
    verify(ds, str(path))
    return ds


# ------------------------------------------------------------ summaries


def summary(ds: xr.Dataset, quantiles=(0.05, 0.5, 0.95)) -> xr.Dataset:
    """Across replicas: for each metric ``x`` over (replica, generation, ...),
    ``x_mean``, ``x_se`` (standard error of the mean, ddof = 1) and ``x_q``
    (dim ``quantile``), over the replicas where x is finite (``x_finite``
    counts them; NaN where none is, without a warning: e.g. a token run's
    ``kl_truth_model`` is +inf once a token is lost); for each detector
    ``first_*`` (per replica, -1 = not reached), ``first_*_reached`` (share
    reached) and ``first_*_mean`` (mean over those that reached it: a
    censored mean, see madsim.plots.survival for the Kaplan-Meier curve).

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
    with warnings.catch_warnings():
        # numpy's "All-NaN slice" / "Mean of empty slice" / "Degrees of
        # freedom <= 0": the documented NaN where no replica is finite
        warnings.simplefilter("ignore", RuntimeWarning)
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
    res.attrs.pop(HASH_ATTR, None)
    res.attrs["replicas"] = int(ds.sizes["replica"])
    return res
