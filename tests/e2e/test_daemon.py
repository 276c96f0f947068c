"""The background refresher, end to end: a real ``credhelper daemon`` (a child process), real
moto STS behind the counting proxy, the real Secret Service, real ``credhelper`` subprocesses.

Sessions are made short with the proxy's expiration rewrite so that renewals happen within
seconds; everything else is what a user runs. Each test has its own daemon (its own
XDG_RUNTIME_DIR, HOME and keyring service name).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from harness import ACCOUNT_ID, StsProxy
from harness.awsenv import SEED_ROLE, SEED_WIRED, AwsEnv
from harness.daemon import (
    DaemonProc,
    exchange,
    send_request,
    socket_path,
    wait_until,
)
from harness.keyring_items import entries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credhelper import protocol
from credhelper.credentials import Credentials
from credhelper.daemon.scheduler import renew_threshold
from credhelper.daemon.server import READ_TIMEOUT
from credhelper.store.codec import decode

ROLE_PROFILE = SEED_ROLE
WIRED = SEED_WIRED
#: What a daemon hit must not import: the point of the daemon is a stdlib-only hot path.
HEAVY = {"boto3", "botocore", "keyring", "watchdog", "platformdirs", "filelock", "secretstorage"}
DEFAULT_MIN_TTL = 16 * 60
SESSION_ARN = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role"


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def seconds_left(doc: dict) -> float:
    return (parse_time(doc["Expiration"]) - datetime.now(timezone.utc)).total_seconds()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"



def process(env: AwsEnv, profile: str = ROLE_PROFILE, **overrides: str | None):
    return env.run(["credhelper", "process", profile], env=env.env_with(**overrides))


def process_json(env: AwsEnv, profile: str = ROLE_PROFILE, **overrides: str | None) -> dict:
    result = process(env, profile, **overrides)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def status_json(env: AwsEnv) -> dict:
    result = env.run(["credhelper", "status", "--json"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def row(status: dict, profile: str = ROLE_PROFILE) -> dict | None:
    """The daemon's status row for ``profile`` (None if it holds nothing for it)."""
    rows = [p for p in status["profiles"] if p["profile"] == profile]
    return rows[0] if rows else None


def keyring_sessions(env: AwsEnv) -> dict[str, Credentials]:
    """Every cached session in the test's keyring service, decoded (raises if corrupt)."""
    return {
        name: decode(value)
        for name, value in entries(env.keyring_service).items()
        if name.startswith("session:")
    }


def assume_role_calls(proxy: StsProxy) -> list:
    return [c for c in proxy.calls if c.action == "AssumeRole"]


# --- the hot path ------------------------------------------------------------------------------


