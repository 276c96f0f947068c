"""``credhelper remove PROFILE``: delete a profile's keys from the keyring, with the sessions
made from them and its own cached sessions (a running daemon forgets them first)."""

from __future__ import annotations

import argparse
import logging

from credhelper import cached_sessions
from credhelper.context import Context
from credhelper.credentials import abbreviate
from credhelper.daemon import client as daemon
from credhelper.errors import CredhelperError
from credhelper.present import forgotten_note, plural

log = logging.getLogger(__name__)


def run(args: argparse.Namespace, ctx: Context) -> int:
    profile: str = args.profile
    stores = ctx.stores
    stores.require_keyring("nothing was removed", "unlock it and retry")
    keys = stores.keys.get(profile)
    indexed = profile in stores.keys.profiles()
    names: list[str] = []
    sessions: list[str] = []
    try:
        _, own = cached_sessions.sessions_of([profile], ctx)
        sessions.extend(own)
        names.append(profile)
        if keys is not None:
            everyone = cached_sessions.all_profiles(ctx)
            users, made = cached_sessions.sessions_of(everyone, ctx, keys_of=profile)
            names.extend(users)
            sessions.extend(k for k in made if k not in sessions)
    except CredhelperError as exc:  # e.g. an unreadable config: the keys still go
        log.warning("warning: cached sessions not looked for: %s", exc.message)
    if keys is None and not indexed and not any(stores.sessions.get(k) for k in sessions):
        raise CredhelperError(
            "the keyring holds no keys and no cached sessions for it",
            "see 'credhelper list'",
        )
    forgotten = daemon.forget(dict.fromkeys(names))  # first, so that it does not write them back
    dropped = cached_sessions.drop(stores.sessions, sessions)
    if keys is not None or indexed:
        stores.keys.delete(profile)
    what = f"keys {abbreviate(keys.access_key_id)} and " if keys is not None else ""
    if keys is None and indexed:
        what = "its unreadable keys and "
    print(
        f"removed {what}{plural(dropped, 'cached session')} of profile '{profile}' "
        f"from the keyring{forgotten_note(forgotten)}"
    )
    return 0
