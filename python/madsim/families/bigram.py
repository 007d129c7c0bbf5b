"""The Bigram family: a next-token (Markov chain) model over K tokens on
sequences of length L, refit row by row from the pooled transition counts
(docs/guide/bigram.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks as check
from ..config import AccumulateSubsample, Augment, Config, check_token_knobs, normalise
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

MAX_BIGRAM_TOKENS = 4096  # K*K doubles of state per replica (csrc/bindings/module.cpp)


def stationary_law(P: np.ndarray) -> np.ndarray:
    """The stationary law pi (pi P = pi, sum pi = 1) of an irreducible
    row-stochastic matrix P, by solving (P - I)' pi = 0 with one equation
    replaced by the normalisation. ValueError naming a closed class of states
    when the chain is not irreducible (its stationary law is not unique)."""
    K = P.shape[0]
    edge = P > 0.0

    def reach(adj):
        seen = np.zeros(K, bool)
        seen[0] = True
        front = seen.copy()
        while front.any():
            new = adj[front].any(axis=0) & ~seen
            seen |= new
            front = new
        return seen

    fwd, back = reach(edge), reach(edge.T)
    if not (fwd.all() and back.all()):
        which = np.nonzero(~fwd)[0] if not fwd.all() else np.nonzero(~back)[0]
        how = "cannot be reached from" if not fwd.all() else "cannot reach"
        raise ValueError(
            f"Bigram: the truth's chain must be irreducible (every token reachable from every "
            f"other), so that its stationary law pi0 is unique; token {int(which[0])} {how} token 0"
        )
    A = (P - np.eye(K)).T
    A[-1, :] = 1.0
    b = np.zeros(K)
    b[-1] = 1.0
    pi = np.linalg.solve(A, b)
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


@dataclass(frozen=True)
class Bigram:
    """Bigram (next-token, Markov chain) token model over K tokens: the truth
    P0 (generation 0) is a K x K row-stochastic ``transition`` matrix (row i:
    the law of the token after token i), by default row i = Zipf(``zipf``)
    over the tokens in cyclic order after i,
    P0[i, (i + 1 + r) mod K] proportional to (r + 1)^-zipf, r = 0..K-1
    (the token itself comes last). The data are sequences of ``length`` L
    >= 2 tokens (L - 1 transitions); loops count sequences. The refit is row
    by row from the pooled transition counts C:
    P_t[i, j] = (C[i, j] + alpha) / (sum_j C[i, j] + K alpha); a row with no
    visits (alpha = 0) keeps model t-1's row.

    Parameters
    ----------
    tokens
        K, the number of tokens (or give ``transition``).
    zipf
        the default truth's exponent (None: 1.0); give it or transition.
    transition
        the truth's K x K row-stochastic matrix, irreducible.
    length
        L >= 2, the tokens per sequence.
    start
        "truth" (each sequence's first token from the truth's stationary law
        pi0; the truth's chain must be irreducible) or a probability vector over
        the K tokens. The start law is fixed: synthetic sequences start from it
        too (no knob applied to it).
    smoothing
        add-alpha on each row's pooled counts (0: the MLE).

    Examples
    --------
    >>> import madsim as ms
    >>> fam = ms.Bigram(tokens=5, length=10)
    >>> cfg = ms.Config(family=fam, loop=ms.Replace(n=20))
    >>> cfg.path                        # the only path of a bigram
    'samples'
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["entropy_rate", "edges"])
    >>> int(ds["edges"].sel(generation=0)[0])
    25
    """

    tokens: int | None = None
    zipf: float | None = None
    transition: tuple | None = None
    length: int = 10
    start: str | tuple = "truth"
    smoothing: float = 0.0

    def __post_init__(self):
        normalise(self)
        if self.transition is not None:
            if self.zipf is not None:
                raise ValueError("Bigram: give transition or zipf, not both")
            try:
                P = np.array(self.transition, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Bigram.transition must be a K x K matrix of numbers; got {self.transition!r}"
                ) from None
            if P.ndim != 2 or P.shape[0] != P.shape[1]:
                raise ValueError(f"Bigram.transition must be a square K x K matrix; got shape {P.shape}")
            if P.shape[0] == 0:
                raise ValueError("Bigram.transition must have at least one token (K >= 1); got []")
            if P.shape[0] > MAX_BIGRAM_TOKENS:
                raise ValueError(f"Bigram.transition has {P.shape[0]} tokens; at most {MAX_BIGRAM_TOKENS}")
            bad = (
                ~np.isfinite(P) | (P < 0) | ((P > 0) & (P < np.finfo(np.float64).tiny))
            )  # subnormal: see Categorical
            if bad.any():
                i, j = (int(x) for x in np.argwhere(bad)[0])
                raise ValueError(
                    f"Bigram.transition must be finite, >= 0 and 0 or normal (>= 2.2e-308); "
                    f"transition[{i}][{j}] = {float(P[i, j])!r}"
                )
            rows = P.sum(axis=1)
            off = np.nonzero(np.abs(rows - 1.0) > 1e-9)[0]
            if off.size:
                i = int(off[0])
                raise ValueError(
                    f"Bigram.transition rows must sum to 1 (within 1e-9); row {i} sums to {float(rows[i])!r}"
                )
            if self.tokens is not None and check.integer("Bigram.tokens", self.tokens, 1) != P.shape[0]:
                raise ValueError(
                    f"Bigram.tokens = {self.tokens} but transition is {P.shape[0]} x {P.shape[0]}"
                )
            object.__setattr__(self, "transition", tuple(tuple(float(x) for x in row) for row in P))
            object.__setattr__(self, "tokens", int(P.shape[0]))
        else:
            if self.tokens is None:
                object.__setattr__(self, "tokens", 10)
            check.integer("Bigram.tokens", self.tokens, 1, MAX_BIGRAM_TOKENS)
            if self.zipf is not None:
                check.real("Bigram.zipf", self.zipf, 0.0, 1e3)
        check.integer("Bigram.length", self.length, 2, 2**32)
        check.real("Bigram.smoothing", self.smoothing, 0.0)
        K = self.tokens
        if isinstance(self.start, str):
            if self.start != "truth":
                raise ValueError(f"Bigram.start must be 'truth' or a probability vector; got {self.start!r}")
        else:
            try:
                s = np.array(self.start, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Bigram.start must be 'truth' or a sequence of numbers; got {self.start!r}"
                ) from None
            if s.shape != (K,):
                raise ValueError(f"Bigram.start must list K = {K} probabilities; got shape {s.shape}")
            if not np.all(np.isfinite(s)) or np.any(s < 0):
                i = int(np.nonzero(~np.isfinite(s) | (s < 0))[0][0])
                raise ValueError(f"Bigram.start must be finite and >= 0; start[{i}] = {float(s[i])!r}")
            if abs(s.sum() - 1.0) > 1e-9:
                raise ValueError(f"Bigram.start must sum to 1 (within 1e-9); it sums to {float(s.sum())!r}")
            object.__setattr__(self, "start", tuple(float(x) for x in s))
        object.__setattr__(self, "_pi0", stationary_law(self.truth))

    @property
    def min_points(self) -> int:
        """The sequences a fit needs, one (none with smoothing > 0)."""
        return 1 if self.smoothing == 0.0 else 0

    @property
    def truth(self) -> np.ndarray:
        """P0 as float64 [K, K]."""
        if self.transition is not None:
            return np.array(self.transition, dtype=np.float64)
        K = self.tokens
        s = 1.0 if self.zipf is None else float(self.zipf)
        w = np.arange(1, K + 1, dtype=np.float64) ** -s
        w = w / w.sum()
        P = np.empty((K, K))
        for i in range(K):
            P[i, (i + 1 + np.arange(K)) % K] = w
        return P

    @property
    def stationary(self) -> np.ndarray:
        """pi0, the truth's stationary law, float64 [K] (the metrics' weights)."""
        return self._pi0.copy()

    @property
    def start_law(self) -> np.ndarray:
        """The law of every sequence's first token, float64 [K]."""
        if isinstance(self.start, str):
            return self.stationary
        return np.array(self.start, dtype=np.float64)


