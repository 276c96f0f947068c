"""``credhelper status`` over 5,000 profiles held by a real daemon, through the real CLI.

The sessions are put in the keyring beforehand with the daemon's index listing them, and the
daemon reloads them at start, as after a restart (see harness/many_profiles.py for the
keyring stand-in that makes this take seconds instead of minutes). Three profiles have a
session with 10 minutes left whose source keys STS refuses: the daemon tries to renew them at
once and fails, so they show an error and expire soon; no other profile sees STS.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from harness import ACCOUNT_ID, Creds
from harness.awsenv import AwsEnv
from harness.daemon import Daemons, send_request, start_daemon, wait_until
from harness.many_profiles import BACKEND, FILE_VAR
from test_daemon import ROLE_PROFILE

from credhelper import protocol

TESTS = Path(__file__).resolve().parents[1]
PROD = [f"prod-{i:04d}" for i in range(2500)]
BROKEN = ["broken-1", "broken-2", "broken-3"]
#: With the seed's role profile, 5,000 role profiles in all.
DEV = [f"dev-{i:04d}" for i in range(5000 - len(PROD) - len(BROKEN) - 1)]
HELD = 5000
#: Fields the README documents for each row of ``status --json``.
ROW_FIELDS = {
    "profile",
    "role_arn",
    "expiration",
    "seconds_left",
    "renews_in",
    "source",
    "last_error",
    "failures",
    "idle_seconds",
    "keys_from",
    "mfa_expiration",
    "mfa_needed",
}


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"


@pytest.fixture
def many(seed_env: AwsEnv, daemon: Daemons, tmp_path: Path) -> dict[str, str]:
    """A daemon holding 5,000 profiles; the environment its helpers run in."""
    sections = [seed_env.config_file.read_text()]
    for name in PROD + DEV:
        sections.append(f"[profile {name}]\nrole_arn = {role(name)}\nsource_profile = account1\n")
    for name in BROKEN:
        sections.append(f"[profile {name}]\nrole_arn = {role(name)}\nsource_profile = badkeys\n")
    sections.append("[profile badkeys]\nregion = us-east-1\n")
    seed_env.write_config("\n".join(sections))
    seed_env.add_credentials("badkeys", Creds("AKIDNOTAKEY00000000", "not-a-secret"))
    env = seed_env.env_with(
        PYTHON_KEYRING_BACKEND=BACKEND,
        PYTHONPATH=str(TESTS),
        **{FILE_VAR: str(tmp_path / "keyring.json")},
    )
    started = time.monotonic()
    out = seed_env.run(
        [sys.executable, "-m", "harness.many_profiles", "seed", "3600"]
        + [f"{name}=600" for name in BROKEN],
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == HELD
    print(f"seeded {HELD} sessions in {time.monotonic() - started:.1f} s")
    # The daemon takes sessions with 10 minutes left (they are then renewed at once).
    env["CREDHELPER_MIN_TTL"] = "300"
    proc = start_daemon(
        seed_env,
        daemon.log,
        {
            k: env[k]
            for k in ("PYTHON_KEYRING_BACKEND", "PYTHONPATH", FILE_VAR, "CREDHELPER_MIN_TTL")
        },
    )
    daemon.started.append(proc)

    def reloaded() -> dict | None:
        reply = send_request(
            proc.socket, {"op": "status", "max_reply": protocol.MAX_REPLY}, limit=1 << 26
        )
        rows = reply["profiles"]
        failed = [r for r in rows if r["last_error"]]
        return reply if len(rows) == HELD and len(failed) == len(BROKEN) else None

    wait_until(reloaded, 60, interval=0.5, what="5,000 profiles reloaded, 3 renewals failed")
    print(f"daemon up with {HELD} profiles after {time.monotonic() - started:.1f} s")
    return env


def status(env: AwsEnv, *args: str):
    started = time.monotonic()
    result = env.run(["credhelper", "status", *args])
    print(f"credhelper status {' '.join(args)}: {time.monotonic() - started:.2f} s")
    return result


def test_status_of_5000_profiles(seed_env, many, proxy):
    # No healthy profile saw STS: all came from the keyring.
    assert proxy.count("AssumeRole") == sum(proxy.count("AssumeRole", role(n)) for n in BROKEN)

    # The table: the daemon's line, the summary, the header, one row each.
    result = status(seed_env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("daemon pid ")
    assert lines[1] == ("5000 profiles: 4997 ok, 3 with errors, 3 expiring within 16m00s"), lines[1]
    assert lines[2].split() == [
        "PROFILE", "ROLE", "EXPIRES", "LEFT", "RENEWS", "IN", "LAST", "ERROR",
    ]  # fmt: skip
    rows = lines[3:]
    assert len(rows) == HELD
    assert [r.split()[0] for r in rows] == sorted(PROD + DEV + BROKEN + [ROLE_PROFILE])
    broken = [r for r in rows if r.startswith("broken-")]
    assert len(broken) == 3 and all("AssumeRole" in r for r in broken), broken
    # Within 100 columns: a long error is shortened at a word, whole in --wide and --json.
    assert all(len(line) <= 100 for line in lines[1:]), max(lines, key=len)
    assert all(r.endswith("...") for r in broken), broken

    result = status(seed_env, "broken-*", "--wide")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2].split()[:3] == ["PROFILE", "ROLE", "ARN"]
    wide = lines[3:]
    assert [r.split()[0] for r in wide] == BROKEN
    assert all(role(n) in r and not r.endswith("...") for n, r in zip(BROKEN, wide)), wide
    assert all(r.endswith("The security token included in the request is invalid.") for r in wide)

    # Patterns, as the user types them; --json keeps its shape, with a summary added.
    result = status(seed_env, "prod-*", "broken-2", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"daemon", "profiles", "clock_skew_seconds"} <= set(doc)
    assert [r["profile"] for r in doc["profiles"]] == sorted(PROD + ["broken-2"])
    assert all(set(r) >= ROW_FIELDS for r in doc["profiles"])
    assert {r["source"] for r in doc["profiles"]} == {"keyring"}
    assert doc["summary"] == {
        "held": HELD,
        "shown": 2501,
        "ok": 2500,
        "errors": 1,
        "mfa_needed": 0,
        "expiring_soon": 1,
        "expired": 0,
        "expiring_within": 960,
    }
    assert isinstance(doc["daemon"]["pid"], int)

    # Only what needs attention.
    result = status(seed_env, "--problems")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == (
        "3 of 5000 profiles with a problem: 0 ok, 3 with errors, 3 expiring within 16m00s"
    )
    assert [r.split()[0] for r in lines[3:]] == BROKEN

    # A name that matches nothing: what matched is shown, then one line, exit code 1.
    result = status(seed_env, "dev-0007", "nosuch-*")
    assert result.returncode == 1
    assert result.stderr == "credhelper: the daemon holds no profile matching 'nosuch-*'\n"
    lines = result.stdout.splitlines()
    assert lines[1] == "1 of 5000 profiles matching 'dev-0007' 'nosuch-*': 1 ok"
    assert [r.split()[0] for r in lines[3:]] == ["dev-0007"]

    # The summary alone.
    result = status(seed_env, "--summary")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2, result.stdout

    # A client older than max_reply reads one short error line, never a cut-off document.
    data = send_request(seed_env.runtime_dir / "credhelper" / "daemon.sock", {"op": "status"})
    assert data["ok"] is False and "a newer credhelper shows it" in data["error"]
    assert len(json.dumps(data)) < protocol.MAX_MESSAGE
