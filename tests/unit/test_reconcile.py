"""Reconciliation after an edit of the AWS files: which sessions are dropped, superseded,
refetched, or kept, against the real scheduler in virtual time.

The resolver is a fake that answers from a dict (the config "as it is now"); the files are
real files in a temporary folder, since their vanishing is part of what is decided.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from credhelper.daemon.reconcile import Reconciler
from credhelper.errors import CredhelperError

from .fakes import make
from .vclock import settle


class FakeResolving:
    """The config as it is now: profile -> cache key, or the exception resolving it raises."""

    def __init__(self) -> None:
        self.keys: dict[str, str | Exception] = {}
        self.config_error: CredhelperError | None = None
        self.forgotten: list[str] = []

    def check_config(self) -> None:
        if self.config_error is not None:
            raise self.config_error

    def key_of(self, profile: str) -> str:
        key = self.keys.get(profile, "key-" + profile)
        if isinstance(key, Exception):
            raise key
        return key

    def forget(self, key: str) -> None:
        self.forgotten.append(key)


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "config", tmp_path / "credentials"]
    for path in paths:
        path.write_text("")
    return paths


def world(files: list[Path]):
    clock, sts, s = make()
    resolving = FakeResolving()
    sts.key_of = resolving.key_of  # a fetch resolves the config as it is at that moment
    reconciler = Reconciler(s, resolving, files=lambda: files)
    reconciler.start()
    return clock, sts, s, resolving, reconciler


def run(coro):
    return asyncio.run(coro)


def test_a_profile_that_no_longer_resolves_is_dropped_and_its_session_deleted(files, caplog):
    caplog.set_level(logging.INFO, "credhelper")

    async def main():
        clock, sts, s, resolving, reconciler = world(files)
        await s.get("gone")
        await s.get("kept")
        resolving.keys["gone"] = CredhelperError("no such profile", profile="gone")
        await reconciler.config_changed()
        assert sorted(s.sessions) == ["kept"]
        assert resolving.forgotten == ["key-gone"]
        assert len(sts.calls) == 2  # nothing fetched for either
        await s.close()

    run(main())
    assert "gone: dropped (credhelper: profile 'gone': no such profile.)" in caplog.messages


def test_a_bug_resolving_one_profile_drops_it_and_the_others_go_on(files, caplog):
    async def main():
        clock, sts, s, resolving, reconciler = world(files)
        await s.get("a")
        await s.get("b")
        resolving.keys["a"] = RuntimeError("a bug of ours")
        resolving.keys["b"] = "key-b2"
        await reconciler.config_changed()
        assert list(s.sessions) == ["b"] and resolving.forgotten == ["key-a", "key-b"]
        await settle()
        assert s.sessions["b"].key == "key-b2"
        await s.close()

    run(main())
    assert "a: re-reading its profile failed" in caplog.messages
    assert any(r.exc_info for r in caplog.records)  # shown whole: it is a bug


def test_a_changed_profile_is_refetched_at_once_and_its_old_session_deleted(files, caplog):
    caplog.set_level(logging.INFO, "credhelper")

    async def main():
        clock, sts, s, resolving, reconciler = world(files)
        first = await s.get("p")
        await s.get("same")
        await clock.advance(600)  # long before the renewal is due
        resolving.keys["p"] = "key-p2"
        await reconciler.config_changed()
        await settle()
        assert sts.calls[2:] == [clock.t]  # now, not at renewal; "same" left alone
        assert resolving.forgotten == ["key-p"]
        session = s.sessions["p"]
        assert session.key == "key-p2" and session.creds is not None
        assert session.creds.access_key_id != first.access_key_id
        assert (await s.get("p")).access_key_id == session.creds.access_key_id
        await s.close()

    run(main())
    assert "p: profile changed, fetching a new session" in caplog.messages


def test_a_fetch_in_flight_from_the_old_config_is_superseded(files, caplog):
    caplog.set_level(logging.INFO, "credhelper")

    async def main():
        clock, sts, s, resolving, reconciler = world(files)
        sts.gate = threading.Event()  # the fetch hangs (a source that was wrong, say)
        caller = asyncio.ensure_future(s.get("p"))
        await settle()
        assert s.sessions["p"].inflight is not None and s.sessions["p"].inflight.key == "key-p"
        resolving.keys["p"] = "key-p2"
        await reconciler.config_changed()
        await settle()
        assert len(sts.calls) == 2  # the caller waits for a fetch from the new config
        sts.gate.set()
        creds = await asyncio.wait_for(caller, 5)
        session = s.sessions["p"]
        assert session.key == "key-p2" and creds == session.creds
        assert resolving.forgotten == []  # nothing was held to delete
        await s.close()

    run(main())
    assert "p: profile changed during a fetch, starting over" in caplog.messages


def test_an_unchanged_profile_keeps_its_session_and_its_fetch(files):
    async def main():
        clock, sts, s, resolving, reconciler = world(files)
        held = await s.get("p")
        await reconciler.config_changed()
        await settle()
        assert len(sts.calls) == 1 and resolving.forgotten == []
        assert s.sessions["p"].creds == held
        await s.close()

    run(main())


def test_while_a_file_is_missing_or_unreadable_every_session_is_kept(files, caplog):
    async def main():
        clock, sts, s, resolving, reconciler = world(files)
        await s.get("p")
        resolving.keys["p"] = CredhelperError("no such profile")
        text = files[0].read_text()
        files[0].unlink()  # an editor's rename in progress
        await reconciler.config_changed()
        assert "p" in s.sessions and resolving.forgotten == []
        assert f"{files[0]} is missing; keeping sessions until it is back" in caplog.messages

        files[0].write_text(text)  # back, but half-saved
        resolving.config_error = CredhelperError("cannot parse the AWS config")
        await reconciler.config_changed()
        assert "p" in s.sessions and resolving.forgotten == []
        assert "cannot parse the AWS config; keeping sessions until it is fixed" in caplog.messages

        resolving.config_error = None  # saved whole: now the edit is acted on
        await reconciler.config_changed()
        assert "p" not in s.sessions and resolving.forgotten == ["key-p"]
        await s.close()

    run(main())


def test_a_file_that_was_never_there_is_not_missing(tmp_path):
    absent = tmp_path / "credentials"  # no credentials file at start-up, and none now

    async def main():
        clock, sts, s = make()
        resolving = FakeResolving()
        config = tmp_path / "config"
        config.write_text("")
        reconciler = Reconciler(s, resolving, files=lambda: [config, absent])
        reconciler.start()
        await s.get("p")
        resolving.keys["p"] = CredhelperError("no such profile")
        await reconciler.config_changed()
        assert "p" not in s.sessions
        await s.close()

    run(main())


def test_a_failure_applying_a_change_is_logged_and_the_daemon_goes_on(files, caplog):
    async def main():
        clock, sts, s, resolving, reconciler = world(files)
        await s.get("p")
        resolving.keys["p"] = "key-p2"

        def broken(key: str) -> None:
            raise OSError("keyring went away")

        resolving.forget = broken  # type: ignore[method-assign]
        reconciler.on_change()  # as the watcher calls it: in the background
        await settle()
        await s.close()

    run(main())
    assert "applying a config change failed; sessions kept" in caplog.messages
