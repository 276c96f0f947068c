"""``credhelper process`` end to end: real moto STS/IAM/S3, real Secret Service, real clients.

These run the in-process path (CREDHELPER_NO_DAEMON=1) unless a test is about what a user
sees with the default settings; tests/e2e/test_daemon.py covers the daemon.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from harness import ACCOUNT_ID, MotoStack
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.keyring_items import entries

ROOT = Path(__file__).resolve().parents[2]
AWS_V1 = str(Path(sys.executable).parent / "aws")
AWS_V2 = "/usr/bin/aws"
ROLE_PROFILE = SEED_ROLE
WIRED = "s3fullaccess-user1"


def credhelper(env: AwsEnv, *args: str, **kw) -> subprocess.CompletedProcess[str]:
    return env.run(["credhelper", *args], **kw)


def in_process(env: AwsEnv) -> dict[str, str]:
    return env.env_with(CREDHELPER_NO_DAEMON="1")


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def seed_env(aws_env: AwsEnv, moto_stack: MotoStack) -> AwsEnv:
    """The tutorial's profiles: account1 (user1's keys) and the role profile, wired."""
    aws_env.add_seed(moto_stack.seed.user_creds, moto_stack.seed.role_arn)
    result = credhelper(aws_env, "wire", ROLE_PROFILE, "--as", WIRED)
    assert result.returncode == 0, result.stderr
    return aws_env


def process_json(aws: AwsEnv, profile: str, env: dict | None = None) -> dict:
    result = aws.run(["credhelper", "process", profile], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


# --- the seed walk-through, through every real client ---------------------------------------


def test_process_output_is_exactly_the_credential_process_document(seed_env, proxy):
    doc = process_json(seed_env, ROLE_PROFILE, env=in_process(seed_env))
    assert set(doc) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert doc["Version"] == 1 and doc["AccessKeyId"].startswith("ASIA")
    expiry = datetime.strptime(doc["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert expiry - datetime.now(timezone.utc) > timedelta(minutes=15)
    assert proxy.count("AssumeRole") == 1


def test_walkthrough_aws_cli_v1(seed_env, moto_stack):
    denied = seed_env.run([AWS_V1, "s3", "ls", "--profile", "account1"])
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    allowed = seed_env.run([AWS_V1, "s3", "ls", "--profile", WIRED])
    assert allowed.returncode == 0, allowed.stderr
    assert moto_stack.seed.bucket in allowed.stdout


@pytest.mark.skipif(not os.access(AWS_V2, os.X_OK), reason="scripts/bootstrap installs it")
def test_walkthrough_aws_cli_v2(seed_env, moto_stack):
    # CLI v2 2.9 ignores AWS_ENDPOINT_URL; credhelper itself still honours it for STS.
    base = [AWS_V2, "--endpoint-url", moto_stack.url, "s3", "ls", "--profile"]
    denied = seed_env.run([*base, "account1"])
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    allowed = seed_env.run([*base, WIRED])
    assert allowed.returncode == 0, allowed.stderr
    assert moto_stack.seed.bucket in allowed.stdout


def test_walkthrough_boto3(seed_env, moto_stack):
    script = (
        "import boto3, sys\n"
        "def names(profile):\n"
        "    s3 = boto3.Session(profile_name=profile).client('s3')\n"
        "    return [b['Name'] for b in s3.list_buckets()['Buckets']]\n"
        "try:\n"
        "    names('account1'); print('NOT DENIED')\n"
        "except Exception as e:\n"
        "    print('denied:', type(e).__name__, e)\n"
        f"print(names({WIRED!r}))\n"
    )
    result = seed_env.run([sys.executable, "-c", script])
    assert result.returncode == 0, result.stderr
    assert "denied:" in result.stdout and "AccessDenied" in result.stdout
    assert moto_stack.seed.bucket in result.stdout


def test_walkthrough_javascript_sdk(seed_env, moto_stack):
    js = ROOT / "tests" / "js"
    assert (js / "node_modules" / "@aws-sdk" / "client-s3").is_dir(), "run scripts/bootstrap"
    node = shutil.which("node")
    assert node, "scripts/bootstrap installs nodejs"
    denied = seed_env.run(
        [node, str(js / "list_buckets.mjs")], env=seed_env.env_with(AWS_PROFILE="account1")
    )
    assert denied.returncode == 1 and "AccessDenied" in denied.stderr
    allowed = seed_env.run(
        [node, str(js / "list_buckets.mjs")], env=seed_env.env_with(AWS_PROFILE=WIRED)
    )
    assert allowed.returncode == 0, allowed.stderr
    assert moto_stack.seed.bucket in allowed.stdout.split()


# --- chains, external ids, trust -------------------------------------------------------------


def test_chains_of_two_and_three_roles_reuse_intermediate_sessions(seed_env, moto_stack, proxy):
    a, b, c = unique("chain-a"), unique("chain-b"), unique("chain-c")
    session = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role"
    arn_a = moto_stack.create_role(a, moto_stack.seed.user_arn, permissions="assume")
    arn_b = moto_stack.create_role(b, f"{session}/{a}/hop-a", permissions="assume")
    arn_c = moto_stack.create_role(c, f"{session}/{b}/hop-b", permissions="s3")
    seed_env.add_profile("a", role_arn=arn_a, source_profile="account1", role_session_name="hop-a")
    seed_env.add_profile("b", role_arn=arn_b, source_profile="a", role_session_name="hop-b")
    seed_env.add_profile("c", role_arn=arn_c, source_profile="b", role_session_name="hop-c")
    env = in_process(seed_env)

    doc = process_json(seed_env, "c", env=env)
    assert moto_stack.caller_arn(doc) == f"{session}/{c}/hop-c"
    assert proxy.count("AssumeRole") == 3
    # The 2-role chain is the intermediate of the 3-role one: cached, no new STS call.
    doc_b = process_json(seed_env, "b", env=env)
    assert moto_stack.caller_arn(doc_b) == f"{session}/{b}/hop-b"
    assert proxy.count("AssumeRole") == 3


def test_credential_source_environment(seed_env, moto_stack, proxy):
    seed_env.add_profile(
        "from-env", role_arn=moto_stack.seed.role_arn, credential_source="Environment"
    )
    keys = moto_stack.seed.user_creds
    env = seed_env.env_with(
        CREDHELPER_NO_DAEMON="1",
        AWS_ACCESS_KEY_ID=keys.access_key_id,
        AWS_SECRET_ACCESS_KEY=keys.secret_access_key,
    )
    doc = process_json(seed_env, "from-env", env=env)
    assert moto_stack.caller_arn(doc).endswith(
        f"assumed-role/{moto_stack.seed.role_name}/"
        + "credhelper-"
        + os.environ.get("USER", "root")
    )
    assume = [c for c in proxy.calls if c.action == "AssumeRole"][-1]
    assert assume.access_key_id == keys.access_key_id
    # Without the variables: a clear error, nothing cached.
    result = seed_env.run(["credhelper", "process", "from-env"], env=in_process(seed_env))
    assert_one_error_line(result, "from-env", "credential_source Environment found none")


def test_external_id_right_is_allowed_and_wrong_is_denied(seed_env, moto_stack, proxy):
    arn = moto_stack.create_role(unique("ext"), moto_stack.seed.user_arn, external_id="ext-123")
    seed_env.add_profile("good", role_arn=arn, source_profile="account1", external_id="ext-123")
    seed_env.add_profile("bad", role_arn=arn, source_profile="account1", external_id="ext-999")
    env = in_process(seed_env)
    process_json(seed_env, "good", env=env)
    assert proxy.calls[-1].external_id == "ext-123"

    before = entries(seed_env.keyring_service)
    result = seed_env.run(["credhelper", "process", "bad"], env=env)
    assert_one_error_line(result, "bad", "AccessDenied")
    assert "external_id" in result.stderr
    assert entries(seed_env.keyring_service) == before  # nothing new cached


def test_trust_policy_that_does_not_admit_the_user(seed_env, moto_stack):
    other, _ = moto_stack.create_user(unique("other-user"), with_key=False)
    arn = moto_stack.create_role(unique("not-for-you"), other)
    seed_env.add_profile("nope", role_arn=arn, source_profile="account1")
    result = seed_env.run(["credhelper", "process", "nope"], env=in_process(seed_env))
    assert_one_error_line(result, "nope", "AccessDenied")
    assert "trust policy" in result.stderr
    assert entries(seed_env.keyring_service) == {}


# --- the cache ----------------------------------------------------------------------------


def test_second_call_is_served_from_the_keyring(seed_env, proxy):
    env = in_process(seed_env)
    first = process_json(seed_env, ROLE_PROFILE, env=env)
    second = process_json(seed_env, ROLE_PROFILE, env=env)
    assert first == second
    assert proxy.count("AssumeRole") == 1
    stored = entries(seed_env.keyring_service)
    assert len(stored) == 1
    # What sits in the keyring is the session, in a versioned entry.
    entry = json.loads(next(iter(stored.values())))
    assert entry["format"] == 1 and entry["AccessKeyId"] == first["AccessKeyId"]


def test_editing_the_profile_invalidates_its_cache(seed_env, proxy):
    env = in_process(seed_env)
    first = process_json(seed_env, ROLE_PROFILE, env=env)
    seed_env.add_profile(
        ROLE_PROFILE,
        role_arn=seed_env.setting(ROLE_PROFILE, "role_arn"),
        source_profile="account1",
        role_session_name="edited",
    )
    second = process_json(seed_env, ROLE_PROFILE, env=env)
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert proxy.count("AssumeRole") == 2
    assert proxy.calls[-1].role_session_name == "edited"


def test_a_cached_session_under_the_floor_is_replaced(seed_env, proxy, monkeypatch):
    env = in_process(seed_env)
    first = process_json(seed_env, ROLE_PROFILE, env=env)
    ((username, raw),) = entries(seed_env.keyring_service).items()
    entry = json.loads(raw)
    # Age the stored session: an hour-long session with 10 minutes left.
    now = datetime.now(timezone.utc)
    entry["Expiration"] = (now + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry["Issued"] = (now - timedelta(minutes=50)).strftime("%Y-%m-%dT%H:%M:%SZ")
    set_entry(seed_env, username, json.dumps(entry))

    second = process_json(seed_env, ROLE_PROFILE, env=env)
    assert second["AccessKeyId"] != first["AccessKeyId"]
    assert proxy.count("AssumeRole") == 2
    left = datetime.strptime(second["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    ) - datetime.now(timezone.utc)
    assert left > timedelta(minutes=16)
    # The floor is a setting: with it lowered under 10 minutes, the aged session is fine.
    set_entry(seed_env, username, json.dumps(entry))
    third = process_json(
        seed_env,
        ROLE_PROFILE,
        env=seed_env.env_with(CREDHELPER_NO_DAEMON="1", CREDHELPER_MIN_TTL="300"),
    )
    assert third["AccessKeyId"] == first["AccessKeyId"]
    assert proxy.count("AssumeRole") == 2


def set_entry(env: AwsEnv, username: str, value: str) -> None:
    import keyring

    keyring.set_password(env.keyring_service, username, value)


def test_fifty_concurrent_cold_calls_make_one_sts_call(seed_env, proxy):
    env = in_process(seed_env)

    def one(_: int) -> subprocess.CompletedProcess[str]:
        return seed_env.run(["credhelper", "process", ROLE_PROFILE], env=env, timeout=180)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    failures = [r.stderr for r in results if r.returncode != 0]
    assert failures == []
    keys = {json.loads(r.stdout)["AccessKeyId"] for r in results}
    said = sorted({r.stderr.strip() for r in results if r.stderr.strip()})
    assert len(keys) == 1, said  # (a keyring failing under load says so on stderr)
    assert proxy.count("AssumeRole") == 1, said
    print(f"50 concurrent cold calls: {proxy.count('AssumeRole')} AssumeRole reached STS")


# --- errors: one line, exit 1, nothing cached, no traceback ---------------------------------


def assert_one_error_line(result: subprocess.CompletedProcess[str], profile: str, needle: str):
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"credhelper: profile '{profile}': "), lines[0]
    assert needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ERROR_CASES = {
    "unknown-profile": ("ghost", "", "no such profile"),
    "cycle": (
        "x",
        "[profile x]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = y\n"
        "[profile y]\nrole_arn = arn:aws:iam::123456789012:role/y\nsource_profile = x\n",
        "cycle: x -> y -> x",
    ),
    "missing-source-credentials": (
        "r",
        "[profile empty]\nregion = us-east-1\n"
        "[profile r]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = empty\n",
        "no source credentials",
    ),
    "malformed-config": ("r", "[profile r\nrole_arn = = =\n", "cannot parse the AWS config"),
    "invalid-arn": (
        "r",
        "[profile r]\nrole_arn = arn:aws:iam::role/r\nsource_profile = account1\n",
        "is not an IAM role ARN",
    ),
    "invalid-key": (
        "r",
        "[profile r]\nrole_arn = {role}\nsource_profile = badkeys\n",
        "InvalidClientTokenId",
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_config_and_credential_errors(seed_env, moto_stack, case):
    profile, config, needle = ERROR_CASES[case]
    seed_env.write_config(config.format(role=moto_stack.seed.role_arn))
    seed_env.write_credentials(
        seed_env.credentials_file.read_text()
        + "[badkeys]\naws_access_key_id = AKIANOTAREALKEY00000\naws_secret_access_key = x\n"
    )
    result = seed_env.run(["credhelper", "process", profile], env=in_process(seed_env))
    assert_one_error_line(result, profile, needle)
    assert entries(seed_env.keyring_service) == {}


@pytest.mark.parametrize(
    "code, message, needle",
    [
        ("ExpiredToken", "The security token included in the request is expired", "expired"),
        ("AccessDenied", "User is not authorized to perform: sts:AssumeRole", "trust policy"),
    ],
)
def test_sts_errors_carry_sts_message(seed_env, proxy, code, message, needle):
    proxy.inject_error("AssumeRole", code, message, status=403 if code == "AccessDenied" else 400)
    result = seed_env.run(["credhelper", "process", ROLE_PROFILE], env=in_process(seed_env))
    assert_one_error_line(result, ROLE_PROFILE, f"{code}: {message}")
    assert needle in result.stderr
    assert entries(seed_env.keyring_service) == {}


def test_network_failure(seed_env):
    env = seed_env.env_with(
        CREDHELPER_NO_DAEMON="1", AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}"
    )
    result = seed_env.run(["credhelper", "process", ROLE_PROFILE], env=env)
    assert_one_error_line(result, ROLE_PROFILE, "cannot reach STS")
    assert "check the network" in result.stderr.lower()
    assert entries(seed_env.keyring_service) == {}


def test_debug_shows_the_traceback(seed_env):
    result = seed_env.run(["credhelper", "process", "--debug", "ghost"], env=in_process(seed_env))
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "no such profile" in result.stderr


def test_source_profile_looping_through_credential_process_stops(seed_env, moto_stack):
    exe = str(Path(sys.executable).parent / "credhelper")
    seed_env.write_config(
        f"[profile loop]\ncredential_process = {exe} process r\n"
        f"[profile r]\nrole_arn = {moto_stack.seed.role_arn}\nsource_profile = loop\n"
    )
    result = seed_env.run(["credhelper", "process", "r"], env=in_process(seed_env), timeout=120)
    assert_one_error_line(result, "r", "loop through credential_process")


def test_usage_errors_exit_2(seed_env):
    result = seed_env.run(["credhelper", "process"])
    assert result.returncode == 2
    result = seed_env.run(
        ["credhelper", "process", "x"], env=seed_env.env_with(CREDHELPER_MIN_TTL="soon")
    )
    assert result.returncode == 2 and "CREDHELPER_MIN_TTL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- no usable keyring: warn once, still answer, never a plain file -------------------------


def _assert_warned_and_served(result, seed_env):
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"].startswith("ASIA")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "keyring is not usable" in lines[0], result.stderr
    secret = json.loads(result.stdout)["SecretAccessKey"]
    for path in seed_env.root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_no_keyring_backend(seed_env):
    env = seed_env.env_with(
        CREDHELPER_NO_DAEMON="1", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"
    )
    _assert_warned_and_served(
        seed_env.run(["credhelper", "process", ROLE_PROFILE], env=env), seed_env
    )
    env = seed_env.env_with(CREDHELPER_NO_DAEMON="1", DBUS_SESSION_BUS_ADDRESS=None)
    _assert_warned_and_served(
        seed_env.run(["credhelper", "process", ROLE_PROFILE], env=env), seed_env
    )
    assert entries(seed_env.keyring_service) == {}


def test_locked_keyring(seed_env):
    # Locking the shared collection would lock every later test out: use a keyring of its own.
    script = (
        "set -e\n"
        f'{sys.executable} -c \'import sys; sys.path.insert(0, "{ROOT / "tests"}"); '
        "from harness.keyring_items import lock_default_collection as l; l()'\n"
        "exec credhelper process " + ROLE_PROFILE + "\n"
    )
    result = seed_env.run(
        [str(ROOT / "scripts" / "with-secret-service"), "sh", "-c", script],
        env=in_process(seed_env),
        timeout=120,
    )
    result.stderr = "\n".join(
        line
        for line in result.stderr.splitlines()
        if line.startswith("credhelper")  # drop dbus-daemon / prompter chatter
    )
    _assert_warned_and_served(result, seed_env)
    assert "KeyringLocked" in result.stderr
