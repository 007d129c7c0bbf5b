"""Configuration errors of the Gaussian loops and knobs: every bad input gets a
TypeError/ValueError naming the field, the value and what is allowed, before
any kernel runs (issue 5: m = k = 0, TPR/FPR outside [0, 1], a filter that can
leave fewer than d + 1 points, non-SPD Sigma0, w outside [0, 1], ...)."""

import math

import numpy as np
import pytest

import madsim as ms


@pytest.mark.parametrize(
    "make,exc,words",
    [
        (lambda: ms.Fresh(real=0, synthetic=0), ValueError, ["Fresh", "real = synthetic = 0"]),
        (lambda: ms.Augment(real=0, synthetic=0), ValueError, ["Augment", "real = synthetic = 0"]),
        (lambda: ms.Fresh(real=-1), ValueError, ["Fresh.real", "-1"]),
        (lambda: ms.Fresh(synthetic=2.5), TypeError, ["Fresh.synthetic", "2.5"]),
        (lambda: ms.Fresh(real=[10, -2]), ValueError, ["Fresh.real[1]", "-2"]),
        (lambda: ms.Fresh(real=[]), ValueError, ["Fresh.real", "non-empty"]),
        (lambda: ms.Replace(n=[10, 1]), ValueError, ["Replace.n[1]", "got 1"]),
        (lambda: ms.Accumulate(synthetic="10"), TypeError, ["Accumulate.synthetic"]),
        (lambda: ms.AccumulateSubsample(n=1), ValueError, ["AccumulateSubsample.n", "got 1"]),
        (lambda: ms.Filter(tpr=1.5), ValueError, ["Filter.tpr", "[0.0, 1.0]", "1.5"]),
        (lambda: ms.Filter(fpr=-0.1), ValueError, ["Filter.fpr", "-0.1"]),
        (lambda: ms.Filter(tpr=math.nan), ValueError, ["Filter.tpr", "nan"]),
        (
            lambda: ms.Gaussian(dim=2, cov=[[1.0, 2.0], [2.0, 1.0]]),
            ValueError,
            ["Gaussian.cov", "positive definite", "-1"],
        ),
        (lambda: ms.Gaussian(dim=2, cov=[[1.0, 0.5], [0.4, 1.0]]), ValueError, ["Gaussian.cov", "symmetric"]),
        (lambda: ms.Gaussian(dim=2, cov=[[1.0]]), ValueError, ["Gaussian.cov", "2 x 2", "(1, 1)"]),
        (lambda: ms.Gaussian(dim=2, cov=np.eye(2), var=2.0), ValueError, ["either var", "or cov"]),
        (lambda: ms.Gaussian(dim=3, mean=[0.0, 1.0]), ValueError, ["Gaussian.mean", "3 entries", "got 2"]),
        (
            lambda: ms.Config(family=ms.Gaussian(dim=3), loop=ms.Replace(n=3)),
            ValueError,
            ["dim + 1 = 4", "0 real + 3 synthetic"],
        ),
        (
            lambda: ms.Config(loop=ms.Replace(n=10), filter=ms.Filter(tpr=1.0)),
            ValueError,
            ["Filter(tpr=1.0", "at most 0 can survive"],
        ),
        (
            lambda: ms.Config(loop=ms.Fresh(real=1, synthetic=10), filter=ms.Filter(tpr=1.0)),
            ValueError,
            ["at most 1 can survive"],
        ),
        (lambda: ms.Config(loop=ms.Fresh(), weight=1.5), ValueError, ["Config.weight", "1.5"]),
        (lambda: ms.Config(loop=ms.Fresh(), weight=-0.1), ValueError, ["Config.weight", "-0.1"]),
        (lambda: ms.Config(loop=ms.Fresh(), weight="best"), ValueError, ["Config.weight", "'best'"]),
        (
            lambda: ms.Config(loop=ms.Replace(), weight=0.5),
            ValueError,
            ["Config.weight", "Fresh or Augment", "Replace"],
        ),
        (lambda: ms.Config(loop=ms.Augment(), weight="optimal"), ValueError, ["'optimal'", "Fresh"]),
        (
            lambda: ms.Config(loop=ms.Fresh(real=1, synthetic=10), weight=0.5),
            ValueError,
            ["Config.weight", "Fresh.real can be 1"],
        ),
        (lambda: ms.Config(truncation=2.0), ValueError, ["Config.truncation", "path='samples'"]),
        (lambda: ms.Config(truncation=0.0, path="samples"), ValueError, ["Config.truncation", "> 0"]),
        (
            lambda: ms.Config(
                family=ms.Gaussian(dim=50), loop=ms.Replace(n=100), truncation=1.0, path="samples"
            ),
            ValueError,
            ["Config.truncation", "fraction"],
        ),
        (
            lambda: ms.Config(loop=ms.AccumulateSubsample()),
            ValueError,
            ["AccumulateSubsample", "path='samples'"],
        ),
        (lambda: ms.Config(filter=(0.1, 0.1)), TypeError, ["Config.filter", "madsim.Filter"]),
    ],
)
def test_loop_config_errors(make, exc, words):
    with pytest.raises(exc) as info:
        make()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize(
    "cfg,generations,words",
    [
        (ms.Config(loop=ms.Replace(n=[10, 10])), 3, ["Replace.n lists 2 generations", "has 3"]),
        (ms.Config(loop=ms.Replace(n=lambda t: 10 if t < 3 else 1)), 5, ["Replace.n(3)", "got 1"]),
        (
            ms.Config(loop=ms.Fresh(real=lambda t: 0, synthetic=lambda t: 1)),
            2,
            ["generation 1", "dim + 1 = 2"],
        ),
        (ms.Config(loop=ms.Fresh(real=lambda t: 1, synthetic=10), weight=0.5), 2, ["Fresh.real", "dim + 1"]),
    ],
)
def test_schedule_errors_at_run_time(cfg, generations, words):
    with pytest.raises(ValueError) as info:
        ms.simulate(cfg, replicas=2, generations=generations, progress=False)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_detector_metrics_of_the_loop_kernel():
    cfg = ms.Config(family=ms.Gaussian(dim=2), loop=ms.Fresh(5, 5))
    with pytest.raises(ValueError, match="'trace'"):
        ms.simulate(cfg, replicas=2, generations=2, detect=[ms.FirstPassage("var", below=0.1)])
    ds = ms.simulate(
        cfg, replicas=2, generations=2, detect=[ms.FirstPassage("trace", below=0.1)], progress=False
    )
    assert "first_trace_below" in ds


def test_config_round_trips_and_names_callables():
    cfg = ms.Config(
        family=ms.Gaussian(dim=2, mean=[1.0, 2.0], cov=[[2.0, 0.5], [0.5, 1.0]]),
        loop=ms.Fresh(real=[5, 6, 7], synthetic=10),
        weight=0.25,
        filter=ms.Filter(0.3, 0.1),
        estimator="unbiased",
    )
    assert ms.Config.from_dict(cfg.to_dict()) == cfg
    sched = ms.Config(loop=ms.Replace(n=lambda t: 10 * t))
    assert "lambda" in sched.to_json()
    with pytest.raises(ValueError, match="callable"):
        ms.Config.from_dict(sched.to_dict())


def test_subsample_memory_is_refused_before_running():
    cfg = ms.Config(loop=ms.AccumulateSubsample(n=10, synthetic=10**6), path="samples")
    with pytest.raises(MemoryError, match="AccumulateSubsample keeps every point"):
        ms.simulate(cfg, replicas=10**5, generations=1000)
