"""Where a chain's first credentials come from, one kind per module.

Each source is the value the profile resolution returns (:mod:`credhelper.profiles`) and
knows the rest about itself: the provider that fetches its credentials, whether they are
long-term keys (only those may call GetSessionToken), and where they come from (for
``list`` and ``status``). No caller switches on the kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles
    from credhelper.providers import Provider
    from credhelper.store import Stores


class Source(Protocol):
    #: Served with no role on top (keys only in the keyring: credhelper is where they live).
    SERVED_ALONE: ClassVar[bool]

    @property
    def profile(self) -> str: ...

    def long_term(self, values: Mapping[str, Any]) -> bool:
        """Whether these are an IAM user's long-term keys (``values``: the profile's)."""
        ...

    def origin(self, files: AwsFiles) -> str:
        """Where the credentials come from: "keyring", "credentials_file", "config_file",
        "sso", "credential_process", "credential_source" or "none"."""
        ...

    def provider(self, files: AwsFiles, stores: Stores) -> Provider: ...


def file_origin(profile: str, files: AwsFiles) -> str:
    """Which file holds a profile's keys, in botocore's order of precedence."""
    if profile in files.keys_in_credentials_file:
        return "credentials_file"
    if profile in files.keys_in_config_file:
        return "config_file"
    return "none"
