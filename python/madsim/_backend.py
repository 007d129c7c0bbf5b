"""The only module that imports the compiled core (``madsim._core``).

Everything else in madsim goes through here, so a missing or broken build
fails in one place with one clear message.
"""

from __future__ import annotations

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "madsim's compiled core (madsim._core) could not be imported. "
        "Install madsim with `pip install .` from a clone (it builds the C++ "
        f"extension); the import error was: {exc}"
    ) from exc

core = _core
RNG_LAYOUT_VERSION: int = int(_core.RNG_LAYOUT_VERSION)


def build_info() -> dict:
    """Compiler, flags and features of the compiled core."""
    return dict(_core.build_info())


def has_cuda() -> bool:
    """True when the core was built with a CUDA launcher (not yet: CPU only)."""
    return bool(_core.build_info().get("cuda", False))
