"""Blocking work (botocore, keyring, a source's program) off the event loop, one thread each.

Not the loop's default thread pool: a handful of fetches hung on a source or on STS filled
its few workers and held up every other profile, and ``asyncio.run`` waits for that pool at
exit, so ``daemon stop`` waited for them too. Here each piece of work gets a daemon thread of
its own, bounded by its deadline; the loop waits on a future it may give up on, and a thread
still running when the daemon exits does not hold the exit up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def run(fn: Callable[..., T], *args: Any, name: str = "credhelper-work") -> asyncio.Future[T]:
    """Start ``fn(*args)`` on a new daemon thread; a future of the event loop for its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():  # given up on (cancelled) meanwhile
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the loop, which decides what it means
            outcome: tuple[bool, Any] = (False, exc)
        else:
            outcome = (True, result)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name=name, daemon=True).start()
    return future
