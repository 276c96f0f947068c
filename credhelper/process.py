"""``credhelper process PROFILE``: print credential_process JSON for a profile."""

from __future__ import annotations

import logging
import os
import sys

from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError
from credhelper.settings import Settings

log = logging.getLogger(__name__)

#: Set in our environment so that a source profile whose own credential_process runs
#: credhelper for the profile we are resolving cannot recurse forever.
DEPTH_VAR = "CREDHELPER_DEPTH"
MAX_DEPTH = 4


def _enter() -> None:
    try:
        depth = int(os.environ.get(DEPTH_VAR, "0"))
    except ValueError:
        depth = 0
    if depth >= MAX_DEPTH:
        raise CredhelperError(
            f"credhelper is running itself {depth} levels deep",
            "a source profile's credential_process leads back to credhelper; fix source_profile",
        )
    os.environ[DEPTH_VAR] = str(depth + 1)


def resolve_credentials(profile: str, settings: Settings) -> Credentials:
    """The in-process path: config, keyring cache, STS."""
    from credhelper import mfa, profiles
    from credhelper.providers.build import build
    from credhelper.store import SessionStore

    _enter()
    loaded = profiles.load_profiles()
    chain = profiles.resolve(profile, loaded)
    if not chain.roles:
        raise CredhelperError(
            "not a role profile (no role_arn)",
            "point credhelper at a profile with role_arn; plain keys need no helper",
        )
    region = profiles.chain_region(chain, loaded)
    store = SessionStore(settings.keyring_service)
    provider = build(chain, store, settings, mfa.ask_tty, region=region)
    return provider.fetch()


def run(profile: str, min_ttl: float | None = None) -> int:
    try:
        settings = Settings.from_env(min_ttl=min_ttl)
        creds = resolve_credentials(profile, settings)
    except CredhelperError as exc:
        raise exc.for_profile(profile) from exc.__cause__
    sys.stdout.write(creds.to_json() + "\n")
    sys.stdout.flush()
    return 0
