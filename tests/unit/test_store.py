"""The stores over an in-memory backend: versioned entries, split when too long, checked; a
failing keyring turns them into a null object, a bug of ours does not."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import keyring.errors
import pytest
from keyring.backend import KeyringBackend as LibraryBackend

import credhelper.store.entries as entries_module
from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError
from credhelper.settings import Settings
from credhelper.store import Stores, open_stores
from credhelper.store.backend import BackendError, KeyringBackend, MemoryBackend

SETTINGS = Settings(keyring_service="svc")
WARNING = "warning: the OS keyring is not usable ("


#: One instant for every session a test builds: two calls must build equal sessions (reading
#: the clock in each, two calls could fall either side of a second).
_NOW = datetime.now(timezone.utc).replace(microsecond=0)


def session(key_id: str = "ASIAEXAMPLEEXAMPLE12") -> Credentials:
    return Credentials(key_id, "s" * 40, "t" * 900, _NOW + timedelta(hours=1), _NOW)


def names(backend: MemoryBackend) -> list[str]:
    return [name for (_service, name) in backend.items]


class CountingBackend(MemoryBackend):
    """Counts the calls that reach it."""

    def __init__(self, limit: int | None = None) -> None:
        super().__init__(limit)
        self.calls: list[tuple[str, str]] = []

    def get(self, service: str, name: str) -> str | None:
        self.calls.append(("get", name))
        return super().get(service, name)

    def set(self, service: str, name: str, value: str) -> None:
        self.calls.append(("set", name))
        super().set(service, name, value)

    def delete(self, service: str, name: str) -> None:
        self.calls.append(("delete", name))
        super().delete(service, name)


class LockedBackend(CountingBackend):
    """A keyring that refuses everything, as a locked one does."""

    def get(self, service: str, name: str) -> str | None:
        self.calls.append(("get", name))
        raise BackendError("the collection is locked")

    def set(self, service: str, name: str, value: str) -> None:
        self.calls.append(("set", name))
        raise BackendError("the collection is locked")


@pytest.fixture
def locks(tmp_path, monkeypatch):
    """The keys index's file lock in a folder of this test's."""
    monkeypatch.setenv("CREDHELPER_RUNTIME_DIR", str(tmp_path / "run"))


# --- entries ----------------------------------------------------------------------------


def test_a_long_value_is_split_and_joined():
    backend = MemoryBackend(limit=200)
    stores = open_stores(SETTINGS, backend)
    stores.sessions.put("k", session(), "p")
    assert len([n for n in names(backend) if n.startswith("session:k#")]) > 3
    assert all(len(value) <= 200 for value in backend.items.values())
    assert stores.sessions.get("k") == session()
    # shorter again: the pieces no longer needed are removed
    backend.max_value = None
    stores.sessions.put("k", session(), "p")
    assert names(backend) == ["session:k"]
    assert stores.sessions.get("k") == session()


def test_a_missing_or_altered_piece_makes_the_entry_absent():
    backend = MemoryBackend(limit=200)
    stores = open_stores(SETTINGS, backend)
    stores.sessions.put("k", session(), "p")
    (second,) = [n for n in names(backend) if n.startswith("session:k#") and n.endswith(".2")]
    backend.items[("svc", second)] = "tampered"
    assert stores.sessions.get("k") is None
    del backend.items[("svc", second)]
    assert stores.sessions.get("k") is None
    stores.sessions.put("k", session(), "p")  # and the next write replaces it whole
    assert stores.sessions.get("k") == session()
    assert stores.entries.usable


def test_a_rewrite_cut_short_leaves_the_old_value_or_the_new_one_whole():
    """New pieces are written under new names before the head moves to them: a kill at any
    write leaves the old entry readable, or the new one (tests/e2e/test_chaos.py does it with
    kill -9)."""

    class DiesAtWrite(MemoryBackend):
        countdown: int | None = None

        def set(self, service: str, name: str, value: str) -> None:
            if self.countdown is not None:
                self.countdown -= 1
                if self.countdown < 0:
                    raise SystemExit("killed")
            super().set(service, name, value)

    old, new = session(), session("ASIANEWNEWNEWNEWNEW1")
    seen = set()
    for writes in range(10):
        backend = DiesAtWrite(limit=200)
        stores = open_stores(SETTINGS, backend)
        stores.sessions.put("k", old, "p")
        backend.countdown = writes
        try:
            stores.sessions.put("k", new, "p")
        except SystemExit:
            pass
        found = stores.sessions.get("k")
        assert found in (old, new), writes
        seen.add(found.access_key_id if found else None)
    assert seen == {old.access_key_id, new.access_key_id}


def test_unknown_formats_and_garbage_are_ignored(caplog):
    backend = MemoryBackend()
    stores = open_stores(SETTINGS, backend)
    backend.items[("svc", "session:k")] = '{"format": 99}'
    assert stores.sessions.get("k") is None
    assert "unknown format 99" in caplog.text
    backend.items[("svc", "session:k")] = "not json"
    assert stores.sessions.get("k") is None
    assert "(unreadable); it will be replaced" in caplog.text
    backend.items[("svc", "keys:p")] = json.dumps({"format": 1, "AccessKeyId": 5})
    assert stores.keys.get("p") is None
    assert stores.entries.usable


def test_an_unchanged_value_is_not_rewritten():
    for limit in (None, 200):
        backend = CountingBackend(limit)
        stores = open_stores(SETTINGS, backend)
        stores.sessions.put("k", session(), "p")
        backend.calls.clear()
        stores.sessions.put("k", session(), "p")
        assert [c for c in backend.calls if c[0] != "get"] == [], limit


# --- a failing keyring, and a bug of ours ---------------------------------------------------


def test_a_failing_backend_makes_every_store_a_null_object_and_warns_once(caplog, locks):
    backend = LockedBackend()
    stores = open_stores(SETTINGS, backend)
    with caplog.at_level(logging.WARNING):
        assert stores.sessions.get("k") is None
        stores.sessions.put("k", session(), "p")
        assert stores.keys.put("p", session("AKIAEXAMPLEEXAMPLE12")) is False
        assert stores.keys.get("p") is None and stores.keys.profiles() == []
        stores.daemon_index.save(["a"])
        assert stores.daemon_index.load() == []
        stores.sessions.delete("k")
    assert not stores.entries.usable
    assert stores.entries.problem == "BackendError: the collection is locked"
    assert backend.calls == [("get", "session:k")]  # never asked again
    warnings = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert warnings[0].startswith(
        "warning: the OS keyring is not usable (BackendError: the collection is locked); "
        "nothing is cached or stored (never in a plain file instead). To cache sessions, "
        "install or unlock a keyring"
    )
    assert "'dbus-run-session'" in warnings[0] and "--unlock" in warnings[0]
    assert warnings[0].endswith("(see README, Headless)")
    assert stores.entries.probe() == stores.entries.problem


def test_probe_says_why_without_the_warning(caplog):
    stores = open_stores(SETTINGS, LockedBackend())
    assert stores.entries.probe() == "BackendError: the collection is locked"
    assert stores.sessions.get("k") is None
    assert WARNING not in caplog.text
    assert open_stores(SETTINGS, MemoryBackend()).entries.probe() is None


class LibraryRing(LibraryBackend):
    """A ``keyring`` backend raising what it is given (passed in: no keyring global touched)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, error: BaseException | None = None, value: object = None) -> None:
        super().__init__()
        self.error = error
        self.value = value
        self.written: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]

    def set_password(self, service: str, username: str, password: str) -> None:
        self.written[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("no such item")


@pytest.mark.parametrize(
    "error",
    [
        keyring.errors.KeyringLocked("Failed to unlock the collection!"),
        keyring.errors.NoKeyringError("No recommended backend was available"),
        ConnectionResetError(104, "Connection reset by peer"),
        pytest.param("secretstorage", id="SecretServiceNotAvailableException"),
    ],
)
def test_what_the_keyring_raises_means_unusable(error):
    if error == "secretstorage":
        exceptions = pytest.importorskip("secretstorage.exceptions")
        error = exceptions.SecretServiceNotAvailableException("no such service")
    stores = open_stores(SETTINGS, KeyringBackend(LibraryRing(error)))
    assert stores.sessions.get("k") is None
    assert stores.entries.problem is not None
    assert stores.entries.problem.startswith(type(error).__name__ + ": ")


def test_a_plain_file_backend_is_refused():
    class PlaintextKeyring(LibraryRing):  # the name keyrings.alt's file backend carries
        pass

    ring = PlaintextKeyring()
    stores = open_stores(SETTINGS, KeyringBackend(ring))
    assert "plain file" in (stores.entries.probe() or "")
    stores.sessions.put("k", session(), "p")
    assert ring.written == {} and stores.sessions.get("k") is None


def test_deleting_what_is_not_there_is_no_failure():
    stores = open_stores(SETTINGS, KeyringBackend(LibraryRing()))
    stores.sessions.delete("k")
    assert stores.entries.usable


def test_a_bug_of_ours_is_not_taken_for_a_missing_keyring(monkeypatch):
    # A backend handing back something that is not a string.
    class Confused(MemoryBackend):
        def get(self, service: str, name: str) -> str | None:
            return 42  # type: ignore[return-value]

    stores = open_stores(SETTINGS, Confused())
    with pytest.raises(TypeError):
        stores.sessions.get("k")
    assert stores.entries.usable

    # The same through the keyring library; and a TypeError raised there is a bug too.
    stores = open_stores(SETTINGS, KeyringBackend(LibraryRing(value=b"bytes")))
    with pytest.raises(TypeError):
        stores.sessions.get("k")
    stores = open_stores(SETTINGS, KeyringBackend(LibraryRing(TypeError("a bug"))))
    with pytest.raises(TypeError, match="a bug"):
        stores.sessions.get("k")
    assert stores.entries.usable

    # Our JSON handling failing.
    def broken(*args: object, **kwargs: object) -> str:
        raise TypeError("not JSON serializable")

    monkeypatch.setattr(entries_module.json, "dumps", broken)
    stores = open_stores(SETTINGS, MemoryBackend())
    with pytest.raises(TypeError, match="not JSON serializable"):
        stores.sessions.put("k", session(), "p")
    assert stores.entries.usable and stores.entries.problem is None


# --- what is stored -------------------------------------------------------------------------


def test_all_stores_share_one_entries():
    stores = open_stores(SETTINGS, MemoryBackend())
    assert isinstance(stores, Stores)
    assert stores.sessions.entries is stores.entries
    assert stores.keys.entries is stores.entries
    assert stores.daemon_index.entries is stores.entries


def test_the_keyring_limit_comes_from_settings_or_the_backend_class():
    assert KeyringBackend(LibraryRing(), limit=300).limit() == 300
    assert KeyringBackend(LibraryRing()).limit() is None

    class WinVaultKeyring(LibraryRing):
        pass

    assert KeyringBackend(WinVaultKeyring()).limit() == 1200


def test_entry_names_are_unchanged(locks):
    """Existing users' keyrings keep working: the same names as before the split."""
    backend = MemoryBackend()
    stores = open_stores(SETTINGS, backend)
    stores.sessions.put("abc", session(), "p", kind="mfa")
    stores.keys.put("p", session("AKIAEXAMPLEEXAMPLE12"))
    stores.daemon_index.save(["p"])
    assert sorted(names(backend)) == ["daemon:index", "keys:index", "keys:p", "session:abc"]
    doc = json.loads(backend.items[("svc", "session:abc")])
    assert doc["format"] == 1 and doc["kind"] == "mfa" and doc["profile"] == "p"


def test_the_keys_index_keeps_both_profiles_of_two_puts(locks):
    backend = MemoryBackend()
    first, second = open_stores(SETTINGS, backend), open_stores(SETTINGS, backend)
    assert first.keys.put("a", session("AKIAEXAMPLEEXAMPLEAA"))
    assert second.keys.put("b", session("AKIAEXAMPLEEXAMPLEBB"))
    assert first.keys.profiles() == ["a", "b"]
    assert second.keys.get("a") == session("AKIAEXAMPLEEXAMPLEAA")
    first.keys.delete("a")
    assert second.keys.profiles() == ["b"] and second.keys.get("a") is None


def test_unchanged_keys_keep_when_they_were_added(locks):
    backend = CountingBackend()
    stores = open_stores(SETTINGS, backend)
    keys = Credentials("AKIAEXAMPLEEXAMPLE12", "s" * 40)
    assert stores.keys.put("p", keys)
    backend.calls.clear()
    assert stores.keys.put("p", keys)
    assert [c for c in backend.calls if c[0] != "get"] == []


def test_the_daemon_index_round_trips():
    stores = open_stores(SETTINGS, MemoryBackend())
    assert stores.daemon_index.load() == []
    stores.daemon_index.save(["b", "a", "b"])
    assert stores.daemon_index.load() == ["a", "b"]
    stores.daemon_index.save([])
    assert stores.daemon_index.load() == []


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["abc", "63", "-100", "1e3", "1_000", "١٢٣"])
def test_settings_refuse_a_bad_keyring_value_limit(raw):
    with pytest.raises(CredhelperError) as caught:
        Settings.from_env({"CREDHELPER_KEYRING_MAX_VALUE": raw})
    assert caught.value.exit_code == 2
    assert "CREDHELPER_KEYRING_MAX_VALUE" in caught.value.message
    assert "fix or unset CREDHELPER_KEYRING_MAX_VALUE" in (caught.value.hint or "")
    assert Settings.from_env({"CREDHELPER_KEYRING_MAX_VALUE": " 200 "}).keyring_max_value == 200
    assert Settings.from_env({}).keyring_max_value is None


