"""The daemon's environments: a caller's AWS variables stand for an environment of their own
(files found by its HOME and paths, clients on its endpoints, its keys never borrowed), and
the environments held stay bounded.

Why here: which variables an environment takes from the caller and which from the daemon is
the whole of its correctness, and botocore reads the process's variables unless told
otherwise; the end-to-end tests (tests/e2e/test_environments.py) prove the daemon serves it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from credhelper import protocol
from credhelper.awsfiles import AwsFiles, paths
from credhelper.context import Context
from credhelper.daemon.environments import Environments, environ_for
from credhelper.daemon.scheduler import Session
from credhelper.errors import CallerOnly
from credhelper.settings import Settings
from credhelper.sources.credential_source import CredentialSource
from credhelper.store.backend import MemoryBackend

from .vclock import VirtualClock

DAEMON = {
    "HOME": "/home/me",
    "PATH": "/usr/bin",
    "AWS_CONFIG_FILE": "/etc/daemon-config",
    "AWS_ACCESS_KEY_ID": "AKIADAEMONDAEMON1234",
    "AWS_SECRET_ACCESS_KEY": "daemon-secret",
}


def test_the_daemons_own_context_is_its_own_environment_as_it_is():
    env, caller_keys = environ_for(protocol.context(DAEMON), DAEMON)
    assert env is DAEMON and not caller_keys


def test_a_callers_values_replace_the_daemons_and_its_keys_are_never_borrowed():
    context = {"HOME": "/home/me", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"}
    env, caller_keys = environ_for(context, DAEMON)
    # The caller set no AWS_CONFIG_FILE: the daemon's must not be used for it.
    assert env == {"HOME": "/home/me", "PATH": "/usr/bin", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"}
    assert not caller_keys
    theirs = {"HOME": "/home/me", "AWS_ACCESS_KEY_ID": "AKIATHEIRSTHEIRS5678"}
    env, caller_keys = environ_for(theirs, DAEMON)
    assert env["AWS_ACCESS_KEY_ID"] == "AKIATHEIRSTHEIRS5678"
    assert "AWS_SECRET_ACCESS_KEY" not in env and caller_keys
    same_key = {"HOME": "/home/you", "AWS_ACCESS_KEY_ID": DAEMON["AWS_ACCESS_KEY_ID"]}
    env, caller_keys = environ_for(same_key, DAEMON)
    assert env["AWS_SECRET_ACCESS_KEY"] == "daemon-secret" and not caller_keys


def test_a_callers_files_endpoints_and_keys_come_from_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "daemon-home"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9/daemons")
    home = tmp_path / "caller-home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[profile p]\nregion = eu-west-1\n")
    context = {"HOME": str(home), "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9/callers"}
    environ, _ = environ_for(context)
    assert paths(environ) == (home / ".aws" / "config", home / ".aws" / "credentials")
    files = AwsFiles.load(environ)
    assert list(files.profiles) == ["p"] and files.config_file == home / ".aws" / "config"
    sts = files.client("sts", "p")
    assert sts.meta.endpoint_url == "http://127.0.0.1:9/callers"
    assert AwsFiles.load().client("sts", None, fallback_region="us-east-1").meta.endpoint_url == (
        "http://127.0.0.1:9/daemons"
    )


def test_environment_keys_that_are_the_callers_alone_are_left_to_the_caller(tmp_path: Path):
    environ, caller_keys = environ_for({"AWS_ACCESS_KEY_ID": "AKIATHEIRSTHEIRS5678"}, DAEMON)
    files = AwsFiles.load({**environ, "AWS_CONFIG_FILE": str(tmp_path / "none")}, caller_keys)
    provider = CredentialSource("p", "Environment").provider(files, None)  # type: ignore[arg-type]
    assert provider.cache_key_material()["key_id"] == "AKIATHEIRSTHEIRS5678"
    with pytest.raises(CallerOnly):
        provider.fetch()


def _context(tmp_path: Path, name: str) -> dict[str, str]:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return {"AWS_CONFIG_FILE": str(folder / "config")}


def test_environments_are_bounded_and_dropped_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    clock = VirtualClock(1_000_000.0)
    ctx = Context(Settings(idle_timeout=600), clock=clock, backend=MemoryBackend())

    async def scenario() -> None:
        envs = Environments(ctx, limit=3)
        envs.start(asyncio.get_running_loop())
        try:
            home = envs.home
            assert envs.get(protocol.context()) is home
            a = envs.get(_context(tmp_path, "a"))
            clock.t += 10
            b = envs.get(_context(tmp_path, "b"))
            assert [e.id for e in envs.all()] == [home.id, a.id, b.id]
            clock.t += 1
            assert envs.get(_context(tmp_path, "a")) is a  # the same environment again
            clock.t += 10
            c = envs.get(_context(tmp_path, "c"))  # full: b, the least recently asked, goes
            assert [e.id for e in envs.all()] == [home.id, a.id, c.id]
            assert envs.find(_context(tmp_path, "b")) is None
            a.scheduler.sessions["held"] = Session("held")
            clock.t += 601
            assert envs.sweep() == 1  # c; not a, which holds a session; never the home
            assert envs.all() == [home, a]
            a.scheduler.sessions.clear()
            assert envs.sweep() == 1 and envs.all() == [home]
        finally:
            await envs.close()

    asyncio.run(scenario())

