"""The daemon's sessions: single-flight fetches, renewal before expiry, backoff on failure.

Fetching is blocking (botocore, keyring) and runs on a thread of its own (daemon/threads.py)
under a deadline; all session state is touched only from the event loop's thread. A caller
waits at most its own time, and not at all beyond a short grace while the session held is
still valid; a fetch made stale by a config change is dropped, not awaited.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from credhelper import children, deadline
from credhelper.clock import Clock
from credhelper.credentials import LAST_RESORT, Credentials, format_time
from credhelper.daemon import threads
from credhelper.errors import CallerOnly, CredhelperError

log = logging.getLogger(__name__)

#: Renew when this much (or a third of the lifetime, whichever is more) remains.
RENEW_MARGIN = 25 * 60
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0
#: How long a caller waits for a renewal while the session held is still valid; then it is
#: served that one.
RENEW_GRACE = 3.0
#: A fetch's result arrives this long after its deadline at the latest, or is given up on.
FETCH_SLACK = 2.0


class PromptNeeded(CallerOnly):
    """The chain needs an MFA code; the daemon never prompts, the caller's process does."""


@dataclass(frozen=True)
class Fetched:
    role_arn: str
    key: str
    creds: Credentials
    from_keyring: bool
    #: When the MFA session the role session came from ends (None: no MFA session).
    mfa_expiration: datetime | None = None
    #: Where the chain's first credentials come from ("keyring", "credentials_file", ...).
    keys_from: str | None = None


#: (profile, min_ttl, key id of a session not to return, told the cache key once resolved)
#: -> Fetched; blocking, and bounded by the deadline of the thread it runs on
#: (credhelper.deadline.current()).
FetchFn = Callable[[str, float, Optional[str], Callable[[str], None]], Fetched]


class Superseded(Exception):
    """The fetch was dropped (its profile's config changed): wait for the new one."""


@dataclass
class Fetch:
    """One fetch in flight: its deadline (which names what it is doing) and its outcome."""

    deadline: deadline.Deadline
    future: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    started: float = field(default_factory=time.monotonic)
    #: The cache key of what it fetches, once resolved (from the config as it was then).
    key: str | None = None

    def timed_out(self, waited: float) -> CredhelperError:
        what = self.deadline.doing or "fetching the session"
        return deadline.TimedOut(
            f"{what} has not finished after {waited:.0f} s",
            "check the network and the source profile; the daemon goes on trying",
        )


#: However a session's times look, never renew more often than this.
MIN_RENEW_GAP = 5.0
#: Renewals started per second at most, all sessions together: sessions fetched together
#: (many profiles warmed at once) come due together, and STS must not see them as a burst.
RENEW_RATE = 2.0
#: ... unless a renewal waiting its turn would leave its session with less than the hand-out
#: floor plus this: then it goes at once.
RENEW_URGENT = 60.0


def renew_threshold(lifetime: float, min_ttl: float) -> float:
    """Seconds of life left at which a session is renewed.

    25 min or a third of the lifetime, whichever comes first; never less than the hand-out
    floor plus a margin (so callers never see a session under the floor), and never so much
    that a short session is renewed the moment it arrives.
    """
    floor = min(min_ttl, lifetime / 2)
    threshold = min(max(RENEW_MARGIN, lifetime / 3), lifetime * 0.75)
    return max(threshold, floor + min(120.0, lifetime / 8))


