"""Credentials as stored: the one document shape sessions and long-term keys share."""

from __future__ import annotations

from typing import Any

from credhelper.credentials import Credentials, format_time, parse_time
from credhelper.store.entries import FORMAT, parse


def encode(creds: Credentials, profile: str, kind: str = "role") -> dict[str, Any]:
    """``kind``: "role", "mfa" or "keys", so that a listing can tell entries apart."""
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
        parsed = parse(doc)
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
