"""``credential_source = Environment | Ec2InstanceMetadata | EcsContainer``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from credhelper.errors import CallerOnly
from credhelper.providers import Fetched
from credhelper.sources.botocore_creds import from_botocore, missing

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles
    from credhelper.store import Stores

#: The values ``credential_source`` may take, and botocore's names for their providers.
PROVIDERS = {
    "Environment": "env",
    "Ec2InstanceMetadata": "iam-role",
    "EcsContainer": "container-role",
}


@dataclass(frozen=True)
class CredentialSource:
    SERVED_ALONE: ClassVar[bool] = False

    profile: str
    source: str

    def long_term(self, values: Mapping[str, Any]) -> bool:
        return False  # instance, container or environment: not an IAM user's own keys

    def origin(self, files: AwsFiles) -> str:
        return "credential_source"

    def provider(self, files: AwsFiles, stores: Stores) -> CredentialSourceProvider:
        return CredentialSourceProvider(self, files)


@dataclass
class CredentialSourceProvider:
    source: CredentialSource
    files: AwsFiles

    @property
    def profile(self) -> str:
        return self.source.profile

    def cache_key_material(self) -> dict[str, Any]:
        material: dict[str, Any] = {"credential_source": self.source.source}
        if self.source.source == "Environment":
            # Other keys in the environment are another identity: never share its sessions.
            material["key_id"] = self.files.environ.get("AWS_ACCESS_KEY_ID")
        return material

    def fetch(self) -> Fetched:
        from credhelper.sts import translated_errors

        if self.source.source == "Environment" and self.files.caller_keys:
            raise CallerOnly(
                "credential_source Environment: the keys are in the calling process's "
                "environment, which the daemon does not hold"
            )

        with translated_errors(f"credential_source {self.source.source}"):
            resolver = self.files.credential_resolver(None)
            creds = resolver.get_provider(PROVIDERS[self.source.source]).load()
        if creds is None:
            raise missing(self.profile, f"credential_source {self.source.source} found none")
        return Fetched(from_botocore(creds))
