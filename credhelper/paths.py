"""Where credhelper keeps its (non-secret) files: locks, the daemon's socket, its log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from credhelper import rundir
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and a missing parent) as 0700: lock names reveal profile hashes."""
    p = Path(path)
    if not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    p.mkdir(exist_ok=True, mode=0o700)
    if p.stat().st_mode & 0o077:
        os.chmod(p, 0o700)
    return p


def runtime_dir() -> Path:
    """The runtime folder, created if needed and checked (see :mod:`credhelper.rundir`);
    CredhelperError if it may be someone else's."""
    folder, _warning = rundir.choose()
    try:
        return Path(rundir.ensure(folder))
    except (rundir.Untrusted, OSError) as exc:
        raise CredhelperError(
            f"the runtime folder {folder} is not safe to use: {exc}",
            "remove it (or what is wrong on the way to it), or set XDG_RUNTIME_DIR to a "
            "private folder (owned by you, mode 0700)",
        ) from None


def lock_dir() -> Path:
    """Session locks: in the runtime folder, or, when that is not safe, in the user's cache
    folder (in-process callers still make one STS call at a time without a daemon)."""
    try:
        return private_dir(runtime_dir() / "locks")
    except CredhelperError as exc:
        import platformdirs

        log.debug("locks not in the runtime folder: %s", exc.message)
        return private_dir(Path(platformdirs.user_cache_dir("credhelper")) / "locks")


def log_dir() -> Path:
    import platformdirs

    return private_dir(platformdirs.user_log_dir("credhelper"))
