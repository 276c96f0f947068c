"""``credhelper serve PROFILE [--port N] [--bind ADDR]``: the container-credentials endpoint
of ``exec``, for programs started elsewhere (a Docker container, a tool that runs no
credential process). Prints the two variables to give them, and serves until interrupted;
the token stops working when it stops.

Loopback only unless ``--bind`` names another address, which is warned about: whoever can
reach it and holds the token gets the role's sessions.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
from typing import Any

from credhelper.commands.exec import FULL_URI, TOKEN
from credhelper.context import Context
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)


def run(args: argparse.Namespace, ctx: Context) -> int:
    profile: str = args.profile
    bind: str = args.bind
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        raise CredhelperError(
            f"--bind {bind!r} is not an IP address", "e.g. --bind 127.0.0.1", exit_code=2
        ) from None
    if not address.is_loopback:
        log.warning(
            "warning: serving %s's credentials on %s: anyone who can reach it and holds the "
            "token gets them; SDKs take a plain-HTTP endpoint from loopback addresses only",
            profile,
            bind,
        )
    from credhelper.endpoint_client import open_endpoint

    grant = open_endpoint(profile, ctx, bind=bind, port=args.port)
    stop = threading.Event()

    def stopped(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stopped)
    try:
        print(f"{FULL_URI}={grant.url}")
        print(f"{TOKEN}={grant.token}")
        sys.stdout.flush()
        print(f"credhelper: serving '{profile}' until interrupted (Ctrl-C)", file=sys.stderr)
        closed = threading.Event()
        threading.Thread(
            target=_until_closed, args=(grant.connection, closed, stop), daemon=True
        ).start()
        stop.wait()
        if not closed.is_set():
            return 0
        raise CredhelperError(
            "the daemon stopped: the endpoint is gone", "run 'credhelper serve' again",
            profile=profile,
        )
    finally:
        grant.close()


def _until_closed(connection: Any, closed: threading.Event, stop: threading.Event) -> None:
    """Return when the daemon closes the connection (it stopped); the grant is gone then."""
    try:
        while connection.recv(4096):
            pass
    except OSError:
        pass
    closed.set()
    stop.set()
