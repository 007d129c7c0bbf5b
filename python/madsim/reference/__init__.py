"""madsim.reference: the pure-JAX twin of the C++ core (csrc/madsim/).

An independent implementation, module for module and name for name:

    philox.py      csrc/madsim/philox.hpp      philox4x32_10
    philox.py      csrc/madsim/stream.hpp      seed_key, make_stream, block, TAG_*
    transforms.py  csrc/madsim/transforms.hpp  uniform52, uniform32, normal_pair, log_factorial
    samplers.py    csrc/madsim/samplers.hpp    normals_of_block, gamma_mt, chisquare, binomial,
                                               poisson
    linalg.py      csrc/madsim/linalg.hpp      tri, tri_size, cholesky_packed, tri_mul_vec,
                                               tri_mul_dense, outer_packed, congruence_packed,
                                               cholesky_solve_packed, sym_mul_vec
    moments.py     csrc/madsim/moments.hpp     moments_size, moments_clear, moments_pool
                                               (d-dim; Moments1 is in gaussian.py)
    metrics.py     csrc/madsim/metrics.hpp     normal_upper, normal_lower, normal_mass,
                                               tv_standard, gauss1_metrics (gauss1 +
                                               gauss1_metric), gaussd_metrics
    gaussian.py    csrc/madsim/models/gaussian1d.hpp   Params, draw_exact, draw_samples, fit,
                                                       step, observe
    common.py      the helpers the twins share: bucket (buffer sizes), NormalSeq (normals,
                   csrc/madsim/models/gaussian_loop.hpp), floyd_subset and draw_subset
                   (csrc/madsim/subset.hpp), survivors (GaussianLoop:: and
                   Categorical::survivors), wishart_factor, seq_cumsum (sums in the
                   C++'s order), next_token (Bigram::next_token), PIVOT_RTOL
                   (Regression's and Logistic's singular-fit rule)
    gaussian_loop.py  csrc/madsim/models/gaussian_loop.hpp   Params,
                      draw_exact, draw_samples, draw_part, divisor, fit, init,
                      step, step_subsample, observe, the layout sizes (T, counts_at,
                      loop_at, loop_size, state_size, metrics_at, n_metrics,
                      observe_size); reference only:
                      Bounds / bounds (static buffer sizes of the samples path),
                      accepted_tries, shifted_moments, draw_parts, row_size (a traced
                      loop's row)
    token_metrics.py  csrc/madsim/token_metrics.hpp  token_metrics (every TokenMetric), zipf_exponent
    categorical.py csrc/madsim/models/categorical.hpp  Params, sampling_law, counts_exact,
                   alias_table, counts_tokens, by_tokens, draw_counts, fit, init, step, subsample, observe,
                   the layout sizes; reference only: bound (the samples path's buffer)
    bigram.py      csrc/madsim/models/bigram.hpp + bigram_metrics.hpp  Params,
                   walk, fit, init, step, observe, bigram_metrics, the layout sizes; reference
                   only: bound (sequences per part's buffer), row_laws (knobs row by row)
    gmm.py         csrc/madsim/models/gmm.hpp  Params, draw, e_step, m_step, em, init, step,
                   observe, l2_distance, w2_sq_bound, the layout sizes; reference only:
                   bounds (the point buffers), unpack, em_row (the twin of _core.gmm_em)
    regression.py  csrc/madsim/models/regression.hpp  Params, stats_shift, draw_exact,
                   draw_samples, draw_part, fit, init, step, observe, the layout sizes;
                   reference only: bound (the samples path's buffers)
    logistic.py    csrc/madsim/models/logistic.hpp  Params, sigmoid, draw_rows, newton_pass
                   (pass), separates, fit, init, step, observe, the layout sizes;
                   reference only: bound (the row buffers)
    backend.py     csrc/bindings/common.hpp::advance_py + csrc/madsim/driver.hpp::advance_replica:
                   advance_model (the launcher every family's twin runs), Model, the
                   array checks; each family's module ends with its adapter (the checks
                   of its _core params constructor and advance_<kernel>, the
                   _core.advance_<kernel> contract)

``madsim.simulate(..., backend="jax")`` runs these instead of the compiled
core (madsim.kernels.kernel_for).

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

import importlib  # noqa: E402
import pkgutil  # noqa: E402

from . import backend, linalg, moments, philox, samplers, token_metrics, transforms  # noqa: E402
from .philox import (  # noqa: E402
    BLOCK_MAX,
    RNG_LAYOUT_VERSION,
    SITE_MAX,
    TAG_FILTER,
    TAG_REAL,
    TAG_SAMPLES,
    TAG_SCATTER,
    TAG_SUBSET,
    TAG_TEST,
    Stream,
    block,
    make_stream,
    philox4x32_10,
    seed_key,
)

# The family twins (one module each, named by their FamilySpec's
# ``reference``) load on first use: ``madsim.reference.<module>``.
_MODULES = frozenset(m.name for m in pkgutil.iter_modules(__path__))


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BLOCK_MAX",
    "RNG_LAYOUT_VERSION",
    "SITE_MAX",
    "Stream",
    "TAG_FILTER",
    "TAG_REAL",
    "TAG_SAMPLES",
    "TAG_SCATTER",
    "TAG_SUBSET",
    "TAG_TEST",
    "backend",
    "block",
    "linalg",
    "make_stream",
    "moments",
    "philox",
    "philox4x32_10",
    "samplers",
    "seed_key",
    "token_metrics",
    "transforms",
]
