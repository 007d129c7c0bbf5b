"""TOML run files: one table per config object, the same names as the Python
API, the same validation (errors name the TOML key).

    estimator = "mle"          # Config fields at the top level
    temperature = 1.0

    [family]                   # ms.Gaussian(...); or Categorical, Bigram, PPCA, ...
    type = "Gaussian"
    dim = 1

    [loop]                     # ms.Replace / Augment / Fresh / Accumulate / AccumulateSubsample
    type = "Fresh"
    real = 10
    synthetic = [10, 20, 30]   # schedules: an int or a list (one count per generation)

    [filter]                   # optional: ms.Filter(tpr, fpr)
    tpr = 0.9

    [run]                      # ms.simulate(...) arguments
    replicas = 10000
    generations = 1000
    record = { every = 10 }    # or { logspace = 50 } or a list of generations

    [[detect]]                 # optional, repeatable: ms.FirstPassage(...)
    metric = "var"
    below = 0.01
    name = "collapse"

A sweep file (``madsim sweep``, ``load_sweep``) is a run file with a
``[sweep]`` table (``[sweep.grid]``, ``[sweep.zip.NAME]``): the run file
gives the base config and the [run] arguments, shared by every point.

Every key the loader accepts is one row of the schema below (``SCHEMA``: its
TOML types, its default, read from the Python API it maps onto, and its
meaning). The loader checks files against it, and the same rows generate the
Markdown reference (``reference_markdown()``, ``madsim init --reference``,
docs/guide/toml-reference.md) and the comments of the file ``madsim init``
writes (``template()``). Read with ``tomllib`` (Python 3.11+). Functions of t
are not expressible in TOML: give a list.
"""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
import tomllib
from pathlib import Path

from . import config as C
from .families import all_families
from .run.options import FirstPassage
from .run.simulate import simulate
from .run.records import every, logspace
from .sweeps import sweep


class ConfigFileError(ValueError):
    """A TOML run file that does not map onto the config objects."""


# ---------------------------------------------------------------- the schema

# TOML types -> the Python types tomllib reads them as. A float key takes an
# integer too (TOML reads 1 as an integer); bool is never an integer here.
TOML_TYPES = {
    "integer": (int,),
    "float": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
    "table": (dict,),
}

# Arrays and tables nested deeper than this are refused with a clear error
# (the deepest legitimate value, a list of loop tables with a covariance
# matrix in [sweep.grid], is 8 levels down) instead of a RecursionError.
MAX_DEPTH = 32


class _NoDefault:
    def __repr__(self) -> str:
        return "required"


REQUIRED = _NoDefault()


@dataclasses.dataclass(frozen=True)
class Key:
    """One key of a table: the TOML types it takes, its default (None: not
    set), its meaning, and an example value for one that has no default."""

    name: str
    types: tuple[str, ...]
    default: object
    help: str
    example: object = None

    def check(self, where: str, value) -> None:
        ok = any(isinstance(value, TOML_TYPES[t]) for t in self.types)
        if isinstance(value, bool) and "boolean" not in self.types:
            ok = False
        if not ok:
            raise ConfigFileError(f"{where}: {self.name} must be {_types_text(self.types)}; got {value!r}")


@dataclasses.dataclass(frozen=True)
class Table:
    """A TOML table (or the top level) and the API object it maps onto."""

    header: str  # how the table is written: "[family]", "[[detect]]", "" (top level)
    kind: str | None  # the ``type`` value that selects it, for [family] and [loop]
    api: str  # what it builds, e.g. "madsim.Gaussian"
    help: str
    keys: tuple[Key, ...]
    cls: type | None = None  # the class it builds ([family], [loop], [filter])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    @property
    def where(self) -> str:
        """The table as errors name it: "[loop] (Fresh)"."""
        return f"{self.header} ({self.kind})" if self.kind else (self.header or "top level")

    def key(self, name: str) -> Key:
        return self.keys[self.names.index(name)]


def _types_text(types) -> str:
    words = [f"an {t}" if t[0] in "aeiou" else f"a {t}" for t in types]
    return " or ".join(words)


def _choices(values) -> str:
    return ", ".join(f'"{v}"' for v in values)


