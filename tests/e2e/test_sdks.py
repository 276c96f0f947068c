"""The Go SDK v2 and the Ruby SDK on a wired profile: real programs (tests/sdk/) against moto
through the counting proxy, the real daemon, the real Secret Service.

Besides the walk-through (denied with the user's own keys, allowed through the wired role),
each program runs across a renewal of a shortened session (the proxy's expiration rewrite, as
in tests/e2e/test_daemon.py) and must never fail or hold an expired credential. The Go program
is built once per test session, offline, from Debian's SDK sources (GOPATH mode).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import StsProxy
from harness.awsenv import SEED_ROLE, SEED_WIRED, AwsEnv

from credhelper.daemon.scheduler import renew_threshold

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "tests" / "sdk"
AWS_V1 = str(Path(sys.executable).parent / "aws")
AWS_V2 = "/usr/bin/aws"
GOPATH = "/usr/share/gocode"  # where Debian's golang-*-dev packages put their sources
ROLE_PROFILE = SEED_ROLE
WIRED = SEED_WIRED
SHORT = 30  # seconds of session life, as in test_daemon: the daemon renews after ~7.5 s
DEFAULT_MIN_TTL = 16 * 60


@pytest.fixture(scope="session")
def go_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/sdk/go built once per session, offline: GOPATH mode on Debian's sources."""
    go = shutil.which("go")
    assert go, "scripts/bootstrap installs golang-go"
    assert Path(GOPATH, "src/github.com/aws/aws-sdk-go-v2").is_dir(), "run scripts/bootstrap"
    out = tmp_path_factory.mktemp("go") / "sdkloop"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(out.parent),
        "GO111MODULE": "off",
        "GOPATH": GOPATH,
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOCACHE": str(out.parent / "cache"),  # a cold build: about 7 s, once per worker
    }
    result = subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=SDK / "go",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def ruby() -> str:
    path = shutil.which("ruby")
    assert path, "scripts/bootstrap installs ruby and ruby-aws-sdk-core"
    return path



def go_run(aws: AwsEnv, binary: Path, profile: str, bucket: str, seconds: float, **kw):
    return aws.run([str(binary), profile, bucket, str(seconds)], timeout=seconds + 60, **kw)


def ruby_run(aws: AwsEnv, ruby: str, profile: str, seconds: float, **kw):
    script = str(SDK / "ruby" / "sdkloop.rb")
    return aws.run([ruby, script, profile, str(seconds)], timeout=seconds + 60, **kw)


# --- the walk-through ---------------------------------------------------------------------------


def test_walkthrough_go_sdk(seed_env, moto_stack, proxy, go_program):
    bucket = moto_stack.seed.bucket
    denied = go_run(seed_env, go_program, "account1", bucket, 0)
    assert denied.returncode == 0, denied.stderr  # the user may ask STS who they are...
    out = json.loads(denied.stdout)
    assert out["calls"] == 1 and len(out["errors"]) == 1  # ...but not list the bucket
    assert "AccessDenied" in out["errors"][0] and out["errors"][0].startswith("s3:")
    allowed = go_run(seed_env, go_program, WIRED, bucket, 0)
    assert allowed.returncode == 0, allowed.stderr
    out = json.loads(allowed.stdout)
    assert out["errors"] == [] and out["calls"] == 2
    assert f"assumed-role/{moto_stack.seed.role_name}/" in out["arn"]
    assert out["keys"][0].startswith("ASIA") and out["expired"] == 0
    assert proxy.count("AssumeRole") == 1


def test_walkthrough_ruby_sdk(seed_env, moto_stack, proxy, ruby):
    mine = ruby_run(seed_env, ruby, "account1", 0)
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout)["arn"] == moto_stack.seed.user_arn
    wired = ruby_run(seed_env, ruby, WIRED, 0)
    assert wired.returncode == 0, wired.stderr
    out = json.loads(wired.stdout)
    assert out["provider"] == "Aws::ProcessCredentials"
    assert out["errors"] == [] and out["calls"] == 1
    assert f"assumed-role/{moto_stack.seed.role_name}/" in out["arn"]
    assert proxy.count("AssumeRole") == 1


# --- across a renewal -------------------------------------------------------------------------


def check_loop(out: dict, proxy: StsProxy, what: str) -> None:
    renewals = proxy.count("AssumeRole")
    print(
        f"\n{what}: {out['calls']} calls, {renewals} AssumeRole, {len(out['keys'])} sessions "
        f"seen, least life left {out['min_left']:.1f} s"
    )
    assert out["errors"] == [] and out["expired"] == 0
    assert out["calls"] > 10
    assert renewals >= 1 and len(out["keys"]) >= 2  # the renewed session reached the program
    assert out["min_left"] > 0


