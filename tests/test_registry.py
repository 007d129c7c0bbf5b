"""The family registry is complete: every registered family has its JAX twin,
its CUDA entry, a validate case, a theory or law test, a benchmark and a docs
page (docs/dev/add-family.md); a family missing one fails naming what.
Also: madsim's exports, Config, the TOML schema and kernel_for come from the
registry."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import sys
import types
from pathlib import Path

import pytest

import madsim as ms
from madsim import families, toml_config
from madsim._backend import core, has_cuda
from madsim.families import FamilySpec, all_families, register, spec_for

ROOT = Path(__file__).resolve().parents[1]


def _defined(path: Path, kind) -> set[str]:
    """The top-level functions (kind ast.FunctionDef) or classes of a module
    (read, not imported: the check needs no jax)."""
    return {node.name for node in ast.parse(path.read_text()).body if isinstance(node, kind)}


def _family_list() -> str:
    """The C++ family list (csrc/madsim/families.hpp): the X(name, Model)
    entries that declare, bind and CUDA-instantiate each compiled kernel."""
    return (ROOT / "csrc/madsim/families.hpp").read_text()


def _bound_names() -> str:
    """The text of the pybind11 bindings (csrc/bindings/), where every
    advance, CPU and CUDA, is bound by name."""
    return "\n".join(p.read_text() for p in sorted((ROOT / "csrc/bindings").glob("*.cpp")))


def missing(spec: FamilySpec) -> list[str]:
    """What ``spec``'s family lacks, one line each (empty: complete)."""
    out = []
    name = spec.name
    if not spec.kernels:
        out.append(f"{name}: no compiled kernel named (FamilySpec.kernels)")
    bound = _bound_names()
    family_list = _family_list()
    for kern in spec.kernels:
        module, advance = spec.reference.get(kern, (None, None))
        if module is None:
            out.append(f"{name}: kernel {kern!r} has no JAX twin declared (FamilySpec.reference)")
        else:
            path = ROOT / "python/madsim/reference" / f"{module}.py"
            if not path.is_file():
                out.append(f"{name}: the JAX twin module madsim.reference.{module} does not exist")
            else:
                if "Params" not in _defined(path, ast.ClassDef):
                    out.append(f"{name}: the JAX twin module madsim.reference.{module} defines no Params")
                if advance not in _defined(path, ast.FunctionDef):
                    out.append(f"{name}: the JAX twin's advance reference.{module}.{advance} does not exist")
        if f"X({kern}, " not in family_list:
            out.append(
                f"{name}: kernel {kern!r} is not in the C++ family list "
                f"(csrc/madsim/families.hpp: X({kern}, Model))"
            )
        cuda = spec.cuda_advance.get(kern)
        if not cuda:
            out.append(f"{name}: kernel {kern!r} has no CUDA advance declared (FamilySpec.cuda_advance)")
        elif f'"{cuda}"' not in bound:
            out.append(f"{name}: the CUDA advance {cuda!r} is bound nowhere in csrc/bindings/")
        elif has_cuda() and not hasattr(core, cuda):
            out.append(f"{name}: the CUDA advance {cuda!r} is not in this build of madsim._core")
    from madsim.validate.cases import by_module

    cases = [c for c in by_module().get(spec.validate_cases, ()) if isinstance(c.cfg.family, spec.cls)]
    if spec.validate_cases and spec.validate_cases not in by_module():
        out.append(
            f"{name}: the validate case module madsim.validate.cases.{spec.validate_cases} does not exist"
        )
    if not cases:
        out.append(
            f"{name}: no validate case (FamilySpec.validate_cases: a module of "
            f"madsim.validate.cases with a case of this family)"
        )
    laws = [
        f
        for f in spec.law_tests
        if (ROOT / "tests" / f).is_file() and "def test_" in (ROOT / "tests" / f).read_text()
    ]
    if not laws:
        out.append(
            f"{name}: no theory or law test (FamilySpec.law_tests: files in tests/; "
            f"named {list(spec.law_tests)})"
        )
    for f in spec.law_tests:
        if f not in laws:
            out.append(f"{name}: the law test tests/{f} does not exist or holds no test")
    if not spec.benchmark or not (ROOT / "benchmarks" / spec.benchmark).is_file():
        out.append(
            f"{name}: no benchmark (FamilySpec.benchmark: a script in benchmarks/; named {spec.benchmark!r})"
        )
    if not spec.docs_page or not (ROOT / "docs/guide" / f"{spec.docs_page}.md").is_file():
        out.append(
            f"{name}: no docs page (FamilySpec.docs_page: docs/guide/<page>.md; named {spec.docs_page!r})"
        )
    if spec.theory:
        path = ROOT / "python/madsim/theory" / f"{spec.theory}.py"
        if not path.is_file():
            out.append(f"{name}: its theory module madsim.theory.{spec.theory} does not exist")
        else:
            import madsim.theory

            exported = [
                n
                for n in importlib.import_module(f"madsim.theory.{spec.theory}").__all__
                if not hasattr(madsim.theory, n)
            ]
            if exported:
                out.append(f"{name}: madsim.theory does not re-export {exported}")
    if spec.default_path not in ("exact", "samples"):
        out.append(f"{name}: default_path must be 'exact' or 'samples'; got {spec.default_path!r}")
    return out


