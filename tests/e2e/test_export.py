"""``credhelper export PROFILE --format F``: each format read back by what consumes it (bash,
fish, a strict PowerShell grammar, docker's env-file rules, boto3's own credential_process
loader), and the credentials it carried then used against moto (real daemon, Secret Service).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.tty import run_with_tty

from credhelper.commands.export import fish_quote, powershell_quote, render
from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError

PROFILE = SEED_ROLE
FORMATS = ["env", "fish", "powershell", "dotenv", "json", "credential-process"]
#: The caller's identity through boto3's default chain (the environment's variables first).
WHOAMI = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
#: ... and through a named profile of the AWS config.
WHOAMI_PROFILE = (
    "import sys, boto3\n"
    "print(boto3.Session(profile_name=sys.argv[1]).client('sts').get_caller_identity()['Arn'])"
)
REGION = "import boto3; print(boto3.session.Session().region_name)"
#: PowerShell: `$env:NAME = '...'`, nothing else on the line. Inside, any of its single-quote
#: characters (' and the typographic U+2018..U+201B) stands only doubled, for one of itself.
QUOTES = "'\u2018-\u201b"
POWERSHELL_LINE = re.compile(rf"\$env:(AWS_[A-Z_]+) = '((?:[^{QUOTES}\r\n]|([{QUOTES}])\3)*)'")


def powershell_unquote(text: str) -> str:
    return re.sub(rf"([{QUOTES}])\1", r"\1", text)


def export(env: AwsEnv, *args: str, **overrides: str | None):
    return env.run(["credhelper", "export", PROFILE, *args], env=env.env_with(**overrides))


def exported(env: AwsEnv, fmt: str) -> str:
    result = export(env, "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not a terminal: no warning
    return result.stdout


def assumed(arn: str, moto_stack) -> None:
    """``arn`` is a session of the seed's role, not the user's own keys."""
    assert f":assumed-role/{moto_stack.seed.role_name}/" in arn, arn


def with_only(env: AwsEnv, variables: dict[str, str]) -> dict[str, str]:
    """The test's environment plus ``variables``, without the region it sets (so the region
    seen is the exported one)."""
    return {**env.env_with(AWS_DEFAULT_REGION=None), **variables}


def docker_env_file(text: str) -> dict[str, str]:
    """docker run --env-file, as documented: one VAR=VAL a line, split at the first ``=``,
    the value verbatim (no quotes, no escapes, no expansion); ``#`` lines and blank lines
    skipped; a bare VAR (taken from the caller's environment) is never written here."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and name == name.strip() and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), line
        out[name] = value
    return out


def test_env_evaluated_by_bash_gives_the_role_session(seed_env, proxy, moto_stack):
    """No daemon: obtained in-process. bash evaluates it; boto3 then has the role's session
    and the chain's region (the source profile's us-east-1) from the variables alone."""
    script = (
        f'eval "$(credhelper export {PROFILE})" && '
        f"{shlex.quote(sys.executable)} -c {shlex.quote(WHOAMI)} && "
        f"{shlex.quote(sys.executable)} -c {shlex.quote(REGION)} && "
        'printf "%s\\n" "$AWS_CREDENTIAL_EXPIRATION"'
    )
    result = seed_env.run(["bash", "-c", script], env=seed_env.env_with(AWS_DEFAULT_REGION=None))
    assert result.returncode == 0, result.stderr
    arn, region, expiration = result.stdout.splitlines()
    assumed(arn, moto_stack)
    assert region == "us-east-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", expiration), expiration
    assert datetime.fromisoformat(expiration.replace("Z", "+00:00")) > datetime.now(timezone.utc)
    # Without the export the same shell has no credentials at all: they came from it.
    bare = seed_env.run([sys.executable, "-c", WHOAMI])
    assert bare.returncode != 0 and "NoCredentialsError" in bare.stderr
    assert proxy.count("AssumeRole") == 1
    names = [line.split("=", 1)[0] for line in exported(seed_env, "env").splitlines()]
    assert names == [
        "export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY", "export AWS_SESSION_TOKEN",
        "export AWS_CREDENTIAL_EXPIRATION", "export AWS_REGION", "export AWS_DEFAULT_REGION",
    ]  # fmt: skip
    assert proxy.count("AssumeRole") == 1  # the second export was the keyring's session


def test_the_region_is_the_chains_own_and_absent_without_one(seed_env, proxy, moto_stack):
    role_arn = moto_stack.seed.role_arn
    seed_env.add_profile(PROFILE, role_arn=role_arn, source_profile="account1", region="eu-west-3")
    assert "export AWS_REGION=eu-west-3\nexport AWS_DEFAULT_REGION=eu-west-3\n" in exported(
        seed_env, "env"
    )
    seed_env.add_profile(PROFILE, role_arn=role_arn, source_profile="account1")
    seed_env.add_profile("account1")  # no region down the chain
    text = exported(seed_env, "env")
    assert "AWS_REGION" not in text and "AWS_DEFAULT_REGION" not in text
    assert "AWS_REGION" not in exported(seed_env, "dotenv")


