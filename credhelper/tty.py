"""One line from the controlling terminal, ``/dev/tty``.

botocore, the AWS CLI and the JavaScript SDK capture the helper's stdout and stderr (and stdin
may be a pipe), but not the terminal: both the MFA prompt and ``credhelper add`` ask there.
"""

from __future__ import annotations

import os
import select


class NoTerminal(Exception):
    """No controlling terminal (ENXIO: a service, an IDE, CI); the text says why."""


def ask(prompt: str, timeout: float | None = None, limit: int = 1024) -> str | None:
    """Write ``prompt`` on the terminal and read one answer (echoed); None if ``timeout``
    seconds pass first. NoTerminal when there is no terminal."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        raise NoTerminal(exc.strerror or str(exc)) from None
    try:
        os.write(fd, prompt.encode())
        if timeout is not None:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                os.write(fd, b"\n")
                return None
        return os.read(fd, limit).decode(errors="replace")
    finally:
        os.close(fd)
