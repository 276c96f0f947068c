"""A Secret Service (gnome-keyring) of one test's own, on a D-Bus session bus of its own.

Why: a test that hammers the keyring while it kill -9s the keyring's clients can crash
gnome-keyring-daemon itself (42.x has been seen to die under concurrent writes of one item).
On the session's shared Secret Service that would fail every later test, and a new, locked
one would be D-Bus-activated. Here the bus has no activation, the crash stays within the
test, which can tell it from a credhelper bug and restart the service: the keyring file,
saved on every change, is unlocked again with the same password.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["SecretService"]

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SecretService:
    """``start()``, then point clients at ``address`` (DBUS_SESSION_BUS_ADDRESS)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.data = self.root / "data"
        self.log_path = self.root / "gnome-keyring.log"
        self.address = ""
        self.restarts = 0
        self._password = secrets.token_urlsafe(18)
        self._runtime = ""  # short: a Unix socket path has ~100 characters at most
        self._bus: subprocess.Popen[bytes] | None = None
        self._keyring: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> SecretService:
        self.data.mkdir(parents=True, exist_ok=True)
        self._runtime = tempfile.mkdtemp(prefix="chss-")
        os.chmod(self._runtime, 0o700)
        config = self.root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket_dir=self._runtime))
        self._bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._bus.stdout is not None
        self.address = self._bus.stdout.readline().decode().strip()
        assert self.address.startswith("unix:"), "dbus-daemon printed no address"
        self._start_keyring(timeout)
        return self

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GNOME_KEYRING")}
        env.update(
            DBUS_SESSION_BUS_ADDRESS=self.address,
            XDG_DATA_HOME=str(self.data),
            XDG_RUNTIME_DIR=self._runtime,
        )
        return env

    def _start_keyring(self, timeout: float) -> None:
        with open(self.log_path, "ab") as log:
            self._keyring = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                env=self._env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        assert self._keyring.stdin is not None
        self._keyring.stdin.write(self._password.encode())  # creates or unlocks "login"
        self._keyring.stdin.close()
        deadline = time.monotonic() + timeout
        while not self._owns_name():
            assert self.alive(), f"gnome-keyring-daemon exited:\n{self.log()}"
            assert time.monotonic() < deadline, "no Secret Service on the private bus"
            time.sleep(0.02)

    def _owns_name(self) -> bool:
        result = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=10,
        )
        return "boolean true" in result.stdout

    @property
    def pid(self) -> int | None:
        return self._keyring.pid if self._keyring is not None else None

    @property
    def returncode(self) -> int | None:
        """gnome-keyring-daemon's exit status (negative: the signal), None while it runs."""
        return self._keyring.poll() if self._keyring is not None else None

    def alive(self) -> bool:
        return self._keyring is not None and self._keyring.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def restart(self, timeout: float = 20.0) -> None:
        """A new gnome-keyring-daemon on the same bus and keyring file (after it died)."""
        if self._keyring is not None and self._keyring.poll() is None:
            self._keyring.kill()
        if self._keyring is not None:
            self._keyring.wait()
        self.restarts += 1
        self._start_keyring(timeout)

    def stop(self) -> None:
        for proc in (self._keyring, self._bus):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._bus is not None and self._bus.stdout is not None:
            self._bus.stdout.close()
        if self._runtime:
            shutil.rmtree(self._runtime, ignore_errors=True)

    def __enter__(self) -> SecretService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
