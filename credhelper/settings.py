"""Tunables, read from ``CREDHELPER_*`` environment variables (flags override them).

Environment variables rather than a config file: they reach ``credential_process`` children
from the SDK unchanged, and they keep the hot path free of file parsing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from credhelper.errors import CredhelperError

#: botocore re-runs the helper on every call when < 15 min remain; keep a margin above that.
DEFAULT_MIN_TTL = 16 * 60
DEFAULT_LOCK_TIMEOUT = 60.0
DEFAULT_KEYRING_SERVICE = "credhelper"


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise CredhelperError(
            f"{name}={raw!r} is not a number of seconds >= {minimum:g}",
            f"fix or unset {name}",
            exit_code=2,
        )
    return value


@dataclass(frozen=True)
class Settings:
    """What the user can tune; defaults suit botocore's refresh windows."""

    min_ttl: float = DEFAULT_MIN_TTL
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    keyring_service: str = DEFAULT_KEYRING_SERVICE

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
        )
