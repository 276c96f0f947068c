"""The ``__main__`` of credhelper's zipapp (``packaging/single_file/build``; the build fills
in BUILD_ID).

The zipapp holds this file and ``payload.zip`` (credhelper and its dependencies, as a wheel
install lays them out). botocore reads its data files from the file system, so the payload is
unpacked once per build into the user's cache folder, and the run imports from there, with
cached bytecode, as from a site-packages. ``process`` goes through the wired launcher's
client: on a daemon hit that imports ``os``, ``_socket`` and credhelper's runtime-folder
checks, nothing else. Standard library only, and as little of it as can
be: this runs on every call.
"""

import os
import sys

BUILD_ID = "@BUILD_ID@"


def _cache_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "credhelper", "pyz")


def _unpack(archive: str, target: str) -> None:
    """Unpack the payload into ``target`` (private folders, atomic rename: concurrent first
    runs each unpack, one wins, none sees a half-written folder)."""
    import shutil
    import tempfile
    import zipfile

    parent = os.path.dirname(target)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".unpack-", dir=parent)
    try:
        with zipfile.ZipFile(archive) as outer, outer.open("payload.zip") as inner:
            with zipfile.ZipFile(inner) as payload:
                payload.extractall(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not os.path.isdir(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _site() -> str:
    archive = os.path.abspath(sys.argv[0])
    target = os.path.join(_cache_root(), BUILD_ID)
    if not os.path.isdir(target):
        _unpack(archive, target)
    # Code runs from there: it must be this user's own folder, which nobody else can write
    # (a shared XDG_CACHE_HOME could otherwise hold someone else's "payload").
    info = os.stat(target)
    getuid = getattr(os, "getuid", None)
    if (getuid and info.st_uid != getuid()) or info.st_mode & 0o022:
        sys.stderr.write(f"credhelper: not running from {target}: it is not yours, or others "
                         "can write to it; remove it and run again\n")
        sys.exit(2)
    return target


def _path() -> None:
    """sys.path: the zipapp out (nothing more to import from it), the payload in where a
    site-packages would go: after the standard library, before any site-packages of the
    interpreter (run without -S, its own boto3 must not win over the payload's)."""
    site = _site()
    del sys.path[0]
    for i, entry in enumerate(sys.path):
        if os.path.basename(entry) in ("site-packages", "dist-packages"):
            sys.path.insert(i, site)
            return
    sys.path.append(site)


def _run() -> int:
    _path()
    args = sys.argv[1:]
    if args[:1] == ["process"]:
        # As the wired launcher: a daemon hit through credhelper.lean_client (os, _socket and
        # credhelper's runtime-folder checks); anything else is the full command line, here.
        from credhelper import lean_client

        def full(rest: "list[str]") -> int:
            from credhelper.cli import main

            return main(["process", *rest])

        return lean_client.main(args[1:], fallback=full)
    from credhelper.cli import main

    return main(args)


sys.exit(_run())
