"""The launcher (credhelper/launcher.py, its work in lean_client.py), what ``credhelper wire``
writes as credential_process: ``python -I -S .../credhelper/launcher.py PROFILE``. On a daemon
hit it imports next to nothing and prints the same bytes as ``credhelper process``; on anything
else it hands over to ``credhelper process`` and behaves exactly like it (real daemon, moto,
Secret Service).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
import time

import pytest
from harness.awsenv import SEED_ROLE, SEED_WIRED, AwsEnv

ROLE_PROFILE = SEED_ROLE
WIRED = SEED_WIRED

#: All a launcher hit may import beyond what ``python -I -S -c pass`` does: os (and what it
#: stands on), _socket, and credhelper's stdlib-only runtime-folder checks. No socket, no
#: json, nothing from site-packages.
LAUNCHER_HIT = {
    "os",
    "stat",
    "_stat",
    "_collections_abc",
    "posixpath",
    "genericpath",
    "_socket",
    "__future__",
    "credhelper",
    "credhelper.lean_client",
    "credhelper.rundir",
    "credhelper.recursion",
}



def launcher(env: AwsEnv) -> list[str]:
    """The wired credential_process, as the SDKs run it (without its profile)."""
    argv = shlex.split(env.setting(WIRED, "credential_process"))
    assert argv[1:3] == ["-I", "-S"] and argv[3].endswith("/credhelper/launcher.py"), argv
    assert argv[4:] == [ROLE_PROFILE]
    return argv[:4]


def both(env: AwsEnv, *args: str, **overrides: str | None):
    """(the launcher's result, credhelper process's result), same arguments, same env."""
    run_env = env.env_with(**overrides)
    via_launcher = env.run([*launcher(env), *args], env=run_env)
    via_cli = env.run(["credhelper", "process", *args], env=run_env)
    return via_launcher, via_cli


def same(a, b) -> None:
    assert (a.returncode, a.stderr) == (b.returncode, b.stderr)
    if a.returncode == 0:
        assert json.loads(a.stdout) == json.loads(b.stdout)
    else:
        assert a.stdout == b.stdout == ""


def imported(stderr: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S+)", stderr)}


def test_a_hit_imports_next_to_nothing_and_prints_what_process_prints(seed_env, daemon, proxy):
    daemon()
    cli = seed_env.run(["credhelper", "process", ROLE_PROFILE])  # the daemon fetches
    assert cli.returncode == 0, cli.stderr
    python, *rest = launcher(seed_env)  # -I ignores PYTHONPROFILEIMPORTTIME: -X importtime
    hit = seed_env.run([python, "-X", "importtime", *rest, ROLE_PROFILE])
    assert hit.returncode == 0, hit.stderr
    floor = seed_env.run([python, "-I", "-S", "-X", "importtime", "-c", "pass"])
    modules = imported(hit.stderr) - imported(floor.stderr)
    assert "_socket" in modules and "encodings" in imported(floor.stderr)  # the trace is real
    assert modules <= LAUNCHER_HIT, modules - LAUNCHER_HIT
    assert [ln for ln in hit.stderr.splitlines() if not ln.startswith("import time:")] == []
    assert hit.stdout == cli.stdout  # byte for byte
    again = seed_env.run(["credhelper", "process", ROLE_PROFILE])
    assert again.stdout == hit.stdout
    assert proxy.count("AssumeRole") == 1


def test_the_wired_profile_goes_through_the_launcher(seed_env, daemon, proxy, moto_stack):
    d = daemon()
    script = (
        "import boto3\n"
        f"s3 = boto3.Session(profile_name={WIRED!r}).client('s3')\n"
        "print([b['Name'] for b in s3.list_buckets()['Buckets']])\n"
    )
    result = seed_env.run([sys.executable, "-c", script])
    assert result.returncode == 0, result.stderr
    assert moto_stack.seed.bucket in result.stdout
    assert proxy.count("AssumeRole") == 1
    assert d.status()["profiles"][0]["profile"] == ROLE_PROFILE


def test_without_a_daemon_it_is_credhelper_process(seed_env, proxy):
    first = seed_env.run([*launcher(seed_env), ROLE_PROFILE])  # in-process, to the keyring
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    same(*both(seed_env, ROLE_PROFILE))
    assert proxy.count("AssumeRole") == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"CREDHELPER_NO_DAEMON": "1"},
        {"CREDHELPER_DEPTH": "1"},
        {"CREDHELPER_TIMEOUT": "soon"},
        {"CREDHELPER_MIN_TTL": "-5"},
        {"CREDHELPER_NO_DAEMON": "perhaps"},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_settings_that_keep_the_daemon_out_are_credhelper_process(
    seed_env, daemon, proxy, overrides
):
    d = daemon()
    via_launcher, via_cli = both(seed_env, ROLE_PROFILE, **overrides)
    same(via_launcher, via_cli)
    assert d.status()["profiles"] == []  # never asked


def test_a_daemon_error_is_its_line_and_exit_code(seed_env, daemon, proxy):
    daemon()
    seed_env.add_profile(
        "broken", role_arn="arn:aws:iam::123456789012:role/x", source_profile="nowhere"
    )
    via_launcher, via_cli = both(seed_env, "broken")
    assert via_launcher.returncode != 0
    assert via_launcher.stderr.startswith("credhelper: profile 'broken': ")
    assert len(via_launcher.stderr.splitlines()) == 1
    same(via_launcher, via_cli)
    # settled by the launcher itself (the daemon's line), not handed over to the full CLI
    python, *rest = launcher(seed_env)
    traced = seed_env.run([python, "-X", "importtime", *rest, "broken"])
    assert "credhelper.hotpath" in imported(traced.stderr)
    assert "credhelper.cli" not in imported(traced.stderr)
    lines = [ln for ln in traced.stderr.splitlines() if not ln.startswith("import time:")]
    assert (traced.returncode, lines) == (via_cli.returncode, via_cli.stderr.splitlines())


def test_usage_is_credhelper_process(seed_env):
    for args in ([], ["--min-ttl", "60", ROLE_PROFILE], ["a", "b"], ["-x"]):
        same(*both(seed_env, *args))


def test_a_daemon_that_does_not_answer_is_one_line_not_a_second_wait(seed_env, daemon, proxy):
    d = daemon()
    os.kill(d.pid, signal.SIGSTOP)  # it accepts (the kernel does), and never answers
    try:
        started = time.monotonic()
        result = seed_env.run(
            [*launcher(seed_env), ROLE_PROFILE], env=seed_env.env_with(CREDHELPER_TIMEOUT="1")
        )
        took = time.monotonic() - started
        cli = seed_env.run(
            ["credhelper", "process", ROLE_PROFILE], env=seed_env.env_with(CREDHELPER_TIMEOUT="1")
        )
    finally:
        os.kill(d.pid, signal.SIGCONT)
    # the hot path's line (its inner figure is the time left, which differs by a few ms)
    pattern = (
        rf"credhelper: profile '{ROLE_PROFILE}': the daemon did not answer within 1 s "
        r"\(no answer within [\d.]+ s\)\. See 'credhelper status' and the daemon's log\.\n"
    )
    assert re.fullmatch(pattern, result.stderr), result.stderr
    assert re.fullmatch(pattern, cli.stderr), cli.stderr
    assert (result.returncode, result.stdout) == (cli.returncode, cli.stdout) == (1, "")
    assert took < 1 + 2 + 2  # one wait (deadline + reply slack), not a second by the full path
