"""Hypothesis strategies for the differential suites (tests/test_reference_*.py).

Shapes come in a few buckets (N_BUCKETS samples per generation, R_BUCKET
replicas per example, COUNT_BUCKET blocks per stream slice) so the jitted
JAX reference compiles once per bucket, not once per example. Everything else
(seed, replica ids, generation, tag, site, tau, state, sampler parameters) is
a traced value and varies freely.

Profiles: "ci" (derandomized, no example database, no deadline) is loaded
when the CI environment variable is set, "dev" otherwise; HYPOTHESIS_PROFILE
names one explicitly (e.g. HYPOTHESIS_PROFILE=thorough for a long hunt). The
profile is loaded when this module is imported (at collection), so it wins
over pytest's --hypothesis-profile.
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
    "ci", derandomize=True, database=None, deadline=None, max_examples=25, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "dev", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

N_BUCKETS = (2, 3, 10, 33, 100)  # samples per generation: even/odd, tiny to moderate
R_BUCKET = 4                     # replicas per example
COUNT_BUCKET = 8                 # blocks per drawn stream slice
U32_MAX = 2**32 - 1
GEN_MAX = 2**32 - 2              # advance rejects gen_end == 2**32 - 1

seeds = st.integers(0, 2**64 - 1)
replicas = st.integers(0, U32_MAX)
generations = st.integers(1, GEN_MAX)           # a fit's generation (t >= 1)
counter_generations = st.integers(0, U32_MAX)   # any value of the counter's generation word
tags = st.sampled_from([1, 2, 3, 4, 255]) | st.integers(0, 255)
sites = st.sampled_from([0, 1, 2**24 - 1]) | st.integers(0, 2**24 - 1)
words = st.sampled_from([0, 1, 0xFFF, 0x1000, 0x7FFFFFFF, 0x80000000, U32_MAX]) | st.integers(0, U32_MAX)
replica_id_sets = st.lists(replicas, min_size=R_BUCKET, max_size=R_BUCKET, unique=True)
ns = st.sampled_from(N_BUCKETS)
taus = st.sampled_from([0.0, 1.0]) | st.floats(0.25, 2.0)
estimators = st.sampled_from([0, 1])  # 0 = mle, 1 = unbiased
paths = st.sampled_from([0, 1])       # 0 = exact, 1 = samples
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
    return StreamSlice(draw(seeds), draw(replicas), draw(counter_generations), draw(tags),
                       draw(sites), begin)


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
    t: int                        # the generation the step produces
    mean: float                   # state before the step
    var: float


@st.composite
def gaussian_cases(draw, path=paths, estimator=estimators) -> GaussianCase:
    """A step configuration; pass path= / estimator= (a value or a strategy) to pin them."""
    path = draw(path) if isinstance(path, st.SearchStrategy) else path
    estimator = draw(estimator) if isinstance(estimator, st.SearchStrategy) else estimator
    return GaussianCase(
        n=draw(ns), tau=draw(taus), estimator=estimator, path=path, seed=draw(seeds),
        replica_ids=tuple(draw(replica_id_sets)), t=draw(generations), mean=draw(means),
        var=draw(variances))
