"""The categorical (token) model, by numbers (docs/theory/categorical.md).

Replace loop. The model is a probability vector over K tokens; each
generation draws n tokens from the current model and refits by their
empirical frequencies (the MLE; temperature 1, no top-k/top-p). Generation 0
is the truth p0 (any probabilities) and is also the first generative model;
generation 1 is the empirical frequencies of n draws from p0; generation
t + 1 those of n draws from generation t. The count of any one token is the
neutral haploid Wright-Fisher (WF) chain on {0, ..., n},

    P(i -> j) = Binom(j; n, i/n),

entered at generation 1 with the law Binom(j; n, p0_i). When n p0_i = c is an
integer this is row c of P, so the count "is" c at generation 0 and
[P^t]_{c,j} is its law at generation t; for other p0_i the first step is
the binomial draw and the chain takes over from there (every function here
follows this convention, so p0 need not be a multiple of 1/n).

Fresh-data loop: generation t + 1 is the frequencies of m real draws from p*
pooled with k draws from generation t, N = m + k, from generation 0 = p*
(the truth).

Sources (details on the page): Wright (1931) and Fisher (1930) for the
chain; Kimura & Ohta (1969), Genetics 61 (absorption-time diffusion);
Littler (1975) and Baxter, Blythe & McKane (2007) (K types); Ewens,
Mathematical Population Genetics (2004); Seddik et al. (arXiv 2404.05090:
the fully synthetic decay of sum p^2 is the Gini-Simpson decay); Suresh,
Thangaraj, Khandavally, AISTATS 2025 (arXiv 2412.17646: the survival lower
bound); Shumailov et al. (Nature 2024, arXiv 2305.17493: the discrete chain
absorbs at delta functions).

Exact chain quantities build the dense (n+1) x (n+1) matrix: fine for n up
to a few thousand (memory 8 (n+1)^2 bytes, time about t (n+1)^2 flops for a
horizon of t generations); the diffusion formulas have no such limit.
"""

from __future__ import annotations

import functools
import numbers
from typing import NamedTuple

import numpy as np
from scipy import special

from .. import checks as check
from .common import pick, times

# Largest n for which the exact (n+1) x (n+1) chain is built (memory
# 8 (n+1)^2 bytes = 128 MB at the limit).
MAX_CHAIN_N = 4000
# Probability vectors may miss 1 by this much (rounding of K terms).
_SUM_TOL = 1e-9
# A frequency p is read as the count c = n p at generation 0 when n p is this
# close to an integer (the two readings give the same law; indexing the chain
# at c is just cheaper and has no binomial-mixing rounding).
_INT_TOL = 1e-9
# Binomial mixing rows are built in blocks of at most this many entries.
_BLOCK = 1 << 22
# Binomial laws of the first generation are summed over the counts whose
# tail probabilities exceed this (as in common: exact to double precision).
_TAIL = 1e-20


# ---------------------------------------------------------------- argument checks


def _n(n, lo=1):
    return check.integer("n", n, lo)


def _chain_n(n):
    n = _n(n)
    if n > MAX_CHAIN_N:
        raise ValueError(
            f"n must be <= {MAX_CHAIN_N} for the exact chain (an (n+1) x (n+1) matrix); "
            f"got {n}: use method='diffusion' or the Feller approximation"
        )
    return n


def _probabilities(name, p):
    """A 1-D probability vector (finite, >= 0, summing to 1 within 1e-9)."""
    try:
        arr = np.asarray(p)
    except Exception as exc:  # pragma: no cover - ragged input etc.
        raise TypeError(f"{name} must be a 1-D array of probabilities; got {p!r}") from exc
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be a 1-D array of probabilities (real numbers); got {p!r}")
    arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of probabilities; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must have at least one category (K >= 1); got an empty array")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {p!r}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0; got min {arr.min()!r}")
    s = float(arr.sum())
    if abs(s - 1.0) > _SUM_TOL:
        raise ValueError(f"{name} must sum to 1 (within {_SUM_TOL:g}); sums to {s!r}")
    return arr


def _frequencies(name, p):
    """p in [0, 1]: a number or an array of them; (array, was scalar)."""
    if isinstance(p, numbers.Real) and not isinstance(p, bool):
        arr, scalar = np.asarray(float(p)), True
    else:
        arr = np.asarray(p)
        if arr.dtype == bool or not (
            np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
        ):
            raise TypeError(f"{name} must be a frequency in [0, 1] or an array of them; got {p!r}")
        arr, scalar = arr.astype(np.float64), arr.ndim == 0
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one frequency; got an empty array")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{name} must be in [0, 1]; got {p!r}")
    return arr, scalar


