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


def loads(text: str, source: str = "<string>") -> tuple[C.Config, dict]:
    """Parses a TOML run file: returns (Config, keyword arguments of simulate)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{source}: not valid TOML: {exc}") from None
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


def load(path) -> tuple[C.Config, dict]:
    """Reads a TOML run file from disk (see the module docstring)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigFileError(f"cannot read run file {str(p)!r}: {exc.strerror}") from None
    return loads(text, source=str(p))
