"""Hypothesis strategies for the differential suites (tests/test_reference_*.py).

Shapes come in a few buckets (N_BUCKETS samples per generation, R_BUCKET
replicas per example, COUNT_BUCKET blocks per stream slice) so the jitted
JAX reference compiles once per bucket, not once per example. Everything else
(seed, replica ids, generation, tag, site, tau, state, sampler parameters) is
a traced value and varies freely.

Profiles: "ci" (derandomized, no example database, no deadline) is loaded
by default, on every machine; HYPOTHESIS_PROFILE names another ("dev": random
seeds) (e.g. HYPOTHESIS_PROFILE=thorough for a long hunt).
"explore" is the nightly exploration: fresh random seeds every run, no
example database, EXPLORE_FACTOR times the examples of every test (a test's
own ``@settings(max_examples=S.examples(n))`` included); see tests/conftest.py
and tests/test_explore.py. The profile is loaded when this module is
imported (at collection), so it wins over pytest's --hypothesis-profile.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# When a test fails, Hypothesis's pytest plugin imports libcst to write a patch
# file; in this environment that import warns (DeprecationWarning from
# mypy_extensions), which filterwarnings = error turns into a pytest
# INTERNALERROR that ends the session. Import it once here, warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:  # pragma: no cover - libcst not installed
        pass

# deadline=None everywhere: the first example of a bucket includes jit compilation.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=25,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "explore",
    derandomize=False,
    database=None,
    deadline=None,
    max_examples=600,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# The default run is the same everywhere (a user's first `python -m pytest`
# and CI): derandomized, fixed examples, so it passes or fails the same way
# on every machine. "dev" (random seeds), "thorough" and "explore" are asked
# for by name: HYPOTHESIS_PROFILE=explore python -m pytest ...
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
settings.load_profile(PROFILE)
EXPLORE_FACTOR = 10


def examples(n: int) -> int:
    """A test's own example count, EXPLORE_FACTOR times more under "explore"."""
    return n * EXPLORE_FACTOR if PROFILE == "explore" else n


N_BUCKETS = (2, 3, 10, 33, 100)  # samples per generation: even/odd, tiny to moderate
R_BUCKET = 4  # replicas per example
COUNT_BUCKET = 8  # blocks per drawn stream slice
U32_MAX = 2**32 - 1
GEN_MAX = 2**32 - 2  # advance rejects gen_end == 2**32 - 1

seeds = st.integers(0, 2**64 - 1)
replicas = st.integers(0, U32_MAX)
generations = st.integers(1, GEN_MAX)  # a fit's generation (t >= 1)
counter_generations = st.integers(0, U32_MAX)  # any value of the counter's generation word
tags = st.sampled_from([1, 2, 3, 4, 255]) | st.integers(0, 255)
sites = st.sampled_from([0, 1, 2**24 - 1]) | st.integers(0, 2**24 - 1)
words = st.sampled_from([0, 1, 0xFFF, 0x1000, 0x7FFFFFFF, 0x80000000, U32_MAX]) | st.integers(0, U32_MAX)
replica_id_sets = st.lists(replicas, min_size=R_BUCKET, max_size=R_BUCKET, unique=True)
ns = st.sampled_from(N_BUCKETS)
taus = st.sampled_from([0.0, 1.0]) | st.floats(0.25, 2.0)
estimators = st.sampled_from([0, 1])  # 0 = mle, 1 = unbiased
paths = st.sampled_from([0, 1])  # 0 = exact, 1 = samples
# No subnormal states: XLA on CPU flushes subnormals to zero and the C++ does
# not, so a state below 2.2e-308 is where the twins legitimately part (see
# madsim.reference.gaussian).
means = st.sampled_from([0.0]) | st.floats(-1e3, 1e3, allow_subnormal=False)
variances = st.builds(lambda e: 10.0**e, st.floats(-8.0, 8.0))  # log-uniform over 16 decades
# Gamma shape: 0.5 is the exact path's alpha at n = 2; below 1 takes the boost.
alphas = st.sampled_from([0.5, 1.0, 1.5, 4.5, 49.5]) | st.floats(0.1, 1000.0)
# Binomial: n small (inversion, n m < 10) up to 2^30 (BTRS); p anywhere in [0, 1].
binomial_ns = st.sampled_from([0, 1, 2, 19, 20, 100, 2**30]) | st.integers(0, 2**30)
binomial_ps = st.sampled_from([0.0, 0.5, 1.0, 1e-6, 0.999]) | st.floats(0.0, 1.0)


@dataclass(frozen=True)
class StreamSlice:
    """Blocks begin .. begin + COUNT_BUCKET - 1 of one stream."""

    seed: int
    replica: int
    generation: int
    tag: int
    site: int
    begin: int


