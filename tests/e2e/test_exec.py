"""``credhelper exec`` and ``credhelper serve``, end to end: a real daemon serving the
container-credentials endpoint, real SDKs as the command (boto3, the AWS CLI v1 and v2, the
JavaScript SDK v3), moto behind the counting proxy with sessions shortened so that they are
renewed several times while the commands run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.daemon import wait_until

ROOT = Path(__file__).resolve().parents[2]
AWS_V1 = str(Path(sys.executable).parent / "aws")
AWS_V2 = "/usr/bin/aws"
SHORT = 30  # seconds of session life: the daemon renews after ~7.5 s
RUN_FOR = 24.0  # seconds each command runs: across at least two renewals

BOTO3_LOOP = """
import json, sys, time
from datetime import datetime, timezone
import boto3

session = boto3.Session()
s3 = session.client("s3")
out = {"calls": 0, "errors": [], "expired": 0, "keys": []}
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        s3.list_buckets()
        out["calls"] += 1
    except Exception as exc:
        out["errors"].append(repr(exc))
    creds = session.get_credentials()
    if (creds._expiry_time - datetime.now(timezone.utc)).total_seconds() <= 0:
        out["expired"] += 1
    key = creds.get_frozen_credentials().access_key
    if key not in out["keys"]:
        out["keys"].append(key)
    time.sleep(0.2)
print(json.dumps(out))
"""

#: A shell loop of CLI calls: each call a new process, asking the endpoint afresh.
CLI_LOOP = """
end=$(( $(date +%s) + $1 )); shift
calls=0; errors=0
while [ "$(date +%s)" -lt "$end" ]; do
  if "$@" s3 ls >/dev/null 2>>"$ERRORS"; then calls=$((calls+1)); else errors=$((errors+1)); fi
