"""Role and MFA sessions, by cache key (``session:<key>``): a cache, so anything unreadable
is simply a miss, and a write that fails only costs a fetch next time."""

from __future__ import annotations

import logging

from credhelper.credentials import Credentials
from credhelper.store.codec import decode, encode
from credhelper.store.entries import Entries

log = logging.getLogger(__name__)


class SessionCache:
    def __init__(self, entries: Entries) -> None:
        self.entries = entries

    def get(self, key: str) -> Credentials | None:
        doc = self.entries.read(f"session:{key}")
        if doc is None:
            return None
        try:
            return decode(doc)
        except ValueError as exc:
            log.warning("ignoring an unreadable cached session (%s); it will be replaced", exc)
            return None

    def put(self, key: str, creds: Credentials, profile: str, kind: str = "role") -> None:
        """``kind``: "role" (a role session) or "mfa" (an MFA session), for listings."""
        if self.entries.write(f"session:{key}", encode(creds, profile, kind)):
            log.debug("cached session %s for profile %s", creds.describe(), profile)

    def delete(self, key: str) -> None:
        self.entries.delete(f"session:{key}")
