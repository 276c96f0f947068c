"""One deadline per call: what is left, what is running, time a person takes not counted."""

from __future__ import annotations

import threading

from credhelper import deadline


class Ticks:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_remaining_and_the_step_named_in_the_error():
    clock = Ticks()
    d = deadline.Deadline(30, clock)
    clock.t += 10
    assert d.remaining() == 20
    with d.step("AssumeRole on arn:x"):
        clock.t += 25
        assert d.expired
        assert d.error().message == "AssumeRole on arn:x did not finish within 30 s"
    assert d.doing is None


def test_a_person_typing_a_code_does_not_use_the_time():
    clock = Ticks()
    d = deadline.Deadline(30, clock)
    with d.paused_for_person():
        clock.t += 300
        assert not d.expired
    assert d.remaining() == 30
    clock.t += 31
    assert d.expired


def test_each_thread_has_its_own_deadline():
    seen = {}

    def worker(name: str, seconds: float) -> None:
        with deadline.scope(deadline.Deadline(seconds)):
            seen[name] = round(deadline.remaining())

    threads = [threading.Thread(target=worker, args=(n, s)) for n, s in (("a", 5), ("b", 50))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": 5, "b": 50}
    assert deadline.current() is None
    assert deadline.remaining() == deadline.DEFAULT_TIMEOUT
