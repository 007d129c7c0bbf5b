"""Shared fixtures and hooks of the test suite.

Default run: ``python -m pytest`` (slow tests skipped; hypothesis with the
"ci" profile on every machine: derandomized, fixed examples, so a user's
first run and CI see the same cases; ``HYPOTHESIS_PROFILE=dev`` draws
random seeds).

Exploration (a nightly/slow job): the hypothesis suites with fresh random
seeds every run, no example database, and printed reproduction blobs:

    HYPOTHESIS_PROFILE=explore python -m pytest -m slow tests/test_explore.py

(``tests/test_explore.py`` runs every hypothesis suite under that profile in
a subprocess; ``HYPOTHESIS_PROFILE=explore python -m pytest
tests/test_reference_gmm.py`` runs one suite directly). A failure prints
``@reproduce_failure`` / the seed: rerun with ``--hypothesis-seed=N``.

The fault/fuzz suite (tests/test_faults.py) stores its counts (cases,
clear errors, silent results, crashes, hangs) here and they are printed in
the terminal summary.
"""

import os

import pytest

FAULT_COUNTS = pytest.StashKey[dict]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = config.stash.get(FAULT_COUNTS, None)
    if not counts:
        return
    terminalreporter.write_sep("-", "madsim fault suite")
    for label, c in counts.items():
        terminalreporter.write_line(f"{label}: " + ", ".join(f"{k}: {v}" for k, v in c.items()))


def pytest_collection_modifyitems(config, items):
    # `slow` tests (long statistical runs) run with `pytest -m slow` or
    # `madsim validate`; the default run (and CI) skips them.
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with `pytest -m slow`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ci() -> bool:
    return bool(os.environ.get("CI"))


@pytest.fixture
def interrupt_kernel(monkeypatch):
    """``interrupt_kernel(k)``: from now on, the k-th kernel call of each
    simulate raises KeyboardInterrupt (as a Ctrl-C between chunks would);
    ``interrupt_kernel(None)`` restores the real kernels."""
    import madsim.run.driver as sim

    real = sim.kernel_for

    def arm(at_call):
        if at_call is None:
            monkeypatch.setattr(sim, "kernel_for", real)
            return

        def interrupting(*args, **kwargs):
            kern = real(*args, **kwargs)
            calls = {"n": 0}

            def advance(*a):
                calls["n"] += 1
                if calls["n"] == at_call:
                    raise KeyboardInterrupt
                return kern.advance(*a)

            return kern.__class__(**{**kern.__dict__, "advance": advance})

        monkeypatch.setattr(sim, "kernel_for", interrupting)

    return arm
