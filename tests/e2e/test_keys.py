"""``credhelper add | remove | list | clear``: long-term keys in the keyring, end to end.

Real moto STS/IAM/S3 behind the counting proxy, the real Secret Service, real clients. Every
test that handles a secret checks afterwards that its bytes are nowhere but in the keyring:
not in the test's HOME (AWS files, the daemon's log folder), not in the runtime folder, not
in anything the commands printed.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import keyring
import keyring.errors
import pytest
from harness import ACCOUNT_ID, Creds, MotoStack
from harness.awsenv import AwsEnv
from harness.daemon import DaemonProc, send_request, start_daemon
from harness.keyring_items import entries, modified, wait_past
from harness.tty import run_with_tty
from test_process import assert_one_error_line

TESTS = Path(__file__).resolve().parents[1]
AWS_V1 = str(Path(sys.executable).parent / "aws")
ROLE_PROFILE = "s3fullaccess-user1-role"
WIRED = "s3fullaccess-user1"
SESSION = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role"
LIMITED = "harness.limited_keyring.LimitedKeyring"


# --- helpers ---------------------------------------------------------------------------------


def credhelper(env: AwsEnv, *args: str, extra: dict | None = None, **kw):
    return env.run(["credhelper", *args], env=env.env_with(**(extra or {})), **kw)


def add_from_env(env: AwsEnv, profile: str, creds: Creds, *flags: str, **extra: str | None):
    return credhelper(env, "add", profile, "--env", *flags, extra={**creds.env(), **extra})


def abbreviated(key_id: str) -> str:
    return f"{key_id[:4]}…{key_id[-4:]}"


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def assert_secret_nowhere(env: AwsEnv, secret: str, *outputs: str, entry: str = "keys:") -> None:
    """Not in any file under the test's root (HOME, AWS files, logs) or runtime folder, nor in
    anything printed; in the keyring, only in entries named ``entry``... (keys, or sessions)."""
    assert len(secret) >= 16
    for text in outputs:
        assert secret not in text
    needle = secret.encode()
    for base in (env.root, env.runtime_dir):
        for path in base.rglob("*"):
            if path.is_file():
                assert needle not in path.read_bytes(), path
    holders = [name for name, value in entries(env.keyring_service).items() if secret in value]
    assert all(name.startswith(entry) for name in holders), holders


def files_of(env: AwsEnv) -> dict[Path, bytes]:
    """Every file of the test's root (HOME included) and runtime folder, with its bytes."""
    return {
        path: path.read_bytes()
        for base in (env.root, env.runtime_dir)
        for path in base.rglob("*")
        if path.is_file()
    }


def session_entries(env: AwsEnv) -> dict[str, str]:
    return {k: v for k, v in entries(env.keyring_service).items() if k.startswith("session:")}


