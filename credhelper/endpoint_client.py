"""Asking the daemon for a container-credentials endpoint (``credhelper exec``, ``serve``).

The grant lasts as long as the returned connection stays open: close it (or exit, however)
and the token stops working. The daemon is started if none runs (the endpoint is its job);
a profile only the caller can resolve (an MFA code to type, keys in the caller's own
environment) is resolved in-process first, which caches what the daemon then serves.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field

from credhelper import hotpath, protocol, transport
from credhelper.context import Context
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)

#: How long a daemon started here has to answer.
START_WAIT = 15.0


@dataclass
class Grant:
    url: str
    token: str = field(repr=False)
    #: The connection that holds the grant: closing it revokes the token.
    connection: socket.socket = field(repr=False)

    def close(self) -> None:
        self.connection.close()


def open_endpoint(profile: str, ctx: Context, bind: str = "127.0.0.1", port: int = 0) -> Grant:
    """A grant for ``profile``; CredhelperError (naming it) when none can be had."""
    settings = ctx.settings
    if not settings.use_daemon:
        raise CredhelperError(
            "the endpoint is served by the daemon, and CREDHELPER_NO_DAEMON is set",
            "unset it, or use --env for plain variables",
            profile=profile,
        )
    request = {
        "op": "endpoint",
        "profile": profile,
        "timeout": settings.timeout,
        "bind": bind,
        "port": port,
        "context": protocol.context(),
    }
    resolved = False
    while True:
        reply, connection = _ask(request, settings.timeout, profile, settings.autostart)
        if reply.get("ok") and isinstance(reply.get("url"), str):
            return Grant(str(reply["url"]), str(reply.get("token")), connection)
        connection.close()
        error = str(reply.get("error") or "no endpoint")
        if reply.get("fallback") and not resolved:
            # Only we can do it (a code to type...): do it here (the daemon said so: not
            # asked again), and it serves the session that cached.
            from credhelper.commands.process import bounded, resolve
            from credhelper.deadline import Deadline

            log.info("%s: resolving in-process first (%s)", profile, error)
            bounded(lambda: resolve(profile, ctx), Deadline(settings.timeout))
            resolved = True
            continue
        if error.startswith("credhelper: "):
            from credhelper.obtain import refusal

            raise refusal(reply)
        raise CredhelperError(f"the daemon gave no endpoint: {error}", profile=profile)


def _ask(
    request: dict[str, object], timeout: float, profile: str, autostart: bool
) -> tuple[dict[str, object], socket.socket]:
    started = False
    deadline = time.monotonic() + timeout + START_WAIT
    while True:
        try:
            return transport.hold(request, timeout=timeout + hotpath.REPLY_SLACK)
        except transport.Untrusted as exc:
            raise CredhelperError(
                f"not asking the daemon: {exc}",
                "see 'Trust' in docs/security.md; --env gives plain variables",
                profile=profile,
            ) from None
        except transport.DaemonTimedOut as exc:
            raise CredhelperError(
                f"the daemon did not answer ({exc})",
                "see 'credhelper status' and the daemon's log",
                profile=profile,
            ) from None
        except transport.DaemonUnavailable:
            if not autostart:
                raise CredhelperError(
                    "no credhelper daemon is running (and CREDHELPER_AUTOSTART=0)",
                    "start one with 'credhelper daemon', or use --env for plain variables",
                    profile=profile,
                ) from None
            if not started:
                from credhelper.daemon.launch import start_in_background

                start_in_background()
                started = True
            if time.monotonic() > deadline:
                raise CredhelperError(
                    "no credhelper daemon answers, and none could be started",
                    "see its log, or run 'credhelper daemon'",
                    profile=profile,
                ) from None
            time.sleep(0.1)
