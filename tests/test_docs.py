"""The documentation that lives in the code and the repository.

1. The ``Examples`` of every public docstring run (the standard library's
   doctest over the public modules; the docs site renders the same
   docstrings, so what it shows is what this runs).
2. Every public name of madsim, madsim.results, madsim.plots, madsim.sweeps
   (and madsim.theory) has a docstring with an ``Examples`` section.
3. No tracked file refers to a document outside the repository.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import subprocess
from pathlib import Path

import pytest

import madsim

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "madsim",
    "madsim.config",
    "madsim.run.driver",
    "madsim.run.simulate",
    "madsim.run.resume",
    "madsim.run.options",
    "madsim.run.errors",
    "madsim.run.records",
    "madsim.results",
    "madsim.run.aggregate",
    "madsim.run.stream",
    "madsim.plots",
    "madsim.sweeps",
    "madsim._backend",
    "madsim.rng",
    "madsim.repro",
    "madsim.repro.base",
] + [f"madsim.repro.{k}" for k in importlib.import_module("madsim.repro").keys()]
# each family's module (its config class and its examples: madsim.families)
MODULES += list(dict.fromkeys(spec.cls.__module__ for spec in madsim.families.all_families()))
PUBLIC = {  # module -> the names that must carry an Examples section
    "madsim": [n for n in madsim.__all__ if n not in ("theory", "__version__", "RNG_LAYOUT_VERSION")],
    "madsim.results": ["save", "load", "summary"],
    "madsim.plots": [n for n in importlib.import_module("madsim.plots").__all__ if n != "THEORY"],
    "madsim.sweeps": ["sweep", "load_task", "SweepInterrupted"],
    "madsim.repro": [
        n for n in importlib.import_module("madsim.repro").__all__ if n not in ("ALPHA", "SIZES")
    ],
}
# Plain data cannot carry a docstring of its own: the API pages document
# these (with a doctest each), and this checks that they do.
DATA = {
    "madsim": ["RNG_LAYOUT_VERSION", "__version__"],
    "madsim.plots": ["THEORY"],
    "madsim.repro": ["ALPHA", "SIZES"],
}
EXAMPLES = re.compile(r"^\s*Examples\n\s*-{8,}\n", re.M)


@pytest.fixture
def _agg():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module, _agg):
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(mod, module) if t.examples]
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) of {module} failed (output above)"


def test_doctests_ran():
    """The doctests above are not vacuous: the public modules hold examples."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    count = sum(len(t.examples) for m in MODULES for t in finder.find(importlib.import_module(m), m))
    assert count > 100, count


def _public(module: str, name: str):
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("module,name", [(m, n) for m, names in PUBLIC.items() for n in names])
def test_public_name_has_examples(module, name):
    obj = _public(module, name)
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{module}.{name} has no docstring"
    assert EXAMPLES.search(doc), f"{module}.{name}: its docstring has no numpydoc 'Examples' section"


def test_api_pages_document_every_public_name():
    """Every public name is on an API page, and plain data (which cannot have
    a docstring) is documented there with an example."""
    pages = {
        "madsim": "madsim.md",
        "madsim.results": "results.md",
        "madsim.plots": "plots.md",
        "madsim.sweeps": "sweeps.md",
        "madsim.repro": "repro.md",
    }
    for module, page in pages.items():
        text = (ROOT / "docs" / "api" / page).read_text()
        for name in PUBLIC.get(module, []):
            if inspect.ismodule(_public(module, name)):
                continue
            assert re.search(rf"^\s+{re.escape(name)}$", text, re.M), f"{name} missing from docs/api/{page}"
        for name in DATA.get(module, []):
            block = re.search(rf"\.\. data:: {re.escape(name)}\n(.*?)(?=\n\S|\n\.\. |\Z)", text, re.S)
            assert block and ">>>" in block.group(1), f"{module}.{name}: no documented example in {page}"


def test_api_page_examples_run():
    """The doctests written on the API pages (for plain data) run too."""
    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"{page.name}: {result.failed} example(s) failed"


def test_docs_python_blocks_compile():
    """Every ```python block of the docs pages is valid Python (the pages'
    snippets are not all run: the gallery's are, at build time)."""
    blocks = 0
    for page in sorted((ROOT / "docs").rglob("*.md")):
        if "_build" in page.parts:
            continue
        for n, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S)):
            compile(block, f"{page.relative_to(ROOT)} block {n}", "exec")
            blocks += 1
    assert blocks > 10, blocks


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in importlib.import_module("madsim.theory").__all__
        if not inspect.ismodule(getattr(importlib.import_module("madsim.theory"), n))
        and callable(getattr(importlib.import_module("madsim.theory"), n))
    ],
)
def test_theory_name_has_examples(name):
    doc = inspect.getdoc(getattr(importlib.import_module("madsim.theory"), name)) or ""
    assert EXAMPLES.search(doc), f"madsim.theory.{name}: its docstring has no 'Examples' section"


# Documents that are not part of the repository (the project's founders'
# notes): nothing in the repository may cite or link them.
# (Spelled in pieces so that this file does not match its own check.)
_SHARED = "shared/"
OUTSIDE = ("THEORY" + ".md", "../" + _SHARED[:-1], _SHARED + "DESIGN", _SHARED + "STYLE", _SHARED + "THEORY")


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no tracked-file list")
    return [ROOT / p for p in out.stdout.decode().split("\0") if p]


def test_no_reference_to_documents_outside_the_repository():
    found = []
    for path in _tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary files (figures) and files deleted in the work tree
        for n, line in enumerate(text.splitlines(), 1):
            for needle in OUTSIDE:
                if needle in line:
                    found.append(f"{path.relative_to(ROOT)}:{n}: {needle}")
    assert not found, "references to documents outside the repository:\n" + "\n".join(found)


def test_outside_reference_check_can_fail(tmp_path):
    """The needles match what they must (so the test above is not vacuous)."""
    line = f"see {OUTSIDE[0]} section 4c and ../{OUTSIDE[2]}.md"
    assert [n for n in OUTSIDE if n in line] == list(OUTSIDE[:3])