@pytest.mark.parametrize("spec", all_families(), ids=lambda s: s.name)
def test_every_registered_family_is_complete(spec):
    gaps = missing(spec)
    assert not gaps, "\n".join(gaps)


def test_the_completeness_check_fails_for_a_family_missing_pieces():
    gauss = spec_for(ms.Gaussian)
    fake = dataclasses.replace(
        gauss,
        reference={},
        cuda_advance={"gaussian1d": "advance_nowhere_cuda"},
        validate_cases="no_such_module",
        law_tests=("test_no_such_file.py",),
        benchmark="",
        docs_page="no-such-page",
    )
    gaps = "\n".join(missing(fake))
    assert "madsim.reference.no_twin does not exist" in "\n".join(
        missing(
            dataclasses.replace(gauss, reference={**gauss.reference, "gaussian1d": ("no_twin", "advance")})
        )
    )
    for what in (
        "has no JAX twin declared",
        "has no CUDA advance declared",
        "bound nowhere",
        "madsim.validate.cases.no_such_module does not exist",
        "no validate case",
        "no theory or law test",
        "no benchmark",
        "no docs page",
    ):
        assert what in gaps, what
    # a twin module and advance that do not exist, a case module without the family's cases
    fake = dataclasses.replace(
        gauss,
        reference={
            "gaussian1d": ("linalg", "advance_no_twin"),
            "gaussian_loop": ("gaussian_loop", "advance_gaussian_loop"),
        },
        validate_cases="regression",
    )
    gaps = "\n".join(missing(fake))
    assert "madsim.reference.linalg defines no Params" in gaps
    assert "reference.linalg.advance_no_twin does not exist" in gaps
    fake = dataclasses.replace(gauss, kernels=("gaussian1d", "no_such_kernel"))
    assert "'no_such_kernel' is not in the C++ family list" in "\n".join(missing(fake))
    assert "no validate case" in gaps
    poisson = spec_for(ms.Poisson)
    assert "madsim.theory.no_such does not exist" in "\n".join(
        missing(dataclasses.replace(poisson, theory="no_such"))
    )


def test_the_registry_drives_the_exports_config_and_toml():
    specs = all_families()
    names = [s.name for s in specs]
    assert names[0] == "Gaussian" and type(ms.Config().family) is ms.Gaussian
    assert len(set(names)) == len(names)
    for spec in specs:
        assert getattr(ms, spec.name) is spec.cls and spec.name in ms.__all__
        assert spec_for(spec.cls) is spec and spec_for(spec.cls.__new__(spec.cls)) is spec
        assert set(spec.cuda_advance) == set(spec.kernels) == set(spec.reference)
    assert list(toml_config.FAMILY) == names
    from madsim import config

    assert config.FAMILIES == tuple(s.cls for s in specs)


