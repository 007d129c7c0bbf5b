"""Configuration objects: what is simulated, validated on construction.

A ``Config`` is a family (what is fit), a loop (what each generation trains
on), an estimator, the sampling bias (temperature, truncation), the
mitigations (weighting, provenance filter) and the path (``exact``: draw
sufficient statistics; ``samples``: draw every sample). Each object validates
itself, so a bad value fails where it is written, with a message naming it.

Conventions (docs/theory/index.md): generation 0 is the truth, and it is also
the first generative model: generation 1 trains on draws from the truth made
by the same sampler (temperature, truncation, filter) as every later
generation. "Real" data is what a loop adds from the truth on purpose (the
fixed set of ``Augment``, the fresh points of ``Fresh``/``Accumulate``).

Counts that may change with the generation (a *schedule*) accept an int (the
same every generation), a sequence (entry t-1 is generation t's count; it must
cover every generation run) or a callable ``f(t) -> int`` for t = 1, 2, ...
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field
from typing import Callable, Sequence, Union

import numpy as np

from . import checks as check

ESTIMATORS = ("mle", "unbiased")
PATHS = ("exact", "samples")
MAX_COUNT = 2**40  # points per part per generation (exact path; the samples path draws them)
SCALE_LIMIT = 1e150  # largest second moment (variance, mean^2) of the truth times temperature^2

Schedule = Union[int, Sequence[int], Callable[[int], int]]


def _plain(value):
    """numpy scalars, Fractions and other number types as Python's own (bool,
    int, float, str), inside lists and tuples too, so that a config holds
    only what its JSON form (attrs, task stores) can write; anything else
    (callables, arrays, objects) unchanged, for the field's own check."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def normalise(obj) -> None:
    """Every field of a frozen config dataclass through ``_plain`` (first
    thing in each __post_init__, before the checks)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        plain = _plain(value)
        if plain is not value:
            object.__setattr__(obj, f.name, plain)


def _schedule(name: str, value, lo: int):
    """Normalises a schedule: int stays int, a sequence becomes a tuple of ints,
    a callable is kept (checked when evaluated)."""
    if callable(value):
        return value
    if isinstance(value, (str, bytes)) or isinstance(value, (float, bool)):
        return check.integer(name, value, lo, MAX_COUNT)  # raises TypeError naming it
    if hasattr(value, "__iter__"):
        vals = tuple(value)
        if not vals:
            raise ValueError(f"{name} must be an integer, a non-empty sequence or a callable; got []")
        return tuple(check.integer(f"{name}[{i}]", v, lo, MAX_COUNT) for i, v in enumerate(vals))
    return check.integer(name, value, lo, MAX_COUNT)


def schedule_values(name: str, value: Schedule, generations: int, lo: int = 0) -> np.ndarray:
    """The counts of generations 1..generations as float64 [generations]."""
    if isinstance(value, int):
        return np.full(generations, float(value))
    if isinstance(value, tuple):
        if len(value) < generations:
            raise ValueError(
                f"{name} lists {len(value)} generations but the run has {generations}; "
                "give one count per generation"
            )
        return np.asarray(value[:generations], dtype=np.float64)
    out = np.empty(generations)
    for t in range(1, generations + 1):
        out[t - 1] = check.integer(f"{name}({t})", value(t), lo, MAX_COUNT)
    return out


def schedule_min(value: Schedule) -> int | None:
    """Smallest count a schedule can give (None for a callable: known only at run time)."""
    if isinstance(value, int):
        return value
    if isinstance(value, tuple):
        return min(value)
    return None


def _schedule_json(value: Schedule):
    if callable(value):
        return {"callable": getattr(value, "__qualname__", repr(value))}
    return list(value) if isinstance(value, tuple) else value


def is_const(value: Schedule) -> bool:
    return isinstance(value, int)


def spd_matrix(name: str, value, d: int) -> tuple:
    """A d x d symmetric positive definite matrix as a tuple of tuples, or an
    error naming ``name``, the shape or the smallest eigenvalue."""
    try:
        c = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a {d} x {d} matrix of numbers; got {value!r}") from None
    if c.shape != (d, d):
        raise ValueError(f"{name} must be {d} x {d} (dim = {d}); got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name} must be finite")
    if not np.array_equal(c, c.T):
        raise ValueError(f"{name} must be symmetric")
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        w = np.linalg.eigvalsh(c)
        raise ValueError(f"{name} must be positive definite; its smallest eigenvalue is {w[0]:.6g}") from None
    return tuple(tuple(float(x) for x in row) for row in c)


# ---------------------------------------------------------------- loops


@dataclass(frozen=True)
class Replace:
    """Fully synthetic loop: generation t fits on n_t samples of model t-1.
    ``n`` is a schedule (growing sample sizes: a list or a function of t).

    Examples
    --------
    >>> import madsim as ms
    >>> ds = ms.simulate(ms.Config(loop=ms.Replace(n=20)), replicas=100, generations=10, seed=1,
    ...                  metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    >>> ms.Replace(n=[10, 20, 40]).n    # a schedule: n_t for t = 1, 2, 3
    (10, 20, 40)
    """

    n: Schedule = 100

    def __post_init__(self):
        normalise(self)
        object.__setattr__(self, "n", _schedule("Replace.n", self.n, 2))

    def counts(self, generations: int):
        """(real, synthetic) added per generation, each [generations]."""
        return np.zeros(generations), schedule_values("Replace.n", self.n, generations, 2)


@dataclass(frozen=True)
class Augment:
    """Synthetic augmentation: one fixed real set of ``real`` points (drawn
    once per replica, at generation 0) plus ``synthetic`` fresh draws of model
    t-1 each generation (a schedule).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Augment(real=10, synthetic=10))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    """

    real: int = 10
    synthetic: Schedule = 10

    def __post_init__(self):
        normalise(self)
        check.integer("Augment.real", self.real, 0, MAX_COUNT)
        object.__setattr__(self, "synthetic", _schedule("Augment.synthetic", self.synthetic, 0))
        if self.real == 0 and schedule_min(self.synthetic) == 0 and is_const(self.synthetic):
            raise ValueError("Augment: real = synthetic = 0 leaves nothing to train on")

    def counts(self, generations: int):
        return (np.zeros(generations), schedule_values("Augment.synthetic", self.synthetic, generations))


@dataclass(frozen=True)
class Fresh:
    """Fresh data: ``real`` new points from the truth plus ``synthetic`` draws
    of model t-1 each generation (both schedules).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Fresh(real=10, synthetic=10))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    """

    real: Schedule = 10
    synthetic: Schedule = 10

    def __post_init__(self):
        normalise(self)
        object.__setattr__(self, "real", _schedule("Fresh.real", self.real, 0))
        object.__setattr__(self, "synthetic", _schedule("Fresh.synthetic", self.synthetic, 0))
        if is_const(self.real) and is_const(self.synthetic) and self.real + self.synthetic == 0:
            raise ValueError("Fresh: real = synthetic = 0 leaves nothing to train on")

    def counts(self, generations: int):
        return (
            schedule_values("Fresh.real", self.real, generations),
            schedule_values("Fresh.synthetic", self.synthetic, generations),
        )


@dataclass(frozen=True)
class Accumulate:
    """Parameters
    ----------
    Accumulate
        every point ever drawn is kept. Generation t adds

    Notes
    -----
    ``synthetic`` draws of model t-1 (and ``real`` fresh points from the
    truth) to the pool and refits on all of it. The exact path keeps only the
    pool's sufficient statistics: memory O(1) in t.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Accumulate(synthetic=10))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    """

    synthetic: Schedule = 100
    real: Schedule = 0

    def __post_init__(self):
        normalise(self)
        object.__setattr__(self, "synthetic", _schedule("Accumulate.synthetic", self.synthetic, 0))
        object.__setattr__(self, "real", _schedule("Accumulate.real", self.real, 0))

    def counts(self, generations: int):
        return (
            schedule_values("Accumulate.real", self.real, generations),
            schedule_values("Accumulate.synthetic", self.synthetic, generations),
        )


