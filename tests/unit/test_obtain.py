"""What the commands that use a session (exec, export, console) take from a daemon's reply."""

from __future__ import annotations

from datetime import datetime, timezone

from credhelper.credentials import Credentials
from credhelper.obtain import DaemonSaid, from_document


def test_a_served_document_is_the_session_it_was_made_from():
    when = datetime(2026, 11, 29, 13, 0, tzinfo=timezone.utc)
    creds = Credentials("ASIAEXAMPLEEXAMPLE12", "secret", "token", when)
    assert from_document(creds.process_output()) == creds
    keys = Credentials("AKIAEXAMPLEEXAMPLE12", "secret")
    assert from_document(keys.process_output()) == keys


def test_the_daemons_error_is_shown_as_it_said_it():
    said = DaemonSaid("credhelper: profile 'p': AssumeRole failed. Fix it.", exit_code=1)
    assert said.line() == "credhelper: profile 'p': AssumeRole failed. Fix it."
    assert DaemonSaid("no such profile").line() == "credhelper: no such profile"
