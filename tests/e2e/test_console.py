"""``credhelper console PROFILE``: a console sign-in URL for the profile's role session, asked
of a local stand-in for AWS's federation endpoint (tests/harness/federation.py) that checks
each request as AWS documents it and that its session is live in moto; on the real daemon,
moto and Secret Service. The URL, the session and the sign-in token never reach a log.
"""

from __future__ import annotations

import stat
import time
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import ACCOUNT_ID, MotoStack
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.federation import FederationStandIn

CONSOLE = "https://console.aws.amazon.com"


@pytest.fixture
def federation(moto_stack: MotoStack) -> Iterator[FederationStandIn]:
    """The stand-in federation endpoint, on a free 127.0.0.1 port, for this test only."""
    stand_in = FederationStandIn(moto_stack).start()
    yield stand_in
    stand_in.stop()


def console(env: AwsEnv, federation: FederationStandIn, *args: str, **overrides: str | None):
    """``credhelper console ARGS`` in ``env``, pointed at the stand-in, with no browser."""
    settings: dict[str, str | None] = {
        "CREDHELPER_FEDERATION_URL": federation.url,
        "BROWSER": None,
        "DISPLAY": None,
        "WAYLAND_DISPLAY": None,
    }
    run_env = env.env_with(**{**settings, **overrides})
    return env.run(["credhelper", "console", *args], env=run_env)


