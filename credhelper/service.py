"""``credhelper service {install,uninstall,status}``: run the daemon under the OS service manager.

The definitions live as templates in ``service/`` (shipped as ``credhelper.service_files``).
Rendering them is a pure function so tests can check the text; installing writes the files
for the current user and then asks the service manager (systemctl --user, launchctl,
schtasks) to load them. A missing service manager, as in a container, is not an error: the
files are written and the user is told the command to run once it is there.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape

from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)

PACKAGE = "credhelper.service_files"
SYSTEMD_UNITS = ("credhelper.service", "credhelper.socket")
LAUNCHD_PLIST = "com.credhelper.daemon.plist"
LAUNCHD_LABEL = "com.credhelper.daemon"
WINDOWS_TASK_XML = "credhelper-task.xml"
WINDOWS_TASK_NAME = "credhelper"
TEMPLATES = (*SYSTEMD_UNITS, LAUNCHD_PLIST, WINDOWS_TASK_XML)
ACTIONS = ("install", "uninstall", "status")

_PLACEHOLDER = re.compile(r"@[A-Z_]+@")
_SYSTEMD_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_TIMEOUT = 60


# --- rendering ------------------------------------------------------------------------------


def template(name: str) -> str:
    """The raw template text, read as package data so wheels and editable installs agree."""
    from importlib.resources import files

    if name not in TEMPLATES:
        raise ValueError(f"unknown service template {name!r}")
    return files(PACKAGE).joinpath(name).read_text(encoding="utf-8")


def systemd_join(argv: Sequence[str]) -> str:
    """Quote a command for ``ExecStart=``: systemd's syntax is not the shell's.

    Words are double-quoted when needed and ``%`` doubled (specifiers); ``$`` is doubled
    only in arguments, since systemd does not expand variables in the executable path.
    """
    words = []
    for i, word in enumerate(argv):
        if not _SYSTEMD_SAFE.fullmatch(word):
            word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
        word = word.replace("%", "%%")
        if i > 0:
            word = word.replace("$", "$$")
        words.append(word)
    return " ".join(words)


def render(
    name: str, command: Sequence[str], *, home: Path | None = None, user: str | None = None
) -> str:
    """Fill template ``name`` with ``command`` (argv words of credhelper, without ``daemon``).

    ``home`` places the launchd log file (launchd does not expand ``~``); ``user`` is the
    Windows account whose logon starts the task. Both default to the current user.
    """
    if not command:
        raise ValueError("empty credhelper command")
    home = home if home is not None else Path.home()
    text = template(name)
    if name in SYSTEMD_UNITS:
        values = {"@CREDHELPER@": systemd_join(command)}
    elif name == LAUNCHD_PLIST:
        values = {
            "@CREDHELPER_ARGS@": "\n".join(f"    <string>{escape(a)}</string>" for a in command),
            "@LOG_DIR@": escape(str(launchd_log_dir(home))),
        }
    else:
        values = {
            "@COMMAND@": escape(command[0]),
            "@ARGUMENTS@": escape(subprocess.list2cmdline([*command[1:], "daemon"])),
            "@USER@": escape(user or windows_user()),
        }
    text = _PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), text)
    left = _PLACEHOLDER.findall(text)
    if left:
        raise ValueError(f"template {name} has unfilled placeholders: {', '.join(left)}")
    return text


def default_command() -> list[str]:
    """The absolute credhelper command, the same one ``credhelper wire`` writes."""
    from credhelper.config_edit import executable

    return executable()


def windows_user() -> str:
    """``DOMAIN\\user`` as Task Scheduler wants it; just the name when there is no domain."""
    name = os.environ.get("USERNAME") or getpass.getuser()
    domain = os.environ.get("USERDOMAIN")
    return f"{domain}\\{name}" if domain else name


# --- where things go ------------------------------------------------------------------------


def systemd_unit_dir(home: Path) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user``: where ``systemctl --user`` looks for user units."""
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else home / ".config"
    return base / "systemd" / "user"