def process_json(env: AwsEnv, profile: str, **extra: str | None) -> dict:
    result = credhelper(env, "process", profile, extra=extra)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def list_json(env: AwsEnv, **extra: str | None) -> dict:
    result = credhelper(env, "list", "--json", extra=extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_profile(doc: dict) -> dict[str, dict]:
    return {row["profile"]: row for row in doc["profiles"]}


@pytest.fixture
def env(aws_env: AwsEnv, moto_stack: MotoStack) -> AwsEnv:
    """The role profile of the tutorial, its source 'account1' in no file at all.

    In-process (no daemon) unless a test starts one, so that every STS call is the test's.
    """
    aws_env.add_profile(ROLE_PROFILE, role_arn=moto_stack.seed.role_arn, source_profile="account1")
    aws_env.env["CREDHELPER_NO_DAEMON"] = "1"
    return aws_env


@pytest.fixture
def user(moto_stack: MotoStack) -> Creds:
    return moto_stack.seed.user_creds


# --- add -------------------------------------------------------------------------------------


def test_add_from_env_checks_the_keys_once_and_stores_them(env, user, proxy, moto_stack):
    result = add_from_env(env, "account1", user)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (
        f"stored keys {abbreviated(user.access_key_id)} for profile 'account1' "
        f"({moto_stack.seed.user_arn}) in the keyring\n"
    )
    # One GetCallerIdentity, signed with the keys being added; nothing else.
    assert [c.action for c in proxy.calls] == ["GetCallerIdentity"]
    assert proxy.calls[0].access_key_id == user.access_key_id
    stored = entries(env.keyring_service)
    assert set(stored) == {"keys:account1", "keys:index"}
    doc = json.loads(stored["keys:account1"])
    assert doc["format"] == 1 and doc["AccessKeyId"] == user.access_key_id
    assert doc["SecretAccessKey"] == user.secret_access_key and doc["SessionToken"] is None
    assert json.loads(stored["keys:index"])["profiles"] == ["account1"]
    assert_secret_nowhere(env, user.secret_access_key, result.stdout, result.stderr)


def test_add_asks_on_the_terminal_with_the_secret_hidden(env, user, proxy):
    rc, transcript = run_with_tty(
        ["credhelper", "add", "account1"],
        env.env,
        [
            (r"access key id: ", user.access_key_id),
            (r"secret access key[^:]*: ", user.secret_access_key),
        ],
        cwd=env.root,
    )
    assert rc == 0, transcript
    assert user.access_key_id in transcript  # typed with echo on
    assert user.secret_access_key not in transcript  # typed with echo off
    assert f"stored keys {abbreviated(user.access_key_id)} for profile 'account1'" in transcript
    assert json.loads(entries(env.keyring_service)["keys:account1"])["AccessKeyId"] == (
        user.access_key_id
    )
    assert proxy.count("GetCallerIdentity") == 1

    # The secret pasted into the key id prompt: refused without repeating what was typed.
    rc, transcript = run_with_tty(
        ["credhelper", "add", "other"],
        env.env,
        [(r"access key id: ", user.secret_access_key)],
        cwd=env.root,
    )
    assert rc == 1, transcript
    error = [line for line in transcript.splitlines() if line.startswith("credhelper:")]
    assert len(error) == 1 and "not an AWS access key id" in error[0], transcript
    assert user.secret_access_key not in error[0]
    assert "keys:other" not in entries(env.keyring_service)
    assert_secret_nowhere(env, user.secret_access_key)


def test_add_without_validation_makes_no_call(env, user, proxy):
    result = add_from_env(env, "account1", user, "--no-validate")
    assert result.returncode == 0, result.stderr
    assert "(not checked)" in result.stdout
    assert proxy.calls == []
    assert "keys:account1" in entries(env.keyring_service)


def test_concurrent_adds_all_land_in_the_index(env, user):
    """The keyring cannot list entries, so stored keys are indexed: ten `add` at once must
    leave ten profiles listed, not whichever wrote the index last."""
    from concurrent.futures import ThreadPoolExecutor

    names = [f"team{i}" for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda n: add_from_env(env, n, user, "--no-validate"), names))
    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    listed = by_profile(list_json(env))
    assert all(listed[n]["source"] == "keyring" for n in names)


ADD_ERRORS = {
    # case: (profile, environment or None for "no --env", needle)
    "bad-key-id": ("account1", {"AWS_ACCESS_KEY_ID": "hello"}, "not an AWS access key id"),
    "session-key-id": (
        "account1",
        {"AWS_ACCESS_KEY_ID": "ASIAABCDEFGHIJKLMNOP"},
        "temporary (session) key id",
    ),
    "session-token": ("account1", {"AWS_SESSION_TOKEN": "FwoGZXIvYXdzE"}, "AWS_SESSION_TOKEN"),
    "empty-secret": ("account1", {"AWS_SECRET_ACCESS_KEY": ""}, "no secret access key"),
    "no-key-id": ("account1", {"AWS_ACCESS_KEY_ID": None}, "AWS_ACCESS_KEY_ID is not set"),
    "wrong-secret": (
        "account1",
        {"AWS_SECRET_ACCESS_KEY": "x" * 40},
        "SignatureDoesNotMatch",
    ),
    "unknown-key": (
        "account1",
        {"AWS_ACCESS_KEY_ID": "AKIA" + uuid.uuid4().hex[:16].upper()},
        "InvalidClientTokenId",
    ),
    "role-profile": (ROLE_PROFILE, {}, "it is a role profile"),
    "no-terminal": ("account1", None, "no terminal"),
}