@dataclass(frozen=True)
class AccumulateSubsample:
    """Accumulate-subsample (Kazdan et al.): the pool grows as in
    ``Accumulate``; generation t fits on ``n`` points drawn from it without
    replacement (all of it while it holds fewer). Samples path only: the pool
    is kept point by point, so memory grows as replicas x pool size x dim.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.AccumulateSubsample(n=20, synthetic=20), path="samples")
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var", "points_synthetic"])
    >>> int(ds["points_synthetic"].sel(generation=10)[0])    # the subset's size
    20
    """

    n: int = 100
    synthetic: Schedule = 100
    real: Schedule = 0

    def __post_init__(self):
        normalise(self)
        check.integer("AccumulateSubsample.n", self.n, 2, 2**20)
        object.__setattr__(self, "synthetic", _schedule("AccumulateSubsample.synthetic", self.synthetic, 0))
        object.__setattr__(self, "real", _schedule("AccumulateSubsample.real", self.real, 0))

    def counts(self, generations: int):
        return (
            schedule_values("AccumulateSubsample.real", self.real, generations),
            schedule_values("AccumulateSubsample.synthetic", self.synthetic, generations),
        )


# ---------------------------------------------------------------- knobs


@dataclass(frozen=True)
class Filter:
    """Provenance filter / watermark detector: each synthetic point is caught
    and dropped with probability ``tpr``, each real point wrongly dropped with
    probability ``fpr``, independently of its value. A fixed real set
    (``Augment``) is screened once, when it is drawn (a detector's verdict on a
    fixed point does not change).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Fresh(real=10, synthetic=20), filter=ms.Filter(tpr=0.9, fpr=0.05))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var", "points_synthetic"])
    >>> bool((ds["points_synthetic"].sel(generation=10) <= 20).all())
    True
    """

    tpr: float = 0.0
    fpr: float = 0.0

    def __post_init__(self):
        normalise(self)
        check.real("Filter.tpr", self.tpr, 0.0, 1.0)
        check.real("Filter.fpr", self.fpr, 0.0, 1.0)


