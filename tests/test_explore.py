"""The exploration job (slow; nightly): every hypothesis suite under the
"explore" profile (tests/strategies.py: fresh random seeds, no example
database, ten times the examples), in a subprocess so the profile applies
from collection on. Run it with

    python -m pytest -m slow tests/test_explore.py -s

A failure prints the falsifying example and its ``@reproduce_failure`` blob;
rerun that suite with ``--hypothesis-seed=N`` (printed) to reproduce it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SUITES = sorted(
    p.name for p in HERE.glob("test_*.py") if "@given" in p.read_text() and p.name != Path(__file__).name
)


def test_suites_listed():
    assert "test_reference_gmm.py" in SUITES and "test_reference_ppca.py" in SUITES


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES)
def test_explore(suite):
    env = dict(os.environ, HYPOTHESIS_PROFILE="explore")
    env.pop("CI", None)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"tests/{suite}",
            "--hypothesis-show-statistics",
        ],
        cwd=HERE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=6 * 3600,
    )
    print(res.stdout[-4000:])
    assert res.returncode == 0, res.stdout[-8000:] + res.stderr[-2000:]
