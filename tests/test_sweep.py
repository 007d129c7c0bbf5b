"""madsim.sweep: every grid point equals its own simulate call bit for bit
(coupled and independent streams, points of different shapes), whatever the
blocks and the scheduler; an interrupted sweep resumes from its store to the
uninterrupted result; bad grids fail before any task runs, naming the field
and the value."""

import json

import numpy as np
import pytest

import madsim as ms
from madsim import results, sweeps
from madsim.sweeps import tasks as sweep_tasks

BASE = ms.Config(loop=ms.Fresh(real=6, synthetic=6), weight=0.5)
GRID = {
    "weight": [0.2, 0.7],
    "ratio": {"loop.real": [3, 8], "loop.synthetic": [9, 4]},
    "estimator": ["mle", "unbiased"],
}
RUN = dict(
    replicas=6,
    generations=5,
    seed=11,
    record=[0, 2, 5],
    progress=False,
    detect=[ms.FirstPassage("logdet", below=-0.3, name="low")],
)
INFO = ("config", "kernel", "replica_id")  # per-point variables the sweep adds


def point_config(w, real, syn, est):
    return ms.Config(loop=ms.Fresh(real=real, synthetic=syn), weight=w, estimator=est)


def assert_point(pt, ref):
    """The grid point ``pt`` holds ``ref`` (a simulate result) exactly; what
    ``ref`` lacks (a variable, a padded position) is NaN."""
    for name in pt.data_vars:
        if name in INFO:
            continue
        v = pt[name]
        if name not in ref:
            assert np.all(np.isnan(v.values)), name
            continue
        r = ref[name]
        inner = v.isel({d: 0 for d in v.dims if d not in r.dims})
        inner = inner.isel({d: slice(0, r.sizes[d]) for d in r.dims}).transpose(*r.dims)
        np.testing.assert_array_equal(inner.values, r.values, err_msg=name)
        if np.issubdtype(v.dtype, np.floating):  # the padding is NaN, nothing else
            assert np.isfinite(v.values).sum() == np.isfinite(r.values.astype(float)).sum(), name
    assert pt["kernel"].item() == ref.attrs["kernel"]
    assert json.loads(pt["config"].item()) == json.loads(ref.attrs["config"])


def assert_same(a, b):
    assert set(a.data_vars) == set(b.data_vars) and set(a.coords) == set(b.coords)
    for name in list(a.data_vars) + list(a.coords):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.parametrize("streams", ["coupled", "independent"])
def test_each_point_equals_simulate(streams):
    ds = ms.sweep(BASE, GRID, streams=streams, block=4, **RUN)
    assert tuple(ds["low"].dims) == ("weight", "ratio", "estimator", "replica")
    assert ds["var"].dims == ("weight", "ratio", "estimator", "replica", "generation")
    np.testing.assert_array_equal(ds["loop.real"].values, [3, 8])
    assert list(ds["estimator"].values) == ["mle", "unbiased"]
    p = 0
    for w in GRID["weight"]:
        for i, (real, syn) in enumerate(zip([3, 8], [9, 4])):
            for est in GRID["estimator"]:
                ids = np.arange(6) + (6 * p if streams == "independent" else 0)
                ref = ms.simulate(point_config(w, real, syn, est), **{**RUN, "replicas": ids.tolist()})
                pt = ds.sel(weight=w, estimator=est).isel(ratio=i)
                assert_point(pt, ref)
                if streams == "independent":
                    np.testing.assert_array_equal(pt["replica_id"].values, ids)
                p += 1
    assert ds.attrs["streams"] == streams and ds.attrs["tasks"] == 16
    assert ("replica_id" in ds) == (streams == "independent")


