"""The CUDA backend (csrc/cuda/launch.cu, simulate(..., backend="cuda")).

Two kinds of test:

- Run everywhere (CI has no GPU): backend="cuda" without CUDA raises
  CudaUnavailableError naming what is missing; build_info's CUDA keys; the
  device-memory arithmetic (csrc/cuda/memory.hpp); the launcher's plan of
  kernel launches, checked for its invariants and replayed on the CPU kernel
  (launch by launch, exactly as the CUDA launcher runs it) against one call;
  benchmarks/gpu.py refusing clearly.
- Need a GPU (skip with the reason when madsim.has_cuda() is false): Philox
  known answers on the device; one-step and 20-generation GPU vs CPU and GPU
  vs JAX differential tests per family; bit-identical results for any block
  size, launch split, chunking and replica subset.

GPU vs CPU tolerance: the same counter layout and the same step functions,
but device log/exp/sin/cos/erfc/pow are CUDA's (libdevice), not glibc's: a
few ulp per call, so floats agree to GPU_TOL relative (the tolerance of the
JAX twin, tests/test_simulate_backends.py) and counts exactly. No number here
has been observed on a GPU yet (see docs/guide/backends.md, "CUDA backend").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import madsim as ms
from madsim._backend import core, cuda_built, cuda_memory_estimate, cuda_unavailable_reason
from madsim.kernels import kernel_for

from kat import PHILOX4X32_10

ROOT = Path(__file__).resolve().parents[1]
needs_gpu = pytest.mark.skipif(not ms.has_cuda(), reason=f"no CUDA backend here: {cuda_unavailable_reason()}")
GPU_TOL = 1e-11
INTEGER_VARIABLES = ("points_real", "points_synthetic", "skipped", "support", "iterations")

COV3 = ((2.0, 0.3, 0.0), (0.3, 1.0, 0.2), (0.0, 0.2, 0.5))
CONFIGS = {
    "gaussian1d-exact": ms.Config(
        family=ms.Gaussian(mean=0.3, var=2.0), loop=ms.Replace(n=10), temperature=0.9
    ),
    "gaussian1d-samples": ms.Config(loop=ms.Replace(n=25), path="samples", estimator="unbiased"),
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
    "d3-subsample": ms.Config(
        family=ms.Gaussian(dim=3, cov=COV3),
        loop=ms.AccumulateSubsample(n=6, synthetic=4, real=1),
        path="samples",
        truncation=2.0,
        filter=ms.Filter(tpr=0.2),
        estimator="unbiased",
    ),
    "tokens-exact": ms.Config(
        family=ms.Categorical(tokens=50, zipf=1.1),
        loop=ms.Replace(n=200),
        temperature=0.8,
        top_k=30,
        top_p=0.95,
    ),
    "tokens-samples-accumulate": ms.Config(
        family=ms.Categorical(tokens=20), loop=ms.Accumulate(synthetic=30, real=5), path="samples"
    ),
    "bigram-fresh": ms.Config(
        family=ms.Bigram(tokens=6, length=8),
        loop=ms.Fresh(real=3, synthetic=10),
        top_p=0.9,
        filter=ms.Filter(tpr=0.2),
    ),
    "regression-accumulate-fixed": ms.Config(
        family=ms.Regression(dim=3, cov=COV3, design="fixed", ridge=0.1, refit_noise=True),
        loop=ms.Accumulate(synthetic=6, real=2),
    ),
    "regression-fresh-samples": ms.Config(
        family=ms.Regression(dim=3),
        loop=ms.Fresh(real=3, synthetic=5),
        path="samples",
        filter=ms.Filter(tpr=0.2),
    ),
    "regression-subsample": ms.Config(
        family=ms.Regression(dim=3, refit_noise=True),
        path="samples",
        loop=ms.AccumulateSubsample(n=9, synthetic=5, real=1),
        filter=ms.Filter(tpr=0.2),
    ),
}
# Logistic: parts of 40+ rows at d = 3, so the Newton solves are well conditioned
CONFIGS["logistic-accumulate-fixed"] = ms.Config(
    family=ms.Logistic(dim=3, cov=COV3, design="fixed", ridge=0.1), loop=ms.Accumulate(synthetic=40, real=10)
)
CONFIGS["logistic-fresh"] = ms.Config(
    family=ms.Logistic(dim=3, weights=[1.0, -0.5, 0.3]), loop=ms.Fresh(real=20, synthetic=40)
)
CONFIGS["logistic-subsample"] = ms.Config(
    family=ms.Logistic(dim=3, ridge=0.2), loop=ms.AccumulateSubsample(n=50, synthetic=40, real=5)
)
# EM with em_tol = 0: a fixed iteration count (a tolerance test could flip on a last-bit difference)
CONFIGS["gmm-fresh-filter"] = ms.Config(
    family=ms.GaussianMixture(weights=[0.3, 0.7], means=[[0.0, 0.0], [2.0, 1.0]], em_iters=5, em_tol=0.0),
    loop=ms.Fresh(real=5, synthetic=20),
    filter=ms.Filter(tpr=0.2),
    temperature=0.9,
)
CONFIGS["gmm-subsample"] = ms.Config(
    family=ms.GaussianMixture(weights=[0.3, 0.7], means=[[0.0, 0.0], [2.0, 1.0]], em_iters=5, em_tol=0.0),
    loop=ms.AccumulateSubsample(n=30, real=2, synthetic=10),
    filter=ms.Filter(tpr=0.2),
)


def _detectors(cfg):
    if isinstance(cfg.family, ms.GaussianMixture):
        return [ms.FirstPassage("min_weight", below=0.2), ms.FirstPassage("l2", above=0.2)]
    if isinstance(cfg.family, ms.Regression):
        return [ms.FirstPassage("test_error", above=0.5), ms.FirstPassage("noise_var", below=0.5)]
    if isinstance(cfg.family, ms.Logistic):
        return [ms.FirstPassage("fisher_error", above=0.05), ms.FirstPassage("w_norm", above=1.3)]
    if isinstance(cfg.family, ms.Bigram):
        K = cfg.family.tokens
        return [ms.FirstPassage("edges", below=K * K - 1), ms.FirstPassage("tv_rate", above=0.3)]
    if isinstance(cfg.family, ms.Categorical):
        K = cfg.family.tokens
        return [ms.FirstPassage("support", below=K - 1), ms.FirstPassage("max_prob", above=0.2)]
    if cfg.family.dim == 1:
        return [ms.FirstPassage("var", below=0.5), ms.FirstPassage("var", above=3.0)]
    return [ms.FirstPassage("logdet", below=-1.0), ms.FirstPassage("trace", above=6.0)]


def _run(cfg, backend, generations=20, replicas=8, **kw):
    return ms.simulate(
        cfg,
        replicas=replicas,
        generations=generations,
        seed=0xC0FFEE,
        detect=_detectors(cfg),
        threads=1,
        progress=False,
        backend=backend,
        **kw,
    )


def _close(a, b, name, tol=GPU_TOL):
    """Every variable equal in dims and coords; counts and first passages
    exactly; floats to tol relative to the variable's largest |value|."""
    assert list(a.data_vars) == list(b.data_vars)
    for v in a.data_vars:
        x, y = a[v].values, b[v].values
        assert a[v].dims == b[v].dims and x.shape == y.shape, v
        if v in INTEGER_VARIABLES or x.dtype.kind == "i":
            assert np.array_equal(x, y), f"{name}: {v} differs"
            continue
        assert np.array_equal(np.isnan(x), np.isnan(y)), v
        assert np.array_equal(np.isinf(x), np.isinf(y)), v
        fin = np.isfinite(x)
        scale = max(1.0, float(np.abs(x[fin]).max(initial=0.0)))
        err = float(np.abs(x[fin] - y[fin]).max(initial=0.0)) / scale
        assert err <= tol, f"{name}: {v} differs by {err:.3g} (relative)"


