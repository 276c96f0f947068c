"""``iam.once_propagated``: how long, and on what, ``credhelper rotate`` waits for a new key
(on a virtual clock: no sleeping)."""

from __future__ import annotations

import pytest

from credhelper import iam
from credhelper.iam import IamError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def failing(codes: list[str | None], clock: Clock, took: float = 0.0):
    """A call failing with each of ``codes`` in turn (each try taking ``took`` seconds), then
    answering "ok"; the tries are counted in ``calls``."""
    calls: list[float] = []

    def call() -> str:
        calls.append(clock.now)
        clock.now += took
        if len(calls) <= len(codes):
            raise IamError("GetCallerIdentity failed", None, codes[len(calls) - 1])
        return "ok"

    return call, calls


def test_a_key_unknown_for_a_while_is_tried_again_with_backoff() -> None:
    clock = Clock()
    call, calls = failing(["InvalidClientTokenId", "SignatureDoesNotMatch", None], clock)
    assert iam.once_propagated(call, 20, sleep=clock.sleep, monotonic=clock.monotonic) == "ok"
    assert clock.slept == [0.5, 1.0, 2.0] and len(calls) == 4


def test_the_wait_ends_with_the_window_and_the_last_error() -> None:
    clock = Clock()
    call, calls = failing(["InvalidClientTokenId"] * 100, clock, took=0.1)
    with pytest.raises(IamError) as caught:
        iam.once_propagated(call, 10, sleep=clock.sleep, monotonic=clock.monotonic)
    assert caught.value.code == "InvalidClientTokenId"
    assert clock.slept[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(clock.slept) == iam.PROPAGATION_MOST
    assert calls[-1] <= 100 + 10 <= clock.now  # a last try at the end of the window, no later


def test_an_answer_that_is_not_about_propagation_is_final() -> None:
    clock = Clock()
    call, calls = failing(["AccessDenied"], clock)
    with pytest.raises(IamError):
        iam.once_propagated(call, 20, sleep=clock.sleep, monotonic=clock.monotonic)
    assert len(calls) == 1 and clock.slept == []
    # ... unless the caller says what to retry on.
    call, calls = failing(["AccessDenied"], clock)
    retry_all = iam.once_propagated(
        call, 20, retry_on=lambda exc: True, sleep=clock.sleep, monotonic=clock.monotonic
    )
    assert retry_all == "ok" and len(calls) == 2
