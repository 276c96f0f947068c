"""A non-role profile resolved by botocore's own chain: static keys, SSO, credential_process..."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from credhelper.errors import CredhelperError
from credhelper.providers import Fetched
from credhelper.sources import file_origin
from credhelper.sources.botocore_creds import from_botocore, missing, source_failed

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles
    from credhelper.store import Stores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BotocoreProfile:
    SERVED_ALONE: ClassVar[bool] = False

    profile: str
    #: The profile's settings but its secrets: what shapes the sessions made from it.
    fingerprint: tuple[tuple[str, str], ...]

    def long_term(self, values: Mapping[str, Any]) -> bool:
        return bool(values.get("aws_access_key_id")) and not values.get("aws_session_token")

    def origin(self, files: AwsFiles) -> str:
        values = files.values(self.profile)
        if values.get("sso_session") or values.get("sso_start_url"):
            return "sso"
        if self.profile in files.keys_in_credentials_file:
            return "credentials_file"
        if values.get("credential_process"):
            return "credential_process"
        return file_origin(self.profile, files)

    def provider(self, files: AwsFiles, stores: Stores) -> BotocoreProfileProvider:
        return BotocoreProfileProvider(self, files)


@dataclass
class BotocoreProfileProvider:
    source: BotocoreProfile
    files: AwsFiles

    @property
    def profile(self) -> str:
        return self.source.profile

    def cache_key_material(self) -> dict[str, Any]:
        return {"profile": self.profile, "settings": list(self.source.fingerprint)}

    def fetch(self) -> Fetched:
        import botocore.credentials
        import botocore.exceptions

        from credhelper import children, deadline
        from credhelper.sts import translated_errors

        label = f"the credential_process of source profile '{self.profile}'"
        with deadline.step(f"resolving source profile '{self.profile}'"), translated_errors(
            f"resolving source profile '{self.profile}'"
        ):
            try:
                resolver = self.files.credential_resolver(self.profile)
                # botocore runs a credential_process with no time limit: ours has the deadline.
                for i, provider in enumerate(resolver.providers):
                    if provider.METHOD == botocore.credentials.ProcessProvider.METHOD:
                        resolver.providers[i] = botocore.credentials.ProcessProvider(
                            profile_name=self.profile,
                            load_config=lambda: self.files.session.full_config,
                            # in the environment the profile was resolved in (a caller's)
                            popen=functools.partial(
                                children.Popen, label=label, env=self.files.environ
                            ),
                        )
                creds = resolver.load_credentials()
                if creds is None:
                    raise missing(self.profile, f"profile '{self.profile}' has none")
                return Fetched(from_botocore(creds))
            except (CredhelperError, botocore.exceptions.BotoCoreError):
                raise
            except Exception as exc:
                # botocore's providers run the user's programs and read the user's files, and
                # let many kinds of errors through (a credential_process that prints no JSON,
                # cannot be run, or is empty; a nested section where a value belongs).
                log.debug("source profile %s", self.profile, exc_info=True)
                raise source_failed(self.profile, exc) from None