@st.composite
def stream_slices(draw) -> StreamSlice:
    begin = draw(st.sampled_from([0, 2**32 - COUNT_BUCKET]) | st.integers(0, 2**32 - COUNT_BUCKET))
    return StreamSlice(draw(seeds), draw(replicas), draw(counter_generations), draw(tags), draw(sites), begin)


@dataclass(frozen=True)
class GaussianCase:
    """One step of the 1-D Gaussian: params, the replicas' common previous state,
    and the counter coordinates of generation t."""

    n: int
    tau: float
    estimator: int
    path: int
    seed: int
    replica_ids: tuple[int, ...]  # R_BUCKET distinct ids
    t: int  # the generation the step produces
    mean: float  # state before the step
    var: float


@st.composite
def gaussian_cases(draw, path=paths, estimator=estimators) -> GaussianCase:
    """A step configuration; pass path= / estimator= (a value or a strategy) to pin them."""
    path = draw(path) if isinstance(path, st.SearchStrategy) else path
    estimator = draw(estimator) if isinstance(estimator, st.SearchStrategy) else estimator
    return GaussianCase(
        n=draw(ns),
        tau=draw(taus),
        estimator=estimator,
        path=path,
        seed=draw(seeds),
        replica_ids=tuple(draw(replica_id_sets)),
        t=draw(generations),
        mean=draw(means),
        var=draw(variances),
    )


# --- the d-dimensional Gaussian loop (tests/test_reference_gaussian_loop.py) -----------------
#
# The JAX twin compiles once per (d, path) for every loop and knob: loop,
# estimator, tau, truncation, weight, filter rates and subsample_n are traced
# (the loop selects per value), the buffers are the static LOOP_BOUNDS, the
# count table has LOOP_ROWS rows and the pool LOOP_POOL_CAP points. Only d
# and the path vary the shapes. The float parts of a state (means, factors,
# pooled moments, pool points) come from a numpy Generator seeded by a drawn
# integer, at drawn scales: hypothesis picks the structure, numpy the bulk.

LOOP_D_BUCKETS = (1, 2, 3, 5)
LOOP_ROWS = 16  # rows of the count table (one-step cases: 2 <= t <= LOOP_ROWS)
LOOP_COUNT_MAX = 40  # most points per part per generation
LOOP_SUBSAMPLE_MAX = 64  # most points a subsampling fit picks
LOOP_POOL_CAP = 128  # points the subsample pool holds
LOOP_BOUNDS = (64, 64, LOOP_SUBSAMPLE_MAX)  # reference buffer rows: real, synthetic, subsample
LOOP_NAMES = ("replace", "augment", "fresh", "accumulate", "subsample")


@dataclass(frozen=True)
class GaussianLoopCase:
    """One generation of the GaussianLoop kernel: its parameters (as
    _core.GaussianLoopParams takes them), the replicas' common state row
    before the step (kernel layout) and the counter coordinates."""

    d: int
    loop: int
    estimator: int
    path: int
    tau: float
    trunc: float
    weight: float
    tpr: float
    fpr: float
    real_fixed: float
    subsample_n: int
    pool_cap: int
    truth: tuple  # [d + T]
    counts: tuple  # LOOP_ROWS x (real, synthetic)
    seed: int
    replica_ids: tuple  # R_BUCKET distinct ids
    t: int  # the generation the step produces (gen_begin = t - 1 >= 1)
    state: tuple  # the row before the step

    def describe(self) -> str:
        row = self.counts[self.t - 1]
        return (
            f"d={self.d} loop={LOOP_NAMES[self.loop]} estimator={self.estimator} "
            f"path={self.path} tau={self.tau!r} trunc={self.trunc!r} weight={self.weight!r} "
            f"tpr={self.tpr!r} fpr={self.fpr!r} real_fixed={self.real_fixed} "
            f"subsample_n={self.subsample_n} counts[t-1]={row}"
        )


def _spd_factor(rng, d, scale):
    """A packed lower Cholesky factor with a positive diagonal, entries ~ scale."""
    import numpy as np

    L = np.tril(rng.uniform(-1.0, 1.0, (d, d)), -1) + np.diag(rng.uniform(0.3, 3.0, d))
    return scale * L[np.tril_indices(d)]


