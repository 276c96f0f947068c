"""The moto world's pytest fixtures, shared by the suites that need it (tests/e2e,
tests/packaging): tests/conftest.py imports them, once for the whole run (why: see there).

A session is one pytest process: under pytest-xdist (scripts/test runs two workers) each
worker has a moto server and proxy of its own (free ports), a Secret Service of its own, and
its own temporary folders; no test shares anything with a test on the other worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from . import MotoStack, StsProxy
from .awsenv import (
    SEED_ROLE,
    SEED_WIRED,
    AwsEnv,
    make_aws_env,
    unique_keyring_service,
)
from .daemon import Daemons
from .secret_service import SecretService

__all__ = [
    "aws_env",
    "daemon",
    "moto_stack",
    "proxy",
    "secret_service_survives",
    "seed_env",
    "worker_secret_service",
]


@pytest.fixture(scope="session", autouse=True)
def worker_secret_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SecretService | None]:
    """Under pytest-xdist, a Secret Service of this worker's own (gnome-keyring, private bus).

    Why: workers run side by side. On one shared gnome-keyring, a test that crashes, locks or
    loads it would fail or slow the other worker's tests, which could not tell why. Every
    process a test starts inherits DBUS_SESSION_BUS_ADDRESS and XDG_DATA_HOME (AwsEnv keeps
    them), and this process's own keyring reads use them, so all of a worker's tests use this
    one. Without workers, the run's Secret Service (scripts/with-secret-service) is used.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield None
        return
    service = SecretService(tmp_path_factory.mktemp("secret-service")).start()
    patch = pytest.MonkeyPatch()
    patch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
    patch.setenv("XDG_DATA_HOME", str(service.data))
    try:
        yield service
    finally:
        patch.undo()
        service.stop()


@pytest.fixture(autouse=True)
def secret_service_survives(worker_secret_service: SecretService | None) -> Iterator[None]:
    """The worker's gnome-keyring outlives each test; if it died, that test errors, saying so.

    Otherwise every later test of the worker would fail with "no Secret Service", far from
    the cause. It is started again (same keyring file, unlocked) for the tests after it.
    """
    yield
    service = worker_secret_service
    if service is None or service.alive():
        return
    code, log = service.returncode, service.log()[-2000:]
    service.restart()
    pytest.fail(
        f"this worker's gnome-keyring-daemon died during the test (exit status {code}); "
        f"it was restarted for the tests after it. Its log ends:\n{log}"
    )


@pytest.fixture(scope="session")
def moto_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoStack]:
    """moto + proxy, seeded with the tutorial's user/role/bucket, enforcement on."""
    log = tmp_path_factory.mktemp("moto") / "moto-server.log"
    with MotoStack(log_path=log) as stack:
        stack.setup_seed()
        yield stack


@pytest.fixture
def proxy(moto_stack: MotoStack) -> Iterator[StsProxy]:
    """The session's proxy with no recorded calls and no faults; enforcement re-asserted."""
    moto_stack.enable_auth()  # a test that switched it off must not leak that
    moto_stack.proxy.clear_faults()
    moto_stack.proxy.reset_counts()
    yield moto_stack.proxy
    moto_stack.proxy.clear_faults()


@pytest.fixture
def aws_env(
    request: pytest.FixtureRequest, tmp_path: Path, moto_stack: MotoStack, proxy: StsProxy
) -> Iterator[AwsEnv]:
    """Empty AWS config/credentials + subprocess env pointed at the proxy, own keyring name."""
    env = make_aws_env(
        tmp_path, proxy.url, keyring_service=unique_keyring_service(request.node.name)
    )
    yield env
    env.close()


@pytest.fixture
def seed_env(aws_env: AwsEnv, moto_stack: MotoStack) -> AwsEnv:
    """The tutorial's profiles: account1 (user1's keys), the role profile, and it wired as
    :data:`SEED_WIRED`. Autostart is off, so that every daemon is one the test started."""
    aws_env.add_seed(moto_stack.seed.user_creds, moto_stack.seed.role_arn)
    result = aws_env.run(["credhelper", "wire", SEED_ROLE, "--as", SEED_WIRED])
    assert result.returncode == 0, result.stderr
    aws_env.env["CREDHELPER_AUTOSTART"] = "0"
    return aws_env


@pytest.fixture
def daemon(seed_env: AwsEnv, tmp_path: Path) -> Iterator[Daemons]:
    """Start ``credhelper daemon`` in the test's environment; its stderr is its log. Each is
    stopped after the test, and must stop cleanly."""
    daemons = Daemons(seed_env, tmp_path / "daemon.log")
    yield daemons
    daemons.close()