@pytest.mark.parametrize("case", sorted(ADD_ERRORS))
def test_add_refuses_with_one_line_and_stores_nothing(env, user, proxy, case):
    profile, overrides, needle = ADD_ERRORS[case]
    if overrides is None:  # no controlling terminal at all (a new session), stdin /dev/null
        result = credhelper(env, "add", profile, start_new_session=True)
    else:
        result = add_from_env(env, profile, user, **overrides)
    assert_one_error_line(result, profile, needle)
    if case in ("wrong-secret", "unknown-key"):
        assert "nothing was stored" in result.stderr
        assert proxy.count("GetCallerIdentity") == 1
    else:  # refused before any call
        assert proxy.calls == []
    assert entries(env.keyring_service) == {}
    assert_secret_nowhere(env, user.secret_access_key, result.stdout, result.stderr)
    assert "x" * 40 not in result.stderr


def test_adding_the_same_keys_again_rewrites_no_entry(env, user):
    # Entries split in pieces (the smallest limit), so that every piece is checked too.
    limit = {"CREDHELPER_KEYRING_MAX_VALUE": "64"}
    assert add_from_env(env, "account1", user, **limit).returncode == 0
    before = modified(env.keyring_service)
    assert {"keys:account1", "keys:index"} <= set(before)
    assert any(n.startswith("keys:account1#") and n.endswith(".2") for n in before)
    wait_past(before)  # Secret Service times are whole seconds
    again = add_from_env(env, "account1", user, **limit)
    assert again.returncode == 0, again.stderr
    assert again.stdout.endswith(" in the keyring (unchanged)\n")
    assert modified(env.keyring_service) == before
    # The check can see a rewrite: the same value set again through keyring moves the time.
    keyring.set_password(
        env.keyring_service, "keys:index", entries(env.keyring_service)["keys:index"]
    )
    assert modified(env.keyring_service)["keys:index"] > before["keys:index"]


