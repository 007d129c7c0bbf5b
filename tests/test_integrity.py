"""Results and task stores: atomic, locked, compressed, hashed, plain.

A saved result carries the sha256 of its arrays, checked on load and resume;
a damaged, swapped or foreign sweep task file is refused naming it; files
using HDF5 external storage, links or non-plain types are refused; a second
writer is refused; the output directory is checked before a run."""

import fcntl
import json
import os
import shutil

import h5py
import numpy as np
import pytest

import madsim as ms
import madsim.sweeps
from madsim import atomic, cli, results

CFG = ms.Config(loop=ms.Fresh(real=3, synthetic=7))


@pytest.fixture(scope="module")
def ds():
    return ms.simulate(
        CFG,
        replicas=20,
        generations=12,
        seed=2,
        record=ms.every(3),
        progress=False,
        detect=[ms.FirstPassage("var", below=0.5, name="low")],
    )


def test_saved_file_is_compressed_and_hashed(ds, tmp_path):
    path = results.save(ds, tmp_path / "r.nc")
    with h5py.File(path) as f:
        assert f["var"].compression == "gzip" and f["var"].shuffle
        assert f["state"].compression == "gzip"
    stored = json.loads(results.load(path).attrs["content_sha256"])
    assert {"state", "var", "low", "replica", "generation", "@attrs"} <= set(stored)


def test_float32_records_state_stays_float64(ds, tmp_path):
    back = results.load(results.save(ds, tmp_path / "r.nc", dtype="float32"))
    assert back["var"].dtype == np.float32 and back["state"].dtype == np.float64
    assert back["low"].dtype == np.int64
    np.testing.assert_array_equal(back["var"].values, ds["var"].values.astype(np.float32))
    with pytest.raises(ValueError, match="dtype"):
        results.save(ds, tmp_path / "x.nc", dtype="float16")


def test_simulate_float32_resumes_exactly():
    full = ms.simulate(
        CFG, replicas=10, generations=20, seed=4, record=ms.every(2), progress=False, dtype="float32"
    )
    part = ms.simulate(
        CFG, replicas=10, generations=8, seed=4, record=ms.every(2), progress=False, dtype="float32"
    )
    again = ms.resume(part, 20)
    assert full["var"].dtype == np.float32 and again["var"].dtype == np.float32
    assert full["state"].dtype == np.float64
    for name in full.data_vars:
        np.testing.assert_array_equal(again[name].values, full[name].values, err_msg=name)
    ref = ms.simulate(CFG, replicas=10, generations=20, seed=4, record=ms.every(2), progress=False)
    np.testing.assert_array_equal(full["var"].values, ref["var"].values.astype(np.float32))


def test_changed_value_in_file_is_refused(ds, tmp_path):
    path = results.save(ds, tmp_path / "r.nc")
    with h5py.File(path, "r+") as f:  # one flipped bit in the state
        x = f["state"][0, 1]
        f["state"][0, 1] = np.frombuffer((np.float64(x).view(np.uint64) ^ np.uint64(1)).tobytes())[0]
    with pytest.raises(ValueError, match=r"r\.nc.*'state'.*sha256"):
        results.load(path)


def test_changed_attrs_in_file_is_refused(ds, tmp_path):
    path = results.save(ds, tmp_path / "r.nc")
    with h5py.File(path, "r+") as f:
        f.attrs["seed"] = "3"
    with pytest.raises(ValueError, match="attributes"):
        results.load(path)


def test_resume_checks_the_hash(ds, tmp_path):
    back = results.load(results.save(ds, tmp_path / "r.nc"))
    back["state"].values[0, 1] += 1e-12
    with pytest.raises(ValueError, match=r"resume.*'state'.*content_sha256"):
        ms.resume(back, 20)


def test_garbage_file_names_it(tmp_path):
    bad = tmp_path / "junk.nc"
    bad.write_bytes(b"not a netcdf file at all" * 10)
    with pytest.raises(ValueError, match="junk.nc"):
        results.load(bad)
    assert cli.main(["plot", str(bad)]) == 2