@pytest.mark.skipif(
    not shutil.which("fish"), reason="fish is not installed (scripts/bootstrap installs it)"
)
def test_fish_sources_it(seed_env, daemon, proxy, moto_stack):
    daemon()
    script = (
        f"credhelper export {PROFILE} --format fish | source; and "
        f"{shlex.quote(sys.executable)} -c {shlex.quote(WHOAMI)}; and "
        f"{shlex.quote(sys.executable)} -c {shlex.quote(REGION)}"
    )
    result = seed_env.run(["fish", "--no-config", "-c", script], env=with_only(seed_env, {}))
    assert result.returncode == 0, result.stderr
    arn, region = result.stdout.splitlines()
    assumed(arn, moto_stack)
    assert region == "us-east-1"
    lines = exported(seed_env, "fish").splitlines()
    assert all(re.fullmatch(r"set -gx AWS_[A-Z_]+ '[^'\\]*';", line) for line in lines), lines


@pytest.mark.skipif(
    not shutil.which("fish"), reason="fish is not installed (scripts/bootstrap installs it)"
)
def test_fish_quoting_round_trips_through_fish(tmp_path):
    """What AWS never sends, but the quoting must still survive: fish reads each back whole."""
    values = ["a'b", "back\\slash", "\\'", "$HOME (echo hi) *", "new\nline", "tail\\"]
    script = "".join(f"printf '%s\\0' {fish_quote(v)}\n" for v in values)
    (tmp_path / "quoted.fish").write_text(script)
    result = subprocess.run(
        ["fish", "--no-config", str(tmp_path / "quoted.fish")],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\0")[:-1] == values


def test_powershell_lines_match_its_grammar_and_carry_the_session(seed_env, daemon, moto_stack):
    daemon()
    found: dict[str, str] = {}
    for line in exported(seed_env, "powershell").splitlines():
        match = POWERSHELL_LINE.fullmatch(line)
        assert match, line
        found[match.group(1)] = powershell_unquote(match.group(2))
    assert list(found) == [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION",
    ]  # fmt: skip
    result = seed_env.run([sys.executable, "-c", WHOAMI], env=with_only(seed_env, found))
    assert result.returncode == 0, result.stderr
    assumed(result.stdout.strip(), moto_stack)
    # Quoting: a quote doubled, PowerShell's typographic quotes too; the grammar reads it back.
    for value in ["it's", "\u2019x\u2018", "$(Get-Date) `n"]:
        line = f"$env:AWS_X = {powershell_quote(value)}"
        match = POWERSHELL_LINE.fullmatch(line)
        assert match and powershell_unquote(match.group(2)) == value, line


def test_dotenv_reads_the_same_by_docker_rules_and_python_dotenv(
    seed_env, daemon, moto_stack, tmp_path
):
    daemon()
    text = exported(seed_env, "dotenv")
    variables = docker_env_file(text)
    assert list(variables)[:2] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert variables["AWS_REGION"] == variables["AWS_DEFAULT_REGION"] == "us-east-1"
    try:  # installed with the test tools (not a dependency): when there, it must agree
        from dotenv import dotenv_values
    except ImportError:
        pass
    else:
        path = tmp_path / "aws.env"
        path.write_text(text)
        assert dict(dotenv_values(path, interpolate=True)) == variables
    result = seed_env.run([sys.executable, "-c", WHOAMI], env=with_only(seed_env, variables))
    assert result.returncode == 0, result.stderr
    assumed(result.stdout.strip(), moto_stack)


def write_process_profile(env: AwsEnv, name: str, document: Path) -> None:
    env.add_profile(name, credential_process=f"cat {shlex.quote(str(document))}")


def test_credential_process_is_what_process_prints_and_boto3_loads_it(
    seed_env, daemon, proxy, moto_stack, tmp_path
):
    daemon()
    text = exported(seed_env, "credential-process")
    process = seed_env.run(["credhelper", "process", PROFILE])
    assert process.returncode == 0, process.stderr
    assert text == process.stdout  # byte for byte, the same daemon session
    document = tmp_path / "process.json"
    document.write_text(text)
    write_process_profile(seed_env, "from-file", document)
    result = seed_env.run([sys.executable, "-c", WHOAMI_PROFILE, "from-file"])
    assert result.returncode == 0, result.stderr
    assumed(result.stdout.strip(), moto_stack)
    assert proxy.count("AssumeRole") == 1


def test_json_is_sts_credentials_without_version(seed_env, daemon, moto_stack, tmp_path):
    daemon()
    text = exported(seed_env, "json")
    doc = json.loads(text)
    assert list(doc) == ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]
    assert doc["Expiration"].endswith("Z")
    process = json.loads(exported(seed_env, "credential-process"))
    assert process == {"Version": 1, **doc}
    # Not a credential_process document (no Version): boto3's loader refuses it, by design.
    document = tmp_path / "creds.json"
    document.write_text(text)
    write_process_profile(seed_env, "from-json", document)
    refused = seed_env.run([sys.executable, "-c", WHOAMI_PROFILE, "from-json"])
    assert refused.returncode != 0 and "Unsupported version" in refused.stderr, refused.stderr
    # Its keys are the session: boto3 given them works.
    script = (
        "import json, sys, boto3\n"
        "d = json.load(open(sys.argv[1]))\n"
        "sts = boto3.client('sts', aws_access_key_id=d['AccessKeyId'],\n"
        "    aws_secret_access_key=d['SecretAccessKey'], aws_session_token=d['SessionToken'])\n"
        "print(sts.get_caller_identity()['Arn'])\n"
    )
    result = seed_env.run([sys.executable, "-c", script, str(document)])
    assert result.returncode == 0, result.stderr
    assumed(result.stdout.strip(), moto_stack)


