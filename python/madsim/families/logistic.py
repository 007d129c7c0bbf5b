"""The Logistic family: logistic regression P(y = 1 | x) = sigmoid(x'w*),
refit by Newton's method (maximum likelihood, optional ridge) on rows
labelled by the previous model (synthetic) or the truth (real)
(docs/guide/logistic.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import checks as check
from ..theory.logistic import logistic_fisher_information
from ..config import (
    SCALE_LIMIT,
    Accumulate,
    AccumulateSubsample,
    Augment,
    Config,
    Fresh,
    Replace,
    is_const,
    normalise,
    reject_token_knobs,
)
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
from .regression import DESIGNS, LinearTruth

# The largest |x'w*| standard deviation accepted: beyond it labels are
# deterministic to float64 (sigmoid(40) = 1 - 4e-18) and every fit separates.
MAX_SIGNAL_SD = 40.0


@dataclass(frozen=True)
class Logistic(LinearTruth):
    """Logistic regression without intercept, P(y = 1 | x) = sigmoid(x'w*),
    x ~ N(0, cov): the truth (generation 0) is w*. Each generation labels a
    design with the previous model (synthetic rows: y ~ Bernoulli(sigmoid(x'
    w_{t-1}))) and/or the truth (real rows), then refits w by Newton's method
    (IRLS) for the maximum likelihood, with an optional ridge penalty
    ``ridge |w|^2 / 2``, from w_{t-1}, until the largest step coordinate is at
    most ``tol (1 + max |w_i|)``. A fit that does not exist (separated
    labels) or does not converge within ``max_iter`` steps keeps the model
    and counts a skipped fit. A loop's counts are rows. Samples path only.

    Parameters
    ----------
    dim
        features d.
    weights
        w*, a number (every coordinate) or a length-d sequence; None: the unit
        vector (1, ..., 1) / sqrt(d).
    cov
        the design's covariance Sigma, d x d symmetric positive definite
        (None: identity).
    design
        "fresh" (new rows every generation) or "fixed" (each part's rows drawn
        once and relabelled every generation; constant counts).
    ridge
        the ridge penalty lambda >= 0 (0: maximum likelihood, which does not
        exist for separated labels; > 0: it always exists).
    tol
        Newton's stopping rule, in (0, 1e-3].
    max_iter
        Newton steps before a fit is declared not converged (skipped), 1 to 1000.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Logistic(dim=2), loop=ms.Replace(n=200))
    >>> ds = ms.simulate(cfg, replicas=100, generations=5, seed=1)
    >>> float(ds["fisher_error"].sel(generation=0)[0])    # generation 0 is the truth
    0.0
    >>> float(ms.theory.logistic_expected_fisher_error(cfg, 5))   # t d / n, to first order
    0.05
    """

    dim: int = 2
    weights: float | tuple | None = None
    cov: tuple | None = None
    design: str = "fresh"
    ridge: float = 0.0
    tol: float = 1e-10
    max_iter: int = 50

    def __post_init__(self):
        normalise(self)
        self._check_linear_truth("Logistic")
        check.choice("Logistic.design", self.design, DESIGNS)
        check.real("Logistic.ridge", self.ridge, 0.0)
        check.real("Logistic.tol", self.tol, 0.0, 1e-3, lo_open=True)
        check.integer("Logistic.max_iter", self.max_iter, 1, 1000)

    @property
    def min_points(self) -> int:
        """The rows a fit needs, dim + 1 for the MLE (with n <= dim rows through
        the origin the labels are almost always separable); 1 with ridge > 0."""
        return 1 if self.ridge > 0 else self.dim + 1

    @property
    def fisher(self) -> np.ndarray:
        """I(w*) = E[p(1 - p) x x'] (madsim.theory.logistic_fisher_information)."""
        return logistic_fisher_information(self.weight_vector, self.cov_matrix)


# What the logistic kernel observes (csrc/madsim/models/logistic.hpp), after
# the weight vector w; the truth's value of each is its generation 0.
LOGISTIC_VARS = {
    "fisher_error": "excess risk in the Fisher metric (w_t - w*)' I(w*) (w_t - w*), "
    "I(w*) = E[p(1-p) x x'] (twice the excess log-loss to first order)",
    "w_error": "squared distance to the truth |w_t - w*|^2",
    "w_norm": "norm of the fitted weights, |w_t|",
    "iterations": "Newton steps of the generation's fit (a skipped fit: the steps it ran)",
    "points_real": "real rows the generation's fit had (Accumulate: the pool's)",
    "points_synthetic": "synthetic rows the generation's fit had (Accumulate: the pool's)",
    "skipped": "fits skipped so far (too few rows, separated labels, a singular Hessian or no "
    "convergence: the model was kept)",
}

LEAN = ("w", "fisher_error", "w_error", "skipped")  # what metrics=None records


def logistic_truth(fam: Logistic) -> np.ndarray:
    """The kernel's truth row: w*, Sigma's Cholesky factor (packed), the
    Cholesky factor of I(w*) (packed)."""
    rows, cols = np.tril_indices(fam.dim)
    L0 = np.linalg.cholesky(fam.cov_matrix)
    F = np.linalg.cholesky(fam.fisher)
    return np.concatenate([fam.weight_vector, L0[rows, cols], F[rows, cols]]).astype(np.float64)


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    d = fam.dim
    counts = loop_counts(cfg, generations)
    check_counts(cfg, counts)
    args = dict(
        d=d,
        loop=LOOP_CODES[type(loop)],
        design=1 if fam.design == "fixed" else 0,
        max_iter=int(fam.max_iter),
        ridge=float(fam.ridge),
        tol=float(fam.tol),
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        truth=logistic_truth(fam),
        counts=counts,
    )
    if isinstance(loop, (Accumulate, AccumulateSubsample)):  # every row drawn: [x d | y | real]
        args.update(pool_cap=int(counts.sum()) + 1)
    if isinstance(loop, AccumulateSubsample):
        args.update(subsample_n=loop.n)
    params, advance, state_size, at = compiled(
        "Logistic", "logistic", args, backend, cfg, replicas, args.get("pool_cap", 0), d + 2
    )
    columns = scalar_columns(at, LOGISTIC_VARS)
    w0 = fam.weight_vector
    return zero_state_kernel(
        "logistic",
        params,
        advance,
        state_size,
        columns,
        units={"w": "fitted weights w_t", **LOGISTIC_VARS},
        arrays={"w": (at["w"], ("dim",))},
        counts=counts,
        truth={"fisher_error": 0.0, "w_error": 0.0, "w_norm": float(np.sqrt(w0 @ w0))},
        default=lean_default(LEAN, cfg),
    )


def need_text(family) -> str:
    """How many rows a fit needs, in words."""
    if family.ridge > 0:
        return "1 row (ridge > 0)"
    return f"dim + 1 = {family.dim + 1} rows (fewer rows through the origin are almost always separable)"


def check_config(cfg: Config) -> None:
    """The logistic family's cross-field rules."""
    fam = cfg.family
    for name, off in (
        ("temperature", 1.0),
        ("truncation", None),
        ("weight", None),
        ("filter", None),
        ("top_k", None),
        ("top_p", None),
    ):
        if getattr(cfg, name) != off:
            raise ValueError(
                f"Config.{name} is not supported by Logistic (synthetic rows are labelled by "
                f"Bernoulli draws of the previous fit); leave it at {off!r}"
            )
    if cfg.path not in (None, "samples"):
        raise ValueError(
            f"Config.path={cfg.path!r}: Logistic runs path='samples' only (the fit needs every "
            "row: no sufficient statistic of the labels determines the Newton iterations)"
        )
    if cfg.estimator != "mle":
        raise ValueError(
            f"Config.estimator={cfg.estimator!r} has no meaning for Logistic (w is fitted by "
            "maximum likelihood); leave it at 'mle'"
        )
    if fam.design == "fixed":
        loop = cfg.loop
        parts = [("synthetic", loop.synthetic)] if not isinstance(loop, Replace) else [("n", loop.n)]
        if isinstance(loop, (Fresh, Accumulate, AccumulateSubsample)):
            parts.append(("real", loop.real))
        for part, value in parts:
            if not is_const(value):
                raise ValueError(
                    f"Logistic.design='fixed' relabels the same rows every generation: "
                    f"{type(loop).__name__}.{part} must be a constant integer; got {value!r}"
                )
    reject_token_knobs(cfg)


def check_scale(cfg: Config) -> None:
    """Refuses a design or signal whose first generation overflows, or whose
    labels are deterministic in float64 (every fit separated)."""
    fam = cfg.family
    w, cov = fam.weight_vector, fam.cov_matrix
    top = float(np.max(np.linalg.eigvalsh(cov)))
    if not top <= SCALE_LIMIT:
        raise ValueError(
            f"Logistic: the largest design variance is {top:.3g}, above {SCALE_LIMIT:g}: the Hessian's "
            "sums of squares would overflow float64; rescale the problem"
        )
    sd = math.sqrt(float(w @ cov @ w))
    if not sd <= MAX_SIGNAL_SD:
        raise ValueError(
            f"Logistic: the signal's standard deviation sqrt(w*' cov w*) is {sd:.3g}, above "
            f"{MAX_SIGNAL_SD:g}: the labels are deterministic to float64 and every maximum-likelihood "
            "fit separates; rescale weights or cov"
        )


_QUOTED_DESIGNS = ", ".join(f'"{v}"' for v in DESIGNS)

SPEC = register(
    FamilySpec(
        cls=Logistic,
        kernel=kernel,
        kernels=("logistic",),
        cuda_advance={"logistic": "advance_logistic_cuda"},
        reference={"logistic": ("logistic", "advance_logistic")},
        default_path="samples",
        check_config=check_config,
        need_text=need_text,
        check_scale=check_scale,
        toml_help="Logistic regression P(y = 1 | x) = sigmoid(x'w*), refit by Newton's method (maximum "
        "likelihood, optional ridge) on rows labelled by the previous model (synthetic) or the "
        "truth (real); the loop's counts are rows.",
        toml_keys=(
            ("dim", "integer", "the number of features d (1 to 256)."),
            (
                "weights",
                ("float", "array"),
                "w*: a number (every coordinate) or a list of d numbers (not set: (1, ..., 1) / sqrt(d)).",
                1.0,
            ),
            (
                "cov",
                "array",
                "the design's covariance: d rows of d numbers (not set: the identity).",
                [[1.0, 0.0], [0.0, 1.0]],
            ),
            (
                "design",
                "string",
                f"one of {_QUOTED_DESIGNS}: new rows every generation, or each part's "
                "rows drawn once and relabelled.",
            ),
            ("ridge", "float", "ridge penalty lambda |w|^2 / 2 (0: maximum likelihood)."),
            ("tol", "float", "Newton's stopping rule: max |step| <= tol (1 + max |w|); in (0, 1e-3]."),
            ("max_iter", "integer", "Newton steps before a fit counts as not converged (skipped)."),
        ),
        validate_cases="logistic",
        law_tests=("test_logistic.py",),
        benchmark="logistic.py",
        docs_page="logistic",
        theory="logistic",
    )
)