def test_adding_new_keys_drops_the_sessions_made_with_the_old_ones(env, user, proxy, moto_stack):
    assert add_from_env(env, "account1", user).returncode == 0
    old = process_json(env, ROLE_PROFILE)
    key = moto_stack.admin("iam").create_access_key(UserName=moto_stack.seed.user_name)
    rotated = Creds(key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"])

    result = add_from_env(env, "account1", rotated)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(
        f"in the keyring, replacing {abbreviated(user.access_key_id)} (1 cached session dropped)\n"
    )
    assert session_entries(env) == {}  # no orphan: its cache key named the old key id
    new = process_json(env, ROLE_PROFILE)
    assert new["AccessKeyId"] != old["AccessKeyId"]
    assert proxy.calls[-1].action == "AssumeRole"
    assert proxy.calls[-1].access_key_id == rotated.access_key_id
    assert_secret_nowhere(env, rotated.secret_access_key, result.stdout)


# --- keys in the keyring as a chain's source -------------------------------------------------


def test_keys_only_in_the_keyring_drive_the_walkthrough(aws_env, user, proxy, moto_stack):
    """The seed tutorial, with account1's keys in no file at all (and the daemon on)."""
    env = aws_env
    env.add_profile(ROLE_PROFILE, role_arn=moto_stack.seed.role_arn, source_profile="account1")
    added = add_from_env(env, "account1", user)
    assert added.returncode == 0, added.stderr
    wired = credhelper(env, "wire", ROLE_PROFILE, "--as", WIRED)
    assert wired.returncode == 0, wired.stderr
    files = env.config_file.read_text() + env.credentials_file.read_text()
    assert "account1]" not in files and "aws_access_key_id" not in files

    cli = env.run([AWS_V1, "s3", "ls", "--profile", WIRED])
    assert cli.returncode == 0, cli.stderr
    assert moto_stack.seed.bucket in cli.stdout
    script = (
        "import boto3\n"
        f"s3 = boto3.Session(profile_name={WIRED!r}).client('s3')\n"
        "print([b['Name'] for b in s3.list_buckets()['Buckets']])\n"
    )
    sdk = env.run([sys.executable, "-c", script])
    assert sdk.returncode == 0, sdk.stderr
    assert moto_stack.seed.bucket in sdk.stdout

    assumed = [c for c in proxy.calls if c.action == "AssumeRole"]
    assert len(assumed) == 1  # the CLI's; boto3 was served from the keyring or the daemon
    assert assumed[0].access_key_id == user.access_key_id
    env.stop_daemon()
    outputs = (added.stdout, cli.stdout, cli.stderr, sdk.stdout, sdk.stderr)
    assert_secret_nowhere(env, user.secret_access_key, *outputs)


def test_keyring_keys_take_precedence_over_the_credentials_file(env, user, proxy):
    wrong = Creds("AKIA" + uuid.uuid4().hex[:16].upper(), "wrong-secret-wrong-secret-wrong-secret!")
    env.add_credentials("account1", wrong)
    assert add_from_env(env, "account1", user).returncode == 0

    doc = process_json(env, ROLE_PROFILE)
    assert doc["AccessKeyId"].startswith("ASIA")
    assert proxy.calls[-1].action == "AssumeRole"
    assert proxy.calls[-1].access_key_id == user.access_key_id

    # Control: without the keyring's keys, the file's (wrong) keys are used, and fail.
    assert credhelper(env, "remove", "account1").returncode == 0
    failed = credhelper(env, "process", ROLE_PROFILE)
    assert_one_error_line(failed, ROLE_PROFILE, "InvalidClientTokenId")
    assert proxy.calls[-1].access_key_id == wrong.access_key_id


# --- remove, clear, list ---------------------------------------------------------------------


def test_remove_deletes_the_keys_and_the_sessions_made_from_them(env, user, proxy):
    assert add_from_env(env, "account1", user).returncode == 0
    first = process_json(env, ROLE_PROFILE)
    assert len(session_entries(env)) == 1

    result = credhelper(env, "remove", "account1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"removed keys {abbreviated(user.access_key_id)} and 1 cached session of profile "
        "'account1' from the keyring\n"
    )
    left = entries(env.keyring_service)
    assert set(left) == {"keys:index"}
    assert json.loads(left["keys:index"])["profiles"] == []
    assert first["SecretAccessKey"] not in json.dumps(left)

    again = credhelper(env, "remove", "account1")
    assert_one_error_line(again, "account1", "holds no keys and no cached sessions")
    gone = credhelper(env, "process", ROLE_PROFILE)
    assert_one_error_line(gone, ROLE_PROFILE, "source_profile 'account1'")
    assert_secret_nowhere(env, user.secret_access_key, result.stdout, again.stderr)


def chain_profiles(env: AwsEnv, moto_stack: MotoStack) -> None:
    """a -> b, both from account1's keys (b trusts exactly a's session)."""
    a, b = unique("keys-a"), unique("keys-b")
    arn_a = moto_stack.create_role(a, moto_stack.seed.user_arn, permissions="assume")
    arn_b = moto_stack.create_role(b, f"{SESSION}/{a}/hop-a", permissions="s3")
    env.add_profile("a", role_arn=arn_a, source_profile="account1", role_session_name="hop-a")
    env.add_profile("b", role_arn=arn_b, source_profile="a", role_session_name="hop-b")


def test_clear_drops_every_hop_of_a_chain_then_everything_keys_stay(env, user, proxy, moto_stack):
    chain_profiles(env, moto_stack)
    assert add_from_env(env, "account1", user).returncode == 0
    process_json(env, "b")
    process_json(env, ROLE_PROFILE)
    assert proxy.count("AssumeRole") == 3 and len(session_entries(env)) == 3

    one = credhelper(env, "clear", "b")
    assert one.returncode == 0, one.stderr
    assert one.stdout == "cleared profile 'b': dropped 2 cached sessions from the keyring\n"
    assert len(session_entries(env)) == 1  # the other profile's session stays
    again = credhelper(env, "clear", "b")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "cleared profile 'b': no cached sessions in the keyring\n"

    every = credhelper(env, "clear")
    assert every.returncode == 0, every.stderr
    assert every.stdout == "cleared all profiles: dropped 1 cached session from the keyring\n"
    assert set(entries(env.keyring_service)) == {"keys:account1", "keys:index"}
    none = credhelper(env, "clear")
    assert none.returncode == 0, none.stderr
    assert none.stdout == "cleared all profiles: no cached sessions in the keyring\n"

    process_json(env, "b")  # keys stayed: a new chain, from STS
    assert proxy.count("AssumeRole") == 5
    many = credhelper(env, "clear")
    assert many.returncode == 0, many.stderr
    assert many.stdout == "cleared all profiles: dropped 2 cached sessions from the keyring\n"
    assert_secret_nowhere(env, user.secret_access_key, one.stdout, every.stdout)


def test_list_shows_where_keys_come_from_and_session_expiries(env, user, proxy, moto_stack):
    seed = moto_stack.seed
    assert add_from_env(env, "account1", user).returncode == 0
    env.add_credentials("filekeys", Creds("AKIAFILEKEYS00000000", "f" * 40))
    env.add_profile(
        "cfgkeys", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="s" * 40
    )
    env.add_profile(
        "ssoprof",
        sso_start_url="https://example.awsapps.com/start",
        sso_region="us-east-1",
        sso_account_id=ACCOUNT_ID,
        sso_role_name="ReadOnly",
    )
    env.add_profile("fromfile", role_arn=seed.role_arn, source_profile="filekeys")
    env.add_profile("envrole", role_arn=seed.role_arn, credential_source="Environment")
    env.add_profile("loop1", role_arn=seed.role_arn, source_profile="loop2")
    env.add_profile("loop2", role_arn=seed.role_arn, source_profile="loop1")
    env.add_profile("bare", region="us-east-1")
    assert credhelper(env, "wire", ROLE_PROFILE, "--as", WIRED).returncode == 0
    doc = process_json(env, ROLE_PROFILE)
    calls = len(proxy.calls)

    listing = list_json(env)
    assert len(proxy.calls) == calls  # no STS call, and no prompt (it would have failed)
    assert listing["keyring"] == {
        "service": env.keyring_service,
        "backend": "keyring.backends.SecretService.Keyring",
        "usable": True,
        "problem": None,
    }
    rows = by_profile(listing)
    assert sorted(rows) == sorted(
        ["account1", ROLE_PROFILE, WIRED, "filekeys", "cfgkeys", "ssoprof", "fromfile"]
        + ["envrole", "loop1", "loop2", "bare"]
    )
    expected = {  # profile: (role, source, source_profile)
        "account1": (False, "keyring", "account1"),
        ROLE_PROFILE: (True, "keyring", "account1"),
        WIRED: (False, "credential_process", WIRED),
        "filekeys": (False, "credentials_file", "filekeys"),
        "cfgkeys": (False, "config_file", "cfgkeys"),
        "ssoprof": (False, "sso", "ssoprof"),
        "fromfile": (True, "credentials_file", "filekeys"),
        "envrole": (True, "credential_source", "envrole"),
        "bare": (False, "none", "bare"),
    }
    for name, (role, source, source_profile) in expected.items():
        row = rows[name]
        assert (row["role"], row["source"], row["source_profile"]) == (
            role,
            source,
            source_profile,
        ), row
        assert row["error"] is None
    for name in ("loop1", "loop2"):
        assert rows[name]["source"] is None and "cycle" in rows[name]["error"]
    assert rows["account1"]["keyring_key_id"] == abbreviated(user.access_key_id)
    assert [n for n, r in rows.items() if r["keyring_key_id"]] == ["account1"]
    assert rows[ROLE_PROFILE]["role_arn"] == seed.role_arn
    assert rows[ROLE_PROFILE]["session_expiration"] == doc["Expiration"]
    assert 15 * 60 < rows[ROLE_PROFILE]["session_seconds_left"] <= 3600
    assert [n for n, r in rows.items() if r["session_expiration"]] == [ROLE_PROFILE]

    # Times in the local zone, to the minute, named (UTC+9 all year: no daylight saving).
    tokyo = {"TZ": "Asia/Tokyo"}
    local = (
        datetime.fromisoformat(doc["Expiration"].replace("Z", "+00:00"))
        .astimezone(ZoneInfo("Asia/Tokyo"))
        .strftime("%b %d %H:%M JST")
    )
    table = credhelper(env, "list", extra=tokyo)
    assert table.returncode == 0 and table.stderr == "", table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "PROFILE", "ROLE", "SOURCE", "SESSION", "UNTIL", "LEFT"
    ]  # fmt: skip
    assert max(len(line) for line in lines[:-1]) <= 100, table.stdout
    role_line = next(line for line in lines if line.startswith(ROLE_PROFILE + " "))
    assert "keyring" in role_line and local in role_line, (role_line, local)
    assert seed.role_arn.rsplit("/", 1)[1] in role_line and seed.role_arn not in role_line
    assert "keyring of account1" in role_line
    assert abbreviated(user.access_key_id) not in table.stdout  # the key id: --wide

    wide = credhelper(env, "list", "--wide", extra=tokyo)
    assert wide.returncode == 0 and wide.stderr == "", wide.stderr
    wide_lines = wide.stdout.splitlines()
    assert wide_lines[0].split() == [
        "PROFILE", "ROLE", "ARN", "SOURCE", "FROM", "KEYRING", "KEYS", "SESSION", "UNTIL", "LEFT"
    ]  # fmt: skip
    wide_role = next(line for line in wide_lines if line.startswith(ROLE_PROFILE + " "))
    assert seed.role_arn in wide_role and local in wide_role
    assert abbreviated(user.access_key_id) in wide.stdout
    assert any(line.startswith("loop1: source_profile cycle") for line in lines)
    assert lines[-1] == (
        f"keyring: service '{env.keyring_service}' in keyring.backends.SecretService.Keyring"
    )
    assert len(proxy.calls) == calls
    for secret in (user.secret_access_key, doc["SecretAccessKey"], doc["SessionToken"]):
        assert secret not in table.stdout + json.dumps(listing)
    assert_secret_nowhere(env, user.secret_access_key, table.stdout)


