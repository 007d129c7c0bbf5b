"""Configuration objects: what is simulated, validated on construction.

A ``Config`` is a family (what is fit), a loop (what each generation trains
on), an estimator, the sampling bias (temperature, truncation), the
mitigations (weighting, provenance filter) and the path (``exact``: draw
sufficient statistics; ``samples``: draw every sample). Each object validates
itself, so a bad value fails where it is written, with a message naming it.

Conventions (docs/theory/index.md): generation 0 is the truth, and it is also
the first generative model: generation 1 trains on draws from the truth made
by the same sampler (temperature, truncation, filter) as every later
generation. "Real" data is what a loop adds from the truth on purpose (the
fixed set of ``Augment``, the fresh points of ``Fresh``/``Accumulate``).

Counts that may change with the generation (a *schedule*) accept an int (the
same every generation), a sequence (entry t-1 is generation t's count; it must
cover every generation run) or a callable ``f(t) -> int`` for t = 1, 2, ...
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field
from typing import Callable, Sequence, Union

import numpy as np

from . import _validate as check

ESTIMATORS = ("mle", "unbiased")
PATHS = ("exact", "samples")
MAX_COUNT = 2**40  # points per part per generation (exact path; the samples path draws them)

Schedule = Union[int, Sequence[int], Callable[[int], int]]


def _plain(value):
    """numpy scalars, Fractions and other number types as Python's own (bool,
    int, float, str), inside lists and tuples too, so that a config holds
    only what its JSON form (attrs, task stores) can write; anything else
    (callables, arrays, objects) unchanged, for the field's own check."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _normalise(obj) -> None:
    """Every field of a frozen config dataclass through ``_plain`` (first
    thing in each __post_init__, before the checks)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        plain = _plain(value)
        if plain is not value:
            object.__setattr__(obj, f.name, plain)


def _schedule(name: str, value, lo: int):
    """Normalises a schedule: int stays int, a sequence becomes a tuple of ints,
    a callable is kept (checked when evaluated)."""
    if callable(value):
        return value
    if isinstance(value, (str, bytes)) or isinstance(value, (float, bool)):
        return check.integer(name, value, lo, MAX_COUNT)  # raises TypeError naming it
    if hasattr(value, "__iter__"):
        vals = tuple(value)
        if not vals:
            raise ValueError(f"{name} must be an integer, a non-empty sequence or a callable; got []")
        return tuple(check.integer(f"{name}[{i}]", v, lo, MAX_COUNT) for i, v in enumerate(vals))
    return check.integer(name, value, lo, MAX_COUNT)


def schedule_values(name: str, value: Schedule, generations: int, lo: int = 0) -> np.ndarray:
    """The counts of generations 1..generations as float64 [generations]."""
    if isinstance(value, int):
        return np.full(generations, float(value))
    if isinstance(value, tuple):
        if len(value) < generations:
            raise ValueError(
                f"{name} lists {len(value)} generations but the run has {generations}; "
                "give one count per generation")
        return np.asarray(value[:generations], dtype=np.float64)
    out = np.empty(generations)
    for t in range(1, generations + 1):
        out[t - 1] = check.integer(f"{name}({t})", value(t), lo, MAX_COUNT)
    return out


def _schedule_min(value: Schedule) -> int | None:
    """Smallest count a schedule can give (None for a callable: known only at run time)."""
    if isinstance(value, int):
        return value
    if isinstance(value, tuple):
        return min(value)
    return None


def _schedule_json(value: Schedule):
    if callable(value):
        return {"callable": getattr(value, "__qualname__", repr(value))}
    return list(value) if isinstance(value, tuple) else value


def _is_const(value: Schedule) -> bool:
    return isinstance(value, int)


def _spd_matrix(name: str, value, d: int) -> tuple:
    """A d x d symmetric positive definite matrix as a tuple of tuples, or an
    error naming ``name``, the shape or the smallest eigenvalue."""
    try:
        c = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a {d} x {d} matrix of numbers; got {value!r}") from None
    if c.shape != (d, d):
        raise ValueError(f"{name} must be {d} x {d} (dim = {d}); got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name} must be finite")
    if not np.array_equal(c, c.T):
        raise ValueError(f"{name} must be symmetric")
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        w = np.linalg.eigvalsh(c)
        raise ValueError(
            f"{name} must be positive definite; its smallest eigenvalue is {w[0]:.6g}") from None
    return tuple(tuple(float(x) for x in row) for row in c)


# ---------------------------------------------------------------- families

class _MeanVector:
    """mean_vector for the Gaussian-based families (``mean``: a number for
    every coordinate, or a tuple of dim numbers)."""

    @property
    def mean_vector(self) -> np.ndarray:
        if isinstance(self.mean, tuple):
            return np.array(self.mean, dtype=np.float64)
        return np.full(self.dim, float(self.mean))


@dataclass(frozen=True)
class Gaussian(_MeanVector):
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
        _normalise(self)
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
            object.__setattr__(self, "cov", _spd_matrix("Gaussian.cov", self.cov, d))

    @property
    def min_points(self) -> int:
        """The points a fit needs, dim + 1 (a full-rank covariance)."""
        return self.dim + 1

    @property
    def cov_matrix(self) -> np.ndarray:
        if self.cov is not None:
            return np.array(self.cov, dtype=np.float64)
        return self.var * np.eye(self.dim)


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
        _normalise(self)
        if self.probs is not None:
            if self.zipf is not None:
                raise ValueError("Categorical: give probs or zipf, not both")
            try:
                p = np.array(self.probs, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"Categorical.probs must be a sequence of numbers; got {self.probs!r}") from None
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
                    "or a normal number (XLA, backend='jax', flushes subnormals to 0)")
            if abs(p.sum() - 1.0) > 1e-9:
                raise ValueError(f"Categorical.probs must sum to 1 (within 1e-9); they sum to {float(p.sum())!r}")
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
        return np.sort(order[:max(1, n)])


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
            f"other), so that its stationary law pi0 is unique; token {int(which[0])} {how} token 0")
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
        _normalise(self)
        if self.transition is not None:
            if self.zipf is not None:
                raise ValueError("Bigram: give transition or zipf, not both")
            try:
                P = np.array(self.transition, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Bigram.transition must be a K x K matrix of numbers; got {self.transition!r}") from None
            if P.ndim != 2 or P.shape[0] != P.shape[1]:
                raise ValueError(f"Bigram.transition must be a square K x K matrix; got shape {P.shape}")
            if P.shape[0] == 0:
                raise ValueError("Bigram.transition must have at least one token (K >= 1); got []")
            if P.shape[0] > MAX_BIGRAM_TOKENS:
                raise ValueError(f"Bigram.transition has {P.shape[0]} tokens; at most {MAX_BIGRAM_TOKENS}")
            bad = ~np.isfinite(P) | (P < 0) | ((P > 0) & (P < np.finfo(np.float64).tiny))  # subnormal: see Categorical
            if bad.any():
                i, j = (int(x) for x in np.argwhere(bad)[0])
                raise ValueError(
                    f"Bigram.transition must be finite, >= 0 and 0 or normal (>= 2.2e-308); "
                    f"transition[{i}][{j}] = {float(P[i, j])!r}")
            rows = P.sum(axis=1)
            off = np.nonzero(np.abs(rows - 1.0) > 1e-9)[0]
            if off.size:
                i = int(off[0])
                raise ValueError(
                    f"Bigram.transition rows must sum to 1 (within 1e-9); row {i} sums to {float(rows[i])!r}")
            if self.tokens is not None and check.integer("Bigram.tokens", self.tokens, 1) != P.shape[0]:
                raise ValueError(f"Bigram.tokens = {self.tokens} but transition is {P.shape[0]} x {P.shape[0]}")
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
                raise TypeError(f"Bigram.start must be 'truth' or a sequence of numbers; got {self.start!r}") from None
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


@dataclass(frozen=True)
class PPCA(_MeanVector):
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
        _normalise(self)
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
                raise TypeError(f"PPCA.loadings must be a {d} x {q} matrix of numbers; got "
                                f"{self.loadings!r}") from None
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
                    f"then defined); its smallest singular value is {sv[-1]:.6g}")
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
                        "principal variance is the factor's variance plus the noise)")
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
        sp = (np.array(self.spectrum) if self.spectrum is not None
              else self.noise + np.arange(q, 0, -1, dtype=np.float64))
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


COV_TYPES = ("full", "diag", "spherical")
MAX_COMPONENTS = 256   # csrc/bindings/module.cpp::make_gmm
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
        _normalise(self)
        check.choice("GaussianMixture.cov_type", self.cov_type, COV_TYPES)
        w = self._array("weights", self.weights, 1)
        k = w.size
        if k < 1 or k > MAX_COMPONENTS:
            raise ValueError(f"GaussianMixture.weights must list k in [1, {MAX_COMPONENTS}] components; got k = {k}")
        if np.any(w < 0) or np.any(w > 1):
            i = int(np.nonzero((w < 0) | (w > 1))[0][0])
            raise ValueError(f"GaussianMixture.weights must lie in [0, 1]; weights[{i}] = {float(w[i])!r}")
        if abs(w.sum() - 1.0) > 1e-9:
            raise ValueError(f"GaussianMixture.weights must sum to 1 (within 1e-9); they sum to {float(w.sum())!r}")
        m = self._array("means", self.means, None)
        if m.ndim == 1:
            m = m[:, None]
        if m.ndim != 2 or m.shape[0] != k:
            raise ValueError(f"GaussianMixture.means must be k = {k} points (k x d); got shape {m.shape}")
        d = m.shape[1]
        if d < 1 or d > MAX_MIXTURE_DIM:
            raise ValueError(f"GaussianMixture.means: dimension d must lie in [1, {MAX_MIXTURE_DIM}]; got {d}")
        cov = self._covs(k, d)
        check.integer("GaussianMixture.em_iters", self.em_iters, 1, 10**6)
        check.real("GaussianMixture.em_tol", self.em_tol, 0.0)
        floor = check.real("GaussianMixture.cov_floor", self.cov_floor, 0.0, None, lo_open=True)
        piv = np.array([np.diag(np.linalg.cholesky(c)) ** 2 for c in cov])
        if piv.min() < floor:
            j, i = (int(x) for x in np.argwhere(piv == piv.min())[0])
            raise ValueError(
                f"GaussianMixture.cov_floor = {floor!r} must be <= every conditional variance of the "
                f"truth; component {j} has {float(piv[j, i])!r} (Cholesky pivot {i} squared)")
        object.__setattr__(self, "weights", tuple(float(x) for x in w))
        object.__setattr__(self, "means", tuple(tuple(float(x) for x in row) for row in m))
        if self.covs is not None:
            c = np.asarray(self.covs, dtype=np.float64)
            object.__setattr__(self, "covs", tuple(float(x) for x in c) if c.ndim == 1 else
                               tuple(tuple(float(x) for x in r) for r in c) if c.ndim == 2 else
                               tuple(tuple(tuple(float(x) for x in r) for r in cj) for cj in c))

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
            raise ValueError(f"GaussianMixture.covs for cov_type={self.cov_type!r} must have shape {want} "
                             f"(k = {k}, d = {d}); got {c.shape}")
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
                    f"eigenvalue is {float(np.linalg.eigvalsh(c[j])[0]):.6g}") from None
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


DESIGNS = ("fresh", "fixed")


@dataclass(frozen=True)
class Regression:
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
        _normalise(self)
        d = check.integer("Regression.dim", self.dim, 1, 256)
        if self.weights is not None:
            if isinstance(self.weights, (list, tuple, np.ndarray)):
                w = tuple(check.real(f"Regression.weights[{i}]", v) for i, v in enumerate(self.weights))
                if len(w) != d:
                    raise ValueError(f"Regression.weights must have dim = {d} entries; got {len(w)}")
                object.__setattr__(self, "weights", w)
            else:
                check.real("Regression.weights", self.weights)
        if self.cov is not None:
            object.__setattr__(self, "cov", _spd_matrix("Regression.cov", self.cov, d))
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


# ---------------------------------------------------------------- loops

@dataclass(frozen=True)
class Replace:
    """Fully synthetic loop: generation t fits on n_t samples of model t-1.
    ``n`` is a schedule (growing sample sizes: a list or a function of t).

    Examples
    --------
    >>> import madsim as ms
    >>> ds = ms.simulate(ms.Config(loop=ms.Replace(n=20)), replicas=100, generations=10, seed=1,
    ...                  metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    >>> ms.Replace(n=[10, 20, 40]).n    # a schedule: n_t for t = 1, 2, 3
    (10, 20, 40)
    """

    n: Schedule = 100

    def __post_init__(self):
        _normalise(self)
        object.__setattr__(self, "n", _schedule("Replace.n", self.n, 2))

    def counts(self, generations: int):
        """(real, synthetic) added per generation, each [generations]."""
        return np.zeros(generations), schedule_values("Replace.n", self.n, generations, 2)


@dataclass(frozen=True)
class Augment:
    """Synthetic augmentation: one fixed real set of ``real`` points (drawn
    once per replica, at generation 0) plus ``synthetic`` fresh draws of model
    t-1 each generation (a schedule).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Augment(real=10, synthetic=10))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    """

    real: int = 10
    synthetic: Schedule = 10

    def __post_init__(self):
        _normalise(self)
        check.integer("Augment.real", self.real, 0, MAX_COUNT)
        object.__setattr__(self, "synthetic", _schedule("Augment.synthetic", self.synthetic, 0))
        if self.real == 0 and _schedule_min(self.synthetic) == 0 and _is_const(self.synthetic):
            raise ValueError("Augment: real = synthetic = 0 leaves nothing to train on")

    def counts(self, generations: int):
        return (np.zeros(generations),
                schedule_values("Augment.synthetic", self.synthetic, generations))


@dataclass(frozen=True)
class Fresh:
    """Fresh data: ``real`` new points from the truth plus ``synthetic`` draws
    of model t-1 each generation (both schedules).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Fresh(real=10, synthetic=10))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    """

    real: Schedule = 10
    synthetic: Schedule = 10

    def __post_init__(self):
        _normalise(self)
        object.__setattr__(self, "real", _schedule("Fresh.real", self.real, 0))
        object.__setattr__(self, "synthetic", _schedule("Fresh.synthetic", self.synthetic, 0))
        if _is_const(self.real) and _is_const(self.synthetic) and self.real + self.synthetic == 0:
            raise ValueError("Fresh: real = synthetic = 0 leaves nothing to train on")

    def counts(self, generations: int):
        return (schedule_values("Fresh.real", self.real, generations),
                schedule_values("Fresh.synthetic", self.synthetic, generations))


@dataclass(frozen=True)
class Accumulate:
    """Parameters
    ----------
    Accumulate
        every point ever drawn is kept. Generation t adds

    Notes
    -----
    ``synthetic`` draws of model t-1 (and ``real`` fresh points from the
    truth) to the pool and refits on all of it. The exact path keeps only the
    pool's sufficient statistics: memory O(1) in t.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Accumulate(synthetic=10))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var"])
    >>> ds["var"].shape
    (100, 11)
    """

    synthetic: Schedule = 100
    real: Schedule = 0

    def __post_init__(self):
        _normalise(self)
        object.__setattr__(self, "synthetic", _schedule("Accumulate.synthetic", self.synthetic, 0))
        object.__setattr__(self, "real", _schedule("Accumulate.real", self.real, 0))

    def counts(self, generations: int):
        return (schedule_values("Accumulate.real", self.real, generations),
                schedule_values("Accumulate.synthetic", self.synthetic, generations))


@dataclass(frozen=True)
class AccumulateSubsample:
    """Accumulate-subsample (Kazdan et al.): the pool grows as in
    ``Accumulate``; generation t fits on ``n`` points drawn from it without
    replacement (all of it while it holds fewer). Samples path only: the pool
    is kept point by point, so memory grows as replicas x pool size x dim.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.AccumulateSubsample(n=20, synthetic=20), path="samples")
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var", "points_synthetic"])
    >>> int(ds["points_synthetic"].sel(generation=10)[0])    # the subset's size
    20
    """

    n: int = 100
    synthetic: Schedule = 100
    real: Schedule = 0

    def __post_init__(self):
        _normalise(self)
        check.integer("AccumulateSubsample.n", self.n, 2, 2**20)
        object.__setattr__(self, "synthetic",
                           _schedule("AccumulateSubsample.synthetic", self.synthetic, 0))
        object.__setattr__(self, "real", _schedule("AccumulateSubsample.real", self.real, 0))

    def counts(self, generations: int):
        return (schedule_values("AccumulateSubsample.real", self.real, generations),
                schedule_values("AccumulateSubsample.synthetic", self.synthetic, generations))


# ---------------------------------------------------------------- knobs

@dataclass(frozen=True)
class Filter:
    """Provenance filter / watermark detector: each synthetic point is caught
    and dropped with probability ``tpr``, each real point wrongly dropped with
    probability ``fpr``, independently of its value. A fixed real set
    (``Augment``) is screened once, when it is drawn (a detector's verdict on a
    fixed point does not change).

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Fresh(real=10, synthetic=20), filter=ms.Filter(tpr=0.9, fpr=0.05))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, metrics=["var", "points_synthetic"])
    >>> bool((ds["points_synthetic"].sel(generation=10) <= 20).all())
    True
    """

    tpr: float = 0.0
    fpr: float = 0.0

    def __post_init__(self):
        _normalise(self)
        check.real("Filter.tpr", self.tpr, 0.0, 1.0)
        check.real("Filter.fpr", self.fpr, 0.0, 1.0)


FAMILIES = (Gaussian, Categorical, Bigram, PPCA, GaussianMixture, Regression)
LOOPS = (Replace, Augment, Fresh, Accumulate, AccumulateSubsample)


@dataclass(frozen=True)
class Config:
    """What to simulate.

    Parameters
    ----------
    family
        what is fit: Gaussian (default ``Gaussian()``), PPCA,
        GaussianMixture, Regression, Categorical or Bigram.
    loop
        what each generation trains on: Replace (default ``Replace(n=100)``),
        Augment, Fresh, Accumulate or AccumulateSubsample.
    estimator
        "mle" (divide scatter by the count) or "unbiased" (count - 1).
    temperature
        synthetic draws come from N(mu, tau^2 Sigma) (tau > 0).
    truncation
        None, or k > 0: synthetic draws are kept only within k standard
        deviations (Mahalanobis radius k for d > 1); exactly the requested
        number is accepted. Samples path only.
    weight
        None (pooled fit over all points), a number w in [0, 1] or "optimal"
        (Fresh with constant counts; docs/theory/real-data.md): the fit is w * (fit on the
        real part) + (1 - w) * (fit on the synthetic part).
    filter
        None or a Filter(tpr, fpr).
    path
        "exact" (draw sufficient statistics, cost independent of the counts) or
        "samples" (draw every point); None (the default): "exact" where the
        family has it (Gaussian, Categorical), else "samples" (Bigram).
    top_k, top_p
        token families only: synthetic tokens are drawn from the top_k most
        probable tokens, then from the smallest most-probable set whose mass
        reaches top_p (after the temperature, which for tokens draws from
        p^(1/temperature) renormalised); None: off.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(family=ms.Gaussian(), loop=ms.Fresh(real=5, synthetic=20),
    ...                 estimator="unbiased", temperature=0.9)
    >>> cfg.path
    'exact'
    >>> ms.Config.from_dict(cfg.to_dict()) == cfg
    True
    >>> ms.Config(temperature=-1.0)
    Traceback (most recent call last):
        ...
    ValueError: Config.temperature must be ...
    """

    family: Gaussian | Categorical | Bigram | PPCA | GaussianMixture | Regression = field(
        default_factory=Gaussian)
    loop: Replace | Augment | Fresh | Accumulate | AccumulateSubsample = field(default_factory=Replace)
    estimator: str = "mle"
    temperature: float = 1.0
    path: str | None = None
    truncation: float | None = None
    weight: float | str | None = None
    filter: Filter | None = None
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self):
        _normalise(self)
        if not isinstance(self.family, FAMILIES):
            raise TypeError(
                f"Config.family must be one of {', '.join(c.__name__ for c in FAMILIES)}; "
                f"got {self.family!r}")
        if not isinstance(self.loop, LOOPS):
            raise TypeError(
                f"Config.loop must be one of {', '.join(c.__name__ for c in LOOPS)}; "
                f"got {self.loop!r}")
        check.choice("Config.estimator", self.estimator, ESTIMATORS)
        check.real("Config.temperature", self.temperature, 0.0, None, lo_open=True)
        if self.path is None:
            object.__setattr__(self, "path", "samples" if isinstance(self.family, (Bigram, GaussianMixture))
                               else "exact")
        check.choice("Config.path", self.path, PATHS)
        if self.filter is not None and not isinstance(self.filter, Filter):
            raise TypeError(f"Config.filter must be None or a madsim.Filter; got {self.filter!r}")
        self._check_regression()
        self._check_tokens()
        self._check_mixture()
        self._check_truncation()
        self._check_weight()
        self._check_points()

    # -- cross-field checks, each naming the fields involved

    def _check_regression(self):
        fam = self.family
        if not isinstance(fam, Regression):
            return
        for name, off in (("temperature", 1.0), ("truncation", None), ("weight", None),
                          ("top_k", None), ("top_p", None)):
            if getattr(self, name) != off:
                raise ValueError(
                    f"Config.{name} has no meaning for Regression (synthetic rows are labelled "
                    f"by the previous fit plus Gaussian noise); leave it at {off!r}")
        if isinstance(self.loop, AccumulateSubsample) and self.path == "exact":
            raise ValueError(
                "AccumulateSubsample needs path='samples' for Regression: a random subset of the "
                "pooled rows is not a function of the pool's sufficient statistics (X'X, X'y, y'y)")
        if fam.ridge > 0 and self.estimator == "unbiased":
            raise ValueError(
                "Config.estimator='unbiased' divides the residual sum of squares by N - dim, the "
                "OLS degrees of freedom; with Regression.ridge > 0 use estimator='mle'")
        if fam.design == "fixed":
            if self.filter is not None:
                raise ValueError(
                    "Config.filter needs Regression.design='fresh': a filter drops a random subset "
                    "of a fixed design's rows every generation, whose X'X is not a function of the "
                    "fixed design's")
            loop = self.loop
            parts = [("synthetic", loop.synthetic)] if not isinstance(loop, Replace) else [("n", loop.n)]
            if isinstance(loop, (Fresh, Accumulate, AccumulateSubsample)):
                parts.append(("real", loop.real))
            for part, value in parts:
                if not _is_const(value):
                    raise ValueError(
                        f"Regression.design='fixed' relabels the same rows every generation: "
                        f"{type(loop).__name__}.{part} must be a constant integer; got {value!r}")

    def _check_tokens(self):
        fam = self.family
        if not isinstance(fam, (Categorical, Bigram)):
            for name in ("top_k", "top_p"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"Config.{name} applies to token families (Categorical, Bigram); this family is "
                        f"{type(fam).__name__}: use temperature or truncation")
            return
        if isinstance(fam, Bigram):
            self._check_bigram()
        if self.estimator != "mle":
            raise ValueError(
                f"Config.estimator must be 'mle' for {type(fam).__name__} (the refit is the "
                f"empirical frequency; use {type(fam).__name__}.smoothing for add-alpha); "
                f"got {self.estimator!r}")
        if self.truncation is not None:
            raise ValueError(
                f"Config.truncation is the Gaussian sampling bias; for {type(fam).__name__} use "
                "top_k or top_p")
        if self.top_k is not None:
            check.integer("Config.top_k", self.top_k, 1, fam.tokens)
        if self.top_p is not None:
            check.real("Config.top_p", self.top_p, 0.0, 1.0, lo_open=True)
        if self.weight is not None and fam.smoothing != 0.0:
            raise ValueError(
                f"{type(fam).__name__}.smoothing applies to the pooled fit; with Config.weight "
                "each part is fit separately: set one of them")

    def _check_bigram(self):
        if self.path != "samples":
            raise ValueError(
                "Bigram needs path='samples': the transition counts are multinomial only given "
                "the visits, and the visits depend on the transitions drawn, so the counts have "
                "no law that can be drawn without walking the chain")
        if isinstance(self.loop, AccumulateSubsample):
            pairs = self.loop.n * (self.family.length - 1)
            if pairs > 2**32 - 1:
                raise ValueError(
                    f"AccumulateSubsample.n = {self.loop.n} sequences of length "
                    f"{self.family.length} picks {pairs} transitions; at most 2**32 - 1 allowed")
        if self.weight is not None:
            raise ValueError(
                "Config.weight is not available for Bigram: the model is refit from the pooled "
                "transition counts (a row may be visited by one part only)")

    def _check_mixture(self):
        if not isinstance(self.family, GaussianMixture):
            return
        if self.path != "samples":
            raise ValueError(
                "GaussianMixture needs path='samples': the EM refit depends on the points "
                "themselves, not on a sufficient statistic whose law could be drawn directly")
        if self.estimator != "mle":
            raise ValueError(f"Config.estimator must be 'mle' for GaussianMixture (EM is a maximum "
                             f"likelihood fit); got {self.estimator!r}")
        if self.truncation is not None:
            raise ValueError("Config.truncation is not available for GaussianMixture (use temperature)")
        if self.weight is not None:
            raise ValueError("Config.weight is not available for GaussianMixture: EM fits the pooled "
                             "points")

    def _check_truncation(self):
        if self.truncation is None:
            return
        k = check.real("Config.truncation", self.truncation, 0.0, None, lo_open=True)
        if self.path == "exact":
            raise ValueError(
                "Config.truncation needs path='samples': the exact path draws sufficient "
                "statistics of Gaussian samples and truncated samples have no such law")
        from scipy.stats import chi2
        accept = float(chi2.cdf(k * k, self.family.dim))
        if accept < 1e-6:
            raise ValueError(
                f"Config.truncation = {k} keeps a fraction {accept:.3g} of draws in dim "
                f"{self.family.dim}; rejection sampling would not finish (need >= 1e-6)")

    def _check_weight(self):
        w = self.weight
        if w is None:
            return
        loop = self.loop
        if not isinstance(loop, (Fresh, Augment)):
            raise ValueError(
                f"Config.weight needs a loop with a real and a synthetic part (Fresh or Augment); "
                f"got {type(loop).__name__}")
        if isinstance(w, str):
            if w != "optimal":
                raise ValueError(f"Config.weight must be a number in [0, 1], 'optimal' or None; got {w!r}")
            if not (isinstance(loop, Fresh) and _is_const(loop.real) and _is_const(loop.synthetic)):
                raise ValueError(
                    "Config.weight='optimal' is the w* of docs/theory/real-data.md: it needs Fresh with constant "
                    "real and synthetic counts")
        else:
            check.real("Config.weight", w, 0.0, 1.0)
        need = max(1, self.family.min_points)
        real_min = loop.real if isinstance(loop, Augment) else _schedule_min(loop.real)
        syn_min = _schedule_min(loop.synthetic)
        for part, lo in (("real", real_min), ("synthetic", syn_min)):
            if lo is not None and lo < need:
                raise ValueError(
                    f"Config.weight fits the real and synthetic parts separately: each needs at "
                    f"least {_need_text(self.family)}; {type(loop).__name__}.{part} can be {lo}")

    def _check_points(self):
        """Every fit needs dim + 1 points that can survive the filter."""
        loop, need = self.loop, self.family.min_points
        tpr = self.filter.tpr if self.filter else 0.0
        fpr = self.filter.fpr if self.filter else 0.0
        gaussian = isinstance(self.family, (Gaussian, PPCA))
        if isinstance(loop, AccumulateSubsample) and self.path == "exact" and gaussian:
            raise ValueError(
                "AccumulateSubsample needs path='samples': a random subset of the pool is not a "
                "function of the pool's sufficient statistics")
        if isinstance(loop, Replace):
            real, syn = 0, _schedule_min(loop.n)
        elif isinstance(loop, Augment):
            real, syn = loop.real, _schedule_min(loop.synthetic)
        elif isinstance(loop, Fresh):
            real, syn = _schedule_min(loop.real), _schedule_min(loop.synthetic)
        else:  # accumulating loops: generation 1 alone must be fittable
            real, syn = _first(loop.real), _first(loop.synthetic)
        if real is None or syn is None:
            return  # a callable schedule: checked per generation when evaluated
        if isinstance(loop, AccumulateSubsample) and loop.n < need:
            raise ValueError(
                f"AccumulateSubsample.n = {loop.n} must be >= {_need_text(self.family)}")
        usable = (real if fpr < 1.0 else 0) + (syn if tpr < 1.0 else 0)
        if usable < need:
            what = ""
            if self.filter is not None:
                what = f" after Filter(tpr={tpr}, fpr={fpr})"
            raise ValueError(
                f"{type(loop).__name__}: a fit needs at least {_need_text(self.family)}{what}; "
                f"this loop gives {real} real + {syn} synthetic (min over generations), of which "
                f"at most {usable} can survive")

    # -- (de)serialisation

    def to_dict(self) -> dict:
        """A plain dict (JSON-able) with the class name of each part.
        Callable schedules are recorded by name (they cannot be rebuilt)."""

        def part(obj):
            out = {"type": type(obj).__name__}
            for f in dataclasses.fields(obj):
                v = getattr(obj, f.name)
                out[f.name] = _schedule_json(v) if (callable(v) or isinstance(v, tuple)) else v
            return out

        return {
            "family": part(self.family),
            "loop": part(self.loop),
            "estimator": self.estimator,
            "temperature": self.temperature,
            "path": self.path,
            "truncation": self.truncation,
            "weight": self.weight,
            "filter": None if self.filter is None else part(self.filter),
            "top_k": self.top_k,
            "top_p": self.top_p,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        def build(spec, classes, what):
            spec = dict(spec)
            kind = spec.pop("type", None)
            for c in classes:
                if c.__name__ == kind:
                    for k, v in spec.items():
                        if isinstance(v, dict) and "callable" in v:
                            raise ValueError(
                                f"{what}.{k} was the callable {v['callable']!r}, which a saved "
                                "config cannot rebuild; pass it again")
                    return c(**spec)
            names = ", ".join(c.__name__ for c in classes)
            raise ValueError(f"{what} type must be one of {names}; got {kind!r}")

        d = dict(d)
        filt = d.pop("filter", None)
        return cls(
            family=build(d.pop("family"), FAMILIES, "family"),
            loop=build(d.pop("loop"), LOOPS, "loop"),
            filter=None if filt is None else build(filt, (Filter,), "filter"),
            **d,
        )

    # -- derived quantities used by the kernels and theory

    @property
    def optimal_weight(self) -> float:
        """The optimal weight w* for ``Fresh(real=n, synthetic=m)``, the root of
        w^2 + c w - c = 0 with c = n/m (He, Xu, Cheng, JRSS-B; arXiv
        2502.18049; docs/theory/real-data.md)."""
        loop = self.loop
        if not (isinstance(loop, Fresh) and _is_const(loop.real) and _is_const(loop.synthetic)):
            raise ValueError("optimal_weight needs Fresh with constant real and synthetic counts")
        if loop.synthetic == 0:
            return 1.0
        c = loop.real / loop.synthetic
        return (math.sqrt(c * c + 4.0 * c) - c) / 2.0

    @property
    def weight_value(self) -> float | None:
        """The weight as a number (``optimal`` resolved), or None for a pooled fit."""
        if self.weight is None:
            return None
        return self.optimal_weight if self.weight == "optimal" else float(self.weight)


def _need_text(family) -> str:
    """How many points a fit of ``family`` needs, in words."""
    if isinstance(family, (Gaussian, PPCA)):
        return f"dim + 1 = {family.dim + 1} points"
    if isinstance(family, GaussianMixture):
        return "1 point"
    if isinstance(family, Regression):
        if family.ridge > 0:
            return "1 row (ridge > 0)"
        return f"dim + 1 = {family.dim + 1} rows (OLS: n <= dim leaves X'X singular or no residual)"
    if isinstance(family, Bigram):
        n = max(1, family.min_points)
        return f"{n} sequence{'s' if n > 1 else ''}"
    n = max(1, family.min_points)
    return f"{n} token{'s' if n > 1 else ''}"


def _first(value: Schedule) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, tuple):
        return value[0]
    return None
