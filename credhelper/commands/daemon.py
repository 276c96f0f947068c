"""``credhelper daemon [run|stop]``: the refresher in the foreground (for a service manager,
logging to stderr), or stop the running one."""

from __future__ import annotations

import argparse

from credhelper.context import Context


def run(args: argparse.Namespace, ctx: Context) -> int:
    from credhelper.daemon import main as daemon

    return daemon.stop() if args.action == "stop" else daemon.run(ctx)
