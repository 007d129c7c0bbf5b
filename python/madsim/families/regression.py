"""The Regression family: linear regression y = x'w* + eps, refit by OLS
or ridge on rows labelled by the previous model (synthetic) or the truth
(real) (docs/guide/regression.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import checks as check
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
    spd_matrix,
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

DESIGNS = ("fresh", "fixed")


class LinearTruth:
    """The truth's weights and feature covariance of the linear-predictor
    families (Regression, Logistic): checked once, read as arrays."""

    def _check_linear_truth(self, name: str) -> int:
        """Checks dim, weights (a number or dim numbers) and cov (SPD);
        returns dim."""
        d = check.integer(f"{name}.dim", self.dim, 1, 256)
        if self.weights is not None:
            if isinstance(self.weights, (list, tuple, np.ndarray)):
                w = tuple(check.real(f"{name}.weights[{i}]", v) for i, v in enumerate(self.weights))
                if len(w) != d:
                    raise ValueError(f"{name}.weights must have dim = {d} entries; got {len(w)}")
                object.__setattr__(self, "weights", w)
            else:
                check.real(f"{name}.weights", self.weights)
        if self.cov is not None:
            object.__setattr__(self, "cov", spd_matrix(f"{name}.cov", self.cov, d))
        return d

    @property
    def weight_vector(self) -> np.ndarray:
        if self.weights is None:
            return np.full(self.dim, 1.0 / math.sqrt(self.dim))
        if isinstance(self.weights, tuple):
            return np.array(self.weights, dtype=np.float64)
        return np.full(self.dim, float(self.weights))

    @property
    def cov_matrix(self) -> np.ndarray:
        if self.cov is not None:
            return np.array(self.cov, dtype=np.float64)
        return np.eye(self.dim)


@dataclass(frozen=True)
class Regression(LinearTruth):
    """Linear regression y = x'w* + eps, x ~ N(0, cov), eps ~ N(0, noise):
    the truth (generation 0) is (w*, noise). Each generation labels a design
    with the previous model (synthetic rows: y = x'w_{t-1} + noise) and/or
    the truth (real rows), then refits w by OLS (ridge = 0) or ridge
    regression, (X'X + ridge I)^-1 X'y, and the noise variance by RSS / N
    (estimator "mle") or RSS / (N - dim) ("unbiased", OLS only). A loop's
    counts are rows (Replace(n=T): T rows per generation).

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
    noise
        sigma0^2 > 0.
    design
        "fresh" (new rows every generation) or "fixed" (each part's rows drawn
        once and relabelled every generation; constant counts, no filter).
    ridge
        the ridge penalty (0: OLS).
    refit_noise
        False labels synthetic rows with the truth's noise variance (Dohmatob
        et al., Gerstgrasser et al.; docs/theory/regression.md); True with
        model t-1's estimate (which then collapses like a Gaussian variance).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Regression(dim=5), loop=ms.Replace(n=20))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["test_error"])
    >>> float(ds["test_error"].sel(generation=0)[0])    # generation 0 is the truth
    0.0
    >>> round(float(ms.theory.expected_test_error(cfg, 10)), 4)     # 10 sigma^2 d / (T - d - 1)
    3.5714
    """

    dim: int = 5
    weights: float | tuple | None = None
    cov: tuple | None = None
    noise: float = 1.0
    design: str = "fresh"
    ridge: float = 0.0
    refit_noise: bool = False

    def __post_init__(self):
        normalise(self)
        self._check_linear_truth("Regression")
        check.real("Regression.noise", self.noise, 0.0, None, lo_open=True)
        check.choice("Regression.design", self.design, DESIGNS)
        check.real("Regression.ridge", self.ridge, 0.0)
        if not isinstance(self.refit_noise, (bool, np.bool_)):
            raise TypeError(f"Regression.refit_noise must be True or False; got {self.refit_noise!r}")
        object.__setattr__(self, "refit_noise", bool(self.refit_noise))

    @property
    def min_points(self) -> int:
        """The rows a fit needs, dim + 1 for OLS (X'X invertible, one residual
        degree of freedom); 1 with ridge > 0."""
        return 1 if self.ridge > 0 else self.dim + 1

    def hxc_ratio(self, real: int, synthetic: int) -> float:
        """c of the optimal He-Xu-Cheng weight (the root of w^2 + c w - c = 0)
        for the weighted Fresh loop: the ratio of the two parts' OLS error
        factors, (real - dim - 1) / (synthetic - dim - 1)
        (docs/theory/regression.md, weighted-fresh)."""
        return (real - self.dim - 1) / (synthetic - self.dim - 1)


# What the regression kernel observes (csrc/madsim/models/regression.hpp),
# after the weight vector w; the truth's value of each is its generation 0.
REGRESSION_VARS = {
    "noise_var": "fitted noise variance (RSS / N, or / (N - dim) for estimator='unbiased')",
    "test_error": "excess test risk (w_t - w*)' Sigma (w_t - w*) = E(x'w_t - x'w*)^2",
    "w_norm": "norm of the fitted weights, |w_t|",
    "points_real": "real rows the generation's fit had (after the filter; Accumulate: the pool's)",
    "points_synthetic": "synthetic rows the generation's fit had (after the filter; Accumulate: the pool's)",
    "skipped": "fits skipped so far for too few rows or a singular X'X (the model was kept)",
}


LEAN = ("w", "noise_var", "test_error")  # what metrics=None records


def regression_truth(fam: Regression) -> np.ndarray:
    """The kernel's truth row: w*, Sigma's Cholesky factor (packed), sigma0^2."""
    d = fam.dim
    rows, cols = np.tril_indices(d)
    L0 = np.linalg.cholesky(fam.cov_matrix)
    return np.concatenate([fam.weight_vector, L0[rows, cols], [fam.noise]]).astype(np.float64)


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    d = fam.dim
    counts = loop_counts(cfg, generations)
    check_counts(cfg, counts)
    fixed = fam.design == "fixed"
    one = loop_counts(cfg, 1)[0] if fixed else np.zeros(2)  # constant counts (checked by Config)
    args = dict(
        d=d,
        loop=LOOP_CODES[type(loop)],
        path=0 if cfg.path == "exact" else 1,
        design=1 if fixed else 0,
        estimator=0 if cfg.estimator == "mle" else 1,
        refit_noise=int(fam.refit_noise),
        ridge=float(fam.ridge),
        tpr=cfg.filter.tpr if cfg.filter else 0.0,
        fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        fixed_real=float(one[0]),
        fixed_synthetic=float(one[1]),
        truth=regression_truth(fam),
        counts=counts,
        weight=-1.0 if cfg.weight is None else cfg.weight_value,
    )
    if isinstance(loop, AccumulateSubsample):  # every row drawn: [x d | y | real]
        args.update(subsample_n=loop.n, pool_cap=int(counts.sum()) + 1)
    params, advance, state_size, at = compiled(
        "Regression", "regression", args, backend, cfg, replicas, args.get("pool_cap", 0), d + 2
    )
    columns = scalar_columns(at, REGRESSION_VARS)
    w0 = fam.weight_vector
    return zero_state_kernel(
        "regression",
        params,
        advance,
        state_size,
        columns,
        units={"w": "fitted weights w_t", **REGRESSION_VARS},
        arrays={"w": (at["w"], ("dim",))},
        counts=counts,
        truth={"noise_var": float(fam.noise), "test_error": 0.0, "w_norm": float(np.sqrt(w0 @ w0))},
        default=lean_default(LEAN, cfg),
    )


def need_text(family) -> str:
    """How many rows a fit needs, in words."""
    if family.ridge > 0:
        return "1 row (ridge > 0)"
    return f"dim + 1 = {family.dim + 1} rows (OLS: n <= dim leaves X'X singular or no residual)"


def check_config(cfg: Config) -> None:
    """The regression's cross-field rules."""
    fam = cfg.family
    for name, off in (("temperature", 1.0), ("truncation", None), ("top_k", None), ("top_p", None)):
        if getattr(cfg, name) != off:
            raise ValueError(
                f"Config.{name} has no meaning for Regression (synthetic rows are labelled "
                f"by the previous fit plus Gaussian noise); leave it at {off!r}"
            )
    if cfg.weight == "optimal" and fam.ridge > 0:
        raise ValueError(
            "Config.weight='optimal' is the OLS optimum of docs/theory/regression.md "
            "(weighted-fresh); with Regression.ridge > 0 give the weight as a number"
        )
    loop = cfg.loop
    if (
        cfg.weight == "optimal"
        and isinstance(loop, Fresh)
        and is_const(loop.real)
        and is_const(loop.synthetic)
        and min(loop.real, loop.synthetic) <= fam.dim + 1
    ):
        raise ValueError(
            f"Config.weight='optimal' needs more than dim + 1 = {fam.dim + 1} rows in each part "
            f"(the OLS error factor d/(n - d - 1) is finite only there); got "
            f"Fresh(real={loop.real}, synthetic={loop.synthetic})"
        )
    if isinstance(cfg.loop, AccumulateSubsample) and cfg.path == "exact":
        raise ValueError(
            "AccumulateSubsample needs path='samples' for Regression: a random subset of the "
            "pooled rows is not a function of the pool's sufficient statistics (X'X, X'y, y'y)"
        )
    if fam.ridge > 0 and cfg.estimator == "unbiased":
        raise ValueError(
            "Config.estimator='unbiased' divides the residual sum of squares by N - dim, the "
            "OLS degrees of freedom; with Regression.ridge > 0 use estimator='mle'"
        )
    if fam.design == "fixed":
        if cfg.filter is not None:
            raise ValueError(
                "Config.filter needs Regression.design='fresh': a filter drops a random subset "
                "of a fixed design's rows every generation, whose X'X is not a function of the "
                "fixed design's"
            )
        loop = cfg.loop
        parts = [("synthetic", loop.synthetic)] if not isinstance(loop, Replace) else [("n", loop.n)]
        if isinstance(loop, (Fresh, Accumulate, AccumulateSubsample)):
            parts.append(("real", loop.real))
        for part, value in parts:
            if not is_const(value):
                raise ValueError(
                    f"Regression.design='fixed' relabels the same rows every generation: "
                    f"{type(loop).__name__}.{part} must be a constant integer; got {value!r}"
                )
    reject_token_knobs(cfg)


def check_scale(cfg: Config) -> None:
    """Refuses parameters whose first generation already overflows float64."""
    fam = cfg.family
    w = fam.weight_vector
    cov = fam.cov_matrix
    for what, value in (
        ("Regression.noise", float(fam.noise)),
        ("the largest design variance", float(np.max(np.linalg.eigvalsh(cov)))),
        ("the signal variance w*' cov w*", float(w @ cov @ w)),
    ):
        if not value <= SCALE_LIMIT:
            raise ValueError(
                f"Regression: {what} is {value:.3g}, above {SCALE_LIMIT:g}: sums of squares of "
                "the labels would overflow float64 from the first generation; rescale the problem"
            )


_QUOTED_DESIGNS = ", ".join(f'"{v}"' for v in DESIGNS)

SPEC = register(
    FamilySpec(
        cls=Regression,
        kernel=kernel,
        kernels=("regression",),
        cuda_advance={"regression": "advance_regression_cuda"},
        reference={"regression": ("regression", "advance_regression")},
        default_path="exact",
        check_config=check_config,
        need_text=need_text,
        check_scale=check_scale,
        toml_help="Linear regression y = x'w* + eps, refit by OLS or ridge on rows labelled by the previous "
        "model (synthetic) or the truth (real); the loop's counts are rows.",
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
            ("noise", "float", "the truth's noise variance > 0."),
            (
                "design",
                "string",
                f"one of {_QUOTED_DESIGNS}: new rows every generation, or each part's "
                "rows drawn once and relabelled.",
            ),
            ("ridge", "float", "ridge penalty (0: OLS)."),
            (
                "refit_noise",
                "boolean",
                "false: synthetic rows get the truth's noise variance; true: model t-1's estimate.",
            ),
        ),
        validate_cases="regression",
        law_tests=("test_regression.py", "test_regression_subsample.py", "test_mitigations.py"),
        benchmark="regression.py",
        docs_page="regression",
        theory="regression",
        theory_module=True,
        plot_theory=(("test_error", "expected_test_error", r"$E\,\|w_t - w^*\|_\Sigma^2$"),),
    )
)
