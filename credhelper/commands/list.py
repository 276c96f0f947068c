"""``credhelper list [--json]``: every profile, where its keys come from, its cached session's
expiry. No secret, no network call, no prompt.

``credhelper list --json`` prints one object::

    {
      "keyring": {
        "service": str,            # CREDHELPER_KEYRING_SERVICE
        "backend": str | null,     # keyring backend class, when one loads
        "usable": bool,
        "problem": str | null      # why it is not usable
      },
      "profiles": [                # every profile of the AWS files and of the keyring, by name
        {
          "profile": str,
          "role": bool,            # has role_arn
          "role_arn": str | null,
          "source": str | null,    # where the chain's first credentials come from: "keyring",
                                   # "credentials_file", "config_file", "sso",
                                   # "credential_process", "credential_source", "none";
                                   # null when the profile does not resolve (see "error")
          "source_profile": str | null,      # the profile those credentials belong to
          "keyring_key_id": str | null,      # this profile's keys in the keyring, abbreviated
          "session_expiration": str | null,  # cached session answering for it (UTC, "Z")
          "session_seconds_left": int | null,  # negative once expired
          "mfa_session_expiration": str | null,
          "error": str | null      # why it does not resolve (a config mistake, a cycle, ...)
        }
      ]
    }
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

from credhelper import cached_sessions, present, profiles
from credhelper.chain import NotServed
from credhelper.context import Context
from credhelper.credentials import abbreviate, format_time
from credhelper.errors import CredhelperError


@dataclass
class Row:
    """One profile (the JSON fields are documented above)."""

    profile: str
    role: bool
    role_arn: str | None = None
    source: str | None = None
    source_profile: str | None = None
    keyring_key_id: str | None = None
    session_expiration: str | None = None
    session_seconds_left: int | None = None
    mfa_session_expiration: str | None = None
    error: str | None = None


def _row(name: str, ctx: Context, with_keys: set[str]) -> Row:
    values = ctx.files.values(name)
    role_arn = values.get("role_arn") if isinstance(values.get("role_arn"), str) else None
    row = Row(profile=name, role=bool(role_arn), role_arn=role_arn)
    if name in with_keys:
        keys = ctx.stores.keys.get(name)
        row.keyring_key_id = abbreviate(keys.access_key_id) if keys else "(unreadable)"
    try:
        source = profiles.resolve(name, ctx.files.profiles, with_keys.__contains__).source
        row.source, row.source_profile = source.origin(ctx.files), source.profile
        chain = cached_sessions.chain_of(name, ctx, with_keys)
    except NotServed:
        return row  # a plain profile: nothing of credhelper's cached for it
    except CredhelperError as exc:
        row.source = row.source_profile = None
        row.error = exc.message
        return row
    if chain.hops:
        session = chain.hops[-1].held()
        if session is not None and session.expiration is not None:
            row.session_expiration = format_time(session.expiration)
            row.session_seconds_left = int(session.seconds_left())
    if chain.mfa is not None:
        mfa = chain.mfa.held()
        if mfa is not None and mfa.expiration is not None:
            row.mfa_session_expiration = format_time(mfa.expiration)
    return row


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "expired"
    return present.duration(seconds)


def _table(rows: list[Row], keyring_line: str, wide: bool = False) -> str:
    """One row per profile, within :data:`present.WIDTH` columns by default; ``wide`` adds the
    role ARN, the profile the keys belong to and the keyring's key id."""
    if wide:
        header: tuple[str, ...] = (
            "PROFILE",
            "ROLE ARN",
            "SOURCE",
            "FROM",
            "KEYRING KEYS",
            "SESSION UNTIL",
            "LEFT",
        )
    else:
        header = ("PROFILE", "ROLE", "SOURCE", "SESSION UNTIL", "LEFT")
    table: list[tuple[str, ...]] = [header]
    notes = []
    for r in rows:
        source = (r.source or "error").replace("_", " ")
        until = present.local_time(r.session_expiration)
        if wide:
            cells: tuple[str, ...] = (
                r.profile,
                r.role_arn or "-",
                source,
                r.source_profile or "-",
                r.keyring_key_id or "-",
            )
        else:
            cells = (
                r.profile,
                present.role_name(r.role_arn),
                source
                if r.source_profile in (None, r.profile)
                else f"{source} of {r.source_profile}",
            )
        table.append((*cells, until, _left(r.session_seconds_left)))
        if r.error:
            notes.append(f"{r.profile}: {r.error}")
        if r.mfa_session_expiration:
            notes.append(
                f"{r.profile}: MFA session until {present.local_time(r.mfa_session_expiration)}"
            )
    lines = present.table(table)
    if len(table) == 1:
        lines = ["no profiles in the AWS config or credentials file, and no keys in the keyring"]
    return "\n".join([*lines, *notes, keyring_line])


def run(args: argparse.Namespace, ctx: Context) -> int:
    stores = ctx.stores
    problem = stores.entries.probe()
    with_keys = set(stores.keys.profiles())
    rows = [_row(name, ctx, with_keys) for name in sorted(set(ctx.files.profiles) | with_keys)]
    backend = stores.entries.backend_name()
    service = ctx.settings.keyring_service
    if args.json:
        doc = {
            "keyring": {
                "service": service,
                "backend": backend,
                "usable": problem is None,
                "problem": problem,
            },
            "profiles": [asdict(r) for r in rows],
        }
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return 0
    if problem is None:
        keyring_line = f"keyring: service '{service}' in {backend}"
    else:
        keyring_line = (
            f"keyring: not usable ({problem}); keys and sessions stored there cannot be shown"
        )
    sys.stdout.write(_table(rows, keyring_line, wide=bool(getattr(args, "wide", False))) + "\n")
    return 0
