"""Asking for an MFA code where ``credential_process`` runs.

botocore captures the helper's stdout and stderr, so the prompt opens the controlling
terminal itself; without one (an IDE, cron) it fails with a clear error instead of hanging.
"""

from __future__ import annotations

import os
import re
import select

from credhelper.errors import CredhelperError

CODE = re.compile(r"^\d{6}$")
PROMPT_TIMEOUT = 120.0


def ask_tty(profile: str, serial: str, timeout: float = PROMPT_TIMEOUT) -> str:
    """Read a 6-digit code from ``/dev/tty``."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise CredhelperError(
            f"an MFA code for {serial} is needed but there is no terminal to ask on",
            f"run 'credhelper process {profile}' once in a terminal, then retry",
            profile=profile,
        ) from None
    try:
        os.write(fd, f"credhelper: MFA code for {serial} (profile {profile}): ".encode())
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            os.write(fd, b"\n")
            raise CredhelperError(
                f"no MFA code entered within {timeout:g} s", "retry", profile=profile
            )
        code = os.read(fd, 64).decode(errors="replace").strip()
    finally:
        os.close(fd)
    if not CODE.match(code):
        raise CredhelperError(
            "the MFA code must be 6 digits",
            "retry with the code your device shows",
            profile=profile,
        )
    return code