def launchd_agent_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / LAUNCHD_PLIST


def launchd_log_dir(home: Path) -> Path:
    return home / "Library" / "Logs" / "credhelper"


def windows_task_path(home: Path) -> Path:
    """Next to credhelper's settings: platformdirs' user config dir is ``%LOCALAPPDATA%``."""
    local = os.environ.get("LOCALAPPDATA", "")
    base = Path(local) if local else home / "AppData" / "Local"
    return base / "credhelper" / WINDOWS_TASK_XML


# --- entry point ----------------------------------------------------------------------------


def run(action: str, *, home: Path | None = None) -> int:
    """Install, uninstall or report the daemon's service for the current user and OS.

    Prints what was done and any command the user still has to run. Returns 0, or for
    ``status`` 3 when the service is not (fully) installed or the manager says it is not
    running. Raises ``CredhelperError`` for failures the user must fix.
    """
    if action not in ACTIONS:
        raise CredhelperError(
            f"unknown service action '{action}'",
            f"use one of: {', '.join(ACTIONS)}",
            exit_code=2,
        )
    home = home if home is not None else Path.home()
    if sys.platform.startswith("linux"):
        backend: _Backend = _Systemd(home)
    elif sys.platform == "darwin":
        backend = _Launchd(home)
    elif sys.platform == "win32":
        backend = _TaskScheduler(home)
    else:
        raise CredhelperError(
            f"no service manager support on {sys.platform}",
            "start `credhelper daemon` from your session's startup instead",
        )
    log.debug("service %s on %s under %s", action, sys.platform, home)
    code: int = getattr(backend, action)()
    return code


# --- helpers --------------------------------------------------------------------------------


