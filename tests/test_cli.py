"""The command line as a user runs it, and Ctrl-C on a real run."""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
        # Ctrl-C raises KeyboardInterrupt even where SIGINT started ignored (a shell's
        # background job, e.g. `nohup pytest &`, passes that on to its children)
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import madsim as ms, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "print('start', flush=True)\n"
        "ds = ms.simulate(ms.Config(loop=ms.Replace(n=50), path='samples'), replicas=20000,\n"
        "                 generations=10**6, seed=1, record=ms.every(1000), progress=False,\n"
        "                 metrics=['var'])\n"
        "print('done', ds.attrs['interrupted'], ds.attrs['generations_completed'],\n"
        "      int(ds['generation'].values.max()), flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(Path(madsim.cli.__file__).resolve().parents[2]),
        },
    )
    assert proc.stdout.readline().strip() == "start"
    time.sleep(5.0)  # a generation takes ~40 ms; 5 s leaves room for a loaded machine
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    _, interrupted, completed, last = out.split()
    assert interrupted == "1" and 0 < int(completed) < 10**6
    assert int(last) <= int(completed)


def test_version_prints_the_package_version_and_the_build(capsys):
    import madsim as ms

    with pytest.raises(SystemExit) as info:
        madsim.cli.main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    build = ms.build_info()
    assert out.startswith(f"madsim {ms.__version__}\n")
    assert ("CUDA on" if build.get("cuda") else "CUDA off") in out
    assert build["compiler"] in out and build["flags"] in out


def _options(parser):
    """(command, option) of every argument of the parser and its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {a.dest}", a) for a in sub._actions)
        else:
            yield parser.prog, action


def test_every_option_of_every_subcommand_has_help():
    parser = madsim.cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"demo", "init", "run", "sweep", "plot", "validate", "bench", "info"} <= set(commands)
    missing = [
        where
        for where, a in _options(parser)
        if not isinstance(a, argparse._SubParsersAction) and (not a.help or a.help == argparse.SUPPRESS)
    ]
    assert not missing, f"options without help: {missing}"


def test_init_writes_a_run_file_and_refuses_to_overwrite_it(tmp_path, capsys):
    from madsim import toml_config

    path = tmp_path / "run.toml"
    assert madsim.cli.main(["init", str(path)]) == 0
    assert f"madsim run {path}" in capsys.readouterr().out
    assert path.read_text() == toml_config.template()
    cfg, kwargs = toml_config.load(path)
    assert kwargs["replicas"] * kwargs["generations"] <= 10**6  # a small run: seconds at most
    path.write_text("# mine\n")
    assert madsim.cli.main(["init", str(path)]) == 2
    assert "exists" in capsys.readouterr().err and path.read_text() == "# mine\n"
    assert madsim.cli.main(["init", str(path), "--force"]) == 0
    assert path.read_text() == toml_config.template()


def test_init_reference_prints_the_markdown_reference(capsys):
    from madsim import toml_config

    assert madsim.cli.main(["init", "--reference"]) == 0
    assert capsys.readouterr().out == toml_config.reference_markdown()
    assert madsim.cli.main(["init", "-"]) == 0
    assert capsys.readouterr().out == toml_config.template()


def test_run_summary_of_a_token_run_has_no_numpy_warning(tmp_path, capsys):
    """kl_truth_model is inf in every replica of a collapsed token model: the
    summary says so instead of numpy's All-NaN warning (an error under pytest)."""
    (tmp_path / "tok.toml").write_text(
        '[family]\ntype = "Categorical"\ntokens = 20\n'
        '[loop]\ntype = "Replace"\nn = 5\n'
        "[run]\nreplicas = 50\ngenerations = 30\nseed = 1\n"
        'metrics = ["kl_truth_model", "gini_simpson"]\n'
    )
    assert madsim.cli.main(["run", str(tmp_path / "tok.toml"), "--threads", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "E kl_truth_model     at t = 30: no finite value in 50 replicas" in out
    assert "E gini_simpson       at t = 30: " in out
