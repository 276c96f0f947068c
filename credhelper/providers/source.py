"""Where a chain's first credentials come from: anything botocore can resolve."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError
from credhelper.profiles import BotocoreProfile, CredentialSource, KeyringKeys, StaticKeys
from credhelper.store.keys import LongTermKeys
from credhelper.sts import translated_errors

log = logging.getLogger(__name__)

#: botocore's names for the providers behind each ``credential_source`` value.
_CREDENTIAL_SOURCE_PROVIDERS = {
    "Environment": "env",
    "Ec2InstanceMetadata": "iam-role",
    "EcsContainer": "container-role",
}


def _from_botocore(creds: Any) -> Credentials:
    frozen = creds.get_frozen_credentials()
    expiry: datetime | None = getattr(creds, "_expiry_time", None)
    if expiry is not None and expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=timezone.utc)
    return Credentials(
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token,
        expiration=expiry,
    )


def _source_failed(profile: str, exc: Exception) -> CredhelperError:
    import json

    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError, AttributeError)):
        return CredhelperError(
            f"the credential_process of source profile '{profile}' did not print a "
            f"credential_process JSON document ({type(exc).__name__}: {exc})",
            "run that command by hand to see what it prints",
        )
    return CredhelperError(
        f"resolving source profile '{profile}' failed ({type(exc).__name__}: {exc})",
        f"check profile '{profile}' in the AWS config; run its credential_process by hand",
    )


def _missing(profile: str, detail: str) -> CredhelperError:
    return CredhelperError(
        f"no source credentials: {detail}",
        f"add keys for profile '{profile}' (aws configure --profile {profile}), "
        "or fix source_profile",
    )


@dataclass
class BotocoreProfileSource:
    """A non-role profile resolved by botocore: static keys, SSO, credential_process, ..."""

    spec: BotocoreProfile

    @property
    def profile(self) -> str:
        return self.spec.profile

    def identity(self) -> dict[str, Any]:
        return {"profile": self.spec.profile, "settings": list(self.spec.fingerprint)}

    def fetch(self) -> Credentials:
        import functools

        import botocore.credentials
        import botocore.exceptions
        import botocore.session

        from credhelper import children, deadline

        label = f"the credential_process of source profile '{self.profile}'"
        with deadline.step(f"resolving source profile '{self.profile}'"), translated_errors(
            f"resolving source profile '{self.profile}'"
        ):
            try:
                session = botocore.session.Session(profile=self.profile)
                resolver = session.get_component("credential_provider")
                # botocore runs a credential_process with no time limit: ours has the deadline.
                for i, provider in enumerate(resolver.providers):
                    if provider.METHOD == botocore.credentials.ProcessProvider.METHOD:
                        resolver.providers[i] = botocore.credentials.ProcessProvider(
                            profile_name=self.profile,
                            load_config=lambda: session.full_config,
                            popen=functools.partial(children.Popen, label=label),
                        )
                creds = session.get_credentials()
                if creds is None:
                    raise _missing(self.profile, f"profile '{self.profile}' has none")
                return _from_botocore(creds)
            except (CredhelperError, botocore.exceptions.BotoCoreError):
                raise
            except Exception as exc:
                # botocore's providers run the user's programs and read the user's files, and
                # let many kinds of errors through (a credential_process that prints no JSON,
                # cannot be run, or is empty; a nested section where a value belongs).
                log.debug("source profile %s", self.profile, exc_info=True)
                raise _source_failed(self.profile, exc) from None


@dataclass
class StaticKeysSource:
    """Keys written in the role profile itself (``source_profile`` naming itself)."""

    spec: StaticKeys

    @property
    def profile(self) -> str:
        return self.spec.profile

    def identity(self) -> dict[str, Any]:
        return {"profile": self.spec.profile, "key_id": self.spec.key_id}

    def fetch(self) -> Credentials:
        from credhelper.profiles import load_profiles

        values = load_profiles().get(self.profile, {})
        return Credentials(
            access_key_id=values["aws_access_key_id"],
            secret_access_key=values["aws_secret_access_key"],
            session_token=values.get("aws_session_token"),
        )


@dataclass
class CredentialSourceProvider:
    """``credential_source = Environment | Ec2InstanceMetadata | EcsContainer``."""

    spec: CredentialSource

    @property
    def profile(self) -> str:
        return self.spec.profile

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"credential_source": self.spec.source}
        if self.spec.source == "Environment":
            # Other keys in the environment are another identity: never share its sessions.
            ident["key_id"] = os.environ.get("AWS_ACCESS_KEY_ID")
        return ident

    def fetch(self) -> Credentials:
        import botocore.credentials
        import botocore.session

        name = _CREDENTIAL_SOURCE_PROVIDERS[self.spec.source]
        with translated_errors(f"credential_source {self.spec.source}"):
            resolver = botocore.credentials.create_credential_resolver(botocore.session.Session())
            creds = resolver.get_provider(name).load()
        if creds is None:
            raise _missing(self.profile, f"credential_source {self.spec.source} found none")
        return _from_botocore(creds)


@dataclass
class KeyringKeysSource:
    """Keys stored with ``credhelper add``: never in a file."""

    spec: KeyringKeys
    store: LongTermKeys
    _keys: Credentials | None = None

    @property
    def profile(self) -> str:
        return self.spec.profile

    def identity(self) -> dict[str, Any]:
        # The key id, so that sessions made with replaced keys are not reused.
        keys = self._load(required=False)
        return {"profile": self.profile, "keyring_key_id": keys.access_key_id if keys else None}

    def fetch(self) -> Credentials:
        keys = self._load(required=True)
        assert keys is not None
        return keys

    def _load(self, required: bool) -> Credentials | None:
        if self._keys is None:
            self._keys = self.store.get(self.profile)
        if self._keys is None and required:
            raise CredhelperError(
                f"the keyring holds no keys for profile '{self.profile}'",
                f"store them with 'credhelper add {self.profile}'",
            )
        return self._keys
