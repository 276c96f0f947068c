"""``credhelper rotate``: a profile's keyring keys replaced by a new IAM access key, end to end.

Real moto IAM/STS (policy enforcement on) behind the counting, fault-injecting proxy, the real
Secret Service, a real daemon. Each test rotates the keys of an IAM user of its own (the seed
user's keys are shared by every test), allowed to assume a role of its own and to manage its
own access keys. moto evaluates IAM user actions against the resource "*" (its IAM responses
name a resource only for role actions), so the grant that AWS would scope to
``arn:aws:iam::ACCOUNT:user/${aws:username}`` is given on "*" here.

Whatever fails part-way, the test checks the promise: exactly one working key stored, and one
line saying which, and what is left to clean up in IAM. No secret in any output or log.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import botocore.exceptions
import pytest
from harness import ACCOUNT_ID, Call, Creds, Fault, MotoStack, StsProxy, aws_error_body
from harness.awsenv import AwsEnv
from harness.daemon import Daemons
from harness.keyring_items import entries
from test_keys import (
    abbreviated,
    add_from_env,
    assert_secret_nowhere,
    credhelper,
    process_json,
    session_entries,
)
from test_process import assert_one_error_line

TESTS = Path(__file__).resolve().parents[1]
KEYS = "rot-keys"
ROLE = "rot-role"
INVALID_KEY = aws_error_body(
    "InvalidClientTokenId", "The security token included in the request is invalid."
)


@dataclass(frozen=True)
class User:
    """An IAM user of the test's own, with one access key, and a role that trusts it."""

    name: str
    arn: str
    creds: Creds
    role_arn: str


