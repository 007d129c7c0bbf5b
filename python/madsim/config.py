"""Configuration objects: what is simulated, validated on construction.

A ``Config`` is a family (what is fit), a loop (what each generation trains
on), an estimator, the sampling bias and the path (``exact``: draw sufficient
statistics; ``samples``: draw every sample). Each object validates itself, so
a bad value fails where it is written, with a message naming it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from . import _validate as check

ESTIMATORS = ("mle", "unbiased")
PATHS = ("exact", "samples")


@dataclass(frozen=True)
class Gaussian:
    """Gaussian family; the truth (generation 0) is N(mean, var).

    Only ``dim=1`` is implemented so far; d-dimensional Gaussians with full
    covariance are planned.
    """

    dim: int = 1
    mean: float = 0.0
    var: float = 1.0

    def __post_init__(self):
        check.integer("Gaussian.dim", self.dim, 1)
        if self.dim != 1:
            raise ValueError(
                f"Gaussian.dim must be 1 in this version of madsim; got {self.dim} "
                "(d-dimensional Gaussians are not implemented yet)"
            )
        check.real("Gaussian.mean", self.mean)
        check.real("Gaussian.var", self.var, 0.0, None, lo_open=True)


@dataclass(frozen=True)
class Replace:
    """Fully synthetic loop: generation t fits on n samples of model t-1."""

    n: int = 100

    def __post_init__(self):
        check.integer("Replace.n", self.n, 2, 2**32)


FAMILIES = (Gaussian,)
LOOPS = (Replace,)


@dataclass(frozen=True)
class Config:
    family: Gaussian = field(default_factory=Gaussian)
    loop: Replace = field(default_factory=Replace)
    estimator: str = "mle"
    temperature: float = 1.0
    path: str = "exact"

    def __post_init__(self):
        if not isinstance(self.family, FAMILIES):
            raise TypeError(
                f"Config.family must be one of {', '.join(c.__name__ for c in FAMILIES)}; "
                f"got {self.family!r}"
            )
        if not isinstance(self.loop, LOOPS):
            raise TypeError(
                f"Config.loop must be one of {', '.join(c.__name__ for c in LOOPS)}; "
                f"got {self.loop!r}"
            )
        check.choice("Config.estimator", self.estimator, ESTIMATORS)
        check.real("Config.temperature", self.temperature, 0.0, None, lo_open=True)
        check.choice("Config.path", self.path, PATHS)

    def to_dict(self) -> dict:
        """A plain dict (JSON-able) with the class name of each part."""

        def part(obj):
            return {"type": type(obj).__name__, **dataclasses.asdict(obj)}

        return {
            "family": part(self.family),
            "loop": part(self.loop),
            "estimator": self.estimator,
            "temperature": self.temperature,
            "path": self.path,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        def build(spec, classes, what):
            spec = dict(spec)
            kind = spec.pop("type", None)
            for c in classes:
                if c.__name__ == kind:
                    return c(**spec)
            names = ", ".join(c.__name__ for c in classes)
            raise ValueError(f"{what} type must be one of {names}; got {kind!r}")

        d = dict(d)
        return cls(
            family=build(d.pop("family"), FAMILIES, "family"),
            loop=build(d.pop("loop"), LOOPS, "loop"),
            **d,
        )