def _same(a, b, name):
    assert list(a.data_vars) == list(b.data_vars)
    for v in a.data_vars:
        assert np.array_equal(a[v].values, b[v].values, equal_nan=a[v].dtype.kind == "f"), (
            f"{name}: {v} not bit-identical"
        )


# --------------------------------------------------------------------------
# Without a GPU


@pytest.mark.skipif(ms.has_cuda(), reason="a CUDA device is visible: backend='cuda' runs")
def test_cuda_backend_absent_gives_a_clear_error():
    cfg = CONFIGS["gaussian1d-exact"]
    with pytest.raises(ms.CudaUnavailableError) as info:
        _run(cfg, "cuda")
    msg = str(info.value)
    assert "backend='cuda'" in msg
    if cuda_built():
        assert "built with CUDA" in msg and "no CUDA device is visible" in msg
    else:
        assert "built without CUDA" in msg and "MADSIM_CUDA" in msg
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(ms.CudaUnavailableError):
        kernel_for(cfg, 5, 2, backend="cuda")


def test_build_info_reports_cuda():
    info = ms.build_info()
    assert isinstance(info["cuda"], bool)
    assert info["cuda"] == cuda_built()
    if info["cuda"]:
        assert info["cuda_version"].count(".") >= 1
        assert "90" in info["cuda_architectures"].split(",")
        assert "--fmad=false" in info["cuda_flags"]
        for name in (
            "advance_gaussian1d_cuda",
            "advance_gaussian_loop_cuda",
            "advance_categorical_cuda",
            "advance_bigram_cuda",
            "cuda_device_count",
            "philox4x32_10_cuda",
        ):
            assert hasattr(core, name), name
        rt = core.cuda_runtime()
        assert rt["runtime_version"] > 0 and rt["device_count"] == core.cuda_device_count()
    else:
        assert not hasattr(core, "advance_gaussian1d_cuda")
    assert ms.has_cuda() == (cuda_built() and core.cuda_device_count() > 0)
    assert (cuda_unavailable_reason() is None) == ms.has_cuda()


