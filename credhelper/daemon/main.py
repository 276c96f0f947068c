"""``credhelper daemon``: one per user, in the foreground, until SIGTERM or ``daemon stop``.

The lifecycle: the listening socket (our own, or systemd's through ``LISTEN_FDS``),
hardening, the parts wired together and served, an orderly stop; and ``daemon stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading

from credhelper import children, protocol, transport
from credhelper.context import Context
from credhelper.daemon import instance
from credhelper.daemon.endpoint import Endpoint
from credhelper.daemon.environments import Environments
from credhelper.daemon.server import Server
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3


def _listening_socket(path: str) -> tuple[socket.socket, bool]:
    """A socket passed by systemd (``LISTEN_FDS``), or our own; True if we created it."""
    if (
        os.environ.get("LISTEN_PID") == str(os.getpid())
        and int(os.environ.get("LISTEN_FDS", "0")) >= 1
    ):
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
        sock = socket.socket(fileno=SD_LISTEN_FDS_START)
        sock.setblocking(False)
        log.info("using the socket passed by the service manager")
        return sock, False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # stale: the lock we hold proves no daemon owns it
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    # As deep a queue as the system allows: a burst of callers waits for us, not the slow path.
    sock.listen(socket.SOMAXCONN)
    sock.setblocking(False)
    return sock, True


class Daemon:
    """The environments served (each: its sessions, their fetching, reconciliation after
    config edits, MFA warnings; the daemon's own also its index and reload) and the socket
    they are served on; ``serve`` runs them until a stop is asked."""

    def __init__(self, ctx: Context) -> None:
        self.settings = ctx.settings
        self.environments = Environments(ctx)

    async def serve(self, sock: socket.socket, socket_path: str) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        endpoint = Endpoint(self.settings.min_ttl, self.settings.timeout)
        server = Server(
            self.environments, stopping.set, socket_path, self.settings.timeout, endpoint
        )
        listener = await asyncio.start_unix_server(
            server.handle, sock=sock, limit=protocol.MAX_MESSAGE, backlog=socket.SOMAXCONN
        )
        log.info("credhelper daemon %d listening on %s", os.getpid(), socket_path)
        self.environments.start(loop)
        try:
            await stopping.wait()
        finally:
            log.info("stopping")
            listener.close()
            await endpoint.close()
            killed = children.kill_all()
            if killed:
                log.info("killed %d source program(s) still running", killed)
            await self.environments.close()


def _harden() -> None:
    """No core dumps, and not readable by ptrace or /proc of same-uid processes that are not
    our ancestors (as ssh-agent does): the daemon holds every session in memory."""
    import resource
    import sys

    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_dumpable = 4
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(pr_set_dumpable, 0, 0, 0, 0) != 0:
                log.warning("could not make the daemon non-dumpable (errno %d)", ctypes.get_errno())
        except (OSError, AttributeError) as exc:
            log.warning("could not make the daemon non-dumpable (%s)", exc)


def run(ctx: Context) -> int:
    """Serve until stopped, in ``ctx`` (its prompt is replaced: the daemon never asks)."""
    import dataclasses

    from credhelper import rundir as runtime
    from credhelper.daemon.fetching import no_prompt
    from credhelper.paths import runtime_dir

    ctx = dataclasses.replace(ctx, ask=no_prompt)
    _harden()
    # (Children, a source profile's own credential_process, never ask us: their
    # recursion marks say so, see credhelper.recursion.)
    children.isolate = True
    warning = runtime.choose()[1]
    if warning:
        log.warning("warning: %s", warning)
    rundir = runtime_dir()  # refuses a folder that may be someone else's
    path = str(rundir / protocol.SOCKET_NAME)
    with instance.single_instance(rundir):
        sock, ours = _listening_socket(path)
        try:
            asyncio.run(Daemon(ctx).serve(sock, path))
        finally:
            if ours:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
    log.info("stopped")
    if threading.active_count() > 1:
        # A fetch may still be running on a worker thread (a daemon thread: it may be stuck in
        # a source's program or a D-Bus call). Letting the interpreter finalize under it can
        # abort the process (glibc: "exception not rethrown" as CPython ends such threads), so
        # leave now: the socket and the lock are released, and an interrupted keyring write
        # leaves the old entry whole (pieces first, head last).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, exited but not yet reaped by its parent, does
    not: a service manager or a test may be slow to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def stop(timeout: float = 10.0) -> int:
    """Ask the running daemon to stop and wait until it has."""
    import time

    try:
        reply = transport.call({"op": "stop"}, timeout=timeout)
    except transport.DaemonUnavailable:
        print("credhelper: no daemon is running")
        return 0
    pid = reply.get("pid")
    deadline = time.monotonic() + timeout
    while isinstance(pid, int) and time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.05)
    else:
        if isinstance(pid, int):  # never claim it stopped when it is still there
            raise CredhelperError(
                f"daemon {pid} was asked to stop but is still running after {timeout:g} s",
                "it may be finishing an STS call; see its log, or kill it",
            )
    print(f"credhelper: daemon {pid} stopped")
    return 0
