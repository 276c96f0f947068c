"""A virtual clock for the scheduler: time moves only when a test says so.

Why: renewal timing, backoff and idle drop happen over hours of a session's life; in virtual
time they are checked in milliseconds, exactly, with a seeded source of jitter.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from credhelper.clock import Clock


async def settle(rounds: int = 30) -> None:
    """Let every task (and fetch threads that finish at once) run until nothing moves."""
    for _ in range(rounds):
        await asyncio.sleep(0.001)


class VirtualClock(Clock):
    def __init__(self, start: float) -> None:
        self.t = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.t + timeout, fut)
        self._sleepers.append(entry)
        woken = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({fut, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            self._sleepers.remove(entry)

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its own time, in order."""
        end = self.t + seconds
        while True:
            await settle()
            due = sorted(
                (w for w in self._sleepers if w[0] <= end and not w[1].done()), key=lambda w: w[0]
            )
            if not due:
                break
            self.t = max(self.t, due[0][0])
            due[0][1].set_result(None)
        self.t = end
        await settle()