def test_points_of_different_shapes():
    """Dimension, loop object (as given and from a dict) and path: points
    record different variables and shapes; each still equals its simulate."""
    grid = {
        "family.dim": [1, 2],
        "loop": [ms.Replace(n=6), {"type": "Fresh", "real": 4, "synthetic": 5}],
        "path": ["exact", "samples"],
    }
    run = {**RUN, "detect": [], "metrics": "all"}
    ds = ms.sweep(ms.Config(loop=ms.Replace(n=5)), grid, scheduler="serial", **run)
    assert list(ds["loop"].values) == ["Replace(n=6)", "Fresh(real=4, synthetic=5)"]
    assert ds.sizes["dim"] == 2 and ds.sizes["dim2"] == 2
    for d in (1, 2):
        for k, loop in enumerate([ms.Replace(n=6), ms.Fresh(real=4, synthetic=5)]):
            for path in ("exact", "samples"):
                cfg = ms.Config(family=ms.Gaussian(dim=d), loop=loop, path=path)
                pt = ds.sel({"family.dim": d, "path": path}).isel(loop=k)
                assert_point(pt, ms.simulate(cfg, **run))
    # a truth_value every point with the variable shares is kept (q001 is
    # 1-D only); one that differs across points (the Mahalanobis tail mass
    # depends on dim) is dropped rather than mislabel half the grid
    assert ds["q001"].attrs["truth_value"] == pytest.approx(-3.0902323061678136)
    assert "truth_value" not in ds["tail3"].attrs


def test_blocks_and_schedulers_change_no_number():
    serial = ms.sweep(BASE, GRID, scheduler="serial", block=6, **RUN)
    for block, workers in ((1, 2), (4, 3)):
        threads = ms.sweep(BASE, GRID, scheduler="threads", block=block, workers=workers, **RUN)
        assert_same(serial, threads)
    assert threads.attrs["tasks"] == 16 and threads.attrs["block"] == 4


def test_empty_grid_is_one_point_in_blocks():
    ds = ms.sweep(BASE, {}, block=2, **RUN)
    assert ds.attrs["tasks"] == 3 and ds["var"].dims == ("replica", "generation")
    assert_point(ds, ms.simulate(BASE, **RUN))


def test_keep_state_and_disk_round_trip(tmp_path):
    ds = ms.sweep(BASE, {"loop.synthetic": [4, 9]}, keep_state=True, **RUN)
    ref = ms.simulate(ms.Config(loop=ms.Fresh(real=6, synthetic=9), weight=0.5), **RUN)
    np.testing.assert_array_equal(ds["state"].sel({"loop.synthetic": 9}).values, ref["state"].values)
    assert "state" not in ms.sweep(BASE, {"loop.synthetic": [4]}, **RUN)
    results.save(ds, tmp_path / "s.nc")  # dotted dimension names, text coordinates
    back = results.load(tmp_path / "s.nc")
    assert_same(ds, back)
    assert json.loads(back.attrs["sweep"])["grid"][0]["fields"] == ["loop.synthetic"]


def test_progress_bar_counts_tasks(capsys):
    ms.sweep(BASE, {"weight": [0.1, 0.9]}, **{**RUN, "progress": True})
    err = capsys.readouterr().err
    assert "sweep:" in err and "/2 [" in err and "task/s" in err  # one bar over the 2 tasks


# ------------------------------------------------------------ store and resume


class CountingTask:
    """Replaces run_task: counts calls and raises ``error`` (default
    KeyboardInterrupt, as a Ctrl-C) at call ``stop``."""

    def __init__(self, stop=None, error=KeyboardInterrupt):
        self.calls, self.stop, self.error, self.real = 0, stop, error, sweep_tasks.run_task

    def __call__(self, task):
        self.calls += 1
        if self.calls == self.stop:
            raise self.error("a task ran")
        return self.real(task)


def no_task():
    return CountingTask(stop=1, error=AssertionError)


@pytest.mark.parametrize("scheduler", ["serial", "threads"])
def test_interrupted_then_resumed_equals_uninterrupted(scheduler, tmp_path, monkeypatch):
    full = ms.sweep(BASE, GRID, block=3, **RUN)
    store = tmp_path / "store"
    first = CountingTask(stop=5)
    monkeypatch.setattr(sweep_tasks, "run_task", first)
    with pytest.raises(ms.SweepInterrupted, match="run the same sweep again") as info:
        ms.sweep(BASE, GRID, block=3, store=store, scheduler=scheduler, workers=2, **RUN)
    saved = sorted(p.name for p in (store / "tasks").iterdir())
    assert len(saved) == info.value.done < 16 and info.value.total == 16
    assert not [n for n in saved if not n.endswith(".npz")]  # no partial file left
    if scheduler == "serial":
        assert info.value.done == 4
    again = CountingTask()
    monkeypatch.setattr(sweep_tasks, "run_task", again)
    resumed = ms.sweep(BASE, GRID, block=3, store=store, scheduler=scheduler, workers=2, **RUN)
    assert again.calls == 16 - info.value.done
    assert resumed.attrs["tasks_from_store"] == info.value.done
    assert_same(full, resumed)


