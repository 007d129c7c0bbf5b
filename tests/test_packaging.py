"""Packaging: one version everywhere, the license, and the type information
(py.typed, the _core.pyi stub) matching the compiled module and shipped in
the wheel."""

import ast
import fnmatch
import re
import tomllib
from importlib import metadata
from pathlib import Path

import madsim
from madsim import _core
from madsim.families import all_families

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(madsim.__file__).resolve().parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# scikit-build-core's regex provider's default pattern (scikit_build_core.metadata.regex)
VERSION_RE = r'(?i)^(__version__|VERSION)(?: ?\: ?str)? *= *([\'"])v?(?P<value>.+?)\2'
# defined only when the CUDA launcher is compiled in (csrc/bindings/module.cpp, MADSIM_WITH_CUDA)
# the CUDA runtime's names, and every registered family's CUDA advance
CUDA_ONLY = {
    "CudaError",
    "cuda_device_count",
    "cuda_runtime",
    "philox4x32_10_cuda",
    "philox_seconds_cuda",
    *(f for spec in all_families() for f in spec.cuda_advance.values()),
}


# ---------------------------------------------------------------- version


def _installed_version():
    """The installed distribution's version when the madsim imported here is
    that distribution's files (not a source tree on PYTHONPATH), else None."""
    try:
        dist = metadata.distribution("madsim")
    except metadata.PackageNotFoundError:
        return None
    init = Path(dist.locate_file("madsim/__init__.py")).resolve()
    return dist.version if init == Path(madsim.__file__).resolve() else None


def test_pyproject_reads_the_version_from_init():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    provider = PYPROJECT["tool"]["scikit-build"]["metadata"]["version"]
    assert provider["provider"] == "scikit_build_core.metadata.regex"
    assert provider["input"] == "python/madsim/__init__.py"
    source = (ROOT / provider["input"]).read_text()
    match = re.search(provider.get("regex", VERSION_RE), source, re.MULTILINE)
    assert match, f"the build could not read a version from {provider['input']}"
    if PACKAGE == ROOT / "python" / "madsim":  # this source tree is the madsim imported
        assert match.group("value") == madsim.__version__


def test_version_agrees_with_the_installed_metadata_or_the_source():
    installed = _installed_version()
    if installed is not None:
        assert madsim.__version__ == installed
    else:  # a source tree: what the build's regex would read from it
        text = (PACKAGE / "__init__.py").read_text()
        assert re.search(VERSION_RE, text, re.MULTILINE).group("value") == madsim.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc|\.dev|\.post)?\d*", madsim.__version__)


# ---------------------------------------------------------------- license, changelog


def test_license_file_matches_pyproject():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 The madsim authors" in text
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}


def test_changelog_has_an_unreleased_section_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert re.search(rf"^## \[{re.escape(madsim.__version__)}\] - \d{{4}}-\d\d-\d\d$", text, re.MULTILINE)


# ---------------------------------------------------------------- type information


def test_py_typed_and_the_stub_sit_in_the_package_and_nothing_excludes_them():
    assert (PACKAGE / "py.typed").is_file() and (PACKAGE / "_core.pyi").is_file()
    build = PYPROJECT["tool"]["scikit-build"]
    assert build["wheel"]["packages"] == ["python/madsim"]  # every file under it goes into the wheel
    excluded = build.get("wheel", {}).get("exclude", []) + build.get("sdist", {}).get("exclude", [])
    for name in ("python/madsim/py.typed", "python/madsim/_core.pyi", "LICENSE"):
        assert not any(
            fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(Path(name).name, pat) for pat in excluded
        )
    ignored = (ROOT / ".gitignore").read_text().split() if (ROOT / ".gitignore").exists() else []
    for pat in ignored:  # the sdist leaves out what git ignores
        assert not fnmatch.fnmatch("py.typed", pat) and not fnmatch.fnmatch("_core.pyi", pat), pat


def _stub():
    return ast.parse((PACKAGE / "_core.pyi").read_text())


def _params(fn: ast.FunctionDef) -> list[tuple[str, bool]]:
    """(name, has a default) of each parameter after self."""
    args = [a for a in fn.args.args if a.arg != "self"]
    n_def = len(fn.args.defaults)
    return [(a.arg, i >= len(args) - n_def) for i, a in enumerate(args)]


def _runtime_params(obj, name: str) -> list[tuple[str, bool]]:
    """From pybind11's signature line, e.g. 'f(a: int, b: float = 1.0) -> None'."""
    line = obj.__doc__.strip().splitlines()[0]
    inner = line[line.index("(") + 1 : line.rindex(") ->")]
    out, depth, cur = [], 0, ""
    for ch in inner + ",":
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            if cur.strip():
                name_ = cur.split(":")[0].strip()
                if name_ != "self":
                    out.append((name_, "=" in cur))
            cur = ""
        else:
            cur += ch
    return out


def test_stub_covers_every_name_of_the_compiled_module():
    stub = _stub()
    names = set()
    for node in stub.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
    runtime = {n for n in dir(_core) if not n.startswith("__")}
    assert runtime <= names, f"not in _core.pyi: {sorted(runtime - names)}"
    cuda = bool(_core.build_info().get("cuda"))
    extra = names - runtime
    assert extra == (set() if cuda else CUDA_ONLY), f"in _core.pyi but not in _core: {sorted(extra)}"


def test_stub_signatures_match_the_compiled_module():
    for node in _stub().body:
        if not hasattr(_core, getattr(node, "name", "")):
            continue  # a CUDA-only name in a CPU build
        obj = getattr(_core, node.name)
        if isinstance(node, ast.FunctionDef):
            assert _params(node) == _runtime_params(obj, node.name), node.name
        elif isinstance(node, ast.ClassDef) and not issubclass(obj, Exception):
            init = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
            assert _params(init) == _runtime_params(obj.__init__, "__init__"), node.name
            props = {
                n.name
                for n in node.body
                if isinstance(n, ast.FunctionDef)
                and any(isinstance(d, ast.Name) and d.id == "property" for d in n.decorator_list)
            }
            assert props == {k for k, v in vars(obj).items() if isinstance(v, property)}, node.name


def test_stub_annotations_resolve():
    """The stub runs as Python: every annotation names a real type (numpy's or the stub's own)."""
    ns: dict = {}
    exec(compile(_stub(), "_core.pyi", "exec"), ns)
    assert {"Gaussian1DParams", "advance_gaussian1d", "philox4x32_10", "build_info"} <= set(ns)


def test_stub_is_current():
    """_core.pyi is what tools/gen_core_stub.py writes from the module now: a binding added or
    changed without regenerating it fails here, saying what to run."""
    import subprocess
    import sys

    gen = ROOT / "tools" / "gen_core_stub.py"
    done = subprocess.run([sys.executable, str(gen), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr + done.stdout
