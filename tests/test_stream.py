"""Streamed results (simulate(..., out="run.zarr")): the store equals the
in-memory run, an interrupted (or crashed) stream is a valid partial run,
and resuming the store gives the uninterrupted run bit for bit."""

import os
import signal
import warnings

import numpy as np
import pytest

import madsim as ms
import madsim.run.driver as drv
from madsim.run import aggregate as aggmod
from madsim import results
from madsim.run import stream as streammod

pytest.importorskip("zarr")

CFG = ms.Config(loop=ms.Fresh(real=3, synthetic=7))
DET = [ms.FirstPassage("var", below=0.3, name="low")]
RUN = dict(
    replicas=300,
    generations=40,
    seed=1,
    record=ms.every(3),
    detect=DET,
    progress=False,
    metrics=["mean", "var", "tail3"],
)
AGG = ms.Aggregate(quantiles=(0.5,), histogram={"var": ms.Bins(0.0, 2.0, 4)}, replicas=[2, 7])


def assert_same(a, b, names=None):
    names = names or sorted(set(a.data_vars) | set(b.data_vars))
    np.testing.assert_array_equal(a["generation"].values, b["generation"].values)
    for name in names:
        np.testing.assert_array_equal(np.asarray(a[name].values), np.asarray(b[name].values), err_msg=name)


@pytest.fixture(scope="module")
def full():
    return ms.simulate(CFG, **RUN)


@pytest.fixture(scope="module")
def full_agg():
    return ms.simulate(CFG, aggregate=AGG, **RUN)


@pytest.mark.parametrize("chunk", [None, 4])
def test_stream_equals_memory(tmp_path, full, chunk):
    ds = ms.simulate(CFG, out=tmp_path / "run.zarr", chunk=chunk, **RUN)
    assert ds["var"].chunks is not None  # lazy: dask-backed
    assert_same(ds, full)
    assert ds.attrs["generations_completed"] == 40 and ds.attrs["out"] == str(tmp_path / "run.zarr")
    assert_same(results.load(tmp_path / "run.zarr"), full)


def test_aggregated_stream_equals_memory(tmp_path, full_agg):
    ds = ms.simulate(CFG, out=tmp_path / "agg.zarr", chunk=5, aggregate=AGG, **RUN)
    assert_same(ds, full_agg)


def fault_kernel(monkeypatch, at_call: int):
    """The at_call-th kernel call runs, then a KeyboardInterrupt surfaces."""
    real = drv.kernel_for

    def faulty(*args, **kwargs):
        kern = real(*args, **kwargs)
        calls = {"n": 0}

        def advance(*a):
            calls["n"] += 1
            kern.advance(*a)
            if calls["n"] == at_call:
                raise KeyboardInterrupt

        return kern.__class__(**{**kern.__dict__, "advance": advance})

    monkeypatch.setattr(drv, "kernel_for", faulty)


@pytest.mark.parametrize("aggregated", [False, True])
def test_interrupted_stream_resumes_to_the_uninterrupted_run(
    tmp_path, monkeypatch, full, full_agg, aggregated
):
    path = tmp_path / "run.zarr"
    kw = dict(RUN, aggregate=AGG if aggregated else None)
    with monkeypatch.context() as m:
        fault_kernel(m, at_call=4)
        with pytest.warns(ms.RunInterrupted):
            part = ms.simulate(CFG, out=path, chunk=6, **kw)
    done = int(part.attrs["generations_completed"])
    assert 0 < done < 40 and part.attrs["interrupted"] == 1
    assert int(part["generation"].values[-1]) <= done
    again = ms.open_run(path)
    assert_same(again, part)
    whole = ms.resume(str(path), generations=40, chunk=5)
    assert whole.attrs["resumed_at"] == [done] and whole.attrs["interrupted"] == 0
    assert_same(whole, full_agg if aggregated else full)


def test_a_crash_mid_write_leaves_the_previous_chunk(tmp_path, monkeypatch, full):
    """A write that dies after the records, before the slot switch (a crash):
    the store still opens at the previous chunk, and resumes exactly."""
    path = tmp_path / "run.zarr"
    real = streammod.Store.write_chunk
    calls = {"n": 0}

    def dying(self, chunk, lo, hi, state, first, attrs):
        calls["n"] += 1
        if calls["n"] == 3:
            self.group["state"][1 - self.slot] = np.nan  # the other slot, half written
            raise OSError("disk gone")
        return real(self, chunk, lo, hi, state, first, attrs)

    monkeypatch.setattr(streammod.Store, "write_chunk", dying)
    with pytest.raises(OSError, match="disk gone"):
        ms.simulate(CFG, out=path, chunk=6, **RUN)
    monkeypatch.setattr(streammod.Store, "write_chunk", real)
    part = ms.open_run(path)
    assert part.attrs["generations_completed"] == 12 and np.isfinite(part["state"].values).all()
    assert_same(ms.resume(path, generations=40), full)


