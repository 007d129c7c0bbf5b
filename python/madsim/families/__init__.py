"""The family registry: one module per family, each registering a FamilySpec.

A family module (``madsim.families.<name>``) holds everything madsim knows
of one family: its config class and the checks of its parameters, its
cross-field rules on ``Config`` (``check_config``), its kernel builder
(params, observe columns and arrays, units, truth values, what
``metrics=None`` records), its default path, its CUDA advance, its TOML
table, its overflow check, and where its JAX twin, validate cases, law
tests, benchmark and docs page live. At import it calls ``register(spec)``.

``Config``, ``kernel_for``, ``madsim.__all__``, the TOML schema,
``madsim validate`` and the plots iterate over ``all_families()`` or ask
``spec_for(family)``; none of them names a family. tests/test_registry.py
checks that every registered family has each piece. docs/dev/add-family.md
is the checklist for a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping


@dataclass(frozen=True)
class FamilySpec:
    """What the rest of madsim needs to know of one family."""

    cls: type  # its config class, exported as madsim.<cls.__name__>
    kernel: Callable  # (cfg, generations, replicas, backend "cpu"|"jax") -> Kernel
    kernels: tuple[str, ...]  # the compiled kernels it runs (Kernel.name, attrs "kernel")
    cuda_advance: Mapping[str, str]  # compiled kernel name -> _core's CUDA advance function
    reference: Mapping[str, tuple[str, str]]  # kernel name -> (madsim.reference module, its advance
    #   function): its JAX twin (kernels.twin)
    default_path: str  # Config.path when None: "exact" or "samples"
    check_config: Callable  # (cfg) -> None: its cross-field rules on Config, raising
    need_text: Callable  # (family) -> how many points a fit needs, in words
    check_scale: Callable  # (cfg) -> None: refuses a first generation that overflows
    toml_help: str  # its [family] table: one line of help
    toml_keys: tuple  # (key, TOML types, help[, example]) per field
    validate_cases: str  # its module under madsim.validate.cases
    law_tests: tuple[str, ...]  # tests/ files holding its theory or law tests
    benchmark: str  # its benchmarks/ script
    docs_page: str  # its page, docs/guide/<docs_page>.md
    exact_subsample: bool = False  # the exact path runs AccumulateSubsample
    tokens: bool = False  # a token family: top_k and top_p apply
    mitigations: tuple[str, ...] = ()  # the Config mitigations it runs ("reweight", "correction")
    theory_curve: Callable | None = None  # (name, cfg, t) -> E[name] over replicas or None: the
    #   plots' theory curves (None: madsim.plots.THEORY by name)
    plots: tuple[str, ...] = ()  # the single-family plots of madsim.plots that draw its
    #   models (e.g. "tails", "token_ranks")
    theory: str = ""  # its module of madsim.theory (the package), whose __all__ madsim.theory
    #   re-exports ("": none). A name that would clash with another family's or the Gaussian
    #   theory's is exported under an alias the theory module defines and lists in its __all__
    #   (categorical_fresh_fixed_point)
    plot_theory: tuple[tuple[str, str, str], ...] = ()  # (variable, madsim.theory function of
    #   (cfg, t), its legend text) per variable whose theory curve madsim.plots draws by name
    #   (madsim.plots.THEORY); theory_curve, when set, is asked first
    theory_module: bool = False  # madsim.theory lists that module itself in its __all__
    #   (madsim.theory.categorical, madsim.theory.regression)

    @property
    def name(self) -> str:
        """The family's type name (``Config.to_dict``'s and the TOML ``type``)."""
        return self.cls.__name__


_REGISTRY: dict[type, FamilySpec] = {}


def register(spec: FamilySpec) -> FamilySpec:
    """Adds a family (its module calls this at import); a class registers once."""
    if not isinstance(spec, FamilySpec):
        raise TypeError(f"register needs a FamilySpec; got {spec!r}")
    if spec.cls in _REGISTRY and _REGISTRY[spec.cls] is not spec:
        raise ValueError(f"family {spec.name} is already registered")
    if any(s.name == spec.name and s.cls is not spec.cls for s in _REGISTRY.values()):
        raise ValueError(f"another family is already registered as {spec.name!r}")
    _REGISTRY[spec.cls] = spec
    return spec


def all_families() -> tuple[FamilySpec, ...]:
    """Every registered family, in registration order."""
    return tuple(_REGISTRY.values())


def spec_named(name: str) -> FamilySpec | None:
    """The spec whose family is called ``name`` (Config.to_dict's ``type``), or None."""
    return next((s for s in _REGISTRY.values() if s.name == name), None)


def families_with_plot(plot: str) -> list[str]:
    """The names of the families a single-family plot draws (their spec's ``plots``)."""
    return [s.name for s in _REGISTRY.values() if plot in s.plots]


def spec_for(family) -> FamilySpec:
    """The spec of ``family``: a family config instance or its class."""
    cls = family if isinstance(family, type) else type(family)
    for klass in cls.__mro__:
        if klass in _REGISTRY:
            return _REGISTRY[klass]
    names = ", ".join(s.name for s in _REGISTRY.values())
    raise TypeError(f"{family!r} is not a registered family (one of {names})")


# The registry's import list, in registration order (Config's default
# family first; the order of madsim.__all__, the TOML reference and the
# validate listing).
from . import gaussian, categorical, bigram, ppca, gmm, regression, poisson, kde, logistic  # noqa: E402, F401, I001
