"""A fake STS for the daemon's parts in virtual time.

Why: the scheduler, reconciliation, persistence and MFA warnings are checked against their
real code; only the blocking fetch (botocore, keyring) is replaced, by this, which records
the virtual time of each call and can be made to fail, block, or resolve another key.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from credhelper.credentials import Credentials
from credhelper.daemon.scheduler import RENEW_RATE, Fetched, Scheduler
from credhelper.errors import CredhelperError

from .vclock import VirtualClock

HOUR = 3600.0


class FakeSts:
    """Hands out sessions of ``life`` seconds at the clock's time; can be made to fail or block."""

    def __init__(self, clock: VirtualClock, life: float = HOUR) -> None:
        self.clock, self.life = clock, life
        self.calls: list[float] = []
        self.fail_from: int | None = None  # calls numbered from 1
        self.error: Callable[[], Exception] = lambda: CredhelperError(
            "AssumeRole failed: ServiceUnavailable"
        )
        self.gate: threading.Event | None = None
        self.real_delay = 0.0
        #: The cache key a profile resolves to (the config as it is now).
        self.key_of: Callable[[str], str] = lambda profile: "key-" + profile
        #: When the MFA session behind every profile ends (virtual seconds; None: no MFA).
        self.mfa_end: float | None = None

    def __call__(
        self, profile: str, min_ttl: float, avoid: str | None, on_key: Callable[[str], None]
    ) -> Fetched:
        self.calls.append(self.clock.t)
        n = len(self.calls)
        key = self.key_of(profile)
        on_key(key)
        if self.real_delay:
            time.sleep(self.real_delay)
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail_from is not None and n >= self.fail_from:
            raise self.error()
        return Fetched(
            "arn:aws:iam::123456789012:role/r",
            key,
            self.session(n),
            False,
            # to the second, as the keyring keeps it (the daemon never gets a new MFA
            # session itself: it cannot ask for the code)
            mfa_expiration=(
                datetime.fromtimestamp(int(self.mfa_end), timezone.utc)
                if self.mfa_end is not None
                else None
            ),
        )

    def session(self, n: int, life: float | None = None) -> Credentials:
        issued = self.clock.now()
        return Credentials(
            access_key_id=f"ASIA{n:016d}",
            secret_access_key="secret",
            session_token="token",
            expiration=issued + timedelta(seconds=self.life if life is None else life),
            issued=issued,
        )


def make(
    life: float = HOUR,
    idle: float = 24 * HOUR,
    min_ttl: float = 960.0,
    on_change: Callable[[], None] = lambda: None,
    renew_rate: float = RENEW_RATE,
) -> tuple[VirtualClock, FakeSts, Scheduler]:
    """A real scheduler on a virtual clock (starting now), fetching from a FakeSts."""
    clock = VirtualClock(time.time())
    sts = FakeSts(clock, life)
    s = Scheduler(
        sts,
        min_ttl,
        idle,
        on_change,
        fetch_timeout=5.0,
        clock=clock,
        rand=random.Random(7),
        renew_rate=renew_rate,
    )
    return clock, sts, s