def imported_modules(stderr: str) -> set[str]:
    """Top-level module names from ``-X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S+)", line)
        if m:
            names.add(m.group(1).split(".")[0])
    return names


#: All of credhelper a daemon hit may import: the hot path and what it stands on.
HOT_PATH = {
    "credhelper",
    "credhelper.__main__",
    "credhelper.cli",
    "credhelper.hotpath",
    "credhelper.lean_client",  # the launcher's reading of the CREDHELPER_* variables
    "credhelper.protocol",
    "credhelper.transport",
    "credhelper.rundir",
    "credhelper.recursion",
    "credhelper.peercred",
}


def imported_credhelper(stderr: str) -> set[str]:
    return {
        m.group(1)
        for m in re.finditer(r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(credhelper\S*)", stderr)
    }


def test_daemon_hit_imports_only_the_standard_library(seed_env, daemon, proxy):
    d = daemon()
    traced = {"PYTHONPROFILEIMPORTTIME": "1"}
    cold = process(seed_env, **traced)  # the daemon fetches; the client still stays light
    hot = process(seed_env, **traced)
    for result in (cold, hot):
        assert result.returncode == 0, result.stderr
        imported = imported_modules(result.stderr)
        assert {"credhelper", "json", "socket"} <= imported  # the trace is real
        assert imported & HEAVY == set()
        assert imported_credhelper(result.stderr) <= HOT_PATH, imported_credhelper(result.stderr)
        other = [ln for ln in result.stderr.splitlines() if not ln.startswith("import time:")]
        assert other == []
    first, second = json.loads(cold.stdout), json.loads(hot.stdout)
    assert first == second
    assert set(first) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert proxy.count("AssumeRole") == 1
    assert seconds_left(second) > 15 * 60

    # What the client got is what the daemon holds, and what it wrote through to the keyring.
    rows = d.status()["profiles"]
    assert [(r["profile"], r["role_arn"], r["expiration"], r["source"]) for r in rows] == [
        (ROLE_PROFILE, seed_env.setting(ROLE_PROFILE, "role_arn"), second["Expiration"], "daemon")
    ]
    (cached,) = keyring_sessions(seed_env).values()
    assert (cached.access_key_id, cached.session_token) == (
        second["AccessKeyId"],
        second["SessionToken"],
    )


def test_status_never_shows_a_secret(seed_env, daemon, proxy):
    d = daemon()
    doc = process_json(seed_env)
    tokyo = seed_env.env_with(TZ="Asia/Tokyo")  # UTC+9 all year
    table = seed_env.run(["credhelper", "status"], env=tokyo)
    wide = seed_env.run(["credhelper", "status", "--wide"], env=tokyo)
    as_json = seed_env.run(["credhelper", "status", "--json"], env=tokyo)
    assert table.returncode == 0 and as_json.returncode == 0, table.stderr + as_json.stderr
    assert wide.returncode == 0, wide.stderr
    arn = seed_env.setting(ROLE_PROFILE, "role_arn")
    local = (
        datetime.fromisoformat(doc["Expiration"].replace("Z", "+00:00"))
        .astimezone(ZoneInfo("Asia/Tokyo"))
        .strftime("%b %d %H:%M JST")
    )
    # The default table: role name, local time with its zone, within 100 columns.
    lines = table.stdout.splitlines()
    header = ["PROFILE", "ROLE", "EXPIRES", "LEFT", "RENEWS", "IN", "LAST", "ERROR"]
    assert lines[2].split() == header
    (line,) = [x for x in lines[3:] if x.startswith(ROLE_PROFILE + " ")]
    assert arn.rsplit("/", 1)[1] in line and arn not in table.stdout and local in line, line
    assert all(len(x) <= 100 for x in lines[1:]), table.stdout
    # --wide: the whole ARN, where the session and the keys come from.
    lines = wide.stdout.splitlines()
    assert lines[2].split() == [
        "PROFILE", "ROLE", "ARN", "EXPIRES", "LEFT", "RENEWS", "IN", "SOURCE", "KEYS", "FROM",
        "LAST", "ERROR",
    ]  # fmt: skip
    (line,) = [x for x in lines[3:] if x.startswith(ROLE_PROFILE + " ")]
    assert arn in line and local in line and "daemon" in line.split(), line
    # JSON keeps UTC.
    assert row(json.loads(as_json.stdout))["expiration"] == doc["Expiration"]
    for text in (table.stdout, wide.stdout, as_json.stdout, d.log()):
        assert doc["SecretAccessKey"] not in text
        assert doc["SessionToken"] not in text
        assert doc["AccessKeyId"] not in text  # logs abbreviate it: ASIA…WXYZ


def test_a_caller_with_another_aws_config_is_served_from_its_own_config_never_the_daemons(
    seed_env, daemon, proxy, moto_stack
):
    d = daemon()
    ours = process_json(seed_env)
    # Same profile name, another config file (and so another role): the daemon must answer
    # it from that file, in an environment of its own.
    name = unique("other-config")
    arn = moto_stack.create_role(name, moto_stack.seed.user_arn)
    other = seed_env.root / "other-config"
    other.write_text(
        seed_env.config_file.read_text().replace(seed_env.setting(ROLE_PROFILE, "role_arn"), arn)
    )
    theirs = process_json(seed_env, AWS_CONFIG_FILE=str(other))
    assert moto_stack.caller_arn(theirs).startswith(f"{SESSION_ARN}/{name}/")
    assert moto_stack.caller_arn(ours).startswith(f"{SESSION_ARN}/{moto_stack.seed.role_name}/")
    rows = sorted((r["environment"], r["profile"], r["role_arn"]) for r in d.status()["profiles"])
    assert rows == [(1, ROLE_PROFILE, moto_stack.seed.role_arn), (2, ROLE_PROFILE, arn)]
    # Both are daemon hits from now on: no STS call, each its own session.
    assert process_json(seed_env) == ours
    assert process_json(seed_env, AWS_CONFIG_FILE=str(other)) == theirs
    assert proxy.count("AssumeRole") == 2


# --- renewal ----------------------------------------------------------------------------------

SHORT = 30  # seconds: renewed after ~7.5 s (scheduler.renew_threshold), floor at 15 s

BOTO3_LOOP = """
import json, sys, time
from datetime import datetime, timezone
import boto3

