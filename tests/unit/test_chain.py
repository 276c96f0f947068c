"""Chains built from a snapshot of AWS files, over an in-memory keyring, STS stubbed with
botocore's Stubber: caching, hops, the MFA session, keyring keys, in milliseconds.

The end-to-end suite proves the same against moto and the real Secret Service; this tier
pins the composition itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.credentials
import pytest
from botocore.stub import Stubber

from credhelper.awsfiles import AwsFiles
from credhelper.chain import NotServed, build_chain
from credhelper.context import Context
from credhelper.credentials import Credentials
from credhelper.prompt import CodeRequest
from credhelper.settings import Settings
from credhelper.sources.botocore_creds import seconds_left
from credhelper.store.backend import MemoryBackend

ROLE_ARN = "arn:aws:iam::123456789012:role/admin"
OTHER_ARN = "arn:aws:iam::123456789012:role/reader"
SERIAL = "arn:aws:iam::123456789012:mfa/alice"
USER_KEY = "AKIAEXAMPLEEXAMPLE12"


def write_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, creds: str) -> None:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(creds)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)


def sts_session(key_id: str, hours: float = 1.0) -> dict[str, Any]:
    end = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=hours)
    return {
        "Credentials": {
            "AccessKeyId": key_id,
            "SecretAccessKey": "s" * 40,
            "SessionToken": "t" * 200,
            "Expiration": end,
        }
    }


class StubbedSts:
    """Every STS client the chain asks the files for is one stubbed client; what it was
    signed with is recorded."""

    def __init__(self, files: AwsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
        self.client = files.session.create_client(
            "sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        self.stub = Stubber(self.client)
        self.stub.activate()
        self.signers: list[str] = []

        def client(_files: AwsFiles, service: str, profile: str | None, **kwargs: Any) -> Any:
            self.signers.append(kwargs["aws_access_key_id"])
            return self.client

        monkeypatch.setattr(AwsFiles, "client", client)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def make(config: str, creds: str = "", ask: Any = None) -> tuple[Context, StubbedSts]:
        write_files(tmp_path, monkeypatch, config, creds)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
        (tmp_path / "run").mkdir(mode=0o700, exist_ok=True)
        ctx = Context(Settings(keyring_service="unit"), backend=MemoryBackend())
        if ask is not None:
            ctx.ask = ask
        sts = StubbedSts(ctx.files, monkeypatch)
        return ctx, sts

    return make


CREDS = f"[user]\naws_access_key_id = {USER_KEY}\naws_secret_access_key = {'k' * 40}\n"


def test_a_role_is_assumed_once_then_served_from_the_keyring(world):
    ctx, sts = world(f"[profile admin]\nrole_arn = {ROLE_ARN}\nsource_profile = user\n", CREDS)
    sts.stub.add_response("assume_role", sts_session("ASIAFIRSTFIRSTFIRST1"))
    chain = build_chain("admin", ctx)
    assert chain.role_arn == ROLE_ARN and chain.mfa_serial is None
    assert [hop.profile for hop in chain.hops] == ["admin"]
    assert chain.keys_from() == "credentials_file"
    first = chain.fetch()
    assert not first.from_cache and first.credentials.access_key_id == "ASIAFIRSTFIRSTFIRST1"
    assert sts.signers == [USER_KEY]
    again = build_chain("admin", ctx).fetch()

    def same(c: Credentials | None) -> tuple[Any, ...]:
        assert c is not None
        return (c.access_key_id, c.secret_access_key, c.session_token, c.expiration)

    assert again.from_cache and same(again.credentials) == same(first.credentials)
    sts.stub.assert_no_pending_responses()
    assert same(ctx.stores.sessions.get(chain.cache_key)) == same(first.credentials)


def test_each_hop_of_a_two_role_chain_is_cached_under_its_own_key(world):
    ctx, sts = world(
        f"[profile reader]\nrole_arn = {OTHER_ARN}\nsource_profile = user\n"
        f"[profile admin]\nrole_arn = {ROLE_ARN}\nsource_profile = reader\n",
        CREDS,
    )
    sts.stub.add_response("assume_role", sts_session("ASIAREADERREADERREA1"))
    sts.stub.add_response("assume_role", sts_session("ASIAADMINADMINADMIN1"))
    chain = build_chain("admin", ctx)
    assert [hop.profile for hop in chain.hops] == ["reader", "admin"]
    assert chain.fetch().credentials.access_key_id == "ASIAADMINADMINADMIN1"
    # the second hop was signed with the first hop's session
    assert sts.signers == [USER_KEY, "ASIAREADERREADERREA1"]
    held = [hop.held() for hop in chain.hops]
    assert [c.access_key_id for c in held if c] == ["ASIAREADERREADERREA1", "ASIAADMINADMINADMIN1"]
    assert len({hop.cache_key for hop in chain.hops}) == 2


def test_a_changed_role_setting_is_another_cache_key(world, tmp_path):
    ctx, _ = world(f"[profile admin]\nrole_arn = {ROLE_ARN}\nsource_profile = user\n", CREDS)
    before = build_chain("admin", ctx).cache_key
    (tmp_path / "config").write_text(
        f"[profile admin]\nrole_arn = {ROLE_ARN}\nsource_profile = user\nduration_seconds = 900\n"
    )
    assert build_chain("admin", ctx).cache_key == before  # the context's snapshot: unchanged
    ctx.reread_files()
    assert build_chain("admin", ctx).cache_key != before


def test_the_mfa_code_is_asked_once_per_mfa_session_not_per_role(world):
    asked: list[CodeRequest] = []

    def ask(request: CodeRequest) -> str:
        asked.append(request)
        return "123456"

    ctx, sts = world(
        f"[profile admin]\nrole_arn = {ROLE_ARN}\nsource_profile = user\nmfa_serial = {SERIAL}\n"
        f"[profile reader]\nrole_arn = {OTHER_ARN}\nsource_profile = user\n"
        f"mfa_serial = {SERIAL}\n",
        CREDS,
        ask=ask,
    )
    sts.stub.add_response(
        "get_session_token",
        sts_session("ASIAMFAMFAMFAMFAMFA1", hours=12),
        {"DurationSeconds": 12 * 3600, "SerialNumber": SERIAL, "TokenCode": "123456"},
    )
    sts.stub.add_response("assume_role", sts_session("ASIAADMINADMINADMIN1"))
    sts.stub.add_response("assume_role", sts_session("ASIAREADERREADERREA1"))
    admin = build_chain("admin", ctx)
    # the MFA session is named after the profile naming the device; the roles share it
    assert admin.mfa_serial == SERIAL and [h.profile for h in admin.hops] == ["admin", "admin"]
    fetched = admin.fetch()
    assert fetched.mfa_session is not None
    assert fetched.mfa_session.access_key_id == "ASIAMFAMFAMFAMFAMFA1"
    build_chain("reader", ctx).fetch()
    assert [r.serial for r in asked] == [SERIAL]  # one code for both roles
    # the roles were assumed with the MFA session, without a code of their own
    assert sts.signers == [USER_KEY, "ASIAMFAMFAMFAMFAMFA1", "ASIAMFAMFAMFAMFAMFA1"]
    sts.stub.assert_no_pending_responses()


def test_keys_in_the_keyring_take_precedence_and_name_the_cache_key(world):
    ctx, sts = world(f"[profile admin]\nrole_arn = {ROLE_ARN}\nsource_profile = user\n", CREDS)
    stored = Credentials("AKIASTOREDSTOREDSTO1", "z" * 40)
    from_files = build_chain("admin", ctx).cache_key
    assert ctx.stores.keys.put("user", stored)
    chain = build_chain("admin", ctx)
    assert chain.keys_from() == "keyring" and chain.cache_key != from_files
    sts.stub.add_response("assume_role", sts_session("ASIAADMINADMINADMIN1"))
    chain.fetch()
    assert sts.signers == ["AKIASTOREDSTOREDSTO1"]


def test_a_plain_profile_is_not_served(world):
    ctx, _ = world("", CREDS)
    with pytest.raises(NotServed):
        build_chain("user", ctx)


def test_seconds_left_is_read_through_botocores_public_api():
    now = datetime.now(timezone.utc)
    creds = botocore.credentials.RefreshableCredentials(
        "AKID", "secret", "token", now + timedelta(seconds=3000), lambda: {}, "test"
    )
    left = seconds_left(creds)
    assert left is not None and 2990 <= left <= 3000
    static = botocore.credentials.Credentials("AKID", "secret")
    assert seconds_left(static) is None
