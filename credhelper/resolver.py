"""Resolve a profile to a ready provider: the one recipe both entry points share.

``credhelper process`` (in-process path) and the daemon both call :func:`provider_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from credhelper.errors import CredhelperError
from credhelper.providers.cache import CachedProvider
from credhelper.settings import Settings


@dataclass(frozen=True)
class Resolved:
    profile: str
    role_arn: str
    key: str  # cache key of the profile's own session
    provider: CachedProvider  # the profile's own role session, cached


def provider_for(
    profile: str,
    settings: Settings,
    ask_code: Callable[[str, str], str],
    store: Any = None,
) -> Resolved:
    """Read the AWS config, validate the chain, compose source -> role sessions -> caches."""
    from credhelper import profiles
    from credhelper.providers.build import build
    from credhelper.providers.cache import cache_key
    from credhelper.store import SessionStore

    loaded = profiles.load_profiles()
    chain = profiles.resolve(profile, loaded)
    if not chain.roles:
        raise CredhelperError(
            "not a role profile (no role_arn)",
            "point credhelper at a profile with role_arn; plain keys need no helper",
            profile=profile,
        )
    store = store if store is not None else SessionStore(settings.keyring_service)
    provider = build(chain, store, settings, ask_code, region=profiles.chain_region(chain, loaded))
    assert isinstance(provider, CachedProvider)  # chain.roles is not empty
    return Resolved(
        profile=profile,
        role_arn=chain.roles[-1].role_arn,
        key=cache_key(provider.identity()),
        provider=provider,
    )
