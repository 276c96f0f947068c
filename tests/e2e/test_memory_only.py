"""No usable keyring: one warning, and the daemon keeps sessions in its memory only.

The secret must then exist nowhere on disk: not in a file under HOME, not in the runtime
folder, not in the daemon's log.
"""

from __future__ import annotations

import json

import pytest
from harness.awsenv import AwsEnv
from harness.daemon import socket_path, wait_until

ROLE = "s3fullaccess-user1-role"


@pytest.mark.parametrize(
    "broken",
    [
        {"DBUS_SESSION_BUS_ADDRESS": None},  # no Secret Service at all
        {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},  # no backend works
    ],
    ids=["no-secret-service", "no-backend"],
)
def test_daemon_serves_from_memory_without_a_keyring(aws_env: AwsEnv, moto_stack, proxy, broken):
    seed = moto_stack.seed
    aws_env.add_credentials("account1", seed.user_creds)
    aws_env.add_profile(ROLE, role_arn=seed.role_arn, source_profile="account1")
    env = aws_env.env_with(**broken)

    first = aws_env.run(["credhelper", "process", ROLE], env=env)
    assert first.returncode == 0, first.stderr
    (warning,) = first.stderr.strip().splitlines()
    assert "keyring is not usable" in warning
    wait_until(socket_path(aws_env).exists, 10, what="the daemon's socket")

    # The daemon has no keyring either: it fetches once, then answers from memory.
    answers = []
    for _ in range(3):
        result = aws_env.run(["credhelper", "process", ROLE], env=env)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # the hot path says nothing: the daemon answered
        answers.append(json.loads(result.stdout))
    assert len({a["AccessKeyId"] for a in answers}) == 1
    assert proxy.count("AssumeRole") == 2  # the first call's, then the daemon's one fetch

    status = json.loads(aws_env.run(["credhelper", "status", "--json"], env=env).stdout)
    assert [p["profile"] for p in status["profiles"]] == [ROLE]
    assert status["profiles"][0]["keys_from"] == "credentials_file"

    secret = answers[0]["SecretAccessKey"].encode()
    for folder in (aws_env.root, aws_env.runtime_dir):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_socket():
                assert secret not in path.read_bytes(), path
