"""The validate cases, one module per family: each holds ``build_cases()``
(its cases, in order) and ``QUICK`` (the names in the quick subset and their
replicas, None: the case's own)."""

from __future__ import annotations

import functools
import importlib


def modules() -> list:
    """The case modules, imported, in the registry's order: each family's
    ``validate_cases`` (a case's seed derives from its name, so the order
    changes no number)."""
    from ...families import all_families

    names = dict.fromkeys(spec.validate_cases for spec in all_families() if spec.validate_cases)
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


@functools.cache
def _by_module() -> dict:
    return {mod.__name__.rsplit(".", 1)[1]: tuple(mod.build_cases()) for mod in modules()}


def by_module() -> dict:
    """{case module name: its cases, in order} (built once: the closed forms
    some cases need for their gates take seconds)."""
    return dict(_by_module())


def build_cases() -> list:
    """Every case, in order: the Gaussian reference values first (rows 1-3,
    5-13, 15, 20 of docs/theory/index.md, section "Reference values"), then
    the other closed forms of the Gaussian loops, the invariant, and the
    categorical, bigram, PPCA, mixture and regression families."""
    return [case for cases in by_module().values() for case in cases]


def quick() -> dict:
    """The quick subset: case name -> its replicas there (None: its own)."""
    return {name: reps for mod in modules() for name, reps in mod.QUICK.items()}