def _defaults(api) -> dict:
    """Defaults of a dataclass's fields or a function's parameters: the
    schema takes its defaults from the Python API, so the two cannot differ."""
    if dataclasses.is_dataclass(api):
        out = {}
        for f in dataclasses.fields(api):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
        return out
    return {
        name: p.default
        for name, p in inspect.signature(api).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _table(header: str, api, help: str, rows, kind: str | None = None, name: str | None = None) -> Table:
    """rows: (key, TOML types, help[, example]); defaults come from ``api``."""
    defaults = _defaults(api)
    keys = []
    for row in rows:
        key, types, text = row[:3]
        types = (types,) if isinstance(types, str) else tuple(types)
        keys.append(Key(key, types, defaults.get(key, REQUIRED), text, row[3] if len(row) > 3 else None))
    return Table(
        header,
        kind,
        name or f"madsim.{api.__name__}",
        help,
        tuple(keys),
        api if isinstance(api, type) else None,
    )


_FLOAT_OR_LIST = ("float", "array")
_SCHEDULE = ("integer", "array")
_SCHEDULE_TEXT = "a count, or a list of counts for generations 1, 2, ... (as many as the run has)"

TOP = _table(
    "",
    C.Config,
    "Config fields, before any table.",
    [
        (
            "estimator",
            "string",
            f"one of {_choices(C.ESTIMATORS)}: divide the scatter by the count, or by count - 1.",
        ),
        (
            "temperature",
            "float",
            "tau > 0: synthetic draws come from the model with its spread scaled by tau "
            "(tokens: from p^(1/tau) renormalised).",
        ),
        (
            "path",
            "string",
            f"one of {_choices(C.PATHS)}: draw sufficient statistics (cost independent of the "
            'counts) or every point; not set: "exact" where the family has it, else '
            '"samples".',
            "samples",
        ),
        (
            "truncation",
            "float",
            "k > 0: synthetic draws are kept only within k standard deviations "
            "(Mahalanobis radius k for d > 1). Samples path only.",
            2.0,
        ),
        (
            "weight",
            ("float", "string"),
            "not set: one pooled fit over all points; a number w in [0, 1]: "
            "w * (fit on the real part) + (1 - w) * (fit on the synthetic part); "
            '"optimal": the variance-minimising w (Fresh with constant counts).',
            0.5,
        ),
        (
            "top_k",
            "integer",
            "token families only: synthetic tokens come from the top_k most probable tokens.",
            50,
        ),
        (
            "top_p",
            "float",
            "token families only: synthetic tokens come from the smallest most-probable set "
            "whose mass reaches top_p.",
            0.9,
        ),
        (
            "reweight",
            "table",
            'Gaussian, path = "samples": tail reweighting, { beta = b, k = k }: the refit '
            "weighs each synthetic point 1 + b if its standardised distance exceeds k, else 1.",
            {"beta": 1.0, "k": 2.0},
        ),
        (
            "correction",
            "float",
            "Gaussian: self-correction strength gamma in (0, 1]: each synthetic point moves "
            "to (1 - gamma) x + gamma T(x), T the transport map from the model to the truth.",
            0.5,
        ),
    ],
    name="madsim.Config",
)

# One [family] table per registered family (madsim.families), in registration
# order: its keys and help come from its spec, its defaults from its class.
FAMILY = {
    spec.name: _table("[family]", spec.cls, spec.toml_help, spec.toml_keys, kind=spec.name)
    for spec in all_families()
}
DEFAULT_FAMILY = type(C.default_family()).__name__  # Config's default family, the first registered

LOOP = {
    t.kind: t
    for t in (
        _table(
            "[loop]",
            C.Replace,
            "Fully synthetic: generation t fits on n samples of model t-1.",
            [
                ("n", _SCHEDULE, f"samples per generation (>= 2): {_SCHEDULE_TEXT}."),
            ],
            kind="Replace",
        ),
        _table(
            "[loop]",
            C.Augment,
            "One fixed real set (drawn once) plus fresh synthetic draws each generation.",
            [
                ("real", "integer", "size of the fixed real set."),
                ("synthetic", _SCHEDULE, f"synthetic draws per generation: {_SCHEDULE_TEXT}."),
            ],
            kind="Augment",
        ),
        _table(
            "[loop]",
            C.Fresh,
            "New real points from the truth plus synthetic draws, each generation.",
            [
                ("real", _SCHEDULE, f"real points per generation: {_SCHEDULE_TEXT}."),
                ("synthetic", _SCHEDULE, f"synthetic draws per generation: {_SCHEDULE_TEXT}."),
            ],
            kind="Fresh",
        ),
        _table(
            "[loop]",
            C.Accumulate,
            "Every point ever drawn is kept; each generation refits on the whole pool.",
            [
                ("synthetic", _SCHEDULE, f"synthetic draws added per generation: {_SCHEDULE_TEXT}."),
                ("real", _SCHEDULE, f"real points added per generation: {_SCHEDULE_TEXT}."),
            ],
            kind="Accumulate",
        ),
        _table(
            "[loop]",
            C.AccumulateSubsample,
            "The pool grows as in Accumulate; each generation fits on n "
            "points drawn from it without replacement (path = "
            '"samples").',
            [
                ("n", "integer", "points per fit (2 to 2^20)."),
                ("synthetic", _SCHEDULE, f"synthetic draws added per generation: {_SCHEDULE_TEXT}."),
                ("real", _SCHEDULE, f"real points added per generation: {_SCHEDULE_TEXT}."),
            ],
            kind="AccumulateSubsample",
        ),
    )
}

FILTER = _table(
    "[filter]",
    C.Filter,
    "Optional provenance filter: each synthetic point is dropped "
    "with probability tpr, each real point with probability fpr.",
    [
        ("tpr", "float", "probability in [0, 1] that a synthetic point is caught and dropped.", 0.9),
        ("fpr", "float", "probability in [0, 1] that a real point is wrongly dropped.", 0.05),
    ],
)

RECORD_HELP = (
    "which generations to keep: { every = k } (0, k, 2k, ... and the last), "
    "{ logspace = num } (about num log-spaced, with 0 and the last) or a list of generations "
    "(exactly those); not set: about 1000 evenly spaced."
)

RUN = _table(
    "[run]",
    simulate,
    "Arguments of madsim.simulate.",
    [
        ("replicas", _SCHEDULE, "the number of replicas R (ids 0..R-1), or a list of replica ids."),
        ("generations", "integer", "the number of fits; generation 0 is the truth."),
        ("seed", "integer", "the Philox key, in [0, 2^64)."),
        ("record", ("table", "array"), RECORD_HELP, {"every": 10}),
        ("threads", "integer", "CPU threads (not set: all cores); never changes a number.", 2),
        ("chunk", "integer", "generations per kernel call (not set: adaptive); never changes a number.", 100),
        ("backend", "string", '"cpu", "jax" (the pure-JAX twin, for checking) or "cuda".'),
        (
            "metrics",
            ("array", "string"),
            'the variables to record, e.g. ["var", "mean"], or "all" '
            "(not set: the family's lean default set).",
            ["var", "mean"],
        ),
        (
            "on_nonfinite",
            "string",
            '"warn", "raise" or "ignore": what a replica whose state becomes inf or NaN does.',
            "raise",
        ),
        (
            "dtype",
            "string",
            '"float64" or "float32": the recorded variables\' type (the state stays float64).',
            "float32",
        ),
        (
            "aggregate",
            ("boolean", "table"),
            "statistics over replicas instead of every replica's records: "
            "true (the defaults) or { quantiles = [...], relative_accuracy = a, "
            "replicas = [ids], histogram = { VAR = { lo, hi, num, log } } } "
            "(madsim.Aggregate).",
            {"quantiles": [0.05, 0.5, 0.95]},
        ),
        (
            "out",
            "string",
            "a .zarr path: stream the run there chunk by chunk (runs larger than memory; "
            "madsim run --stream uses the output path).",
            "run.zarr",
        ),
    ],
    name="madsim.simulate",
)

DETECT = _table(
    "[[detect]]",
    FirstPassage,
    "Optional, repeatable: a first-passage detector, checked "
    "on every generation; the Dataset's variable NAME holds "
    "each replica's first generation (-1: never).",
    [
        ("metric", "string", "the metric watched (any metric of the family, recorded or not).", "var"),
        ("below", "float", "fires at the first generation with metric <= below; give below or above.", 0.01),
        ("above", "float", "fires at the first generation with metric >= above.", 10.0),
        (
            "name",
            "string",
            "the variable's name (not set: first_METRIC_below or first_METRIC_above).",
            "collapse",
        ),
    ],
)

SWEEP = _table(
    "[sweep]",
    sweep,
    "Only in a sweep file (madsim sweep): madsim.sweep options; the grid itself is "
    "[sweep.grid] and [sweep.zip.NAME].",
    [
        (
            "streams",
            "string",
            '"coupled" (every point runs the same replica ids: common random numbers) or "independent".',
        ),
        (
            "block",
            "integer",
            "replicas per task (not set: a point's replicas, capped); never changes a number.",
            1000,
        ),
        ("scheduler", "string", '"threads", "serial" or "dask".'),
        ("workers", "integer", "pool threads or Dask worker processes (not set: all cores).", 4),
        (
            "address",
            "string",
            'a Dask scheduler address (scheduler = "dask"; not set: a local cluster).',
            "tcp://10.0.0.5:8786",
        ),
        ("keep_state", "boolean", "keep each replica's final kernel state in the result."),
        (
            "grid",
            "table",
            "[sweep.grid]: product dimensions, field path = [values]; a sweep needs "
            "[sweep.grid] or at least one [sweep.zip.NAME].",
        ),
        ("zip", "table", "[sweep.zip.NAME]: one dimension NAME whose fields move together."),
    ],
    name="madsim.sweep",
)
# grid and zip: neither is required alone (madsim.sweep's grid argument is both together)
SWEEP = dataclasses.replace(
    SWEEP,
    keys=tuple(dataclasses.replace(k, default=None) if k.name in ("grid", "zip") else k for k in SWEEP.keys),
)

SCHEMA = {
    "top": TOP,
    "family": FAMILY,
    "loop": LOOP,
    "filter": FILTER,
    "run": RUN,
    "detect": DETECT,
    "sweep": SWEEP,
}

TOP_KEYS = TOP.names
TABLES = ("family", "loop", "filter", "run", "detect")
RUN_KEYS = RUN.names
DETECT_KEYS = DETECT.names
SWEEP_KEYS = SWEEP.names


# ---------------------------------------------------------------- the loader


def _unknown(where: str, keys, allowed) -> None:
    bad = [k for k in keys if k not in allowed]
    if bad:
        raise ConfigFileError(f"{where}: unknown key {bad[0]!r}; allowed: {', '.join(allowed)}")


def _check(table: Table, spec: dict, where: str | None = None) -> None:
    """Every key of ``spec`` is in ``table`` and of one of its TOML types."""
    where = where or table.where
    _unknown(where, spec, table.names)
    for name, value in spec.items():
        table.key(name).check(where, value)


def _build(where: str, table, tables: dict, default_type: str | None = None):
    if not isinstance(table, dict):
        raise ConfigFileError(f"[{where}] must be a table; got {table!r}")
    spec = dict(table)
    kind = spec.pop("type", default_type)
    names = list(tables)
    if kind is None:
        raise ConfigFileError(f"[{where}] needs type = one of {', '.join(map(repr, names))}")
    if not isinstance(kind, str) or kind not in tables:
        raise ConfigFileError(f"[{where}] type must be one of {', '.join(map(repr, names))}; got {kind!r}")
    _check(tables[kind], spec)
    try:
        return tables[kind].cls(**spec)
    except (TypeError, ValueError) as exc:
        raise ConfigFileError(f"[{where}]: {exc}") from None


def _record(value):
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, dict):
        _unknown("[run] record", value, ("every", "logspace"))
        if len(value) != 1:
            raise ConfigFileError("[run] record must be { every = k }, { logspace = num } or a list")
        ((kind, arg),) = value.items()
        try:
            return every(arg) if kind == "every" else logspace(arg)
        except (TypeError, ValueError) as exc:
            raise ConfigFileError(f"[run] record: {exc}") from None
    raise ConfigFileError(
        f"[run] record must be {{ every = k }}, {{ logspace = num }} or a list; got {value!r}"
    )