profile, bucket, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
session = boto3.Session(profile_name=profile)
s3 = session.client("s3")
out = {"calls": 0, "errors": [], "expired": 0, "keys": [], "min_left": None}
end = time.monotonic() + duration
while time.monotonic() < end:
    try:
        s3.list_objects_v2(Bucket=bucket)
        out["calls"] += 1
    except Exception as exc:
        out["errors"].append(repr(exc))
    creds = session.get_credentials()
    left = (creds._expiry_time - datetime.now(timezone.utc)).total_seconds()
    if left <= 0:
        out["expired"] += 1
    out["min_left"] = left if out["min_left"] is None else min(out["min_left"], left)
    key = creds.get_frozen_credentials().access_key
    if key not in out["keys"]:
        out["keys"].append(key)
    time.sleep(0.2)
print(json.dumps(out))
"""


def test_renews_ahead_with_nobody_calling_and_boto3_never_sees_an_error(
    seed_env, daemon, proxy, moto_stack
):
    threshold = renew_threshold(SHORT, DEFAULT_MIN_TTL)
    floor = SHORT / 2  # Credentials.usable: a short session's floor is half its life
    proxy.rewrite_expiration(SHORT)
    d = daemon()
    first = process_json(seed_env)
    assert 0 < seconds_left(first) <= SHORT

    # Nobody calls: the daemon renews on its own, well before the floor. (Renewal after
    # renewal, and their timing exactly, are unit-tested in virtual time: test_scheduler.)
    assert proxy.wait_for("AssumeRole", 2, timeout=2 * SHORT)

    def renewed() -> dict | None:
        held = row(status_json(seed_env))
        return held if held and held["expiration"] != first["Expiration"] else None

    held = wait_until(renewed, 10, what="the renewed session in status")
    (before, after) = assume_role_calls(proxy)[:2]
    gap = after.at - before.at
    print(f"\nrenewed with nobody calling after {gap:.1f} s")
    # renewed when `threshold` (plus jitter) was left, never as late as the floor
    assert SHORT - threshold - SHORT / 20 - 1 < gap < SHORT - floor
    assert (before.status, after.status) == (200, 200)
    assert parse_time(held["expiration"]) > parse_time(first["Expiration"])
    assert (held["failures"], held["last_error"], held["source"]) == (0, None, "daemon")
    assert 0 < held["renews_in"] <= threshold

    # A boto3 program on the wired profile, running through a renewal: no error, never an
    # expired credential, and it picks up the renewed session.
    proxy.reset_counts()
    duration = (SHORT - threshold) + 2
    result = seed_env.run(
        [sys.executable, "-c", BOTO3_LOOP, WIRED, moto_stack.seed.bucket, str(duration)],
        timeout=duration + 60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    renewals = proxy.count("AssumeRole")
    print(
        f"boto3 loop: {out['calls']} S3 calls in {duration:.0f} s, {renewals} AssumeRole, "
        f"{len(out['keys'])} sessions seen, least life left {out['min_left']:.1f} s"
    )
    assert out["errors"] == [] and out["expired"] == 0
    assert out["calls"] > 10
    assert renewals >= 1 and len(out["keys"]) >= 2  # the renewed session reached the program
    assert out["min_left"] > 0
    s3_calls = [c for c in proxy.calls if c.service == "s3"]
    assert len(s3_calls) == out["calls"] and {c.status for c in s3_calls} == {200}
    assert d.proc.poll() is None


def test_renewal_failure_keeps_serving_and_backs_off(seed_env, daemon, proxy):
    # Renewal starts with 45 s left (after ~15 s), so the backoff is not cut short by
    # LAST_RESORT (30 s). Backoff over many failures is unit-tested in virtual time.
    life = 60
    proxy.rewrite_expiration(life)
    d = daemon()
    first = process_json(seed_env)
    # One renewal attempt is 4 AssumeRole calls (botocore retries 3 times). The first attempt
    # is throttled, the second gets 500s, the third is slow but succeeds.
    proxy.inject_error("AssumeRole", "Throttling", "Rate exceeded", status=400, times=4)
    proxy.inject_error("AssumeRole", "InternalFailure", "oops", status=500, times=4)
    proxy.inject_delay("AssumeRole", 2.0)

    served_while_failing = []

    def renewed() -> dict | None:
        held = row(d.status())
        if held and held["failures"]:
            doc = process_json(seed_env)  # a caller during the outage
            # (unless the renewal succeeded meanwhile: then the caller may have its result)
            if row(d.status())["expiration"] == first["Expiration"]:
                served_while_failing.append((doc["AccessKeyId"], held["last_error"]))
        if held and held["expiration"] != first["Expiration"]:
            return held
        return None

    held = wait_until(renewed, timeout=life, interval=0.5, what="a successful renewal")
    assert held["failures"] == 0 and held["last_error"] is None
    assert served_while_failing, "no caller ran while renewal was failing"
    assert {key for key, _ in served_while_failing} == {first["AccessKeyId"]}
    errors = " ".join(error for _, error in served_while_failing)
    assert "Throttling" in errors or "InternalFailure" in errors

    calls = assume_role_calls(proxy)
    assert [c.status for c in calls] == [200] + [400] * 4 + [500] * 4 + [200]
    assert calls[-1].fault == "delay=2.0"  # the slow STS answer was waited for, and taken
    after = process_json(seed_env)
    assert after["AccessKeyId"] != first["AccessKeyId"]
    assert after["Expiration"] == held["expiration"]

    log = d.log()
    retries = re.findall(r"renewal failed \((.*?)\); retry (\d+) in ([\d.]+) s", log)
    print(f"\nbackoff in the daemon log: {[(n, s) for _, n, s in retries]}")
    assert [n for _, n, _ in retries] == ["1", "2"]
    assert "Throttling" in retries[0][0] and "InternalFailure" in retries[1][0]
    delays = [float(s) for _, _, s in retries]
    assert 1.0 <= delays[0] <= 2.0 and 2.0 <= delays[1] <= 4.0  # exponential, jittered
    assert "Traceback" not in log


def test_a_profile_nobody_uses_stops_being_renewed(seed_env, daemon, proxy):
    proxy.rewrite_expiration(SHORT)
    d = daemon(CREDHELPER_IDLE_TIMEOUT="2")
    first = process_json(seed_env)
    wait_until(lambda: row(d.status()) is None, SHORT, interval=0.2, what="the profile dropped")
    assert proxy.count("AssumeRole") == 1  # dropped when its renewal was due, not renewed
    assert re.search(rf"{ROLE_PROFILE}: idle for \d+ s, no longer renewed", d.log())
    # Asked for again, it is back at once: the keyring kept the still-valid session.
    assert process_json(seed_env) == first
    assert proxy.count("AssumeRole") == 1
    assert row(d.status())["source"] == "keyring"


# --- single flight ----------------------------------------------------------------------------


def test_a_hundred_concurrent_callers_make_one_sts_call(seed_env, daemon, proxy):
    d = daemon()
    proxy.inject_delay("AssumeRole", 3.0)  # keep the one fetch in flight while callers pile up

    def one(_: int) -> subprocess.CompletedProcess[str]:
        return process(seed_env)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(one, range(100)))
    elapsed = time.monotonic() - started
    failures = [r.stderr for r in results if r.returncode != 0 or r.stderr]
    assert failures == []
    docs = [json.loads(r.stdout) for r in results]
    assert len({doc["AccessKeyId"] for doc in docs}) == 1
    assert min(seconds_left(doc) for doc in docs) > 15 * 60
    assert proxy.count("AssumeRole") == 1
    assert d.log().count("assumed arn:") == 1
    print(f"\n100 concurrent callers in {elapsed:.1f} s: {proxy.count('AssumeRole')} AssumeRole")


# --- config edits -----------------------------------------------------------------------------


def replace_atomically(path: Path, text: str) -> None:
    """What editors do: write a temporary file next to it, then rename over it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_in_place(path: Path, text: str) -> None:
    """What `aws configure set` does: truncate and write the same inode."""
    with open(path, "r+") as f:
        f.truncate(0)
        f.write(text)