def test_ctrl_c_while_writing_waits_for_the_chunk(tmp_path, monkeypatch, full):
    """A real SIGINT during a chunk's write stops the run after that chunk,
    written whole."""
    path = tmp_path / "run.zarr"
    real = streammod.Store.write_chunk
    calls = {"n": 0}

    def interrupted(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args)

    monkeypatch.setattr(streammod.Store, "write_chunk", interrupted)
    with pytest.warns(ms.RunInterrupted):
        part = ms.simulate(CFG, out=path, chunk=6, **RUN)
    assert part.attrs["generations_completed"] == 12
    assert_same(part, full.sel(generation=part["generation"].values), names=["mean", "var", "tail3"])
    monkeypatch.setattr(streammod.Store, "write_chunk", real)
    assert_same(ms.resume(path, generations=40), full)


def test_chunk_records_stay_bounded(tmp_path, monkeypatch):
    """A streamed run never holds more than one chunk's records (here: the
    record axis of every kernel call is capped by BLOCK_BYTES)."""
    monkeypatch.setattr(aggmod, "BLOCK_BYTES", 300 * 8 * 4 * 2)
    real = drv.kernel_for
    seen = []

    def spy(*args, **kwargs):
        kern = real(*args, **kwargs)

        def advance(*a):
            seen.append(a[8].shape)
            kern.advance(*a)

        return kern.__class__(**{**kern.__dict__, "advance": advance})

    monkeypatch.setattr(drv, "kernel_for", spy)
    ms.simulate(CFG, out=tmp_path / "run.zarr", chunk=40, **RUN)
    assert max(s[1] for s in seen) <= 3 and len(seen) > 5


def test_bad_outputs(tmp_path):
    with pytest.raises(ValueError, match=r"\.zarr"):
        ms.simulate(CFG, out=tmp_path / "run.nc", **RUN)
    ms.simulate(CFG, out=tmp_path / "run.zarr", **dict(RUN, generations=2))
    with pytest.raises(FileExistsError, match="resume"):
        ms.simulate(CFG, out=tmp_path / "run.zarr", **RUN)
    with pytest.raises(ValueError, match="replicas= cannot"):
        ms.resume(tmp_path / "run.zarr", generations=4, replicas=2)
    with pytest.raises(FileNotFoundError):
        ms.open_run(tmp_path / "none.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ms.open_run(tmp_path / "run.zarr").attrs["generations_completed"] == 2


def test_cli_streams_aggregates_and_continues_a_stopped_stream(tmp_path, capsys):
    import madsim.cli

    toml = tmp_path / "run.toml"
    toml.write_text(
        '[family]\ntype = "Gaussian"\n[loop]\ntype = "Replace"\nn = 20\n'
        '[run]\nreplicas = 200\ngenerations = 30\nseed = 4\nmetrics = ["var"]\n'
    )
    out = tmp_path / "run.zarr"
    args = ["run", str(toml), "-o", str(out), "--stream", "--aggregate", "--no-progress", "--threads", "1"]
    assert madsim.cli.main(args + ["--generations", "12"]) == 0
    assert ms.open_run(out).attrs["generations_completed"] == 12
    assert madsim.cli.main(args) == 0  # the same command again: continued to the run's 30
    assert "E var " in capsys.readouterr().out
    whole = ms.simulate(
        ms.Config(loop=ms.Replace(n=20)),
        replicas=200,
        generations=30,
        seed=4,
        metrics=["var"],
        aggregate=True,
        progress=False,
    )
    assert_same(ms.open_run(out), whole, names=[v for v in whole.data_vars if v != "state"])


def test_saved_zarr_round_trip_without_warnings(tmp_path, full_agg):
    """results.save/load of a .zarr (now that zarr is installed): no zarr
    warning (an error under pytest), the same Dataset, resumable."""
    path = results.save(full_agg, tmp_path / "agg.zarr")
    back = results.load(path)
    assert_same(back, full_agg)
    more = ms.resume(back, generations=43)
    assert int(more["generation"].values[-1]) == 43


def test_ctrl_c_while_creating_leaves_no_store(tmp_path, monkeypatch, full):
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(streammod.Store, "__init__", stop)  # after the skeleton is written, before use
    with pytest.raises(KeyboardInterrupt):
        ms.simulate(CFG, out=tmp_path / "run.zarr", **RUN)
    monkeypatch.undo()
    # the skeleton was renamed into place whole; a store that never ran a chunk opens empty
    part = ms.open_run(tmp_path / "run.zarr")
    assert part.sizes["generation"] == 0 and part.attrs["generations_completed"] == 0
    assert_same(ms.resume(tmp_path / "run.zarr", generations=40), full)
    real = __import__("xarray").Dataset.to_zarr

    def broken(self, store, *args, **kwargs):
        real(self, store, *args, **kwargs)
        raise KeyboardInterrupt  # the skeleton half made: nothing is left

    monkeypatch.setattr(__import__("xarray").Dataset, "to_zarr", broken)
    with pytest.raises(KeyboardInterrupt):
        ms.simulate(CFG, out=tmp_path / "other.zarr", **RUN)
    assert not (tmp_path / "other.zarr").exists()
    assert [p.name for p in tmp_path.iterdir() if "other" in p.name] == []
