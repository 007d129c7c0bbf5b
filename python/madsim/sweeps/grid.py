"""Sweep grids: parameter values over dotted field paths of a Config.

A grid maps each dimension to its values. A product dimension is one field
path and a list (``{"loop.n": [10, 20]}``); a zipped dimension is a name and a
dict of equally long lists whose fields move together (``{"ratio":
{"loop.real": [10, 20], "loop.synthetic": [90, 80]}}``). The sweep is the
product over the dimensions.

Paths name dataclass fields from the Config down (``temperature``,
``loop.n``, ``family.dim``, ``filter.tpr``), so any family or loop added to
madsim.config is sweepable without changes here. A path may also set a whole
object (``"loop": [ms.Replace(n=20), ms.Fresh(real=10, synthetic=10)]``); a
dict value builds one (``{"type": "Fresh", "real": 10}``, or without
``type`` the base object with those fields changed). Each point is built in
one go, each object by its own constructor, so validation runs once on the
final values (``path`` and ``truncation`` may change together).
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .. import config as C


@dataclass(frozen=True)
class Axis:
    """One dimension of the sweep: its name, the paths it sets and, per
    position, one value per path."""

    name: str
    fields: tuple[str, ...]
    values: tuple[tuple, ...]

    @property
    def size(self) -> int:
        return len(self.values)

    def coords(self) -> dict:
        """Coordinate arrays along this dimension, one per field."""
        return {f: (self.name, coordinate([v[i] for v in self.values])) for i, f in enumerate(self.fields)}


def _is_sequence(value) -> bool:
    return hasattr(value, "__iter__") and not isinstance(value, (str, bytes, Mapping))


def _check_path(path) -> str:
    if not isinstance(path, str) or not path or any(not p.isidentifier() for p in path.split(".")):
        raise TypeError(
            f"grid: a field must be a dotted path of field names such as 'loop.n' or "
            f"'temperature'; got {path!r}"
        )
    return path


def _values(where: str, values) -> list:
    if not _is_sequence(values):
        raise TypeError(f"{where} must be a list of values; got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{where} is empty; give at least one value")
    return values


def parse(grid) -> list[Axis]:
    """The grid's dimensions, checked for shape (fields and values are checked
    when the points are built)."""
    if not isinstance(grid, Mapping):
        raise TypeError(
            "grid must be a dict mapping field paths to lists of values (or a name to a dict of "
            f"equally long lists, a zipped dimension); got {grid!r}"
        )
    axes, seen = [], set()
    for name, spec in grid.items():
        if isinstance(spec, Mapping):  # zipped: name -> {path: values}
            if not isinstance(name, str) or not name.isidentifier():
                raise TypeError(f"grid: a zipped dimension needs a name such as 'ratio'; got {name!r}")
            if not spec:
                raise ValueError(f"grid[{name!r}] is an empty zipped dimension; give field: values pairs")
            fields = tuple(_check_path(p) for p in spec)
            cols = [_values(f"grid[{name!r}][{p!r}]", v) for p, v in spec.items()]
            if len({len(c) for c in cols}) > 1:
                lens = ", ".join(f"{p}: {len(c)}" for p, c in zip(fields, cols))
                raise ValueError(f"grid[{name!r}]: zipped fields need equally many values; got {lens}")
            values = tuple(zip(*cols))
        else:
            fields = (_check_path(name),)
            values = tuple((v,) for v in _values(f"grid[{name!r}]", spec))
        for f in fields:
            if f in seen:
                raise ValueError(f"grid: field {f!r} is set by two dimensions")
            seen.add(f)
        axis = Axis(name, fields, values)
        _check_distinct(axis)
        axes.append(axis)
    return axes


def _check_distinct(axis: Axis) -> None:
    """Two equal positions would give two identical coordinates (and, coupled,
    identical results)."""
    cols = [coordinate([v[i] for v in axis.values]) for i in range(len(axis.fields))]
    keys = list(zip(*(c.tolist() for c in cols)))
    for i, k in enumerate(keys):
        if k in keys[:i]:
            shown = axis.values[i][0] if len(k) == 1 else dict(zip(axis.fields, axis.values[i]))
            raise ValueError(f"grid[{axis.name!r}] repeats the value {shown!r}")


def shape(axes) -> tuple[int, ...]:
    return tuple(a.size for a in axes)


def assignments(axes, index: tuple[int, ...]) -> dict:
    """path -> value at one grid position (index: one position per axis)."""
    out = {}
    for axis, i in zip(axes, index):
        out.update(zip(axis.fields, axis.values[i]))
    return out


def points(base: C.Config, axes) -> list[C.Config]:
    """Every point's Config, in row-major order of the grid (the first
    dimension slowest). Raises naming the point's fields and values."""
    out = []
    for index in itertools.product(*(range(a.size) for a in axes)):
        assign = assignments(axes, index)
        try:
            out.append(build(base, assign))
        except (TypeError, ValueError) as exc:
            raise at_point(exc, assign) from None
    return out