def test_external_storage_link_and_compound_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4, dtype="<f8").tobytes())
    ext = tmp_path / "ext.nc"
    with h5py.File(ext, "w") as f:
        f.create_dataset("x", shape=(4,), dtype="<f8", external=[(str(secret), 0, 32)])
    with pytest.raises(ValueError, match="external storage"):
        results.load(ext)
    comp = tmp_path / "comp.nc"
    with h5py.File(comp, "w") as f:
        f.create_dataset("x", data=np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")]))
    with pytest.raises(ValueError, match="plain numeric"):
        results.load(comp)
    link = tmp_path / "link.nc"
    with h5py.File(link, "w") as f:
        f["x"] = np.zeros(3)
        f["y"] = h5py.SoftLink("/x")
    with pytest.raises(ValueError, match="link"):
        results.load(link)


def test_second_writer_is_refused(ds, tmp_path):
    path = tmp_path / "r.nc"
    fd = os.open(tmp_path / ".r.nc.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process writing r.nc
        with pytest.raises(atomic.OutputLockedError, match="another madsim process"):
            results.save(ds, path)
        (tmp_path / "r.toml").write_text(
            '[loop]\ntype = "Replace"\nn = 5\n[run]\nreplicas = 4\ngenerations = 3\n'
        )
        assert cli.main(["run", str(tmp_path / "r.toml"), "-o", str(path), "--no-progress"]) == 2
    finally:
        os.close(fd)
    assert not path.exists()
    results.save(ds, path)  # released: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc", "r.toml"]  # no lock file left


def test_cli_checks_the_output_before_the_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "r.toml").write_text(
        '[loop]\ntype = "Replace"\nn = 5\n[run]\nreplicas = 4\ngenerations = 3\n'
    )

    def no_run(*a, **k):
        raise AssertionError("the run started although its output cannot be written")

    monkeypatch.setattr(ms, "simulate", no_run)
    monkeypatch.setattr(ms, "sweep", no_run)
    assert cli.main(["run", str(tmp_path / "r.toml"), "-o", str(tmp_path / "missing_dir" / "x.nc")]) == 2
    assert "missing_dir" in capsys.readouterr().err
    (tmp_path / "afile").write_text("")
    assert cli.main(["run", str(tmp_path / "r.toml"), "-o", str(tmp_path / "afile" / "x.nc")]) == 2
    (tmp_path / "s.toml").write_text(
        '[loop]\ntype = "Replace"\nn = 5\n[run]\nreplicas = 4\ngenerations = 3\n'
        '[sweep.grid]\n"loop.n" = [5, 6]\n'
    )
    assert cli.main(["sweep", str(tmp_path / "s.toml"), "-o", str(tmp_path / "nope" / "x.nc")]) == 2
    assert "nope" in capsys.readouterr().err


# ------------------------------------------------------------ sweep task stores


def sweep(store, grid=None, seed=1):
    return ms.sweep(
        CFG,
        grid=grid or {"loop.synthetic": [5, 9]},
        replicas=6,
        generations=4,
        seed=seed,
        store=store,
        progress=False,
        scheduler="serial",
    )


def test_swapped_task_files_are_refused(tmp_path):
    store = tmp_path / "s"
    sweep(store)
    a, b = store / "tasks" / "p0-b0.npz", store / "tasks" / "p1-b0.npz"
    tmp = tmp_path / "t.npz"
    shutil.move(a, tmp), shutil.move(b, a), shutil.move(tmp, b)
    with pytest.raises(ValueError, match=r"p0-b0\.npz.*holds task 'p1-b0'"):
        sweep(store)


def test_task_file_from_another_sweep_is_refused(tmp_path):
    sweep(tmp_path / "s")
    sweep(tmp_path / "other", seed=2)
    shutil.copy(tmp_path / "other" / "tasks" / "p1-b0.npz", tmp_path / "s" / "tasks" / "p1-b0.npz")
    with pytest.raises(ValueError, match=r"p1-b0\.npz.*another sweep"):
        sweep(tmp_path / "s")


def test_damaged_task_file_names_it(tmp_path):
    store = tmp_path / "s"
    sweep(store)
    f = store / "tasks" / "p1-b0.npz"
    f.write_bytes(f.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"p1-b0\.npz.*damaged"):
        sweep(store)
    with pytest.raises(ValueError, match=r"p1-b0\.npz.*damaged"):
        ms.sweeps.load_task(f)


def test_changed_array_in_task_file_is_refused(tmp_path):
    store = tmp_path / "s"
    sweep(store)
    f = store / "tasks" / "p0-b0.npz"
    with np.load(f) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["var:state"] = arrays["var:state"] + 1.0
    np.savez(f, **arrays)
    with pytest.raises(ValueError, match=r"p0-b0\.npz.*'var:state'"):
        sweep(store)


def test_store_locked_while_a_sweep_runs(tmp_path):
    store = tmp_path / "s"
    sweep(store)
    with atomic.lock(store / "sweep.json"):
        pass  # free again after the sweep
    assert not (store / ".sweep.json.lock").exists()  # and its lock file removed
    fd = os.open(store / ".sweep.json.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(atomic.OutputLockedError):
            sweep(store)
    finally:
        os.close(fd)


def test_lock_is_reentrant_in_its_thread_only(tmp_path):
    import threading

    path = tmp_path / "x.nc"
    errors = []
    with atomic.lock(path):
        with atomic.lock(path):  # the same thread: re-entrant
            pass

        def other():
            try:
                with atomic.lock(path):
                    pass
            except atomic.OutputLockedError as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert len(errors) == 1 and "another thread" in str(errors[0])
    with atomic.lock(path):  # released
        pass
