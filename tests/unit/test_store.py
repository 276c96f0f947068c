"""Keyring entries over an in-memory backend: versioned, split when too long, checked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import keyring
import pytest
from keyring.backend import KeyringBackend

from credhelper import store
from credhelper.credentials import Credentials


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, max_value_length: int | None = None) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        if max_value_length:
            self.max_value_length = max_value_length

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        limit = getattr(self, "max_value_length", None)
        if limit and len(password) > limit:
            raise keyring.errors.PasswordSetError("value too long")
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("no such item")


@pytest.fixture
def backend(monkeypatch):
    def use(limit: int | None = None) -> MemoryKeyring:
        ring = MemoryKeyring(limit)
        monkeypatch.setattr(keyring, "get_keyring", lambda: ring)
        monkeypatch.setattr(keyring, "get_password", ring.get_password)
        monkeypatch.setattr(keyring, "set_password", ring.set_password)
        monkeypatch.setattr(keyring, "delete_password", ring.delete_password)
        return ring

    return use


def session() -> Credentials:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return Credentials("ASIAEXAMPLEEXAMPLE12", "s" * 40, "t" * 900, now + timedelta(hours=1), now)


def test_a_long_value_is_split_and_joined(backend):
    ring = backend(limit=200)
    s = store.SessionStore("svc")
    s.put("k", session(), "p")
    assert len([n for (_svc, n) in ring.items if n.startswith("session:k#")]) > 3
    assert s.get("k") == session()
    # shorter again: the pieces no longer needed are removed
    ring.max_value_length = 100000
    s.put("k", session(), "p")
    assert [n for (_svc, n) in ring.items] == ["session:k"]


def test_a_missing_or_altered_piece_makes_the_entry_absent(backend):
    ring = backend(limit=200)
    s = store.SessionStore("svc")
    s.put("k", session(), "p")
    (second,) = [n for (_svc, n) in ring.items if n.startswith("session:k#") and n.endswith(".2")]
    ring.items[("svc", second)] = "tampered"
    assert s.get("k") is None
    del ring.items[("svc", second)]
    assert s.get("k") is None
    s.put("k", session(), "p")  # and the next write replaces it whole
    assert s.get("k") == session()


def test_a_rewrite_cut_short_leaves_the_old_value_whole(backend):
    """New pieces are written under new names before the head moves to them: a kill between
    the two leaves the old entry readable (tests/e2e/test_chaos.py does it with kill -9)."""
    ring = backend(limit=200)
    s = store.SessionStore("svc")
    old = session()
    s.put("k", old, "p")
    new = Credentials("ASIANEWNEWNEWNEWNEW1", "n" * 40, "u" * 900, old.expiration, old.issued)
    original = ring.set_password

    def dies_at_the_head(service: str, username: str, password: str) -> None:
        if username == "session:k":
            raise SystemExit("killed")
        original(service, username, password)

    keyring.set_password = dies_at_the_head
    with pytest.raises(SystemExit):
        s.put("k", new, "p")
    keyring.set_password = original
    assert s.get("k") == old


def test_unknown_formats_and_garbage_are_ignored(backend):
    ring = backend()
    s = store.SessionStore("svc")
    ring.items[("svc", "session:k")] = '{"format": 99}'
    assert s.get("k") is None
    ring.items[("svc", "session:k")] = "not json"
    assert s.get("k") is None


def test_an_unchanged_value_is_not_rewritten(backend):
    ring = backend()
    s = store.SessionStore("svc")
    s.put("k", session(), "p")
    writes = []
    original = ring.set_password
    ring.set_password = lambda *a: (writes.append(a), original(*a))  # type: ignore[method-assign]
    keyring.set_password = ring.set_password
    s.put("k", session(), "p")
    assert writes == []


@pytest.mark.parametrize("raw", ["abc", "63", "-100", "1e3", "1_000", "١٢٣"])
def test_settings_refuse_a_bad_keyring_value_limit(raw):
    from credhelper.errors import CredhelperError
    from credhelper.settings import Settings

    with pytest.raises(CredhelperError) as caught:
        Settings.from_env({"CREDHELPER_KEYRING_MAX_VALUE": raw})
    assert caught.value.exit_code == 2
    assert "CREDHELPER_KEYRING_MAX_VALUE" in caught.value.message
    assert "fix or unset CREDHELPER_KEYRING_MAX_VALUE" in (caught.value.hint or "")
    assert Settings.from_env({"CREDHELPER_KEYRING_MAX_VALUE": " 200 "}).keyring_max_value == 200
    assert Settings.from_env({}).keyring_max_value is None
