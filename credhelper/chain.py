"""A profile's chain, built into providers: the one recipe every entry point shares.

``credhelper process`` (in-process), ``login``, ``list``, ``clear`` and the daemon all call
:func:`build_chain`: read the profile from the context's snapshot of the AWS files, validate
the whole chain, and compose source -> MFA session -> role sessions, each session cached.
The result names its hops, so that commands never walk the providers themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from credhelper import profiles
from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError
from credhelper.prompt import Asker
from credhelper.providers import Provider
from credhelper.providers.cache import CachedProvider
from credhelper.providers.mfa_session import MfaSessionProvider
from credhelper.providers.role import RoleSessionProvider
from credhelper.sources import Source

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles
    from credhelper.context import Context


class NotServed(CredhelperError):
    """A profile credhelper has nothing to do for: no role, no MFA, no keys of its own."""


@dataclass(frozen=True)
class ChainFetch:
    credentials: Credentials
    #: Answered from the keyring, no STS call made.
    from_cache: bool
    #: The MFA session the chain goes through, if any (the daemon warns before it ends).
    mfa_session: Credentials | None = None


@dataclass
class BuiltChain:
    spec: profiles.Chain
    files: AwsFiles
    #: What answers for the profile: its last role session (or MFA session), cached; the
    #: keyring's keys themselves for a profile that has only those.
    top: Provider
    #: Every cached session on the way, source side first: the MFA session, then each role.
    hops: tuple[CachedProvider, ...]
    mfa: CachedProvider | None = None

    @property
    def profile(self) -> str:
        return self.spec.profile

    @property
    def role_arn(self) -> str | None:
        """None for a profile served by its MFA session or its keyring keys."""
        return self.spec.roles[-1].role_arn if self.spec.roles else None

    @property
    def mfa_serial(self) -> str | None:
        return self.spec.mfa.serial if self.spec.mfa is not None else None

    @property
    def source(self) -> Source:
        return self.spec.source

    @property
    def cache_key(self) -> str:
        """The cache key of what answers for the profile."""
        from credhelper.providers.cache import cache_key

        return cache_key(self.top.cache_key_material())

    def keys_from(self) -> str:
        """Where the chain's first credentials come from ("keyring", "credentials_file"...)."""
        return self.spec.source.origin(self.files)

    def fetch(self, avoid: str | None = None) -> ChainFetch:
        # The last hop is the top; with no hop (keyring keys alone) there is nothing to renew.
        fetched = self.hops[-1].fetch(avoid=avoid) if self.hops else self.top.fetch()
        mfa = self.mfa.held() if self.mfa is not None else None
        return ChainFetch(fetched.credentials, fetched.from_cache, mfa)


def build_chain(
    profile: str,
    ctx: Context,
    ask_code: Asker | None = None,
    min_ttl: float | None = None,
    with_keys: set[str] | None = None,
) -> BuiltChain:
    """Validate ``profile``'s chain in the context's AWS files and compose its providers.

    ``ask_code``: how a code is asked for (the context's by default); ``min_ttl``: the
    caller's, over the settings'; ``with_keys``: the profiles with keys in the keyring, when
    the caller already read them (``list`` builds many chains)."""
    files = ctx.files
    stores = ctx.stores
    if with_keys is None:
        with_keys = set(stores.keys.profiles())
    chain = profiles.resolve(profile, files.profiles, has_keys=with_keys.__contains__)
    if not chain.roles and chain.mfa is None and not chain.source.SERVED_ALONE:
        raise NotServed(
            "not a role profile (no role_arn, no mfa_serial, no keys in the keyring)",
            "point credhelper at a profile with role_arn; plain keys need no helper",
            profile=profile,
        )
    ask = ask_code or ctx.ask
    settings = ctx.settings
    region = profiles.chain_region(chain, files.profiles)

    def cached(provider: Provider, kind: str) -> CachedProvider:
        return CachedProvider(
            provider,
            stores.sessions,
            min_ttl=settings.min_ttl if min_ttl is None else min_ttl,
            lock_timeout=settings.lock_timeout,
            kind=kind,
        )

    provider: Provider = chain.source.provider(files, stores)
    hops: list[CachedProvider] = []
    mfa = None
    if chain.mfa is not None:
        provider = mfa = cached(
            MfaSessionProvider(chain.mfa, provider, ask, files, chain.profile, region), "mfa"
        )
        hops.append(mfa)
    for step in chain.roles:
        provider = cached(
            RoleSessionProvider(step, provider, ask, files, chain.profile, region), "role"
        )
        hops.append(provider)
    return BuiltChain(spec=chain, files=files, top=provider, hops=tuple(hops), mfa=mfa)