def test_config_edits_are_picked_up_within_two_seconds(seed_env, daemon, proxy, moto_stack):
    seed = moto_stack.seed
    d = daemon()
    process_json(seed_env)
    old_key = next(iter(keyring_sessions(seed_env)))
    roles = {}
    for label in ("atomic", "in-place"):
        name = unique(f"edit-{label}")
        roles[label] = (name, moto_stack.create_role(name, seed.user_arn))

    for label, write in (("atomic", replace_atomically), ("in-place", write_in_place)):
        name, arn = roles[label]
        text = seed_env.config_file.read_text()
        current = seed_env.setting(ROLE_PROFILE, "role_arn")
        inode = seed_env.config_file.stat().st_ino
        write(seed_env.config_file, text.replace(current, arn))
        assert (seed_env.config_file.stat().st_ino == inode) == (label == "in-place")
        edited = time.monotonic()

        def picked_up(arn: str = arn) -> dict | None:
            held = row(d.status())
            return held if held and held["role_arn"] == arn and held["expiration"] else None

        wait_until(picked_up, timeout=2.0, what=f"the {label} edit to be picked up")
        took = time.monotonic() - edited
        doc = process_json(seed_env)
        assert moto_stack.caller_arn(doc).startswith(f"{SESSION_ARN}/{name}/")
        print(f"\n{label} edit picked up in {took:.2f} s")
    assert proxy.count("AssumeRole") == 3
    # The sessions of the edited-away roles are gone from the keyring; only the current one is.
    assert old_key not in keyring_sessions(seed_env)
    assert len(keyring_sessions(seed_env)) == 1

    # A removed profile: the daemon stops serving it and forgets its session.
    lines = seed_env.config_file.read_text().splitlines(keepends=True)
    start = lines.index(f"[profile {ROLE_PROFILE}]\n")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    replace_atomically(seed_env.config_file, "".join(lines[:start] + lines[end:]))
    wait_until(lambda: row(d.status()) is None, timeout=2.0, what="the profile to be dropped")
    assert row(status_json(seed_env)) is None
    assert keyring_sessions(seed_env) == {}
    result = process(seed_env)
    assert result.returncode == 1 and "no such profile" in result.stderr
    assert "dropped" in d.log()