def login_parts(url: str, federation: FederationStandIn) -> dict[str, str]:
    """The sign-in URL's query, checked to be the documented ``Action=login`` on the
    endpoint, each parameter once; returns it."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == federation.url and parts.path == "/federation"
    query = parse_qs(parts.query, strict_parsing=True)
    assert sorted(query) == ["Action", "Destination", "Issuer", "SigninToken"], query
    assert all(len(v) == 1 for v in query.values()), query
    params = {k: v[0] for k, v in query.items()}
    assert params["Action"] == "login"
    assert params["Issuer"] == "credhelper"
    return params


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def secrets_of(federation: FederationStandIn, urls: list[str]) -> list[str]:
    """Everything that must never be in a log: each session's secret and token, each sign-in
    token, each sign-in URL."""
    out = list(urls)
    for issued in federation.issued:
        out += [issued.token, issued.session["sessionKey"], issued.session["sessionToken"]]
    return out


def assert_no_secret(texts: list[str], secrets: list[str]) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text


def chained_profiles(env: AwsEnv, moto: MotoStack) -> tuple[str, str]:
    """Profile ``chain-b``: role B assumed from role A's session, A from user1's keys (role
    chaining). Returns (profile, B's role name). moto admits a chained session only when B
    trusts A's session ARN, session name included (tests/harness/moto_stack.py)."""
    suffix = uuid.uuid4().hex[:8]
    first, second, session = f"console-a-{suffix}", f"console-b-{suffix}", "console-hop"
    first_arn = moto.create_role(first, moto.seed.user_arn, permissions="assume")
    second_arn = moto.create_role(
        second, f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{first}/{session}", permissions="s3"
    )
    env.add_profile(
        "chain-a", role_arn=first_arn, source_profile="account1", role_session_name=session
    )
    env.add_profile("chain-b", role_arn=second_arn, source_profile="chain-a")
    return "chain-b", second


def test_print_gives_a_sign_in_url_for_the_daemons_live_session(
    seed_env, daemon, proxy, federation
):
    d = daemon()
    result = console(seed_env, federation, SEED_ROLE, "--print", "--debug")
    assert result.returncode == 0, result.stderr
    url = one_line(result.stdout)
    params = login_parts(url, federation)
    assert federation.problems == []
    [issued] = federation.issued
    assert params["SigninToken"] == issued.token
    assert params["Destination"] == f"{CONSOLE}/console/home?region=us-east-1"
    assert issued.caller_arn.startswith(
        f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{moto_role(seed_env)}/"
    )
    assert issued.duration is None  # none asked: the role session's own
    assert "note:" not in result.stderr  # assumed with user1's keys: no chaining to explain
    served = seed_env.run(["credhelper", "process", SEED_ROLE], env=seed_env.env)
    assert issued.session["sessionId"] in served.stdout  # the daemon's session, not another
    assert_no_secret([result.stderr, d.log()], secrets_of(federation, [url]))


def moto_role(env: AwsEnv) -> str:
    return env.setting(SEED_ROLE, "role_arn").rsplit("/", 1)[1]


def test_region_flag_names_the_consoles_region(seed_env, proxy, federation):
    result = console(seed_env, federation, SEED_ROLE, "--print", "--region", "eu-west-1")
    assert result.returncode == 0, result.stderr
    params = login_parts(one_line(result.stdout), federation)
    assert params["Destination"] == f"{CONSOLE}/console/home?region=eu-west-1"
    assert params["SigninToken"] == federation.issued[-1].token


def test_region_from_the_environment_then_the_profile(seed_env, proxy, federation):
    via_env = console(seed_env, federation, SEED_ROLE, "--print", AWS_REGION="ap-south-1")
    assert via_env.returncode == 0, via_env.stderr
    assert login_parts(via_env.stdout.strip(), federation)["Destination"].endswith(
        "?region=ap-south-1"
    )
    role_arn = seed_env.setting(SEED_ROLE, "role_arn")
    seed_env.add_profile(
        SEED_ROLE, role_arn=role_arn, source_profile="account1", region="eu-central-1"
    )
    via_profile = console(seed_env, federation, SEED_ROLE, "--print", AWS_DEFAULT_REGION=None)
    assert via_profile.returncode == 0, via_profile.stderr
    assert login_parts(via_profile.stdout.strip(), federation)["Destination"].endswith(
        "?region=eu-central-1"
    )


@pytest.mark.parametrize("region", ["eu_west_1", "cn-north-1", "x"])
def test_a_bad_or_foreign_region_is_a_usage_error(seed_env, proxy, federation, region):
    result = console(seed_env, federation, SEED_ROLE, "--print", "--region", region)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert line.startswith(f"credhelper: profile '{SEED_ROLE}': --region") and region in line
    assert result.stdout == "" and federation.requests == 0


@pytest.mark.parametrize("seconds", [900, 3600, 43200])
def test_duration_in_range_is_sent_as_session_duration(seed_env, proxy, federation, seconds):
    result = console(seed_env, federation, SEED_ROLE, "--print", "--duration", str(seconds))
    assert result.returncode == 0, result.stderr
    [issued] = federation.issued
    assert issued.duration == seconds and federation.problems == []
    assert login_parts(one_line(result.stdout), federation)["SigninToken"] == issued.token


@pytest.mark.parametrize("seconds", ["899", "43201", "0", "-900"])
def test_duration_out_of_range_is_a_usage_error(seed_env, proxy, federation, seconds):
    result = console(seed_env, federation, SEED_ROLE, "--print", f"--duration={seconds}")
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert line.startswith(f"credhelper: profile '{SEED_ROLE}': --duration {int(seconds)} ")
    assert "900" in line and "43200" in line
    assert result.stdout == "" and federation.requests == 0
    assert proxy.count("AssumeRole") == 0  # refused before any STS call


def test_duration_not_a_number_is_a_usage_error(seed_env, proxy, federation):
    result = console(seed_env, federation, SEED_ROLE, "--print", "--duration", "1h")
    assert result.returncode == 2 and "--duration" in result.stderr
    assert result.stdout == "" and federation.requests == 0


def test_a_chained_role_gets_no_session_duration_and_says_so(
    seed_env, daemon, proxy, federation, moto_stack
):
    profile, role = chained_profiles(seed_env, moto_stack)
    federation.chained_roles.add(role)  # as AWS: SessionDuration refused for this session
    d = daemon()
    result = console(seed_env, federation, profile, "--print")
    assert result.returncode == 0, result.stderr
    [issued] = federation.issued
    assert f":assumed-role/{role}/" in issued.caller_arn
    assert issued.duration is None and federation.problems == []
    url = one_line(result.stdout)
    assert login_parts(url, federation)["SigninToken"] == issued.token
    note = one_line(result.stderr)
    assert note.startswith("credhelper: note: no SessionDuration sent")
    assert "role chaining" in note and "lasts as long as the role session" in note
    assert_no_secret([result.stderr, d.log()], secrets_of(federation, [url]))

    refused = console(seed_env, federation, profile, "--print", "--duration", "3600")
    assert refused.returncode == 2, refused.stderr
    line = one_line(refused.stderr)
    assert line.startswith(f"credhelper: profile '{profile}': --duration cannot be used")
    assert "role chaining" in line and "Drop --duration" in line
    assert refused.stdout == "" and federation.requests == 1


def test_the_stand_in_refuses_what_aws_refuses(seed_env, proxy, federation, moto_stack):
    """The stand-in is strict where it matters: a chained session with SessionDuration, and
    credentials that are not a live session, are refused; what credhelper sends is not."""
    import urllib.error
    import urllib.request
    from urllib.parse import urlencode

    def ask(session: dict[str, str], **extra: str) -> int:
        query = urlencode({"Action": "getSigninToken", **extra, "Session": _json(session)})
        try:
            with urllib.request.urlopen(f"{federation.url}/federation?{query}", timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    seed = moto_stack.seed
    live = moto_stack.assume_role(seed.user_creds, seed.role_arn, direct=True)
    session = {
        "sessionId": live.access_key_id,
        "sessionKey": live.secret_access_key,
        "sessionToken": live.session_token or "",
    }
    assert ask(session, SessionDuration="3600") == 200
    assert ask(session, SessionDuration="899") == 400
    assert ask({**session, "extra": "x"}) == 400
    assert ask({**session, "sessionKey": "wrong" * 8}) == 400
    federation.chained_roles.add(seed.role_name)
    assert ask(session, SessionDuration="3600") == 400
    assert ask(session) == 200
    assert len(federation.problems) == 4


def _json(value: object) -> str:
    import json

    return json.dumps(value)


@pytest.mark.parametrize("profile", ["account1", "plain-keys"])
def test_long_term_keys_cannot_sign_in(seed_env, proxy, federation, moto_stack, profile):
    if profile == "plain-keys":  # keys in the keyring only: a profile credhelper serves alone
        add = seed_env.run(
            ["credhelper", "add", profile, "--env", "--no-validate"],
            env=seed_env.env_with(**moto_stack.seed.user_creds.env()),
        )
        assert add.returncode == 0, add.stderr
    result = console(seed_env, federation, profile, "--print")
    assert result.returncode == 1, result.stderr
    line = one_line(result.stderr)
    assert line.startswith(f"credhelper: profile '{profile}': long-term access keys cannot")
    assert "temporary credentials" in line and "role profile" in line
    assert result.stdout == "" and federation.requests == 0


@pytest.mark.parametrize(
    "status, hint", [(500, "try again"), (403, f"credhelper clear {SEED_ROLE}")]
)
def test_endpoint_error_is_one_line_naming_the_status(seed_env, proxy, federation, status, hint):
    federation.fail_with = status
    result = console(seed_env, federation, SEED_ROLE, "--print")
    assert result.returncode == 1, result.stderr
    line = one_line(result.stderr)
    assert line.startswith(f"credhelper: profile '{SEED_ROLE}': the sign-in endpoint ")
    assert f"HTTP {status}" in line and hint in line
    assert result.stdout == "" and federation.requests == 1
    assert "getSigninToken" not in line and "Session" not in line  # the query is the session


def test_endpoint_that_does_not_answer_fails_within_the_time_limit(seed_env, proxy, federation):
    federation.hang = True
    started = time.monotonic()
    result = console(seed_env, federation, SEED_ROLE, "--print", CREDHELPER_TIMEOUT="2")
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    line = one_line(result.stderr)
    assert "did not answer within 2 s" in line and "CREDHELPER_TIMEOUT" in line
    assert result.stdout == "" and federation.requests == 1
    assert took < 12, took  # the STS call, 2 s for the endpoint, the interpreter's start


def test_endpoint_that_is_not_there_is_one_line(seed_env, proxy, federation):
    federation.stop()  # its port is free now: connection refused
    result = console(seed_env, federation, SEED_ROLE, "--print")
    assert result.returncode == 1, result.stderr
    line = one_line(result.stderr)
    assert "could not be reached" in line and "CREDHELPER_FEDERATION_URL" in line


@pytest.mark.parametrize(
    "value", ["http://example.com", "ftp://127.0.0.1", "https://", "https://h/?q=1", "x"]
)
def test_a_bad_federation_url_stops_console_only(seed_env, proxy, federation, value):
    result = console(seed_env, federation, SEED_ROLE, "--print", CREDHELPER_FEDERATION_URL=value)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert line.startswith(f"credhelper: profile '{SEED_ROLE}': CREDHELPER_FEDERATION_URL=")
    assert f"={value!r} is not an https URL" in line and "Fix or unset" in line
    assert proxy.count("AssumeRole") == 0
    process = seed_env.run(
        ["credhelper", "process", SEED_ROLE],
        env=seed_env.env_with(CREDHELPER_FEDERATION_URL=value),
    )
    assert process.returncode == 0, process.stderr  # credential_process is not its business


def test_opens_the_browser_with_the_url(seed_env, proxy, federation, tmp_path: Path):
    received = tmp_path / "browser-got"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {received}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    result = console(seed_env, federation, SEED_ROLE, BROWSER=str(browser))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    url = received.read_text()
    assert login_parts(url, federation)["SigninToken"] == federation.issued[-1].token


def test_no_browser_prints_the_url_with_a_note(seed_env, proxy, federation):
    result = console(seed_env, federation, SEED_ROLE, TERM="dumb")
    assert result.returncode == 0, result.stderr
    url = one_line(result.stdout)
    assert login_parts(url, federation)["SigninToken"] == federation.issued[-1].token
    note = one_line(result.stderr)
    assert note.startswith("credhelper: note: no browser could be opened") and "BROWSER" in note
    assert_no_secret([result.stderr], secrets_of(federation, [url]))


def test_a_browser_that_fails_prints_the_url_with_a_note(seed_env, proxy, federation):
    result = console(seed_env, federation, SEED_ROLE, BROWSER="false")
    assert result.returncode == 0, result.stderr
    assert login_parts(one_line(result.stdout), federation)
    assert "note: no browser could be opened" in result.stderr