def _nvidia_smi_count():
    """GPUs that nvidia-smi lists (an independent count), or None without it."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines()) if out.returncode == 0 else 0


@pytest.mark.skipif(not cuda_built(), reason="madsim was built without CUDA")
def test_cuda_device_count_is_what_the_system_has():
    n = core.cuda_device_count()
    assert type(n) is int
    smi = _nvidia_smi_count()
    if smi is not None and "CUDA_VISIBLE_DEVICES" not in os.environ:
        assert n == smi, f"cuda_device_count() = {n}, nvidia-smi -L lists {smi}"
    assert ms.has_cuda() == (n > 0)
    if n == 0:  # what a user without a device sees: a clear error before any work
        with pytest.raises(ms.CudaUnavailableError, match="device"):
            ms.simulate(ms.Config(), replicas=2, generations=2, backend="cuda", progress=False)


def test_memory_estimate_arithmetic():
    R, S, O, SC, n_rec, C, D, A, slots = 1000, 7, 19, 33, 5, 4, 3, 123, 256
    m = cuda_memory_estimate(R, S, O, SC, n_rec, C, D, A, slots)
    assert m["state"] == 8 * R * S
    assert m["ids"] == 4 * R
    assert m["records"] == 8 * R * n_rec * C
    assert m["first"] == 8 * R * D
    assert m["observe"] == 8 * slots * O
    assert m["scratch"] == 8 * slots * SC
    assert m["arrays"] == 8 * A + 4 * n_rec + 4 * C + 16 * D
    parts = ("state", "ids", "records", "first", "observe", "scratch", "arrays")
    assert m["total"] == sum(m[k] for k in parts)
    # 1e7 replicas of the 1-D exact path, 10 records of 15 columns, 1 detector:
    big = cuda_memory_estimate(10**7, 2, 0, 0, 10, 15, 1, 0, 270336)
    assert big["total"] == 16 * 10**7 + 4 * 10**7 + 1200 * 10**7 + 8 * 10**7 + 40 + 60 + 16
    # no int32 overflow anywhere
    huge = cuda_memory_estimate(2**31, 2**20, 0, 0, 0, 0, 0, 0, 0)
    assert huge["state"] == 8 * 2**51
    with pytest.raises(ValueError, match=">= 0"):
        cuda_memory_estimate(-1, 2, 0, 0, 0, 0, 0, 0, 0)


def _check_plan(plan, gen_begin, gen_end, rec, g, rec_fit):
    assert plan[0][0] == gen_begin and plan[-1][1] == gen_end
    r = 0
    for k, (b, e, r0, nr) in enumerate(plan):
        assert b <= e
        if k > 0:
            assert b == plan[k - 1][1] and b > 0 and e > b  # only the first launch may start at 0
        if g:
            assert e - b <= g
        assert r0 == r
        got = rec[r0 : r0 + nr]
        lo_ok = (got >= b) if b == 0 else (got > b)
        assert np.all(lo_ok) and np.all(got <= e)
        floor = 2 if (gen_begin == 0 and rec.size > 1 and rec[0] == 0) else 1
        assert nr <= max(rec_fit, floor)
        r += nr
    assert r == rec.size


def test_launch_plan_invariants():
    rng = np.random.default_rng(11)
    for _ in range(300):
        gen_begin = int(rng.choice([0, 0, int(rng.integers(1, 50))]))
        gen_end = gen_begin + int(rng.integers(0, 60))
        cand = np.arange(gen_begin if gen_begin == 0 else gen_begin + 1, gen_end + 1)
        rec = (
            np.sort(rng.choice(cand, size=int(rng.integers(0, cand.size + 1)), replace=False))
            if cand.size
            else np.zeros(0, dtype=np.int64)
        )
        rec = rec.astype(np.uint32)
        g = int(rng.choice([0, 1, 2, 5, 100]))
        rec_fit = int(rng.choice([1, 2, 3, 1000]))
        plan = core.cuda_launch_plan(gen_begin, gen_end, rec, g, rec_fit)
        _check_plan(plan, gen_begin, gen_end, rec, g, rec_fit)


PLAN_CONFIGS = (
    "gaussian1d-exact",
    "d3-augment",
    "d3-subsample",
    "tokens-exact",
    "tokens-samples-accumulate",
    "gmm-fresh-filter",
    "gmm-subsample",
)


@pytest.mark.parametrize("name", PLAN_CONFIGS)
@pytest.mark.parametrize("g,rec_fit", [(0, 1), (3, 1000), (1, 2), (4, 3)])
def test_launch_plan_replayed_on_cpu_changes_no_number(name, g, rec_fit):
    """The CUDA launcher runs a call as the launches of cuda_launch_plan,
    state and first passages carried between them. Replaying that plan with
    the CPU kernel must give exactly one CPU call's numbers."""
    cfg = CONFIGS[name]
    G, R = 13, 5
    kern = kernel_for(cfg, G, R)
    ids = np.arange(R, dtype=np.uint32) * 3 + 1
    rec = np.array([0, 1, 2, 5, 6, 7, 12, 13], dtype=np.uint32)
    cols = np.arange(kern.params.observe_size, dtype=np.int32)
    det = np.array(
        [
            [kern.columns[d.metric], d.below is not None, d.below if d.below is not None else d.above]
            for d in _detectors(cfg)
        ],
        dtype=np.float64,
    )

    def fresh():
        return (
            np.tile(kern.initial_state, (R, 1)),
            np.empty((R, rec.size, cols.size)),
            np.full((R, det.shape[0]), -1, dtype=np.int64),
        )

    s1, r1, f1 = fresh()
    kern.advance(kern.params, s1, ids, 99, 0, 7, rec[:6], 0, r1, det, f1, 1, cols)
    kern.advance(kern.params, s1, ids, 99, 7, G, rec[6:], 6, r1, det, f1, 1, cols)
    s2, r2, f2 = fresh()
    for gb, ge, lo in ((0, 7, 0), (7, G, 6)):
        sub = rec[lo : lo + (6 if gb == 0 else 2)]
        for b, e, r0, nr in core.cuda_launch_plan(gb, ge, sub, g, rec_fit):
            kern.advance(kern.params, s2, ids, 99, b, e, sub[r0 : r0 + nr], lo + r0, r2, det, f2, 1, cols)
    assert np.array_equal(s1, s2) and np.array_equal(f1, f2)
    assert np.array_equal(r1, r2, equal_nan=True)