# --- crash, restart ---------------------------------------------------------------------------


def test_kill_9_falls_back_to_the_keyring_and_restarts_the_daemon(
    seed_env, daemon, proxy, moto_stack
):
    seed = moto_stack.seed
    seed_env.add_profile(
        "second", role_arn=seed.role_arn, source_profile="account1", role_session_name="second"
    )
    d = daemon()
    first = process_json(seed_env)
    # kill -9 while the daemon is fetching another profile's session for a waiting caller
    proxy.inject_delay("AssumeRole", 3.0)
    pending = subprocess.Popen(
        ["credhelper", "process", "second"],
        env=seed_env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proxy.wait_for("AssumeRole", 2, timeout=30)
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait(10)
    out, err = pending.communicate(timeout=60)
    # The waiting caller still gets its credentials (in-process, once the daemon is gone),
    # without waiting for the session lock the dead daemon held.
    assert pending.returncode == 0, err
    second = json.loads(out)
    assert moto_stack.caller_arn(second) == f"{SESSION_ARN}/{seed.role_name}/second"
    assert socket_path(seed_env).exists()  # the dead daemon's stale socket is left behind

    # The next call answers from the keyring (no STS call) and starts a new daemon.
    before = proxy.count("AssumeRole")
    assert process_json(seed_env, CREDHELPER_AUTOSTART="1") == first
    assert proxy.count("AssumeRole") == before

    def new_daemon() -> dict | None:
        try:
            reply = send_request(socket_path(seed_env), {"op": "status"}, timeout=2)
        except (OSError, ValueError):
            return None
        return reply if reply["daemon"]["pid"] != d.pid and reply["profiles"] else None

    # (a bound, not a wait: it is met in a few seconds, but a loaded machine once took 30)
    status = wait_until(new_daemon, timeout=60, interval=0.2, what="a restarted daemon")
    assert [(r["profile"], r["source"]) for r in status["profiles"]] == [(ROLE_PROFILE, "keyring")]
    log_dir = seed_env.run(
        [
            sys.executable,
            "-c",
            "import platformdirs; print(platformdirs.user_log_dir('credhelper'))",
        ]
    ).stdout.strip()
    assert Path(log_dir).is_relative_to(seed_env.home)  # ~/.local/state/credhelper/log
    assert "reloaded from the keyring" in (Path(log_dir) / "daemon.log").read_text()

    # Both profiles are served by the new daemon from what the keyring holds: no STS call.
    assert process_json(seed_env) == first
    assert process_json(seed_env, "second") == second
    assert proxy.count("AssumeRole") == before
    assert {
        r["profile"] for r in send_request(socket_path(seed_env), {"op": "status"})["profiles"]
    } == {ROLE_PROFILE, "second"}
    # Nothing in the keyring is corrupt or half-written (decode raises on that).
    sessions = keyring_sessions(seed_env)
    assert sorted(c.access_key_id for c in sessions.values()) == sorted(
        [first["AccessKeyId"], second["AccessKeyId"]]
    )


# --- who may connect --------------------------------------------------------------------------

NOBODY_CLIENT = """
import json, socket, sys
path, request = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
try:
    sock.connect(path)
except OSError as exc:
    print(json.dumps({"connect": type(exc).__name__}))
    sys.exit(0)
data = b""
try:
    sock.sendall(request.encode() + b"\\n")  # the daemon may already have hung up
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
except OSError as exc:
    print(json.dumps({"connect": "ok", "error": type(exc).__name__, "reply": data.decode()}))
    sys.exit(0)
print(json.dumps({"connect": "ok", "reply": data.decode()}))
"""


def as_nobody(path: Path, request: dict) -> dict:
    """A stdlib client running as uid `nobody` (what another local user could do)."""
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            NOBODY_CLIENT,
            str(path),
            json.dumps(request),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")
def test_another_uid_is_refused(seed_env, daemon, proxy):
    d = daemon()
    doc = process_json(seed_env)
    context = d.status()["daemon"]["context"]  # a request the daemon would otherwise answer
    request = {"v": 1, "op": "get", "profile": ROLE_PROFILE, "context": context}
    path = socket_path(seed_env)

    # By default the private runtime folder (0700) already keeps other users out.
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert as_nobody(path, request) == {"connect": "PermissionError"}

    # With the folders and the socket opened up, the daemon itself checks the peer's uid.
    modes = {p: p.stat().st_mode & 0o777 for p in (seed_env.runtime_dir, path.parent, path)}
    try:
        os.chmod(seed_env.runtime_dir, 0o755)
        os.chmod(path.parent, 0o777)
        os.chmod(path, 0o666)
        reply = as_nobody(path, request)
    finally:
        for p, mode in modes.items():
            os.chmod(p, mode)
    assert reply["connect"] == "ok"
    assert reply["reply"] == ""  # dropped: no answer at all, let alone credentials
    assert doc["SecretAccessKey"] not in json.dumps(reply)
    nobody_uid = int(subprocess.check_output(["id", "-u", "nobody"]))
    wait_until(
        lambda: f"refused a connection from uid {nobody_uid}" in d.log(), 5, what="the log line"
    )
    assert d.ping()["pid"] == d.pid  # and it goes on serving its own user
    assert process_json(seed_env) == doc


# --- malformed requests -----------------------------------------------------------------------

BAD_FRAMES = {
    "garbage": (b"garbage\n", "not a JSON document"),
    "binary": (b"\x00\xff\xfe\x80\n", "not a JSON document"),
    "truncated JSON, then EOF": (b'{"v": 1, "op": "pi', "truncated request"),
    "truncated JSON line": (b'{"v": 1, "op": "pi\n', "not a JSON document"),
    "empty line": (b"\n", "not a JSON document"),
    "nothing, then EOF": (b"", "truncated request"),
    "array": (b'[{"v": 1, "op": "ping"}]\n', "not a JSON object"),
    "deep nesting": (b"[" * 50000 + b"\n", "not a JSON document"),
    "huge number": (b'{"v": 1, "op": "ping", "x": 1' + b"0" * 5000 + b"}\n", None),
    "10 MB line": (b'{"v": 1, "op": "' + b"x" * (10 << 20) + b'"}\n', "request too large"),
    "no version": (b'{"op": "ping"}\n', "unsupported protocol version"),
    "wrong version": (b'{"v": 2, "op": "ping"}\n', "unsupported protocol version"),
    "version as string": (b'{"v": "1", "op": "ping"}\n', "unsupported protocol version"),
    "version as boolean": (b'{"v": true, "op": "ping"}\n', "unsupported protocol version"),
    "unknown op": (b'{"v": 1, "op": "launch"}\n', "unknown op"),
    "op not a string": (b'{"v": 1, "op": ["ping"]}\n', "unknown op"),
    "unknown field": (b'{"v": 1, "op": "ping", "debug": true}\n', "unknown fields"),
    "profile not a string": (b'{"v": 1, "op": "get", "profile": 7}\n', "profile must be"),
    "profile empty": (b'{"v": 1, "op": "get", "profile": ""}\n', "profile must be"),
    "profile with a newline": (b'{"v": 1, "op": "get", "profile": "a\\nb"}\n', "profile must be"),
    "profile too long": (
        b'{"v": 1, "op": "get", "profile": "' + b"p" * 300 + b'"}\n',
        "profile must be",
    ),
    "min_ttl a string": (
        b'{"v": 1, "op": "get", "profile": "p", "min_ttl": "soon"}\n',
        "min_ttl must be",
    ),
    "min_ttl a boolean": (
        b'{"v": 1, "op": "get", "profile": "p", "min_ttl": true}\n',
        "min_ttl must be",
    ),
    "min_ttl NaN": (b'{"v": 1, "op": "get", "profile": "p", "min_ttl": NaN}\n', "min_ttl must be"),
    "min_ttl negative": (
        b'{"v": 1, "op": "get", "profile": "p", "min_ttl": -1}\n',
        "min_ttl must be",
    ),
    "context a list": (b'{"v": 1, "op": "ping", "context": []}\n', "context must"),
    "context unknown variable": (
        b'{"v": 1, "op": "ping", "context": {"PATH": "/bin"}}\n',
        "context must",
    ),
    "context value not a string": (
        b'{"v": 1, "op": "ping", "context": {"HOME": 1}}\n',
        "context must",
    ),
}


def test_malformed_requests_never_crash_or_hang_the_daemon(seed_env, daemon, proxy):
    d = daemon()
    path = socket_path(seed_env)
    # A slow client that sends nothing, and fifty idle ones: they hold nobody else up.
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.connect(str(path))
    slow_since = time.monotonic()
    idle = []
    for _ in range(50):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        idle.append(s)
    try:
        for name, (frame, expected) in BAD_FRAMES.items():
            started = time.monotonic()
            raw = exchange(path, frame, timeout=READ_TIMEOUT * 2)
            assert raw.endswith(b"\n"), (name, raw, d.log()[-2000:])
            reply = json.loads(raw)
            took = time.monotonic() - started
            assert reply["v"] == 1 and reply["ok"] is False, (name, reply)
            assert expected is None or expected in reply["error"], (name, reply)
            assert took < READ_TIMEOUT, (name, took)  # answered, not left to time out
            assert d.ping()["pid"] == d.pid, name

        # The slow client is answered (with an error) once READ_TIMEOUT has passed, and cut.
        slow.settimeout(READ_TIMEOUT * 3)
        reply = json.loads(slow.makefile("rb").readline())
        waited = time.monotonic() - slow_since
        assert reply["ok"] is False and "timed out" in reply["error"]
        assert READ_TIMEOUT - 0.5 <= waited < READ_TIMEOUT * 3
        assert slow.recv(1) == b""
    finally:
        slow.close()
        for s in idle:
            s.close()

    # An unknown profile, asked properly: an error for the caller, nothing kept for it.
    context = d.status()["daemon"]["context"]
    reply = send_request(path, {"op": "get", "profile": "ghost", "context": context})
    assert reply["ok"] is False and "no such profile" in reply["error"]
    assert reply["exit_code"] == 1 and not reply.get("fallback")
    assert row(d.status(), "ghost") is None
    result = process(seed_env, "ghost")
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "no such profile" in result.stderr

    assert proxy.count("AssumeRole") == 0
    assert process_json(seed_env)["AccessKeyId"].startswith("ASIA")
    assert d.proc.poll() is None
    assert "Traceback" not in d.log()


# A request-shaped document: the protocol's fields (and a stray one) with any JSON values.
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
REQUESTS = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, 0, "1", True, 1.0]) | JSON_VALUES,
        "op": st.sampled_from(["get", "status", "ping", "forget", "launch", "", "STOP"])
        | JSON_VALUES,
        "profile": st.sampled_from([ROLE_PROFILE, "ghost", "", "a\nb", "p" * 300]) | JSON_VALUES,
        "min_ttl": st.sampled_from([0, 960, -1, 43201, 1e308]) | JSON_VALUES,
        "context": st.dictionaries(st.sampled_from(protocol.CONTEXT_VARS), st.text(max_size=20))
        | JSON_VALUES,
        "x": JSON_VALUES,
    },
).filter(lambda doc: doc.get("op") != "stop")  # a well-formed stop is a request to obey


