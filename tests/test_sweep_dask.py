"""madsim.sweep on dask.distributed: an embedded LocalCluster of 2 worker
processes and a cluster given by its scheduler address both give the serial
result bit for bit; an error in a task reaches the caller; with a store, the
client alone writes the task files and a re-run skips them."""

import numpy as np
import pytest

import madsim as ms
from madsim.sweeps import tasks as sweep_tasks

distributed = pytest.importorskip("distributed")  # the test extra installs it (CI runs these)

BASE = ms.Config(loop=ms.Fresh(real=6, synthetic=6), weight=0.5)
GRID = {"weight": [0.2, 0.7], "ratio": {"loop.real": [3, 8], "loop.synthetic": [9, 4]}, "family.dim": [1, 2]}
RUN = dict(
    replicas=5,
    generations=6,
    seed=5,
    record=[0, 3, 6],
    progress=False,
    block=2,
    detect=[ms.FirstPassage("logdet", below=-0.3, name="low")],
)


def assert_same(a, b):
    assert set(a.data_vars) == set(b.data_vars)
    for name in list(a.data_vars) + list(a.coords):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.fixture(scope="module")
def serial():
    return ms.sweep(BASE, GRID, scheduler="serial", **RUN)


def test_embedded_local_cluster_of_two_workers(serial, tmp_path):
    ds = ms.sweep(BASE, GRID, scheduler="dask", workers=2, store=tmp_path / "s", **RUN)
    assert_same(serial, ds)
    assert ds.attrs["scheduler"] == "dask" and ds.attrs["workers"] == 2 and ds.attrs["tasks"] == 24
    assert len(list((tmp_path / "s" / "tasks").glob("*.npz"))) == 24
    # a re-run finds every task in the store and starts no cluster
    again = ms.sweep(BASE, GRID, scheduler="dask", workers=2, store=tmp_path / "s", **RUN)
    assert again.attrs["tasks_from_store"] == 24
    assert_same(serial, again)


def failing_task(task):
    raise RuntimeError(f"task {task.key} failed")


def test_scheduler_address_and_client(serial, monkeypatch, tmp_path):
    # an in-process cluster (threads) starts fast; it is reached like a remote one
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        assert_same(serial, ms.sweep(BASE, GRID, scheduler="dask", address=cluster.scheduler_address, **RUN))
        with distributed.Client(cluster) as client:
            assert_same(serial, ms.sweep(BASE, GRID, scheduler="dask", address=client, **RUN))
            # a task's error reaches the caller; the client stays usable
            monkeypatch.setattr(sweep_tasks, "run_task", failing_task)
            with pytest.raises(RuntimeError, match=r"task p\d+-b\d+ failed"):
                ms.sweep(BASE, GRID, scheduler="dask", address=client, store=tmp_path / "s", **RUN)
            assert client.submit(sum, [1, 2]).result() == 3
    assert list((tmp_path / "s" / "tasks").iterdir()) == []
