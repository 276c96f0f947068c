"""One daemon per user: ``daemon.lock`` in the runtime folder, held for the daemon's life.

The kernel frees an flock when its holder dies, even by kill -9, so a stale lock never keeps
a new daemon out; and callers that find it held know a daemon is running or starting (its
socket may not be up yet), so many cold callers at once do not spawn one each.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from credhelper.errors import CredhelperError

LOCK_NAME = "daemon.lock"


def _open(rundir: Path) -> int:
    return os.open(rundir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)


def held(rundir: Path) -> bool:
    """Whether a daemon holds the lock (probed without keeping it)."""
    try:
        fd = _open(rundir)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


@contextlib.contextmanager
def single_instance(rundir: Path) -> Iterator[None]:
    """Hold the lock for the daemon's lifetime, its pid written in it; CredhelperError if
    another daemon holds it."""
    fd = _open(rundir)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise CredhelperError(
            f"a credhelper daemon is already running for this user (pid {holder})",
            "stop it first with 'credhelper daemon stop'",
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
