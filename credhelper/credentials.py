"""The credentials value handed between providers, and its ``credential_process`` form.

Standard library only: the daemon's fast path builds on it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Below the hand-out floor but this valid: served rather than failing while STS fails.
LAST_RESORT = 30.0


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 time; naive values are taken as UTC (what STS means)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def format_time(value: datetime) -> str:
    """UTC with a ``Z``: botocore crashes on a naive timestamp."""
    return value.astimezone(timezone.utc).strftime(ISO_FORMAT)


def abbreviate(key_id: str) -> str:
    """``ASIA…WXYZ``: the most of a key id that may reach a log."""
    if len(key_id) <= 8:
        return "…"
    return f"{key_id[:4]}…{key_id[-4:]}"


@dataclass(frozen=True)
class Credentials:
    """A set of AWS credentials; ``expiration`` is None for long-term keys."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None
    issued: datetime | None = None

    def seconds_left(self, now: datetime | None = None) -> float:
        if self.expiration is None:
            return float("inf")
        return (self.expiration - (now or utcnow())).total_seconds()

    def lifetime(self) -> float | None:
        if self.expiration is None or self.issued is None:
            return None
        return (self.expiration - self.issued).total_seconds()

    def usable(self, min_ttl: float, now: datetime | None = None) -> bool:
        """Worth handing out: more than ``min_ttl`` seconds left.

        A session whose whole life is shorter than twice the floor could never pass it, so for
        those the floor is half the lifetime: still renewed, but not on every call.
        """
        floor = min_ttl
        life = self.lifetime()
        if life is not None and life < 2 * min_ttl:
            floor = life / 2
        return self.seconds_left(now) > floor

    def still_valid(self, now: datetime | None = None) -> bool:
        """Worth serving when nothing better can be had: a little life left (a quarter of a
        short session's life, at most :data:`LAST_RESORT` seconds)."""
        margin = LAST_RESORT
        life = self.lifetime()
        if life is not None:
            margin = min(margin, life / 4)
        return self.seconds_left(now) > margin

    def process_output(self) -> dict[str, Any]:
        """The ``credential_process`` document (Version 1)."""
        out: dict[str, Any] = {
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
        }
        if self.session_token:
            out["SessionToken"] = self.session_token
        if self.expiration is not None:
            out["Expiration"] = format_time(self.expiration)
        return out

    def describe(self) -> str:
        """Safe for logs: abbreviated key id and expiry only."""
        expiry = format_time(self.expiration) if self.expiration else "never"
        return f"{abbreviate(self.access_key_id)} (expires {expiry})"
