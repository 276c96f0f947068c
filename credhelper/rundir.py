"""The per-user runtime folder (the daemon's socket, its locks), and whether to trust it.

Standard library only: the hot path checks the folder before it talks to the daemon.

Another local user must not be able to stand in for our daemon. Where there is no private
``XDG_RUNTIME_DIR`` (cron, ssh without pam_systemd, containers, CI runners) the folder lives
under the shared temporary directory, where anyone could create it first, own a folder on the
way to it, or plant a symlink. So, as ssh-agent and gpg-agent do, every folder on the way is
checked: the ones we own must be ours alone (no group/other access, not a symlink); the ones
above must belong to us or root and be writable by nobody else, unless sticky (``/tmp``).
"""

from __future__ import annotations

import os
import stat
import sys

#: Set to use another runtime folder (tests; several daemons side by side).
OVERRIDE_VAR = "CREDHELPER_RUNTIME_DIR"


class Untrusted(Exception):
    """The runtime folder (or the socket in it) could belong to someone else; the text says
    which part and why, for the user."""


def _private(path: str, uid: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and st.st_mode & 0o077 == 0


def choose() -> tuple[str, str | None]:
    """(the folder, a warning to show or None).

    ``platformdirs.user_runtime_dir("credhelper")`` with one difference: an
    ``XDG_RUNTIME_DIR`` that is not private is not used, and the user is told, rather than
    silently moved elsewhere.
    """
    override = os.environ.get(OVERRIDE_VAR)
    if override:
        return override, None
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/TemporaryItems/credhelper"), None
    uid = os.geteuid()
    warning = None
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if xdg:
        if os.path.isabs(xdg) and _private(xdg, uid):
            return os.path.join(xdg, "credhelper"), None
        warning = (
            f"XDG_RUNTIME_DIR={xdg} is not a private folder (a folder owned by you, mode 0700, "
            "not a symlink), so it is not used; fix it (or unset it) to use it"
        )
    run_user = f"/run/user/{uid}"
    if _private(run_user, uid):
        return os.path.join(run_user, "credhelper"), warning
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(tmp, f"runtime-{uid}", "credhelper"), warning


def _own_part(path: str) -> tuple[str, list[str]]:
    """(the folder above the part we create, the folders we create, outermost first)."""
    override = os.environ.get(OVERRIDE_VAR)
    if override:
        return os.path.dirname(path.rstrip("/")), [path]
    parent = os.path.dirname(path)
    if os.path.basename(parent).startswith("runtime-"):  # the shared-tmp fallback
        return os.path.dirname(parent), [parent, path]
    return parent, [path]


def check(path: str, uid: int | None = None) -> None:
    """Raise Untrusted unless ``path`` and every folder above it are safe (see module doc);
    FileNotFoundError if a part is missing (then there is no daemon to trust)."""
    uid = os.geteuid() if uid is None else uid
    path = os.path.abspath(path)
    top, ours = _own_part(path)
    for folder in ours:
        _check_own(folder, uid)
    _check_ancestors(top, uid)


def _describe(st: os.stat_result) -> str:
    return f"owned by uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o}"


def _lstat(path: str) -> os.stat_result:
    """FileNotFoundError as is (nothing there: no daemon), any other failure as Untrusted."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise Untrusted(f"{path} cannot be checked ({exc.strerror})") from None


def _check_own(folder: str, uid: int) -> None:
    st = _lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        raise Untrusted(f"{folder} is a symlink ({_describe(st)})")
    if not stat.S_ISDIR(st.st_mode):
        raise Untrusted(f"{folder} is not a folder")
    if st.st_uid != uid:
        raise Untrusted(f"{folder} belongs to someone else ({_describe(st)})")
    if st.st_mode & 0o077:
        raise Untrusted(f"{folder} is open to other users ({_describe(st)})")


def _check_ancestors(top: str, uid: int) -> None:
    """Every folder from ``top`` up to ``/``: ours or root's, writable by nobody else unless
    sticky; a symlink only if root owns it (macOS's /tmp and /var are root's links)."""
    current = top
    while True:
        st = _lstat(current)
        if st.st_uid not in (0, uid):
            raise Untrusted(f"{current} belongs to someone else ({_describe(st)})")
        if stat.S_ISLNK(st.st_mode):
            if st.st_uid != 0:
                raise Untrusted(f"{current} is a symlink ({_describe(st)})")
            target = os.path.realpath(current)
            _check_ancestors(target, uid)
        elif st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            raise Untrusted(f"{current} is writable by other users ({_describe(st)})")
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent


def ensure(path: str) -> str:
    """Create the folders we own (0700), then check the whole chain; Untrusted if unsafe.

    ``mkdir`` never follows a symlink at the final component, and an existing folder is
    checked with ``lstat``, so a name planted by someone else is refused, never used.
    """
    uid = os.geteuid()
    path = os.path.abspath(path)
    top, ours = _own_part(path)
    _check_ancestors(top, uid)
    for folder in ours:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(folder)
        if (
            stat.S_ISDIR(st.st_mode)
            and st.st_uid == uid
            and st.st_mode & 0o077
            and not stat.S_ISLNK(st.st_mode)
        ):
            # Ours but too open (an old umask, a test): tighten it through a descriptor that
            # cannot have been swapped for a symlink.
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                if os.fstat(fd).st_uid == uid:
                    os.fchmod(fd, 0o700)
            finally:
                os.close(fd)
        _check_own(folder, uid)
    return path


def check_socket(path: str, uid: int | None = None) -> None:
    """The socket file itself: a socket, ours, not a symlink (before we connect)."""
    uid = os.geteuid() if uid is None else uid
    st = os.lstat(path)  # FileNotFoundError: no daemon, which is not a trust problem
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISSOCK(st.st_mode):
        raise Untrusted(f"{path} is not a socket")
    if st.st_uid != uid:
        raise Untrusted(f"{path} belongs to someone else ({_describe(st)})")