def rotation_policy() -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{ACCOUNT_ID}:role/*",
            },
            {
                "Effect": "Allow",
                "Action": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys"],
                "Resource": "*",  # moto: see the module's docstring
            },
        ],
    }


def make_user(moto_stack: MotoStack, policy: dict | None) -> User:
    name = f"rot-{uuid.uuid4().hex[:10]}"
    arn, creds = moto_stack.create_user(name, policy)
    assert creds is not None
    role_arn = moto_stack.create_role(f"{name}-role", arn, permissions="s3")
    return User(name, arn, creds, role_arn)


@pytest.fixture
def user(moto_stack: MotoStack) -> User:
    return make_user(moto_stack, rotation_policy())


@pytest.fixture
def env(seed_env: AwsEnv, user: User, proxy: StsProxy) -> AwsEnv:
    """The seed's world, plus ``rot-role`` assumed from ``rot-keys``, whose keys (the user's)
    ``credhelper add`` stored from the environment. No daemon unless the test starts one;
    the proxy has counted nothing yet."""
    seed_env.add_profile(ROLE, role_arn=user.role_arn, source_profile=KEYS)
    added = add_from_env(seed_env, KEYS, user.creds)
    assert added.returncode == 0, added.stderr
    proxy.reset_counts()
    return seed_env


def stored(env: AwsEnv, profile: str = KEYS) -> Creds:
    doc = json.loads(entries(env.keyring_service)[f"keys:{profile}"])
    return Creds(doc["AccessKeyId"], doc["SecretAccessKey"])


def key_ids(moto_stack: MotoStack, user: User) -> list[str]:
    listed = moto_stack.admin("iam").list_access_keys(UserName=user.name)["AccessKeyMetadata"]
    return sorted(k["AccessKeyId"] for k in listed)


def works(moto_stack: MotoStack, creds: Creds) -> bool:
    try:
        moto_stack.client("sts", creds, max_attempts=1).get_caller_identity()
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidClientTokenId", exc.response
        return False
    return True


def fail_new_key(proxy: StsProxy, old: Creds, action: str, times: float) -> list[Call]:
    """Make ``action`` signed by any key but ``old`` fail as a key not yet known would, the
    first ``times`` times; returns the calls that were failed."""
    failed: list[Call] = []

    def hook(call: Call, body: bytes) -> Fault | None:
        if call.action != action or call.access_key_id == old.access_key_id:
            return None
        if len(failed) >= times:
            return None
        failed.append(call)
        return Fault(action=action, status=403, body=INVALID_KEY)

    proxy.fault = hook
    return failed


def test_rotate_end_to_end_through_the_daemon(env, user, proxy, moto_stack, daemon: Daemons):
    running = daemon()
    before = process_json(env, ROLE)
    assert moto_stack.caller_arn(before).startswith(f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/")
    assert [row["profile"] for row in running.status()["profiles"]] == [ROLE]
    assert len(session_entries(env)) == 1
    proxy.reset_counts()

    result = credhelper(env, "rotate", KEYS)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    new = stored(env)
    old = user.creds
    assert new.access_key_id != old.access_key_id and new.access_key_id.startswith("AKIA")
    assert result.stdout == (
        f"rotated the keys of profile '{KEYS}' ({user.arn}): {abbreviated(new.access_key_id)} "
        f"stored in the keyring, {abbreviated(old.access_key_id)} deleted (1 cached session "
        f"dropped; the daemon forgot '{ROLE}')\n"
    )
    # Create with the old key, check and delete with the new one; nothing else.
    assert [(c.action, c.access_key_id) for c in proxy.calls] == [
        ("GetCallerIdentity", old.access_key_id),
        ("CreateAccessKey", old.access_key_id),
        ("GetCallerIdentity", new.access_key_id),
        ("DeleteAccessKey", new.access_key_id),
    ]
    assert proxy.calls[-1].params["AccessKeyId"] == old.access_key_id
    assert "UserName" not in proxy.calls[1].params  # IAM acts on the caller
    assert key_ids(moto_stack, user) == [new.access_key_id]
    assert not works(moto_stack, old) and works(moto_stack, new)

    # The sessions made from the old key are gone, from the keyring and the daemon ...
    assert session_entries(env) == {}
    assert running.status()["profiles"] == []
    # ... and the next call makes a fresh AssumeRole with the new key.
    proxy.reset_counts()
    after = process_json(env, ROLE)
    assert after["AccessKeyId"] != before["AccessKeyId"]
    assert [(c.action, c.access_key_id) for c in proxy.calls] == [("AssumeRole", new.access_key_id)]
    assert moto_stack.caller_arn(after) == moto_stack.caller_arn(before)
    assert len(session_entries(env)) == 1

    running.terminate()
    outputs = (result.stdout, result.stderr, running.log())
    assert_secret_nowhere(env, old.secret_access_key, *outputs)
    assert_secret_nowhere(env, new.secret_access_key, *outputs)
    assert_secret_nowhere(env, after["SecretAccessKey"], *outputs, entry="session:")


def test_a_new_key_is_waited_for_while_it_propagates(env, user, proxy, moto_stack):
    """On AWS a new key is unknown for a few seconds: InvalidClientTokenId is retried."""
    failed = fail_new_key(proxy, user.creds, "GetCallerIdentity", times=2)
    proxy.add_fault(Fault(action="DeleteAccessKey", status=403, body=INVALID_KEY))
    started = time.monotonic()
    result = credhelper(env, "rotate", KEYS, "--debug")
    assert result.returncode == 0, result.stderr
    assert "not yet (InvalidClientTokenId); trying again in 0.5 s" in result.stderr
    assert len(failed) == 2
    assert proxy.count("GetCallerIdentity") == 4  # the old key's, then 2 failed, 1 good
    assert proxy.count("DeleteAccessKey") == 2  # IAM did not know it yet either
    assert time.monotonic() - started >= 1.5  # 0.5 s, then 1 s of backoff
    new = stored(env)
    assert key_ids(moto_stack, user) == [new.access_key_id]
    assert not works(moto_stack, user.creds)
    for secret in (user.creds.secret_access_key, new.secret_access_key):
        assert_secret_nowhere(env, secret, result.stdout, result.stderr)


def test_a_new_key_that_never_works_is_deleted_and_the_old_one_kept(env, user, proxy, moto_stack):
    failed = fail_new_key(proxy, user.creds, "GetCallerIdentity", times=float("inf"))
    started = time.monotonic()
    result = credhelper(env, "rotate", KEYS, extra={"CREDHELPER_TIMEOUT": "3"})
    elapsed = time.monotonic() - started
    assert_one_error_line(result, KEYS, "did not work within 3 s")
    assert 3 <= elapsed < 15, elapsed
    new_id = failed[0].access_key_id
    assert new_id is not None and new_id != user.creds.access_key_id
    assert (
        f"the new key {abbreviated(new_id)} was deleted and the keyring still holds "
        f"{abbreviated(user.creds.access_key_id)}, unchanged"
    ) in result.stderr
    assert proxy.calls[-1].action == "DeleteAccessKey"
    assert proxy.calls[-1].access_key_id == user.creds.access_key_id  # undone with the old key
    assert stored(env) == user.creds
    assert key_ids(moto_stack, user) == [user.creds.access_key_id]
    assert works(moto_stack, user.creds)
    assert_secret_nowhere(env, user.creds.secret_access_key, result.stderr)


def test_a_failed_delete_of_the_old_key_leaves_the_new_one_stored(env, user, proxy, moto_stack):
    process_json(env, ROLE)
    assert len(session_entries(env)) == 1
    proxy.inject_error(
        "DeleteAccessKey",
        "AccessDenied",
        f"User: {user.arn} is not authorized to perform: iam:DeleteAccessKey",
        status=403,
    )
    result = credhelper(env, "rotate", KEYS)
    new = stored(env)
    old = user.creds
    assert_one_error_line(result, KEYS, "the keyring now holds the new key")
    line = result.stderr
    assert abbreviated(new.access_key_id) in line and "AccessDenied" in line
    assert (
        f"The old key {abbreviated(old.access_key_id)} is still active: delete it in IAM."
    ) in line
    assert proxy.count("DeleteAccessKey") == 1  # AccessDenied is an answer: not retried
    # One key stored, and it works; the old one is still there, as said.
    assert new.access_key_id != old.access_key_id
    assert works(moto_stack, new) and works(moto_stack, old)
    assert key_ids(moto_stack, user) == sorted([old.access_key_id, new.access_key_id])
    # The sessions of the old key were dropped all the same: the next call uses the new one.
    assert session_entries(env) == {}
    process_json(env, ROLE)
    assert proxy.calls[-1].action == "AssumeRole"
    assert proxy.calls[-1].access_key_id == new.access_key_id
    for secret in (old.secret_access_key, new.secret_access_key):
        assert_secret_nowhere(env, secret, result.stdout, result.stderr)


def test_a_keyring_that_does_not_take_the_new_key_keeps_the_old(env, user, proxy, moto_stack):
    refusing = {
        "PYTHON_KEYRING_BACKEND": "harness.refusing_keyring.KeysRefusingKeyring",
        "PYTHONPATH": str(TESTS),
    }
    result = credhelper(env, "rotate", KEYS, extra=refusing)
    assert_one_error_line(result, KEYS, "did not take the new key (PasswordSetError: ")
    created = [c for c in proxy.calls if c.action == "GetCallerIdentity"][-1].access_key_id
    assert created is not None and created != user.creds.access_key_id
    assert f"the new key {abbreviated(created)} was deleted" in result.stderr
    assert stored(env) == user.creds
    assert key_ids(moto_stack, user) == [user.creds.access_key_id]
    assert works(moto_stack, user.creds)


def test_a_user_with_two_keys_already_is_told_which_to_delete(env, user, proxy, moto_stack):
    other = moto_stack.admin("iam").create_access_key(UserName=user.name)["AccessKey"]
    process_json(env, ROLE)
    keyring_before = entries(env.keyring_service)
    result = credhelper(env, "rotate", KEYS)
    assert_one_error_line(result, KEYS, "already has the 2 access keys IAM allows")
    line = result.stderr
    assert (
        f"{abbreviated(user.creds.access_key_id)} (stored here) and another "
        f"({abbreviated(other['AccessKeyId'])} (active)); nothing was changed. "
        f"Delete {abbreviated(other['AccessKeyId'])} in IAM if nothing uses it, then retry."
    ) in line
    assert other["AccessKeyId"] not in line  # abbreviated only
    assert entries(env.keyring_service) == keyring_before
    assert key_ids(moto_stack, user) == sorted([user.creds.access_key_id, other["AccessKeyId"]])
    assert [c.action for c in proxy.calls][-3:] == [
        "GetCallerIdentity",
        "CreateAccessKey",
        "ListAccessKeys",
    ]


def test_a_user_not_allowed_to_make_keys_is_told_so(seed_env, proxy, moto_stack):
    limited = make_user(
        moto_stack,
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
        },
    )
    assert add_from_env(seed_env, KEYS, limited.creds).returncode == 0
    before = entries(seed_env.keyring_service)
    result = credhelper(seed_env, "rotate", KEYS)
    assert_one_error_line(result, KEYS, "CreateAccessKey with ")
    assert "AccessDenied" in result.stderr and "nothing was changed" in result.stderr
    assert "iam:CreateAccessKey" in result.stderr
    assert entries(seed_env.keyring_service) == before
    assert key_ids(moto_stack, limited) == [limited.creds.access_key_id]


@pytest.mark.parametrize(
    "profile, needle",
    [
        (
            ROLE,
            "it is a role profile: it has no keys of its own. Rotate the keys of its source "
            f"profile: credhelper rotate {KEYS}",
        ),
        (
            "account1",
            "the keyring holds no keys for it; nothing was changed. Store them with "
            "'credhelper add account1' first: rotate works on the keys credhelper holds",
        ),
        ("nosuch", "the keyring holds no keys for it; nothing was changed. Store them with"),
        (
            "s3fullaccess-user1-role",
            "Rotate the keys of its source profile 'account1', which "
            "must be stored in the keyring first (credhelper add account1)",
        ),
    ],
    ids=["role-from-keyring-keys", "keys-in-credentials-file", "unknown", "role-from-file-keys"],
)
def test_a_profile_without_keyring_keys_changes_nothing(env, proxy, profile, needle):
    before = entries(env.keyring_service)
    result = credhelper(env, "rotate", profile)
    assert_one_error_line(result, profile, needle)
    assert proxy.calls == []
    assert entries(env.keyring_service) == before


def test_create_is_sent_once_and_no_answer_says_a_key_may_exist(env, user, proxy, moto_stack):
    """A retry after an answer lost on the way would make a second key: not retried, and the
    line says to look (here the proxy dropped the request: IAM made none)."""
    proxy.inject_drop("CreateAccessKey", times=5)
    before = entries(env.keyring_service)
    result = credhelper(env, "rotate", KEYS)
    assert_one_error_line(result, KEYS, "CreateAccessKey with ")
    assert "IAM may have created a key all the same" in result.stderr
    assert (
        f"Look at the access keys of {user.arn} in IAM and delete any but "
        f"{abbreviated(user.creds.access_key_id)}, which the keyring still holds, unchanged."
    ) in result.stderr
    assert proxy.count("CreateAccessKey") == 1
    assert entries(env.keyring_service) == before
    assert key_ids(moto_stack, user) == [user.creds.access_key_id]


def test_one_rotation_of_a_profile_at_a_time(env, user, proxy, moto_stack):
    proxy.inject_delay("CreateAccessKey", 3)
    first = subprocess.Popen(
        ["credhelper", "rotate", KEYS],
        env=env.env,
        cwd=env.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proxy.wait_for("CreateAccessKey", timeout=30)
        second = credhelper(env, "rotate", KEYS)
        assert_one_error_line(
            second, KEYS, "another 'credhelper rotate' of this profile is running"
        )
        assert proxy.count("CreateAccessKey") == 1
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert out.startswith(f"rotated the keys of profile '{KEYS}'")
    assert key_ids(moto_stack, user) == [stored(env).access_key_id]
