"""A desktop dialog when there is a display but no terminal (an IDE, a GUI tool)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from credhelper.errors import CredhelperError
from credhelper.prompt import CodeRequest, Unavailable, checked

NAME = "dialog"


def command(request: CodeRequest) -> list[str]:
    """The dialog command for this desktop, or Unavailable."""
    text = f"MFA code for {request.serial} (profile {request.profile})"
    if sys.platform == "darwin" and shutil.which("osascript"):
        script = (
            f'display dialog "{text}" default answer "" with title "credhelper" with hidden answer'
        )
        return ["osascript", "-e", f"text returned of ({script})"]
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise Unavailable("no display")
    if shutil.which("zenity"):
        return ["zenity", "--entry", "--title=credhelper", f"--text={text}"]
    if shutil.which("kdialog"):
        return ["kdialog", "--title", "credhelper", "--inputbox", text]
    raise Unavailable("no zenity, kdialog or osascript")


def ask(request: CodeRequest, timeout: float) -> str:
    argv = command(request)
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise CredhelperError(
            f"no MFA code entered within {timeout:g} s", "retry", profile=request.profile
        ) from None
    except OSError as exc:
        raise Unavailable(str(exc)) from None
    if result.returncode != 0:
        raise CredhelperError(
            "the MFA dialog was cancelled", "retry, and enter the code", profile=request.profile
        )
    return checked(request, result.stdout, "the dialog")