def test_list_and_clear_see_the_mfa_session_in_a_chain(env, user, proxy, moto_stack, tmp_path):
    code = tmp_path / "code.sh"
    code.write_text("echo 123456\n")
    serial = f"arn:aws:iam::{ACCOUNT_ID}:mfa/{moto_stack.seed.user_name}"
    env.add_profile(
        "mfa-role",
        role_arn=moto_stack.seed.role_arn,
        source_profile="account1",
        mfa_serial=serial,
        mfa_process=f"sh {code}",
    )
    assert add_from_env(env, "account1", user).returncode == 0
    with moto_stack.auth_disabled():  # moto rejects the key GetSessionToken hands out
        process_json(env, "mfa-role")
    assert [c.action for c in proxy.calls[-2:]] == ["GetSessionToken", "AssumeRole"]
    assert len(session_entries(env)) == 2

    row = by_profile(list_json(env))["mfa-role"]
    assert row["mfa_session_expiration"] and row["session_expiration"]
    assert row["source"] == "keyring" and row["source_profile"] == "account1"

    result = credhelper(env, "clear", "mfa-role")
    assert result.stdout == (
        "cleared profile 'mfa-role': dropped 2 cached sessions from the keyring\n"
    )
    assert session_entries(env) == {}
    assert "keys:account1" in entries(env.keyring_service)
    assert_secret_nowhere(env, user.secret_access_key, result.stdout, json.dumps(row))


