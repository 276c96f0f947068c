"""Compose the providers for a resolved chain: source, MFA session, role sessions, caches."""

from __future__ import annotations

from dataclasses import dataclass

from credhelper.profiles import (
    BotocoreProfile,
    Chain,
    CredentialSource,
    KeyringKeys,
    StaticKeys,
)
from credhelper.prompt import Asker
from credhelper.providers import Provider
from credhelper.providers.cache import CachedProvider
from credhelper.providers.mfa_session import MfaSessionProvider
from credhelper.providers.role import RoleSessionProvider
from credhelper.providers.source import (
    BotocoreProfileSource,
    CredentialSourceProvider,
    KeyringKeysSource,
    StaticKeysSource,
)
from credhelper.settings import Settings
from credhelper.store import Stores


@dataclass
class Built:
    #: What answers for the profile: its role session (or MFA session), cached.
    top: Provider
    #: The cached MFA session in the chain, if any (the daemon watches its end).
    mfa: CachedProvider | None = None


def source_provider(chain: Chain, stores: Stores) -> Provider:
    spec = chain.source
    if isinstance(spec, BotocoreProfile):
        return BotocoreProfileSource(spec)
    if isinstance(spec, StaticKeys):
        return StaticKeysSource(spec)
    if isinstance(spec, CredentialSource):
        return CredentialSourceProvider(spec)
    if isinstance(spec, KeyringKeys):
        return KeyringKeysSource(spec, stores.keys)
    raise TypeError(f"unknown source {spec!r}")


def build(
    chain: Chain,
    stores: Stores,
    settings: Settings,
    ask_code: Asker,
    region: str | None = None,
) -> Built:
    """Every session in the chain is wrapped in a cache, so intermediate hops are reused."""

    def cached(provider: Provider) -> CachedProvider:
        return CachedProvider(
            provider, stores.sessions, min_ttl=settings.min_ttl, lock_timeout=settings.lock_timeout
        )

    provider = source_provider(chain, stores)
    mfa = None
    if chain.mfa is not None:
        provider = mfa = cached(
            MfaSessionProvider(chain.mfa, provider, ask_code, chain.profile, region)
        )
    for step in chain.roles:
        provider = cached(RoleSessionProvider(step, provider, ask_code, chain.profile, region))
    return Built(top=provider, mfa=mfa)
