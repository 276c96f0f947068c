"""A profile's session for the commands that use one rather than print it (``exec``,
``export``, ``console``...): the daemon's when one runs and may be trusted, else resolved
in-process within the call's one deadline, and the daemon started for next time. The same
rules as ``credhelper process``, without its stdout: that one stays on the lean hot path
(:mod:`credhelper.hotpath`).
"""

from __future__ import annotations

import logging
import os
import time

from credhelper import hotpath, protocol, recursion, rundir, transport
from credhelper.context import Context
from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError
from credhelper.store import codec

log = logging.getLogger(__name__)

def credentials(profile: str, ctx: Context) -> Credentials:
    """``profile``'s session with more than the settings' floor left; CredhelperError naming
    the profile otherwise."""
    from credhelper.commands.process import bounded, resolve
    from credhelper.deadline import Deadline

    settings = ctx.settings
    started = time.monotonic()
    running = False
    if settings.use_daemon and recursion.depth() == 0:
        creds, running = from_daemon(profile, ctx)
        if creds is not None:
            return creds
    deadline = Deadline(max(0.0, settings.timeout - (time.monotonic() - started)))
    creds = bounded(lambda: resolve(profile, ctx), deadline)
    if settings.use_daemon and settings.autostart and not running:
        from credhelper.daemon.launch import start_in_background

        start_in_background()
    return creds


def from_daemon(profile: str, ctx: Context) -> tuple[Credentials | None, bool]:
    """(the daemon's session, or None: resolve in-process; whether a daemon runs).
    CredhelperError when the daemon settled the call with an error, or took it and did not
    answer in time (not a second round of STS calls in-process: it is already on it)."""
    settings = ctx.settings
    folder, warning = rundir.choose()
    if warning:
        log.warning("warning: %s", warning)
    request = {
        "op": "get",
        "profile": profile,
        "min_ttl": settings.min_ttl,
        "timeout": settings.timeout,
        "context": protocol.context(),
    }
    try:
        reply = transport.call(
            request,
            timeout=settings.timeout + hotpath.REPLY_SLACK,
            path=os.path.join(folder, protocol.SOCKET_NAME),
        )
    except transport.Untrusted as exc:
        log.warning("warning: not using the credhelper daemon: %s; resolving in-process", exc)
        return None, False
    except transport.DaemonTimedOut as exc:
        raise CredhelperError(
            f"the daemon did not answer within {settings.timeout:g} s ({exc})",
            "see 'credhelper status' and the daemon's log",
            profile=profile,
        ) from None
    except transport.DaemonUnavailable:
        return None, False
    document = reply.get("credentials")
    if reply.get("ok") and isinstance(document, dict):
        return from_document(document), True
    if reply.get("fallback") or not isinstance(reply.get("error"), str):
        return None, True
    raise refusal(reply)


def refusal(reply: dict[str, object]) -> DaemonSaid:
    """The daemon's error reply as the error to raise: its line, its exit code (1 unless it
    names one a process can exit with)."""
    code = reply.get("exit_code")
    return DaemonSaid(
        str(reply.get("error")), exit_code=code if isinstance(code, int) and 0 < code < 128 else 1
    )


class DaemonSaid(CredhelperError):
    """The daemon's own error line, shown as it is (it names the profile already)."""

    def line(self) -> str:
        text = self.message.strip()
        return text if text.startswith("credhelper: ") else f"credhelper: {text}"


def from_document(document: dict[str, object]) -> Credentials:
    """Credentials from a credential_process document (what the daemon serves); ValueError
    if it is not a complete one."""
    return codec.decode(dict(document))
