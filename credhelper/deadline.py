"""One time limit per call, shared by everything on its way: the daemon, the lock, STS, a
source's own ``credential_process``.

Why one: each of those had its own timeout, and they added up (a caller once waited 181 s
with STS hanging). Each step asks the deadline how long it may take, and says what it is
doing, so that when time runs out the error names the real cause. Time spent waiting for a
person (an MFA code) is not counted. Standard library only.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

from credhelper.errors import CredhelperError
from credhelper.protocol import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT


class TimedOut(CredhelperError):
    """The call's deadline passed; ``message`` names the step that was running."""


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds
        self._paused_at: float | None = None
        #: What is being done now ("AssumeRole on arn:...", "the credential_process of ...").
        self.doing: str | None = None

    def remaining(self) -> float:
        if self._paused_at is not None:
            return max(0.0, self._end - self._paused_at)
        return max(0.0, self._end - self._clock())

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    @property
    def expired(self) -> bool:
        return not self.paused and self.remaining() <= 0

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Name what runs inside, for the error if time runs out there."""
        before, self.doing = self.doing, what
        try:
            yield
        finally:
            self.doing = before

    @contextlib.contextmanager
    def paused_for_person(self) -> Iterator[None]:
        """A prompt: the person's time is not the call's."""
        if self._paused_at is not None:
            yield
            return
        self._paused_at = self._clock()
        try:
            yield
        finally:
            self._end += self._clock() - self._paused_at
            self._paused_at = None

    def error(self) -> TimedOut:
        what = self.doing or "getting credentials"
        return TimedOut(
            f"{what} did not finish within {self.seconds:g} s",
            "check the network and the source profile, or raise CREDHELPER_TIMEOUT",
        )

    def check(self) -> None:
        if self.expired:
            raise self.error()


_local = threading.local()


def current() -> Deadline | None:
    """The deadline of the fetch running on this thread (set with :func:`scope`)."""
    return getattr(_local, "deadline", None)


@contextlib.contextmanager
def scope(deadline: Deadline) -> Iterator[Deadline]:
    """Make ``deadline`` this thread's for the duration: providers and STS calls find it with
    :func:`current` (each fetch runs on a thread of its own)."""
    before = current()
    _local.deadline = deadline
    try:
        yield deadline
    finally:
        _local.deadline = before


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    """:meth:`Deadline.step` on this thread's deadline, if there is one."""
    d = current()
    if d is None:
        yield
    else:
        with d.step(what):
            yield


def remaining(default: float = DEFAULT_TIMEOUT) -> float:
    d = current()
    return default if d is None else d.remaining()
