"""``mfa_process``'s stderr reaches the user as it comes, with anything like a code hidden."""

from __future__ import annotations

import io
import logging
import os

import pytest

import credhelper.daemon.notify
from credhelper.prompt import command


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("Touch your YubiKey...", "Touch your YubiKey..."),
        ("code: 123456", "code: ******"),
        ("12345678", "******"),
        ("code: 123 456", "code: ******"),
        ("code: 123-456", "code: ******"),
        ("your code is 0012345, valid 30 s", "your code is ******, valid 30 s"),
        ("Code123456", "Code******"),
        ("two: 111111 222222", "two: ****** ******"),
        ("account 123456789012", "account 123456789012"),  # 12 digits: not a code
        ("PIN 12345 needed", "PIN 12345 needed"),  # 5 digits: not a code
    ],
)
def test_what_looks_like_a_code_is_hidden(line, shown):
    assert command.redact(line) == shown


@pytest.fixture
def notes(monkeypatch):
    sent: list[tuple[str, str]] = []

    def notify(title: str, body: str) -> bool:
        sent.append((title, body))
        return True

    monkeypatch.setattr(credhelper.daemon.notify, "notify", notify)
    return sent


def test_no_code_reaches_the_log_or_a_notification(caplog, notes):
    stream = io.StringIO("Touch your YubiKey\ncode 987654 copied\n" + "x" * 396 + "7654321\n")
    with caplog.at_level(logging.WARNING):
        command._pass_on(stream, "p", None)
    assert "Touch your YubiKey" in caplog.text and "code ****** copied" in caplog.text
    assert "987654" not in caplog.text and "7654" not in caplog.text
    assert notes[0] == ("credhelper: MFA", "p: Touch your YubiKey")
    assert all("987654" not in body and "7654" not in body for _, body in notes)


def test_no_code_reaches_the_terminal(notes):
    read, write = os.pipe()
    try:
        command._pass_on(io.StringIO("Touch your YubiKey\n123456\n"), "p", write)
        os.close(write)
        shown = os.read(read, 4096).decode()
    finally:
        os.close(read)
    assert shown == "mfa_process: Touch your YubiKey\nmfa_process: ******\n"
    assert notes == []
