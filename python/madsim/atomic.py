"""Every file madsim writes is written whole or not at all.

``write(path, produce)`` has ``produce(tmp)`` write the complete content at
a temporary name in the target's directory (a file, or a directory for
zarr), flushes it to disk (fsync), then renames it onto ``path``
(``os.replace``: atomic on POSIX). A Ctrl-C, a crash or a full disk leaves
the previous file (or none) and no partial one; the temporary is removed.

A second writer to the same path is refused with ``OutputLockedError``
rather than left to interleave: ``lock(path)`` holds an advisory ``fcntl``
lock on a hidden lock file beside it, ``.NAME.lock`` (removed when the
lock is released; if a crash leaves it, the kernel has released its lock
with the process, so it blocks nothing). ``madsim run``/``sweep``
hold it from before the run until the result is saved, so a second command
on the same output fails at once, not after its run. Where ``fcntl`` does not
exist (Windows) writes are still atomic but not locked.

``check_writable(path)`` is the check made before a run starts: the
directory exists and a file can be created in it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None

_held: dict[str, list] = {}  # path -> [fd, depth, thread]: locks this process holds
# (re-entrant in the thread that holds one; another thread is refused)
_held_guard = threading.Lock()


class OutputLockedError(BlockingIOError):
    """Another process (or another run in this one) is writing the same output."""


def _lock_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def lock(path) -> Iterator[None]:
    """Holds the exclusive writer lock of ``path`` (re-entrant in the thread
    holding it: ``madsim run`` locks its output, then ``save`` writes it)."""
    path = Path(path).absolute()
    key = str(path)
    me = threading.get_ident()
    with _held_guard:
        if key in _held:
            if _held[key][2] != me:
                raise OutputLockedError(f"{key!r} is being written by another thread of this process")
            _held[key][1] += 1
            fresh = False
        else:
            fresh = True
    if fresh:
        fd = _flock(path) if fcntl is not None else None
        with _held_guard:
            if key in _held:  # another thread of this process won the race
                if fd is not None:
                    os.close(fd)
                raise OutputLockedError(f"{str(path)!r} is being written by another run in this process")
            _held[key] = [fd, 1, me]
    try:
        yield
    finally:
        with _held_guard:
            entry = _held[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                if entry[0] is not None:
                    # remove the lock file while holding it, then release: a
                    # process that opened it meanwhile sees it is gone and retries
                    with contextlib.suppress(OSError):
                        os.unlink(_lock_file(path))
                    os.close(entry[0])


def _flock(path: Path) -> int:
    """An fd holding the exclusive flock of ``path``'s lock file (created if
    needed; retried if the file was removed by its last holder meanwhile)."""
    lock_path = _lock_file(path)
    for _ in range(100):
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(
                f"{str(path)!r} is being written by another madsim process (lock "
                f"{str(lock_path)!r} is held); wait for it or choose another output"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # we locked a file its holder had just removed: take the new one
    raise OutputLockedError(f"{str(path)!r}: could not take the lock {str(lock_path)!r}")


def check_writable(path) -> Path:
    """Raises (naming the path) unless a file can be created beside ``path``;
    made before a run so that a bad output does not lose the run."""
    path = Path(path)
    parent = path.absolute().parent
    if not parent.exists():
        raise FileNotFoundError(
            f"output directory {str(parent)!r} does not exist (for {str(path)!r}); create it first"
        )
    if not parent.is_dir():
        raise NotADirectoryError(f"output directory {str(parent)!r} is not a directory (for {str(path)!r})")
    if path.exists() and path.is_dir() and path.suffix.lower() != ".zarr":
        raise IsADirectoryError(f"output {str(path)!r} is a directory")
    probe = parent / f".madsim-probe-{uuid.uuid4().hex[:12]}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise PermissionError(
            f"cannot write in {str(parent)!r} (for {str(path)!r}): {exc.strerror or exc}"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return path


def _fsync_tree(path: Path) -> None:
    """fsync a file, or every file and directory under a directory."""
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            for name in files:
                _fsync_file(Path(root) / name)
            _fsync_dir(Path(root))
    else:
        _fsync_file(path)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover (platforms without directory fds)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write(path, produce: Callable[[Path], object], locked: bool = True) -> Path:
    """Atomically (re)places ``path`` by what ``produce(tmp)`` writes at
    ``tmp`` (a new hidden name in the same directory, ``.NAME.tmp-RANDOM``:
    it does not end in the target's suffix, so a glob for finished files
    never matches it; writers that pick a format by suffix must be told it,
    e.g. matplotlib's ``savefig(tmp, format="png")``).
    locked=False: the caller holds a lock covering ``path`` (a sweep store's
    task files, under the store's lock)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    with lock(path) if locked else contextlib.nullcontext():
        try:
            produce(tmp)
            _fsync_tree(tmp)
            if tmp.is_dir() and path.exists():
                # a directory cannot replace a non-empty one: move the old one
                # aside first (the target is briefly absent, never partial)
                old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:12]}")
                os.replace(path, old)
                os.replace(tmp, path)
                _remove(old)
            else:
                os.replace(tmp, path)
            _fsync_dir(path.absolute().parent)
        except BaseException:  # Ctrl-C included: never leave the temporary behind
            _remove(tmp)
            raise
    return path


def write_bytes(path, data: bytes) -> Path:
    def produce(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()

    return write(path, produce)


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))
