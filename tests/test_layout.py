"""The package layout's rule: a module imports only public names of the
other modules of madsim (a helper two modules share is public within the
package), so a module's underscore names can change without looking
elsewhere (docs/dev/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "madsim"
# _core is the compiled module, imported by _backend alone; _backend is where
# the rest of the package reaches it.
ALLOWED = {"_core", "_backend"}


def _private_imports(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every underscore name imported from madsim in ``path``:
    relative imports and ``from madsim...`` alike, modules and attributes."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if not (node.level > 0 or (node.module or "").split(".")[0] == "madsim"):
            continue
        parts = (node.module or "").split(".")
        names = [p for p in parts if p.startswith("_") and not p.startswith("__")]
        names += [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
        found += [(node.lineno, n) for n in names if n not in ALLOWED]
    return found


def test_no_module_imports_another_modules_private_names():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for line, name in _private_imports(path):
            bad.append(f"python/madsim/{rel}:{line} imports {name}")
    assert not bad, "private names imported across modules (make them public):\n" + "\n".join(bad)


def test_the_check_sees_a_private_import(tmp_path):
    """The rule above can fail: a relative import of a module's private
    helper, a private module and a ``from madsim._x`` import are each found."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from .linalg import _pivot, pack\nfrom . import _grid\nfrom madsim._theory import moments\n"
        "from ._backend import core\nfrom . import __version__\n"
    )
    assert _private_imports(bad) == [(1, "_pivot"), (2, "_grid"), (3, "_theory")]
