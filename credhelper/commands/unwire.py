"""``credhelper unwire NAME``: remove the profile ``credhelper wire`` added as NAME (its section,
nothing else); a profile wire did not write is refused, and a second run has nothing to do."""

from __future__ import annotations

import argparse

from credhelper import config_edit
from credhelper.context import Context


def run(args: argparse.Namespace, ctx: Context) -> int:
    name: str = args.name
    path = ctx.files.config_file
    if config_edit.unwire(path, name):
        print(f"removed profile '{name}' from {path}")
    else:
        print(f"nothing to remove: no profile '{name}' in {path}")
    return 0