def _write(path: Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write atomically, mode 0644: a half-written unit must never be loaded."""
    from credhelper import atomic

    try:
        atomic.write(path, text.encode(encoding), mode=0o644)
    except OSError as e:
        raise CredhelperError(
            f"cannot write {path}: {e.strerror or e}",
            f"make sure {path.parent} is a folder you can write to",
        ) from e
    log.info("wrote %s", path)


def _remove(path: Path) -> bool:
    """Remove ``path``; False when it was not there."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as e:
        raise CredhelperError(
            f"cannot remove {path}: {e.strerror or e}", "remove it by hand and run this again"
        ) from e
    log.info("removed %s", path)
    return True


def _which(name: str) -> str | None:
    """Find a service-manager tool on PATH (``name`` or ``name.exe``).

    Not ``shutil.which``: its lookup branches on ``sys.platform`` (PATHEXT, ``_winapi`` on
    3.12+), so it breaks when tests stand in for another OS; these tools need none of that.
    """
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        for candidate in (name, f"{name}.exe"):
            path = os.path.join(folder, candidate)
            if folder and os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return None


def _call(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    """Run a service-manager command; None when it cannot be run at all."""
    exe = _which(argv[0])
    if exe is None:
        log.debug("%s is not on PATH", argv[0])
        return None
    try:
        result = subprocess.run(
            [exe, *argv[1:]], capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        log.debug("%s failed to run: %s", shlex.join(argv), e)
        return None
    log.debug("%s -> %s: %s", shlex.join(argv), result.returncode, result.stderr.strip())
    return result


def _stop_running_daemon(command: Sequence[str]) -> None:
    """Stop a daemon started outside the service manager (``credhelper process`` starts one
    on demand): it holds the single-instance lock, so the managed one would fail and restart.
    """
    argv = [*command, "daemon", "stop"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        log.warning("could not stop a running credhelper daemon: %s", e)
        return
    log.info("%s: %s", shlex.join(argv), (result.stdout or result.stderr).strip())


def _first_line(result: subprocess.CompletedProcess[str]) -> str:
    text = (result.stderr or result.stdout or "").strip()
    return text.splitlines()[0] if text else f"exit status {result.returncode}"


def _report_files(paths: Sequence[Path]) -> bool:
    """Print which files exist; True when all do."""
    present = True
    for path in paths:
        exists = path.is_file()
        present &= exists
        print(f"  {'installed' if exists else 'missing  '}  {path}")
    return present


class _Backend:
    """One OS's files and service-manager calls."""

    def install(self) -> int:
        raise NotImplementedError

    def uninstall(self) -> int:
        raise NotImplementedError

    def status(self) -> int:
        raise NotImplementedError


class _Systemd(_Backend):
    """systemd user units, socket-activated."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = systemd_unit_dir(home)
        self.paths = [self.dir / name for name in SYSTEMD_UNITS]

    def _systemctl(self, *args: str) -> subprocess.CompletedProcess[str] | None:
        return _call(["systemctl", "--user", *args])

    def _manager(self) -> bool:
        """Is there a user manager to talk to? ``daemon-reload`` doubles as the probe."""
        result = self._systemctl("daemon-reload")
        if result is not None and result.returncode != 0:
            log.info("systemctl --user is not usable: %s", _first_line(result))
        return result is not None and result.returncode == 0

    def install(self) -> int:
        command = default_command()
        for name, path in zip(SYSTEMD_UNITS, self.paths):
            _write(path, render(name, command, home=self.home))
        print(f"Installed {', '.join(str(p) for p in self.paths)}")
        if not self._manager():
            print("systemctl --user is not available here; once it is, run:")
            print("  systemctl --user daemon-reload")
            print("  systemctl --user enable --now credhelper.socket")
            return 0
        _stop_running_daemon(command)
        result = self._systemctl("enable", "--now", "credhelper.socket")
        if result is None or result.returncode != 0:
            raise CredhelperError(
                "systemctl --user enable --now credhelper.socket failed: "
                + (_first_line(result) if result else "could not run systemctl"),
                "see `systemctl --user status credhelper.socket`",
            )
        # A daemon of an older unit that ignored ``daemon stop`` gets the new command line.
        self._systemctl("try-restart", "credhelper.service")
        print("Enabled credhelper.socket: the daemon starts on the first request.")
        return 0

    def uninstall(self) -> int:
        manager = _which("systemctl") is not None
        if manager:
            self._systemctl("disable", "--now", *SYSTEMD_UNITS)
        removed = [p for p in self.paths if _remove(p)]
        if manager:
            self._systemctl("daemon-reload")
        if removed:
            print(f"Removed {', '.join(str(p) for p in removed)}")
        else:
            print("credhelper service is not installed.")
        return 0

    def status(self) -> int:
        print("credhelper service (systemd user units):")
        installed = _report_files(self.paths)
        result = self._systemctl("is-active", *SYSTEMD_UNITS)
        states = result.stdout.split() if result is not None else []
        if len(states) != len(SYSTEMD_UNITS):
            print("  systemctl --user is not available here: cannot tell whether it runs.")
            return 0 if installed else 3
        active = dict(zip(SYSTEMD_UNITS, states))
        for name, state in active.items():
            print(f"  {name}: {state}")
        # The service itself is only active once a request has started it.
        return 0 if installed and active["credhelper.socket"] == "active" else 3


class _Launchd(_Backend):
    """A launchd LaunchAgent in the user's GUI domain (where the login keychain is)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = launchd_agent_path(home)
        self.domain = f"gui/{os.getuid()}"

    def install(self) -> int:
        log_dir = launchd_log_dir(self.home)
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CredhelperError(
                f"cannot create {log_dir}: {e.strerror or e}",
                f"make sure {log_dir.parent} is a folder you can write to",
            ) from e
        command = default_command()
        _write(self.path, render(LAUNCHD_PLIST, command, home=self.home))
        print(f"Installed {self.path} (logs: {log_dir / 'daemon.log'})")
        bootstrap = ["launchctl", "bootstrap", self.domain, str(self.path)]
        if _which("launchctl") is None:
            print(f"launchctl is not available here; once it is, run:\n  {shlex.join(bootstrap)}")
            return 0
        # bootstrap refuses an already loaded label: unload the old definition first.
        _call(["launchctl", "bootout", f"{self.domain}/{LAUNCHD_LABEL}"])
        _stop_running_daemon(command)
        result = _call(bootstrap)
        if result is None or result.returncode != 0:
            raise CredhelperError(
                f"{shlex.join(bootstrap)} failed: "
                + (_first_line(result) if result else "could not run launchctl"),
                f"see `launchctl print {self.domain}/{LAUNCHD_LABEL}`",
            )
        print(f"Loaded {LAUNCHD_LABEL}: the daemon runs now and at every login.")
        return 0

    def uninstall(self) -> int:
        _call(["launchctl", "bootout", f"{self.domain}/{LAUNCHD_LABEL}"])
        if _remove(self.path):
            print(f"Removed {self.path}")
        else:
            print("credhelper service is not installed.")
        return 0

    def status(self) -> int:
        print("credhelper service (launchd LaunchAgent):")
        installed = _report_files([self.path])
        if _which("launchctl") is None:
            print("  launchctl is not available here: cannot tell whether it runs.")
            return 0 if installed else 3
        result = _call(["launchctl", "print", f"{self.domain}/{LAUNCHD_LABEL}"])
        if result is None or result.returncode != 0:
            print(f"  {LAUNCHD_LABEL}: not loaded")
            return 3
        running = re.search(r"^\s*state = running\s*$", result.stdout, re.MULTILINE) is not None
        print(f"  {LAUNCHD_LABEL}: loaded, {'running' if running else 'not running'}")
        return 0 if installed and running else 3


class _TaskScheduler(_Backend):
    """A Task Scheduler task started at the user's logon."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = windows_task_path(home)

    def install(self) -> int:
        # UTF-16, as the XML declares: schtasks rejects UTF-8 files that claim otherwise.
        command = default_command()
        _write(self.path, render(WINDOWS_TASK_XML, command), encoding="utf-16")
        print(f"Installed {self.path}")
        create = ["schtasks", "/Create", "/XML", str(self.path), "/TN", WINDOWS_TASK_NAME, "/F"]
        if _which("schtasks") is None:
            shown = subprocess.list2cmdline(create)
            print(f"schtasks is not available here; once it is, run:\n  {shown}")
            return 0
        _stop_running_daemon(command)
        result = _call(create)
        if result is None or result.returncode != 0:
            raise CredhelperError(
                "schtasks /Create failed: "
                + (_first_line(result) if result else "could not run schtasks"),
                f"see `schtasks /Query /TN {WINDOWS_TASK_NAME} /V`",
            )
        _call(["schtasks", "/Run", "/TN", WINDOWS_TASK_NAME])
        print(f"Registered task '{WINDOWS_TASK_NAME}': the daemon runs now and at every logon.")
        return 0

    def uninstall(self) -> int:
        deleted = None
        if _which("schtasks") is not None:
            _call(["schtasks", "/End", "/TN", WINDOWS_TASK_NAME])
            deleted = _call(["schtasks", "/Delete", "/TN", WINDOWS_TASK_NAME, "/F"])
        if deleted is not None and deleted.returncode == 0:
            print(f"Deleted task '{WINDOWS_TASK_NAME}'")
        if _remove(self.path):
            print(f"Removed {self.path}")
        elif deleted is None or deleted.returncode != 0:
            print("credhelper service is not installed.")
        return 0

    def status(self) -> int:
        print("credhelper service (Task Scheduler):")
        installed = _report_files([self.path])
        if _which("schtasks") is None:
            print("  schtasks is not available here: cannot tell whether it runs.")
            return 0 if installed else 3
        result = _call(["schtasks", "/Query", "/TN", WINDOWS_TASK_NAME, "/FO", "LIST"])
        if result is None or result.returncode != 0:
            print(f"  task '{WINDOWS_TASK_NAME}': not registered")
            return 3
        running = "Running" in result.stdout
        print(
            f"  task '{WINDOWS_TASK_NAME}': registered, {'running' if running else 'not running'}"
        )
        return 0 if installed and running else 3
