"""The hot path: ``credhelper process PROFILE`` answered by the daemon, in a few milliseconds.

Standard library only, and only the modules it needs (protocol, transport, runtime folder):
every AWS SDK call on a warm cache runs this, and each import costs start-up time. A test
checks that nothing else is imported here (tests/e2e/test_daemon.py, ``-X importtime``).
Whatever goes wrong here, even a bug, means "go in-process": the full path then answers, or
reports the problem properly (a bad ``CREDHELPER_*`` value, say).
"""

from __future__ import annotations

import os
import sys
import time

from credhelper import protocol, rundir, transport
from credhelper.lean_client import no_daemon, seconds
from credhelper.recursion import DEPTH_VAR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Beyond the deadline, how long the daemon's answer may take to arrive.
REPLY_SLACK = 2.0


class Asked:
    """What asking the daemon found; the in-process path that may follow reads it."""

    __slots__ = ("exit_code", "running", "distrust", "warned", "started")

    def __init__(self) -> None:
        #: The command's exit code when the daemon settled the call; None: go in-process.
        self.exit_code: int | None = None
        #: A daemon is running (no need to start one).
        self.running = False
        #: Why the daemon was not used although one may be there (said once, on stderr).
        self.distrust: str | None = None
        #: Whether the warning about the runtime folder was already shown.
        self.warned = False
        #: When the call began (its deadline counts from there); None if never asked.
        self.started: float | None = None


def ask_daemon(profile: str, min_ttl: float | None = None) -> Asked:
    """Ask the daemon for ``profile``'s session and print its answer (the exit code in
    ``exit_code``); or say, with ``exit_code`` None, that the call goes in-process.
    ``min_ttl``: the command line's, over CREDHELPER_MIN_TTL."""
    asked = Asked()
    try:
        _ask(profile, min_ttl, asked)
    except Exception:
        asked.exit_code = None
    return asked


def _line(profile: str, error: str) -> str:
    """A daemon's error in the same form as ours (older or foreign daemons may differ)."""
    if error.startswith("credhelper: "):
        return error
    return f"credhelper: profile '{profile}': {error}"


def emit(document: dict[str, object]) -> None:
    sys.stdout.write(protocol.process_document(document) + "\n")
    sys.stdout.flush()


def _ask(profile: str, min_ttl: float | None, asked: Asked) -> None:
    try:
        if no_daemon() or os.environ.get(DEPTH_VAR) is not None:
            return
        if min_ttl is None:
            min_ttl = seconds("CREDHELPER_MIN_TTL", protocol.DEFAULT_MIN_TTL, 0)
        timeout = seconds("CREDHELPER_TIMEOUT", protocol.DEFAULT_TIMEOUT, 1)
    except ValueError:
        return  # the full path reports it
    started = asked.started = time.monotonic()
    folder, warning = rundir.choose()
    if warning:
        sys.stderr.write(f"credhelper: warning: {warning}\n")
        asked.warned = True
    request = {
        "op": "get",
        "profile": profile,
        "min_ttl": min_ttl,
        "timeout": timeout,
        "context": protocol.context(),
    }
    try:
        reply = transport.call(
            request,
            timeout=timeout - (time.monotonic() - started) + REPLY_SLACK,
            path=os.path.join(folder, protocol.SOCKET_NAME),
        )
    except transport.Untrusted as exc:
        asked.distrust = str(exc)
        return
    except transport.DaemonTimedOut as exc:
        # Not a second round of STS calls in-process: the daemon is already on it.
        asked.running = True
        timed_out(profile, timeout, str(exc))
        asked.exit_code = 1
        return
    except transport.DaemonUnavailable:
        return
    asked.running = True
    asked.exit_code = settle(profile, reply)


def timed_out(profile: str, timeout: float, why: str) -> None:
    """Say that the daemon took the call and did not answer in time (the launcher too)."""
    sys.stderr.write(
        f"credhelper: profile '{profile}': the daemon did not answer within "
        f"{timeout:g} s ({why}). See 'credhelper status' and the daemon's log.\n"
    )


def settle(profile: str, reply: dict[str, Any]) -> int | None:
    """Print what a daemon's reply says (the credentials, or its error line) and return the
    exit code; None (nothing printed) when the call goes in-process. The launcher uses it too."""
    if reply.get("ok") and isinstance(reply.get("credentials"), dict):
        emit(reply["credentials"])
        return 0
    if reply.get("fallback") or not isinstance(reply.get("error"), str):
        return None
    sys.stderr.write(_line(profile, reply["error"]) + "\n")
    code = reply.get("exit_code")
    return code if isinstance(code, int) and 0 < code < 128 else 1