@dataclass(frozen=True)
class TailWeight:
    """Tail reweighting of the refit: each synthetic point gets the weight
    w = 1 + beta * 1{norm(z) > k}, z its standardised draw under the law that drew
    it (norm(z) its Mahalanobis distance, in units of that law's spread), and the
    refit is the weighted MLE: the weighted mean and the weighted scatter,
    sum_i w_i (x_i - xbar_w)(x_i - xbar_w)' / sum_i w_i (times count / (count - 1)
    for estimator="unbiased"). Gaussian family, samples path
    (docs/theory/mitigations.md).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(reweight=ms.TailWeight(beta=1.0, k=2.0), path="samples")
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    """

    beta: float = 1.0
    k: float = 2.0

    def __post_init__(self):
        normalise(self)
        check.real("TailWeight.beta", self.beta, 0.0, 1e12, lo_open=True)
        check.real("TailWeight.k", self.k, 0.0, None)


LOOPS = (Replace, Augment, Fresh, Accumulate, AccumulateSubsample)

# Config.family: an instance of a registered family's config class
# (madsim.families: each family module registers its class with its spec).
Family = object


def _all_specs() -> tuple:
    from . import families  # at call time: the family modules import this module

    return families.all_families()


def spec_for(family):
    """The registered FamilySpec of ``family`` (an instance or its class)."""
    from . import families  # at call time: the family modules import this module

    return families.spec_for(family)


def family_classes() -> tuple:
    """The registered families' config classes, in registration order."""
    from . import families  # at call time: the family modules import this module

    return tuple(spec.cls for spec in families.all_families())


def default_family():
    """Config's default family: ``Gaussian()``, the first registered."""
    return family_classes()[0]()


