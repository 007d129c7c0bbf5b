"""The KDE family: a Gaussian kernel density estimate of its fitted points,
refit every generation on its own samples (docs/guide/kde.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import checks as check
from ..config import (
    Accumulate,
    AccumulateSubsample,
    Augment,
    Config,
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
from .gaussian import MeanVector, check_gaussian_scale

RULES = ("scott", "silverman")
RULE_CODES = {"fixed": 0, "scott": 1, "silverman": 2}  # csrc/madsim/models/kde.hpp::KDE::Rule
MAX_KDE_DIM = 64  # csrc/bindings/kde.cpp::make_kde
MAX_TEST_POINTS = 2**32


@dataclass(frozen=True)
class KDE(MeanVector):
    """Gaussian kernel density estimate (csrc/madsim/models/kde.hpp). The
    truth (generation 0) is N(mean, cov), as ``ms.Gaussian``; model t >= 1 is
    the KDE (1/n) sum_j N(x; X_j, H_t) of the n points X_j its fit had, and a
    sample of it picks a point uniformly (with replacement) and adds kernel
    noise N(0, H_t).

    Parameters
    ----------
    dim
        the dimension d (1 to 64).
    mean
        the truth's mean: a number (every coordinate) or a length-d sequence.
    var
        the truth's variance of every coordinate (cov = var * I) unless ``cov``
        is given.
    cov
        the truth's covariance, d x d symmetric positive definite (None: var * I).
    bandwidth
        a number h > 0: the fixed kernel covariance h^2 I; or a rule refit every
        generation, as scipy.stats.gaussian_kde: "scott" (factor f = n^(-1/(d+4)))
        or "silverman" (f = (n (d + 2) / 4)^(-1/(d+4))), the kernel covariance
        being f^2 times the points' unbiased sample covariance (1/(n-1)) sum
        (X_j - Xbar)(X_j - Xbar)'.
    test_points
        m, the held-out truth draws the ``nll`` metric averages over (a test set
        per replica, drawn once on its own stream and used at every
        generation); its Monte Carlo error is about sd(ln p_t(y)) / sqrt(m) and
        its cost m n d kernel evaluations per replica and recorded generation.

    Examples
    --------
    >>> import madsim as ms
    >>> fam = ms.KDE(bandwidth=0.1)
    >>> ds = ms.simulate(ms.Config(family=fam, loop=ms.Replace(n=20)), replicas=200, generations=50,
    ...                  seed=1, metrics=["var", "bandwidth"])
    >>> float(ds["bandwidth"].sel(generation=1)[0])
    0.1
    >>> round(float(ms.theory.kde_expected_var(fam, 20, 50)), 4)   # -> (n - 1) h^2 = 0.19
    0.2516
    """

    dim: int = 1
    mean: float | tuple = 0.0
    var: float = 1.0
    cov: tuple | None = None
    bandwidth: float | str = "silverman"
    test_points: int = 1000

    def __post_init__(self):
        normalise(self)
        d = check.integer("KDE.dim", self.dim, 1, MAX_KDE_DIM)
        if isinstance(self.mean, (list, tuple, np.ndarray)):
            m = tuple(check.real(f"KDE.mean[{i}]", v) for i, v in enumerate(self.mean))
            if len(m) != d:
                raise ValueError(f"KDE.mean must have dim = {d} entries; got {len(m)}")
            object.__setattr__(self, "mean", m)
        else:
            check.real("KDE.mean", self.mean)
        check.real("KDE.var", self.var, 0.0, None, lo_open=True)
        if self.cov is not None:
            if self.var != 1.0:
                raise ValueError("KDE: give either var (cov = var * I) or cov, not both")
            object.__setattr__(self, "cov", spd_matrix("KDE.cov", self.cov, d))
        allowed = f"a finite number h > 0 or one of {', '.join(map(repr, RULES))}"
        if isinstance(self.bandwidth, str):
            if self.bandwidth not in RULES:
                raise ValueError(f"KDE.bandwidth must be {allowed}; got {self.bandwidth!r}")
        elif isinstance(self.bandwidth, bool) or not isinstance(self.bandwidth, (int, float, np.floating)):
            raise TypeError(
                f"KDE.bandwidth must be {allowed}; got {self.bandwidth!r} ({type(self.bandwidth).__name__})"
            )
        else:
            h = float(self.bandwidth)
            if not (math.isfinite(h) and h > 0.0):
                raise ValueError(f"KDE.bandwidth must be {allowed}; got {h!r}")
            object.__setattr__(self, "bandwidth", h)
        check.integer("KDE.test_points", self.test_points, 1, MAX_TEST_POINTS // d)  # d normals each

    @property
    def rule(self) -> str:
        """ "fixed", "scott" or "silverman"."""
        return self.bandwidth if isinstance(self.bandwidth, str) else "fixed"

    @property
    def min_points(self) -> int:
        """The points a fit needs, 1 with a fixed bandwidth and dim + 1 with a
        rule (a regular sample covariance)."""
        return 1 if self.rule == "fixed" else self.dim + 1

    @property
    def cov_matrix(self) -> np.ndarray:
        if self.cov is not None:
            return np.array(self.cov, dtype=np.float64)
        return self.var * np.eye(self.dim)

    def factor_sq(self, n: int) -> float:
        """The rule's squared bandwidth factor f^2 for n points (scipy.stats.gaussian_kde's
        scotts_factor / silverman_factor squared); the kernel covariance is f^2 n / (n - 1) S."""
        d = self.dim
        if self.rule == "scott":
            return float(n) ** (-2.0 / (d + 4))
        if self.rule == "silverman":
            return (n * (d + 2) / 4.0) ** (-2.0 / (d + 4))
        raise ValueError("KDE.factor_sq applies to a bandwidth rule; this KDE has a fixed bandwidth")

    @property
    def entropy(self) -> float:
        """The truth's differential entropy, (d/2)(1 + ln 2 pi) + (1/2) ln det Sigma0,
        which is the expected ``nll`` at generation 0."""
        _, logdet = np.linalg.slogdet(self.cov_matrix)
        return 0.5 * self.dim * (1.0 + math.log(2.0 * math.pi)) + 0.5 * float(logdet)


KDE_COUNTERS = {
    "points_real": "real points the generation's fit had (Accumulate: the pool's; "
    "AccumulateSubsample: the real points picked)",
    "points_synthetic": "synthetic points the generation's fit had (Accumulate: the pool's; "
    "AccumulateSubsample: the synthetic points picked)",
    "skipped": "fits skipped so far (no point; a rule: fewer than 2 points or points spanning "
    "fewer than d dimensions): the model was kept",
}
KDE_SUMMARY = {
    "bandwidth": "the kernel's bandwidth, sqrt(tr H_t / d) (h itself for a fixed bandwidth and in "
    "1-D; 0 at generation 0, the truth)",
    "model_var": "the model's variance (d > 1: its trace), tr(S_t + H_t): the fitted points' spread "
    "plus the kernel's (generation 0: tr Sigma0)",
}
KDE_METRICS = {
    "tail2": "model mass beyond mu0 -+ 2 sigma0 along each coordinate (its marginal), averaged over "
    "the coordinates; O(n d) per record",
    "tail3": "as tail2, beyond mu0 -+ 3 sigma0",
    "tail4": "as tail2, beyond mu0 -+ 4 sigma0",
    "w2_sq_lower": "Gelbrich's lower bound on W2^2(model, truth): the W2^2 between the Gaussians "
    "with their means and covariances (the KDE's W2 has no closed form)",
    "nll": "negative log-likelihood of the replica's held-out truth draws (test_points of them) "
    "under the model, -(1/m) sum ln p_t(y_i), by log-sum-exp; O(m n d) per record",
}
# what metrics=None records: the fitted points' moments and the bandwidth (the
# tails, the W2 bound and the nll are recorded when named, or by metrics="all")
LEAN = ("mean", "var", "cov", "trace", "bandwidth", "model_var")


def kde_truth(fam: KDE) -> np.ndarray:
    """The kernel's truth row: mean [d], packed Cholesky factor of cov [T]."""
    L0 = np.linalg.cholesky(fam.cov_matrix)
    rows, cols = np.tril_indices(fam.dim)
    return np.concatenate([fam.mean_vector, L0[rows, cols]]).astype(np.float64)


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    d = fam.dim
    counts = loop_counts(cfg, generations)
    check_counts(cfg, counts)
    # Accumulate*: the state keeps every point of the run
    pool_cap = int(counts.sum()) + 1 if isinstance(loop, (Accumulate, AccumulateSubsample)) else 0
    args = dict(
        d=d,
        loop=LOOP_CODES[type(loop)],
        rule=RULE_CODES[fam.rule],
        h=float(fam.bandwidth) if fam.rule == "fixed" else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        test_points=int(fam.test_points),
        truth=kde_truth(fam),
        counts=counts,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0,
        pool_cap=pool_cap,
    )
    row = d + 1 if isinstance(loop, AccumulateSubsample) else d
    params, advance, state_size, at = compiled("KDE", "kde", args, backend, cfg, replicas, pool_cap, row)
    columns = scalar_columns(at, (*KDE_COUNTERS, "trace", *KDE_SUMMARY, *KDE_METRICS))
    units = {
        "trace": "trace of the fitted points' biased covariance, tr S_t (generation 0: tr Sigma0)",
        **KDE_COUNTERS,
        **KDE_SUMMARY,
        **KDE_METRICS,
    }
    arrays = {}
    if d == 1:
        columns = {**scalar_columns(at, ("mean", "var")), **columns}
        del columns["trace"]
        del units["trace"]
        units.update(
            mean="the fitted points' mean (generation 0: the truth's)",
            var="the fitted points' biased variance S_t = (1/n) sum (X_j - Xbar)^2 "
            "(generation 0: the truth's)",
        )
    else:
        packed = at["cov"]  # the fitted points' covariance, packed lower triangle by rows
        idx = np.empty((d, d), dtype=np.int64)
        for i in range(d):
            for j in range(i + 1):
                idx[i, j] = idx[j, i] = packed[i * (i + 1) // 2 + j]
        arrays = {"mean": (at["mean"], ("dim",)), "cov": (idx, ("dim", "dim2"))}
        units.update(
            mean="the fitted points' mean (generation 0: the truth's)",
            cov="the fitted points' biased covariance S_t (generation 0: the truth's)",
        )
    tails = {f"tail{k}": math.erfc(k * math.sqrt(0.5)) for k in (2, 3, 4)}
    truth = {
        **tails,
        "w2_sq_lower": 0.0,
        "nll": fam.entropy,
        "bandwidth": 0.0,
        "model_var": float(np.trace(fam.cov_matrix)),
    }
    return zero_state_kernel(
        "kde",
        params,
        advance,
        state_size,
        columns,
        units=units,
        arrays=arrays,
        counts=counts,
        truth=truth,
        default=lean_default(LEAN, cfg),
    )


def need_text(family) -> str:
    """How many points a fit needs, in words."""
    if family.rule == "fixed":
        return "1 point"
    return f"dim + 1 = {family.dim + 1} points (a regular sample covariance for the {family.rule} rule)"


def check_config(cfg: Config) -> None:
    """The KDE's cross-field rules: what a KDE refit has no use for is refused."""
    reject_token_knobs(cfg)
    if cfg.path != "samples":
        raise ValueError(
            "KDE needs path='samples': the model is its points, with no sufficient "
            "statistic whose law could be drawn directly"
        )
    if cfg.estimator != "mle":
        raise ValueError(
            f"Config.estimator must be 'mle' for KDE (the fit has no estimator choice: "
            f"the bandwidth rules use the unbiased covariance, as scipy's gaussian_kde); "
            f"got {cfg.estimator!r}"
        )
    if cfg.temperature != 1.0:
        raise ValueError(
            f"Config.temperature must be 1 for KDE (scale the kernel with KDE.bandwidth); "
            f"got {cfg.temperature!r}"
        )
    if cfg.truncation is not None:
        raise ValueError(
            "Config.truncation is not available for KDE (a KDE's samples are not "
            "standardised draws of one Gaussian)"
        )
    if cfg.weight is not None:
        raise ValueError("Config.weight is not available for KDE: the model is the KDE of the pooled points")
    if cfg.filter is not None:
        raise ValueError(
            "Config.filter is not available for KDE (use Fresh or Augment counts to set "
            "the real and synthetic points each fit has)"
        )


def check_scale(cfg: Config) -> None:
    """Refuses a truth whose first generation already overflows float64."""
    fam = cfg.family
    h2 = float(fam.bandwidth) ** 2 if fam.rule == "fixed" else 0.0
    check_gaussian_scale(
        fam,
        float(np.max(np.linalg.eigvalsh(fam.cov_matrix))) + h2,
        float(np.max(np.abs(fam.mean_vector))),
        1.0,
    )


SPEC = register(
    FamilySpec(
        cls=KDE,
        kernel=kernel,
        kernels=("kde",),
        cuda_advance={"kde": "advance_kde_cuda"},
        reference={"kde": ("kde", "advance_kde")},
        default_path="samples",
        check_config=check_config,
        need_text=need_text,
        check_scale=check_scale,
        toml_help="A Gaussian kernel density estimate of its fitted points, refit on its own samples; the "
        'truth N(mean, cov) (path = "samples").',
        toml_keys=(
            ("dim", "integer", "the dimension d (1 to 64)."),
            (
                "mean",
                ("float", "array"),
                "the truth's mean: a number (every coordinate) or a list of d numbers.",
            ),
            ("var", "float", "the truth's variance of every coordinate (cov = var I), unless cov is given."),
            (
                "cov",
                "array",
                "the truth's covariance: d rows of d numbers, symmetric positive definite; give "
                "var or cov, not both.",
                [[1.0]],
            ),
            (
                "bandwidth",
                ("float", "string"),
                'a number h > 0 (kernel covariance h^2 I) or "scott" / '
                '"silverman" (scipy.stats.gaussian_kde\'s rules, refit '
                "every generation).",
            ),
            ("test_points", "integer", "held-out truth draws per replica that the nll metric averages over."),
        ),
        validate_cases="kde",
        law_tests=("test_kde.py",),
        benchmark="kde.py",
        docs_page="kde",
        theory="kde",
    )
)
