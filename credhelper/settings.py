"""Tunables, read from ``CREDHELPER_*`` environment variables (flags override them).

Environment variables rather than a config file: they reach ``credential_process`` children
from the SDK unchanged, and they keep the hot path free of file parsing. Every variable is
read and validated here, once per command (the hot path only peeks at the three it forwards
to the daemon, and leaves any value it cannot take to this module to report).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Mapping

from credhelper.errors import CredhelperError
from credhelper.protocol import DEFAULT_MIN_TTL, DEFAULT_TIMEOUT

DEFAULT_LOCK_TIMEOUT = 60.0
DEFAULT_KEYRING_SERVICE = "credhelper"
DEFAULT_IDLE_TIMEOUT = 24 * 3600.0
DEFAULT_MFA_WARN_BEFORE = 30 * 60.0
#: The smallest keyring value limit taken (characters); a smaller one is taken for a mistake.
MIN_KEYRING_VALUE = 64


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = minimum - 1
    if not minimum <= value < float("inf"):  # NaN and infinity too
        raise CredhelperError(
            f"{name}={raw!r} is not a number of seconds >= {minimum:g}",
            f"fix or unset {name}",
            exit_code=2,
        )
    return value


def _characters(env: Mapping[str, str], name: str, minimum: int) -> int | None:
    """An optional count of characters (None when unset). A bad value stops the call rather
    than being ignored: a mistyped limit would go unnoticed until the keyring refused a write."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    try:  # ASCII digits only; int() alone takes "١٢٣", "1_000" and " +80"
        value = int(text) if text.isascii() and text.isdigit() else minimum - 1
    except ValueError:  # more digits than int() converts
        value = minimum - 1
    if value < minimum:
        raise CredhelperError(
            f"{name}={raw!r} is not a whole number of characters >= {minimum}",
            f"fix or unset {name}",
            exit_code=2,
        )
    return value


#: Hosts a federation URL may name over plain http: this machine only (a local stand-in).
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _federation_url(raw: str | None, name: str = "CREDHELPER_FEDERATION_URL") -> str | None:
    """An optional sign-in endpoint (None when unset: the partition's public one), without
    its ``/federation`` path. https, or http to this machine only: what goes there is a
    session's secret. A bad value stops the call rather than sending credentials astray."""
    if raw is None or raw.strip() == "":
        return None
    from urllib.parse import urlsplit

    text = raw.strip()
    try:
        parts = urlsplit(text)
        host, _ = parts.hostname, parts.port  # a bad port raises here
    except ValueError:
        host, parts = None, urlsplit("")
    plain_ok = parts.scheme == "http" and host in LOOPBACK
    if (
        not host
        or not (parts.scheme == "https" or plain_ok)
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
        or any(c.isspace() for c in text)
    ):
        raise CredhelperError(
            f"{name}={raw!r} is not an https URL of a sign-in endpoint (http only to this "
            "machine; no query, fragment or user)",
            f"fix or unset {name} (e.g. https://signin.aws.amazon.com)",
            exit_code=2,
        )
    base = text.rstrip("/")
    return base[: -len("/federation")] if base.endswith("/federation") else base


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise CredhelperError(
        f"{name}={raw!r} is not a yes/no value", f"set {name} to 1 or 0", exit_code=2
    )


@dataclass(frozen=True)
class Settings:
    """What the user can tune; defaults suit botocore's refresh windows."""

    #: Renew a cached session with less life left than this (CREDHELPER_MIN_TTL, seconds).
    min_ttl: float = DEFAULT_MIN_TTL
    #: Wait this long for another process fetching the same session (CREDHELPER_LOCK_TIMEOUT).
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    #: Keyring service name the sessions are stored under (CREDHELPER_KEYRING_SERVICE).
    keyring_service: str = DEFAULT_KEYRING_SERVICE
    #: Ask a running daemon first, and start one when none answers (CREDHELPER_NO_DAEMON=1:
    #: neither, whatever CREDHELPER_AUTOSTART says).
    use_daemon: bool = True
    #: Start the daemon in the background when none answers (CREDHELPER_AUTOSTART=0: never).
    autostart: bool = True
    #: The daemon stops renewing a profile nobody asked for in this long
    #: (CREDHELPER_IDLE_TIMEOUT, seconds).
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    #: The daemon warns (log, status, desktop notification) this long before an MFA session
    #: ends (CREDHELPER_MFA_WARN_BEFORE).
    mfa_warn_before: float = DEFAULT_MFA_WARN_BEFORE
    #: One call's time limit, everything included but a person typing a code
    #: (CREDHELPER_TIMEOUT); the daemon bounds each fetch by it too.
    timeout: float = DEFAULT_TIMEOUT
    #: Split keyring values longer than this (CREDHELPER_KEYRING_MAX_VALUE), for a backend
    #: with a limit credhelper does not know; unset: the backend's known limit, if any.
    keyring_max_value: int | None = None
    #: The AWS sign-in endpoint ``console`` asks for a sign-in token (CREDHELPER_FEDERATION_URL;
    #: unset: the role's partition's public one): https, or http to this machine only. Kept
    #: as set; :meth:`federation_base` checks it, when ``console`` runs.
    federation_url: str | None = None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def federation_base(self) -> str | None:
        """The sign-in endpoint ``console`` asks for a token, without ``/federation`` (None:
        the role's partition's public one). Validated here, on use rather than in
        :meth:`from_env`: only ``console`` needs it, and a typo in it must not stop every
        ``credential_process`` call and the daemon (exit code 2 for ``console``)."""
        return _federation_url(self.federation_url)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, min_ttl: float | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        return cls(
            min_ttl=(
                min_ttl
                if min_ttl is not None
                else _number(env, "CREDHELPER_MIN_TTL", DEFAULT_MIN_TTL, 0)
            ),
            lock_timeout=_number(env, "CREDHELPER_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT, 1),
            keyring_service=env.get("CREDHELPER_KEYRING_SERVICE") or DEFAULT_KEYRING_SERVICE,
            use_daemon=not _flag(env, "CREDHELPER_NO_DAEMON", False),
            autostart=_flag(env, "CREDHELPER_AUTOSTART", True),
            idle_timeout=_number(env, "CREDHELPER_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT, 1),
            mfa_warn_before=_number(env, "CREDHELPER_MFA_WARN_BEFORE", DEFAULT_MFA_WARN_BEFORE, 0),
            timeout=_number(env, "CREDHELPER_TIMEOUT", DEFAULT_TIMEOUT, 1),
            keyring_max_value=_characters(env, "CREDHELPER_KEYRING_MAX_VALUE", MIN_KEYRING_VALUE),
            federation_url=env.get("CREDHELPER_FEDERATION_URL") or None,
        )
