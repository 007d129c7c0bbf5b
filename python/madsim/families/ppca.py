"""The PPCA family (probabilistic PCA, the linear autoencoder): the truth
N(mean, W W' + noise I) with q < d factors, refit by maximum likelihood
(docs/guide/ppca.md). It runs the Gaussian's GaussianLoop kernel, each fit
projected onto q factors, with its own observe columns after the metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import checks as check
from ..config import Config, normalise, reject_token_knobs
from ..kernels import Kernel, scalar_columns
from . import FamilySpec, register
from .gaussian import MeanVector, check_gaussian_scale, gaussian_loop_kernel
from .gaussian import need_text as gaussian_need_text


@dataclass(frozen=True)
class PPCA(MeanVector):
    """Probabilistic PCA, the linear autoencoder (Tipping & Bishop 1999): a
    d-dim Gaussian N(mean, W W' + noise I) with q = ``factors`` < d
    loadings W [d, q]. Each generation fits it by maximum likelihood in
    closed form: the Gaussian fit's covariance S (eigenvalues l_1 >= ... >=
    l_d) projected, noise = mean(l_{q+1..d}), W W' = U_q (L_q - noise) U_q'
    (csrc/madsim/ppca.hpp). Every loop, knob and path of the d-dim Gaussian
    applies; q = d - 1 is the full Gaussian.

    The truth (generation 0) is PPCA too, so its principal subspace is
    defined.

    Parameters
    ----------
    dim
        the dimension d >= 2.
    factors
        q, in [1, d - 1].
    loadings
        the truth's W0, a d x q matrix of rank q; or give ``spectrum``.
    spectrum
        the truth's q principal variances l_1..l_q, each > noise, along the
        first q axes: W0 = diag(sqrt(l_j - noise)) on them. Neither
        ``loadings`` nor ``spectrum``: l_j = noise + q - j + 1 (j = 1..q).
    noise
        the truth's isotropic variance s2_0 > 0.
    mean
        a number (every coordinate) or a length-d sequence.

    Examples
    --------
    >>> import madsim as ms
    >>> fam = ms.PPCA(dim=4, factors=1, spectrum=[3.0], noise=0.5)
    >>> ds = ms.simulate(ms.Config(family=fam, loop=ms.Replace(n=20)), replicas=100, generations=10,
    ...                  seed=1, metrics=["factor_var", "noise_var", "subspace_sin2"])
    >>> dict(ds["factor_var"].sizes)
    {'replica': 100, 'generation': 11, 'factor': 1}
    >>> float(ds["noise_var"].sel(generation=0)[0])
    0.5
    """

    dim: int = 2
    factors: int = 1
    loadings: tuple | None = None
    spectrum: tuple | None = None
    noise: float = 1.0
    mean: float | tuple = 0.0

    def __post_init__(self):
        normalise(self)
        d = check.integer("PPCA.dim", self.dim, 2, 256)
        q = check.integer("PPCA.factors", self.factors, 1, d - 1)
        s2 = check.real("PPCA.noise", self.noise, 0.0, None, lo_open=True)
        if isinstance(self.mean, (list, tuple, np.ndarray)):
            m = tuple(check.real(f"PPCA.mean[{i}]", v) for i, v in enumerate(self.mean))
            if len(m) != d:
                raise ValueError(f"PPCA.mean must have dim = {d} entries; got {len(m)}")
            object.__setattr__(self, "mean", m)
        else:
            check.real("PPCA.mean", self.mean)
        if self.loadings is not None and self.spectrum is not None:
            raise ValueError("PPCA: give loadings or spectrum, not both")
        if self.loadings is not None:
            try:
                W = np.array(self.loadings, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"PPCA.loadings must be a {d} x {q} matrix of numbers; got {self.loadings!r}"
                ) from None
            if W.ndim == 1 and q == 1:
                W = W.reshape(-1, 1)
            if W.shape != (d, q):
                raise ValueError(f"PPCA.loadings must be dim x factors = {d} x {q}; got shape {W.shape}")
            if not np.all(np.isfinite(W)):
                raise ValueError("PPCA.loadings must be finite")
            sv = np.linalg.svd(W, compute_uv=False)
            if not sv[-1] ** 2 > 1e-10 * (s2 + sv[0] ** 2):
                raise ValueError(
                    f"PPCA.loadings must have rank factors = {q} (the truth's principal subspace is "
                    f"then defined); its smallest singular value is {sv[-1]:.6g}"
                )
            object.__setattr__(self, "loadings", tuple(tuple(float(x) for x in row) for row in W))
        if self.spectrum is not None:
            try:
                sp = np.atleast_1d(np.array(self.spectrum, dtype=np.float64))
            except (TypeError, ValueError):
                sp = None
            if sp is None or sp.ndim != 1 or sp.size != q:
                raise ValueError(f"PPCA.spectrum must list factors = {q} variances; got {self.spectrum!r}")
            for j, l in enumerate(sp):
                if not (math.isfinite(l) and l > s2 * (1.0 + 1e-10)):
                    raise ValueError(
                        f"PPCA.spectrum[{j}] = {float(l)!r} must be finite and > noise = {s2!r} (a "
                        "principal variance is the factor's variance plus the noise)"
                    )
            object.__setattr__(self, "spectrum", tuple(float(x) for x in sp))

    @property
    def min_points(self) -> int:
        """The points a fit needs, dim + 1 (the Gaussian fit it projects)."""
        return self.dim + 1

    @property
    def loadings_matrix(self) -> np.ndarray:
        """W0 [d, q]."""
        if self.loadings is not None:
            return np.array(self.loadings, dtype=np.float64)
        q = self.factors
        sp = (
            np.array(self.spectrum)
            if self.spectrum is not None
            else self.noise + np.arange(q, 0, -1, dtype=np.float64)
        )
        W = np.zeros((self.dim, q))
        W[np.arange(q), np.arange(q)] = np.sqrt(sp - self.noise)
        return W

    @property
    def cov_matrix(self) -> np.ndarray:
        """C0 = W0 W0' + noise I."""
        W = self.loadings_matrix
        return W @ W.T + self.noise * np.eye(self.dim)

    @property
    def basis(self) -> np.ndarray:
        """An orthonormal basis [d, q] of the truth's principal subspace span(W0)."""
        return np.linalg.qr(self.loadings_matrix)[0]

    @property
    def principal_variances(self) -> np.ndarray:
        """The truth's q principal variances l_1 >= ... >= l_q (C0's top eigenvalues)."""
        return self.noise + np.linalg.svd(self.loadings_matrix, compute_uv=False) ** 2


