"""The Gaussian family: the truth N(mean, cov) in d dimensions, refit by
the sample mean and covariance (docs/guide/gaussian.md).

Two compiled kernels run it: ``gaussian1d`` (the 1-D replace loop with a
constant n and no knob beyond temperature: the fast special case, one
chi-square per generation; ``uses_gaussian1d`` decides) and
``gaussian_loop`` (any dimension, every loop and knob; PPCA runs it too,
``gaussian_loop_kernel``). They consume different streams, so the same seed
gives different (equally valid) replicas; which one ran is in
``attrs["kernel"]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .. import checks as check
from .._backend import core
from ..config import (
    SCALE_LIMIT,
    AccumulateSubsample,
    Augment,
    Config,
    Replace,
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
    observe_columns,
    scalar_columns,
    twin,
    zero_state_kernel,
)
from . import FamilySpec, register


class MeanVector:
    """mean_vector for the Gaussian-based families (``mean``: a number for
    every coordinate, or a tuple of dim numbers)."""

    @property
    def mean_vector(self) -> np.ndarray:
        if isinstance(self.mean, tuple):
            return np.array(self.mean, dtype=np.float64)
        return np.full(self.dim, float(self.mean))


@dataclass(frozen=True)
class Gaussian(MeanVector):
    """Gaussian family; the truth (generation 0) is N(mean, cov).

    Parameters
    ----------
    dim
        the dimension d.
    mean
        a number (every coordinate) or a length-d sequence.
    var
        the variance of every coordinate (cov = var * I) unless ``cov`` is
        given.
    cov
        a d x d symmetric positive definite matrix (None: var * I).

    Examples
    --------
    >>> import madsim as ms
    >>> ms.Gaussian().dim
    1
    >>> fam = ms.Gaussian(dim=2, mean=[0.0, 1.0], cov=[[2.0, 0.3], [0.3, 1.0]])
    >>> ds = ms.simulate(ms.Config(family=fam, loop=ms.Replace(n=20)), replicas=100, generations=10,
    ...                  seed=1, metrics=["trace", "logdet"])
    >>> dict(ds["trace"].sizes)
    {'replica': 100, 'generation': 11}
    """

    dim: int = 1
    mean: float | tuple = 0.0
    var: float = 1.0
    cov: tuple | None = None

    def __post_init__(self):
        normalise(self)
        d = check.integer("Gaussian.dim", self.dim, 1, 256)
        if isinstance(self.mean, (list, tuple, np.ndarray)):
            m = tuple(check.real(f"Gaussian.mean[{i}]", v) for i, v in enumerate(self.mean))
            if len(m) != d:
                raise ValueError(f"Gaussian.mean must have dim = {d} entries; got {len(m)}")
            object.__setattr__(self, "mean", m)
        else:
            check.real("Gaussian.mean", self.mean)
        check.real("Gaussian.var", self.var, 0.0, None, lo_open=True)
        if self.cov is not None:
            if self.var != 1.0:
                raise ValueError("Gaussian: give either var (cov = var * I) or cov, not both")
            object.__setattr__(self, "cov", spd_matrix("Gaussian.cov", self.cov, d))

    @property
    def min_points(self) -> int:
        """The points a fit needs, dim + 1 (a full-rank covariance)."""
        return self.dim + 1

    @property
    def cov_matrix(self) -> np.ndarray:
        if self.cov is not None:
            return np.array(self.cov, dtype=np.float64)
        return self.var * np.eye(self.dim)


# The metrics against the truth N(mu0, Sigma0) (generation 0) that observe()
# computes in the kernel (csrc/madsim/metrics.hpp), in its GaussMetric slot
# order, with their definitions; both Gaussian kernels give them these names.
METRICS = {
    "tail2": "model mass outside the truth's 2 sigma0 ball, P(|x - mu0| > 2 sigma0) "
    "(d > 1: outside the Mahalanobis ball, P((x - mu0)' Sigma0^-1 (x - mu0) > 4), "
    "relative error ~1e-12 times its conditioning, csrc/madsim/gchisq.hpp)",
    "tail3": "model mass outside the truth's 3 sigma0 ball (as tail2, radius 3)",
    "tail4": "model mass outside the truth's 4 sigma0 ball (as tail2, radius 4)",
    "q001": "model quantile 1e-3, mu_t - 3.0902 sigma_t",
    "q999": "model quantile 1 - 1e-3, mu_t + 3.0902 sigma_t",
    "w2_sq": "squared 2-Wasserstein distance to the truth, |mu_t - mu0|^2 + tr(Sigma_t + Sigma0 "
    "- 2 (Sigma0^1/2 Sigma_t Sigma0^1/2)^1/2)",
    "kl_model_truth": "KL(model || truth) = (tr(Sigma0^-1 Sigma_t) + (mu_t - mu0)' Sigma0^-1 "
    "(mu_t - mu0) - d - logdet_ratio) / 2",
    "kl_truth_model": "KL(truth || model) = (tr(Sigma_t^-1 Sigma0) + (mu_t - mu0)' Sigma_t^-1 "
    "(mu_t - mu0) - d + logdet_ratio) / 2",
    "tv": "total variation distance to the truth, sup_A |P_t(A) - P_0(A)|",
    "logdet_ratio": "log determinant ratio, ln det Sigma_t - ln det Sigma0",
    "trace_ratio": "trace ratio, tr(Sigma0^-1 Sigma_t)",
}
# Defined for d = 1 only: the quantiles have no single meaning in d > 1, and
# TV between two Gaussians has no closed form there (the mass of the model
# minus the truth's over the quadric where their densities cross: a
# d-dimensional integral, no cheap exact method). The tail masses exist for
# every d (csrc/madsim/gchisq.hpp).
METRICS_1D_ONLY = ("q001", "q999", "tv")
Z_Q999 = 3.0902323061678135  # Phi^-1(1 - 1e-3), as csrc/madsim/metrics.hpp


def truth_values(mu0: float, sd0: float) -> dict:
    """The truth's own value of the 1-D tail and quantile metrics (their
    values at generation 0), stored as each variable's ``truth_value``
    attribute: ``ds["tail3"] / ds["tail3"].attrs["truth_value"]`` is the
    tail mass relative to the original distribution's."""
    out = {f"tail{k}": math.erfc(k * math.sqrt(0.5)) for k in (2, 3, 4)}
    out.update(q001=mu0 - Z_Q999 * sd0, q999=mu0 + Z_Q999 * sd0)
    return out


