import os

import pytest


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
    import madsim.driver as sim

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