def _method(method):
    return check.choice("method", method, ("exact", "diffusion"))


def _out(x, scalar):
    return float(x) if scalar else np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------- the chain


def wf_transition(n):
    """The (n+1) x (n+1) binomial Wright-Fisher matrix of one token's count.

    ``P(i -> j) = Binom(j; n, i/n)``, states 0..n = the count of one token
    among n draws; rows 0 and n are the absorbing states. Entries from
    ``scipy.stats.binom.pmf`` (accurate to a few ulp, no overflow at any n).

    Parameters
    ----------
    n : int
        Draws per generation (1 <= n <= 4000).

    Returns
    -------
    ndarray
        A new, writable array of shape (n + 1, n + 1).

    Notes
    -----
    docs/theory/categorical.md, section "The chain" (Wright 1931; Fisher 1930).

    Examples
    --------
    >>> from madsim import theory
    >>> theory.wf_transition(2).round(12).tolist()
    [[1.0, 0.0, 0.0], [0.25, 0.5, 0.25], [0.0, 0.0, 1.0]]
    """
    return np.array(_transition(_chain_n(n)))


@functools.lru_cache(maxsize=4)
def _transition(n: int) -> np.ndarray:
    from scipy import stats  # lazy: scipy.stats is slow to import

    i = np.arange(n + 1)
    P = stats.binom.pmf(i[None, :], n, i[:, None] / n)
    P.setflags(write=False)
    return P


