"""Every ```python block of README.md runs, in order, as a reader would run them.

The blocks of one file share a namespace (a later block may use what an
earlier one defined) and run in a temporary directory, with matplotlib on
the Agg backend. A block that is not meant to run is fenced as another
language or preceded by the line ``<!-- no-run -->``. The README promises
each example runs in seconds on 2 cores; the timings are in the closing notes
and docs, not asserted here (a shared CI machine's speed varies).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"(?P<skip><!--\s*no-run\s*-->\s*\n)?^```python[^\n]*\n(?P<code>.*?)^```", re.M | re.S)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, code) of each runnable ```python block of ``path``."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        if m.group("skip"):
            continue
        out.append((text.count("\n", 0, m.start("code")) + 1, m.group("code")))
    return out


def test_fence_parser_finds_and_skips_blocks(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "a\n```python\nx = 1\n```\n<!-- no-run -->\n```python\nboom()\n```\n"
        "```text\nnot python\n```\n```python\ny = x + 1\n```\n"
    )
    blocks = python_blocks(doc)
    assert [code for _, code in blocks] == ["x = 1\n", "y = x + 1\n"]
    assert [line for line, _ in blocks] == [3, 13]


README_BLOCKS = python_blocks(ROOT / "README.md")


def test_readme_has_examples():
    assert README_BLOCKS, "README.md has no ```python example"


@pytest.fixture(scope="module")
def readme_namespace(tmp_path_factory):
    import matplotlib

    matplotlib.use("Agg")
    return {"__name__": "__readme__"}


@pytest.mark.parametrize("line,code", README_BLOCKS, ids=[f"README.md:{n}" for n, _ in README_BLOCKS])
def test_readme_block_runs(line, code, readme_namespace, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    try:
        exec(compile(code, f"README.md:{line}", "exec"), readme_namespace)
    finally:
        plt.close("all")


def test_readme_example_is_sized_for_the_work(readme_namespace, tmp_path):
    """The "Using it" run (10^4 replicas, 101 recorded generations) records
    what it needs, not every metric: under 20 MB in memory and on disk."""
    from madsim import results

    ds = readme_namespace.get("ds")
    assert ds is not None, "the README's examples define no `ds` (run the block tests first)"
    assert ds.sizes["replica"] == 10_000 and ds.sizes["generation"] == 101
    assert ds.nbytes < 20e6, ds.nbytes
    assert results.save(ds, tmp_path / "run.nc").stat().st_size < 20e6
