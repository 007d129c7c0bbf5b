"""simulate(backend="jax") (the JAX twin, madsim.reference) against
simulate(backend="cpu") (the compiled core): the same Dataset (variables,
dims, coords, attributes but backend and wall time), integers and first
passages exactly, floats to SIM_TOL.

The d = 3 runs use the shapes of tests/test_reference_gaussian_loop.py's
trajectories (8 replicas, 20 generations, 3 detectors), so after that file
they reuse its compiled reference programs.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import madsim as ms
from madsim.kernels import kernel_for

# |cpu - jax| / max(1, the variable's largest |value|), every variable and
# replica and generation. Not zero for the reasons of
# tests/test_reference_gaussian_loop.py (XLA's transcendental functions and
# summation order); 20 generations of the per-step 1e-13 tolerances, with
# room for the conditioning the loops below reach. Observed over 5 seeds
# x 6 configurations: <= 2e-15, except logdet of the nearly singular fits on
# d + 1 = 4 points (accumulate, subsample): <= 4e-13.
SIM_TOL = 1e-11
INTEGER_VARIABLES = ("points_real", "points_synthetic", "skipped")

COV3 = ((2.0, 0.3, 0.0), (0.3, 1.0, 0.2), (0.0, 0.2, 0.5))
CONFIGS = {
    "gaussian1d-replace": ms.Config(
        family=ms.Gaussian(mean=0.3, var=2.0), loop=ms.Replace(n=10), temperature=0.9
    ),
    "d1-fresh-weighted": ms.Config(loop=ms.Fresh(real=4, synthetic=6), weight=0.3, estimator="unbiased"),
    "d3-fresh-filter": ms.Config(
        family=ms.Gaussian(dim=3, mean=(0.5, -1.0, 2.0), cov=COV3),
        loop=ms.Fresh(real=5, synthetic=8),
        filter=ms.Filter(tpr=0.3, fpr=0.1),
    ),
    "d3-augment": ms.Config(
        family=ms.Gaussian(dim=3, cov=COV3),
        loop=ms.Augment(real=9, synthetic=6),
        estimator="unbiased",
        temperature=1.1,
    ),
    "d3-accumulate": ms.Config(
        family=ms.Gaussian(dim=3, mean=1.0, var=2.0),
        loop=ms.Accumulate(synthetic=3, real=[t % 2 for t in range(1, 21)]),
    ),
    "d3-subsample": ms.Config(
        family=ms.Gaussian(dim=3, cov=COV3),
        loop=ms.AccumulateSubsample(n=6, synthetic=4, real=1),
        path="samples",
        truncation=2.0,
        filter=ms.Filter(tpr=0.2),
        estimator="unbiased",
    ),
}


def _detectors(cfg):
    if cfg.family.dim == 1:
        return [
            ms.FirstPassage("var", below=0.5),
            ms.FirstPassage("var", above=3.0),
            ms.FirstPassage("mean", above=1.0),
        ]
    return [
        ms.FirstPassage("logdet", below=-1.0),
        ms.FirstPassage("trace", above=6.0),
        ms.FirstPassage("mean_sq", above=1.0),
    ]


def _run(cfg, backend):
    return ms.simulate(
        cfg,
        replicas=8,
        generations=20,
        seed=0xC0FFEE,
        detect=_detectors(cfg),
        threads=1,
        progress=False,
        backend=backend,
    )


@pytest.mark.parametrize("name", list(CONFIGS))
def test_jax_backend_matches_cpu(name):
    cfg = CONFIGS[name]
    cpu, jax_ = _run(cfg, "cpu"), _run(cfg, "jax")
    assert cpu.attrs["backend"] == "cpu" and jax_.attrs["backend"] == "jax"
    assert set(cpu.attrs) == set(jax_.attrs)
    for key in set(cpu.attrs) - {"backend", "wall_time_s"}:
        assert cpu.attrs[key] == jax_.attrs[key], key
    assert list(cpu.data_vars) == list(jax_.data_vars)
    assert dict(cpu.sizes) == dict(jax_.sizes)
    for c in cpu.coords:
        assert np.array_equal(cpu[c].values, jax_[c].values) and cpu[c].dims == jax_[c].dims
    for v in cpu.data_vars:
        a, b = cpu[v], jax_[v]
        assert a.dims == b.dims and a.dtype == b.dtype and a.attrs == b.attrs, v
        if v in INTEGER_VARIABLES or a.dtype.kind == "i":
            assert np.array_equal(a.values, b.values), f"{name}: {v} differs"
            continue
        assert not np.isnan(b.values).any()
        err = np.abs(a.values - b.values) / max(1.0, float(np.max(np.abs(a.values))))
        worst = np.unravel_index(np.argmax(err), err.shape)
        assert err[worst] <= SIM_TOL, (
            f"{name}: {v} error {err[worst]:.3g} > {SIM_TOL} at seed=0xC0FFEE "
            f"replica={int(cpu.replica[worst[0]])} generation={int(cpu.generation[worst[1]])}: "
            f"cpu {a.values[worst]!r} jax {b.values[worst]!r}"
        )


def test_kernel_for_jax_swaps_only_params_and_advance():
    from madsim.reference import gaussian_loop

    cfg = CONFIGS["d3-fresh-filter"]
    cpu, jax_ = kernel_for(cfg, 5, 2), kernel_for(cfg, 5, 2, backend="jax")
    assert isinstance(jax_.params, gaussian_loop.Params)
    assert jax_.advance is gaussian_loop.advance_gaussian_loop
    for field in ("name", "observed", "columns", "units"):
        assert getattr(cpu, field) == getattr(jax_, field)
    assert np.array_equal(cpu.initial_state, jax_.initial_state)
    assert np.array_equal(cpu.counts, jax_.counts)


@pytest.mark.parametrize("bad", ["gpu", "JAX", "", None, 1])
def test_bad_backend_name_is_refused(bad):
    cfg = ms.Config(loop=ms.Replace(n=5))
    with pytest.raises(ValueError, match=r"backend must be one of 'cpu', 'jax', 'cuda'; got"):
        ms.simulate(cfg, replicas=2, generations=1, progress=False, backend=bad)
    with pytest.raises(ValueError, match=r"backend must be one of 'cpu', 'jax', 'cuda'; got"):
        kernel_for(cfg, 1, 2, backend=bad)


def test_jax_backend_without_jax_says_how_to_get_it(monkeypatch):
    """With jax unimportable, backend="jax" fails at once with the install hint."""
    for mod in [m for m in sys.modules if m == "madsim.reference" or m.startswith("madsim.reference.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.delattr(ms, "reference", raising=False)
    monkeypatch.setitem(sys.modules, "jax", None)
    cfg = ms.Config(loop=ms.Replace(n=5))
    with pytest.raises(ImportError, match=r"pip install madsim\[jax\]"):
        ms.simulate(cfg, replicas=2, generations=1, progress=False, backend="jax")
    assert ms.simulate(cfg, replicas=2, generations=1, progress=False)["var"].shape == (2, 2)