def _binom_mix(n, p, vecs):
    """[len(p), ...]: sum_j Binom(j; n, p_u) vecs[j, ...], the expectation of
    vecs over the count at generation 1 (n draws from the truth). Rows are
    taken in order of p, in blocks, each summed over the counts j whose
    binomial tails exceed _TAIL for the block's smallest/largest p (the mass
    left out is below 2e-20 per row): for a Zipf truth most tokens have
    n p << 1 and need only a few counts."""
    from scipy import stats  # lazy: scipy.stats is slow to import

    p = np.asarray(p, dtype=np.float64)
    vecs = np.asarray(vecs, dtype=np.float64)
    out = np.empty((p.size,) + vecs.shape[1:])
    order = np.argsort(p, kind="stable")
    step = max(1, min(1024, _BLOCK // (n + 1)))
    for a in range(0, p.size, step):
        idx = order[a : a + step]
        lo = int(max(0, stats.binom.ppf(_TAIL, n, p[idx[0]]) - 1))
        # upper tail by symmetry (binom.isf returns n for tails this small)
        hi = int(min(n, n - stats.binom.ppf(_TAIL, n, 1.0 - p[idx[-1]]) + 1))
        j = np.arange(lo, hi + 1)
        out[idx] = np.tensordot(stats.binom.pmf(j[None, :], n, p[idx, None]), vecs[lo : hi + 1], axes=1)
    return out


def _columns(n, gens, fixed):
    """{s: [n+1]} for s in gens: P(alive at s | count j at generation 0) =
    [P^s (1 - e_0)]_j, or with ``fixed`` P(alone by s | j) = [P^s e_n]_j.
    Iterated vector by vector (no matrix powers): s_max (n+1)^2 flops. The
    products are numpy's einsum loops, not BLAS: a matrix-vector product is
    memory-bound, and threaded BLAS only adds synchronisation (10x slower on
    a busy 2-core machine)."""
    P = _transition(n)
    x = np.zeros(n + 1)
    if fixed:
        x[n] = 1.0
    else:
        x[1:] = 1.0
    want = set(int(s) for s in gens)
    top = max(want) if want else -1
    out = {}
    for s in range(top + 1):
        if s in want:
            out[s] = x
        if s < top:
            x = np.einsum("ij,j->i", P, x)
    return out


def _alive_fixed(t_arr, n, p, fixed=False):
    """[*t.shape, len(p)]: P(token alive at t) or, with ``fixed``, P(token
    alone at t), for initial frequencies p (generation 0 = truth, generation
    1 binomial)."""
    p = np.asarray(p, dtype=np.float64)
    t_flat = t_arr.ravel()
    c = np.rint(p * n)
    direct = np.abs(p * n - c) <= _INT_TOL  # count c at generation 0: row c of P^t
    c = c[direct].astype(np.int64)
    mix = np.flatnonzero(~direct)  # binomial draw at generation 1, then P^{t-1}
    pos = sorted({int(s) for s in t_flat if s > 0})
    cols = _columns(
        n, (set(pos) if direct.any() else set()) | ({s - 1 for s in pos} if mix.size else set()), fixed
    )
    at = {s: i for i, s in enumerate(pos)}
    if mix.size and pos:
        mixed = _binom_mix(n, p[mix], np.stack([cols[s - 1] for s in pos], axis=1))  # [len(mix), len(pos)]
    out = np.empty((t_flat.size, p.size))
    for r, s in enumerate(t_flat):
        s = int(s)
        if s == 0:
            out[r] = (p == 1.0) if fixed else (p > 0)
            continue
        if direct.any():
            out[r, direct] = cols[s][c]
        if mix.size:
            out[r, mix] = mixed[:, at[s]]
    return out.reshape(t_arr.shape + (p.size,))


# ---------------------------------------------------------------- replace loop: diversity and survival


def gini_simpson(t, n, p0):
    """Expected Gini-Simpson diversity of the token replace loop.

    ``E[1 - sum_i p_{t,i}^2] = (1 - 1/n)^t (1 - sum_i p0_i^2)``, exact for any
    truth p0, with n draws per generation (the heterozygosity decay of
    population genetics; diploid populations: n = 2N).

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Draws per generation (>= 1).
    p0 : array_like
        The truth, a probability vector.

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Diversity decay (Gini-Simpson)";
    Seddik et al. (arXiv 2404.05090) give the same law for the fully
    synthetic loop. Checked by the validate cases ``sec6-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.gini_simpson(100, 50, [0.2] * 5), 6)  # 0.8 * 0.98 ** 100
    0.106096
    """
    t_arr, _, scalar = times(t)
    n = _n(n)
    p0 = _probabilities("p0", p0)
    g0 = 1.0 - float(np.dot(p0, p0))
    return _out((1.0 - 1.0 / n) ** t_arr.astype(np.float64) * g0, scalar)


def survival(t, n, c=None, *, p=None):
    """Probability that a token is alive at generation t of the token replace loop.

    Exact from the Wright-Fisher chain with n draws per generation:

    * ``c``: initial count c in 0..n (frequency c/n at generation 0):
      ``1 - [P^t]_{c,0}``;
    * ``p``: initial frequency p in [0, 1] (any, the truth's probability):
      ``1 - sum_j Binom(j; n, p) [P^{t-1}]_{j,0}`` for t >= 1, ``1{p > 0}`` at
      t = 0.

    Computed as P^t applied to the vector 1 - e_0 (no cancellation for small
    survivals), one matrix-vector product per generation up to max(t).

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Draws per generation (1 <= n <= 4000).
    c : int or array of int, optional
        Initial count(s).
    p : float or array, optional (keyword only)
        Initial frequency (frequencies).

    Returns
    -------
    float or ndarray
        Shaped ``t.shape + c.shape`` (or ``p.shape``).

    Raises
    ------
    TypeError
        Unless exactly one of c and p is given.

    Notes
    -----
    docs/theory/categorical.md, section "Survival of a token". Checked through
    ``expected_survivors`` by the validate cases ``sec6-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> theory.survival([1, 10, 100], 100, c=1).round(5).tolist()
    [0.63397, 0.16139, 0.02304]
    >>> round(theory.survival(10, 100, p=0.015), 6)
    0.232401
    """
    t_arr, _, scalar = times(t)
    n = _chain_n(n)
    if (c is None) == (p is None):
        raise TypeError("survival: give exactly one of c (an initial count) and p (an initial frequency)")
    if c is not None:
        c_arr = np.asarray(c)
        if c_arr.dtype == bool or not np.issubdtype(c_arr.dtype, np.integer):
            raise TypeError(f"c must be an integer count in [0, {n}] or an array of them; got {c!r}")
        if np.any(c_arr < 0) or np.any(c_arr > n):
            raise ValueError(f"c must be an integer count in [0, {n}]; got {c!r}")
        freq, shape = c_arr.astype(np.float64).ravel() / n, c_arr.shape
    else:
        freq, _ = _frequencies("p", p)
        shape = freq.shape
        freq = freq.ravel()
    res = _alive_fixed(t_arr, n, freq).reshape(t_arr.shape + shape)
    return _out(res, scalar and not shape)


def survival_feller(t, c):
    """Feller's diffusion approximation of a token's survival, 1 - exp(-2c/t).

    For a token of initial count c, valid for 1 << t << n (the count of a
    rare token is close to a critical branching process with offspring
    variance 1). 1 at t = 0 for c > 0.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    c : float
        Initial count (>= 0).

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Survival of a token"; Feller (1951),
    "Diffusion processes in genetics". An approximation: no validate case.

    Examples
    --------
    >>> from madsim import theory
    >>> theory.survival_feller([10, 100], 1).round(5).tolist()
    [0.18127, 0.0198]
    """
    return _survival_approx(t, c, 2.0)


def survival_suresh(t, c):
    """Suresh et al.'s lower bound on a token's survival, 1 - exp(-c/t).

    For a token of initial count c; holds for every n. 1 at t = 0 for c > 0.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    c : float
        Initial count (>= 0).

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Survival of a token"; Suresh,
    Thangaraj, Khandavally, "Rate of model collapse in recursive training",
    AISTATS 2025 (arXiv 2412.17646). A bound: no validate case.

    Examples
    --------
    >>> from madsim import theory
    >>> theory.survival_suresh([10, 100], 1).round(5).tolist()
    [0.09516, 0.00995]
    """
    return _survival_approx(t, c, 1.0)


def _survival_approx(t, c, factor):
    t_arr, _, scalar = times(t)
    c = check.real("c", c, 0.0)
    tt = t_arr.astype(np.float64)
    with np.errstate(divide="ignore"):
        res = np.where(tt > 0, -np.expm1(-factor * c / np.where(tt > 0, tt, 1.0)), 1.0 if c > 0 else 0.0)
    return _out(res, scalar)


def expected_survivors(t, n, p0):
    """Expected number of tokens alive at generation t of the token replace loop.

    ``sum_i P(token i alive at t)`` (linearity), exact from the Wright-Fisher
    chain, for the truth p0 at generation 0 (any probabilities: generation 1
    is n draws from p0; when ``n p0_i = c_i`` are integers this is
    ``sum_i 1 - [P^t]_{c_i,0}``). Tokens of equal p0_i are computed once.
    ``expected_support_size`` is the same function.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Draws per generation (1 <= n <= 4000).
    p0 : array_like
        The truth, a probability vector.

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Survival of a token". Checked by the
    validate cases ``sec6-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.expected_survivors(100, 50, [0.2] * 5), 4)
    1.3128
    >>> round(theory.expected_support_size(10, 100, [0.01] * 100), 3)
    16.139
    """
    t_arr, _, scalar = times(t)
    n = _chain_n(n)
    p0 = _probabilities("p0", p0)
    vals, mult = np.unique(p0, return_counts=True)
    res = _alive_fixed(t_arr, n, vals) @ mult.astype(np.float64)
    return _out(res, scalar)


expected_support_size = expected_survivors


def prob_one_left(t, n, p0):
    """Probability that only one token is left at generation t (total collapse by t).

    ``sum_i P(count of token i is n at t)``: the events are disjoint and each
    token's count is a Wright-Fisher chain, so this is exact from the
    (n+1)-state chain for any number of tokens. Generation 0 is the truth p0.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        Draws per generation (1 <= n <= 4000).
    p0 : array_like
        The truth, a probability vector.

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Total collapse". Checked by the
    validate cases ``sec6-wf-n50-k5*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.prob_one_left(100, 50, [0.2] * 5), 6)
    0.696966
    """
    t_arr, _, scalar = times(t)
    n = _chain_n(n)
    p0 = _probabilities("p0", p0)
    vals, mult = np.unique(p0, return_counts=True)
    res = _alive_fixed(t_arr, n, vals, fixed=True) @ mult.astype(np.float64)
    return _out(np.minimum(res, 1.0), scalar)


# ---------------------------------------------------------------- replace loop: fixation and absorption


def fixation_probability(p0, n=None):
    """Probability that a token eventually takes over, p0.

    The frequency is a bounded martingale absorbed almost surely, so the
    fixation probability is the initial frequency (elementwise for an array).
    With ``n`` (the draws per generation) it is computed from the exact chain
    instead, ``h = (I - Q)^{-1} R e_n`` (fundamental matrix, Q the transient
    block, generation 1 binomial from p0): a check of the chain, equal to p0
    to about 1e-12.

    Parameters
    ----------
    p0 : float or array
        Initial frequency (frequencies) in [0, 1].
    n : int, optional
        Draws per generation (1 <= n <= 4000) for the exact chain.

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Fixation probability".

    Examples
    --------
    >>> from madsim import theory
    >>> theory.fixation_probability(0.3)
    0.3
    >>> round(theory.fixation_probability(0.3, n=20), 9)
    0.3
    """
    p, scalar = _frequencies("p0", p0)
    if n is None:
        return _out(p, scalar)
    n = _chain_n(n)
    return _out(_from_start(n, p, _absorption(n)[:, 3], absorbed=(0.0, 1.0), step=0.0), scalar)


@functools.lru_cache(maxsize=4)
def _absorption(n: int) -> np.ndarray:
    """[n+1, 4] for each count j at generation 0: E T_abs, E[T 1{fix}],
    E[T 1{loss}], P(fix). Fundamental matrix N = (I - Q)^{-1}, Q = P[1:n, 1:n]:
    E T = N 1, E[T 1{fix}] = N h with h_j = j/n (the fixation probability),
    E[T 1{loss}] = N (1 - h), P(fix) = N P[1:n, n]."""
    P = _transition(n)
    out = np.zeros((n + 1, 4))
    out[n, 3] = 1.0
    if n >= 2:
        h = np.arange(1, n) / n
        A = np.eye(n - 1) - P[1:n, 1:n]
        rhs = np.column_stack([np.ones(n - 1), h, 1.0 - h, P[1:n, n]])
        out[1:n] = np.linalg.solve(A, rhs)
    out.setflags(write=False)
    return out


def _from_start(n, p, col, absorbed, step):
    """E[f] from frequency p at generation 0, where col[j] is E[f] from count
    j: col[c] when n p = c is an integer, else the generation-1 binomial mix
    sum_j Binom(j; n, p) (step_j + col[j]), step_j the generation's own
    contribution (``step``: a constant, or an array over j). ``absorbed``:
    the value at p = 0 and p = 1 (already absorbed at generation 0)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.empty(p.shape)
    c = np.rint(p * n)
    direct = np.abs(p * n - c) <= _INT_TOL
    out[direct] = np.asarray(col)[c[direct].astype(np.int64)]
    mix = ~direct
    if np.any(mix):
        step_j = np.broadcast_to(np.asarray(step, dtype=np.float64), (n + 1,))
        out[mix] = _binom_mix(n, p[mix], step_j + col)
    out[p == 0.0] = absorbed[0]
    out[p == 1.0] = absorbed[1]
    return out


def _exact_time(n, p, which):
    """E T_abs (which = 0), E[T 1{fix}] (1) or E[T 1{loss}] (2) from
    frequency p at generation 0. A mixed start spends generation 1 on the
    binomial draw: E T = sum_j b_j (1 + tau_j), E[T 1{fix}] = sum_j b_j
    (h_j + g_j) with h_j = j/n (h_n = 1, g_n = 0), likewise for loss."""
    h = np.arange(n + 1) / n
    step = (1.0, h, 1.0 - h)[which]
    return _from_start(n, p, _absorption(n)[:, which], (0.0, 0.0), step)


def absorption_time(n, p, method="exact"):
    """Mean number of generations until one of two types is lost.

    For initial frequency p and n draws per generation, counted from
    generation 0 = truth:

    * ``"exact"``: the fundamental matrix of the Wright-Fisher chain,
      ``E T = (I - Q)^{-1} 1``;
    * ``"diffusion"``: Kimura and Ohta (1969),
      ``-2n [p ln p + (1-p) ln(1-p)]`` (``2n ln 2`` at p = 1/2).

    The diffusion value lies above the exact one by a gap that grows like
    (ln n)/3: at p = 1/2 it is 1.50 (n = 20), 2.03 (n = 100), 2.56 (n = 500),
    2.79 (n = 1000) generations.

    Parameters
    ----------
    n : int
        Draws per generation (exact: 1 <= n <= 4000).
    p : float or array
        Initial frequency (frequencies) in [0, 1]; 0 at p = 0 or 1.
    method : {"exact", "diffusion"}, default "exact"

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Absorption, fixation and loss times".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.absorption_time(100, 0.5), 3)
    136.602
    >>> round(theory.absorption_time(100, 0.5, method="diffusion"), 3)  # 200 ln 2
    138.629
    """
    n = _n(n)
    p, scalar = _frequencies("p", p)
    if _method(method) == "diffusion":
        return _out(-2.0 * n * (special.xlogy(p, p) + special.xlog1py(1.0 - p, -p)), scalar)
    return _out(_exact_time(_chain_n(n), p, 0), scalar)


def fixation_time(n, p, method="exact"):
    """Mean absorption time given that the type of initial frequency p takes over, E[T | fixation].

    Counted from generation 0 = truth:

    * ``"exact"``: ``E[T 1{fix}] / p`` with ``E[T 1{fix}] = (I - Q)^{-1} h``,
      ``h_j = j/n`` (the chain conditioned on fixation);
    * ``"diffusion"``: Kimura and Ohta (1969), ``-2n (1-p) ln(1-p) / p``
      (tends to 2n as p -> 0).

    Parameters
    ----------
    n : int
        Draws per generation (exact: 1 <= n <= 4000).
    p : float or array
        Initial frequency (frequencies) in (0, 1]; 0 at p = 1.
    method : {"exact", "diffusion"}, default "exact"

    Returns
    -------
    float or ndarray

    Raises
    ------
    ValueError
        For p = 0 (a type of frequency 0 never takes over).

    Notes
    -----
    docs/theory/categorical.md, section "Absorption, fixation and loss times".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.fixation_time(100, 0.01), 3)
    196.742
    >>> round(theory.fixation_time(100, 0.01, method="diffusion"), 3)
    198.997
    """
    n = _n(n)
    p, scalar = _frequencies("p", p)
    if np.any(p == 0.0):
        raise ValueError("p must be > 0 for fixation_time (a type of frequency 0 never takes over)")
    if _method(method) == "diffusion":
        return _out(-2.0 * n * special.xlog1py(1.0 - p, -p) / p, scalar)
    return _out(_exact_time(_chain_n(n), p, 1) / p, scalar)


def loss_time(n, p, method="exact"):
    """Mean absorption time given that the type of initial frequency p is lost, E[T | loss].

    Counted from generation 0 = truth:

    * ``"exact"``: ``E[T 1{loss}] / (1-p)`` with
      ``E[T 1{loss}] = (I - Q)^{-1} (1 - h)``;
    * ``"diffusion"``: Kimura and Ohta (1969), ``-2n p ln p / (1-p)`` (about
      2 ln n for p = 1/n).

    Parameters
    ----------
    n : int
        Draws per generation (exact: 1 <= n <= 4000).
    p : float or array
        Initial frequency (frequencies) in [0, 1); 0 at p = 0.
    method : {"exact", "diffusion"}, default "exact"

    Returns
    -------
    float or ndarray

    Raises
    ------
    ValueError
        For p = 1 (a type of frequency 1 is never lost).

    Notes
    -----
    docs/theory/categorical.md, section "Absorption, fixation and loss times".

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.loss_time(100, 0.01), 4)
    8.6561
    >>> round(theory.loss_time(100, 0.01, method="diffusion"), 4)
    9.3034
    """
    n = _n(n)
    p, scalar = _frequencies("p", p)
    if np.any(p == 1.0):
        raise ValueError("p must be < 1 for loss_time (a type of frequency 1 is never lost)")
    if _method(method) == "diffusion":
        return _out(-2.0 * n * special.xlogy(p, p) / (1.0 - p), scalar)
    return _out(_exact_time(_chain_n(n), p, 2) / (1.0 - p), scalar)


def time_to_one_left(n, p0, method="exact"):
    """Mean number of generations until one of K tokens is left (total collapse).

    From generation 0 = truth p0:

    * ``"diffusion"``: Littler (1975), ``-2n sum_i (1-p_i) ln(1-p_i)``
      (``2n (K-1) ln(K/(K-1))`` for equal frequencies);
    * ``"exact"``: ``sum_i E[T_i 1{token i fixes}] = sum_i p_i E[T | fix](p_i)``,
      exact for any K: the collapse time is the absorption time of the token
      that takes over, and each token's count is a two-type Wright-Fisher
      chain, so only the (n+1)-state chain is needed. For K = 2 it equals
      ``absorption_time(n, p_1)``.

    Littler's formula is likewise ``sum_i p_i`` times the Kimura-Ohta fixation
    time, so diffusion and exact differ by the same few generations as in
    ``absorption_time`` (about 2 at n = 50, K = 5).

    Parameters
    ----------
    n : int
        Draws per generation (exact: 1 <= n <= 4000).
    p0 : array_like
        The truth, a probability vector.
    method : {"exact", "diffusion"}, default "exact"

    Returns
    -------
    float

    Notes
    -----
    docs/theory/categorical.md, section "Absorption, fixation and loss times";
    Littler (1975), Mathematical Biosciences 25; Baxter, Blythe, McKane (2007).

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.time_to_one_left(50, [0.2] * 5), 3)
    87.303
    >>> round(theory.time_to_one_left(50, [0.2] * 5, method="diffusion"), 3)
    89.257
    """
    n = _n(n)
    p0 = _probabilities("p0", p0)
    if _method(method) == "diffusion":
        return float(-2.0 * n * np.sum(special.xlog1py(1.0 - p0, -p0)))
    vals, mult = np.unique(p0, return_counts=True)
    return float(_exact_time(_chain_n(n), vals, 1) @ mult)


# ---------------------------------------------------------------- martingale (every MLE loop)


def expected_frequencies(t, p0):
    """Expected token frequencies, E p_t = p0, at every generation.

    The categorical form of the invariant of MLE loops: it holds exactly for
    every loop refit by MLE counts at temperature 1 without top-k/top-p
    (replace, fresh, augment, accumulate, accumulate-subsample, any schedule,
    any filter that ignores token values): every draw, real or synthetic, has
    expectation p0 by induction.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    p0 : array_like
        The truth, a probability vector of K tokens.

    Returns
    -------
    ndarray
        Shape ``t.shape + (K,)``.

    Notes
    -----
    docs/theory/categorical.md, section "The martingale of every MLE loop".

    Examples
    --------
    >>> from madsim import theory
    >>> theory.expected_frequencies(10, [0.5, 0.3, 0.2]).tolist()
    [0.5, 0.3, 0.2]
    """
    t_arr, _, scalar = times(t)
    p0 = _probabilities("p0", p0)
    res = np.broadcast_to(p0, t_arr.shape + p0.shape).copy()
    return res.reshape(p0.shape) if scalar else res


def expected_mass(t, p0, subset):
    """Expected mass of a set of tokens, E[sum_{i in subset} p_{t,i}] = sum_{i in subset} p0_i.

    The martingale oracle of ``expected_frequencies`` for a linear statistic,
    e.g. the mass of the originally rarest tokens; same loops.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    p0 : array_like
        The truth, a probability vector of K tokens.
    subset : array_like
        Distinct token indices, or a boolean mask of length K.

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "The martingale of every MLE loop".
    The validate cases ``sec6-*`` and ``sec7-tokens-*`` compare the mass of
    the rarest tokens with this value.

    Examples
    --------
    >>> from madsim import theory
    >>> theory.expected_mass(10, [0.5, 0.3, 0.2], [1, 2])
    0.5
    """
    t_arr, _, scalar = times(t)
    p0 = _probabilities("p0", p0)
    sub = np.asarray(subset)
    if sub.dtype == bool:
        if sub.shape != p0.shape:
            raise ValueError(
                f"subset as a mask must have the length of p0 ({p0.size}); got shape {sub.shape}"
            )
        mass = float(p0[sub].sum())
    elif sub.size == 0 or np.issubdtype(sub.dtype, np.integer):
        sub = sub.astype(np.int64).ravel()
        if np.any(sub < 0) or np.any(sub >= p0.size):
            raise ValueError(f"subset indices must be in 0..{p0.size - 1}; got {subset!r}")
        if np.unique(sub).size != sub.size:
            raise ValueError(f"subset indices must be distinct; got {subset!r}")
        mass = float(p0[sub].sum())
    else:
        raise TypeError(f"subset must be token indices (integers) or a boolean mask; got {subset!r}")
    return _out(np.full(t_arr.shape, mass), scalar)


# ---------------------------------------------------------------- fresh data


class CategoricalFixedPoint(NamedTuple):
    """Limit of the categorical fresh-data loop (docs/theory/categorical.md, section "Fresh data").

    ``distance`` = lim E|p_t - p*|^2, ``gini_simpson`` = lim E[1 - sum p_t^2],
    ``gini_ratio`` = the latter over G* = 1 - sum p*^2.

    Examples
    --------
    >>> from madsim import theory
    >>> theory.CategoricalFixedPoint(distance=0.1, gini_simpson=0.5, gini_ratio=0.8).gini_ratio
    0.8
    """

    distance: float
    gini_simpson: float
    gini_ratio: float


def _fresh(m, k, p_star):
    m = check.integer("m", m, 0)
    k = check.integer("k", k, 0)
    if m + k < 1:
        raise ValueError(f"m + k must be >= 1 (draws per generation); got m={m}, k={k}")
    p_star = _probabilities("p_star", p_star)
    g_star = 1.0 - float(np.dot(p_star, p_star))
    N = m + k
    return m, k, N, g_star


def fresh_distance(t, m, k, p_star):
    """Expected squared distance to the truth of the categorical fresh-data loop, D_t = E|p_t - p*|^2.

    Generation t + 1 is the frequency vector of m real draws from p* pooled
    with k draws from p_t, N = m + k; generation 0 is p* (D_0 = 0). The exact
    recursion ``D_{t+1} = G*/N + D_t k(k-1)/N^2`` (``G* = 1 - sum p*^2``) solved
    in closed form: ``D_t = D* (1 - r^t)``, ``r = k(k-1)/N^2``,
    ``D* = G* N/(m(N+k) + k)``.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    m : int
        Real draws per generation (>= 0).
    k : int
        Synthetic draws per generation (>= 0; m + k >= 1).
    p_star : array_like
        The truth, a probability vector.

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Fresh data" (the partially synthetic
    loop of Seddik et al., arXiv 2404.05090). Checked by the validate cases
    ``sec4d-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.fresh_distance(100, 10, 10, [0.5, 0.2, 0.15, 0.1, 0.05]), 6)
    0.043548
    """
    t_arr, _, scalar = times(t)
    m, k, N, g = _fresh(m, k, p_star)
    r = k * (k - 1) / N**2
    d_star = g * N / (m * (N + k) + k)
    return _out(
        d_star * -np.expm1(t_arr.astype(np.float64) * np.log(r))
        if r > 0
        else np.where(t_arr > 0, d_star, 0.0),
        scalar,
    )


def fresh_gini_simpson(t, m, k, p_star):
    """Expected Gini-Simpson diversity of the categorical fresh-data loop, G* - D_t.

    Exact (uses E p_t = p*). With m = 0 it is the replace loop's
    ``G* (1 - 1/k)^t`` (``gini_simpson``).

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    m : int
        Real draws per generation (>= 0).
    k : int
        Synthetic draws per generation (>= 0; m + k >= 1).
    p_star : array_like
        The truth, a probability vector.

    Returns
    -------
    float or ndarray

    Notes
    -----
    docs/theory/categorical.md, section "Fresh data". Checked by the validate
    cases ``sec4d-*``.

    Examples
    --------
    >>> from madsim import theory
    >>> round(theory.fresh_gini_simpson(100, 10, 10, [0.5, 0.2, 0.15, 0.1, 0.05]), 6)
    0.631452
    """
    m_, k_, N, g = _fresh(m, k, p_star)
    return g - fresh_distance(t, m, k, p_star)


def fresh_fixed_point(m, k, p_star):
    """Fixed point of the categorical fresh-data loop.

    ``D* = G* N/(m(N+k) + k)``, ``E G_inf = G* - D*``, and the ratio
    ``E G_inf / G* = m(N+k-1)/(m(N+k) + k)``, N = m + k: the same ratio as the
    Gaussian fresh loop's v*/sigma0^2. ``madsim.theory`` exports it as
    ``categorical_fresh_fixed_point`` (``theory.fresh_fixed_point`` is the
    Gaussian one).

    Parameters
    ----------
    m : int
        Real draws per generation (>= 0).
    k : int
        Synthetic draws per generation (>= 0; m + k >= 1).
    p_star : array_like
        The truth, a probability vector.

    Returns
    -------
    CategoricalFixedPoint

    Notes
    -----
    docs/theory/categorical.md, section "Fresh data".

    Examples
    --------
    >>> from madsim import theory
    >>> fp = theory.categorical_fresh_fixed_point(5, 40, [0.5, 0.2, 0.15, 0.1, 0.05])
    >>> round(fp.distance, 6), round(fp.gini_ratio, 6)
    (0.065323, 0.903226)
    """
    m, k, N, g = _fresh(m, k, p_star)
    den = m * (N + k) + k
    ratio = m * (N + k - 1) / den
    return CategoricalFixedPoint(distance=g * N / den, gini_simpson=g * ratio, gini_ratio=ratio)


# madsim.theory's name for fresh_fixed_point: theory.fresh_fixed_point is the
# Gaussian one, so this module's is exported under this alias.
categorical_fresh_fixed_point = fresh_fixed_point

# What madsim.theory re-exports (the family registry: FamilySpec.theory).
__all__ = [
    "CategoricalFixedPoint",
    "absorption_time",
    "categorical_fresh_fixed_point",
    "expected_frequencies",
    "expected_mass",
    "expected_support_size",
    "expected_survivors",
    "fixation_probability",
    "fixation_time",
    "fresh_distance",
    "fresh_gini_simpson",
    "gini_simpson",
    "loss_time",
    "prob_one_left",
    "survival",
    "survival_feller",
    "survival_suresh",
    "time_to_one_left",
    "wf_transition",
]
