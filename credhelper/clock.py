"""Wall-clock time and waiting for it, as the daemon's scheduler sees them.

Injected so that renewal timing, backoff and idle drop are unit-tested in virtual time
(tests/unit), in milliseconds, instead of waiting for real sessions to age.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone


class Clock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), timezone.utc)

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        """Until ``event`` is set or ``timeout`` seconds have passed, whichever is first.

        ``asyncio.wait``, not ``wait_for``: before Python 3.12 the latter can swallow a
        cancellation that arrives as the event is set, and a stopping daemon went on."""
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()
