"""The theory pages (docs/theory/) and the code they document stay in step:

* the docstring examples of ``madsim.theory`` and ``madsim.theory.*`` run
  (doctest) and show the values the code computes;
* every public function of ``madsim.theory`` is written out on a theory page,
  listed in the function table of docs/theory/index.md, and has a numpydoc
  docstring with an Examples section that points to its page;
* every ``madsim validate`` case, and every comparison in it, names a section
  of the theory pages that exists, and the page that section belongs to lists
  the case by name (linked both ways);
* every cross-reference of the pages resolves;
* none of these files cites a document outside the repository.

All checks are pure text and import work (well under a second each, apart
from the doctests of the exact Wright-Fisher chain).
"""

from __future__ import annotations

import doctest
import importlib
import io
import inspect
import pkgutil
import re
import types
from pathlib import Path

import pytest

import madsim.theory as theory
from madsim import validate

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted((DOCS / "theory").glob("*.md"))
THEORY_MODULES = ["madsim.theory"] + [
    f"madsim.theory.{m.name}" for m in pkgutil.iter_modules(theory.__path__)
]
# modules that hold public functions (the others are shared helpers)
MODULES_WITH_EXAMPLES = [m for m in THEORY_MODULES if not m.endswith((".common",))]

LABEL = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$", re.M)
REF = re.compile(r"\{ref\}`(?:[^`<]*<([^`>]+)>|([^`<>]+))`")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _labels() -> dict:
    """{page stem: set of its (label)= targets}."""
    return {p.stem: set(LABEL.findall(_text(p))) for p in PAGES}


def _public_names() -> list:
    """(name, object) for every public name of madsim.theory but its submodules."""
    return [
        (n, getattr(theory, n))
        for n in theory.__all__
        if not isinstance(getattr(theory, n), types.ModuleType)
    ]


# ---------------------------------------------------------------- (1) doctests


@pytest.mark.parametrize("modname", THEORY_MODULES)
def test_docstring_examples_run(modname):
    mod = importlib.import_module(modname)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    tests = finder.find(mod, modname)
    for t in tests:
        runner.run(t, out=lambda s: None)
    result = runner.summarize(verbose=False)
    if modname in MODULES_WITH_EXAMPLES:
        assert result.attempted > 0, f"{modname} has no docstring examples"
    # rerun the failing ones with output so the failure says what differs
    if result.failed:
        report = []
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
        for t in tests:
            runner.run(t, out=report.append)
        pytest.fail(f"{result.failed} doctest example(s) of {modname} failed:\n" + "".join(report))


def test_a_wrong_example_value_fails():
    # the doctest machinery above does compare the printed value
    bad = doctest.DocTestParser().get_doctest(
        ">>> from madsim import theory\n>>> round(theory.var_factor(10), 6)\n0.8\n", {}, "bad", None, 0
    )
    runner = doctest.DocTestRunner()
    runner.run(bad, out=lambda s: None)
    assert runner.summarize(verbose=False).failed == 1


# ---------------------------------------------------------------- (2) every function documented


def test_every_public_function_is_on_a_theory_page_and_in_the_table():
    pages = {p.stem: _text(p) for p in PAGES}
    index = pages["index"]
    missing_page, missing_table = [], []
    for name, _ in _public_names():
        written = re.compile(rf"`{re.escape(name)}[`(]")  # `name` or `name(args...)`
        if not any(written.search(text) for stem, text in pages.items() if stem != "index"):
            missing_page.append(name)
        if not re.search(rf"^\| `{re.escape(name)}` \| .*\{{ref\}}", index, re.M):
            missing_table.append(name)
    assert not missing_page, f"not written out on any docs/theory page: {missing_page}"
    assert not missing_table, f"not in the function table of docs/theory/index.md: {missing_table}"


