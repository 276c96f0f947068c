"""Everything credhelper keeps, in the OS keyring through ``keyring``.

Every entry is a versioned JSON document (``"format": 1``); one that cannot be read (corrupt,
unknown version, a missing piece) is treated as absent, logged, and replaced on the next write.
Values longer than the backend allows (Windows Credential Manager: ~1280 characters) are
split across entries and joined on read. A value is rewritten only when it changed (macOS
drops "Always Allow" on every write). When no keyring works, the store says so once and
becomes a no-op: a secret never falls back to a plain file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

from credhelper.credentials import Credentials, format_time, parse_time, utcnow

log = logging.getLogger(__name__)

FORMAT = 1
#: Per-entry limits (characters) of backends that have one, by backend class name.
BACKEND_LIMITS = {"WinVaultKeyring": 1200}
#: Overrides the limit, for a backend this table does not know.
LIMIT_VAR = "CREDHELPER_KEYRING_MAX_VALUE"

_warned = False


class PlainFileBackend(Exception):
    """The configured keyring backend writes secrets to a plain file: refused."""


class KeyringStore:
    """Versioned, split-when-needed JSON documents under one keyring service."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.available = True
        #: Why the keyring is not usable (None while it is).
        self.problem: str | None = None
        self._checked = False

    # --- raw access, failures turned into "unavailable" ------------------------------------

    def _unavailable(self, exc: Exception, warn: bool = True) -> None:
        global _warned
        self.available = False
        detail = (str(exc).splitlines() or ["no detail"])[0]
        if len(detail) > 100:
            detail = detail[:97] + "..."
        self.problem = f"{type(exc).__name__}: {detail}"
        if warn and not _warned:
            _warned = True
            log.warning(
                "warning: the OS keyring is not usable (%s); nothing is cached or stored. "
                "Unlock or install a keyring (gnome-keyring, KWallet, ...) to cache sessions",
                self.problem,
            )

    def probe(self) -> str | None:
        """Try the keyring once, without the warning (callers say it their own way); returns
        why it is not usable, or None."""
        try:
            self._get("keys:index")
        except Exception as exc:
            self._unavailable(exc, warn=False)
        return self.problem

    def _get(self, name: str) -> str | None:
        import keyring

        if not self._checked:
            # Never a plain file, whatever backend is configured (keyrings.alt's plaintext
            # backends would keep sessions and keys readable on disk).
            backend = type(keyring.get_keyring()).__name__
            if "plaintext" in backend.lower():
                raise PlainFileBackend(f"{backend} would keep secrets in a plain file")
            self._checked = True
        return keyring.get_password(self.service, name)

    def _set(self, name: str, value: str) -> None:
        import keyring

        if keyring.get_password(self.service, name) != value:
            keyring.set_password(self.service, name, value)

    def _del(self, name: str) -> None:
        import keyring
        import keyring.errors

        try:
            keyring.delete_password(self.service, name)
        except keyring.errors.PasswordDeleteError:
            pass

    def _limit(self) -> int | None:
        raw = os.environ.get(LIMIT_VAR)
        if raw and raw.isascii() and raw.isdigit() and int(raw) >= 64:
            return int(raw)
        import keyring

        backend = keyring.get_keyring()
        limit = getattr(backend, "max_value_length", None)
        if isinstance(limit, int) and limit >= 64:
            return limit
        return BACKEND_LIMITS.get(type(backend).__name__)

    # --- documents ---------------------------------------------------------------------

    def read(self, name: str) -> dict[str, Any] | None:
        """The document stored as ``name``, or None (absent, unreadable, or no keyring)."""
        if not self.available:
            return None
        try:
            text = self._get(name)
            if text is None:
                return None
            doc = _parse(text)
            if doc is not None and "pieces" in doc:
                text = self._join(name, doc)
                doc = _parse(text) if text is not None else None
        except Exception as exc:  # every backend failure means: no keyring
            self._unavailable(exc)
            return None
        if doc is None or doc.get("format") != FORMAT:
            version = doc.get("format") if doc else None
            log.warning(
                "ignoring keyring entry %s (%s); it will be replaced",
                name,
                f"unknown format {version!r}" if doc else "unreadable",
            )
            return None
        return doc

    def _join(self, name: str, head: dict[str, Any]) -> str | None:
        count = head.get("pieces")
        if not isinstance(count, int) or not 0 < count <= 64:
            return None
        pieces = [self._get(piece) for piece in _piece_names(name, head)]
        if any(p is None for p in pieces):
            log.warning("keyring entry %s is missing a piece", name)
            return None
        text = "".join(p for p in pieces if p is not None)
        if hashlib.sha256(text.encode()).hexdigest() != head.get("sha256"):
            log.warning("keyring entry %s does not match its checksum", name)
            return None
        return text

    def write(self, name: str, doc: dict[str, Any]) -> bool:
        """Store ``doc`` (format added); False when no keyring could take it."""
        if not self.available:
            return False
        text = json.dumps({"format": FORMAT, **doc}, separators=(",", ":"), sort_keys=True)
        try:
            old = _parse(self._get(name) or "")
            limit = self._limit()
            new_pieces: list[str] = []
            if limit and len(text) > limit:
                # New pieces go under names of their own (tagged with their checksum), and the
                # head is switched to them last: a kill at any moment leaves the old entry or
                # the new one whole, never new pieces under the old head.
                digest = hashlib.sha256(text.encode()).hexdigest()
                chunks = [text[i : i + limit] for i in range(0, len(text), limit)]
                head = {
                    "format": FORMAT,
                    "pieces": len(chunks),
                    "sha256": digest,
                    "tag": digest[:12],
                }
                new_pieces = _piece_names(name, head)
                for piece, chunk in zip(new_pieces, chunks):
                    self._set(piece, chunk)
                self._set(name, json.dumps(head, separators=(",", ":"), sort_keys=True))
            else:
                self._set(name, text)
            for piece in _piece_names(name, old):
                if piece not in new_pieces:
                    self._del(piece)
        except Exception as exc:
            self._unavailable(exc)
            return False
        return True

    def delete(self, name: str) -> None:
        if not self.available:
            return
        try:
            old = _parse(self._get(name) or "")
            self._del(name)
            for piece in _piece_names(name, old):
                self._del(piece)
        except Exception as exc:
            self._unavailable(exc)


