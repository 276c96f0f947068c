"""``credhelper add PROFILE``: store a profile's long-term keys in the keyring, after checking
them with sts:GetCallerIdentity. Keys live in the OS keyring only: this fails rather than
write them anywhere else, and never prints a secret (key ids abbreviated, ``AKIA…WXYZ``)."""

from __future__ import annotations

import argparse
import getpass
import os
import re

from credhelper import cached_sessions, sts, tty
from credhelper.context import Context
from credhelper.credentials import Credentials, abbreviate
from credhelper.daemon import client as daemon
from credhelper.errors import CredhelperError
from credhelper.present import forgotten_note, plural

#: An IAM user's long-term key id (ASIA... ids are temporary: refused).
KEY_ID = re.compile(r"^AKIA[A-Z0-9]{12,124}$")
KEY_ID_HINT = "an IAM user's access key id is AKIA followed by 16 capital letters and digits"


def _check_key_id(key_id: str) -> None:
    # Never echo what was typed: it may be the secret, pasted into the wrong prompt.
    if key_id.startswith("ASIA"):
        raise CredhelperError(
            f"{abbreviate(key_id)} is a temporary (session) key id",
            "credhelper add stores long-term keys (AKIA…) only",
        )
    if not KEY_ID.match(key_id):
        what = "no access key id given" if not key_id else "that is not an AWS access key id"
        raise CredhelperError(what, KEY_ID_HINT)


def _ask() -> tuple[str, str]:
    """The key id (echoed) and the secret (hidden), on the controlling terminal: botocore
    captures stdout and stderr, and stdin may be a pipe."""
    try:
        key_id = (tty.ask("AWS access key id: ") or "").strip()
    except tty.NoTerminal as exc:
        raise CredhelperError(
            f"no terminal to ask for the keys on ({exc})",
            "run it in a terminal, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and pass "
            "--env",
        ) from None
    _check_key_id(key_id)  # before asking for the secret
    try:
        secret = getpass.getpass("AWS secret access key (hidden): ")
    except EOFError:
        secret = ""
    return key_id, secret


def _from_env() -> tuple[str, str]:
    if os.environ.get("AWS_SESSION_TOKEN") or os.environ.get("AWS_SECURITY_TOKEN"):
        raise CredhelperError(
            "AWS_SESSION_TOKEN is set: those are temporary credentials",
            "credhelper add stores long-term keys (an IAM user's AKIA… key) only; unset "
            "AWS_SESSION_TOKEN",
        )
    key_id = os.environ.get("AWS_ACCESS_KEY_ID", "").strip()
    if not key_id:
        raise CredhelperError(
            "--env given but AWS_ACCESS_KEY_ID is not set",
            "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or leave out --env to be asked",
        )
    _check_key_id(key_id)
    return key_id, os.environ.get("AWS_SECRET_ACCESS_KEY", "")


def _keys(from_env: bool) -> Credentials:
    key_id, secret = _from_env() if from_env else _ask()
    secret = secret.strip()
    if not secret:
        raise CredhelperError("no secret access key given", "nothing was stored; try again")
    if not secret.isprintable() or any(c.isspace() for c in secret):
        raise CredhelperError(
            "the secret access key contains spaces or control characters",
            "paste the 40-character secret exactly as AWS showed it",
        )
    return Credentials(access_key_id=key_id, secret_access_key=secret)


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Check the keys, then store them: they become the profile's source of credentials."""
    profile: str = args.profile
    stores = ctx.stores
    stores.require_keyring(
        "nothing was stored",
        "unlock or install a keyring (gnome-keyring, KWallet, ...): credhelper never writes "
        "keys to a file",
    )
    values = ctx.files.values(profile)
    if values.get("role_arn"):
        source = values.get("source_profile")
        raise CredhelperError(
            "it is a role profile (role_arn): keys stored for it would never be used",
            f"store them for its source profile: credhelper add {source or 'SOURCE'}",
        )
    keys = _keys(args.env)
    who = sts.check_keys(profile, keys, ctx.files) if not args.no_validate else "not checked"

    old = stores.keys.get(profile)
    replaced = old is not None and old.access_key_id != keys.access_key_id
    # Sessions made with the old keys would only linger: find them while the old keys decide
    # their cache keys, drop them once the new keys are in.
    stale: tuple[list[str], list[str]] = ([], [])
    if replaced:
        stale = cached_sessions.sessions_of(
            cached_sessions.all_profiles(ctx), ctx, keys_of=profile
        )
    if not stores.keys.put(profile, keys) or stores.keys.get(profile) != keys:
        raise CredhelperError(
            f"the keyring ({stores.entries.backend_name()}) did not keep the keys",
            "check that it is unlocked and writable",
        )
    line = f"stored keys {abbreviate(keys.access_key_id)} for profile '{profile}' ({who})"
    line += " in the keyring" + (" (unchanged)" if old == keys else "")
    if replaced and old is not None:
        forgotten = daemon.forget(stale[0])
        dropped = cached_sessions.drop(stores.sessions, stale[1])
        line += f", replacing {abbreviate(old.access_key_id)}"
        line += f" ({plural(dropped, 'cached session')} dropped{forgotten_note(forgotten)})"
    print(line)
    return 0
