"""A run's arguments, checked and normalised before any kernel runs (a
TypeError or ValueError naming the argument): the replica ids, threads,
detectors (``FirstPassage``), metrics, the memory estimate and the scale
check. ``simulate``, ``resume`` and ``sweep`` share them."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .. import checks as check
from ..config import Config, spec_for
from ..kernels import MEMORY_FRACTION

MAX_GENERATIONS = 2**32 - 2  # counter generation field is 32 bits; one value reserved


NONFINITE = ("warn", "raise", "ignore")
DTYPES = ("float64", "float32")
# Names every result has, or may have, besides the kernel's variables: a
# detector (or anything user-named) may not take them.
RESERVED = ("replica", "generation", "state", "state_index", "quantile", "replica_id", "config", "kernel")


@dataclass(frozen=True)
class FirstPassage:
    """A collapse detector: the first generation at which ``metric`` is
    ``<= below`` (or ``>= above``). Checked on every generation inside the
    kernel, not only recorded ones; -1 when not reached (censored).

    Parameters
    ----------
    metric
        the variable watched (any metric of the family, recorded or not).
    below, above
        the threshold: exactly one of them.
    name
        the detector's variable in the Dataset (default
        ``first_<metric>_below`` / ``_above``).

    Examples
    --------
    >>> import madsim as ms
    >>> det = ms.FirstPassage("var", below=0.5, name="halved")
    >>> ds = ms.simulate(ms.Config(loop=ms.Replace(n=5)), replicas=100, generations=10, seed=1,
    ...                  metrics=["var"], detect=[det])
    >>> int(ds["halved"].min()) >= -1
    True
    >>> ms.FirstPassage("var", below=0.5).label
    'first_var_below'
    """

    metric: str
    below: float | None = None
    above: float | None = None
    name: str | None = None

    def __post_init__(self):
        if not isinstance(self.metric, str):
            raise TypeError(f"FirstPassage.metric must be a metric name (str); got {self.metric!r}")
        if (self.below is None) == (self.above is None):
            raise ValueError(
                f"FirstPassage({self.metric!r}) needs exactly one of below= or above=; "
                f"got below={self.below!r}, above={self.above!r}"
            )
        if self.below is not None:
            object.__setattr__(self, "below", check.real("FirstPassage.below", self.below))
        else:
            object.__setattr__(self, "above", check.real("FirstPassage.above", self.above))
        if self.name is not None:
            if not isinstance(self.name, str) or not self.name.strip():
                raise TypeError(f"FirstPassage.name must be None or a non-empty str; got {self.name!r}")
            if self.name in RESERVED:
                raise ValueError(
                    f"FirstPassage.name {self.name!r} is reserved (the result's own names: "
                    f"{', '.join(RESERVED)})"
                )

    @property
    def label(self) -> str:
        if self.name is not None:
            return self.name
        return f"first_{self.metric}_{'below' if self.below is not None else 'above'}"


def replica_spec(replicas) -> int | np.ndarray:
    """A count (ids 0..R-1, allocated only after the memory check) or the ids."""
    if isinstance(replicas, (str, bytes)) or not (
        hasattr(replicas, "__iter__") or isinstance(replicas, (int, np.integer))
    ):
        raise TypeError(f"replicas must be a positive integer or a sequence of replica ids; got {replicas!r}")
    if not hasattr(replicas, "__iter__"):
        return check.integer("replicas", replicas, 1, 2**32)
    return replica_ids(replicas)


def replica_ids(replicas) -> np.ndarray:
    if isinstance(replicas, (str, bytes)) or not (
        hasattr(replicas, "__iter__") or isinstance(replicas, (int, np.integer))
    ):
        raise TypeError(f"replicas must be a positive integer or a sequence of replica ids; got {replicas!r}")
    if not hasattr(replicas, "__iter__"):
        r = check.integer("replicas", replicas, 1, 2**32)
        check_bytes(4 * r, f"{r} replica ids")
        return np.arange(r, dtype=np.uint32)
    ids = [check.integer("replicas[]", i, 0, 2**32 - 1) for i in replicas]
    if not ids:
        raise ValueError("replicas must name at least one replica id; got an empty sequence")
    if len(set(ids)) != len(ids):
        raise ValueError("replicas must not repeat a replica id")
    return np.asarray(ids, dtype=np.uint32)


def thread_count(threads) -> int:
    if threads is None:
        return os.cpu_count() or 1
    return check.integer("threads", threads, 1, 4096)


def as_detectors(detect) -> list:
    if isinstance(detect, (str, bytes, FirstPassage)) or not hasattr(detect, "__iter__"):
        raise TypeError(f"detect must be a list of madsim.FirstPassage; got {detect!r}")
    detect = list(detect)
    for j, d in enumerate(detect):
        if not isinstance(d, FirstPassage):
            raise TypeError(f"detect[{j}] must be a madsim.FirstPassage; got {d!r}")
    return detect


def metrics_spec(metrics) -> None | str | list:
    """``metrics`` checked for its type: None, "all", or a list of names
    (the names themselves are checked against a kernel by chosen_variables)."""
    if metrics is None or (isinstance(metrics, str) and metrics == "all"):
        return metrics
    if isinstance(metrics, (str, bytes)) or not hasattr(metrics, "__iter__"):
        raise TypeError(f'metrics must be None, "all" or a list of variable names; got {metrics!r}')
    return list(metrics)


def chosen_variables(kern, metrics) -> list[str]:
    """The variables ``metrics`` names, in the kernel's order (the lean
    default for None, every one for "all")."""
    allowed = kern.variables
    names = metrics_spec(metrics)
    if names is None:
        return list(kern.default_variables)
    if names == "all":
        return list(allowed)
    bad = [m for m in names if not isinstance(m, str) or m not in allowed]
    if bad:
        raise ValueError(
            f"metrics: unknown name{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; this "
            f"run ({kern.name} kernel) records {', '.join(map(repr, allowed))}"
        )
    return [m for m in allowed if m in names]


def reserved_names(kern) -> set:
    """Every name a result of ``kern`` has or may have: what the kernel can
    record, its array dimensions, the coordinates and ``state``."""
    names = set(RESERVED) | set(kern.variables)
    for _index, dims in kern.arrays.values():
        names.update(dims)
    return names


def check_detectors(kern, detect) -> list[str]:
    """Detector labels, checked against the kernel (metric) and the result's
    names (no collision, none twice); raises before any kernel runs."""
    labels = []
    taken = reserved_names(kern)
    for j, d in enumerate(detect):
        if d.metric not in kern.observed:
            raise ValueError(
                f"detect[{j}].metric must be one of {', '.join(map(repr, kern.observed))}; got {d.metric!r}"
            )
        if d.label in taken:
            raise ValueError(
                f"detect[{j}]: the name {d.label!r} is taken by the result ({kern.name} kernel: its "
                f"variables, coordinates and state); give FirstPassage(..., name=) another name"
            )
        labels.append(d.label)
    if len(set(labels)) != len(labels):
        raise ValueError(f"detect: labels must be distinct; got {labels}")
    return labels


def check_scale(cfg: Config) -> None:
    """Refuses parameters whose first generation already overflows float64
    (a ValueError naming them), before any kernel runs: the family's own
    check (its spec's ``check_scale``; limit ``SCALE_LIMIT``)."""
    spec_for(cfg.family).check_scale(cfg)


def check_bytes(need: float, what: str) -> None:
    """MemoryError (with the estimate) if ``need`` bytes exceed
    MEMORY_FRACTION of the machine's RAM."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return
    if need > MEMORY_FRACTION * ram:
        raise MemoryError(
            f"{what} need {need / 2**30:.2f} GiB, more than {MEMORY_FRACTION:.0%} of this machine's "
            f"{ram / 2**30:.1f} GiB of RAM; run fewer replicas, record fewer generations or metrics "
            "(record=, metrics=), or use dtype='float32'"
        )


def madsim_version() -> str:
    from .. import __version__

    return __version__
