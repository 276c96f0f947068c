"""Proof that the harness works, with plain boto3 and the AWS CLIs (no credhelper involved)."""

from __future__ import annotations

import datetime as dt
import os
import sysconfig
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from harness import ACCOUNT_ID, Creds, MotoStack, StsProxy
from harness.awsenv import AwsEnv, make_aws_env

AWS_V1 = Path(sysconfig.get_path("scripts")) / "aws"
AWS_V2 = Path("/usr/bin/aws")


def _name(prefix: str) -> str:
    """Unique IAM names: the moto server lives for the whole session."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return exc.value.response["Error"]


def test_user1_alone_is_denied_s3(moto_stack: MotoStack, proxy: StsProxy) -> None:
    s3 = moto_stack.client("s3", moto_stack.seed.user_creds)
    with pytest.raises(ClientError) as exc:
        s3.list_buckets()
    assert _error(exc)["Code"] == "AccessDenied"
    last = proxy.calls[-1]
    assert (last.service, last.status) == ("s3", 403)
    assert last.access_key_id == moto_stack.seed.user_creds.access_key_id


def test_seed_role_grants_s3_and_assume_role_is_counted_once(
    moto_stack: MotoStack, proxy: StsProxy
) -> None:
    seed = moto_stack.seed
    sts = moto_stack.client("sts", seed.user_creds)
    resp = sts.assume_role(RoleArn=seed.role_arn, RoleSessionName="harness-test")
    session = Creds.from_sts(resp["Credentials"])
    assert session.expiration is not None and session.expiration.tzinfo is not None
    listing = moto_stack.client("s3", session).list_objects_v2(Bucket=seed.bucket)
    assert [o["Key"] for o in listing["Contents"]] == ["hello.txt"]

    assert proxy.count("AssumeRole") == 1
    assert proxy.count("AssumeRole", role_arn=seed.role_arn) == 1
    (call,) = [c for c in proxy.calls if c.action == "AssumeRole"]
    assert call.access_key_id == seed.user_creds.access_key_id
    assert (call.role_session_name, call.status, call.fault) == ("harness-test", 200, None)


def test_role_chain_works_and_wrong_external_id_is_denied(
    moto_stack: MotoStack, proxy: StsProxy
) -> None:
    seed = moto_stack.seed
    a_name = _name("chain-a")
    role_a = moto_stack.create_role(a_name, seed.user_arn, permissions="assume")
    # moto admits a chained AssumeRole only for the exact assumed-role session ARN (or "*").
    session_a = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{a_name}/hop1"
    role_b = moto_stack.create_role(_name("chain-b"), session_a, external_id="ext-123")

    creds_a = moto_stack.assume_role(seed.user_creds, role_a, "hop1")
    creds_b = moto_stack.assume_role(creds_a, role_b, "hop2", external_id="ext-123")
    ident = moto_stack.client("sts", creds_b).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_b.split('/')[-1]}/hop2"
    moto_stack.client("s3", creds_b).head_bucket(Bucket=seed.bucket)

    with pytest.raises(ClientError) as exc:
        moto_stack.assume_role(creds_a, role_b, "hop2", external_id="wrong")
    assert _error(exc)["Code"] == "AccessDenied"
    assert [c.external_id for c in proxy.calls if c.role_arn == role_b] == ["ext-123", "wrong"]


def test_trust_policy_not_admitting_user_is_denied(moto_stack: MotoStack, proxy: StsProxy) -> None:
    seed = moto_stack.seed
    other = moto_stack.create_role(_name("not-user1"), f"arn:aws:iam::{ACCOUNT_ID}:user/nobody")
    with pytest.raises(ClientError) as exc:
        moto_stack.assume_role(seed.user_creds, other)
    assert _error(exc)["Code"] == "AccessDenied"
    assert _error(exc)["Message"] == (
        f"User: {seed.user_arn} is not authorized to perform: sts:AssumeRole"
    )


def test_moto_quirks_pinned(moto_stack: MotoStack, proxy: StsProxy) -> None:
    """The quirks documented at the top of moto_stack.py; if one breaks, update the notes."""
    seed, user = moto_stack.seed, moto_stack.seed.user_creds

    def denied(creds: Creds, role_arn: str, **kw: Any) -> bool:
        try:
            moto_stack.assume_role(creds, role_arn, "quirk", **kw)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "AccessDenied"
            return True
        return False

    assert denied(user, moto_stack.create_role(_name("q-root"), f"arn:aws:iam::{ACCOUNT_ID}:root"))
    a_name = _name("q-a")
    role_a = moto_stack.create_role(a_name, seed.user_arn, permissions="assume")
    creds_a = moto_stack.assume_role(user, role_a, "quirk")
    assert denied(creds_a, moto_stack.create_role(_name("q-by-role-arn"), role_a))
    wildcard = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{a_name}/*"
    assert denied(creds_a, moto_stack.create_role(_name("q-wildcard"), wildcard))
    assert not denied(creds_a, moto_stack.create_role(_name("q-star"), "*"))
    ext_role = moto_stack.create_role(_name("q-ext"), seed.user_arn, external_id="x1")
    assert not denied(user, ext_role)  # ExternalId missing: admitted (AWS would deny)
    assert not denied(user, f"arn:aws:iam::{ACCOUNT_ID}:role/{_name('q-missing')}")
    sts = moto_stack.client("sts", user)
    sts.assume_role(RoleArn=seed.role_arn, RoleSessionName="quirk", DurationSeconds=7200)

    token = Creds.from_sts(sts.get_session_token(DurationSeconds=900)["Credentials"])
    assert token.access_key_id == "AKIAIOSFODNN7EXAMPLE"
    with pytest.raises(ClientError) as exc:
        moto_stack.client("sts", token).get_caller_identity()
    assert _error(exc)["Code"] == "InvalidClientTokenId"


def test_injected_throttling_reaches_client_once_then_service_resumes(
    moto_stack: MotoStack, proxy: StsProxy
) -> None:
    seed = moto_stack.seed
    proxy.inject_error("AssumeRole", "Throttling", "Rate exceeded")
    sts = moto_stack.client("sts", seed.user_creds, max_attempts=1)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=seed.role_arn, RoleSessionName="throttled")
    assert _error(exc)["Code"] == "Throttling"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sts.assume_role(RoleArn=seed.role_arn, RoleSessionName="throttled")
    assert [(c.fault, c.status) for c in proxy.calls] == [("status=400", 400), (None, 200)]

    # A retrying client rides over it, and the proxy sees both attempts.
    proxy.reset_counts()
    proxy.inject_error("AssumeRole", "Throttling")
    moto_stack.client("sts", seed.user_creds, max_attempts=2).assume_role(
        RoleArn=seed.role_arn, RoleSessionName="retried"
    )
    assert proxy.count("AssumeRole") == 2


def test_delay_drop_and_refused_faults(moto_stack: MotoStack, proxy: StsProxy) -> None:
    user = moto_stack.seed.user_creds
    sts = moto_stack.client("sts", user, max_attempts=1, read_timeout=0.3, connect_timeout=1)
    proxy.inject_delay("GetCallerIdentity", 2)
    with pytest.raises(ReadTimeoutError):
        sts.get_caller_identity()
    proxy.inject_drop("GetCallerIdentity")
    with pytest.raises(ConnectionClosedError):
        sts.get_caller_identity()
    assert sts.get_caller_identity()["Arn"] == moto_stack.seed.user_arn

    port = proxy.port
    proxy.stop()
    try:
        with pytest.raises(Exception, match="Could not connect"):
            sts.get_caller_identity()
    finally:
        proxy.start()
    assert proxy.port == port
    assert sts.get_caller_identity()["Arn"] == moto_stack.seed.user_arn


def test_rewrite_expiration(moto_stack: MotoStack, proxy: StsProxy) -> None:
    seed = moto_stack.seed
    proxy.rewrite_expiration(120)
    short = moto_stack.assume_role(seed.user_creds, seed.role_arn, duration=3600)
    proxy.rewrite_expiration(None)
    normal = moto_stack.assume_role(seed.user_creds, seed.role_arn, duration=3600)
    now = dt.datetime.now(dt.timezone.utc)
    assert short.expiration is not None and normal.expiration is not None
    assert 100 < (short.expiration - now).total_seconds() <= 121
    assert 3500 < (normal.expiration - now).total_seconds() <= 3600
    # moto itself does not care: the "short" session still works.
    moto_stack.client("s3", short).head_bucket(Bucket=seed.bucket)


def test_proxy_serves_many_concurrent_connections(moto_stack: MotoStack, proxy: StsProxy) -> None:
    n = 120
    proxy.inject_delay("GetCallerIdentity", 0.5, times=n)  # keep them all in flight at once
    sts = moto_stack.client("sts", moto_stack.seed.user_creds, max_pool_connections=n)
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            sts.get_caller_identity()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(n)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert proxy.count("GetCallerIdentity") == n
    assert time.monotonic() - started < 10  # serialised, it would take n * 0.5 s


def test_aws_env_is_hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.setenv(var, "leaked")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/tmp/bus-for-test")
    one = make_aws_env(tmp_path / "one", "http://127.0.0.1:9")
    two = make_aws_env(tmp_path / "two", "http://127.0.0.1:9")
    try:
        env = one.env
        assert not {k for k in env if k.startswith("AWS_") and "leaked" in env[k]}
        assert "AWS_PROFILE" not in env and "AWS_ACCESS_KEY_ID" not in env
        assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
        assert env["AWS_DEFAULT_REGION"] == "us-east-1" and env["AWS_PAGER"] == ""
        assert env["DBUS_SESSION_BUS_ADDRESS"] == "unix:path=/tmp/bus-for-test"
        assert env["PATH"].split(os.pathsep)[0] == sysconfig.get_path("scripts")
        assert Path(env["HOME"]).is_relative_to(tmp_path / "one")
        assert one.config_file.read_text() == "" and one.credentials_file.exists()
        assert env["CREDHELPER_KEYRING_SERVICE"] != two.env["CREDHELPER_KEYRING_SERVICE"]
        assert env["XDG_RUNTIME_DIR"] != two.env["XDG_RUNTIME_DIR"]
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize("cli", ["v1", "v2"])
def test_aws_cli_with_user1_keys_is_denied(
    cli: str, aws_env: AwsEnv, moto_stack: MotoStack, proxy: StsProxy
) -> None:
    aws_env.add_credentials("default", moto_stack.seed.user_creds)
    if cli == "v1":
        argv = [str(AWS_V1), "s3", "ls"]
    else:
        if not AWS_V2.exists():
            pytest.skip("AWS CLI v2 (Debian awscli) not installed")
        argv = [str(AWS_V2), "--endpoint-url", aws_env.endpoint_url, "s3", "ls"]
    result = aws_env.run(argv)
    assert result.returncode != 0
    assert "AccessDenied" in result.stderr
    assert [(c.service, c.access_key_id, c.status) for c in proxy.calls] == [
        ("s3", moto_stack.seed.user_creds.access_key_id, 403)
    ]


def test_aws_cli_v1_role_profile_reaches_moto_through_proxy(
    aws_env: AwsEnv, moto_stack: MotoStack, proxy: StsProxy
) -> None:
    """The tutorial with CLI v1's own assume-role: the seed and AWS_ENDPOINT_URL suffice."""
    seed = moto_stack.seed
    aws_env.add_credentials("account1", seed.user_creds)
    aws_env.add_profile("s3fullaccess-user1", role_arn=seed.role_arn, source_profile="account1")
    result = aws_env.run([str(AWS_V1), "s3", "ls", "--profile", "s3fullaccess-user1"])
    assert result.returncode == 0, result.stderr
    assert seed.bucket in result.stdout
    assert proxy.count("AssumeRole", role_arn=seed.role_arn) == 1
