"""`madsim run RUN.toml` and `madsim plot RESULT` end to end in a subprocess:
the file is written, loads back equal to the same simulate() call, the plot
is a real PNG, and a bad TOML key exits 2 naming the key."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import madsim as ms
from madsim import results

RUN = """
[loop]
type = "Accumulate"
synthetic = 8
[run]
replicas = 300
generations = 12
seed = 4
record = { every = 3 }
[[detect]]
metric = "var"
below = 0.8
name = "shrunk"
"""


def madsim(*args, cwd):
    # the subprocess imports the madsim under test (a relative PYTHONPATH would not survive cwd)
    env = {**os.environ, "PYTHONPATH": str(Path(ms.__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "madsim", *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )


def test_run_then_plot(tmp_path):
    (tmp_path / "acc.toml").write_text(RUN)
    res = madsim("run", "acc.toml", "--threads", "1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "acc.nc" in res.stdout and "shrunk: reached by" in res.stdout
    ds = results.load(tmp_path / "acc.nc")
    ref = ms.simulate(
        ms.Config(loop=ms.Accumulate(synthetic=8)),
        replicas=300,
        generations=12,
        seed=4,
        record=ms.every(3),
        detect=[ms.FirstPassage("var", below=0.8, name="shrunk")],
        progress=False,
    )
    for name in ref.data_vars:
        np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)
    res = madsim("plot", "acc.nc", "metric", "--name", "log_var", "-o", "m.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    png = (tmp_path / "m.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_bad_key_exits_2_naming_it(tmp_path):
    (tmp_path / "bad.toml").write_text("[loop]\ntype = 'Fresh'\nrael = 3\n")
    res = madsim("run", "bad.toml", cwd=tmp_path)
    assert res.returncode == 2 and "'rael'" in res.stderr and "real, synthetic" in res.stderr
    res = madsim("run", "bad.toml", "-o", "x.csv", cwd=tmp_path)
    assert res.returncode == 2


def test_bench_prints_ratios(capsys):
    from madsim import cli

    assert (
        cli.main(["bench", "--replicas", "2000", "--generations", "5", "--repeats", "1", "--threads", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "vs numpy" in out and "Philox4x32-10 blocks/s" in out and "1.00x" in out


def test_init_then_run_as_written(tmp_path, capsys):
    """The file `madsim init` writes runs unchanged, in seconds, and its
    detector is the one `plot survival` draws without --name."""
    from madsim import cli

    path = tmp_path / "first.toml"
    assert cli.main(["init", str(path)]) == 0
    assert cli.main(["run", str(path), "--threads", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "first.nc" in out and "collapse: reached by" in out
    ds = results.load(tmp_path / "first.nc")
    assert ds.sizes["replica"] == 2000 and ds.attrs["generations_completed"] == 200
    assert cli.main(["plot", str(tmp_path / "first.nc"), "survival", "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_survival_lists_the_runs_detectors(tmp_path, capsys):
    from madsim import cli

    (tmp_path / "two.toml").write_text(RUN + '[[detect]]\nmetric = "var"\nabove = 1.5\n')
    assert cli.main(["run", str(tmp_path / "two.toml"), "--threads", "1", "--no-progress"]) == 0
    capsys.readouterr()
    for name in ([], ["--name", "first_var_below"]):
        assert cli.main(["plot", str(tmp_path / "two.nc"), "survival", *name]) == 2
        assert "this run's detectors: shrunk, first_var_above" in capsys.readouterr().err
