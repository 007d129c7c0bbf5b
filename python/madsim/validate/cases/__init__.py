"""The validate cases, one module per family: each holds ``build_cases()``
(its cases, in order) and ``QUICK`` (the names in the quick subset and their
replicas, None: the case's own)."""

from __future__ import annotations

import importlib



def modules() -> list:
    """The case modules, imported, in the registry's order: each family's
    ``validate_cases`` (a case's seed derives from its name, so the order
    changes no number)."""
    from ...families import all_families

    names = dict.fromkeys(spec.validate_cases for spec in all_families() if spec.validate_cases)
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def build_cases() -> list:
    """Every case, in order: the Gaussian reference values first (rows 1-3,
    5-13, 15, 20 of docs/theory/index.md, section "Reference values"), then
    the other closed forms of the Gaussian loops, the invariant, and the
    token, PPCA, mixture and regression families."""
    return [case for mod in modules() for case in mod.build_cases()]


def quick() -> dict:
    """The quick subset: case name -> its replicas there (None: its own)."""
    return {name: reps for mod in modules() for name, reps in mod.QUICK.items()}