done
echo "{\\"calls\\": $calls, \\"errors\\": $errors}"
"""


def exec_cmd(env: AwsEnv, profile: str, *command: str, **overrides: str | None):
    return env.run(
        ["credhelper", "exec", profile, "--", *command],
        env=env.env_with(**overrides),
        timeout=RUN_FOR + 90,
    )


def test_every_sdk_run_by_exec_goes_across_renewals_without_an_expired_credential(
    seed_env, daemon, proxy, moto_stack, tmp_path
):
    proxy.rewrite_expiration(SHORT)
    d = daemon()
    clients = {
        "boto3": [sys.executable, "-c", BOTO3_LOOP, str(RUN_FOR)],
        "cli-v1": ["bash", "-c", CLI_LOOP, "loop", str(int(RUN_FOR)), AWS_V1],
        "cli-v2": ["bash", "-c", CLI_LOOP, "loop", str(int(RUN_FOR)), AWS_V2,
                   "--endpoint-url", moto_stack.url],
        "javascript-v3": [shutil.which("node") or "node", str(ROOT / "tests/js/renewal_loop.mjs"),
                          str(RUN_FOR)],
    }  # fmt: skip
    for name in clients:  # one profile each: each its own sessions, counted apart
        seed_env.add_profile(
            f"exec-{name}",
            role_arn=moto_stack.seed.role_arn,
            source_profile="account1",
            role_session_name=f"exec-{name}",
        )

    def run(name: str):
        errors = tmp_path / f"{name}.err"
        started = time.time()
        result = exec_cmd(
            seed_env, f"exec-{name}", *clients[name], ERRORS=str(errors), AWS_PROFILE="account1"
        )
        return name, started, time.time(), result, errors

    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(run, clients))
    for name, started, ended, result, errors in results:
        assert result.returncode == 0, (name, result.stderr)
        out = json.loads(result.stdout.strip().splitlines()[-1])
        renewals = [
            c for c in proxy.calls
            if c.action == "AssumeRole" and c.role_session_name == f"exec-{name}"
            and started < c.at < ended
        ]  # fmt: skip
        print(f"\n{name}: {out['calls']} calls, {len(renewals)} sessions fetched while it ran")
        detail = errors.read_text() if errors.exists() else ""
        assert out["errors"] in ([], 0), (name, out, detail)
        assert out["calls"] >= 5, (name, out)
        assert len(renewals) >= 2, name  # at least two renewals happened while it ran
        if "keys" in out:  # the SDKs that tell: they were handed the renewed sessions
            assert out["expired"] == 0 and len(out["keys"]) >= 3, (name, out)
            assert all(k.startswith("ASIA") for k in out["keys"])
    # Every S3 call was signed with a session (not the account1 keys AWS_PROFILE named).
    s3 = [c for c in proxy.calls if c.service == "s3"]
    assert s3 and {c.status for c in s3} == {200}
    assert all((c.access_key_id or "").startswith("ASIA") for c in s3)
    assert "endpoint grant" in d.log()


#: The command: shows its AWS environment, then waits (the test asks the endpoint meanwhile).
PROBE = """
import json, os, sys
print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(("AWS_", "CREDHELPER_"))}))
sys.stdout.flush()
sys.stdin.readline()
"""


def get(url: str, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_endpoint_needs_the_token_and_ends_with_the_command(
    seed_env, daemon, proxy, moto_stack
):
    d = daemon()
    command = subprocess.Popen(
        ["credhelper", "exec", SEED_ROLE, "--", sys.executable, "-c", PROBE],
        env=seed_env.env_with(
            AWS_PROFILE="account1", AWS_ACCESS_KEY_ID="AKIAOTHEROTHEROTHER1",
            AWS_SECRET_ACCESS_KEY="other", AWS_REGION="eu-west-3",
        ),
        cwd=seed_env.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert command.stdin is not None and command.stdout is not None
    try:
        env = json.loads(command.stdout.readline())
        url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        for refused in (None, token[:-1] + "x", "", token + "x", token[1:]):
            status, body = get(url, refused)
            assert status == 401 and set(json.loads(body)) == {"message"}, (refused, body)
        status, body = get(url, token)
        creds = json.loads(body)
        assert status == 200
        assert set(creds) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
        doc = {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
               "SessionToken": creds["Token"]}  # fmt: skip
        assert f"/{moto_stack.seed.role_name}/" in moto_stack.caller_arn(doc)
    finally:
        command.stdin.close()  # the command ends
        assert command.wait(20) == 0
    # Other credentials and profiles are gone from the command's environment; the region
    # and the profile it runs as are the profile's.
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert name not in env
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["CREDHELPER_EXEC_PROFILE"] == SEED_ROLE
    assert url.startswith("http://127.0.0.1:")
    # Once the command has ended, the token is worth nothing: the listener is gone.
    wait_until(lambda: _refused(url, token), 10, what="the endpoint to stop")
    assert token not in d.log() and creds["SecretAccessKey"] not in d.log()


def _refused(url: str, token: str) -> bool:
    try:
        status, _ = get(url, token)
    except (urllib.error.URLError, ConnectionError, OSError):
        return True
    return status == 401


def test_plain_variables_with_env(seed_env, daemon, proxy, moto_stack):
    daemon()
    script = "import json, os; print(json.dumps(dict(os.environ)))"
    result = seed_env.run(
        ["credhelper", "exec", "--env", SEED_ROLE, "--", sys.executable, "-c", script],
        env=seed_env.env_with(AWS_PROFILE="account1"),
    )
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)
    assert "AWS_PROFILE" not in env and "AWS_CONTAINER_CREDENTIALS_FULL_URI" not in env
    doc = {k: env[v] for k, v in (("AccessKeyId", "AWS_ACCESS_KEY_ID"),
           ("SecretAccessKey", "AWS_SECRET_ACCESS_KEY"), ("SessionToken", "AWS_SESSION_TOKEN"))}
    assert moto_stack.caller_arn(doc).startswith("arn:aws:sts::")
    assert env["AWS_CREDENTIAL_EXPIRATION"].endswith("Z")
    assert proxy.count("AssumeRole") == 1  # the daemon's session


def test_exit_status_signals_and_a_missing_command_are_the_commands(seed_env, daemon, tmp_path):
    daemon()
    assert exec_cmd(seed_env, SEED_ROLE, "sh", "-c", "exit 7").returncode == 7
    assert exec_cmd(seed_env, SEED_ROLE, "sh", "-c", "kill -TERM $$").returncode == -signal.SIGTERM
    missing = exec_cmd(seed_env, SEED_ROLE, "no-such-command-here")
    assert missing.returncode == 127
    assert missing.stderr.strip() == (
        f"credhelper: profile '{SEED_ROLE}': command not found: no-such-command-here."
    )
    # A signal sent to exec reaches the command, which decides how to end.
    got = tmp_path / "got"
    child = subprocess.Popen(
        ["credhelper", "exec", SEED_ROLE, "--", "sh", "-c",
         f'trap "echo TERM > {got}; exit 3" TERM; echo ready; while :; do sleep 0.1; done'],
        env=seed_env.env_with(), cwd=seed_env.root, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGTERM)
        assert child.wait(20) == 3
    finally:
        if child.poll() is None:
            child.kill()
    assert got.read_text().strip() == "TERM"
    # Ctrl-C in a terminal goes to the whole foreground group: the command gets it once (it
    # is not ignored there), ends by it, and exec ends the same way.
    group = subprocess.Popen(
        ["credhelper", "exec", SEED_ROLE, "--", "sh", "-c", "echo ready; exec sleep 30"],
        env=seed_env.env_with(), cwd=seed_env.root, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert group.stdout is not None and group.stdout.readline().strip() == "ready"
        os.killpg(group.pid, signal.SIGINT)
        assert group.wait(20) == -signal.SIGINT
    finally:
        if group.poll() is None:
            group.kill()


def test_another_profile_is_not_nested_unless_asked(seed_env, daemon, moto_stack):
    daemon()
    seed_env.add_profile("second", role_arn=moto_stack.seed.role_arn, source_profile="account1")
    inner = "credhelper exec second -- true"
    refused = exec_cmd(seed_env, SEED_ROLE, "sh", "-c", inner)
    assert refused.returncode == 1
    assert f"already inside 'credhelper exec {SEED_ROLE}'" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert exec_cmd(seed_env, SEED_ROLE, "sh", "-c", inner.replace("exec", "exec --nest")
                    ).returncode == 0  # fmt: skip
    same = f"credhelper exec {SEED_ROLE} -- true"
    assert exec_cmd(seed_env, SEED_ROLE, "sh", "-c", same).returncode == 0


def test_serve_is_reached_by_a_client_in_another_process(seed_env, daemon, moto_stack):
    d = daemon()
    server = subprocess.Popen(
        ["credhelper", "serve", SEED_ROLE], env=seed_env.env_with(), cwd=seed_env.root,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        lines = dict(server.stdout.readline().strip().split("=", 1) for _ in range(2))
        url = lines["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        token = lines["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        script = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
        client = seed_env.run(
            [sys.executable, "-c", script],
            env=seed_env.env_with(AWS_CONTAINER_CREDENTIALS_FULL_URI=url,
                                  AWS_CONTAINER_AUTHORIZATION_TOKEN=token),
        )  # fmt: skip
        assert client.returncode == 0, client.stderr
        assert f"/{moto_stack.seed.role_name}/" in client.stdout
        assert get(url, "not-the-token")[0] == 401
        server.send_signal(signal.SIGINT)
        assert server.wait(20) == 0
        wait_until(lambda: _refused(url, token), 10, what="the endpoint to stop answering")
    finally:
        if server.poll() is None:
            server.kill()
    assert token not in d.log()


def test_serve_on_another_address_is_named_and_warned_about(seed_env, daemon):
    daemon()
    server = subprocess.Popen(
        ["credhelper", "serve", SEED_ROLE, "--bind", "0.0.0.0"], env=seed_env.env_with(),
        cwd=seed_env.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None and server.stderr is not None
        url = server.stdout.readline().strip().split("=", 1)[1]
        assert url.startswith("http://0.0.0.0:")
        warning = server.stderr.readline()
        assert "anyone who can reach it and holds the token" in warning
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(20)
    bad = seed_env.run(["credhelper", "serve", SEED_ROLE, "--bind", "example.com"])
    assert bad.returncode == 2 and "not an IP address" in bad.stderr


@pytest.mark.parametrize("flag", ["", "--env"])
def test_an_unknown_profile_is_one_line(seed_env, daemon, flag):
    daemon()
    args = ["credhelper", "exec", *([flag] if flag else []), "nope", "--", "true"]
    result = seed_env.run(args)
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("credhelper: profile 'nope': ")


def test_a_killed_exec_takes_its_token_with_it(seed_env, daemon):
    """kill -9 of exec (its command left running, orphaned): the grant lived on exec's
    connection to the daemon, so the token stops working at once."""
    daemon()
    show = (
        'echo "$AWS_CONTAINER_CREDENTIALS_FULL_URI $AWS_CONTAINER_AUTHORIZATION_TOKEN"; '
        "exec sleep 60"
    )
    proc = subprocess.Popen(
        ["credhelper", "exec", SEED_ROLE, "--", "sh", "-c", show], env=seed_env.env_with(),
        cwd=seed_env.root, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url, token = proc.stdout.readline().split()
        assert get(url, token)[0] == 200
        proc.kill()  # exec only: its command lives on
        proc.wait(10)
        wait_until(lambda: _refused(url, token), 10, what="the token to stop working")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the orphaned command


def test_a_hung_sts_leaves_the_command_on_the_session_held(seed_env, daemon, proxy, tmp_path):
    """STS hangs from the first renewal on: while the session held is still valid, every
    request of the command's SDK is answered with it, within the SDK's own time limit
    (botocore gives the endpoint 2 s an attempt), never with an error."""
    proxy.rewrite_expiration(SHORT)  # renewal after ~7.5 s, hand-out floor 15 s, valid 30 s
    d = daemon()
    proc = subprocess.Popen(
        ["credhelper", "exec", SEED_ROLE, "--", sys.executable, "-c", BOTO3_LOOP, "16"],
        env=seed_env.env_with(), cwd=seed_env.root, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proxy.wait_for("AssumeRole", 1, timeout=30)  # the session exec's grant fetched
        proxy.inject_delay("AssumeRole", 120, times=50)  # every renewal from now on hangs
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    print(f"\nboto3 under a hung STS: {result['calls']} calls, {len(result['keys'])} session(s)")
    assert result["errors"] == [] and result["expired"] == 0, result
    assert result["calls"] > 10 and len(result["keys"]) == 1  # the one held, throughout
    assert "renewal" in d.log()