def test_every_format_carries_one_session_and_no_secret_is_logged(seed_env, daemon, proxy):
    d = daemon()
    outputs = {fmt: exported(seed_env, fmt) for fmt in FORMATS}
    debug = export(seed_env, "--debug")
    assert debug.returncode == 0, debug.stderr
    alone = export(seed_env, "--debug", CREDHELPER_NO_DAEMON="1")  # in-process, keyring hit
    assert alone.returncode == 0 and "exported ASIA" in alone.stderr, alone.stderr
    doc = json.loads(outputs["credential-process"])
    for fmt, text in outputs.items():
        assert doc["AccessKeyId"] in text and doc["SecretAccessKey"] in text, fmt
        assert doc["SessionToken"] in text, fmt
    assert debug.stdout == outputs["env"]
    assert proxy.count("AssumeRole") == 1  # one daemon fetch served them all
    assert alone.stdout == outputs["env"]
    for text in (d.log(), debug.stderr, alone.stderr):
        assert doc["SecretAccessKey"] not in text
        assert doc["SessionToken"] not in text
        assert doc["AccessKeyId"] not in text  # logs abbreviate it


@pytest.mark.parametrize("with_daemon", [False, True], ids=["in-process", "daemon"])
@pytest.mark.parametrize("fmt", ["env", "json"])
def test_an_unknown_profile_is_one_line_naming_it_and_nothing_on_stdout(
    seed_env, daemon, with_daemon, fmt
):
    if with_daemon:
        daemon()
    result = seed_env.run(["credhelper", "export", "no-such-profile", "--format", fmt])
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("credhelper: profile 'no-such-profile': "), line


def test_an_unknown_format_is_a_usage_error(seed_env, proxy):
    result = export(seed_env, "--format", "yaml")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: credhelper export" in result.stderr and "invalid choice" in result.stderr
    assert proxy.count("AssumeRole") == 0


def test_on_a_terminal_it_prints_and_warns_on_stderr(seed_env, daemon):
    daemon()
    code, screen = run_with_tty(["credhelper", "export", PROFILE], seed_env.env, cwd=seed_env.root)
    assert code == 0, screen
    assert "export AWS_SECRET_ACCESS_KEY=" in screen
    warning = (
        "credhelper: warning: credentials printed to a terminal; "
        f'use eval "$(credhelper export {PROFILE})"'
    )
    assert warning in screen.splitlines(), screen
    code, screen = run_with_tty(
        ["credhelper", "export", PROFILE, "--format", "fish"], seed_env.env, cwd=seed_env.root
    )
    assert code == 0 and f"use credhelper export {PROFILE} --format fish | source" in screen


def test_dotenv_refuses_a_value_its_readers_would_change():
    """Never from AWS, but refused rather than written wrong (exit 1, nothing printed)."""
    creds = Credentials("AKIDEXAMPLE", "secret", "token", None)
    assert render("dotenv", creds, "us-east-1").startswith("AWS_ACCESS_KEY_ID=AKIDEXAMPLE\n")
    for bad in ["has space", "a#b", "${HOME}", "'quoted'", '"x"', "back\\slash", ""]:
        with pytest.raises(CredhelperError, match="dotenv file cannot carry"):
            render("dotenv", Credentials("AKIDEXAMPLE", bad, "token", None), None)
