"""The GaussianMixture family: a mixture of k Gaussians in d dimensions,
refit every generation by EM from the current fit (docs/guide/gmm.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks as check
from ..config import Accumulate, AccumulateSubsample, Augment, Config, normalise, reject_token_knobs
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
from .gaussian import check_gaussian_scale

COV_TYPES = ("full", "diag", "spherical")
MAX_COMPONENTS = 256  # csrc/bindings/module.cpp::make_gmm
MAX_MIXTURE_DIM = 64


@dataclass(frozen=True)
class GaussianMixture:
    """Gaussian mixture of k components in d dimensions, refit every
    generation by EM started from the current fit (csrc/madsim/models/gmm.hpp).
    The truth (generation 0) is sum_j weights[j] N(means[j], covs[j]).

    Parameters
    ----------
    weights
        k probabilities summing to 1 (within 1e-9).
    means
        k points of d coordinates (a k-list of numbers for d = 1).
    covs
        None (identity for every component), or per ``cov_type``: "full" k d x d
        symmetric positive definite matrices, "diag" k lists of d variances,
        "spherical" k variances. The fit keeps the same type (diag: off-
        diagonals 0; spherical: (tr S / d) I).
    cov_type
        "full" (default), "diag" or "spherical".
    em_iters
        EM iteration cap per generation (sklearn's max_iter).
    em_tol
        EM stops at iteration it > 1 once the mean log-likelihood of the
        training points changed by less than em_tol (sklearn's tol); 0: exactly
        em_iters iterations.
    cov_floor
        least conditional variance (Cholesky pivot^2) of a fitted component, so
        no component collapses to a singular covariance (a floored component is
        counted in ``floored``); must lie below every pivot^2 of the truth.

    Examples
    --------
    >>> import madsim as ms
    >>> fam = ms.GaussianMixture()      # 0.5 N(-2, 1) + 0.5 N(2, 1)
    >>> fam.second_moment
    5.0
    >>> ds = ms.simulate(ms.Config(family=fam, loop=ms.Replace(n=50)), replicas=100, generations=10,
    ...                  seed=1, metrics=["min_weight", "second_moment"])
    >>> float(ds["min_weight"].sel(generation=0)[0])
    0.5
    """

    weights: tuple = (0.5, 0.5)
    means: tuple = ((-2.0,), (2.0,))
    covs: tuple | None = None
    cov_type: str = "full"
    em_iters: int = 100
    em_tol: float = 1e-3
    cov_floor: float = 1e-6

    def __post_init__(self):
        normalise(self)
        check.choice("GaussianMixture.cov_type", self.cov_type, COV_TYPES)
        w = self._array("weights", self.weights, 1)
        k = w.size
        if k < 1 or k > MAX_COMPONENTS:
            raise ValueError(
                f"GaussianMixture.weights must list k in [1, {MAX_COMPONENTS}] components; got k = {k}"
            )
        if np.any(w < 0) or np.any(w > 1):
            i = int(np.nonzero((w < 0) | (w > 1))[0][0])
            raise ValueError(f"GaussianMixture.weights must lie in [0, 1]; weights[{i}] = {float(w[i])!r}")
        if abs(w.sum() - 1.0) > 1e-9:
            raise ValueError(
                f"GaussianMixture.weights must sum to 1 (within 1e-9); they sum to {float(w.sum())!r}"
            )
        m = self._array("means", self.means, None)
        if m.ndim == 1:
            m = m[:, None]
        if m.ndim != 2 or m.shape[0] != k:
            raise ValueError(f"GaussianMixture.means must be k = {k} points (k x d); got shape {m.shape}")
        d = m.shape[1]
        if d < 1 or d > MAX_MIXTURE_DIM:
            raise ValueError(
                f"GaussianMixture.means: dimension d must lie in [1, {MAX_MIXTURE_DIM}]; got {d}"
            )
        cov = self._covs(k, d)
        check.integer("GaussianMixture.em_iters", self.em_iters, 1, 10**6)
        check.real("GaussianMixture.em_tol", self.em_tol, 0.0)
        floor = check.real("GaussianMixture.cov_floor", self.cov_floor, 0.0, None, lo_open=True)
        piv = np.array([np.diag(np.linalg.cholesky(c)) ** 2 for c in cov])
        if piv.min() < floor:
            j, i = (int(x) for x in np.argwhere(piv == piv.min())[0])
            raise ValueError(
                f"GaussianMixture.cov_floor = {floor!r} must be <= every conditional variance of the "
                f"truth; component {j} has {float(piv[j, i])!r} (Cholesky pivot {i} squared)"
            )
        object.__setattr__(self, "weights", tuple(float(x) for x in w))
        object.__setattr__(self, "means", tuple(tuple(float(x) for x in row) for row in m))
        if self.covs is not None:
            c = np.asarray(self.covs, dtype=np.float64)
            object.__setattr__(
                self,
                "covs",
                tuple(float(x) for x in c)
                if c.ndim == 1
                else tuple(tuple(float(x) for x in r) for r in c)
                if c.ndim == 2
                else tuple(tuple(tuple(float(x) for x in r) for r in cj) for cj in c),
            )

    @staticmethod
    def _array(name, value, ndim):
        try:
            a = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"GaussianMixture.{name} must be numbers; got {value!r}") from None
        if ndim is not None and a.ndim != ndim:
            raise ValueError(f"GaussianMixture.{name} must be a flat list of numbers; got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"GaussianMixture.{name} must be finite; got {value!r}")
        return a

    def _covs(self, k, d) -> np.ndarray:
        """The k covariance matrices [k, d, d], checked (singular ones refused)."""
        if self.covs is None:
            return np.tile(np.eye(d), (k, 1, 1))
        c = self._array("covs", self.covs, None)
        want = {"full": (k, d, d), "diag": (k, d), "spherical": (k,)}[self.cov_type]
        if c.shape != want:
            raise ValueError(
                f"GaussianMixture.covs for cov_type={self.cov_type!r} must have shape {want} "
                f"(k = {k}, d = {d}); got {c.shape}"
            )
        if self.cov_type == "spherical":
            c = c[:, None, None] * np.eye(d)
        elif self.cov_type == "diag":
            c = c[:, :, None] * np.eye(d)
        for j in range(k):
            if not np.array_equal(c[j], c[j].T):
                raise ValueError(f"GaussianMixture.covs[{j}] must be symmetric")
            try:
                np.linalg.cholesky(c[j])
            except np.linalg.LinAlgError:
                raise ValueError(
                    f"GaussianMixture.covs[{j}] must be positive definite (not singular); its smallest "
                    f"eigenvalue is {float(np.linalg.eigvalsh(c[j])[0]):.6g}"
                ) from None
        return c

    @property
    def k(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return len(self.means[0])

    @property
    def min_points(self) -> int:
        """The points a fit needs, one (the covariance floor keeps any fit regular)."""
        return 1

    @property
    def weight_vector(self) -> np.ndarray:
        return np.array(self.weights, dtype=np.float64)

    @property
    def mean_matrix(self) -> np.ndarray:
        """[k, d]"""
        return np.array(self.means, dtype=np.float64)

    @property
    def cov_matrices(self) -> np.ndarray:
        """[k, d, d]"""
        return self._covs(self.k, self.dim)

    @property
    def mixture_mean(self) -> np.ndarray:
        """The truth's overall mean sum_j w_j mu_j [d]."""
        return self.weight_vector @ self.mean_matrix

    @property
    def second_moment(self) -> float:
        """The truth's ``E |x|^2 = sum_j w_j (tr Sigma_j + |mu_j|^2)``."""
        c, m = self.cov_matrices, self.mean_matrix
        return float(self.weight_vector @ (np.trace(c, axis1=1, axis2=2) + (m * m).sum(1)))

    def marginal_quantile(self, coord: int, q: float) -> float:
        """The q-quantile of the truth's marginal along coordinate ``coord``
        (a 1-D mixture: bisection on its CDF)."""
        from scipy.optimize import brentq
        from scipy.stats import norm

        w, m = self.weight_vector, self.mean_matrix[:, coord]
        s = np.sqrt(self.cov_matrices[:, coord, coord])
        f = lambda x: float(w @ norm.cdf((x - m) / s)) - q  # noqa: E731
        lo, hi = float((m - 40 * s).min()), float((m + 40 * s).max())
        return brentq(f, lo, hi, xtol=1e-14 * max(1.0, abs(lo), abs(hi)), rtol=1e-15, maxiter=500)


# The Gaussian-mixture columns of observe() (csrc/madsim/models/gmm.hpp),
# with their definitions: EM's counters of the last generation, then the
# summaries and the two distances to the truth.
GMM_COUNTERS = {
    "points_real": "real points the generation's fit had (after the filter; Accumulate: the "
    "pool's; AccumulateSubsample: the real points picked)",
    "points_synthetic": "synthetic points the generation's fit had (after the filter; Accumulate: "
    "the pool's; AccumulateSubsample: the synthetic points picked)",
    "skipped": "fits skipped so far for want of points (the model was kept)",
    "em_iters": "EM iterations the generation's fit ran (0: skipped)",
    "em_capped": "1 when the generation's EM stopped at the em_iters cap without meeting em_tol",
    "floored": "components of the generation's last M-step with a Cholesky pivot^2 raised to cov_floor",
    "emptied": "components of the generation's last M-step with responsibility mass < 1e-8 "
    "(mean and covariance kept; weight N_j / n)",
    "loglik": "mean log-likelihood of the training points in the fit's last E-step (the parameters "
    "before its last M-step; sklearn's lower_bound_)",
}
GMM_SUMMARY = {
    "second_moment": "the model's second moment E|x|^2 = sum_j w_j (tr Sigma_j + |mu_j|^2) (a "
    "martingale under MLE EM, tau = 1, no floor: docs/theory/accumulate.md)",
    "min_weight": "the smallest component weight, min_j w_j",
    "tail_mass": "model mass outside the truth's central 99.8% along each coordinate (beyond its "
    "marginal 1e-3 and 1 - 1e-3 quantiles), averaged over coordinates",
}
GMM_METRICS = {
    "l2": "L2 distance to the truth, (int (p_t - p_0)^2 dx)^1/2, closed form (absolute accuracy "
    "~1e-8 in the truth's units: the three Gaussian-product sums cancel near the truth)",
    "w2_sq_bound": "upper bound on W2^2(model, truth): sum_ij pi_ij W2^2(N_i, N0_j) for the coupling "
    "pi keeping min(w_i, w0_i) on each matched component pair, the rest by the product "
    "of the leftovers (>= the mixture-Wasserstein MW2^2 >= W2^2)",
}
# what metrics=None records
LEAN = ("weights", "means", "covs", "loglik", "second_moment", "min_weight")
GMM_PARAMS_BY_DEFAULT = 64  # record means and covs by default only up to this many numbers


def gmm_tails(fam: GaussianMixture) -> np.ndarray:
    """[2 d]: the truth's marginal 1e-3 quantiles, then its 1 - 1e-3 ones."""
    d = fam.dim
    return np.array(
        [fam.marginal_quantile(c, 1e-3) for c in range(d)]
        + [fam.marginal_quantile(c, 1.0 - 1e-3) for c in range(d)],
        dtype=np.float64,
    )


def gmm_truth(fam: GaussianMixture) -> np.ndarray:
    """The kernel's truth row: weights [k], means [k d], packed Cholesky factors [k T]."""
    rows, cols = np.tril_indices(fam.dim)
    L = np.linalg.cholesky(fam.cov_matrices)[:, rows, cols]
    return np.concatenate([fam.weight_vector, fam.mean_matrix.ravel(), L.ravel()]).astype(np.float64)


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    k, d = fam.k, fam.dim
    counts = loop_counts(cfg, generations)
    check_counts(cfg, counts)
    # Accumulate*: the state keeps every point of the run (the last block of the row)
    pool_cap = int(counts.sum()) + 1 if isinstance(loop, (Accumulate, AccumulateSubsample)) else 0
    args = dict(
        k=k,
        d=d,
        cov_type=("full", "diag", "spherical").index(fam.cov_type),
        loop=LOOP_CODES[type(loop)],
        em_iters=int(fam.em_iters),
        em_tol=float(fam.em_tol),
        cov_floor=float(fam.cov_floor),
        tau=float(cfg.temperature),
        tpr=cfg.filter.tpr if cfg.filter else 0.0,
        fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        truth=gmm_truth(fam),
        tails=gmm_tails(fam),
        counts=counts,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0,
        pool_cap=pool_cap,
    )
    params, advance, state_size, at = compiled(
        "GaussianMixture", "gmm", args, backend, cfg, replicas, pool_cap
    )
    T = d * (d + 1) // 2
    packed = at["covs"]  # each component's covariance factor, packed lower triangle by rows
    cov_idx = np.empty((k, d, d), dtype=np.int64)
    for j in range(k):
        for a in range(d):
            for b in range(a + 1):
                cov_idx[j, a, b] = cov_idx[j, b, a] = packed[j * T + a * (a + 1) // 2 + b]
    arrays = {
        "weights": (at["weights"], ("component",)),
        "means": (at["means"].reshape(k, d), ("component", "dim")),
        "covs": (cov_idx, ("component", "dim", "dim2")),
        "mix_mean": (at["mix_mean"], ("dim",)),
    }
    columns = scalar_columns(at, (*GMM_COUNTERS, *GMM_SUMMARY, *GMM_METRICS))
    units = {
        "weights": "component weights w_j",
        "means": "component means mu_j",
        "covs": "component covariances Sigma_j",
        "mix_mean": "the model's overall mean sum_j w_j mu_j (a martingale under MLE EM, tau = 1)",
        **GMM_COUNTERS,
        **GMM_SUMMARY,
        **GMM_METRICS,
    }
    truth = {
        "second_moment": fam.second_moment,
        "min_weight": float(min(fam.weights)),
        "tail_mass": 2e-3,
        "l2": 0.0,
        "w2_sq_bound": 0.0,
    }
    return zero_state_kernel(
        "gmm",
        params,
        advance,
        state_size,
        columns,
        units=units,
        arrays=arrays,
        counts=counts,
        truth=truth,
        default=lean_default(LEAN, cfg, () if k * (d + T) <= GMM_PARAMS_BY_DEFAULT else ("means", "covs")),
    )


def need_text(family) -> str:
    """How many points a fit needs, in words."""
    return "1 point"


def check_config(cfg: Config) -> None:
    """The mixture's cross-field rules (after the token knobs, which do not apply)."""
    reject_token_knobs(cfg)
    if cfg.path != "samples":
        raise ValueError(
            "GaussianMixture needs path='samples': the EM refit depends on the points "
            "themselves, not on a sufficient statistic whose law could be drawn directly"
        )
    if cfg.estimator != "mle":
        raise ValueError(
            f"Config.estimator must be 'mle' for GaussianMixture (EM is a maximum "
            f"likelihood fit); got {cfg.estimator!r}"
        )
    if cfg.truncation is not None:
        raise ValueError("Config.truncation is not available for GaussianMixture (use temperature)")
    if cfg.weight is not None:
        raise ValueError("Config.weight is not available for GaussianMixture: EM fits the pooled points")


def check_scale(cfg: Config) -> None:
    """Refuses parameters whose first generation already overflows float64."""
    fam = cfg.family
    tau = float(cfg.temperature)
    check_gaussian_scale(
        fam,
        float(np.max(np.linalg.eigvalsh(fam.cov_matrices))),
        float(np.max(np.abs(fam.mean_matrix))),
        tau * tau,
    )


_QUOTED_COV_TYPES = ", ".join(f'"{v}"' for v in COV_TYPES)

SPEC = register(
    FamilySpec(
        cls=GaussianMixture,
        kernel=kernel,
        kernels=("gmm",),
        cuda_advance={"gmm": "advance_gmm_cuda"},
        reference={"gmm": ("gmm", "advance_gmm")},
        default_path="samples",
        check_config=check_config,
        need_text=need_text,
        check_scale=check_scale,
        toml_help="A mixture of k Gaussians in d dimensions, refit by EM from the current fit "
        '(path = "samples").',
        toml_keys=(
            ("weights", "array", "k probabilities summing to 1."),
            ("means", "array", "k points of d coordinates (for d = 1 also a list of k numbers)."),
            (
                "covs",
                "array",
                "not set: the identity for every component; else, by cov_type, k d x d "
                'matrices ("full"), k lists of d variances ("diag") or k variances '
                '("spherical").',
                [[[1.0]], [[1.0]]],
            ),
            ("cov_type", "string", f"one of {_QUOTED_COV_TYPES}; the fit keeps the same type."),
            ("em_iters", "integer", "EM iteration cap per generation."),
            (
                "em_tol",
                "float",
                "EM stops once the mean log-likelihood changes by less (0: exactly em_iters iterations).",
            ),
            (
                "cov_floor",
                "float",
                "the least conditional variance of a fitted component (below every one of the truth's).",
            ),
        ),
        validate_cases="gmm",
        law_tests=("test_gmm.py",),
        benchmark="gmm.py",
        docs_page="gmm",
    )
)
