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