def truth_values_nd(d: int) -> dict:
    """The truth's own tail masses for d > 1 (``truth_value`` likewise): its
    mass outside its own Mahalanobis ball of radius k is P(chi2_d > k^2)."""
    from scipy.special import gammaincc

    return {f"tail{k}": float(gammaincc(d / 2, k * k / 2)) for k in (2, 3, 4)}


# What ``metrics=None`` records (kernels.lean_default): the model's own parameters.
LEAN_1D = ("mean", "var")  # gaussian1d
LEAN = ("mean", "var", "cov")  # gaussian_loop


def uses_gaussian1d(cfg: Config) -> bool:
    """True when the fast 1-D kernel runs ``cfg`` (same law as GaussianLoop at d = 1)."""
    return (
        isinstance(cfg.family, Gaussian)
        and cfg.family.dim == 1
        and isinstance(cfg.loop, Replace)
        and isinstance(cfg.loop.n, int)
        and cfg.truncation is None
        and cfg.filter is None
        and cfg.weight is None
        and cfg.reweight is None
        and cfg.correction is None
    )


def gaussian_1d_kernel(cfg: Config, backend: str) -> Kernel:
    """The fast 1-D replace kernel (``uses_gaussian1d``)."""
    fam, loop = cfg.family, cfg.loop
    args = dict(
        n=float(loop.n),
        tau=float(cfg.temperature),
        estimator=0 if cfg.estimator == "mle" else 1,
        path=0 if cfg.path == "exact" else 1,
        mu0=float(fam.mean),
        var0=float(fam.var),
    )
    params = core.Gaussian1DParams(**args)
    columns = scalar_columns(observe_columns(params), ("mean", "var", "logdet", "mean_sq", *METRICS))
    kern = Kernel(
        name="gaussian1d",
        params=params,
        advance=core.advance_gaussian1d,
        initial_state=np.array([fam.mean, fam.var, 0.0], dtype=np.float64),  # [mean, v, j]: var = v 4^j
        observed=tuple(columns),
        columns=columns,
        units={
            "mean": "fitted mean mu_t",
            "var": "fitted variance sigma_t^2",
            "logdet": "log-variance, ln sigma_t^2",
            "mean_sq": "squared distance of the fitted mean to the truth's, |mu_t - mu_0|^2",
            **METRICS,
        },
        truth=truth_values(float(fam.mean), math.sqrt(float(fam.var))),
        default=lean_default(LEAN_1D, cfg),
    )
    if backend == "jax":
        twin_params, twin_advance = twin("gaussian1d")
        kern = replace(kern, params=twin_params(**{**args, "n": int(loop.n)}), advance=twin_advance)
    return kern


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    """The Gaussian's kernel: the fast 1-D one where it applies, else GaussianLoop."""
    if uses_gaussian1d(cfg):
        return gaussian_1d_kernel(cfg, backend)
    return gaussian_loop_kernel(cfg, generations, replicas, backend)


