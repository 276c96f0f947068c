"""Replacing a file in one rename: a reader (botocore, a service manager) never sees half of it.

The data is flushed to disk before the rename, so that a crash leaves the old file or the new
one, whole. Used for the AWS config (``wire``) and the service definitions (``service``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data``; ``mode``: the file's (default: keep the old file's
    mode, 0600 for a new file). Creates a missing folder (0700).

    A symlinked ``path`` (dotfiles kept by stow or chezmoi) stays a link: its target is the
    file replaced, with the temporary file beside the target, as ``aws configure set`` does."""
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.credhelper-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
