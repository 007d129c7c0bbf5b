"""Interrupt safety: wherever a Ctrl-C lands (before a chunk, inside one after
the kernel wrote the state, after the call returned, between replica blocks,
after the chunk was counted, during a save, or a real SIGINT while the
kernel runs), the run returns the state, detector columns and records of
``generations_completed`` exactly, and ``resume`` gives the uninterrupted
run bit for bit; an interrupted save leaves no file."""

import signal
import threading

import numpy as np
import pytest
import xarray as xr

import madsim as ms
import madsim.run.driver as drv
from madsim import results

CFG = ms.Config(loop=ms.Fresh(real=3, synthetic=7))
DET = [ms.FirstPassage("var", below=0.3, name="low")]
RUN = dict(replicas=25, generations=40, seed=1, record=ms.every(5), detect=DET, progress=False)


def assert_same(a, b):
    assert set(a.data_vars) == set(b.data_vars)
    np.testing.assert_array_equal(a["generation"].values, b["generation"].values)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.fixture(scope="module")
def full():
    return ms.simulate(CFG, **RUN)


def fault_kernel(monkeypatch, at_call: int, when: str):
    """The at_call-th kernel call raises KeyboardInterrupt ``when`` = "before"
    (nothing written) or "after" (the real call ran and wrote the state,
    records and detector columns: a Ctrl-C that surfaces as the call
    returns, or a kernel that stops part way)."""
    real = drv.kernel_for

    def faulty(*args, **kwargs):
        kern = real(*args, **kwargs)
        calls = {"n": 0}

        def advance(*a):
            calls["n"] += 1
            if calls["n"] == at_call and when == "before":
                raise KeyboardInterrupt
            kern.advance(*a)
            if calls["n"] == at_call:
                raise KeyboardInterrupt

        return kern.__class__(**{**kern.__dict__, "advance": advance})

    monkeypatch.setattr(drv, "kernel_for", faulty)


def check_consistent(part, full):
    """part holds exactly generation `done` of the full run, and resumes to it."""
    done = part.attrs["generations_completed"]
    assert part.attrs["interrupted"] == 1
    if done > 0:  # (at 0 the state may be the initial row, which the gen-0 call overwrites)
        upto = ms.simulate(CFG, **{**RUN, "generations": done})
        np.testing.assert_array_equal(part["state"].values, upto["state"].values)
        np.testing.assert_array_equal(part["low"].values, upto["low"].values)
    # records: the full run's, at the generations completed
    assert_same(
        part.drop_vars(["state", "low"]),
        full.drop_vars(["state", "low"]).sel(generation=part["generation"].values),
    )
    assert_same(ms.resume(part, 40, record=ms.every(5)), full)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("at_call", [1, 2, 4, 8])
def test_interrupt_in_fixed_chunks(monkeypatch, full, at_call, when):
    fault_kernel(monkeypatch, at_call, when)
    with pytest.warns(ms.RunInterrupted):
        part = ms.simulate(CFG, **RUN, chunk=5)
    monkeypatch.undo()
    assert part.attrs["generations_completed"] == 5 * (at_call - 1)
    check_consistent(part, full)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("at_call", [2, 3, 5, 9])
def test_interrupt_between_replica_blocks(monkeypatch, full, at_call, when):
    # a tiny time budget per call: every chunk is one generation split into
    # blocks of replicas, so calls 2, 3, ... land inside a chunk
    monkeypatch.setattr(drv, "CHUNK_SECONDS", 1e-12)
    fault_kernel(monkeypatch, at_call, when)
    with pytest.warns(ms.RunInterrupted):
        part = ms.simulate(CFG, **RUN, threads=2)
    monkeypatch.undo()
    check_consistent(part, full)


