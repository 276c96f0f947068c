"""MFA: asked once per MFA session (GetSessionToken), never once per role session; the prompt
methods that work where credential_process runs; the daemon never prompts.

moto does not check MFA codes and, with IAM enforcement on, rejects the fixed key its
GetSessionToken returns, so these tests run with enforcement off and assert the number of
prompts and of GetSessionToken / AssumeRole calls instead.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import keyring
import pytest
from harness import MotoStack
from harness.awsenv import AwsEnv
from harness.daemon import wait_until
from harness.keyring_items import entries

SERIAL = "arn:aws:iam::123456789012:mfa/user1"


@pytest.fixture
def mfa_env(aws_env: AwsEnv, moto_stack: MotoStack, tmp_path: Path) -> Iterator[AwsEnv]:
    """Two role profiles behind one MFA device; codes come from a counting mfa_process."""
    seed = moto_stack.seed
    counter = tmp_path / "prompts"
    counter.write_text("")
    script = tmp_path / "code.sh"
    script.write_text(f"#!/bin/sh\necho asked >> {counter}\necho 123456\n")
    aws_env.add_credentials("account1", seed.user_creds)
    aws_env.add_profile("account1", region="us-east-1")
    for name, session in (("mfa-role", "mfa-a"), ("mfa-role-2", "mfa-b")):
        aws_env.add_profile(
            name,
            role_arn=seed.role_arn,
            source_profile="account1",
            mfa_serial=SERIAL,
            mfa_process=f"sh {script}",
            role_session_name=session,
        )
    aws_env.prompts = counter  # type: ignore[attr-defined]
    with moto_stack.auth_disabled():
        yield aws_env


def prompts(env: AwsEnv) -> int:
    return len(env.prompts.read_text().split())  # type: ignore[attr-defined]


def process(env: AwsEnv, profile: str, **extra: str | None) -> dict:
    result = env.run(
        ["credhelper", "process", profile],
        env=env.env_with(**extra),
        start_new_session=True,  # no controlling terminal, as under an IDE
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stored(env: AwsEnv, kind: str) -> dict[str, dict]:
    out = {}
    for name, raw in entries(env.keyring_service).items():
        doc = json.loads(raw)
        if doc.get("kind") == kind:
            out[name] = doc
    return out


def test_code_asked_once_per_mfa_session_not_per_role_session(mfa_env, proxy):
    env = {"CREDHELPER_NO_DAEMON": "1"}
    first = process(mfa_env, "mfa-role", **env)
    assert (prompts(mfa_env), proxy.count("GetSessionToken"), proxy.count("AssumeRole")) == (
        1,
        1,
        1,
    )
    gst = next(c for c in proxy.calls if c.action == "GetSessionToken")
    assert gst.params.get("SerialNumber") == SERIAL and gst.params.get("TokenCode") == "123456"
    assume = [c for c in proxy.calls if c.action == "AssumeRole"][-1]
    # The role is assumed from the MFA session, so AssumeRole itself carries no code.
    assert "TokenCode" not in assume.params
    assert assume.access_key_id != mfa_env_user_key(mfa_env)

    # Another profile with the same source and device shares the MFA session.
    process(mfa_env, "mfa-role-2", **env)
    assert (prompts(mfa_env), proxy.count("GetSessionToken"), proxy.count("AssumeRole")) == (
        1,
        1,
        2,
    )

    # Role sessions renewed again and again: no new code.
    for n in range(3):
        for name in stored(mfa_env, "role"):
            keyring.delete_password(mfa_env.keyring_service, name)
        again = process(mfa_env, "mfa-role", **env)
        assert again["AccessKeyId"] != first["AccessKeyId"]
        assert proxy.count("AssumeRole") == 3 + n
    assert (prompts(mfa_env), proxy.count("GetSessionToken")) == (1, 1)

    # The MFA session ends: the next call that needs a role session asks again.
    ((name, doc),) = stored(mfa_env, "mfa").items()
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    doc["Expiration"] = past.strftime("%Y-%m-%dT%H:%M:%SZ")
    keyring.set_password(mfa_env.keyring_service, name, json.dumps(doc))
    for name in stored(mfa_env, "role"):
        keyring.delete_password(mfa_env.keyring_service, name)
    process(mfa_env, "mfa-role", **env)
    assert (prompts(mfa_env), proxy.count("GetSessionToken")) == (2, 2)


def mfa_env_user_key(env: AwsEnv) -> str:
    import configparser

    parser = configparser.RawConfigParser()
    parser.read(env.credentials_file)
    return parser["account1"]["aws_access_key_id"]


def test_no_terminal_no_display_no_mfa_process_is_a_clear_error(mfa_env):
    mfa_env.add_profile(
        "bare",
        role_arn="arn:aws:iam::123456789012:role/x",
        source_profile="account1",
        mfa_serial=SERIAL,
    )
    result = mfa_env.run(
        ["credhelper", "process", "bare"],
        env=mfa_env.env_with(CREDHELPER_NO_DAEMON="1", DISPLAY=None, WAYLAND_DISPLAY=None),
        start_new_session=True,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("credhelper: profile 'bare': an MFA code for " + SERIAL)
    assert "credhelper login bare" in lines[0]
    assert entries(mfa_env.keyring_service) == {}


def test_login_ahead_of_time_then_scripts_need_no_code(mfa_env, proxy):
    result = mfa_env.run(["credhelper", "login", "mfa-role"], start_new_session=True)
    assert result.returncode == 0, result.stderr
    assert f"MFA session for {SERIAL} valid until" in result.stdout
    assert prompts(mfa_env) == 1
    # No way to ask any more: the MFA session from login carries every later role session.
    text = mfa_env.config_file.read_text()
    mfa_env.write_config(
        "\n".join(line for line in text.splitlines() if not line.startswith("mfa_process")) + "\n"
    )
    process(mfa_env, "mfa-role-2", CREDHELPER_NO_DAEMON="1", DISPLAY=None)
    assert (prompts(mfa_env), proxy.count("GetSessionToken")) == (1, 1)
    # --force starts a new MFA session even though one is valid.
    mfa_env.write_config(text)
    result = mfa_env.run(["credhelper", "login", "--force", "mfa-role"], start_new_session=True)
    assert result.returncode == 0, result.stderr
    assert (prompts(mfa_env), proxy.count("GetSessionToken")) == (2, 2)


def status(env: AwsEnv) -> dict:
    result = env.run(["credhelper", "status", "--json"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_daemon_renews_mfa_protected_roles_without_asking_and_never_prompts(
    mfa_env, proxy, tmp_path
):
    notes = tmp_path / "notifications"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    # A stand-in for notify-send that records what it was asked to show.
    (fake_bin / "notify-send").write_text(f'#!/bin/sh\necho "$@" >> {notes}\n')
    (fake_bin / "notify-send").chmod(0o755)
    env = {
        "PATH": f"{fake_bin}{os.pathsep}{mfa_env.env['PATH']}",
        "CREDHELPER_MFA_WARN_BEFORE": str(13 * 3600),  # the 12 h MFA session is "ending"
    }
    # Role sessions of 40 s (the daemon renews them every ~10 s); the MFA session stays 12 h.
    proxy.rewrite_expiration(40, actions={"AssumeRole"})
    process(mfa_env, "mfa-role", **env)  # no daemon yet: in-process, one code; starts it
    sock = mfa_env.runtime_dir / "credhelper" / "daemon.sock"
    assert wait_until(sock.exists, 10)
    process(mfa_env, "mfa-role", **env)  # now through the daemon
    before = proxy.count("AssumeRole")
    assert wait_until(lambda: proxy.count("AssumeRole") >= before + 2, 40)
    assert (prompts(mfa_env), proxy.count("GetSessionToken")) == (1, 1)

    (held,) = [p for p in status(mfa_env)["profiles"] if p["profile"] == "mfa-role"]
    assert held["mfa_expiration"] and not held["mfa_needed"]
    # The warning before the MFA session ends: in the log, and as a desktop notification.
    log = mfa_env.home / ".local" / "state" / "credhelper" / "log" / "daemon.log"
    warned = wait_until(lambda: notes.exists() and "mfa-role" in notes.read_text(), 15)
    assert warned, log.read_text()
    assert "The MFA session behind profile 'mfa-role' ends at" in log.read_text()

    # The MFA session is over: the daemon does not prompt, says "MFA needed", and keeps
    # serving the still-valid session.
    ((name, doc),) = stored(mfa_env, "mfa").items()
    doc["Expiration"] = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    keyring.set_password(mfa_env.keyring_service, name, json.dumps(doc))

    def needs_mfa():
        return [p for p in status(mfa_env)["profiles"] if p["mfa_needed"]]

    (needing,) = wait_until(needs_mfa, 30)
    assert needing["profile"] == "mfa-role" and "MFA needed" in needing["last_error"]
    table = mfa_env.run(["credhelper", "status"]).stdout
    assert "MFA needed" in table
    assert prompts(mfa_env) == 1  # the daemon asked nobody


def test_terminal_prompt_under_the_aws_cli(mfa_env, proxy):
    """The /dev/tty path, for real: AWS CLI v1 runs credhelper with stdout and stderr
    captured; the code is typed on the terminal once, the second command needs none."""
    from harness.tty import run_with_tty

    text = mfa_env.config_file.read_text()  # no mfa_process: the terminal must be used
    mfa_env.write_config(
        "\n".join(line for line in text.splitlines() if not line.startswith("mfa_process")) + "\n"
    )
    wired = mfa_env.run(["credhelper", "wire", "mfa-role", "--as", "mfa-cli"])
    assert wired.returncode == 0, wired.stderr
    aws = [str(Path(mfa_env.env["PATH"].split(os.pathsep)[0]) / "aws")]
    argv = [*aws, "sts", "get-caller-identity", "--profile", "mfa-cli", "--output", "text"]
    rc, transcript = run_with_tty(
        argv, mfa_env.env, answers=[(r"MFA code for .*mfa/user1.*: ", "123456")], timeout=60
    )
    assert rc == 0, transcript
    assert "assumed-role/s3fullaccess-user1/mfa-a" in transcript
    assert proxy.count("GetSessionToken") == 1
    gst = next(c for c in proxy.calls if c.action == "GetSessionToken")
    assert gst.params.get("TokenCode") == "123456"
    # Second command, the role session renewed from the MFA session: no prompt at all.
    for name in stored(mfa_env, "role"):
        keyring.delete_password(mfa_env.keyring_service, name)
    rc, transcript = run_with_tty(argv, mfa_env.env, timeout=60)
    assert rc == 0, transcript
    assert "MFA code" not in transcript
    assert proxy.count("GetSessionToken") == 1


def test_mfa_process_stderr_shows_on_the_terminal_while_the_code_is_awaited(
    mfa_env, proxy, tmp_path
):
    """A ``ykman`` that says "Touch your YubiKey" on stderr and waits for the touch (a line
    typed on the terminal) before it gives the code: under the AWS CLI, which captures
    credhelper's stderr, the line must reach the terminal, or the touch never comes."""
    from harness.tty import run_with_tty

    ykman = tmp_path / "ykman"
    ykman.write_text(
        "#!/bin/sh\necho 'Touch your YubiKey...' >&2\nread touched < /dev/tty\necho 123456\n"
    )
    ykman.chmod(0o755)
    text = mfa_env.config_file.read_text()
    mfa_env.write_config(
        "\n".join(
            f"mfa_process = {ykman} oath accounts code -s user1"
            if line.startswith("mfa_process")
            else line
            for line in text.splitlines()
        )
        + "\n"
    )
    wired = mfa_env.run(["credhelper", "wire", "mfa-role", "--as", "mfa-cli"])
    assert wired.returncode == 0, wired.stderr
    aws = [str(Path(mfa_env.env["PATH"].split(os.pathsep)[0]) / "aws")]
    argv = [*aws, "sts", "get-caller-identity", "--profile", "mfa-cli", "--output", "text"]
    rc, transcript = run_with_tty(
        argv, mfa_env.env, answers=[(r"Touch your YubiKey", "")], timeout=60
    )
    assert rc == 0, transcript
    assert "assumed-role/s3fullaccess-user1/mfa-a" in transcript
    gst = next(c for c in proxy.calls if c.action == "GetSessionToken")
    assert gst.params.get("TokenCode") == "123456"


def test_exec_asks_the_code_once_then_the_daemon_serves_its_command(mfa_env, proxy):
    """The daemon never prompts: exec types the code in its own process (here, through
    mfa_process) and the daemon serves the command from the MFA session that cached."""
    script = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
    for profile in ("mfa-role", "mfa-role-2"):  # one MFA device: one code for both
        result = mfa_env.run(["credhelper", "exec", profile, "--", sys.executable, "-c", script])
        assert result.returncode == 0, result.stderr
        assert "assumed-role" in result.stdout
    assert (prompts(mfa_env), proxy.count("GetSessionToken")) == (1, 1)
    assert mfa_env.run(["credhelper", "status", "--json"]).returncode == 0  # a daemon runs
