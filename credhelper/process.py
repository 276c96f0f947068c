"""``credhelper process PROFILE``: print credential_process JSON for a profile.

The hot path: ask the daemon over its socket (standard library only), else resolve
in-process (botocore, keyring, STS) and start the daemon for next time. The whole call has
one deadline (CREDHELPER_TIMEOUT): the daemon is told what is left and answers within it; the
in-process path runs on a worker thread that the caller stops waiting for when time is up.
"""

from __future__ import annotations

import json
import os
import sys
import time

from credhelper import ipc
from credhelper.errors import CredhelperError
from credhelper.recursion import DEPTH_VAR
from credhelper.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    from credhelper.credentials import Credentials
    from credhelper.deadline import Deadline

    T = TypeVar("T")

MAX_DEPTH = 4
#: Beyond the deadline, how long the daemon's answer may take to arrive.
REPLY_SLACK = 2.0


def _enter() -> None:
    try:
        depth = int(os.environ.get(DEPTH_VAR, "0"))
    except ValueError:
        depth = 0
    if depth >= MAX_DEPTH:
        raise CredhelperError(
            f"credhelper is running itself {depth} levels deep",
            "a source profile's credential_process leads back to credhelper; fix source_profile",
        )
    os.environ[DEPTH_VAR] = str(depth + 1)


def resolve_credentials(profile: str, settings: Settings) -> Credentials:
    """The in-process path: config, keyring cache, STS."""
    from credhelper import prompt
    from credhelper.resolver import provider_for

    _enter()
    return provider_for(profile, settings, prompt.ask).fetch()[0]


def bounded(work: Callable[[], T], deadline: Deadline) -> T:
    """``work()`` on a worker thread, waited for until ``deadline``; then its error, or the
    deadline's (naming the step that was running), and the source programs it started are
    killed. The worker dies with the process; a session lock it held goes with it."""
    import threading

    from credhelper import children
    from credhelper import deadline as deadlines

    box: dict[str, object] = {}

    def run() -> None:
        with deadlines.scope(deadline):
            try:
                box["value"] = work()
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc

    worker = threading.Thread(target=run, name="credhelper-resolve", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.25 if deadline.paused else max(0.01, min(deadline.remaining(), 0.25)))
        if worker.is_alive() and deadline.expired:
            worker.join(0.5)  # its own error, if it is about to give one, says more
            if worker.is_alive():
                children.kill_all()
                raise deadline.error()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _emit(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


class _Asked:
    """What asking the daemon found, for the in-process path that may follow."""

    def __init__(self) -> None:
        self.asked = False
        self.running = False
        #: Why the daemon was not used although one may be there (told once, on stderr).
        self.distrust: str | None = None
        #: Whether the warning about the runtime folder was already shown.
        self.warned = False
        #: When the call began (its deadline counts from there).
        self.started: float | None = None


_asked = _Asked()


def _line(profile: str, error: str) -> str:
    """A daemon's error in the same form as ours (older or foreign daemons may differ)."""
    if error.startswith("credhelper: "):
        return error
    return f"credhelper: profile '{profile}': {error}"


def from_daemon(profile: str, min_ttl: float | None = None) -> int | None:
    """The fast path: the daemon's answer printed, and an exit code; None to go in-process.

    Standard library only, by design: a test checks no third-party module is imported here.
    Any surprise here (no AF_UNIX on this platform, say) means: go in-process.
    """
    try:
        return _from_daemon(profile, min_ttl)
    except Exception:
        _asked.asked = True
        return None


def _from_daemon(profile: str, min_ttl: float | None) -> int | None:
    try:
        settings = Settings.from_env(min_ttl=min_ttl)
    except CredhelperError:
        return None  # the full path reports it
    if not settings.use_daemon or os.environ.get(DEPTH_VAR) is not None:
        return None
    from credhelper import rundir

    # (the deadline module is not imported here: the daemon gets the seconds left, that's all)
    started = _asked.started = time.monotonic()
    _asked.asked = True
    folder, warning = rundir.choose()
    if warning:
        sys.stderr.write(f"credhelper: warning: {warning}\n")
        _asked.warned = True
    request = {
        "op": "get",
        "profile": profile,
        "min_ttl": settings.min_ttl,
        "timeout": settings.timeout,
        "context": ipc.context(),
    }
    try:
        reply = ipc.call(
            request,
            timeout=settings.timeout - (time.monotonic() - started) + REPLY_SLACK,
            path=os.path.join(folder, ipc.SOCKET_NAME),
        )
    except ipc.Untrusted as exc:
        _asked.distrust = str(exc)
        return None
    except ipc.DaemonTimedOut as exc:
        # Not a second round of STS calls in-process: the daemon is already on it.
        _asked.running = True
        sys.stderr.write(
            f"credhelper: profile '{profile}': the daemon did not answer within "
            f"{settings.timeout:g} s ({exc}). See 'credhelper status' and the daemon's log.\n"
        )
        return 1
    except ipc.DaemonUnavailable:
        return None
    _asked.running = True
    if reply.get("ok") and isinstance(reply.get("credentials"), dict):
        _emit(reply["credentials"])
        return 0
    if reply.get("fallback") or not isinstance(reply.get("error"), str):
        return None
    sys.stderr.write(_line(profile, reply["error"]) + "\n")
    code = reply.get("exit_code")
    return code if isinstance(code, int) and 0 < code < 128 else 1


def run(profile: str, min_ttl: float | None = None, use_daemon: bool = True) -> int:
    """Daemon first (unless disabled), else in-process; then start the daemon for next time."""
    import logging

    from credhelper import rundir

    log = logging.getLogger(__name__)
    try:
        settings = Settings.from_env(min_ttl=min_ttl)
        use_daemon = use_daemon and settings.use_daemon
        if use_daemon and not _asked.asked:
            served = from_daemon(profile, min_ttl)
            if served is not None:
                return served
        warning = None if _asked.warned else rundir.choose()[1]
        if use_daemon and (warning or _asked.distrust):
            log.warning(
                "warning: not using the credhelper daemon: %s; resolving in-process",
                _asked.distrust or warning,
            )
        from credhelper.deadline import Deadline

        spent = time.monotonic() - _asked.started if _asked.started is not None else 0.0
        deadline = Deadline(max(0.0, settings.timeout - spent))
        creds = bounded(lambda: resolve_credentials(profile, settings), deadline)
    except CredhelperError as exc:
        raise exc.for_profile(profile) from exc.__cause__
    _emit(creds.process_output())
    if use_daemon and settings.autostart and not _asked.running and not _asked.distrust:
        from credhelper.daemon.launch import start_in_background

        start_in_background()
    return 0
