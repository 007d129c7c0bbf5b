"""How each configuration maps onto a compiled kernel: its parameter struct,
initial state row, and the names of what ``observe`` writes.

The shared machinery: each family's module (``madsim.families.<name>``)
builds its own kernel with it and registers the builder in its FamilySpec;
``kernel_for`` dispatches through the registry, so neither it nor
``simulate`` knows a family. A family may run more than one compiled
kernel (the Gaussian's fast 1-D path, ``madsim.families.gaussian``); which
one ran is in ``attrs["kernel"]``.

Each kernel has two backends: "cpu", the compiled C++ core, and "jax", its
pure-JAX twin in ``madsim.reference`` (the test oracle: same streams, same
state and record layout, integers exact, floats to rounding; several times
slower, and compiling for seconds per model). ``kernel_for(..., backend="jax")`` swaps
the params and the advance function and nothing else, so the driver cannot
tell them apart. A third, "cuda", runs the same compiled step functions on a
GPU (csrc/cuda/launch.cu; same params, the advance its FamilySpec names in
``cuda_advance``), where
madsim was built with CUDA and a device is visible (else
CudaUnavailableError saying which is missing).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ._backend import core, require_cuda
from .config import Accumulate, AccumulateSubsample, Augment, Config, Fresh, Replace, need_text, spec_for

LOOP_CODES = {Replace: 0, Augment: 1, Fresh: 2, Accumulate: 3, AccumulateSubsample: 4}
BACKENDS = ("cpu", "jax", "cuda")
MEMORY_FRACTION = 0.5  # refuse runs whose state would take more of the RAM than this


@dataclass(frozen=True)
class Kernel:
    name: str  # which compiled family runs
    params: object  # the family's _core params struct (reference params: "jax")
    advance: Callable  # _core.advance_<family> (its madsim.reference twin: "jax")
    initial_state: np.ndarray  # [S] the state row before generation 0 (init may rewrite it)
    observed: tuple[str, ...]  # names of observe()'s scalar outputs (detectors use them)
    columns: dict  # name -> column of observe()'s output
    units: dict  # name -> description for attrs
    arrays: dict = field(default_factory=dict)  # name -> (index array, dims) for vectors/matrices
    counts: np.ndarray | None = None  # [G, 2] (real, synthetic) per generation, when scheduled
    truth: dict = field(default_factory=dict)  # name -> the truth's value (attrs "truth_value")
    default: tuple = ()  # what metrics=None records (see lean_default); () records all

    @property
    def variables(self) -> tuple[str, ...]:
        """Every variable a run can record, in Dataset order: arrays, then columns."""
        return tuple(self.arrays) + tuple(self.columns)

    @property
    def default_variables(self) -> tuple[str, ...]:
        """What a run records when it names no metrics, in Dataset order."""
        if not self.default:
            return self.variables
        return tuple(v for v in self.variables if v in self.default)

    def record_columns(self, names) -> np.ndarray:
        """The sorted observe() columns the variables ``names`` read (int32)."""
        cols = set()
        for name in names:
            if name in self.arrays:
                cols.update(int(c) for c in np.unique(self.arrays[name][0]))
            else:
                cols.add(int(self.columns[name]))
        return np.array(sorted(cols), dtype=np.int32)


# What ``metrics=None`` records: each family's LEAN (in its module): the
# model's own parameters and a few summaries that cost next to nothing and
# are not functions of what is recorded (so memory and disk stay ~ replicas
# x records x parameters: 16 MB for 10^4 replicas x 101 records of the 1-D
# mean and variance). Distances, tail masses, quantiles and the like (some
# cost far more than the step itself: the d > 1 tail masses are generalised
# chi-square CDFs) are recorded when named, ``metrics=[...]``, or all of
# them with ``metrics="all"``. Detectors watch any metric whether recorded
# or not.
# With a filter the points each fit had are random, and fits can be skipped:
# the counters then carry information and are recorded by default too.
FILTER_COUNTERS = ("points_real", "points_synthetic", "skipped")


def lean_default(lean: tuple, cfg: Config, drop: tuple = ()) -> tuple:
    """The variables ``metrics=None`` records for ``cfg`` (the family's
    ``lean`` names, the filter counters where a filter is set), less
    ``drop`` (arrays too large to record by default)."""
    names = tuple(lean) + (FILTER_COUNTERS if cfg.filter is not None else ())
    return tuple(n for n in names if n not in drop)


def observe_columns(params) -> dict[str, np.ndarray]:
    """Each name of observe()'s columns (the compiled model's
    ``observe_names``, csrc/madsim/models/) -> its columns in order: one for
    a scalar, every column of an array (int64). Families look their columns
    up here and compute no offsets."""
    at: dict[str, list[int]] = {}
    for col, name in enumerate(params.observe_names):
        at.setdefault(name, []).append(col)
    return {name: np.array(cols, dtype=np.int64) for name, cols in at.items()}


def scalar_columns(at: dict, names) -> dict[str, int]:
    """name -> its observe column, for the scalar ``names`` (in their order)."""
    return {name: int(at[name][0]) for name in names}


def compiled(holder: str, name: str, args: dict, backend: str, cfg: Config, replicas: int, *memory) -> tuple:
    """(params, advance, state_size, observe columns) of a family kernel: the
    compiled ``_core.<holder>Params`` validates ``args`` (also for the JAX
    twin) and names the observe columns (``observe_columns``), the run's
    state is checked against the RAM (``memory``: check_memory's
    pool_cap[, row]), and backend "jax" swaps in the twin (``twin``)."""
    params = getattr(core, f"{holder}Params")(**args)
    check_memory(cfg, params.state_size, replicas, *memory)
    at = observe_columns(params)
    if backend == "jax":
        twin_params, twin_advance = twin(name)
        return twin_params(**args), twin_advance, params.state_size, at
    return params, getattr(core, f"advance_{name}"), params.state_size, at


def twin(name: str) -> tuple:
    """(Params, advance) of the compiled kernel ``name``'s JAX twin: the
    module and function its family's FamilySpec names in ``reference``."""
    from .families import all_families

    for spec in all_families():
        if name in spec.reference:
            module, func = spec.reference[name]
            ref = reference()
            mod = importlib.import_module(f"{ref.__name__}.{module}")
            return mod.Params, getattr(mod, func)
    raise ValueError(f"no registered family runs the kernel {name!r}")


