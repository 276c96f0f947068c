"""The command that runs this same credhelper again, when it runs as a single file.

A single-file build (``packaging/single_file/build``: a shiv zipapp, or a PyInstaller
executable) has no ``python -m credhelper`` to run and no launcher file worth wiring: the
package lives inside the file (or in the cache the zipapp unpacks into). The daemon it starts,
the ``credential_process`` that ``wire`` writes and the service ``service install`` writes must
run the file itself. Standard library only; never imported on the hot path.
"""

from __future__ import annotations

import os
import sys


def single_file() -> list[str] | None:
    """The argv prefix that runs this single file (then COMMAND ARGS), or None when
    credhelper is an ordinary installed package."""
    if getattr(sys, "frozen", False):  # PyInstaller: the executable is credhelper itself
        return [os.path.abspath(sys.executable)]
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 and not argv0.endswith(".py") and os.path.isfile(argv0):
        import zipfile

        if zipfile.is_zipfile(argv0):
            # A zipapp: the same interpreter runs it again, with the start its shebang gives
            # it (no site: the zipapp puts its own packages on sys.path).
            return [sys.executable, "-I", "-S", os.path.abspath(argv0)]
    return None
