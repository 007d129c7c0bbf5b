"""How each configuration maps onto a compiled kernel: its parameter struct,
initial state row, and the names of what ``observe`` writes.

This is the one table to extend when a family or loop is added; ``simulate``
itself knows no family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._backend import core
from .config import Config, Gaussian, Replace


@dataclass(frozen=True)
class Kernel:
    params: object                 # the family's _core params struct
    advance: Callable              # _core.advance_<family>
    initial_state: np.ndarray      # [S] the truth, generation 0
    observed: tuple[str, ...]      # names of observe()'s outputs, in order
    units: dict                    # observed name -> description for attrs

    @property
    def observe_size(self) -> int:
        return len(self.observed)


def kernel_for(cfg: Config) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    if isinstance(fam, Gaussian) and fam.dim == 1 and isinstance(loop, Replace):
        params = core.Gaussian1DParams(
            n=float(loop.n),
            tau=float(cfg.temperature),
            estimator=0 if cfg.estimator == "mle" else 1,
            path=0 if cfg.path == "exact" else 1,
        )
        return Kernel(
            params=params,
            advance=core.advance_gaussian1d,
            initial_state=np.array([fam.mean, fam.var], dtype=np.float64),
            observed=("mean", "var"),
            units={"mean": "fitted mean mu_t", "var": "fitted variance sigma_t^2"},
        )
    raise ValueError(f"no kernel for family {fam!r} with loop {loop!r}")  # pragma: no cover
