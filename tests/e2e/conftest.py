"""Shared fixtures: one moto server per session, a clean proxy and AWS world per test."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

# `harness` lives beside this folder; make it importable whatever pytest's import mode.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from harness import MotoStack, StsProxy  # noqa: E402
from harness.awsenv import AwsEnv, make_aws_env, unique_keyring_service  # noqa: E402


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
