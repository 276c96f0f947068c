"""A cache around any provider: keyring first, one fetch at a time per key across processes."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from credhelper import locking
from credhelper.credentials import Credentials
from credhelper.providers import Provider
from credhelper.store import SessionStore

log = logging.getLogger(__name__)


def cache_key(identity: dict[str, Any]) -> str:
    """A stable hash of what shapes a session; no secret goes into it."""
    blob = json.dumps({"v": 1, **identity}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass
class CachedProvider:
    inner: Provider
    store: SessionStore
    min_ttl: float
    lock_timeout: float
    #: Whether the last fetch() was answered from the keyring (the daemon reports it).
    last_hit: bool = False
    #: What the last fetch() returned.
    current: Credentials | None = None

    @property
    def profile(self) -> str:
        return self.inner.profile

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    @property
    def key(self) -> str:
        return cache_key(self.identity())

    def _cached(self, key: str, avoid: str | None = None) -> Any:
        creds = self.store.get(key)
        if creds is not None and creds.access_key_id == avoid:
            return None
        if creds is not None and creds.usable(self.min_ttl):
            log.debug("cache hit for %s: %s", self.profile, creds.describe())
            return creds
        return None

    def fetch(self, avoid: str | None = None) -> Credentials:
        """A usable session: the keyring's, else a new one. ``avoid`` names a session (by key
        id) not to return even if usable: the daemon renewing the one it holds."""
        key = self.key
        self.last_hit = True
        creds = self._cached(key, avoid)
        if creds is None and not self.store.available:
            self.last_hit = False
            creds = self.inner.fetch()
        if creds is not None:
            self.current = creds
            return creds
        with locking.hold(key, self.lock_timeout):
            # Whoever held the lock before us may have just stored a fresh session.
            creds = self._cached(key, avoid)
            if creds is None:
                self.last_hit = False
                creds = self.inner.fetch()
                self.store.put(key, creds, self.profile, getattr(self.inner, "KIND", "role"))
        self.current = creds
        return creds