def test_every_public_function_has_a_numpydoc_example_pointing_to_its_page():
    bad = []
    for name, obj in _public_names():
        if not callable(obj):  # a constant (SIEGMUND_OVERSHOOT)
            continue
        doc = inspect.getdoc(obj) or ""
        if not re.search(r"^Examples\n-{8}\n", doc, re.M) or ">>> " not in doc:
            bad.append(f"{name}: no Examples section")
        elif "docs/theory/" not in doc:
            bad.append(f"{name}: names no docs/theory page")
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------- (3) validate cases <-> anchors


def _anchor_ok(anchor: str, labels: dict) -> bool:
    m = re.fullmatch(r"theory/([a-z0-9-]+)\.md#([A-Za-z0-9_-]+)", anchor)
    return bool(m) and m.group(2) in labels.get(m.group(1), set())


def test_every_validate_case_and_comparison_names_an_existing_section():
    labels = _labels()
    bad = []
    for case in validate.cases():
        if not _anchor_ok(case.doc, labels):
            bad.append(f"{case.name}: doc {case.doc!r}")
        for comp in case.comparisons:
            if not _anchor_ok(comp.source, labels):
                bad.append(f"{case.name} / {comp.quantity}: source {comp.source!r}")
    assert not bad, "anchors that do not exist in docs/theory:\n" + "\n".join(bad)


def test_the_page_of_each_case_lists_it():
    texts = {p.stem: _text(p) for p in PAGES}
    bad = [
        f"{c.name} (doc {c.doc})"
        for c in validate.cases()
        if f"`{c.name}`" not in texts[c.doc.split("/")[1].split(".md")[0]]
    ]
    assert not bad, "cases missing from the page their doc anchor points to:\n" + "\n".join(bad)


def test_list_and_json_carry_the_anchor():
    buf = io.StringIO()
    validate.list_cases(buf)
    out = buf.getvalue().splitlines()
    by_name = {c.name: c for c in validate.cases()}
    assert len(out) == len(by_name)
    for line in out:
        name = line.split()[0]
        assert by_name[name].doc in line.split(), line
    rep = validate.Report(
        rows=[
            validate.Row(
                "row1-replace-mle-n10-t10",
                "E sigma^2",
                10,
                0.35,
                0.001,
                0.35,
                0.0,
                True,
                validate.DOC_1D_VAR,
                False,
                validate.DOC_1D,
            )
        ],
        skipped=[],
        alpha=1e-4,
        z_crit=5.0,
    )
    d = rep.to_dict()
    assert d["rows"][0]["doc"] == validate.DOC_1D and d["rows"][0]["source"] == validate.DOC_1D_VAR
    assert d["case_docs"] == {"row1-replace-mle-n10-t10": by_name["row1-replace-mle-n10-t10"].doc}


def test_every_cross_reference_of_the_pages_resolves():
    every = set().union(*_labels().values())
    bad = []
    for p in PAGES:
        for a, b in REF.findall(_text(p)):
            target = (a or b).strip()
            if target not in every:
                bad.append(f"{p.name}: {target}")
    labels = [lab for p in PAGES for lab in LABEL.findall(_text(p))]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    assert not bad, f"unresolved {{ref}} targets: {bad}"
    assert not dupes, f"labels defined twice: {dupes}"


# ---------------------------------------------------------------- (4) no outside documents

OWNED = (
    sorted((ROOT / "python/madsim/theory").glob("*.py"))
    + sorted((ROOT / "python/madsim").glob("validate*.py"))
    + PAGES
    + [Path(__file__)]
)
# built from pieces so that this file does not match itself
_NAME = "THE" + "ORY"
OUTSIDE = re.compile("|".join([_NAME + r"\.md", rf"\b{_NAME}\b", "shared" + "/", r"\.\./" + "shared"]))


def test_no_file_cites_a_document_outside_the_repository():
    hits = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in OWNED
        for i, line in enumerate(_text(p).splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not hits, "\n".join(hits)


def test_the_outside_document_pattern_catches_citations():
    for s in ("see " + _NAME + ".md section 4", _NAME + " 9 row 1", "../" + "shared" + "/notes.md"):
        assert OUTSIDE.search(s), s
    assert not OUTSIDE.search("docs/theory/replace-1d.md, section Variance")
