"""TOML run files: one table per config object, the same names as the Python
API, the same validation (errors name the TOML key).

    estimator = "mle"          # Config fields at the top level
    temperature = 1.0
    path = "exact"
    # truncation = 2.0 ; weight = 0.5 or "optimal"

    [family]                   # ms.Gaussian(...)
    type = "Gaussian"
    dim = 1
    mean = 0.0
    var = 1.0
    # or: type = "Categorical", tokens = 1000, zipf = 1.1 (or probs = [...]),
    # with top_k = 50 / top_p = 0.9 at the top level
    # or: type = "Bigram", tokens = 50, length = 20 (or transition = [[...], ...]),
    # with path = "samples" at the top level
    # or: type = "PPCA", dim = 10, factors = 2, spectrum = [4.0, 2.5], noise = 0.5
    # (or loadings = [[...], ...], a dim x factors matrix)
    # or: type = "GaussianMixture", weights = [0.5, 0.5], means = [[-2.0], [2.0]],
    # cov_type = "full" (covs = [[[1.0]], [[1.0]]]), em_iters = 100, em_tol = 1e-3
    # or: type = "Regression", dim = 5, design = "fixed", ridge = 0.1, refit_noise = true
    # (the loop's counts are rows)

    [loop]                     # ms.Replace / Augment / Fresh / Accumulate / AccumulateSubsample
    type = "Fresh"
    real = 10
    synthetic = [10, 20, 30]   # schedules: an int or a list (one count per generation)

    [filter]                   # optional: ms.Filter(tpr, fpr)
    tpr = 0.9
    fpr = 0.05

    [run]                      # ms.simulate(...) arguments
    replicas = 10000
    generations = 1000
    seed = 1
    record = { every = 10 }    # or { logspace = 50 } or a list of generations
    threads = 2                # optional
    metrics = ["var", "tail3"] # optional: the variables to record (default: all)

    [[detect]]                 # optional, repeatable: ms.FirstPassage(...)
    metric = "var"
    below = 0.01
    name = "collapse"

A sweep file (``madsim sweep``, ``load_sweep``) is a run file with a
``[sweep]`` table: the run file gives the base config and the [run]
arguments, shared by every point.

    [sweep]                    # ms.sweep(...) options, all optional
    streams = "coupled"        # or "independent"
    block = 1000               # replicas per task
    scheduler = "threads"      # or "serial", "dask"
    workers = 4
    address = "tcp://10.0.0.5:8786"   # a Dask scheduler (scheduler = "dask")
    keep_state = false

    [sweep.grid]               # product dimensions: field path = [values]
    weight = [0.2, 0.5, 0.8]
    "loop.synthetic" = [10, 40]          # (or loop.synthetic: a dotted key)
    loop = [{ type = "Replace", n = 20 }, { type = "Fresh", real = 10, synthetic = 10 }]

    [sweep.zip.ratio]          # a zipped dimension "ratio": the fields move together
    "loop.real" = [10, 20, 50]
    "loop.synthetic" = [90, 80, 50]

Read with ``tomllib`` (Python 3.11+). Functions of t are not expressible in
TOML: give a list.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from . import config as C
from .driver import FirstPassage
from .record import every, logspace

TOP_KEYS = ("estimator", "temperature", "path", "truncation", "weight", "top_k", "top_p")
TABLES = ("family", "loop", "filter", "run", "detect")
RUN_KEYS = ("replicas", "generations", "seed", "record", "threads", "chunk", "backend", "metrics")
DETECT_KEYS = ("metric", "below", "above", "name")
SWEEP_KEYS = ("grid", "zip", "streams", "block", "scheduler", "workers", "address", "keep_state")


class ConfigFileError(ValueError):
    """A TOML run file that does not map onto the config objects."""


def _fields(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _unknown(where: str, keys, allowed) -> None:
    bad = [k for k in keys if k not in allowed]
    if bad:
        raise ConfigFileError(
            f"{where}: unknown key {bad[0]!r}; allowed: {', '.join(allowed)}")


def _build(where: str, table, classes, default_type: str | None = None):
    if not isinstance(table, dict):
        raise ConfigFileError(f"[{where}] must be a table; got {table!r}")
    spec = dict(table)
    kind = spec.pop("type", default_type)
    names = [c.__name__ for c in classes]
    if kind is None:
        raise ConfigFileError(f"[{where}] needs type = one of {', '.join(map(repr, names))}")
    for cls in classes:
        if cls.__name__ == kind:
            _unknown(f"[{where}] ({kind})", spec, _fields(cls))
            try:
                return cls(**spec)
            except (TypeError, ValueError) as exc:
                raise ConfigFileError(f"[{where}]: {exc}") from None
    raise ConfigFileError(f"[{where}] type must be one of {', '.join(map(repr, names))}; got {kind!r}")


def _record(value):
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, dict):
        _unknown("[run] record", value, ("every", "logspace"))
        if len(value) != 1:
            raise ConfigFileError("[run] record must be { every = k }, { logspace = num } or a list")
        (kind, arg), = value.items()
        try:
            return every(arg) if kind == "every" else logspace(arg)
        except (TypeError, ValueError) as exc:
            raise ConfigFileError(f"[run] record: {exc}") from None
    raise ConfigFileError(f"[run] record must be {{ every = k }}, {{ logspace = num }} or a list; got {value!r}")


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{source}: not valid TOML: {exc}") from None


def loads(text: str, source: str = "<string>") -> tuple[C.Config, dict]:
    """Parses a TOML run file: returns (Config, keyword arguments of simulate)."""
    doc = _parse(text, source)
    if "sweep" in doc:
        raise ConfigFileError(f"{source} has a [sweep] table: run it with `madsim sweep` "
                              "(madsim.toml_config.load_sweep)")
    return _run_file(doc, source)


def _run_file(doc: dict, source: str) -> tuple[C.Config, dict]:
    _unknown(source, doc, TOP_KEYS + TABLES)
    family = _build("family", doc.get("family", {}), C.FAMILIES, "Gaussian")
    loop = _build("loop", doc.get("loop", {"type": "Replace"}), C.LOOPS)
    filt = None
    if "filter" in doc:
        filt = _build("filter", doc["filter"], (C.Filter,), "Filter")
    top = {k: doc[k] for k in TOP_KEYS if k in doc}
    try:
        cfg = C.Config(family=family, loop=loop, filter=filt, **top)
    except (TypeError, ValueError) as exc:
        raise ConfigFileError(f"{source}: {exc}") from None

    run = doc.get("run", {})
    if not isinstance(run, dict):
        raise ConfigFileError(f"[run] must be a table; got {run!r}")
    _unknown("[run]", run, RUN_KEYS)
    kwargs = {k: v for k, v in run.items() if k != "record"}
    if "record" in run:
        kwargs["record"] = _record(run["record"])
    detect = doc.get("detect", [])
    if not isinstance(detect, list):
        raise ConfigFileError("detect must be an array of tables: [[detect]]")
    dets = []
    for i, d in enumerate(detect):
        if not isinstance(d, dict):
            raise ConfigFileError(f"[[detect]] #{i + 1} must be a table")
        _unknown(f"[[detect]] #{i + 1}", d, DETECT_KEYS)
        try:
            dets.append(FirstPassage(**d))
        except (TypeError, ValueError) as exc:
            raise ConfigFileError(f"[[detect]] #{i + 1}: {exc}") from None
    if dets:
        kwargs["detect"] = dets
    return cfg, kwargs


def _read(path) -> tuple[str, str]:
    p = Path(path)
    try:
        return p.read_text(), str(p)
    except OSError as exc:
        raise ConfigFileError(f"cannot read run file {str(p)!r}: {exc.strerror}") from None


def load(path) -> tuple[C.Config, dict]:
    """Reads a TOML run file from disk (see the module docstring)."""
    return loads(*_read(path))


def loads_sweep(text: str, source: str = "<string>") -> tuple[C.Config, dict, dict]:
    """Parses a TOML sweep file: returns (base Config, the [run] keyword
    arguments, the [sweep] keyword arguments of madsim.sweep with ``grid``)."""
    doc = _parse(text, source)
    if "sweep" not in doc:
        raise ConfigFileError(f"{source} has no [sweep] table (a plain run file: use `madsim run`)")
    table = doc.pop("sweep")
    if not isinstance(table, dict):
        raise ConfigFileError(f"[sweep] must be a table; got {table!r}")
    cfg, run = _run_file(doc, source)
    _unknown("[sweep]", table, SWEEP_KEYS)
    options = {k: v for k, v in table.items() if k not in ("grid", "zip")}
    grid = _flat("[sweep.grid]", table.get("grid", {}))
    zipped = table.get("zip", {})
    if not isinstance(zipped, dict):
        raise ConfigFileError(f"[sweep.zip] must hold tables [sweep.zip.NAME]; got {zipped!r}")
    for name, fields in zipped.items():
        if name in grid:
            raise ConfigFileError(f"[sweep.zip.{name}]: {name!r} is also a field of [sweep.grid]")
        grid[name] = _flat(f"[sweep.zip.{name}]", fields)
    if not grid:
        raise ConfigFileError("[sweep] needs [sweep.grid] or [sweep.zip.NAME] with field = [values]")
    return cfg, run, {"grid": grid, **options}


def load_sweep(path) -> tuple[C.Config, dict, dict]:
    """Reads a TOML sweep file from disk (see the module docstring)."""
    return loads_sweep(*_read(path))


def _flat(where: str, table, prefix: str = "") -> dict:
    """Nested tables as dotted paths: TOML reads ``loop.n = [...]`` as
    {"loop": {"n": [...]}}; a list (of values) ends a path."""
    if not isinstance(table, dict):
        raise ConfigFileError(f"{where} must be a table of field = [values]; got {table!r}")
    out = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(where, value, path + "."))
        else:
            out[path] = value
    return out