def _aggregate(value):
    """[run] aggregate: true/false or a table of madsim.Aggregate's fields."""
    from .run.aggregate import Aggregate, Bins

    if isinstance(value, bool):
        return value
    _unknown("[run] aggregate", value, ("quantiles", "histogram", "replicas", "relative_accuracy"))
    args = dict(value)
    try:
        if "histogram" in args:
            hist = args["histogram"]
            if not isinstance(hist, dict) or not all(isinstance(b, dict) for b in hist.values()):
                raise ConfigFileError("[run] aggregate.histogram must be { VAR = { lo, hi, num, log } }")
            args["histogram"] = {k: Bins(**b) for k, b in hist.items()}
        return Aggregate(**args)
    except (TypeError, ValueError) as exc:
        raise ConfigFileError(f"[run] aggregate: {exc}") from None


def _depth(doc) -> int:
    """How deeply arrays and tables nest in ``doc`` (iteratively: no recursion
    limit to hit), stopping as soon as it passes MAX_DEPTH."""
    deepest, stack = 0, [(doc, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                break
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, level + 1) for v in items)
    return deepest


def _parse(text: str, source: str) -> dict:
    too_deep = (
        f"{source}: arrays or tables nested more than {MAX_DEPTH} levels deep; a madsim run file "
        "needs a few (a matrix is 2, a list of matrices 3)"
    )
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib reads nested arrays and inline tables recursively
        raise ConfigFileError(too_deep) from None
    if _depth(doc) > MAX_DEPTH:
        raise ConfigFileError(too_deep)
    return doc


