"""The Categorical family: a token (unigram) model over K tokens, refit as
the empirical frequencies (docs/guide/categorical.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import checks as check
from ..config import AccumulateSubsample, Augment, Config, Fresh, Replace, check_token_knobs, normalise
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

MAX_TOKENS = 2**24  # a token's exact-path stream is addressed by its site (stream.hpp)


@dataclass(frozen=True)
class Categorical:
    """Categorical (unigram) token model over K tokens: the truth p0
    (generation 0) is uniform over ``tokens`` tokens, Zipf (``zipf=s``:
    p0_i proportional to (i + 1)^-s) or any probability vector ``probs``.
    The refit is the empirical frequency of the training tokens (the MLE;
    with the replace loop exactly neutral Wright-Fisher resampling).

    Parameters
    ----------
    tokens
        K, the number of tokens (or give ``probs``).
    zipf
        None: the uniform truth; s: p0_i proportional to (i + 1)^-s.
    probs
        the truth's probability vector (instead of ``tokens``).
    smoothing
        add-alpha on the pooled counts, p_i = (c_i + alpha) / (N + K alpha) (0:
        the MLE).
    rare
        the fraction q of tokens counted as the truth's rarest: the ceil(q K)
        tokens of smallest p0 (ties: the higher index is rarer), whose model
        mass is the ``rare_mass`` metric.

    Examples
    --------
    >>> import madsim as ms
    >>> fam = ms.Categorical(tokens=50, zipf=1.1)
    >>> ds = ms.simulate(ms.Config(family=fam, loop=ms.Replace(n=100)), replicas=100, generations=10,
    ...                  seed=1, metrics=["support", "entropy"])
    >>> int(ds["support"].sel(generation=0)[0])
    50
    >>> bool((ds["support"].sel(generation=10) <= 50).all())
    True
    """

    tokens: int | None = None
    zipf: float | None = None
    probs: tuple | None = None
    smoothing: float = 0.0
    rare: float = 0.1

    def __post_init__(self):
        normalise(self)
        if self.probs is not None:
            if self.zipf is not None:
                raise ValueError("Categorical: give probs or zipf, not both")
            try:
                p = np.array(self.probs, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Categorical.probs must be a sequence of numbers; got {self.probs!r}"
                ) from None
            if p.ndim != 1:
                raise ValueError(f"Categorical.probs must be one-dimensional; got shape {p.shape}")
            if p.size == 0:
                raise ValueError("Categorical.probs must list at least one token (K >= 1); got []")
            if p.size > MAX_TOKENS:
                raise ValueError(f"Categorical.probs has {p.size} tokens; at most 2**24 = {MAX_TOKENS}")
            if not np.all(np.isfinite(p)) or np.any(p < 0):
                i = int(np.nonzero(~np.isfinite(p) | (p < 0))[0][0])
                raise ValueError(f"Categorical.probs must be finite and >= 0; probs[{i}] = {float(p[i])!r}")
            sub = (p > 0) & (p < np.finfo(np.float64).tiny)
            if np.any(sub):
                i = int(np.nonzero(sub)[0][0])
                raise ValueError(
                    f"Categorical.probs[{i}] = {float(p[i])!r} is subnormal (below 2.2e-308): give 0 "
                    "or a normal number (XLA, backend='jax', flushes subnormals to 0)"
                )
            if abs(p.sum() - 1.0) > 1e-9:
                raise ValueError(
                    f"Categorical.probs must sum to 1 (within 1e-9); they sum to {float(p.sum())!r}"
                )
            if self.tokens is not None and check.integer("Categorical.tokens", self.tokens, 1) != p.size:
                raise ValueError(f"Categorical.tokens = {self.tokens} but probs has {p.size} entries")
            object.__setattr__(self, "probs", tuple(float(x) for x in p))
            object.__setattr__(self, "tokens", int(p.size))
        else:
            if self.tokens is None:
                object.__setattr__(self, "tokens", 100)
            check.integer("Categorical.tokens", self.tokens, 1, MAX_TOKENS)
            if self.zipf is not None:
                check.real("Categorical.zipf", self.zipf, 0.0, 1e3)
        check.real("Categorical.smoothing", self.smoothing, 0.0)
        check.real("Categorical.rare", self.rare, 0.0, 1.0, lo_open=True)

    @property
    def min_points(self) -> int:
        """The tokens a fit needs, one (none with smoothing > 0)."""
        return 1 if self.smoothing == 0.0 else 0

    @property
    def truth(self) -> np.ndarray:
        """p0 as float64 [K]."""
        if self.probs is not None:
            return np.array(self.probs, dtype=np.float64)
        if self.zipf is None or self.zipf == 0.0:
            return np.full(self.tokens, 1.0 / self.tokens)
        w = np.arange(1, self.tokens + 1, dtype=np.float64) ** -float(self.zipf)
        return w / w.sum()

    @property
    def rare_tokens(self) -> np.ndarray:
        """The indices of the truth's ceil(rare K) rarest tokens (sorted)."""
        p0 = self.truth
        n = int(math.ceil(self.rare * p0.size - 1e-12))
        order = np.lexsort((-np.arange(p0.size), p0))  # p0 ascending, then index descending
        return np.sort(order[: max(1, n)])


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
LEAN = ("probs", "entropy", "support", "gini_simpson")  # what metrics=None records
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
    return {
        "entropy": float(-(pos * np.log(pos)).sum()),
        "support": float(pos.size),
        "gini_simpson": float(1.0 - (p0 * p0).sum()),
        "rare_mass": float(p0[rare].sum()),
        "max_prob": float(p0.max()),
        "tv": 0.0,
        "kl_model_truth": 0.0,
        "kl_truth_model": 0.0,
        "zipf_exponent": zipf,
    }


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    K = fam.tokens
    counts = loop_counts(cfg, generations)
    check_counts(cfg, counts)
    p0 = fam.truth
    rare_idx = fam.rare_tokens
    rare = np.zeros(K)
    rare[rare_idx] = 1.0
    args = dict(
        loop=LOOP_CODES[type(loop)],
        path=0 if cfg.path == "exact" else 1,
        top_k=int(cfg.top_k or 0),
        tau=float(cfg.temperature),
        top_p=1.0 if cfg.top_p is None else float(cfg.top_p),
        smoothing=float(fam.smoothing),
        weight=-1.0 if cfg.weight is None else cfg.weight_value,
        tpr=cfg.filter.tpr if cfg.filter else 0.0,
        fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0,
        truth=p0,
        rare=rare,
        counts=counts,
    )
    params, advance, state_size, at = compiled("Categorical", "categorical", args, backend, cfg, replicas, 0)
    units = {
        "probs": "model token probabilities p_t",
        "points_real": "real tokens the generation's fit had (after the filter; accumulating "
        "loops: the pool's)",
        "points_synthetic": "synthetic tokens the generation's fit had (after the filter; "
        "accumulating loops: the pool's)",
        "skipped": "fits skipped so far for want of tokens (the model was kept)",
        **TOKEN_METRICS,
    }
    columns = scalar_columns(at, ("points_real", "points_synthetic", "skipped", *TOKEN_METRICS))
    return zero_state_kernel(
        "categorical",
        params,
        advance,
        state_size,
        columns,
        units=units,
        arrays={"probs": (at["probs"], ("token",))},
        counts=counts,
        truth=token_truth_values(p0, rare_idx),
        default=lean_default(LEAN, cfg, () if K <= PROBS_BY_DEFAULT else ("probs",)),
    )


