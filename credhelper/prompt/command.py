"""``mfa_process``: a command whose stdout is the code (``ykman oath accounts code -s ...``,
a TOTP tool, a password manager).

What the command says on stderr while it waits ("Touch your YubiKey") reaches the user as it
arrives: on the controlling terminal (the caller's stderr is captured by botocore, so it is not
the terminal), else as a desktop notification, and in the log either way when there is no
terminal. The code comes from stdout only.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import threading
from typing import IO, Callable

from credhelper.errors import CredhelperError
from credhelper.prompt import CodeRequest, Unavailable, checked

NAME = "mfa_process"

log = logging.getLogger(__name__)

#: The longest stderr line passed on (a runaway command must not flood the terminal).
LINE_LIMIT = 400

#: What looks like an MFA code: a run of 6 to 8 digits, or two groups of 3 (``123 456``,
#: ``123-456``), no digit either side (an account ID's 12 digits are not one).
_CODE = re.compile(r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[0-9]{0,2}(?![0-9])")


def ask(request: CodeRequest, timeout: float) -> str:
    if not request.command:
        raise Unavailable("no mfa_process in the profile")
    try:
        argv = shlex.split(request.command)
        # stdin is the caller's (botocore passes it through): a command may want a touch or PIN.
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
        )
    except (OSError, ValueError) as exc:
        raise CredhelperError(
            f"mfa_process could not run ({exc})",
            "check the command in the profile",
            profile=request.profile,
        ) from None
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None
    out: list[str] = []
    terminal = _open_terminal()
    readers = [
        _thread(lambda: out.append(stdout.read())),
        _thread(lambda: _pass_on(stderr, request.profile, terminal)),
    ]
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise CredhelperError(
            f"mfa_process did not answer within {timeout:g} s",
            "check the command in the profile",
            profile=request.profile,
        ) from None
    finally:
        # A child the command left behind may hold the pipes open: not waited for long.
        for reader in readers:
            reader.join(timeout=1.0)
        if terminal is not None and not readers[1].is_alive():
            os.close(terminal)
    if returncode != 0:
        raise CredhelperError(
            f"mfa_process exited with code {returncode}",
            "run the command by hand to see why",
            profile=request.profile,
        )
    return checked(request, "".join(out), "mfa_process")


def _thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, name="mfa_process", daemon=True)
    thread.start()
    return thread


def _open_terminal() -> int | None:
    try:
        return os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        return None


def _pass_on(stream: IO[str], profile: str, terminal: int | None) -> None:
    """Each stderr line as it comes: on the terminal when there is one, else in the log and
    as a desktop notification."""
    for line in iter(stream.readline, ""):
        text = redact(line.rstrip())[:LINE_LIMIT]  # hidden before the cut: no code half kept
        if not text:
            continue
        if terminal is not None:
            try:
                os.write(terminal, f"mfa_process: {text}\n".encode(errors="replace"))
                continue
            except OSError:
                pass
        log.warning("%s: mfa_process: %s", profile, text)
        from credhelper.daemon.notify import notify

        notify("credhelper: MFA", f"{profile}: {text}")


def redact(text: str) -> str:
    """``text`` with each run of digits that could be an MFA code replaced by ``******``: a
    command that prints the code on stderr too must not leave it in a log or a notification."""
    return _CODE.sub("******", text)