def zero_state_kernel(name: str, params, advance, state_size: int, columns: dict, **rest) -> Kernel:
    """A family kernel whose state row starts at zeros (its init writes the
    truth and any set-up draws) and which observes its columns."""
    return Kernel(
        name=name,
        params=params,
        advance=advance,
        initial_state=np.zeros(state_size, dtype=np.float64),
        observed=tuple(columns),
        columns=columns,
        **rest,
    )


def kernel_for(cfg: Config, generations: int = 0, replicas: int = 1, backend: str = "cpu") -> Kernel:
    """The kernel that runs ``cfg``: the compiled core (backend "cpu") or its
    JAX twin (backend "jax"; params and advance from ``madsim.reference``,
    everything else identical)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    if backend == "cuda":
        require_cuda()
        return _cuda_kernel(
            kernel_for(cfg, generations, replicas, "cpu"), replicas, spec_for(cfg.family).cuda_advance
        )
    return spec_for(cfg.family).kernel(cfg, generations, replicas, backend)


def reference():
    """madsim.reference, or an ImportError that says how to get jax."""
    try:
        from . import reference
    except ImportError as exc:
        if (getattr(exc, "name", None) or "").split(".")[0] in ("jax", "jaxlib"):
            raise ImportError(
                "backend='jax' runs madsim.reference, the JAX twin of the compiled core, which "
                f"needs jax ({exc}): pip install madsim[jax]"
            ) from exc
        raise
    return reference


def loop_counts(cfg: Config, generations: int) -> np.ndarray:
    """[G, 2] real and synthetic points added at generations 1..G (before the filter)."""
    real, syn = cfg.loop.counts(generations)
    counts = np.ascontiguousarray(np.stack([real, syn], axis=1), dtype=np.float64)
    return counts.reshape(generations, 2)


def check_counts(cfg: Config, counts: np.ndarray):
    """Per-generation checks a callable or list schedule defers to run time."""
    loop, need = cfg.loop, cfg.family.min_points
    what = need_text(cfg.family)
    tpr = cfg.filter.tpr if cfg.filter else 0.0
    fpr = cfg.filter.fpr if cfg.filter else 0.0
    if isinstance(loop, (Replace, Fresh)):
        usable = counts[:, 0] * (fpr < 1.0) + counts[:, 1] * (tpr < 1.0)
        bad = np.nonzero(usable < need)[0]
        if bad.size:
            t = int(bad[0]) + 1
            raise ValueError(
                f"{type(loop).__name__}: generation {t} has {int(counts[t - 1, 0])} real + "
                f"{int(counts[t - 1, 1])} synthetic points; a fit needs at least {what} "
                "that can survive the filter"
            )
    if cfg.weight is not None:
        need = max(1, need)
        real_col = 0 if isinstance(loop, Fresh) else None
        if real_col is not None and counts[:, 0].min() < need:
            raise ValueError(f"Config.weight: Fresh.real must be >= {what} every generation")
        if counts[:, 1].min() < need:
            raise ValueError(
                f"Config.weight: {type(loop).__name__}.synthetic must be >= {what} every generation"
            )


def check_memory(cfg: Config, state_size: int, replicas: int, pool_cap: int, row: int = 0):
    need = 8.0 * state_size * replicas
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return
    if need > MEMORY_FRACTION * ram:
        extra = ""
        if pool_cap:
            extra = (
                f" ({type(cfg.loop).__name__} keeps every point: {pool_cap - 1} points x "
                f"{row or cfg.family.dim + 1} doubles per replica)"
            )
        raise MemoryError(
            f"the run's state needs {need / 2**30:.2f} GiB for {replicas} replicas{extra}, more than "
            f"{MEMORY_FRACTION:.0%} of this machine's {ram / 2**30:.1f} GiB; run fewer replicas or "
            "generations per call"
        )


def _cuda_kernel(kern: Kernel, replicas: int, cuda_advance: dict) -> Kernel:
    """``kern`` (backend "cpu") with the CUDA launcher's advance (the
    family's ``cuda_advance``: compiled kernel name -> _core function), after a
    first check that the state rows fit in the device's free memory (each
    call checks its full need again: csrc/cuda/memory.hpp)."""
    from ._backend import cuda_memory_estimate

    advance = getattr(core, cuda_advance[kern.name])
    free = int(dict(core.cuda_runtime()).get("free_bytes", 0))
    arrays = 0 if kern.counts is None else int(kern.counts.size)
    need = cuda_memory_estimate(replicas, kern.initial_state.size, 0, 0, 0, 0, 0, arrays, 0)["total"]
    if need > free - int(core.CUDA_MEMORY_MARGIN):
        raise MemoryError(
            f"backend='cuda': the state rows alone need {need / 2**30:.3f} GiB of device memory "
            f"for {replicas} replicas, but cudaMemGetInfo reports {free / 2**30:.3f} GiB free "
            f"({int(core.CUDA_MEMORY_MARGIN) / 2**30:.3f} GiB kept back); run fewer replicas per "
            "call, or on the CPU backend"
        )
    return replace(kern, advance=advance)
