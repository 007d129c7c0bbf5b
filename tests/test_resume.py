"""Resume and extend: a saved or interrupted run continued with
madsim.resume equals the uninterrupted run bit for bit (records, detector
columns, final state), also with extra replicas and after a disk round trip."""

import numpy as np
import pytest

import madsim as ms
from madsim import results

DET = [ms.FirstPassage("var", below=0.3, name="low")]
CASES = {
    "gaussian1d": ms.Config(loop=ms.Replace(n=5)),
    "augment-d2": ms.Config(
        family=ms.Gaussian(dim=2), loop=ms.Augment(real=5, synthetic=4), filter=ms.Filter(0.3, 0.1)
    ),
    "subsample": ms.Config(loop=ms.AccumulateSubsample(n=6, synthetic=4, real=1), path="samples"),
    "fresh-schedule": ms.Config(loop=ms.Fresh(real=list(range(2, 32)), synthetic=5), weight=0.5),
}


def assert_same(a, b):
    assert set(a.data_vars) == set(b.data_vars)
    np.testing.assert_array_equal(a["generation"].values, b["generation"].values)
    np.testing.assert_array_equal(a["replica"].values, b["replica"].values)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.parametrize("name", list(CASES))
def test_resume_equals_uninterrupted(name, tmp_path):
    cfg = CASES[name]
    det = DET if name in ("gaussian1d", "subsample") else [ms.FirstPassage("logdet", below=-1.0, name="low")]
    full = ms.simulate(
        cfg, replicas=40, generations=30, seed=8, record=ms.every(1), detect=det, progress=False
    )
    part = ms.simulate(
        cfg, replicas=40, generations=11, seed=8, record=ms.every(1), detect=det, progress=False
    )
    results.save(part, tmp_path / "part.nc")
    again = ms.resume(results.load(tmp_path / "part.nc"), 30, record=ms.every(1), chunk=4)
    assert_same(full, again)
    assert again.attrs["resumed_at"] == [11] and again.attrs["generations_completed"] == 30


def test_resume_with_more_replicas():
    cfg = CASES["augment-d2"]
    full = ms.simulate(cfg, replicas=30, generations=12, seed=3, record=[0, 4, 12], progress=False)
    part = ms.simulate(cfg, replicas=20, generations=4, seed=3, record=[0, 4], progress=False)
    assert_same(full, ms.resume(part, 12, record=[12], replicas=10, progress=False))


def test_interrupted_run_resumes(interrupt_kernel):
    cfg = ms.Config(loop=ms.Fresh(real=3, synthetic=7))
    full = ms.simulate(
        cfg, replicas=25, generations=40, seed=1, record=ms.every(5), detect=DET, progress=False
    )
    interrupt_kernel(3)
    with pytest.warns(ms.RunInterrupted):
        part = ms.simulate(
            cfg, replicas=25, generations=40, seed=1, chunk=5, record=ms.every(5), detect=DET, progress=False
        )
    interrupt_kernel(None)
    assert part.attrs["generations_completed"] == 10
    assert_same(full, ms.resume(part, 40, record=ms.every(5)))


def test_resume_errors():
    ds = ms.simulate(ms.Config(loop=ms.Replace(n=lambda t: 5)), replicas=3, generations=4, progress=False)
    with pytest.raises(ValueError, match="pass cfg="):
        ms.resume(ds, 8)
    ok = ms.resume(ds, 8, cfg=ms.Config(loop=ms.Replace(n=lambda t: 5)), progress=False)
    assert ok.attrs["generations_completed"] == 8
    ok = ms.simulate(ms.Config(loop=ms.Replace(n=5)), replicas=3, generations=8, progress=False)
    with pytest.raises(ValueError, match="generations"):
        ms.resume(ok, 5)
    with pytest.raises(ValueError, match="new ids"):
        ms.resume(ok, 9, replicas=[1])
    with pytest.raises(ValueError, match="differs"):
        ms.resume(ok, 9, cfg=ms.Config(loop=ms.Replace(n=6)))
    with pytest.raises(TypeError, match="madsim.simulate"):
        ms.resume(ok.drop_vars("state"), 9)


@pytest.mark.parametrize("made", [None, ms.RNG_LAYOUT_VERSION - 1, ms.RNG_LAYOUT_VERSION + 1])
def test_resume_refuses_a_run_of_another_stream_layout(made):
    """A run made under another RNG layout (or before the attribute existed:
    layout 1) cannot be continued: its numbers and the new ones would come
    from two layouts."""
    part = ms.simulate(ms.Config(loop=ms.Replace(n=5)), replicas=4, generations=3, seed=1, progress=False)
    if made is None:
        del part.attrs["rng_layout_version"]
    else:
        part.attrs["rng_layout_version"] = made
    if (made or 1) == ms.RNG_LAYOUT_VERSION:
        return  # layout 1 is current: nothing to refuse (never, after the bump to 2)
    with pytest.raises(ValueError, match=f"RNG layout version {made or 1}"):
        ms.resume(part, generations=5)
