"""``mfa_process``: a command whose stdout is the code (``ykman oath accounts code -s ...``,
a TOTP tool, a password manager)."""

from __future__ import annotations

import shlex
import subprocess

from credhelper.errors import CredhelperError
from credhelper.prompt import CodeRequest, Unavailable, checked

NAME = "mfa_process"


def ask(request: CodeRequest, timeout: float) -> str:
    if not request.command:
        raise Unavailable("no mfa_process in the profile")
    try:
        argv = shlex.split(request.command)
        # stdin is the caller's (botocore passes it through): a command may want a touch or PIN.
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CredhelperError(
            f"mfa_process did not answer within {timeout:g} s",
            "check the command in the profile",
            profile=request.profile,
        ) from None
    except (OSError, ValueError) as exc:
        raise CredhelperError(
            f"mfa_process could not run ({exc})",
            "check the command in the profile",
            profile=request.profile,
        ) from None
    if result.returncode != 0:
        raise CredhelperError(
            f"mfa_process exited with code {result.returncode}",
            "run the command by hand to see why",
            profile=request.profile,
        )
    return checked(request, result.stdout, "mfa_process")
