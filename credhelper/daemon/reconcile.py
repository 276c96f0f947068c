"""Applying an edit of the AWS files to the sessions the daemon holds.

Each profile held is resolved again, and its new cache key (what its session is keyed by,
a hash of the chain's settings) decides:

- it no longer resolves: the session is dropped, and its cached copy deleted (nothing would
  ever ask for it again);
- a fetch in flight was resolved from the old config: it is superseded, since it may be the
  very thing that hangs (a source that was wrong), and its waiters wait for a new one;
- its key changed: the old session is deleted and the new one fetched now, not at renewal.

A file that vanished or cannot be read right now (an editor's rename in progress, a
half-saved file) changes nothing: sessions are kept until the next edit.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from credhelper.awsfiles import paths as aws_paths
from credhelper.daemon import threads
from credhelper.daemon.scheduler import Scheduler, Session
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)


class Resolving(Protocol):
    """What reconciliation asks of the resolver (fetching.Fetching); all blocking."""

    def check_config(self) -> None: ...

    def key_of(self, profile: str) -> str: ...

    def forget(self, key: str) -> None: ...


@dataclass(frozen=True)
class Reread:
    """A profile held, resolved again after an edit."""

    profile: str
    #: Its cache key now; None: it no longer resolves.
    key: str | None
    #: Why it no longer resolves (for the log).
    reason: str = ""


class Reconciler:
    def __init__(
        self,
        scheduler: Scheduler,
        resolving: Resolving,
        files: Callable[[], list[Path]] = lambda: list(aws_paths()),
    ) -> None:
        self.scheduler = scheduler
        self.resolving = resolving
        self._files = files
        #: The AWS files that existed at the last look (one vanishing is taken as transient).
        self._present: set[Path] = set()
        self._pending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Note which AWS files exist, before the watcher reports the first edit."""
        self._present = {f for f in self._files() if f.exists()}

    def on_change(self) -> None:
        """The watcher's callback, on the event loop: reconcile in the background."""
        task = asyncio.ensure_future(self._reconcile())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def stop(self) -> None:
        """Cancel the reconciliations under way: the daemon is stopping, nothing to apply."""
        for task in list(self._pending):
            task.cancel()

    async def _reconcile(self) -> None:
        try:
            await self.config_changed()
        except Exception:
            log.exception("applying a config change failed; sessions kept")

    async def config_changed(self) -> None:
        held = {profile: session.key for profile, session in self.scheduler.sessions.items()}
        rereads = await threads.run(self.reread, list(held), name="recheck config")
        if rereads is None:
            return
        for reread in rereads:
            session = self.scheduler.sessions.get(reread.profile)
            if session is not None:
                await self._apply(session, reread, held[reread.profile])

    def reread(self, profiles: list[str]) -> list[Reread] | None:
        """Each profile resolved again; None for all when the files cannot be read right now
        (blocking)."""
        files = self._files()
        gone = [f for f in files if f in self._present and not f.exists()]
        if gone:
            log.warning("%s is missing; keeping sessions until it is back", gone[0])
            return None
        self._present = {f for f in files if f.exists()}
        try:
            self.resolving.check_config()
        except CredhelperError as exc:
            log.warning("%s; keeping sessions until it is fixed", exc.message)
            return None
        out = []
        for profile in profiles:
            try:
                out.append(Reread(profile, self.resolving.key_of(profile)))
            except CredhelperError as exc:
                out.append(Reread(profile, None, exc.line()))
            except Exception as exc:  # a bug of ours: shown whole, and the others go on
                log.exception("%s: re-reading its profile failed", profile)
                out.append(Reread(profile, None, f"unexpected error: {type(exc).__name__}"))
        return out

    async def _apply(self, session: Session, reread: Reread, old_key: str) -> None:
        profile, key = reread.profile, reread.key
        if key is None:
            log.info("%s: dropped (%s)", profile, reread.reason)
            self.scheduler.drop(profile)
            if old_key:
                await threads.run(self.resolving.forget, old_key)
            return
        inflight = session.inflight
        if inflight is not None and inflight.key is not None and inflight.key != key:
            log.info("%s: profile changed during a fetch, starting over", profile)
            self.scheduler.supersede(session)
        if session.key and key != session.key:
            log.info("%s: profile changed, fetching a new session", profile)
            await threads.run(self.resolving.forget, session.key)
            self.scheduler.refetch_soon(session)