@pytest.fixture
def daemon(env: AwsEnv, tmp_path: Path) -> Iterator[DaemonProc]:
    """A running ``credhelper daemon`` the test's ``credhelper process`` calls go to."""
    del env.env["CREDHELPER_NO_DAEMON"]
    env.env["CREDHELPER_AUTOSTART"] = "0"
    proc = start_daemon(env, tmp_path / "daemon.log")
    yield proc
    assert proc.terminate() == 0
    assert "Traceback" not in proc.log()


def daemon_profiles(daemon: DaemonProc) -> list[str]:
    return [row["profile"] for row in daemon.status()["profiles"]]


def test_clear_and_remove_make_a_running_daemon_forget(env, user, proxy, daemon):
    assert add_from_env(env, "account1", user).returncode == 0
    first = process_json(env, ROLE_PROFILE)
    assert daemon_profiles(daemon) == [ROLE_PROFILE]

    cleared = credhelper(env, "clear", ROLE_PROFILE)
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout == (
        f"cleared profile '{ROLE_PROFILE}': dropped 1 cached session from the keyring; "
        f"the daemon forgot '{ROLE_PROFILE}'\n"
    )
    assert daemon_profiles(daemon) == [] and session_entries(env) == {}
    second = process_json(env, ROLE_PROFILE)  # a new session: neither kept it
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert proxy.count("AssumeRole") == 2

    removed = credhelper(env, "remove", "account1")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.endswith(f"from the keyring; the daemon forgot '{ROLE_PROFILE}'\n")
    assert daemon_profiles(daemon) == []
    assert session_entries(env) == {} and "keys:account1" not in entries(env.keyring_service)
    refused = credhelper(env, "process", ROLE_PROFILE)
    assert refused.returncode == 1 and "account1" in refused.stderr
    reply = send_request(daemon.socket, {"op": "ping"})
    assert reply["ok"]
    outputs = (cleared.stdout, removed.stdout, refused.stderr)
    assert_secret_nowhere(env, user.secret_access_key, *outputs, daemon.log())


# --- storage robustness ----------------------------------------------------------------------