def test_go_sdk_across_a_renewal(seed_env, daemon, proxy, moto_stack, go_program):
    proxy.rewrite_expiration(SHORT)
    d = daemon()
    # Go's process provider keeps a session until it has expired (no expiry window), so the
    # loop outlives one whole session: it must then get the daemon's renewed one, seamlessly.
    seconds = SHORT + 5
    result = go_run(seed_env, go_program, WIRED, moto_stack.seed.bucket, seconds)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    check_loop(json.loads(result.stdout), proxy, "Go SDK v2 loop")
    assert d.proc.poll() is None


def test_ruby_sdk_across_a_renewal(seed_env, daemon, proxy, ruby):
    threshold = renew_threshold(SHORT, DEFAULT_MIN_TTL)
    proxy.rewrite_expiration(SHORT)
    d = daemon()
    # Ruby runs the process again whenever under 5 minutes are left: here, before every call.
    seconds = (SHORT - threshold) + 2
    result = ruby_run(seed_env, ruby, WIRED, seconds)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    check_loop(json.loads(result.stdout), proxy, "Ruby SDK loop")
    assert d.proc.poll() is None


# --- what a user sees when credhelper fails -----------------------------------------------------


def failing(env: AwsEnv, proxy: StsProxy) -> dict[str, str]:
    proxy.inject_error("AssumeRole", "AccessDenied", "no assuming today", status=403, times=50)
    return env.env_with(CREDHELPER_NO_DAEMON="1")


def credhelper_line(env: AwsEnv, failing_env: dict[str, str]) -> str:
    """credhelper's own one stderr line for the failure, as a shell user would see it."""
    result = env.run(["credhelper", "process", ROLE_PROFILE], env=failing_env)
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "no assuming today" in line
    return line


def test_go_sdk_shows_credhelpers_error(seed_env, moto_stack, proxy, go_program):
    env = failing(seed_env, proxy)
    line = credhelper_line(seed_env, env)
    result = go_run(seed_env, go_program, WIRED, moto_stack.seed.bucket, 0, env=env)
    print(f"\nGo SDK stderr:\n{result.stderr}")
    assert result.returncode == 1
    # processcreds passes the process's stderr through to the terminal.
    assert line in result.stderr.splitlines()
    errors = json.loads(result.stdout)["errors"]
    assert errors and all("failed to refresh cached credentials" in e for e in errors)


def test_ruby_sdk_shows_credhelpers_error(seed_env, proxy, ruby):
    env = failing(seed_env, proxy)
    line = credhelper_line(seed_env, env)
    result = ruby_run(seed_env, ruby, WIRED, 0, env=env)
    print(f"\nRuby SDK stderr:\n{result.stderr}")
    assert result.returncode == 1
    # Ruby runs the process with backticks: its stderr reaches the terminal, then the SDK's
    # own error, which says nothing of what went wrong.
    assert line in result.stderr.splitlines()
    assert "credential_process provider failure" in result.stderr


def test_what_the_other_clients_show(seed_env, moto_stack, proxy):
    """What README's SDK notes say: botocore (boto3, CLI v1, CLI v2) puts credhelper's line in
    its error; the JavaScript SDK v3's provider chain replaces it with its own message."""
    env = {**failing(seed_env, proxy), "AWS_PROFILE": WIRED}
    line = credhelper_line(seed_env, env)
    boto3 = [sys.executable, "-c", "import boto3; boto3.client('sts').get_caller_identity()"]
    cli = ["sts", "get-caller-identity"]
    shown = {}
    for name, cmd in {
        "boto3": boto3,
        "cli v1": [AWS_V1, *cli],
        "cli v2": [AWS_V2, "--endpoint-url", moto_stack.url, *cli],
        "javascript v3": [shutil.which("node") or "node", str(ROOT / "tests/js/list_buckets.mjs")],
    }.items():
        if name == "cli v2" and not os.access(AWS_V2, os.X_OK):
            continue
        result = seed_env.run(cmd, env=env)
        assert result.returncode != 0, (name, result.stdout)
        shown[name] = f"custom-process: {line}" in result.stderr
        if name == "javascript v3":
            assert "Could not load credentials from any providers" in result.stderr
    print(f"\ncredhelper's line shown: {shown}")
    assert shown.pop("javascript v3") is False
    assert set(shown.values()) == {True}