def _moments(rng, d, count, center, scale):
    """[count | mean | scatter] of a plausible set of `count` points (scatter
    (count - 1) times a random covariance at `scale`)."""
    import numpy as np

    if count == 0:
        return [0.0] * (1 + d + d * (d + 1) // 2)
    mean = center + scale * rng.uniform(-3.0, 3.0, d)
    F = np.zeros((d, d))
    F[np.tril_indices(d)] = _spd_factor(rng, d, scale)
    scatter = (count - 1) * (F @ F.T)
    return [float(count), *mean, *scatter[np.tril_indices(d)]]


loop_counts = st.sampled_from([0, 1, 2, 3, 4, 6, 7, 10, 33, LOOP_COUNT_MAX]) | st.integers(0, LOOP_COUNT_MAX)
loop_rates = st.sampled_from([0.0, 0.0, 0.25, 0.5, 0.9, 1.0]) | st.floats(0.0, 1.0, allow_subnormal=False)
loop_weights = st.sampled_from([-1.0, -1.0, 0.0, 0.5, 1.0]) | st.floats(0.0, 1.0, allow_subnormal=False)
loop_taus = st.sampled_from([1.0, 0.5]) | st.floats(0.25, 2.0)
# Truncation radius: >= 1 keeps >= 3.7% of tries in d = 5 (the reference
# batches tries, but a tiny acceptance would still make a slow example).
loop_truncs = st.sampled_from([0.0, 0.0, 1.0, 2.0]) | st.floats(1.0, 4.0)


@st.composite
def gaussian_loop_cases(draw, d=None, path=None, loop=None) -> GaussianLoopCase:
    """A one-step GaussianLoop configuration and state; pass d=, path=, loop=
    (a value or a strategy) to pin them. No subnormal values anywhere: scales
    stay within 1e-6 .. 1e6 (the truth's 1e-3 .. 1e3, the model's 1e-3 .. 1e3
    times that) and means within ~300 truth spreads of zero."""
    import numpy as np

    def pick(value, strategy):
        if value is None:
            return draw(strategy)
        return draw(value) if isinstance(value, st.SearchStrategy) else value

    d = pick(d, st.sampled_from(LOOP_D_BUCKETS))
    path = pick(path, paths)
    loop = pick(loop, st.sampled_from([0, 1, 2, 3, 4] if path == 1 else [0, 1, 2, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="float_seed"))
    scale0 = 10.0 ** draw(st.floats(-3.0, 3.0), label="log10 truth scale")
    ratio = 10.0 ** draw(st.sampled_from([0.0]) | st.floats(-3.0, 3.0), label="log10 model/truth")
    offset = draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 100.0), label="mean offset")
    mu0 = scale0 * offset * rng.uniform(-1.0, 1.0, d)
    truth = (*mu0, *_spd_factor(rng, d, scale0))
    mu = mu0 + scale0 * rng.uniform(-3.0, 3.0, d)
    model = _spd_factor(rng, d, scale0 * ratio)

    rows = [(draw(loop_counts), draw(loop_counts)) for _ in range(2)]
    filler = [
        (float((a + 3 * i) % (LOOP_COUNT_MAX + 1)), float((b + 5 * i) % (LOOP_COUNT_MAX + 1)))
        for i, (a, b) in enumerate([rows[1]] * LOOP_ROWS)
    ]
    t = draw(st.sampled_from([2, LOOP_ROWS]) | st.integers(2, LOOP_ROWS), label="t")
    counts = filler
    counts[t - 1] = (float(rows[0][0]), float(rows[0][1]))
    if loop in (0, 1):  # Replace and Augment add no real points per generation
        counts = [(0.0, b) for _, b in counts]

    head = [
        *mu,
        *model,
        float(draw(st.integers(0, 50))),
        float(draw(st.integers(0, 50))),
        float(draw(st.integers(0, 5))),
    ]
    real_fixed = 0.0
    sub_n, cap = 0, 0
    if loop == 1:
        real_fixed = float(draw(loop_counts))
        tail = _moments(rng, d, int(real_fixed), mu0, scale0)
    elif loop == 3:
        n_real, n_syn = draw(st.integers(0, 200)), draw(st.integers(0, 200))
        tail = [float(n_real), float(n_syn), *_moments(rng, d, n_real + n_syn, mu0, scale0)]
    elif loop == 4:
        sub_n = draw(
            st.sampled_from([1, 2, d, d + 1, 10, LOOP_SUBSAMPLE_MAX]) | st.integers(1, LOOP_SUBSAMPLE_MAX)
        )
        cap = LOOP_POOL_CAP
        size = draw(st.sampled_from([0, 1, cap - 5, cap]) | st.integers(0, cap))
        pts = np.zeros((cap, d + 1))
        pts[:size, :d] = mu0 + scale0 * rng.standard_normal((size, d))
        pts[:size, d] = rng.integers(0, 2, size)
        tail = [float(size), *pts.ravel()]
    else:
        tail = []
    trunc = draw(loop_truncs) if path == 1 else 0.0
    return GaussianLoopCase(
        d=d,
        loop=loop,
        estimator=draw(estimators),
        path=path,
        tau=draw(loop_taus),
        trunc=trunc,
        weight=draw(loop_weights),
        tpr=draw(loop_rates),
        fpr=draw(loop_rates),
        real_fixed=real_fixed,
        subsample_n=sub_n,
        pool_cap=cap,
        truth=tuple(map(float, truth)),
        counts=tuple(counts),
        seed=draw(seeds),
        replica_ids=tuple(draw(replica_id_sets)),
        t=t,
        state=tuple(map(float, [*head, *tail])),
    )
