"""``credhelper process PROFILE``: print credential_process JSON for a profile.

The daemon answers first (:mod:`credhelper.hotpath`, tried by the CLI before anything else is
imported); this is the path that follows when it cannot: resolve in-process (config, keyring
cache, STS) within the call's one deadline, print, and start the daemon for next time.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from typing import Callable, TypeVar

from credhelper import children, hotpath, recursion, rundir
from credhelper import deadline as deadlines
from credhelper.context import Context
from credhelper.credentials import Credentials
from credhelper.deadline import Deadline

log = logging.getLogger(__name__)

T = TypeVar("T")

def resolve(profile: str, ctx: Context) -> Credentials:
    """The in-process path: config, keyring cache, STS."""
    from credhelper.chain import build_chain

    recursion.check()
    return build_chain(profile, ctx).fetch().credentials


def bounded(work: Callable[[], T], deadline: Deadline) -> T:
    """``work()`` on a worker thread, waited for until ``deadline``; then its error, or the
    deadline's (naming the step that was running), and the source programs it started are
    killed. The worker dies with the process; a session lock it held goes with it."""
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


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Daemon first (unless disabled), else in-process; then start the daemon for next time."""
    profile: str = args.profile
    settings = ctx.settings
    use_daemon = settings.use_daemon and not args.no_daemon
    asked = ctx.asked
    if use_daemon and asked is None:  # flags on the command line: the CLI did not ask yet
        asked = hotpath.ask_daemon(profile, args.min_ttl)
        if asked.exit_code is not None:
            return asked.exit_code
    asked = asked or hotpath.Asked()
    warning = None if asked.warned else rundir.choose()[1]
    if use_daemon and (warning or asked.distrust):
        log.warning(
            "warning: not using the credhelper daemon: %s; resolving in-process",
            asked.distrust or warning,
        )
    spent = time.monotonic() - asked.started if asked.started is not None else 0.0
    deadline = Deadline(max(0.0, settings.timeout - spent))
    creds = bounded(lambda: resolve(profile, ctx), deadline)
    hotpath.emit(creds.process_output())
    if use_daemon and settings.autostart and not asked.running and not asked.distrust:
        from credhelper.daemon.launch import start_in_background

        start_in_background()
    return 0
