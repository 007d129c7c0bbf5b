"""Sphinx configuration of the madsim documentation.

Build (from the repository root; warnings are errors, cross-references are
checked):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are MyST markdown; the API reference is autodoc + autosummary over
numpydoc-style docstrings (napoleon); the gallery is executed at build time by
matplotlib's ``plot`` directive, so a broken example fails the build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the gallery and plot examples run headless

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# madsim from this checkout where its compiled core was built in place
# (python/madsim/_core*.so); otherwise the installed one (`pip install .`, as
# CI does: a clean clone's python/madsim has no compiled core). docs/ itself
# holds make_figures.py, which the gallery imports.
# (Not _core.pyi, the type stub every checkout has.)
if any((ROOT / "python" / "madsim").glob("_core*.so")) or any(
    (ROOT / "python" / "madsim").glob("_core*.pyd")
):
    sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(DOCS))

import madsim  # noqa: E402

project = "madsim"
author = "the madsim authors"
copyright = "the madsim authors"
release = madsim.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "guide/_generated"]
# changelog.md includes ../CHANGELOG.md: built only where that file exists
# (index.md lists it by a glob, so a checkout without it builds cleanly).
if not (ROOT / "CHANGELOG.md").exists():
    exclude_patterns.append("changelog.md")
templates_path = []

# MyST: ``:::`` fences for directives, $...$ maths, heading anchors for
# cross-page links like [text](guide/loops.md#schedules).
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist", "fieldlist"]
myst_heading_anchors = 4

# Cross-references: every internal reference must resolve. There is no
# network at build time (no intersphinx), so names of other libraries
# (numpy, xarray, matplotlib, typing) are accepted without a target.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|xr|xarray|mpl|matplotlib|plt|distributed|dask|pathlib|os|typing|collections)\..*"),
    (r"py:.*", r"(Path|Sequence|Mapping|Callable|Union|Any|NamedTuple|Axes|Figure|PathLike)"),
    (
        r"py:.*",
        r"(int|float|str|bool|dict|list|tuple|None|object|callable|array_like|optional|"
        r"sequence|mapping|path-like|default|ndarray|Dataset|DataArray|Client)",
    ),
    (r"py:.*", r"(Schedule|madsim\.families\.gaussian\.MeanVector|MeanVector|Family)"),
    (r"py:.*", r"(madsim\.families\.regression\.LinearTruth|LinearTruth)"),
    # members that autosummary lists from base classes (NamedTuple's tuple
    # methods, the Gaussian families' shared mean_vector helper, the linear
    # families' weight_vector and cov_matrix)
    (r"py:obj", r"madsim\..*\.(count|index|mean_vector|weight_vector|cov_matrix)"),
    # numpydoc type specs written as prose: an array, a set of allowed
    # values {"a", "b"}, "default x", "keyword only"
    (r"py:class", r"(array|keyword only|default .*|\{.*|.*\}|\".*\")"),
]

# API reference: autodoc + autosummary (stubs generated at build time into
# api/generated/, not committed), numpydoc-style docstrings through napoleon.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings' Parameters sections say the types
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # Attributes as fields: no second object description of NamedTuple fields

# Gallery: matplotlib's plot directive runs the code when the docs build.
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 90)]
plot_rcparams = {"figure.max_open_warning": 0}
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\nimport madsim as ms\n"

html_theme = "furo"
html_title = f"madsim {release}"


def _cli_help(app) -> None:
    """Writes each ``madsim`` command's --help to guide/_generated/ (included
    by guide/cli.md), so the CLI page always shows the installed parser."""
    import contextlib
    import io

    from madsim import cli

    out = DOCS / "guide" / "_generated"
    out.mkdir(exist_ok=True)
    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width: fix it
    for command in ("demo", "run", "sweep", "plot", "validate", "repro", "bench", "info"):
        text = io.StringIO()
        with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
            cli.main([command, "--help"])
        (out / f"cli-{command}.txt").write_text(text.getvalue())


class _NoChangelogFilter:
    """Without CHANGELOG.md, the index's ``changelog*`` toctree glob matches
    nothing; Sphinx's warning for that carries no type that
    ``suppress_warnings`` could name, so this drops that one message."""

    def filter(self, record) -> bool:
        return "changelog*" not in str(getattr(record, "args", ""))


def setup(app):
    import logging

    app.connect("builder-inited", _cli_help)
    if not (ROOT / "CHANGELOG.md").exists():
        logging.getLogger("sphinx.sphinx.directives.other").addFilter(_NoChangelogFilter())