def test_gpu_benchmark_refuses_clearly_without_cuda(tmp_path):
    if ms.has_cuda():
        pytest.skip("a CUDA device is visible: the benchmark would run")
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 2, out.stderr
    assert "CUDA" in out.stderr and "Traceback" not in out.stderr
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------
# With a GPU


@needs_gpu
def test_philox_known_answers_on_device():
    ctr = np.array([c for c, _, _ in PHILOX4X32_10], dtype=np.uint32)
    for i, (_, key, want) in enumerate(PHILOX4X32_10):
        got = core.philox4x32_10_cuda(ctr[i : i + 1], np.array(key, dtype=np.uint32))
        assert tuple(int(x) for x in got[0]) == want
    rng = np.random.default_rng(5)
    many = rng.integers(0, 2**32, size=(100_003, 4), dtype=np.uint64).astype(np.uint32)
    key = np.array([0xDEADBEEF, 0x01234567], dtype=np.uint32)
    assert np.array_equal(core.philox4x32_10_cuda(many, key), core.philox4x32_10(many, key))


@needs_gpu
@pytest.mark.parametrize("name", list(CONFIGS))
def test_one_step_gpu_matches_cpu(name):
    cfg = CONFIGS[name]
    cpu = _run(cfg, "cpu", generations=1, replicas=64)
    gpu = _run(cfg, "cuda", generations=1, replicas=64)
    assert gpu.attrs["backend"] == "cuda" and gpu.attrs["kernel"] == cpu.attrs["kernel"]
    _close(cpu, gpu, name, tol=1e-13)


