"""Cross-process locks per cache key, so concurrent callers make one STS call, not a storm."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Iterator

from credhelper import deadline
from credhelper.errors import CredhelperError
from credhelper.paths import lock_dir
from credhelper.recursion import HELD_VAR

log = logging.getLogger(__name__)


_local = threading.local()
def held() -> list[str]:
    """Session locks held by this thread and by the processes that started us (the marks
    its children get, :func:`credhelper.recursion.child_marks`)."""
    inherited = [k for k in os.environ.get(HELD_VAR, "").split(",") if k]
    return inherited + list(getattr(_local, "keys", []))


@contextlib.contextmanager
def hold(key: str, timeout: float) -> Iterator[None]:
    """Hold the lock for ``key``; a holder that dies releases it with its file descriptor."""
    import filelock

    if key in held():
        raise CredhelperError(
            "this profile's source runs credhelper for the same profile (a loop through "
            "credential_process)",
            "fix source_profile so that the chain ends in keys, SSO or credential_source",
        )
    path = lock_dir() / f"{key}.lock"
    limit = min(timeout, deadline.remaining(timeout))
    lock = filelock.FileLock(str(path), timeout=limit)
    try:
        with deadline.step("waiting for another credhelper fetching the same session"):
            lock.acquire()
    except filelock.Timeout:
        d = deadline.current()
        if d is not None and d.remaining() <= 0:
            raise d.error() from None
        raise CredhelperError(
            f"another credhelper process has been fetching this session for over {limit:g} s "
            "(waiting for STS, a source's credential_process, or an MFA code in another "
            "terminal)",
            "retry, or raise CREDHELPER_LOCK_TIMEOUT",
        ) from None
    mine = getattr(_local, "keys", [])
    _local.keys = [*mine, key]
    try:
        yield
    finally:
        _local.keys = mine
        lock.release()