def need_text(family) -> str:
    """How many tokens a fit needs, in words."""
    n = max(1, family.min_points)
    return f"{n} token{'s' if n > 1 else ''}"


def check_scale(cfg: Config) -> None:
    """Refuses a smoothing that overflows float64 once multiplied by the tokens."""
    fam = cfg.family
    if not fam.smoothing * fam.tokens <= 1e300:
        raise ValueError(
            f"{type(fam).__name__}.smoothing = {fam.smoothing:g} times {fam.tokens} tokens overflows "
            "float64 (every probability would be 0); use a smoothing below 1e300 / tokens"
        )


def theory_curve(name: str, cfg, t: np.ndarray):
    """E[name] over replicas (the plots' theory curve) where docs/theory/categorical.md / 4d has it: the
    Gini-Simpson decay and surviving tokens of the replace loop (no knob), the
    fresh-data Gini-Simpson, the martingale of rare_mass (any MLE loop, no
    knob); None elsewhere."""
    from .. import theory

    loop, p0 = cfg.loop, cfg.family.truth
    plain = cfg.temperature == 1.0 and cfg.top_k is None and cfg.top_p is None and cfg.family.smoothing == 0.0
    if not plain:
        return None
    if name == "rare_mass":
        return np.full(t.shape, float(p0[cfg.family.rare_tokens].sum()))
    if isinstance(loop, Replace) and isinstance(loop.n, int) and cfg.filter is None:
        if name == "gini_simpson":
            return np.asarray(theory.gini_simpson(t, loop.n, p0), dtype=np.float64)
        if name == "support":
            return np.asarray(theory.expected_survivors(t, loop.n, p0), dtype=np.float64)
    if (
        isinstance(loop, Fresh)
        and isinstance(loop.real, int)
        and isinstance(loop.synthetic, int)
        and cfg.filter is None
        and cfg.weight is None
        and name == "gini_simpson"
    ):
        return np.asarray(theory.fresh_gini_simpson(t, loop.real, loop.synthetic, p0), dtype=np.float64)
    return None


SPEC = register(
    FamilySpec(
        cls=Categorical,
        kernel=kernel,
        kernels=("categorical",),
        cuda_advance={"categorical": "advance_categorical_cuda"},
        reference={"categorical": ("categorical", "advance_categorical")},
        default_path="exact",
        check_config=check_token_knobs,
        need_text=need_text,
        check_scale=check_scale,
        toml_help="A token (unigram) model over K tokens, refit as the empirical frequencies.",
        toml_keys=(
            ("tokens", "integer", "K, the number of tokens (not set: 100, or the length of probs).", 1000),
            (
                "zipf",
                "float",
                "the truth p0_i proportional to (i + 1)^-zipf (not set: uniform over the tokens).",
                1.1,
            ),
            (
                "probs",
                "array",
                "the truth as any probability vector (sums to 1); give probs or zipf, not both.",
                [0.5, 0.3, 0.2],
            ),
            ("smoothing", "float", "add-alpha on the pooled counts (0: the MLE)."),
            (
                "rare",
                "float",
                "the fraction q in (0, 1] of tokens counted as the truth's rarest (the rare_mass metric).",
            ),
        ),
        validate_cases="categorical",
        law_tests=("test_theory_categorical.py", "test_categorical_knob_law.py"),
        benchmark="tokens.py",
        docs_page="categorical",
        plots=("token_ranks",),
        theory_curve=theory_curve,
        exact_subsample=True,
        tokens=True,
        theory="categorical",
        theory_module=True,
    )
)
