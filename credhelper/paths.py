"""Where credhelper keeps its (non-secret) files: locks, the daemon's socket, its log."""

from __future__ import annotations

import os
from pathlib import Path

from credhelper import ipc


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
    """``platformdirs.user_runtime_dir("credhelper")``, computed as the hot path does."""
    return private_dir(ipc.runtime_dir())


def lock_dir() -> Path:
    return private_dir(runtime_dir() / "locks")


def log_dir() -> Path:
    import platformdirs

    return private_dir(platformdirs.user_log_dir("credhelper"))
