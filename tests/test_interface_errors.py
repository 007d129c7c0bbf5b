"""Bad input gets a clear TypeError/ValueError naming the argument, the value
and what is allowed, raised before any kernel runs; malformed arrays handed
straight to the compiled core are refused, never a crash."""

import math

import numpy as np
import pytest

import madsim as ms
from madsim._backend import core

CFG = ms.Config(loop=ms.Replace(n=5))


@pytest.mark.parametrize(
    "make,exc,words",
    [
        (lambda: ms.Replace(n=1), ValueError, ["Replace.n", "[2, ", "got 1"]),
        (lambda: ms.Replace(n=2.5), TypeError, ["Replace.n", "integer", "2.5"]),
        (lambda: ms.Replace(n=True), TypeError, ["Replace.n"]),
        (lambda: ms.Replace(n="10"), TypeError, ["Replace.n", "'10'"]),
        (lambda: ms.Gaussian(var=0.0), ValueError, ["Gaussian.var", "> 0"]),
        (lambda: ms.Gaussian(mean=math.nan), ValueError, ["Gaussian.mean", "finite", "nan"]),
        (lambda: ms.Gaussian(dim=0), ValueError, ["Gaussian.dim", "0"]),
        (lambda: ms.Config(temperature=-1.0), ValueError, ["Config.temperature", "> 0", "-1.0"]),
        (lambda: ms.Config(temperature=math.nan), ValueError, ["Config.temperature", "nan"]),
        (lambda: ms.Config(temperature=math.inf), ValueError, ["Config.temperature", "inf"]),
        (lambda: ms.Config(estimator="MAP"), ValueError, ["Config.estimator", "'mle'", "'MAP'"]),
        (lambda: ms.Config(path="fast"), ValueError, ["Config.path", "'exact'", "'fast'"]),
        (lambda: ms.Config(loop=5), TypeError, ["Config.loop", "Replace"]),
        (lambda: ms.Config(family="gauss"), TypeError, ["Config.family", "Gaussian"]),
        (lambda: ms.every(0), ValueError, ["every.k", ">= 1"]),
        (lambda: ms.FirstPassage("var"), ValueError, ["below", "above"]),
    ],
)
def test_config_errors(make, exc, words):
    with pytest.raises(exc) as info:
        make()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize(
    "kwargs,exc,words",
    [
        (dict(replicas=0), ValueError, ["replicas", "[1, ", "got 0"]),
        (dict(replicas=-5), ValueError, ["replicas", "-5"]),
        (dict(replicas=2.0), TypeError, ["replicas"]),
        (dict(replicas=[]), ValueError, ["replicas", "empty"]),
        (dict(replicas=[1, 1]), ValueError, ["replicas", "repeat"]),
        (dict(replicas=[2**32]), ValueError, ["replicas[]", str(2**32)]),
        (dict(replicas="10"), TypeError, ["replicas"]),
        (dict(generations=-1), ValueError, ["generations", "-1"]),
        (dict(generations=2**32), ValueError, ["generations"]),
        (dict(generations=1.5), TypeError, ["generations"]),
        (dict(seed=-1), ValueError, ["seed", str(2**64 - 1), "-1"]),
        (dict(seed=2**64), ValueError, ["seed"]),
        (dict(seed=None), TypeError, ["seed"]),
        (dict(record=[0, 11]), ValueError, ["record[]", "[0, 10]", "11"]),
        (dict(record=[-1]), ValueError, ["record[]"]),
        (dict(record=[]), ValueError, ["record", "empty"]),
        (dict(record="all"), TypeError, ["record"]),
        (dict(threads=0), ValueError, ["threads", "[1, "]),
        (dict(chunk=0), ValueError, ["chunk"]),
        (dict(backend="gpu"), ValueError, ["backend", "'cpu'", "'gpu'"]),
        (dict(progress="yes"), TypeError, ["progress"]),
        (dict(detect=[ms.FirstPassage("sigma", below=0.1)]), ValueError, ["metric", "'var'", "'sigma'"]),
        (dict(detect=["var"]), TypeError, ["detect[0]"]),
    ],
)
def test_simulate_errors(kwargs, exc, words):
    args = dict(replicas=3, generations=10, seed=0, progress=False)
    with pytest.raises(exc) as info:
        ms.simulate(CFG, **{**args, **kwargs})
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_simulate_rejects_a_non_config():
    with pytest.raises(TypeError, match="madsim.Config"):
        ms.simulate({"n": 10})


