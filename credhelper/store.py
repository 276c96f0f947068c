"""Cached sessions in the OS keyring, through ``keyring``.

Entries are versioned JSON documents; anything unreadable is treated as absent and replaced.
When no keyring works, the store says so once and becomes a no-op: a secret never falls back
to a plain file.
"""

from __future__ import annotations

import json
import logging

from credhelper.credentials import Credentials, format_time, parse_time

log = logging.getLogger(__name__)

FORMAT = 1


def encode(creds: Credentials, profile: str) -> str:
    doc = {
        "format": FORMAT,
        "profile": profile,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "SessionToken": creds.session_token,
        "Expiration": format_time(creds.expiration) if creds.expiration else None,
        "Issued": format_time(creds.issued) if creds.issued else None,
    }
    return json.dumps(doc, separators=(",", ":"))


def decode(text: str) -> Credentials:
    """Raise ValueError on anything that is not a current, complete entry."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"unknown format {doc.get('format') if isinstance(doc, dict) else None!r}")
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


class SessionStore:
    """Role sessions by cache key, in the keyring service ``service``."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.available = True

    def _username(self, key: str) -> str:
        return f"session:{key}"

    def _unavailable(self, exc: Exception) -> None:
        if self.available:
            self.available = False
            detail = (str(exc).splitlines() or ["no detail"])[0]
            if len(detail) > 100:
                detail = detail[:97] + "..."
            log.warning(
                "warning: the OS keyring is not usable (%s: %s); sessions are not cached. "
                "Unlock or install a keyring (gnome-keyring, KWallet, ...) to cache them",
                type(exc).__name__,
                detail,
            )

    def get(self, key: str) -> Credentials | None:
        if not self.available:
            return None
        import keyring

        try:
            text = keyring.get_password(self.service, self._username(key))
        except Exception as exc:  # every backend failure means: no cache
            self._unavailable(exc)
            return None
        if text is None:
            return None
        try:
            return decode(text)
        except ValueError as exc:
            log.warning("ignoring an unreadable cache entry (%s); it will be replaced", exc)
            return None

    def put(self, key: str, creds: Credentials, profile: str) -> None:
        if not self.available:
            return
        import keyring

        value = encode(creds, profile)
        try:
            if keyring.get_password(self.service, self._username(key)) == value:
                return  # macOS drops "Always Allow" on every rewrite
            keyring.set_password(self.service, self._username(key), value)
        except Exception as exc:
            self._unavailable(exc)
            return
        log.debug("cached session %s for profile %s", creds.describe(), profile)

    def delete(self, key: str) -> None:
        if not self.available:
            return
        import keyring
        import keyring.errors

        try:
            keyring.delete_password(self.service, self._username(key))
        except keyring.errors.PasswordDeleteError:
            pass
        except Exception as exc:
            self._unavailable(exc)
