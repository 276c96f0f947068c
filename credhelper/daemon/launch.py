"""Start the daemon detached, for next time, from a ``credhelper process`` that had none."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)

MAX_LOG = 5 * 1024 * 1024


def start_in_background() -> None:
    """Spawn ``credhelper daemon`` in its own session, logging to the user log folder.

    Its stdout and stderr must not be ours: botocore reads our pipes until they close, so an
    inherited pipe would make the SDK wait for the daemon to exit.
    """
    from credhelper.errors import CredhelperError
    from credhelper.paths import log_dir

    try:
        from credhelper.daemon import instance
        from credhelper.paths import runtime_dir

        if instance.held(runtime_dir()):
            log.debug("a daemon is running or starting; not starting another")
            return
    except CredhelperError as exc:
        log.warning("warning: not starting the credhelper daemon: %s", exc.message)
        return
    try:
        path = log_dir() / "daemon.log"
        if path.exists() and path.stat().st_size > MAX_LOG:
            os.replace(path, path.with_suffix(".log.1"))
        from credhelper.packaged import single_file
        from credhelper.recursion import DEPTH_VAR, HELD_VAR

        command = [*(single_file() or [sys.executable, "-m", "credhelper"]), "daemon"]
        env = {k: v for k, v in os.environ.items() if k not in (DEPTH_VAR, HELD_VAR)}
        with open(path, "ab") as out:
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                close_fds=True,
                cwd="/",
                env=env,
            )
        log.debug("started the daemon; its log is %s", path)
    except OSError as exc:
        log.warning("warning: could not start the daemon (%s)", exc)