def gaussian_loop_kernel(
    cfg: Config,
    generations: int,
    replicas: int,
    backend: str,
    *,
    lean: tuple = LEAN,
    extra_args: dict | None = None,
    extra_columns=None,
) -> Kernel:
    """The GaussianLoop kernel of a Gaussian-based family: ``extra_args``
    (more params: PPCA's factors and basis), ``extra_columns(at, columns,
    arrays, units, truth)`` (observe columns after the metrics, from column
    ``at``, the kernel's observe_columns) and ``lean`` (what metrics=None
    records) are the family's own."""
    fam, loop = cfg.family, cfg.loop
    d = fam.dim
    counts = loop_counts(cfg, generations)
    check_counts(cfg, counts)
    L0 = np.linalg.cholesky(fam.cov_matrix)
    rows, cols = np.tril_indices(d)
    truth = np.concatenate([fam.mean_vector, L0[rows, cols]]).astype(np.float64)
    pool_cap = int(counts.sum()) + 1 if isinstance(loop, AccumulateSubsample) else 0
    args = dict(
        d=d,
        loop=LOOP_CODES[type(loop)],
        estimator=0 if cfg.estimator == "mle" else 1,
        path=0 if cfg.path == "exact" else 1,
        tau=float(cfg.temperature),
        trunc=float(cfg.truncation or 0.0),
        weight=-1.0 if cfg.weight is None else cfg.weight_value,
        tpr=cfg.filter.tpr if cfg.filter else 0.0,
        fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0,
        pool_cap=pool_cap,
        truth=truth,
        counts=counts,
    )
    if cfg.reweight is not None:  # new keywords only when set (PPCA's kernel passes none)
        args.update(reweight_beta=float(cfg.reweight.beta), reweight_k=float(cfg.reweight.k))
    if cfg.correction is not None:
        args.update(correction=float(cfg.correction))
    if extra_args:  # PPCA: the same kernel, each fit projected onto q factors
        args.update(extra_args)
    params, advance, state_size, at = compiled(
        "GaussianLoop", "gaussian_loop", args, backend, cfg, replicas, pool_cap
    )
    units = {
        "trace": "trace of the fitted covariance, tr Sigma_t",
        "logdet": "log-determinant of the fitted covariance, ln det Sigma_t",
        "mean_sq": "squared distance of the fitted mean to the truth's, |mu_t - mu_0|^2",
        "points_real": "real points the generation's fit had (after the filter)",
        "points_synthetic": "synthetic points the generation's fit had (after the filter)",
        "skipped": "fits skipped so far for too few points (the model was kept)",
    }
    tail = ("trace", "logdet", "mean_sq", "points_real", "points_synthetic", "skipped")
    columns = scalar_columns(at, tail)
    # the metrics the kernel observes (gaussian_loop.hpp): every one for
    # d = 1, those not 1-D-only for d > 1
    names = [m for m in METRICS if m in at]
    metrics = scalar_columns(at, names)
    units.update({m: METRICS[m] for m in names})
    arrays = {}
    truth_vals = {}
    if d == 1:
        columns = {**scalar_columns(at, ("mean", "var")), **columns, **metrics}
        del columns["trace"]
        units.update(mean="fitted mean mu_t", var="fitted variance sigma_t^2")
        units["logdet"] = "log-variance, ln sigma_t^2"
        del units["trace"]
        truth_vals = truth_values(float(fam.mean_vector[0]), float(L0[0, 0]))
    else:
        columns.update(metrics)
        packed = at["cov"]  # the covariance, packed lower triangle by rows
        idx = np.empty((d, d), dtype=np.int64)
        for i in range(d):
            for j in range(i + 1):
                idx[i, j] = idx[j, i] = packed[i * (i + 1) // 2 + j]
        arrays = {"mean": (at["mean"], ("dim",)), "cov": (idx, ("dim", "dim2"))}
        units.update(mean="fitted mean mu_t", cov="fitted covariance Sigma_t")
        truth_vals = truth_values_nd(d)
    if extra_columns is not None:
        extra_columns(at, columns, arrays, units, truth_vals)
    return zero_state_kernel(
        "gaussian_loop",
        params,
        advance,
        state_size,
        columns,
        units=units,
        arrays=arrays,
        counts=counts,
        truth=truth_vals,
        default=lean_default(lean, cfg),
    )


def need_text(family) -> str:
    """How many points a fit needs, in words (Gaussian and PPCA)."""
    return f"dim + 1 = {family.dim + 1} points"


def check_config(cfg: Config) -> None:
    """The Gaussian's cross-field rules: the token knobs do not apply."""
    reject_token_knobs(cfg)


def check_gaussian_scale(fam, var: float, mean: float, tau2: float) -> None:
    """Refuses a truth whose largest variance times temperature^2 or largest
    mean^2 passes SCALE_LIMIT (Gaussian-based families)."""
    for what, value in (
        ("the truth's largest variance times temperature^2", var * tau2),
        ("the truth's largest mean^2", mean * mean),
    ):
        if not value <= SCALE_LIMIT:
            raise ValueError(
                f"{type(fam).__name__}: {what} is {value:.3g}, above {SCALE_LIMIT:g}: sums of "
                "squares of the samples would overflow float64 from the first generation; "
                "rescale the problem"
            )


def check_scale(cfg: Config) -> None:
    """Refuses parameters whose first generation already overflows float64."""
    fam = cfg.family
    tau = float(cfg.temperature)
    check_gaussian_scale(
        fam,
        float(np.max(np.linalg.eigvalsh(fam.cov_matrix))),
        float(np.max(np.abs(fam.mean_vector))),
        tau * tau,
    )


SPEC = register(
    FamilySpec(
        cls=Gaussian,
        kernel=kernel,
        kernels=("gaussian1d", "gaussian_loop"),
        cuda_advance={"gaussian1d": "advance_gaussian1d_cuda", "gaussian_loop": "advance_gaussian_loop_cuda"},
        reference={
            "gaussian1d": ("gaussian", "advance"),
            "gaussian_loop": ("gaussian_loop", "advance_gaussian_loop"),
        },
        default_path="exact",
        mitigations=("reweight", "correction"),
        check_config=check_config,
        need_text=need_text,
        check_scale=check_scale,
        toml_help="The truth N(mean, cov) and a Gaussian refit.",
        toml_keys=(
            ("dim", "integer", "the dimension d (1 to 256)."),
            (
                "mean",
                ("float", "array"),
                "the truth's mean: a number (every coordinate) or a list of d numbers.",
            ),
            ("var", "float", "the variance of every coordinate (cov = var I), unless cov is given."),
            (
                "cov",
                "array",
                "the truth's covariance: d rows of d numbers, symmetric positive definite; give "
                "var or cov, not both.",
                [[1.0]],
            ),
        ),
        validate_cases="gaussian",
        law_tests=(
            "test_gaussian_replace_theory.py",
            "test_theory_gaussian_loops.py",
            "test_gaussian_paths_same_law.py",
            "test_mitigations.py",
        ),
        benchmark="run.py",
        docs_page="gaussian",
        plots=("tails",),
    )
)
