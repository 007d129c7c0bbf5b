"""Shared pieces of the config-level closed forms: reading a ``Config`` into
the numbers the formulas use, the laws of the filter's survivor counts, and
time arguments.

Standardisation. Every loop is affine-equivariant: with x = mu0 + L0 z
(L0 L0' = Sigma0) the process in z is the same loop started from N(0, I),
and it is invariant in law under rotations of z. Hence every first and
second moment is a scalar multiple of Sigma0:

    E Sigma_t = v_t Sigma0,    E (mu_t - mu0)(mu_t - mu0)' = d_t Sigma0,

and the scalars (v_t, d_t) obey the 1-D recursions of each loop
(docs/theory/replace-nd.md, section "First and second moments of every
loop") whatever the dimension (the dimension only enters through which fits are
skipped for having fewer than dim + 1 points). The config-level functions
compute (v_t, d_t) and scale by Sigma0 (E sigma_t^2 = v_t sigma0^2 in 1-D,
E tr Sigma_t = v_t tr Sigma0, ``E |mu_t - mu0|^2 = d_t tr Sigma0``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..config import Accumulate, AccumulateSubsample, Augment, Config, Fresh, Replace
from ..families.gaussian import Gaussian
from ..families.ppca import PPCA

# Binomial laws are summed over the counts whose probability exceeds this
# (the mass left out is below 1e-15 of the total: exact to double precision).
_TAIL = 1e-17
# Largest number of (real, synthetic) survivor pairs a single generation may
# sum over; beyond it the exact sum is too slow to be useful.
MAX_PAIRS = 4_000_000


@dataclass(frozen=True)
class Setting:
    """The numbers the Gaussian closed forms need, read off a Config."""

    cfg: Config
    dim: int
    mu0: np.ndarray
    cov0: np.ndarray
    estimator: str
    tau: float
    trunc_factor: float  # v_d(k) of docs/theory/bias.md (1 without truncation)
    weight: float | None  # None: pooled fit
    tpr: float
    fpr: float

    @property
    def s2(self) -> float:
        """Variance factor of a synthetic draw: tau^2 v_d(k) (docs/theory/bias.md)."""
        return self.tau**2 * self.trunc_factor

    @property
    def loop(self):
        return self.cfg.loop

    @property
    def trace0(self) -> float:
        return float(np.trace(self.cov0))

    @property
    def logdet0(self) -> float:
        return float(np.linalg.slogdet(self.cov0)[1])

    @property
    def filtered(self) -> bool:
        return self.tpr > 0.0 or self.fpr > 0.0

    def div(self, c):
        """The fit's divisor for c points: c (MLE) or c - 1 (unbiased)."""
        c = np.asarray(c, dtype=np.float64)
        return c if self.estimator == "mle" else c - 1.0


def setting(cfg, what: str = "cfg") -> Setting:
    """Validates ``cfg`` (a madsim.Config of the Gaussian family) and reads it."""
    if not isinstance(cfg, Config):
        raise TypeError(f"{what} must be a madsim.Config; got {cfg!r} ({type(cfg).__name__})")
    if isinstance(cfg.family, PPCA):
        raise NotImplementedError(
            f"{what}.family is PPCA: its closed forms here are the first moments it shares with the "
            "d-dim Gaussian (expected_trace, expected_mean_sq, expected_second_moment, "
            "expected_mean, invariant); this quantity depends on the projection"
        )
    if not isinstance(cfg.family, Gaussian):  # pragma: no cover - Config allows only Gaussian today
        raise NotImplementedError(
            f"{what}.family: closed forms exist here for Gaussian only; got {cfg.family!r}"
        )
    if cfg.reweight is not None or cfg.correction is not None:
        raise NotImplementedError(
            f"{what} has a mitigation (reweight or correction): its closed forms are "
            "madsim.theory.mitigations' functions (the replace loop by numbers; docs/theory/mitigations.md)"
        )
    from .bias import truncation_factor

    fam = cfg.family
    vk = 1.0 if cfg.truncation is None else truncation_factor(cfg.truncation, fam.dim)
    return Setting(
        cfg=cfg,
        dim=fam.dim,
        mu0=fam.mean_vector,
        cov0=fam.cov_matrix,
        estimator=cfg.estimator,
        tau=float(cfg.temperature),
        trunc_factor=vk,
        weight=cfg.weight_value,
        tpr=cfg.filter.tpr if cfg.filter is not None else 0.0,
        fpr=cfg.filter.fpr if cfg.filter is not None else 0.0,
    )


def trace_twin(cfg):
    """``cfg`` with a PPCA family replaced by the d-dim Gaussian of the same
    truth N(mu0, C0) (anything else unchanged). PPCA's E mu_t, E tr C_t and
    ``E |mu_t - mu0|^2`` are that Gaussian's for every loop and knob: the PPCA
    fit keeps the Gaussian fit's mean and trace (s2 averages the dropped
    eigenvalues), and given model t-1 the expected trace and mean terms of
    generation t's fit are linear in tr C_{t-1}, mu_{t-1} and
    ``|mu_{t-1} - mu0|^2`` (each point has E (x - m)(x - m)' = C_{t-1}, scaled by
    tau^2 v(k) under temperature and truncation), so they follow the
    Gaussian's recursions (docs/theory/ppca-gmm.md, section "PPCA: the
    moments it shares with the Gaussian")."""
    if isinstance(cfg, Config) and isinstance(cfg.family, PPCA):
        fam = cfg.family
        gauss = Gaussian(
            dim=fam.dim, mean=tuple(fam.mean_vector.tolist()), cov=tuple(map(tuple, fam.cov_matrix.tolist()))
        )
        return dataclasses.replace(cfg, family=gauss)
    return cfg