@needs_gpu
@pytest.mark.parametrize("name", list(CONFIGS))
def test_trajectories_gpu_match_cpu(name):
    _close(_run(CONFIGS[name], "cpu"), _run(CONFIGS[name], "cuda"), name)


@needs_gpu
@pytest.mark.parametrize("name", ["gaussian1d-exact", "d3-fresh-filter", "tokens-exact"])
def test_gpu_matches_jax(name):
    pytest.importorskip("jax")
    cfg = CONFIGS[name]
    _close(_run(cfg, "jax", generations=1), _run(cfg, "cuda", generations=1), name, tol=1e-13)
    _close(_run(cfg, "jax"), _run(cfg, "cuda"), name)


@needs_gpu
@pytest.mark.parametrize("name", ["gaussian1d-exact", "gaussian1d-samples", "d3-subsample", "tokens-exact"])
def test_gpu_bit_identical_for_any_block_launches_chunks_subsets(name):
    cfg = CONFIGS[name]
    G, R = 30, 300
    kern = kernel_for(cfg, G, R, backend="cuda")
    ids = np.arange(R, dtype=np.uint32)
    rec = np.arange(0, G + 1, 3, dtype=np.uint32)
    cols = np.arange(kern.params.observe_size, dtype=np.int32)
    det = np.array(
        [
            [kern.columns[d.metric], d.below is not None, d.below if d.below is not None else d.above]
            for d in _detectors(cfg)
        ],
        dtype=np.float64,
    )

    def go(block, gens_per_launch, ids=ids):
        s = np.tile(kern.initial_state, (ids.size, 1))
        r = np.empty((ids.size, rec.size, cols.size))
        f = np.full((ids.size, det.shape[0]), -1, dtype=np.int64)
        kern.advance(
            kern.params,
            s,
            ids,
            7,
            0,
            G,
            rec,
            0,
            r,
            det,
            f,
            1,
            cols,
            block=block,
            gens_per_launch=gens_per_launch,
        )
        return s, r, f

    base = go(128, 0)
    for block, gpl in ((32, 0), (256, 1), (1024, 7), (64, 29)):
        for x, y in zip(base, go(block, gpl)):
            assert np.array_equal(x, y, equal_nan=True), (block, gpl)
    sub = ids[[299, 3, 150]]
    for x, y in zip(base, go(96, 4, sub)):
        assert np.array_equal(x[sub], y, equal_nan=True)
    whole = _run(cfg, "cuda", generations=G, replicas=R, chunk=G)
    for chunk in (1, 7, None):
        _same(whole, _run(cfg, "cuda", generations=G, replicas=R, chunk=chunk), name)


@needs_gpu
def test_gpu_resume_equals_uninterrupted():
    cfg = CONFIGS["d3-augment"]
    whole = _run(cfg, "cuda", generations=20)
    part = ms.resume(_run(cfg, "cuda", generations=8), generations=20, progress=False)
    _same(whole, part, "resume")


@needs_gpu
def test_gpu_block_size_is_checked():
    kern = kernel_for(CONFIGS["gaussian1d-exact"], 2, 1, backend="cuda")
    s = np.tile(kern.initial_state, (1, 1))
    with pytest.raises(ValueError, match="block"):
        kern.advance(
            kern.params,
            s,
            np.zeros(1, np.uint32),
            1,
            0,
            1,
            np.zeros(0, np.uint32),
            0,
            np.empty((1, 0, 15)),
            np.zeros((0, 3)),
            np.zeros((1, 0), np.int64),
            1,
            None,
            block=100,
        )
