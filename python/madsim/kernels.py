"""How each configuration maps onto a compiled kernel: its parameter struct,
initial state row, and the names of what ``observe`` writes.

This is the one table to extend when a family or loop is added; ``simulate``
itself knows no family.

Two Gaussian kernels exist: ``Gaussian1D`` (the 1-D replace loop with a
constant n and no knob beyond temperature: the fast special case, one
chi-square per generation) and ``GaussianLoop`` (any dimension, every loop
and knob). They consume different streams, so the same seed gives different
(equally valid) replicas; which one ran is in ``attrs["kernel"]``.

Each kernel has two backends: "cpu", the compiled C++ core, and "jax", its
pure-JAX twin in ``madsim.reference`` (the test oracle: same streams, same
state and record layout, integers exact, floats to rounding; several times
slower, and compiling for seconds per model). ``kernel_for(..., backend="jax")`` swaps
the params and the advance function and nothing else, so the driver cannot
tell them apart. A third, "cuda", runs the same compiled step functions on a
GPU (csrc/cuda/launch.cu; same params, ``advance_<family>_cuda``), where
madsim was built with CUDA and a device is visible (else
CudaUnavailableError saying which is missing).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ._backend import core, require_cuda
from .config import _need_text
from .config import (Accumulate, AccumulateSubsample, Augment, Bigram, Categorical, Config,
                     Fresh, Gaussian, GaussianMixture, PPCA, Regression, Replace)

LOOP_CODES = {Replace: 0, Augment: 1, Fresh: 2, Accumulate: 3, AccumulateSubsample: 4}
BACKENDS = ("cpu", "jax", "cuda")
MEMORY_FRACTION = 0.5  # refuse runs whose state would take more of the RAM than this

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


@dataclass(frozen=True)
class Kernel:
    name: str                      # which compiled family runs
    params: object                 # the family's _core params struct (reference params: "jax")
    advance: Callable              # _core.advance_<family> (its madsim.reference twin: "jax")
    initial_state: np.ndarray      # [S] the state row before generation 0 (init may rewrite it)
    observed: tuple[str, ...]      # names of observe()'s scalar outputs (detectors use them)
    columns: dict                  # name -> column of observe()'s output
    units: dict                    # name -> description for attrs
    arrays: dict = field(default_factory=dict)  # name -> (index array, dims) for vectors/matrices
    counts: np.ndarray | None = None  # [G, 2] (real, synthetic) per generation, when scheduled
    truth: dict = field(default_factory=dict)   # name -> the truth's value (attrs "truth_value")
    default: tuple = ()            # what metrics=None records (see lean_default); () records all

    @property
    def variables(self) -> tuple[str, ...]:
        """Every variable a run can record, in Dataset order: arrays, then columns."""
        return tuple(self.arrays) + tuple(self.columns)

    @property
    def default_variables(self) -> tuple[str, ...]:
        """What a run records when it names no metrics, in Dataset order."""
        if not self.default:
            return self.variables
        return tuple(v for v in self.variables if v in self.default)

    def record_columns(self, names) -> np.ndarray:
        """The sorted observe() columns the variables ``names`` read (int32)."""
        cols = set()
        for name in names:
            if name in self.arrays:
                cols.update(int(c) for c in np.unique(self.arrays[name][0]))
            else:
                cols.add(int(self.columns[name]))
        return np.array(sorted(cols), dtype=np.int32)


# What ``metrics=None`` records, per family: the model's own parameters and
# a few summaries that cost next to nothing and are not functions of what is
# recorded (so memory and disk stay ~ replicas x records x parameters: 16 MB
# for 10^4 replicas x 101 records of the 1-D mean and variance). Distances,
# tail masses, quantiles and the like (some cost far more than the step
# itself: the d > 1 tail masses are generalised chi-square CDFs) are recorded
# when named, ``metrics=[...]``, or all of them with ``metrics="all"``.
# Detectors watch any metric whether recorded or not.
LEAN = {
    "gaussian1d": ("mean", "var"),
    "gaussian": ("mean", "var", "cov"),
    "ppca": ("mean", "factor_var", "noise_var", "subspace_sin2", "max_angle"),
    "categorical": ("probs", "entropy", "support", "gini_simpson"),
    "bigram": ("transition", "entropy_rate", "edges", "tokens_alive"),
    "gmm": ("weights", "means", "covs", "loglik", "second_moment", "min_weight"),
    "regression": ("w", "noise_var", "test_error"),
}
# With a filter the points each fit had are random, and fits can be skipped:
# the counters then carry information and are recorded by default too.
FILTER_COUNTERS = ("points_real", "points_synthetic", "skipped")


def lean_default(lean: str, cfg: Config, drop: tuple = ()) -> tuple:
    """The variables ``metrics=None`` records for ``cfg`` (LEAN[lean], the
    filter counters where a filter is set), less ``drop`` (arrays too large
    to record by default)."""
    names = LEAN[lean] + (FILTER_COUNTERS if cfg.filter is not None else ())
    return tuple(n for n in names if n not in drop)


def _compiled(holder: str, name: str, args: dict, backend: str, cfg: Config, replicas: int,
              *memory) -> tuple:
    """(params, advance, state_size) of a family kernel: the compiled
    ``_core.<holder>Params`` validates ``args`` (also for the JAX twin), the
    run's state is checked against the RAM (``memory``: _check_memory's
    pool_cap[, row]), and backend "jax" swaps in ``reference.<name>``'s
    Params and ``reference.backend.advance_<name>``."""
    params = getattr(core, f"{holder}Params")(**args)
    _check_memory(cfg, params.state_size, replicas, *memory)
    if backend == "jax":
        ref = _reference()
        return getattr(ref, name).Params(**args), getattr(ref.backend, f"advance_{name}"), params.state_size
    return params, getattr(core, f"advance_{name}"), params.state_size


def _zero_state_kernel(name: str, params, advance, state_size: int, columns: dict, **rest) -> Kernel:
    """A family kernel whose state row starts at zeros (its init writes the
    truth and any set-up draws) and which observes its columns."""
    return Kernel(name=name, params=params, advance=advance,
                  initial_state=np.zeros(state_size, dtype=np.float64), observed=tuple(columns),
                  columns=columns, **rest)


def uses_gaussian1d(cfg: Config) -> bool:
    """True when the fast 1-D kernel runs ``cfg`` (same law as GaussianLoop at d = 1)."""
    return (isinstance(cfg.family, Gaussian) and cfg.family.dim == 1
            and isinstance(cfg.loop, Replace) and isinstance(cfg.loop.n, int)
            and cfg.truncation is None and cfg.filter is None and cfg.weight is None)


def kernel_for(cfg: Config, generations: int = 0, replicas: int = 1, backend: str = "cpu") -> Kernel:
    """The kernel that runs ``cfg``: the compiled core (backend "cpu") or its
    JAX twin (backend "jax"; params and advance from ``madsim.reference``,
    everything else identical)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")
    if backend == "cuda":
        require_cuda()
        return _cuda_kernel(kernel_for(cfg, generations, replicas, "cpu"), replicas)
    fam, loop = cfg.family, cfg.loop
    if uses_gaussian1d(cfg):
        args = dict(n=float(loop.n), tau=float(cfg.temperature),
                    estimator=0 if cfg.estimator == "mle" else 1,
                    path=0 if cfg.path == "exact" else 1,
                    mu0=float(fam.mean), var0=float(fam.var))
        # observe: [mean, var, logdet, mean_sq | METRICS] (gaussian1d.hpp)
        columns = {"mean": 0, "var": 1, "logdet": 2, "mean_sq": 3,
                   **{name: 4 + k for k, name in enumerate(METRICS)}}
        kern = Kernel(
            name="gaussian1d",
            params=core.Gaussian1DParams(**args),
            advance=core.advance_gaussian1d,
            initial_state=np.array([fam.mean, fam.var], dtype=np.float64),
            observed=tuple(columns),
            columns=columns,
            units={"mean": "fitted mean mu_t", "var": "fitted variance sigma_t^2",
                   "logdet": "log-variance, ln sigma_t^2",
                   "mean_sq": "squared distance of the fitted mean to the truth's, |mu_t - mu_0|^2",
                   **METRICS},
            truth=truth_values(float(fam.mean), math.sqrt(float(fam.var))),
            default=lean_default("gaussian1d", cfg),
        )
        if backend == "jax":
            ref = _reference()
            kern = replace(kern, params=ref.gaussian.Params(**{**args, "n": int(loop.n)}),
                           advance=ref.backend.advance)
        return kern
    if isinstance(fam, (Gaussian, PPCA)):
        return _gaussian_loop(cfg, generations, replicas, backend)
    if isinstance(fam, Categorical):
        return _categorical(cfg, generations, replicas, backend)
    if isinstance(fam, Bigram):
        return _bigram(cfg, generations, replicas, backend)
    if isinstance(fam, GaussianMixture):
        return _gmm(cfg, generations, replicas, backend)
    if isinstance(fam, Regression):
        return _regression(cfg, generations, replicas, backend)
    raise ValueError(f"no kernel for family {fam!r} with loop {loop!r}")  # pragma: no cover