def as_line(doc: dict) -> bytes:
    return json.dumps(doc).encode() + b"\n"


FRAMES = st.one_of(
    st.binary(max_size=1024),
    REQUESTS.map(as_line),
    st.tuples(REQUESTS.map(as_line), st.integers(0, 120)).map(lambda t: t[0][: t[1]]),
    st.lists(REQUESTS.map(as_line), min_size=2, max_size=3).map(b"".join),
    st.binary(min_size=1, max_size=64).map(lambda b: b * 2000),  # up to 128 KB
)


@pytest.fixture
def one_daemon(daemon) -> DaemonProc:
    return daemon()


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=FRAMES)
def test_random_frames_always_get_an_answer_and_the_daemon_lives_on(one_daemon, proxy, frame):
    raw = exchange(one_daemon.socket, frame, timeout=READ_TIMEOUT * 2)
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw
    reply = json.loads(raw)
    assert reply["v"] == 1 and isinstance(reply["ok"], bool)
    assert reply["ok"] or isinstance(reply["error"], str)
    assert "credentials" not in reply  # no random frame carries the daemon's context
    assert one_daemon.ping()["pid"] == one_daemon.pid
    assert proxy.count("AssumeRole") == 0


# --- lifecycle --------------------------------------------------------------------------------


def test_one_daemon_per_user_and_it_stops_cleanly(seed_env, daemon, proxy):
    d = daemon()
    path = socket_path(seed_env)
    second = seed_env.run(["credhelper", "daemon"], timeout=30)
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "already running" in lines[0] and str(d.pid) in lines[0]
    assert d.ping()["pid"] == d.pid  # the running daemon and its socket are untouched

    # (the test is the daemon's parent, so it reaps it while `stop` waits for it to go)
    stop = subprocess.Popen(
        ["credhelper", "daemon", "stop"], env=seed_env.env, stdout=subprocess.PIPE, text=True
    )
    assert d.proc.wait(10) == 0
    assert stop.wait(10) == 0 and f"daemon {d.pid} stopped" in stop.communicate()[0]
    assert not path.exists()
    again = seed_env.run(["credhelper", "daemon", "stop"], timeout=30)
    assert again.returncode == 0 and "no daemon is running" in again.stdout
    status = seed_env.run(["credhelper", "status"])
    assert status.returncode == 1 and "no credhelper daemon is running" in status.stderr
    assert status.stdout == ""
    # --json always prints JSON: no daemon, nothing held, exit code 3 (README).
    as_json = seed_env.run(["credhelper", "status", "--json"])
    assert as_json.returncode == 3, as_json
    assert "no credhelper daemon is running" in as_json.stderr
    empty = json.loads(as_json.stdout)
    assert empty["daemon"] is None and empty["profiles"] == []
    assert empty["clock_skew_seconds"] is None
    assert empty["summary"]["held"] == 0 and empty["summary"]["shown"] == 0

    # SIGTERM (what systemd and launchd send): exit 0, socket removed, session kept.
    d2 = daemon()
    doc = process_json(seed_env)
    os.kill(d2.pid, signal.SIGTERM)
    assert d2.proc.wait(15) == 0
    assert not path.exists()
    assert d2.log().rstrip().endswith("stopped") and "Traceback" not in d2.log()
    assert process_json(seed_env) == doc  # in-process now, from the keyring
    assert proxy.count("AssumeRole") == 1


