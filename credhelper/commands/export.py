"""``credhelper export PROFILE [--format F]``: PROFILE's session for what cannot run a
``credential_process`` itself (a shell, a container's env file, a script reading JSON).

The session comes from :func:`credhelper.obtain.credentials` (the daemon's, else in-process,
as ``credhelper process``). Printing secrets on stdout is this command's job; on a terminal,
one warning line on stderr says how to consume them instead. Nothing secret is logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
import sys
from typing import Callable

from credhelper.context import Context
from credhelper.credentials import Credentials, format_time
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)

#: ``--format`` values, the default first (the CLI's choices).
FORMATS = ("env", "fish", "powershell", "dotenv", "json", "credential-process")

#: What a dotenv value may hold: read the same, literally, by docker's --env-file (the whole
#: rest of the line) and by python-dotenv (which strips whitespace and quotes, cuts `` #``
#: comments and expands ``${VAR}``). AWS keys, tokens, times and regions always fit.
_DOTENV_SAFE = re.compile(r"[A-Za-z0-9+/=:.,_@%-]+")


def variables(creds: Credentials, region: str | None) -> list[tuple[str, str]]:
    """The environment variables the AWS SDKs and CLIs read, in a fixed order."""
    out = [
        ("AWS_ACCESS_KEY_ID", creds.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key),
    ]
    if creds.session_token:
        out.append(("AWS_SESSION_TOKEN", creds.session_token))
    if creds.expiration is not None:
        out.append(("AWS_CREDENTIAL_EXPIRATION", format_time(creds.expiration)))
    if region:
        out += [("AWS_REGION", region), ("AWS_DEFAULT_REGION", region)]
    return out


def fish_quote(value: str) -> str:
    """fish single quotes: only backslash and the quote itself are escapes inside them."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def powershell_quote(value: str) -> str:
    """PowerShell single quotes: a quote is doubled. PowerShell also takes the typographic
    single quotes (U+2018..U+201B) as quotes, so those are doubled too, as its own
    ``CodeGeneration.EscapeSingleQuotedStringContent`` does."""
    return "'" + re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", value) + "'"


def dotenv_value(name: str, value: str) -> str:
    """The value unquoted (docker keeps quotes as part of it); refused when the two readers
    would not read it the same."""
    if not _DOTENV_SAFE.fullmatch(value):
        raise CredhelperError(
            f"{name} holds characters a dotenv file cannot carry unchanged",
            "use --format env or --format json",
        )
    return value


def _lines(creds: Credentials, region: str | None, line: Callable[[str, str], str]) -> str:
    return "".join(line(name, value) + "\n" for name, value in variables(creds, region))


def render(fmt: str, creds: Credentials, region: str | None) -> str:
    """The whole output for ``fmt``, ending with a newline."""
    if fmt == "env":
        return _lines(creds, region, lambda n, v: f"export {n}={shlex.quote(v)}")
    if fmt == "fish":
        return _lines(creds, region, lambda n, v: f"set -gx {n} {fish_quote(v)};")
    if fmt == "powershell":
        return _lines(creds, region, lambda n, v: f"$env:{n} = {powershell_quote(v)}")
    if fmt == "dotenv":
        return _lines(creds, region, lambda n, v: f"{n}={dotenv_value(n, v)}")
    if fmt == "json":
        # STS's Credentials object, as `aws configure export-credentials` lays it out (no
        # Version: this is not a credential_process document; credential-process is).
        document = {k: v for k, v in creds.process_output().items() if k != "Version"}
        return json.dumps(document, indent=2) + "\n"
    if fmt == "credential-process":
        from credhelper import protocol

        return protocol.process_document(creds.process_output()) + "\n"
    raise CredhelperError(
        f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}", exit_code=2
    )


def region_of(profile: str, ctx: Context) -> str | None:
    """The chain's region, as ``wire`` carries it (the keyring is asked only for a profile
    that is in no file)."""
    from credhelper import profiles

    files = ctx.files

    def only_in_keyring(name: str) -> bool:
        return name not in files.profiles and name in ctx.stores.keys.profiles()

    chain = profiles.resolve(profile, files.profiles, has_keys=only_in_keyring)
    return profiles.chain_region(chain, files.profiles)


def terminal_hint(fmt: str, profile: str) -> str:
    """How to consume ``fmt`` without showing it."""
    command = f"credhelper export {shlex.quote(profile)}"
    if fmt == "env":
        return f'use eval "$({command})"'
    if fmt == "fish":
        return f"use {command} --format fish | source"
    if fmt == "powershell":
        return f"use {command} --format powershell | Invoke-Expression"
    return f"pipe it to the program that reads it: {command} --format {fmt} | ..."


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Obtain, render all of it (a refusal prints nothing), then print in one write."""
    from credhelper import obtain

    profile: str = args.profile
    fmt: str = args.format
    creds = obtain.credentials(profile, ctx)
    region = region_of(profile, ctx) if fmt not in ("json", "credential-process") else None
    text = render(fmt, creds, region)
    sys.stdout.write(text)
    sys.stdout.flush()
    log.debug("exported %s as %s", creds.describe(), fmt)
    if sys.stdout.isatty():
        log.warning("warning: credentials printed to a terminal; %s", terminal_hint(fmt, profile))
    return 0