def _piece_names(name: str, head: dict[str, Any] | None) -> list[str]:
    """The entries a split value's head points at (none for a whole value).

    ``name#TAG.1 ...`` with the tag the head names; heads written before tags existed point
    at ``name#1 ...``.
    """
    count = head.get("pieces") if head else None
    if not isinstance(count, int) or not 0 < count <= 64:
        return []
    assert head is not None
    tag = head.get("tag")
    if isinstance(tag, str) and tag.isalnum() and len(tag) <= 64:
        return [f"{name}#{tag}.{i}" for i in range(1, count + 1)]
    return [f"{name}#{i}" for i in range(1, count + 1)]


def _parse(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


# --- what is stored -----------------------------------------------------------------------


def encode(creds: Credentials, profile: str, kind: str = "role") -> dict[str, Any]:
    return {
        "profile": profile,
        "kind": kind,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "SessionToken": creds.session_token,
        "Expiration": format_time(creds.expiration) if creds.expiration else None,
        "Issued": format_time(creds.issued) if creds.issued else None,
    }


def decode(doc: dict[str, Any] | str) -> Credentials:
    """Raise ValueError on anything that is not a complete credentials document (a stored
    entry's text, or its parsed document)."""
    if isinstance(doc, str):
        parsed = _parse(doc)
        if parsed is None or parsed.get("format") != FORMAT:
            raise ValueError("not a current credentials entry")
        doc = parsed
    try:
        key_id, secret = doc["AccessKeyId"], doc["SecretAccessKey"]
        if not isinstance(key_id, str) or not isinstance(secret, str):
            raise ValueError("keys are not strings")
        return Credentials(
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=doc.get("SessionToken"),
            expiration=parse_time(doc["Expiration"]) if doc.get("Expiration") else None,
            issued=parse_time(doc["Issued"]) if doc.get("Issued") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"incomplete entry: {exc}") from exc


class SessionStore(KeyringStore):
    """Sessions (role sessions, MFA sessions) by cache key."""

    def get(self, key: str) -> Credentials | None:
        doc = self.read(f"session:{key}")
        if doc is None:
            return None
        try:
            return decode(doc)
        except ValueError as exc:
            log.warning("ignoring an unreadable cached session (%s); it will be replaced", exc)
            return None

    def put(self, key: str, creds: Credentials, profile: str, kind: str = "role") -> None:
        """``kind``: "role" (a role session) or "mfa" (an MFA session), for listings."""
        if self.write(f"session:{key}", encode(creds, profile, kind)):
            log.debug("cached session %s for profile %s", creds.describe(), profile)

    def delete(self, key: str) -> None:
        super().delete(f"session:{key}")

    # Long-term keys, by profile (``credhelper add``).

    def get_keys(self, profile: str) -> Credentials | None:
        doc = self.read(f"keys:{profile}")
        try:
            return decode(doc) if doc is not None else None
        except ValueError as exc:
            log.warning("ignoring unreadable keys of profile %s (%s)", profile, exc)
            return None

    def put_keys(self, profile: str, creds: Credentials) -> bool:
        doc = encode(creds, profile, kind="keys")
        doc["Added"] = format_time(utcnow())
        old = self.read(f"keys:{profile}")
        if (
            old
            and old.get("AccessKeyId") == creds.access_key_id
            and old.get("SecretAccessKey") == creds.secret_access_key
        ):
            doc["Added"] = old.get("Added", doc["Added"])  # unchanged: no rewrite
        ok = self.write(f"keys:{profile}", doc)
        if ok:
            self._set_index("keys:index", profile, present=True)
        return ok

    def delete_keys(self, profile: str) -> None:
        KeyringStore.delete(self, f"keys:{profile}")
        self._set_index("keys:index", profile, present=False)

    def key_profiles(self) -> list[str]:
        """Profiles with keys in the keyring (the keyring cannot list its entries)."""
        return self.names("keys:index")

    def names(self, index: str) -> list[str]:
        doc = self.read(index)
        names = doc.get("profiles") if doc else None
        return sorted(n for n in names if isinstance(n, str)) if isinstance(names, list) else []

    def set_names(self, index: str, names: list[str]) -> None:
        self.write(index, {"profiles": sorted(set(names))})

    def _set_index(self, index: str, profile: str, present: bool) -> None:
        """Read-modify-write under a file lock: two ``credhelper add`` at once keep both."""
        import filelock

        from credhelper.paths import lock_dir

        name = index.replace(":", "-")
        with filelock.FileLock(str(lock_dir() / f"{self.service}.{name}.lock"), timeout=30):
            names = set(self.names(index))
            names.add(profile) if present else names.discard(profile)
            self.set_names(index, sorted(names))
