"""Which generations a run records.

Generation 0 is the truth; generation t is the model after t fits. Every spec
resolves to a sorted array of distinct generations in [0, generations];
``every`` and ``logspace`` always include the first and the last generation so
a record spans the run, an explicit list records exactly what it names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks as check


@dataclass(frozen=True)
class every:
    """Every k-th generation: 0, k, 2k, ... and the last one.

    Parameters
    ----------
    k
        the step, k >= 1.

    Examples
    --------
    >>> import madsim as ms
    >>> ms.every(4).resolve(10).tolist()
    [0, 4, 8, 10]
    """

    k: int = 1

    def __post_init__(self):
        object.__setattr__(self, "k", check.integer("every.k", self.k, 1))

    def resolve(self, generations: int) -> np.ndarray:
        gens = np.arange(0, generations + 1, self.k, dtype=np.int64)
        return np.union1d(gens, [generations])


@dataclass(frozen=True)
class logspace:
    """About ``num`` generations spaced evenly in log(t), plus 0 and the last.

    Parameters
    ----------
    num
        how many log-spaced generations (before rounding merges repeats).

    Examples
    --------
    >>> import madsim as ms
    >>> ms.logspace(4).resolve(1000).tolist()
    [0, 1, 10, 100, 1000]
    """

    num: int = 50

    def __post_init__(self):
        object.__setattr__(self, "num", check.integer("logspace.num", self.num, 1))

    def resolve(self, generations: int) -> np.ndarray:
        if generations == 0:
            return np.zeros(1, dtype=np.int64)
        gens = np.round(np.geomspace(1, generations, self.num)).astype(np.int64)
        return np.union1d(np.union1d(gens, [0]), [generations])


def to_rule(record, generations: int) -> dict:
    """The resolved rule of a record spec as JSON-able data (``attrs["record"]``,
    what ``madsim.resume`` continues with): {"every": k} (None is every(ceil(
    generations / 1000))), {"logspace": num} or {"generations": [...]}."""
    if record is None:
        return {"every": max(1, -(-generations // 1000))}
    if isinstance(record, every):
        return {"every": int(record.k)}
    if isinstance(record, logspace):
        return {"logspace": int(record.num)}
    return {"generations": resolve(record, generations).tolist()}


def from_rule(rule, generations: int) -> every | logspace | list:
    """The record spec ``to_rule`` wrote, for a run of ``generations`` (an
    explicit list keeps the generations it names up to there, and at least 0)."""
    if not isinstance(rule, dict) or len(rule) != 1:
        raise ValueError(f"attrs['record'] must be one of every/logspace/generations; got {rule!r}")
    ((kind, value),) = rule.items()
    if kind == "every":
        return every(value)
    if kind == "logspace":
        return logspace(value)
    if kind == "generations":
        return [g for g in value if g <= generations] or [0]
    raise ValueError(f"attrs['record'] must be one of every/logspace/generations; got {rule!r}")


def resolve(record, generations: int) -> np.ndarray:
    """Turns a record spec into generations: None (about 1000, evenly), an
    ``every``/``logspace``, or an explicit sequence of generations."""
    if record is None:
        return every(max(1, -(-generations // 1000))).resolve(generations)
    if isinstance(record, (every, logspace)):
        return record.resolve(generations)
    if isinstance(record, (str, bytes)) or not hasattr(record, "__iter__"):
        raise TypeError(
            "record must be madsim.every(k), madsim.logspace(num) or a sequence of "
            f"generations; got {record!r}"
        )
    gens = [check.integer("record[]", g, 0, generations) for g in record]
    if not gens:
        raise ValueError("record must name at least one generation; got an empty sequence")
    return np.unique(np.asarray(gens, dtype=np.int64))
