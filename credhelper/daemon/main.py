"""``credhelper daemon``: one per user, in the foreground, until SIGTERM or ``daemon stop``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any, Callable

from credhelper import children, locking, protocol, transport
from credhelper.credentials import format_time
from credhelper.daemon import instance, threads
from credhelper.daemon.notify import notify
from credhelper.daemon.scheduler import Fetched, PromptNeeded, Scheduler
from credhelper.daemon.server import Server
from credhelper.daemon.watcher import ConfigWatcher
from credhelper.errors import CredhelperError
from credhelper.prompt import CodeRequest
from credhelper.recursion import DEPTH_VAR
from credhelper.settings import Settings

log = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3
MFA_CHECK_INTERVAL = 5.0


def _no_prompt(request: CodeRequest) -> str:
    """The daemon never prompts: the caller's process does, or ``credhelper login``."""
    raise PromptNeeded(
        f"MFA needed: a code for {request.serial}",
        f"run 'credhelper login {request.profile}' in a terminal",
    )


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
    def __init__(self, settings: Settings) -> None:
        from credhelper.store import open_stores

        self.settings = settings
        self.stores = open_stores(settings)
        self.context = protocol.context()
        self.scheduler = Scheduler(
            self._fetch,
            settings.min_ttl,
            settings.idle_timeout,
            self._save_index,
            fetch_timeout=settings.timeout,
        )
        self._stopping: asyncio.Event | None = None
        #: The AWS files that existed at the last look (one vanishing is taken as transient).
        self._present: set[Path] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._index_wanted: asyncio.Event | None = None
        self._reloaded = False

    # --- blocking work, each on a thread of its own (daemon/threads.py) ----------------------

    def _fetch(
        self,
        profile: str,
        min_ttl: float,
        avoid: str | None = None,
        on_key: Callable[[str], None] = lambda key: None,
    ) -> Fetched:
        from credhelper.resolver import provider_for

        settings = self.settings.replace(min_ttl=min_ttl)
        resolved = provider_for(profile, settings, _no_prompt, stores=self.stores)
        on_key(resolved.key)
        creds, from_keyring = resolved.fetch(avoid=avoid)
        mfa = resolved.mfa_session
        return Fetched(
            resolved.role_arn or "",
            resolved.key,
            creds,
            from_keyring,
            mfa_expiration=mfa.expiration if mfa is not None else None,
            keys_from=resolved.keys_from(),
        )

    def _reload(self) -> list[tuple[str, Fetched]]:
        """Sessions the keyring holds for the profiles served before a restart."""
        from credhelper.resolver import provider_for

        found = []
        # The profiles served before a restart (kept in the keyring, not in a file).
        for profile in self.stores.daemon_index.load():
            try:
                resolved = provider_for(profile, self.settings, _no_prompt, stores=self.stores)
            except CredhelperError as exc:
                log.info("not reloading %s: %s", profile, exc.message)
                continue
            creds = self.stores.sessions.get(resolved.key)
            if creds is not None and creds.usable(self.settings.min_ttl):
                fetched = Fetched(
                    resolved.role_arn or "",
                    resolved.key,
                    creds,
                    from_keyring=True,
                    keys_from=resolved.keys_from(),
                )
                found.append((profile, fetched))
        return found

    def _save_index(self) -> None:
        """Ask for the index to be written (by one writer, in order: the latest state wins).

        Not before the reload at start-up is done: until then the index still lists profiles
        not reloaded yet, and a kill -9 must not leave it listing only some of them."""
        if self._index_wanted is not None and self._reloaded:
            self._index_wanted.set()

    async def _index_writer(self) -> None:
        assert self._index_wanted is not None
        while True:
            await self._index_wanted.wait()
            self._index_wanted.clear()
            if self.stores.entries.usable:
                profiles = sorted(self.scheduler.sessions)
                try:
                    await threads.run(self.stores.daemon_index.save, profiles, name="write index")
                except Exception:
                    log.exception("writing the daemon's index failed")

    def _recheck(self, sessions: list[tuple[str, str]]) -> list[tuple[str, str | None, str]] | None:
        """After a config edit: each profile's new cache key, or None with the reason; or
        None for all when the files cannot be read right now (a half-saved file, a file
        briefly missing): sessions are then kept until the next edit."""
        from credhelper import profiles
        from credhelper.daemon.watcher import aws_files
        from credhelper.resolver import provider_for

        files = aws_files()
        gone = [f for f in files if f in self._present and not f.exists()]
        if gone:
            log.warning("%s is missing; keeping sessions until it is back", gone[0])
            return None
        self._present = {f for f in files if f.exists()}
        try:
            profiles.load_profiles()
        except CredhelperError as exc:
            log.warning("%s; keeping sessions until it is fixed", exc.message)
            return None
        out: list[tuple[str, str | None, str]] = []
        for profile, _old in sessions:
            try:
                key = provider_for(profile, self.settings, _no_prompt, stores=self.stores).key
                out.append((profile, key, ""))
            except CredhelperError as exc:
                out.append((profile, None, exc.line()))
            except Exception as exc:  # a bug of ours: shown whole, and the others go on
                log.exception("%s: re-reading its profile failed", profile)
                out.append((profile, None, f"unexpected error: {type(exc).__name__}"))
        return out

    # --- event loop ----------------------------------------------------------------------

    async def _config_changed(self) -> None:
        assert self._loop is not None
        held = [(p, s.key) for p, s in self.scheduler.sessions.items()]
        results = await threads.run(self._recheck, held, name="recheck config")
        if results is None:
            return
        old_keys = dict(held)
        for profile, key, reason in results:
            session = self.scheduler.sessions.get(profile)
            if session is None:
                continue
            if key is None:
                log.info("%s: dropped (%s)", profile, reason)
                self.scheduler.drop(profile)
                if old_keys[profile]:
                    await threads.run(self.stores.sessions.delete, old_keys[profile])
                continue
            inflight = session.inflight
            if inflight is not None and inflight.key is not None and inflight.key != key:
                # The fetch under way read the old config: it may be the one that hangs.
                log.info("%s: profile changed during a fetch, starting over", profile)
                self.scheduler.supersede(session)
            if session.key and key != session.key:
                log.info("%s: profile changed, fetching a new session", profile)
                await threads.run(self.stores.sessions.delete, session.key)
                self.scheduler.refetch_soon(session)

    async def _warn_mfa_loop(self) -> None:
        """Warn before MFA sessions end: in the log, in status, and on the desktop."""
        while True:
            try:
                await self._warn_mfa_once()
            except Exception:
                log.exception("checking MFA sessions failed")
            await asyncio.sleep(MFA_CHECK_INTERVAL)

    async def _warn_mfa_once(self) -> None:
        assert self._loop is not None
        for session in self.scheduler.mfa_ending(self.settings.mfa_warn_before):
            end = session.mfa_expiration
            assert end is not None
            minutes = max(0, int((end.timestamp() - time.time()) // 60))
            text = (
                f"The MFA session behind profile '{session.profile}' ends at "
                f"{format_time(end)} ({minutes} min). Run 'credhelper login "
                f"{session.profile}' to start a new one."
            )
            log.warning("%s", text)
            await threads.run(notify, "credhelper", text)

    async def serve(self, sock: socket.socket, socket_path: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self._stopping.set)
        server = Server(
            self.scheduler, self.context, self._stopping.set, socket_path, self.settings.timeout
        )
        listener = await asyncio.start_unix_server(
            server.handle, sock=sock, limit=protocol.MAX_MESSAGE, backlog=socket.SOMAXCONN
        )
        log.info("credhelper daemon %d listening on %s", os.getpid(), socket_path)
        pending: set[asyncio.Task[Any]] = set()

        async def reconcile() -> None:
            try:
                await self._config_changed()
            except Exception:
                log.exception("applying a config change failed; sessions kept")

        def changed() -> None:
            task = asyncio.ensure_future(reconcile())
            pending.add(task)
            task.add_done_callback(pending.discard)

        from credhelper.daemon.watcher import aws_files

        self._present = {f for f in aws_files() if f.exists()}
        watcher = ConfigWatcher(self._loop, changed)
        watcher.start()
        # In the background: a large index takes a while, and SIGTERM must not wait for it.
        self._index_wanted = asyncio.Event()
        writer = asyncio.ensure_future(self._index_writer())
        reload = asyncio.ensure_future(self._reload_all())
        warner = asyncio.ensure_future(self._warn_mfa_loop())
        try:
            await self._stopping.wait()
        finally:
            reload.cancel()
            warner.cancel()
            writer.cancel()
            log.info("stopping")
            listener.close()
            watcher.stop()
            killed = children.kill_all()
            if killed:
                log.info("killed %d source program(s) still running", killed)
            await self.scheduler.close()

    async def _reload_all(self) -> None:
        for profile, fetched in await threads.run(self._reload, name="reload"):
            if profile not in self.scheduler.sessions:  # a caller may have been first
                self.scheduler.adopt(profile, fetched)
                log.info("%s: reloaded from the keyring", profile)
        self._reloaded = True
        self._save_index()


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


def run() -> int:
    from credhelper import rundir as runtime
    from credhelper.paths import runtime_dir

    settings = Settings.from_env()
    _harden()
    # Children (a source profile's own credential_process) must not ask us: resolve in-process.
    os.environ[DEPTH_VAR] = "1"
    locking.keep_held_locks_private()
    children.isolate = True
    warning = runtime.choose()[1]
    if warning:
        log.warning("warning: %s", warning)
    rundir = runtime_dir()  # refuses a folder that may be someone else's
    path = str(rundir / protocol.SOCKET_NAME)
    with instance.single_instance(rundir):
        sock, ours = _listening_socket(path)
        try:
            asyncio.run(Daemon(settings).serve(sock, path))
        finally:
            if ours:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
    log.info("stopped")
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
