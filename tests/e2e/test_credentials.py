"""The credentials value: the hand-out floor, the credential_process document, safe logging."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from credhelper.credentials import Credentials, abbreviate
from credhelper.store.codec import decode, encode

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


def session(minutes_left: float, lifetime_minutes: float = 60) -> Credentials:
    expiry = NOW + timedelta(minutes=minutes_left)
    return Credentials(
        "ASIAABCDEFGHIJKLWXYZ",
        "secret",
        "token",
        expiration=expiry,
        issued=expiry - timedelta(minutes=lifetime_minutes),
    )


def test_floor_is_respected():
    assert session(17).usable(16 * 60, now=NOW)
    assert not session(15.9).usable(16 * 60, now=NOW)


def test_short_sessions_get_half_their_life_as_floor():
    # A 15-minute session could never have 16 minutes left: reuse it for half its life.
    assert session(8, lifetime_minutes=15).usable(16 * 60, now=NOW)
    assert not session(7, lifetime_minutes=15).usable(16 * 60, now=NOW)


def test_process_document_has_utc_z_expiration():
    doc = json.loads(json.dumps(session(30).process_output()))
    assert doc["Version"] == 1
    assert doc["Expiration"] == "2030-01-01T12:30:00Z"
    assert set(doc) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}


def test_secrets_stay_out_of_repr_and_descriptions():
    creds = session(30)
    for text in (repr(creds), creds.describe()):
        assert "secret" not in text and "token" not in text
    assert abbreviate(creds.access_key_id) == "ASIA…WXYZ"
    assert "ASIA…WXYZ" in creds.describe()


def test_store_round_trip_and_rejects_unknown_formats():
    creds = session(30)
    assert decode(encode(creds, "p")) == creds
    assert decode(json.dumps({"format": 1, **encode(creds, "p")})) == creds
    for bad in ("{", "[]", '{"format": 99}', '{"format": 1, "AccessKeyId": "x"}'):
        try:
            decode(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_a_plain_file_backend_is_never_used(monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    from credhelper.settings import Settings
    from credhelper.store import open_stores

    written = {}

    class PlaintextKeyring(KeyringBackend):  # the name keyrings.alt's file backend carries
        priority = 1

        def get_password(self, service, username):
            return written.get((service, username))

        def set_password(self, service, username, password):
            written[(service, username)] = password

        def delete_password(self, service, username):
            written.pop((service, username), None)

    monkeypatch.setattr(keyring, "get_keyring", lambda: PlaintextKeyring())
    stores = open_stores(Settings(keyring_service="credhelper-test-plain"))
    assert "plain file" in (stores.entries.probe() or "")
    stores.sessions.put("k", session(30), "p")
    assert written == {} and stores.sessions.get("k") is None