def loads(text: str, source: str = "<string>") -> tuple[C.Config, dict]:
    """Parses a TOML run file: returns (Config, keyword arguments of simulate)."""
    doc = _parse(text, source)
    if "sweep" in doc:
        raise ConfigFileError(
            f"{source} has a [sweep] table: run it with `madsim sweep` (madsim.toml_config.load_sweep)"
        )
    return _run_file(doc, source)


def _run_file(doc: dict, source: str) -> tuple[C.Config, dict]:
    _unknown(source, doc, TOP_KEYS + TABLES)
    top = {k: doc[k] for k in TOP_KEYS if k in doc}
    _check(TOP, top, source)
    family = _build("family", doc.get("family", {}), FAMILY, DEFAULT_FAMILY)
    loop = _build("loop", doc.get("loop", {"type": "Replace"}), LOOP)
    filt = None
    if "filter" in doc:
        filt = _build("filter", doc["filter"], {"Filter": FILTER}, "Filter")
    try:
        cfg = C.Config(family=family, loop=loop, filter=filt, **top)
    except (TypeError, ValueError) as exc:
        raise ConfigFileError(f"{source}: {exc}") from None

    run = doc.get("run", {})
    if not isinstance(run, dict):
        raise ConfigFileError(f"[run] must be a table; got {run!r}")
    _check(RUN, run)
    kwargs = {k: v for k, v in run.items() if k not in ("record", "aggregate")}
    if "record" in run:
        kwargs["record"] = _record(run["record"])
    if "aggregate" in run:
        kwargs["aggregate"] = _aggregate(run["aggregate"])
    detect = doc.get("detect", [])
    if not isinstance(detect, list):
        raise ConfigFileError("detect must be an array of tables: [[detect]]")
    dets = []
    for i, d in enumerate(detect):
        if not isinstance(d, dict):
            raise ConfigFileError(f"[[detect]] #{i + 1} must be a table")
        _check(DETECT, d, f"[[detect]] #{i + 1}")
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
    if "out" in run:
        raise ConfigFileError(
            "[run] out streams one run to a zarr store; a sweep keeps its tasks in "
            "[sweep] store (madsim sweep --store) and writes its result with -o"
        )
    _check(SWEEP, table)
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
    {"loop": {"n": [...]}}; a list (of values) ends a path. (_parse bounds
    the depth, so the recursion is shallow.)"""
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


# ---------------------------------------------------------------- reference and template


def _toml(value) -> str:
    """``value`` written as TOML: the plain values of this schema (numbers,
    strings, booleans, arrays and inline tables of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(text, text)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _shown(key: Key) -> str:
    """The key's default as the reference shows it."""
    if key.default is REQUIRED:
        return "required"
    if key.default is None:
        return "not set"
    return f"`{_toml(key.default)}`"


# What `madsim init` writes as live keys (the rest of the schema is written
# commented out): a small run that finishes in about a second.
TEMPLATE = {
    "top": {},
    "family": {"type": "Gaussian", "dim": 1, "mean": 0.0, "var": 1.0},
    "loop": {"type": "Replace", "n": 20},
    "filter": None,
    "run": {"replicas": 2000, "generations": 200, "seed": 1, "record": {"every": 10}},
    "detect": [{"metric": "var", "below": 0.01, "name": "collapse"}],
}

RECORD_EXAMPLES = (
    ("record = { every = 5 }", "generations 0, 5, 10, ... and the last"),
    ("record = { logspace = 50 }", "about 50 generations, log-spaced, with 0 and the last"),
    ("record = [0, 1, 10, 100]", "exactly these generations"),
)

SWEEP_EXAMPLE = """\
[sweep]
block = 1000               # replicas per task
scheduler = "threads"

[sweep.grid]               # product dimensions: field path = [values]
weight = [0.2, 0.5, 0.8]
"loop.synthetic" = [10, 40]          # or loop.synthetic = [10, 40]: a dotted key
loop = [{ type = "Replace", n = 20 }, { type = "Fresh", real = 10, synthetic = 10 }]

[sweep.zip.ratio]          # one dimension "ratio": these fields move together
"loop.real" = [10, 20, 50]
"loop.synthetic" = [90, 80, 50]
"""


def _md_table(table: Table) -> list[str]:
    lines = ["| key | TOML type | default | meaning |", "|---|---|---|---|"]
    for k in table.keys:
        text = k.help.replace("|", "\\|")
        lines.append(f"| `{k.name}` | {' or '.join(k.types)} | {_shown(k)} | {text} |")
    return lines


def _quoted(names) -> str:
    return ", ".join(f'`"{k}"`' for k in names)


def _section(title: str, table: Table) -> list[str]:
    return [title, "", f"{table.help} Maps onto `{table.api}`.", "", *_md_table(table), ""]


def reference_markdown() -> str:
    """The reference of TOML run and sweep files, in Markdown, generated
    from SCHEMA (the tables the loader checks files against)."""
    fam_default = DEFAULT_FAMILY
    out = [
        "# TOML run files: reference",
        "",
        "<!-- Generated from madsim.toml_config.SCHEMA by docs/gen_toml_reference.py "
        "(or `madsim init --reference`); do not edit by hand. -->",
        "",
        "`madsim run RUN.toml` runs a run file and `madsim sweep SWEEP.toml` a sweep file (a run file "
        "with a `[sweep]` table); `madsim init run.toml` writes a commented run file to start from. "
        "The keys are the names of the Python API: the top level maps onto `madsim.Config`, "
        "`[family]` and `[loop]` onto the class their `type` names, `[filter]` onto `madsim.Filter`, "
        "`[run]` onto the arguments of `madsim.simulate` and each `[[detect]]` onto "
        "`madsim.FirstPassage`.",
        "",
        "Every key is optional unless marked required; a key left out takes the default shown (the "
        'Python API\'s; "not set" is its `None`). An unknown key, or a value of another TOML type '
        "than listed, is an error that names the key and what is allowed; values are then checked "
        "as the Python API checks them. A float key takes an integer too. Functions of the "
        "generation (schedules, in Python) are not expressible in TOML: give a list.",
        "",
        "## A run file",
        "",
        "What `madsim init` writes, without its comments:",
        "",
        "```toml",
        *_live_lines(),
        "```",
        "",
        *_section("## Top level", TOP),
        "## `[family]`",
        "",
        f"`type` picks the family: one of {_quoted(FAMILY)} (default "
        f'`"{fam_default}"`). The other keys depend on the type.',
        "",
    ]
    for kind, table in FAMILY.items():
        out += _section(f'### `type = "{kind}"`', table)
    out += [
        "## `[loop]`",
        "",
        f"`type` picks the loop: one of {_quoted(LOOP)} (no table: "
        "`Replace` with its defaults). A schedule is an integer (every generation), or a list of "
        "counts for generations 1, 2, ... (at least as many as the run's generations).",
        "",
    ]
    for kind, table in LOOP.items():
        out += _section(f'### `type = "{kind}"`', table)
    out += _section("## `[filter]`", FILTER)
    out += _section("## `[run]`", RUN)
    out += [
        "### `record`",
        "",
        "The generations the Dataset keeps (detectors see every generation):",
        "",
        "```toml",
    ]
    width = max(len(code) for code, _ in RECORD_EXAMPLES) + 2
    out += [f"{code:<{width}}# {what}" for code, what in RECORD_EXAMPLES]
    out += ["```", "", "Not set: about 1000 evenly spaced generations (every one for shorter runs).", ""]
    out += _section("## `[[detect]]`", DETECT)
    out += ["Repeat the table for several detectors; give `below` or `above`, not both.", ""]
    out += _section("## `[sweep]` (sweep files only)", SWEEP)
    out += [
        "### `[sweep.grid]` and `[sweep.zip.NAME]`",
        "",
        "`[sweep.grid]` holds product dimensions: a field path of the config (`weight`, `loop.n`, "
        "`family.dim`, `filter.tpr`, or `loop` for whole loop tables) = a list of values. Each "
        "`[sweep.zip.NAME]` is one dimension `NAME` whose fields move together (lists of one length). "
        "Every point is built and checked before any task runs; `[run]` and `[[detect]]` are shared by "
        "every point.",
        "",
        "```toml",
        *SWEEP_EXAMPLE.rstrip("\n").split("\n"),
        "```",
        "",
    ]
    return "\n".join(out)


def _live_lines() -> list[str]:
    """The template's live keys only: a valid run file."""
    lines = [f"{k} = {_toml(v)}" for k, v in TEMPLATE["top"].items()]
    for name in ("family", "loop", "filter", "run"):
        if TEMPLATE[name]:
            lines += ([""] if lines else []) + [f"[{name}]"]
            lines += [f"{k} = {_toml(v)}" for k, v in TEMPLATE[name].items()]
    for det in TEMPLATE["detect"]:
        lines += ["", "[[detect]]"] + [f"{k} = {_toml(v)}" for k, v in det.items()]
    return lines


def _comment(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=indent + "# ", subsequent_indent=indent + "#   ")


def _key_lines(table: Table, live: dict | None, commented: bool = False) -> list[str]:
    """Each key of ``table``: its help as a comment, then ``key = value`` (from
    ``live``) or, commented out, its default or an example value."""
    lines = []
    for k in table.keys:
        default = "Required." if k.default is REQUIRED else f"Default: {_shown(k).strip('`')}."
        lines += _comment(f"{k.name}: {k.help} {default}")
        if live is not None and k.name in live and not commented:
            lines.append(f"{k.name} = {_toml(live[k.name])}")
        else:  # an example where the default is off (or the whole table is), else the default
            off = commented or k.default is None or k.default is REQUIRED
            value = k.example if off and k.example is not None else k.default
            lines.append(f"# {k.name} = {_toml(value)}")
    return lines


def _others(tables: dict, chosen: str) -> list[str]:
    return _comment(
        "Other types: "
        + "; ".join(f"{kind} ({', '.join(t.names)})" for kind, t in tables.items() if kind != chosen)
        + "."
    )


def template(version: str | None = None) -> str:
    """The commented run file ``madsim init`` writes: TEMPLATE's keys live,
    every other key of the schema commented out with its help; valid as
    written (a small run of a few seconds at most)."""
    from . import __version__

    fam, loop = TEMPLATE["family"]["type"], TEMPLATE["loop"]["type"]
    lines = [
        f"# A madsim run file, written by `madsim init` (madsim {version or __version__}).",
        "#   madsim run FILE.toml             runs it and writes FILE.nc (--replicas, --generations,",
        "#                                    --seed and --threads override [run])",
        "#   madsim plot FILE.nc metric --name var",
        '# Every key the loader accepts is here; a commented-out key takes its default ("not set":',
        "# off). The full reference: `madsim init --reference`.",
        "",
        *_comment(f"Top level: {TOP.help} Maps onto {TOP.api}."),
        *_key_lines(TOP, TEMPLATE["top"]),
        "",
        "[family]",
        *_comment(f'type = "{fam}": {FAMILY[fam].help} Maps onto {FAMILY[fam].api}.'),
        *_others(FAMILY, fam),
        f"type = {_toml(fam)}",
        *_key_lines(FAMILY[fam], TEMPLATE["family"]),
        "",
        "[loop]",
        *_comment(f'type = "{loop}": {LOOP[loop].help} Maps onto {LOOP[loop].api}.'),
        *_others(LOOP, loop),
        f"type = {_toml(loop)}",
        *_key_lines(LOOP[loop], TEMPLATE["loop"]),
        "",
        *_comment(f"{FILTER.help} Maps onto {FILTER.api}."),
        "# [filter]",
        *_key_lines(FILTER, None, commented=True),
        "",
        "[run]",
        *_comment(f"{RUN.help}"),
        *_key_lines(RUN, TEMPLATE["run"]),
    ]
    for i, det in enumerate(TEMPLATE["detect"]):
        lines += [
            "",
            *(_comment(DETECT.help + f" Maps onto {DETECT.api}.") if i == 0 else []),
            "[[detect]]",
            *_key_lines(DETECT, det),
        ]
    lines += [
        "",
        "# A sweep file (madsim sweep) adds a [sweep] table with [sweep.grid]: see the reference.",
        "",
    ]
    return "\n".join(lines)
