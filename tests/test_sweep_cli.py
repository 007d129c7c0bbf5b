"""`madsim sweep SWEEP.toml`: the [sweep] table maps onto madsim.sweep (dotted
keys, zipped tables, options); the written file equals the same sweep call; a
re-run reuses the task store; a real Ctrl-C exits 130 keeping the finished
tasks, and the same command then completes to the uninterrupted result."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import madsim as ms
from madsim import cli, results, toml_config

SWEEP = """
weight = 0.5
[loop]
type = "Fresh"
real = 6
synthetic = 6
[run]
replicas = 40
generations = 8
seed = 3
record = { every = 4 }
[sweep]
block = 25
streams = "independent"
[sweep.grid]
weight = [0.25, 0.75]
loop.synthetic = [4, 9]          # a dotted key: the path loop.synthetic
[sweep.zip.knobs]
temperature = [0.9, 1.1]
estimator = ["mle", "unbiased"]
[[detect]]
metric = "logdet"
below = -0.5
name = "low"
"""


def expected():
    base = ms.Config(loop=ms.Fresh(real=6, synthetic=6), weight=0.5)
    grid = {
        "weight": [0.25, 0.75],
        "loop.synthetic": [4, 9],
        "knobs": {"temperature": [0.9, 1.1], "estimator": ["mle", "unbiased"]},
    }
    return ms.sweep(
        base,
        grid,
        replicas=40,
        generations=8,
        seed=3,
        record=ms.every(4),
        block=25,
        streams="independent",
        detect=[ms.FirstPassage("logdet", below=-0.5, name="low")],
        progress=False,
    )


def assert_same(a, b):
    assert set(a.data_vars) == set(b.data_vars)
    for name in list(a.data_vars) + list(a.coords):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_sweep_file_maps_onto_sweep():
    cfg, run, options = toml_config.loads_sweep(SWEEP)
    assert cfg == ms.Config(loop=ms.Fresh(real=6, synthetic=6), weight=0.5)
    assert run["replicas"] == 40 and run["detect"][0].name == "low"
    assert options == {
        "grid": {
            "weight": [0.25, 0.75],
            "loop.synthetic": [4, 9],
            "knobs": {"temperature": [0.9, 1.1], "estimator": ["mle", "unbiased"]},
        },
        "block": 25,
        "streams": "independent",
    }


@pytest.mark.parametrize(
    "text, match",
    [
        ("[sweep]\nworkres = 2\n[sweep.grid]\nweight = [0.5]\n", r"\[sweep\]: unknown key 'workres'"),
        ("[sweep]\nscheduler = 'serial'\n", r"needs \[sweep.grid\] or \[sweep.zip.NAME\]"),
        ("[sweep.grid]\nweight = [0.5]\n[sweep.zip.weight]\ntemperature = [1.0]\n", "also a field"),
        ("[run]\nreplicas = 3\n", "no \\[sweep\\] table"),
    ],
)
def test_sweep_file_errors(text, match):
    with pytest.raises(toml_config.ConfigFileError, match=match):
        toml_config.loads_sweep(text)


def test_run_refuses_a_sweep_file():
    with pytest.raises(toml_config.ConfigFileError, match="run it with `madsim sweep`"):
        toml_config.loads(SWEEP)


def test_cli_sweep_writes_and_reuses_the_store(tmp_path, capsys):
    (tmp_path / "w.toml").write_text(SWEEP)
    out = tmp_path / "w.nc"
    assert cli.main(["sweep", str(tmp_path / "w.toml"), "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "weight (2) x loop.synthetic (2) x knobs (2)" in text and "(0 from the store)" in text
    ref = expected()
    assert_same(ref, results.load(out))
    assert cli.main(["sweep", str(tmp_path / "w.toml"), "--scheduler", "serial"]) == 0
    assert "(16 from the store)" in capsys.readouterr().out
    # a bad grid value exits 2 naming the field and the value, before any task
    (tmp_path / "bad.toml").write_text(SWEEP.replace("[0.25, 0.75]", "[0.25, 1.5]"))
    assert cli.main(["sweep", str(tmp_path / "bad.toml")]) == 2
    err = capsys.readouterr().err
    assert "weight = 1.5" in err and "Config.weight must be a finite number in [0.0, 1.0]; got 1.5" in err
    assert not (tmp_path / "bad.tasks").exists()


SLOW = """
weight = 0.5
[loop]
type = "Fresh"
real = 6
synthetic = 6
[run]
replicas = 500
generations = 200
seed = 9
record = { every = 100 }
threads = 1
[sweep]
scheduler = "serial"
[sweep.grid]
weight = [0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.28, 0.32, 0.36, 0.4, 0.44, 0.48,
          0.52, 0.56, 0.6, 0.64, 0.68, 0.72, 0.76, 0.8, 0.84, 0.88, 0.92, 0.96]
"""


SWEEP_CHILD = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from madsim.cli import main\n"
    "sys.exit(main(['sweep', 's.toml']))\n"
)


def test_real_ctrl_c_then_same_command_completes(tmp_path):
    (tmp_path / "s.toml").write_text(SLOW)
    proc = subprocess.Popen(
        # `madsim sweep s.toml`, with Ctrl-C raising KeyboardInterrupt even where SIGINT started
        # ignored (a shell's background job, e.g. `nohup pytest &`, passes that on)
        [sys.executable, "-c", SWEEP_CHILD],
        cwd=tmp_path,
        # the subprocess imports the madsim under test (a relative PYTHONPATH would not survive cwd)
        env={**os.environ, "PYTHONPATH": str(Path(ms.__file__).resolve().parents[1])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tasks = tmp_path / "s.tasks" / "tasks"
    deadline = time.monotonic() + 60
    while not (tasks.exists() and any(tasks.glob("*.npz"))) and proc.poll() is None:
        assert time.monotonic() < deadline, "no task finished within 60 s"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "sweep interrupted" in err and "run the same sweep again" in err
    done = len(list(tasks.glob("*.npz")))
    assert 1 <= done < 24 and not list(tasks.glob(".*"))  # no partial file
    assert cli.main(["sweep", str(tmp_path / "s.toml"), "-o", str(tmp_path / "s.nc")]) == 0
    cfg, run, options = toml_config.loads_sweep(SLOW)
    assert_same(ms.sweep(cfg, progress=False, **run, **options), results.load(tmp_path / "s.nc"))
