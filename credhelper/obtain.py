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

from credhelper import protocol, recursion, rundir, transport
from credhelper.context import Context
from credhelper.credentials import Credentials, parse_time
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)

#: Beyond the call's time limit, how long the daemon's answer may take to arrive.
REPLY_SLACK = 2.0


def credentials(profile: str, ctx: Context, min_ttl: float | None = None) -> Credentials:
    """``profile``'s session with more than ``min_ttl`` seconds left (the settings' floor by
    default); CredhelperError naming the profile otherwise."""
    from credhelper.commands.process import bounded, resolve
    from credhelper.deadline import Deadline

    settings = ctx.settings
    started = time.monotonic()
    running = False
    if settings.use_daemon and recursion.depth() == 0:
        creds, running = from_daemon(profile, ctx, min_ttl)
        if creds is not None:
            return creds
    if min_ttl is not None:
        import dataclasses

        ctx = dataclasses.replace(ctx, settings=settings.replace(min_ttl=min_ttl))
    deadline = Deadline(max(0.0, settings.timeout - (time.monotonic() - started)))
    creds = bounded(lambda: resolve(profile, ctx), deadline)
    if settings.use_daemon and settings.autostart and not running:
        from credhelper.daemon.launch import start_in_background

        start_in_background()
    return creds


def from_daemon(
    profile: str, ctx: Context, min_ttl: float | None = None
) -> tuple[Credentials | None, bool]:
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
        "min_ttl": settings.min_ttl if min_ttl is None else min_ttl,
        "timeout": settings.timeout,
        "context": protocol.context(),
    }
    try:
        reply = transport.call(
            request,
            timeout=settings.timeout + REPLY_SLACK,
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
    error = reply.get("error")
    if reply.get("fallback") or not isinstance(error, str):
        return None, True
    code = reply.get("exit_code")
    raise DaemonSaid(error, exit_code=code if isinstance(code, int) and 0 < code < 128 else 1)


class DaemonSaid(CredhelperError):
    """The daemon's own error line, shown as it is (it names the profile already)."""

    def line(self) -> str:
        text = self.message.strip()
        return text if text.startswith("credhelper: ") else f"credhelper: {text}"


def from_document(document: dict[str, object]) -> Credentials:
    """Credentials from a credential_process document (what the daemon serves)."""
    expiration = document.get("Expiration")
    token = document.get("SessionToken")
    return Credentials(
        str(document["AccessKeyId"]),
        str(document["SecretAccessKey"]),
        str(token) if token else None,
        parse_time(expiration) if isinstance(expiration, str) else None,
    )
