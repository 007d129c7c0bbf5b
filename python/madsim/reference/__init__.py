"""madsim.reference: the pure-JAX twin of the C++ core (csrc/madsim/).

An independent implementation, module for module and name for name:

    philox.py      csrc/madsim/philox.hpp      philox4x32_10
    philox.py      csrc/madsim/stream.hpp      seed_key, make_stream, block, TAG_*
    transforms.py  csrc/madsim/transforms.hpp  uniform52, uniform32, normal_pair, log_factorial
    samplers.py    csrc/madsim/samplers.hpp    normals_of_block, gamma_mt, chisquare, binomial
    gaussian.py    csrc/madsim/models/gaussian1d.hpp   Params, draw_exact, draw_samples, fit,
                                                       step, observe
    backend.py     csrc/bindings/module.cpp::advance_py + csrc/madsim/driver.hpp::advance_replica
                   advance (the _core.advance_gaussian1d contract)

Nothing here imports the compiled core or ``madsim.rng``: the differential
tests (tests/test_reference_*.py) compare two implementations that share only
the counter layout. It consumes the identical Philox stream, so integers (raw
words, rejection-sampler try counts, binomial values) agree exactly and floats
agree to the tolerances named in those tests (XLA and libm differ in some
transcendental functions, and reductions sum in a different order).

Importing this package turns on ``jax_enable_x64`` (the core is float64 and
its counters need uint64 products).
"""

import jax

jax.config.update("jax_enable_x64", True)

from . import backend, gaussian, philox, samplers, transforms  # noqa: E402
from .philox import (  # noqa: E402
    BLOCK_MAX, RNG_LAYOUT_VERSION, SITE_MAX, TAG_FILTER, TAG_REAL, TAG_SAMPLES, TAG_SCATTER,
    TAG_TEST, Stream, block, make_stream, philox4x32_10, seed_key,
)

__all__ = [
    "BLOCK_MAX", "RNG_LAYOUT_VERSION", "SITE_MAX", "Stream", "TAG_FILTER", "TAG_REAL",
    "TAG_SAMPLES", "TAG_SCATTER", "TAG_TEST", "backend", "block", "gaussian", "make_stream",
    "philox", "philox4x32_10", "samplers", "seed_key", "transforms",
]
