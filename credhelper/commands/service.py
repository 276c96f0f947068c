"""``credhelper service install|uninstall|status``: the daemon under the OS service manager
(systemd user units, a launchd agent, a Task Scheduler task); see :mod:`credhelper.service`."""

from __future__ import annotations

import argparse

from credhelper import service
from credhelper.context import Context


def run(args: argparse.Namespace, ctx: Context) -> int:
    return service.run(args.action)
