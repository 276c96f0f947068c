"""Finding and dropping the cached sessions of profiles (``remove``, ``clear``, and ``add``
replacing keys), by building their chains: exactly the cache keys ``process`` uses, without a
network call or a prompt."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Iterable

from credhelper.chain import BuiltChain, build_chain
from credhelper.errors import CredhelperError
from credhelper.prompt import CodeRequest

if TYPE_CHECKING:
    from credhelper.context import Context
    from credhelper.store.sessions import SessionCache

log = logging.getLogger(__name__)


def never_ask(request: CodeRequest) -> str:
    """Nothing here fetches credentials, so nothing may prompt."""
    raise CredhelperError("an MFA code would be needed", profile=request.profile)


def chain_of(profile: str, ctx: Context, with_keys: set[str] | None = None) -> BuiltChain:
    return build_chain(profile, ctx, ask_code=never_ask, with_keys=with_keys)


def all_profiles(ctx: Context) -> list[str]:
    """Every name known in the AWS files or with keys in the keyring."""
    return sorted(set(ctx.files.profiles) | set(ctx.stores.keys.profiles()))


def sessions_of(
    names: Iterable[str], ctx: Context, keys_of: str | None = None
) -> tuple[list[str], list[str]]:
    """(profiles, cache keys of their cached hops) for those of ``names`` that resolve; with
    ``keys_of``, only chains whose source is that profile's keys in the keyring."""
    profiles: list[str] = []
    keys: list[str] = []
    with_keys = set(ctx.stores.keys.profiles())
    for name in names:
        try:
            chain = chain_of(name, ctx, with_keys)
        except CredhelperError as exc:
            log.debug("profile %s: no sessions to look for (%s)", name, exc.message)
            continue
        if keys_of is not None and not (
            chain.keys_from() == "keyring" and chain.source.profile == keys_of
        ):
            continue
        profiles.append(name)
        keys.extend(hop.cache_key for hop in reversed(chain.hops) if hop.cache_key not in keys)
    return profiles, keys


def drop(sessions: SessionCache, keys: Iterable[str]) -> int:
    """Delete sessions by cache key; how many held a readable session."""
    dropped = 0
    for key in keys:
        if sessions.get(key) is not None:
            dropped += 1
        sessions.delete(key)  # unreadable ones too
    return dropped