PRINT_DIRS = (
    "import warnings; warnings.simplefilter('ignore'); import platformdirs; "
    "from credhelper import transport; "
    "print(platformdirs.user_runtime_dir('credhelper')); print(transport.runtime_dir())"
)


@pytest.mark.parametrize("case", ["private", "unset", "not private", "unset, TMPDIR"])
def test_runtime_dir_agrees_with_platformdirs(tmp_path, case):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "CREDHELPER_"))}
    env.pop("TMPDIR", None)
    folder = tmp_path / "xdg"
    folder.mkdir(mode=0o700)
    if case == "private":
        env["XDG_RUNTIME_DIR"] = str(folder)
    elif case == "not private":
        folder.chmod(0o755)
        env["XDG_RUNTIME_DIR"] = str(folder)
    elif case == "unset, TMPDIR":
        env["TMPDIR"] = str(folder)
    out = subprocess.run(
        [sys.executable, "-c", PRINT_DIRS], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(out) == 2 and out[0] == out[1], out
    if case == "private":
        assert out[1] == str(folder / "credhelper")
    else:
        assert not out[1].startswith(str(folder / "credhelper"))


# --- socket activation ------------------------------------------------------------------------


def test_socket_activation(seed_env, daemon, proxy):
    path = socket_path(seed_env)
    path.parent.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # the service manager's
    listener.bind(str(path))
    listener.listen(16)

    def queued_ping() -> socket.socket:
        # A request sent before the daemon runs: the kernel queues it on the socket.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(b'{"v": 1, "op": "ping"}\n')
        return sock

    try:
        early = queued_ping()
        d = daemon.socket_activated(listener)
        with early:
            reply = json.loads(early.makefile("rb").readline())
        assert reply["ok"] and reply["pid"] == d.pid  # LISTEN_PID matched: exec kept the pid
        doc = process_json(seed_env)
        assert proxy.count("AssumeRole") == 1
        status = status_json(seed_env)
        assert status["daemon"]["pid"] == d.pid and row(status)["expiration"] == doc["Expiration"]
        assert "using the socket passed by the service manager" in d.log()

        # Stopped, it leaves the socket to its owner; a request queued meanwhile is answered
        # by the next activation, which serves the session the keyring kept.
        assert d.terminate() == 0
        assert path.exists()
        early = queued_ping()
        d2 = daemon.socket_activated(listener)
        with early:
            assert json.loads(early.makefile("rb").readline())["pid"] == d2.pid
        assert process_json(seed_env) == doc
        assert status_json(seed_env)["daemon"]["pid"] == d2.pid
        assert proxy.count("AssumeRole") == 1
    finally:
        listener.close()
