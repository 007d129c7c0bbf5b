"""madsim: fast, tested Monte Carlo of model collapse (Model Autophagy Disorder).

import madsim as ms
cfg = ms.Config(family=ms.Gaussian(), loop=ms.Replace(n=100), path="exact")
ds = ms.simulate(cfg, replicas=10_000, generations=1_000, seed=1, record=ms.every(10))
"""

__version__ = "0.1.0"  # the one source: pyproject.toml (the wheel's metadata) reads it at build time

from . import rng, theory
from ._backend import RNG_LAYOUT_VERSION, CudaUnavailableError, build_info, has_cuda
from .config import Accumulate, AccumulateSubsample, Augment, Config, Filter, Fresh, Replace, TailWeight
from .families import all_families
from .run.records import every, logspace
from .run.aggregate import Aggregate, Bins
from .run.stream import open_run
from .run.errors import NonFiniteError, NonFiniteWarning, RunInterrupted
from .run.options import FirstPassage
from .run.resume import resume
from .run.simulate import simulate
from .sweeps import SweepInterrupted, sweep
from . import aggregate as aggregate  # madsim.aggregate.reduce_records, the path the docs first gave

# Each registered family's config class, as madsim.<Name> (madsim.families).
globals().update({spec.name: spec.cls for spec in all_families()})

__all__ = [
    "Accumulate",
    "AccumulateSubsample",
    "Aggregate",
    "Augment",
    "Bins",
    "Config",
    "CudaUnavailableError",
    "Filter",
    "Fresh",
    "FirstPassage",
    "NonFiniteError",
    "NonFiniteWarning",
    "RNG_LAYOUT_VERSION",
    "Replace",
    "RunInterrupted",
    "SweepInterrupted",
    "build_info",
    "every",
    "has_cuda",
    "TailWeight",
    "logspace",
    "open_run",
    "resume",
    "rng",
    "simulate",
    "sweep",
    "theory",
    "__version__",
]
__all__ += [spec.name for spec in all_families()]