def backoff(failures: int, rand: random.Random | None = None) -> float:
    """Exponential backoff with jitter: 1-2, 2-4, 4-8 ... s, capped at 5 min."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(failures - 1, 0))
    return (rand or _random).uniform(ceiling / 2, ceiling)


_random = random.Random()


@dataclass
class Session:
    profile: str
    role_arn: str = ""
    key: str = ""
    creds: Credentials | None = None
    source: str = "daemon"
    last_used: float = 0.0
    last_error: str | None = None
    renew_at: float | None = None
    failures: int = 0
    mfa_expiration: datetime | None = None
    keys_from: str | None = None
    #: The last fetch stopped at an MFA code (PromptNeeded): a renewal waits for
    #: ``credhelper login``. Known from the exception's type, not from its wording.
    mfa_needed: bool = False
    mfa_warned: datetime | None = None  # the MFA session already warned about (mfa_warnings)
    inflight: Fetch | None = None
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def status(self, now: float) -> dict[str, Any]:
        creds = self.creds
        at = datetime.fromtimestamp(now, timezone.utc)
        return {
            "profile": self.profile,
            "role_arn": self.role_arn or None,
            "expiration": format_time(creds.expiration) if creds and creds.expiration else None,
            "seconds_left": round(creds.seconds_left(at)) if creds else None,
            "renews_in": round(self.renew_at - now) if self.renew_at and creds else None,
            "last_error": self.last_error,
            "failures": self.failures,
            "source": self.source if creds else None,
            "idle_seconds": round(now - self.last_used),
            "mfa_expiration": format_time(self.mfa_expiration) if self.mfa_expiration else None,
            "keys_from": self.keys_from,
            "mfa_needed": self.mfa_needed,
        }


class Scheduler:
    def __init__(
        self,
        fetch: FetchFn,
        min_ttl: float,
        idle_timeout: float,
        on_change: Callable[[], None],
        fetch_timeout: float = deadline.DEFAULT_TIMEOUT,
        clock: Clock | None = None,
        rand: random.Random | None = None,
        renew_rate: float = RENEW_RATE,
    ) -> None:
        self._fetch = fetch
        self.renew_rate = renew_rate
        #: The earliest moment the next renewal may start (the pacing of renew_rate).
        self._next_renewal = 0.0
        self.clock = clock or Clock()
        self._rand = rand or _random
        self.closed = False
        self.fetch_timeout = fetch_timeout
        self.min_ttl = min_ttl
        self.idle_timeout = idle_timeout
        self._on_change = on_change
        self.sessions: dict[str, Session] = {}

    # --- serving ---------------------------------------------------------------------------

    async def get(
        self,
        profile: str,
        min_ttl: float | None = None,
        timeout: float | None = None,
        grace: float | None = None,
    ) -> Credentials:
        """Credentials with more than ``min_ttl`` left; one STS call however many wait.

        Waits at most ``timeout``; while the session held is still valid (though under the
        floor), at most ``grace`` (default RENEW_GRACE), and then serves it: a caller whose own
        limit is shorter says so (the container endpoint's SDKs give up after 1-2 s).
        """
        grace = RENEW_GRACE if grace is None else grace
        min_ttl = self.min_ttl if min_ttl is None else min_ttl
        timeout = self.fetch_timeout if timeout is None else timeout
        session = self.sessions.get(profile)
        if session is None:
            session = self.sessions[profile] = Session(profile)
        session.last_used = self.clock.time()
        now = self.clock.now()
        if session.creds is not None and session.creds.usable(min_ttl, now):
            return session.creds
        held = (
            session.creds if session.creds is not None and session.creds.still_valid(now) else None
        )
        try:
            await self._refresh(session, min_ttl, min(timeout, grace) if held else timeout)
        except CredhelperError as exc:
            if held is not None and held.still_valid(self.clock.now()):
                log.warning(
                    "%s: serving the session held (%.0f s left) while renewal %s",
                    profile,
                    held.seconds_left(self.clock.now()),
                    "is slow" if isinstance(exc, deadline.TimedOut) else "fails",
                )
                return held
            if session.creds is None and session.task is None and session.inflight is None:
                self.sessions.pop(profile, None)  # nothing to keep for a profile that fails
            raise
        if session.creds is None:  # dropped meanwhile (its profile left the config)
            raise CredhelperError("the profile changed while its session was fetched", "retry")
        return session.creds

    def adopt(self, profile: str, fetched: Fetched) -> None:
        """Take a session found in the keyring at start-up, and keep it renewed."""
        session = self.sessions.setdefault(profile, Session(profile, last_used=self.clock.time()))
        self._take(session, fetched)
        session.source = "keyring"

    # --- fetching --------------------------------------------------------------------------

    async def _refresh(
        self, session: Session, min_ttl: float, wait: float, renew: bool = False
    ) -> None:
        """Start a fetch unless one is in flight, and wait for it, at most ``wait`` seconds."""
        end = time.monotonic() + wait
        while True:
            if session.inflight is None:
                avoid = session.creds.access_key_id if renew and session.creds else None
                fetch = session.inflight = Fetch(deadline.Deadline(self.fetch_timeout))
                asyncio.ensure_future(self._run_fetch(session, fetch, min_ttl, avoid))
            fetch = session.inflight
            try:
                await asyncio.wait_for(
                    asyncio.shield(fetch.future), max(0.0, end - time.monotonic())
                )
                return
            except asyncio.TimeoutError:
                raise fetch.timed_out(time.monotonic() - fetch.started) from None
            except Superseded:
                continue  # a config change dropped it: wait for the new fetch

    async def _run_fetch(
        self, session: Session, fetch: Fetch, min_ttl: float, avoid: str | None
    ) -> None:
        """Run one fetch on its own thread; settle ``fetch.future`` unless superseded."""

        def resolved(key: str) -> None:
            fetch.key = key

        def work() -> Fetched:
            with deadline.scope(fetch.deadline):
                return self._fetch(session.profile, min_ttl, avoid, resolved)

        error: BaseException | None = None
        try:
            fetched = await asyncio.wait_for(
                threads.run(work, name=f"fetch {session.profile}"),
                self.fetch_timeout + FETCH_SLACK,
            )
        except asyncio.TimeoutError:
            children.kill_for(fetch.deadline)
            error = fetch.deadline.error()
        except CredhelperError as exc:
            error = exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug of ours: logged whole, reported as one line
            log.exception("%s: fetch failed unexpectedly", session.profile)
            error = CredhelperError(
                f"unexpected error in the daemon ({type(exc).__name__}: {exc})",
                "see the daemon's log and report it",
            )
        if fetch.future.done():  # superseded meanwhile: its result is for the old config
            return
        if session.inflight is fetch:
            session.inflight = None
        if error is not None:
            if isinstance(error, CredhelperError):
                session.last_error = error.message
                session.mfa_needed = isinstance(error, PromptNeeded)
            fetch.future.set_exception(error)
            fetch.future.exception()  # retrieved: nobody may be waiting any more
            return
        if self.sessions.get(session.profile) is session:
            self._take(session, fetched)
        fetch.future.set_result(None)

    def supersede(self, session: Session) -> None:
        """Drop the fetch in flight (the config changed under it): its waiters start anew,
        and the source programs it started are killed."""
        fetch = session.inflight
        if fetch is None:
            return
        session.inflight = None
        if not fetch.future.done():
            fetch.future.set_exception(Superseded())
            fetch.future.exception()
        children.kill_for(fetch.deadline)

    def _take(self, session: Session, fetched: Fetched) -> None:
        session.role_arn, session.key, session.creds = fetched.role_arn, fetched.key, fetched.creds
        session.source = "keyring" if fetched.from_keyring else "daemon"
        session.mfa_expiration = fetched.mfa_expiration
        session.keys_from = fetched.keys_from
        session.last_error = None
        session.mfa_needed = False
        session.failures = 0
        self._schedule(session)
        log.info(
            "%s: holding %s, renewal in %.0f s",
            session.profile,
            fetched.creds.describe(),
            (session.renew_at or 0) - self.clock.time(),
        )
        self._on_change()

    def _schedule(self, session: Session) -> None:
        creds = session.creds
        if creds is None or creds.expiration is None:
            return
        life = creds.lifetime() or creds.seconds_left(self.clock.now())
        jitter = self._rand.uniform(0, min(60.0, life / 20))
        renew_at = creds.expiration.timestamp() - renew_threshold(life, self.min_ttl) - jitter
        session.renew_at = max(renew_at, self.clock.time() + MIN_RENEW_GAP)
        if session.task is None or session.task.done():
            session.task = asyncio.ensure_future(self._renew_loop(session))
        session.wake.set()

    # --- renewing --------------------------------------------------------------------------

    async def _renew_loop(self, session: Session) -> None:
        while not self.closed and self.sessions.get(session.profile) is session:
            now = self.clock.time()
            delay = (session.renew_at or now + 60) - now
            if delay > 0:
                session.wake.clear()
                await self.clock.wait(session.wake, delay)
                continue  # re-read renew_at: it may have moved
            if now - session.last_used > self.idle_timeout:
                log.info(
                    "%s: idle for %.0f s, no longer renewed",
                    session.profile,
                    now - session.last_used,
                )
                self.drop(session.profile)
                return
            turn = self._renewal_turn(session)
            if turn > now:
                session.wake.clear()
                await self.clock.wait(session.wake, turn - now)
                if session.wake.is_set():
                    continue  # a caller fetched it, or its profile changed: look again
            await self._renew(session)

    def _renewal_turn(self, session: Session) -> float:
        """When this due renewal may start: renewals go one after another, ``renew_rate`` a
        second at most, except one that cannot wait (its session near the hand-out floor)."""
        now = self.clock.time()
        turn = max(now, self._next_renewal)
        creds = session.creds
        if turn > now and creds is not None and creds.expiration is not None:
            life = creds.lifetime() or creds.seconds_left(self.clock.now())
            floor = min(self.min_ttl, life / 2)
            if creds.expiration.timestamp() - turn < floor + min(RENEW_URGENT, life / 8):
                return now
        self._next_renewal = turn + 1.0 / self.renew_rate
        return turn

    async def _renew(self, session: Session) -> None:
        creds = session.creds
        life = (creds.lifetime() or creds.seconds_left(self.clock.now())) if creds else 3600.0
        try:
            await self._refresh(
                session,
                renew_threshold(life, self.min_ttl),
                self.fetch_timeout + 2 * FETCH_SLACK,
                renew=True,
            )
        except CredhelperError as exc:
            session.failures += 1
            delay = backoff(session.failures, self._rand)
            if creds is not None:
                # Never sleep past the point where the session can no longer be handed out.
                left = creds.seconds_left(self.clock.now())
                delay = min(delay, max(1.0, left - LAST_RESORT))
            session.renew_at = self.clock.time() + delay
            log.warning(
                "%s: renewal failed (%s); retry %d in %.1f s",
                session.profile,
                exc.message,
                session.failures,
                delay,
            )
        except Exception:
            session.failures += 1
            session.renew_at = self.clock.time() + backoff(session.failures, self._rand)
            log.exception("%s: renewal crashed; will retry", session.profile)

    # --- housekeeping ----------------------------------------------------------------------

    def drop(self, profile: str) -> Session | None:
        session = self.sessions.pop(profile, None)
        if session is not None:
            self.supersede(session)
            if session.task is not None and session.task is not asyncio.current_task():
                session.task.cancel()
            self._on_change()
        return session

    def refetch_soon(self, session: Session) -> None:
        """Forget the held session (its profile changed) and fetch the new one now."""
        self.supersede(session)
        session.creds = None
        session.renew_at = self.clock.time()
        session.wake.set()
        if session.task is None or session.task.done():
            session.task = asyncio.ensure_future(self._renew_loop(session))

    def status(self) -> list[dict[str, Any]]:
        now = self.clock.time()
        return [s.status(now) for s in sorted(self.sessions.values(), key=lambda s: s.profile)]

    async def close(self) -> None:
        """Stop renewing. Bounded: a renewal loop is told by a flag as well as cancelled (a
        cancellation can be lost in asyncio.wait_for before Python 3.12)."""
        self.closed = True
        for session in self.sessions.values():
            session.wake.set()
            if session.task is not None:
                session.task.cancel()
        tasks = [s.task for s in self.sessions.values() if s.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