# --- a failed keyring is tried again, with backoff ----------------------------------------


class FlakyBackend(CountingBackend):
    """A keyring that fails while ``broken`` (a Secret Service stopped, then started)."""

    broken = False

    def get(self, service: str, name: str) -> str | None:
        if self.broken:
            self.calls.append(("get", name))
            raise BackendError("the service is gone")
        return super().get(service, name)

    def set(self, service: str, name: str, value: str) -> None:
        if self.broken:
            self.calls.append(("set", name))
            raise BackendError("the service is gone")
        super().set(service, name, value)


class VirtualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_failed_keyring_is_tried_again_with_backoff_and_warned_about_once(caplog):
    clock = VirtualClock()
    backend = FlakyBackend()
    backend.broken = True
    entries = entries_module.Entries("svc", backend, monotonic=clock)
    tries = []
    with caplog.at_level(logging.DEBUG, logger="credhelper.store.entries"):
        for _ in range(200):  # 200 s of a call every second
            before = len(backend.calls)
            assert entries.read("x") is None
            if len(backend.calls) > before:
                tries.append(clock.now - 1000.0)
            clock.now += 1.0
    # Tried at once, then after 1, 2, 4, 8, 16, 32 s, then every minute.
    assert tries == [0, 1, 3, 7, 15, 31, 63, 123, 183]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and WARNING in warnings[0].getMessage()
    assert entries.retry_in() is not None and entries.recoveries == 0


