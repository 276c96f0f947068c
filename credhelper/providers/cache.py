"""A cache around any provider: keyring first, one fetch at a time per key across processes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from credhelper import deadline, locking
from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError
from credhelper.providers import Fetched, Provider
from credhelper.store.sessions import SessionCache

log = logging.getLogger(__name__)

#: How long renewing a still-valid session may hold its caller up before that session is
#: served instead.
RENEW_GRACE = 3.0


def cache_key(material: dict[str, Any]) -> str:
    """A stable hash of what shapes a session; no secret goes into it."""
    blob = json.dumps({"v": 1, **material}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass
class CachedProvider:
    inner: Provider
    sessions: SessionCache
    min_ttl: float
    lock_timeout: float
    #: "role" or "mfa": what ``list`` shows for the entry.
    kind: str = "role"

    @property
    def profile(self) -> str:
        return self.inner.profile

    def cache_key_material(self) -> dict[str, Any]:
        return self.inner.cache_key_material()

    @property
    def cache_key(self) -> str:
        return cache_key(self.cache_key_material())

    def held(self) -> Credentials | None:
        """What the keyring holds for this hop, usable or not; never fetches."""
        return self.sessions.get(self.cache_key)

    def forget(self) -> None:
        self.sessions.delete(self.cache_key)

    def fetch(self, avoid: str | None = None) -> Fetched:
        """A usable session: the keyring's, else a new one. ``avoid`` names a session (by key
        id) not to return even if usable: the daemon renewing the one it holds.

        One fetch at a time per key, across processes (the lock needs no keyring, so this holds
        without one too). A session that is still valid but under the floor is renewed with a
        short budget and served if renewal is slow or fails: a caller never waits out a
        hanging STS while it holds something that works.
        """
        key = self.cache_key
        held = self.sessions.get(key)
        if held is not None and held.access_key_id == avoid:
            held = None
        if held is not None and held.usable(self.min_ttl):
            log.debug("cache hit for %s: %s", self.profile, held.describe())
            return Fetched(held, from_cache=True)
        spare = held if held is not None and held.still_valid() else None
        try:
            with contextlib.ExitStack() as stack:
                if spare is not None:
                    stack.enter_context(
                        deadline.scope(deadline.Deadline(min(RENEW_GRACE, deadline.remaining())))
                    )
                stack.enter_context(locking.hold(key, self.lock_timeout))
                # Whoever held the lock before us may have just stored a fresh session.
                creds = self.sessions.get(key)
                if (
                    creds is not None
                    and creds.access_key_id != avoid
                    and creds.usable(self.min_ttl)
                ):
                    return Fetched(creds, from_cache=True)
                fresh = self.inner.fetch().credentials
                self.sessions.put(key, fresh, self.profile, self.kind)
                return Fetched(fresh)
        except CredhelperError as exc:
            if spare is None:
                raise
            log.warning(
                "serving %s's current session (%.0f s left) while renewal fails: %s",
                self.profile,
                spare.seconds_left(),
                exc.message,
            )
            return Fetched(spare, from_cache=True)