def __getattr__(name: str):
    # FAMILIES: the registered family classes, read from the registry when asked
    if name == "FAMILIES":
        return family_classes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Config:
    """What to simulate.

    Parameters
    ----------
    family
        what is fit: one of the registered families
        (``madsim.families.all_families()``; default ``Gaussian()``).
    loop
        what each generation trains on: Replace (default ``Replace(n=100)``),
        Augment, Fresh, Accumulate or AccumulateSubsample.
    estimator
        "mle" (divide scatter by the count) or "unbiased" (count - 1).
    temperature
        synthetic draws come from N(mu, tau^2 Sigma) (tau > 0).
    truncation
        None, or k > 0: synthetic draws are kept only within k standard
        deviations (Mahalanobis radius k for d > 1); exactly the requested
        number is accepted. Samples path only.
    weight
        None (pooled fit over all points), a number w in [0, 1] or "optimal"
        (Fresh with constant counts; docs/theory/real-data.md): the fit is w * (fit on the
        real part) + (1 - w) * (fit on the synthetic part).
    filter
        None or a Filter(tpr, fpr).
    path
        "exact" (draw sufficient statistics, cost independent of the counts) or
        "samples" (draw every point); None (the default): the family's
        default path (its FamilySpec's ``default_path``: "exact" where the
        family has one).
    top_k, top_p
        token families only: synthetic tokens are drawn from the top_k most
        probable tokens, then from the smallest most-probable set whose mass
        reaches top_p (after the temperature, which for tokens draws from
        p^(1/temperature) renormalised); None: off.
    reweight
        None or a TailWeight(beta, k) (also a dict of those two): the refit
        weighs each synthetic point 1 + beta * 1{norm(z) > k} (Gaussian, samples
        path; docs/guide/mitigations.md).
    correction
        None or gamma in (0, 1]: self-correction (Gillman et al.), each
        synthetic point moves to (1 - gamma) x + gamma T(x) before the refit, T
        the optimal transport map from the model to the truth (Gaussian).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Gaussian(), loop=ms.Fresh(real=5, synthetic=20),
    ...                 estimator="unbiased", temperature=0.9)
    >>> cfg.path
    'exact'
    >>> ms.Config.from_dict(cfg.to_dict()) == cfg
    True
    >>> ms.Config(temperature=-1.0)
    Traceback (most recent call last):
        ...
    ValueError: Config.temperature must be ...
    """

    family: Family = field(default_factory=default_family)
    loop: Replace | Augment | Fresh | Accumulate | AccumulateSubsample = field(default_factory=Replace)
    estimator: str = "mle"
    temperature: float = 1.0
    path: str | None = None
    truncation: float | None = None
    weight: float | str | None = None
    filter: Filter | None = None
    top_k: int | None = None
    top_p: float | None = None
    reweight: TailWeight | None = None
    correction: float | None = None

    def __post_init__(self):
        normalise(self)
        if isinstance(self.reweight, dict):  # the JSON / TOML form
            spec = {k: v for k, v in self.reweight.items() if k != "type"}
            try:
                object.__setattr__(self, "reweight", TailWeight(**spec))
            except TypeError:
                raise TypeError(
                    f"Config.reweight as a dict takes the keys beta and k; got {sorted(spec)}"
                ) from None
        families = family_classes()
        if not isinstance(self.family, families):
            raise TypeError(
                f"Config.family must be one of {', '.join(c.__name__ for c in families)}; got {self.family!r}"
            )
        if not isinstance(self.loop, LOOPS):
            raise TypeError(
                f"Config.loop must be one of {', '.join(c.__name__ for c in LOOPS)}; got {self.loop!r}"
            )
        check.choice("Config.estimator", self.estimator, ESTIMATORS)
        check.real("Config.temperature", self.temperature, 0.0, None, lo_open=True)
        spec = spec_for(self.family)
        if self.path is None:
            object.__setattr__(self, "path", spec.default_path)
        check.choice("Config.path", self.path, PATHS)
        if self.filter is not None and not isinstance(self.filter, Filter):
            raise TypeError(f"Config.filter must be None or a madsim.Filter; got {self.filter!r}")
        self._check_mitigations(spec)
        spec.check_config(self)  # the family's own cross-field rules (its module)
        self._check_truncation()
        self._check_weight()
        self._check_points()

    # -- cross-field checks, each naming the fields involved (the family's own: its module)

    def _check_mitigations(self, spec):
        """reweight and correction: their types, then where they apply (the
        families whose spec lists them, never AccumulateSubsample; reweight on
        the samples path only)."""
        if self.reweight is not None and not isinstance(self.reweight, TailWeight):
            raise TypeError(f"Config.reweight must be None or a madsim.TailWeight; got {self.reweight!r}")
        if self.correction is not None:
            check.real("Config.correction", self.correction, 0.0, 1.0, lo_open=True)
        for name in ("reweight", "correction"):
            if getattr(self, name) is None:
                continue
            if name not in spec.mitigations:
                where = [s.name for s in _all_specs() if name in s.mitigations]
                raise ValueError(
                    f"Config.{name} applies to {', '.join(where)} only; this family is "
                    f"{spec.name} (docs/guide/mitigations.md says why)"
                )
            if isinstance(self.loop, AccumulateSubsample):
                raise ValueError(
                    f"Config.{name} needs a loop other than AccumulateSubsample (its pool keeps "
                    "points, not their weights or corrections)"
                )
        if self.reweight is not None and self.path == "exact":
            raise ValueError(
                "Config.reweight needs path='samples': the exact path draws sufficient statistics, "
                "and weighted moments have no law madsim can draw"
            )

    def _check_truncation(self):
        if self.truncation is None:
            return
        k = check.real("Config.truncation", self.truncation, 0.0, None, lo_open=True)
        if self.path == "exact":
            raise ValueError(
                "Config.truncation needs path='samples': the exact path draws sufficient "
                "statistics of Gaussian samples and truncated samples have no such law"
            )
        from scipy.stats import chi2

        accept = float(chi2.cdf(k * k, self.family.dim))
        if accept < 1e-6:
            raise ValueError(
                f"Config.truncation = {k} keeps a fraction {accept:.3g} of draws in dim "
                f"{self.family.dim}; rejection sampling would not finish (need >= 1e-6)"
            )

    def _check_weight(self):
        w = self.weight
        if w is None:
            return
        loop = self.loop
        if not isinstance(loop, (Fresh, Augment)):
            raise ValueError(
                f"Config.weight needs a loop with a real and a synthetic part (Fresh or Augment); "
                f"got {type(loop).__name__}"
            )
        if isinstance(w, str):
            if w != "optimal":
                raise ValueError(f"Config.weight must be a number in [0, 1], 'optimal' or None; got {w!r}")
            if not (isinstance(loop, Fresh) and is_const(loop.real) and is_const(loop.synthetic)):
                raise ValueError(
                    "Config.weight='optimal' is the w* of docs/theory/real-data.md: it needs Fresh with constant "
                    "real and synthetic counts"
                )
        else:
            check.real("Config.weight", w, 0.0, 1.0)
        need = max(1, self.family.min_points)
        real_min = loop.real if isinstance(loop, Augment) else schedule_min(loop.real)
        syn_min = schedule_min(loop.synthetic)
        for part, lo in (("real", real_min), ("synthetic", syn_min)):
            if lo is not None and lo < need:
                raise ValueError(
                    f"Config.weight fits the real and synthetic parts separately: each needs at "
                    f"least {need_text(self.family)}; {type(loop).__name__}.{part} can be {lo}"
                )

    def _check_points(self):
        """Every fit needs dim + 1 points that can survive the filter."""
        loop, need = self.loop, self.family.min_points
        tpr = self.filter.tpr if self.filter else 0.0
        fpr = self.filter.fpr if self.filter else 0.0
        exact_subsample = spec_for(self.family).exact_subsample
        if isinstance(loop, AccumulateSubsample) and self.path == "exact" and not exact_subsample:
            raise ValueError(
                "AccumulateSubsample needs path='samples': a random subset of the pool is not a "
                "function of the pool's sufficient statistics"
            )
        if isinstance(loop, Replace):
            real, syn = 0, schedule_min(loop.n)
        elif isinstance(loop, Augment):
            real, syn = loop.real, schedule_min(loop.synthetic)
        elif isinstance(loop, Fresh):
            real, syn = schedule_min(loop.real), schedule_min(loop.synthetic)
        else:  # accumulating loops: generation 1 alone must be fittable
            real, syn = first_count(loop.real), first_count(loop.synthetic)
        if real is None or syn is None:
            return  # a callable schedule: checked per generation when evaluated
        if isinstance(loop, AccumulateSubsample) and loop.n < need:
            raise ValueError(f"AccumulateSubsample.n = {loop.n} must be >= {need_text(self.family)}")
        usable = (real if fpr < 1.0 else 0) + (syn if tpr < 1.0 else 0)
        if usable < need:
            what = ""
            if self.filter is not None:
                what = f" after Filter(tpr={tpr}, fpr={fpr})"
            raise ValueError(
                f"{type(loop).__name__}: a fit needs at least {need_text(self.family)}{what}; "
                f"this loop gives {real} real + {syn} synthetic (min over generations), of which "
                f"at most {usable} can survive"
            )

    # -- (de)serialisation

    def to_dict(self) -> dict:
        """A plain dict (JSON-able) with the class name of each part.
        Callable schedules are recorded by name (they cannot be rebuilt)."""

        def part(obj):
            out = {"type": type(obj).__name__}
            for f in dataclasses.fields(obj):
                v = getattr(obj, f.name)
                out[f.name] = _schedule_json(v) if (callable(v) or isinstance(v, tuple)) else v
            return out

        return {
            "family": part(self.family),
            "loop": part(self.loop),
            "estimator": self.estimator,
            "temperature": self.temperature,
            "path": self.path,
            "truncation": self.truncation,
            "weight": self.weight,
            "filter": None if self.filter is None else part(self.filter),
            "top_k": self.top_k,
            "top_p": self.top_p,
            # the mitigations only when set: configs without them keep their JSON
            **({} if self.reweight is None else {"reweight": part(self.reweight)}),
            **({} if self.correction is None else {"correction": self.correction}),
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
                    for k, v in spec.items():
                        if isinstance(v, dict) and "callable" in v:
                            raise ValueError(
                                f"{what}.{k} was the callable {v['callable']!r}, which a saved "
                                "config cannot rebuild; pass it again"
                            )
                    return c(**spec)
            names = ", ".join(c.__name__ for c in classes)
            raise ValueError(f"{what} type must be one of {names}; got {kind!r}")

        d = dict(d)
        filt = d.pop("filter", None)
        return cls(
            family=build(d.pop("family"), family_classes(), "family"),
            loop=build(d.pop("loop"), LOOPS, "loop"),
            filter=None if filt is None else build(filt, (Filter,), "filter"),
            **d,
        )

    # -- derived quantities used by the kernels and theory

    @property
    def optimal_weight(self) -> float:
        """The optimal weight w* for ``Fresh(real=n, synthetic=m)``, the root of
        w^2 + c w - c = 0 with c = n/m (He, Xu, Cheng, JRSS-B; arXiv
        2502.18049; docs/theory/real-data.md)."""
        loop = self.loop
        if not (isinstance(loop, Fresh) and is_const(loop.real) and is_const(loop.synthetic)):
            raise ValueError("optimal_weight needs Fresh with constant real and synthetic counts")
        if loop.synthetic == 0:
            return 1.0
        # the family's own ratio of the parts' error factors (Regression: its OLS
        # factors d/(n-d-1)); the Gaussian mean's is n/m
        ratio = getattr(self.family, "hxc_ratio", None)
        c = ratio(loop.real, loop.synthetic) if ratio else loop.real / loop.synthetic
        return (math.sqrt(c * c + 4.0 * c) - c) / 2.0

    @property
    def weight_value(self) -> float | None:
        """The weight as a number (``optimal`` resolved), or None for a pooled fit."""
        if self.weight is None:
            return None
        return self.optimal_weight if self.weight == "optimal" else float(self.weight)


def need_text(family) -> str:
    """How many points a fit of ``family`` needs, in words (its spec's ``need_text``)."""
    return spec_for(family).need_text(family)


def first_count(value: Schedule) -> int | None:
    """Generation 1's count of a schedule (None for a callable)."""
    if isinstance(value, int):
        return value
    if isinstance(value, tuple):
        return value[0]
    return None


# ---------------------------------------------------------------- rules shared by families


def reject_token_knobs(cfg: Config) -> None:
    """top_k and top_p apply to token families only (the non-token families' rule)."""
    for name in ("top_k", "top_p"):
        if getattr(cfg, name) is not None:
            raise ValueError(
                f"Config.{name} applies to token families ({', '.join(token_families())}); this family is "
                f"{type(cfg.family).__name__}: use temperature or truncation"
            )


def token_families() -> list[str]:
    """The names of the registered token families (their spec's ``tokens``)."""
    from . import families  # at call time: the family modules import this module

    return [spec.name for spec in families.all_families() if spec.tokens]


def check_token_knobs(cfg: Config) -> None:
    """The token families' rules (their refit is the empirical frequency)."""
    fam = cfg.family
    if cfg.estimator != "mle":
        raise ValueError(
            f"Config.estimator must be 'mle' for {type(fam).__name__} (the refit is the "
            f"empirical frequency; use {type(fam).__name__}.smoothing for add-alpha); "
            f"got {cfg.estimator!r}"
        )
    if cfg.truncation is not None:
        raise ValueError(
            f"Config.truncation is the Gaussian sampling bias; for {type(fam).__name__} use top_k or top_p"
        )
    if cfg.top_k is not None:
        check.integer("Config.top_k", cfg.top_k, 1, fam.tokens)
    if cfg.top_p is not None:
        check.real("Config.top_p", cfg.top_p, 0.0, 1.0, lo_open=True)
    if cfg.weight is not None and fam.smoothing != 0.0:
        raise ValueError(
            f"{type(fam).__name__}.smoothing applies to the pooled fit; with Config.weight "
            "each part is fit separately: set one of them"
        )