def test_a_keyring_that_works_again_is_used_again_and_counted():
    clock = VirtualClock()
    backend = FlakyBackend()
    stores_entries = entries_module.Entries("svc", backend, monotonic=clock)
    backend.broken = True
    assert not stores_entries.write("a", {"v": 1})
    assert not stores_entries.usable
    backend.broken = False
    assert not stores_entries.write("a", {"v": 1})  # not tried before its time
    assert ("svc", "a") not in backend.items
    assert not stores_entries.retry()  # nor by the daemon's retry
    clock.now += 1.0
    assert stores_entries.retry()
    assert stores_entries.usable and stores_entries.recoveries == 1
    assert stores_entries.retry_in() is None
    assert stores_entries.write("a", {"v": 1})
    assert stores_entries.read("a") == {"format": 1, "v": 1}
    # A new failure starts the backoff over, at one second.
    backend.broken = True
    assert stores_entries.read("a") is None
    assert stores_entries.retry_in() == 1.0


def test_a_write_that_is_due_goes_through_and_recovers():
    clock = VirtualClock()
    backend = FlakyBackend()
    entries = entries_module.Entries("svc", backend, monotonic=clock)
    backend.broken = True
    entries.delete("a")
    backend.broken = False
    clock.now += 1.0
    assert entries.write("a", {"v": 2})
    assert entries.recoveries == 1 and json.loads(backend.items[("svc", "a")])["v"] == 2


def test_a_long_keyring_error_is_cut_at_a_word_in_the_warning(caplog):
    detail = (
        "Failed to unlock the collection: the Secret Service at org.freedesktop.secrets has "
        "not answered the unlock prompt before its deadline, so nothing was unlocked"
    )
    error = keyring.errors.KeyringLocked(detail + "\nsecond line")
    stores = open_stores(SETTINGS, KeyringBackend(LibraryRing(error)))
    with caplog.at_level(logging.WARNING):
        assert stores.sessions.get("k") is None
    problem = stores.entries.problem
    assert problem is not None and problem.startswith("KeyringLocked: Failed to unlock")
    shown = problem.removeprefix("KeyringLocked: ")
    assert shown.endswith("...") and len(shown) <= 100, shown
    kept = shown.removesuffix("...")
    # whole words only: what is kept is followed by a space in the detail, and ends a word
    assert detail.startswith(kept) and detail[len(kept)] == " ", kept
    assert kept[-1].isalnum()
    warning = next(r.getMessage() for r in caplog.records if WARNING in r.getMessage())
    assert f"({problem}); nothing is cached" in warning