# The bigram metrics observe() computes (csrc/madsim/bigram_metrics.hpp, in
# its BigramMetric order), with their definitions; pi0 is the truth's
# stationary law (fixed).
BIGRAM_METRICS = {
    "entropy_rate": "entropy rate under the truth's stationary law, sum_i pi0_i H(P_t[i]) (nats per token)",
    "kl_rate_truth_model": "sum_i pi0_i KL(P0[i] || P_t[i]): the excess cross-entropy per token of "
    "the model on real text (+inf once a true transition is lost)",
    "kl_rate_model_truth": "sum_i pi0_i KL(P_t[i] || P0[i])",
    "tv_rate": "sum_i pi0_i TV(P_t[i], P0[i]), TV = (1/2) sum_j |P_t[i, j] - P0[i, j]|",
    "edges": "transitions with positive model probability, #{(i, j): P_t[i, j] > 0}",
    "tokens_alive": "tokens the model can still emit after some token, #{j: P_t[i, j] > 0 for some i}",
}
LEAN = ("transition", "entropy_rate", "edges", "tokens_alive")  # what metrics=None records
TRANSITION_BY_DEFAULT = 8  # record the transition matrix by default only up to this many tokens


def bigram_truth_values(P0: np.ndarray, pi0: np.ndarray) -> dict:
    """The truth's own value of each bigram metric (its value at generation 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(P0 > 0, P0 * np.log(np.where(P0 > 0, P0, 1.0)), 0.0).sum(axis=1)
    return {
        "entropy_rate": float(pi0 @ h),
        "kl_rate_truth_model": 0.0,
        "kl_rate_model_truth": 0.0,
        "tv_rate": 0.0,
        "edges": float((P0 > 0).sum()),
        "tokens_alive": float((P0 > 0).any(axis=0).sum()),
    }


def kernel(cfg: Config, generations: int, replicas: int, backend: str) -> Kernel:
    fam, loop = cfg.family, cfg.loop
    K = fam.tokens
    counts = loop_counts(cfg, generations)
    check_counts(cfg, counts)
    P0, pi0 = fam.truth, fam.stationary
    args = dict(
        loop=LOOP_CODES[type(loop)],
        path=1,
        top_k=int(cfg.top_k or 0),
        tau=float(cfg.temperature),
        top_p=1.0 if cfg.top_p is None else float(cfg.top_p),
        smoothing=float(fam.smoothing),
        tpr=cfg.filter.tpr if cfg.filter else 0.0,
        fpr=cfg.filter.fpr if cfg.filter else 0.0,
        real_fixed=float(loop.real) if isinstance(loop, Augment) else 0.0,
        length=int(fam.length),
        truth=P0,
        start=fam.start_law,
        pi0=pi0,
        counts=counts,
        subsample_n=loop.n if isinstance(loop, AccumulateSubsample) else 0,
    )
    params, advance, state_size, at = compiled("Bigram", "bigram", args, backend, cfg, replicas, 0)
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
    columns = scalar_columns(at, ("points_real", "points_synthetic", "skipped", "rows_kept", *BIGRAM_METRICS))
    return zero_state_kernel(
        "bigram",
        params,
        advance,
        state_size,
        columns,
        units=units,
        arrays={"transition": (at["transition"].reshape(K, K), ("token", "next_token"))},
        counts=counts,
        truth=bigram_truth_values(P0, pi0),
        default=lean_default(LEAN, cfg, () if K <= TRANSITION_BY_DEFAULT else ("transition",)),
    )


def need_text(family) -> str:
    """How many sequences a fit needs, in words."""
    n = max(1, family.min_points)
    return f"{n} sequence{'s' if n > 1 else ''}"


def check_config(cfg: Config) -> None:
    """The Bigram's cross-field rules, then the token families' ones."""
    if cfg.path != "samples":
        raise ValueError(
            "Bigram needs path='samples': the transition counts are multinomial only given "
            "the visits, and the visits depend on the transitions drawn, so the counts have "
            "no law that can be drawn without walking the chain"
        )
    if isinstance(cfg.loop, AccumulateSubsample):
        pairs = cfg.loop.n * (cfg.family.length - 1)
        if pairs > 2**32 - 1:
            raise ValueError(
                f"AccumulateSubsample.n = {cfg.loop.n} sequences of length "
                f"{cfg.family.length} picks {pairs} transitions; at most 2**32 - 1 allowed"
            )
    if cfg.weight is not None:
        raise ValueError(
            "Config.weight is not available for Bigram: the model is refit from the pooled "
            "transition counts (a row may be visited by one part only)"
        )
    check_token_knobs(cfg)


def check_scale(cfg: Config) -> None:
    """Refuses a smoothing that overflows float64 once multiplied by the tokens."""
    fam = cfg.family
    if not fam.smoothing * fam.tokens <= 1e300:
        raise ValueError(
            f"{type(fam).__name__}.smoothing = {fam.smoothing:g} times {fam.tokens} tokens overflows "
            "float64 (every probability would be 0); use a smoothing below 1e300 / tokens"
        )


SPEC = register(
    FamilySpec(
        cls=Bigram,
        kernel=kernel,
        kernels=("bigram",),
        cuda_advance={"bigram": "advance_bigram_cuda"},
        reference={"bigram": ("bigram", "advance_bigram")},
        default_path="samples",
        check_config=check_config,
        need_text=need_text,
        check_scale=check_scale,
        toml_help=(
            "A next-token (Markov chain) model over K tokens on sequences of length L, refit row by "
            'row from the pooled transition counts (path = "samples").'
        ),
        toml_keys=(
            ("tokens", "integer", "K, the number of tokens (not set: 100, or the size of transition).", 50),
            (
                "zipf",
                "float",
                "the default truth: row i is Zipf(zipf) over the tokens after i in cyclic order "
                "(not set: 1.0); give zipf or transition.",
                1.0,
            ),
            (
                "transition",
                "array",
                "the truth as a K x K row-stochastic matrix (K rows of K numbers).",
                [[0.9, 0.1], [0.5, 0.5]],
            ),
            ("length", "integer", "L >= 2, tokens per sequence; loops count sequences."),
            (
                "start",
                ("string", "array"),
                '"truth" (the first token from the truth\'s stationary law) or a '
                "probability vector over the K tokens.",
            ),
            ("smoothing", "float", "add-alpha on each row's pooled counts (0: the MLE)."),
        ),
        validate_cases="bigram",
        law_tests=("test_bigram.py",),
        benchmark="bigram.py",
        docs_page="bigram",
        tokens=True,
    )
)
