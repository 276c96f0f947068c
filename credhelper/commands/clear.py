"""``credhelper clear [PROFILE]``: drop cached sessions (every hop of one profile's chain, or
every profile's), in the keyring and in a running daemon; stored keys stay."""

from __future__ import annotations

import argparse

from credhelper import cached_sessions
from credhelper.context import Context
from credhelper.daemon import client as daemon
from credhelper.present import forgotten_note, plural


def dropped_line(dropped: int, profile: str | None) -> str:
    """What ``clear`` did, in words right for every count, of one profile or of all:
    ``cleared profile 'b': dropped 2 cached sessions from the keyring``."""
    whose = f"profile '{profile}'" if profile is not None else "all profiles"
    if not dropped:
        return f"cleared {whose}: no cached sessions in the keyring"
    return f"cleared {whose}: dropped {plural(dropped, 'cached session')} from the keyring"


def run(args: argparse.Namespace, ctx: Context) -> int:
    profile: str | None = args.profile
    stores = ctx.stores
    problem = stores.entries.probe()
    if problem is not None:  # nothing cached there; a daemon may still hold sessions
        names, sessions = [profile] if profile else [], []
    elif profile is not None:
        chain = cached_sessions.chain_of(profile, ctx)
        names, sessions = [profile], [hop.cache_key for hop in reversed(chain.hops)]
    else:
        names, sessions = cached_sessions.sessions_of(cached_sessions.all_profiles(ctx), ctx)
    forgotten = daemon.forget(None if profile is None else names)
    if problem is not None:
        print(
            f"the OS keyring is not usable ({problem}): no cached sessions there"
            f"{forgotten_note(forgotten)}"
        )
        return 0
    dropped = cached_sessions.drop(stores.sessions, sessions)
    print(f"{dropped_line(dropped, profile)}{forgotten_note(forgotten)}")
    return 0