def at_point(exc: Exception, assign: Mapping) -> Exception:
    """``exc`` (a TypeError or ValueError) with the grid point's fields and
    values in front of its message."""
    what = ", ".join(f"{p} = {v!r}" for p, v in assign.items())
    cls = TypeError if isinstance(exc, TypeError) else ValueError
    return cls(f"grid point ({what}): {exc}")


# ------------------------------------------------------------ building a point

_UNSET = object()


@dataclass
class _Node:
    value: object = _UNSET
    children: dict = dataclasses.field(default_factory=dict)


def build(base: C.Config, assign: Mapping) -> C.Config:
    """``base`` with the fields ``assign`` (path -> value) changed."""
    root = _Node()
    for path, value in assign.items():
        node = root
        for part in path.split("."):
            node = node.children.setdefault(part, _Node())
        node.value = value
    return _apply(base, root, "")


def _apply(obj, node: _Node, where: str):
    changes = {}
    for name, sub in node.children.items():
        path = f"{where}.{name}" if where else name
        _check_field(obj, name, path)
        value = getattr(obj, name)
        if sub.value is not _UNSET:
            value = _object(value, sub.value, path)
        if sub.children:
            if not _is_object(value):
                child = next(iter(sub.children))
                raise ValueError(
                    f"grid field {path}.{child}: {path} is {value!r}, which has no fields; "
                    f"give the base config a {path} (e.g. {path}=...()) or sweep {path!r} itself"
                )
            value = _apply(value, sub, path)
        changes[name] = value
    return dataclasses.replace(obj, **changes)


def _is_object(value) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _init_fields(obj) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(obj) if f.init)


def _check_field(obj, name: str, path: str) -> None:
    fields = _init_fields(obj)
    if name not in fields:
        raise ValueError(
            f"grid: unknown field {path!r}: {type(obj).__name__} has the fields {', '.join(fields)}"
        )


def config_classes() -> dict:
    """Every config object class by name (the families, loops and knobs of
    madsim.config, whatever they are now)."""
    return {
        c.__name__: c
        for c in vars(C).values()
        if isinstance(c, type)
        and dataclasses.is_dataclass(c)
        and c is not C.Config
        and c.__module__ == C.__name__
    }


def _object(current, value, path: str):
    """A grid value for ``path``: a dict becomes a config object (``type``
    names its class; without it the current object with those fields
    changed); anything else is used as given."""
    if not isinstance(value, Mapping):
        return value
    spec = dict(value)
    kind = spec.pop("type", None)
    if kind is None:
        if not _is_object(current):
            raise ValueError(
                f"grid field {path}: {value!r} needs type = the class to build "
                f"(the base config's {path} is {current!r})"
            )
        cls = type(current)
    else:
        classes = config_classes()
        if kind not in classes:
            raise ValueError(
                f"grid field {path}: type must be one of {', '.join(sorted(classes))}; got {kind!r}"
            )
        cls = classes[kind]
    allowed = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    bad = [k for k in spec if k not in allowed]
    if bad:
        raise ValueError(
            f"grid field {path}: {cls.__name__} has no field {bad[0]!r} (fields: {', '.join(allowed)})"
        )
    return dataclasses.replace(current, **spec) if kind is None else cls(**spec)


# ------------------------------------------------------------ labels


def label(value) -> str:
    """A short text label for a value that is not a plain number or string."""
    if value is None:
        return "None"
    if isinstance(value, Mapping):  # a config object to build: Fresh(real=10)
        args = ", ".join(f"{k}={v!r}" for k, v in value.items() if k != "type")
        return f"{value.get('type', '')}({args})"
    if callable(value) and not _is_object(value):
        return getattr(value, "__qualname__", repr(value))
    return str(value) if isinstance(value, str) else repr(value)


def coordinate(values: list) -> np.ndarray:
    """Values as a coordinate array: numbers stay numbers (int64 or float64),
    strings stay strings, anything else (objects, None, schedules) becomes
    its text label."""
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.array(values, dtype=bool)
    nums = [v for v in values if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))]
    if len(nums) == len(values):
        if all(isinstance(v, numbers.Integral) for v in values):
            return np.array(values, dtype=np.int64)
        return np.array(values, dtype=np.float64)
    return np.array([label(v) for v in values], dtype=object)  # variable-length text (zarr, netCDF)


def to_json(value):
    """A JSON form of a grid value (provenance and the store's identity)."""
    if _is_object(value):
        return {"type": type(value).__name__, **{f: to_json(getattr(value, f)) for f in _init_fields(value)}}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_json(v) for v in value]
    if callable(value):
        return {"callable": label(value)}
    return value


def spec_json(axes) -> list:
    return [
        {"name": a.name, "fields": list(a.fields), "values": [to_json(list(v)) for v in a.values]}
        for a in axes
    ]
