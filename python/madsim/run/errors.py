"""What a run issues when it stops early or diverges: a warning for Ctrl-C,
and a warning or an error (``on_nonfinite=``) for a non-finite state."""

from __future__ import annotations


class RunInterrupted(UserWarning):
    """Issued when Ctrl-C stops a run; the returned Dataset holds what finished.

    Examples
    --------
    >>> import madsim as ms
    >>> issubclass(ms.RunInterrupted, UserWarning)
    True
    """


class NonFiniteWarning(RuntimeWarning):
    """Issued when replicas' state became inf or NaN (the run diverged);
    ``simulate(..., on_nonfinite="raise")`` raises NonFiniteError instead.

    Examples
    --------
    >>> import warnings
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Replace(n=100), temperature=1.5)   # the variance grows 2.25x a generation
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     ds = ms.simulate(cfg, replicas=100, generations=1000, seed=1, progress=False)
    >>> any(issubclass(w.category, ms.NonFiniteWarning) for w in caught)
    True
    >>> int(ds.attrs["nonfinite_replicas"])
    100
    """


class NonFiniteError(FloatingPointError):
    """Raised by ``simulate(..., on_nonfinite="raise")`` when a replica's state becomes inf or NaN.

    Examples
    --------
    >>> import madsim as ms
    >>> cfg = ms.Config(loop=ms.Replace(n=100), temperature=1.5)
    >>> try:
    ...     ms.simulate(cfg, replicas=100, generations=1000, seed=1, on_nonfinite="raise")
    ... except ms.NonFiniteError:
    ...     print("diverged")
    diverged
    """
