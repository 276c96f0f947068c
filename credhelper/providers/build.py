"""Compose the providers for a resolved chain."""

from __future__ import annotations

from credhelper.profiles import BotocoreProfile, Chain, CredentialSource, StaticKeys
from credhelper.providers import Provider
from credhelper.providers.cache import CachedProvider
from credhelper.providers.role import CodePrompt, RoleSessionProvider
from credhelper.providers.source import (
    BotocoreProfileSource,
    CredentialSourceProvider,
    StaticKeysSource,
)
from credhelper.settings import Settings
from credhelper.store import SessionStore


def source_provider(chain: Chain) -> Provider:
    spec = chain.source
    if isinstance(spec, BotocoreProfile):
        return BotocoreProfileSource(spec)
    if isinstance(spec, StaticKeys):
        return StaticKeysSource(spec)
    if isinstance(spec, CredentialSource):
        return CredentialSourceProvider(spec)
    raise TypeError(f"unknown source {spec!r}")


def build(
    chain: Chain,
    store: SessionStore,
    settings: Settings,
    ask_code: CodePrompt,
    region: str | None = None,
) -> Provider:
    """Source, then each role session wrapped in a cache, so intermediate hops are reused."""
    provider = source_provider(chain)
    for step in chain.roles:
        provider = CachedProvider(
            RoleSessionProvider(step, provider, ask_code, fallback_region=region),
            store,
            min_ttl=settings.min_ttl,
            lock_timeout=settings.lock_timeout,
        )
    return provider