def test_ctrl_c_inside_a_task_drops_it(tmp_path, interrupt_kernel):
    """A Ctrl-C in the kernel (simulate returns the finished generations) must
    not store the partial task."""
    full = ms.sweep(BASE, {"weight": [0.3, 0.6]}, **RUN)
    interrupt_kernel(2)
    with pytest.raises(ms.SweepInterrupted):
        ms.sweep(BASE, {"weight": [0.3, 0.6]}, store=tmp_path / "s", scheduler="serial", chunk=1, **RUN)
    interrupt_kernel(None)
    assert list((tmp_path / "s" / "tasks").iterdir()) == []
    assert_same(full, ms.sweep(BASE, {"weight": [0.3, 0.6]}, store=tmp_path / "s", chunk=1, **RUN))


def test_store_reused_and_checked(tmp_path, monkeypatch):
    store = tmp_path / "store"
    first = ms.sweep(BASE, GRID, store=store, **RUN)
    monkeypatch.setattr(sweep_tasks, "run_task", no_task())
    again = ms.sweep(BASE, GRID, store=store, **RUN)
    assert_same(first, again) and again.attrs["tasks_from_store"] == 8
    with pytest.raises(ValueError, match=r"holds a different sweep: seed there is \"11\", here \"12\""):
        ms.sweep(BASE, GRID, store=store, **{**RUN, "seed": 12})
    with pytest.raises(ValueError, match="block"):
        ms.sweep(BASE, GRID, store=store, block=2, **RUN)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a madsim sweep store"):
        ms.sweep(BASE, GRID, store=tmp_path / "other", **RUN)


# ------------------------------------------------------------ bad input, before any work

BAD = [
    ({"loop.m": [1]}, ValueError, r"unknown field 'loop.m': Fresh has the fields real, synthetic"),
    ({"temprature": [1.0]}, ValueError, r"unknown field 'temprature': Config has the fields family"),
    ({"temperature": []}, ValueError, r"grid\['temperature'\] is empty"),
    ({"temperature": 1.5}, TypeError, r"grid\['temperature'\] must be a list of values; got 1.5"),
    ({"temperature": [1.0, -1.0]}, ValueError, r"temperature = -1.0\): Config.temperature must be"),
    ({"loop.real": [6, 1]}, ValueError, r"loop.real = 1\): Config.weight fits .* Fresh.real can be 1"),
    ({"loop.n": [5]}, ValueError, r"unknown field 'loop.n': Fresh has"),
    ({"weight": [0.5, 0.5]}, ValueError, r"grid\['weight'\] repeats the value 0.5"),
    ({"r": {"loop.real": [3, 4], "loop.synthetic": [5]}}, ValueError, r"equally many values"),
    ({"filter.tpr": [0.5]}, ValueError, r"grid field filter.tpr: filter is None"),
    ({"loop": [{"type": "Nope"}]}, ValueError, r"loop = \{'type': 'Nope'\}\): grid field loop: type must"),
    ({"loop": [{"real": 4, "synth": 2}]}, ValueError, r"Fresh has no field 'synth'"),
    ({"config": {"weight": [0.1]}}, ValueError, r"'config' would name a grid dimension"),
    ({"loop.real": [3], "loop": [ms.Replace()]}, ValueError, r"unknown field 'loop.real': Replace"),
    ({"family.dim": [1, 7]}, ValueError, r"family.dim = 7\): Config.weight fits .* 8 points"),
    ({1: [2]}, TypeError, r"dotted path of field names"),
]


