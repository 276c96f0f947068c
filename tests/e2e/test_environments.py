"""One daemon for every caller of the user, whatever its AWS environment.

A real daemon, real callers (the launcher as the SDKs run it, ``credhelper process`` and
``status``), moto behind the counting proxy: a caller with another config folder, or a daemon
started with none of the shell's AWS variables (as a service manager starts it), is answered
by the daemon from the caller's own files, at hit speed from its second call, and the
daemon's status says which environment is whose.
"""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import uuid

from harness import ACCOUNT_ID
from harness.awsenv import SEED_ROLE, SEED_WIRED, AwsEnv
from harness.daemon import socket_path, wait_until

SESSION_ARN = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role"
#: What a launcher hit imports beyond ``python -I -S -c pass`` (see test_launcher).
LAUNCHER_HIT = {
    "os", "stat", "_stat", "_collections_abc", "posixpath", "genericpath", "_socket",
    "__future__", "credhelper", "credhelper.lean_client", "credhelper.rundir",
    "credhelper.recursion",
}  # fmt: skip


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def other_folder(env: AwsEnv, role_arn: str) -> dict[str, str]:
    """A second config folder: the seed's files, the role profile on ``role_arn``; the
    variables a shell using it sets."""
    folder = env.root / "other-aws"
    folder.mkdir()
    seed_arn = env.setting(SEED_ROLE, "role_arn")
    (folder / "config").write_text(env.config_file.read_text().replace(seed_arn, role_arn))
    shutil.copy(env.credentials_file, folder / "credentials")
    return {
        "AWS_CONFIG_FILE": str(folder / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "credentials"),
    }


def launcher_call(env: AwsEnv, importtime: bool = False, **overrides: str | None):
    """The wired credential_process, run as an SDK runs it."""
    argv = shlex.split(env.setting(SEED_WIRED, "credential_process"))
    if importtime:
        argv[1:1] = ["-X", "importtime"]
    result = env.run(argv, env=env.env_with(**overrides))
    assert result.returncode == 0, result.stderr
    return result


def imported(stderr: str) -> set[str]:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("import time:")]
    return {ln.split("|")[-1].strip() for ln in lines} - {"package"}


def status(env: AwsEnv, *args: str, **overrides: str | None):
    result = env.run(["credhelper", "status", *args], env=env.env_with(**overrides))
    assert result.returncode == 0, result.stderr
    return result


def test_a_caller_with_another_config_folder_is_served_by_the_daemon_at_hit_speed(
    seed_env, daemon, proxy, moto_stack
):
    d = daemon()
    ours = json.loads(launcher_call(seed_env).stdout)
    arn = moto_stack.create_role(unique("other-folder"), moto_stack.seed.user_arn)
    theirs_env = other_folder(seed_env, arn)
    first = launcher_call(seed_env, **theirs_env)
    theirs = json.loads(first.stdout)
    assert moto_stack.caller_arn(theirs).startswith(f"{SESSION_ARN}/{arn.rsplit('/', 1)[1]}/")
    assert moto_stack.caller_arn(ours).startswith(f"{SESSION_ARN}/{moto_stack.seed.role_name}/")
    assert proxy.count("AssumeRole") == 2  # each fetched once, by the daemon

    # Its second call is a daemon hit: the launcher alone, nothing beyond its few modules.
    hit = launcher_call(seed_env, importtime=True, **theirs_env)
    floor = seed_env.run([shlex.split(seed_env.setting(SEED_WIRED, "credential_process"))[0],
                          "-I", "-S", "-X", "importtime", "-c", "pass"])
    assert imported(hit.stderr) - imported(floor.stderr) <= LAUNCHER_HIT
    assert hit.stdout == first.stdout
    assert proxy.count("AssumeRole") == 2

    # The daemon says which environment is whose.
    doc = json.loads(status(seed_env, "--json", **theirs_env).stdout)
    assert doc["daemon"]["yours"] == 2 and doc["daemon"]["pid"] == d.pid
    assert [(r["profile"], r["role_arn"]) for r in doc["profiles"]] == [(SEED_ROLE, arn)]
    envs = {e["id"]: e for e in doc["daemon"]["environments"]}
    assert envs[1]["home"] and not envs[2]["home"]
    assert envs[2]["config_file"] == theirs_env["AWS_CONFIG_FILE"]
    assert envs[2]["context"]["AWS_CONFIG_FILE"] == theirs_env["AWS_CONFIG_FILE"]
    text = status(seed_env).stdout
    assert "also serving 1 other AWS environment (1 profile)" in text
    assert "credhelper status --all" in text
    every = status(seed_env, "--all").stdout
    rows = [ln.split() for ln in every.splitlines() if ln.startswith(SEED_ROLE + " ")]
    assert sorted(r[1] for r in rows) == ["1", "2"], every  # the ENV column
    assert f"env 2: 1 profile; AWS_CONFIG_FILE={theirs_env['AWS_CONFIG_FILE']}" in every
    assert "serving environment 2: AWS_CONFIG_FILE=" in d.log()

    # `clear` in one shell drops that shell's session, not the other environment's own.
    cleared = seed_env.run(["credhelper", "clear", SEED_ROLE])
    assert cleared.returncode == 0, cleared.stderr
    assert [r["environment"] for r in d.status()["profiles"]] == [2]
    assert launcher_call(seed_env, **theirs_env).stdout == first.stdout
    assert proxy.count("AssumeRole") == 2