# PPCA's observe columns (csrc/madsim/ppca.hpp::ppca_metrics), after the metrics.
PPCA_METRICS = {
    "noise_var": "noise variance s2_t: the mean of the fitted covariance's d - q smallest eigenvalues",
    "subspace_sin2": "sum of sin^2 of the principal angles between the model's q-dim principal "
    "subspace and the truth's, q - |U0' U_t|_F^2 (0: the same subspace, q: "
    "orthogonal)",
    "max_angle": "largest principal angle between the model's principal subspace and the "
    "truth's (radians, in [0, pi/2])",
}


def ppca_columns(fam: PPCA, at: dict, columns: dict, arrays: dict, units: dict, truth: dict):
    """Adds PPCA's [factor_var q | noise_var, subspace_sin2, max_angle] columns
    (``at``: the kernel's observe_columns) and their truth values."""
    arrays["factor_var"] = (at["factor_var"], ("factor",))
    units["factor_var"] = (
        "variance the model keeps along its j-th principal direction: the fitted "
        "covariance's eigenvalues l_1 >= ... >= l_q (= |w_j|^2 + s2_t)"
    )
    columns.update(scalar_columns(at, PPCA_METRICS))
    units.update(PPCA_METRICS)
    truth.update(
        factor_var=fam.principal_variances.tolist(),
        noise_var=float(fam.noise),
        subspace_sin2=0.0,
        max_angle=0.0,
    )


LEAN = ("mean", "factor_var", "noise_var", "subspace_sin2", "max_angle")  # what metrics=None records


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    """GaussianLoop with PPCA's factors and basis, and its columns after the metrics."""
    fam = cfg.family
    return gaussian_loop_kernel(
        cfg,
        generations,
        replicas,
        backend,
        lean=LEAN,
        extra_args=dict(factors=fam.factors, basis=np.ascontiguousarray(fam.basis, dtype=np.float64)),
        extra_columns=lambda at, columns, arrays, units, truth: ppca_columns(
            fam, at, columns, arrays, units, truth
        ),
    )


def check_config(cfg: Config) -> None:
    """PPCA's cross-field rules: the token knobs do not apply."""
    reject_token_knobs(cfg)


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
        cls=PPCA,
        kernel=kernel,
        kernels=("gaussian_loop",),
        cuda_advance={"gaussian_loop": "advance_gaussian_loop_cuda"},
        reference={"gaussian_loop": ("gaussian_loop", "advance_gaussian_loop")},
        default_path="exact",
        check_config=check_config,
        need_text=gaussian_need_text,
        check_scale=check_scale,
        toml_help="Probabilistic PCA (the linear autoencoder): N(mean, W W' + noise I) with "
        "q = factors < d loadings, refit by maximum likelihood.",
        toml_keys=(
            ("dim", "integer", "the dimension d (2 to 256)."),
            ("factors", "integer", "q, the number of factors (1 to d - 1)."),
            ("loadings", "array", "the truth's loadings W0: d rows of q numbers, rank q.", [[2.0], [0.5]]),
            (
                "spectrum",
                "array",
                "the truth's q principal variances, each > noise, along the first q axes "
                "(not set, nor loadings: noise + q - j + 1 for j = 1..q).",
                [4.0],
            ),
            ("noise", "float", "the truth's isotropic variance > 0."),
            (
                "mean",
                ("float", "array"),
                "the truth's mean: a number (every coordinate) or a list of d numbers.",
            ),
        ),
        validate_cases="ppca",
        law_tests=("test_ppca.py",),
        benchmark="ppca.py",
        docs_page="ppca",
    )
)
