"""Cross-process locks per cache key, so concurrent callers make one STS call, not a storm."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from credhelper.errors import CredhelperError
from credhelper.paths import lock_dir

log = logging.getLogger(__name__)


@contextlib.contextmanager
def hold(key: str, timeout: float) -> Iterator[None]:
    """Hold the lock for ``key``; a holder that dies releases it with its file descriptor."""
    import filelock

    path = lock_dir() / f"{key}.lock"
    lock = filelock.FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise CredhelperError(
            f"another credhelper held the session lock for over {timeout:g} s",
            "it may be waiting for an MFA code in another terminal; retry, or raise "
            "CREDHELPER_LOCK_TIMEOUT",
        ) from None
    try:
        yield
    finally:
        lock.release()