def test_spec_for_and_register_refuse_what_is_not_a_family():
    with pytest.raises(TypeError, match="not a registered family"):
        spec_for(object())
    with pytest.raises(TypeError, match="FamilySpec"):
        register("Gaussian")
    spec = spec_for(ms.Gaussian)
    with pytest.raises(ValueError, match="already registered"):
        register(dataclasses.replace(spec))
    assert families.all_families()[0] is spec  # nothing was added


def test_kernel_for_runs_each_family_through_its_spec(monkeypatch):
    from madsim.kernels import kernel_for

    cfg = ms.Config(family=ms.Regression(dim=2), loop=ms.Replace(n=10))
    spec = spec_for(cfg.family)
    calls = []

    def kernel(cfg, generations, replicas, backend):
        calls.append((generations, replicas, backend))
        return spec.kernel(cfg, generations, replicas, backend)

    monkeypatch.setitem(families._REGISTRY, ms.Regression, dataclasses.replace(spec, kernel=kernel))
    assert kernel_for(cfg, 3, 5).name == "regression"
    assert calls == [(3, 5, "cpu")]


def test_backend_cuda_takes_the_advance_the_family_spec_names(monkeypatch):
    """Without a device: a stand-in core whose CUDA advances are markers shows
    that backend="cuda" swaps in the advance each spec's cuda_advance names."""
    import madsim.kernels as K

    real, markers = K.core, {}

    class Core:
        CUDA_MEMORY_MARGIN = 0

        def cuda_runtime(self):
            return {"free_bytes": 2**50}

        def __getattr__(self, name):
            if name.endswith("_cuda"):
                return markers.setdefault(name, object())
            return getattr(real, name)

    monkeypatch.setattr(K, "core", Core())
    monkeypatch.setattr(K, "require_cuda", lambda: None)
    # every family at its defaults (where it has them), and the kernels defaults do not reach
    cfgs = [
        ms.Config(family=ms.Gaussian(dim=2)),
        ms.Config(family=ms.PPCA(dim=3, factors=1)),
        ms.Config(family=ms.GaussianMixture(weights=[0.5, 0.5], means=[-1.0, 1.0])),
    ]
    for spec in all_families():
        try:
            cfgs.append(ms.Config(family=spec.cls()))
        except (TypeError, ValueError):
            pass  # a family that needs arguments: listed above
    seen = set()
    for cfg in cfgs:
        spec = spec_for(cfg.family)
        kern = K.kernel_for(cfg, 2, 4, backend="cuda")
        assert kern.name in spec.kernels
        assert kern.advance is markers[spec.cuda_advance[kern.name]], (spec.name, kern.name)
        seen.add(spec.name)
    assert seen == {s.name for s in all_families()}


def test_the_registry_drives_the_theory_and_plot_exports(monkeypatch):
    import madsim.families
    import madsim.theory
    from madsim import plots

    for spec in all_families():
        if spec.theory:
            mod = importlib.import_module(f"madsim.theory.{spec.theory}")
            for name in mod.__all__:
                assert getattr(madsim.theory, name) is getattr(mod, name) and name in madsim.theory.__all__
            assert (spec.theory in madsim.theory.__all__) == spec.theory_module
        for var, func, _ in spec.plot_theory:
            assert plots.THEORY[var] == func and callable(getattr(madsim.theory, func))
    assert madsim.theory.categorical_fresh_fixed_point is madsim.theory.categorical.fresh_fixed_point
    assert madsim.theory.fresh_fixed_point.__module__ == "madsim.theory.real_data"
    # a family theory name that would replace another object is refused
    clash = types.ModuleType("madsim.theory.clash")
    clash.__all__ = ["fresh_fixed_point"]
    clash.fresh_fixed_point = lambda: None
    monkeypatch.setitem(sys.modules, "madsim.theory.clash", clash)
    fake = dataclasses.replace(spec_for(ms.Poisson), theory="clash")
    monkeypatch.setattr(madsim.families, "all_families", lambda: (fake,))
    with pytest.raises(ImportError, match="'fresh_fixed_point', which madsim.theory already has"):
        madsim.theory._family_theory()
