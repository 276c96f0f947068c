"""Where credhelper keeps its (non-secret) files: lock files, later the socket and logs."""

from __future__ import annotations

import os
import warnings
from pathlib import Path


def _private_dir(path: str) -> Path:
    """Create ``path`` as 0700 (and tighten it if it exists): lock names reveal profiles."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True, mode=0o700)
    if p.stat().st_mode & 0o077:
        os.chmod(p, 0o700)
    return p


def runtime_dir() -> Path:
    """Per-user runtime folder (``$XDG_RUNTIME_DIR/credhelper`` on Linux)."""
    import platformdirs

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp/runtime-UID,
        # which is what we want on headless machines.
        warnings.simplefilter("ignore")
        return _private_dir(platformdirs.user_runtime_dir("credhelper"))


def lock_dir() -> Path:
    return _private_dir(str(runtime_dir() / "locks"))