def test_a_daemon_started_with_no_aws_variables_serves_a_shell_that_sets_them(
    seed_env, daemon, proxy
):
    """As systemd or launchd start it (socket-activated, here): none of the shell's AWS_*
    variables, so none of its config paths, endpoint or region."""
    path = socket_path(seed_env)
    path.parent.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # the service manager's
    listener.bind(str(path))
    listener.listen(16)
    bare = dict.fromkeys(
        ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"]
    )
    try:
        d = daemon.socket_activated(listener, **bare)
        d.wait_ready()
        doc = json.loads(launcher_call(seed_env).stdout)  # the shell, with all its variables
        again = seed_env.run(["credhelper", "process", SEED_ROLE])
        assert again.returncode == 0 and json.loads(again.stdout) == doc, again.stderr
        assert proxy.count("AssumeRole") == 1  # fetched once, by the daemon
        reply = json.loads(status(seed_env, "--json").stdout)
        assert reply["daemon"]["pid"] == d.pid
        assert reply["daemon"]["context"].get("AWS_CONFIG_FILE") is None  # the daemon's own
        (row,) = reply["profiles"]
        assert row["environment"] == reply["daemon"]["yours"] == 2
        assert row["expiration"] == doc["Expiration"]
    finally:
        listener.close()


def test_an_edit_of_a_callers_files_is_followed_in_its_environment_only(
    seed_env, daemon, proxy, moto_stack
):
    d = daemon()
    launcher_call(seed_env)
    first_arn = moto_stack.create_role(unique("before-edit"), moto_stack.seed.user_arn)
    theirs_env = other_folder(seed_env, first_arn)
    launcher_call(seed_env, **theirs_env)
    edited_arn = moto_stack.create_role(unique("after-edit"), moto_stack.seed.user_arn)
    config = seed_env.root / "other-aws" / "config"
    config.write_text(config.read_text().replace(first_arn, edited_arn))

    def arns() -> dict[int, str]:
        return {r["environment"]: r["role_arn"] for r in d.status()["profiles"]}

    # The daemon watches the caller's folder too: it fetches the edited role's session itself.
    wait_until(lambda: arns().get(2) == edited_arn, 30, what="environment 2 to follow the edit")
    assert arns()[1] == moto_stack.seed.role_arn
    wait_until(lambda: proxy.count("AssumeRole", edited_arn) == 1, 30, what="the new session")
    doc = json.loads(launcher_call(seed_env, **theirs_env).stdout)
    assert moto_stack.caller_arn(doc).startswith(f"{SESSION_ARN}/{edited_arn.rsplit('/', 1)[1]}/")
    assert proxy.count("AssumeRole", edited_arn) == 1


def test_environment_keys_of_the_caller_stay_with_the_caller(seed_env, daemon, proxy, moto_stack):
    """credential_source = Environment with the shell's own keys: the daemon never holds the
    secret, so the caller resolves it itself, correctly, in one call."""
    d = daemon()
    seed_env.add_profile(
        "from-env", role_arn=moto_stack.seed.role_arn, credential_source="Environment"
    )
    creds = moto_stack.seed.user_creds
    keys = {
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
    }

    def call() -> dict:
        result = seed_env.run(["credhelper", "process", "from-env"], env=seed_env.env_with(**keys))
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        return json.loads(result.stdout)

    doc = call()
    assert moto_stack.caller_arn(doc).startswith(f"{SESSION_ARN}/{moto_stack.seed.role_name}/")
    assert proxy.count("AssumeRole") == 1
    # Cached in the keyring by the caller: from then on the daemon hands it out.
    assert call() == doc and proxy.count("AssumeRole") == 1
    assert [r["profile"] for r in d.status()["profiles"]] == ["from-env"]
    assert creds.secret_access_key not in d.log()
