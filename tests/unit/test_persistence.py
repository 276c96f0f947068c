"""The daemon's index and the reload at start-up, against the real scheduler in virtual time.

The keyring is a fake that records each write of the index (and whether two overlapped);
the reload's lookup is a fake that can be held, to act while the reload is under way.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Callable

from credhelper.credentials import Credentials
from credhelper.daemon.persistence import Persistence
from credhelper.daemon.scheduler import Fetched, Scheduler
from credhelper.errors import CredhelperError

from .fakes import FakeSts, make
from .vclock import settle


class FakeIndexStore:
    def __init__(self, index: list[str], write_delay: float = 0.0) -> None:
        self.usable = True
        self.recoveries = 0
        self.index = index
        self.writes: list[list[str]] = []
        self.write_delay = write_delay
        self.overlapped = False
        self._writing = threading.Lock()

    def retry_in(self) -> float | None:
        return None if self.usable else 1.0

    def retry(self) -> bool:
        return self.usable

    def load(self) -> list[str]:
        return list(self.index)

    def save(self, names: list[str]) -> None:
        if not self._writing.acquire(blocking=False):
            self.overlapped = True
            self._writing.acquire()
        try:
            time.sleep(self.write_delay)
            self.writes.append(list(names))
            self.index = list(names)
        finally:
            self._writing.release()


class FakeKeyring:
    """What the keyring holds by profile; a profile missing from ``sessions`` has none."""

    def __init__(self, sts: FakeSts) -> None:
        self.sts = sts
        self.sessions: dict[str, Credentials] = {}
        self.unresolvable: set[str] = set()
        self.gate: threading.Event | None = None

    def kept(self, profile: str, worth: Callable[[Credentials], bool]) -> Fetched | None:
        if self.gate is not None:
            self.gate.wait(10)
        if profile in self.unresolvable:
            raise CredhelperError("no such profile")
        creds = self.sessions.get(profile)
        if creds is None or not worth(creds):
            return None
        return Fetched("arn:aws:iam::123456789012:role/r", "key-" + profile, creds, True)


def world(index: list[str], write_delay: float = 0.0):
    persistence: list[Persistence] = []
    clock, sts, s = make(on_change=lambda: persistence[0].sessions_changed())
    store = FakeIndexStore(index, write_delay)
    keyring = FakeKeyring(sts)
    persistence.append(Persistence(s, store, keyring.kept, s.min_ttl, clock))
    return clock, sts, s, store, keyring, persistence[0]


def run(coro):
    return asyncio.run(coro)


async def stopped(task: asyncio.Task[None], s: Scheduler) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await s.close()


def test_the_index_is_written_only_once_the_reload_is_done(caplog):
    caplog.set_level(logging.INFO, "credhelper")

    async def main():
        clock, sts, s, store, keyring, persistence = world(["a", "b", "gone"])
        keyring.sessions = {p: sts.session(0) for p in ("a", "b")}
        keyring.unresolvable = {"gone"}
        keyring.gate = threading.Event()  # the reload is slow (a large index)
        task = asyncio.ensure_future(persistence.run())
        await settle()
        await s.get("c")  # callers come meanwhile: the sessions change
        await s.get("a")  # a caller first: the reload leaves its session alone
        await settle()
        assert store.writes == []  # "a", "b" and "gone" not reloaded yet must not be lost
        keyring.gate.set()
        await settle()
        assert store.writes == [["a", "b", "c"]]
        assert {p: x.source for p, x in s.sessions.items()} == {
            "a": "daemon",
            "b": "keyring",
            "c": "daemon",
        }
        await stopped(task, s)

    run(main())
    assert "b: reloaded from the keyring" in caplog.messages
    assert "a: reloaded from the keyring" not in caplog.messages
    assert "not reloading gone: no such profile" in caplog.messages


def test_only_sessions_still_worth_handing_out_are_reloaded():
    async def main():
        clock, sts, s, store, keyring, persistence = world(["fresh", "stale"])
        stale = sts.session(0)  # an hour's session, issued now
        await clock.advance(3600 - 900)  # 900 s left by the daemon's clock: under the floor
        keyring.sessions = {"stale": stale, "fresh": sts.session(0)}
        task = asyncio.ensure_future(persistence.run())
        await settle()
        assert sorted(s.sessions) == ["fresh"]
        assert store.writes == [["fresh"]]  # what is not held is not listed any more
        await stopped(task, s)

    run(main())


def test_the_index_is_written_by_one_writer_the_latest_state_last():
    async def main():
        clock, sts, s, store, keyring, persistence = world([], write_delay=0.02)
        task = asyncio.ensure_future(persistence.run())
        await settle()
        for name in ("p1", "p2", "p3", "p4", "p5"):
            await s.get(name)
            await asyncio.sleep(0.005)  # changes come faster than the keyring writes
        s.drop("p2")
        await s.get("p6")
        for _ in range(20):  # until the writer has caught up
            await asyncio.sleep(0.03)
            if store.index == sorted(s.sessions):
                break
        assert not store.overlapped
        assert store.writes[-1] == ["p1", "p3", "p4", "p5", "p6"]
        assert len(store.writes) < 8  # changes that came during a write are written once
        await stopped(task, s)

    run(main())


def test_with_the_keyring_unavailable_the_index_is_not_written():
    async def main():
        clock, sts, s, store, keyring, persistence = world([])
        store.usable = False
        task = asyncio.ensure_future(persistence.run())
        await s.get("p")
        await settle()
        assert store.writes == [] and "p" in s.sessions
        await stopped(task, s)

    run(main())


class RecoveringStore(FakeIndexStore):
    """A keyring that fails until ``fixed``, then works at the first try that is due (every
    ``backoff`` seconds of the daemon's clock)."""

    def __init__(self, clock, backoff: float = 4.0) -> None:
        super().__init__([])
        self.usable = False
        self.fixed = False
        self.clock = clock
        self.backoff = backoff
        self.next_try = clock.time() + backoff
        self.tries: list[float] = []

    def retry_in(self) -> float | None:
        return None if self.usable else max(0.0, self.next_try - self.clock.time())

    def retry(self) -> bool:
        if not self.usable and self.clock.time() >= self.next_try:
            self.tries.append(self.clock.time())
            self.next_try = self.clock.time() + self.backoff
            if self.fixed:
                self.usable = True
                self.recoveries += 1
        return self.usable


def test_a_keyring_that_works_again_gets_the_held_sessions_and_the_index():
    async def main():
        clock, sts, s, _store, keyring, _p = world([])
        store = RecoveringStore(clock)
        kept: list[tuple[str, str]] = []
        persistence = Persistence(
            s, store, keyring.kept, s.min_ttl, clock, keep=lambda p, k, c: kept.append((p, k))
        )
        s._on_change = persistence.sessions_changed
        task = asyncio.ensure_future(persistence.run())
        await s.get("p")
        await s.get("q")
        await settle()
        await clock.advance(10)  # tried at 4 s and 8 s, still failing: nothing written
        assert len(store.tries) == 2 and store.writes == [] and kept == []
        store.fixed = True
        await clock.advance(4)  # the next try works: the sessions held, then the index
        assert sorted(kept) == [("p", s.sessions["p"].key), ("q", s.sessions["q"].key)]
        assert store.writes == [["p", "q"]]
        await clock.advance(60)  # no more tries, no second write-through
        assert len(store.tries) == 3 and len(kept) == 2
        await stopped(task, s)

    run(main())
