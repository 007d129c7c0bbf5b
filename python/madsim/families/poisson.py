"""The Poisson family: the data are iid Poisson(rate), the fit is the MLE,
the sample mean (docs/guide/poisson.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks as check
from ..config import AccumulateSubsample, Augment, Config, Replace, normalise, reject_token_knobs
from ..kernels import (
    LOOP_CODES,
    Kernel,
    check_counts,
    compiled,
    lean_default,
    loop_counts,
    scalar_columns,
    zero_state_kernel,
)
from . import FamilySpec, register

MAX_SAMPLES_COUNT = 2**24 - 1  # samples path: point j of a part is drawn from stream site j
MAX_MEAN = 2.0**50  # largest Poisson mean of a part's sum (exact integers in float64)

TINY = float(np.finfo(np.float64).tiny)  # the smallest normal float64


@dataclass(frozen=True)
class Poisson:
    """Poisson counts: the truth (generation 0) is Poisson(rate); each
    generation refits the rate as the sample mean of its points (the MLE),
    lambda_t = (sum of the points) / (their number). A model at rate 0
    draws only zeros: under Replace, 0 is absorbing. A loop's counts are
    points (Replace(n=T): T points per generation).

    Parameters
    ----------
    rate
        lambda_0 >= 0, the truth's mean: 0 or a normal float64 (>= 2.2e-308; a subnormal
        rate is positive in the C++ kernels but zero in the JAX twin, so it is refused).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Poisson(rate=2.0), loop=ms.Replace(n=50))
    >>> ds = ms.simulate(cfg, replicas=1000, generations=20, seed=1)
    >>> float(ds["rate"].sel(generation=0)[0])    # generation 0 is the truth
    2.0
    >>> round(float(ms.theory.poisson_rate_variance(cfg, 20)), 12)   # t rate / n under Replace
    0.8
    """

    rate: float = 1.0

    def __post_init__(self):
        normalise(self)
        check.real("Poisson.rate", self.rate, 0.0)
        # A subnormal rate is positive in the C++ kernels but zero in the JAX twin
        # (XLA flushes subnormals), so the backends would disagree on collapse.
        if 0.0 < float(self.rate) < TINY:
            raise ValueError(
                f"Poisson.rate must be 0 or at least {TINY!r} (a normal float64); got {self.rate!r}"
            )

    @property
    def min_points(self) -> int:
        """The points a fit needs, one (the sample mean of a single point)."""
        return 1


# What the Poisson kernel observes (csrc/madsim/models/poisson.hpp); the
# truth's value of each is its generation 0.
POISSON_VARS = {
    "rate": "fitted rate lambda_t, the sample mean of the generation's points",
    "collapsed": "1 when lambda_t = 0 (absorbing under Replace: the model draws only zeros), else 0",
    "points_real": "real points the generation's fit had (Augment: the fixed set; Accumulate: the "
    "pool's; AccumulateSubsample: the real points picked)",
    "points_synthetic": "synthetic points the generation's fit had (Accumulate: the pool's; "
    "AccumulateSubsample: the synthetic points picked)",
    "skipped": "fits skipped so far for want of points (the model was kept)",
}

LEAN = ("rate", "collapsed")  # what metrics=None records


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    counts = loop_counts(cfg, generations)
    check_counts(cfg, counts)
    if cfg.path == "samples":
        most = max(float(counts.max(initial=0.0)), float(loop.real) if isinstance(loop, Augment) else 0.0)
        if most > MAX_SAMPLES_COUNT:
            raise ValueError(
                f"{type(loop).__name__}: {int(most)} points in one part of a generation exceed "
                f"{MAX_SAMPLES_COUNT}, the most the samples path draws (one stream site per point); "
                "use path='exact'"
            )
    args = dict(
        loop=LOOP_CODES[type(loop)],
        path=0 if cfg.path == "exact" else 1,
        rate0=float(fam.rate),
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        counts=counts,
    )
    if isinstance(loop, AccumulateSubsample):  # every point drawn: [value | real]
        args.update(subsample_n=loop.n, pool_cap=int(counts.sum()) + 1)
    params, advance, state_size, at = compiled(
        "Poisson", "poisson", args, backend, cfg, replicas, args.get("pool_cap", 0), 2
    )
    columns = scalar_columns(at, POISSON_VARS)
    return zero_state_kernel(
        "poisson",
        params,
        advance,
        state_size,
        columns,
        units=dict(POISSON_VARS),
        counts=counts,
        truth={"rate": float(fam.rate), "collapsed": float(fam.rate == 0.0)},
        default=lean_default(LEAN, cfg),
    )


def need_text(family) -> str:
    """How many points a fit needs, in words."""
    return "1 point"


def check_config(cfg: Config) -> None:
    """The Poisson's cross-field rules: the knobs of continuous and token
    families do not apply, and the sample mean is already unbiased."""
    for name, off in (("temperature", 1.0), ("truncation", None), ("weight", None), ("filter", None)):
        if getattr(cfg, name) != off:
            raise ValueError(
                f"Config.{name} = {getattr(cfg, name)!r} is not supported for Poisson (synthetic "
                f"points are Poisson(lambda_t) draws, refit by their mean); leave it at {off!r}"
            )
    if cfg.estimator != "mle":
        raise ValueError(
            "Config.estimator must be 'mle' for Poisson: the sample mean is both the MLE and "
            f"unbiased; got {cfg.estimator!r}"
        )
    reject_token_knobs(cfg)


def check_scale(cfg: Config) -> None:
    """Refuses a rate whose parts' sums would leave float64's exact integers."""
    fam = cfg.family
    real, syn = cfg.loop.counts(1)
    most = max(float(real[0]), float(syn[0]), float(getattr(cfg.loop, "real", 0) or 0), 1.0)
    if float(fam.rate) * most > MAX_MEAN:
        raise ValueError(
            f"Poisson: rate x points = {float(fam.rate) * most:.3g} exceeds 2**50: a part's sum "
            "would no longer be an exact integer in float64; rescale the problem"
        )


def theory_curve(name: str, cfg: Config, t):
    """E[name] over replicas (the plots' theory curve): the rate (lambda_0,
    every loop) and the collapsed indicator (P(lambda_t = 0), Replace);
    None elsewhere (docs/theory/poisson.md)."""
    from .. import theory

    if name == "rate":
        return np.asarray(theory.poisson_rate_mean(cfg, t), dtype=np.float64)
    if name == "collapsed" and isinstance(cfg.loop, Replace):
        return np.asarray(theory.poisson_collapse_probability(cfg, t), dtype=np.float64)
    return None


SPEC = register(
    FamilySpec(
        cls=Poisson,
        kernel=kernel,
        kernels=("poisson",),
        cuda_advance={"poisson": "advance_poisson_cuda"},
        reference={"poisson": ("poisson", "advance_poisson")},
        default_path="exact",
        check_config=check_config,
        need_text=need_text,
        check_scale=check_scale,
        toml_help="Poisson counts, refit by the sample mean (the MLE); the loop's counts are points.",
        toml_keys=(("rate", "float", "lambda_0 >= 0, the truth's mean.", 2.0),),
        validate_cases="poisson",
        law_tests=("test_poisson.py",),
        benchmark="poisson.py",
        docs_page="poisson",
        theory_curve=theory_curve,
        theory="poisson",
    )
)
