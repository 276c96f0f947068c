"""The MFA prompt drivers, one function each (the end-to-end runs are in test_mfa.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from credhelper import prompt
from credhelper.errors import CredhelperError
from credhelper.prompt import CodeRequest, Unavailable, command, dialog

SERIAL = "arn:aws:iam::123456789012:mfa/me"


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_mfa_process_output_is_the_code(tmp_path):
    tool = script(tmp_path, "totp", "echo '  654321 '")
    assert command.ask(CodeRequest("p", SERIAL, str(tool)), 5) == "654321"


@pytest.mark.parametrize(
    "body, needle",
    [
        ("echo nope", "did not give a 6-digit"),
        ("exit 3", "exited with code 3"),
        ("sleep 5", "did not answer within"),
    ],
)
def test_mfa_process_failures_are_clear(tmp_path, body, needle):
    tool = script(tmp_path, "totp", body)
    with pytest.raises(CredhelperError) as info:
        command.ask(CodeRequest("p", SERIAL, str(tool)), 1)
    assert needle in info.value.line() and "profile 'p'" in info.value.line()


def test_dialog_needs_a_display_and_uses_zenity(tmp_path, monkeypatch):
    if sys.platform == "darwin":
        pytest.skip("macOS uses osascript")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(Unavailable):
        dialog.ask(CodeRequest("p", SERIAL), 5)
    args = tmp_path / "args"
    script(tmp_path, "zenity", f'echo "$@" > {args}; echo 112233')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":99")
    assert dialog.ask(CodeRequest("p", SERIAL), 5) == "112233"
    assert "--entry" in args.read_text() and SERIAL in args.read_text()
    script(tmp_path, "zenity", "exit 1")  # Cancel
    with pytest.raises(CredhelperError, match="cancelled"):
        dialog.ask(CodeRequest("p", SERIAL), 5)


def test_order_and_the_error_when_nothing_can_ask(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    tool = script(tmp_path, "totp", "echo 999999")
    # A configured command comes first, before any terminal.
    assert prompt.ask(CodeRequest("p", SERIAL, str(tool)), 5) == "999999"
    # Nothing else: run where there is no terminal (a new session), as under an IDE.
    code = (
        "from credhelper import prompt\n"
        "from credhelper.errors import CredhelperError\n"
        "try:\n"
        f"    prompt.ask(prompt.CodeRequest('p', {SERIAL!r}), 5)\n"
        "except CredhelperError as e:\n"
        "    print(e.line())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert "no way to ask" in result.stdout and "credhelper login p" in result.stdout
