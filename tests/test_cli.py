"""The command line as a user runs it, and Ctrl-C on a real run."""

import os
import signal
import subprocess
import sys
import time

import madsim.cli


def test_demo_runs_and_agrees_with_theory(capsys):
    assert madsim.cli.main(["demo", "--replicas", "3000", "--generations", "200", "--n", "10"]) == 0
    out = capsys.readouterr().out
    assert "path = exact" in out and "path = samples" in out
    assert "E ln sigma^2" in out and "collapse time" in out and "consistent with theory" in out


def test_info_and_bad_arguments(capsys):
    assert madsim.cli.main(["info"]) == 0
    assert "rng_layout_version" in capsys.readouterr().out
    assert madsim.cli.main(["demo", "--n", "1", "--replicas", "10", "--generations", "5"]) == 2
    assert "Replace.n" in capsys.readouterr().err


def test_ctrl_c_stops_a_long_run_and_keeps_the_completed_generations():
    script = (
        "import madsim as ms, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "print('start', flush=True)\n"
        "ds = ms.simulate(ms.Config(loop=ms.Replace(n=50), path='samples'), replicas=20000,\n"
        "                 generations=10**6, seed=1, record=ms.every(1000), progress=False,\n"
        "                 metrics=['var'])\n"
        "print('done', ds.attrs['interrupted'], ds.attrs['generations_completed'],\n"
        "      int(ds['generation'].values.max()), flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.readline().strip() == "start"
    time.sleep(5.0)  # a generation takes ~40 ms; 5 s leaves room for a loaded machine
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    _, interrupted, completed, last = out.split()
    assert interrupted == "1" and 0 < int(completed) < 10**6
    assert int(last) <= int(completed)