def _reference():
    """madsim.reference, or an ImportError that says how to get jax."""
    try:
        from . import reference
    except ImportError as exc:
        if (getattr(exc, "name", None) or "").split(".")[0] in ("jax", "jaxlib"):
            raise ImportError(
                "backend='jax' runs madsim.reference, the JAX twin of the compiled core, which "
                f"needs jax ({exc}): pip install madsim[jax]") from exc
        raise
    return reference


def gaussian_counts(cfg: Config, generations: int) -> np.ndarray:
    """[G, 2] real and synthetic points added at generations 1..G (before the filter)."""
    real, syn = cfg.loop.counts(generations)
    counts = np.ascontiguousarray(np.stack([real, syn], axis=1), dtype=np.float64)
    return counts.reshape(generations, 2)


def _gaussian_loop(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    d = fam.dim
    counts = gaussian_counts(cfg, generations)
    _check_counts(cfg, counts)
    L0 = np.linalg.cholesky(fam.cov_matrix)
    rows, cols = np.tril_indices(d)
    truth = np.concatenate([fam.mean_vector, L0[rows, cols]]).astype(np.float64)
    pool_cap = int(counts.sum()) + 1 if isinstance(loop, AccumulateSubsample) else 0
    args = dict(
        d=d, loop=LOOP_CODES[type(loop)], estimator=0 if cfg.estimator == "mle" else 1,
        path=0 if cfg.path == "exact" else 1, tau=float(cfg.temperature),
        trunc=float(cfg.truncation or 0.0),
        weight=-1.0 if cfg.weight is None else cfg.weight_value,
        tpr=cfg.filter.tpr if cfg.filter else 0.0, fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0,
        pool_cap=pool_cap, truth=truth, counts=counts)
    if isinstance(fam, PPCA):  # the same kernel, each fit projected onto q factors
        args.update(factors=fam.factors, basis=np.ascontiguousarray(fam.basis, dtype=np.float64))
    params, advance, state_size = _compiled("GaussianLoop", "gaussian_loop", args, backend, cfg, replicas,
                                              pool_cap)

    T = d * (d + 1) // 2
    base = d + T
    units = {
        "trace": "trace of the fitted covariance, tr Sigma_t",
        "logdet": "log-determinant of the fitted covariance, ln det Sigma_t",
        "mean_sq": "squared distance of the fitted mean to the truth's, |mu_t - mu_0|^2",
        "points_real": "real points the generation's fit had (after the filter)",
        "points_synthetic": "synthetic points the generation's fit had (after the filter)",
        "skipped": "fits skipped so far for too few points (the model was kept)",
    }
    tail = ("trace", "logdet", "mean_sq", "points_real", "points_synthetic", "skipped")
    columns = {name: base + k for k, name in enumerate(tail)}
    # the metrics follow at metrics_at = base + 6 (gaussian_loop.hpp): every
    # one in METRICS order for d = 1, those not 1-D-only for d > 1
    names = [m for m in METRICS if d == 1 or m not in METRICS_1D_ONLY]
    metrics = {name: base + len(tail) + k for k, name in enumerate(names)}
    units.update({m: METRICS[m] for m in names})
    arrays = {}
    truth_vals = {}
    if d == 1:
        columns = {"mean": 0, "var": 1, **columns, **metrics}
        del columns["trace"]
        units.update(mean="fitted mean mu_t", var="fitted variance sigma_t^2")
        units["logdet"] = "log-variance, ln sigma_t^2"
        del units["trace"]
        truth_vals = truth_values(float(fam.mean_vector[0]), float(L0[0, 0]))
    else:
        columns.update(metrics)
        idx = np.empty((d, d), dtype=np.int64)
        for i in range(d):
            for j in range(i + 1):
                idx[i, j] = idx[j, i] = d + i * (i + 1) // 2 + j
        arrays = {"mean": (np.arange(d), ("dim",)), "cov": (idx, ("dim", "dim2"))}
        units.update(mean="fitted mean mu_t", cov="fitted covariance Sigma_t")
        truth_vals = truth_values_nd(d)
    if isinstance(fam, PPCA):
        _ppca_columns(fam, base + len(tail) + len(names), columns, arrays, units, truth_vals)
    return _zero_state_kernel(
        "gaussian_loop", params, advance, state_size, columns,
        units=units,
        arrays=arrays,
        counts=counts,
        truth=truth_vals,
        default=lean_default("ppca" if isinstance(fam, PPCA) else "gaussian", cfg),
    )


# PPCA's observe columns (csrc/madsim/ppca.hpp::ppca_metrics), after the metrics.
PPCA_METRICS = {
    "noise_var": "noise variance s2_t: the mean of the fitted covariance's d - q smallest "
                 "eigenvalues",
    "subspace_sin2": "sum of sin^2 of the principal angles between the model's q-dim principal "
                     "subspace and the truth's, q - |U0' U_t|_F^2 (0: the same subspace, q: "
                     "orthogonal)",
    "max_angle": "largest principal angle between the model's principal subspace and the "
                 "truth's (radians, in [0, pi/2])",
}


def _ppca_columns(fam: PPCA, at: int, columns: dict, arrays: dict, units: dict, truth: dict):
    """Adds PPCA's [factor_var q | noise_var, subspace_sin2, max_angle] columns
    (starting at observe column ``at``) and their truth values."""
    q = fam.factors
    arrays["factor_var"] = (at + np.arange(q), ("factor",))
    units["factor_var"] = ("variance the model keeps along its j-th principal direction: the fitted "
                           "covariance's eigenvalues l_1 >= ... >= l_q (= |w_j|^2 + s2_t)")
    columns.update({name: at + q + k for k, name in enumerate(PPCA_METRICS)})
    units.update(PPCA_METRICS)
    truth.update(factor_var=fam.principal_variances.tolist(), noise_var=float(fam.noise),
                 subspace_sin2=0.0, max_angle=0.0)


def _check_counts(cfg: Config, counts: np.ndarray):
    """Per-generation checks a callable or list schedule defers to run time."""
    loop, need = cfg.loop, cfg.family.min_points
    what = _need_text(cfg.family)
    tpr = cfg.filter.tpr if cfg.filter else 0.0
    fpr = cfg.filter.fpr if cfg.filter else 0.0
    if isinstance(loop, (Replace, Fresh)):
        usable = counts[:, 0] * (fpr < 1.0) + counts[:, 1] * (tpr < 1.0)
        bad = np.nonzero(usable < need)[0]
        if bad.size:
            t = int(bad[0]) + 1
            raise ValueError(
                f"{type(loop).__name__}: generation {t} has {int(counts[t - 1, 0])} real + "
                f"{int(counts[t - 1, 1])} synthetic points; a fit needs at least {what} "
                "that can survive the filter")
    if cfg.weight is not None:
        need = max(1, need)
        real_col = 0 if isinstance(loop, Fresh) else None
        if real_col is not None and counts[:, 0].min() < need:
            raise ValueError(f"Config.weight: Fresh.real must be >= {what} every generation")
        if counts[:, 1].min() < need:
            raise ValueError(
                f"Config.weight: {type(loop).__name__}.synthetic must be >= {what} "
                "every generation")


# The token metrics observe() computes (csrc/madsim/token_metrics.hpp, in
# its TokenMetric order), with their definitions.
TOKEN_METRICS = {
    "entropy": "entropy of the model, -sum_i p_i ln p_i (nats)",
    "support": "tokens with positive model probability (the surviving tokens)",
    "gini_simpson": "Gini-Simpson diversity, 1 - sum_i p_i^2",
    "rare_mass": "model mass of the truth's rarest tokens (Categorical.rare: the ceil(q K) "
                 "tokens of smallest p0)",
    "max_prob": "largest token probability, max_i p_i",
    "tv": "total variation distance to the truth, (1/2) sum_i |p_i - p0_i|",
    "kl_model_truth": "KL(model || truth) = sum_i p_i ln(p_i / p0_i)",
    "kl_truth_model": "KL(truth || model) = sum_i p0_i ln(p0_i / p_i) (+inf once a token of the "
                      "truth is lost)",
    "zipf_exponent": "Zipf exponent s of the model: minus the least-squares slope of ln p_(r) on "
                     "ln r over its surviving ranks r (+inf with one token left)",
}
PROBS_BY_DEFAULT = 64  # record the probability vector by default only up to this many tokens


def token_truth_values(p0: np.ndarray, rare: np.ndarray) -> dict:
    """The truth's own value of each token metric (its value at generation 0)."""
    pos = p0[p0 > 0]
    s = np.sort(pos)[::-1]
    if s.size > 1:
        x = np.log(np.arange(1, s.size + 1))
        zipf = -float(np.polyfit(x, np.log(s), 1)[0])
    else:
        zipf = math.inf
    return {"entropy": float(-(pos * np.log(pos)).sum()), "support": float(pos.size),
            "gini_simpson": float(1.0 - (p0 * p0).sum()), "rare_mass": float(p0[rare].sum()),
            "max_prob": float(p0.max()), "tv": 0.0, "kl_model_truth": 0.0, "kl_truth_model": 0.0,
            "zipf_exponent": zipf}


def _categorical(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    K = fam.tokens
    counts = gaussian_counts(cfg, generations)
    _check_counts(cfg, counts)
    p0 = fam.truth
    rare_idx = fam.rare_tokens
    rare = np.zeros(K)
    rare[rare_idx] = 1.0
    args = dict(
        loop=LOOP_CODES[type(loop)], path=0 if cfg.path == "exact" else 1,
        top_k=int(cfg.top_k or 0), tau=float(cfg.temperature),
        top_p=1.0 if cfg.top_p is None else float(cfg.top_p), smoothing=float(fam.smoothing),
        weight=-1.0 if cfg.weight is None else cfg.weight_value,
        tpr=cfg.filter.tpr if cfg.filter else 0.0, fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0,
        truth=p0, rare=rare, counts=counts)
    params, advance, state_size = _compiled("Categorical", "categorical", args, backend, cfg, replicas, 0)
    units = {
        "probs": "model token probabilities p_t",
        "points_real": "real tokens the generation's fit had (after the filter; accumulating "
                       "loops: the pool's)",
        "points_synthetic": "synthetic tokens the generation's fit had (after the filter; "
                            "accumulating loops: the pool's)",
        "skipped": "fits skipped so far for want of tokens (the model was kept)",
        **TOKEN_METRICS,
    }
    columns = {"points_real": K, "points_synthetic": K + 1, "skipped": K + 2}
    columns.update({name: K + 3 + k for k, name in enumerate(TOKEN_METRICS)})
    return _zero_state_kernel(
        "categorical", params, advance, state_size, columns,
        units=units,
        arrays={"probs": (np.arange(K), ("token",))},
        counts=counts,
        truth=token_truth_values(p0, rare_idx),
        default=lean_default("categorical", cfg, () if K <= PROBS_BY_DEFAULT else ("probs",)),
    )


# The bigram metrics observe() computes (csrc/madsim/bigram_metrics.hpp, in
# its BigramMetric order), with their definitions; pi0 is the truth's
# stationary law (fixed).
BIGRAM_METRICS = {
    "entropy_rate": "entropy rate under the truth's stationary law, sum_i pi0_i H(P_t[i]) (nats "
                    "per token)",
    "kl_rate_truth_model": "sum_i pi0_i KL(P0[i] || P_t[i]): the excess cross-entropy per token of "
                           "the model on real text (+inf once a true transition is lost)",
    "kl_rate_model_truth": "sum_i pi0_i KL(P_t[i] || P0[i])",
    "tv_rate": "sum_i pi0_i TV(P_t[i], P0[i]), TV = (1/2) sum_j |P_t[i, j] - P0[i, j]|",
    "edges": "transitions with positive model probability, #{(i, j): P_t[i, j] > 0}",
    "tokens_alive": "tokens the model can still emit after some token, #{j: P_t[i, j] > 0 for some i}",
}
TRANSITION_BY_DEFAULT = 8  # record the transition matrix by default only up to this many tokens


def bigram_truth_values(P0: np.ndarray, pi0: np.ndarray) -> dict:
    """The truth's own value of each bigram metric (its value at generation 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(P0 > 0, P0 * np.log(np.where(P0 > 0, P0, 1.0)), 0.0).sum(axis=1)
    return {"entropy_rate": float(pi0 @ h), "kl_rate_truth_model": 0.0, "kl_rate_model_truth": 0.0,
            "tv_rate": 0.0, "edges": float((P0 > 0).sum()),
            "tokens_alive": float((P0 > 0).any(axis=0).sum())}


def _bigram(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    K = fam.tokens
    counts = gaussian_counts(cfg, generations)
    _check_counts(cfg, counts)
    P0, pi0 = fam.truth, fam.stationary
    args = dict(
        loop=LOOP_CODES[type(loop)], path=1, top_k=int(cfg.top_k or 0), tau=float(cfg.temperature),
        top_p=1.0 if cfg.top_p is None else float(cfg.top_p), smoothing=float(fam.smoothing),
        tpr=cfg.filter.tpr if cfg.filter else 0.0, fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        length=int(fam.length), truth=P0, start=fam.start_law, pi0=pi0, counts=counts,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0)
    params, advance, state_size = _compiled("Bigram", "bigram", args, backend, cfg, replicas, 0)
    KK = K * K
    units = {
        "transition": "model transition matrix P_t[token, next_token]",
        "points_real": "real sequences the generation's fit had (after the filter; Accumulate: "
                       "the pool's; AccumulateSubsample: real pairs picked / (length - 1))",
        "points_synthetic": "synthetic sequences the generation's fit had (after the filter; "
                            "Accumulate: the pool's; AccumulateSubsample: synthetic pairs "
                            "picked / (length - 1))",
        "skipped": "fits skipped so far for want of sequences (the model was kept)",
        "rows_kept": "rows of the generation's fit with no visit (model t-1's row kept)",
        **BIGRAM_METRICS,
    }
    columns = {"points_real": KK, "points_synthetic": KK + 1, "skipped": KK + 2, "rows_kept": KK + 3}
    columns.update({name: KK + 4 + k for k, name in enumerate(BIGRAM_METRICS)})
    return _zero_state_kernel(
        "bigram", params, advance, state_size, columns,
        units=units,
        arrays={"transition": (np.arange(KK).reshape(K, K), ("token", "next_token"))},
        counts=counts,
        truth=bigram_truth_values(P0, pi0),
        default=lean_default("bigram", cfg, () if K <= TRANSITION_BY_DEFAULT else ("transition",)),
    )


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
GMM_PARAMS_BY_DEFAULT = 64  # record means and covs by default only up to this many numbers


def gmm_tails(fam: GaussianMixture) -> np.ndarray:
    """[2 d]: the truth's marginal 1e-3 quantiles, then its 1 - 1e-3 ones."""
    d = fam.dim
    return np.array([fam.marginal_quantile(c, 1e-3) for c in range(d)]
                    + [fam.marginal_quantile(c, 1.0 - 1e-3) for c in range(d)], dtype=np.float64)


def gmm_truth(fam: GaussianMixture) -> np.ndarray:
    """The kernel's truth row: weights [k], means [k d], packed Cholesky factors [k T]."""
    rows, cols = np.tril_indices(fam.dim)
    L = np.linalg.cholesky(fam.cov_matrices)[:, rows, cols]
    return np.concatenate([fam.weight_vector, fam.mean_matrix.ravel(), L.ravel()]).astype(np.float64)


def _gmm(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    k, d = fam.k, fam.dim
    counts = gaussian_counts(cfg, generations)
    _check_counts(cfg, counts)
    # Accumulate*: the state keeps every point of the run (the last block of the row)
    pool_cap = int(counts.sum()) + 1 if isinstance(loop, (Accumulate, AccumulateSubsample)) else 0
    args = dict(
        k=k, d=d, cov_type=("full", "diag", "spherical").index(fam.cov_type),
        loop=LOOP_CODES[type(loop)], em_iters=int(fam.em_iters), em_tol=float(fam.em_tol),
        cov_floor=float(fam.cov_floor), tau=float(cfg.temperature),
        tpr=cfg.filter.tpr if cfg.filter else 0.0, fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        truth=gmm_truth(fam), tails=gmm_tails(fam), counts=counts,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0,
        pool_cap=pool_cap)
    params, advance, state_size = _compiled("GaussianMixture", "gmm", args, backend, cfg, replicas,
                                              pool_cap)
    T = d * (d + 1) // 2
    P = k * (1 + d + T)
    cov_idx = np.empty((k, d, d), dtype=np.int64)
    for j in range(k):
        for a in range(d):
            for b in range(a + 1):
                cov_idx[j, a, b] = cov_idx[j, b, a] = k * (1 + d) + j * T + a * (a + 1) // 2 + b
    summary = P + len(GMM_COUNTERS)
    arrays = {"weights": (np.arange(k), ("component",)),
              "means": (k + np.arange(k * d).reshape(k, d), ("component", "dim")),
              "covs": (cov_idx, ("component", "dim", "dim2")),
              "mix_mean": (summary + np.arange(d), ("dim",))}
    columns = {name: P + c for c, name in enumerate(GMM_COUNTERS)}
    columns.update({name: summary + d + c for c, name in enumerate(GMM_SUMMARY)})
    columns.update({name: summary + d + len(GMM_SUMMARY) + c for c, name in enumerate(GMM_METRICS)})
    units = {"weights": "component weights w_j", "means": "component means mu_j",
             "covs": "component covariances Sigma_j",
             "mix_mean": "the model's overall mean sum_j w_j mu_j (a martingale under MLE EM, tau = 1)",
             **GMM_COUNTERS, **GMM_SUMMARY, **GMM_METRICS}
    truth = {"second_moment": fam.second_moment, "min_weight": float(min(fam.weights)),
             "tail_mass": 2e-3, "l2": 0.0, "w2_sq_bound": 0.0}
    return _zero_state_kernel(
        "gmm", params, advance, state_size, columns,
        units=units,
        arrays=arrays,
        counts=counts,
        truth=truth,
        default=lean_default("gmm", cfg, () if k * (d + T) <= GMM_PARAMS_BY_DEFAULT else ("means", "covs")),
    )


# What the regression kernel observes (csrc/madsim/models/regression.hpp),
# after the weight vector w; the truth's value of each is its generation 0.
REGRESSION_VARS = {
    "noise_var": "fitted noise variance (RSS / N, or / (N - dim) for estimator='unbiased')",
    "test_error": "excess test risk (w_t - w*)' Sigma (w_t - w*) = E(x'w_t - x'w*)^2",
    "w_norm": "norm of the fitted weights, |w_t|",
    "points_real": "real rows the generation's fit had (after the filter; Accumulate: the pool's)",
    "points_synthetic": "synthetic rows the generation's fit had (after the filter; Accumulate: "
                        "the pool's)",
    "skipped": "fits skipped so far for too few rows or a singular X'X (the model was kept)",
}


def regression_truth(fam: Regression) -> np.ndarray:
    """The kernel's truth row: w*, Sigma's Cholesky factor (packed), sigma0^2."""
    d = fam.dim
    rows, cols = np.tril_indices(d)
    L0 = np.linalg.cholesky(fam.cov_matrix)
    return np.concatenate([fam.weight_vector, L0[rows, cols], [fam.noise]]).astype(np.float64)


def _regression(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    d = fam.dim
    counts = gaussian_counts(cfg, generations)
    _check_counts(cfg, counts)
    fixed = fam.design == "fixed"
    one = gaussian_counts(cfg, 1)[0] if fixed else np.zeros(2)  # constant counts (checked by Config)
    args = dict(
        d=d, loop=LOOP_CODES[type(loop)], path=0 if cfg.path == "exact" else 1,
        design=1 if fixed else 0, estimator=0 if cfg.estimator == "mle" else 1,
        refit_noise=int(fam.refit_noise), ridge=float(fam.ridge),
        tpr=cfg.filter.tpr if cfg.filter else 0.0, fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        fixed_real=float(one[0]), fixed_synthetic=float(one[1]),
        truth=regression_truth(fam), counts=counts)
    if isinstance(loop, AccumulateSubsample):  # every row drawn: [x d | y | real]
        args.update(subsample_n=loop.n, pool_cap=int(counts.sum()) + 1)
    params, advance, state_size = _compiled("Regression", "regression", args, backend, cfg, replicas,
                                              args.get("pool_cap", 0), d + 2)
    columns = {name: d + k for k, name in enumerate(REGRESSION_VARS)}
    w0 = fam.weight_vector
    return _zero_state_kernel(
        "regression", params, advance, state_size, columns,
        units={"w": "fitted weights w_t", **REGRESSION_VARS},
        arrays={"w": (np.arange(d), ("dim",))},
        counts=counts,
        truth={"noise_var": float(fam.noise), "test_error": 0.0,
               "w_norm": float(np.sqrt(w0 @ w0))},
        default=lean_default("regression", cfg),
    )


def _check_memory(cfg: Config, state_size: int, replicas: int, pool_cap: int, row: int = 0):
    need = 8.0 * state_size * replicas
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return
    if need > MEMORY_FRACTION * ram:
        extra = ""
        if pool_cap:
            extra = (f" ({type(cfg.loop).__name__} keeps every point: {pool_cap - 1} points x "
                     f"{row or cfg.family.dim + 1} doubles per replica)")
        raise MemoryError(
            f"the run's state needs {need / 2**30:.2f} GiB for {replicas} replicas{extra}, more than "
            f"{MEMORY_FRACTION:.0%} of this machine's {ram / 2**30:.1f} GiB; run fewer replicas or "
            "generations per call")


# backend "cuda": the compiled params, the CUDA launcher's advance.
CUDA_ADVANCE = {"gaussian1d": "advance_gaussian1d_cuda",
                "gaussian_loop": "advance_gaussian_loop_cuda",
                "categorical": "advance_categorical_cuda",
                "bigram": "advance_bigram_cuda",
                "gmm": "advance_gmm_cuda",
                "regression": "advance_regression_cuda"}


def _cuda_kernel(kern: Kernel, replicas: int) -> Kernel:
    """``kern`` (backend "cpu") with the CUDA launcher's advance, after a
    first check that the state rows fit in the device's free memory (each
    call checks its full need again: csrc/cuda/memory.hpp)."""
    from ._backend import cuda_memory_estimate
    advance = getattr(core, CUDA_ADVANCE[kern.name])
    free = int(dict(core.cuda_runtime()).get("free_bytes", 0))
    arrays = 0 if kern.counts is None else int(kern.counts.size)
    need = cuda_memory_estimate(replicas, kern.initial_state.size, 0, 0, 0, 0, 0, arrays, 0)["total"]
    if need > free - int(core.CUDA_MEMORY_MARGIN):
        raise MemoryError(
            f"backend='cuda': the state rows alone need {need / 2**30:.3f} GiB of device memory "
            f"for {replicas} replicas, but cudaMemGetInfo reports {free / 2**30:.3f} GiB free "
            f"({int(core.CUDA_MEMORY_MARGIN) / 2**30:.3f} GiB kept back); run fewer replicas per "
            "call, or on the CPU backend")
    return replace(kern, advance=advance)
