"""The controlling terminal, ``/dev/tty``: works under botocore, the AWS CLI and the JS SDK,
which capture the helper's stdout and stderr but not the terminal. ENXIO without one."""

from __future__ import annotations

import os
import select

from credhelper.errors import CredhelperError
from credhelper.prompt import CodeRequest, Unavailable, checked

NAME = "terminal"


def ask(request: CodeRequest, timeout: float) -> str:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        raise Unavailable(f"no terminal ({exc.strerror})") from None
    try:
        os.write(fd, f"credhelper: MFA code for {request.serial} ({request.profile}): ".encode())
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            os.write(fd, b"\n")
            raise CredhelperError(
                f"no MFA code entered within {timeout:g} s", "retry", profile=request.profile
            )
        code = os.read(fd, 64).decode(errors="replace")
    finally:
        os.close(fd)
    return checked(request, code, "the terminal")
