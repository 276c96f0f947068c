"""Long-term access keys by profile (``credhelper add``), as ``keys:<profile>``.

A keyring cannot list its entries, so the profiles that have keys are also kept in an index,
``keys:index``.
"""

from __future__ import annotations

import logging

from credhelper.credentials import Credentials, format_time, utcnow
from credhelper.store.codec import decode, encode
from credhelper.store.entries import Entries

log = logging.getLogger(__name__)

INDEX = "keys:index"


class LongTermKeys:
    def __init__(self, entries: Entries) -> None:
        self.entries = entries

    def get(self, profile: str) -> Credentials | None:
        doc = self.entries.read(f"keys:{profile}")
        try:
            return decode(doc) if doc is not None else None
        except ValueError as exc:
            log.warning("ignoring unreadable keys of profile %s (%s)", profile, exc)
            return None

    def put(self, profile: str, creds: Credentials) -> bool:
        """Store the keys and index them; False when the keyring did not take them."""
        doc = encode(creds, profile, kind="keys")
        doc["Added"] = format_time(utcnow())
        old = self.entries.read(f"keys:{profile}")
        if (
            old
            and old.get("AccessKeyId") == creds.access_key_id
            and old.get("SecretAccessKey") == creds.secret_access_key
        ):
            doc["Added"] = old.get("Added", doc["Added"])  # unchanged: no rewrite
        ok = self.entries.write(f"keys:{profile}", doc)
        if ok:
            self._index(profile, present=True)
        return ok

    def delete(self, profile: str) -> None:
        self.entries.delete(f"keys:{profile}")
        self._index(profile, present=False)

    def profiles(self) -> list[str]:
        """Profiles with keys in the keyring, sorted."""
        return self.entries.read_names(INDEX)

    def _index(self, profile: str, present: bool) -> None:
        """Read-modify-write under a file lock: two ``credhelper add`` at once keep both."""
        import filelock

        from credhelper.paths import lock_dir

        lock = lock_dir() / f"{self.entries.service}.{INDEX.replace(':', '-')}.lock"
        with filelock.FileLock(str(lock), timeout=30):
            names = set(self.entries.read_names(INDEX))
            names.add(profile) if present else names.discard(profile)
            self.entries.write_names(INDEX, sorted(names))
