"""Argument checks that raise before any kernel runs.

Every message names the argument, what was given, and what is allowed.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """An integer in [lo, hi] (either bound optional)."""
    allowed = "an integer" + _range_text(lo, hi)
    if not _is_int(value):
        raise TypeError(f"{name} must be {allowed}; got {value!r} ({type(value).__name__})")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} must be {allowed}; got {v}")
    return v


def real(
    name: str, value: Any, lo: float | None = None, hi: float | None = None, lo_open: bool = False
) -> float:
    """A finite real number in [lo, hi] ((lo, hi] when lo_open)."""
    allowed = "a finite number" + _range_text(lo, hi, lo_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}; got {value!r} ({type(value).__name__})")
    v = float(value)
    bad = not math.isfinite(v)
    bad = bad or (lo is not None and (v <= lo if lo_open else v < lo))
    bad = bad or (hi is not None and v > hi)
    if bad:
        raise ValueError(f"{name} must be {allowed}; got {v!r}")
    return v


def choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _range_text(lo, hi, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""