def times(t, what: str = "t"):
    """(array of generations >= 0, largest, whether t was a scalar)."""
    arr = np.asarray(t)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0))
    ):
        raise TypeError(f"{what} must be a generation (an integer >= 0) or an array of them; got {t!r}")
    if arr.size == 0:
        raise ValueError(f"{what} must name at least one generation; got an empty array")
    if np.any(arr < 0):
        raise ValueError(f"{what} must be >= 0 (generation 0 is the truth); got {t!r}")
    arr = arr.astype(np.int64)
    return arr, int(arr.max()), arr.ndim == 0


def pick(series: np.ndarray, t_arr: np.ndarray, scalar: bool):
    """series[t] as a float (scalar t) or an array shaped like t."""
    out = np.asarray(series)[t_arr]
    return float(out) if scalar else out


def loop_counts(cfg: Config, generations: int):
    """(real, synthetic) points the loop adds at generations 1..G, before the filter."""
    if generations == 0:
        return np.zeros(0), np.zeros(0)
    real, syn = cfg.loop.counts(generations)
    return np.asarray(real, dtype=np.float64), np.asarray(syn, dtype=np.float64)


def binomial_law(count: float, keep: float):
    """Support and probabilities of Binomial(count, keep), the survivors of
    ``count`` points each kept with probability ``keep`` (the filter ignores
    values, so survivor counts are binomial and independent of everything
    else: docs/theory/real-data.md, section "Schedules and filters"). Counts of negligible probability
    (< 1e-17) are left out. The arrays are read-only (cached)."""
    return _binomial_law(int(round(count)), float(keep))


@functools.lru_cache(maxsize=4096)
def _binomial_law(n: int, keep: float):
    if keep >= 1.0 or n == 0:
        k, p = np.array([n], dtype=np.int64), np.array([1.0])
    elif keep <= 0.0:
        k, p = np.array([0], dtype=np.int64), np.array([1.0])
    else:
        from scipy import stats  # lazy: scipy.stats is slow to import

        lo = int(max(0, stats.binom.ppf(_TAIL, n, keep) - 1))
        hi = int(min(n, stats.binom.isf(_TAIL, n, keep) + 1))
        k = np.arange(lo, hi + 1, dtype=np.int64)
        p = stats.binom.pmf(k, n, keep)
        mask = p > 0.0
        k, p = k[mask], p[mask] / p[mask].sum()
    k.setflags(write=False)
    p.setflags(write=False)
    return k, p


def pair_law(m: float, fpr: float, k: float, tpr: float):
    """Joint law of (real, synthetic) survivors as flat arrays (M, K, prob)."""
    M, pm = binomial_law(m, 1.0 - fpr)
    K, pk = binomial_law(k, 1.0 - tpr)
    if M.size * K.size > MAX_PAIRS:
        raise NotImplementedError(
            f"the exact sum over the filter's binomial survivors needs {M.size * K.size} (real, "
            f"synthetic) pairs in one generation (counts {m:g} real, {k:g} synthetic); more than "
            f"{MAX_PAIRS}: use smaller counts or no filter"
        )
    MM, KK = np.meshgrid(M.astype(np.float64), K.astype(np.float64), indexing="ij")
    PP = np.outer(pm, pk)
    return MM.ravel(), KK.ravel(), PP.ravel()


def safe_div(num, den):
    """num / den where den != 0, else 0 (the terms are masked out there)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def log_gamma_ratio(a, b):
    return special.gammaln(a) - special.gammaln(b)


def require_no_truncation(st: Setting, quantity: str):
    if st.cfg.truncation is not None:
        raise NotImplementedError(
            f"{quantity}: no closed form with Config.truncation (truncated samples are not "
            "Gaussian, so their log-moments and non-linear moments have no closed form; "
            "docs/theory/bias.md, section Truncation); only E Sigma_t and E (mu_t - mu0)^2 are "
            "exact there"
        )


def require_replace(st: Setting, quantity: str):
    if not isinstance(st.loop, Replace):
        raise NotImplementedError(
            f"{quantity}: closed form only for the Replace loop (the variance is then a product of "
            f"independent factors: docs/theory/replace-nd.md); got {type(st.loop).__name__}, "
            "whose fitted variance is a sum of dependent terms"
        )


def require_1d(st: Setting, quantity: str):
    if st.dim != 1:
        raise ValueError(f"{quantity} is a 1-D quantity; Config.family.dim is {st.dim}")


LOOP_NAMES = {
    Replace: "Replace",
    Augment: "Augment",
    Fresh: "Fresh",
    Accumulate: "Accumulate",
    AccumulateSubsample: "AccumulateSubsample",
}


def is_const_int(x) -> bool:
    return isinstance(x, int)


def logsumexp_weights(logs, probs):
    """log E[exp(logs)] under probs (stable)."""
    logs = np.asarray(logs, dtype=np.float64)
    m = np.max(logs)
    return m + math.log(float(np.sum(probs * np.exp(logs - m))))
