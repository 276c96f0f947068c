"""Asking for an MFA code where ``credential_process`` runs, one driver per file.

botocore captures the helper's stdout and stderr, so no driver may use them. Tried in order:
the profile's ``mfa_process`` command, the terminal (``/dev/tty``), a desktop dialog. Each has
a time limit; when none can ask, the error says how to enter the code ahead of time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable

from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)

CODE = re.compile(r"^\d{6}$")
TIMEOUT = 120.0


@dataclass(frozen=True)
class CodeRequest:
    profile: str  # the profile the user asked for, named in prompts and errors
    serial: str  # the MFA device
    command: str | None = None  # the profile's mfa_process, if any


#: Something that returns a code for a request, or raises CredhelperError.
Asker = Callable[[CodeRequest], str]


class Unavailable(Exception):
    """This driver cannot ask here (no terminal, no display, no command): try the next."""


def checked(request: CodeRequest, code: str, where: str) -> str:
    code = code.strip()
    if not CODE.match(code):
        raise CredhelperError(
            f"{where} did not give a 6-digit MFA code for {request.serial}",
            "retry with the code your device shows",
            profile=request.profile,
        )
    return code


def ask(request: CodeRequest, timeout: float = TIMEOUT) -> str:
    """A code from the first driver that can ask."""
    import contextlib

    from credhelper import deadline
    from credhelper.prompt import command, dialog, terminal

    d = deadline.current()
    for driver in (command, terminal, dialog):
        try:
            # A person's time is not the call's: the deadline stops while they type.
            with d.paused_for_person() if d is not None else contextlib.nullcontext():
                code: str = driver.ask(request, timeout)
        except Unavailable as exc:
            log.debug("MFA prompt %s unavailable: %s", driver.__name__, exc)
            continue
        log.info("MFA code for %s obtained through %s", request.serial, driver.NAME)
        return code
    raise CredhelperError(
        f"an MFA code for {request.serial} is needed but there is no way to ask for it here "
        "(no terminal, no desktop dialog, no mfa_process)",
        f"run 'credhelper login {request.profile}' in a terminal first, or set mfa_process "
        "in the profile",
        profile=request.profile,
    )
