"""Run a real ``credhelper daemon`` for one test and talk to its socket with raw bytes.

Why: the daemon tests must see what a user would see (the socket, the log, the exit code)
without mocks, and must be able to send frames no well-behaved client would send.
Standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

from .awsenv import AwsEnv

__all__ = [
    "DaemonProc",
    "Daemons",
    "exchange",
    "send_request",
    "socket_path",
    "start_daemon",
    "wait_until",
]

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def socket_path(env: AwsEnv) -> Path:
    """Where the daemon of this environment listens (XDG_RUNTIME_DIR is private, 0700)."""
    return env.runtime_dir / "credhelper" / "daemon.sock"


def exchange(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    shutdown: bool = True,
    timeout: float = 10.0,
    limit: int = 1 << 20,
) -> bytes:
    """Send raw bytes, optionally half-close, and read until the daemon closes (or a line)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(os.fspath(path))
        try:
            sock.sendall(data)
            if shutdown:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may answer and close before reading everything we send
        chunks: list[bytes] = []
        size = 0
        while size < limit:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if chunk.endswith(b"\n"):
                break
        return b"".join(chunks)


def send_request(path: str | os.PathLike[str], message: Mapping[str, Any], **kw: Any) -> dict:
    """One well-formed request (protocol version added unless given); the decoded reply."""
    doc = {"v": 1, **message}
    reply = exchange(path, json.dumps(doc).encode() + b"\n", **kw)
    return json.loads(reply)


class DaemonProc:
    """A ``credhelper daemon`` child with its stderr (its log) in a file."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path, sock: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self.socket = sock

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ping(self, timeout: float = 5.0) -> dict | None:
        """The daemon's ping reply, or None when nothing answers."""
        try:
            return send_request(self.socket, {"op": "ping"}, timeout=timeout)
        except (OSError, ValueError):
            return None

    def status(self) -> dict:
        reply = send_request(self.socket, {"op": "status"})
        assert reply.get("ok"), reply
        return reply

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            reply = self.ping(timeout=2)
            return bool(reply and reply.get("pid") == self.pid)

        wait_until(ready, timeout, what="the daemon to answer ping")

    def terminate(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"daemon ignored SIGTERM for {timeout:g} s:\n{self.log()}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def start_daemon(
    env: AwsEnv,
    log_path: Path,
    extra_env: Mapping[str, str | None] | None = None,
    argv: Sequence[str] = ("credhelper", "daemon"),
    wait: bool = True,
    **popen: Any,
) -> DaemonProc:
    """Start ``credhelper daemon`` in ``env`` (stderr to ``log_path``) and wait for ping."""
    child_env = env.env_with(**dict(extra_env or {}))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            env=child_env,
            cwd=env.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            **popen,
        )
    daemon = DaemonProc(proc, log_path, socket_path(env))
    if wait:
        daemon.wait_ready()
    return daemon


#: Put the service manager's socket on fd 3, say so, and become the daemon (same pid).
ACTIVATE = (
    "import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); os.close(fd); "
    "os.environ['LISTEN_FDS'] = '1'; os.environ['LISTEN_PID'] = str(os.getpid()); "
    "os.execvp(sys.argv[2], sys.argv[2:])"
)


class Daemons:
    """The daemons a test starts (all logging to one file), stopped and checked afterwards."""

    def __init__(self, env: AwsEnv, log: Path) -> None:
        self.env = env
        self.log = log
        self.started: list[DaemonProc] = []

    def __call__(self, **extra_env: str) -> DaemonProc:
        """``credhelper daemon``, as a service manager without socket activation runs it."""
        proc = start_daemon(self.env, self.log, extra_env)
        self.started.append(proc)
        return proc

    def socket_activated(self, listener: socket.socket, **extra_env: str | None) -> DaemonProc:
        """``credhelper daemon`` handed ``listener`` as fd 3 (LISTEN_FDS=1, LISTEN_PID=pid)."""
        fd = os.dup(listener.fileno())
        try:
            proc = start_daemon(
                self.env,
                self.log,
                extra_env,
                argv=[sys.executable, "-c", ACTIVATE, str(fd), "credhelper", "daemon"],
                pass_fds=(fd,),
                wait=False,
            )
        finally:
            os.close(fd)
        self.started.append(proc)
        return proc

    def text(self) -> str:
        """Everything the daemons logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def close(self) -> None:
        codes = [proc.terminate() for proc in self.started]
        # SIGTERM, `daemon stop` (0) or the test's own kill -9: never a crash, never a traceback
        assert set(codes) <= {0, -signal.SIGKILL}, codes
        text = self.text()
        print(f"--- daemon log {self.log} (last 6000 characters) ---\n{text[-6000:]}")
        assert "Traceback" not in text, text
