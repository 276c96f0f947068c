"""What the daemon keeps across a restart: the profiles it serves (its index, in the keyring
under ``daemon:index``, not in a file), and the reload of their sessions at start-up.

The index is written by one writer, each write the state at that moment (the latest wins),
and only once the reload is done: until then it still lists profiles not reloaded yet, and a
kill -9 then must not leave it listing only some of them (the next start would forget the
rest).

While the keyring fails (a Secret Service stopped, a keyring locked), the daemon serves from
memory and tries the keyring again with the store's backoff; once it works again, the sessions
held in memory and the index are written through, so that a restart reloads them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Optional, Protocol

from credhelper.clock import Clock
from credhelper.credentials import Credentials
from credhelper.daemon import threads
from credhelper.daemon.scheduler import Fetched, Scheduler
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)


class IndexStore(Protocol):
    """Where the index is kept (store.daemon_index.DaemonIndex)."""

    @property
    def usable(self) -> bool: ...

    @property
    def recoveries(self) -> int: ...

    def retry_in(self) -> float | None: ...

    def retry(self) -> bool: ...

    def load(self) -> list[str]: ...

    def save(self, profiles: list[str]) -> None: ...


#: (profile, whether a session is worth adopting) -> the keyring's session for it, or None;
#: blocking; CredhelperError if the profile no longer resolves (fetching.Fetching.kept).
KeptFn = Callable[[str, Callable[[Credentials], bool]], Optional[Fetched]]

#: (profile, cache key, session held) -> None: put it in the keyring unless the keyring's is as
#: new (fetching.Fetching.keep); blocking.
KeepFn = Callable[[str, str, Credentials], None]


class Persistence:
    def __init__(
        self,
        scheduler: Scheduler,
        store: IndexStore,
        kept: KeptFn,
        min_ttl: float,
        clock: Clock | None = None,
        keep: KeepFn | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.store = store
        self._kept = kept
        self._keep = keep
        self.min_ttl = min_ttl
        self.clock = clock or scheduler.clock
        self._wanted: asyncio.Event | None = None

    def sessions_changed(self) -> None:
        """The scheduler's ``on_change``: ask for the index to be written (once the reload is
        done: the writer only starts then, and writes the state as it is at that moment)."""
        if self._wanted is not None:
            self._wanted.set()

    async def run(self) -> None:
        """Reload, then be the index's one writer: write it each time the sessions held
        change, the state as it is then, until cancelled.

        In the background: a large index takes a while, and SIGTERM must not wait for it."""
        self._wanted = asyncio.Event()
        try:
            found = await threads.run(self._reload, name="reload")
        except Exception:
            # The index stays as it is: written now, it would forget what was not reloaded.
            log.exception("reloading sessions from the keyring failed")
            return
        for profile, fetched in found:
            if profile not in self.scheduler.sessions:  # a caller may have been first
                self.scheduler.adopt(profile, fetched)
                log.info("%s: reloaded from the keyring", profile)
        self._wanted.set()  # the reload's result, and what callers changed meanwhile
        recoveries = self.store.recoveries
        while True:
            retry_in = self.store.retry_in()
            if retry_in is None:
                await self._wanted.wait()
            else:  # the keyring failed: try it again when the backoff says so
                await self.clock.wait(self._wanted, retry_in)
            self._wanted.clear()
            try:
                if not self.store.usable and not await threads.run(
                    self.store.retry, name="retry keyring"
                ):
                    continue
                if self.store.recoveries != recoveries:
                    recoveries = self.store.recoveries
                    held = [
                        (s.profile, s.key, s.creds)
                        for s in self.scheduler.sessions.values()
                        if s.creds is not None and s.key
                    ]
                    await threads.run(self._write_through, held, name="write through")
                    log.info("the keyring works again: wrote %d sessions through", len(held))
                profiles = sorted(self.scheduler.sessions)
                await threads.run(self._write_index, profiles, name="write index")
            except Exception:
                log.exception("writing the daemon's index failed")

    def _write_through(self, held: list[tuple[str, str, Credentials]]) -> None:
        if self._keep is None:
            return
        for profile, key, creds in held:
            self._keep(profile, key, creds)

    def _reload(self) -> list[tuple[str, Fetched]]:
        """Sessions the keyring holds, still worth handing out, for the profiles served
        before a restart (blocking)."""

        def worth(creds: Credentials) -> bool:
            return creds.usable(self.min_ttl, self.clock.now())

        found = []
        for profile in self.store.load():
            try:
                fetched = self._kept(profile, worth)
            except CredhelperError as exc:
                log.info("not reloading %s: %s", profile, exc.message)
                continue
            if fetched is not None:
                found.append((profile, fetched))
        return found

    def _write_index(self, profiles: list[str]) -> None:
        self.store.save(profiles)
