"""Resolve a profile to a ready provider: the one recipe both entry points share.

``credhelper process`` (in-process path), ``credhelper login`` and the daemon all call
:func:`provider_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError
from credhelper.prompt import Asker
from credhelper.providers import Provider
from credhelper.providers.cache import CachedProvider
from credhelper.settings import Settings
from credhelper.store import Stores, open_stores


@dataclass
class Resolved:
    profile: str
    role_arn: str | None  # None for a profile served by its MFA session or keyring keys
    key: str  # cache key of what answers for the profile
    provider: Provider
    mfa: CachedProvider | None = None  # the chain's MFA session, if any
    source: Any = None  # the chain's source (a profiles.Source)

    def keys_from(self) -> str:
        """Where the chain's first credentials come from ("keyring", "credentials_file"...)."""
        import botocore.exceptions

        from credhelper.profiles import FileKeys, load_profiles, source_origin

        try:
            values = load_profiles().get(self.source.profile, {})
            return source_origin(self.source, values, FileKeys.load())
        except (CredhelperError, botocore.exceptions.BotoCoreError, OSError):
            return "unknown"  # the files changed under us; shown in status only

    def fetch(self, avoid: str | None = None) -> tuple[Credentials, bool]:
        """(credentials, whether they came from the keyring)."""
        if isinstance(self.provider, CachedProvider):
            creds = self.provider.fetch(avoid=avoid)
            return creds, self.provider.last_hit
        return self.provider.fetch(), True

    @property
    def mfa_session(self) -> Credentials | None:
        """The MFA session the last fetch went through (the daemon warns before it ends)."""
        return self.mfa.current if self.mfa is not None else None


def provider_for(
    profile: str,
    settings: Settings,
    ask_code: Asker,
    stores: Stores | None = None,
) -> Resolved:
    """Read the AWS config, validate the chain, compose source -> sessions -> caches."""
    from credhelper import profiles
    from credhelper.profiles import KeyringKeys
    from credhelper.providers.build import build
    from credhelper.providers.cache import cache_key

    stores = stores if stores is not None else open_stores(settings)
    loaded = profiles.load_profiles()
    with_keys = set(stores.keys.profiles())
    chain = profiles.resolve(profile, loaded, has_keys=with_keys.__contains__)
    if not chain.roles and chain.mfa is None and not isinstance(chain.source, KeyringKeys):
        raise CredhelperError(
            "not a role profile (no role_arn, no mfa_serial, no keys in the keyring)",
            "point credhelper at a profile with role_arn; plain keys need no helper",
            profile=profile,
        )
    built = build(chain, stores, settings, ask_code, region=profiles.chain_region(chain, loaded))
    return Resolved(
        profile=profile,
        role_arn=chain.roles[-1].role_arn if chain.roles else None,
        key=cache_key(built.top.identity()),
        provider=built.top,
        mfa=built.mfa,
        source=chain.source,
    )
