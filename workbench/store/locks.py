"""Cross-process locks on one session that leave no file behind, on every platform.

Two windows rating the same session must not lose each other's change, so an update
holds a lock on ``.ID.lock`` beside the session. The lock itself is ``filelock``'s
descriptor lock (``flock`` on POSIX, ``LockFileEx`` on Windows; no ``fcntl`` here).
The file is removed by its holder before it lets go, so the store keeps no lock
files: a waiter that then gets the lock on the removed file sees that the path no
longer names it (or names a newer one) and tries again on the path.

On Windows an open file cannot be removed; the last holder to close it does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

#: How often a waiter retries a lock someone holds (saves and ratings are short).
POLL_S = 0.005


def lock_path(folder: Path, session_id: str) -> Path:
    return folder / f".{session_id}.lock"


@contextlib.contextmanager
def session_lock(folder: Path, session_id: str) -> Iterator[None]:
    """Hold the exclusive lock on ``session_id`` in ``folder`` (made if missing)."""
    # Imported here: filelock takes ~50 ms to import, and most commands never lock.
    from filelock import lock_descriptor, unlock_descriptor

    folder.mkdir(parents=True, exist_ok=True)
    path = lock_path(folder, session_id)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
        try:
            lock_descriptor(fd, poll_interval=POLL_S)
        except BaseException:
            os.close(fd)
            raise
        if _names(path, fd):
            break
        unlock_descriptor(fd)  # its holder removed it while we waited: try the new one
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # Windows: still open here; removed below
            os.unlink(path)
        unlock_descriptor(fd)
        os.close(fd)
        if os.name == "nt":
            with contextlib.suppress(OSError):  # another waiter has it open: it removes it
                os.unlink(path)


def remove_if_free(path: Path) -> bool:
    """Remove a lock file nobody holds (one left by an earlier workbench, which kept
    them); True when it was removed. Never waits."""
    from filelock import lock_descriptor, unlock_descriptor

    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    except OSError:
        return False
    try:
        if not lock_descriptor(fd, blocking=False):
            return False  # held: its holder removes it
        try:
            if _names(path, fd):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    return True
            return False
        finally:
            unlock_descriptor(fd)
    finally:
        os.close(fd)


def _names(path: Path, fd: int) -> bool:
    """Does ``path`` still name the file open as ``fd``?"""
    try:
        return os.path.samestat(os.stat(path), os.fstat(fd))
    except FileNotFoundError:
        return False