@pytest.mark.parametrize("grid, exc, match", BAD)
def test_bad_grid_fails_before_any_work(grid, exc, match, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_tasks, "run_task", no_task())
    with pytest.raises(exc, match=match):
        ms.sweep(BASE, grid, store=tmp_path / "s", **RUN)
    assert not (tmp_path / "s").exists()


def test_bad_arguments_and_per_point_checks(tmp_path):
    cfg = ms.Config(loop=ms.Replace(n=5))
    with pytest.raises(ValueError, match=r"family.dim = 2\): metrics: unknown name 'var'"):
        ms.sweep(cfg, {"family.dim": [1, 2]}, metrics=["var"], **RUN)
    with pytest.raises(ValueError, match=r"family.dim = 2\): detect\[0\].metric must be"):
        ms.sweep(cfg, {"family.dim": [1, 2]}, **{**RUN, "detect": [ms.FirstPassage("var", below=1)]})
    with pytest.raises(ValueError, match="streams must be one of 'coupled', 'independent'; got 'same'"):
        ms.sweep(cfg, {}, streams="same", **RUN)
    with pytest.raises(ValueError, match="scheduler must be one of"):
        ms.sweep(cfg, {}, scheduler="mpi", **RUN)
    with pytest.raises(ValueError, match="address is for scheduler='dask'"):
        ms.sweep(cfg, {}, address="tcp://x:1", **RUN)
    with pytest.raises(TypeError, match="base must be a madsim.Config"):
        ms.sweep({"loop": "Replace"}, {}, **RUN)
    with pytest.raises(TypeError, match="grid must be a dict"):
        ms.sweep(cfg, [("temperature", [1.0])], **RUN)
    with pytest.raises(ValueError, match=r"more than the 2\*\*32"):
        ms.sweep(cfg, {"temperature": [1.0, 2.0]}, streams="independent", **{**RUN, "replicas": [2**31]})
    with pytest.raises(TypeError, match="block must be an integer"):
        ms.sweep(cfg, {}, block=2.5, **RUN)


def test_zipped_fields_and_whole_filter_objects():
    base = ms.Config(loop=ms.Replace(n=8), filter=ms.Filter())
    grid = {"filter.tpr": [0.0, 0.5], "knobs": {"temperature": [0.9, 1.1], "path": ["exact", "samples"]}}
    ds = ms.sweep(base, grid, **{**RUN, "detect": []})
    assert ds["temperature"].dims == ("knobs",) and list(ds["path"].values) == ["exact", "samples"]
    ref = ms.simulate(
        ms.Config(loop=ms.Replace(n=8), filter=ms.Filter(tpr=0.5), temperature=1.1, path="samples"),
        **{**RUN, "detect": []},
    )
    assert_point(ds.sel({"filter.tpr": 0.5}).isel(knobs=1), ref)
    # a dict without type changes the base object's fields
    ds = ms.sweep(base, {"filter": [{"tpr": 0.25}, None]}, **{**RUN, "detect": []})
    assert list(ds["filter"].values) == ["(tpr=0.25)", "None"]
    assert json.loads(ds["config"].values[0])["filter"] == {"type": "Filter", "tpr": 0.25, "fpr": 0.0}


def test_task_file_resumes_like_a_simulate_result(tmp_path):
    """The store keeps each task's full simulate result (state, attrs):
    resume continues it to the longer run, bit for bit."""
    ms.sweep(BASE, {"weight": [0.3, 0.6]}, store=tmp_path / "s", block=4, **RUN)
    part = sweeps.load_task(tmp_path / "s" / "tasks" / "p1-b1.npz")
    np.testing.assert_array_equal(part["replica"].values, [4, 5])
    longer = ms.resume(part, 9, record=[9], progress=False)
    cfg = ms.Config(loop=ms.Fresh(real=6, synthetic=6), weight=0.6)
    full = ms.simulate(cfg, **{**RUN, "replicas": [4, 5], "generations": 9, "record": [0, 2, 5, 9]})
    assert_same(full, longer)
    with pytest.raises(FileNotFoundError, match="no sweep task file"):
        sweeps.load_task(tmp_path / "s" / "tasks" / "p9-b0.npz")
