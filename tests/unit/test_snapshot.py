"""The daemon's one snapshot of the AWS files: parsed once per change, its STS clients reused
only where that is the same client, and the timeouts of a reused client still within the
call's deadline."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from credhelper import sts
from credhelper.awsfiles import AwsFiles
from credhelper.context import Context
from credhelper.credentials import Credentials
from credhelper.daemon.fetching import Fetching
from credhelper.settings import Settings
from credhelper.store.backend import MemoryBackend

ROLE_ARN = "arn:aws:iam::123456789012:role/admin"


def profiles(n: int, session_name: str = "s") -> str:
    out = "[profile src]\nregion = eu-west-1\n\n[profile other]\nregion = us-west-2\n\n"
    for i in range(n):
        out += (
            f"[profile r{i}]\nrole_arn = {ROLE_ARN}\nsource_profile = src\n"
            f"role_session_name = {session_name}{i}\n\n"
        )
    return out


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config").write_text(profiles(20))
    (tmp_path / "credentials").write_text(
        "[src]\naws_access_key_id = AKIAEXAMPLEEXAMPLE12\naws_secret_access_key = s\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "config"


def test_the_files_are_parsed_once_per_change_however_many_profiles_resolve(files):
    fetching = Fetching(Context(Settings.from_env(), backend=MemoryBackend()))
    fetching.check_config()
    keys = [fetching.key_of(f"r{i}") for i in range(20)]
    assert fetching.parses == 1
    assert len(set(keys)) == 20

    files.write_text(profiles(20, session_name="renamed"))  # an edit (its size differs)
    fetching.check_config()
    after = [fetching.key_of(f"r{i}") for i in range(20)]
    assert fetching.parses == 2
    assert not set(after) & set(keys)


def test_a_file_that_cannot_be_parsed_keeps_the_snapshot_held(files):
    from credhelper.errors import CredhelperError

    fetching = Fetching(Context(Settings.from_env(), backend=MemoryBackend()))
    key = fetching.key_of("r0")
    files.write_text("[profile r0\nbroken")
    with pytest.raises(CredhelperError):
        fetching.check_config()
    files.write_text(profiles(20))
    assert fetching.key_of("r0") == key


def creds(key_id: str = "AKIAEXAMPLEEXAMPLE12", secret: str = "s") -> Credentials:
    return Credentials(access_key_id=key_id, secret_access_key=secret)


def test_clients_are_reused_for_the_same_settings_credentials_and_timeouts(files):
    aws = AwsFiles.load()
    first = sts.client("r0", creds(), aws, None)
    # Another role profile with the same client settings: the same client.
    assert sts.client("r7", creds(), aws, None) is first
    assert first.meta.region_name == "us-east-1"
    # Other credentials, another secret for the same key id, other settings: not the same.
    assert sts.client("r0", creds("AKIAOTHEROTHEROTHER1"), aws, None) is not first
    assert sts.client("r0", creds(secret="t"), aws, None) is not first
    other = sts.client("other", creds(), aws, None)
    assert other is not first and other.meta.region_name == "us-west-2"
    # Another timeout class (less of the deadline left): another client.
    from credhelper import deadline

    with deadline.scope(deadline.Deadline(3.0)):
        short = sts.client("r0", creds(), aws, None)
    assert short is not first
    assert short.meta.config.read_timeout <= 3.0 * 0.9


def test_clients_made_from_many_threads_at_once_are_one(files):
    aws = AwsFiles.load()
    made: list[object] = []
    threads = [
        threading.Thread(target=lambda i=i: made.append(sts.client(f"r{i}", creds(), aws, None)))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in made}) == 1


def test_a_credential_resolver_keeps_its_profile_whatever_other_threads_select(files):
    from credhelper.awsfiles import _ProfileView

    aws = AwsFiles.load()
    assert aws.credential_resolver("other").providers
    view = _ProfileView(aws, "other")
    src = aws.client("sts", "src", fallback_region="us-east-1")  # selects another profile
    assert src.meta.region_name == "eu-west-1"
    # What a provider does later (SSO, a role inside botocore): the view's profile still.
    assert view.get_config_variable("region") == "us-west-2"
    assert view.create_client("sts").meta.region_name == "us-west-2"


@pytest.mark.parametrize("left", [0.5, 1.0, 2.5, 5.9, 6.0, 9.3, 14.9, 15.0, 29.7, 60.0, 300.0])
def test_the_timeout_classes_end_all_attempts_within_the_deadline(left):
    attempts, per_try = sts.timeouts(left)
    assert per_try >= 1.0
    assert attempts * per_try <= max(left * 0.9, 1.0)


def test_the_timeout_classes_are_few():
    # Over a deadline of 30 s, however far into it a call is made.
    classes = {sts.timeouts(tenths / 10) for tenths in range(0, 301)}
    assert len(classes) <= 45
