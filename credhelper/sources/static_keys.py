"""Keys written in the role profile itself (``source_profile`` naming the profile itself)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from credhelper.credentials import Credentials
from credhelper.providers import Fetched
from credhelper.sources import file_origin

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles
    from credhelper.store import Stores


@dataclass(frozen=True)
class StaticKeys:
    SERVED_ALONE: ClassVar[bool] = False

    profile: str
    key_id: str

    def long_term(self, values: Mapping[str, Any]) -> bool:
        return True

    def origin(self, files: AwsFiles) -> str:
        return file_origin(self.profile, files)

    def provider(self, files: AwsFiles, stores: Stores) -> StaticKeysProvider:
        return StaticKeysProvider(self, files)


@dataclass
class StaticKeysProvider:
    source: StaticKeys
    files: AwsFiles

    @property
    def profile(self) -> str:
        return self.source.profile

    def cache_key_material(self) -> dict[str, Any]:
        return {"profile": self.profile, "key_id": self.source.key_id}

    def fetch(self) -> Fetched:
        values = self.files.values(self.profile)
        return Fetched(
            Credentials(
                access_key_id=values["aws_access_key_id"],
                secret_access_key=values["aws_secret_access_key"],
                session_token=values.get("aws_session_token"),
            )
        )
