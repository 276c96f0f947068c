"""The controlling terminal, ``/dev/tty``: works under botocore, the AWS CLI and the JS SDK,
which capture the helper's stdout and stderr but not the terminal. ENXIO without one."""

from __future__ import annotations

from credhelper import tty
from credhelper.errors import CredhelperError
from credhelper.prompt import CodeRequest, Unavailable, checked

NAME = "terminal"


def ask(request: CodeRequest, timeout: float) -> str:
    try:
        code = tty.ask(
            f"credhelper: MFA code for {request.serial} ({request.profile}): ", timeout, limit=64
        )
    except tty.NoTerminal as exc:
        raise Unavailable(f"no terminal ({exc})") from None
    if code is None:
        raise CredhelperError(
            f"no MFA code entered within {timeout:g} s", "retry", profile=request.profile
        )
    return checked(request, code, "the terminal")
