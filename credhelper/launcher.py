"""The launcher: what ``credhelper wire`` writes as ``credential_process``.

    /abs/python -I -S /abs/site-packages/credhelper/launcher.py PROFILE

``-I`` (no PYTHONPATH, no user site, not this file's folder on sys.path) and ``-S`` (no
``site``: no site-packages, no .pth files) make the interpreter start with next to nothing,
so the package is not importable by name: this file appends its package's parent folder to
``sys.path``, after the standard library, so that nothing there can shadow it. The work is in
:mod:`credhelper.lean_client`; this file stays this small because a script run by path is
compiled on every run, a module imported is read from its cached bytecode.

Its path is part of every ``credential_process`` that ``wire`` wrote: keep the name.
"""

import os
import sys

if __name__ == "__main__":
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from credhelper.lean_client import main

    sys.exit(main(sys.argv[1:]))