O_1D = core.Gaussian1DParams(n=5.0, tau=1.0, estimator=0, path=0).observe_size


def _core_args(R=3, **over):
    args = dict(
        params=core.Gaussian1DParams(n=5.0, tau=1.0, estimator=0, path=0),
        state=np.tile([0.0, 1.0, 0.0], (R, 1)),
        replica_ids=np.arange(R, dtype=np.uint32),
        seed=1,
        gen_begin=0,
        gen_end=4,
        rec_gens=np.array([0, 4], dtype=np.uint32),
        rec_offset=0,
        records=np.zeros((R, 2, O_1D)),
        detectors=np.zeros((0, 3)),
        first=np.zeros((R, 0), np.int64),
        threads=1,
    )
    args.update(over)
    return args


@pytest.mark.parametrize(
    "over,exc",
    [
        (dict(state=np.zeros((3, 3), np.float32)), TypeError),
        (dict(state=np.zeros((3, 2))), ValueError),  # the state before the scale slot
        (dict(state=np.zeros((2, 4))[:, :3]), ValueError),  # not contiguous
        (dict(state=np.zeros((3, 3))[::-1]), ValueError),
        (dict(replica_ids=np.arange(3, dtype=np.int64)), TypeError),
        (dict(replica_ids=np.arange(4, dtype=np.uint32)), ValueError),
        (dict(records=np.zeros((3, 1, O_1D))), ValueError),  # offset + records past the axis
        (dict(records=np.zeros((3, 2, 2))), ValueError),  # not the observe columns
        (dict(records=np.zeros((3, 2, 2)), columns=np.array([0, 99], np.int32)), ValueError),
        (dict(records=np.zeros((3, 2, 2)), columns=np.array([0, 1])), TypeError),  # int64
        (dict(rec_gens=np.array([4, 0], dtype=np.uint32)), ValueError),
        (dict(rec_gens=np.array([5], dtype=np.uint32)), ValueError),
        (dict(gen_begin=5), ValueError),
        (dict(detectors=np.array([[99.0, 1.0, 0.5]]), first=np.zeros((3, 1), np.int64)), ValueError),
        (dict(first=np.zeros((3, 1), np.int64)), ValueError),
        (dict(threads=0), ValueError),
        (dict(seed=-1), TypeError),
    ],
)
def test_core_refuses_malformed_arrays(over, exc):
    with pytest.raises(exc):
        core.advance_gaussian1d(**_core_args(**over))
    core.advance_gaussian1d(**_core_args())  # and the well-formed call works


def test_core_refuses_a_read_only_state():
    state = np.tile([0.0, 1.0, 0.0], (3, 1))
    state.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        core.advance_gaussian1d(**_core_args(state=state))


@pytest.mark.parametrize(
    "kwargs", [dict(n=1.0), dict(n=2.5), dict(n=math.nan), dict(estimator=2), dict(path=-1)]
)
def test_core_params_validate(kwargs):
    base = dict(n=5.0, tau=1.0, estimator=0, path=0)
    with pytest.raises(ValueError):
        core.Gaussian1DParams(**{**base, **kwargs})


@pytest.mark.parametrize(
    "call,exc",
    [
        (lambda: ms.rng.gamma(0.0, 1, [0]), ValueError),
        (lambda: ms.rng.gamma(math.nan, 1, [0]), ValueError),
        (lambda: ms.rng.binomial(-1, 0.5, 1, [0]), ValueError),
        (lambda: ms.rng.binomial(10, 1.5, 1, [0]), ValueError),
        (lambda: ms.rng.blocks(1, site=2**24), ValueError),
        (lambda: ms.rng.blocks(1, tag="nope"), ValueError),
        (lambda: ms.rng.philox4x32_10(np.zeros(4), np.zeros(2, np.uint32)), TypeError),
        (lambda: ms.rng.philox4x32_10(np.zeros(3, np.uint32), np.zeros(2, np.uint32)), ValueError),
        (lambda: ms.rng.normal_pair([0.0], [0.5]), ValueError),
        (lambda: core.philox4x32_10(np.zeros((2, 4), np.int32), np.zeros(2, np.uint32)), TypeError),
        (lambda: core.log_factorial(np.array([-1.0])), ValueError),
    ],
)
def test_rng_errors(call, exc):
    with pytest.raises(exc):
        call()