def test_replica_blocks_change_no_number(monkeypatch, full):
    calls = []
    real = drv.kernel_for

    def spying(*args, **kwargs):
        kern = real(*args, **kwargs)

        def advance(params, state, *a):
            calls.append(state.shape[0])
            return kern.advance(params, state, *a)

        return kern.__class__(**{**kern.__dict__, "advance": advance})

    monkeypatch.setattr(drv, "kernel_for", spying)
    monkeypatch.setattr(drv, "CHUNK_SECONDS", 1e-12)
    blocked = ms.simulate(CFG, **RUN, threads=2)
    assert max(calls) <= 8 and len(calls) >= 40 * 25 // 8  # bounded blocks of replicas
    assert_same(blocked, full)


def test_interrupt_after_the_chunk_was_counted(monkeypatch, full):
    # the progress bar's update runs after a chunk is committed
    class Bar:
        n = 0

        def update(self, k):
            Bar.n += 1
            if Bar.n == 3:
                raise KeyboardInterrupt

        def close(self):
            pass

    monkeypatch.setattr(drv, "_progress_bar", lambda progress, total: Bar())
    with pytest.warns(ms.RunInterrupted):
        part = ms.simulate(CFG, **RUN, chunk=5)
    monkeypatch.undo()
    assert part.attrs["generations_completed"] == 15
    check_consistent(part, full)


@pytest.mark.parametrize(
    "n, path, replicas, generations, chunk",
    [(20, "exact", 4000, 4000, None), (2000, "samples", 100, 300, 300)],
)
def test_real_sigint_while_the_kernel_runs(n, path, replicas, generations, chunk):
    """The issue's reproducer, scaled down: SIGINT arrives while the kernel
    holds no GIL; the KeyboardInterrupt surfaces as the call returns (with
    chunk = generations: after the only call, which must then not count)."""
    cfg = ms.Config(loop=ms.Replace(n=n), path=path)
    run = dict(
        replicas=replicas, generations=generations, seed=3, record=ms.every(100), progress=False, threads=1
    )
    armed = threading.Event()
    armed.set()

    def handler(signum, frame):
        if armed.is_set():  # a late signal (the run already over) is dropped
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(0.05, signal.raise_signal, (signal.SIGINT,))
    try:
        timer.start()
        with pytest.warns(ms.RunInterrupted):
            part = ms.simulate(cfg, **run, chunk=chunk)
    finally:
        armed.clear()
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    done = part.attrs["generations_completed"]
    assert part.attrs["interrupted"] == 1 and done < generations
    if chunk is not None:  # the only call returned into the interrupt: it must not count
        assert done == 0
        full = ms.simulate(cfg, **run)
        assert_same(ms.resume(part, generations), full)
    else:
        upto = ms.simulate(cfg, **{**run, "generations": done})
        np.testing.assert_array_equal(part["state"].values, upto["state"].values)


def test_interrupted_save_leaves_no_file(tmp_path, full, monkeypatch):
    path = tmp_path / "run.nc"
    real = xr.Dataset.to_netcdf

    def partial_then_ctrl_c(self, target, *a, **k):
        real(self, target, *a, **k)  # the temporary is complete on disk ...
        raise KeyboardInterrupt  # ... when the Ctrl-C lands

    monkeypatch.setattr(xr.Dataset, "to_netcdf", partial_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        results.save(full, path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary, no lock file
    monkeypatch.undo()
    results.save(full, path)
    before = path.read_bytes()
    monkeypatch.setattr(xr.Dataset, "to_netcdf", partial_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        results.save(full.isel(replica=slice(0, 3)), path)
    assert path.read_bytes() == before  # the previous file, untouched
    monkeypatch.undo()
    assert_same(results.load(path), full)


def test_cli_ctrl_c_during_save(tmp_path, monkeypatch, capsys):
    from madsim import cli

    (tmp_path / "r.toml").write_text(
        '[loop]\ntype = "Replace"\nn = 5\n[run]\nreplicas = 5\ngenerations = 3\n'
    )

    def interrupted_save(ds, path, dtype=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(results, "save", interrupted_save)
    assert cli.main(["run", str(tmp_path / "r.toml"), "-o", str(tmp_path / "r.nc"), "--no-progress"]) == 130
    assert "not written" in capsys.readouterr().err
    assert not (tmp_path / "r.nc").exists()