def damage_session(env: AwsEnv, how: str) -> str:
    (name,) = [n for n in session_entries(env) if "#" not in n]
    raw = keyring.get_password(env.keyring_service, name)
    assert raw is not None
    if how == "corrupt":
        keyring.set_password(env.keyring_service, name, raw[: len(raw) // 2])
    elif how == "unknown-version":
        doc = json.loads(raw)
        doc["format"] = 99
        keyring.set_password(env.keyring_service, name, json.dumps(doc))
    else:
        head = json.loads(raw)
        assert head["pieces"] >= 3
        keyring.delete_password(env.keyring_service, f"{name}#{head['tag']}.2")
    return name


def read_session(env: AwsEnv, name: str) -> dict:
    stored = entries(env.keyring_service)
    doc = json.loads(stored[name])
    if "pieces" in doc:
        doc = json.loads("".join(stored[piece] for piece in pieces(name, doc)))
    return doc


def pieces(head_name: str, head: dict) -> list[str]:
    """The entries a split value's head points at: ``NAME#TAG.1 ...``."""
    return [f"{head_name}#{head['tag']}.{i}" for i in range(1, head["pieces"] + 1)]


@pytest.mark.parametrize(
    "how, logged",
    [
        ("corrupt", "(unreadable); it will be replaced"),
        ("unknown-version", "(unknown format 99); it will be replaced"),
        ("missing-piece", "is missing a piece"),
    ],
)
def test_a_damaged_session_entry_is_ignored_and_replaced(env, user, proxy, how, logged):
    env.add_credentials("account1", user)
    extra = {"CREDHELPER_KEYRING_MAX_VALUE": "300"} if how == "missing-piece" else {}
    first = process_json(env, ROLE_PROFILE, **extra)
    name = damage_session(env, how)

    result = credhelper(env, "process", ROLE_PROFILE, extra=extra)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = result.stderr.strip().splitlines()
    assert any(line.startswith("credhelper: ") and logged in line for line in warnings), warnings
    second = json.loads(result.stdout)
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert proxy.count("AssumeRole") == 2
    # Replaced by a good entry: the next call is a plain cache hit.
    stored = read_session(env, name)
    assert stored["format"] == 1 and stored["AccessKeyId"] == second["AccessKeyId"]
    assert process_json(env, ROLE_PROFILE, **extra) == second
    assert proxy.count("AssumeRole") == 2
    assert_secret_nowhere(env, second["SecretAccessKey"], result.stderr, entry="session:")


def test_a_size_limited_keyring_gets_sessions_in_pieces(env, user, proxy):
    from harness.limited_keyring import LIMIT, LimitedKeyring

    env.add_credentials("account1", user)
    limited = {
        "PYTHON_KEYRING_BACKEND": LIMITED,
        "PYTHONPATH": str(TESTS),
        "CREDHELPER_KEYRING_MAX_VALUE": str(LIMIT),  # a limit credhelper cannot know
    }
    first = process_json(env, ROLE_PROFILE, **limited)  # no warning: the keyring took it
    stored = session_entries(env)
    (head,) = [n for n in stored if "#" not in n]
    meta = json.loads(stored[head])
    assert set(meta) == {"format", "pieces", "sha256", "tag"} and meta["pieces"] >= 2
    assert set(stored) == {head} | set(pieces(head, meta))
    assert all(len(value) <= LIMIT for value in stored.values())
    joined = "".join(stored[piece] for piece in pieces(head, meta))
    assert len(joined) > LIMIT and json.loads(joined)["AccessKeyId"] == first["AccessKeyId"]
    # The limit is real: the whole value in one entry is refused by this backend.
    with pytest.raises(keyring.errors.PasswordSetError):
        LimitedKeyring().set_password(env.keyring_service, "too-long", joined)

    before = modified(env.keyring_service)
    wait_past(before)  # Secret Service times are whole seconds
    assert process_json(env, ROLE_PROFILE, **limited) == first  # read back joined
    assert proxy.count("AssumeRole") == 1
    assert modified(env.keyring_service) == before  # and nothing rewritten
    assert_secret_nowhere(env, first["SecretAccessKey"], entry="session:")


@pytest.mark.parametrize("daemon", [False, True], ids=["in-process", "daemon-allowed"])
def test_a_bad_keyring_value_limit_stops_the_call_with_one_line(env, user, proxy, daemon):
    """A mistyped CREDHELPER_KEYRING_MAX_VALUE is a usage error, not quietly ignored (which
    would surface later, as a keyring refusing a long value)."""
    env.add_credentials("account1", user)
    extra = {"CREDHELPER_KEYRING_MAX_VALUE": "abc"}
    if daemon:
        extra["CREDHELPER_NO_DAEMON"] = None
    result = credhelper(env, "process", ROLE_PROFILE, extra=extra)
    assert result.returncode == 2, result
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("credhelper: profile 's3fullaccess-user1-role': "), line
    assert "CREDHELPER_KEYRING_MAX_VALUE='abc'" in line
    assert "Fix or unset CREDHELPER_KEYRING_MAX_VALUE" in line
    assert result.stdout == ""
    assert proxy.calls == [] and entries(env.keyring_service) == {}


def test_a_bug_under_the_keyring_is_reported_not_taken_for_a_missing_keyring(env, user, proxy):
    """A backend handing back bytes is a bug, not a locked keyring: one line saying so (and
    the traceback with --debug), never the "not usable, nothing is cached" warning."""
    env.add_credentials("account1", user)
    broken = {
        "PYTHON_KEYRING_BACKEND": "harness.broken_keyring.BytesKeyring",
        "PYTHONPATH": str(TESTS),
    }
    result = credhelper(env, "process", ROLE_PROFILE, extra=broken)
    assert result.returncode == 1, result
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"credhelper: profile '{ROLE_PROFILE}': unexpected error: TypeError: the keyring "
        "backend returned bytes"
    ), line
    assert line.endswith("Rerun with --debug and report it.")
    assert result.stdout == "" and proxy.calls == []

    debug = credhelper(env, "--debug", "process", ROLE_PROFILE, extra=broken)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert "TypeError: the keyring backend returned bytes" in debug.stderr
    assert "keyring is not usable" not in result.stderr + debug.stderr


# --- no usable keyring -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        {"DBUS_SESSION_BUS_ADDRESS": None},
        {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    ],
    ids=["no-secret-service", "failing-backend"],
)
def test_without_a_usable_keyring(env, user, proxy, broken):
    before = files_of(env)
    added = add_from_env(env, "account1", user, **broken)
    assert files_of(env) == before  # nothing written anywhere, not even a log
    assert_one_error_line(added, "account1", "the OS keyring is not usable")
    assert "nothing was stored" in added.stderr and "never writes keys to a file" in added.stderr
    assert proxy.calls == []  # refused before asking STS (or anyone) anything
    assert entries(env.keyring_service) == {}

    env.add_credentials("account1", user)  # a source in the file, so the role still resolves
    listed = credhelper(env, "list", extra=broken)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert "keyring: not usable (" in listed.stdout.splitlines()[-1]
    assert any(line.startswith(ROLE_PROFILE + " ") for line in listed.stdout.splitlines())
    doc = list_json(env, **broken)
    assert doc["keyring"]["usable"] is False and doc["keyring"]["problem"]

    removed = credhelper(env, "remove", "account1", extra=broken)
    assert_one_error_line(removed, "account1", "the OS keyring is not usable")
    cleared = credhelper(env, "clear", extra=broken)
    assert cleared.returncode == 0 and "not usable" in cleared.stdout

    served = credhelper(env, "process", ROLE_PROFILE, extra=broken)
    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout)["AccessKeyId"].startswith("ASIA")
    (warning,) = served.stderr.strip().splitlines()
    assert "keyring is not usable" in warning
    # Whole (no word cut off at the end) and saying what to do, headless machines included.
    assert "never in a plain file" in warning
    assert "install or unlock a keyring" in warning
    assert "'dbus-run-session'" in warning and "'gnome-keyring-daemon --unlock'" in warning
    assert warning.endswith("(see README, Headless)"), warning
    assert entries(env.keyring_service) == {}
    session_secret = json.loads(served.stdout)["SecretAccessKey"]
    assert_secret_nowhere(env, session_secret, listed.stdout, json.dumps(doc))
    outputs = (added.stdout, added.stderr, listed.stdout, removed.stderr, cleared.stdout)
    for text in outputs:
        assert user.secret_access_key not in text


def test_a_keyring_that_silently_keeps_nothing_is_caught(env, user, proxy):
    # keyring's null backend accepts every write and returns nothing: read back, then refuse.
    result = add_from_env(
        env, "account1", user, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring"
    )
    assert_one_error_line(result, "account1", "did not keep the keys")
    assert entries(env.keyring_service) == {}
    assert_secret_nowhere(env, user.secret_access_key, result.stdout, result.stderr)
