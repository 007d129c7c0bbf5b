"""The reproduction gallery: one module per paper of the model-collapse
literature, each re-running the paper's claim or figure with madsim and
comparing its Monte Carlo with the paper's reported numbers and/or the
closed forms of :mod:`madsim.theory`.

    from madsim import repro
    repro.keys()                                  # every registered paper
    res = repro.run("shumailov2024")              # the quick size: a few seconds
    print(res.table())                            # quantity, paper, theory, madsim mean +- SE, z
    repro.get("shumailov2024").figure(res)        # the paper's figure, theory overlaid

``madsim repro --list``, ``madsim repro KEY [--full] [--out DIR]`` and
``madsim repro all`` are the same from the command line. A comparison passes
when ``abs(z)`` is below the Bonferroni bound of the run at the family-wise
false-fail rate ``ALPHA`` (1e-4), as in ``madsim validate``. The pages are
under docs/repro/.
"""

from __future__ import annotations

from .base import ALPHA, SIZES, Paper, Result, Row, Setting, compare, z_crit

_REGISTRY: dict = {}


def register(paper: Paper) -> Paper:
    """Adds ``paper`` to the gallery (its key must be new).

    Examples
    --------
    >>> from madsim import repro
    >>> p = repro.get("suresh2025")
    >>> repro.register(p)
    Traceback (most recent call last):
    ...
    ValueError: paper 'suresh2025' is already registered
    """
    if not isinstance(paper, Paper):
        raise TypeError(f"register needs a madsim.repro.Paper; got {type(paper).__name__}")
    if paper.key in _REGISTRY:
        raise ValueError(f"paper {paper.key!r} is already registered")
    _REGISTRY[paper.key] = paper
    return paper


def keys() -> list:
    """The keys of every registered paper, in the gallery's order.

    Examples
    --------
    >>> from madsim import repro
    >>> len(repro.keys()) >= 8
    True
    >>> repro.keys()[0]
    'shumailov2024'
    """
    return list(_REGISTRY)


def papers() -> list:
    """Every registered :class:`Paper`, in the gallery's order.

    Examples
    --------
    >>> from madsim import repro
    >>> [p.year for p in repro.papers()][:2]
    [2024, 2024]
    """
    return list(_REGISTRY.values())


def get(key: str) -> Paper:
    """The paper registered as ``key``.

    Examples
    --------
    >>> from madsim import repro
    >>> repro.get("he2025").authors
    'He, Xu, Cheng'
    >>> repro.get("nope")
    Traceback (most recent call last):
    ...
    ValueError: no paper 'nope'; the gallery has: shumailov2024, ...
    """
    if key not in _REGISTRY:
        raise ValueError(f"no paper {key!r}; the gallery has: {', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def run(key: str, size: str = "quick", threads: int | None = None) -> Result:
    """Runs one paper's reproduction (``size`` "quick": seconds; "full": the
    paper's own setting or 1000x its replicas) and returns its Result.

    Examples
    --------
    >>> from madsim import repro
    >>> res = repro.run("deydonoho2024")
    >>> res.passed
    True
    >>> sorted(res.datasets)
    ['n=100', 'n=20', 'n=4']
    """
    return get(key).run(size, threads)


def run_all(size: str = "quick", threads: int | None = None, only: list | None = None) -> list:
    """Runs every paper (or only those keyed in ``only``), in order; a list of Results.
    Judge them together with ``z_crit(ALPHA, total comparisons)``.

    Examples
    --------
    >>> from madsim import repro
    >>> res = repro.run_all(only=["he2025"])
    >>> [r.key for r in res]
    ['he2025']
    """
    return [run(k, size, threads) for k in (only if only is not None else keys())]


from . import (  # noqa: E402
    alemohammad2024,
    bertrand2024,
    deydonoho2024,
    gerstgrasser2024,
    he2025,
    kazdan2024,
    shumailov2024,
    suresh2025,
)

for _mod in (
    shumailov2024,
    alemohammad2024,
    bertrand2024,
    kazdan2024,
    gerstgrasser2024,
    he2025,
    suresh2025,
    deydonoho2024,
):
    register(_mod.PAPER)

__all__ = [
    "ALPHA",
    "SIZES",
    "Paper",
    "Result",
    "Row",
    "Setting",
    "compare",
    "get",
    "keys",
    "papers",
    "register",
    "run",
    "run_all",
    "z_crit",
]
