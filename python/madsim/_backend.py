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
    """Compiler, flags and features of the compiled core: ``cuda`` (True
    when the CUDA launcher is compiled in) and, if so, ``cuda_version`` (the
    nvcc that compiled it), ``cuda_architectures`` and ``cuda_flags``. Build
    facts only: whether a GPU is visible is :func:`has_cuda`.

    Examples
    --------
    >>> import madsim as ms
    >>> info = ms.build_info()
    >>> isinstance(info["cuda"], bool)
    True
    """
    return dict(_core.build_info())


class CudaUnavailableError(RuntimeError):
    """backend="cuda" was asked for where it cannot run: madsim was built
    without CUDA, or no CUDA device (or driver) is visible.

    Examples
    --------
    >>> import madsim as ms
    >>> issubclass(ms.CudaUnavailableError, RuntimeError)
    True
    >>> try:
    ...     ms.simulate(ms.Config(), replicas=100, generations=10, backend="cuda")
    ...     ran = True
    ... except ms.CudaUnavailableError:        # names what is missing: the CUDA build or a device
    ...     ran = False
    >>> ran == ms.has_cuda()
    True
    """


def cuda_built() -> bool:
    """True when the CUDA launcher is compiled into madsim._core."""
    return bool(_core.build_info().get("cuda", False))


_CUDA_REASON: list = []  # cached: device visibility does not change within a process


def cuda_unavailable_reason() -> str | None:
    """None when backend="cuda" can run; else why not (not built, or no device)."""
    if not _CUDA_REASON:
        if not cuda_built():
            reason = (
                "madsim was built without CUDA: the launcher is not compiled in (the default build is the CPU "
                "core alone unless nvcc and a GPU are found); rebuild with it on a machine "
                "with nvcc: MADSIM_CUDA=ON pip install . (docs/getting-started/install.md)"
            )
        else:
            rt = dict(_core.cuda_runtime())
            if int(rt["device_count"]) > 0:
                reason = None
            else:
                reason = (
                    f"madsim was built with CUDA {build_info().get('cuda_version')} but no "
                    f"CUDA device is visible ({rt.get('error') or 'no device'}; driver "
                    f"version {rt['driver_version'] or 'none'})"
                )
        _CUDA_REASON.append(reason)
    return _CUDA_REASON[0]


def has_cuda() -> bool:
    """True when madsim was built with CUDA *and* a CUDA device is visible.

    Examples
    --------
    >>> import madsim as ms
    >>> ms.has_cuda() in (True, False)       # False on a machine without a GPU or a CPU-only build
    True
    """
    return cuda_unavailable_reason() is None


def require_cuda() -> None:
    """Raises CudaUnavailableError saying why, unless backend="cuda" can run."""
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise CudaUnavailableError(f"backend='cuda' cannot run: {reason}")


def cuda_memory_estimate(
    replicas: int,
    state_size: int,
    observe_size: int,
    scratch_size: int,
    n_rec: int,
    n_cols: int,
    n_det: int,
    array_doubles: int,
    slots: int,
) -> dict:
    """Bytes of device memory one CUDA call needs, by part (state, ids,
    records, first, observe, scratch, arrays) and in total: the launcher's own
    arithmetic (csrc/cuda/memory.hpp), available in every build. ``slots``:
    threads in flight (each with an observe row and scratch); ``n_rec``:
    recorded generations in one launch."""
    return dict(
        _core.cuda_memory_estimate(
            replicas, state_size, observe_size, scratch_size, n_rec, n_cols, n_det, array_doubles, slots
        )
    )
